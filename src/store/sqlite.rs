//! The durable store: one SQLite database file, shared safely by threads and processes.
//!
//! Layout: one `sessions` table with a unique index on the token hash (kept as 32 raw
//! bytes) and indexes on the user id and the expiry. Times are integer nanoseconds since
//! the Unix epoch, metadata is JSON text, and there is no column for the raw token at
//! all. The schema carries a version number (`PRAGMA user_version`) and is brought up
//! to date by [`MIGRATIONS`], applied in order inside one transaction.
//!
//! The database runs in WAL mode with `synchronous = FULL`, so a change is on disk once
//! its method returns (with [`Durability::Normal`], `synchronous = NORMAL`: synced at
//! checkpoints), and readers never wait for the writer. Every change is one atomic step
//! (a single statement, or a few in one savepoint of a shared transaction):
//! compare-and-swap is one conditional `UPDATE`, so two processes rotating one token
//! cannot both succeed. A busy timeout makes a connection wait for another process's
//! write instead of failing. Nothing is
//! cached: every read goes to the database, so a change made by another process is
//! seen by the next call.
//!
//! Writes go through one connection and share transactions (group commit, see
//! [`commit`]): concurrent changes are committed, and synced, together, and each
//! returns once the commit carrying it is done. Reads use a small set of extra
//! connections so that validations on several threads run concurrently.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::{Mutex, MutexGuard};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};

use crate::clock::{from_nanos, to_nanos};
use crate::error::{Result, SessionError};
use crate::model::{Durability, Session};
use crate::store::{DamagedSession, SessionScan, SessionStore};
use crate::token::TokenHash;

mod commit;

use commit::GroupCommit;

/// How long a connection waits for another connection's (or process's) write lock
/// before it reports the database as busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Number of read-only connections used for lookups.
const READERS: usize = 4;

/// The schema migrations, in order. Migration `i` takes the database from
/// `user_version` `i` to `i + 1`; released entries must never change.
pub const MIGRATIONS: &[&str] = &[
    // 1: the sessions table and its indexes.
    "CREATE TABLE sessions (
        id TEXT PRIMARY KEY NOT NULL,
        user_id TEXT NOT NULL,
        token_hash BLOB NOT NULL CHECK (length(token_hash) = 32),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        absolute_expires_at INTEGER NOT NULL,
        lifetime_ns INTEGER NOT NULL,
        revoked_at INTEGER,
        sliding_expiration INTEGER,
        bound_user_agent TEXT,
        metadata TEXT
    );
    CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
    CREATE INDEX sessions_user_id ON sessions (user_id, created_at);
    CREATE INDEX sessions_expires_at ON sessions (expires_at);",
    // 2: every change adds one to a session's version; compare-and-swap checks it.
    "ALTER TABLE sessions ADD COLUMN version INTEGER NOT NULL DEFAULT 1;",
    // 3: rotation grace and reuse detection: the predecessor's hash, when, and the key.
    "ALTER TABLE sessions ADD COLUMN previous_token_hash BLOB \
         CHECK (previous_token_hash IS NULL OR length(previous_token_hash) = 32);
     ALTER TABLE sessions ADD COLUMN rotated_at INTEGER;
     ALTER TABLE sessions ADD COLUMN rotation_key TEXT;
     CREATE UNIQUE INDEX sessions_previous_token_hash ON sessions (previous_token_hash);",
];

