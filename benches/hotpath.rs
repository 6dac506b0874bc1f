//! The per-request path and durable writes (issue 14), each section side by side with
//! what it is compared against, in one process run:
//!
//! - `validate`: the in-memory manager's `validate` at 1 thousand sessions (hit and
//!   miss), beside the SHA-256 of one token alone (the floor under any validate);
//! - `sqlite_create`: durable `create`s per second on a SQLite file from 1 and 8 threads,
//!   under each `Durability` setting;
//! - `sqlite_validate`: `validate`s per second on a SQLite file from 1 and 2 threads,
//!   beside the same on the in-memory store (what the two cores give at all meanwhile).
//!
//! `HOTPATH_ONLY=validate,sqlite_create` runs only the named sections. Figures are
//! printed as JSON lines and written to `$CARGO_TARGET_DIR/criterion/hotpath.jsonl` for
//! `scripts/benchmarks.py`.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sessions::{CreateSessionOptions, Durability, SessionConfig, SessionManager};

/// A directory on the same disk as the project (not a RAM disk), so fsync costs what
/// it costs for users.
fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
            std::path::PathBuf::from,
        )
        .join("bench-scratch");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn wanted(section: &str) -> bool {
    std::env::var("HOTPATH_ONLY")
        .map(|only| only.split(',').any(|s| s.trim() == section))
        .unwrap_or(true)
}

/// This thread's CPU time so far, in nanoseconds (Linux: `/proc/thread-self/schedstat`):
/// time another process takes from the shared cores is not counted.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("schedstat")
}

/// CPU nanoseconds per call of `call` over `inputs` (made untimed by `make_inputs`,
/// batch after batch), the median of 7 rounds of `BATCHES` batches. Each output is
/// dropped at once, in the timed loop, as a caller that has read it would; with
/// `keep`, the outputs are dropped after each batch instead, untimed (as criterion's
/// `iter_batched` does).
fn cpu_ns_per_call<I, O>(
    keep: bool,
    mut make_inputs: impl FnMut() -> Vec<I>,
    mut call: impl FnMut(I) -> O,
) -> f64 {
    const BATCHES: usize = 20;
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let (mut cpu, mut calls) = (0u64, 0usize);
            for _ in 0..BATCHES {
                let inputs = make_inputs();
                calls += inputs.len();
                let mut kept = Vec::with_capacity(if keep { inputs.len() } else { 0 });
                let start = thread_cpu_ns();
                for input in inputs {
                    let output = black_box(call(input));
                    if keep {
                        kept.push(output);
                    }
                }
                cpu += thread_cpu_ns() - start;
                drop(kept);
            }
            cpu as f64 / calls as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[3]
}

/// A manager holding 1,000 sessions (10 per user), each with `metadata` entries of
/// metadata, and their tokens.
fn memory_fixture(size: usize, metadata: usize) -> (Arc<SessionManager>, Vec<String>) {
    let manager = SessionManager::new(SessionConfig::default(), None).expect("manager");
    let tokens = (0..size)
        .map(|i| {
            let metadata = (metadata > 0).then(|| {
                (0..metadata)
                    .map(|k| (format!("key{k}"), "Mozilla/5.0".to_owned()))
                    .collect()
            });
            manager
                .create(CreateSessionOptions {
                    metadata,
                    ..CreateSessionOptions::for_user(format!("user-{}", i / 10))
                })
                .expect("create")
                .token
        })
        .collect();
    (manager, tokens)
}

fn validate_section(lines: &mut Vec<String>) {
    const SIZE: usize = 1_000;
    for metadata in [0, 1] {
        let (manager, tokens) = memory_fixture(SIZE, metadata);
        let mut i = 0usize;
        let mut hits = || {
            (0..10_000)
                .map(|_| {
                    i = (i + 7919) % SIZE;
                    tokens[i].clone()
                })
                .collect::<Vec<_>>()
        };
        let validate = |token: String| manager.validate(token, None).expect("validate");
        // Warm up, then measure side by side.
        cpu_ns_per_call(false, &mut hits, validate);
        let hit = cpu_ns_per_call(false, &mut hits, validate);
        let hit_kept = cpu_ns_per_call(true, &mut hits, validate);
        let misses = || vec!["x".repeat(43); 10_000];
        let miss = cpu_ns_per_call(false, misses, validate);
        let sha = cpu_ns_per_call(false, &mut hits, sessions::hash_token);
        lines.push(format!(
            "{{\"figure\":\"rust_validate\",\"sessions\":{SIZE},\"metadata_entries\":{metadata},\"hit_ns\":{hit:.1},\"hit_result_kept_ns\":{hit_kept:.1},\"miss_ns\":{miss:.1},\"hash_token_ns\":{sha:.1}}}"
        ));
    }
}

