//! Export and import of sessions in the seed's serialized form.
//!
//! The form is a JSON array of objects with camelCase keys `id`, `userId`, `tokenHash`,
//! `createdAt`, `expiresAt`, `metadata`, `revokedAt`, `slidingExpiration` and
//! `boundUserAgent`, with timestamps as RFC 3339 strings in UTC with milliseconds
//! (`2024-01-31T12:00:00.000Z`, as JavaScript's `Date.toJSON` writes them). Export adds
//! `lifetimeMs` and `absoluteExpiresAt`, which import accepts but does not require. A
//! raw token is never written; one found in the input is ignored.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::clock::{self, from_nanos, to_nanos};
use crate::error::{Result, SessionError};
use crate::manager::SessionManager;
use crate::model::Session;
use crate::rules::{self, Policy};
use crate::token::TokenHash;

/// One exported session.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Exported<'a> {
    id: &'a str,
    user_id: &'a str,
    token_hash: &'a str,
    created_at: String,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sliding_expiration: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bound_user_agent: Option<&'a str>,
    lifetime_ms: u64,
    absolute_expires_at: String,
}

impl<'a> Exported<'a> {
    fn of(s: &'a Session) -> Self {
        Exported {
            id: &s.id,
            user_id: &s.user_id,
            token_hash: &s.token_hash,
            created_at: format_time(s.created_at),
            expires_at: format_time(s.expires_at),
            metadata: s
                .metadata
                .as_ref()
                .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()),
            revoked_at: s.revoked_at.map(format_time),
            sliding_expiration: s.sliding_expiration,
            bound_user_agent: s.bound_user_agent.as_deref(),
            // At least 1, so that a sub-millisecond lifetime still imports.
            lifetime_ms: u64::try_from(s.lifetime.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            absolute_expires_at: format_time(s.absolute_expires_at),
        }
    }
}

/// RFC 3339 in UTC with milliseconds (truncated), like `Date.toJSON`.
fn format_time(t: SystemTime) -> String {
    DateTime::<Utc>::from_timestamp_nanos(to_nanos(t)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn import_error(reason: impl Into<String>) -> SessionError {
    SessionError::Import {
        reason: reason.into(),
    }
}

#[uniffi::export]
impl SessionManager {
    /// Every stored session (revoked and expired ones included, until purged) as a JSON
    /// array in the seed's serialized form, plus `lifetimeMs` and `absoluteExpiresAt`.
    /// Timestamps have millisecond precision. Never contains a raw token.
    pub fn export_json(&self) -> Result<String> {
        let sessions = self.store().all_sessions()?;
        let exported: Vec<Exported<'_>> = sessions.iter().map(Exported::of).collect();
        serde_json::to_string(&exported).map_err(|e| SessionError::Store {
            reason: format!("cannot encode sessions as JSON: {e}"),
        })
    }

    /// Adds the sessions in `json` (the form `export_json` writes, or the seed's, in
    /// which `lifetimeMs` and `absoluteExpiresAt` are absent) and returns how many.
    ///
    /// Without `lifetimeMs` the lifetime is `expiresAt - createdAt` (at most
    /// `max_lifetime`); without `absoluteExpiresAt` the absolute end is `createdAt +
    /// max_lifetime`. The whole input is checked before anything is stored: malformed
    /// input, a duplicate id or token hash (within the input or with a stored session)
    /// or metadata over the configured limits fails with `Import`, naming the entry
    /// (counted from 0) and field, and imports nothing. If the store itself then fails
    /// part-way (`Store`), the sessions inserted before the failure stay; the error says
    /// how many.
    pub fn import_json(&self, json: String) -> Result<u64> {
        let sessions = parse(&json, self.policy())?;
        self.check_not_stored(&sessions)?;
        let total = sessions.len();
        for (done, session) in sessions.into_iter().enumerate() {
            self.store()
                .insert(session)
                .map_err(|e| SessionError::Store {
                    reason: format!("imported {done} of {total} sessions, then failed: {e}"),
                })?;
        }
        log::debug!("{total} sessions imported");
        Ok(total as u64)
    }
}

impl SessionManager {
    /// Refuses sessions whose id or token hash is already in the store.
    fn check_not_stored(&self, sessions: &[Session]) -> Result<()> {
        for (i, s) in sessions.iter().enumerate() {
            if self.store().get(s.id.clone())?.is_some() {
                return Err(import_error(format!(
                    "entry {i}: field id: a session with id {} is already stored",
                    s.id
                )));
            }
            if self
                .store()
                .find_by_token_hash(s.token_hash.clone())?
                .is_some()
            {
                return Err(import_error(format!(
                    "entry {i}: field tokenHash: a session with this token hash is already stored"
                )));
            }
        }
        Ok(())
    }
}

/// Parses and checks a whole import, including duplicates within it.
fn parse(json: &str, policy: &Policy) -> Result<Vec<Session>> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| import_error(format!("not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(import_error(format!(
            "expected a JSON array of sessions, found {}",
            kind(&value)
        )));
    };
    let sessions = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_entry(item, policy).map_err(|e| import_error(format!("entry {i}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    check_unique(&sessions)?;
    Ok(sessions)
}

/// Refuses two entries with one id or one token hash.
fn check_unique(sessions: &[Session]) -> Result<()> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut hashes: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sessions.iter().enumerate() {
        if let Some(first) = ids.insert(&s.id, i) {
            return Err(import_error(format!(
                "entry {i}: field id: duplicate of entry {first}"
            )));
        }
        if let Some(first) = hashes.insert(&s.token_hash, i) {
            return Err(import_error(format!(
                "entry {i}: field tokenHash: duplicate of entry {first}"
            )));
        }
    }
    Ok(())
}

/// The JSON type of a value, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One entry's fields; errors read "field NAME: PROBLEM".
struct Fields<'a>(&'a Map<String, Value>);

