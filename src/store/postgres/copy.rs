//! `leadfall migrate --from-sled DIR`: copy an embedded store into an empty
//! PostgreSQL database in one transaction (all or nothing), then count both
//! sides. Records keep their queue state (a lease left by a stopped daemon is
//! queued now); cache, ledger, call counters, outbox with every sink's cursor
//! and dead letters, open jobs and email patterns come along.

use super::calls::operation_of as calls_operation_of;
use super::{ms, PgStore};
use crate::store::QueueState;
use crate::store::{hour_of, JobEntry, LedgerEntry, RecordStore, Store, StoreError};
use serde::Serialize;

/// Rows per insert statement.
const BATCH: usize = 1000;
/// The member name under which sled's call counters are kept.
const SLED_MEMBER: &str = "_sled";

/// A record's columns: id, body, revision, conflicts, signalled, due, dead reason.
type RecordRow = (String, Vec<u8>, i64, i64, bool, Option<i64>, Option<String>);
/// A sled key and value.
type Pair = (Vec<u8>, Vec<u8>);

/// What was copied (and found in PostgreSQL afterwards).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CopyCounts {
    /// Records.
    pub records: u64,
    /// Of those, queued.
    pub queued: u64,
    /// Of those, dead-lettered.
    pub dead: u64,
    /// Cache entries.
    pub cache: u64,
    /// Ledger rows.
    pub ledger: u64,
    /// Hourly call counter buckets.
    pub call_buckets: u64,
    /// Outbox events.
    pub outbox: u64,
    /// Sink cursors.
    pub cursors: u64,
    /// Events sinks gave up on.
    pub outbox_dead: u64,
    /// Open vendor jobs.
    pub jobs: u64,
    /// Learned email patterns and guesses.
    pub patterns: u64,
}

