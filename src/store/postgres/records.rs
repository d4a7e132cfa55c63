//! [`RecordStore`] on PostgreSQL: records, the queue (rows leased with
//! `FOR UPDATE SKIP LOCKED`), leases with an owner and an expiry, dead
//! letters, signals and the outbox. Each trait call is one transaction.
//!
//! Outbox sequence numbers are taken under a transaction-scoped advisory lock,
//! so they commit in the order they are taken: a sink reading `seq > cursor`
//! can never skip an event that commits late with a smaller number.

use super::notify::{notify, OUTBOX, QUEUE};
use super::{at, corrupt, ms, PgStore, LIVE_SECS};
use crate::model::Record;
use crate::model::Signal;
use crate::store::traits::{Leased, MergeFn, QueueStats, RecordStore, StepCommit};
use crate::store::StoreError;
use crate::store::{QueueState, StoredRecord, UpsertSummary};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres::Row;

/// Advisory lock key serialising outbox appends ("outbox\0\0").
const OUTBOX_LOCK: i64 = 0x6f75_7462_6f78_0000;
/// Records read per page by `scan`.
const SCAN_PAGE: i64 = 1000;

fn encode(r: &StoredRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(r).map_err(|e| corrupt("record", e))
}

fn decode(b: &[u8]) -> Result<StoredRecord, StoreError> {
    serde_json::from_slice(b).map_err(|e| corrupt("record", e))
}

/// The columns [`with_state`] reads, in its order.
const STATE_COLS: &str = "body, due_ms, lease_token, lease_until_ms, dead_reason";

/// A record with its queue state, from [`STATE_COLS`].
fn with_state(row: &Row) -> Result<StoredRecord, StoreError> {
    let mut r = decode(row.get::<_, &[u8]>(0))?;
    let due: Option<i64> = row.get(1);
    let token: Option<i64> = row.get(2);
    let until: Option<i64> = row.get(3);
    let dead: Option<String> = row.get(4);
    r.queue = match (dead, token, due) {
        (Some(reason), _, _) => QueueState::Dead { reason },
        (None, Some(_), _) => QueueState::Leased {
            until: at(until.unwrap_or_default()),
        },
        (None, None, Some(d)) => QueueState::Queued { due: at(d) },
        (None, None, None) => QueueState::Idle { next_due: None },
    };
    Ok(r)
}

/// SQL condition: the lease's owner is a member whose heartbeat stopped.
fn owner_is_dead() -> String {
    format!(
        "EXISTS (SELECT 1 FROM members m WHERE m.id = records.lease_owner \
         AND m.heartbeat_at < now() - interval '{LIVE_SECS} seconds')"
    )
}

impl PgStore {
    /// Write merged records (one statement) and queue them at `due`.
    async fn write_records(
        tx: &tokio_postgres::Transaction<'_>,
        recs: &[(&StoredRecord, Vec<u8>)],
        due: Option<i64>,
    ) -> Result<(), StoreError> {
        if recs.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = recs.iter().map(|(r, _)| r.record.id.as_str()).collect();
        let bodies: Vec<&[u8]> = recs.iter().map(|(_, b)| b.as_slice()).collect();
        let revs: Vec<i64> = recs.iter().map(|(r, _)| r.revision as i64).collect();
        let conflicts: Vec<i64> = recs.iter().map(|(r, _)| i64::from(r.conflicts)).collect();
        let signalled: Vec<bool> = recs.iter().map(|(r, _)| !r.signals.is_empty()).collect();
        tx.execute(
            "INSERT INTO records (id, body, revision, conflicts, signalled, due_ms)
             SELECT i, b, r, c, s, $6 FROM unnest($1::text[], $2::bytea[], $3::int8[], $4::int8[], $5::bool[]) AS t(i, b, r, c, s)
             ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, revision = EXCLUDED.revision,
                 conflicts = EXCLUDED.conflicts, signalled = EXCLUDED.signalled,
                 due_ms = coalesce(EXCLUDED.due_ms, records.due_ms)",
            &[&ids, &bodies, &revs, &conflicts, &signalled, &due],
        )
        .await?;
        Ok(())
    }
}

