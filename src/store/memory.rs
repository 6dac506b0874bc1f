//! The in-memory store: sharded by token hash, indexed by id, token hash, user and
//! expiry, about 250 bytes per session.
//!
//! Each shard holds a slab of compact records plus its id, hash and expiry indexes. A
//! session lives in the shard chosen by its token hash, so `validate` touches one
//! shard's read lock and threads rarely contend. Operations that must see every shard at
//! once (insert's uniqueness check, lookups by id, user-wide operations) lock all shards
//! in index order; a rotation locks its two shards in index order. The user index maps
//! a user to session ids (which never change) and is locked after the shards, so no
//! order of locks can deadlock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use compact_str::CompactString;
use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::clock::{from_nanos, to_nanos};
use crate::error::{Result, SessionError};
use crate::model::Session;
use crate::store::{SessionScan, SessionStore};
use crate::token::TokenHash;

const SHARDS: usize = 16;

/// Sessions kept in this process's memory; gone when the process ends.
pub struct MemoryStore {
    shards: Box<[RwLock<Shard>]>,
    /// Previous token hash -> session id, sharded by the previous hash; locked after
    /// the shards and before the user index.
    previous: Box<[RwLock<hashbrown::HashMap<TokenHash, SessionKey>>]>,
    users: Mutex<hashbrown::HashMap<Arc<str>, Vec<SessionKey>>>,
    id_hasher: DefaultHashBuilder,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// A session id: canonical UUIDs (all ids the library issues) take 16 bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
enum SessionKey {
    Uuid([u8; 16]),
    Text(Box<str>),
}

impl SessionKey {
    fn parse(id: &str) -> Self {
        match uuid::Uuid::try_parse(id) {
            Ok(u) if u.hyphenated().encode_lower(&mut Self::uuid_buffer()) == id => {
                SessionKey::Uuid(u.into_bytes())
            }
            _ => SessionKey::Text(id.into()),
        }
    }

    fn uuid_buffer() -> [u8; uuid::fmt::Hyphenated::LENGTH] {
        [0; uuid::fmt::Hyphenated::LENGTH]
    }

    fn render(&self) -> String {
        match self {
            SessionKey::Uuid(b) => String::from(
                uuid::Uuid::from_bytes(*b)
                    .hyphenated()
                    .encode_lower(&mut Self::uuid_buffer()),
            ),
            SessionKey::Text(s) => String::from(&**s),
        }
    }
}

/// A session's user id: short ids (most of them) sit inline in the record, so `validate`
/// does not follow a pointer to a separate allocation; longer ones share the user
/// index's allocation. Either way it takes 24 bytes.
#[derive(Clone)]
enum UserName {
    Inline(CompactString),
    Shared(Arc<str>),
}

impl UserName {
    /// Bytes a `CompactString` holds without allocating (24 on 64-bit targets).
    const INLINE: usize = std::mem::size_of::<CompactString>();

    fn new(shared: &Arc<str>) -> Self {
        if shared.len() <= Self::INLINE {
            UserName::Inline(CompactString::from(&**shared))
        } else {
            UserName::Shared(shared.clone())
        }
    }

    fn as_str(&self) -> &str {
        match self {
            UserName::Inline(s) => s,
            UserName::Shared(s) => s,
        }
    }
}

/// A stored session in compact form.
struct Record {
    key: SessionKey,
    user: UserName,
    hash: TokenHash,
    created: i64,
    expires: i64,
    absolute: i64,
    revoked: Option<i64>,
    version: i64,
    lifetime_nanos: u64,
    sliding: Option<bool>,
    bound_user_agent: Option<Box<str>>,
    /// Boxed so a record without metadata spends 8 bytes on it, not 48.
    #[allow(clippy::box_collection)]
    metadata: Option<Box<HashMap<String, String>>>,
    /// Boxed so a session never refreshed spends 8 bytes on it.
    rotation: Option<Box<Rotation>>,
}

/// A session's last rotation: its previous token hash, when, and the key.
struct Rotation {
    previous: TokenHash,
    rotated_at: Option<i64>,
    key: Option<Box<str>>,
}

impl Record {
    /// `key` is `s.id` parsed, `hash` its `token_hash` decoded.
    fn from_session(s: Session, key: SessionKey, hash: TokenHash, user: UserName) -> Self {
        Record {
            key,
            user,
            hash,
            created: to_nanos(s.created_at),
            expires: to_nanos(s.expires_at),
            absolute: to_nanos(s.absolute_expires_at),
            revoked: s.revoked_at.map(to_nanos),
            version: s.version,
            lifetime_nanos: u64::try_from(s.lifetime.as_nanos()).unwrap_or(u64::MAX),
            sliding: s.sliding_expiration,
            bound_user_agent: s.bound_user_agent.map(String::into_boxed_str),
            metadata: s.metadata.map(Box::new),
            rotation: s
                .previous_token_hash
                .as_deref()
                .and_then(TokenHash::from_hex)
                .map(|previous| {
                    Box::new(Rotation {
                        previous,
                        rotated_at: s.rotated_at.map(to_nanos),
                        key: s.rotation_key.map(String::into_boxed_str),
                    })
                }),
        }
    }

