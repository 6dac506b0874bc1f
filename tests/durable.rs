//! The durable (SQLite) store and manager: the store contract shared with the memory
//! store, persistence, several managers and processes on one file, concurrency, bad
//! files, and JSON export / import.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::TestClock;
use sessions::{
    hash_token, Clock, CreateSessionOptions, MemoryStore, Session, SessionConfig, SessionError,
    SessionManager, SessionStore, SqliteStore, ValidationError,
};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------
// Helpers

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

/// A session as a manager would store it, with nanosecond-precise times.
fn session(id: &str, user: &str, token: &str, created: SystemTime) -> Session {
    Session {
        id: id.to_owned(),
        user_id: user.to_owned(),
        token: String::new(),
        token_hash: hash_token(token.to_owned()),
        created_at: created,
        expires_at: created + Duration::from_secs(3600),
        metadata: Some(HashMap::from([
            ("userAgent".to_owned(), "Firefox".to_owned()),
            ("ip".to_owned(), "10.0.0.1".to_owned()),
        ])),
        revoked_at: None,
        sliding_expiration: Some(true),
        bound_user_agent: Some("Firefox".to_owned()),
        lifetime: Duration::from_secs(3600),
        absolute_expires_at: created + Duration::from_secs(30 * 86400),
        version: 1,
        previous_token_hash: None,
        rotated_at: None,
        rotation_key: None,
    }
}

/// `store.compare_and_swap` of `from` (as read) into `to`, as the manager does it:
/// expecting `from`'s hash and version, writing the next version.
fn swap(store: &dyn SessionStore, from: &Session, mut to: Session) -> Result<bool, SessionError> {
    to.version = from.version + 1;
    store.compare_and_swap(from.token_hash.clone(), from.version, to)
}

fn is_store_error<T: std::fmt::Debug>(r: &Result<T, SessionError>) -> bool {
    matches!(r, Err(SessionError::Store { .. }))
}

fn db_path(dir: &TempDir) -> String {
    dir.path().join("sessions.db").display().to_string()
}

fn open(path: &str, clock: Option<Arc<dyn Clock>>) -> Arc<SessionManager> {
    SessionManager::open(path.to_owned(), SessionConfig::default(), clock)
        .unwrap_or_else(|e| panic!("open {path}: {e}"))
}

fn create(manager: &SessionManager, user: &str) -> Session {
    manager
        .create(CreateSessionOptions::for_user(user))
        .expect("create")
}

fn error_of(manager: &SessionManager, token: &str) -> Option<ValidationError> {
    manager
        .validate(token.to_owned(), None)
        .expect("validate")
        .error
}

// ---------------------------------------------------------------------------------
// The store contract, run on every store

/// Every store the library ships, each fresh (the temp dir lives as long as the store).
fn stores() -> Vec<(&'static str, Arc<dyn SessionStore>, Option<TempDir>)> {
    let dir = TempDir::new().expect("temp dir");
    let file = SqliteStore::open(db_path(&dir)).expect("open sqlite file");
    vec![
        ("memory", Arc::new(MemoryStore::new()), None),
        ("sqlite file", Arc::new(file), Some(dir)),
        (
            "sqlite in memory",
            Arc::new(SqliteStore::open_in_memory().expect("in memory")),
            None,
        ),
    ]
}

fn for_each_store(check: impl Fn(&str, &dyn SessionStore)) {
    for (name, store, _dir) in stores() {
        check(name, store.as_ref());
    }
}

#[test]
fn store_insert_get_find_round_trip_every_field() {
    for_each_store(|name, store| {
        let created = t(0) + Duration::from_nanos(123_456_789);
        let mut s = session("a", "alice", "tok-a", created);
        s.revoked_at = Some(created + Duration::from_nanos(7));
        s.token = "raw token that must not be stored".into();
        store.insert(s.clone()).expect(name);
        let mut expected = s.clone();
        expected.token.clear();
        assert_eq!(
            store.get("a".into()).expect(name),
            Some(expected.clone()),
            "{name}"
        );
        assert_eq!(
            store.find_by_token_hash(s.token_hash.clone()).expect(name),
            Some(expected.clone()),
            "{name}"
        );
        // Upper-case hex finds the same session; garbage finds nothing.
        assert_eq!(
            store
                .find_by_token_hash(s.token_hash.to_uppercase())
                .expect(name),
            Some(expected),
            "{name}"
        );
        assert_eq!(
            store.find_by_token_hash("zz".into()).expect(name),
            None,
            "{name}"
        );
        assert_eq!(store.get("missing".into()).expect(name), None, "{name}");
        // Optional fields absent round-trip as absent.
        let mut bare = session("b", "bob", "tok-b", created);
        bare.metadata = None;
        bare.sliding_expiration = None;
        bare.bound_user_agent = None;
        store.insert(bare.clone()).expect(name);
        assert_eq!(store.get("b".into()).expect(name), Some(bare), "{name}");
        assert_eq!(store.count().expect(name), 2, "{name}");
    });
}