/// Copy the sled store at `sled` into `pg` (which must hold no records).
/// Returns (copied from sled, counted in PostgreSQL); they must be equal.
pub fn copy_from_sled(sled: &Store, pg: &PgStore) -> Result<(CopyCounts, CopyCounts), StoreError> {
    let mut n = CopyCounts::default();
    let now = ms(chrono::Utc::now());
    // Records with their queue columns.
    let mut recs: Vec<RecordRow> = Vec::new();
    sled.scan(&mut |r| {
        let (due, dead) = match &r.queue {
            QueueState::Queued { due } => (Some(ms(*due)), None),
            QueueState::Leased { .. } => (Some(now), None),
            QueueState::Idle { .. } => (None, None),
            QueueState::Dead { reason } => (None, Some(reason.clone())),
        };
        n.records += 1;
        n.queued += u64::from(due.is_some());
        n.dead += u64::from(dead.is_some());
        let body = serde_json::to_vec(&r).unwrap_or_default();
        recs.push((
            r.record.id.clone(),
            body,
            r.revision as i64,
            i64::from(r.conflicts),
            !r.signals.is_empty(),
            due,
            dead,
        ));
        true
    })?;
    let kv = |tree: &sled::Tree| -> Result<Vec<Pair>, StoreError> {
        tree.iter()
            .map(|kv| {
                kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StoreError::from)
            })
            .collect()
    };
    // Calls a batch run left buffered are written first.
    sled.calls.write_now()?;
    let cache = kv(&sled.cache)?;
    // A sled value is one row or a page of rows.
    let ledger: Vec<LedgerEntry> = sled.ledger_rows().collect::<Result<_, _>>()?;
    let buckets = kv(&sled.call_stats)?;
    let outbox = kv(&sled.outbox)?;
    let outbox_dead = kv(&sled.outbox_dead)?;
    let jobs = kv(&sled.jobs)?;
    let patterns = kv(sled.patterns.tree())?;
    let guesses = kv(sled.guesses.tree())?;
    let cursors: Vec<(String, i64)> = sled
        .meta
        .scan_prefix(b"cursor:")
        .map(|kv| {
            kv.map(|(k, v)| {
                let sink = String::from_utf8_lossy(&k[7..]).into_owned();
                let mut a = [0u8; 8];
                a.copy_from_slice(&v[..8]);
                (sink, u64::from_be_bytes(a) as i64)
            })
            .map_err(StoreError::from)
        })
        .collect::<Result<_, _>>()?;
    n.cache = cache.len() as u64;
    n.ledger = ledger.len() as u64;
    n.call_buckets = buckets.len() as u64;
    n.outbox = outbox.len() as u64;
    n.outbox_dead = outbox_dead.len() as u64;
    n.jobs = jobs.len() as u64;
    n.patterns = (patterns.len() + guesses.len()) as u64;
    n.cursors = cursors.len() as u64;

    pg.block(async {
        let mut c = pg.conn().await?;
        let tx = c.transaction().await?;
        let existing: i64 = tx.query_one("SELECT count(*) FROM records", &[]).await?.get(0);
        if existing > 0 {
            return Err(StoreError::Postgres(format!(
                "{} already holds {existing} records; migrate into an empty database",
                pg.url()
            )));
        }
        for chunk in recs.chunks(BATCH) {
            let ids: Vec<&str> = chunk.iter().map(|r| r.0.as_str()).collect();
            let bodies: Vec<&[u8]> = chunk.iter().map(|r| r.1.as_slice()).collect();
            let revs: Vec<i64> = chunk.iter().map(|r| r.2).collect();
            let conf: Vec<i64> = chunk.iter().map(|r| r.3).collect();
            let sig: Vec<bool> = chunk.iter().map(|r| r.4).collect();
            let due: Vec<Option<i64>> = chunk.iter().map(|r| r.5).collect();
            let dead: Vec<Option<&str>> = chunk.iter().map(|r| r.6.as_deref()).collect();
            tx.execute(
                "INSERT INTO records (id, body, revision, conflicts, signalled, due_ms, dead_reason)
                 SELECT * FROM unnest($1::text[], $2::bytea[], $3::int8[], $4::int8[], $5::bool[], $6::int8[], $7::text[])",
                &[&ids, &bodies, &revs, &conf, &sig, &due, &dead],
            )
            .await?;
        }
        for (k, v) in &cache {
            tx.execute("INSERT INTO cache (key, body) VALUES ($1, $2)", &[k, v]).await?;
        }
        for row in &ledger {
            let body = serde_json::to_vec(row).map_err(|e| super::corrupt("ledger row", e))?;
            tx.execute(
                "INSERT INTO ledger (hour, body) VALUES ($1, $2)",
                &[&(hour_of(row.at) as i32), &body],
            )
            .await?;
        }
        for (k, v) in &buckets {
            let (hour, operation) = crate::store::stats::split_key(k)
                .ok_or_else(|| super::corrupt("call stats key", "bad key"))?;
            tx.execute(
                "INSERT INTO call_buckets (hour, operation, member, stats) VALUES ($1, $2, $3, $4)",
                &[&(hour as i32), &operation, &SLED_MEMBER, v],
            )
            .await?;
        }
        let mut max_seq = 0i64;
        for (k, v) in &outbox {
            let mut a = [0u8; 8];
            a.copy_from_slice(&k[..8]);
            let seq = u64::from_be_bytes(a) as i64;
            max_seq = max_seq.max(seq);
            tx.execute("INSERT INTO outbox (seq, body) VALUES ($1, $2)", &[&seq, v]).await?;
        }
        if max_seq > 0 {
            tx.execute("SELECT setval('outbox_seq', $1)", &[&max_seq]).await?;
        }
        for (sink, seq) in &cursors {
            tx.execute(
                "INSERT INTO outbox_cursors (sink, seq) VALUES ($1, $2)
                 ON CONFLICT (sink) DO UPDATE SET seq = EXCLUDED.seq",
                &[sink, seq],
            )
            .await?;
        }
        for (k, v) in &outbox_dead {
            let split = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            let sink = String::from_utf8_lossy(&k[..split]).into_owned();
            let mut a = [0u8; 8];
            if let Some(b) = k.get(split + 1..split + 9) {
                a.copy_from_slice(b);
            }
            tx.execute(
                "INSERT INTO outbox_dead (sink, seq, reason) VALUES ($1, $2, $3)",
                &[&sink, &(u64::from_be_bytes(a) as i64), &String::from_utf8_lossy(v).into_owned()],
            )
            .await?;
        }
        for (k, v) in &jobs {
            let job: JobEntry = serde_json::from_slice(v).map_err(|e| super::corrupt("job entry", e))?;
            tx.execute(
                "INSERT INTO jobs (key, operation, job_id, body) VALUES ($1, $2, $3, $4)",
                &[k, &calls_operation_of(k), &job.job_id, v],
            )
            .await?;
        }
        for (table, col, rows) in [("email_patterns", "domain", &patterns), ("email_guesses", "key", &guesses)] {
            for (k, v) in rows.iter() {
                tx.execute(
                    &format!("INSERT INTO {table} ({col}, pattern) VALUES ($1, $2)"),
                    &[&String::from_utf8_lossy(k).into_owned(), &String::from_utf8_lossy(v).into_owned()],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    })?;
    let found = pg.count_all()?;
    Ok((n, found))
}

impl PgStore {
    /// What the database holds, counted as [`copy_from_sled`] counts.
    pub fn count_all(&self) -> Result<CopyCounts, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let one = |sql: &'static str| {
                let c = &c;
                async move { Ok::<u64, StoreError>(c.query_one(sql, &[]).await?.get::<_, i64>(0) as u64) }
            };
            Ok(CopyCounts {
                records: one("SELECT count(*) FROM records").await?,
                queued: one("SELECT count(*) FROM records WHERE due_ms IS NOT NULL").await?,
                dead: one("SELECT count(*) FROM records WHERE dead_reason IS NOT NULL").await?,
                cache: one("SELECT count(*) FROM cache").await?,
                ledger: one("SELECT count(*) FROM ledger").await?,
                call_buckets: one("SELECT count(*) FROM call_buckets").await?,
                outbox: one("SELECT count(*) FROM outbox").await?,
                cursors: one("SELECT count(*) FROM outbox_cursors").await?,
                outbox_dead: one("SELECT count(*) FROM outbox_dead").await?,
                jobs: one("SELECT count(*) FROM jobs").await?,
                patterns: one("SELECT (SELECT count(*) FROM email_patterns) + (SELECT count(*) FROM email_guesses)").await?,
            })
        })
    }
}
