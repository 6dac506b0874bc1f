//! `SessionManager`: the seed's manager with its rules fixed, over any [`SessionStore`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::admit;
use crate::clock::{self, to_nanos, Clock, SystemClock};
use crate::error::{Result, SessionError};
use crate::events::{Listeners, RevocationReason, SessionEvent};
use crate::model::{
    CreateSessionOptions, PublicSession, Session, SessionConfig, SessionLimitAction,
    ValidationError, ValidationResult,
};
use crate::rules::{self, Policy};
use crate::store::memory::Matched;
use crate::store::{MemoryStore, SessionStore};
use crate::token::{TokenHash, MAX_TOKEN_CHARS};

/// How often an operation retries after losing a compare-and-swap race (it only loses
/// when another caller changed the session in between, e.g. slid it) before it reports
/// the session as too busy to change (`Store`). Each lost race means another change
/// succeeded; 8 attempts were seen to run out with 4 threads updating one session's
/// metadata while it slid (SQLite, CI), so the budget is generous.
pub(crate) const CAS_ATTEMPTS: usize = 64;

/// Creates, validates, rotates, revokes and purges sessions in a store.
///
/// Safe to share between threads: every method takes `&self`, and the store makes each
/// change atomic, so two concurrent refreshes of one token never both succeed.
#[derive(uniffi::Object)]
pub struct SessionManager {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    policy: Policy,
    prefix: String,
    /// When `create` last purged (or first ran), in nanoseconds since the epoch;
    /// `i64::MIN` until then. Only used with `auto_purge_interval`.
    last_auto_purge: AtomicI64,
    /// Whether the store is one of the library's own, whose records are made only
    /// from checked sessions. Any other store's records are checked as they come back
    /// (see [`admit::stored`]) before the manager relies on them.
    trusted_store: bool,
    /// Lifecycle listeners (see `add_listener`).
    listeners: Listeners,
    /// The same store as `store` when it is the in-memory one, for lookups by digest
    /// (no hex round trip); behaviour is the same as through `store`.
    memory: Option<Arc<MemoryStore>>,
    /// This manager's handle for the per-request fast path, once asked for (see
    /// `fast_path_handle`); unregistered when the manager is dropped.
    fast_handle: std::sync::OnceLock<u64>,
}

