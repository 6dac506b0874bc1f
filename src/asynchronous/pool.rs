//! A small, bounded pool of worker threads for blocking store work, and the future
//! that waits for one job's result.
//!
//! The async manager never blocks its caller's event loop: each call is packed into a
//! job, queued here, and run on one of at most [`MAX_WORKERS`] threads; the caller
//! awaits a [`Job`] future that the worker wakes when the result is ready. Nothing
//! here needs an async runtime, so every host's executor (asyncio, Kotlin coroutines,
//! Swift concurrency) can poll it through UniFFI.
//!
//! **Cancellation.** Dropping a [`Job`] before it completes (the host cancelled the
//! await) never interrupts the work in the middle: a job that has not started yet is
//! skipped and never runs, and a job that has started runs to its end (each manager
//! operation is atomic in the store) and its result is dropped. So a cancelled call
//! either happened in full or not at all.
//!
//! **Starvation bound.** A cancelled call that has started keeps its worker until the
//! store call returns, so the pool is shared fairly only as long as store calls are
//! short: with `MAX_WORKERS` = 8 threads, a ninth call waits (even if every one of the
//! eight was cancelled) until one of them returns; how long that is, is the store's own
//! bound (SQLite's `busy_timeout`, Redis's `timeout_ms` (about four times that on a
//! cluster), whatever a host store takes). A call that has not started yet when it is
//! cancelled frees its place in the queue at once (it is skipped, never run).
//!
//! **Shutdown.** [`Pool::shut_down`] stops the pool for good before the host's runtime
//! tears down (the Python package calls it from `atexit`): queued jobs are skipped, new
//! ones are refused with [`ShutDown`], running ones finish (a store change is never cut
//! in half by it) and are waited for up to a bound, and no job wakes its task any more,
//! so no worker calls into a host runtime that is being finalized.
//!
//! A plain `std::sync::mpsc` queue and a mutex-guarded slot are all it takes; no crate
//! (`blocking`, `tokio`) is needed for a fixed set of threads and one-shot results.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// The most worker threads the pool starts (they are started on demand, one at a time,
/// while every started one is busy). Store work is mostly waiting (SQLite's fsync, a
/// host store's I/O), so the bound is above the core count of small machines while
/// keeping a burst of calls from starting unbounded threads.
pub(crate) const MAX_WORKERS: usize = 8;

type Task = Box<dyn FnOnce() + Send + 'static>;

/// The process-wide pool; every async manager shares it.
pub(crate) fn shared() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(MAX_WORKERS))
}

/// A fixed upper number of threads taking jobs from one queue.
pub(crate) struct Pool {
    queue: Sender<Task>,
    jobs: Arc<Mutex<Receiver<Task>>>,
    state: Mutex<Workers>,
    /// Signalled whenever a worker finishes a job (for [`Pool::shut_down`]).
    finished: Condvar,
    /// Set by [`Pool::shut_down`]: no job starts or wakes its task any more.
    closed: AtomicBool,
    max: usize,
}

/// The pool was shut down ([`Pool::shut_down`]) before the job could start: it never ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the library's worker pool is shut down (the process is exiting): the call did not run")]
pub(crate) struct ShutDown;

/// How many workers run, how many of them wait for a job, and how many jobs wait for
/// a worker.
#[derive(Default)]
struct Workers {
    started: usize,
    idle: usize,
    queued: usize,
}

impl Pool {
    /// A pool of at most `max` threads (at least one), none started yet.
    pub(crate) fn new(max: usize) -> Self {
        let (queue, jobs) = mpsc::channel();
        Pool {
            queue,
            jobs: Arc::new(Mutex::new(jobs)),
            state: Mutex::new(Workers::default()),
            finished: Condvar::new(),
            closed: AtomicBool::new(false),
            max: max.max(1),
        }
    }

