//! The records that cross the FFI: sessions, options, results and configuration.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

/// Default lifetime of a session: 24 hours.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(24 * 60 * 60);
/// Default absolute lifetime cap: 30 days, however often a session is refreshed or slid.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Default key prefix, as in the seed.
pub const DEFAULT_PREFIX: &str = "session:";
/// Default limit on metadata entries.
pub const DEFAULT_MAX_METADATA_ENTRIES: i32 = 64;
/// Default limit on metadata size (keys plus values, in UTF-8 bytes).
pub const DEFAULT_MAX_METADATA_BYTES: i32 = 8 * 1024;
/// Longest accepted user id, in UTF-8 bytes.
pub const MAX_USER_ID_BYTES: usize = 256;
/// The metadata key from which `create` binds the user agent when the manager is
/// configured with `bind_to_user_agent`.
pub const USER_AGENT_METADATA_KEY: &str = "userAgent";

/// A user's session.
///
/// `token` is the raw bearer token: it is only known on the value returned by `create`
/// and `refresh`, and is empty on every session read back from a store.
#[derive(Clone, PartialEq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct Session {
    /// Random UUID identifying the session.
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// The raw bearer token; empty unless this value was just issued.
    pub token: String,
    /// Lowercase hex SHA-256 of the token: the only form in which it is stored.
    pub token_hash: String,
    /// When the session was created.
    pub created_at: SystemTime,
    /// When the session expires; at this instant it is already expired.
    pub expires_at: SystemTime,
    /// Free-form string metadata.
    pub metadata: Option<HashMap<String, String>>,
    /// When the session was revoked, if it was.
    pub revoked_at: Option<SystemTime>,
    /// Whether validation slides `expires_at` forward (an idle timeout).
    pub sliding_expiration: Option<bool>,
    /// The user agent the session is bound to, if any.
    pub bound_user_agent: Option<String>,
    /// The lifetime granted at creation: each refresh, and each slide, moves `expires_at`
    /// to now plus this, never past `absolute_expires_at`.
    pub lifetime: Duration,
    /// The absolute end of the session, fixed at creation (created_at + max_lifetime).
    pub absolute_expires_at: SystemTime,
    /// The stored record's revision: 1 when created, and one more after every change
    /// (slide, rotation, revocation). A store only applies a change computed from the
    /// revision it still holds (`SessionStore::compare_and_swap`), so a stale write can
    /// never undo a newer one. Positive.
    #[uniffi(default = 1)]
    pub version: i64,
    /// The hash of the token this session's current token replaced (its immediate
    /// predecessor), if it was ever refreshed. Presented within `rotation_grace` of
    /// `rotated_at`, that token still works; after it, it is treated as stolen.
    #[uniffi(default)]
    pub previous_token_hash: Option<String>,
    /// When the current token replaced the previous one.
    #[uniffi(default)]
    pub rotated_at: Option<SystemTime>,
    /// Lowercase hex of 32 random bytes from which the current token is derived from
    /// the previous one (HMAC-SHA256), so a refresh within the grace window returns the
    /// same token without the token itself being stored. Only stores see it: the
    /// manager never returns it, and it is never printed.
    #[uniffi(default)]
    pub rotation_key: Option<String>,
}

/// Shown without secrets: the raw token as `<redacted>` (or empty when the session
/// carries none) and only the first 8 hex digits of its hash; times in RFC 3339 UTC.
/// This is what `toString()` (Kotlin), `description` / `debugDescription` (Swift) and
/// `str()` (Python) show.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("token", &Redacted(&self.token))
            .field("token_hash", &HashPrefix(&self.token_hash))
            .field("created_at", &Instant(self.created_at))
            .field("expires_at", &Instant(self.expires_at))
            .field("metadata", &self.metadata)
            .field("revoked_at", &self.revoked_at.map(Instant))
            .field("sliding_expiration", &self.sliding_expiration)
            .field("bound_user_agent", &self.bound_user_agent)
            .field("lifetime", &self.lifetime)
            .field("absolute_expires_at", &Instant(self.absolute_expires_at))
            .field("version", &self.version)
            .field(
                "previous_token_hash",
                &self.previous_token_hash.as_deref().map(HashPrefix),
            )
            .field("rotated_at", &self.rotated_at.map(Instant))
            .field("rotation_key", &self.rotation_key.as_deref().map(Redacted))
            .finish()
    }
}

impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A raw token in printed form: `<redacted>`, or `""` when there is none.
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

/// A token hash in printed form: its first 8 hex digits and an ellipsis.
struct HashPrefix<'a>(&'a str);

impl fmt::Debug for HashPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get(..8) {
            Some(start) => write!(f, "\"{start}…\""),
            None => f.write_str("\"\""),
        }
    }
}

/// An instant in printed form: RFC 3339 in UTC with the digits it needs.
#[derive(Clone, Copy)]
struct Instant(SystemTime);

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::clock::format_rfc3339(self.0))
    }
}

/// What a client may see of a session: no token, no hash.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct PublicSession {
    /// The session's id.
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// When the session was created.
    pub created_at: SystemTime,
    /// When the session expires.
    pub expires_at: SystemTime,
    /// Free-form string metadata.
    pub metadata: Option<HashMap<String, String>>,
}

impl From<&Session> for PublicSession {
    fn from(s: &Session) -> Self {
        PublicSession {
            id: s.id.clone(),
            user_id: s.user_id.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            metadata: s.metadata.clone(),
        }
    }
}

/// Options for creating a session. Only `user_id` is required.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct CreateSessionOptions {
    /// The user the session belongs to (1 to 256 UTF-8 bytes).
    pub user_id: String,
    /// Lifetime of the session; the configuration's `default_expires_in` (24 hours unless
    /// configured) when absent.
    #[uniffi(default)]
    pub expires_in: Option<Duration>,
    /// Free-form string metadata, within the configured limits.
    #[uniffi(default)]
    pub metadata: Option<HashMap<String, String>>,
    /// Whether validation slides the expiry forward (an idle timeout).
    #[uniffi(default = false)]
    pub sliding_expiration: bool,
}

impl CreateSessionOptions {
    /// Options for `user_id` with every other field at its default.
    pub fn for_user(user_id: impl Into<String>) -> Self {
        CreateSessionOptions {
            user_id: user_id.into(),
            expires_in: None,
            metadata: None,
            sliding_expiration: false,
        }
    }
}

/// Why a token did not validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
#[uniffi::export(Display)]
pub enum ValidationError {
    /// The token is unknown, malformed, or was rotated out.
    InvalidToken,
    /// The session has expired.
    SessionExpired,
    /// The session has been revoked.
    SessionRevoked,
    /// The session is bound to another user agent.
    UserAgentMismatch,
    /// The token was rotated out longer than `rotation_grace` ago and presented again:
    /// the signature of a stolen token. The whole session has been revoked.
    TokenReused,
}

/// The same sentence as the matching `SessionError`.
impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&crate::error::SessionError::from(*self), f)
    }
}

impl From<ValidationError> for crate::error::SessionError {
    fn from(e: ValidationError) -> Self {
        use crate::error::SessionError as E;
        match e {
            ValidationError::InvalidToken => E::InvalidToken,
            ValidationError::SessionExpired => E::SessionExpired,
            ValidationError::SessionRevoked => E::SessionRevoked,
            ValidationError::UserAgentMismatch => E::UserAgentMismatch,
            ValidationError::TokenReused => E::TokenReused,
        }
    }
}

/// What `create` does when a user already has `max_sessions_per_user` active sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, uniffi::Enum)]
pub enum SessionLimitAction {
    /// Revoke the user's oldest active sessions, in the same atomic step as the insert
    /// (as Spring Session's `maximumSessions`).
    #[default]
    RevokeOldest,
    /// Refuse the new session with `SessionLimitReached`.
    Refuse,
}

/// The outcome of validating a token.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ValidationResult {
    /// Whether the token is valid.
    pub valid: bool,
    /// The session, when valid.
    pub session: Option<Session>,
    /// Why the token is not valid, when it is not.
    pub error: Option<ValidationError>,
}

impl ValidationResult {
    /// A valid result carrying `session`.
    pub fn ok(session: Session) -> Self {
        ValidationResult {
            valid: true,
            session: Some(session),
            error: None,
        }
    }

