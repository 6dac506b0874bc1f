//! The kinds of fault users of other session libraries keep reporting (issue 10), each
//! shown with the example that failed before, on every store that can show it.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::{HookedStore, TestClock, HOUR};
use sessions::*;
use tempfile::TempDir;

const MINUTE: Duration = Duration::from_secs(60);

/// The stores a manager can sit on, each behind a `HookedStore` so a test can script
/// what happens between a read and a write.
fn hooked_stores() -> Vec<(&'static str, Arc<HookedStore>, Option<TempDir>)> {
    let dir = TempDir::new().expect("temp dir");
    let sqlite = SqliteStore::open(dir.path().join("s.db")).expect("open sqlite");
    vec![
        ("memory", Arc::new(HookedStore::new()), None),
        (
            "sqlite",
            Arc::new(HookedStore::over(Arc::new(sqlite))),
            Some(dir),
        ),
    ]
}

fn manager_on(
    store: &Arc<HookedStore>,
    config: SessionConfig,
) -> (Arc<SessionManager>, Arc<TestClock>) {
    let clock = TestClock::new();
    let m = SessionManager::with_store(
        config,
        store.clone() as Arc<dyn SessionStore>,
        Some(clock.clone() as Arc<dyn Clock>),
    )
    .expect("manager");
    (m, clock)
}

fn sliding(user: &str, lifetime: Duration) -> CreateSessionOptions {
    CreateSessionOptions {
        expires_in: Some(lifetime),
        sliding_expiration: true,
        ..CreateSessionOptions::for_user(user)
    }
}

// ---------------------------------------------------------------------------------
// 1. A stale write can undo a newer change

#[test]
fn a_slide_computed_from_a_stale_read_never_moves_the_expiry_back() {
    for (name, store, _dir) in hooked_stores() {
        let (m, clock) = manager_on(&store, SessionConfig::default());
        let start = clock.at();
        let s = m.create(sliding("u", HOUR)).unwrap();
        // Validate A reads at 00:40 (a slide is due, to 01:40); before it writes,
        // validate B at 00:50 slides the session to 01:50.
        clock.advance(40 * MINUTE);
        let (m2, clock2, token) = (m.clone(), clock.clone(), s.token.clone());
        store.before_next_cas(move || {
            clock2.advance(10 * MINUTE);
            let b = m2.validate(token, None).unwrap();
            assert!(b.valid);
        });
        let a = m.validate(s.token.clone(), None).unwrap();
        assert!(a.valid, "{name}");
        let stored = m.get(s.id.clone()).unwrap().unwrap();
        assert_eq!(
            stored.expires_at,
            start + 110 * MINUTE,
            "{name}: expiry moved back"
        );
        assert_eq!(a.session.unwrap().expires_at, stored.expires_at, "{name}");
        assert_eq!(stored.version, 2, "{name}: exactly one slide was written");
    }
}

#[test]
fn a_refresh_that_loses_to_a_revocation_reports_session_revoked() {
    for (name, store, _dir) in hooked_stores() {
        let (m, _clock) = manager_on(&store, SessionConfig::default());
        let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
        let (m2, id) = (m.clone(), s.id.clone());
        store.before_next_cas(move || assert!(m2.destroy(id).unwrap()));
        assert_eq!(
            m.refresh(s.token.clone(), None).map(|_| ()),
            Err(SessionError::SessionRevoked),
            "{name}"
        );
        assert_eq!(
            m.validate(s.token, None).unwrap().error,
            Some(ValidationError::SessionRevoked),
            "{name}"
        );
    }
}

#[test]
fn a_refresh_that_loses_to_a_slide_retries_and_rotates() {
    for (name, store, _dir) in hooked_stores() {
        let (m, clock) = manager_on(&store, SessionConfig::default());
        let s = m.create(sliding("u", HOUR)).unwrap();
        clock.advance(40 * MINUTE);
        let (m2, token) = (m.clone(), s.token.clone());
        store.before_next_cas(move || assert!(m2.validate(token, None).unwrap().valid));
        let rotated = m.refresh(s.token.clone(), None).expect(name);
        assert_ne!(rotated.token, s.token);
        assert!(m.validate(rotated.token, None).unwrap().valid, "{name}");
        // The old token is the immediate predecessor: valid within the rotation grace.
        assert!(m.validate(s.token, None).unwrap().valid, "{name}");
        assert_eq!(m.get(s.id).unwrap().unwrap().version, 3, "{name}");
    }
}