#[test]
fn store_rejects_duplicates_and_bad_hashes() {
    for_each_store(|name, store| {
        store
            .insert(session("a", "alice", "tok-a", t(0)))
            .expect(name);
        let same_id = store.insert(session("a", "alice", "tok-other", t(0)));
        assert!(is_store_error(&same_id), "{name}: {same_id:?}");
        let same_hash = store.insert(session("b", "alice", "tok-a", t(0)));
        assert!(is_store_error(&same_hash), "{name}: {same_hash:?}");
        let mut bad = session("c", "alice", "tok-c", t(0));
        bad.token_hash = "not hex".into();
        assert!(is_store_error(&store.insert(bad)), "{name}");
        assert_eq!(store.count().expect(name), 1, "{name}");
    });
}

#[test]
fn store_compare_and_swap_rotates_revokes_and_slides() {
    for_each_store(|name, store| {
        let s = session("a", "alice", "tok-a", t(0));
        store.insert(s.clone()).expect(name);
        store
            .insert(session("b", "bob", "tok-b", t(1)))
            .expect(name);

        // Rotation: the old hash disappears, the new one finds the session.
        let mut rotated = s.clone();
        rotated.token_hash = hash_token("tok-a2".into());
        rotated.expires_at = t(100);
        assert!(swap(store, &s, rotated.clone()).expect(name));
        rotated.version = 2;
        assert_eq!(
            store.find_by_token_hash(s.token_hash.clone()).expect(name),
            None,
            "{name}"
        );
        assert_eq!(
            store
                .find_by_token_hash(rotated.token_hash.clone())
                .expect(name),
            Some(rotated.clone()),
            "{name}"
        );
        // A second swap from the old hash loses.
        assert!(!swap(store, &s, s.clone()).expect(name), "{name}");
        // The expected hash must belong to this very session.
        let mut wrong_id = rotated.clone();
        wrong_id.id = "b".into();
        assert!(!swap(store, &rotated, wrong_id).expect(name));
        let mut bad_hash = rotated.clone();
        bad_hash.token_hash = "zz".into();
        assert!(!swap(store, &bad_hash, rotated.clone()).expect(name));
        // A swap computed from an older version loses, even with the right hash.
        let mut stale = rotated.clone();
        stale.version = 1;
        assert!(!swap(store, &stale, rotated.clone()).expect(name));
        // Swapping onto another session's hash is refused.
        let mut clash = rotated.clone();
        clash.token_hash = hash_token("tok-b".into());
        let clashed = swap(store, &rotated, clash);
        assert!(is_store_error(&clashed), "{name}: {clashed:?}");
        // Revocation and sliding keep the hash.
        let mut revoked = rotated.clone();
        revoked.revoked_at = Some(t(50));
        revoked.expires_at = t(200);
        assert!(swap(store, &rotated, revoked.clone()).expect(name));
        revoked.version = 3;
        assert_eq!(store.get("a".into()).expect(name), Some(revoked), "{name}");
        assert_eq!(store.count().expect(name), 2, "{name}");
    });
}

