//! The Redis store on real servers: concurrency (8 threads and 4 processes), faults
//! (a crash with AOF, an unreachable or frozen server, a flushed script cache), the
//! spread of sessions over a cluster's masters, and round trips per validate.
//!
//! The shared servers come from `scripts/redis-servers.sh` (as `make test` runs it);
//! fault tests start private servers of their own.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::redis_env::{self, PrivateServer};
use common::TestClock;
use sessions::{
    Clock, CreateSessionOptions, RedisStore, SessionConfig, SessionError, SessionManager,
    SessionStore, SystemClock, ValidationError,
};

const USERS: usize = 5;
const ITERATIONS: usize = 60;

/// Sessions of `lifetime`, with a rotation grace as long (so concurrent refreshes
/// converge on one token).
fn config(lifetime: Duration) -> SessionConfig {
    SessionConfig {
        default_expires_in: Some(lifetime),
        rotation_grace: Some(lifetime),
        ..SessionConfig::default()
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);

fn open(location: &str, clock: Arc<dyn Clock>) -> Arc<SessionManager> {
    open_with(location, clock, DAY)
}

fn open_with(location: &str, clock: Arc<dyn Clock>, lifetime: Duration) -> Arc<SessionManager> {
    SessionManager::open(location.to_owned(), config(lifetime), Some(clock)).expect("open Redis")
}

/// What one worker learned: every session it created, with the last expiry it saw.
struct Created {
    id: String,
    user: String,
    expires_at: SystemTime,
}

/// One worker's hammering: create, validate (sliding), refresh races between 3
/// threads, destroy, destroy-all, purge; asserts the invariants it can see at once.
fn work(manager: &SessionManager, users: &[String], seed: usize) -> Vec<Created> {
    let mut created = Vec::new();
    for i in 0..ITERATIONS {
        let user = &users[(i + seed) % users.len()];
        let session = manager
            .create(CreateSessionOptions {
                sliding_expiration: true,
                ..CreateSessionOptions::for_user(user)
            })
            .expect("create");
        let first = manager
            .validate(session.token.clone(), None)
            .expect("validate");
        assert!(
            first.valid || first.error == Some(ValidationError::SessionRevoked),
            "a new session validates unless a destroy-all revoked it: {:?}",
            first.error
        );
        // A refresh race: every winner gets the same token (one rotation written).
        let results: Vec<Result<sessions::Session, SessionError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| manager.refresh(session.token.clone(), None)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("join"))
                .collect()
        });
        let tokens: BTreeSet<String> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|s| s.token.clone()))
            .collect();
        assert!(
            tokens.len() <= 1,
            "concurrent refreshes gave {} tokens",
            tokens.len()
        );
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, SessionError::SessionRevoked),
                    "a refresh fails only by a revocation here: {e:?}"
                );
            }
        }
        let current = results
            .into_iter()
            .find_map(Result::ok)
            .map_or(session.token.clone(), |s| s.token);
        let mut expires_at = session.expires_at;
        if let Ok(v) = manager.validate(current.clone(), None) {
            if let Some(s) = v.session {
                expires_at = s.expires_at;
            }
        }
        if i % 4 == 0 {
            manager.destroy(session.id.clone()).expect("destroy");
            for token in [&session.token, &current] {
                let v = manager.validate(token.clone(), None).expect("validate");
                assert!(!v.valid, "a destroyed session's token validated");
            }
        }
        if i % 9 == 0 {
            manager
                .destroy_all_for_user(user.clone())
                .expect("destroy all");
            // Every session of this worker's user created before is revoked now.
            for c in created.iter().filter(|c: &&Created| &c.user == user) {
                let s = manager.get(c.id.clone()).expect("get");
                assert!(
                    s.is_none_or(|s| s.revoked_at.is_some()),
                    "destroy-all left a session active"
                );
            }
        }
        if i % 10 == 0 {
            manager.purge_expired().expect("purge");
        }
        created.push(Created {
            id: session.id,
            user: user.clone(),
            expires_at,
        });
    }
    created
}

/// The store's user index matches its sessions: each user's list is exactly that
/// user's sessions among all of them.
fn assert_index_matches(store: &RedisStore) {
    let all = store.all_sessions().expect("all sessions");
    assert!(all.damaged.is_empty());
    let mut by_user: HashMap<String, BTreeSet<String>> = HashMap::new();
    for s in &all.sessions {
        by_user
            .entry(s.user_id.clone())
            .or_default()
            .insert(s.id.clone());
    }
    for (user, ids) in by_user {
        let listed: BTreeSet<String> = store
            .list_for_user(user.clone())
            .expect("list")
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(listed, ids, "user index of {user}");
    }
    assert_eq!(
        store.count().expect("count"),
        all.sessions.len() as i64,
        "count matches the sessions"
    );
}

