//! Rotation grace, reuse detection, session data, the per-user limit and lifecycle
//! events (issue 12), under concurrency, on the memory and SQLite stores.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::TestClock;
use parking_lot::Mutex;
use sessions::*;
use tempfile::TempDir;

fn managers(
    config: SessionConfig,
) -> Vec<(&'static str, Arc<SessionManager>, Arc<TestClock>, TempDir)> {
    let dir = TempDir::new().expect("temp dir");
    let memory_clock = TestClock::new();
    let memory =
        SessionManager::new(config.clone(), Some(memory_clock.clone() as Arc<dyn Clock>)).unwrap();
    let sqlite_clock = TestClock::new();
    let sqlite = SessionManager::open(
        dir.path().join("s.db").display().to_string(),
        config,
        Some(sqlite_clock.clone() as Arc<dyn Clock>),
    )
    .unwrap();
    vec![
        (
            "memory",
            memory,
            memory_clock,
            TempDir::new().expect("temp dir"),
        ),
        ("sqlite", sqlite, sqlite_clock, dir),
    ]
}

#[derive(Default)]
struct Recorder(Mutex<Vec<SessionEvent>>);

impl SessionListener for Recorder {
    fn on_event(&self, event: SessionEvent) -> Result<(), ListenerError> {
        self.0.lock().push(event);
        Ok(())
    }
}

#[test]
fn eight_threads_refreshing_one_token_all_get_the_same_new_token() {
    for (name, m, _clock, _dir) in managers(SessionConfig::default()) {
        let events = Arc::new(Recorder::default());
        m.add_listener(events.clone());
        for round in 0..20 {
            let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
            let barrier = Barrier::new(8);
            let tokens: Vec<String> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..8)
                    .map(|_| {
                        let (m, token, barrier) = (&m, s.token.clone(), &barrier);
                        scope.spawn(move || {
                            barrier.wait();
                            m.refresh(token, None).expect("refresh within grace").token
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            let distinct: HashSet<&String> = tokens.iter().collect();
            assert_eq!(distinct.len(), 1, "{name} round {round}: {distinct:?}");
            assert_ne!(tokens[0], s.token);
            assert!(m.validate(tokens[0].clone(), None).unwrap().valid);
            // Exactly one rotation was written: version 2, one Rotated event.
            assert_eq!(m.get(s.id.clone()).unwrap().unwrap().version, 2, "{name}");
        }
        let rotated = events
            .0
            .lock()
            .iter()
            .filter(|e| matches!(e, SessionEvent::Rotated { .. }))
            .count();
        assert_eq!(rotated, 20, "{name}");
    }
}

#[test]
fn the_session_limit_holds_under_eight_concurrent_creates() {
    for action in [SessionLimitAction::RevokeOldest, SessionLimitAction::Refuse] {
        let config = SessionConfig {
            max_sessions_per_user: Some(3),
            session_limit_action: Some(action),
            ..SessionConfig::default()
        };
        for (name, m, _clock, _dir) in managers(config) {
            let outcomes: Vec<Result<Session, SessionError>> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..8)
                    .map(|_| {
                        let m = &m;
                        scope.spawn(move || {
                            (0..10)
                                .map(|_| m.create(CreateSessionOptions::for_user("alice")))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().unwrap())
                    .collect()
            });
            let active = m.list_for_user("alice".into()).unwrap();
            assert_eq!(active.len(), 3, "{name} {action:?}");
            let created = outcomes.iter().filter(|o| o.is_ok()).count();
            match action {
                SessionLimitAction::RevokeOldest => assert_eq!(created, 80, "{name}"),
                SessionLimitAction::Refuse => {
                    assert_eq!(created, 3, "{name}");
                    assert!(outcomes.iter().all(|o| matches!(
                        o,
                        Ok(_) | Err(SessionError::SessionLimitReached { limit: 3 })
                    )));
                }
            }
            let valid = outcomes
                .iter()
                .flatten()
                .filter(|s| m.validate(s.token.clone(), None).unwrap().valid)
                .count();
            assert_eq!(
                valid, 3,
                "{name} {action:?}: never more than the limit active"
            );
        }
    }
}

#[test]
fn concurrent_metadata_updates_and_slides_lose_nothing() {
    let config = SessionConfig {
        default_expires_in: Some(Duration::from_secs(100)),
        ..SessionConfig::default()
    };
    for (name, m, clock, _dir) in managers(config.clone()) {
        let s = m
            .create(CreateSessionOptions {
                sliding_expiration: true,
                ..CreateSessionOptions::for_user("u")
            })
            .unwrap();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (m, id) = (&m, s.id.clone());
                scope.spawn(move || {
                    for i in 0..10 {
                        let changes = HashMap::from([(format!("t{t}-{i}"), Some("v".to_owned()))]);
                        m.update_metadata(id.clone(), changes).unwrap();
                    }
                });
            }
            let (m, token, clock) = (&m, s.token.clone(), &clock);
            scope.spawn(move || {
                // 2 s a step: the first slide is due after 51 s (half of 100 s left).
                for _ in 0..40 {
                    clock.advance(Duration::from_secs(2));
                    assert!(m.validate(token.clone(), None).unwrap().valid);
                }
            });
        });
        let stored = m.get(s.id.clone()).unwrap().unwrap();
        assert_eq!(
            stored.metadata.map(|m| m.len()),
            Some(40),
            "{name}: an update was lost"
        );
        assert!(
            stored.expires_at > s.expires_at,
            "{name}: the slides were lost"
        );
    }
}