/// Creates per second on a fresh SQLite file with `threads` threads, each creating
/// for about `run` (the median of three rounds).
fn sqlite_creates_per_s(durability: Durability, threads: usize, run: Duration) -> f64 {
    let mut rates: Vec<f64> = (0..3)
        .map(|_| {
            let dir = tempfile::tempdir_in(scratch_dir()).expect("temp dir");
            let path = dir.path().join("bench.sqlite").display().to_string();
            let m = SessionManager::open_with_durability(
                path,
                SessionConfig::default(),
                durability,
                None,
            )
            .expect("open");
            let start = Instant::now();
            let total: usize = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let m = Arc::clone(&m);
                        s.spawn(move || {
                            let mut n = 0usize;
                            while start.elapsed() < run {
                                m.create(CreateSessionOptions::for_user(format!("u{t}-{n}")))
                                    .expect("create");
                                n += 1;
                            }
                            n
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("thread")).sum()
            });
            total as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[1]
}

fn sqlite_create_section(lines: &mut Vec<String>) {
    let run = Duration::from_millis(1500);
    for (name, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let one = sqlite_creates_per_s(durability, 1, run);
        let eight = sqlite_creates_per_s(durability, 8, run);
        lines.push(format!(
            "{{\"figure\":\"sqlite_create\",\"durability\":\"{name}\",\"one_thread_per_s\":{one:.0},\"eight_threads_per_s\":{eight:.0},\"speedup\":{:.2}}}",
            eight / one
        ));
    }
}

/// Validations per second of `m` over `tokens` from 1 and from 2 threads, in
/// interleaved rounds (the round with the median ratio), and the CPU time per
/// validation in each (ns): equal CPU times mean the threads do not slow each other
/// down, and a 2-thread rate below twice the 1-thread rate then comes from the cores
/// being busy with other work.
fn scaling(m: &SessionManager, tokens: &[String], per_thread: usize) -> [f64; 4] {
    let rate = |threads: usize| {
        let start = Instant::now();
        let cpu: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let cpu = thread_cpu_ns();
                        let mut i = t * 104_729;
                        for _ in 0..per_thread {
                            i = (i + 7919) % tokens.len();
                            black_box(m.validate(tokens[i].clone(), None).expect("validate"));
                        }
                        thread_cpu_ns() - cpu
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).sum()
        });
        let calls = (threads * per_thread) as f64;
        (calls / start.elapsed().as_secs_f64(), cpu as f64 / calls)
    };
    let mut rounds: Vec<[f64; 4]> = (0..3)
        .map(|_| {
            let (one, one_cpu) = rate(1);
            let (two, two_cpu) = rate(2);
            [one, two, one_cpu, two_cpu]
        })
        .collect();
    rounds.sort_by(|a, b| (a[1] / a[0]).total_cmp(&(b[1] / b[0])));
    rounds[1]
}

/// Validations per second on a SQLite file of 1,000 sessions from 1 and from 2
/// threads, beside the same on the in-memory store (how much the two cores give at
/// all while the benchmark runs).
fn sqlite_validate_section(lines: &mut Vec<String>) {
    let dir = tempfile::tempdir_in(scratch_dir()).expect("temp dir");
    let path = dir.path().join("bench.sqlite").display().to_string();
    let m = SessionManager::open(path, SessionConfig::default(), None).expect("open");
    let tokens: Vec<String> = (0..1_000)
        .map(|i| {
            m.create(CreateSessionOptions::for_user(format!("user-{}", i / 10)))
                .expect("create")
                .token
        })
        .collect();
    let (memory, memory_tokens) = memory_fixture(1_000, 0);
    for (store, m, tokens, per_thread) in [
        ("sqlite", &m, &tokens, 200_000),
        ("memory", &memory, &memory_tokens, 2_000_000),
    ] {
        let [one, two, one_cpu, two_cpu] = scaling(m, tokens, per_thread);
        lines.push(format!(
            "{{\"figure\":\"validate_scaling\",\"store\":\"{store}\",\"sessions\":1000,\"one_thread_per_s\":{one:.0},\"two_threads_per_s\":{two:.0},\"speedup\":{:.2},\"one_thread_cpu_ns\":{one_cpu:.0},\"two_threads_cpu_ns\":{two_cpu:.0}}}",
            two / one
        ));
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut lines = Vec::new();
    if wanted("validate") {
        validate_section(&mut lines);
    }
    if wanted("sqlite_create") {
        sqlite_create_section(&mut lines);
    }
    if wanted("sqlite_validate") {
        sqlite_validate_section(&mut lines);
    }
    common::write_figures("hotpath.jsonl", &lines);
}