/// Runs in a child process (see `hammer`): one process's worker.
#[test]
#[ignore = "run by the concurrency tests as a child process"]
fn redis_worker_process() {
    let Ok(location) = std::env::var("SESSIONS_REDIS_WORKER_LOCATION") else {
        return;
    };
    let worker: usize = std::env::var("SESSIONS_REDIS_WORKER_ID")
        .expect("worker id")
        .parse()
        .expect("worker id");
    let manager = open(&location, Arc::new(SystemClock));
    let users: Vec<String> = (0..USERS).map(|u| format!("p-user-{u}")).collect();
    let created = work(&manager, &users, worker);
    for c in &created {
        // Nothing lost: system-clock sessions live a day; nothing purges them.
        assert!(
            manager.get(c.id.clone()).expect("get").is_some(),
            "lost session"
        );
    }
}

/// 8 threads and 4 processes on one store. The threads' clock starts at the real time
/// and runs a thousand times faster (one-hour sessions slide and expire during the
/// test); the processes use the system clock and one-day sessions, so neither side's
/// purge removes the other's live sessions.
fn hammer(url: &str) {
    let location = redis_env::fresh_prefix(url);
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..4)
        .map(|p| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "redis_worker_process",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env("SESSIONS_REDIS_WORKER_LOCATION", &location)
                .env("SESSIONS_REDIS_WORKER_ID", p.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn worker process")
        })
        .collect();
    let clock = TestClock::starting_at(SystemTime::now());
    let manager = open_with(&location, clock.clone(), common::HOUR);
    let users: Vec<String> = (0..USERS).map(|u| format!("t-user-{u}")).collect();
    let done = std::sync::atomic::AtomicBool::new(false);
    let created: Vec<Created> = std::thread::scope(|s| {
        // Time moves on (a second per millisecond), so sessions slide and expire.
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                clock.advance(Duration::from_secs(1));
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let manager = &manager;
                let users = &users;
                s.spawn(move || work(manager, users, t))
            })
            .collect();
        let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        // Stop the clock's thread before reporting a failed worker, or the scope
        // would wait for it forever.
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        joined
            .into_iter()
            .flat_map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for mut child in children {
        assert!(
            child.wait().expect("worker exits").success(),
            "a worker process failed"
        );
    }
    let end = clock.at();
    for c in &created {
        // Gone only if purged, which only removes expired sessions: a session whose
        // last seen expiry is after the end cannot be gone.
        if c.expires_at > end {
            assert!(
                manager.get(c.id.clone()).expect("get").is_some(),
                "lost session"
            );
        }
    }
    let store = RedisStore::open(&location, clock.clone()).expect("store");
    assert_index_matches(&store);
    manager.purge_expired().expect("purge");
    assert_index_matches(&store);
}

#[test]
fn hammer_standalone() {
    hammer(&redis_env::standalone_url());
}

#[test]
fn hammer_cluster() {
    hammer(&redis_env::cluster_url());
}

#[test]
fn rotated_out_and_revoked_tokens_never_validate() {
    for url in [redis_env::standalone_url(), redis_env::cluster_url()] {
        let clock = TestClock::new();
        let manager = SessionManager::open(
            redis_env::fresh_prefix(&url),
            SessionConfig {
                rotation_grace: Some(Duration::from_secs(10)),
                ..SessionConfig::default()
            },
            Some(clock.clone()),
        )
        .expect("open");
        let a = manager
            .create(CreateSessionOptions::for_user("alice"))
            .unwrap();
        let b = manager.refresh(a.token.clone(), None).unwrap();
        clock.advance(Duration::from_secs(11));
        // A after the grace: token reuse, the session is revoked.
        let v = manager.validate(a.token.clone(), None).unwrap();
        assert_eq!(v.error, Some(ValidationError::TokenReused));
        let v = manager.validate(b.token.clone(), None).unwrap();
        assert_eq!(v.error, Some(ValidationError::SessionRevoked));
        // Revocation is final: refresh cannot undo it.
        assert!(matches!(
            manager.refresh(b.token, None),
            Err(SessionError::SessionRevoked)
        ));
    }
}