/// A listener that fails, and one that calls the manager back.
struct Failing;

impl SessionListener for Failing {
    fn on_event(&self, _event: SessionEvent) -> Result<(), ListenerError> {
        Err(ListenerError::Failed {
            reason: "audit log is down".into(),
        })
    }
}

struct CallsBack(Mutex<Option<Arc<SessionManager>>>, Mutex<i64>);

impl SessionListener for CallsBack {
    fn on_event(&self, _event: SessionEvent) -> Result<(), ListenerError> {
        if let Some(m) = self.0.lock().clone() {
            *self.1.lock() = m.count().unwrap();
        }
        Ok(())
    }
}

#[test]
fn a_failing_or_reentrant_listener_never_changes_the_operation() {
    for (name, m, _clock, _dir) in managers(SessionConfig::default()) {
        let recorder = Arc::new(Recorder::default());
        m.add_listener(Arc::new(Failing));
        let calls_back = Arc::new(CallsBack(Mutex::new(Some(m.clone())), Mutex::new(0)));
        m.add_listener(calls_back.clone());
        m.add_listener(recorder.clone());
        let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
        let r = m.refresh(s.token.clone(), None).unwrap();
        assert!(m.destroy(s.id.clone()).unwrap());
        assert_eq!(
            *calls_back.1.lock(),
            1,
            "{name}: the listener could call back"
        );
        let seen = recorder.0.lock().clone();
        assert_eq!(
            seen,
            vec![
                SessionEvent::Created {
                    session_id: s.id.clone(),
                    user_id: "u".into()
                },
                SessionEvent::Rotated {
                    session_id: s.id.clone(),
                    user_id: "u".into()
                },
                SessionEvent::Revoked {
                    session_id: s.id.clone(),
                    user_id: "u".into(),
                    reason: RevocationReason::Destroy
                },
            ],
            "{name}"
        );
        // No event text carries a token or a hash.
        let shown = format!("{seen:?}");
        assert!(
            !shown.contains(&s.token) && !shown.contains(&r.token),
            "{name}"
        );
        assert!(!shown.contains(&r.token_hash[..16]), "{name}");
        *calls_back.0.lock() = None;
    }
}