impl Drop for SessionManager {
    fn drop(&mut self) {
        if let Some(handle) = self.fast_handle.get() {
            crate::fast_path::unregister(*handle);
        }
    }
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("policy", &self.policy)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// A manager over any store and clock (the Rust-side constructor).
    pub fn with_parts(
        config: SessionConfig,
        store: Arc<dyn SessionStore>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Self> {
        Ok(Self::with_policy(
            Policy::from_config(&config)?,
            config,
            store,
            clock,
        ))
    }

    /// A manager with `policy`, already checked from `config`.
    pub(crate) fn with_policy(
        policy: Policy,
        config: SessionConfig,
        store: Arc<dyn SessionStore>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Self {
        SessionManager {
            policy,
            prefix: config.prefix,
            store,
            clock: clock.unwrap_or_else(|| Arc::new(SystemClock)),
            last_auto_purge: AtomicI64::new(i64::MIN),
            trusted_store: false,
            listeners: Listeners::default(),
            memory: None,
            fast_handle: std::sync::OnceLock::new(),
        }
    }

    /// Marks the store as one of the library's own (see `trusted_store`).
    pub(crate) fn trusting_store(mut self) -> Self {
        self.trusted_store = true;
        self
    }

    /// With `auto_purge_interval`, purges expired sessions if that long has passed
    /// since the last time (the first call only starts the count). One caller wins the
    /// right to purge; the others go on at once. A failed purge is logged, not
    /// returned: the caller's own change has already succeeded.
    fn auto_purge(&self, now: SystemTime) {
        let Some(interval) = self.policy.auto_purge_interval else {
            return;
        };
        let now_nanos = to_nanos(now);
        let interval_nanos = i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX);
        let last = self.last_auto_purge.load(Ordering::Relaxed);
        let first = last == i64::MIN;
        if !first && now_nanos.saturating_sub(last) < interval_nanos {
            return;
        }
        let claimed = self
            .last_auto_purge
            .compare_exchange(last, now_nanos, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if first || !claimed {
            return;
        }
        match self.purge(now) {
            Ok(purged) => log::debug!("auto purge removed {purged} expired sessions"),
            Err(e) => log::warn!("auto purge failed: {e}"),
        }
    }

    /// Purges at `now`, with its event.
    fn purge(&self, now: SystemTime) -> Result<i64> {
        self.listeners.change(|| {
            let count = host_count("purge_expired", self.store.purge_expired(now)?)?;
            let events = if count > 0 {
                vec![SessionEvent::Purged { count }]
            } else {
                Vec::new()
            };
            Ok((count, events))
        })
    }

    /// Revokes `session` (as read) at `now` for `reason`: `Ok(true)` once revoked by
    /// this call, `Ok(false)` when another change came first (re-read and decide).
    fn revoke(&self, session: &Session, now: SystemTime, reason: RevocationReason) -> Result<bool> {
        let mut revoked = session.clone();
        revoked.revoked_at = Some(now);
        revoked.version = session.version.saturating_add(1);
        revoked.token.clear();
        let event = SessionEvent::Revoked {
            session_id: session.id.clone(),
            user_id: session.user_id.clone(),
            reason,
        };
        self.swap(session, revoked, event)
    }

    /// Replaces `read` (a session as read) with `next` by one compare-and-swap on
    /// `read`'s token hash and version, and delivers `event` if it was replaced.
    /// `Ok(false)` means another change came first: re-read and decide again.
    pub(crate) fn swap(&self, read: &Session, next: Session, event: SessionEvent) -> Result<bool> {
        self.listeners.change(|| {
            let done = self
                .store
                .compare_and_swap(read.token_hash.clone(), read.version, next)?;
            Ok((done, if done { vec![event] } else { Vec::new() }))
        })
    }

    /// A session as callers see it: never the rotation key.
    fn shown(mut session: Session) -> Session {
        session.rotation_key = None;
        session
    }

    /// The clock's reading, rounded to the microsecond; a reading outside the
    /// supported range (1970-01-01T00:00:01Z to 2099) is a `Clock` error, so no instant
    /// outside it is ever computed or stored.
    pub(crate) fn now(&self) -> Result<SystemTime> {
        clock::checked(self.clock.now()?).map_err(|reason| SessionError::Clock {
            reason: format!("the clock read {reason}"),
        })
    }

    /// Checks a session a store returned, unless the store is the library's own: a
    /// damaged record is a `Store` error naming it, never a session to rely on.
    fn admitted(&self, session: Session) -> Result<Session> {
        if self.trusted_store {
            return Ok(session);
        }
        let id = session.id.clone();
        admit::stored(session).map_err(|e| SessionError::Store {
            reason: format!("the store returned a damaged session {id:?}: {e}"),
        })
    }

    /// The lifecycle listeners.
    pub(crate) fn listeners(&self) -> &Listeners {
        &self.listeners
    }

    /// The stored session with this id, checked.
    pub(crate) fn read_by_id(&self, session_id: &str) -> Result<Option<Session>> {
        self.store
            .get(session_id.to_owned())?
            .map(|s| self.admitted(s))
            .transpose()
    }

    /// A store's sessions with the damaged ones left out (each logged).
    pub(crate) fn healthy(&self, sessions: Vec<Session>) -> Vec<Session> {
        if self.trusted_store {
            return sessions;
        }
        sessions
            .into_iter()
            .filter_map(|s| match self.admitted(s) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::warn!("skipped: {e}");
                    None
                }
            })
            .collect()
    }

