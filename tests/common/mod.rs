//! Helpers shared by the Rust integration tests.
#![allow(dead_code)]

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
