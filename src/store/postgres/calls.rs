//! [`CallStore`] on PostgreSQL: the shared cache, the ledger (keyed by hour),
//! the hourly call counters (one row per hour, operation and member, merged
//! when read: daemons never wait on each other's counter rows), open vendor
//! jobs and learned email patterns.

use super::{corrupt, PgStore};
use crate::store::stats::{bucket_key, hour_of, CallBucket, CallStats};
use crate::store::traits::CallStore;
use crate::store::{CacheEntry, JobEntry, LedgerEntry, StoreError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

fn json<T: serde::Serialize>(what: &'static str, v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| corrupt(what, e))
}

fn unjson<T: serde::de::DeserializeOwned>(what: &'static str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| corrupt(what, e))
}

/// The operation part of a cache or job key (`operation\0inputs`).
pub(super) fn operation_of(key: &[u8]) -> String {
    let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
    String::from_utf8_lossy(&key[..end]).into_owned()
}

fn guess_key(first: &str, last: &str, domain: &str) -> String {
    format!(
        "{}\0{}\0{}",
        first.to_lowercase(),
        last.to_lowercase(),
        domain.to_lowercase()
    )
}

impl PgStore {
    /// Append a ledger row and count it in this member's hourly bucket,
    /// inside `tx`.
    async fn append_row(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        row: &LedgerEntry,
    ) -> Result<(), StoreError> {
        let hour = hour_of(row.at) as i32;
        tx.execute(
            "INSERT INTO ledger (hour, body) VALUES ($1, $2)",
            &[&hour, &json("ledger row", row)?],
        )
        .await?;
        let old = tx
            .query_opt(
                "SELECT stats FROM call_buckets WHERE hour = $1 AND operation = $2 AND member = $3 FOR UPDATE",
                &[&hour, &row.operation.as_str(), &self.member_id()],
            )
            .await?;
        let mut stats = match &old {
            Some(r) => CallStats::decode(r.get::<_, &[u8]>(0))
                .ok_or_else(|| corrupt("call stats", "undecodable bucket"))?,
            None => CallStats::default(),
        };
        stats.add_row(row);
        // This member is the only writer of its row, so a plain upsert is safe.
        tx.execute(
            "INSERT INTO call_buckets (hour, operation, member, stats) VALUES ($1, $2, $3, $4)
             ON CONFLICT (hour, operation, member) DO UPDATE SET stats = EXCLUDED.stats",
            &[
                &hour,
                &row.operation.as_str(),
                &self.member_id(),
                &stats.encode(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Every outbox event, oldest first (tests and `migrate` read them).
    pub fn outbox_events(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let rows = c.query("SELECT body FROM outbox ORDER BY seq", &[]).await?;
            rows.iter()
                .map(|r| unjson("outbox event", r.get::<_, &[u8]>(0)))
                .collect()
        })
    }
}

impl CallStore for PgStore {
    fn cache_get(&self, key: &[u8], now: DateTime<Utc>) -> Result<Option<CacheEntry>, StoreError> {
        let row = self.block(async {
            let c = self.conn().await?;
            c.query_opt("SELECT body FROM cache WHERE key = $1", &[&key])
                .await
                .map_err(StoreError::from)
        })?;
        let Some(row) = row else { return Ok(None) };
        let entry: CacheEntry = unjson("cache entry", row.get::<_, &[u8]>(0))?;
        Ok((entry.expires_at > now).then_some(entry))
    }

    /// Always one transaction: the cache entry, the ledger row and its counter
    /// land together (`atomic` only matters to sled, where it costs).
    fn record_call(
        &self,
        cache: Option<(&[u8], &CacheEntry)>,
        row: &LedgerEntry,
        _atomic: bool,
    ) -> Result<(), StoreError> {
        let cache = cache
            .map(|(k, e)| json("cache entry", e).map(|b| (k, b)))
            .transpose()?;
        self.block(async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            if let Some((k, b)) = &cache {
                tx.execute(
                    "INSERT INTO cache (key, body) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body",
                    &[k, b],
                )
                .await?;
            }
            self.append_row(&tx, row).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn job_get(&self, key: &[u8]) -> Result<Option<JobEntry>, StoreError> {
        let row = self.block(async {
            let c = self.conn().await?;
            c.query_opt("SELECT body FROM jobs WHERE key = $1", &[&key])
                .await
                .map_err(StoreError::from)
        })?;
        row.map(|r| unjson("job entry", r.get::<_, &[u8]>(0)))
            .transpose()
    }

    fn job_deliver(
        &self,
        operation: &str,
        job_id: &str,
        body: &str,
    ) -> Result<Option<JobEntry>, StoreError> {
        self.block(async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    "SELECT key, body FROM jobs WHERE operation = $1 AND job_id = $2 LIMIT 1 FOR UPDATE",
                    &[&operation, &job_id],
                )
                .await?
            else {
                return Ok(None);
            };
            let key: Vec<u8> = row.get(0);
            let mut job: JobEntry = unjson("job entry", row.get::<_, &[u8]>(1))?;
            job.delivered = Some(body.to_string());
            tx.execute(
                "UPDATE jobs SET body = $2 WHERE key = $1",
                &[&key, &json("job entry", &job)?],
            )
            .await?;
            tx.commit().await?;
            Ok(Some(job))
        })
    }

    fn job_set(
        &self,
        key: &[u8],
        job: Option<&JobEntry>,
        row: Option<&LedgerEntry>,
    ) -> Result<(), StoreError> {
        let job = job
            .map(|j| json("job entry", j).map(|b| (j, b)))
            .transpose()?;
        self.block(async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            match &job {
                Some((j, b)) => {
                    tx.execute(
                        "INSERT INTO jobs (key, operation, job_id, body) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (key) DO UPDATE SET operation = EXCLUDED.operation,
                             job_id = EXCLUDED.job_id, body = EXCLUDED.body",
                        &[&key, &operation_of(key), &j.job_id, b],
                    )
                    .await?
                }
                None => {
                    tx.execute("DELETE FROM jobs WHERE key = $1", &[&key])
                        .await?
                }
            };
            if let Some(r) = row {
                // As in sled: the submit's row goes to the ledger only; its
                // answer's row (from `record_call`) is what the counters count.
                tx.execute(
                    "INSERT INTO ledger (hour, body) VALUES ($1, $2)",
                    &[&(hour_of(r.at) as i32), &json("ledger row", r)?],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn call_buckets(&self, from_hour: u32, to_hour: u32) -> Result<Vec<CallBucket>, StoreError> {
        let rows = self.block(async {
            let c = self.conn().await?;
            c.query(
                "SELECT hour, operation, stats FROM call_buckets
                 WHERE hour >= $1 AND hour < $2 ORDER BY hour, operation",
                &[
                    &(from_hour.min(i32::MAX as u32) as i32),
                    &(to_hour.min(i32::MAX as u32) as i32),
                ],
            )
            .await
            .map_err(StoreError::from)
        })?;
        // One bucket per (hour, operation), the members' rows merged, in the
        // order sled's keys give (hour, then operation bytes).
        let mut merged: BTreeMap<Vec<u8>, CallBucket> = BTreeMap::new();
        for r in &rows {
            let hour = r.get::<_, i32>(0) as u32;
            let operation: String = r.get(1);
            let stats = CallStats::decode(r.get::<_, &[u8]>(2))
                .ok_or_else(|| corrupt("call stats", "undecodable bucket"))?;
            merged
                .entry(bucket_key(hour, &operation))
                .or_insert_with(|| CallBucket {
                    hour,
                    operation,
                    stats: CallStats::default(),
                })
                .stats
                .merge(&stats);
        }
        Ok(merged.into_values().collect())
    }

    fn ledger(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        let rows = self.block(async {
            let c = self.conn().await?;
            c.query("SELECT body FROM ledger ORDER BY seq", &[])
                .await
                .map_err(StoreError::from)
        })?;
        rows.iter()
            .map(|r| unjson("ledger row", r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn flush_calls(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn email_pattern(&self, domain: &str) -> Result<Option<String>, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            Ok(c.query_opt(
                "SELECT pattern FROM email_patterns WHERE domain = $1",
                &[&domain],
            )
            .await?
            .map(|r| r.get(0)))
        })
    }

    fn set_email_pattern(&self, domain: &str, pattern: &str) -> Result<(), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "INSERT INTO email_patterns (domain, pattern) VALUES ($1, $2)
                 ON CONFLICT (domain) DO UPDATE SET pattern = EXCLUDED.pattern",
                &[&domain, &pattern],
            )
            .await?;
            Ok(())
        })
    }

    fn guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = guess_key(first, last, domain);
        self.block(async {
            let c = self.conn().await?;
            Ok(
                c.query_opt("SELECT pattern FROM email_guesses WHERE key = $1", &[&key])
                    .await?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn set_guess_memo(
        &self,
        first: &str,
        last: &str,
        domain: &str,
        pattern: &str,
    ) -> Result<(), StoreError> {
        let key = guess_key(first, last, domain);
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "INSERT INTO email_guesses (key, pattern) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET pattern = EXCLUDED.pattern",
                &[&key, &pattern],
            )
            .await?;
            Ok(())
        })
    }
}