    /// The store this manager works on (for export and import).
    pub(crate) fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The validated configuration (for import's defaults and limits).
    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The stored session whose current or previous token hash is `hash`, checked a
    /// second time in constant time, so a store that matched
    /// loosely (or a host store with a bug) can never let a wrong token through.
    #[inline]
    fn lookup(&self, hash: &TokenHash) -> Result<Option<(Session, Matched)>> {
        if let Some(memory) = &self.memory {
            return Ok(memory.find_by_digest(hash));
        }
        let Some(session) = self.store.find_by_token_hash(hash.to_hex())? else {
            return Ok(None);
        };
        if hash.matches_hex(&session.token_hash) {
            return self.admitted(session).map(|s| Some((s, Matched::Current)));
        }
        if session
            .previous_token_hash
            .as_deref()
            .is_some_and(|p| hash.matches_hex(p))
        {
            return self.admitted(session).map(|s| Some((s, Matched::Previous)));
        }
        Ok(None)
    }

    /// What presenting the predecessor of `session`'s token means at `now`: within the
    /// rotation grace, `Ok(())` (it stands for the current token); after it, token
    /// reuse: the session is revoked and the caller gets `TokenReused`. `Ok(false)`
    /// from the revocation means the session changed meanwhile: the caller re-reads.
    fn predecessor_presented(&self, session: &Session, now: SystemTime) -> Result<Option<()>> {
        // Without the rotation key (forgotten after the grace, or never imported) the
        // grace cannot give the same token, so it is over.
        if session.rotation_key.is_some()
            && rules::within_grace(session.rotated_at, self.policy.rotation_grace, now)
        {
            return Ok(Some(()));
        }
        if self.revoke(session, now, RevocationReason::TokenReuse)? {
            log::warn!(
                "session {} revoked: a rotated-out token was presented after the grace",
                session.id
            );
            return Err(SessionError::TokenReused);
        }
        Ok(None)
    }

    /// Why a refresh of `read` (a session read by its token) lost its compare-and-swap:
    /// `Ok(())` when only its version moved (a slide), so the refresh may try again;
    /// otherwise the error the caller gets: revoked, expired, or rotated by another
    /// caller (`InvalidToken`).
    fn refresh_lost(&self, read: &Session, now: SystemTime) -> Result<()> {
        match self.read_by_id(&read.id)? {
            None => Err(SessionError::InvalidToken),
            Some(current) if current.revoked_at.is_some() => Err(SessionError::SessionRevoked),
            Some(current) if rules::is_expired(&current, now) => Err(SessionError::SessionExpired),
            // Rotated by another caller: the next lookup finds the session through its
            // predecessor (this token) and applies the grace.
            Some(current) if current.previous_token_hash.as_ref() == Some(&read.token_hash) => {
                Ok(())
            }
            Some(current) if current.token_hash != read.token_hash => {
                Err(SessionError::InvalidToken)
            }
            Some(_) => Ok(()),
        }
    }

    fn busy(session_id: &str, action: &str) -> SessionError {
        SessionError::Store {
            reason: format!(
                "session {session_id} kept changing while being {action} ({CAS_ATTEMPTS} attempts); try again"
            ),
        }
    }
}

/// The hash of a presented token; `None` for a string no issued token can be.
fn presented_hash(token: &str) -> Option<TokenHash> {
    (!token.is_empty() && token.len() <= MAX_TOKEN_CHARS).then(|| TokenHash::of(token))
}

#[uniffi::export]
impl SessionManager {
    /// A manager keeping sessions in memory (gone when the process ends), using the
    /// system clock unless `clock` is given.
    #[uniffi::constructor(default(clock = None))]
    pub fn new(config: SessionConfig, clock: Option<Arc<dyn Clock>>) -> Result<Arc<Self>> {
        let store = Arc::new(MemoryStore::new());
        let mut manager = Self::with_parts(config, store.clone(), clock)?.trusting_store();
        manager.memory = Some(store);
        Ok(Arc::new(manager))
    }

