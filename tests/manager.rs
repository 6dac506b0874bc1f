//! `SessionManager` on the in-memory store: every method, every error, every fixed bug.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::{manager, manager_with, HookedStore, TestClock, HOUR};
use sessions::*;

fn opts(user: &str) -> CreateSessionOptions {
    CreateSessionOptions::for_user(user)
}

fn short(user: &str, lifetime: Duration) -> CreateSessionOptions {
    CreateSessionOptions {
        expires_in: Some(lifetime),
        ..opts(user)
    }
}

fn sliding(user: &str, lifetime: Duration) -> CreateSessionOptions {
    CreateSessionOptions {
        sliding_expiration: true,
        ..short(user, lifetime)
    }
}

#[test]
fn create_stores_only_the_hash() {
    let (m, _) = manager();
    let s = m.create(opts("alice")).unwrap();
    assert!(!s.token.is_empty());
    let stored = m.get(s.id.clone()).unwrap().unwrap();
    assert!(stored.token.is_empty());
    assert_eq!(stored.token_hash, hash_token(s.token.clone()));
    assert_eq!(m.count().unwrap(), 1);
    assert_eq!(m.prefix(), "session:");
}

#[test]
fn validate_accepts_the_token_and_returns_the_session() {
    let (m, _) = manager();
    let s = m.create(opts("alice")).unwrap();
    let r = m.validate(s.token.clone(), None).unwrap();
    assert!(r.valid);
    assert_eq!(r.error, None);
    let got = r.session.unwrap();
    assert_eq!(got.id, s.id);
    assert!(got.token.is_empty());
}

#[test]
fn any_token_string_is_just_invalid() {
    let (m, _) = manager();
    m.create(opts("alice")).unwrap();
    let huge = "a".repeat(1_000_000);
    for token in [
        "",
        "x",
        "\0\0\0",
        "ünïcødé 🔑",
        huge.as_str(),
        "session:abc",
    ] {
        let r = m.validate(token.to_string(), Some("ua".into())).unwrap();
        assert_eq!(
            r.error,
            Some(ValidationError::InvalidToken),
            "{:?}",
            token.get(..10)
        );
        assert_eq!(
            m.refresh(token.to_string(), None),
            Err(SessionError::InvalidToken)
        );
    }
}

#[test]
fn default_lifetime_is_24_hours_and_expiry_is_inclusive() {
    let (m, clock) = manager();
    let s = m.create(opts("u")).unwrap();
    assert_eq!(
        s.expires_at.duration_since(s.created_at).unwrap(),
        24 * HOUR
    );
    clock.advance(24 * HOUR - Duration::from_millis(1));
    assert!(m.validate(s.token.clone(), None).unwrap().valid);
    clock.advance(Duration::from_millis(1));
    // Bug 6: at expires_at exactly the session is expired.
    assert_eq!(
        m.validate(s.token.clone(), None).unwrap().error,
        Some(ValidationError::SessionExpired)
    );
    assert_eq!(m.refresh(s.token, None), Err(SessionError::SessionExpired));
}

#[test]
fn refresh_rotates_and_the_old_token_dies_after_the_grace() {
    // Bug 1, with the rotation grace (issue 12).
    let (m, clock) = manager();
    let s = m.create(opts("u")).unwrap();
    clock.advance(HOUR);
    let r = m.refresh(s.token.clone(), None).unwrap();
    assert_eq!(r.id, s.id);
    assert_ne!(r.token, s.token);
    assert_ne!(r.token_hash, s.token_hash);
    assert!(r.expires_at > s.expires_at);
    // Within the grace: the old token validates, and refresh returns the same token.
    assert!(m.validate(s.token.clone(), None).unwrap().valid);
    assert_eq!(m.refresh(s.token.clone(), None).unwrap().token, r.token);
    // A third token rotates once more; the first is then older than the predecessor.
    clock.advance(Duration::from_secs(10));
    let t = m.refresh(r.token.clone(), None).unwrap();
    assert_eq!(
        m.validate(s.token.clone(), None).unwrap().error,
        Some(ValidationError::InvalidToken)
    );
    assert_eq!(m.refresh(s.token, None), Err(SessionError::InvalidToken));
    assert!(m.validate(t.token, None).unwrap().valid);
    assert_eq!(m.count().unwrap(), 1);
}