/// The schema version this library writes: the number of [`MIGRATIONS`].
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The columns of a session, in the order [`StoredRow::read`] reads them (a macro, so
/// queries are `&'static str`s built at compile time: a lookup formats nothing).
macro_rules! columns {
    () => {
        "id, user_id, token_hash, created_at, expires_at, absolute_expires_at, \
         lifetime_ns, revoked_at, sliding_expiration, bound_user_agent, metadata, version, \
         previous_token_hash, rotated_at, rotation_key"
    };
}

/// Sessions kept in a SQLite database file, durable across restarts and shared by every
/// process that opens the same file.
pub struct SqliteStore {
    writer: GroupCommit,
    readers: Vec<Mutex<Connection>>,
    path: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file if it is missing and bringing its
    /// schema up to date. Fails with `SessionError::Store` if the file is not a SQLite
    /// database, belongs to another application, has a newer schema than this library
    /// knows, or cannot be opened or created; such a file is left untouched.
    ///
    /// The special path `:memory:` gives [`SqliteStore::open_in_memory`]; an empty path
    /// is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Durability::Full)
    }

    /// [`SqliteStore::open`] with the durability of its commits chosen (see
    /// [`Durability`]; `open` gives `Full`).
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self> {
        let path_ref = path.as_ref();
        let shown = path_ref.display().to_string();
        if shown.is_empty() {
            return Err(store_error("the database path is empty"));
        }
        if shown == ":memory:" {
            return Self::open_in_memory();
        }
        // Before the first connection: lock with OFD locks, so a second SQLite in this
        // process (the host's own) cannot write over ours (see `ofd_locks`).
        crate::unsafe_code::ofd_locks::install()
            .map_err(|e| store_error(format!("{shown}: cannot set up SQLite's file locks: {e}")))?;
        // One open at a time in this process. With OFD locks, a shared lock SQLite
        // took through one of our connections may outlive its release through another
        // (see `ofd_locks`); that is harmless in WAL mode, but switching a new file to
        // WAL needs the file to itself, so no other connection of ours may be opening
        // it meanwhile. Other processes wait on the file's locks as before.
        static OPENING: Mutex<()> = Mutex::new(());
        let _opening = OPENING.lock();
        let writer = open_connection(path_ref, &shown)?;
        // Refuse a foreign file before anything (even the journal mode) is written.
        check_ownership(&writer, &shown)?;
        configure_writer(&writer, &shown, durability)?;
        migrate(&writer, &shown)?;
        let readers = (0..READERS)
            .map(|_| open_reader(path_ref, &shown).map(Mutex::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(SqliteStore {
            writer: GroupCommit::new(writer, shown.clone()),
            readers,
            path: shown,
        })
    }

    /// A store in a private in-memory database (one connection, gone when dropped);
    /// meant for tests.
    pub fn open_in_memory() -> Result<Self> {
        let shown = ":memory:".to_owned();
        let writer = Connection::open_in_memory().map_err(|e| db_error(&shown, "open", &e))?;
        migrate(&writer, &shown)?;
        Ok(SqliteStore {
            writer: GroupCommit::new(writer, shown.clone()),
            readers: Vec::new(),
            path: shown,
        })
    }

    /// The path the store was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok(())` if the database is sound,
    /// otherwise `SessionError::Store` listing the problems found.
    pub fn check_integrity(&self) -> Result<()> {
        let conn = self.writer.connection();
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| self.error("integrity check", &e))?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.error("integrity check", &e))?;
        if lines == ["ok"] {
            Ok(())
        } else {
            Err(store_error(format!(
                "{}: integrity check failed: {}",
                self.path,
                lines.join("; ")
            )))
        }
    }

    /// A connection for a read: a free reader if there is one, else the thread's own
    /// (or the writer when the store has no readers). Each thread starts looking at its
    /// own reader, so threads reading at once rarely touch the same connection (or a
    /// shared counter).
    fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.writer.connection();
        }
        let start = reader_slot();
        let n = self.readers.len();
        (0..n)
            .find_map(|i| self.readers[(start + i) % n].try_lock())
            .unwrap_or_else(|| self.readers[start % n].lock())
    }

    fn error(&self, action: &str, err: &rusqlite::Error) -> SessionError {
        db_error(&self.path, action, err)
    }

    /// Runs a query returning at most one session.
    fn query_one(
        &self,
        action: &str,
        sql: &str,
        key: &dyn rusqlite::ToSql,
    ) -> Result<Option<Session>> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(sql)
            .map_err(|e| self.error(action, &e))?;
        let row = stmt
            .query_row([key], StoredRow::read)
            .optional()
            .map_err(|e| self.error(action, &e))?;
        row.map(|r| r.into_session(&self.path))
            .transpose()
            .map_err(|d| store_error(format!("{}: session {}: {}", self.path, d.id, d.reason)))
    }

    /// Runs a query returning any number of sessions. A damaged row (one that cannot
    /// be read as a session) never hides the healthy ones: it is logged and listed in
    /// the scan's `damaged`.
    fn query_many(
        &self,
        action: &str,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<SessionScan> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(sql)
            .map_err(|e| self.error(action, &e))?;
        let rows = stmt
            .query_map(params, StoredRow::read_lenient)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.error(action, &e))?;
        let mut scan = SessionScan {
            sessions: Vec::with_capacity(rows.len()),
            damaged: Vec::new(),
        };
        for row in rows {
            match row.and_then(|r| r.into_session(&self.path)) {
                Ok(session) => scan.sessions.push(session),
                Err(damaged) => {
                    log::warn!(
                        "{}: {action}: skipped damaged session {}: {}",
                        self.path,
                        damaged.id,
                        damaged.reason
                    );
                    scan.damaged.push(damaged);
                }
            }
        }
        Ok(scan)
    }
}

