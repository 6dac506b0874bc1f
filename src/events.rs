//! Lifecycle events: what happened to which session, for audit logs (OWASP's session
//! management cheat sheet asks applications to log these), delivered to listeners the
//! host registers. An event carries ids, never a token, a hash or a key.

use std::sync::Arc;

use parking_lot::{ReentrantMutex, RwLock};

/// Why a session was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RevocationReason {
    /// `destroy(session_id)`.
    Destroy,
    /// `destroy_all_for_user(user_id)` ("sign out everywhere").
    DestroyAll,
    /// `create` revoked it to keep its user within `max_sessions_per_user`.
    SessionLimit,
    /// Its rotated-out token was presented after the rotation grace (`TokenReused`).
    TokenReuse,
}

/// Something that happened to sessions.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SessionEvent {
    /// A session was created.
    Created {
        /// The session's id.
        session_id: String,
        /// Its user.
        user_id: String,
    },
    /// A session's token was rotated by `refresh` (a refresh within the grace window,
    /// which returns the same token, rotates nothing and sends no event).
    Rotated {
        /// The session's id.
        session_id: String,
        /// Its user.
        user_id: String,
    },
    /// A session was revoked.
    Revoked {
        /// The session's id.
        session_id: String,
        /// Its user.
        user_id: String,
        /// Why.
        reason: RevocationReason,
    },
    /// A session's metadata was changed by `update_metadata`.
    MetadataUpdated {
        /// The session's id.
        session_id: String,
        /// Its user.
        user_id: String,
    },
    /// `purge_expired` (or the automatic purge) removed expired sessions.
    Purged {
        /// How many.
        count: u64,
    },
}

/// Why a listener could not take an event (logged by the library, never returned to
/// the caller of the operation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum ListenerError {
    /// The listener failed.
    #[error("the session listener failed: {reason}")]
    Failed {
        /// What failed.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ListenerError {
    fn from(err: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ListenerError::Failed {
            reason: format!("host listener raised an unexpected error: {}", err.reason),
        }
    }
}

/// Receives lifecycle events; the host may implement it (Python, Kotlin, Swift).
///
/// Events are delivered synchronously on the thread that made the change, after the
/// change is stored, and in the order of the changes: while a manager has listeners,
/// its changes (not its validations) take turns, so keep `on_event` quick (hand slow
/// work to a queue). An error from a listener is logged and changes nothing. A
/// listener may call the manager again.
#[uniffi::export(foreign)]
pub trait SessionListener: Send + Sync {
    /// Called once per event.
    fn on_event(&self, event: SessionEvent) -> Result<(), ListenerError>;
}

/// A manager's listeners, and the turn its changes take while there are any.
#[derive(Default)]
pub(crate) struct Listeners {
    listeners: RwLock<Vec<Arc<dyn SessionListener>>>,
    turn: ReentrantMutex<()>,
}

impl Listeners {
    pub fn add(&self, listener: Arc<dyn SessionListener>) {
        self.listeners.write().push(listener);
    }

    /// Runs `change` (a store write and the events it caused) and delivers its events
    /// in order. Without listeners the change runs as it is and the events are dropped.
    pub fn change<T>(
        &self,
        change: impl FnOnce() -> crate::error::Result<(T, Vec<SessionEvent>)>,
    ) -> crate::error::Result<T> {
        if self.listeners.read().is_empty() {
            return change().map(|(value, _)| value);
        }
        let _turn = self.turn.lock();
        let (value, events) = change()?;
        let listeners = self.listeners.read().clone();
        for event in events {
            for listener in &listeners {
                if let Err(e) = listener.on_event(event.clone()) {
                    log::warn!("{e} (event {event:?})");
                }
            }
        }
        Ok(value)
    }
}
