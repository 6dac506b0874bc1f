//! The Rust reference of the Swift per-request benchmark (issue 14: "Swift: at most 3.0x
//! Rust's own `validate` called in-process"): a small `cdylib` that
//! `benches/swift/SessionsBench/Sources/ValidateBench` loads with `dlopen`, so Rust's own
//! `SessionManager::validate` runs in the Swift benchmark's process, on its thread, timed
//! by the same clock and interleaved with the Swift rounds. Never part of the shipping
//! library or its API.
//!
//! Built by `scripts/benchmarks.py` with `rustc` directly against the release build's own
//! `libsessions.rlib` (`--extern sessions=$CARGO_TARGET_DIR/release/deps/libsessions.rlib`),
//! the very compilation that made the `libsessions.so` the Swift package links: the core is
//! not compiled again (a cargo example or package would compile it a second time, with the
//! dev-dependencies' features or as a dependency), only this file, in about a second.
//!
//! The fixture is the Swift benchmark's: an in-memory manager with the system clock
//! and 1,000 sessions with one metadata entry each. As `benches/hotpath.rs` measures
//! `validate`, the owned token each call takes (`validate` takes a `String`) is made
//! before the timed loop; the caller reads `session.user_id` and drops the result in it.
//!
//! The C entry points take and return plain integers only (no pointers), so no `unsafe`
//! is needed here:
//! - `sessions_rust_reference_prepare(kind, calls)`: makes the next batch of `calls`
//!   owned tokens (kind 0: valid tokens of the fixture, 1: unknown tokens), untimed;
//!   returns 0, or -1 if the fixture could not be made (or a panic).
//! - `sessions_rust_reference_run()`: validates the whole prepared batch, reading each
//!   result's user id; returns the sum of the user ids' lengths (valid) or the number of
//!   results with an error (unknown), so the work cannot be optimised away, or -1 on a
//!   failed `validate` (or a panic).
//!
//! The caller times `run` with `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`.

use std::panic::catch_unwind;
use std::sync::{Arc, Mutex, OnceLock};

use sessions::{CreateSessionOptions, SessionConfig, SessionManager};

/// Sessions in the fixture, as in every host's per-request benchmark.
const SESSIONS: usize = 1_000;

struct Fixture {
    manager: Arc<SessionManager>,
    tokens: Vec<String>,
    unknown: Vec<String>,
}

static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
/// The batch `prepare` made and `run` consumes, and where the next batch starts.
static BATCH: Mutex<(Vec<String>, usize)> = Mutex::new((Vec::new(), 0));

fn make_fixture() -> Option<Fixture> {
    let manager = SessionManager::new(SessionConfig::default(), None).ok()?;
    let tokens = (0..SESSIONS)
        .map(|n| {
            let options = CreateSessionOptions {
                metadata: Some([("k".to_owned(), "v".to_owned())].into_iter().collect()),
                ..CreateSessionOptions::for_user(format!("user{n}"))
            };
            manager.create(options).map(|s| s.token).ok()
        })
        .collect::<Option<Vec<_>>>()?;
    let unknown = (0..SESSIONS)
        .map(|_| sessions::generate_secure_token(32).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(Fixture {
        manager,
        tokens,
        unknown,
    })
}

fn fixture() -> Option<&'static Fixture> {
    FIXTURE.get_or_init(make_fixture).as_ref()
}

/// Makes the next batch of `calls` owned tokens (`kind` 0: valid, 1: unknown), untimed.
#[no_mangle]
pub extern "C" fn sessions_rust_reference_prepare(kind: u32, calls: u32) -> i32 {
    catch_unwind(|| {
        let Some(f) = fixture() else { return -1 };
        let source = if kind == 0 { &f.tokens } else { &f.unknown };
        let mut batch = BATCH.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, next) = &mut *batch;
        tokens.clear();
        for _ in 0..calls {
            *next = (*next + 7919) % source.len();
            tokens.push(source[*next].clone());
        }
        0
    })
    .unwrap_or(-1)
}

/// Validates the prepared batch; see the module doc for the return value.
#[no_mangle]
pub extern "C" fn sessions_rust_reference_run() -> i64 {
    catch_unwind(|| {
        let Some(f) = fixture() else { return -1 };
        let tokens = std::mem::take(&mut BATCH.lock().unwrap_or_else(|e| e.into_inner()).0);
        let mut acc = 0i64;
        for token in tokens {
            match f.manager.validate(token, None) {
                Ok(result) => match &result.session {
                    Some(session) => acc += session.user_id.len() as i64,
                    None => acc += i64::from(result.error.is_some()),
                },
                Err(_) => return -1,
            }
        }
        acc
    })
    .unwrap_or(-1)
}