/// Maps a failed write: a unique-constraint violation becomes the same
/// "duplicate ..." error the memory store gives.
fn write_error(path: &str, action: &str, session_id: &str, err: &rusqlite::Error) -> SessionError {
    match duplicate_of(err) {
        Some(Duplicate::Id) => store_error(format!("duplicate session id {session_id}")),
        Some(Duplicate::TokenHash) => store_error("duplicate token hash"),
        None => db_error(path, action, err),
    }
}

/// This thread's preferred reader: threads are numbered in the order they first read.
fn reader_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|slot| *slot)
}

fn store_error(reason: impl Into<String>) -> SessionError {
    SessionError::Store {
        reason: reason.into(),
    }
}

/// Maps a SQLite error to `SessionError::Store`, naming the file and the action, and
/// translating the failures a caller can act on into plain words.
fn db_error(path: &str, action: &str, err: &rusqlite::Error) -> SessionError {
    let detail = match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => "the file is not a SQLite database (or is corrupt)".into(),
        Some(ErrorCode::DatabaseCorrupt) => format!("the database is corrupt ({err})"),
        Some(ErrorCode::CannotOpen) => {
            format!("cannot open or create the file; check the directory exists and is writable ({err})")
        }
        Some(ErrorCode::ReadOnly) => format!("the database is read-only ({err})"),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            format!("the database is locked by another connection (waited up to {BUSY_TIMEOUT:?}: {err})")
        }
        Some(ErrorCode::DiskFull) => format!("the disk is full ({err})"),
        _ => err.to_string(),
    };
    store_error(format!("{path}: {action}: {detail}"))
}

/// Opens a read-write connection without URI parsing (a path is always a path).
fn open_connection(path: &Path, shown: &str) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(shown, "open", &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| db_error(shown, "set busy timeout", &e))?;
    Ok(conn)
}

/// WAL mode (readers never block the writer), and an fsync on every commit (`Full`)
/// or only at checkpoints (`Normal`).
fn configure_writer(conn: &Connection, shown: &str, durability: Durability) -> Result<()> {
    let mode = enable_wal(conn).map_err(|e| db_error(shown, "enable WAL mode", &e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(store_error(format!(
            "{shown}: enable WAL mode: the database stayed in {mode} mode"
        )));
    }
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(|e| db_error(shown, "set synchronous mode", &e))
}

/// Switches to WAL mode, which needs a moment of exclusive access. SQLite reports
/// "busy" at once, without waiting, when connections opening a new file at the same
/// moment would otherwise deadlock; so this retries with backoff, within the busy
/// timeout. Returns the journal mode now in force.
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            outcome => return outcome,
        }
    }
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A connection that only ever reads.
fn open_reader(path: &Path, shown: &str) -> Result<Connection> {
    let conn = open_connection(path, shown)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| db_error(shown, "open reader", &e))?;
    Ok(conn)
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one immediate transaction, so two
/// processes opening a new file at once cannot both create the table.
fn migrate(conn: &Connection, shown: &str) -> Result<()> {
    let fail = |e: rusqlite::Error| db_error(shown, "migrate schema", &e);
    conn.execute_batch("BEGIN IMMEDIATE").map_err(fail)?;
    let outcome = apply_migrations(conn, shown);
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = conn.execute_batch(end).map_err(fail);
    outcome.and(ended)
}

/// Reads the schema version, refusing a file that is not a SQLite database, one that
/// belongs to another application (tables but no version) and one newer than this
/// library. Only reads.
fn check_ownership(conn: &Connection, shown: &str) -> Result<i64> {
    // One statement, so both values come from one snapshot even while another
    // process is creating the schema.
    let (version, objects): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), \
                    (SELECT count(*) FROM sqlite_schema)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| db_error(shown, "read schema version", &e))?;
    if version > SCHEMA_VERSION {
        return Err(store_error(format!(
            "{shown}: schema version {version} is newer than this library supports ({SCHEMA_VERSION})"
        )));
    }
    if version == 0 && objects > 0 {
        return Err(store_error(format!(
            "{shown}: the database belongs to another application (it has tables but no sessions schema version)"
        )));
    }
    Ok(version)
}

