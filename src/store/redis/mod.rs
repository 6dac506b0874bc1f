//! The Redis store: sessions shared by many app servers through one Redis server or a
//! Redis Cluster (`redis://`, `rediss://`, `redis+cluster://`; see [`location`]).
//!
//! Layout (see [`keys`]): each session is a hash record; each of its token hashes
//! (current and previous) has an index entry pointing to its id; each user has a
//! sorted set of ids (the user index), each shard an expiry index. All of a user's keys
//! share one hash tag, so every change is one Lua script (see [`scripts`]) run
//! atomically on the node that owns them: insert, compare-and-swap, revoke-all and the
//! per-user limit each update the record and every index in one step, so the user
//! index never holds a stale or missing session, and a revoked record is never
//! written again (the compare-and-swap refuses revoked records).
//!
//! Declared keys: every script declares in KEYS each key it touches, as Redis's
//! scripting contract asks (the prelude's `call` refuses any other key, so a test fails
//! if one does not). Where the keys depend on stored data (the records a user index
//! lists, the expired records an expiry index lists), the operation has two phases: it
//! reads the index (and, for purge, each record's user and token hashes) with plain
//! commands, then runs a script declaring every key of that view, with the view in
//! ARGV. Revoke-all and list act on the view as read: it holds every session created
//! before the call began (a session and its index entry are written by one script), so
//! revoke-all revokes all of them, and a session created meanwhile is concurrent with
//! the call (so a user who keeps creating sessions can never make revoke-all fail: a
//! new user's trial did exactly that when revoke-all required an unchanged index).
//! Insert-within-limit and purge need the view exact (a count of active sessions; the
//! token hashes to delete): their script first checks it still holds and otherwise
//! changes nothing and answers RETRY; the store retries (at most 64 times, pausing a
//! random 0 to 3.2 ms) and then fails with a `Store` error saying the index kept
//! changing. So insert-within-limit, revoke-all and list cost one more round trip than
//! one script would (two calls), purge two more when something has expired (three
//! calls), and all
//! stay atomic. `count` and `all_sessions` change nothing: they run `scan.lua` (a read
//! that declares its keys) once to find each expiry index's entries, and once more to
//! read those entries' records together with the entries again, which must be the
//! same (else they read again).
//!
//! The one read that does not declare its key: `validate`'s lookup (`lookup.lua`)
//! reads the token entry (declared) and the record it names, a key in the same hash
//! tag (so the same slot and node) that cannot be named without a second round trip.
//! It only reads, in one atomic script; the prelude checks the record shares the
//! entry's hash tag. `get` declares both keys it reads.
//!
//! Expiry: the manager's clock decides validity. Redis's TTLs only collect garbage: a
//! record and its index entries expire at the server's time (`TIME`) plus the time the
//! session has left by the manager's clock, plus a grace (`expiry_grace_s`, an hour
//! by default), so a revoked session still answers `SessionRevoked` until it
//! expires, and a deadline is never computed from an app server's clock. `purge_expired`
//! removes expired records with their index entries.
//!
//! Garbage without purge: each shard also keeps a deadline index (ids scored by their
//! record's TTL deadline, server milliseconds). Every write of a session (insert,
//! compare-and-swap) removes, from its shard's expiry index and its user's index, the
//! entries of at most 32 records whose deadline has passed on the server's clock (so
//! Redis has collected them), so the expiry index stays bounded even if nobody calls
//! `purge_expired`. The expiry index itself cannot be trimmed by score: its scores are
//! expiries on the manager's clock while TTLs run on the server's, so a cutoff of now
//! minus the grace would drop entries of live records whenever the two clocks do not
//! advance together (a stepped or test clock), and purge would then never remove them.
//! A user index entry of a collected record of another user is pruned by that user's
//! next list, limited insert or revoke-all.
//!
//! Connections: a pool (see [`pool`]) of synchronous redis-rs connections with connect
//! and read/write timeouts; a connection that failed is never reused. Reads and writes
//! go to masters only (replicas are never read). The pool has no threads and belongs to
//! one process: a child made by `fork()` (a pre-forking server such as gunicorn with
//! `--preload`) opens connections of its own and never touches the parent's.

mod keys;
pub mod location;
mod pool;
mod scripts;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::{ConnectionLike, RedisResult, Script, ScriptInvocation, Value};

use crate::clock::{from_nanos, to_nanos, Clock};
use crate::error::{Result, SessionError};
use crate::model::Session;
use crate::store::{DamagedSession, SessionScan, SessionStore};
use crate::token::TokenHash;

use keys::{label, shard_of_label, Keys, SHARDS};
pub(crate) use keys::{shard_of_hash, shard_of_id, shard_of_user};
pub use location::Location;
use pool::{Checkout, Connector, Pool};

/// Most expired sessions one purge script removes per shard before the next call (so
/// one call never blocks the server for long).
const PURGE_BATCH: usize = 1000;

/// Attempts of an optimistic two-phase operation (read a view, then run a script that
/// declares every key of the view and first checks it still holds) before it fails
/// with a `Store` error saying the index kept changing.
const ATTEMPTS: u32 = 64;

/// Sessions kept in Redis (a standalone server or a cluster), shared by every process
/// that opens the same location.
pub struct RedisStore {
    connections: Connections,
    keys: Keys,
    location: Location,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("location", &self.location.to_string())
            .finish_non_exhaustive()
    }
}

enum Connections {
    Single(Pool<NodeConnector>),
    Cluster(Pool<ClusterConnector>),
}

/// Opens standalone connections with the location's timeouts.
struct NodeConnector {
    client: redis::Client,
    connect_timeout: Duration,
    timeout: Duration,
}

impl Connector for NodeConnector {
    type Connection = redis::Connection;