#[test]
fn no_raw_token_or_rotation_key_is_stored_or_returned() {
    for (name, m, _clock, _dir) in managers(SessionConfig::default()) {
        let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
        let r = m.refresh(s.token.clone(), None).unwrap();
        assert_eq!(r.rotation_key, None, "{name}: refresh returns no key");
        assert_eq!(m.get(s.id.clone()).unwrap().unwrap().rotation_key, None);
        let v = m.validate(r.token.clone(), None).unwrap().session.unwrap();
        assert_eq!(v.rotation_key, None);
        let export = m.export_json().unwrap();
        assert!(
            !export.contains(&s.token) && !export.contains(&r.token),
            "{name}"
        );
        // The rotation key and the old token give the new one; the old token alone
        // (hashed with anything a client sees) does not.
        assert_ne!(hash_token(s.token.clone()), r.token_hash);
        assert!(!format!("{r:?}").contains(&r.token));
    }
}

// ---------------------------------------------------------------------------------
// Found by a new user's trial (each failed before its fix)

fn entry(id: &str, token: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "userId": "u", "tokenHash": hash_token(token.into()),
        "createdAt": "2026-01-01T00:00:00Z", "expiresAt": "2026-01-02T00:00:00Z",
    })
}

fn import_field(m: &SessionManager, entries: serde_json::Value) -> Option<String> {
    match m.import_json(entries.to_string()) {
        Err(SessionError::Import { field, .. }) => field,
        other => panic!("expected an Import error, got {other:?}"),
    }
}

#[test]
fn an_import_cannot_take_over_another_sessions_token() {
    for (name, m, _clock, _dir) in managers(SessionConfig::default()) {
        let a = m.create(CreateSessionOptions::for_user("alice")).unwrap();
        m.refresh(a.token.clone(), None).unwrap();
        let mut evil = entry("evil", "x");
        evil["previousTokenHash"] = hash_token(a.token.clone()).into();
        evil["rotatedAt"] = "2026-01-01T00:00:00Z".into();
        let field = import_field(&m, serde_json::json!([evil]));
        assert_eq!(field.as_deref(), Some("previousTokenHash"), "{name}");
        // Two entries sharing a hash, current or previous, are refused too.
        let mut one = entry("one", "p1");
        one["previousTokenHash"] = hash_token("shared".into()).into();
        one["rotatedAt"] = "2026-01-01T00:00:00Z".into();
        let mut two = entry("two", "p2");
        two["previousTokenHash"] = hash_token("shared".into()).into();
        two["rotatedAt"] = "2026-01-01T00:00:00Z".into();
        let field = import_field(&m, serde_json::json!([one, two]));
        assert_eq!(field.as_deref(), Some("previousTokenHash"), "{name}");
        assert_eq!(m.count().unwrap(), 1, "{name}");
        assert_eq!(
            m.validate(a.token, None)
                .unwrap()
                .session
                .map(|s| s.user_id),
            Some("alice".to_owned()),
            "{name}"
        );
    }
}

#[test]
fn an_imported_version_leaves_room_to_count_every_change() {
    for (name, m, _clock, _dir) in managers(SessionConfig::default()) {
        let mut e = entry("v", "t");
        e["version"] = i64::MAX.into();
        assert_eq!(
            import_field(&m, serde_json::json!([e])).as_deref(),
            Some("version"),
            "{name}"
        );
    }
}