/// A crash (SIGKILL) of a server with AOF (`appendfsync always`) in the middle of
/// revocations loses none that were acknowledged.
#[test]
fn acknowledged_revocations_survive_a_crash() {
    let mut server = PrivateServer::start();
    // Generous timeouts: with `appendfsync always` on a loaded machine a write can take
    // hundreds of ms; after the kill, calls fail at once (connection refused).
    let location = format!("{}?timeout_ms=5000&connect_timeout_ms=2000", server.url());
    let manager = open(&location, Arc::new(SystemClock));
    let sessions: Vec<_> = (0..200)
        .map(|i| {
            manager
                .create(CreateSessionOptions::for_user(format!("user-{}", i % 20)))
                .unwrap()
        })
        .collect();
    let acknowledged = parking_lot::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            for session in &sessions {
                if let Ok(true) = manager.destroy(session.id.clone()) {
                    acknowledged.lock().push(session.token.clone());
                }
            }
        });
        // Crash in the middle: after some revocations were acknowledged (a fixed
        // sleep saw none on a loaded machine), while the others are still coming.
        let deadline = Instant::now() + Duration::from_secs(30);
        while acknowledged.lock().len() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        server.crash_and_restart();
    });
    let acknowledged = acknowledged.into_inner();
    assert!(
        !acknowledged.is_empty(),
        "some revocations were acknowledged"
    );
    // The old manager recovers (broken connections are dropped), and a new one agrees.
    let deadline = Instant::now() + Duration::from_secs(10);
    while manager.count().is_err() {
        assert!(Instant::now() < deadline, "no recovery after the restart");
        std::thread::sleep(Duration::from_millis(50));
    }
    let fresh = open(&location, Arc::new(SystemClock));
    for m in [&manager, &fresh] {
        for token in &acknowledged {
            let v = m.validate(token.clone(), None).unwrap();
            assert_eq!(v.error, Some(ValidationError::SessionRevoked));
        }
    }
    assert_eq!(fresh.count().unwrap(), 200, "no session lost");
}