    fn connect(&self) -> RedisResult<redis::Connection> {
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    fn is_open(connection: &redis::Connection) -> bool {
        connection.is_open()
    }
}

/// Opens cluster connections (each one knows every master).
struct ClusterConnector {
    client: redis::cluster::ClusterClient,
}

impl Connector for ClusterConnector {
    type Connection = redis::cluster::ClusterConnection;

    fn connect(&self) -> RedisResult<redis::cluster::ClusterConnection> {
        self.client.get_connection()
    }

    fn is_open(connection: &redis::cluster::ClusterConnection) -> bool {
        connection.is_open()
    }
}

/// One step of a batch insert (see `lua/prelude.lua`).
enum Op {
    /// A session, in its user's shard.
    Session(SessionOp),
    /// An alias in the home shard of an id or token hash that is not its user's.
    Claim(ClaimOp),
}

struct SessionOp {
    shard: u8,
    id: String,
    created_us: i64,
    expires_us: i64,
    ttl_ms: u64,
    fields: Vec<String>,
    record: String,
    user: String,
    expiry: String,
    /// The shard's deadline index (see `Keys::deadlines`).
    deadlines: String,
    token: String,
    previous: Option<String>,
    /// Alias keys in this shard that must not exist, with what a conflict means.
    guards: Vec<(String, &'static str)>,
}

struct ClaimOp {
    shard: u8,
    what: &'static str,
    /// `strict`: fails if the alias exists; `ensure`: fine if it has the same value.
    mode: &'static str,
    alias: String,
    home: String,
    value: String,
    ttl_ms: u64,
}

impl Op {
    fn shard(&self) -> u8 {
        match self {
            Op::Session(s) => s.shard,
            Op::Claim(c) => c.shard,
        }
    }

    /// Adds this operation's keys and arguments to an invocation.
    fn push(&self, inv: &mut ScriptInvocation<'_>) {
        match self {
            Op::Claim(c) => {
                inv.arg("C")
                    .arg(c.what)
                    .arg(c.mode)
                    .arg(&c.value)
                    .arg(c.ttl_ms);
                inv.key(&c.alias).key(&c.home);
            }
            Op::Session(s) => {
                inv.arg("S")
                    .arg(s.guards.len())
                    .arg(if s.previous.is_some() { "1" } else { "0" })
                    .arg(&s.id)
                    .arg(s.created_us)
                    .arg(s.expires_us)
                    .arg(s.ttl_ms)
                    .arg(s.fields.len());
                for f in &s.fields {
                    inv.arg(f);
                }
                for (_, what) in &s.guards {
                    inv.arg(*what);
                }
                inv.key(&s.record)
                    .key(&s.user)
                    .key(&s.expiry)
                    .key(&s.deadlines)
                    .key(&s.token);
                if let Some(p) = &s.previous {
                    inv.key(p);
                }
                for (key, _) in &s.guards {
                    inv.key(key);
                }
            }
        }
    }
}

/// What a lookup script found.
enum Lookup {
    Found(Vec<String>),
    Alias(u8),
    Missing,
}

fn store_error(reason: impl Into<String>) -> SessionError {
    SessionError::Store {
        reason: reason.into(),
    }
}

/// Microseconds since the epoch (instants are kept to the microsecond).
fn micros(t: SystemTime) -> i64 {
    to_nanos(t).div_euclid(1_000)
}

fn from_micros(us: i64) -> SystemTime {
    from_nanos(us.saturating_mul(1_000))
}

/// A new pool of connections to `location` (none is opened until the first call).
fn connect(location: &Location) -> Result<Connections> {
    let unusable = |e: redis::RedisError| {
        store_error(format!("Redis {location}: cannot use the location: {e}"))
    };
    let size = location.pool_size as usize;
    let wait = location.connect_timeout;
    let certificates = match &location.tls_ca_file {
        None => None,
        Some(path) => Some(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(path).map_err(|e| {
                store_error(format!("Redis {location}: cannot read tls_ca_file: {e}"))
            })?),
        }),
    };
    Ok(if location.cluster {
        let urls: Vec<String> = (0..location.nodes.len())
            .map(|i| location.node_url(i))
            .collect();
        let mut client = redis::cluster::ClusterClient::builder(urls)
            .connection_timeout(location.connect_timeout)
            .response_timeout(location.timeout)
            .retries(3);
        if let Some(certificates) = certificates {
            client = client.certs(certificates);
        }
        let client = client.build().map_err(unusable)?;
        Connections::Cluster(Pool::new(ClusterConnector { client }, size, wait))
    } else {
        let client = match certificates {
            None => redis::Client::open(location.node_url(0)),
            Some(c) => redis::Client::build_with_tls(location.node_url(0), c),
        }
        .map_err(unusable)?;
        let connector = NodeConnector {
            client,
            connect_timeout: location.connect_timeout,
            timeout: location.timeout,
        };
        Connections::Single(Pool::new(connector, size, wait))
    })
}

impl RedisStore {
    /// Connects to the Redis server or cluster at `location` (see [`location`] for the
    /// forms and options). `clock` is the manager's clock: it tells how long a session
    /// has left, which sets its records' TTLs on the server's time.
    ///
    /// Fails with `SessionError::InvalidConfig` when the location is malformed, and
    /// `SessionError::Store` when the server cannot be reached within
    /// `connect_timeout_ms`, each naming the location (never its password).
    pub fn open(location: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let location = Location::parse(location)?;
        let connections = connect(&location)?;
        let store = RedisStore {
            connections,
            keys: Keys::new(&location.prefix),
            location,
            clock,
        };
        store.run("connect", |c| redis::cmd("PING").query::<()>(c))?;
        if !store.location.cluster {
            // A cluster node opened as one server would answer MOVED for most keys.
            let info: String =
                store.run("connect", |c| redis::cmd("INFO").arg("cluster").query(c))?;
            if info.lines().any(|l| l.trim() == "cluster_enabled:1") {
                return Err(SessionError::InvalidConfig {
                    reason: format!(
                        "Redis {}: the server is a Redis Cluster node: open the cluster as redis+cluster://host1:port1,host2:port2,...",
                        store.location
                    ),
                });
            }
        }
        Ok(store)
    }

