//! Redis beside memory and SQLite: validate (hit), create and refresh on 1 and 8
//! threads, round trips per validate (the server's `INFO commandstats`), and how
//! 100,000 sessions of 10,000 users spread over a 3-master cluster's masters.
//!
//! Needs the servers of `scripts/redis-servers.sh` (`make bench` runs it through
//! `scripts/benchmarks.py`). Writes JSON lines to `<target>/criterion/redis.jsonl`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sessions::{CreateSessionOptions, SessionConfig, SessionManager};

/// How long each measurement runs.
const RUN: Duration = Duration::from_millis(1500);
/// Sessions validated at random in the validate runs.
const PRESET: usize = 2000;

fn out_path() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let dir = target.join("criterion");
    std::fs::create_dir_all(&dir).expect("criterion dir");
    dir.join("redis.jsonl")
}

fn env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run through `bash scripts/redis-servers.sh cargo bench --bench redis`")
    })
}

fn prefixed(url: &str, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{url}?prefix=bench{name}{nanos}")
}

/// Operations per second over `threads` threads running `op` for [`RUN`].
fn throughput(threads: usize, op: impl Fn(usize, usize) + Sync) -> f64 {
    let total = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let op = &op;
            let total = &total;
            s.spawn(move || {
                let mut n = 0;
                while started.elapsed() < RUN {
                    op(t, n);
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    total.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// validate (hit), create and refresh on `manager` with `threads` threads.
fn measure(store: &str, threads: usize, manager: &SessionManager, out: &mut impl std::io::Write) {
    let tokens: Vec<String> = (0..PRESET)
        .map(|i| {
            manager
                .create(CreateSessionOptions::for_user(format!("user-{}", i % 500)))
                .expect("create")
                .token
        })
        .collect();
    let validate = throughput(threads, |t, n| {
        let token = &tokens[(t * 7919 + n * 104_729) % tokens.len()];
        assert!(
            manager
                .validate(token.clone(), None)
                .expect("validate")
                .valid
        );
    });
    let create = throughput(threads, |t, n| {
        manager
            .create(CreateSessionOptions::for_user(format!(
                "new-{t}-{}",
                n % 100
            )))
            .expect("create");
    });
    // Each thread rotates its own chain of tokens.
    let chains: Vec<parking_lot::Mutex<String>> = (0..threads)
        .map(|t| {
            parking_lot::Mutex::new(
                manager
                    .create(CreateSessionOptions::for_user(format!("chain-{t}")))
                    .expect("create")
                    .token,
            )
        })
        .collect();
    let refresh = throughput(threads, |t, _| {
        let mut token = chains[t].lock();
        *token = manager.refresh(token.clone(), None).expect("refresh").token;
    });
    for (op, per_s) in [
        ("validate", validate),
        ("create", create),
        ("refresh", refresh),
    ] {
        let line = serde_json::json!({
            "figure": "op", "store": store, "threads": threads, "op": op,
            "per_s": per_s, "us_per_op": threads as f64 * 1e6 / per_s,
        });
        writeln!(out, "{line}").expect("write");
        println!("{line}");
    }
}

fn ports(url: &str) -> Vec<u16> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    rest.split(',')
        .filter_map(|n| n.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .collect()
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Calls of `command` on the server at `port` (`INFO commandstats`).
fn calls(port: u16, command: &str) -> i64 {
    cli(port, &["info", "commandstats"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:")))
        .and_then(|r| r.split_once("calls=").map(|(_, r)| r))
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Commands a client sent (not those scripts ran inside).
fn sent(port: u16) -> i64 {
    ["evalsha", "eval", "ping"]
        .iter()
        .map(|c| calls(port, c))
        .sum()
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` lists/tests benches; nothing to test here.
    }
    let standalone = env("SESSIONS_REDIS_URL");
    let cluster = env("SESSIONS_REDIS_CLUSTER_URL");
    let mut out = std::fs::File::create(out_path()).expect("redis.jsonl");
    let config = SessionConfig::default;

    let memory = SessionManager::new(config(), None).expect("memory");
    measure("memory", 1, &memory, &mut out);
    measure("memory", 8, &memory, &mut out);
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_path = dir.path().join("bench.sqlite").display().to_string();
    let sqlite = SessionManager::open(sqlite_path, config(), None).expect("sqlite");
    measure("sqlite", 1, &sqlite, &mut out);
    measure("sqlite", 8, &sqlite, &mut out);
    let redis = SessionManager::open(prefixed(&standalone, "s"), config(), None).expect("redis");
    measure("redis", 1, &redis, &mut out);
    measure("redis", 8, &redis, &mut out);
    let clustered =
        SessionManager::open(prefixed(&cluster, "c"), config(), None).expect("redis cluster");
    measure("redis cluster", 8, &clustered, &mut out);

    // Round trips per validate, on the standalone server.
    let port = ports(&standalone)[0];
    let token = redis
        .create(CreateSessionOptions::for_user("rt"))
        .expect("create")
        .token;
    let before = sent(port);
    const N: i64 = 1000;
    for _ in 0..N {
        redis.validate(token.clone(), None).expect("validate");
    }
    let round_trips = (sent(port) - before) as f64 / N as f64;
    let line = serde_json::json!({"figure": "round_trips", "validate": round_trips});
    writeln!(out, "{line}").expect("write");
    println!("{line}");

    // 100,000 sessions of 10,000 users on the cluster: records and validates per master.
    let location = prefixed(&cluster, "spread");
    let prefix = location
        .rsplit_once("prefix=")
        .map(|(_, p)| p.to_owned())
        .unwrap();
    let spread = Arc::new(SessionManager::open(location, config(), None).expect("cluster"));
    let next = AtomicUsize::new(0);
    let tokens = parking_lot::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= 100_000 {
                    break;
                }
                let t = spread
                    .create(CreateSessionOptions::for_user(format!(
                        "user-{}",
                        i % 10_000
                    )))
                    .expect("create")
                    .token;
                if i % 10 == 0 {
                    tokens.lock().push(t);
                }
            });
        }
    });
    let masters = ports(&cluster);
    let records: Vec<usize> = masters
        .iter()
        .map(|&p| {
            cli(p, &["--scan", "--pattern", &format!("{prefix}:*:s:*")])
                .lines()
                .count()
        })
        .collect();
    let before: Vec<i64> = masters.iter().map(|&p| calls(p, "evalsha")).collect();
    for t in tokens.lock().iter() {
        assert!(spread.validate(t.clone(), None).expect("validate").valid);
    }
    let validates: Vec<i64> = masters
        .iter()
        .zip(&before)
        .map(|(&p, b)| calls(p, "evalsha") - b)
        .collect();
    let line = serde_json::json!({
        "figure": "spread", "sessions": 100_000, "users": 10_000,
        "records_per_master": records, "validates_per_master": validates,
    });
    writeln!(out, "{line}").expect("write");
    println!("{line}");
}