/// A server that stops answering (SIGSTOP) or goes away gives a `Store` error within
/// the configured timeout, naming it without its password; a location with nothing
/// listening fails to open the same way.
#[test]
fn unreachable_or_frozen_server_is_a_timely_store_error() {
    let port = redis_env::free_port();
    let started = Instant::now();
    let err = SessionManager::open(
        format!("redis://:hunter2@127.0.0.1:{port}/0?connect_timeout_ms=300"),
        SessionConfig::default(),
        None,
    )
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = err.to_string();
    assert!(matches!(err, SessionError::Store { .. }), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    let mut server = PrivateServer::start();
    let location = format!("{}?timeout_ms=300&connect_timeout_ms=300", server.url());
    let manager = open(&location, Arc::new(SystemClock));
    let session = manager
        .create(CreateSessionOptions::for_user("alice"))
        .unwrap();
    let pid = server_pid(&server);
    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    let started = Instant::now();
    let frozen = manager.validate(session.token.clone(), None);
    let waited = started.elapsed();
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert!(
        matches!(frozen, Err(SessionError::Store { .. })),
        "{frozen:?}"
    );
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    // Answers again once the server does.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match manager.validate(session.token.clone(), None) {
            Ok(v) => {
                assert!(v.valid);
                break;
            }
            Err(_) => assert!(Instant::now() < deadline, "no recovery"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop(true);
    let started = Instant::now();
    let gone = manager.validate(session.token, None);
    assert!(matches!(gone, Err(SessionError::Store { .. })), "{gone:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

fn server_pid(server: &PrivateServer) -> String {
    server
        .cli(&["info", "server"])
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .expect("process_id")
        .trim()
        .to_owned()
}

/// After `SCRIPT FLUSH` the scripts are loaded again transparently.
#[test]
fn flushed_scripts_are_reloaded() {
    let server = PrivateServer::start();
    let manager = open(&server.url(), Arc::new(SystemClock));
    let session = manager
        .create(CreateSessionOptions::for_user("alice"))
        .unwrap();
    assert!(server.cli(&["script", "flush"]).contains("OK"));
    assert!(manager.validate(session.token.clone(), None).unwrap().valid);
    assert!(server.cli(&["script", "flush"]).contains("OK"));
    assert!(manager.destroy(session.id).unwrap());
    assert_eq!(
        manager.validate(session.token, None).unwrap().error,
        Some(ValidationError::SessionRevoked)
    );
}

/// One validate is one command (one round trip), counted by the server's
/// `INFO commandstats`, for a known and an unknown token.
#[test]
fn validate_is_one_round_trip() {
    let server = PrivateServer::start();
    let manager = open(&server.url(), Arc::new(SystemClock));
    let sessions: Vec<_> = (0..50)
        .map(|i| {
            manager
                .create(CreateSessionOptions::for_user(format!("user-{i}")))
                .unwrap()
        })
        .collect();
    // Warm: scripts loaded.
    assert!(
        manager
            .validate(sessions[0].token.clone(), None)
            .unwrap()
            .valid
    );
    let before = commands(&server);
    for s in &sessions {
        assert!(manager.validate(s.token.clone(), None).unwrap().valid);
    }
    assert_eq!(commands(&server) - before, 50, "one command per validate");
    let before = commands(&server);
    assert!(!manager.validate("unknown".into(), None).unwrap().valid);
    assert_eq!(
        commands(&server) - before,
        1,
        "one command for an unknown token"
    );
}

/// Commands clients sent the server (round trips): `INFO commandstats` also counts the
/// commands scripts run inside (GET, HGETALL, ...), so only the commands this client
/// sends on its own are summed: EVALSHA, EVAL, SCRIPT, PING, SELECT, HELLO, CLIENT.
fn commands(server: &PrivateServer) -> i64 {
    const SENT: [&str; 7] = [
        "cmdstat_evalsha:",
        "cmdstat_eval:",
        "cmdstat_script|",
        "cmdstat_ping:",
        "cmdstat_select:",
        "cmdstat_hello:",
        "cmdstat_client|",
    ];
    server
        .cli(&["info", "commandstats"])
        .lines()
        .filter(|l| SENT.iter().any(|p| l.starts_with(p)))
        .filter_map(|l| {
            l.split_once("calls=")
                .and_then(|(_, r)| r.split(',').next())
                .and_then(|n| n.parse::<i64>().ok())
        })
        .sum()
}

/// On the 3-master cluster each master holds 25% to 42% of the sessions (a property of
/// the key layout: users spread over 256 shards evenly spaced over the slots).
#[test]
fn cluster_spreads_sessions_over_masters() {
    let url = redis_env::cluster_url();
    let location = redis_env::fresh_prefix(&url);
    let prefix = location
        .rsplit_once("prefix=")
        .map(|(_, p)| p.to_owned())
        .unwrap();
    let manager = open(&location, Arc::new(SystemClock));
    const SESSIONS: usize = 3000;
    for i in 0..SESSIONS {
        manager
            .create(CreateSessionOptions::for_user(format!("user-{}", i % 300)))
            .unwrap();
    }
    let per_master: Vec<usize> = redis_env::ports(&url)
        .into_iter()
        .map(|port| {
            redis_env::cli(port, &["--scan", "--pattern", &format!("{prefix}:*:s:*")])
                .lines()
                .count()
        })
        .collect();
    assert_eq!(per_master.iter().sum::<usize>(), SESSIONS, "{per_master:?}");
    for n in &per_master {
        let share = *n as f64 / SESSIONS as f64;
        assert!((0.25..=0.42).contains(&share), "{per_master:?}");
    }
}

/// Records collected by Redis's TTL: deadlines come from the server's time plus the
/// time left by the manager's clock, so a manager clock far in the past never makes a
/// live session's keys expire, and a revoked one still answers `SessionRevoked`.
#[test]
fn ttls_follow_the_server_time_not_the_app_clock() {
    let server = PrivateServer::start();
    let clock = TestClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000));
    let manager = SessionManager::open(
        format!("{}?expiry_grace_s=5", server.url()),
        SessionConfig::default(),
        Some(clock.clone()),
    )
    .unwrap();
    let session = manager
        .create(CreateSessionOptions::for_user("alice"))
        .unwrap();
    manager.destroy(session.id.clone()).unwrap();
    let key = server
        .cli(&["--scan", "--pattern", "sessions:*:s:*"])
        .trim()
        .to_owned();
    let ttl: i64 = server.cli(&["pttl", &key]).trim().parse().unwrap();
    // 24 hours (the lifetime, by the manager's clock) plus the 5 s grace.
    assert!(
        ttl > 24 * 3600 * 1000 && ttl <= (24 * 3600 + 5) * 1000 + 1,
        "{ttl}"
    );
    assert_eq!(
        manager.validate(session.token, None).unwrap().error,
        Some(ValidationError::SessionRevoked)
    );
}

/// A TLS server (`rediss://`, rustls): refused while its certificate is not trusted
/// (a `Store` error, never a panic), used once `tls_ca_file` trusts it.
#[test]
fn tls_with_a_trusted_authority() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = redis_env::free_port();
    let binary = std::env::var("SESSIONS_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let mut child = Command::new(binary)
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .args([
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--requirepass",
            "secret",
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "TLS server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let base = format!("rediss://:secret@localhost:{port}/0?connect_timeout_ms=1000");
    let refused = SessionManager::open(base.clone(), SessionConfig::default(), None);
    let text = format!("{:?}", refused.as_ref().map(|_| ()));
    assert!(matches!(refused, Err(SessionError::Store { .. })), "{text}");
    assert!(
        text.contains(&format!("localhost:{port}")) && !text.contains("secret"),
        "{text}"
    );
    let trusted = format!("{base}&tls_ca_file={}", cert.display());
    let outcome = std::panic::catch_unwind(|| {
        let manager = SessionManager::open(trusted, SessionConfig::default(), None).expect("TLS");
        let s = manager
            .create(CreateSessionOptions::for_user("alice"))
            .unwrap();
        assert!(manager.validate(s.token, None).unwrap().valid);
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}

/// The prelude's key check, every script's only way to Redis: a script that touches a
/// key it did not declare fails with an error naming the key, as does an unknown
/// command; declared keys work; the one read beside KEYS[1] (lookup.lua) is refused
/// outside KEYS[1]'s hash tag. The pattern the scripts used before (a record reached
/// through an index by a key prefix in ARGV, in the same slot) is refused too.
#[test]
fn scripts_refuse_undeclared_keys() {
    let client = redis::Client::open(redis_env::standalone_url()).expect("client");
    let mut c = client.get_connection().expect("connection");
    let tag = format!("kc{}x{}", std::process::id(), redis_env::free_port());
    let key = |name: &str| format!("t:{{{tag}}}:{name}");
    let run = |c: &mut redis::Connection, body: &str, keys: &[String], args: &[String]| {
        let script = redis::Script::new(&format!(
            "{}\n{body}",
            include_str!("../src/store/redis/lua/prelude.lua")
        ));
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(k);
        }
        for a in args {
            inv.arg(a);
        }
        inv.invoke::<String>(c)
    };
    let refused = |outcome: redis::RedisResult<String>, what: &str| {
        let err = outcome.expect_err(what);
        assert!(err.to_string().contains(what), "{err}");
    };
    let a = key("a");
    assert_eq!(
        run(
            &mut c,
            "call('SET', KEYS[1], 'v') return call('GET', KEYS[1])",
            std::slice::from_ref(&a),
            &[]
        )
        .expect("declared key"),
        "v"
    );
    let b = key("b");
    refused(
        run(
            &mut c,
            "return call('GET', ARGV[1])",
            std::slice::from_ref(&a),
            std::slice::from_ref(&b),
        ),
        &format!("GET on undeclared key {b}"),
    );
    refused(
        run(
            &mut c,
            "return call('DEL', KEYS[1], ARGV[1])",
            std::slice::from_ref(&a),
            std::slice::from_ref(&b),
        ),
        &format!("DEL on undeclared key {b}"),
    );
    refused(
        run(
            &mut c,
            "return call('KEYS', '*')",
            std::slice::from_ref(&a),
            &[],
        ),
        "command KEYS is not known to the key check",
    );
    // The read beside the first key: same hash tag only.
    assert_eq!(
        run(
            &mut c,
            "read_beside_first_key(ARGV[1]) return 'read'",
            std::slice::from_ref(&a),
            std::slice::from_ref(&b),
        )
        .expect("same tag"),
        "read"
    );
    refused(
        run(
            &mut c,
            "read_beside_first_key(ARGV[1]) return 'read'",
            std::slice::from_ref(&a),
            &["t:{other}:s:1".to_owned()],
        ),
        "outside the hash tag",
    );
    // The former revoke_all.lua: records found through the user index, in the same
    // slot but not declared.
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg(key("u:alice"))
        .arg(1)
        .arg("id-1")
        .cmd("HSET")
        .arg(key("s:id-1"))
        .arg("v")
        .arg(1)
        .query(&mut c)
        .expect("setup");
    refused(
        run(
            &mut c,
            "for _, id in ipairs(call('ZRANGE', KEYS[1], 0, -1)) do \
             call('HMGET', ARGV[1] .. id, 'r', 'v') end return 'done'",
            &[key("u:alice")],
            &[key("s:")],
        ),
        &format!("HMGET on undeclared key {}", key("s:id-1")),
    );
    let _: () = redis::cmd("DEL")
        .arg(a)
        .arg(key("u:alice"))
        .arg(key("s:id-1"))
        .query(&mut c)
        .expect("cleanup");
}

/// 8 threads on ONE user, whose index every operation reads and every create and
/// revoke-all changes (the optimistic scripts' RETRY path): 4 create at the limit
/// (revoking the oldest), one revokes all, two purge, one lists. Expired sessions
/// (of this user and others) wait to be purged meanwhile; the clock stands still
/// during the race. Invariants: the user never has more than the limit of active
/// sessions (in any listing), a revoke-all revokes every session created before it
/// began, purge removes no live session and every expired one, and the indexes
/// match the sessions.
#[test]
fn one_user_limit_revoke_all_and_purge_race() {
    const LIMIT: i32 = 3;
    for url in [redis_env::standalone_url(), redis_env::cluster_url()] {
        let location = redis_env::fresh_prefix(&url);
        let clock = TestClock::starting_at(SystemTime::now());
        let manager = SessionManager::open(
            location.clone(),
            SessionConfig {
                default_expires_in: Some(Duration::from_secs(60)),
                max_sessions_per_user: Some(LIMIT),
                session_limit_action: Some(sessions::SessionLimitAction::RevokeOldest),
                ..SessionConfig::default()
            },
            Some(clock.clone()),
        )
        .expect("open");
        let store = RedisStore::open(&location, clock.clone()).expect("store");
        // Sessions that expire before the race: purge must remove them all.
        let mut expired = Vec::new();
        for i in 0..400 {
            let user = if i % 10 == 0 {
                "alice".to_owned()
            } else {
                format!("u{i}")
            };
            expired.push(
                manager
                    .create(CreateSessionOptions::for_user(user))
                    .unwrap()
                    .id,
            );
        }
        clock.advance(Duration::from_secs(120));
        let now = clock.at();
        let created = parking_lot::Mutex::new(Vec::<String>::new());
        let active = |sessions: &[sessions::Session]| {
            sessions
                .iter()
                .filter(|s| s.revoked_at.is_none() && s.expires_at > now)
                .count()
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..40 {
                        let session = manager
                            .create(CreateSessionOptions::for_user("alice"))
                            .expect("create at the limit");
                        created.lock().push(session.id);
                        let listed = store.list_for_user("alice".into()).expect("list");
                        assert!(active(&listed) <= LIMIT as usize, "over the limit");
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..15 {
                    let before = created.lock().clone();
                    manager
                        .destroy_all_for_user("alice".into())
                        .expect("destroy all");
                    for id in before {
                        let s = store.get(id).expect("get").expect("a live session stays");
                        assert!(s.revoked_at.is_some(), "revoke-all missed a session");
                    }
                }
            });
            // Two purgers: both read the same expired sessions, one removes them, the
            // other's script finds its view gone (RETRY).
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..15 {
                        manager.purge_expired().expect("purge");
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..30 {
                    let listed = store.list_for_user("alice".into()).expect("list");
                    assert!(active(&listed) <= LIMIT as usize, "over the limit");
                }
            });
        });
        manager.purge_expired().expect("purge");
        let created = created.into_inner();
        for id in &created {
            assert!(
                store.get(id.clone()).unwrap().is_some(),
                "purge removed a live session"
            );
        }
        for id in &expired {
            assert!(
                store.get(id.clone()).unwrap().is_none(),
                "an expired session stayed"
            );
        }
        let listed = store.list_for_user("alice".into()).unwrap();
        assert_eq!(listed.len(), created.len(), "alice's index");
        assert!(active(&listed) <= LIMIT as usize);
        assert_index_matches(&store);
        assert_eq!(store.count().unwrap(), created.len() as i64);
    }
}

/// A `redis://` location naming one node of a cluster is refused at open
/// (`InvalidConfig` saying to use `redis+cluster://`): it used to open and fail later,
/// on the first call for a key another node owns, so a smoke test could pass.
#[test]
fn a_cluster_node_opened_as_standalone_says_so() {
    let url = redis_env::cluster_url();
    let port = redis_env::ports(&url)[0];
    let error = SessionManager::open(
        redis_env::fresh_prefix(&format!("redis://127.0.0.1:{port}/0")),
        SessionConfig::default(),
        None,
    )
    .expect_err("a cluster node as a standalone server");
    let text = error.to_string();
    assert!(
        matches!(error, SessionError::InvalidConfig { .. }),
        "{text}"
    );
    assert!(
        text.contains("Cluster node") && text.contains("redis+cluster://"),
        "{text}"
    );
}

/// A write trims its shard's expiry index of sessions whose records Redis's TTL
/// collected (by the deadline index, on the server's clock), with their entries in the
/// writing user's index, so neither grows without a purge; a session whose record is
/// alive keeps its entries whatever the manager's clock says.
#[test]
fn writes_trim_entries_of_collected_records() {
    let server = PrivateServer::start();
    let clock = TestClock::starting_at(SystemTime::now());
    let location = format!("{}?expiry_grace_s=0", server.url());
    let manager = SessionManager::open(
        location.clone(),
        SessionConfig::default(),
        Some(clock.clone()),
    )
    .expect("open");
    let store = RedisStore::open(&location, clock.clone()).expect("store");
    let short = |user: &str| CreateSessionOptions {
        expires_in: Some(Duration::from_millis(300)),
        ..CreateSessionOptions::for_user(user)
    };
    let gone = manager.create(short("alice")).unwrap();
    // Alive on the server for a day, though the manager's clock says it expired long
    // ago: its entries must stay.
    let kept = manager
        .create(CreateSessionOptions::for_user("alice"))
        .unwrap();
    clock.advance(Duration::from_secs(3 * 86_400));
    std::thread::sleep(Duration::from_millis(600));
    // `gone`'s record is collected; its entries remain until a write to the shard.
    assert!(store.get(gone.id.clone()).unwrap().is_none());
    let expiry_entries = || -> usize {
        let keys = server.cli(&["--scan", "--pattern", "sessions:*:x"]);
        keys.lines()
            .map(|k| {
                server
                    .cli(&["zcard", k.trim()])
                    .trim()
                    .parse::<usize>()
                    .unwrap()
            })
            .sum()
    };
    let user_entries = || -> usize {
        let keys = server.cli(&["--scan", "--pattern", "sessions:*:u:alice"]);
        keys.lines()
            .map(|k| {
                server
                    .cli(&["zcard", k.trim()])
                    .trim()
                    .parse::<usize>()
                    .unwrap()
            })
            .sum()
    };
    assert_eq!((expiry_entries(), user_entries()), (2, 2));
    let fresh = manager
        .create(CreateSessionOptions::for_user("alice"))
        .unwrap();
    assert_eq!(
        (expiry_entries(), user_entries()),
        (2, 2),
        "gone's entries trimmed"
    );
    let listed: BTreeSet<String> = store
        .list_for_user("alice".into())
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, BTreeSet::from([kept.id, fresh.id]));
    assert_eq!(store.count().unwrap(), 2);
    assert_index_matches(&store);
}

/// `rediss://` to a plaintext server fails within the connect timeout with a `Store`
/// error that says the TLS handshake did not complete, never the password.
#[test]
fn tls_to_a_plaintext_server_says_so() {
    let url = redis_env::standalone_url();
    let location = format!(
        "{}?connect_timeout_ms=500",
        url.replacen("redis://", "rediss://:hunter2@", 1)
    );
    let started = Instant::now();
    let err = SessionManager::open(location, SessionConfig::default(), None).unwrap_err();
    let text = err.to_string();
    assert!(started.elapsed() < Duration::from_secs(3), "{text}");
    assert!(matches!(err, SessionError::Store { .. }), "{text}");
    assert!(text.contains("TLS handshake"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// "Sign out everywhere" while the same user keeps creating sessions (a thief with the
/// password logging in again and again): every revoke-all succeeds at once and revokes
/// every session created before it began. A new user's trial made it fail 3 to 9 times
/// in 10 when revoke-all required the user's index unchanged between its two phases.
#[test]
fn revoke_all_succeeds_while_the_user_keeps_creating_sessions() {
    use std::sync::atomic::{AtomicBool, Ordering};
    for url in [redis_env::standalone_url(), redis_env::cluster_url()] {
        let location = redis_env::fresh_prefix(&url);
        let manager = open(&location, Arc::new(SystemClock));
        let created = parking_lot::Mutex::new(Vec::<String>::new());
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..300 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let session = manager
                            .create(CreateSessionOptions::for_user("victim"))
                            .expect("create");
                        created.lock().push(session.token);
                    }
                });
            }
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(5));
                let started = Instant::now();
                let before = created.lock().clone();
                let revoked = manager.destroy_all_for_user("victim".into());
                eprintln!(
                    "revoke-all of {} in {:?}: {revoked:?}",
                    before.len(),
                    started.elapsed()
                );
                assert!(revoked.is_ok(), "revoke-all failed: {revoked:?}");
                for token in &before {
                    let result = manager.validate(token.clone(), None).expect("validate");
                    assert_eq!(
                        result.error,
                        Some(ValidationError::SessionRevoked),
                        "a session created before revoke-all still validates"
                    );
                }
            }
            stop.store(true, Ordering::SeqCst);
        });
        assert!(created.lock().len() > 10, "the creators ran");
        assert_index_matches(&RedisStore::open(&location, Arc::new(SystemClock)).expect("store"));
    }
}

