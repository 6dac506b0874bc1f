//! Crash safety: a child process creating sessions on a database file is killed with
//! SIGKILL at random moments. Every session it reported as created must still
//! validate, and SQLite's integrity check must pass, after every kill.
//!
//! The child is this test binary itself, re-executed with [`CHILD_VAR`] set, running
//! only the `crash_child` test (which does nothing in a normal test run).

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sessions::{CreateSessionOptions, SessionConfig, SessionManager};
use tempfile::TempDir;

/// Set to the database path when this binary runs as the crashing child.
const CHILD_VAR: &str = "SESSIONS_TEST_CRASH_CHILD";
/// How many times the child is killed.
const KILLS: usize = 30;
/// The longest the child runs before it is killed.
const MAX_LIFE_MS: u64 = 300;
/// Each line the child prints starts with this, followed by a token.
const PREFIX: &str = "TOKEN ";

/// The child: creates sessions from two threads until killed, printing each token
/// (one whole line, flushed) only after `create` has returned.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_VAR) else {
        return;
    };
    let manager = SessionManager::open(path, SessionConfig::default(), None).expect("open");
    let worker = |manager: Arc<SessionManager>, thread: u64| {
        for i in 0u64.. {
            let user = format!("user-{thread}-{}", i % 5);
            let session = manager
                .create(CreateSessionOptions::for_user(user))
                .expect("create");
            let mut out = std::io::stdout().lock();
            writeln!(out, "{PREFIX}{}", session.token)
                .and_then(|()| out.flush())
                .expect("write");
        }
    };
    let other = {
        let manager = manager.clone();
        std::thread::spawn(move || worker(manager, 1))
    };
    worker(manager, 0);
    let _ = other.join();
}

/// Runs the child for `life` and kills it; returns the tokens on complete lines.
fn run_and_kill(db: &Path, life: Duration) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let mut stdout = child.stdout.take().expect("child stdout");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });
    std::thread::sleep(life);
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(status.signal(), Some(9), "child ended on its own: {status}");
    }
    let bytes = reader.join().expect("reader thread").expect("read stdout");
    let text = String::from_utf8_lossy(&bytes);
    // Only lines ending in a newline were fully printed.
    let complete = text.rsplit_once('\n').map_or("", |(whole, _)| whole);
    complete
        .lines()
        .filter_map(|line| line.strip_prefix(PREFIX))
        .map(str::to_owned)
        .collect()
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("open for integrity check");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check")
}

fn assert_all_valid(manager: &SessionManager, tokens: &[String], kill: usize) {
    for (i, token) in tokens.iter().enumerate() {
        let result = manager.validate(token.clone(), None).expect("validate");
        assert!(
            result.valid,
            "kill {kill}: reported token {i} does not validate: {result:?}"
        );
    }
}

#[test]
fn killed_writers_lose_no_reported_session_and_leave_a_sound_database() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("crash.db");
    let started = Instant::now();
    let mut reported: Vec<String> = Vec::new();
    // A manager that stays open across kills, as a long-running server would.
    let mut watcher: Option<Arc<SessionManager>> = None;
    for kill in 0..KILLS {
        let life = Duration::from_millis(rand::random_range(0..=MAX_LIFE_MS));
        reported.extend(run_and_kill(&db, life));

        let fresh = SessionManager::open(db.display().to_string(), SessionConfig::default(), None)
            .expect("reopen after kill");
        assert_all_valid(&fresh, &reported, kill);
        let watcher = watcher.get_or_insert(fresh);
        assert_all_valid(watcher, &reported, kill);
        assert!(watcher.count().expect("count") >= reported.len() as i64);
        assert_eq!(integrity(&db), "ok", "kill {kill}");
    }
    println!(
        "{KILLS} kills, {} reported sessions all valid, in {:?}",
        reported.len(),
        started.elapsed()
    );
    assert!(
        reported.len() >= KILLS,
        "the child barely ran: {}",
        reported.len()
    );
}
