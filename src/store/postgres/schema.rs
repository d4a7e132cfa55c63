//! Versioned migrations, applied in order inside one transaction each and
//! recorded in `schema_migrations`. `leadfall migrate` applies them; the daemon
//! applies pending ones at start (several daemons starting together take an
//! advisory lock, so each migration runs once). Never edit a released
//! migration: add the next one.

use super::{pg_message, PgStore};
use crate::store::StoreError;

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in increasing order.
    pub version: i32,
    /// What it does.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "records, queue, outbox, cache, ledger, call counters, jobs, patterns",
        sql: V1,
    },
    Migration {
        version: 2,
        name: "members, sink ownership, shared budgets",
        sql: V2,
    },
    Migration {
        version: 3,
        name: "the due time a lease was taken from",
        sql: V3,
    },
];

/// Records with their queue state in columns: `due_ms` (queued, or NULL) and
/// the lease (`lease_token`, `lease_until_ms`, `lease_owner`) are independent,
/// as in sled: a record upserted while leased is both. The ledger is keyed by
/// hour first (reports read the hourly `call_buckets`, never scan it), and the
/// counters have one row per (hour, operation, member) so daemons never
/// contend for a counter row.
const V1: &str = r#"
CREATE TABLE records (
    id             text PRIMARY KEY,
    body           bytea NOT NULL,
    revision       bigint NOT NULL,
    conflicts      bigint NOT NULL DEFAULT 0,
    signalled      boolean NOT NULL DEFAULT false,
    due_ms         bigint,
    lease_token    bigint,
    lease_until_ms bigint,
    lease_owner    text,
    dead_reason    text
);
CREATE INDEX records_queue ON records (due_ms, id) WHERE due_ms IS NOT NULL;
CREATE INDEX records_leases ON records (lease_until_ms) WHERE lease_token IS NOT NULL;
CREATE INDEX records_signalled ON records (id) WHERE signalled;
CREATE INDEX records_dead ON records (id) WHERE dead_reason IS NOT NULL;
CREATE SEQUENCE lease_tokens;
CREATE SEQUENCE outbox_seq;
CREATE TABLE outbox (seq bigint PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE outbox_cursors (sink text PRIMARY KEY, seq bigint NOT NULL DEFAULT 0);
CREATE TABLE outbox_dead (
    sink   text NOT NULL,
    seq    bigint NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (sink, seq)
);
CREATE TABLE cache (key bytea PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE ledger (
    hour integer NOT NULL,
    seq  bigserial,
    body bytea NOT NULL,
    PRIMARY KEY (hour, seq)
);
CREATE TABLE call_buckets (
    hour      integer NOT NULL,
    operation text NOT NULL,
    member    text NOT NULL,
    stats     bytea NOT NULL,
    PRIMARY KEY (hour, operation, member)
);
CREATE TABLE jobs (
    key       bytea PRIMARY KEY,
    operation text NOT NULL,
    job_id    text NOT NULL,
    body      bytea NOT NULL
);
CREATE INDEX jobs_by_id ON jobs (operation, job_id);
CREATE TABLE email_patterns (domain text PRIMARY KEY, pattern text NOT NULL);
CREATE TABLE email_guesses (key text PRIMARY KEY, pattern text NOT NULL);
"#;

/// Members (one row per daemon, live while its heartbeat is recent), which
/// member sends each sink's events, and budget tallies per (cap, member).
const V2: &str = r#"
CREATE TABLE members (
    id           text PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    listen       text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE outbox_cursors ADD COLUMN owner text;
CREATE TABLE budget_tallies (
    cap      text NOT NULL,
    member   text NOT NULL,
    spent    double precision NOT NULL DEFAULT 0,
    reserved double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (cap, member)
);
"#;

/// A recovered lease goes back to the due time it was leased from, so a
/// replayed pass runs where its killed pass did.
const V3: &str = "ALTER TABLE records ADD COLUMN leased_due_ms bigint;";

/// Advisory lock key taken while migrating ("leadfall" in ASCII).
const MIGRATE_LOCK: i64 = 0x6c65_6164_6661_6c6c;

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MigrateReport {
    /// The version found.
    pub from: i32,
    /// The version now.
    pub to: i32,
    /// Migrations applied now (version, name).
    pub applied: Vec<(i32, String)>,
}

/// Apply pending migrations to `store`'s database.
pub fn migrate(store: &PgStore) -> Result<MigrateReport, StoreError> {
    store.migrate()
}

impl PgStore {
    /// (current, latest) schema versions; 0 for an empty database.
    pub fn schema_version(&self) -> Result<(i32, i32), StoreError> {
        let latest = MIGRATIONS.last().map_or(0, |m| m.version);
        let current = self.block(async {
            let c = self.conn().await?;
            let exists: bool = c
                .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
                .await?
                .get(0);
            if !exists {
                return Ok::<i32, StoreError>(0);
            }
            let v: Option<i32> = c
                .query_one("SELECT max(version) FROM schema_migrations", &[])
                .await?
                .get(0);
            Ok(v.unwrap_or(0))
        })?;
        Ok((current, latest))
    }

    /// Refuse a schema newer than this binary's newest migration.
    pub(crate) fn refuse_newer(&self, current: i32) -> Result<(), StoreError> {
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if current > known {
            return Err(StoreError::SchemaTooNew {
                store: self.inner.url.to_string(),
                found: current,
                known,
            });
        }
        Ok(())
    }

    /// Apply every pending migration, each in its own transaction.
    pub fn migrate(&self) -> Result<MigrateReport, StoreError> {
        self.block(async {
            let mut c = self.conn().await?;
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version    integer PRIMARY KEY,
                     name       text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await
            .or_else(ignore_concurrent_create)?;
            c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])
                .await?;
            let result = async {
                let from: i32 = c
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM schema_migrations",
                        &[],
                    )
                    .await?
                    .get(0);
                self.refuse_newer(from)?;
                let mut applied = Vec::new();
                for m in MIGRATIONS.iter().filter(|m| m.version > from) {
                    let tx = c.transaction().await?;
                    tx.batch_execute(m.sql).await.map_err(|e| {
                        StoreError::Postgres(format!(
                            "migration {} ({}): {}",
                            m.version,
                            m.name,
                            pg_message(&e)
                        ))
                    })?;
                    tx.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        &[&m.version, &m.name],
                    )
                    .await?;
                    tx.commit().await?;
                    applied.push((m.version, m.name.to_string()));
                }
                let to = MIGRATIONS.last().map_or(from, |m| m.version.max(from));
                Ok::<_, StoreError>(MigrateReport { from, to, applied })
            }
            .await;
            c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK])
                .await?;
            result
        })
    }
}

/// Two processes creating `schema_migrations` at once: one of them loses the
/// race on the catalogue's unique index, which is fine.
fn ignore_concurrent_create(e: tokio_postgres::Error) -> Result<(), tokio_postgres::Error> {
    match e.code() {
        Some(c) if *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => Ok(()),
        _ => Err(e),
    }
}