#[test]
fn store_lists_revokes_and_purges_by_user_and_expiry() {
    for_each_store(|name, store| {
        store
            .insert(session("a2", "alice", "a2", t(20)))
            .expect(name);
        store
            .insert(session("a1", "alice", "a1", t(10)))
            .expect(name);
        let mut early = session("a0", "alice", "a0", t(0));
        early.expires_at = t(500);
        store.insert(early).expect(name);
        store.insert(session("b1", "bob", "b1", t(5))).expect(name);

        let ids = |v: Vec<Session>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.list_for_user("alice".into()).expect(name)),
            ["a0", "a1", "a2"]
        );
        assert_eq!(
            ids(store.list_for_user("nobody".into()).expect(name)),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(store.all_sessions().expect(name).sessions),
            ["a0", "b1", "a1", "a2"],
            "{name}"
        );

        // Revoke one by hand, then all: only the other two count.
        let one = store.get("a1".into()).expect(name).expect(name);
        let mut revoked_one = one.clone();
        revoked_one.revoked_at = Some(t(30));
        assert!(swap(store, &one, revoked_one).expect(name));
        let mut ids = store
            .revoke_all_for_user("alice".into(), t(40))
            .expect(name);
        ids.sort();
        assert_eq!(ids, ["a0", "a2"], "{name}");
        assert_eq!(
            store
                .revoke_all_for_user("alice".into(), t(41))
                .expect(name)
                .len(),
            0,
            "{name}"
        );
        let alice = store.list_for_user("alice".into()).expect(name);
        let revoked: Vec<_> = alice.iter().map(|s| s.revoked_at).collect();
        assert_eq!(revoked, [Some(t(40)), Some(t(30)), Some(t(40))], "{name}");
        assert_eq!(
            store
                .get("b1".into())
                .expect(name)
                .and_then(|s| s.revoked_at),
            None
        );

        // Purge is inclusive at expires_at.
        assert_eq!(store.purge_expired(t(499)).expect(name), 0, "{name}");
        assert_eq!(store.purge_expired(t(500)).expect(name), 1, "{name}");
        assert_eq!(store.get("a0".into()).expect(name), None, "{name}");
        assert_eq!(store.purge_expired(t(5 + 3600)).expect(name), 1, "{name}");
        assert_eq!(store.count().expect(name), 2, "{name}");
        assert_eq!(store.purge_expired(t(100_000)).expect(name), 2, "{name}");
        assert_eq!(store.count().expect(name), 0, "{name}");
    });
}

// ---------------------------------------------------------------------------------
// The durable manager

#[test]
fn sessions_survive_closing_and_reopening_the_file() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    let clock = TestClock::new();
    let (kept, revoked, rotated_old, rotated_new) = {
        let manager = open(&path, Some(clock.clone() as Arc<dyn Clock>));
        let kept = create(&manager, "alice");
        let revoked = create(&manager, "alice");
        manager.destroy(revoked.id.clone()).expect("destroy");
        let rotated = create(&manager, "bob");
        let next = manager
            .refresh(rotated.token.clone(), None)
            .expect("refresh");
        (kept, revoked, rotated, next)
    };
    let manager = open(&path, Some(clock.clone() as Arc<dyn Clock>));
    let valid = manager
        .validate(kept.token.clone(), None)
        .expect("validate");
    assert!(valid.valid);
    let stored = valid.session.expect("session");
    assert_eq!(stored.token_hash, kept.token_hash);
    assert_eq!(stored.created_at, kept.created_at);
    assert_eq!(stored.expires_at, kept.expires_at);
    assert_eq!(
        error_of(&manager, &revoked.token),
        Some(ValidationError::SessionRevoked)
    );
    // The rotation grace survives too: within it the old token gives the same new one.
    let again = manager
        .refresh(rotated_old.token.clone(), None)
        .expect("refresh within grace");
    assert_eq!(again.token, rotated_new.token);
    assert_eq!(error_of(&manager, &rotated_new.token), None);
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        error_of(&manager, &rotated_old.token),
        Some(ValidationError::TokenReused)
    );
    assert_eq!(
        error_of(&manager, &rotated_new.token),
        Some(ValidationError::SessionRevoked)
    );
    assert_eq!(manager.count().expect("count"), 3);
}

#[test]
fn two_managers_on_one_file_see_each_others_writes_at_once() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    let a = open(&path, None);
    let b = open(&path, None);
    let s = create(&a, "alice");
    assert_eq!(error_of(&b, &s.token), None);
    a.destroy(s.id.clone()).expect("destroy");
    assert_eq!(
        error_of(&b, &s.token),
        Some(ValidationError::SessionRevoked)
    );

    let r = create(&b, "bob");
    let next = a.refresh(r.token.clone(), None).expect("refresh");
    // Within the grace, the other manager reproduces the same new token.
    assert_eq!(
        b.refresh(r.token.clone(), None).expect("grace").token,
        next.token
    );
    assert_eq!(error_of(&b, &next.token), None);
    assert_eq!(b.destroy_all_for_user("bob".into()).expect("revoke all"), 1);
    assert_eq!(
        error_of(&a, &next.token),
        Some(ValidationError::SessionRevoked)
    );
}

/// Set to `path\tsession id` when this test binary runs as the second process.
const REVOKER_VAR: &str = "SESSIONS_TEST_REVOKE_IN_CHILD";

