//! The one public error type of the library.

use thiserror::Error;

/// Every error the library reports. Each variant carries enough detail to show a user or
/// to log (never a raw token).
#[derive(Debug, Clone, PartialEq, Eq, Error, uniffi::Error)]
pub enum SessionError {
    /// The user id is empty or longer than the allowed maximum.
    #[error("invalid user id: {reason}")]
    InvalidUserId {
        /// What is wrong with the user id.
        reason: String,
    },
    /// A lifetime (`expires_in`, `default_expires_in`, `max_lifetime`) is zero, negative
    /// or larger than the absolute lifetime cap.
    #[error("invalid lifetime: {reason}")]
    InvalidLifetime {
        /// What is wrong with the lifetime.
        reason: String,
    },
    /// The metadata has too many entries or too many bytes.
    #[error("metadata too large: {reason}")]
    MetadataTooLarge {
        /// Which limit was exceeded.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with the configuration.
        reason: String,
    },
    /// A requested token length (in random bytes) is out of the allowed range.
    #[error("token length {bytes} bytes is out of range {min}..={max}")]
    InvalidTokenLength {
        /// The requested number of random bytes.
        bytes: u32,
        /// The smallest allowed number of bytes.
        min: u32,
        /// The largest allowed number of bytes.
        max: u32,
    },
    /// The token is unknown, malformed, or was rotated out.
    #[error("invalid token")]
    InvalidToken,
    /// The session has expired.
    #[error("session expired")]
    SessionExpired,
    /// The session has been revoked.
    #[error("session revoked")]
    SessionRevoked,
    /// The session is bound to another user agent.
    #[error("user agent mismatch")]
    UserAgentMismatch,
    /// No session has this id.
    #[error("no session with id {session_id}")]
    SessionNotFound {
        /// The id that was looked up.
        session_id: String,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {reason}")]
    Random {
        /// The operating system's explanation.
        reason: String,
    },
    /// The session store failed (I/O, a corrupt database, an exception raised by a store
    /// implemented by the host).
    #[error("session store failed: {reason}")]
    Store {
        /// What failed.
        reason: String,
    },
    /// The clock failed (a `ClockError` raised by, or any other error escaping, a clock
    /// implemented by the host).
    #[error("clock failed: {reason}")]
    Clock {
        /// What failed.
        reason: String,
    },
    /// Imported JSON is malformed; nothing was imported.
    #[error("cannot import sessions: {reason}")]
    Import {
        /// What is wrong with the input, and where.
        reason: String,
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

/// Shorthand for results of this crate.
pub type Result<T, E = SessionError> = std::result::Result<T, E>;
