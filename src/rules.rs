//! The rules every session follows, shared by the free functions and the manager:
//! input limits, the order of checks, sliding, the absolute cap and rotation.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::clock;
use crate::error::{Result, SessionError};
use crate::model::{
    CreateSessionOptions, Session, SessionConfig, SessionLimitAction, ValidationError,
    DEFAULT_EXPIRES_IN, DEFAULT_MAX_LIFETIME, DEFAULT_ROTATION_GRACE, MAX_USER_ID_BYTES,
    USER_AGENT_METADATA_KEY,
};
use crate::token::{self, TokenHash, DEFAULT_TOKEN_BYTES};

/// A validated configuration, with defaults filled in.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub default_expires_in: Duration,
    pub max_lifetime: Duration,
    pub bind_to_user_agent: bool,
    pub max_metadata_entries: i32,
    pub max_metadata_bytes: i32,
    pub auto_purge_interval: Option<Duration>,
    pub rotation_grace: Duration,
    pub max_sessions_per_user: Option<i32>,
    pub session_limit_action: SessionLimitAction,
    /// Whether new tokens and ids are drawn so that their Redis shard is their
    /// user's (see `store::redis::keys`): set by `SessionManager::open` for a Redis
    /// location, so `validate` finds a session in one round trip. Off otherwise (it
    /// costs a few hundred extra hashes per token).
    pub colocate: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default_expires_in: DEFAULT_EXPIRES_IN,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            bind_to_user_agent: false,
            max_metadata_entries: crate::model::DEFAULT_MAX_METADATA_ENTRIES,
            max_metadata_bytes: crate::model::DEFAULT_MAX_METADATA_BYTES,
            auto_purge_interval: None,
            rotation_grace: DEFAULT_ROTATION_GRACE,
            max_sessions_per_user: None,
            session_limit_action: SessionLimitAction::RevokeOldest,
            colocate: false,
        }
    }
}

impl Policy {
    /// Checks a configuration and fills in its defaults.
    pub fn from_config(config: &SessionConfig) -> Result<Self> {
        let default_expires_in =
            clock::round_duration(config.default_expires_in.unwrap_or(DEFAULT_EXPIRES_IN));
        let max_lifetime =
            clock::round_duration(config.max_lifetime.unwrap_or(DEFAULT_MAX_LIFETIME));
        if max_lifetime.is_zero() {
            return Err(lifetime_error("max_lifetime must be positive"));
        }
        if max_lifetime > MAX_LIFETIME_CAP {
            return Err(lifetime_error(format!(
                "max_lifetime ({max_lifetime:?}) exceeds the largest supported, 100 years \
                 ({MAX_LIFETIME_CAP:?}): no instant after 2099 is supported"
            )));
        }
        if default_expires_in.is_zero() {
            return Err(lifetime_error("default_expires_in must be positive"));
        }
        if default_expires_in > max_lifetime {
            return Err(lifetime_error(format!(
                "default_expires_in ({default_expires_in:?}) exceeds max_lifetime ({max_lifetime:?})"
            )));
        }
        if config.prefix.is_empty() || config.prefix.len() > MAX_PREFIX_BYTES {
            return Err(config_error(format!(
                "prefix must be 1 to {MAX_PREFIX_BYTES} bytes, got {}",
                config.prefix.len()
            )));
        }
        if !(0..=HARD_MAX_METADATA_ENTRIES).contains(&config.max_metadata_entries)
            || !(0..=HARD_MAX_METADATA_BYTES).contains(&config.max_metadata_bytes)
        {
            return Err(config_error(format!(
                "metadata limits must be 0 to {HARD_MAX_METADATA_ENTRIES} entries and \
                 {HARD_MAX_METADATA_BYTES} bytes"
            )));
        }
        if config.max_sessions_per_user.is_some_and(|n| n < 1) {
            return Err(config_error(
                "max_sessions_per_user must be at least 1 when set",
            ));
        }
        let rotation_grace =
            clock::round_duration(config.rotation_grace.unwrap_or(DEFAULT_ROTATION_GRACE));
        if config.auto_purge_interval.is_some_and(|d| d.is_zero()) {
            return Err(config_error(
                "auto_purge_interval must be positive when set",
            ));
        }
        Ok(Policy {
            default_expires_in,
            max_lifetime,
            bind_to_user_agent: config.bind_to_user_agent,
            max_metadata_entries: config.max_metadata_entries,
            max_metadata_bytes: config.max_metadata_bytes,
            auto_purge_interval: config.auto_purge_interval.map(clock::round_duration),
            rotation_grace,
            max_sessions_per_user: config.max_sessions_per_user,
            session_limit_action: config.session_limit_action.unwrap_or_default(),
            colocate: false,
        })
    }

