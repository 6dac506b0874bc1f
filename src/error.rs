//! The one public error type of the library.

use thiserror::Error;

/// Every error the library reports; its message (Rust `Display`, Kotlin `toString()`,
/// Swift `description` and `localizedDescription`, Python `str()`) is one sentence. Each variant carries enough detail to show a user or
/// to log (never a raw token).
#[derive(Debug, Clone, PartialEq, Eq, Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum SessionError {
    /// The user id is empty or longer than the allowed maximum.
    #[error("the user id is invalid: {reason} (a user id is 1 to 256 bytes of UTF-8)")]
    InvalidUserId {
        /// What is wrong with the user id.
        reason: String,
    },
    /// A lifetime (`expires_in`, `default_expires_in`, `max_lifetime`) is zero, negative
    /// or larger than the absolute lifetime cap.
    #[error("the lifetime is invalid: {reason}")]
    InvalidLifetime {
        /// What is wrong with the lifetime.
        reason: String,
    },
    /// The metadata has too many entries or too many bytes.
    #[error("the session metadata is too large: {reason}; store less, or raise max_metadata_entries / max_metadata_bytes in the configuration")]
    MetadataTooLarge {
        /// Which limit was exceeded.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("the configuration is invalid: {reason}")]
    InvalidConfig {
        /// What is wrong with the configuration.
        reason: String,
    },
    /// A requested token length (in random bytes) is out of the allowed range.
    #[error(
        "a token of {bytes} random bytes was requested; the length must be {min} to {max} bytes"
    )]
    InvalidTokenLength {
        /// The requested number of random bytes.
        bytes: u32,
        /// The smallest allowed number of bytes.
        min: u32,
        /// The largest allowed number of bytes.
        max: u32,
    },
    /// The token is unknown, malformed, or was rotated out.
    #[error("the token is not valid (unknown, malformed, or rotated out); the client must sign in again")]
    InvalidToken,
    /// The session has expired.
    #[error("the session has expired; the client must sign in again")]
    SessionExpired,
    /// The session has been revoked.
    #[error("the session has been revoked (signed out); the client must sign in again")]
    SessionRevoked,
    /// The session is bound to another user agent.
    #[error("the session is bound to another user agent than the one presented")]
    UserAgentMismatch,
    /// No session has this id.
    #[error("no session has the id {session_id:?}")]
    SessionNotFound {
        /// The id that was looked up.
        session_id: String,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {reason}")]
    Random {
        /// The operating system's explanation.
        reason: String,
    },
    /// The session store failed (I/O, a corrupt database, an exception raised by a store
    /// implemented by the host).
    #[error("the session store failed: {reason}")]
    Store {
        /// What failed.
        reason: String,
    },
    /// The clock failed (a `ClockError` raised by, or any other error escaping, a clock
    /// implemented by the host).
    #[error("the clock failed: {reason}")]
    Clock {
        /// What failed.
        reason: String,
    },
    /// Imported JSON is malformed or breaks a rule; nothing was imported.
    #[error("cannot import sessions: {}{reason}; nothing was imported", import_place(*entry, field.as_deref()))]
    Import {
        /// The entry at fault, counted from 0 in the input array; absent when the input
        /// as a whole is wrong (not JSON, not an array).
        entry: Option<u64>,
        /// The entry's field at fault (as written in the JSON, e.g. `absoluteExpiresAt`),
        /// when one field is.
        field: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// The manager binds sessions to a user agent (`bind_to_user_agent`), and `create`
    /// was given none: an unbound session would validate from any user agent.
    #[error("this manager binds sessions to a user agent, and none was given: put the client's user agent in metadata[\"userAgent\"] when creating the session")]
    UserAgentRequired,
    /// A token rotated out longer than `rotation_grace` ago was presented again: the
    /// signature of a stolen token. The whole session has been revoked.
    #[error("this token was replaced by a refresh and presented again after the rotation grace: it may have been stolen, so the whole session has been revoked; the client must sign in again")]
    TokenReused,
    /// `create` would give the user more than `max_sessions_per_user` active sessions,
    /// and `session_limit_action` is `Refuse`.
    #[error("the user already has {limit} active sessions, the most allowed (max_sessions_per_user); sign out of one first")]
    SessionLimitReached {
        /// The configured limit.
        limit: u32,
    },
}

/// Anything else a host store raises (a host clock's errors are `ClockError`s).
impl From<uniffi::UnexpectedUniFFICallbackError> for SessionError {
    fn from(err: uniffi::UnexpectedUniFFICallbackError) -> Self {
        SessionError::Store {
            reason: format!("host callback raised an unexpected error: {}", err.reason),
        }
    }
}

/// "entry 3, field userId: " (or the parts of it that are known) for import errors.
fn import_place(entry: Option<u64>, field: Option<&str>) -> String {
    match (entry, field) {
        (Some(entry), Some(field)) => format!("entry {entry}, field {field}: "),
        (Some(entry), None) => format!("entry {entry}: "),
        (None, Some(field)) => format!("field {field}: "),
        (None, None) => String::new(),
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = SessionError> = std::result::Result<T, E>;
