//! Export and import of sessions in the seed's serialized form.
//!
//! The form is a JSON array of objects with camelCase keys `id`, `userId`, `tokenHash`,
//! `createdAt`, `expiresAt`, `metadata`, `revokedAt`, `slidingExpiration` and
//! `boundUserAgent`, with timestamps as RFC 3339 strings in UTC. Export writes
//! milliseconds as JavaScript's `Date.toJSON` does (`2024-01-31T12:00:00.000Z`), or
//! microseconds when an instant has them (`…:00.123456Z`), so what is exported imports
//! back identically; import takes any
//! offset and fraction (JavaScript's `Date.toJSON` form included). Export adds
//! `lifetimeMs` (or `lifetimeUs` when the lifetime is not whole milliseconds),
//! `absoluteExpiresAt` and `version`, and for a refreshed session `previousTokenHash`,
//! `rotatedAt` and `rotationKey` (the rotation grace's state: with the predecessor
//! token it gives the current one, so treat an export as a secret, like the store),
//! which import accepts but does not require. A raw
//! token is never written; one found in the input is ignored.
//!
//! Every imported entry passes the same checks and limits as a session made by
//! `create` (see `admit::imported`), and the whole import is one atomic store
//! operation.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use chrono::DateTime;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::admit::{self, FieldError};
use crate::clock::{self, from_nanos};
use crate::error::{Result, SessionError};
use crate::manager::SessionManager;
use crate::model::Session;
use crate::rules::Policy;
use crate::store::DamagedSession;
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
    #[serde(skip_serializing_if = "Option::is_none")]
    lifetime_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifetime_us: Option<u64>,
    absolute_expires_at: String,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_token_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_key: Option<&'a str>,
}

impl<'a> Exported<'a> {
    fn of(s: &'a Session) -> Self {
        Exported {
            id: &s.id,
            user_id: &s.user_id,
            token_hash: &s.token_hash,
            created_at: clock::format_rfc3339(s.created_at),
            expires_at: clock::format_rfc3339(s.expires_at),
            metadata: s
                .metadata
                .as_ref()
                .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()),
            revoked_at: s.revoked_at.map(clock::format_rfc3339),
            sliding_expiration: s.sliding_expiration,
            bound_user_agent: s.bound_user_agent.as_deref(),
            lifetime_ms: (s.lifetime.subsec_micros() % 1000 == 0)
                .then(|| u64::try_from(s.lifetime.as_millis()).unwrap_or(u64::MAX)),
            lifetime_us: (s.lifetime.subsec_micros() % 1000 != 0)
                .then(|| u64::try_from(s.lifetime.as_micros()).unwrap_or(u64::MAX)),
            absolute_expires_at: clock::format_rfc3339(s.absolute_expires_at),
            version: s.version,
            previous_token_hash: s.previous_token_hash.as_deref(),
            rotated_at: s.rotated_at.map(clock::format_rfc3339),
            rotation_key: s.rotation_key.as_deref(),
        }
    }
}

/// An error about the input as a whole.
fn import_error(reason: impl Into<String>) -> SessionError {
    SessionError::Import {
        entry: None,
        field: None,
        reason: reason.into(),
    }
}

/// An error about one entry (counted from 0), and the field at fault if one is.
fn entry_error(entry: usize, field: Option<&str>, reason: impl Into<String>) -> SessionError {
    SessionError::Import {
        entry: Some(entry as i64),
        field: field.map(str::to_owned),
        reason: reason.into(),
    }
}

/// The JSON name of a `Session` field, for import errors.
fn json_name(field: &str) -> &str {
    match field {
        "user_id" => "userId",
        "token_hash" => "tokenHash",
        "created_at" => "createdAt",
        "expires_at" => "expiresAt",
        "revoked_at" => "revokedAt",
        "sliding_expiration" => "slidingExpiration",
        "bound_user_agent" => "boundUserAgent",
        "lifetime" => "lifetimeMs",
        "absolute_expires_at" => "absoluteExpiresAt",
        "previous_token_hash" => "previousTokenHash",
        "rotated_at" => "rotatedAt",
        "rotation_key" => "rotationKey",
        other => other,
    }
}

/// What `export_sessions` returns: the export, and the records left out of it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionExport {
    /// The sessions, as `export_json` writes them.
    pub json: String,
    /// How many sessions `json` holds.
    pub exported: i64,
    /// Stored records that are damaged and were left out (each also logged).
    pub damaged: Vec<DamagedSession>,
}

#[uniffi::export]
impl SessionManager {
    /// Every stored session (revoked and expired ones included, until purged) as a JSON
    /// array in the seed's serialized form, plus `lifetimeMs` and `absoluteExpiresAt`.
    /// Timestamps have millisecond precision. Never contains a raw token.
    /// Damaged records are left out (and logged); `export_sessions` also lists them.
    pub fn export_json(&self) -> Result<String> {
        Ok(self.export_sessions()?.json)
    }