#[test]
fn a_destroy_that_loses_to_a_slide_still_revokes() {
    for (name, store, _dir) in hooked_stores() {
        let (m, clock) = manager_on(&store, SessionConfig::default());
        let s = m.create(sliding("u", HOUR)).unwrap();
        clock.advance(40 * MINUTE);
        let (m2, token) = (m.clone(), s.token.clone());
        store.before_next_cas(move || assert!(m2.validate(token, None).unwrap().valid));
        assert!(m.destroy(s.id.clone()).unwrap(), "{name}");
        let stored = m.get(s.id).unwrap().unwrap();
        assert!(stored.revoked_at.is_some(), "{name}");
        assert_eq!(
            stored.expires_at,
            clock.at() + HOUR,
            "{name}: the slide stays"
        );
    }
}

#[test]
fn concurrent_slides_on_a_slow_store_never_move_an_expiry_back() {
    // Unscripted: 4 threads validate one sliding session while the clock moves, on a
    // store whose writes take up to 2 ms; an observer checks that the stored expiry
    // never decreases.
    for (name, store, _dir) in hooked_stores() {
        let (m, clock) = manager_on(&store, SessionConfig::default());
        let s = m.create(sliding("u", Duration::from_secs(2))).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let (m, store, token, stop) = (&m, &store, s.token.clone(), &stop);
                scope.spawn(move || {
                    for i in 0..150u64 {
                        let pause = Duration::from_micros((i * 7 + t * 13) % 2000);
                        store.before_next_cas(move || std::thread::sleep(pause));
                        let r = m.validate(token.clone(), None).unwrap();
                        assert!(r.valid || r.error == Some(ValidationError::SessionExpired));
                    }
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                });
            }
            scope.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    clock.advance(Duration::from_millis(300));
                    std::thread::sleep(Duration::from_micros(300));
                }
            });
            scope.spawn(|| {
                let mut last = UNIX_EPOCH;
                let mut version = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let now = m.get(s.id.clone()).unwrap().unwrap();
                    assert!(now.expires_at >= last, "{name}: expiry moved back");
                    assert!(now.version >= version, "{name}: version moved back");
                    last = now.expires_at;
                    version = now.version;
                }
            });
        });
        store.before_cas.lock().clear();
    }
}

// ---------------------------------------------------------------------------------
// 2. Data that enters without passing the rules

fn two_hour_manager() -> (Arc<SessionManager>, Arc<TestClock>) {
    let clock = TestClock::new();
    let config = SessionConfig {
        default_expires_in: Some(HOUR),
        max_lifetime: Some(2 * HOUR),
        ..SessionConfig::default()
    };
    let m = SessionManager::new(config, Some(clock.clone() as Arc<dyn Clock>)).unwrap();
    (m, clock)
}

fn entry(created: &str, expires: &str, absolute: Option<&str>) -> serde_json::Value {
    let mut e = serde_json::json!({
        "id": "imported",
        "userId": "u",
        "tokenHash": hash_token("tok".into()),
        "createdAt": created,
        "expiresAt": expires,
        "slidingExpiration": true,
    });
    if let Some(a) = absolute {
        e["absoluteExpiresAt"] = a.into();
    }
    e
}

fn import_fails(m: &SessionManager, json: serde_json::Value, field: &str) {
    let before = m.count().unwrap();
    match m.import_json(json.to_string()) {
        Err(SessionError::Import {
            entry: Some(_),
            field: Some(f),
            ..
        }) if f == field => {}
        other => panic!("expected an Import error on {field}, got {other:?}"),
    }
    assert_eq!(m.count().unwrap(), before, "nothing stored");
}