fn apply_migrations(conn: &Connection, shown: &str) -> Result<()> {
    let fail = |e: rusqlite::Error| db_error(shown, "migrate schema", &e);
    // Checked again inside the transaction: another process may have migrated since.
    let version = check_ownership(conn, shown)?;
    for migration in MIGRATIONS
        .iter()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        conn.execute_batch(migration).map_err(fail)?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(fail)
}

/// A row as SQLite returns it, before conversion (which can fail on corrupt data).
struct StoredRow {
    id: String,
    user_id: String,
    token_hash: Vec<u8>,
    created_at: i64,
    expires_at: i64,
    absolute_expires_at: i64,
    lifetime_ns: i64,
    revoked_at: Option<i64>,
    sliding_expiration: Option<bool>,
    bound_user_agent: Option<String>,
    metadata: Option<String>,
    version: i64,
    previous_token_hash: Option<Vec<u8>>,
    rotated_at: Option<i64>,
    rotation_key: Option<String>,
}

/// A row that could not even be read into a [`StoredRow`] (a column of the wrong type)
/// yields this instead, so one bad row does not fail a whole query.
type LenientRow = std::result::Result<StoredRow, DamagedSession>;

impl StoredRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(StoredRow {
            id: row.get(0)?,
            user_id: row.get(1)?,
            token_hash: row.get(2)?,
            created_at: row.get(3)?,
            expires_at: row.get(4)?,
            absolute_expires_at: row.get(5)?,
            lifetime_ns: row.get(6)?,
            revoked_at: row.get(7)?,
            sliding_expiration: row.get(8)?,
            bound_user_agent: row.get(9)?,
            metadata: row.get(10)?,
            version: row.get(11)?,
            previous_token_hash: row.get(12)?,
            rotated_at: row.get(13)?,
            rotation_key: row.get(14)?,
        })
    }

    /// [`StoredRow::read`], turning a column of the wrong type into a damaged record.
    fn read_lenient(row: &Row<'_>) -> rusqlite::Result<LenientRow> {
        Ok(Self::read(row).map_err(|e| DamagedSession {
            id: row
                .get::<_, rusqlite::types::Value>(0)
                .map(|v| match v {
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .unwrap_or_default(),
            reason: format!("unreadable column: {e}"),
        }))
    }

    fn into_session(self, _path: &str) -> std::result::Result<Session, DamagedSession> {
        let id = self.id.clone();
        let corrupt = |what: &str| DamagedSession {
            id: id.clone(),
            reason: format!("corrupt {what}"),
        };
        let hash: [u8; 32] = self
            .token_hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("token hash"))?;
        let previous_token_hash = match &self.previous_token_hash {
            None => None,
            Some(bytes) => Some(
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map(|h| TokenHash(h).to_hex())
                    .map_err(|_| corrupt("previous token hash"))?,
            ),
        };
        let metadata = match &self.metadata {
            None => None,
            Some(json) => Some(
                serde_json::from_str::<HashMap<String, String>>(json)
                    .map_err(|_| corrupt("metadata"))?,
            ),
        };
        Ok(Session {
            token: String::new(),
            token_hash: TokenHash(hash).to_hex(),
            created_at: from_nanos(self.created_at),
            expires_at: from_nanos(self.expires_at),
            metadata,
            revoked_at: self.revoked_at.map(from_nanos),
            sliding_expiration: self.sliding_expiration,
            bound_user_agent: self.bound_user_agent,
            lifetime: Duration::from_nanos(u64::try_from(self.lifetime_ns).unwrap_or(0)),
            absolute_expires_at: from_nanos(self.absolute_expires_at),
            version: self.version,
            previous_token_hash,
            rotated_at: self.rotated_at.map(from_nanos),
            rotation_key: self.rotation_key,
            id: self.id,
            user_id: self.user_id,
        })
    }
}

/// A session in the form it is written: checked hash, nanosecond times, JSON metadata.
struct Columns {
    hash: [u8; 32],
    created_at: i64,
    expires_at: i64,
    absolute_expires_at: i64,
    lifetime_ns: i64,
    revoked_at: Option<i64>,
    metadata: Option<String>,
    previous: Option<[u8; 32]>,
    rotated_at: Option<i64>,
}

