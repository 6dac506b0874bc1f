//! `AsyncSessionManager`: every method against the synchronous manager's results, the
//! same typed errors, store work on the library's worker threads (never the caller's),
//! cancellation (a cancelled call happened in full or not at all, and the store's
//! invariants hold after many cancelled creates and refreshes), a store and a clock
//! written outside the library, and many callers at once.
//!
//! The worker pool is shared by the whole process, so the tests that occupy it take
//! turns (`POOL`).

mod async_support;
mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use async_support::{block_on, poll_once_then_drop};
use common::{TestClock, HOUR};
use parking_lot::{Condvar, Mutex};
use sessions::{
    AsyncSessionManager, Clock, ClockError, CreateSessionOptions, ListenerError, MemoryStore,
    Session, SessionConfig, SessionError, SessionEvent, SessionListener, SessionManager,
    SessionScan, SessionStore, SqliteStore, ValidationError,
};

/// Serialises the tests that depend on what the shared worker pool is doing.
static POOL: Mutex<()> = Mutex::new(());

/// The pool's bound (`MAX_WORKERS` in src/asynchronous/pool.rs).
const WORKERS: usize = 8;

fn options(user: &str) -> CreateSessionOptions {
    CreateSessionOptions::for_user(user)
}

fn async_manager() -> (Arc<AsyncSessionManager>, Arc<TestClock>) {
    let clock = TestClock::new();
    let manager = AsyncSessionManager::new(
        SessionConfig::default(),
        Some(clock.clone() as Arc<dyn Clock>),
    )
    .expect("valid config");
    (manager, clock)
}

// ---------------------------------------------------------------------------------------
// A store standing in for a host's: records the threads it is called on, can hold
// `insert` and `count` calls until the test lets them go.

#[derive(Default)]
struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
    waiting: AtomicUsize,
}

impl Gate {
    fn close(&self) {
        *self.closed.lock() = true;
    }

