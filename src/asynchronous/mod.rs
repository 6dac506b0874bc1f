//! `AsyncSessionManager`: the manager's methods as futures, for event loops (asyncio,
//! Kotlin coroutines, Swift concurrency).
//!
//! Each call runs the same [`SessionManager`] method on a bounded pool of worker
//! threads (see [`pool`]), so the caller's event loop or thread never waits for the
//! store (SQLite's fsync, a host store's I/O). The futures need no async runtime: the
//! host's executor polls them through UniFFI, and the worker wakes them.
//!
//! A cancelled call (the host dropped or cancelled the await) either happened in full
//! or not at all: a call that a worker has not started yet never runs, and one that has
//! started runs to its end (each operation is one atomic store change) and its result
//! is dropped.

mod pool;
mod wakeups;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::clock::Clock;
use crate::error::{Result, SessionError};
use crate::events::SessionListener;
use crate::interchange::SessionExport;
use crate::manager::SessionManager;
use crate::model::{CreateSessionOptions, PublicSession, Session, SessionConfig, ValidationResult};
use crate::store::SessionStore;

/// The session manager for event loops: the same constructors and methods as
/// `SessionManager`, each method that works on the store awaitable (a Python coroutine,
/// a Kotlin `suspend` function, a Swift `async` method); `add_listener`, `prefix` and
/// `to_public_session`, which do no store work, are plain methods that return at once. Blocking store work runs on a pool of at most 8
/// library threads shared by all async managers, never on the caller's event loop;
/// a store, clock or listener written in the host language is called on those threads.
///
/// A cancelled await leaves no half-done change: the operation either ran in full (it
/// is one atomic store change) or never started. Errors are the same `SessionError`s.
/// Constructors are not awaitable (they do not wait on a store's work, apart from
/// `open`, which opens the store (a SQLite file, a Redis connection) once at start-up).
///
/// `SessionManager.as_async()` and `AsyncSessionManager.from_manager()` share one
/// manager (one store, clock, listeners and configuration) between synchronous and
/// asynchronous callers.
#[derive(Debug, uniffi::Object)]
pub struct AsyncSessionManager {
    manager: Arc<SessionManager>,
    /// Whether finished calls wake their task through the event loop's thread
    /// (`set_loop_wakeups`) instead of from the worker.
    loop_wakeups: AtomicBool,
}

impl AsyncSessionManager {
    /// The synchronous manager this one runs its calls on.
    pub fn manager(&self) -> &Arc<SessionManager> {
        &self.manager
    }

    /// Runs `call` on the manager in the pool and waits for it without blocking; fails
    /// with `Store` without running it once the pool is shut down
    /// ([`shutdown_async_pool`]).
    async fn run<T, F>(&self, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&SessionManager) -> Result<T> + Send + 'static,
    {
        let manager = Arc::clone(&self.manager);
        let on_loop = self.loop_wakeups.load(Ordering::Relaxed);
        pool::shared()
            .run(on_loop, move || call(&manager))
            .await
            .unwrap_or_else(|shut_down| {
                Err(SessionError::Store {
                    reason: shut_down.to_string(),
                })
            })
    }
}

#[uniffi::export]
impl AsyncSessionManager {
    /// A manager keeping sessions in memory (gone when the process ends), using the
    /// system clock unless `clock` is given.
    #[uniffi::constructor(default(clock = None))]
    pub fn new(config: SessionConfig, clock: Option<Arc<dyn Clock>>) -> Result<Arc<Self>> {
        SessionManager::new(config, clock).map(Self::from_manager)
    }

