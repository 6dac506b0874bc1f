//! A fork-safe pool of synchronous Redis connections, owned by one process.
//!
//! Why not `r2d2`: it keeps worker threads (its scheduled thread pool opens connections
//! and reaps idle ones in the background). A process that `fork()`s after using the
//! store (a pre-forking server such as gunicorn with `--preload`) gives its child a copy
//! of every lock those threads may hold at that instant, but not the threads: the child
//! then hangs on its first call (seen in `tests/python/test_redis_fork.py`: a child stuck
//! in `parking_lot_core` taking a lock held by the parent's `r2d2-worker`). This pool
//! has no thread of its own: a connection is opened by the caller that needs it, within
//! the location's `connect_timeout_ms`, and kept for reuse while at most `max` exist.
//!
//! Fork: the pool remembers the process that opened its connections. A caller in another
//! process (a child) finds it, and the inherited connections are forgotten, never used
//! (their sockets are the parent's: the two processes would read each other's replies)
//! and never dropped (closing a TLS connection writes to the shared socket); the child
//! opens its own. redis-py's `ConnectionPool` makes the same check.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use redis::RedisResult;

/// Opens connections of one kind and tells whether one is still usable.
pub(super) trait Connector: Send + Sync {
    /// A connection to the server or cluster.
    type Connection: Send;
    /// Opens a connection (bounded by the location's connect timeout).
    fn connect(&self) -> RedisResult<Self::Connection>;
    /// Whether a connection returned without failure can be used again.
    fn is_open(connection: &Self::Connection) -> bool;
}

/// Why no connection could be had.
#[derive(Debug)]
pub(super) enum Checkout {
    /// Opening a connection failed.
    Connect(redis::RedisError),
    /// Every one of the pool's connections stayed in use for the whole wait.
    Busy {
        /// The pool's size.
        max: usize,
        /// How long the caller waited.
        waited: Duration,
    },
}

/// Connections of one process: at most `max` at a time, idle ones kept for reuse.
pub(super) struct Pool<K: Connector> {
    connector: K,
    max: usize,
    wait: Duration,
    state: Mutex<State<K::Connection>>,
    returned: Condvar,
}

struct State<C> {
    /// The process the connections below belong to.
    pid: u32,
    idle: Vec<C>,
    /// Connections checked out or being opened.
    out: usize,
}

impl<C> State<C> {
    /// Takes the pool over for the calling process: after a `fork()`, the parent's
    /// connections are forgotten (see the module's docs).
    fn adopt(&mut self) {
        let pid = std::process::id();
        if self.pid != pid {
            for inherited in self.idle.drain(..) {
                std::mem::forget(inherited);
            }
            self.out = 0;
            self.pid = pid;
        }
    }
}

