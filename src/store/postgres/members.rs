//! Membership: every daemon on a shared database is a row in `members` with a
//! heartbeat. A member whose heartbeat is older than [`LIVE_SECS`] is dead: its
//! leases go back to the queue at the next sweep, another member takes over
//! the sinks it was sending, and its budget holds stop counting. Live members
//! also set each daemon's share of a vendor's rate limit.
//!
//! Sinks: `outbox_cursors.owner` names the one member sending a sink's events;
//! another member takes the sink over only when that one is dead or gone.

use super::PgStore;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// A member whose heartbeat is older than this is dead.
pub const LIVE_SECS: u64 = 10;

/// One daemon sharing the database, for `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Member id (`host-pid-random`).
    pub id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Its control API address.
    pub listen: String,
    /// Seconds since its last heartbeat.
    pub heartbeat_age_secs: f64,
    /// Heartbeat within [`LIVE_SECS`].
    pub live: bool,
    /// Leases it holds now.
    pub leases: u64,
}

/// A fresh id for this process: readable in `status`, unique across restarts.
pub(super) fn new_member_id() -> String {
    let host = hostname();
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

impl PgStore {
    /// Join (or rejoin) the membership with this daemon's control address.
    pub fn register(&self, listen: &str) -> Result<(), StoreError> {
        let pid = std::process::id() as i32;
        let host = hostname();
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "INSERT INTO members (id, host, pid, listen) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET listen = EXCLUDED.listen, heartbeat_at = now()",
                &[&self.member_id(), &host, &pid, &listen],
            )
            .await?;
            Ok(())
        })
    }

    /// Beat, and forget members dead for an hour that hold nothing. Returns
    /// how many members are live (this one included) and this one's rank
    /// among them (by id): what its share of a vendor limit is computed from.
    pub fn heartbeat(&self) -> Result<(u32, u32), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "UPDATE members SET heartbeat_at = now() WHERE id = $1",
                &[&self.member_id()],
            )
            .await?;
            c.execute(
                "DELETE FROM members m WHERE heartbeat_at < now() - interval '1 hour'
                 AND NOT EXISTS (SELECT 1 FROM records r WHERE r.lease_owner = m.id)",
                &[],
            )
            .await?;
            let r = c
                .query_one(
                    &format!(
                        "SELECT count(*), count(*) FILTER (WHERE id < $1) FROM members
                         WHERE heartbeat_at >= now() - interval '{LIVE_SECS} seconds'"
                    ),
                    &[&self.member_id()],
                )
                .await?;
            let (n, rank) = (r.get::<_, i64>(0), r.get::<_, i64>(1));
            Ok((n.max(1) as u32, rank as u32))
        })
    }

    /// Leave: give back this member's leases (queued now), its sinks and its
    /// budget holds, then remove its row. A drained daemon calls this last.
    pub fn deregister(&self) -> Result<(), StoreError> {
        let now = super::ms(chrono::Utc::now());
        self.block(async {
            let mut c = self.conn().await?;
            let tx = c.transaction().await?;
            tx.execute(
                "UPDATE records SET lease_token = NULL, lease_until_ms = NULL, lease_owner = NULL,
                     due_ms = coalesce(due_ms, $2)
                 WHERE lease_owner = $1 AND lease_token IS NOT NULL",
                &[&self.member_id(), &now],
            )
            .await?;
            tx.execute(
                "UPDATE outbox_cursors SET owner = NULL WHERE owner = $1",
                &[&self.member_id()],
            )
            .await?;
            tx.execute(
                "UPDATE budget_tallies SET reserved = 0 WHERE member = $1",
                &[&self.member_id()],
            )
            .await?;
            tx.execute("DELETE FROM members WHERE id = $1", &[&self.member_id()])
                .await?;
            super::notify::notify(&tx, super::notify::QUEUE).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every member, oldest first, with its leases.
    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            let rows = c
                .query(
                    "SELECT m.id, m.host, m.pid, m.listen,
                         extract(epoch FROM now() - m.heartbeat_at)::float8,
                         (SELECT count(*) FROM records r WHERE r.lease_owner = m.id AND r.lease_token IS NOT NULL)
                     FROM members m ORDER BY m.started_at, m.id",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    let age: f64 = r.get(4);
                    Member {
                        id: r.get(0),
                        host: r.get(1),
                        pid: r.get::<_, i32>(2) as u32,
                        listen: r.get(3),
                        heartbeat_age_secs: age.max(0.0),
                        live: age < LIVE_SECS as f64,
                        leases: r.get::<_, i64>(5) as u64,
                    }
                })
                .collect())
        })
    }

    /// Take (or keep) the sending of `sink`'s events: true when this member
    /// is its sender now. Another live member's sink is left alone.
    pub(super) fn claim_sink_for_member(&self, sink: &str) -> Result<bool, StoreError> {
        self.block(async {
            let c = self.conn().await?;
            c.execute(
                "INSERT INTO outbox_cursors (sink, seq) VALUES ($1, 0) ON CONFLICT (sink) DO NOTHING",
                &[&sink],
            )
            .await?;
            let n = c
                .execute(
                    &format!(
                        "UPDATE outbox_cursors SET owner = $2 WHERE sink = $1 AND (owner IS NULL OR owner = $2
                         OR NOT EXISTS (SELECT 1 FROM members m WHERE m.id = outbox_cursors.owner
                             AND m.heartbeat_at >= now() - interval '{LIVE_SECS} seconds'))"
                    ),
                    &[&sink, &self.member_id()],
                )
                .await?;
            Ok(n == 1)
        })
    }
}