impl Columns {
    fn of(session: &Session) -> Result<Self> {
        let hash = TokenHash::from_hex(&session.token_hash)
            .ok_or_else(|| store_error("token_hash is not 64 hex digits"))?;
        let metadata = session
            .metadata
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| store_error(format!("cannot encode metadata: {e}")))?;
        Ok(Columns {
            hash: hash.0,
            created_at: to_nanos(session.created_at),
            expires_at: to_nanos(session.expires_at),
            absolute_expires_at: to_nanos(session.absolute_expires_at),
            lifetime_ns: i64::try_from(session.lifetime.as_nanos()).unwrap_or(i64::MAX),
            revoked_at: session.revoked_at.map(to_nanos),
            metadata,
            previous: session
                .previous_token_hash
                .as_deref()
                .map(|h| {
                    TokenHash::from_hex(h)
                        .map(|h| h.0)
                        .ok_or_else(|| store_error("previous_token_hash is not 64 hex digits"))
                })
                .transpose()?,
            rotated_at: session.rotated_at.map(to_nanos),
        })
    }

    /// The values of `session` (which these columns were made from), in `columns!()` order.
    fn values<'a>(&'a self, session: &'a Session) -> [&'a dyn rusqlite::ToSql; 15] {
        [
            &session.id,
            &session.user_id,
            &self.hash,
            &self.created_at,
            &self.expires_at,
            &self.absolute_expires_at,
            &self.lifetime_ns,
            &self.revoked_at,
            &session.sliding_expiration,
            &session.bound_user_agent,
            &self.metadata,
            &session.version,
            &self.previous,
            &self.rotated_at,
            &session.rotation_key,
        ]
    }
}

/// Inserts one session: the values of [`Columns::values`], in `columns!()` order.
const INSERT: &str = "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, \
     absolute_expires_at, lifetime_ns, revoked_at, sliding_expiration, bound_user_agent, \
     metadata, version, previous_token_hash, rotated_at, rotation_key) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

/// Which unique constraint a write violated.
enum Duplicate {
    Id,
    TokenHash,
}

/// Whether an error is a unique-constraint violation, and on which column.
fn duplicate_of(err: &rusqlite::Error) -> Option<Duplicate> {
    if err.sqlite_error_code() != Some(ErrorCode::ConstraintViolation) {
        return None;
    }
    let text = err.to_string();
    if text.contains("sessions.token_hash") || text.contains("sessions.previous_token_hash") {
        Some(Duplicate::TokenHash)
    } else if text.contains("sessions.id") {
        Some(Duplicate::Id)
    } else {
        None
    }
}

impl SessionStore for SqliteStore {
    fn insert(&self, session: Session) -> Result<()> {
        let c = Columns::of(&session)?;
        self.writer.run(Box::new(move |conn, path| {
            conn.prepare_cached(INSERT)
                .and_then(|mut stmt| stmt.execute(c.values(&session).as_slice()))
                .map_err(|e| write_error(path, "insert", &session.id, &e))?;
            Ok(())
        }))
    }

    fn insert_all(&self, sessions: Vec<Session>) -> Result<()> {
        let columns = sessions
            .iter()
            .map(Columns::of)
            .collect::<Result<Vec<_>>>()?;
        // One job: its savepoint makes it all or nothing.
        self.writer.run(Box::new(move |conn, path| {
            let mut stmt = conn
                .prepare_cached(INSERT)
                .map_err(|e| db_error(path, "insert all", &e))?;
            for (session, c) in sessions.iter().zip(&columns) {
                stmt.execute(c.values(session).as_slice())
                    .map_err(|e| write_error(path, "insert all", &session.id, &e))?;
            }
            Ok(())
        }))
    }