    fn previous(&self) -> Option<TokenHash> {
        self.rotation.as_ref().map(|r| r.previous)
    }

    fn to_session(&self) -> Session {
        Session {
            id: self.key.render(),
            user_id: String::from(self.user.as_str()),
            token: String::new(),
            token_hash: self.hash.to_hex(),
            created_at: from_nanos(self.created),
            expires_at: from_nanos(self.expires),
            metadata: self.metadata.as_deref().cloned(),
            revoked_at: self.revoked.map(from_nanos),
            sliding_expiration: self.sliding,
            bound_user_agent: self.bound_user_agent.as_deref().map(str::to_owned),
            lifetime: Duration::from_nanos(self.lifetime_nanos),
            absolute_expires_at: from_nanos(self.absolute),
            version: self.version,
            previous_token_hash: self.rotation.as_ref().map(|r| r.previous.to_hex()),
            rotated_at: self
                .rotation
                .as_ref()
                .and_then(|r| r.rotated_at)
                .map(from_nanos),
            rotation_key: self
                .rotation
                .as_ref()
                .and_then(|r| r.key.as_deref())
                .map(str::to_owned),
        }
    }
}

/// One shard: a slab of records and its indexes (holding slab slots).
#[derive(Default)]
struct Shard {
    slots: Vec<Option<Record>>,
    free: Vec<u32>,
    by_hash: HashTable<u32>,
    by_id: HashTable<u32>,
    /// Min-heap of (expiry, slot). Entries go stale when a session slides, rotates out
    /// of the shard or is removed; purge skips those, so no update ever searches it.
    expiry: BinaryHeap<Reverse<(i64, u32)>>,
    len: usize,
}

/// Hash-table key for a token hash: it is already uniformly random.
fn hash_key(hash: &TokenHash) -> u64 {
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&hash.0[8..16]);
    u64::from_le_bytes(eight)
}

fn shard_of(hash: &TokenHash) -> usize {
    hash.0[0] as usize % SHARDS
}

impl Shard {
    fn record(&self, slot: u32) -> Option<&Record> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    fn slot_by_hash(&self, hash: &TokenHash) -> Option<u32> {
        self.by_hash
            .find(hash_key(hash), |&s| {
                self.record(s).is_some_and(|r| r.hash == *hash)
            })
            .copied()
    }

    fn slot_by_id(&self, key: &SessionKey, id_hash: u64) -> Option<u32> {
        self.by_id
            .find(id_hash, |&s| self.record(s).is_some_and(|r| r.key == *key))
            .copied()
    }