/// A mistyped Redis URL never shows its password: with whitespace around it (from an
/// environment file) it is still the Redis location; without its scheme's colon it is
/// a file path, whose SQLite error hides what comes before the last `@`. A new user's
/// trial saw `hunter2` in both errors.
#[test]
fn mistyped_redis_urls_never_show_the_password() {
    for location in [
        " redis://:hunter2@127.0.0.1:1/0",
        "redis://:hunter2@127.0.0.1:1/0\n",
        "\tREDIS://user:hunter2@127.0.0.1:1/0 ",
        "redis//:hunter2@127.0.0.1:6379/0",
        "redis:/:hunter2@127.0.0.1:6379/0",
        "/no/such/dir/redis//:hunter2@127.0.0.1:6379/0",
    ] {
        let error = SessionManager::open(location.to_owned(), SessionConfig::default(), None)
            .err()
            .unwrap_or_else(|| panic!("{location:?} opened"));
        let text = format!("{error} {error:?}");
        assert!(!text.contains("hunter2"), "{location:?}: {text}");
    }
    // The trimmed URL is the Redis location: its error names the server.
    let error = SessionManager::open(
        " redis://:hunter2@127.0.0.1:1/0".to_owned(),
        SessionConfig::default(),
        None,
    )
    .expect_err("port 1 is closed");
    assert!(
        error.to_string().contains("Redis redis://127.0.0.1:1:"),
        "{error}"
    );
}

