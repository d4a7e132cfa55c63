//! Which store a deployment uses, and opening it: sled in the data directory
//! (one daemon) or a PostgreSQL database (several daemons sharing it).

use super::postgres::{PgStore, PgUrl};
use super::{CallStore, RecordStore, Store, StoreError};
use std::path::Path;
use std::sync::Arc;

/// The configured store (`store` in `config/leadfall.toml`).
#[derive(Debug, Clone)]
pub enum Backend {
    /// sled in `<data_dir>/store` (the default).
    Sled,
    /// A shared PostgreSQL database (boxed: the parsed URL is large).
    Postgres(Box<PgUrl>),
}

/// An open store, with the handles the engine and daemon need.
#[derive(Debug, Clone)]
pub enum Opened {
    /// The embedded store.
    Sled(Store),
    /// The shared store.
    Postgres(PgStore),
}

impl Opened {
    /// Open `backend`: sled under `data_dir`, or PostgreSQL with pending
    /// migrations applied (`migrate`) or refused when not.
    pub fn open(backend: &Backend, data_dir: &Path, migrate: bool) -> Result<Opened, StoreError> {
        Ok(match backend {
            Backend::Sled => {
                crate::data_dir::create(data_dir)
                    .map_err(|e| StoreError::Open(data_dir.display().to_string(), e.to_string()))?;
                Opened::Sled(Store::open(&data_dir.join("store"))?)
            }
            Backend::Postgres(url) if migrate => Opened::Postgres(PgStore::open_migrated(url)?),
            Backend::Postgres(url) => Opened::Postgres(PgStore::open(url)?),
        })
    }

    /// Records, queue, leases and outbox.
    pub fn records(&self) -> Arc<dyn RecordStore> {
        match self {
            Opened::Sled(s) => Arc::new(s.clone()),
            Opened::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Cache and ledger.
    pub fn calls(&self) -> Arc<dyn CallStore> {
        match self {
            Opened::Sled(s) => Arc::new(s.clone()),
            Opened::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// The shared store, when it is one.
    pub fn postgres(&self) -> Option<&PgStore> {
        match self {
            Opened::Postgres(s) => Some(s),
            Opened::Sled(_) => None,
        }
    }
}