    /// A manager over a store implemented by the host (or any other `SessionStore`).
    #[uniffi::constructor(default(clock = None))]
    pub fn with_store(
        config: SessionConfig,
        store: Arc<dyn SessionStore>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Arc<Self>> {
        Self::with_parts(config, store, clock).map(Arc::new)
    }

    /// Creates and stores a session; the returned value is the only one that carries
    /// the raw token. With `bind_to_user_agent`, the session is bound to
    /// `metadata["userAgent"]`, which must then be present (`UserAgentRequired`
    /// otherwise: a binding manager never issues an unbound session).
    ///
    /// With `max_sessions_per_user`, the user's oldest active sessions are revoked in
    /// the same atomic step to make room, or (`session_limit_action` = `Refuse`) the
    /// call fails with `SessionLimitReached`.
    pub fn create(&self, options: CreateSessionOptions) -> Result<Session> {
        let now = self.now()?;
        let session = self.policy.new_session(options, now)?;
        let mut stored = session.clone();
        stored.token.clear();
        self.listeners.change(|| {
            let revoked = match self.policy.max_sessions_per_user {
                None => {
                    self.store.insert(stored)?;
                    Vec::new()
                }
                Some(limit) => self.store.insert_limited(
                    stored,
                    limit,
                    now,
                    self.policy.session_limit_action == SessionLimitAction::RevokeOldest,
                )?,
            };
            let mut events = vec![SessionEvent::Created {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
            }];
            events.extend(revoked.into_iter().map(|id| SessionEvent::Revoked {
                session_id: id,
                user_id: session.user_id.clone(),
                reason: RevocationReason::SessionLimit,
            }));
            Ok(((), events))
        })?;
        self.auto_purge(now);
        log::debug!(
            "session {} created for user {}",
            session.id,
            session.user_id
        );
        Ok(session)
    }

    /// Validates a token presented by a client, checking in this order: unknown token,
    /// revoked, expired (at `expires_at` exactly it is expired), user agent. A sliding
    /// session is extended when less than half of its idle window remains.
    /// Any string at all is accepted; only store or clock failures are errors.
    #[uniffi::method(default(user_agent = None))]
    pub fn validate(&self, token: String, user_agent: Option<String>) -> Result<ValidationResult> {
        let Some(hash) = presented_hash(&token) else {
            return Ok(ValidationResult::fail(ValidationError::InvalidToken));
        };
        let user_agent = user_agent.as_deref();
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut session, matched)) = self.lookup(&hash)? else {
                return Ok(ValidationResult::fail(ValidationError::InvalidToken));
            };
            let now = self.now()?;
            if matched == Matched::Previous {
                if let Some(error) = rules::check(&session, now, user_agent) {
                    return Ok(ValidationResult::fail(error));
                }
                match self.predecessor_presented(&session, now) {
                    Ok(Some(())) => {}
                    Ok(None) => continue,
                    Err(SessionError::TokenReused) => {
                        return Ok(ValidationResult::fail(ValidationError::TokenReused))
                    }
                    Err(e) => return Err(e),
                }
            }
            if let Some(error) = rules::check(&session, now, user_agent) {
                return Ok(ValidationResult::fail(error));
            }
            if let Some(expires_at) = rules::slide_due(&session, now) {
                let read_version = session.version;
                session.expires_at = expires_at;
                session.version = read_version.saturating_add(1);
                if !rules::within_grace(session.rotated_at, self.policy.rotation_grace, now) {
                    // The grace is over: the rotation key has no use left.
                    session.rotation_key = None;
                }
                let current = session.token_hash.clone();
                if !self
                    .store
                    .compare_and_swap(current, read_version, session.clone())?
                {
                    // Another change came first: re-read, so this slide is never
                    // written over it.
                    continue;
                }
            }
            session.rotation_key = None; // as `shown`, in place
            return Ok(ValidationResult::ok(session));
        }
        Err(Self::busy("(validated)", "validated"))
    }

    /// This manager's handle for the bindings' per-request fast path: a number naming
    /// this very manager to the C entry point `sessions_fast_validate` (declared in the
    /// Swift package's C header; the Python layer calls it directly, the Kotlin layer
    /// its JNI twin registered by `sessions_jni_register`), which runs `validate`
    /// without UniFFI's per-call conversions. The same number on every
    /// call; it never names another manager, and it stops working (an error code, never
    /// a crash) once this manager is dropped. The bindings use it for you.
    pub fn fast_path_handle(self: Arc<Self>) -> u64 {
        *self
            .fast_handle
            .get_or_init(|| crate::fast_path::register(&self))
    }

    /// Revokes a session by id. Its token fails validation with `SessionRevoked` until
    /// the session expires and is purged. Returns false if it was already revoked.
    /// Fails with `SessionNotFound` for an unknown id.
    pub fn destroy(&self, session_id: String) -> Result<bool> {
        for _ in 0..CAS_ATTEMPTS {
            let Some(session) = self.read_by_id(&session_id)? else {
                return Err(SessionError::SessionNotFound { session_id });
            };
            if session.revoked_at.is_some() {
                return Ok(false);
            }
            if self.revoke(&session, self.now()?, RevocationReason::Destroy)? {
                log::debug!("session {session_id} revoked");
                return Ok(true);
            }
        }
        Err(Self::busy(&session_id, "revoked"))
    }

    /// Rotates a token: the session gets a new token (returned, with a later expiry
    /// within the absolute cap) and the presented token becomes its predecessor, which
    /// validates only within the rotation grace. Of concurrent refreshes of one token
    /// exactly one rotation is written; within the grace every other refresh of that
    /// token gets the same new token (reproduced from the rotation's key, nothing
    /// written), so clients refreshing in parallel are not logged out; after it, a
    /// refresh of the predecessor is token reuse (`TokenReused`, the session is
    /// revoked). A refresh that loses to a revocation gets `SessionRevoked`, and one that
    /// loses to a slide tries again on the slid session. Fails like `validate` would, as
    /// errors.
    #[uniffi::method(default(user_agent = None))]
    pub fn refresh(&self, token: String, user_agent: Option<String>) -> Result<Session> {
        let Some(hash) = presented_hash(&token) else {
            return Err(SessionError::InvalidToken);
        };
        let user_agent = user_agent.as_deref();
        for _ in 0..CAS_ATTEMPTS {
            let Some((session, matched)) = self.lookup(&hash)? else {
                return Err(SessionError::InvalidToken);
            };
            let now = self.now()?;
            let session = match matched {
                Matched::Previous => {
                    rules::check_refreshable(&session, now, user_agent)?;
                    if self.predecessor_presented(&session, now)?.is_none() {
                        continue;
                    }
                    // Within the grace: the same token the rotation gave, reproduced
                    // from its key; nothing is written.
                    let token = rules::reproduce_successor(&session, &token)
                        .ok_or(SessionError::InvalidToken)?;
                    let mut same = Self::shown(session);
                    same.token = token;
                    return Ok(same);
                }
                Matched::Current => session,
            };
            rules::check_refreshable(&session, now, user_agent)?;
            let next = self.policy.rotated(&session, &hash, &token, now)?;
            let mut stored = next.clone();
            stored.token.clear();
            let event = SessionEvent::Rotated {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
            };
            if self.swap(&session, stored, event)? {
                log::debug!("session {} rotated", next.id);
                return Ok(Self::shown(next));
            }
            self.refresh_lost(&session, now)?;
        }
        Err(Self::busy("(refreshed)", "refreshed"))
    }

    /// The user's sessions that are neither revoked nor expired, oldest first.
    pub fn list_for_user(&self, user_id: String) -> Result<Vec<Session>> {
        rules::check_user_id(&user_id)?;
        let now = self.now()?;
        let mut sessions = self.healthy(self.store.list_for_user(user_id)?);
        sessions.retain(|s| s.revoked_at.is_none() && !rules::is_expired(s, now));
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions.into_iter().map(Self::shown).collect())
    }

    /// Revokes every session of a user at once ("sign out everywhere"). Returns how
    /// many sessions were revoked.
    pub fn destroy_all_for_user(&self, user_id: String) -> Result<i64> {
        rules::check_user_id(&user_id)?;
        let now = self.now()?;
        let count = self.listeners.change(|| {
            let revoked = self.store.revoke_all_for_user(user_id.clone(), now)?;
            let count = i64::try_from(revoked.len()).unwrap_or(i64::MAX);
            let events = revoked
                .into_iter()
                .map(|session_id| SessionEvent::Revoked {
                    session_id,
                    user_id: user_id.clone(),
                    reason: RevocationReason::DestroyAll,
                })
                .collect();
            Ok((count, events))
        })?;
        log::debug!("{count} sessions revoked for one user");
        Ok(count)
    }

    /// The public view of a session: no token, no hash.
    pub fn to_public_session(&self, session: Session) -> PublicSession {
        PublicSession::from(&session)
    }

    /// The stored session with this id (its `token` is empty), or `None`.
    pub fn get(&self, session_id: String) -> Result<Option<Session>> {
        Ok(self.read_by_id(&session_id)?.map(Self::shown))
    }

    /// Removes every expired session (revoked ones included once expired). Returns how
    /// many were removed; costs in proportion to that number, not to the store's size.
    pub fn purge_expired(&self) -> Result<i64> {
        self.purge(self.now()?)
    }

    /// How many sessions the store holds, revoked and expired ones included until purged.
    pub fn count(&self) -> Result<i64> {
        host_count("count", self.store.count()?)
    }

    /// The key prefix this manager was configured with.
    pub fn prefix(&self) -> String {
        self.prefix.clone()
    }
}

/// A count a store returned, refused when negative (a host store's bug): counts are
/// signed for the hosts (Java and Kotlin have no unsigned 64-bit integer type).
fn host_count(method: &str, count: i64) -> Result<i64> {
    if count < 0 {
        return Err(SessionError::Store {
            reason: format!("the store's {method} returned a negative count ({count})"),
        });
    }
    Ok(count)
}