    /// Builds a new session for `options` at `now`, with a fresh token. Nothing is stored.
    ///
    /// `now` must be a checked instant (see [`clock::checked`]). The absolute end is
    /// `now + max_lifetime`, but never after the last supported instant (2099), and the
    /// expiry never after the absolute end.
    pub fn new_session(&self, options: CreateSessionOptions, now: SystemTime) -> Result<Session> {
        check_user_id(&options.user_id)?;
        let lifetime = clock::round_duration(options.expires_in.unwrap_or(self.default_expires_in));
        if lifetime.is_zero() {
            return Err(lifetime_error("expires_in must be positive"));
        }
        if lifetime > self.max_lifetime {
            return Err(lifetime_error(format!(
                "expires_in ({lifetime:?}) exceeds max_lifetime ({:?})",
                self.max_lifetime
            )));
        }
        if let Some(metadata) = &options.metadata {
            self.check_metadata(metadata)?;
        }
        let bound_user_agent = if self.bind_to_user_agent {
            let agent = options
                .metadata
                .as_ref()
                .and_then(|m| m.get(USER_AGENT_METADATA_KEY).cloned());
            // A binding manager never issues an unbound session: it would validate from
            // any user agent.
            Some(agent.ok_or(SessionError::UserAgentRequired)?)
        } else {
            None
        };
        let (token, id) = if self.colocate {
            colocated_token_and_id(&options.user_id)?
        } else {
            (token::generate(DEFAULT_TOKEN_BYTES)?, new_session_id()?)
        };
        let absolute_expires_at = clock::add(now, self.max_lifetime).min(clock::max_instant());
        if absolute_expires_at <= now {
            return Err(lifetime_error(
                "no lifetime fits before the last supported instant, 2099-12-31T23:59:59.999999Z",
            ));
        }
        Ok(Session {
            id,
            user_id: options.user_id,
            token_hash: TokenHash::of(&token).to_hex(),
            token,
            created_at: now,
            expires_at: clock::add(now, lifetime).min(absolute_expires_at),
            metadata: options.metadata,
            revoked_at: None,
            sliding_expiration: Some(options.sliding_expiration),
            bound_user_agent,
            lifetime,
            absolute_expires_at,
            version: 1,
            previous_token_hash: None,
            rotated_at: None,
            rotation_key: None,
        })
    }

    /// Checks metadata against the configured entry and byte limits.
    pub(crate) fn check_metadata(&self, metadata: &HashMap<String, String>) -> Result<()> {
        if metadata.len() > self.max_metadata_entries as usize {
            return Err(SessionError::MetadataTooLarge {
                reason: format!(
                    "{} entries, at most {} allowed",
                    metadata.len(),
                    self.max_metadata_entries
                ),
            });
        }
        let bytes: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > self.max_metadata_bytes as usize {
            return Err(SessionError::MetadataTooLarge {
                reason: format!("{bytes} bytes, at most {} allowed", self.max_metadata_bytes),
            });
        }
        Ok(())
    }
}

impl Policy {
    /// [`rotated`], with the successor drawn in the user's shard when colocating.
    pub(crate) fn rotated(
        &self,
        session: &Session,
        presented: &TokenHash,
        presented_token: &str,
        now: SystemTime,
    ) -> Result<Session> {
        if !self.colocate {
            return rotated(session, presented, presented_token, now);
        }
        let shard = crate::store::redis::shard_of_user(&session.user_id);
        let (key, token) = draw_until(shard, |key| {
            let token = token::successor(key, presented_token);
            let home = TokenHash::of(&token).0[0];
            ((*key, token), home)
        })?;
        Ok(rotated_with(session, presented, key, token, now))
    }
}