    /// Like `export_json`, and says how many sessions were exported and which stored
    /// records were left out because they are damaged (a damaged record never hides
    /// the healthy ones).
    pub fn export_sessions(&self) -> Result<SessionExport> {
        let scan = self.store().all_sessions()?;
        let mut damaged = scan.damaged;
        let mut sessions = Vec::with_capacity(scan.sessions.len());
        for session in scan.sessions {
            let id = session.id.clone();
            match admit::stored(session) {
                Ok(s) => sessions.push(s),
                Err(e) => {
                    log::warn!("export: skipped damaged session {id}: {e}");
                    damaged.push(DamagedSession {
                        id,
                        reason: e.to_string(),
                    });
                }
            }
        }
        let exported: Vec<Exported<'_>> = sessions.iter().map(Exported::of).collect();
        let json = serde_json::to_string(&exported).map_err(|e| SessionError::Store {
            reason: format!("cannot encode sessions as JSON: {e}"),
        })?;
        Ok(SessionExport {
            json,
            exported: sessions.len() as i64,
            damaged,
        })
    }

    /// Adds the sessions in `json` (the form `export_json` writes, or the seed's, in
    /// which `lifetimeMs` and `absoluteExpiresAt` are absent) and returns how many.
    ///
    /// Without `lifetimeMs` the lifetime is `expiresAt - createdAt` (at most
    /// `max_lifetime`); without `absoluteExpiresAt` the absolute end is `createdAt +
    /// max_lifetime`. Each entry must pass what `create` applies (user id, id, token
    /// hash, metadata limits, a lifetime and an absolute end within `max_lifetime`,
    /// `createdAt < expiresAt <= absoluteExpiresAt`, instants within 1970-01-01T00:00:01Z
    /// to 2099-12-31T23:59:59.999999Z). Anything else, or an id or token hash already
    /// stored or repeated, fails with `Import` naming the entry (counted from 0) and
    /// field. The import is one atomic store operation: all sessions are stored, or
    /// (on any error, `Store` included) none.
    pub fn import_json(&self, json: String) -> Result<i64> {
        let sessions = parse(&json, self.policy())?;
        self.check_previous_not_stored(&sessions)?;
        let total = sessions.len();
        // Kept to name the entry if the store refuses a duplicate.
        let keys: Vec<(String, String)> = sessions
            .iter()
            .map(|s| (s.id.clone(), s.token_hash.clone()))
            .collect();
        if let Err(e) = self.store().insert_all(sessions) {
            self.check_not_stored(&keys)?;
            return Err(e);
        }
        log::debug!("{total} sessions imported");
        Ok(total as i64)
    }
}

impl SessionManager {
    /// Refuses sessions whose id or token hash is already in the store.
    /// Refuses an entry whose previous token hash already finds a stored session (as
    /// its current or its previous token): it would take over that session's token.
    /// Only entries rotated within their export's grace carry one.
    fn check_previous_not_stored(&self, sessions: &[Session]) -> Result<()> {
        for (i, s) in sessions.iter().enumerate() {
            if let Some(previous) = &s.previous_token_hash {
                if self.store().find_by_token_hash(previous.clone())?.is_some() {
                    return Err(entry_error(
                        i,
                        Some("previousTokenHash"),
                        "a stored session already has this token hash",
                    ));
                }
            }
        }
        Ok(())
    }