#[test]
fn import_applies_the_configured_lifetime_cap() {
    let (m, _clock) = two_hour_manager();
    // absoluteExpiresAt a year away, with max_lifetime 2 h.
    let far = entry(
        "2026-01-01T00:00:00Z",
        "2026-01-01T01:00:00Z",
        Some("2027-01-01T00:00:00Z"),
    );
    import_fails(&m, serde_json::json!([far]), "absoluteExpiresAt");
    let mut long = entry("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", None);
    long["lifetimeMs"] = (3 * 3_600_000).into();
    import_fails(&m, serde_json::json!([long]), "lifetimeMs");
    // Within the cap it imports, and validates for at most 2 h.
    let ok = entry("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", None);
    assert_eq!(m.import_json(serde_json::json!([ok]).to_string()), Ok(1));
    let got = m.get("imported".into()).unwrap().unwrap();
    assert_eq!(got.absolute_expires_at, got.created_at + 2 * HOUR);
}

#[test]
fn import_refuses_an_expiry_after_the_absolute_end() {
    let (m, _clock) = manager_default();
    let bad = entry(
        "2026-01-01T00:00:00Z",
        "2026-01-01T05:00:00Z",
        Some("2026-01-01T02:00:00Z"),
    );
    import_fails(&m, serde_json::json!([bad]), "absoluteExpiresAt");
}

fn manager_default() -> (Arc<SessionManager>, Arc<TestClock>) {
    common::manager()
}

#[test]
fn import_applies_the_limits_create_applies() {
    let (m, _clock) = manager_default();
    let good = || entry("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", None);
    let mut e = good();
    e["id"] = "x".repeat(129).into();
    import_fails(&m, serde_json::json!([e]), "id");
    let mut e = good();
    e["userId"] = "u".repeat(257).into();
    import_fails(&m, serde_json::json!([e]), "userId");
    let mut e = good();
    e["boundUserAgent"] = "a".repeat(9000).into();
    import_fails(&m, serde_json::json!([e]), "boundUserAgent");
    let mut e = good();
    e["version"] = 0.into();
    import_fails(&m, serde_json::json!([e]), "version");
    let mut e = good();
    e["createdAt"] = "1969-12-31T23:59:59.500Z".into();
    import_fails(&m, serde_json::json!([e]), "createdAt");
    let mut e = good();
    e["expiresAt"] = "2100-01-01T00:00:00Z".into();
    import_fails(&m, serde_json::json!([e]), "expiresAt");
}

#[test]
fn one_definition_of_expired_for_validate_list_purge_and_count() {
    // A host store that hands back a session whose absolute end is before its expiry
    // (as a buggy store or an old import might): the manager refuses to rely on it.
    let store = Arc::new(HookedStore::new());
    let (m, _clock) = manager_on(&store, SessionConfig::default());
    let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
    let healthy = m.create(CreateSessionOptions::for_user("u")).unwrap();
    let bad_id = s.id.clone();
    *store.tamper.lock() = Some(Box::new(move |mut x: Session| {
        if x.id == bad_id {
            x.absolute_expires_at = x.created_at + Duration::from_secs(1);
        }
        x
    }));
    assert!(matches!(
        m.validate(s.token.clone(), None),
        Err(SessionError::Store { reason }) if reason.contains("absolute_expires_at")
    ));
    let listed: Vec<String> = m
        .list_for_user("u".into())
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(
        listed,
        vec![healthy.id.clone()],
        "the damaged one is skipped"
    );
    let export = m.export_sessions().unwrap();
    assert_eq!(export.exported, 1);
    assert_eq!(export.damaged.len(), 1);
    assert_eq!(export.damaged[0].id, s.id);
    assert!(m.validate(healthy.token, None).unwrap().valid);
}

// ---------------------------------------------------------------------------------
// 3. Instants that do not survive the trip

#[test]
fn clock_readings_outside_the_supported_range_are_clock_errors() {
    for at in [
        UNIX_EPOCH - Duration::from_millis(500), // 1969-12-31T23:59:59.5Z
        UNIX_EPOCH + Duration::from_millis(500), // what UniFFI turns it into
        UNIX_EPOCH + Duration::from_secs(4_102_444_800), // 2100-01-01
    ] {
        let clock = TestClock::starting_at(at);
        let m =
            SessionManager::new(SessionConfig::default(), Some(clock as Arc<dyn Clock>)).unwrap();
        match m.create(CreateSessionOptions::for_user("u")) {
            Err(SessionError::Clock { reason }) => {
                assert!(reason.contains("outside the supported range"), "{reason}")
            }
            other => panic!("{at:?}: {other:?}"),
        }
        assert_eq!(m.count().unwrap(), 0, "nothing stored");
    }
}