    /// The location, without credentials (`redis://host:port/db`).
    pub fn location(&self) -> String {
        self.location.to_string()
    }

    /// Runs `f` on a pooled connection; errors name the location and `action`.
    ///
    /// A kept connection the server has closed since its last use (a restart or a
    /// failover closes them all) fails at once with the connection dropped: then every
    /// kept connection is closed and `f` runs once more on a new one, so a restart
    /// costs callers no error. Timeouts are never retried (a frozen server would
    /// double the wait).
    fn run<T>(
        &self,
        action: &str,
        mut f: impl FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> Result<T> {
        fn on<K: Connector, T>(
            store: &RedisStore,
            pool: &Pool<K>,
            action: &str,
            f: &mut dyn FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
        ) -> Result<T>
        where
            K::Connection: ConnectionLike,
        {
            let mut conn = pool.get().map_err(|e| store.unreachable(e))?;
            let first = f(conn.connection());
            let retry = matches!(&first, Err(e) if conn.reused() && e.is_connection_dropped());
            let outcome = if retry {
                conn.mark_broken();
                drop(conn);
                pool.discard_idle();
                conn = pool.get().map_err(|e| store.unreachable(e))?;
                f(conn.connection())
            } else {
                first
            };
            outcome.map_err(|e| {
                if e.kind() != redis::ErrorKind::ResponseError || e.is_io_error() {
                    conn.mark_broken();
                }
                store.error(action, &e)
            })
        }
        match &self.connections {
            Connections::Single(pool) => on(self, pool, action, &mut f),
            Connections::Cluster(pool) => on(self, pool, action, &mut f),
        }
    }

    /// The error for a connection that could not be had.
    fn unreachable(&self, err: Checkout) -> SessionError {
        let location = &self.location;
        store_error(match err {
            Checkout::Connect(e) if e.kind() == redis::ErrorKind::AuthenticationFailed => {
                format!("Redis {location}: authentication failed (check the user name and password): {e}")
            }
            Checkout::Connect(e) if e.is_timeout() && location.tls => format!(
                "Redis {location}: cannot connect within {:?}: {e} (no TLS handshake completed: \
                 a plaintext server never completes one; use redis:// for it)",
                location.connect_timeout
            ),
            Checkout::Connect(e) if e.is_timeout() || e.is_connection_refusal() || e.is_io_error() => {
                format!("Redis {location}: cannot connect within {:?}: {e}", location.connect_timeout)
            }
            Checkout::Connect(e) => format!("Redis {location}: cannot connect: {e}"),
            Checkout::Busy { max, waited } => format!(
                "Redis {location}: all {max} connections of the pool (pool_size) stayed in use for {waited:?}"
            ),
        })
    }

    fn error(&self, action: &str, err: &redis::RedisError) -> SessionError {
        let detail = if err.is_timeout() {
            format!("no reply within {:?} ({err})", self.location.timeout)
        } else if err.code() == Some("NOAUTH") {
            format!("the server requires authentication: give the user name and password in the location ({err})")
        } else if err.kind() == redis::ErrorKind::Moved && !self.location.cluster {
            format!(
                "the server is a Redis Cluster node (it answered MOVED): open the cluster \
                 as redis+cluster://host1:port1,host2:port2,... ({err})"
            )
        } else {
            err.to_string()
        };
        store_error(format!("Redis {}: {action}: {detail}", self.location))
    }

    /// Invokes `script` with the keys and arguments `build` adds.
    fn invoke<T: redis::FromRedisValue>(
        &self,
        action: &str,
        script: &Script,
        build: impl FnOnce(&mut ScriptInvocation<'_>),
    ) -> Result<T> {
        let mut inv = script.prepare_invoke();
        build(&mut inv);
        self.run(action, |c| inv.invoke(c))
    }

    /// Milliseconds from the manager's clock to `until` (none if past), plus the grace:
    /// how long records meant to last until `until` keep on the server.
    fn ttl_ms(&self, until: SystemTime) -> Result<u64> {
        let now = self.clock.now().map_err(|e| SessionError::Clock {
            reason: e.to_string(),
        })?;
        let left = until.duration_since(now).unwrap_or_default() + self.location.expiry_grace;
        Ok(u64::try_from(left.as_millis()).unwrap_or(u64::MAX / 2) + 1)
    }

    fn record_prefix(&self, shard: u8) -> String {
        format!("{}s:", self.keys.base(shard))
    }

    /// The operations that insert `session` (claims first, then the session).
    fn insert_ops(&self, session: &Session) -> Result<Vec<Op>> {
        let token_hash = TokenHash::from_hex(&session.token_hash)
            .ok_or_else(|| store_error("token_hash is not 64 hex digits"))?
            .to_hex();
        let previous = session
            .previous_token_hash
            .as_deref()
            .map(|h| {
                TokenHash::from_hex(h)
                    .map(TokenHash::to_hex)
                    .ok_or_else(|| store_error("previous_token_hash is not 64 hex digits"))
            })
            .transpose()?;
        let shard = shard_of_user(&session.user_id);
        let alias_ttl = self.ttl_ms(session.absolute_expires_at)?;
        let mut ops = Vec::new();
        let mut guards = Vec::new();
        let id_home = shard_of_id(&session.id);
        if id_home == shard {
            guards.push((self.keys.id_alias(shard, &session.id), "id"));
        } else {
            ops.push(Op::Claim(ClaimOp {
                shard: id_home,
                what: "id",
                mode: "strict",
                alias: self.keys.id_alias(id_home, &session.id),
                home: self.keys.session(id_home, &session.id),
                value: label(shard).to_owned(),
                ttl_ms: alias_ttl,
            }));
        }
        for hash in std::iter::once(&token_hash).chain(previous.as_ref()) {
            if let Some(claim) = self.hash_claim(hash, shard, "strict", alias_ttl) {
                ops.push(claim);
            } else {
                guards.push((self.keys.hash_alias(shard, hash), "hash"));
            }
        }
        ops.push(Op::Session(SessionOp {
            shard,
            id: session.id.clone(),
            created_us: micros(session.created_at),
            expires_us: micros(session.expires_at),
            ttl_ms: self.ttl_ms(session.expires_at)?,
            fields: encode(session, &token_hash, previous.as_deref())?,
            record: self.keys.session(shard, &session.id),
            user: self.keys.user(&session.user_id),
            expiry: self.keys.expiry(shard),
            deadlines: self.keys.deadlines(shard),
            token: self.keys.token(shard, &token_hash),
            previous: previous.as_ref().map(|p| self.keys.token(shard, p)),
            guards,
        }));
        Ok(ops)
    }

    /// The alias claim a token hash needs when its home is not `shard`.
    fn hash_claim(&self, hash: &str, shard: u8, mode: &'static str, ttl_ms: u64) -> Option<Op> {
        let home = shard_of_hash(hash);
        (home != shard).then(|| {
            Op::Claim(ClaimOp {
                shard: home,
                what: "hash",
                mode,
                alias: self.keys.hash_alias(home, hash),
                home: self.keys.token(home, hash),
                value: label(shard).to_owned(),
                ttl_ms,
            })
        })
    }

    /// Runs `ops` as one script (all or nothing) on a standalone server; on a cluster,
    /// one script per shard, rolling back the shards already written if one fails.
    fn run_batch(&self, ops: &[Op]) -> Result<()> {
        let groups: Vec<Vec<&Op>> = match self.connections {
            Connections::Single(_) => vec![ops.iter().collect()],
            Connections::Cluster(_) => {
                let mut order: Vec<u8> = Vec::new();
                let mut by_shard: HashMap<u8, Vec<&Op>> = HashMap::new();
                for op in ops {
                    by_shard
                        .entry(op.shard())
                        .or_insert_with(|| {
                            order.push(op.shard());
                            Vec::new()
                        })
                        .push(op);
                }
                order
                    .into_iter()
                    .filter_map(|s| by_shard.remove(&s))
                    .collect()
            }
        };
        for (done, group) in groups.iter().enumerate() {
            let reply: Vec<String> = self.invoke("insert", &scripts::BATCH, |inv| {
                inv.arg(group.len());
                for op in group {
                    op.push(inv);
                }
            })?;
            if reply.first().map(String::as_str) == Some("DUP") {
                let failed = reply
                    .get(2)
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| group.get(i.wrapping_sub(1)));
                for written in &groups[..done] {
                    self.undo(written);
                }
                return Err(duplicate(reply.get(1).map(String::as_str), failed));
            }
        }
        Ok(())
    }

    /// Removes what a batch group wrote (best effort: logged on failure).
    fn undo(&self, ops: &[&Op]) {
        for op in ops {
            let outcome = match op {
                Op::Claim(c) => self.run("roll back", |conn| {
                    redis::cmd("DEL").arg(&c.alias).query::<()>(conn)
                }),
                Op::Session(s) => self
                    .invoke::<Value>("roll back", &scripts::UNDO, |inv| {
                        inv.key(&s.record)
                            .key(&s.user)
                            .key(&s.expiry)
                            .key(&s.deadlines)
                            .key(&s.token);
                        if let Some(p) = &s.previous {
                            inv.key(p);
                        }
                        inv.arg(&s.id);
                    })
                    .map(drop),
            };
            if let Err(e) = outcome {
                log::warn!("rolling back a failed import: {e}");
            }
        }
    }

    /// Looks `token_hash` up in `shard`.
    fn lookup_in(&self, shard: u8, token_hash: &str) -> Result<Lookup> {
        let reply: Vec<String> = self.invoke("find by token hash", &scripts::LOOKUP, |inv| {
            inv.key(self.keys.token(shard, token_hash))
                .key(self.keys.hash_alias(shard, token_hash))
                .arg(token_hash)
                .arg(self.record_prefix(shard));
        })?;
        Ok(lookup_reply(reply))
    }

    /// Reads `session_id` in `shard`.
    fn get_in(&self, shard: u8, session_id: &str) -> Result<Lookup> {
        let reply: Vec<String> = self.invoke("get", &scripts::GET, |inv| {
            inv.key(self.keys.session(shard, session_id))
                .key(self.keys.id_alias(shard, session_id));
        })?;
        Ok(lookup_reply(reply))
    }

    /// A record read back, or a `Store` error naming a damaged one.
    fn session_of(&self, fields: Vec<String>) -> Result<Session> {
        decode(fields).map_err(|d| {
            store_error(format!(
                "Redis {}: session {}: {}",
                self.location, d.id, d.reason
            ))
        })
    }

    /// Records read back: healthy sessions, and the damaged ones (logged).
    fn scan(&self, action: &str, records: Vec<Vec<String>>) -> SessionScan {
        let mut scan = SessionScan {
            sessions: Vec::with_capacity(records.len()),
            damaged: Vec::new(),
        };
        for fields in records {
            match decode(fields) {
                Ok(s) => scan.sessions.push(s),
                Err(d) => {
                    log::warn!(
                        "Redis {}: {action}: skipped damaged session {}: {}",
                        self.location,
                        d.id,
                        d.reason
                    );
                    scan.damaged.push(d);
                }
            }
        }
        scan
    }

    /// The shards each optimistic scan reads and checks as one unit: all of them on a
    /// standalone server (one round trip per phase), one at a time on a cluster (a
    /// shard's keys share one slot, so one node).
    fn shard_groups(&self) -> Vec<Vec<u8>> {
        let shards: Vec<u8> = (0..SHARDS).map(|s| s as u8).collect();
        match self.connections {
            Connections::Single(_) => vec![shards],
            Connections::Cluster(_) => shards.chunks(1).map(<[u8]>::to_vec).collect(),
        }
    }

    /// Runs `attempt`, an optimistic two-phase step that gives `None` when the view it
    /// read changed before its script ran (nothing done), until it gives a value: at
    /// most [`ATTEMPTS`] times, pausing a random 0 to 50·2^min(n,6) µs before try
    /// n + 2 (n ≥ 1).
    /// Then fails with a `Store` error saying the index kept changing.
    fn optimistic<T>(
        &self,
        action: &str,
        mut attempt: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        for n in 0..ATTEMPTS {
            if let Some(done) = attempt()? {
                return Ok(done);
            }
            // The first retry is at once (a scan's first read only finds its view).
            if n > 0 {
                let cap = 50u64 << n.min(6);
                std::thread::sleep(Duration::from_micros(rand::random_range(0..=cap)));
            }
        }
        Err(store_error(format!(
            "Redis {}: {action}: the index kept changing during {ATTEMPTS} attempts; try again",
            self.location
        )))
    }

    /// A user index's ids in order (`ZRANGE key 0 -1`): the view of phase 1.
    fn index(&self, action: &str, key: &str) -> Result<Vec<String>> {
        self.run(action, |c| {
            redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).query(c)
        })
    }