#[test]
fn concurrent_refreshes_of_one_token_write_one_rotation() {
    // Bug 4.
    for _ in 0..50 {
        let (m, _) = manager();
        let s = m.create(opts("u")).unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (m, t, b) = (m.clone(), s.token.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    m.refresh(t, None)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // One rotation is written; within the rotation grace the others get its token.
        let tokens: std::collections::HashSet<_> = results
            .iter()
            .map(|r| r.as_ref().expect("refresh").token.clone())
            .collect();
        assert_eq!(tokens.len(), 1, "{results:?}");
        assert_eq!(m.get(s.id.clone()).unwrap().unwrap().version, 2);
        assert!(
            m.validate(results[0].as_ref().unwrap().token.clone(), None)
                .unwrap()
                .valid
        );
    }
}

#[test]
fn list_and_destroy_all_work_through_the_user_index() {
    // Bug 2.
    let (m, clock) = manager();
    let a = m.create(opts("alice")).unwrap();
    let b = m.create(opts("alice")).unwrap();
    let short = m
        .create(CreateSessionOptions {
            expires_in: Some(Duration::from_secs(10)),
            ..opts("alice")
        })
        .unwrap();
    let other = m.create(opts("bob")).unwrap();
    let mut ids: Vec<_> = m
        .list_for_user("alice".into())
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.sort();
    let mut want = vec![a.id.clone(), b.id.clone(), short.id.clone()];
    want.sort();
    assert_eq!(ids, want);

    clock.advance(Duration::from_secs(10));
    assert_eq!(m.list_for_user("alice".into()).unwrap().len(), 2);
    assert!(m.list_for_user("nobody".into()).unwrap().is_empty());

    assert_eq!(m.destroy_all_for_user("alice".into()).unwrap(), 3);
    assert_eq!(m.destroy_all_for_user("alice".into()).unwrap(), 0);
    assert!(m.list_for_user("alice".into()).unwrap().is_empty());
    for t in [a.token, b.token] {
        assert_eq!(
            m.validate(t, None).unwrap().error,
            Some(ValidationError::SessionRevoked)
        );
    }
    assert!(m.validate(other.token, None).unwrap().valid);
    assert!(matches!(
        m.list_for_user(String::new()),
        Err(SessionError::InvalidUserId { .. })
    ));
    assert!(matches!(
        m.destroy_all_for_user(String::new()),
        Err(SessionError::InvalidUserId { .. })
    ));
}

#[test]
fn sliding_writes_only_in_the_second_half_of_the_window() {
    // Bug 3 (sliding applied).
    let (m, clock) = manager();
    let s = m.create(sliding("u", HOUR)).unwrap();
    clock.advance(Duration::from_secs(20 * 60));
    let early = m.validate(s.token.clone(), None).unwrap().session.unwrap();
    assert_eq!(
        early.expires_at, s.expires_at,
        "no write before half the window"
    );
    clock.advance(Duration::from_secs(20 * 60));
    let slid = m.validate(s.token.clone(), None).unwrap().session.unwrap();
    assert_eq!(slid.expires_at, clock.at() + HOUR);
    assert_eq!(
        m.get(s.id.clone()).unwrap().unwrap().expires_at,
        slid.expires_at
    );
    // Idle for a whole window: expired.
    clock.advance(HOUR);
    assert_eq!(
        m.validate(s.token, None).unwrap().error,
        Some(ValidationError::SessionExpired)
    );
}

#[test]
fn non_sliding_sessions_never_slide() {
    let (m, clock) = manager();
    let s = m
        .create(CreateSessionOptions {
            expires_in: Some(HOUR),
            ..opts("u")
        })
        .unwrap();
    clock.advance(Duration::from_secs(50 * 60));
    let r = m.validate(s.token, None).unwrap().session.unwrap();
    assert_eq!(r.expires_at, s.expires_at);
}

#[test]
fn sliding_and_refresh_stop_at_the_absolute_cap() {
    // Bug 3 (no absolute limit).
    let config = SessionConfig {
        default_expires_in: Some(HOUR),
        max_lifetime: Some(3 * HOUR),
        ..SessionConfig::default()
    };
    let (m, clock) = manager_with(config);
    let s = m.create(sliding("u", HOUR)).unwrap();
    assert_eq!(s.absolute_expires_at, s.created_at + 3 * HOUR);
    let mut token = s.token.clone();
    for _ in 0..10 {
        clock.advance(Duration::from_secs(40 * 60));
        if !m.validate(token.clone(), None).unwrap().valid {
            break;
        }
        if let Ok(r) = m.refresh(token.clone(), None) {
            assert!(r.expires_at <= s.absolute_expires_at);
            token = r.token;
        }
    }
    assert!(clock.at() <= s.absolute_expires_at + HOUR);
    clock.advance(3 * HOUR);
    assert_eq!(
        m.validate(token, None).unwrap().error,
        Some(ValidationError::SessionExpired)
    );
}

#[test]
fn user_agent_binding_and_check_order() {
    // Bug 5.
    let config = SessionConfig {
        bind_to_user_agent: true,
        ..SessionConfig::default()
    };
    let (m, clock) = manager_with(config);
    let meta = HashMap::from([("userAgent".to_string(), "Firefox/130".to_string())]);
    let s = m
        .create(CreateSessionOptions {
            metadata: Some(meta),
            expires_in: Some(HOUR),
            ..opts("u")
        })
        .unwrap();
    assert_eq!(s.bound_user_agent.as_deref(), Some("Firefox/130"));
    assert!(
        m.validate(s.token.clone(), Some("Firefox/130".into()))
            .unwrap()
            .valid
    );
    assert_eq!(
        m.validate(s.token.clone(), Some("curl".into()))
            .unwrap()
            .error,
        Some(ValidationError::UserAgentMismatch)
    );
    assert_eq!(
        m.validate(s.token.clone(), None).unwrap().error,
        Some(ValidationError::UserAgentMismatch)
    );
    assert_eq!(
        m.refresh(s.token.clone(), Some("curl".into())),
        Err(SessionError::UserAgentMismatch)
    );
    // A binding manager never issues an unbound session (it would validate from any
    // user agent): without metadata["userAgent"], create fails and stores nothing.
    let before = m.count().unwrap();
    assert_eq!(
        m.create(opts("u")).map(|_| ()),
        Err(SessionError::UserAgentRequired)
    );
    let other_keys = CreateSessionOptions {
        metadata: Some(HashMap::from([("user-agent".into(), "Firefox/130".into())])),
        ..opts("u")
    };
    assert_eq!(
        m.create(other_keys).map(|_| ()),
        Err(SessionError::UserAgentRequired)
    );
    assert_eq!(m.count().unwrap(), before);

    clock.advance(HOUR);
    assert_eq!(
        m.validate(s.token.clone(), Some("curl".into()))
            .unwrap()
            .error,
        Some(ValidationError::SessionExpired)
    );
    m.destroy(s.id.clone()).unwrap();
    assert_eq!(
        m.validate(s.token, Some("curl".into())).unwrap().error,
        Some(ValidationError::SessionRevoked)
    );
}

#[test]
fn binding_is_off_by_default() {
    let (m, _) = manager();
    let meta = HashMap::from([("userAgent".to_string(), "Firefox".to_string())]);
    let s = m
        .create(CreateSessionOptions {
            metadata: Some(meta),
            ..opts("u")
        })
        .unwrap();
    assert_eq!(s.bound_user_agent, None);
}

#[test]
fn destroy_revokes_once_and_unknown_ids_are_errors() {
    let (m, _) = manager();
    let s = m.create(opts("u")).unwrap();
    assert_eq!(m.destroy(s.id.clone()), Ok(true));
    assert_eq!(m.destroy(s.id.clone()), Ok(false));
    assert!(m.get(s.id.clone()).unwrap().unwrap().revoked_at.is_some());
    assert_eq!(
        m.refresh(s.token.clone(), None),
        Err(SessionError::SessionRevoked)
    );
    assert_eq!(
        m.destroy("no-such-id".into()),
        Err(SessionError::SessionNotFound {
            session_id: "no-such-id".into()
        })
    );
    assert_eq!(m.get("no-such-id".into()), Ok(None));
}

#[test]
fn purge_removes_only_expired_sessions() {
    let (m, clock) = manager();
    let short = m
        .create(CreateSessionOptions {
            expires_in: Some(Duration::from_secs(60)),
            ..opts("u")
        })
        .unwrap();
    let long = m.create(opts("u")).unwrap();
    let revoked = m.create(opts("v")).unwrap();
    m.destroy(revoked.id.clone()).unwrap();
    assert_eq!(m.purge_expired().unwrap(), 0);
    clock.advance(Duration::from_secs(60));
    assert_eq!(m.purge_expired().unwrap(), 1);
    assert_eq!(m.get(short.id).unwrap(), None);
    assert!(m.get(long.id).unwrap().is_some());
    assert!(m.get(revoked.id.clone()).unwrap().is_some());
    clock.advance(24 * HOUR);
    assert_eq!(m.purge_expired().unwrap(), 2);
    assert_eq!(m.count().unwrap(), 0);
    assert_eq!(m.purge_expired().unwrap(), 0);
}

#[test]
fn purge_follows_slides_and_rotations() {
    let (m, clock) = manager();
    let s = m.create(sliding("u", HOUR)).unwrap();
    clock.advance(Duration::from_secs(45 * 60));
    assert!(m.validate(s.token.clone(), None).unwrap().valid); // slides to +1h
    clock.advance(Duration::from_secs(20 * 60)); // past the original expiry
    assert_eq!(m.purge_expired().unwrap(), 0);
    let r = m.refresh(s.token, None).unwrap();
    clock.advance(HOUR - Duration::from_millis(1));
    assert_eq!(m.purge_expired().unwrap(), 0);
    clock.advance(Duration::from_millis(1));
    assert_eq!(m.purge_expired().unwrap(), 1);
    assert_eq!(
        m.validate(r.token, None).unwrap().error,
        Some(ValidationError::InvalidToken)
    );
}

#[test]
fn bad_input_changes_nothing() {
    let (m, _) = manager();
    let bad = [
        opts(""),
        opts(&"u".repeat(257)),
        CreateSessionOptions {
            expires_in: Some(Duration::ZERO),
            ..opts("u")
        },
        CreateSessionOptions {
            metadata: Some((0..65).map(|i| (i.to_string(), String::new())).collect()),
            ..opts("u")
        },
    ];
    for o in bad {
        assert!(m.create(o).is_err());
    }
    assert_eq!(m.count().unwrap(), 0);
}

#[test]
fn metadata_limits_are_configurable() {
    let config = SessionConfig {
        max_metadata_entries: 1,
        max_metadata_bytes: 10,
        ..SessionConfig::default()
    };
    let (m, _) = manager_with(config);
    let two = HashMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]);
    let long = HashMap::from([("key".into(), "12345678".into())]);
    let fine = HashMap::from([("key".into(), "1234567".into())]);
    for (meta, ok) in [(two, false), (long, false), (fine, true)] {
        let r = m.create(CreateSessionOptions {
            metadata: Some(meta),
            ..opts("u")
        });
        assert_eq!(r.is_ok(), ok, "{r:?}");
    }
}