/// The second process of `a_revocation_in_another_process_is_seen_at_once`: does
/// nothing unless started by it.
#[test]
fn child_process_revoker() {
    let Ok(task) = std::env::var(REVOKER_VAR) else {
        return;
    };
    let (path, id) = task.split_once('\t').expect("path and id");
    let manager = open(path, None);
    assert!(manager.destroy(id.to_owned()).expect("destroy in child"));
}

#[test]
fn a_revocation_in_another_process_is_seen_at_once() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    let manager = open(&path, None);
    let s = create(&manager, "alice");
    assert_eq!(error_of(&manager, &s.token), None);
    let status = Command::new(std::env::current_exe().expect("current exe"))
        .args(["child_process_revoker", "--exact", "--test-threads=1"])
        .env(REVOKER_VAR, format!("{path}\t{}", s.id))
        .output()
        .expect("run child");
    assert!(status.status.success(), "child failed: {status:?}");
    assert_eq!(
        error_of(&manager, &s.token),
        Some(ValidationError::SessionRevoked)
    );
}

#[test]
fn concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    // Two managers (two sets of connections, as two processes would have), four
    // threads each, all refreshing the same token at once; repeated a few times.
    let clock: Arc<dyn Clock> = TestClock::new();
    let managers = [open(&path, Some(clock.clone())), open(&path, Some(clock))];
    for round in 0..5 {
        let token = create(&managers[0], "alice").token;
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let manager = managers[i % 2].clone();
                let barrier = barrier.clone();
                let token = token.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    manager.refresh(token, None)
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        // One rotation is written; within the rotation grace every other refresh
        // gets the same new token (none is logged out).
        let tokens: HashSet<String> = results
            .iter()
            .map(|r| r.as_ref().expect("refresh").token.clone())
            .collect();
        assert_eq!(tokens.len(), 1, "round {round}: {results:?}");
        let id = results[0].as_ref().expect("refresh").id.clone();
        assert_eq!(
            managers[1].get(id).expect("get").expect("stored").version,
            2
        );
    }
}

#[test]
fn many_managers_opening_a_new_file_at_once_all_succeed() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let manager = SessionManager::open(path, SessionConfig::default(), None)?;
                manager.create(CreateSessionOptions::for_user(format!("u{i}")))
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread").expect("open and create");
    }
    assert_eq!(open(&path, None).count().expect("count"), threads as u64);
}

#[test]
fn expiry_purge_and_sliding_work_on_the_durable_store() {
    let dir = TempDir::new().expect("temp dir");
    let clock = TestClock::starting_at(t(0));
    let manager = open(&db_path(&dir), Some(clock.clone()));
    let fixed = create(&manager, "alice");
    let sliding = manager
        .create(CreateSessionOptions {
            sliding_expiration: true,
            ..CreateSessionOptions::for_user("alice")
        })
        .expect("create");
    clock.advance(Duration::from_secs(20 * 3600));
    assert_eq!(error_of(&manager, &sliding.token), None); // slides to 20h + 24h
    clock.advance(Duration::from_secs(4 * 3600));
    assert_eq!(
        error_of(&manager, &fixed.token),
        Some(ValidationError::SessionExpired)
    );
    assert_eq!(error_of(&manager, &sliding.token), None);
    assert_eq!(manager.purge_expired().expect("purge"), 1);
    assert_eq!(manager.count().expect("count"), 1);
    assert_eq!(
        manager.list_for_user("alice".into()).expect("list").len(),
        1
    );
}

// ---------------------------------------------------------------------------------
// Bad files and paths

fn open_err(path: &Path) -> SessionError {
    match SessionManager::open(path.display().to_string(), SessionConfig::default(), None) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e,
    }
}