    /// Reads `group`'s expiry indexes (`scan.lua`, mode `mode`: see the script) and
    /// the records of the entries found, again until the entries read with the records
    /// are the ones the records were chosen from: an atomic view of each group, every
    /// key declared. Usually two calls (one if every index is empty).
    fn stable_scan(
        &self,
        action: &str,
        mode: &str,
        now_us: i64,
        group: &[u8],
    ) -> Result<Vec<ShardRead>> {
        let mut views: Vec<Vec<String>> = vec![Vec::new(); group.len()];
        self.optimistic(action, || {
            let read: Vec<(Vec<String>, i64, Vec<Value>)> =
                self.invoke(action, &scripts::SCAN, |inv| {
                    inv.arg(mode).arg(now_us).arg(PURGE_BATCH);
                    for (&shard, view) in group.iter().zip(&views) {
                        inv.arg(view.len()).key(self.keys.expiry(shard));
                        for id in view {
                            inv.key(self.keys.session(shard, id));
                        }
                    }
                })?;
            if read.len() == views.len() && read.iter().zip(&views).all(|(r, v)| r.0 == *v) {
                return Ok(Some(
                    group
                        .iter()
                        .zip(read)
                        .map(|(&shard, (ids, size, reads))| ShardRead {
                            shard,
                            ids,
                            size,
                            reads,
                        })
                        .collect(),
                ));
            }
            views = read.into_iter().map(|r| r.0).collect();
            views.resize(group.len(), Vec::new());
            Ok(None)
        })
    }