#[test]
fn configuration_is_checked() {
    let bad = [
        SessionConfig {
            default_expires_in: Some(Duration::ZERO),
            ..SessionConfig::default()
        },
        SessionConfig {
            max_lifetime: Some(Duration::ZERO),
            ..SessionConfig::default()
        },
        SessionConfig {
            default_expires_in: Some(2 * HOUR),
            max_lifetime: Some(HOUR),
            ..SessionConfig::default()
        },
    ];
    for config in bad {
        assert!(matches!(
            SessionManager::new(config, None),
            Err(SessionError::InvalidLifetime { .. })
        ));
    }
    let bad_config = [
        SessionConfig {
            prefix: String::new(),
            ..SessionConfig::default()
        },
        SessionConfig {
            prefix: "p".repeat(65),
            ..SessionConfig::default()
        },
        SessionConfig {
            max_metadata_entries: 4097,
            ..SessionConfig::default()
        },
        SessionConfig {
            max_metadata_bytes: 1024 * 1024 + 1,
            ..SessionConfig::default()
        },
        SessionConfig {
            auto_purge_interval: Some(Duration::ZERO),
            ..SessionConfig::default()
        },
    ];
    for config in bad_config {
        assert!(matches!(
            SessionManager::new(config, None),
            Err(SessionError::InvalidConfig { .. })
        ));
    }
    let custom = SessionConfig {
        default_expires_in: Some(HOUR),
        prefix: "app:".into(),
        ..SessionConfig::default()
    };
    let (m, _) = manager_with(custom);
    let s = m.create(opts("u")).unwrap();
    assert_eq!(s.expires_at.duration_since(s.created_at).unwrap(), HOUR);
    assert_eq!(m.prefix(), "app:");
}