fn assert_store_error(e: &SessionError, mentions: &str) {
    match e {
        SessionError::Store { reason } => assert!(
            reason.contains(mentions),
            "{reason:?} does not mention {mentions:?}"
        ),
        other => panic!("expected a Store error, got {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("notes.txt");
    let content: Vec<u8> = b"these are my notes, not a database\n".repeat(200);
    std::fs::write(&path, &content).expect("write");
    let e = open_err(&path);
    assert_store_error(&e, "not a SQLite database");
    assert!(
        std::fs::read(&path).expect("read") == content,
        "the file changed"
    );
}

#[test]
fn a_database_with_a_damaged_header_is_refused_and_left_untouched() {
    let dir = TempDir::new().expect("temp dir");
    let path = PathBuf::from(db_path(&dir));
    {
        let manager = open(&path.display().to_string(), None);
        create(&manager, "alice");
    }
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[..16].copy_from_slice(b"garbage garbage!");
    std::fs::write(&path, &bytes).expect("write");
    let e = open_err(&path);
    assert!(matches!(e, SessionError::Store { .. }), "{e:?}");
    assert!(
        std::fs::read(&path).expect("read") == bytes,
        "the file changed"
    );
}

#[test]
fn a_database_with_damaged_pages_gives_store_errors_not_panics() {
    let dir = TempDir::new().expect("temp dir");
    let path = PathBuf::from(db_path(&dir));
    let tokens: Vec<String> = {
        let manager = open(&path.display().to_string(), None);
        (0..200).map(|_| create(&manager, "alice").token).collect()
    };
    SqliteStore::open(&path)
        .and_then(|store| store.check_integrity())
        .expect("sound before the damage");
    let mut bytes = std::fs::read(&path).expect("read");
    let len = bytes.len();
    for b in &mut bytes[4096..len] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).expect("write");
    if let Ok(store) = SqliteStore::open(&path) {
        let checked = store.check_integrity();
        assert!(is_store_error(&checked), "{checked:?}");
    }
    match SessionManager::open(path.display().to_string(), SessionConfig::default(), None) {
        Err(e) => assert!(matches!(e, SessionError::Store { .. }), "{e:?}"),
        Ok(manager) => {
            let results = [
                manager.validate(tokens[0].clone(), None).map(|_| ()),
                manager.count().map(|_| ()),
                manager.list_for_user("alice".into()).map(|_| ()),
            ];
            for r in results {
                assert!(r.is_ok() || is_store_error(&r), "{r:?}");
            }
        }
    }
}

#[test]
fn another_applications_database_is_refused_and_left_untouched() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
            .expect("create");
    }
    let before = std::fs::read(&path).expect("read");
    assert_store_error(&open_err(&path), "another application");
    assert!(
        std::fs::read(&path).expect("read") == before,
        "the file changed"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = TempDir::new().expect("temp dir");
    let path = PathBuf::from(db_path(&dir));
    drop(open(&path.display().to_string(), None));
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 99).expect("bump");
    }
    assert_store_error(&open_err(&path), "schema version 99");
}

#[test]
fn the_schema_version_is_recorded() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    drop(open(&path, None));
    let conn = rusqlite::Connection::open(&path).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, sessions::store::sqlite::SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    // No column could hold a raw token.
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('sessions')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("columns");
    assert!(!columns.iter().any(|c| c == "token"), "{columns:?}");
}

#[test]
fn unusable_paths_give_store_errors() {
    let dir = TempDir::new().expect("temp dir");
    assert_store_error(
        &open_err(&dir.path().join("missing/dir/s.db")),
        "cannot open",
    );
    assert!(matches!(open_err(dir.path()), SessionError::Store { .. }));
    assert!(matches!(
        open_err(Path::new("")),
        SessionError::Store { .. }
    ));
}

#[cfg(unix)]
#[test]
fn a_read_only_directory_gives_a_store_error_unless_running_as_root() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new().expect("temp dir");
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    if std::fs::write(ro.join("probe"), b"x").is_ok() {
        eprintln!("skipped: permissions do not apply (running as root)");
        return;
    }
    let e = open_err(&ro.join("s.db"));
    assert!(matches!(e, SessionError::Store { .. }), "{e:?}");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn a_bad_configuration_creates_no_file() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    let config = SessionConfig {
        default_expires_in: Some(Duration::ZERO),
        ..SessionConfig::default()
    };
    assert!(SessionManager::open(path.clone(), config, None).is_err());
    assert!(!Path::new(&path).exists());
}

// ---------------------------------------------------------------------------------
// Export and import

fn fixed_clock_manager() -> Arc<SessionManager> {
    SessionManager::new(
        SessionConfig::default(),
        Some(TestClock::starting_at(t(0) + Duration::from_millis(250))),
    )
    .expect("manager")
}