    /// A manager keeping sessions at the location `path`, using the system clock unless
    /// `clock` is given; it takes every location `SessionManager.open` takes and opens
    /// the store before returning (not awaitable):
    ///
    /// - a SQLite database file path (created if missing; `:memory:` is a private
    ///   in-memory SQLite database, gone with the manager);
    /// - `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS);
    /// - a Redis Cluster as `redis+cluster://host1:port1,host2:port2,…`
    ///   (`rediss+cluster://` with TLS).
    ///
    /// Redis locations take the query parameters listed at `SessionManager.open`
    /// (`timeout_ms`, `pool_size`, `prefix`, …). Fails as `SessionManager.open` does:
    /// `Store` for a file that is not a sessions database or a server that cannot be
    /// reached (never showing a password), `InvalidConfig` / `InvalidLifetime` for a bad
    /// configuration. For a SQLite durability other than `Full`:
    /// `SessionManager.open_with_durability(…).as_async()`.
    #[uniffi::constructor(default(clock = None))]
    pub fn open(
        path: String,
        config: SessionConfig,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Arc<Self>> {
        SessionManager::open(path, config, clock).map(Self::from_manager)
    }

    /// A manager over a store implemented by the host (or any other `SessionStore`).
    /// The store's methods are called on the library's worker threads, one call at a
    /// time per operation, several operations at once: it must be thread-safe.
    #[uniffi::constructor(default(clock = None))]
    pub fn with_store(
        config: SessionConfig,
        store: Arc<dyn SessionStore>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Arc<Self>> {
        SessionManager::with_store(config, store, clock).map(Self::from_manager)
    }

    /// The async face of an existing manager: both share its store, clock, listeners
    /// and configuration, so synchronous and asynchronous callers can be mixed.
    #[uniffi::constructor]
    pub fn from_manager(manager: Arc<SessionManager>) -> Arc<Self> {
        Arc::new(AsyncSessionManager {
            manager,
            loop_wakeups: AtomicBool::new(false),
        })
    }

    /// For an event loop that must not share a lock with the library's threads (the
    /// Python package calls it for asyncio; Kotlin and Swift never need it). With
    /// `enabled`, a finished call of this manager does not wake its task from a library
    /// thread: it queues the wake-up and makes the returned file descriptor readable, and
    /// the loop then calls the free function `run_loop_wakeups` on its own thread. The caller must watch
    /// the descriptor on every loop that awaits this manager, or its calls never finish.
    /// Returns the descriptor (the same for the whole process); fails with `Store` where
    /// it cannot exist (not Unix). Without `enabled` (the default), wake-ups are direct.
    pub fn set_loop_wakeups(&self, enabled: bool) -> Result<i32> {
        let fd = wakeups::fd().map_err(|e| SessionError::Store {
            reason: format!("loop wake-ups are not available: {e}"),
        })?;
        self.loop_wakeups.store(enabled, Ordering::Relaxed);
        Ok(fd)
    }

    /// `SessionManager.create`, awaitable: creates and stores a session; the returned
    /// value is the only one that carries the raw token.
    pub async fn create(&self, options: CreateSessionOptions) -> Result<Session> {
        self.run(move |m| m.create(options)).await
    }

    /// `SessionManager.validate`, awaitable: checks unknown token, revoked, expired,
    /// then user agent, and slides a sliding session.
    #[uniffi::method(default(user_agent = None))]
    pub async fn validate(
        &self,
        token: String,
        user_agent: Option<String>,
    ) -> Result<ValidationResult> {
        self.run(move |m| m.validate(token, user_agent)).await
    }

    /// `SessionManager.destroy`, awaitable: revokes a session by id; false if it was
    /// already revoked, `SessionNotFound` for an unknown id.
    pub async fn destroy(&self, session_id: String) -> Result<bool> {
        self.run(move |m| m.destroy(session_id)).await
    }

    /// `SessionManager.refresh`, awaitable: rotates a token (within the rotation grace,
    /// the same new token again).
    #[uniffi::method(default(user_agent = None))]
    pub async fn refresh(&self, token: String, user_agent: Option<String>) -> Result<Session> {
        self.run(move |m| m.refresh(token, user_agent)).await
    }

    /// `SessionManager.list_for_user`, awaitable: the user's active sessions, oldest
    /// first.
    pub async fn list_for_user(&self, user_id: String) -> Result<Vec<Session>> {
        self.run(move |m| m.list_for_user(user_id)).await
    }

    /// `SessionManager.destroy_all_for_user`, awaitable: revokes every session of a user
    /// and returns how many.
    pub async fn destroy_all_for_user(&self, user_id: String) -> Result<i64> {
        self.run(move |m| m.destroy_all_for_user(user_id)).await
    }

    /// The public view of a session: no token, no hash. Not awaitable: it does no store
    /// work and returns at once.
    pub fn to_public_session(&self, session: Session) -> PublicSession {
        self.manager.to_public_session(session)
    }

    /// `SessionManager.get`, awaitable: the stored session with this id (its `token` is
    /// empty), or none.
    pub async fn get(&self, session_id: String) -> Result<Option<Session>> {
        self.run(move |m| m.get(session_id)).await
    }

    /// `SessionManager.purge_expired`, awaitable: removes every expired session and
    /// returns how many.
    pub async fn purge_expired(&self) -> Result<i64> {
        self.run(|m| m.purge_expired()).await
    }

    /// `SessionManager.count`, awaitable: how many sessions the store holds.
    pub async fn count(&self) -> Result<i64> {
        self.run(|m| m.count()).await
    }

    /// The key prefix this manager was configured with. Not awaitable: it does no store
    /// work and returns at once.
    pub fn prefix(&self) -> String {
        self.manager.prefix()
    }

    /// `SessionManager.update_metadata`, awaitable: sets (or, for an absent value,
    /// removes) metadata keys in one atomic conditional write.
    pub async fn update_metadata(
        &self,
        session_id: String,
        changes: HashMap<String, Option<String>>,
    ) -> Result<Session> {
        self.run(move |m| m.update_metadata(session_id, changes))
            .await
    }

    /// `SessionManager.add_listener`: registers a listener for this manager's lifecycle
    /// events; it is called on the library's worker threads. Not awaitable: it does no
    /// store work, and the listener is registered when the call returns (an awaitable
    /// that was never awaited would silently register nothing).
    pub fn add_listener(&self, listener: Arc<dyn SessionListener>) {
        self.manager.add_listener(listener);
    }

    /// `SessionManager.export_json`, awaitable.
    pub async fn export_json(&self) -> Result<String> {
        self.run(|m| m.export_json()).await
    }

    /// `SessionManager.export_sessions`, awaitable.
    pub async fn export_sessions(&self) -> Result<SessionExport> {
        self.run(|m| m.export_sessions()).await
    }

    /// `SessionManager.import_json`, awaitable: all entries are stored, or none.
    pub async fn import_json(&self, json: String) -> Result<i64> {
        self.run(move |m| m.import_json(json)).await
    }
}

/// For the event loop watching the descriptor of `AsyncSessionManager.set_loop_wakeups`
/// (the Python package's asyncio integration): wakes, on the calling thread, every task
/// whose call finished since the last time (of any manager with loop wake-ups), after
/// reading the descriptor's signal. It needs no manager, so the loop keeps none alive.
#[uniffi::export]
pub fn run_loop_wakeups() {
    wakeups::run();
}

/// Stops the worker pool of every `AsyncSessionManager` for good, for a host whose
/// runtime is about to be torn down (the Python package calls it from `atexit`, so no
/// library thread calls into an interpreter that is being finalized; Kotlin and Swift do
/// not need it). From the call on, no queued call starts (it never happens), a new call
/// fails with `Store` without running, and no finished call wakes its task (its result
/// is dropped); a call that is running is never interrupted: it finishes its store change
/// in full. Waits until no call is queued or running, at most `timeout_ms` milliseconds,
/// and returns whether that happened in time (false: a call is still running, e.g. a
/// store slower than the timeout). Irreversible; calling it again only waits again.
#[uniffi::export]
pub fn shutdown_async_pool(timeout_ms: u64) -> bool {
    pool::shared().shut_down(std::time::Duration::from_millis(timeout_ms))
}

#[uniffi::export]
impl SessionManager {
    /// This manager for event loops: an `AsyncSessionManager` sharing its store, clock,
    /// listeners and configuration.
    pub fn as_async(self: Arc<Self>) -> Arc<AsyncSessionManager> {
        AsyncSessionManager::from_manager(self)
    }
}
