//! `shutdown_async_pool`: the async managers' worker pool stopped for good, as a host
//! does before its runtime is torn down (the Python package, at interpreter exit). Its
//! own test binary, so its own process: the pool it shuts down is the process's.

mod async_support;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::{Duration, SystemTime};

use async_support::block_on;
use parking_lot::Mutex;
use sessions::{
    AsyncSessionManager, Clock, ClockError, CreateSessionOptions, SessionConfig, SessionError,
};

/// The system clock, but its first reading waits for the test's word (and says it
/// started): a call that is running when the pool shuts down.
struct HeldClock {
    started: Mutex<Option<SyncSender<()>>>,
    release: Mutex<Receiver<()>>,
}

impl Clock for HeldClock {
    fn now(&self) -> Result<SystemTime, ClockError> {
        if let Some(started) = self.started.lock().take() {
            let _ = started.send(());
            let _ = self.release.lock().recv_timeout(Duration::from_secs(30));
        }
        Ok(SystemTime::now())
    }
}

struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn after_shutdown_a_running_call_finishes_unwoken_and_new_calls_fail_without_running() {
    let (started_tx, started) = sync_channel(1);
    let (release, gate) = sync_channel(0);
    let clock = Arc::new(HeldClock {
        started: Mutex::new(Some(started_tx)),
        release: Mutex::new(gate),
    });
    let manager =
        AsyncSessionManager::new(SessionConfig::default(), Some(clock)).expect("valid config");

    // A call that is running when the pool shuts down, with a waker it must not use.
    let woken = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&woken));
    let mut running = Box::pin(manager.create(CreateSessionOptions::for_user("alice")));
    assert!(running
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    started
        .recv_timeout(Duration::from_secs(30))
        .expect("the call started");
    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        release.send(()).expect("the insert takes the release");
    });
    assert!(sessions::shutdown_async_pool(30_000), "drained");
    releaser.join().expect("the releaser");
    assert_eq!(
        manager.manager().count().expect("count"),
        1,
        "the running call ran in full"
    );
    assert!(!woken.0.load(Ordering::SeqCst), "woken after the shutdown");

    // A call made after the shutdown fails at once and changes nothing.
    let refused = block_on(manager.create(CreateSessionOptions::for_user("bob")));
    assert!(
        matches!(&refused, Err(SessionError::Store { reason }) if reason.contains("shut down")),
        "{refused:?}"
    );
    assert_eq!(manager.manager().count().expect("count"), 1);
    // Calling it again only waits again (nothing left).
    assert!(sessions::shutdown_async_pool(0));
    // The synchronous manager is not affected.
    assert_eq!(manager.manager().count().expect("count"), 1);
}