fn field_error(name: &str, problem: impl std::fmt::Display) -> String {
    format!("field {name}: {problem}")
}

impl<'a> Fields<'a> {
    /// The field's value; `None` when it is absent or null.
    fn optional(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, String> {
        self.optional(name)
            .ok_or_else(|| field_error(name, "missing"))
    }

    fn string(&self, name: &str) -> Result<&'a str, String> {
        as_str(name, self.required(name)?)
    }

    fn optional_string(&self, name: &str) -> Result<Option<&'a str>, String> {
        self.optional(name).map(|v| as_str(name, v)).transpose()
    }

    fn time(&self, name: &str) -> Result<SystemTime, String> {
        parse_time(name, self.string(name)?)
    }

    fn optional_time(&self, name: &str) -> Result<Option<SystemTime>, String> {
        self.optional_string(name)?
            .map(|s| parse_time(name, s))
            .transpose()
    }

    fn optional_bool(&self, name: &str) -> Result<Option<bool>, String> {
        self.optional(name)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    field_error(name, format!("expected a boolean, found {}", kind(v)))
                })
            })
            .transpose()
    }

    fn optional_millis(&self, name: &str) -> Result<Option<Duration>, String> {
        self.optional(name)
            .map(|v| match v.as_u64() {
                Some(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(field_error(
                    name,
                    "expected a positive whole number of milliseconds",
                )),
            })
            .transpose()
    }

    fn metadata(&self, name: &str) -> Result<Option<HashMap<String, String>>, String> {
        let Some(value) = self.optional(name) else {
            return Ok(None);
        };
        let Value::Object(map) = value else {
            return Err(field_error(
                name,
                format!("expected an object, found {}", kind(value)),
            ));
        };
        map.iter()
            .map(|(k, v)| {
                let path = format!("{name}.{k}");
                as_str(&path, v).map(|s| (k.clone(), s.to_owned()))
            })
            .collect::<Result<HashMap<_, _>, _>>()
            .map(Some)
    }
}

fn as_str<'v>(name: &str, value: &'v Value) -> Result<&'v str, String> {
    value
        .as_str()
        .ok_or_else(|| field_error(name, format!("expected a string, found {}", kind(value))))
}

/// Parses an RFC 3339 timestamp (any offset, any fraction) within the stores' range.
fn parse_time(name: &str, text: &str) -> Result<SystemTime, String> {
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|e| {
        field_error(
            name,
            format!("{text:?} is not an ISO-8601 timestamp like 2024-01-31T12:00:00.000Z ({e})"),
        )
    })?;
    parsed
        .timestamp_nanos_opt()
        .map(from_nanos)
        .ok_or_else(|| field_error(name, format!("{text} is outside 1677-09-22 to 2262-04-11")))
}

/// Parses and checks one entry into a session ready to store (without a token).
fn parse_entry(item: &Value, policy: &Policy) -> Result<Session, String> {
    let Value::Object(map) = item else {
        return Err(format!("expected an object, found {}", kind(item)));
    };
    let f = Fields(map);
    let id = f.string("id")?;
    if id.is_empty() {
        return Err(field_error("id", "empty"));
    }
    let user_id = f.string("userId")?;
    rules::check_user_id(user_id).map_err(|e| field_error("userId", e))?;
    let token_hash = TokenHash::from_hex(f.string("tokenHash")?)
        .ok_or_else(|| field_error("tokenHash", "not 64 hex digits"))?;
    let created_at = f.time("createdAt")?;
    let expires_at = f.time("expiresAt")?;
    if expires_at <= created_at {
        return Err(field_error("expiresAt", "not after createdAt"));
    }
    let metadata = f.metadata("metadata")?;
    if let Some(m) = &metadata {
        policy
            .check_metadata(m)
            .map_err(|e| field_error("metadata", e))?;
    }
    let lifetime = match f.optional_millis("lifetimeMs")? {
        Some(lifetime) => lifetime,
        None => expires_at
            .duration_since(created_at)
            .unwrap_or_default()
            .min(policy.max_lifetime),
    };
    let absolute_expires_at = f
        .optional_time("absoluteExpiresAt")?
        .unwrap_or_else(|| clock::add(created_at, policy.max_lifetime));
    if absolute_expires_at <= created_at {
        return Err(field_error("absoluteExpiresAt", "not after createdAt"));
    }
    Ok(Session {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        token: String::new(),
        token_hash: token_hash.to_hex(),
        created_at,
        expires_at,
        metadata,
        revoked_at: f.optional_time("revokedAt")?,
        sliding_expiration: f.optional_bool("slidingExpiration")?,
        bound_user_agent: f.optional_string("boundUserAgent")?.map(str::to_owned),
        lifetime,
        absolute_expires_at,
    })
}