#[test]
fn imported_rotation_state_is_checked_and_without_a_key_the_grace_is_over() {
    for (name, m, _clock, _dir) in managers(SessionConfig::default()) {
        // A revocation stamped before the creation (another process's clock behind)
        // is an ordinary revoked session: it imports, and stays revoked.
        let mut revoked_early = entry("r", "t0");
        revoked_early["revokedAt"] = "2020-01-01T00:00:00Z".into();
        assert_eq!(
            m.import_json(serde_json::json!([revoked_early]).to_string())
                .unwrap(),
            1,
            "{name}"
        );
        assert_eq!(
            m.validate("t0".into(), None).unwrap().error,
            Some(ValidationError::SessionRevoked),
            "{name}"
        );
        let mut half = entry("h", "t1");
        half["previousTokenHash"] = hash_token("old".into()).into();
        assert_eq!(
            import_field(&m, serde_json::json!([half])).as_deref(),
            Some("previousTokenHash"),
            "{name}"
        );
        // Predecessor and time but no key: the old token is reuse at once.
        let mut keyless = entry("k", "new");
        keyless["previousTokenHash"] = hash_token("old".into()).into();
        keyless["rotatedAt"] = "2026-01-01T00:00:00Z".into();
        assert_eq!(
            m.import_json(serde_json::json!([keyless]).to_string()),
            Ok(1)
        );
        assert_eq!(
            m.refresh("old".into(), None).map(|_| ()),
            Err(SessionError::TokenReused),
            "{name}"
        );
    }
}

#[test]
fn a_clock_moved_back_never_gives_an_expiry_before_creation() {
    for (name, m, clock, _dir) in managers(SessionConfig {
        default_expires_in: Some(Duration::from_secs(100)),
        ..SessionConfig::default()
    }) {
        let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
        clock.set(s.created_at - Duration::from_secs(1000));
        let r = m.refresh(s.token, None).unwrap();
        assert!(r.expires_at > r.created_at, "{name}");
        assert!(m.export_sessions().unwrap().damaged.is_empty(), "{name}");
    }
}

#[test]
fn a_create_at_the_last_supported_instant_is_refused_not_born_expired() {
    let last = std::time::UNIX_EPOCH + Duration::from_micros(4_102_444_800_000_000 - 1);
    let clock = TestClock::starting_at(last);
    let m = SessionManager::new(SessionConfig::default(), Some(clock as Arc<dyn Clock>)).unwrap();
    assert!(matches!(
        m.create(CreateSessionOptions::for_user("u")),
        Err(SessionError::InvalidLifetime { .. })
    ));
    assert_eq!(m.count().unwrap(), 0);
}

/// A listener that changes the session it is told about.
struct UpdatesOnCreate(Mutex<Option<Arc<SessionManager>>>);

impl SessionListener for UpdatesOnCreate {
    fn on_event(&self, event: SessionEvent) -> Result<(), ListenerError> {
        if let (SessionEvent::Created { session_id, .. }, Some(m)) = (event, self.0.lock().clone())
        {
            m.update_metadata(session_id, HashMap::from([("x".into(), Some("1".into()))]))
                .map_err(|e| ListenerError::Failed {
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }
}

#[test]
fn a_change_made_inside_a_listener_reaches_every_listener_after_the_event_that_caused_it() {
    for (name, m, _clock, _dir) in managers(SessionConfig::default()) {
        let updater = Arc::new(UpdatesOnCreate(Mutex::new(Some(m.clone()))));
        let recorder = Arc::new(Recorder::default());
        m.add_listener(updater.clone());
        m.add_listener(recorder.clone());
        let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
        let kinds: Vec<&str> = recorder
            .0
            .lock()
            .iter()
            .map(|e| match e {
                SessionEvent::Created { .. } => "Created",
                SessionEvent::MetadataUpdated { .. } => "MetadataUpdated",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["Created", "MetadataUpdated"], "{name}");
        assert!(m.get(s.id).unwrap().unwrap().metadata.is_some(), "{name}");
        *updater.0.lock() = None;
    }
}

#[test]
fn a_clock_error_names_the_instant_the_clock_read() {
    let year_one = std::time::UNIX_EPOCH - Duration::from_secs(62_135_596_800);
    let m = SessionManager::new(
        SessionConfig::default(),
        Some(TestClock::starting_at(year_one) as Arc<dyn Clock>),
    )
    .unwrap();
    match m.create(CreateSessionOptions::for_user("u")) {
        Err(SessionError::Clock { reason }) => {
            assert!(reason.contains("0001-01-01T00:00:00Z"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}