    fn add(&mut self, record: Record, hasher: &DefaultHashBuilder) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let Shard {
            slots,
            by_hash,
            by_id,
            expiry,
            ..
        } = self;
        let rehash_hash = |s: &u32| {
            slots[*s as usize]
                .as_ref()
                .map_or(0, |r: &Record| hash_key(&r.hash))
        };
        by_hash.insert_unique(hash_key(&record.hash), slot, rehash_hash);
        let rehash_id = |s: &u32| {
            slots[*s as usize]
                .as_ref()
                .map_or(0, |r: &Record| hasher.hash_one(&r.key))
        };
        by_id.insert_unique(hasher.hash_one(&record.key), slot, rehash_id);
        expiry.push(Reverse((record.expires, slot)));
        slots[slot as usize] = Some(record);
        self.len += 1;
        self.compact_expiry();
        slot
    }

    /// Puts `record` in place of the one in `slot`, which has the same id and token
    /// hash (so neither index changes); a new expiry goes on the expiry heap.
    fn replace(&mut self, slot: u32, record: Record) {
        let Some(current) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        let previous = std::mem::replace(current, record);
        let expires = current.expires;
        if expires != previous.expires {
            self.expiry.push(Reverse((expires, slot)));
            self.compact_expiry();
        }
    }

    /// Rebuilds the expiry heap from the live records once it holds more than twice as
    /// many entries as the shard has sessions (stale entries pile up as sessions slide,
    /// rotate or are revoked), so it stays bounded even if `purge_expired` is never
    /// called. Each rebuild is followed by at least `len + 64` changes before the next,
    /// so its cost is constant per change, amortised.
    fn compact_expiry(&mut self) {
        if self.expiry.len() <= 2 * self.len + 64 {
            return;
        }
        self.expiry = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, record)| {
                let slot = u32::try_from(slot).ok()?;
                record.as_ref().map(|r| Reverse((r.expires, slot)))
            })
            .collect();
    }

    fn take(&mut self, slot: u32, hasher: &DefaultHashBuilder) -> Option<Record> {
        let record = self.slots.get_mut(slot as usize)?.take()?;
        if let Ok(entry) = self
            .by_hash
            .find_entry(hash_key(&record.hash), |&s| s == slot)
        {
            entry.remove();
        }
        if let Ok(entry) = self
            .by_id
            .find_entry(hasher.hash_one(&record.key), |&s| s == slot)
        {
            entry.remove();
        }
        self.free.push(slot);
        self.len -= 1;
        Some(record)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            previous: (0..SHARDS)
                .map(|_| RwLock::new(hashbrown::HashMap::new()))
                .collect(),
            users: Mutex::new(hashbrown::HashMap::new()),
            id_hasher: DefaultHashBuilder::default(),
        }
    }

    /// Records `key` under `user_id` and returns the user's name for the record.
    fn index_user(&self, user_id: &str, key: SessionKey) -> UserName {
        let mut users = self.users.lock();
        if let Some((name, keys)) = users.get_key_value_mut(user_id) {
            keys.push(key);
            return UserName::new(name);
        }
        let name: Arc<str> = Arc::from(user_id);
        let user = UserName::new(&name);
        users.insert(name, vec![key]);
        user
    }

    /// Forgets `key` under `user`.
    fn unindex_user(&self, user: &str, key: &SessionKey) {
        let mut users = self.users.lock();
        if let Some(keys) = users.get_mut(user) {
            if let Some(pos) = keys.iter().position(|k| k == key) {
                keys.swap_remove(pos);
            }
            if keys.is_empty() {
                users.remove(user);
            }
        }
    }

    /// Records that `key`'s previous token hash changed from `old` to `new` (call with
    /// the session's shards locked).
    fn reindex_previous(&self, key: &SessionKey, old: Option<TokenHash>, new: Option<TokenHash>) {
        if old == new {
            return;
        }
        if let Some(old) = old {
            let mut map = self.previous[shard_of(&old)].write();
            if map.get(&old) == Some(key) {
                map.remove(&old);
            }
        }
        if let Some(new) = new {
            self.previous[shard_of(&new)]
                .write()
                .insert(new, key.clone());
        }
    }

    /// Whether `hash` is some session's previous token hash.
    fn is_previous(&self, hash: &TokenHash) -> bool {
        self.previous[shard_of(hash)].read().contains_key(hash)
    }

    /// The ids of a user's sessions (call with the shards locked).
    fn user_keys(&self, user_id: &str) -> Vec<SessionKey> {
        self.users.lock().get(user_id).cloned().unwrap_or_default()
    }

    /// Finds the shard and slot of a session id among locked shards.
    fn locate<S: std::ops::Deref<Target = Shard>>(
        &self,
        shards: &[S],
        key: &SessionKey,
    ) -> Option<(usize, u32)> {
        let id_hash = self.id_hasher.hash_one(key);
        shards
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.slot_by_id(key, id_hash).map(|slot| (i, slot)))
    }

    fn read_all(&self) -> Vec<RwLockReadGuard<'_, Shard>> {
        self.shards.iter().map(|s| s.read()).collect()
    }

    fn write_all(&self) -> Vec<RwLockWriteGuard<'_, Shard>> {
        self.shards.iter().map(|s| s.write()).collect()
    }

    fn parse_hash(token_hash: &str) -> Option<TokenHash> {
        TokenHash::from_hex(token_hash)
    }
}