    fn insert_limited(
        &self,
        session: Session,
        max_active: i32,
        now: SystemTime,
        revoke_oldest: bool,
    ) -> Result<Vec<String>> {
        let c = Columns::of(&session)?;
        let now = to_nanos(now);
        self.writer.run(Box::new(move |tx, path| {
            let fail = |e: rusqlite::Error| db_error(path, "insert within the user's limit", &e);
            let active: Vec<String> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL \
                         AND expires_at > ?2 ORDER BY created_at, id",
                    )
                    .map_err(fail)?;
                let rows = stmt
                    .query_map(params![session.user_id, now], |r| r.get(0))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>());
                rows.map_err(fail)?
            };
            let excess =
                (active.len() + 1).saturating_sub(usize::try_from(max_active).unwrap_or(0));
            if excess > 0 && !revoke_oldest {
                return Err(SessionError::SessionLimitReached { limit: max_active });
            }
            tx.prepare_cached(INSERT)
                .and_then(|mut stmt| stmt.execute(c.values(&session).as_slice()))
                .map_err(|e| write_error(path, "insert", &session.id, &e))?;
            let revoked: Vec<String> = active.into_iter().take(excess).collect();
            for id in &revoked {
                tx.prepare_cached(
                    "UPDATE sessions SET revoked_at = ?2, version = version + 1 \
                     WHERE id = ?1 AND revoked_at IS NULL",
                )
                .and_then(|mut stmt| stmt.execute(params![id, now]))
                .map_err(|e| db_error(path, "revoke for the user's limit", &e))?;
            }
            Ok(revoked)
        }))
    }

    fn get(&self, session_id: String) -> Result<Option<Session>> {
        let sql = concat!("SELECT ", columns!(), " FROM sessions WHERE id = ?1");
        self.query_one("get", sql, &session_id)
    }

    fn find_by_token_hash(&self, token_hash: String) -> Result<Option<Session>> {
        let Some(hash) = TokenHash::from_hex(&token_hash) else {
            return Ok(None);
        };
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE token_hash = ?1 UNION ALL SELECT ",
            columns!(),
            " FROM sessions WHERE previous_token_hash = ?1 LIMIT 1"
        );
        self.query_one("find by token hash", sql, &hash.0)
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
        let c = Columns::of(&session)?;
        self.writer.run(Box::new(move |conn, path| {
            let mut values = c.values(&session).to_vec();
            values.push(&expected.0);
            values.push(&expected_version);
            let changed = conn
                .prepare_cached(
                    "UPDATE sessions SET user_id = ?2, token_hash = ?3, created_at = ?4, \
                     expires_at = ?5, absolute_expires_at = ?6, lifetime_ns = ?7, revoked_at = ?8, \
                     sliding_expiration = ?9, bound_user_agent = ?10, metadata = ?11, version = ?12, \
                     previous_token_hash = ?13, rotated_at = ?14, rotation_key = ?15 \
                     WHERE id = ?1 AND token_hash = ?16 AND version = ?17 AND revoked_at IS NULL",
                )
                .and_then(|mut stmt| stmt.execute(values.as_slice()))
                .map_err(|e| write_error(path, "compare and swap", &session.id, &e))?;
            Ok(changed == 1)
        }))
    }

    fn list_for_user(&self, user_id: String) -> Result<Vec<Session>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE user_id = ?1 ORDER BY created_at, id"
        );
        Ok(self
            .query_many("list for user", sql, params![user_id])?
            .sessions)
    }

    fn revoke_all_for_user(&self, user_id: String, at: SystemTime) -> Result<Vec<String>> {
        let at = to_nanos(at);
        self.writer.run(Box::new(move |conn, path| {
            let fail = |e: rusqlite::Error| db_error(path, "revoke all for user", &e);
            let mut stmt = conn
                .prepare_cached(
                    "UPDATE sessions SET revoked_at = ?2, version = version + 1 \
                     WHERE user_id = ?1 AND revoked_at IS NULL RETURNING id",
                )
                .map_err(fail)?;
            let ids = stmt
                .query_map(params![user_id, at], |r| r.get(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>());
            ids.map_err(fail)
        }))
    }

    fn purge_expired(&self, now: SystemTime) -> Result<i64> {
        let now = to_nanos(now);
        self.writer.run(Box::new(move |conn, path| {
            let changed = conn
                .prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")
                .and_then(|mut stmt| stmt.execute(params![now]))
                .map_err(|e| db_error(path, "purge expired", &e))?;
            Ok(i64::try_from(changed).unwrap_or(i64::MAX))
        }))
    }

    fn count(&self) -> Result<i64> {
        let conn = self.reader();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
            .map_err(|e| self.error("count", &e))?;
        Ok(n)
    }

    fn all_sessions(&self) -> Result<SessionScan> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM sessions ORDER BY created_at, id"
        );
        self.query_many("list all", sql, params![])
    }
}