#[test]
fn a_lifetime_beyond_the_supported_range_is_refused_at_configuration() {
    let config = SessionConfig {
        max_lifetime: Some(Duration::from_secs(2_920_000 * 86_400)),
        ..SessionConfig::default()
    };
    assert!(matches!(
        SessionManager::new(config, None),
        Err(SessionError::InvalidLifetime { .. })
    ));
    // The largest allowed cap still never produces an instant after 2099.
    let config = SessionConfig {
        max_lifetime: Some(Duration::from_secs(36_525 * 86_400)),
        default_expires_in: Some(Duration::from_secs(36_525 * 86_400)),
        ..SessionConfig::default()
    };
    let (m, _clock) = common::manager_with(config);
    let s = m.create(CreateSessionOptions::for_user("u")).unwrap();
    let end = UNIX_EPOCH + Duration::from_micros(4_102_444_800_000_000 - 1);
    assert_eq!(s.absolute_expires_at, end);
    assert_eq!(s.expires_at, end);
    assert!(m.validate(s.token, None).unwrap().valid);
}

#[test]
fn exported_sessions_import_back_identically_to_the_microsecond() {
    let clock = TestClock::starting_at(
        UNIX_EPOCH + Duration::from_secs(1_767_225_600) + Duration::from_nanos(123_456_789),
    );
    let source = SessionManager::new(
        SessionConfig::default(),
        Some(clock.clone() as Arc<dyn Clock>),
    )
    .unwrap();
    let s = source
        .create(CreateSessionOptions {
            expires_in: Some(Duration::from_nanos(3_600_000_123_456)),
            metadata: Some(HashMap::from([("k".into(), "v".into())])),
            ..CreateSessionOptions::for_user("u")
        })
        .unwrap();
    assert_eq!(
        s.created_at,
        UNIX_EPOCH + Duration::from_secs(1_767_225_600) + Duration::from_micros(123_457)
    );
    source.destroy(s.id.clone()).unwrap();
    let json = source.export_json().unwrap();
    for target in [
        SessionManager::new(SessionConfig::default(), None).unwrap(),
        SessionManager::open(":memory:".into(), SessionConfig::default(), None).unwrap(),
    ] {
        assert_eq!(target.import_json(json.clone()), Ok(1));
        assert_eq!(
            target.get(s.id.clone()).unwrap(),
            source.get(s.id.clone()).unwrap()
        );
        assert_eq!(target.export_json().unwrap(), json);
    }
}

// ---------------------------------------------------------------------------------
// 8. Import: all or nothing, and fast

fn seed_entries(n: usize) -> String {
    let entries: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "id": format!("s{i}"),
                "userId": format!("user-{}", i % 100),
                "tokenHash": hash_token(format!("tok-{i}")),
                "createdAt": "2026-01-01T00:00:00.000Z",
                "expiresAt": "2026-01-02T00:00:00.000Z",
                "metadata": { "userAgent": "Mozilla/5.0" },
            })
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

#[test]
fn an_import_that_fails_part_way_stores_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("s.db").display().to_string();
    let sqlite = SessionManager::open(path, SessionConfig::default(), None).unwrap();
    let memory = SessionManager::new(SessionConfig::default(), None).unwrap();
    for m in [&sqlite, &memory] {
        // The last entry clashes with a stored session: found by the store during the
        // one atomic insert; the error names the entry, and nothing is stored.
        m.import_json(seed_entries(1)).unwrap();
        let mut entries: Vec<serde_json::Value> = serde_json::from_str(&seed_entries(500)).unwrap();
        entries.remove(0);
        let mut clash = entries[0].clone();
        clash["id"] = "s0".into();
        clash["tokenHash"] = hash_token("other".into()).into();
        entries.push(clash);
        match m.import_json(serde_json::Value::Array(entries).to_string()) {
            Err(SessionError::Import {
                entry: Some(499),
                field: Some(f),
                ..
            }) if f == "id" => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(m.count().unwrap(), 1);
    }
    // A store failure part-way: nothing stored either.
    let store = Arc::new(HookedStore::new());
    store
        .fail_insert_all
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (m, _clock) = manager_on(&store, SessionConfig::default());
    assert!(matches!(
        m.import_json(seed_entries(10)),
        Err(SessionError::Store { .. })
    ));
    assert_eq!(m.count().unwrap(), 0);
}