    /// A value of a script's reply, or a `Store` error naming the action.
    fn value<T: redis::FromRedisValue>(&self, action: &str, value: &Value) -> Result<T> {
        redis::from_redis_value(value).map_err(|e| self.error(action, &e))
    }

    /// One purge step over `group`: reads the expired ids of each shard (at most
    /// [`PURGE_BATCH`] each) with their records' user and token hashes, then removes
    /// them with every key declared. `None` if that view changed before the script
    /// ran; else how many were removed and whether more may be left.
    fn purge_step(&self, group: &[u8], now_us: i64) -> Result<Option<(i64, bool)>> {
        let action = "purge expired";
        let found: Vec<ShardRead> = self
            .stable_scan(action, "expired", now_us, group)?
            .into_iter()
            .filter(|s| !s.ids.is_empty())
            .collect();
        if found.is_empty() {
            return Ok(Some((0, false)));
        }
        let more = found.iter().any(|s| s.ids.len() >= PURGE_BATCH);
        let mut fields: Vec<[Option<String>; 3]> = Vec::new();
        for shard in &found {
            for read in &shard.reads {
                let f: Vec<Option<String>> = self.value(action, read)?;
                let field = |i: usize| f.get(i).cloned().flatten().filter(|v| !v.is_empty());
                fields.push([field(0), field(1), field(2)]);
            }
        }
        let (status, removed): (String, i64) = self.invoke(action, &scripts::PURGE, |inv| {
            inv.arg(now_us).arg(PURGE_BATCH);
            let mut fields = fields.iter();
            for shard in &found {
                inv.key(self.keys.expiry(shard.shard))
                    .key(self.keys.deadlines(shard.shard))
                    .arg(shard.ids.len());
                for id in &shard.ids {
                    let [user, th, ph] = fields.next().cloned().unwrap_or_default();
                    inv.arg(id)
                        .arg(user.as_deref().unwrap_or(""))
                        .arg(th.as_deref().unwrap_or(""))
                        .arg(ph.as_deref().unwrap_or(""));
                    inv.key(self.keys.session(shard.shard, id));
                    if let Some(u) = &user {
                        inv.key(self.keys.user_in(shard.shard, u));
                    }
                    for hash in [&th, &ph].into_iter().flatten() {
                        inv.key(self.keys.token(shard.shard, hash));
                    }
                }
            }
        })?;
        Ok((status == "OK").then_some((removed, more)))
    }
}