    /// Queues `work` and returns the future of its result. If the future is dropped
    /// before a worker picks the job up, `work` never runs; once it runs, it runs to
    /// its end. A panic in `work` is resumed in the task that polls the future. After
    /// [`Pool::shut_down`], `work` never runs and the future is `Err(ShutDown)` (at once
    /// for a job queued after it; a job queued before it and skipped is never woken).
    ///
    /// With `on_loop`, the finished job does not wake the awaiting task itself: it hands
    /// the waker to the event loop's thread (see `wakeups`).
    pub(crate) fn run<T, F>(&'static self, on_loop: bool, work: F) -> Job<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.is_closed() {
            return Job {
                slot: Arc::new(Mutex::new(Slot::Refused)),
            };
        }
        let slot = Arc::new(Mutex::new(Slot::Pending { waker: None }));
        let done = Arc::clone(&slot);
        let task: Task = Box::new(move || {
            {
                let mut slot = done.lock();
                match *slot {
                    Slot::Abandoned => return, // cancelled before it started: never run
                    // Shut down before it started: never run, and never woken (its
                    // task belongs to a runtime that is going away).
                    _ if self.is_closed() => {
                        *slot = Slot::Refused;
                        return;
                    }
                    _ => {}
                }
            }
            let outcome = panic::catch_unwind(AssertUnwindSafe(work));
            let mut slot = done.lock();
            match std::mem::replace(&mut *slot, Slot::Done(outcome)) {
                // After a shutdown the waker is dropped unwoken: waking would call into
                // a host runtime that may be finalizing (a Python interpreter at exit).
                Slot::Pending { waker: Some(waker) } if !self.is_closed() => {
                    drop(slot);
                    if on_loop {
                        super::wakeups::defer(waker);
                    } else {
                        waker.wake();
                    }
                }
                Slot::Abandoned => *slot = Slot::Abandoned, // cancelled meanwhile: drop it
                _ => {}
            }
        });
        self.submit(task);
        Job { slot }
    }

    /// Whether [`Pool::shut_down`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Stops the pool for good: from now on no job starts (queued ones are skipped, new
    /// ones are refused with [`ShutDown`]) and no finished job wakes its task. Then waits,
    /// at most `timeout`, until no job is queued or running; a running job is never
    /// interrupted (its store change happens in full). Returns whether the pool drained
    /// within `timeout` (always true for a pool that never started a thread). Calling
    /// it again waits again.
    pub(crate) fn shut_down(&self, timeout: Duration) -> bool {
        self.closed.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        let mut workers = self.state.lock();
        while workers.queued > 0 || workers.idle < workers.started {
            if self.finished.wait_until(&mut workers, deadline).timed_out() {
                return workers.queued == 0 && workers.idle == workers.started;
            }
        }
        true
    }

    fn submit(&'static self, task: Task) {
        {
            let mut workers = self.state.lock();
            workers.queued += 1;
            if workers.queued > workers.idle && workers.started < self.max {
                let name = format!("sessions-pool-{}", workers.started);
                let jobs = Arc::clone(&self.jobs);
                if thread::Builder::new()
                    .name(name)
                    .spawn(move || self.work(&jobs))
                    .is_ok()
                {
                    workers.started += 1;
                    workers.idle += 1;
                } else if workers.started == 0 {
                    // No thread at all can be started: run it here rather than never.
                    workers.queued -= 1;
                    drop(workers);
                    task();
                    return;
                }
            }
        }
        // The receiver lives as long as the pool (a static): sending cannot fail.
        let _ = self.queue.send(task);
    }

    /// A worker's loop: take a job, run it, repeat (the pool lives for the process).
    fn work(&self, jobs: &Mutex<Receiver<Task>>) {
        loop {
            let task = match jobs.lock().recv() {
                Ok(task) => task,
                Err(_) => return,
            };
            {
                let mut workers = self.state.lock();
                workers.idle -= 1;
                workers.queued -= 1;
            }
            task();
            self.state.lock().idle += 1;
            self.finished.notify_all();
        }
    }

    /// How many worker threads have been started (at most the pool's bound).
    #[cfg(test)]
    pub(crate) fn started(&self) -> usize {
        self.state.lock().started
    }
}