#[test]
fn to_public_session_hides_secrets() {
    let (m, _) = manager();
    let s = m.create(opts("u")).unwrap();
    let p = m.to_public_session(s.clone());
    assert_eq!(
        (p.id, p.user_id, p.expires_at),
        (s.id, s.user_id, s.expires_at)
    );
}

/// A clock that fails, as a host clock might.
#[derive(Debug)]
struct BrokenClock;

impl Clock for BrokenClock {
    fn now(&self) -> Result<std::time::SystemTime, ClockError> {
        Err(ClockError::Failed {
            reason: "no time today".into(),
        })
    }
}

#[test]
fn clock_failures_are_reported_not_panicked() {
    let m = SessionManager::new(SessionConfig::default(), Some(Arc::new(BrokenClock))).unwrap();
    let clock_error = Err(SessionError::Clock {
        reason: "no time today".into(),
    });
    assert_eq!(m.create(opts("u")).map(|_| ()), clock_error);
    assert_eq!(m.purge_expired().map(|_| ()), clock_error);
    assert_eq!(m.list_for_user("u".into()).map(|_| ()), clock_error);
    assert_eq!(m.destroy_all_for_user("u".into()).map(|_| ()), clock_error);
    assert_eq!(
        m.validate("x".repeat(43), None).map(|r| r.error),
        Ok(Some(ValidationError::InvalidToken)),
        "an unknown token needs no clock"
    );
}

