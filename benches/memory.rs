//! Memory kept per stored session (no metadata) in the in-memory store, at 1 thousand
//! and 1 million sessions: heap bytes counted by an instrumented global allocator, and
//! resident-set growth read from /proc. Prints JSON lines and writes them to
//! `$CARGO_TARGET_DIR/criterion/memory.jsonl` for `scripts/benchmarks.py`.

mod common;

use std::alloc::System;
use std::fs;
use std::sync::Arc;

use sessions::{CreateSessionOptions, SessionConfig, SessionManager};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn rss_bytes() -> i64 {
    fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Fills a fresh manager with `size` sessions (10 per user), keeping none of the
/// returned values, and reports (heap bytes, RSS bytes) kept per session.
fn per_session(size: usize) -> (f64, f64) {
    let manager = SessionManager::new(SessionConfig::default(), None).expect("config");
    let rss_before = rss_bytes();
    let region = Region::new(GLOBAL);
    for i in 0..size {
        let created = manager.create(CreateSessionOptions::for_user(format!("user-{}", i / 10)));
        drop(created.expect("create"));
    }
    let stats = region.change();
    // Growth by realloc is already counted in bytes_allocated by stats_alloc.
    let heap = stats.bytes_allocated as f64 - stats.bytes_deallocated as f64;
    let rss = (rss_bytes() - rss_before) as f64;
    drop(Arc::clone(&manager));
    (heap / size as f64, rss / size as f64)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut lines = Vec::new();
    for size in [1_000usize, 1_000_000] {
        let (heap, rss) = per_session(size);
        lines.push(format!(
            "{{\"figure\":\"memory\",\"sessions\":{size},\"heap_bytes_per_session\":{heap:.1},\"rss_bytes_per_session\":{rss:.1}}}"
        ));
    }
    common::write_figures("memory.jsonl", &lines);
}