#[test]
fn import_of_ten_thousand_sessions_into_sqlite_is_one_transaction() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("s.db");
    let clock = TestClock::new(); // 2026-01-01, when the seed entries are live
    let m = SessionManager::open(
        path.display().to_string(),
        SessionConfig::default(),
        Some(clock as Arc<dyn Clock>),
    )
    .unwrap();
    assert_eq!(m.import_json(seed_entries(10_000)), Ok(10_000));
    assert_eq!(m.count().unwrap(), 10_000);
    // One transaction writes each page about once: the WAL stays near the size of the
    // data (a transaction per entry wrote ~260 MB for this import).
    let wal = std::fs::metadata(dir.path().join("s.db-wal")).map_or(0, |m| m.len());
    assert!(wal < 20 * 1024 * 1024, "WAL grew to {wal} bytes");
    assert_eq!(m.list_for_user("user-7".into()).unwrap().len(), 100);
}

// ---------------------------------------------------------------------------------
// 6. Damaged data

#[test]
fn a_damaged_sqlite_row_never_hides_the_healthy_ones() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("s.db").display().to_string();
    let m = SessionManager::open(path.clone(), SessionConfig::default(), None).unwrap();
    let bad = m.create(CreateSessionOptions::for_user("u")).unwrap();
    let good = m.create(CreateSessionOptions::for_user("u")).unwrap();
    let other = m.create(CreateSessionOptions::for_user("v")).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE sessions SET metadata = '{not json' WHERE id = ?1",
            [&bad.id],
        )
        .unwrap();
        conn.execute(
            "UPDATE sessions SET created_at = 'yesterday' WHERE id = ?1",
            [&other.id],
        )
        .unwrap();
    }
    let listed: Vec<String> = m
        .list_for_user("u".into())
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, vec![good.id.clone()]);
    let export = m.export_sessions().unwrap();
    assert_eq!(export.exported, 1);
    let mut damaged: Vec<String> = export.damaged.iter().map(|d| d.id.clone()).collect();
    damaged.sort();
    let mut expected = vec![bad.id.clone(), other.id.clone()];
    expected.sort();
    assert_eq!(damaged, expected);
    assert!(m.export_json().unwrap().contains(&good.id));
    // The damaged session itself is never valid: its lookup is a Store error.
    assert!(matches!(
        m.validate(bad.token, None),
        Err(SessionError::Store { .. })
    ));
    assert!(m.validate(good.token, None).unwrap().valid);
}

// ---------------------------------------------------------------------------------
// A revocation stamped before the session's creation (clocks of two processes apart,
// or a create racing `destroy_all_for_user`) is an ordinary revoked session.

#[test]
fn a_revocation_by_a_manager_whose_clock_is_behind_leaves_a_revoked_session_not_a_damaged_one() {
    for (name, store, _dir) in hooked_stores() {
        let (early, early_clock) = manager_on(&store, SessionConfig::default());
        let (late, late_clock) = manager_on(&store, SessionConfig::default());
        late_clock.set(early_clock.at() + Duration::from_millis(5));
        let s = late
            .create(CreateSessionOptions::for_user("alice"))
            .expect("create");
        assert_eq!(
            early.destroy_all_for_user("alice".into()).expect("revoke"),
            1
        );
        let stored = late.get(s.id.clone()).expect("get").expect("stored");
        let revoked_at = stored.revoked_at.expect("revoked");
        assert!(
            revoked_at < stored.created_at,
            "{name}: the case under test"
        );
        for m in [&early, &late] {
            let result = m.validate(s.token.clone(), None).expect("validate");
            assert_eq!(
                result.error,
                Some(ValidationError::SessionRevoked),
                "{name}"
            );
            let export = m.export_sessions().expect("export");
            assert_eq!((export.exported, export.damaged.len()), (1, 0), "{name}");
        }
        // It imports back as it was exported.
        let json = early.export_sessions().expect("export").json;
        let (other, _) = manager_on(&Arc::new(HookedStore::new()), SessionConfig::default());
        other.import_json(json).expect("import");
        let back = other.get(s.id.clone()).expect("get").expect("imported");
        assert_eq!(back.revoked_at, Some(revoked_at), "{name}");
    }
}
