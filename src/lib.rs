//! `sessions`: a session manager with one Rust core for Python, Kotlin and Swift.
//!
//! Sessions are identified by a random bearer token (256 bits from the OS CSPRNG) that
//! is only ever stored as its SHA-256 hash. [`SessionManager`] creates, validates,
//! rotates, revokes and purges sessions in a [`SessionStore`], applying sliding and
//! absolute expiry and optional user-agent binding. The free functions reproduce the
//! seed TypeScript package's stateless API on single [`Session`] values.

uniffi::setup_scaffolding!();

mod admit;
mod asynchronous;
mod clock;
mod durable;
mod error;
mod events;
mod fast_path;
mod interchange;
mod manager;
mod metadata;
mod model;
mod rules;
pub mod store;
mod token;
#[allow(unsafe_code)]
mod unsafe_code;

use std::time::SystemTime;

pub use asynchronous::{run_loop_wakeups, shutdown_async_pool, AsyncSessionManager};
pub use clock::{Clock, ClockError, SystemClock};
pub use error::SessionError;
pub use events::{ListenerError, RevocationReason, SessionEvent, SessionListener};
pub use manager::SessionManager;
pub use model::{
    CreateSessionOptions, Durability, PublicSession, Session, SessionConfig, SessionLimitAction,
    ValidationError, ValidationResult, DEFAULT_EXPIRES_IN, DEFAULT_MAX_LIFETIME, DEFAULT_PREFIX,
    DEFAULT_ROTATION_GRACE,
};
pub use store::{DamagedSession, MemoryStore, RedisStore, SessionScan, SessionStore, SqliteStore};
pub use token::{DEFAULT_TOKEN_BYTES, MAX_TOKEN_BYTES, MIN_TOKEN_BYTES};

use rules::Policy;
use token::TokenHash;

/// A new random token: `bytes` bytes (16 to 1024, default 32) from the operating
/// system's CSPRNG, encoded as base64url without padding (32 bytes give 43 characters).
#[uniffi::export(default(bytes = 32))]
pub fn generate_secure_token(bytes: i32) -> Result<String, SessionError> {
    token::generate(bytes)
}

/// The lowercase hex SHA-256 of a token: the form in which tokens are stored.
#[uniffi::export]
pub fn hash_token(token: String) -> String {
    TokenHash::of(&token).to_hex()
}

/// A new session (not stored anywhere) with a fresh token, using the default lifetime
/// (24 hours) and absolute cap (30 days). Does not bind a user agent.
#[uniffi::export]
pub fn create_session(options: CreateSessionOptions) -> Result<Session, SessionError> {
    Policy::default().new_session(options, SystemTime::now())
}

/// Checks a presented token against one session, in this order: wrong token, revoked,
/// expired, user agent. The hashes are compared in constant time.
#[uniffi::export(default(user_agent = None))]
pub fn validate_session(
    token: String,
    session: Session,
    user_agent: Option<String>,
) -> ValidationResult {
    if !TokenHash::of(&token).matches_hex(&session.token_hash) {
        return ValidationResult::fail(ValidationError::InvalidToken);
    }
    match rules::check(&session, SystemTime::now(), user_agent.as_deref()) {
        Some(error) => ValidationResult::fail(error),
        None => ValidationResult::ok(session),
    }
}

/// The session marked revoked now, with its version one higher (it is not changed if
/// it was already revoked).
#[uniffi::export]
pub fn destroy_session(session: Session) -> Session {
    let mut session = session;
    if session.revoked_at.is_none() {
        session.revoked_at = Some(SystemTime::now());
        session.version = session.version.saturating_add(1);
    }
    session
}

/// The session extended by its lifetime (never past its absolute end), with its version
/// one higher and, unless `slide_only`, a new token and hash. Fails with `SessionRevoked` or
/// `SessionExpired`.
#[uniffi::export(default(slide_only = false))]
pub fn refresh_session(session: Session, slide_only: bool) -> Result<Session, SessionError> {
    let now = SystemTime::now();
    if session.revoked_at.is_some() {
        return Err(SessionError::SessionRevoked);
    }
    if rules::is_expired(&session, now) {
        return Err(SessionError::SessionExpired);
    }
    rules::refreshed(&session, now, slide_only)
}

/// The public view of a session: no token, no hash.
#[uniffi::export]
pub fn to_public_session(session: Session) -> PublicSession {
    PublicSession::from(&session)
}