/// The state one job shares with the future awaiting it.
enum Slot<T> {
    /// Not finished; `waker` is the task to wake when it is.
    Pending { waker: Option<Waker> },
    /// Finished: the result, or the panic the work raised.
    Done(thread::Result<T>),
    /// The future was dropped (cancelled) or already returned the result.
    Abandoned,
    /// The pool was shut down before the job started: it never ran.
    Refused,
}

/// The result of one pooled job, as a future (see [`Pool::run`]).
pub(crate) struct Job<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Future for Job<T> {
    type Output = Result<T, ShutDown>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, ShutDown>> {
        let mut slot = self.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Abandoned) {
            Slot::Done(Ok(value)) => Poll::Ready(Ok(value)),
            Slot::Refused => Poll::Ready(Err(ShutDown)),
            Slot::Done(Err(panic)) => {
                drop(slot);
                panic::resume_unwind(panic)
            }
            Slot::Pending { .. } => {
                *slot = Slot::Pending {
                    waker: Some(cx.waker().clone()),
                };
                Poll::Pending
            }
            Slot::Abandoned => panic!("a pooled job's future was polled after it completed"),
        }
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        // Pending: the job is skipped if it has not started, its result dropped if it
        // has. Done: the result is dropped here.
        *self.slot.lock() = Slot::Abandoned;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::sync_channel;
    use std::task::Wake;
    use std::time::Duration;