/// After the server restarts, the connections the pool kept are dead: the first call to
/// find one closes them all and runs again on a new connection, so no caller sees an
/// error once the server is back (a new user's trial saw `pool_size` failed calls).
#[test]
fn a_restart_costs_callers_no_error_once_the_server_is_back() {
    let mut server = PrivateServer::start();
    let location = format!("{}?pool_size=4", server.url());
    let manager = open(&location, Arc::new(SystemClock));
    // Four connections kept: four threads at once.
    std::thread::scope(|s| {
        for t in 0..4 {
            let manager = &manager;
            s.spawn(move || {
                for i in 0..20 {
                    manager
                        .create(CreateSessionOptions::for_user(format!("u{t}-{i}")))
                        .expect("create before the restart");
                }
            });
        }
    });
    server.crash_and_restart();
    for i in 0..6 {
        manager
            .create(CreateSessionOptions::for_user(format!("after-{i}")))
            .expect("create after the restart");
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            let manager = &manager;
            s.spawn(move || {
                let session = manager
                    .create(CreateSessionOptions::for_user(format!("again-{t}")))
                    .expect("create on every kept connection");
                assert!(
                    manager
                        .validate(session.token, None)
                        .expect("validate")
                        .valid
                );
            });
        }
    });
}

/// `SessionConfig.prefix` is not the Redis key namespace (the location's `prefix`
/// option is): a manager given one of its own is refused rather than silently sharing
/// sessions with another application (a new user's trial: two apps with prefixes
/// `appA:` and `appB:` accepted each other's tokens).
#[test]
fn a_config_prefix_on_redis_is_refused() {
    let location = redis_env::fresh_prefix(&redis_env::standalone_url());
    let error = SessionManager::open(
        location.clone(),
        SessionConfig {
            prefix: "appA:".into(),
            ..SessionConfig::default()
        },
        None,
    )
    .expect_err("a config prefix on Redis");
    assert!(
        matches!(&error, SessionError::InvalidConfig { reason } if reason.contains("prefix option")),
        "{error:?}"
    );
    assert!(SessionManager::open(location, SessionConfig::default(), None).is_ok());
}

/// A server that requires a password, opened without one, says so (it said `NOAUTH`
/// only), and a wrong password says authentication failed; neither shows the password.
#[test]
fn missing_or_wrong_passwords_say_so() {
    let server = PrivateServer::start();
    server.cli(&["CONFIG", "SET", "requirepass", "hunter2"]);
    let port = redis_env::ports(&server.url())[0];
    let missing = SessionManager::open(
        format!("redis://127.0.0.1:{port}/0"),
        SessionConfig::default(),
        None,
    )
    .expect_err("no password");
    assert!(
        missing.to_string().contains("requires authentication"),
        "{missing}"
    );
    let wrong = SessionManager::open(
        format!("redis://:nothunter2@127.0.0.1:{port}/0"),
        SessionConfig::default(),
        None,
    )
    .expect_err("a wrong password");
    let text = wrong.to_string();
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(SessionManager::open(
        format!("redis://:hunter2@127.0.0.1:{port}/0"),
        SessionConfig::default(),
        None,
    )
    .is_ok());
    server.cli(&["CONFIG", "SET", "requirepass", ""]);
}
