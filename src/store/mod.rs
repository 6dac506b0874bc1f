//! Where sessions live: the store trait, and the stores the library ships.
//!
//! The manager talks to stores only through [`SessionStore`], so a durable store or a
//! store implemented by the host (Python, Kotlin, Swift) plugs in without touching the
//! manager's rules.

use std::time::SystemTime;

use crate::error::Result;
use crate::model::Session;

pub mod memory;
pub mod redis;
pub mod sqlite;

pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use sqlite::SqliteStore;

/// A stored record that could not be read back as a session (corrupt data); reported,
/// never returned as a session.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DamagedSession {
    /// The record's session id, as stored (may itself be the damaged part).
    pub id: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Every stored session, and the records that could not be read.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SessionScan {
    /// The sessions, oldest first.
    pub sessions: Vec<Session>,
    /// Records that are damaged (skipped; the store should also log them).
    pub damaged: Vec<DamagedSession>,
}

/// Storage for sessions, indexed by id, token hash and user.
///
/// The contract every store (built in, or implemented by the host) must keep:
///
/// - **No raw token**: `token` is empty on every session a store returns.
/// - **Atomic**: each method is one atomic step, safe to call from many threads (and,
///   for a shared store, many processes) at once.
/// - **Versions**: every session carries a `version`. `insert` stores it as given (1
///   for a new session); every change a store makes itself (`revoke_all_for_user`)
///   adds one to it; `compare_and_swap` only replaces a session whose stored version
///   is the one the change was computed from. So a stale write (a slide computed from
///   an older read) is refused instead of undoing a newer change, and the manager
///   re-reads and retries.
/// - **Revocation is final**: no method ever clears `revoked_at`.
/// - **Expiry**: a session is expired at `now` when `expires_at <= now`. The library
///   only stores sessions whose `expires_at` is at or before `absolute_expires_at`,
///   so this one comparison is the definition purge, list and validate share.
#[uniffi::export(foreign)]
pub trait SessionStore: Send + Sync {
    /// Adds a new session. Fails with `SessionError::Store` if its id or token hash is
    /// already present.
    fn insert(&self, session: Session) -> Result<()>;

    /// Adds all of `sessions` or, if any id or token hash is already present (or
    /// repeated within `sessions`) or the store fails, none of them: one transaction.
    /// Used by import.
    fn insert_all(&self, sessions: Vec<Session>) -> Result<()>;

    /// Adds `session` as `insert` does, while keeping its user at no more than
    /// `max_active` (at least 1: the manager passes its validated configuration) sessions that are neither revoked nor expired at `now`, in the same
    /// atomic step: if the user already has `max_active` or more, then with
    /// `revoke_oldest` the oldest of them (by `created_at`, then id) are revoked at
    /// `now` (version + 1) to make room, and without it nothing changes and the call
    /// fails with `SessionError::SessionLimitReached { limit: max_active }`. Returns the
    /// ids it revoked, oldest first.
    fn insert_limited(
        &self,
        session: Session,
        max_active: i32,
        now: SystemTime,
        revoke_oldest: bool,
    ) -> Result<Vec<String>>;

    /// The session with this id, if any.
    fn get(&self, session_id: String) -> Result<Option<Session>>;

    /// The session whose current token hash, or else whose `previous_token_hash`, is
    /// `token_hash`, if any (both are unique among stored sessions). The manager tells
    /// the two apart.
    fn find_by_token_hash(&self, token_hash: String) -> Result<Option<Session>>;

    /// Replaces the stored session that has `session.id` with `session`, but only if
    /// the stored one still has token hash `expected_token_hash` and version
    /// `expected_version`, and is not revoked (revocation is final). Returns whether it
    /// was replaced; `false` means another change came first, and the caller re-reads.
    /// The manager gives `session.version == expected_version + 1`. Rotation,
    /// revocation and sliding all go through this one atomic step.
    fn compare_and_swap(
        &self,
        expected_token_hash: String,
        expected_version: i64,
        session: Session,
    ) -> Result<bool>;

    /// Every stored session of a user, revoked and expired ones included.
    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>>;

    /// Marks every not yet revoked session of a user as revoked at `at` (adding one to
    /// each one's version), atomically. Returns the ids of the sessions it revoked.
    fn revoke_all_for_user(&self, user_id: String, at: SystemTime) -> Result<Vec<String>>;

    /// Removes every session whose `expires_at` is at or before `now`. Returns how many.
    fn purge_expired(&self, now: SystemTime) -> Result<i64>;

    /// How many sessions are stored (revoked and expired ones included, until purged).
    fn count(&self) -> Result<i64>;

    /// Every stored session (revoked and expired ones included, until purged), oldest
    /// first, and the records that could not be read. Used to export a store; costs in
    /// proportion to the store's size.
    fn all_sessions(&self) -> Result<SessionScan>;
}