/// Which of a session's token hashes a lookup by digest matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matched {
    /// Its current token hash.
    Current,
    /// The hash of the token its current one replaced.
    Previous,
}

impl MemoryStore {
    /// `find_by_token_hash` for a digest the caller already holds (the manager's fast
    /// path: no hex on the way in), also saying which hash matched, compared again in
    /// constant time.
    pub(crate) fn find_by_digest(&self, hash: &TokenHash) -> Option<(Session, Matched)> {
        {
            let shard = self.shards[shard_of(hash)].read();
            if let Some(record) = shard.slot_by_hash(hash).and_then(|slot| shard.record(slot)) {
                return record
                    .hash
                    .ct_eq(hash)
                    .then(|| (record.to_session(), Matched::Current));
            }
        }
        // A rotated-out token: find its session by id. It may have rotated again since
        // the index was read; then the record no longer names this hash.
        let key = self.previous[shard_of(hash)].read().get(hash).cloned()?;
        let shards = self.read_all();
        self.locate(&shards, &key)
            .and_then(|(i, slot)| shards[i].record(slot))
            .filter(|r| r.previous().is_some_and(|p| p.ct_eq(hash)))
            .map(|r| (r.to_session(), Matched::Previous))
    }
}

fn store_error(reason: impl Into<String>) -> SessionError {
    SessionError::Store {
        reason: reason.into(),
    }
}

