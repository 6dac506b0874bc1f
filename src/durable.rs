//! The durable manager: sessions kept in a SQLite database file or in Redis.

use std::sync::Arc;

use crate::clock::Clock;
use crate::clock::SystemClock;
use crate::error::{Result, SessionError};
use crate::manager::SessionManager;
use crate::model::{Durability, SessionConfig};
use crate::rules::Policy;
use crate::store::redis::location;
use crate::store::{RedisStore, SessionStore, SqliteStore};

#[uniffi::export]
impl SessionManager {
    /// A manager keeping sessions in the SQLite database file at `path`, created if
    /// missing, or in Redis when `path` is a Redis location, using the system clock
    /// unless `clock` is given.
    ///
    /// Redis locations: `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS),
    /// and a cluster as `redis+cluster://host1:port1,host2:port2,…` (`rediss+cluster://`
    /// with TLS), each with optional query parameters `connect_timeout_ms` and
    /// `timeout_ms` (2000 each), `pool_size` (8), `prefix` (`sessions`),
    /// `expiry_grace_s` (3600) and `tls_ca_file` (a PEM file of authorities to trust
    /// instead of the web roots). A server that cannot be reached within the connect
    /// timeout is a `Store` error naming it (never its password). Tokens and ids of
    /// sessions created through a Redis location are drawn so a session is found from
    /// its token in one round trip (still 43-character tokens and UUID ids).
    ///
    /// Sessions survive restarts, and every process that opens the same file sees the
    /// others' changes on its next call (a session revoked in one process fails
    /// validation in another at once). Fails with `Store` if the file is not a sessions
    /// database (it is then left untouched) or cannot be opened or created, and with
    /// `InvalidConfig` / `InvalidLifetime` for a bad configuration (checked first, so no
    /// file is created for it).
    #[uniffi::constructor(default(clock = None))]
    pub fn open(
        path: String,
        config: SessionConfig,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Arc<Self>> {
        Self::open_with_durability(path, config, Durability::Full, clock)
    }

    /// `open`, with the durability of changes to a SQLite file chosen (`open` gives
    /// `Durability::Full`: every change is synced to disk before it returns). See
    /// `Durability` for what each setting can lose on a power failure. The setting
    /// applies to this manager's own commits; other processes on the same file choose
    /// their own. A Redis location takes only `Durability::Full` (what Redis keeps is
    /// decided by the server's `appendfsync`); `Normal` with one is `InvalidConfig`.
    #[uniffi::constructor(default(clock = None))]
    pub fn open_with_durability(
        path: String,
        config: SessionConfig,
        durability: Durability,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Arc<Self>> {
        let mut policy = Policy::from_config(&config)?;
        // Whitespace around a Redis URL (an environment file's) is a mistake, never a
        // file the user means: the URL is taken without it.
        let trimmed = path.trim();
        let store: Arc<dyn SessionStore> = if location::is_redis(trimmed) {
            if durability != Durability::Full {
                return Err(SessionError::InvalidConfig {
                    reason: "durability applies to SQLite files; a Redis server's durability is its appendfsync setting".into(),
                });
            }
            // The key namespace on Redis is the location's `prefix` option: a
            // `SessionConfig.prefix` of its own would be silently ignored, and two
            // applications telling themselves apart by it would share sessions.
            if config.prefix != SessionConfig::default().prefix {
                return Err(SessionError::InvalidConfig {
                    reason: "on Redis the key namespace is the location's prefix option (redis://host:port/0?prefix=app); SessionConfig.prefix must stay at its default".into(),
                });
            }
            let store_clock = clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
            policy.colocate = true;
            Arc::new(RedisStore::open(trimmed, store_clock)?)
        } else {
            Arc::new(
                SqliteStore::open_with(&path, durability)
                    .map_err(|e| location::redact_in_error(e, &path))?,
            )
        };
        Ok(Arc::new(
            Self::with_policy(policy, config, store, clock).trusting_store(),
        ))
    }
}