impl<K: Connector> Pool<K> {
    /// A pool of at most `max` (at least 1) connections opened by `connector`; a caller
    /// finding them all in use waits up to `wait` for one. Opens nothing yet.
    pub(super) fn new(connector: K, max: usize, wait: Duration) -> Self {
        Pool {
            connector,
            max: max.max(1),
            wait,
            state: Mutex::new(State {
                pid: std::process::id(),
                idle: Vec::new(),
                out: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// A connection for the caller's exclusive use until the guard is dropped.
    pub(super) fn get(&self) -> Result<Pooled<'_, K>, Checkout> {
        let started = Instant::now();
        let deadline = started + self.wait;
        let mut state = self.state.lock();
        loop {
            state.adopt();
            let pid = state.pid;
            if let Some(connection) = state.idle.pop() {
                state.out += 1;
                let mut pooled = Pooled::new(self, connection, pid);
                pooled.reused = true;
                return Ok(pooled);
            }
            if state.out < self.max {
                state.out += 1;
                drop(state);
                return match self.connector.connect() {
                    Ok(connection) => Ok(Pooled::new(self, connection, pid)),
                    Err(e) => {
                        self.give_back(None, pid);
                        Err(Checkout::Connect(e))
                    }
                };
            }
            if self.returned.wait_until(&mut state, deadline).timed_out() {
                return Err(Checkout::Busy {
                    max: self.max,
                    waited: started.elapsed(),
                });
            }
        }
    }

    /// Closes every idle connection (after one was found dead: a restarted or failed-over
    /// server has closed them all), so the next callers open fresh ones.
    pub(super) fn discard_idle(&self) {
        let idle = {
            let mut state = self.state.lock();
            state.adopt();
            std::mem::take(&mut state.idle)
        };
        drop(idle);
    }

    /// Ends a checkout made in process `pid`, keeping `connection` for reuse if given.
    fn give_back(&self, connection: Option<K::Connection>, pid: u32) {
        let mut state = self.state.lock();
        if state.pid != pid {
            // Checked out before a fork that this process then adopted: not ours.
            std::mem::forget(connection);
            return;
        }
        state.out = state.out.saturating_sub(1);
        if let Some(connection) = connection {
            state.idle.push(connection);
        }
        drop(state);
        self.returned.notify_one();
    }
}

/// A checked-out connection; returned to the pool when dropped unless marked broken.
pub(super) struct Pooled<'a, K: Connector> {
    pool: &'a Pool<K>,
    connection: Option<K::Connection>,
    pid: u32,
    broken: bool,
    reused: bool,
}

impl<'a, K: Connector> Pooled<'a, K> {
    fn new(pool: &'a Pool<K>, connection: K::Connection, pid: u32) -> Self {
        Pooled {
            pool,
            connection: Some(connection),
            pid,
            broken: false,
            reused: false,
        }
    }

    /// Whether the connection was kept from an earlier call (it may have been closed
    /// by the server since) rather than opened for this one.
    pub(super) fn reused(&self) -> bool {
        self.reused
    }

    /// The connection.
    pub(super) fn connection(&mut self) -> &mut K::Connection {
        // Some from `new` until `drop` takes it.
        self.connection
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }

    /// Closes the connection when it is returned instead of reusing it (after an I/O
    /// error or a timeout a reply may still be in flight on it).
    pub(super) fn mark_broken(&mut self) {
        self.broken = true;
    }
}

impl<K: Connector> Drop for Pooled<'_, K> {
    fn drop(&mut self) {
        let connection = self
            .connection
            .take()
            .filter(|c| !self.broken && K::is_open(c));
        self.pool.give_back(connection, self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts connections opened and dropped; `fail` makes `connect` fail.
    #[derive(Default)]
    struct Counter {
        opened: AtomicUsize,
        dropped: Arc<AtomicUsize>,
        fail: std::sync::atomic::AtomicBool,
    }

    struct Fake {
        number: usize,
        open: bool,
        dropped: Arc<AtomicUsize>,
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Connector for Counter {
        type Connection = Fake;
        fn connect(&self) -> RedisResult<Fake> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::IoError,
                    "refused by the test",
                )));
            }
            Ok(Fake {
                number: self.opened.fetch_add(1, Ordering::SeqCst),
                open: true,
                dropped: Arc::clone(&self.dropped),
            })
        }
        fn is_open(connection: &Fake) -> bool {
            connection.open
        }
    }

    fn pool(max: usize, wait_ms: u64) -> Pool<Counter> {
        Pool::new(Counter::default(), max, Duration::from_millis(wait_ms))
    }

    #[test]
    fn connections_are_reused() {
        let pool = pool(2, 100);
        for _ in 0..5 {
            let mut c = pool.get().expect("a connection");
            assert_eq!(c.connection().number, 0);
        }
        assert_eq!(pool.connector.opened.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn broken_and_closed_connections_are_not_reused() {
        let pool = pool(2, 100);
        pool.get().expect("a connection").mark_broken();
        pool.get().expect("a connection").connection().open = false;
        assert_eq!(pool.get().expect("a connection").connection().number, 2);
        assert_eq!(pool.connector.dropped.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn at_most_max_connections_and_waiters_time_out() {
        let pool = pool(2, 50);
        let a = pool.get().expect("first");
        let _b = pool.get().expect("second");
        match pool.get() {
            Err(Checkout::Busy { max: 2, waited }) => assert!(waited >= Duration::from_millis(50)),
            other => panic!("expected Busy, got {:?}", other.map(|_| ())),
        }
        drop(a);
        assert_eq!(pool.get().expect("the returned one").connection().number, 0);
    }

    #[test]
    fn a_waiter_gets_a_connection_returned_by_another_thread() {
        let pool = pool(1, 5_000);
        let held = pool.get().expect("the only connection");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| pool.get().map(|mut c| c.connection().number).ok());
            std::thread::sleep(Duration::from_millis(20));
            drop(held);
            assert_eq!(waiter.join().expect("no panic"), Some(0));
        });
    }

    #[test]
    fn a_failed_connect_frees_its_place() {
        let pool = pool(1, 50);
        pool.connector.fail.store(true, Ordering::SeqCst);
        assert!(matches!(pool.get(), Err(Checkout::Connect(_))));
        pool.connector.fail.store(false, Ordering::SeqCst);
        assert!(
            pool.get().is_ok(),
            "the failed attempt must not hold the only place"
        );
    }

    #[test]
    fn many_threads_never_exceed_max() {
        let pool = pool(3, 5_000);
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let _c = pool.get().expect("a connection within 5 s");
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert!(pool.connector.opened.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn reuse_is_reported_and_discarded_idle_connections_are_closed() {
        let pool = pool(2, 100);
        assert!(!pool.get().expect("new").reused());
        assert!(pool.get().expect("kept").reused());
        pool.discard_idle();
        assert_eq!(pool.connector.dropped.load(Ordering::SeqCst), 1);
        let mut fresh = pool.get().expect("fresh");
        assert!(!fresh.reused());
        assert_eq!(fresh.connection().number, 1);
    }

    #[test]
    fn a_forked_child_never_uses_or_drops_the_parents_connections() {
        let pool = pool(2, 100);
        drop(pool.get().expect("a connection")); // idle, opened by "the parent"
        let held_by_parent_thread = {
            let mut state = pool.state.lock();
            state.out += 1; // a parent thread's checkout, in flight at the fork
            state.pid = state.pid.wrapping_add(1); // as a child sees the parent's pool
            state.pid
        };
        let mut c = pool.get().expect("the child's own connection");
        assert_eq!(
            c.connection().number,
            1,
            "a new connection, not the inherited one"
        );
        assert_eq!(
            pool.connector.dropped.load(Ordering::SeqCst),
            0,
            "the inherited connection is forgotten, not closed"
        );
        drop(c);
        // The parent thread's checkout never comes back in the child; if it did, it
        // would not count against the child's pool.
        pool.give_back(None, held_by_parent_thread);
        let _a = pool.get().expect("first");
        let _b = pool.get().expect("second: the child has both places");
    }
}