impl MemoryStore {
    /// Checks that none of `sessions` is stored or repeated, with every shard locked,
    /// then adds them all: all or nothing.
    fn insert_locked(
        &self,
        shards: &mut [RwLockWriteGuard<'_, Shard>],
        sessions: Vec<Session>,
    ) -> Result<()> {
        let mut checked = Vec::with_capacity(sessions.len());
        let mut keys = std::collections::HashSet::with_capacity(sessions.len());
        let mut hashes = std::collections::HashSet::with_capacity(sessions.len());
        for session in sessions {
            let hash = Self::parse_hash(&session.token_hash)
                .ok_or_else(|| store_error("token_hash is not 64 hex digits"))?;
            let key = SessionKey::parse(&session.id);
            if self.locate(shards, &key).is_some() || !keys.insert(key.clone()) {
                return Err(store_error(format!("duplicate session id {}", session.id)));
            }
            if shards[shard_of(&hash)].slot_by_hash(&hash).is_some()
                || self.is_previous(&hash)
                || !hashes.insert(hash)
            {
                return Err(store_error("duplicate token hash"));
            }
            // A previous token hash is as unique as a current one.
            if let Some(previous) = session.previous_token_hash.as_deref() {
                let previous = Self::parse_hash(previous)
                    .ok_or_else(|| store_error("previous_token_hash is not 64 hex digits"))?;
                if shards[shard_of(&previous)]
                    .slot_by_hash(&previous)
                    .is_some()
                    || self.is_previous(&previous)
                    || !hashes.insert(previous)
                {
                    return Err(store_error("duplicate token hash"));
                }
            }
            checked.push((session, key, hash));
        }
        for (session, key, hash) in checked {
            let user = self.index_user(&session.user_id, key.clone());
            let record = Record::from_session(session, key.clone(), hash, user);
            self.reindex_previous(&key, None, record.previous());
            shards[shard_of(&hash)].add(record, &self.id_hasher);
        }
        Ok(())
    }

    /// The user's sessions that are neither revoked nor expired at `now`, oldest first,
    /// as (created, key, shard, slot); call with every shard locked.
    fn active_of_user(
        &self,
        shards: &[RwLockWriteGuard<'_, Shard>],
        user_id: &str,
        now: i64,
    ) -> Vec<(i64, SessionKey, usize, u32)> {
        let mut active: Vec<(i64, SessionKey, usize, u32)> = self
            .user_keys(user_id)
            .into_iter()
            .filter_map(|key| {
                let (i, slot) = self.locate(shards, &key)?;
                let r = shards[i].record(slot)?;
                let created = r.created;
                (r.revoked.is_none() && r.expires > now).then_some((created, key, i, slot))
            })
            .collect();
        active.sort_by_key(|a| (a.0, a.1.render()));
        active
    }
}

impl SessionStore for MemoryStore {
    fn insert(&self, session: Session) -> Result<()> {
        self.insert_locked(&mut self.write_all(), vec![session])
    }

    fn insert_all(&self, sessions: Vec<Session>) -> Result<()> {
        self.insert_locked(&mut self.write_all(), sessions)
    }

    fn insert_limited(
        &self,
        session: Session,
        max_active: i32,
        now: SystemTime,
        revoke_oldest: bool,
    ) -> Result<Vec<String>> {
        let now = to_nanos(now);
        let mut shards = self.write_all();
        let active = self.active_of_user(&shards, &session.user_id, now);
        let excess = (active.len() + 1).saturating_sub(usize::try_from(max_active).unwrap_or(0));
        if excess > 0 && !revoke_oldest {
            return Err(SessionError::SessionLimitReached { limit: max_active });
        }
        // Insert first: if it fails (a duplicate), nothing has been revoked.
        self.insert_locked(&mut shards, vec![session])?;
        let mut revoked = Vec::with_capacity(excess);
        for (_, key, i, slot) in active.into_iter().take(excess) {
            if let Some(r) = shards[i]
                .slots
                .get_mut(slot as usize)
                .and_then(Option::as_mut)
            {
                r.revoked = Some(now);
                r.version = r.version.saturating_add(1);
                revoked.push(key.render());
            }
        }
        Ok(revoked)
    }

    fn get(&self, session_id: String) -> Result<Option<Session>> {
        let key = SessionKey::parse(&session_id);
        let shards = self.read_all();
        Ok(self
            .locate(&shards, &key)
            .and_then(|(i, slot)| shards[i].record(slot))
            .map(Record::to_session))
    }

    fn find_by_token_hash(&self, token_hash: String) -> Result<Option<Session>> {
        let Some(hash) = Self::parse_hash(&token_hash) else {
            return Ok(None);
        };
        Ok(self.find_by_digest(&hash).map(|(session, _)| session))
    }

    fn compare_and_swap(
        &self,
        expected_token_hash: String,
        expected_version: i64,
        session: Session,
    ) -> Result<bool> {
        let Some(old) = Self::parse_hash(&expected_token_hash) else {
            return Ok(false);
        };
        let new = Self::parse_hash(&session.token_hash)
            .ok_or_else(|| store_error("token_hash is not 64 hex digits"))?;
        let (from, to) = (shard_of(&old), shard_of(&new));
        let (lo, hi) = (from.min(to), from.max(to));
        let mut lo_guard = self.shards[lo].write();
        let mut hi_guard = (lo != hi).then(|| self.shards[hi].write());
        let (src, dst): (&mut Shard, Option<&mut Shard>) = match hi_guard.as_deref_mut() {
            None => (&mut lo_guard, None),
            Some(hi_shard) if from == lo => (&mut lo_guard, Some(hi_shard)),
            Some(hi_shard) => (hi_shard, Some(&mut lo_guard)),
        };
        let Some(slot) = src.slot_by_hash(&old) else {
            return Ok(false);
        };
        let key = SessionKey::parse(&session.id);
        let current_user = match src.record(slot) {
            Some(r) if r.key == key && r.revoked.is_none() && r.version == expected_version => {
                r.user.clone()
            }
            _ => return Ok(false),
        };
        if new != old
            && dst
                .as_ref()
                .map_or(src.slot_by_hash(&new), |d| d.slot_by_hash(&new))
                .is_some()
        {
            return Err(store_error("duplicate token hash"));
        }
        let user = if current_user.as_str() == session.user_id {
            current_user
        } else {
            self.unindex_user(current_user.as_str(), &key);
            self.index_user(&session.user_id, key.clone())
        };
        let old_previous = src.record(slot).and_then(Record::previous);
        let record = Record::from_session(session, key.clone(), new, user);
        self.reindex_previous(&key, old_previous, record.previous());
        if new == old {
            // A slide or a revocation: same id, same hash, so the record stays put.
            src.replace(slot, record);
        } else {
            src.take(slot, &self.id_hasher);
            dst.unwrap_or(src).add(record, &self.id_hasher);
        }
        Ok(true)
    }

    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>> {
        let shards = self.read_all();
        let mut out: Vec<Session> = self
            .user_keys(&user_id)
            .iter()
            .filter_map(|key| self.locate(&shards, key))
            .filter_map(|(i, slot)| shards[i].record(slot))
            .map(Record::to_session)
            .collect();
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    fn revoke_all_for_user(&self, user_id: String, at: SystemTime) -> Result<Vec<String>> {
        let at = to_nanos(at);
        let mut shards = self.write_all();
        let mut revoked = Vec::new();
        for key in self.user_keys(&user_id) {
            let Some((i, slot)) = self.locate(&shards, &key) else {
                continue;
            };
            let record = shards[i]
                .slots
                .get_mut(slot as usize)
                .and_then(Option::as_mut);
            if let Some(record) = record.filter(|r| r.revoked.is_none()) {
                record.revoked = Some(at);
                record.version = record.version.saturating_add(1);
                revoked.push(key.render());
            }
        }
        Ok(revoked)
    }

    fn purge_expired(&self, now: SystemTime) -> Result<i64> {
        let now = to_nanos(now);
        let mut purged = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.write();
            while let Some(&Reverse((expires, slot))) = shard.expiry.peek() {
                if expires > now {
                    break;
                }
                shard.expiry.pop();
                if shard.record(slot).is_none_or(|r| r.expires > now) {
                    continue;
                }
                if let Some(record) = shard.take(slot, &self.id_hasher) {
                    self.reindex_previous(&record.key, record.previous(), None);
                    self.unindex_user(record.user.as_str(), &record.key);
                    purged += 1;
                }
            }
        }
        Ok(purged)
    }

    fn count(&self) -> Result<i64> {
        Ok(self.shards.iter().map(|s| s.read().len as i64).sum())
    }

    fn all_sessions(&self) -> Result<SessionScan> {
        let shards = self.read_all();
        let mut sessions: Vec<Session> = shards
            .iter()
            .flat_map(|shard| shard.slots.iter().flatten().map(Record::to_session))
            .collect();
        sessions.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        // A memory record is built from a checked session and cannot be damaged.
        Ok(SessionScan {
            sessions,
            damaged: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn session(id: &str, token: &str, expires_secs: u64) -> Session {
        let created = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Session {
            id: id.into(),
            user_id: "u".into(),
            token: String::new(),
            token_hash: TokenHash::of(token).to_hex(),
            created_at: created,
            expires_at: created + Duration::from_secs(expires_secs),
            metadata: None,
            revoked_at: None,
            sliding_expiration: Some(true),
            bound_user_agent: None,
            lifetime: Duration::from_secs(3600),
            absolute_expires_at: created + Duration::from_secs(1_000_000),
            version: 1,
            previous_token_hash: None,
            rotated_at: None,
            rotation_key: None,
        }
    }

    fn heap_entries(store: &MemoryStore) -> usize {
        store.shards.iter().map(|s| s.read().expiry.len()).sum()
    }

    #[test]
    fn expiry_heap_stays_bounded_when_sessions_slide_and_nothing_is_purged() {
        let store = MemoryStore::new();
        let mut s = session("a", "tok", 100);
        store.insert(s.clone()).expect("insert");
        store.insert(session("b", "other", 50)).expect("insert");
        for i in 0..10_000u64 {
            s.expires_at += Duration::from_secs(1);
            let hash = s.token_hash.clone();
            let expected = s.version;
            s.version += 1;
            assert!(
                store
                    .compare_and_swap(hash, expected, s.clone())
                    .expect("slide"),
                "{i}"
            );
        }
        assert!(
            heap_entries(&store) <= 2 * 2 + 64 * SHARDS,
            "{}",
            heap_entries(&store)
        );
        // Compaction keeps every live session's current expiry.
        let end = |secs: u64| UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs);
        assert_eq!(store.purge_expired(end(50)).expect("purge"), 1);
        assert_eq!(store.purge_expired(end(10_099)).expect("purge"), 0);
        assert_eq!(store.purge_expired(end(10_100)).expect("purge"), 1);
        assert_eq!(store.count().expect("count"), 0);
    }
}