/// One shard as `scan.lua` read it, with its view held.
struct ShardRead {
    shard: u8,
    /// The entries read (ZRANGE or ZRANGEBYSCORE of the expiry index).
    ids: Vec<String>,
    /// The expiry index's size (ZCARD).
    size: i64,
    /// What was read of each entry's record, in the order of `ids`.
    reads: Vec<Value>,
}

fn lookup_reply(mut reply: Vec<String>) -> Lookup {
    match reply.first().map(String::as_str) {
        Some("S") => {
            reply.remove(0);
            Lookup::Found(reply)
        }
        Some("A") => reply
            .get(1)
            .and_then(|l| shard_of_label(l))
            .map_or(Lookup::Missing, Lookup::Alias),
        _ => Lookup::Missing,
    }
}

fn duplicate(what: Option<&str>, op: Option<&&Op>) -> SessionError {
    match (what, op) {
        (Some("id"), Some(Op::Session(s))) => store_error(format!("duplicate session id {}", s.id)),
        (Some("id"), _) => store_error("duplicate session id"),
        _ => store_error("duplicate token hash"),
    }
}

/// A session's record fields (name, value, ...), without its token.
fn encode(session: &Session, token_hash: &str, previous: Option<&str>) -> Result<Vec<String>> {
    let mut f: Vec<String> = Vec::with_capacity(32);
    let mut put = |name: &str, value: String| {
        f.push(name.to_owned());
        f.push(value);
    };
    put("id", session.id.clone());
    put("u", session.user_id.clone());
    put("th", token_hash.to_owned());
    if let Some(p) = previous {
        put("ph", p.to_owned());
    }
    put("c", micros(session.created_at).to_string());
    put("e", micros(session.expires_at).to_string());
    put("a", micros(session.absolute_expires_at).to_string());
    put(
        "l",
        i64::try_from(session.lifetime.as_micros())
            .unwrap_or(i64::MAX)
            .to_string(),
    );
    if let Some(r) = session.revoked_at {
        put("r", micros(r).to_string());
    }
    if let Some(s) = session.sliding_expiration {
        put("sl", if s { "1" } else { "0" }.to_owned());
    }
    if let Some(ua) = &session.bound_user_agent {
        put("ua", ua.clone());
    }
    if let Some(m) = &session.metadata {
        let json = serde_json::to_string(m)
            .map_err(|e| store_error(format!("cannot encode metadata: {e}")))?;
        put("m", json);
    }
    put("v", session.version.to_string());
    if let Some(r) = session.rotated_at {
        put("ra", micros(r).to_string());
    }
    if let Some(k) = &session.rotation_key {
        put("rk", k.clone());
    }
    Ok(f)
}

/// A session from its record fields, or what is wrong with them.
fn decode(fields: Vec<String>) -> std::result::Result<Session, DamagedSession> {
    let mut map: HashMap<String, String> = HashMap::with_capacity(fields.len() / 2);
    let mut it = fields.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        map.insert(k, v);
    }
    let id = map.remove("id").unwrap_or_default();
    let corrupt = |what: &str| DamagedSession {
        id: id.clone(),
        reason: format!("corrupt {what}"),
    };
    let int = |name: &str, what: &str| -> std::result::Result<Option<i64>, DamagedSession> {
        map.get(name)
            .map(|v| v.parse::<i64>().map_err(|_| corrupt(what)))
            .transpose()
    };
    let required = |v: Option<i64>, what: &str| v.ok_or_else(|| corrupt(what));
    let hash = |name: &str, what: &str| -> std::result::Result<Option<String>, DamagedSession> {
        map.get(name)
            .map(|v| {
                TokenHash::from_hex(v)
                    .map(TokenHash::to_hex)
                    .ok_or_else(|| corrupt(what))
            })
            .transpose()
    };
    let created = required(int("c", "creation time")?, "creation time")?;
    let expires = required(int("e", "expiry")?, "expiry")?;
    let absolute = required(int("a", "absolute expiry")?, "absolute expiry")?;
    let lifetime = required(int("l", "lifetime")?, "lifetime")?;
    let version = required(int("v", "version")?, "version")?;
    let revoked = int("r", "revocation time")?;
    let rotated = int("ra", "rotation time")?;
    let token_hash = hash("th", "token hash")?.ok_or_else(|| corrupt("token hash"))?;
    let previous_token_hash = hash("ph", "previous token hash")?;
    let sliding_expiration = match map.get("sl").map(String::as_str) {
        None => None,
        Some("1") => Some(true),
        Some("0") => Some(false),
        Some(_) => return Err(corrupt("sliding flag")),
    };
    let metadata = map
        .get("m")
        .map(|json| {
            serde_json::from_str::<HashMap<String, String>>(json).map_err(|_| corrupt("metadata"))
        })
        .transpose()?;
    let user_id = map.remove("u").ok_or_else(|| corrupt("user id"))?;
    if id.is_empty() {
        return Err(corrupt("id"));
    }
    Ok(Session {
        token: String::new(),
        token_hash,
        user_id,
        created_at: from_micros(created),
        expires_at: from_micros(expires),
        absolute_expires_at: from_micros(absolute),
        lifetime: Duration::from_micros(u64::try_from(lifetime).map_err(|_| corrupt("lifetime"))?),
        revoked_at: revoked.map(from_micros),
        sliding_expiration,
        bound_user_agent: map.remove("ua"),
        metadata,
        version,
        previous_token_hash,
        rotated_at: rotated.map(from_micros),
        rotation_key: map.remove("rk"),
        id,
    })
}