/// A token (32 random bytes, base64url) and a session id (a v4 UUID) whose Redis
/// shards are `user_id`'s: candidates from the OS CSPRNG are drawn until one fits
/// (1 in 256 does; a token's shard is its hash's first byte).
fn colocated_token_and_id(user_id: &str) -> Result<(String, String)> {
    use base64::Engine as _;
    let shard = crate::store::redis::shard_of_user(user_id);
    let token = draw_until(shard, |bytes| {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let home = TokenHash::of(&token).0[0];
        (token, home)
    })?;
    let id = draw_until(shard, |bytes| {
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&bytes[..16]);
        let id = uuid::Builder::from_random_bytes(uuid)
            .into_uuid()
            .hyphenated()
            .to_string();
        let home = crate::store::redis::shard_of_id(&id);
        (id, home)
    })?;
    Ok((token, id))
}

/// The first of 32-byte candidates from the OS CSPRNG whose `make` gives `shard`
/// (drawn 64 at a time, one system call each).
fn draw_until<T>(shard: u8, mut make: impl FnMut(&[u8; 32]) -> (T, u8)) -> Result<T> {
    let mut buf = [0u8; 32 * 64];
    loop {
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut buf).map_err(|e| {
            SessionError::Random {
                reason: e.to_string(),
            }
        })?;
        for chunk in buf.chunks_exact(32) {
            let mut candidate = [0u8; 32];
            candidate.copy_from_slice(chunk);
            let (value, home) = make(&candidate);
            if home == shard {
                return Ok(value);
            }
        }
    }
}

/// Checks a user id: 1 to 256 UTF-8 bytes.
pub(crate) fn check_user_id(user_id: &str) -> Result<()> {
    if user_id.is_empty() {
        return Err(SessionError::InvalidUserId {
            reason: "must not be empty".into(),
        });
    }
    if user_id.len() > MAX_USER_ID_BYTES {
        return Err(SessionError::InvalidUserId {
            reason: format!(
                "{} bytes, at most {MAX_USER_ID_BYTES} allowed",
                user_id.len()
            ),
        });
    }
    Ok(())
}

/// The largest `max_lifetime` a configuration may set: 100 years (of 365.25 days).
pub const MAX_LIFETIME_CAP: Duration = Duration::from_secs(36_525 * 24 * 60 * 60);
/// Longest accepted session id, in UTF-8 bytes (the library issues 36-byte UUIDs).
pub const MAX_SESSION_ID_BYTES: usize = 128;

/// Longest accepted key prefix, in bytes.
const MAX_PREFIX_BYTES: usize = 64;
/// The largest metadata limits a configuration may set.
const HARD_MAX_METADATA_ENTRIES: i32 = 4096;
const HARD_MAX_METADATA_BYTES: i32 = 1024 * 1024;

fn config_error(reason: impl Into<String>) -> SessionError {
    SessionError::InvalidConfig {
        reason: reason.into(),
    }
}

fn lifetime_error(reason: impl Into<String>) -> SessionError {
    SessionError::InvalidLifetime {
        reason: reason.into(),
    }
}

/// A random (version 4) UUID from the OS CSPRNG.
fn new_session_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes).map_err(|e| {
        SessionError::Random {
            reason: e.to_string(),
        }
    })?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

/// Why a session that matched a token is not usable at `now` from `user_agent`, in the
/// order revoked, expired, user agent; `None` when it is usable.
pub(crate) fn check(
    session: &Session,
    now: SystemTime,
    user_agent: Option<&str>,
) -> Option<ValidationError> {
    if session.revoked_at.is_some() {
        return Some(ValidationError::SessionRevoked);
    }
    if is_expired(session, now) {
        return Some(ValidationError::SessionExpired);
    }
    match &session.bound_user_agent {
        Some(bound) if user_agent != Some(bound.as_str()) => {
            Some(ValidationError::UserAgentMismatch)
        }
        _ => None,
    }
}

