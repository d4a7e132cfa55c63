//! Store errors.

use thiserror::Error;

/// What can go wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The data directory could not be opened.
    #[error("cannot open the store at {0}: {1}")]
    Open(String, String),
    /// sled failed.
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// The worker's lease was taken back (expired and recovered) before it committed.
    #[error("lease on record {0:?} was lost before the commit")]
    LeaseLost(String),
    /// An upsert changed the record while a worker held it; the worker's result is dropped.
    #[error("record {0:?} changed during the step; it is queued again")]
    Superseded(String),
    /// A transaction failed.
    #[error("store transaction: {0}")]
    Transaction(String),
    /// PostgreSQL failed (the server's message, or the driver's).
    #[error("postgres: {0}")]
    Postgres(String),
    /// The store was written by a newer leadfall (a rolling upgrade migrated
    /// it): this binary must not write into a schema it does not know.
    #[error("{store}: the schema is at version {found}, newer than this leadfall knows ({known}): a newer leadfall has upgraded it; upgrade this binary (`leadfall migrate` cannot help)")]
    SchemaTooNew {
        /// The store (path or URL without password).
        store: String,
        /// The version found in the store.
        found: i32,
        /// The newest version this binary knows.
        known: i32,
    },
    /// A stored value did not decode (written by another version?).
    #[error("store: corrupt {what}: {message}")]
    Corrupt {
        /// Which kind of value.
        what: &'static str,
        /// The decoder's message.
        message: String,
    },
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Postgres(super::postgres::pg_message(&e))
    }
}
