//! Helpers shared by the Rust integration tests.
#![allow(dead_code)]

pub mod redis_env;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sessions::{Clock, ClockError, SessionConfig, SessionManager};

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct TestClock(Mutex<SystemTime>);

impl TestClock {
    /// A clock at 2026-01-01T00:00:00Z.
    pub fn new() -> Arc<Self> {
        Self::starting_at(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
    }

    /// A clock at `t`.
    pub fn starting_at(t: SystemTime) -> Arc<Self> {
        Arc::new(TestClock(Mutex::new(t)))
    }

    pub fn advance(&self, d: Duration) {
        *self.0.lock() += d;
    }

    pub fn set(&self, t: SystemTime) {
        *self.0.lock() = t;
    }

    pub fn at(&self) -> SystemTime {
        *self.0.lock()
    }
}

impl Clock for TestClock {
    fn now(&self) -> Result<SystemTime, ClockError> {
        Ok(*self.0.lock())
    }
}

pub const HOUR: Duration = Duration::from_secs(3600);

/// A manager on an in-memory store with a test clock.
pub fn manager_with(config: SessionConfig) -> (Arc<SessionManager>, Arc<TestClock>) {
    let clock = TestClock::new();
    let manager =
        SessionManager::new(config, Some(clock.clone() as Arc<dyn Clock>)).expect("valid config");
    (manager, clock)
}

pub fn manager() -> (Arc<SessionManager>, Arc<TestClock>) {
    manager_with(SessionConfig::default())
}

/// A hook run inside a store call, before the call itself.
pub type Hook = Box<dyn FnOnce() + Send>;

/// A memory store standing in for a host store, with faults and interleavings a test
/// can script: hooks run before the next compare-and-swap (so another change can land
/// between a caller's read and its write), a failing purge or batch insert, counts
/// that come back negative (a host store's bug), and a function that rewrites every
/// session it returns (damaged records).
pub struct HookedStore {
    pub inner: Arc<dyn SessionStore>,
    pub before_cas: Mutex<std::collections::VecDeque<Hook>>,
    pub fail_purge: std::sync::atomic::AtomicBool,
    pub fail_insert_all: std::sync::atomic::AtomicBool,
    pub negative_counts: std::sync::atomic::AtomicBool,
    #[allow(clippy::type_complexity)]
    pub tamper: Mutex<Option<Box<dyn Fn(sessions::Session) -> sessions::Session + Send>>>,
}

impl Default for HookedStore {
    fn default() -> Self {
        Self::over(Arc::new(sessions::MemoryStore::new()))
    }
}

impl HookedStore {
    /// Over a fresh memory store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Over `inner`.
    pub fn over(inner: Arc<dyn SessionStore>) -> Self {
        HookedStore {
            inner,
            before_cas: Mutex::default(),
            fail_purge: Default::default(),
            fail_insert_all: Default::default(),
            negative_counts: Default::default(),
            tamper: Mutex::default(),
        }
    }

    /// Runs `hook` at the start of the next compare-and-swap.
    pub fn before_next_cas(&self, hook: impl FnOnce() + Send + 'static) {
        self.before_cas.lock().push_back(Box::new(hook));
    }

    /// `count`, or `-1 - count` while `negative_counts` is set.
    fn lie(&self, count: i64) -> i64 {
        if self.negative_counts.load(Ordering::SeqCst) {
            -1 - count
        } else {
            count
        }
    }

    fn out(&self, s: sessions::Session) -> sessions::Session {
        match &*self.tamper.lock() {
            Some(f) => f(s),
            None => s,
        }
    }
}

use sessions::{Session, SessionError, SessionScan, SessionStore};
use std::sync::atomic::Ordering;

impl SessionStore for HookedStore {
    fn insert(&self, session: Session) -> Result<(), SessionError> {
        self.inner.insert(session)
    }
    fn insert_all(&self, sessions: Vec<Session>) -> Result<(), SessionError> {
        if self.fail_insert_all.load(Ordering::SeqCst) {
            return Err(SessionError::Store {
                reason: "insert_all is down".into(),
            });
        }
        self.inner.insert_all(sessions)
    }
    fn get(&self, session_id: String) -> Result<Option<Session>, SessionError> {
        Ok(self.inner.get(session_id)?.map(|s| self.out(s)))
    }
    fn find_by_token_hash(&self, token_hash: String) -> Result<Option<Session>, SessionError> {
        Ok(self
            .inner
            .find_by_token_hash(token_hash)?
            .map(|s| self.out(s)))
    }
    fn compare_and_swap(
        &self,
        expected_token_hash: String,
        expected_version: i64,
        session: Session,
    ) -> Result<bool, SessionError> {
        let hook = self.before_cas.lock().pop_front();
        if let Some(hook) = hook {
            hook();
        }
        self.inner
            .compare_and_swap(expected_token_hash, expected_version, session)
    }
    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>, SessionError> {
        Ok(self
            .inner
            .list_for_user(user_id)?
            .into_iter()
            .map(|s| self.out(s))
            .collect())
    }
    fn insert_limited(
        &self,
        session: Session,
        max_active: i32,
        now: SystemTime,
        revoke_oldest: bool,
    ) -> Result<Vec<String>, SessionError> {
        self.inner
            .insert_limited(session, max_active, now, revoke_oldest)
    }
    fn revoke_all_for_user(
        &self,
        user_id: String,
        at: SystemTime,
    ) -> Result<Vec<String>, SessionError> {
        self.inner.revoke_all_for_user(user_id, at)
    }
    fn purge_expired(&self, now: SystemTime) -> Result<i64, SessionError> {
        if self.fail_purge.load(Ordering::SeqCst) {
            return Err(SessionError::Store {
                reason: "purge is down".into(),
            });
        }
        let purged = self.inner.purge_expired(now)?;
        Ok(self.lie(purged))
    }
    fn count(&self) -> Result<i64, SessionError> {
        Ok(self.lie(self.inner.count()?))
    }
    fn all_sessions(&self) -> Result<SessionScan, SessionError> {
        let mut scan = self.inner.all_sessions()?;
        scan.sessions = scan.sessions.into_iter().map(|s| self.out(s)).collect();
        Ok(scan)
    }
}
