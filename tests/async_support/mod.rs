//! Test support for `AsyncSessionManager`: a minimal executor, so tests need no async
//! runtime (as the hosts' event loops, it only polls and waits for wake-ups).

#![allow(dead_code)] // each test crate uses a different part

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Wakes the thread that polls, and remembers that it was woken.
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Polls `future` to its end on this thread, parking between wake-ups. Panics if it is
/// not woken within 30 s (a lost wake-up would otherwise hang the test).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        unpark.woken.store(false, Ordering::SeqCst);
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !unpark.woken.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "a pending future was never woken"
            );
            thread::park_timeout(Duration::from_millis(100));
        }
    }
}

/// Polls `future` once (starting its work) and drops it: an await cancelled right
/// after it began. Returns the output if it was ready at once.
pub fn poll_once_then_drop<F: Future>(future: F) -> Option<F::Output> {
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}