    /// `keys` are the entries' (id, token hash).
    fn check_not_stored(&self, keys: &[(String, String)]) -> Result<()> {
        for (i, (id, token_hash)) in keys.iter().enumerate() {
            if self.store().get(id.clone())?.is_some() {
                return Err(entry_error(
                    i,
                    Some("id"),
                    format!("a session with id {id} is already stored"),
                ));
            }
            if self
                .store()
                .find_by_token_hash(token_hash.clone())?
                .is_some()
            {
                return Err(entry_error(
                    i,
                    Some("tokenHash"),
                    "a session with this token hash is already stored",
                ));
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
            parse_entry(item, policy).map_err(|e| entry_error(i, e.field.as_deref(), e.reason))
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
            return Err(entry_error(
                i,
                Some("id"),
                format!("duplicate of entry {first}"),
            ));
        }
        if let Some(first) = hashes.insert(&s.token_hash, i) {
            return Err(entry_error(
                i,
                Some("tokenHash"),
                format!("duplicate of entry {first}"),
            ));
        }
        // A previous token hash finds its session as surely as the current one: every
        // hash of the import, current or previous, is distinct.
        if let Some(previous) = &s.previous_token_hash {
            if let Some(first) = hashes.insert(previous, i) {
                return Err(entry_error(
                    i,
                    Some("previousTokenHash"),
                    format!("duplicate of a hash of entry {first}"),
                ));
            }
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

/// What is wrong with one entry, and in which field (its JSON name) if one.
struct EntryError {
    field: Option<String>,
    reason: String,
}

fn field_error(name: &str, problem: impl std::fmt::Display) -> EntryError {
    EntryError {
        field: Some(name.to_owned()),
        reason: problem.to_string(),
    }
}

impl From<FieldError> for EntryError {
    fn from(e: FieldError) -> Self {
        field_error(json_name(e.field), e.reason)
    }
}

type Parsed<T> = std::result::Result<T, EntryError>;

/// One entry's fields.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The field's value; `None` when it is absent or null.
    fn optional(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn required(&self, name: &str) -> Parsed<&'a Value> {
        self.optional(name)
            .ok_or_else(|| field_error(name, "missing"))
    }

    fn string(&self, name: &str) -> Parsed<&'a str> {
        as_str(name, self.required(name)?)
    }

    fn optional_string(&self, name: &str) -> Parsed<Option<&'a str>> {
        self.optional(name).map(|v| as_str(name, v)).transpose()
    }

    fn time(&self, name: &str) -> Parsed<SystemTime> {
        parse_time(name, self.string(name)?)
    }

    fn optional_time(&self, name: &str) -> Parsed<Option<SystemTime>> {
        self.optional_string(name)?
            .map(|s| parse_time(name, s))
            .transpose()
    }

    fn optional_bool(&self, name: &str) -> Parsed<Option<bool>> {
        self.optional(name)
            .map(|v| {
                v.as_bool().ok_or_else(|| {
                    field_error(name, format!("expected a boolean, found {}", kind(v)))
                })
            })
            .transpose()
    }

    /// A positive whole number.
    fn optional_count(&self, name: &str) -> Parsed<Option<u64>> {
        self.optional(name)
            .map(|v| match v.as_u64() {
                Some(n) if n > 0 => Ok(n),
                _ => Err(field_error(name, "expected a positive whole number")),
            })
            .transpose()
    }

    fn metadata(&self, name: &str) -> Parsed<Option<HashMap<String, String>>> {
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
            .collect::<Parsed<HashMap<_, _>>>()
            .map(Some)
    }
}

fn as_str<'v>(name: &str, value: &'v Value) -> Parsed<&'v str> {
    value
        .as_str()
        .ok_or_else(|| field_error(name, format!("expected a string, found {}", kind(value))))
}

/// Parses an RFC 3339 timestamp (any offset, any fraction); the range is checked by
/// admission.
fn parse_time(name: &str, text: &str) -> Parsed<SystemTime> {
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|e| {
        field_error(
            name,
            format!("{text:?} is not an ISO-8601 timestamp like 2024-01-31T12:00:00.000Z ({e})"),
        )
    })?;
    let nanos = parsed.timestamp_nanos_opt().ok_or_else(|| {
        field_error(
            name,
            format!("{text} is outside the supported range 1970-01-01T00:00:01Z to 2099-12-31T23:59:59.999999Z"),
        )
    })?;
    clock::checked(from_nanos(nanos)).map_err(|reason| field_error(name, reason))
}

/// Parses one entry and admits it under `policy` (see `admit::imported`): a session
/// ready to store (without a token).
fn parse_entry(item: &Value, policy: &Policy) -> Parsed<Session> {
    let Value::Object(map) = item else {
        return Err(EntryError {
            field: None,
            reason: format!("expected an object, found {}", kind(item)),
        });
    };
    let f = Fields(map);
    let id = f.string("id")?;
    let user_id = f.string("userId")?;
    let token_hash = TokenHash::from_hex(f.string("tokenHash")?)
        .ok_or_else(|| field_error("tokenHash", "not 64 hex digits"))?;
    let created_at = f.time("createdAt")?;
    let expires_at = f.time("expiresAt")?;
    let lifetime = match (
        f.optional_count("lifetimeUs")?,
        f.optional_count("lifetimeMs")?,
    ) {
        (Some(us), _) => Duration::from_micros(us),
        (None, Some(ms)) => Duration::from_millis(ms),
        (None, None) => expires_at
            .duration_since(created_at)
            .unwrap_or_default()
            .min(policy.max_lifetime),
    };
    let absolute_expires_at = f
        .optional_time("absoluteExpiresAt")?
        .unwrap_or_else(|| clock::add(created_at, policy.max_lifetime).min(clock::max_instant()));
    let version = match f.optional_count("version")? {
        Some(v) => i64::try_from(v).map_err(|_| field_error("version", "too large"))?,
        None => 1,
    };
    let session = Session {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        token: String::new(),
        token_hash: token_hash.to_hex(),
        created_at,
        expires_at,
        metadata: f.metadata("metadata")?,
        revoked_at: f.optional_time("revokedAt")?,
        sliding_expiration: f.optional_bool("slidingExpiration")?,
        bound_user_agent: f.optional_string("boundUserAgent")?.map(str::to_owned),
        lifetime,
        absolute_expires_at,
        version,
        previous_token_hash: f.optional_string("previousTokenHash")?.map(str::to_owned),
        rotated_at: f.optional_time("rotatedAt")?,
        rotation_key: f.optional_string("rotationKey")?.map(str::to_owned),
    };
    Ok(admit::imported(policy, session)?)
}
