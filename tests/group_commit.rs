//! SQLite group commit and the durability setting: concurrent writers share commits
//! without changing any outcome (duplicates refused one by one, limits kept, failed
//! writes leave nothing behind), every returned write survives reopening the file, and
//! `Durability::Normal` keeps the same contract short of power loss. Also the memory
//! store's lookup by digest, through the manager (current and rotated-out tokens).

use std::collections::{HashMap, HashSet};
use std::sync::Barrier;
use std::time::{Duration, UNIX_EPOCH};

use sessions::{
    hash_token, CreateSessionOptions, Durability, Session, SessionConfig, SessionError,
    SessionLimitAction, SessionManager, SessionStore, SqliteStore, ValidationError,
};
use tempfile::TempDir;

const THREADS: usize = 8;

fn db_path(dir: &TempDir) -> String {
    dir.path().join("sessions.db").display().to_string()
}

fn session(id: &str, user: &str, token: &str) -> Session {
    let created = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    Session {
        id: id.to_owned(),
        user_id: user.to_owned(),
        token: String::new(),
        token_hash: hash_token(token.to_owned()),
        created_at: created,
        expires_at: created + Duration::from_secs(3600),
        metadata: Some(HashMap::from([("k".to_owned(), "v".to_owned())])),
        revoked_at: None,
        sliding_expiration: Some(false),
        bound_user_agent: None,
        lifetime: Duration::from_secs(3600),
        absolute_expires_at: created + Duration::from_secs(86400),
        version: 1,
        previous_token_hash: None,
        rotated_at: None,
        rotation_key: None,
    }
}

