//! The durable manager: sessions kept in a SQLite database file.

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::Result;
use crate::manager::SessionManager;
use crate::model::{Durability, SessionConfig};
use crate::rules::Policy;
use crate::store::SqliteStore;

#[uniffi::export]
impl SessionManager {
    /// A manager keeping sessions in the SQLite database file at `path`, created if
    /// missing, using the system clock unless `clock` is given.
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

    /// `open`, with the durability of changes chosen (`open` gives `Durability::Full`:
    /// every change is synced to disk before it returns). See `Durability` for what
    /// each setting can lose on a power failure. The setting applies to this manager's
    /// own commits; other processes on the same file choose their own.
    #[uniffi::constructor(default(clock = None))]
    pub fn open_with_durability(
        path: String,
        config: SessionConfig,
        durability: Durability,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Arc<Self>> {
        let policy = Policy::from_config(&config)?;
        let store = Arc::new(SqliteStore::open_with(&path, durability)?);
        Ok(Arc::new(
            Self::with_policy(policy, config, store, clock).trusting_store(),
        ))
    }
}
