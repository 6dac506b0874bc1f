//! Admission: the checks and normalisation every session passes when it enters the
//! library from outside the rules (an imported entry, a record a host store returns),
//! so that what `create` guarantees holds for every session in every store.
//!
//! Sessions made by the rules themselves (create, refresh, slide, revoke) already
//! satisfy all of this.

use std::fmt;
use std::time::SystemTime;

use crate::clock;
use crate::model::{Session, USER_AGENT_METADATA_KEY};
use crate::rules::{self, Policy, MAX_SESSION_ID_BYTES};
use crate::token::TokenHash;

/// The largest version a session may enter with: 2^53 - 1 (exact in every JSON reader),
/// so that no number of later changes can reach the end of `i64` and stop counting.
pub(crate) const MAX_VERSION: i64 = (1 << 53) - 1;

/// Which field of a session breaks which rule. `field` is the Rust field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {}: {}", self.field, self.reason)
    }
}

fn error(field: &'static str, reason: impl Into<String>) -> FieldError {
    FieldError {
        field,
        reason: reason.into(),
    }
}

fn instant(field: &'static str, t: SystemTime) -> Result<SystemTime, FieldError> {
    clock::checked(t).map_err(|reason| error(field, reason))
}

/// Checks the shape every stored session has, and normalises it: no raw token, a
/// lowercase 64-digit hash, instants rounded to the microsecond within the supported
/// range, `created_at < expires_at <= absolute_expires_at`, a positive lifetime and
/// version, an id and a user id within their limits. Configured limits are not applied
/// (a store may hold sessions made under another configuration).
pub(crate) fn stored(mut s: Session) -> Result<Session, FieldError> {
    if s.id.is_empty() || s.id.len() > MAX_SESSION_ID_BYTES {
        return Err(error(
            "id",
            format!(
                "must be 1 to {MAX_SESSION_ID_BYTES} bytes, got {}",
                s.id.len()
            ),
        ));
    }
    rules::check_user_id(&s.user_id).map_err(|e| error("user_id", e.to_string()))?;
    s.token.clear();
    s.token_hash = TokenHash::from_hex(&s.token_hash)
        .ok_or_else(|| error("token_hash", "not 64 hex digits"))?
        .to_hex();
    s.created_at = instant("created_at", s.created_at)?;
    s.expires_at = instant("expires_at", s.expires_at)?;
    s.absolute_expires_at = instant("absolute_expires_at", s.absolute_expires_at)?;
    s.revoked_at = s.revoked_at.map(|t| instant("revoked_at", t)).transpose()?;
    s.rotated_at = s.rotated_at.map(|t| instant("rotated_at", t)).transpose()?;
    s.previous_token_hash = s
        .previous_token_hash
        .map(|h| {
            TokenHash::from_hex(&h)
                .map(TokenHash::to_hex)
                .ok_or_else(|| error("previous_token_hash", "not 64 hex digits"))
        })
        .transpose()?;
    if let Some(key) = &s.rotation_key {
        let mut bytes = [0u8; 32];
        if const_hex::decode_to_slice(key, &mut bytes).is_err() {
            return Err(error("rotation_key", "not 64 hex digits"));
        }
    }
    s.lifetime = clock::round_duration(s.lifetime);
    if s.expires_at <= s.created_at {
        return Err(error("expires_at", "not after created_at"));
    }
    if s.absolute_expires_at < s.expires_at {
        return Err(error(
            "absolute_expires_at",
            "before expires_at: the session would outlive its absolute end",
        ));
    }
    if s.lifetime.is_zero() {
        return Err(error("lifetime", "must be positive"));
    }
    if !(1..=MAX_VERSION).contains(&s.version) {
        return Err(error(
            "version",
            format!("must be 1 to {MAX_VERSION}, got {}", s.version),
        ));
    }
    // `revoked_at` may precede `created_at`: a revocation stamped by a process whose
    // clock is behind, or a `destroy_all_for_user` whose instant was read before a
    // concurrent create. The session is revoked all the same.
    match (&s.previous_token_hash, s.rotated_at, &s.rotation_key) {
        (None, None, None) => {}
        // The key is optional: without it the grace is over (see the manager).
        // (`rotated_at` may precede `created_at`: a clock moved back.)
        (Some(previous), Some(_), _) => {
            if *previous == s.token_hash {
                return Err(error("previous_token_hash", "the same as token_hash"));
            }
        }
        _ => {
            return Err(error(
                "previous_token_hash",
                "previous_token_hash and rotated_at go together, and rotation_key needs both",
            ))
        }
    }
    Ok(s)
}

/// [`stored`], plus the limits `create` applies under `policy`: the lifetime and the
/// absolute end within `max_lifetime` of `created_at`, the metadata limits, and a bound
/// user agent no longer than the metadata byte limit.
///
/// Under `bind_to_user_agent` an entry must be bound, as `create` binds: to its
/// `bound_user_agent`, or else to `metadata["userAgent"]`; an entry with neither is
/// refused (it would validate from any user agent).
pub(crate) fn imported(policy: &Policy, s: Session) -> Result<Session, FieldError> {
    let mut s = stored(s)?;
    if policy.bind_to_user_agent && s.bound_user_agent.is_none() {
        let agent = s
            .metadata
            .as_ref()
            .and_then(|m| m.get(USER_AGENT_METADATA_KEY))
            .cloned()
            .ok_or_else(|| {
                error(
                    "bound_user_agent",
                    "missing: this manager binds sessions to a user agent (bind_to_user_agent), \
                     and the entry has neither boundUserAgent nor metadata.userAgent",
                )
            })?;
        s.bound_user_agent = Some(agent);
    }
    if s.lifetime > policy.max_lifetime {
        return Err(error(
            "lifetime",
            format!(
                "{:?} exceeds max_lifetime ({:?})",
                s.lifetime, policy.max_lifetime
            ),
        ));
    }
    let cap = clock::add(s.created_at, policy.max_lifetime);
    if s.absolute_expires_at > cap {
        return Err(error(
            "absolute_expires_at",
            format!(
                "{} is more than max_lifetime ({:?}) after created_at",
                clock::format_rfc3339(s.absolute_expires_at),
                policy.max_lifetime
            ),
        ));
    }
    if let Some(metadata) = &s.metadata {
        policy
            .check_metadata(metadata)
            .map_err(|e| error("metadata", e.to_string()))?;
    }
    if let Some(agent) = &s.bound_user_agent {
        if agent.len() > policy.max_metadata_bytes as usize {
            return Err(error(
                "bound_user_agent",
                format!(
                    "{} bytes, at most {} allowed (the metadata byte limit)",
                    agent.len(),
                    policy.max_metadata_bytes
                ),
            ));
        }
    }
    Ok(s)
}
