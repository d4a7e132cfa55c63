//! The embedded store (sled): records, the work queue, leases, the outbox, the
//! provider cache, the call ledger, open asynchronous vendor jobs and learned
//! email patterns. Key encoding
//! lives here; no HTTP, no rules. [`RecordStore`] and [`CallStore`] are the
//! traits other backends implement: [`postgres`] is the shared one.

mod backend;
mod cache;
mod call_buffer;
mod error;
mod hot_cache;
mod jobs;
mod ledger;
mod ledger_page;
mod patterns;
pub mod postgres;
mod records;
mod stats;
mod traits;
mod types;

#[cfg(test)]
mod tests;

pub use backend::{Backend, Opened};
pub use cache::{cache_key, CacheEntry, CachedOutcome};
pub use error::StoreError;
pub use jobs::JobEntry;
pub use ledger::LedgerEntry;
pub use stats::{
    hour_of, CallBucket, CallStats, LATENCY_BOUNDS_MS, OUTCOME_BUDGET, OUTCOME_PAUSED,
};
pub use traits::{CallStore, Leased, MergeFn, QueueStats, RecordStore, SharedTally, StepCommit};
pub use types::{Change, QueueState, RouteChange, StoredRecord, UpsertSummary};

use std::path::Path;

/// An open store. Cheap to clone (sled trees are reference-counted).
#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
    cache: sled::Tree,
    ledger: sled::Tree,
    /// Open asynchronous vendor jobs: cache key → job id.
    jobs: sled::Tree,
    /// `hour (BE u32) ++ operation` → [`CallStats`] (binary), kept with the ledger.
    call_stats: sled::Tree,
    patterns: std::sync::Arc<patterns::PatternTree>,
    guesses: std::sync::Arc<patterns::PatternTree>,
    records: sled::Tree,
    /// `due_ms (BE) ++ id` → "": ordered by due time.
    queue: sled::Tree,
    /// `id` → `due_ms (BE)`: where a record sits in `queue`.
    queued: sled::Tree,
    /// `id` → `expiry_ms (BE) ++ token (BE)`.
    leases: sled::Tree,
    outbox: sled::Tree,
    /// Counters kept in transactions (`records`, `conflicts`), u64 BE.
    meta: sled::Tree,
    /// Dead-lettered records: id → reason.
    dead: sled::Tree,
    /// Ids of records with behaviour signals: the decay rescan reads these,
    /// not every record.
    signalled: sled::Tree,
    /// Events a sink gave up on: `sink\0seq` → reason.
    outbox_dead: sled::Tree,
    /// Queued records per due second (in memory, rebuilt at open).
    index: std::sync::Arc<records::DueIndex>,
    /// Lease tokens come from here.
    tokens: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Batch runs' calls on their way to the ledger, counters and cache,
    /// with the in-memory cache in front of the cache tree.
    calls: std::sync::Arc<call_buffer::CallBuffer>,
}