/// Runs `work(thread)` on `THREADS` threads released at once.
fn on_threads<T: Send>(work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (barrier, work) = (&barrier, &work);
                s.spawn(move || {
                    barrier.wait();
                    work(t)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

#[test]
fn concurrent_creates_all_survive_reopening_under_each_durability() {
    for durability in [Durability::Full, Durability::Normal] {
        let dir = TempDir::new().expect("temp dir");
        let path = db_path(&dir);
        let tokens: Vec<String> = {
            let m = SessionManager::open_with_durability(
                path.clone(),
                SessionConfig::default(),
                durability,
                None,
            )
            .expect("open");
            on_threads(|t| {
                (0..50)
                    .map(|i| {
                        m.create(CreateSessionOptions::for_user(format!("u{t}-{i}")))
                            .expect("create")
                            .token
                    })
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect()
        };
        let m = SessionManager::open(path, SessionConfig::default(), None).expect("reopen");
        assert_eq!(m.count().expect("count"), (THREADS * 50) as i64);
        for token in &tokens {
            assert!(m.validate(token.clone(), None).expect("validate").valid);
        }
    }
}

#[test]
fn concurrent_duplicates_are_refused_one_by_one_and_leave_the_rest_stored() {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(db_path(&dir)).expect("open");
    // Every thread inserts the same 40 ids (each with its own token) and 40 ids of its
    // own: exactly one insert of each shared id wins, every own id is stored.
    let outcomes = on_threads(|t| {
        let mut won = Vec::new();
        for i in 0..40 {
            let shared = store.insert(session(&format!("shared-{i}"), "u", &format!("{t}-{i}")));
            match shared {
                Ok(()) => won.push(i),
                Err(SessionError::Store { reason }) => {
                    assert!(reason.contains("duplicate session id"), "{reason}")
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
            store
                .insert(session(
                    &format!("own-{t}-{i}"),
                    "u",
                    &format!("own-{t}-{i}"),
                ))
                .expect("own insert");
        }
        won
    });
    let mut winners: Vec<usize> = outcomes.into_iter().flatten().collect();
    winners.sort_unstable();
    assert_eq!(winners, (0..40).collect::<Vec<_>>());
    assert_eq!(store.count().expect("count"), (40 + THREADS * 40) as i64);
    drop(store);
    let reopened = SqliteStore::open(db_path(&dir)).expect("reopen");
    assert_eq!(reopened.count().expect("count"), (40 + THREADS * 40) as i64);
    reopened.check_integrity().expect("integrity");
}

#[test]
fn a_refused_create_in_a_shared_commit_changes_nothing_and_limits_hold() {
    let dir = TempDir::new().expect("temp dir");
    for action in [SessionLimitAction::Refuse, SessionLimitAction::RevokeOldest] {
        let config = SessionConfig {
            max_sessions_per_user: Some(3),
            session_limit_action: Some(action),
            ..SessionConfig::default()
        };
        let path = dir
            .path()
            .join(format!("{action:?}.db"))
            .display()
            .to_string();
        let m = SessionManager::open(path, config, None).expect("open");
        // All threads create for one user at once, interleaved with other users.
        let results = on_threads(|t| {
            (0..10)
                .map(|i| {
                    let other = m.create(CreateSessionOptions::for_user(format!("other-{t}-{i}")));
                    other.expect("another user's create");
                    m.create(CreateSessionOptions::for_user("alice"))
                })
                .collect::<Vec<_>>()
        });
        let results: Vec<_> = results.into_iter().flatten().collect();
        let active = m.list_for_user("alice".into()).expect("list");
        assert_eq!(active.len(), 3, "{action:?}");
        let ok = results.iter().filter(|r| r.is_ok()).count();
        match action {
            SessionLimitAction::Refuse => {
                assert_eq!(ok, 3);
                assert!(results.iter().all(|r| r.is_ok()
                    || matches!(r, Err(SessionError::SessionLimitReached { limit: 3 }))));
            }
            SessionLimitAction::RevokeOldest => assert_eq!(ok, THREADS * 10),
        }
        // Refused creates left nothing behind: alice has exactly the successful ones.
        let stored = m.count().expect("count") - (THREADS * 10) as i64;
        assert_eq!(stored, ok as i64, "{action:?}");
    }
}

#[test]
fn concurrent_compare_and_swaps_of_one_session_have_exactly_one_winner_per_version() {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(db_path(&dir)).expect("open");
    let first = session("s", "u", "tok");
    store.insert(first.clone()).expect("insert");
    // Each round, every thread tries to move version v to v + 1: exactly one wins.
    for round in 0..5i64 {
        let read = store.get("s".into()).expect("get").expect("stored");
        assert_eq!(read.version, round + 1);
        let wins = on_threads(|t| {
            let mut next = read.clone();
            next.version = read.version + 1;
            next.metadata = Some(HashMap::from([("writer".to_owned(), t.to_string())]));
            store
                .compare_and_swap(read.token_hash.clone(), read.version, next)
                .expect("swap")
        });
        assert_eq!(wins.iter().filter(|w| **w).count(), 1, "round {round}");
    }
}

#[test]
fn writes_from_two_stores_on_one_file_interleave_safely() {
    let dir = TempDir::new().expect("temp dir");
    let a = SqliteStore::open(db_path(&dir)).expect("open a");
    let b = SqliteStore::open_with(db_path(&dir), Durability::Normal).expect("open b");
    let ids = on_threads(|t| {
        let store = if t % 2 == 0 { &a } else { &b };
        (0..30)
            .map(|i| {
                let id = format!("{t}-{i}");
                store.insert(session(&id, "u", &id)).expect("insert");
                id
            })
            .collect::<Vec<_>>()
    });
    let all: HashSet<String> = ids.into_iter().flatten().collect();
    assert_eq!(all.len(), THREADS * 30);
    for id in &all {
        assert!(a.get(id.clone()).expect("get").is_some(), "{id}");
        assert!(b.get(id.clone()).expect("get").is_some(), "{id}");
    }
    a.check_integrity().expect("integrity");
}

#[test]
fn import_in_a_shared_commit_is_still_all_or_nothing() {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(db_path(&dir)).expect("open");
    store
        .insert(session("taken", "u", "taken"))
        .expect("insert");
    let outcomes = on_threads(|t| {
        // Even threads import a batch whose last entry repeats a stored id.
        let mut batch: Vec<Session> = (0..20)
            .map(|i| session(&format!("imp-{t}-{i}"), "u", &format!("imp-{t}-{i}")))
            .collect();
        if t % 2 == 0 {
            batch.push(session("taken", "u", &format!("again-{t}")));
        }
        store.insert_all(batch).is_ok()
    });
    for (t, ok) in outcomes.iter().enumerate() {
        assert_eq!(*ok, t % 2 == 1, "thread {t}");
        let stored = store.get(format!("imp-{t}-0")).expect("get").is_some();
        assert_eq!(stored, t % 2 == 1, "thread {t}");
    }
    assert_eq!(store.count().expect("count"), 1 + (THREADS / 2 * 20) as i64);
}

#[test]
fn memory_lookup_by_digest_finds_current_and_rotated_out_tokens() {
    let m = SessionManager::new(SessionConfig::default(), None).expect("manager");
    let s = m
        .create(CreateSessionOptions::for_user("alice"))
        .expect("create");
    let checked = m.validate(s.token.clone(), None).expect("validate");
    assert!(checked.valid);
    let shown = checked.session.expect("session");
    assert_eq!(shown.token_hash, hash_token(s.token.clone()));
    assert!(shown.token.is_empty() && shown.rotation_key.is_none());
    let next = m.refresh(s.token.clone(), None).expect("refresh");
    // Within the grace the old token stands for the new one; the hash shown is the
    // current token's.
    let old = m.validate(s.token.clone(), None).expect("validate old");
    assert!(old.valid);
    assert_eq!(
        old.session.expect("session").token_hash,
        hash_token(next.token.clone())
    );
    assert!(m.validate(next.token, None).expect("validate new").valid);
    let unknown = m.validate("x".repeat(43), None).expect("validate unknown");
    assert_eq!(unknown.error, Some(ValidationError::InvalidToken));
}

/// A Redis location keeps what its server's `appendfsync` keeps: asking it for
/// `Durability::Normal` is a configuration error (refused before any connection).
#[test]
fn normal_durability_is_refused_for_a_redis_location() {
    for location in [
        "redis://127.0.0.1:1/0",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
    ] {
        let refused = SessionManager::open_with_durability(
            location.into(),
            SessionConfig::default(),
            Durability::Normal,
            None,
        )
        .err();
        assert!(
            matches!(refused, Some(SessionError::InvalidConfig { .. })),
            "{location}"
        );
    }
}
