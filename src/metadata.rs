//! Session data: `update_metadata`, and the lifecycle listeners' registration.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Result, SessionError};
use crate::events::{SessionEvent, SessionListener};
use crate::manager::SessionManager;
use crate::model::Session;

#[uniffi::export]
impl SessionManager {
    /// Changes a session's metadata in one atomic conditional write: each key of
    /// `changes` is set to its value, or removed when the value is absent (`None` /
    /// `null` / `nil`). The configured metadata limits apply to the result
    /// (`MetadataTooLarge`); a revoked session fails with `SessionRevoked`, an expired
    /// one with `SessionExpired`, an unknown id with `SessionNotFound`. A concurrent
    /// slide, refresh or revocation is never lost: the write only applies to the version
    /// it was computed from, and is retried on a newer one. The user agent a session is
    /// bound to does not change. Returns the updated session (without its token).
    pub fn update_metadata(
        &self,
        session_id: String,
        changes: HashMap<String, Option<String>>,
    ) -> Result<Session> {
        for _ in 0..crate::manager::CAS_ATTEMPTS {
            let Some(session) = self.read_by_id(&session_id)? else {
                return Err(SessionError::SessionNotFound { session_id });
            };
            let now = self.now()?;
            if session.revoked_at.is_some() {
                return Err(SessionError::SessionRevoked);
            }
            if crate::rules::is_expired(&session, now) {
                return Err(SessionError::SessionExpired);
            }
            let mut metadata = session.metadata.clone().unwrap_or_default();
            for (key, value) in &changes {
                match value {
                    Some(value) => metadata.insert(key.clone(), value.clone()),
                    None => metadata.remove(key),
                };
            }
            self.policy().check_metadata(&metadata)?;
            let mut next = session.clone();
            next.metadata = (!metadata.is_empty()).then_some(metadata);
            next.version = session.version.saturating_add(1);
            let event = SessionEvent::MetadataUpdated {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
            };
            let updated = self.swap(&session, next.clone(), event)?;
            if updated {
                next.rotation_key = None;
                return Ok(next);
            }
        }
        Err(SessionError::Store {
            reason: format!(
                "session {session_id} kept changing while its metadata was updated; try again"
            ),
        })
    }

    /// Registers a listener for lifecycle events (created, rotated, revoked with the
    /// reason, metadata updated, purged). See `SessionListener` for how and when they
    /// are delivered; an event never carries a token or a hash.
    pub fn add_listener(&self, listener: Arc<dyn SessionListener>) {
        self.listeners().add(listener);
    }
}