    /// Polls a future to its end on this thread (parks between wake-ups).
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Unpark(thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = Box::pin(future);
        loop {
            if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return value;
            }
            thread::park_timeout(Duration::from_millis(50));
        }
    }

    fn leaked(max: usize) -> &'static Pool {
        Box::leak(Box::new(Pool::new(max)))
    }

    #[test]
    fn runs_work_and_returns_its_value_off_the_calling_thread() {
        let pool = leaked(2);
        let caller = thread::current().id();
        let (value, worker) =
            block_on(pool.run(false, || (41 + 1, thread::current().id()))).expect("open");
        assert_eq!(value, 42);
        assert_ne!(worker, caller);
    }

    #[test]
    fn never_starts_more_threads_than_its_bound() {
        let pool = leaked(3);
        let (release, gate) = sync_channel::<()>(0);
        let gate = Arc::new(Mutex::new(gate));
        let jobs: Vec<_> = (0..10)
            .map(|i| {
                let gate = Arc::clone(&gate);
                pool.run(false, move || {
                    let _ = gate.lock().recv_timeout(Duration::from_secs(5));
                    i
                })
            })
            .collect();
        for _ in 0..10 {
            release.send(()).expect("a worker takes the release");
        }
        let results: Vec<i32> = jobs
            .into_iter()
            .map(|job| block_on(job).expect("open"))
            .collect();
        assert_eq!(results, (0..10).collect::<Vec<_>>());
        assert!(pool.started() <= 3, "{} threads started", pool.started());
    }

    #[test]
    fn a_job_dropped_before_it_starts_never_runs() {
        let pool = leaked(1);
        let (release, gate) = sync_channel::<()>(0);
        // Occupy the only worker.
        let busy = pool.run(false, move || {
            gate.recv_timeout(Duration::from_secs(5)).is_ok()
        });
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ran);
        let cancelled = pool.run(false, move || counter.fetch_add(1, Ordering::SeqCst));
        drop(cancelled);
        release.send(()).expect("the worker takes the release");
        assert_eq!(block_on(busy), Ok(true));
        // A job queued after the cancelled one completes, so the worker has passed it.
        assert_eq!(block_on(pool.run(false, || 7)), Ok(7));
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_job_dropped_while_running_runs_to_its_end() {
        let pool = leaked(1);
        let (started_tx, started) = sync_channel::<()>(1);
        let (release, gate) = sync_channel::<()>(0);
        let finished = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&finished);
        let job = pool.run(false, move || {
            started_tx.send(()).expect("the test waits for the start");
            let _ = gate.recv_timeout(Duration::from_secs(5));
            counter.fetch_add(1, Ordering::SeqCst);
        });
        started.recv().expect("the job starts");
        drop(job);
        release.send(()).expect("the job takes the release");
        assert_eq!(block_on(pool.run(false, || 1)), Ok(1));
        assert_eq!(finished.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panic_reaches_the_awaiting_task_and_the_worker_survives() {
        let pool = leaked(1);
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            block_on(pool.run(false, || -> i32 { panic!("boom") }))
        }));
        assert!(caught.is_err());
        assert_eq!(block_on(pool.run(false, || 5)), Ok(5));
        assert_eq!(pool.started(), 1);
    }

    /// Counts its wake-ups.
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn shut_down_waits_for_the_running_job_skips_the_queued_ones_and_refuses_new_ones() {
        let pool = leaked(1);
        let (started_tx, started) = sync_channel::<()>(1);
        let (release, gate) = sync_channel::<()>(0);
        let finished = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&finished);
        let mut running = Box::pin(pool.run(false, move || {
            started_tx.send(()).expect("the test waits for the start");
            let _ = gate.recv_timeout(Duration::from_secs(5));
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        // Poll the running job once so it holds a waker: shutdown must not wake it.
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        assert!(running
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let ran = Arc::new(AtomicUsize::new(0));
        let queued_counter = Arc::clone(&ran);
        let mut queued =
            Box::pin(pool.run(false, move || queued_counter.fetch_add(1, Ordering::SeqCst)));
        assert!(queued
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        started.recv().expect("the first job starts");
        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            release.send(()).expect("the job takes the release");
        });
        assert!(pool.shut_down(Duration::from_secs(10)), "drained");
        releaser.join().expect("the releaser");
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the running job ran to its end"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the queued job was skipped");
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            0,
            "no task woken after the shutdown"
        );
        // The running job's result is there for a poll (nobody is woken for it); the
        // skipped one says it never ran.
        assert!(matches!(
            running.as_mut().poll(&mut Context::from_waker(&waker)),
            Poll::Ready(Ok(()))
        ));
        assert!(matches!(
            queued.as_mut().poll(&mut Context::from_waker(&waker)),
            Poll::Ready(Err(ShutDown))
        ));
        let late = Arc::new(AtomicUsize::new(0));
        let late_counter = Arc::clone(&late);
        assert_eq!(
            block_on(pool.run(false, move || late_counter.fetch_add(1, Ordering::SeqCst))),
            Err(ShutDown)
        );
        assert_eq!(late.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn shut_down_gives_up_after_its_timeout_on_a_job_that_does_not_return() {
        let pool = leaked(1);
        let (started_tx, started) = sync_channel::<()>(1);
        let (release, gate) = sync_channel::<()>(0);
        let stuck = pool.run(false, move || {
            started_tx.send(()).expect("the test waits for the start");
            let _ = gate.recv_timeout(Duration::from_secs(5));
        });
        started.recv().expect("the job starts");
        let begun = Instant::now();
        assert!(!pool.shut_down(Duration::from_millis(100)), "not drained");
        assert!(begun.elapsed() >= Duration::from_millis(100));
        release.send(()).expect("the job takes the release");
        assert!(
            pool.shut_down(Duration::from_secs(10)),
            "drained once it returned"
        );
        drop(stuck);
    }

    #[test]
    fn shutting_down_a_pool_that_never_started_a_thread_returns_at_once() {
        assert!(leaked(2).shut_down(Duration::ZERO));
    }
}
