//! The PostgreSQL store: the same [`RecordStore`](super::RecordStore) and
//! [`CallStore`](super::CallStore) as sled, shared by several daemons (each
//! one a *member* with a heartbeat). Selected by `store = "postgres://..."`.
//!
//! The traits are synchronous (the engine calls them from blocking tasks and,
//! for the cache and ledger, inline from async code), so the store owns a small
//! tokio runtime that drives the connection pool, and each method blocks on its
//! query there (see [`PgStore::block`]). Files: `schema` (versioned
//! migrations), `records` (records, queue, leases, outbox), `calls` (cache,
//! ledger, call counters, jobs, patterns), `members` (heartbeats, sink
//! ownership), `budget` (shared budget tallies), `url` (parsing and
//! redaction), `copy` (`migrate --from-sled`), `testdb` (throw-away databases
//! for tests and benchmarks).

mod budget;
mod calls;
mod copy;
mod members;
mod notify;
mod records;
mod schema;
mod testdb;
#[cfg(test)]
mod tests;
mod url;

pub use budget::PgBudgetTally;
pub use copy::{copy_from_sled, CopyCounts};
pub use members::{Member, LIVE_SECS};
pub use notify::Wake;
pub use schema::{migrate, MigrateReport, MIGRATIONS};
pub use testdb::{require_or_skip, test_server, TempDatabase, DEFAULT_TEST_SERVER};
pub use url::PgUrl;

use super::StoreError;
use std::future::Future;
use std::sync::Arc;

/// Connections per daemon: workers commit through the blocking pool, so this
/// caps the store calls running at once, not the workers.
const POOL_SIZE: usize = 8;

/// An open PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: deadpool_postgres::Pool,
    /// Drives the pool's connections; `None` only while dropping.
    rt: Option<tokio::runtime::Runtime>,
    /// This process's member id: lease owner, sink owner, budget holder.
    member: String,
    url: PgUrl,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A runtime dropped inside another one panics; let it wind down alone.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.inner.url)
            .field("member", &self.inner.member)
            .finish()
    }
}

impl PgStore {
    /// Connect to `url` and check the schema is current (run `leadfall
    /// migrate`, or [`PgStore::open_migrated`], otherwise).
    pub fn open(url: &PgUrl) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(url)?;
        let (current, latest) = store.schema_version()?;
        store.refuse_newer(current)?;
        if current != latest {
            return Err(StoreError::Open(
                url.to_string(),
                format!(
                    "the database schema is at version {current}, this leadfall needs {latest}: run `leadfall migrate`"
                ),
            ));
        }
        Ok(store)
    }

    /// Connect and apply any pending migrations (the daemon does this at start).
    pub fn open_migrated(url: &PgUrl) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(url)?;
        store.migrate()?;
        Ok(store)
    }

    /// Connect without looking at the schema.
    pub fn connect(url: &PgUrl) -> Result<PgStore, StoreError> {
        let open_err = |e: String| StoreError::Open(url.to_string(), e);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("leadfall-pg")
            .enable_all()
            .build()
            .map_err(|e| open_err(e.to_string()))?;
        let manager = deadpool_postgres::Manager::from_config(
            url.config().clone(),
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| open_err(e.to_string()))?;
        let store = PgStore {
            inner: Arc::new(Inner {
                pool,
                rt: Some(rt),
                member: members::new_member_id(),
                url: url.clone(),
            }),
        };
        // Fail now, naming the server, rather than at the first query.
        store
            .block(async { store.inner.pool.get().await.map(drop) })
            .map_err(|e| open_err(pool_error(&e)))?;
        Ok(store)
    }

    /// This process's member id.
    pub fn member_id(&self) -> &str {
        &self.inner.member
    }

    /// The server, with any password redacted.
    pub fn url(&self) -> &PgUrl {
        &self.inner.url
    }

    /// Run `fut` on the store's runtime and wait for it. On a multi-thread
    /// runtime's worker the thread is first handed over with `block_in_place`
    /// (other tasks move on); on a current-thread runtime the future runs on a
    /// scoped thread, so the caller's runtime is never re-entered.
    fn block<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let rt = self.inner.rt.as_ref().expect("runtime present until drop");
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| rt.block_on(fut))
            }
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| rt.block_on(fut))
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            }),
            Err(_) => rt.block_on(fut),
        }
    }

    /// A pooled connection (inside [`PgStore::block`]).
    async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Postgres(pool_error(&e)))
    }
}

fn pool_error(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_message(e),
        other => other.to_string(),
    }
}

/// The server's message when there is one (`db error` alone says nothing).
pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// Milliseconds since the epoch, as the columns keep times.
fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis().max(0)
}

fn at(ms: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
}

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        message: e.to_string(),
    }
}