impl Store {
    /// Open (or create) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let failed =
            |e: &dyn std::fmt::Display| StoreError::Open(dir.display().to_string(), e.to_string());
        crate::data_dir::create(dir).map_err(|e| failed(&e))?;
        let db = sled::Config::new()
            .path(dir)
            // Modest cache: the store is small next to what the vendors hold.
            .cache_capacity(64 * 1024 * 1024)
            .open()
            .map_err(|e| failed(&e))?;
        // sled made its files with the umask's mode. Not fatal: a store
        // someone else owns (a copy opened by root) still opens.
        if let Err(e) = crate::data_dir::restrict_tree(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot restrict the store's file modes");
        }
        let store = Store::from_db(db)?;
        store.check_schema(&dir.display().to_string())?;
        Ok(store)
    }

    /// Refuse a store written by a newer leadfall; stamp an older one (every
    /// store so far has layout 1) with this binary's layout.
    fn check_schema(&self, label: &str) -> Result<(), StoreError> {
        match self.meta.get(META_SCHEMA)? {
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(i32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        what: "schema version",
                        message: format!("{} bytes", v.len()),
                    })?;
                if found > SLED_SCHEMA {
                    return Err(StoreError::SchemaTooNew {
                        store: label.to_string(),
                        found,
                        known: SLED_SCHEMA,
                    });
                }
            }
            None => {
                self.meta.insert(META_SCHEMA, &SLED_SCHEMA.to_be_bytes())?;
            }
        }
        Ok(())
    }

    /// Stamp the store with another layout version (tests of the guard).
    #[doc(hidden)]
    pub fn set_schema_version(&self, version: i32) -> Result<(), StoreError> {
        self.meta.insert(META_SCHEMA, &version.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// A throw-away store in memory (tests, benchmarks).
    pub fn temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Store, StoreError> {
        let (cache, ledger, call_stats) = (
            db.open_tree("cache")?,
            db.open_tree("ledger")?,
            db.open_tree("call_stats")?,
        );
        Ok(Store {
            calls: std::sync::Arc::new(call_buffer::CallBuffer::new(
                ledger.clone(),
                cache.clone(),
                call_stats.clone(),
                std::sync::Arc::default(),
            )),
            cache,
            ledger,
            jobs: db.open_tree("jobs")?,
            call_stats,
            patterns: std::sync::Arc::new(patterns::PatternTree::new(
                db.open_tree("email_patterns")?,
            )),
            guesses: std::sync::Arc::new(patterns::PatternTree::new(
                db.open_tree("email_guesses")?,
            )),
            records: db.open_tree("records")?,
            meta: open_meta(&db)?,
            dead: db.open_tree("dead")?,
            signalled: records::open_signalled(&db)?,
            outbox_dead: db.open_tree("outbox_dead")?,
            index: std::sync::Arc::new(records::DueIndex::build(&db.open_tree("queue")?)?),
            queue: db.open_tree("queue")?,
            queued: db.open_tree("queued")?,
            leases: db.open_tree("leases")?,
            outbox: db.open_tree("outbox")?,
            // Tokens only need to differ from any lease a previous process left.
            tokens: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(db.generate_id()? << 16)),
            db,
        })
    }

    /// Flush to disk (buffered calls included).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.calls.write_now()?;
        self.db.flush()?;
        Ok(())
    }

    /// The learned local-part pattern for a domain (`first.last`).
    pub fn email_pattern(&self, domain: &str) -> Result<Option<String>, StoreError> {
        self.patterns.get(domain.as_bytes())
    }

    /// The pattern an earlier guess used for this person, so a repeat pass
    /// guesses the same address (and the verifier's answer comes from the cache).
    pub fn guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
    ) -> Result<Option<String>, StoreError> {
        self.guesses.get(&guess_key(first, last, domain))
    }

    /// Remember the pattern a guess used for this person.
    pub fn set_guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
        pattern: &str,
    ) -> Result<(), StoreError> {
        self.guesses.set(&guess_key(first, last, domain), pattern)
    }

    /// Remember a domain's pattern (from a verified email).
    pub fn set_email_pattern(&self, domain: &str, pattern: &str) -> Result<(), StoreError> {
        self.patterns.set(domain.as_bytes(), pattern)
    }
}

fn guess_key(first: &str, last: &str, domain: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + last.len() + domain.len() + 2);
    for (i, part) in [first, last, domain].into_iter().enumerate() {
        if i > 0 {
            key.push(0);
        }
        // ASCII (nearly every name and domain) lower-cases byte by byte.
        if part.is_ascii() {
            key.extend(part.bytes().map(|b| b.to_ascii_lowercase()));
        } else {
            key.extend_from_slice(part.to_lowercase().as_bytes());
        }
    }
    key
}

/// The layout of the embedded store's trees this binary reads and writes.
/// Bump it (and migrate at open) when an encoding changes incompatibly.
pub const SLED_SCHEMA: i32 = 1;
/// Where the layout version is kept in the `meta` tree.
const META_SCHEMA: &[u8] = b"schema_version";

/// The counters tree, initialised from the data when a store predates it.
fn open_meta(db: &sled::Db) -> Result<sled::Tree, StoreError> {
    let meta = db.open_tree("meta")?;
    if meta.get(records::META_RECORDS)?.is_none() {
        let n = db.open_tree("records")?.len() as u64;
        meta.insert(records::META_RECORDS, &n.to_be_bytes())?;
    }
    Ok(meta)
}