/// A session is expired from `expires_at` on (inclusive). Every session the library
/// lets into a store has `expires_at <= absolute_expires_at` (see `admit`), so this is
/// the one definition validate, list, purge and count share; the absolute end is
/// checked too, as a second guard.
pub(crate) fn is_expired(session: &Session, now: SystemTime) -> bool {
    now >= session.expires_at || now >= session.absolute_expires_at
}

/// The expiry a refresh or slide at `now` grants: now + lifetime, capped at the
/// session's absolute end.
///
/// A clock that reads earlier than the session's creation (moved back) counts from the
/// creation, so an expiry is never before it.
pub(crate) fn extended_expiry(session: &Session, now: SystemTime) -> SystemTime {
    clock::add(now.max(session.created_at), session.lifetime).min(session.absolute_expires_at)
}

/// The new expiry if validation at `now` should slide this session, else `None`.
/// A slide is written only once less than half of the idle window remains, so a
/// busy session costs at most one write per half window.
pub(crate) fn slide_due(session: &Session, now: SystemTime) -> Option<SystemTime> {
    if session.sliding_expiration != Some(true) {
        return None;
    }
    let remaining = session.expires_at.duration_since(now).unwrap_or_default();
    if remaining >= session.lifetime / 2 {
        return None;
    }
    let next = extended_expiry(session, now);
    (next > session.expires_at).then_some(next)
}

/// A copy of `session` refreshed at `now`: a later expiry and, unless `slide_only`,
/// a new token and hash.
pub(crate) fn refreshed(session: &Session, now: SystemTime, slide_only: bool) -> Result<Session> {
    let mut next = session.clone();
    next.expires_at = extended_expiry(session, now);
    next.version = session.version.saturating_add(1);
    if !slide_only {
        next.token = token::generate(DEFAULT_TOKEN_BYTES)?;
        next.token_hash = TokenHash::of(&next.token).to_hex();
    }
    Ok(next)
}

/// A copy of `session` rotated at `now` from the presented token `presented`: a later
/// expiry, a new random rotation key, the token derived from it and `presented` (see
/// [`token::successor`]), and `presented`'s hash kept as the predecessor.
pub(crate) fn rotated(
    session: &Session,
    presented: &TokenHash,
    presented_token: &str,
    now: SystemTime,
) -> Result<Session> {
    let key = token::random_key()?;
    let token = token::successor(&key, presented_token);
    Ok(rotated_with(session, presented, key, token, now))
}

/// [`rotated`] with the rotation key and the token it gives.
fn rotated_with(
    session: &Session,
    presented: &TokenHash,
    key: [u8; 32],
    token: String,
    now: SystemTime,
) -> Session {
    let mut next = session.clone();
    next.expires_at = extended_expiry(session, now);
    next.version = session.version.saturating_add(1);
    next.token = token;
    next.token_hash = TokenHash::of(&next.token).to_hex();
    next.previous_token_hash = Some(presented.to_hex());
    next.rotated_at = Some(now);
    next.rotation_key = Some(const_hex::encode(key));
    next
}

/// Whether a rotation at `rotated_at` is still within `grace` at `now`.
pub(crate) fn within_grace(
    rotated_at: Option<SystemTime>,
    grace: Duration,
    now: SystemTime,
) -> bool {
    rotated_at.is_some_and(|at| now < clock::add(at, grace))
}

/// The token a rotation keyed by `session.rotation_key` made from `presented`, if the
/// key is there and the result is the session's current token (checked in constant
/// time).
pub(crate) fn reproduce_successor(session: &Session, presented_token: &str) -> Option<String> {
    let mut key = [0u8; 32];
    const_hex::decode_to_slice(session.rotation_key.as_deref()?, &mut key).ok()?;
    let token = token::successor(&key, presented_token);
    TokenHash::of(&token)
        .matches_hex(&session.token_hash)
        .then_some(token)
}

/// Refuses to refresh a session that is revoked, expired or bound elsewhere.
pub(crate) fn check_refreshable(
    session: &Session,
    now: SystemTime,
    user_agent: Option<&str>,
) -> Result<()> {
    match check(session, now, user_agent) {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