impl SessionStore for RedisStore {
    fn insert(&self, session: Session) -> Result<()> {
        self.run_batch(&self.insert_ops(&session)?)
    }

    fn insert_all(&self, sessions: Vec<Session>) -> Result<()> {
        let mut ids = std::collections::HashSet::new();
        let mut hashes = std::collections::HashSet::new();
        for s in &sessions {
            if !ids.insert(s.id.as_str()) {
                return Err(store_error(format!("duplicate session id {}", s.id)));
            }
            for h in std::iter::once(&s.token_hash).chain(s.previous_token_hash.as_ref()) {
                if !hashes.insert(h.to_ascii_lowercase()) {
                    return Err(store_error("duplicate token hash"));
                }
            }
        }
        let mut ops = Vec::new();
        for s in &sessions {
            ops.extend(self.insert_ops(s)?);
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.run_batch(&ops)
    }

    fn insert_limited(
        &self,
        session: Session,
        max_active: i32,
        now: SystemTime,
        revoke_oldest: bool,
    ) -> Result<Vec<String>> {
        let mut ops = self.insert_ops(&session)?;
        let Some(Op::Session(op)) = ops.pop() else {
            return Err(store_error("internal: no session operation"));
        };
        // Aliases for an id or hash whose home is another shard (rare: imported
        // forms), claimed first and released if the insert does not happen.
        if !ops.is_empty() {
            self.run_batch(&ops)?;
        }
        let shard = op.shard;
        let user = op.user.clone();
        let last = Op::Session(op);
        let action = "insert within the user's limit";
        let outcome = self.optimistic(action, || {
            let view = self.index(action, &user)?;
            let reply: Vec<String> = self.invoke(action, &scripts::INSERT_LIMITED, |inv| {
                inv.arg(max_active)
                    .arg(micros(now))
                    .arg(if revoke_oldest { "1" } else { "0" })
                    .arg(view.len());
                for id in &view {
                    inv.arg(id);
                }
                last.push(inv);
                for id in &view {
                    inv.key(self.keys.session(shard, id));
                }
            })?;
            Ok((reply.first().map(String::as_str) != Some("RETRY")).then_some(reply))
        });
        let reply = match outcome {
            Ok(reply) => reply,
            Err(e) => {
                self.undo(&ops.iter().collect::<Vec<_>>());
                return Err(e);
            }
        };
        match reply.first().map(String::as_str) {
            Some("OK") => Ok(reply.into_iter().skip(1).collect()),
            outcome => {
                self.undo(&ops.iter().collect::<Vec<_>>());
                Err(match outcome {
                    Some("LIMIT") => SessionError::SessionLimitReached { limit: max_active },
                    _ => duplicate(reply.get(1).map(String::as_str), Some(&&last)),
                })
            }
        }
    }

    fn get(&self, session_id: String) -> Result<Option<Session>> {
        let home = shard_of_id(&session_id);
        let found = match self.get_in(home, &session_id)? {
            Lookup::Alias(shard) if shard != home => self.get_in(shard, &session_id)?,
            other => other,
        };
        match found {
            Lookup::Found(fields) => self.session_of(fields).map(Some),
            _ => Ok(None),
        }
    }

    fn find_by_token_hash(&self, token_hash: String) -> Result<Option<Session>> {
        let Some(hash) = TokenHash::from_hex(&token_hash) else {
            return Ok(None);
        };
        let hex = hash.to_hex();
        let home = shard_of_hash(&hex);
        let found = match self.lookup_in(home, &hex)? {
            Lookup::Alias(shard) if shard != home => self.lookup_in(shard, &hex)?,
            other => other,
        };
        match found {
            Lookup::Found(fields) => self.session_of(fields).map(Some),
            _ => Ok(None),
        }
    }

    fn compare_and_swap(
        &self,
        expected_token_hash: String,
        expected_version: i64,
        session: Session,
    ) -> Result<bool> {
        let Some(expected) = TokenHash::from_hex(&expected_token_hash) else {
            return Ok(false);
        };
        let expected = expected.to_hex();
        let mut ops = self.insert_ops(&session)?;
        let Some(Op::Session(mut op)) = ops.pop() else {
            return Err(store_error("internal: no session operation"));
        };
        // The id's alias already exists (or the id is at home): not a guard here.
        op.guards.retain(|(_, what)| *what == "hash");
        // A new hash whose home is another shard needs its alias first (kept if the
        // swap loses: it points to this user's shard and lookups check the record).
        let claims: Vec<Op> = ops
            .into_iter()
            .filter_map(|o| match o {
                Op::Claim(c) if c.what == "hash" => Some(Op::Claim(ClaimOp {
                    mode: "ensure",
                    ..c
                })),
                _ => None,
            })
            .collect();
        for claim in &claims {
            self.run_batch(std::slice::from_ref(claim))?;
        }
        let shard = op.shard;
        let new_hash = TokenHash::from_hex(&session.token_hash)
            .map(TokenHash::to_hex)
            .unwrap_or_default();
        let new_previous = session
            .previous_token_hash
            .as_deref()
            .and_then(TokenHash::from_hex)
            .map(TokenHash::to_hex)
            .unwrap_or_default();
        let last = Op::Session(op);
        let reply: Vec<String> = self.invoke("compare and swap", &scripts::CAS, |inv| {
            inv.key(self.keys.token(shard, &expected))
                .arg(&expected)
                .arg(expected_version)
                .arg(&session.user_id)
                .arg(&new_hash)
                .arg(&new_previous);
            last.push(inv);
        })?;
        match reply.first().map(String::as_str) {
            Some("OK") => Ok(true),
            Some("STALE") => Ok(false),
            Some("USER") => Err(store_error(format!(
                "session {}: a compare-and-swap cannot change the user",
                session.id
            ))),
            _ => Err(duplicate(reply.get(1).map(String::as_str), Some(&&last))),
        }
    }

    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>> {
        let shard = shard_of_user(&user_id);
        let user = self.keys.user(&user_id);
        let action = "list for user";
        let view = self.index(action, &user)?;
        let (_, records): (String, Vec<Vec<String>>) =
            self.invoke(action, &scripts::LIST, |inv| {
                inv.key(&user).arg(view.len());
                for id in &view {
                    inv.arg(id).key(self.keys.session(shard, id));
                }
            })?;
        Ok(self.scan(action, records).sessions)
    }

    fn revoke_all_for_user(&self, user_id: String, at: SystemTime) -> Result<Vec<String>> {
        let shard = shard_of_user(&user_id);
        let user = self.keys.user(&user_id);
        let action = "revoke all for user";
        let view = self.index(action, &user)?;
        let mut reply: Vec<String> = self.invoke(action, &scripts::REVOKE_ALL, |inv| {
            inv.key(&user).arg(micros(at)).arg(view.len());
            for id in &view {
                inv.arg(id).key(self.keys.session(shard, id));
            }
        })?;
        if reply.first().map(String::as_str) != Some("OK") {
            return Err(store_error(format!(
                "Redis {}: {action}: unexpected reply {reply:?}",
                self.location
            )));
        }
        Ok(reply.split_off(1))
    }

    fn purge_expired(&self, now: SystemTime) -> Result<i64> {
        let now_us = micros(now);
        let mut total = 0i64;
        for group in self.shard_groups() {
            loop {
                let (removed, more) =
                    self.optimistic("purge expired", || self.purge_step(&group, now_us))?;
                total += removed;
                if !more {
                    break;
                }
            }
        }
        Ok(total)
    }

    fn count(&self) -> Result<i64> {
        let now = self.clock.now().map_err(|e| SessionError::Clock {
            reason: e.to_string(),
        })?;
        let mut total = 0i64;
        for group in self.shard_groups() {
            // The size of each expiry index, less its expired entries whose record
            // Redis's TTL already collected.
            for shard in self.stable_scan("count", "count", micros(now), &group)? {
                let mut collected = 0i64;
                for exists in &shard.reads {
                    collected += i64::from(self.value::<i64>("count", exists)? == 0);
                }
                total += shard.size - collected;
            }
        }
        Ok(total)
    }

    fn all_sessions(&self) -> Result<SessionScan> {
        let mut records = Vec::new();
        for group in self.shard_groups() {
            for shard in self.stable_scan("list all", "all", 0, &group)? {
                for read in &shard.reads {
                    let fields: Vec<String> = self.value("list all", read)?;
                    // Empty: collected by Redis's TTL (the next purge drops the entry).
                    if !fields.is_empty() {
                        records.push(fields);
                    }
                }
            }
        }
        let mut scan = self.scan("list all", records);
        scan.sessions
            .sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(scan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn sample() -> Session {
        Session {
            id: "id-1".into(),
            user_id: "alice".into(),
            token: String::new(),
            token_hash: "ab".repeat(32),
            created_at: from_micros(1_700_000_000_000_001),
            expires_at: from_micros(1_700_000_100_000_000),
            absolute_expires_at: from_micros(1_700_000_200_000_000),
            lifetime: Duration::from_micros(99_999_999),
            revoked_at: Some(from_micros(1_700_000_000_500_000)),
            sliding_expiration: Some(true),
            bound_user_agent: Some("UA/1".into()),
            metadata: Some(HashMap::from([("k".to_owned(), "v".to_owned())])),
            version: 7,
            previous_token_hash: Some("cd".repeat(32)),
            rotated_at: Some(from_micros(1_700_000_000_400_000)),
            rotation_key: Some("00".repeat(32)),
        }
    }

    #[test]
    fn records_round_trip() {
        let s = sample();
        let fields = encode(&s, &s.token_hash, s.previous_token_hash.as_deref()).unwrap();
        assert_eq!(decode(fields).unwrap(), s);
        let mut bare = s.clone();
        bare.previous_token_hash = None;
        bare.revoked_at = None;
        bare.metadata = None;
        bare.sliding_expiration = None;
        bare.bound_user_agent = None;
        bare.rotated_at = None;
        bare.rotation_key = None;
        let fields = encode(&bare, &bare.token_hash, None).unwrap();
        assert_eq!(decode(fields).unwrap(), bare);
    }

    #[test]
    fn damaged_records_are_named() {
        let s = sample();
        let mut fields = encode(&s, &s.token_hash, None).unwrap();
        let m = fields.iter().position(|f| f == "m").unwrap();
        fields[m + 1] = "not json".into();
        let d = decode(fields).unwrap_err();
        assert_eq!(
            (d.id.as_str(), d.reason.as_str()),
            ("id-1", "corrupt metadata")
        );
        let d = decode(vec!["id".into(), "x".into()]).unwrap_err();
        assert_eq!(d.id, "x");
    }

    #[test]
    fn unreachable_server_is_a_store_error_within_the_timeout() {
        // Port 1 on loopback: nothing listens there.
        let started = std::time::Instant::now();
        let err = RedisStore::open(
            "redis://:hunter2@127.0.0.1:1/0?connect_timeout_ms=300",
            Arc::new(SystemClock),
        )
        .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let text = err.to_string();
        assert!(matches!(err, SessionError::Store { .. }), "{text}");
        assert!(text.contains("127.0.0.1:1"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
