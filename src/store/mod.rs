//! Where sessions live: the store trait, and the stores the library ships.
//!
//! The manager talks to stores only through [`SessionStore`], so a durable store or a
//! store implemented by the host (Python, Kotlin, Swift) plugs in without touching the
//! manager's rules.

use std::time::SystemTime;

use crate::error::Result;
use crate::model::Session;

pub mod memory;
pub mod sqlite;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// Storage for sessions, indexed by id, token hash and user.
///
/// Sessions are stored without their raw token (`token` is empty on every session a
/// store returns). Implementations must be safe to call from many threads at once and
/// must make each method atomic: in particular [`SessionStore::compare_and_swap`] is
/// what makes token rotation race-free.
#[uniffi::export(foreign)]
pub trait SessionStore: Send + Sync {
    /// Adds a new session. Fails with `SessionError::Store` if its id or token hash is
    /// already present.
    fn insert(&self, session: Session) -> Result<()>;

    /// The session with this id, if any.
    fn get(&self, session_id: String) -> Result<Option<Session>>;

    /// The session whose current token hash is `token_hash`, if any.
    fn find_by_token_hash(&self, token_hash: String) -> Result<Option<Session>>;

    /// Replaces the stored session that has `session.id`, but only if its current token
    /// hash is still `expected_token_hash` and it is not revoked (revocation is final:
    /// a refresh or slide that read the session before a concurrent revocation must not
    /// undo it). Returns whether it was replaced. Rotation, revocation and sliding all go
    /// through this one atomic step.
    fn compare_and_swap(&self, expected_token_hash: String, session: Session) -> Result<bool>;

    /// Every stored session of a user, revoked and expired ones included.
    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>>;

    /// Marks every not yet revoked session of a user as revoked at `at`, atomically.
    /// Returns how many sessions it revoked.
    fn revoke_all_for_user(&self, user_id: String, at: SystemTime) -> Result<u64>;

    /// Removes every session whose `expires_at` is at or before `now`. Returns how many.
    fn purge_expired(&self, now: SystemTime) -> Result<u64>;

    /// How many sessions are stored (revoked and expired ones included, until purged).
    fn count(&self) -> Result<u64>;

    /// Every stored session (revoked and expired ones included, until purged), oldest
    /// first. Used to export a store; costs in proportion to the store's size.
    fn all_sessions(&self) -> Result<Vec<Session>>;
}