    /// An invalid result with `error`.
    pub fn fail(error: ValidationError) -> Self {
        ValidationResult {
            valid: false,
            session: None,
            error: Some(error),
        }
    }
}

/// Configuration of a `SessionManager`. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SessionConfig {
    /// Lifetime of sessions created without `expires_in`; 24 hours when absent.
    #[uniffi(default)]
    pub default_expires_in: Option<Duration>,
    /// Absolute cap on a session's life, however often it is refreshed or slid;
    /// 30 days when absent.
    #[uniffi(default)]
    pub max_lifetime: Option<Duration>,
    /// Key prefix for key-value stores, as in the seed (`"session:"`); 1 to 64 bytes.
    /// On Redis the key namespace is the location's `prefix` option instead, and this
    /// must stay at its default (`open` fails with `InvalidConfig` otherwise).
    #[uniffi(default = "session:")]
    pub prefix: String,
    /// Bind each session to the user agent found in its metadata under `userAgent`,
    /// and refuse validation and refresh from any other user agent.
    #[uniffi(default = false)]
    pub bind_to_user_agent: bool,
    /// Most metadata entries per session (64; 0 to 4096).
    #[uniffi(default = 64)]
    pub max_metadata_entries: i32,
    /// Most metadata bytes per session, keys plus values (8 KiB; 0 to 1 MiB).
    #[uniffi(default = 8192)]
    pub max_metadata_bytes: i32,
    /// When set, `create` also purges expired sessions (as `purge_expired` does) if this
    /// long has passed since the manager last did, so they cannot pile up in a store
    /// nobody purges. Off when absent; must be positive.
    #[uniffi(default)]
    pub auto_purge_interval: Option<Duration>,
    /// For how long after `refresh` rotated token A into token B, A still validates
    /// and `refresh(A)` returns the same B (so parallel requests of one client converge
    /// on one token); 10 seconds when absent, and zero turns the grace off. After it,
    /// presenting A revokes the session (`TokenReused`).
    #[uniffi(default)]
    pub rotation_grace: Option<Duration>,
    /// Most active (neither revoked nor expired) sessions one user may have; no limit
    /// when absent, at least 1 when set (zero or negative is `InvalidConfig`). See
    /// `session_limit_action`.
    #[uniffi(default)]
    pub max_sessions_per_user: Option<i32>,
    /// What `create` does at `max_sessions_per_user`: revoke the user's oldest active
    /// sessions (`RevokeOldest`, also when absent) or refuse with `SessionLimitReached`.
    #[uniffi(default)]
    pub session_limit_action: Option<SessionLimitAction>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            default_expires_in: None,
            max_lifetime: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            bind_to_user_agent: false,
            max_metadata_entries: DEFAULT_MAX_METADATA_ENTRIES,
            max_metadata_bytes: DEFAULT_MAX_METADATA_BYTES,
            auto_purge_interval: None,
            rotation_grace: None,
            max_sessions_per_user: None,
            session_limit_action: None,
        }
    }
}

/// How a SQLite store (`SessionManager::open_with_durability`) makes a change durable:
/// what a change that has returned can lose if the machine loses power (or the OS
/// crashes) right after. A crash of the process alone loses nothing under either.
///
/// Concurrent changes share their commits in both (group commit): a change returns
/// once the commit that carries it is as durable as the setting promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, uniffi::Enum)]
pub enum Durability {
    /// Every commit is synced to disk (`fsync`) before the change returns: a returned
    /// change survives a power failure. The default.
    #[default]
    Full,
    /// Commits are written to the write-ahead log but synced only at checkpoints (WAL
    /// with SQLite's `synchronous = NORMAL`): the changes of the last moments before a
    /// power failure (those since the last checkpoint, at most about 1,000 pages of
    /// log) may be lost, returned or not, and the database stays consistent. A lost
    /// revocation is lost too, so prefer `Full` where a revocation must survive power
    /// loss.
    Normal,
}

/// Default `rotation_grace`: 10 seconds.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(10);

impl fmt::Display for PublicSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for CreateSessionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for ValidationResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Display for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