#[test]
fn the_system_clock_is_the_default() {
    let m = SessionManager::new(SessionConfig::default(), None).unwrap();
    let before = std::time::SystemTime::now();
    let s = m.create(opts("u")).unwrap();
    // Instants are kept to the microsecond (rounded to the nearest).
    let half = Duration::from_nanos(500);
    assert!(s.created_at + half >= before && s.created_at <= std::time::SystemTime::now() + half);
    let nanos = s
        .created_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    assert_eq!(nanos % 1_000, 0, "rounded to the microsecond");
    let _ = TestClock::new();
}

#[test]
fn expired_sessions_stay_until_purged_unless_auto_purge_is_set() {
    let (m, clock) = manager();
    m.create(short("a", Duration::from_secs(60))).unwrap();
    clock.advance(2 * HOUR);
    m.create(opts("b")).unwrap();
    assert_eq!(
        m.count().unwrap(),
        2,
        "no purge without auto_purge_interval"
    );
}

#[test]
fn create_purges_expired_sessions_once_per_auto_purge_interval() {
    let (m, clock) = manager_with(SessionConfig {
        auto_purge_interval: Some(HOUR),
        ..SessionConfig::default()
    });
    let a = m.create(short("a", Duration::from_secs(60))).unwrap();
    clock.advance(HOUR - Duration::from_secs(1));
    // b expires at the hour exactly: expired then, as purge counts it.
    m.create(short("b", Duration::from_secs(1))).unwrap();
    assert_eq!(
        m.count().unwrap(),
        2,
        "an hour has not passed since the first create"
    );
    clock.advance(Duration::from_secs(1));
    m.create(opts("c")).unwrap();
    assert_eq!(m.count().unwrap(), 1, "a and b expired and were purged");
    assert_eq!(m.get(a.id).unwrap(), None);
    clock.advance(Duration::from_secs(30 * 60));
    m.create(short("d", Duration::from_secs(1))).unwrap();
    clock.advance(Duration::from_secs(29 * 60));
    m.create(opts("e")).unwrap();
    assert_eq!(
        m.count().unwrap(),
        3,
        "the next purge is an hour after the last"
    );
    clock.advance(Duration::from_secs(60));
    m.create(opts("f")).unwrap();
    assert_eq!(m.count().unwrap(), 3, "d purged, f added");
}

#[test]
fn a_failed_auto_purge_does_not_fail_the_create_that_ran_it() {
    let clock = TestClock::new();
    let config = SessionConfig {
        auto_purge_interval: Some(HOUR),
        ..SessionConfig::default()
    };
    let store = Arc::new(HookedStore::new());
    store
        .fail_purge
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let m =
        SessionManager::with_store(config, store, Some(clock.clone() as Arc<dyn Clock>)).unwrap();
    m.create(short("a", Duration::from_secs(60))).unwrap();
    clock.advance(2 * HOUR);
    let b = m.create(opts("b")).unwrap();
    assert!(m.validate(b.token, None).unwrap().valid);
    assert!(matches!(m.purge_expired(), Err(SessionError::Store { .. })));
}

#[test]
fn concurrent_creates_with_auto_purge_never_remove_a_live_session() {
    let (m, clock) = manager_with(SessionConfig {
        auto_purge_interval: Some(Duration::from_secs(1)),
        ..SessionConfig::default()
    });
    let live: Vec<Session> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let m = &m;
                let clock = &clock;
                s.spawn(move || {
                    let mut kept = Vec::new();
                    for i in 0..300 {
                        m.create(short(&format!("short-{t}"), Duration::from_secs(1)))
                            .unwrap();
                        kept.push(m.create(opts(&format!("long-{t}"))).unwrap());
                        if i % 10 == 0 {
                            clock.advance(Duration::from_millis(700));
                        }
                    }
                    kept
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    for s in &live {
        assert!(m.validate(s.token.clone(), None).unwrap().valid, "{}", s.id);
    }
    clock.advance(Duration::from_secs(1));
    m.purge_expired().unwrap();
    assert_eq!(m.count().unwrap(), live.len() as u64);
}