#[test]
fn export_then_import_round_trips() {
    let dir = TempDir::new().expect("temp dir");
    let clock = TestClock::starting_at(SystemTime::now());
    let source = open(&db_path(&dir), Some(clock.clone()));
    let plain = create(&source, "alice");
    clock.advance(Duration::from_secs(1));
    let rich = source
        .create(CreateSessionOptions {
            user_id: "bob".into(),
            expires_in: Some(Duration::from_secs(600)),
            metadata: Some(HashMap::from([("userAgent".into(), "curl".into())])),
            sliding_expiration: true,
        })
        .expect("create");
    clock.advance(Duration::from_secs(1));
    let revoked = create(&source, "carol");
    source.destroy(revoked.id.clone()).expect("destroy");
    let json = source.export_json().expect("export");
    assert!(!json.contains(&plain.token) && !json.contains(&rich.token));

    let target = SessionManager::new(SessionConfig::default(), None).expect("manager");
    assert_eq!(target.import_json(json.clone()).expect("import"), 3);
    assert_eq!(error_of(&target, &plain.token), None);
    assert_eq!(error_of(&target, &rich.token), None);
    assert_eq!(
        error_of(&target, &revoked.token),
        Some(ValidationError::SessionRevoked)
    );
    let ms = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .expect("after epoch")
            .as_millis()
    };
    {
        let original = source.get(rich.id.clone()).expect("get").expect("stored");
        let copy = target.get(rich.id.clone()).expect("get").expect("imported");
        assert_eq!(copy.id, original.id);
        assert_eq!(copy.user_id, original.user_id);
        assert_eq!(copy.token_hash, original.token_hash);
        assert_eq!(ms(copy.created_at), ms(original.created_at));
        assert_eq!(ms(copy.expires_at), ms(original.expires_at));
        assert_eq!(
            ms(copy.absolute_expires_at),
            ms(original.absolute_expires_at)
        );
        assert_eq!(copy.lifetime, original.lifetime);
        assert_eq!(copy.metadata, original.metadata);
        assert_eq!(copy.sliding_expiration, Some(true));
        assert_eq!(copy.revoked_at, None);
    }
    // Export of the copy is the same document.
    assert_eq!(target.export_json().expect("export"), json);
}

#[test]
fn export_uses_the_seed_form() {
    let manager = fixed_clock_manager();
    let s = create(&manager, "alice");
    let json: serde_json::Value =
        serde_json::from_str(&manager.export_json().expect("export")).expect("json");
    let expected = serde_json::json!([{
        "id": s.id,
        "userId": "alice",
        "tokenHash": s.token_hash,
        "createdAt": "2023-11-14T22:13:20.250Z",
        "expiresAt": "2023-11-15T22:13:20.250Z",
        "slidingExpiration": false,
        "lifetimeMs": 86_400_000,
        "absoluteExpiresAt": "2023-12-14T22:13:20.250Z",
        "version": 1,
    }]);
    assert_eq!(json, expected);
}

const HASH_A: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const HASH_B: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

fn seed_entry(id: &str, hash: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "userId": "user-1",
        "tokenHash": hash,
        "createdAt": "2024-01-31T12:00:00.000Z",
        "expiresAt": "2024-02-01T12:00:00.000Z",
        "metadata": { "userAgent": "Mozilla/5.0" },
        "slidingExpiration": true,
    })
}

#[test]
fn seed_form_without_our_fields_imports() {
    let manager = fixed_clock_manager();
    let mut revoked = seed_entry("s2", HASH_B);
    revoked["revokedAt"] = "2024-01-31T13:00:00.500+01:00".into();
    revoked["boundUserAgent"] = "Mozilla/5.0".into();
    revoked["metadata"] = serde_json::Value::Null;
    let json = serde_json::json!([seed_entry("s1", HASH_A), revoked]).to_string();
    assert_eq!(manager.import_json(json).expect("import"), 2);

    let s1 = manager.get("s1".into()).expect("get").expect("s1");
    assert_eq!(s1.user_id, "user-1");
    assert_eq!(s1.token, "");
    assert_eq!(s1.lifetime, Duration::from_secs(86_400));
    let created = UNIX_EPOCH + Duration::from_secs(1_706_702_400);
    assert_eq!(s1.created_at, created);
    assert_eq!(s1.expires_at, created + Duration::from_secs(86_400));
    assert_eq!(
        s1.absolute_expires_at,
        created + Duration::from_secs(30 * 86_400)
    );
    assert_eq!(s1.sliding_expiration, Some(true));
    assert_eq!(s1.bound_user_agent, None);
    let s2 = manager.get("s2".into()).expect("get").expect("s2");
    assert_eq!(s2.revoked_at, Some(created + Duration::from_millis(500)));
    assert_eq!(s2.metadata, None);
    assert_eq!(s2.bound_user_agent.as_deref(), Some("Mozilla/5.0"));
    // The clock stands before both sessions' expiry; s2 is revoked.
    assert_eq!(
        manager.list_for_user("user-1".into()).expect("list").len(),
        1
    );
    assert_eq!(manager.count().expect("count"), 2);
}