    fn open(&self) {
        *self.closed.lock() = false;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        while *closed {
            assert!(Instant::now() < deadline, "a gate stayed closed for 30 s");
            self.opened
                .wait_for(&mut closed, Duration::from_millis(100));
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Waits until `n` callers wait at the gate.
    fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.waiting.load(Ordering::SeqCst) < n {
            let waiting = self.waiting.load(Ordering::SeqCst);
            assert!(
                Instant::now() < deadline,
                "only {waiting} callers reached the gate"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
}

struct HostStore {
    inner: Arc<dyn SessionStore>,
    threads: Mutex<HashSet<String>>,
    inserts: Gate,
    counts: Gate,
}

impl HostStore {
    fn over(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(HostStore {
            inner,
            threads: Mutex::default(),
            inserts: Gate::default(),
            counts: Gate::default(),
        })
    }

    fn seen(&self) {
        let name = thread::current().name().unwrap_or("(unnamed)").to_owned();
        self.threads.lock().insert(name);
    }
}

impl SessionStore for HostStore {
    fn insert(&self, session: Session) -> Result<(), SessionError> {
        self.seen();
        self.inserts.pass();
        self.inner.insert(session)
    }
    fn insert_all(&self, sessions: Vec<Session>) -> Result<(), SessionError> {
        self.seen();
        self.inner.insert_all(sessions)
    }
    fn insert_limited(
        &self,
        session: Session,
        max_active: i32,
        now: SystemTime,
        revoke_oldest: bool,
    ) -> Result<Vec<String>, SessionError> {
        self.seen();
        self.inner
            .insert_limited(session, max_active, now, revoke_oldest)
    }
    fn get(&self, session_id: String) -> Result<Option<Session>, SessionError> {
        self.seen();
        self.inner.get(session_id)
    }
    fn find_by_token_hash(&self, token_hash: String) -> Result<Option<Session>, SessionError> {
        self.seen();
        self.inner.find_by_token_hash(token_hash)
    }
    fn compare_and_swap(
        &self,
        expected_token_hash: String,
        expected_version: i64,
        session: Session,
    ) -> Result<bool, SessionError> {
        self.seen();
        self.inner
            .compare_and_swap(expected_token_hash, expected_version, session)
    }
    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>, SessionError> {
        self.seen();
        self.inner.list_for_user(user_id)
    }
    fn revoke_all_for_user(
        &self,
        user_id: String,
        at: SystemTime,
    ) -> Result<Vec<String>, SessionError> {
        self.seen();
        self.inner.revoke_all_for_user(user_id, at)
    }
    fn purge_expired(&self, now: SystemTime) -> Result<i64, SessionError> {
        self.seen();
        self.inner.purge_expired(now)
    }
    fn count(&self) -> Result<i64, SessionError> {
        self.seen();
        self.counts.pass();
        self.inner.count()
    }
    fn all_sessions(&self) -> Result<SessionScan, SessionError> {
        self.seen();
        self.inner.all_sessions()
    }
}

/// A clock that records the threads it is read on.
struct HostClock {
    inner: Arc<TestClock>,
    threads: Mutex<HashSet<String>>,
}

impl Clock for HostClock {
    fn now(&self) -> Result<SystemTime, ClockError> {
        let name = thread::current().name().unwrap_or("(unnamed)").to_owned();
        self.threads.lock().insert(name);
        self.inner.now()
    }
}

/// Waits until every job queued on the pool before this call has finished: occupies all
/// of its workers at once (each waiting in `count` until all have arrived), which the
/// FIFO queue only allows once every earlier job has left its worker.
fn drain(manager: &Arc<AsyncSessionManager>, store: &HostStore) {
    store.counts.close();
    let callers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let manager = Arc::clone(manager);
            thread::spawn(move || block_on(manager.count()).expect("count"))
        })
        .collect();
    store.counts.wait_for(WORKERS);
    store.counts.open();
    for caller in callers {
        caller.join().expect("a draining caller");
    }
}

// ---------------------------------------------------------------------------------------
// Every method

#[derive(Default)]
struct Recorder(Mutex<Vec<SessionEvent>>);

impl SessionListener for Recorder {
    fn on_event(&self, event: SessionEvent) -> Result<(), ListenerError> {
        self.0.lock().push(event);
        Ok(())
    }
}

#[test]
fn every_method_works_awaited() {
    let (manager, clock) = async_manager();
    let events = Arc::new(Recorder::default());
    manager.add_listener(events.clone()); // not a future: no store work
    assert_eq!(manager.prefix(), SessionConfig::default().prefix);

    let created = block_on(manager.create(CreateSessionOptions {
        metadata: Some(HashMap::from([("role".to_owned(), "admin".to_owned())])),
        sliding_expiration: true,
        ..options("alice")
    }))
    .expect("create");
    assert!(!created.token.is_empty());

    let checked = block_on(manager.validate(created.token.clone(), None)).expect("validate");
    assert!(checked.valid);
    assert_eq!(
        checked.session.as_ref().map(|s| s.id.as_str()),
        Some(created.id.as_str())
    );

    let got = block_on(manager.get(created.id.clone()))
        .expect("get")
        .expect("found");
    assert_eq!(got.id, created.id);
    assert!(got.token.is_empty());

    let public = manager.to_public_session(created.clone());
    assert_eq!(public.id, created.id);

    let updated = block_on(manager.update_metadata(
        created.id.clone(),
        HashMap::from([
            ("role".to_owned(), None),
            ("theme".to_owned(), Some("dark".to_owned())),
        ]),
    ))
    .expect("update_metadata");
    assert_eq!(
        updated.metadata,
        Some(HashMap::from([("theme".to_owned(), "dark".to_owned())]))
    );

    clock.advance(Duration::from_secs(1));
    let rotated = block_on(manager.refresh(created.token.clone(), None)).expect("refresh");
    assert_ne!(rotated.token, created.token);
    let again = block_on(manager.refresh(created.token.clone(), None)).expect("refresh in grace");
    assert_eq!(again.token, rotated.token);

    let second = block_on(manager.create(options("alice"))).expect("second create");
    let listed = block_on(manager.list_for_user("alice".into())).expect("list");
    assert_eq!(
        listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![created.id.as_str(), second.id.as_str()]
    );
    assert_eq!(block_on(manager.count()), Ok(2));

    let export = block_on(manager.export_sessions()).expect("export_sessions");
    assert_eq!(export.exported, 2);
    assert!(export.damaged.is_empty());
    let json = block_on(manager.export_json()).expect("export_json");
    let (other, _) = async_manager();
    assert_eq!(block_on(other.import_json(json)), Ok(2));
    assert_eq!(block_on(other.count()), Ok(2));

    assert_eq!(block_on(manager.destroy(second.id.clone())), Ok(true));
    assert_eq!(block_on(manager.destroy(second.id.clone())), Ok(false));
    assert_eq!(
        block_on(manager.destroy_all_for_user("alice".into())),
        Ok(1)
    );
    let revoked = block_on(manager.validate(rotated.token, None)).expect("validate");
    assert_eq!(revoked.error, Some(ValidationError::SessionRevoked));

    clock.advance(25 * HOUR);
    assert_eq!(block_on(manager.purge_expired()), Ok(2));
    assert_eq!(block_on(manager.count()), Ok(0));

    let kinds: Vec<&str> = events
        .0
        .lock()
        .iter()
        .map(|e| match e {
            SessionEvent::Created { .. } => "created",
            SessionEvent::Rotated { .. } => "rotated",
            SessionEvent::Revoked { .. } => "revoked",
            SessionEvent::MetadataUpdated { .. } => "metadata",
            SessionEvent::Purged { .. } => "purged",
        })
        .collect();
    assert_eq!(
        kinds,
        ["created", "metadata", "rotated", "created", "revoked", "revoked", "purged"]
    );
}

#[test]
fn errors_are_the_same_typed_errors() {
    let (manager, _) = async_manager();
    assert_eq!(
        block_on(manager.refresh("not-a-token".into(), None)),
        Err(SessionError::InvalidToken)
    );
    let unknown = block_on(manager.validate(String::new(), None)).expect("validate");
    assert_eq!(unknown.error, Some(ValidationError::InvalidToken));
    assert_eq!(
        block_on(manager.destroy("nope".into())),
        Err(SessionError::SessionNotFound {
            session_id: "nope".into()
        })
    );
    assert!(matches!(
        block_on(manager.create(options(""))),
        Err(SessionError::InvalidUserId { .. })
    ));
    assert!(matches!(
        block_on(manager.list_for_user(String::new())),
        Err(SessionError::InvalidUserId { .. })
    ));
    assert!(matches!(
        block_on(manager.update_metadata("nope".into(), HashMap::new())),
        Err(SessionError::SessionNotFound { .. })
    ));
    assert!(matches!(
        block_on(manager.import_json("[{}]".into())),
        Err(SessionError::Import { .. })
    ));
    let bad = SessionConfig {
        prefix: String::new(),
        ..SessionConfig::default()
    };
    assert!(matches!(
        AsyncSessionManager::new(bad, None),
        Err(SessionError::InvalidConfig { .. })
    ));
}

#[test]
fn open_and_as_async_share_one_manager() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir
        .path()
        .join("sessions.sqlite")
        .to_string_lossy()
        .into_owned();
    let manager =
        AsyncSessionManager::open(path.clone(), SessionConfig::default(), None).expect("open");
    let session = block_on(manager.create(options("bob"))).expect("create");

    // Another manager on the same file sees it; its sync and async faces are one manager.
    let sync = SessionManager::open(path, SessionConfig::default(), None).expect("open again");
    let shared = Arc::clone(&sync).as_async();
    assert!(
        sync.validate(session.token.clone(), None)
            .expect("sync")
            .valid
    );
    assert!(
        block_on(shared.validate(session.token.clone(), None))
            .expect("async")
            .valid
    );
    let events = Arc::new(Recorder::default());
    sync.add_listener(events.clone());
    block_on(shared.destroy(session.id)).expect("destroy");
    assert_eq!(
        events.0.lock().len(),
        1,
        "the listener added through the sync face"
    );
    assert!(Arc::ptr_eq(shared.manager(), &sync));
}

#[test]
fn store_and_clock_calls_run_on_the_library_threads() {
    let _turn = POOL.lock();
    let store = HostStore::over(Arc::new(MemoryStore::new()));
    let clock = Arc::new(HostClock {
        inner: TestClock::new(),
        threads: Mutex::default(),
    });
    let manager = AsyncSessionManager::with_store(
        SessionConfig::default(),
        store.clone(),
        Some(clock.clone() as Arc<dyn Clock>),
    )
    .expect("with_store");
    let session = block_on(manager.create(options("carol"))).expect("create");
    block_on(manager.validate(session.token.clone(), None)).expect("validate");
    block_on(manager.refresh(session.token, None)).expect("refresh");
    let caller = thread::current().name().map(str::to_owned);
    for threads in [store.threads.lock().clone(), clock.threads.lock().clone()] {
        assert!(!threads.is_empty());
        for name in threads {
            assert!(name.starts_with("sessions-pool-"), "called on {name:?}");
            assert_ne!(Some(name), caller);
        }
    }
}

#[test]
fn a_failing_host_clock_is_a_clock_error() {
    struct Broken;
    impl Clock for Broken {
        fn now(&self) -> Result<SystemTime, ClockError> {
            Err(ClockError::Failed {
                reason: "no time".into(),
            })
        }
    }
    let manager = AsyncSessionManager::new(SessionConfig::default(), Some(Arc::new(Broken)))
        .expect("manager");
    assert!(matches!(
        block_on(manager.create(options("dave"))),
        Err(SessionError::Clock { .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Cancellation

#[test]
fn a_cancelled_create_that_started_is_stored_in_full() {
    let _turn = POOL.lock();
    let store = HostStore::over(Arc::new(MemoryStore::new()));
    let manager = AsyncSessionManager::with_store(SessionConfig::default(), store.clone(), None)
        .expect("with_store");
    store.inserts.close();
    let mut call = Box::pin(manager.create(options("erin")));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(call.as_mut().poll(&mut cx).is_pending());
    store.inserts.wait_for(1); // the job runs: it is inside the store's insert
    drop(call); // cancelled while running
    store.inserts.open();
    drain(&manager, &store);
    let listed = block_on(manager.list_for_user("erin".into())).expect("list");
    assert_eq!(listed.len(), 1, "the started create finished");
    assert_eq!(block_on(manager.count()), Ok(1));
}

#[test]
fn a_cancelled_create_that_had_not_started_never_runs() {
    let _turn = POOL.lock();
    let store = HostStore::over(Arc::new(MemoryStore::new()));
    let manager = AsyncSessionManager::with_store(SessionConfig::default(), store.clone(), None)
        .expect("with_store");
    store.inserts.close();
    // Occupy every worker with a create held inside the store...
    let held: Vec<_> = (0..WORKERS)
        .map(|i| {
            let manager = Arc::clone(&manager);
            thread::spawn(move || block_on(manager.create(options(&format!("held{i}")))))
        })
        .collect();
    store.inserts.wait_for(WORKERS);
    // ...so this one waits in the queue, and is cancelled there.
    assert!(poll_once_then_drop(manager.create(options("never"))).is_none());
    store.inserts.open();
    for h in held {
        h.join().expect("a held create").expect("created");
    }
    drain(&manager, &store);
    assert_eq!(block_on(manager.count()), Ok(WORKERS as i64));
    assert!(block_on(manager.list_for_user("never".into()))
        .expect("list")
        .is_empty());
}

#[test]
fn many_cancelled_creates_and_refreshes_leave_the_store_consistent() {
    let _turn = POOL.lock();
    let dir = tempfile::tempdir().expect("temporary directory");
    let sqlite = SqliteStore::open(dir.path().join("s.sqlite")).expect("SQLite store");
    let store = HostStore::over(Arc::new(sqlite));
    let manager = AsyncSessionManager::with_store(SessionConfig::default(), store.clone(), None)
        .expect("with_store");
    let originals: Vec<Session> = (0..40)
        .map(|i| block_on(manager.create(options(&format!("user{}", i % 5)))).expect("create"))
        .collect();

    // Cancel 200 calls at different moments: at once, or after a short while.
    let cancelled_creates = AtomicUsize::new(0);
    thread::scope(|scope| {
        for t in 0..4 {
            let (manager, originals, cancelled_creates) =
                (&manager, &originals, &cancelled_creates);
            scope.spawn(move || {
                for i in 0..50 {
                    let wait = Duration::from_micros(((t * 50 + i) % 7) as u64 * 300);
                    let create = (i % 2) == 0;
                    let outcome = if create {
                        cancelled_creates.fetch_add(1, Ordering::SeqCst);
                        let call = manager.create(options(&format!("user{}", i % 5)));
                        cancel_after(call, wait).map(|r| r.map(|_| ()))
                    } else {
                        let token = originals[(t * 13 + i) % originals.len()].token.clone();
                        cancel_after(manager.refresh(token, None), wait).map(|r| r.map(|_| ()))
                    };
                    if let Some(result) = outcome {
                        result.expect("a call that completed before its cancellation");
                    }
                }
            });
        }
    });
    drain(&manager, &store);

    // Every stored session is whole, counted and listed; none is revoked; each original
    // was rotated at most once (concurrent refreshes of one token converge) and its
    // token still validates (current, or within the rotation grace).
    let export = block_on(manager.export_sessions()).expect("export");
    assert!(export.damaged.is_empty(), "damaged: {:?}", export.damaged);
    let count = block_on(manager.count()).expect("count");
    assert_eq!(export.exported, count);
    let listed: usize = (0..5)
        .map(|u| {
            block_on(manager.list_for_user(format!("user{u}")))
                .expect("list")
                .len()
        })
        .sum();
    assert_eq!(listed as i64, count);
    let created = usize::try_from(count).expect("count") - originals.len();
    assert!(created <= cancelled_creates.load(Ordering::SeqCst));
    for original in &originals {
        let stored = block_on(manager.get(original.id.clone()))
            .expect("get")
            .expect("still stored");
        assert!(stored.revoked_at.is_none());
        assert!(stored.version <= 2, "rotated {} times", stored.version - 1);
        let checked = block_on(manager.validate(original.token.clone(), None)).expect("validate");
        assert!(checked.valid, "{:?}", checked.error);
    }
}

/// Polls `future` until it completes or `wait` has passed, then drops it.
fn cancel_after<F: std::future::Future>(future: F, wait: Duration) -> Option<F::Output> {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = std::pin::pin!(future);
    let deadline = Instant::now() + wait;
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_micros(100));
    }
}

// ---------------------------------------------------------------------------------------
// Many callers

#[test]
fn eight_callers_at_once_on_sqlite() {
    let _turn = POOL.lock();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("s.sqlite").to_string_lossy().into_owned();
    let manager = AsyncSessionManager::open(path, SessionConfig::default(), None).expect("open");
    let failed = AtomicBool::new(false);
    thread::scope(|scope| {
        for t in 0..8 {
            let (manager, failed) = (&manager, &failed);
            scope.spawn(move || {
                for _ in 0..10 {
                    let outcome = (|| {
                        let s = block_on(manager.create(options(&format!("u{t}"))))?;
                        let r = block_on(manager.validate(s.token.clone(), None))?;
                        assert!(r.valid);
                        let n = block_on(manager.refresh(s.token, None))?;
                        assert!(block_on(manager.validate(n.token, None))?.valid);
                        Ok::<_, SessionError>(())
                    })();
                    if let Err(e) = outcome {
                        eprintln!("caller {t}: {e}");
                        failed.store(true, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert!(!failed.load(Ordering::SeqCst));
    assert_eq!(block_on(manager.count()), Ok(80));
}

// ---------------------------------------------------------------------------------------
// Loop wake-ups (the Python package's asyncio integration)

#[cfg(unix)]
#[test]
fn with_loop_wakeups_a_finished_call_wakes_its_task_only_through_run_loop_wakeups() {
    use std::task::{Context, Poll, Wake, Waker};

    /// Records the threads it was woken on.
    struct Woken(Mutex<Vec<thread::ThreadId>>);
    impl Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.0.lock().push(thread::current().id());
        }
    }

    let _turn = POOL.lock();
    // The store holds the insert until the first poll has returned: an unheld create
    // can finish on an idle worker before that poll looks, and be Ready at once.
    let store = HostStore::over(Arc::new(MemoryStore::new()));
    let manager = AsyncSessionManager::with_store(SessionConfig::default(), store.clone(), None)
        .expect("with_store");
    assert!(manager.set_loop_wakeups(true).expect("Unix") >= 0);
    let woken = Arc::new(Woken(Mutex::default()));
    let waker = Waker::from(Arc::clone(&woken));
    let mut cx = Context::from_waker(&waker);
    store.inserts.close();
    let mut call = Box::pin(manager.create(options("frank")));
    assert!(call.as_mut().poll(&mut cx).is_pending());
    store.inserts.wait_for(1);
    store.inserts.open();
    // The call finishes on a worker, which must not wake the task itself.
    let deadline = Instant::now() + Duration::from_secs(30);
    while manager.manager().count().expect("count") == 0 {
        assert!(Instant::now() < deadline, "the create never ran");
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(Duration::from_millis(20));
    assert!(woken.0.lock().is_empty(), "woken by a worker");
    sessions::run_loop_wakeups();
    assert_eq!(*woken.0.lock(), vec![thread::current().id()]);
    let Poll::Ready(session) = call.as_mut().poll(&mut cx) else {
        panic!("woken but not ready");
    };
    assert_eq!(session.expect("created").user_id, "frank");

    // Turned off again: wake-ups are direct.
    manager.set_loop_wakeups(false).expect("Unix");
    assert!(block_on(manager.validate("x".into(), None)).is_ok());
}