impl RecordStore for PgStore {
    fn upsert(
        &self,
        records: Vec<Record>,
        now: DateTime<Utc>,
        merge: MergeFn<'_>,
    ) -> Result<UpsertSummary, StoreError> {
        let mut ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids.dedup();
        // The merge closure is not Send: read, merge here, then write, all in
        // one transaction held across the blocking calls.
        let mut conn = self.block(self.conn())?;
        let tx = self.block(conn.transaction())?;
        let rows = self.block(tx.query(
            "SELECT id, body FROM records WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&ids],
        ))?;
        let mut current: HashMap<String, StoredRecord> = HashMap::with_capacity(rows.len());
        for row in &rows {
            current.insert(row.get(0), decode(row.get::<_, &[u8]>(1))?);
        }
        let mut s = UpsertSummary::default();
        let mut changed_ids: Vec<String> = Vec::new();
        for incoming in records {
            let id = incoming.id.clone();
            let existing = current.get(&id).cloned();
            let is_new = existing.is_none();
            let (mut merged, changed) = merge(existing, incoming, now);
            if is_new {
                s.created += 1;
            } else {
                s.merged += 1;
            }
            if changed || is_new {
                merged.revision += 1;
                changed_ids.push(id.clone());
                current.insert(id, merged);
                s.queued += 1;
            }
        }
        changed_ids.sort();
        changed_ids.dedup();
        let encoded = changed_ids
            .iter()
            .map(|id| {
                let r = &current[id];
                encode(r).map(|b| (r, b))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.block(PgStore::write_records(&tx, &encoded, Some(ms(now))))?;
        if !encoded.is_empty() {
            self.block(notify(&tx, QUEUE))?;
        }
        self.block(tx.commit())?;
        Ok(s)
    }

    fn get(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    &format!("SELECT {STATE_COLS} FROM records WHERE id = $1"),
                    &[&id],
                )
                .await?;
            row.as_ref().map(with_state).transpose()
        })
    }

    fn lease_due(
        &self,
        now: DateTime<Utc>,
        n: usize,
        lease_for: Duration,
    ) -> Result<Vec<Leased>, StoreError> {
        let now_ms = ms(now);
        let until = now_ms + lease_for.as_millis() as i64;
        let rows = self.block(async {
            let c = self.conn().await?;
            // Rows another daemon is leasing right now are skipped, not waited for.
            c.query(
                "WITH picked AS (
                     SELECT id FROM records
                     WHERE due_ms <= $1 AND lease_token IS NULL
                     ORDER BY due_ms, id LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 UPDATE records r SET leased_due_ms = r.due_ms, due_ms = NULL,
                     lease_token = nextval('lease_tokens'), lease_until_ms = $3, lease_owner = $4
                 FROM picked WHERE r.id = picked.id
                 RETURNING r.body, r.lease_token",
                &[&now_ms, &(n as i64), &until, &self.member_id()],
            )
            .await
            .map_err(StoreError::from)
        })?;
        rows.iter()
            .map(|row| {
                let mut record = decode(row.get::<_, &[u8]>(0))?;
                record.queue = QueueState::Leased { until: at(until) };
                Ok(Leased {
                    record,
                    lease: row.get::<_, i64>(1) as u64,
                })
            })
            .collect()
    }

    fn commit_step(&self, step: StepCommit) -> Result<(), StoreError> {
        let id = step.record.record.id.clone();
        let bytes = encode(&step.record)?;
        let events: Vec<Vec<u8>> = step
            .outbox
            .iter()
            .map(|e| serde_json::to_vec(e).map_err(|e| corrupt("outbox event", e)))
            .collect::<Result<_, _>>()?;
        let next_due = step.next_due.map(ms);
        let (lease, revision) = (step.lease as i64, step.record.revision as i64);
        let conflicts = i64::from(step.record.conflicts);
        let signalled = !step.record.signals.is_empty();
        // One conditional UPDATE holds the token and revision checks: without
        // events the commit is a single statement (one round trip).
        const COMMIT: &str =
            "UPDATE records SET body = $2, conflicts = $4, signalled = $5, due_ms = $6,
                 lease_token = NULL, lease_until_ms = NULL, lease_owner = NULL
             WHERE id = $1 AND revision = $3 AND lease_token = $7";
        let done = self.block(async {
            let mut c = self.conn().await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
                &id, &bytes, &revision, &conflicts, &signalled, &next_due, &lease,
            ];
            if events.is_empty() {
                return Ok::<_, StoreError>(c.execute(COMMIT, &params).await? == 1);
            }
            let tx = c.transaction().await?;
            if tx.execute(COMMIT, &params).await? != 1 {
                return Ok(false);
            }
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&OUTBOX_LOCK])
                .await?;
            for e in &events {
                tx.execute(
                    "INSERT INTO outbox (seq, body) VALUES (nextval('outbox_seq'), $1)",
                    &[e],
                )
                .await?;
            }
            notify(&tx, OUTBOX).await?;
            tx.commit().await?;
            Ok(true)
        })?;
        if done {
            return Ok(());
        }
        // Refused: say why. The lease ends either way when it is still ours.
        self.block(async {
            let c = self.conn().await?;
            let row = c
                .query_opt(
                    "SELECT lease_token FROM records WHERE id = $1",
                    &[&id],
                )
                .await?;
            match row {
                Some(r) if r.get::<_, Option<i64>>(0) == Some(lease) => {
                    // An upsert or signal queued it again (a new revision);
                    // that pass sees the new inputs.
                    c.execute(
                        "UPDATE records SET lease_token = NULL, lease_until_ms = NULL, lease_owner = NULL
                         WHERE id = $1 AND lease_token = $2",
                        &[&id, &lease],
                    )
                    .await?;
                    Err(StoreError::Superseded(id.clone()))
                }
                _ => Err(StoreError::LeaseLost(id.clone())),
            }
        })
    }

    fn release(&self, id: &str, lease: u64, due: DateTime<Utc>) -> Result<(), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "UPDATE records SET lease_token = NULL, lease_until_ms = NULL, lease_owner = NULL,
                     due_ms = coalesce(due_ms, $3)
                 WHERE id = $1 AND lease_token = $2",
                &[&id, &(lease as i64), &ms(due)],
            )
            .await?;
            Ok(())
        })
    }

    fn requeue(&self, ids: &[String], due: DateTime<Utc>) -> Result<u64, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let mut n = 0;
            for chunk in ids.chunks(5000) {
                n += c
                    .execute(
                        "UPDATE records SET due_ms = $2 WHERE id = ANY($1)",
                        &[&chunk, &ms(due)],
                    )
                    .await?;
            }
            if n > 0 {
                c.execute("SELECT pg_notify($1, '')", &[&QUEUE]).await?;
            }
            Ok(n)
        })
    }

    fn touch(
        &self,
        ids: &[String],
        due: DateTime<Utc>,
        f: &(dyn Fn(&mut StoredRecord) -> bool + Sync),
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        let mut conn = self.block(self.conn())?;
        for chunk in ids.chunks(500) {
            let tx = self.block(conn.transaction())?;
            let rows = self.block(tx.query(
                "SELECT body FROM records WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[&chunk],
            ))?;
            let mut changed = Vec::new();
            let mut found = Vec::new();
            for row in &rows {
                let mut r = decode(row.get::<_, &[u8]>(0))?;
                found.push(r.record.id.clone());
                if f(&mut r) {
                    r.revision += 1;
                    changed.push(r);
                }
            }
            let encoded = changed
                .iter()
                .map(|r| encode(r).map(|b| (r, b)))
                .collect::<Result<Vec<_>, _>>()?;
            self.block(PgStore::write_records(&tx, &encoded, None))?;
            self.block(tx.execute(
                "UPDATE records SET due_ms = $2 WHERE id = ANY($1)",
                &[&found, &ms(due)],
            ))?;
            self.block(notify(&tx, QUEUE))?;
            self.block(tx.commit())?;
            n += found.len() as u64;
        }
        Ok(n)
    }

    /// With `only_expired`, leases past their expiry and those of members
    /// whose heartbeat stopped (a `kill -9`ed daemon); otherwise every lease
    /// (an embedded deployment's start-up; a shared store never does that).
    fn recover_leases(&self, now: DateTime<Utc>, only_expired: bool) -> Result<u64, StoreError> {
        let cond = if only_expired {
            format!(
                "lease_token IS NOT NULL AND (lease_until_ms <= $1 OR {})",
                owner_is_dead()
            )
        } else {
            "lease_token IS NOT NULL".to_string()
        };
        self.block(async {
            let c = self.conn().await?;
            let n = c
                .execute(
                    &format!(
                        "UPDATE records SET lease_token = NULL, lease_until_ms = NULL, lease_owner = NULL,
                             due_ms = coalesce(due_ms, least(leased_due_ms, $1), $1)
                         WHERE {cond}"
                    ),
                    &[&ms(now)],
                )
                .await?;
            if n > 0 {
                c.execute("SELECT pg_notify($1, '')", &[&QUEUE]).await?;
            }
            Ok(n)
        })
    }

    fn add_signal(&self, id: &str, signal: Signal, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.block(async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            let Some(row) = tx
                .query_opt("SELECT body FROM records WHERE id = $1 FOR UPDATE", &[&id])
                .await?
            else {
                return Ok(false);
            };
            let mut r = decode(row.get::<_, &[u8]>(0))?;
            r.signals.push(signal.clone());
            r.revision += 1;
            tx.execute(
                "UPDATE records SET body = $2, revision = $3, signalled = true, due_ms = $4 WHERE id = $1",
                &[&id, &encode(&r)?, &(r.revision as i64), &ms(now)],
            )
            .await?;
            notify(&tx, QUEUE).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn signalled(&self) -> Result<Vec<String>, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let rows = c
                .query("SELECT id FROM records WHERE signalled ORDER BY id", &[])
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn scan(&self, f: &mut dyn FnMut(StoredRecord) -> bool) -> Result<(), StoreError> {
        let mut after = String::new();
        loop {
            let rows = self.block(async {
                let c = self.conn().await?;
                c.query(
                    &format!(
                        "SELECT {STATE_COLS}, id FROM records WHERE id > $1 ORDER BY id LIMIT $2"
                    ),
                    &[&after, &SCAN_PAGE],
                )
                .await
                .map_err(StoreError::from)
            })?;
            for row in &rows {
                if !f(with_state(row)?) {
                    return Ok(());
                }
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == SCAN_PAGE => after = last.get(5),
                _ => return Ok(()),
            }
        }
    }

    fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, StoreError> {
        let now_ms = ms(now);
        self.block(async {
            let c = self.conn().await?;
            let r = c
                .query_one(
                    "SELECT count(*),
                         count(*) FILTER (WHERE due_ms <= $1),
                         count(*) FILTER (WHERE due_ms > $1),
                         count(*) FILTER (WHERE lease_token IS NOT NULL),
                         count(*) FILTER (WHERE lease_token IS NOT NULL AND lease_until_ms <= $1),
                         min(due_ms),
                         min(lease_until_ms) FILTER (WHERE lease_token IS NOT NULL)
                     FROM records",
                    &[&now_ms],
                )
                .await?;
            let n = |i: usize| r.get::<_, i64>(i) as u64;
            Ok(QueueStats {
                records: n(0),
                queued_due: n(1),
                queued_later: n(2),
                leased: n(3),
                expired_leases: n(4),
                oldest_queued: r.get::<_, Option<i64>>(5).map(at),
                oldest_lease: r.get::<_, Option<i64>>(6).map(at),
            })
        })
    }

    fn conflicts(&self) -> Result<u64, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let n: i64 = c
                .query_one("SELECT coalesce(sum(conflicts), 0)::int8 FROM records", &[])
                .await?
                .get(0);
            Ok(n as u64)
        })
    }

    fn dead_letters(&self, limit: usize) -> Result<(u64, Vec<(String, String)>), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM records WHERE dead_reason IS NOT NULL",
                    &[],
                )
                .await?
                .get(0);
            let rows = c
                .query(
                    "SELECT id, dead_reason FROM records WHERE dead_reason IS NOT NULL ORDER BY id LIMIT $1",
                    &[&(limit as i64)],
                )
                .await?;
            Ok((
                n as u64,
                rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
            ))
        })
    }

    fn dead_letter(&self, id: &str, lease: u64, reason: &str) -> Result<(), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "UPDATE records SET lease_token = NULL, lease_until_ms = NULL, lease_owner = NULL,
                     due_ms = NULL, dead_reason = $3
                 WHERE id = $1 AND lease_token = $2",
                &[&id, &(lease as i64), &reason],
            )
            .await?;
            Ok(())
        })
    }

    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.block(async {
            let c = self.conn().await?;
            let rows = c
                .query(
                    "SELECT seq, body FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &(limit as i64)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1)))
                .collect())
        })
    }

    fn outbox_cursor(&self, sink: &str) -> Result<u64, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let row = c
                .query_opt("SELECT seq FROM outbox_cursors WHERE sink = $1", &[&sink])
                .await?;
            Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
        })
    }

    /// Only the sink's owner moves its cursor (see [`RecordStore::claim_sink`]),
    /// and never backwards.
    fn set_outbox_cursor(&self, sink: &str, seq: u64) -> Result<(), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "INSERT INTO outbox_cursors (sink, seq, owner) VALUES ($1, $2, $3)
                 ON CONFLICT (sink) DO UPDATE SET seq = greatest(outbox_cursors.seq, EXCLUDED.seq)
                 WHERE outbox_cursors.owner IS NULL OR outbox_cursors.owner = EXCLUDED.owner",
                &[&sink, &(seq as i64), &self.member_id()],
            )
            .await?;
            Ok(())
        })
    }

    fn outbox_dead_letter(&self, sink: &str, seq: u64, reason: &str) -> Result<(), StoreError> {
        self.block(async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            tx.execute(
                "INSERT INTO outbox_dead (sink, seq, reason) VALUES ($1, $2, $3)
                 ON CONFLICT (sink, seq) DO UPDATE SET reason = EXCLUDED.reason",
                &[&sink, &(seq as i64), &reason],
            )
            .await?;
            tx.execute(
                "INSERT INTO outbox_cursors (sink, seq) VALUES ($1, $2)
                 ON CONFLICT (sink) DO UPDATE SET seq = greatest(outbox_cursors.seq, EXCLUDED.seq)",
                &[&sink, &(seq as i64)],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn outbox_dead_letters(
        &self,
        sink: &str,
        limit: usize,
    ) -> Result<(u64, Vec<(u64, String)>), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let n: i64 = c
                .query_one("SELECT count(*) FROM outbox_dead WHERE sink = $1", &[&sink])
                .await?
                .get(0);
            let rows = c
                .query(
                    "SELECT seq, reason FROM (SELECT seq, reason FROM outbox_dead WHERE sink = $1
                         ORDER BY seq DESC LIMIT $2) last ORDER BY seq",
                    &[&sink, &(limit as i64)],
                )
                .await?;
            Ok((
                n as u64,
                rows.iter()
                    .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
                    .collect(),
            ))
        })
    }

    fn outbox_head(&self) -> Result<u64, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let n: Option<i64> = c
                .query_one("SELECT max(seq) FROM outbox", &[])
                .await?
                .get(0);
            Ok(n.unwrap_or(0) as u64)
        })
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let n: Option<i64> = c
                .query_one("SELECT min(due_ms) FROM records", &[])
                .await?
                .get(0);
            Ok(n.map(at))
        })
    }

    /// Every commit is durable when it returns.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn claim_sink(&self, sink: &str) -> Result<bool, StoreError> {
        self.claim_sink_for_member(sink)
    }
}