#[test]
fn imported_sessions_validate_by_token() {
    let manager = SessionManager::new(SessionConfig::default(), None).expect("manager");
    let now = chrono::Utc::now();
    let mut entry = seed_entry("live", HASH_A); // sha256("abc")
    entry["createdAt"] = now.to_rfc3339().into();
    entry["expiresAt"] = (now + chrono::Duration::hours(1)).to_rfc3339().into();
    manager
        .import_json(serde_json::json!([entry]).to_string())
        .expect("import");
    assert_eq!(error_of(&manager, "abc"), None);
}

fn import_error(json: &str) -> String {
    let manager = fixed_clock_manager();
    manager
        .import_json(serde_json::json!([seed_entry("existing", HASH_B)]).to_string())
        .expect("seed import");
    let result = manager.import_json(json.to_owned());
    assert_eq!(
        manager.count().expect("count"),
        1,
        "imported something: {json}"
    );
    match result {
        Err(e @ SessionError::Import { .. }) => e.to_string(),
        other => panic!("expected an Import error for {json}, got {other:?}"),
    }
}

fn with(field: &str, value: serde_json::Value) -> String {
    let mut bad = seed_entry("bad", HASH_A);
    if value.is_null() {
        bad.as_object_mut().expect("object").remove(field);
    } else {
        bad[field] = value;
    }
    serde_json::json!([seed_entry("ok", &"a".repeat(64)), bad]).to_string()
}

#[test]
fn malformed_imports_name_the_problem_and_import_nothing() {
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "not JSON"),
        (
            "{\"id\": \"x\"}".into(),
            "expected a JSON array of sessions, found an object",
        ),
        ("[1]".into(), "entry 0: expected an object, found a number"),
        (
            with("tokenHash", serde_json::Value::Null),
            "entry 1, field tokenHash: missing",
        ),
        (
            with("tokenHash", "abc".into()),
            "entry 1, field tokenHash: not 64 hex digits",
        ),
        (
            with("userId", 7.into()),
            "entry 1, field userId: expected a string, found a number",
        ),
        (
            with("userId", "".into()),
            "entry 1, field userId: the user id is invalid",
        ),
        (
            with("createdAt", "yesterday".into()),
            "entry 1, field createdAt: \"yesterday\" is not an ISO-8601",
        ),
        (
            with("expiresAt", "2024-01-01T00:00:00.000Z".into()),
            "entry 1, field expiresAt: not after created",
        ),
        (
            with("expiresAt", "9999-01-01T00:00:00.000Z".into()),
            "entry 1, field expiresAt: 9999-01-01T00:00:00.000Z is outside",
        ),
        (
            with("revokedAt", true.into()),
            "entry 1, field revokedAt: expected a string, found a boolean",
        ),
        (
            with("metadata", serde_json::json!({"a": 1})),
            "entry 1, field metadata.a: expected a string, found a number",
        ),
        (
            with("metadata", serde_json::json!("x")),
            "entry 1, field metadata: expected an object",
        ),
        (
            with("slidingExpiration", "yes".into()),
            "entry 1, field slidingExpiration: expected a boolean",
        ),
        (
            with("lifetimeMs", 0.into()),
            "entry 1, field lifetimeMs: expected a positive whole number",
        ),
        (
            with("lifetimeMs", 1.5.into()),
            "entry 1, field lifetimeMs: expected a positive whole number",
        ),
        (
            with("id", "ok".into()),
            "entry 1, field id: duplicate of entry 0",
        ),
        (
            with("tokenHash", "A".repeat(64).into()),
            "entry 1, field tokenHash: duplicate of entry 0",
        ),
        (
            with("id", "existing".into()),
            "entry 1, field id: a session with id existing is already stored",
        ),
        (
            with("tokenHash", HASH_B.into()),
            "entry 1, field tokenHash: a session with this token hash is already stored",
        ),
    ];
    for (json, expected) in cases {
        let reason = import_error(&json);
        assert!(
            reason.contains(expected),
            "{reason:?} should contain {expected:?}"
        );
    }
    let many: HashMap<String, String> = (0..100).map(|i| (format!("k{i}"), "v".into())).collect();
    let reason = import_error(&with("metadata", serde_json::json!(many)));
    assert!(
        reason.contains("entry 1, field metadata: the session metadata is too large"),
        "{reason}"
    );
}

#[test]
fn import_into_sqlite_persists() {
    let dir = TempDir::new().expect("temp dir");
    let path = db_path(&dir);
    let json = serde_json::json!([seed_entry("s1", HASH_A), seed_entry("s2", HASH_B)]).to_string();
    assert_eq!(open(&path, None).import_json(json).expect("import"), 2);
    assert_eq!(open(&path, None).count().expect("count"), 2);
}

// ---------------------------------------------------------------------------------
// Figures (printed with --nocapture; never pass/fail)

#[test]
fn print_timings() {
    let dir = TempDir::new().expect("temp dir");
    let manager = open(&db_path(&dir), None);
    let n = 300;
    let start = Instant::now();
    let tokens: Vec<String> = (0..n)
        .map(|i| create(&manager, &format!("u{}", i % 10)).token)
        .collect();
    let create_each = start.elapsed() / n;
    let start = Instant::now();
    for token in &tokens {
        assert_eq!(error_of(&manager, token), None);
    }
    let validate_each = start.elapsed() / n;
    let start = Instant::now();
    for token in tokens.iter().take(100) {
        manager.refresh(token.clone(), None).expect("refresh");
    }
    let refresh_each = start.elapsed() / 100;
    let start = Instant::now();
    let json = manager.export_json().expect("export");
    let export_all = start.elapsed();
    let target_dir = TempDir::new().expect("temp dir");
    let target = open(&db_path(&target_dir), None);
    let start = Instant::now();
    target.import_json(json).expect("import");
    let import_each = start.elapsed() / n;
    println!(
        "sqlite (synchronous=FULL): create {create_each:?}, validate {validate_each:?}, \
         refresh {refresh_each:?} each; export of {n} {export_all:?}; import {import_each:?} each"
    );
}

#[test]
fn store_compare_and_swap_never_undoes_a_revocation() {
    for_each_store(|name, store| {
        let s = session("r", "rita", "tok-r", t(0));
        store.insert(s.clone()).expect(name);
        let mut revoked = s.clone();
        revoked.revoked_at = Some(t(5));
        assert!(swap(store, &s, revoked.clone()).expect(name));
        // A refresh that read the session before the revocation loses.
        let mut rotated = s.clone();
        rotated.token_hash = hash_token("tok-r2".into());
        assert!(!swap(store, &s, rotated.clone()).expect(name));
        // Even one that knows the new version: revocation is final.
        revoked.version = 2;
        assert!(!swap(store, &revoked, rotated).expect(name));
        let stored = store.get("r".into()).expect(name).expect(name);
        assert_eq!(stored.revoked_at, Some(t(5)), "{name}");
        assert_eq!(stored.token_hash, s.token_hash, "{name}");
    });
}

#[test]
fn store_keeps_user_ids_of_every_length() {
    // The memory store keeps ids of up to 24 bytes inline and shares longer ones with
    // its user index; both forms must behave the same in every store.
    let users = [
        "u".to_string(),
        "x".repeat(24),
        "y".repeat(25),
        "é".repeat(12) + "z",
        "w".repeat(256),
    ];
    for_each_store(|name, store| {
        for (i, user) in users.iter().enumerate() {
            for j in 0..2 {
                let id = format!("{i}-{j}");
                let s = session(&id, user, &format!("tok-{id}"), t(i as u64 * 10 + j));
                store.insert(s).expect(name);
            }
        }
        for (i, user) in users.iter().enumerate() {
            let listed = store.list_for_user(user.clone()).expect(name);
            assert_eq!(listed.len(), 2, "{name} {i}");
            assert!(listed.iter().all(|s| &s.user_id == user), "{name} {i}");
            let got = store.get(format!("{i}-0")).expect(name).expect(name);
            assert_eq!(&got.user_id, user, "{name} {i}");
            let found = store
                .find_by_token_hash(got.token_hash.clone())
                .expect(name)
                .expect(name);
            assert_eq!(&found.user_id, user, "{name} {i}");
        }
        // Moving a session from a short to a long user id and back re-indexes it.
        let read = store.get("0-1".into()).expect(name).expect(name);
        let mut moved = read.clone();
        moved.user_id = users[4].clone();
        assert!(swap(store, &read, moved.clone()).expect(name));
        moved.version = read.version + 1;
        assert_eq!(store.list_for_user(users[0].clone()).expect(name).len(), 1);
        assert_eq!(store.list_for_user(users[4].clone()).expect(name).len(), 3);
        let read = moved.clone();
        moved.user_id = users[1].clone();
        assert!(swap(store, &read, moved).expect(name));
        assert_eq!(store.list_for_user(users[4].clone()).expect(name).len(), 2);
        assert_eq!(store.list_for_user(users[1].clone()).expect(name).len(), 3);
        assert_eq!(
            store
                .revoke_all_for_user(users[2].clone(), t(99))
                .expect(name)
                .len(),
            2,
            "{name}"
        );
    });
}
