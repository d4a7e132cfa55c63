//! Budgets shared by every daemon on the database: one row per (cap, member)
//! with what that member spent and holds. A reservation takes one advisory
//! lock, sums the cap over all members (holds of dead members excepted: their
//! calls are over) and adds its hold only if every cap fits, so N daemons
//! together never pass a cap. Why a lock and not share-of-cap: a budget is a
//! total, and splitting it by N would strand credits on idle daemons.

use super::{PgStore, LIVE_SECS};
use crate::store::SharedTally;
use crate::store::StoreError;

/// Advisory lock key serialising budget reservations ("budget\0\0").
const BUDGET_LOCK: i64 = 0x6275_6467_6574_0000;
/// The member name of spending read from the counters before any tally.
const SEED_MEMBER: &str = "_seed";
/// Float slack, as the in-memory budgets use.
const EPSILON: f64 = 1e-9;

/// [`SharedTally`] over a [`PgStore`].
#[derive(Debug, Clone)]
pub struct PgBudgetTally(pub PgStore);

/// SQL: the cap's spent and live holds.
fn sums() -> String {
    format!(
        "SELECT coalesce(sum(spent), 0)::float8,
             coalesce(sum(reserved) FILTER (WHERE NOT EXISTS (SELECT 1 FROM members m
                 WHERE m.id = t.member AND m.heartbeat_at < now() - interval '{LIVE_SECS} seconds')), 0)::float8
         FROM budget_tallies t WHERE cap = $1"
    )
}

impl SharedTally for PgBudgetTally {
    fn reserve(&self, caps: &[(String, f64)], amount: f64) -> Result<Vec<usize>, StoreError> {
        let s = &self.0;
        s.block(async {
            let mut c = s.conn().await?;
            let tx = c.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&BUDGET_LOCK])
                .await?;
            let sql = sums();
            let mut refused = Vec::new();
            for (i, (cap, limit)) in caps.iter().enumerate() {
                let r = tx.query_one(&sql, &[cap]).await?;
                let (spent, held): (f64, f64) = (r.get(0), r.get(1));
                if spent + held + amount > limit + EPSILON {
                    refused.push(i);
                }
            }
            if refused.is_empty() {
                for (cap, _) in caps {
                    tx.execute(
                        "INSERT INTO budget_tallies (cap, member, reserved) VALUES ($1, $2, $3)
                         ON CONFLICT (cap, member) DO UPDATE SET reserved = budget_tallies.reserved + EXCLUDED.reserved",
                        &[cap, &s.member_id(), &amount],
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(refused)
        })
    }

    fn finish(&self, caps: &[String], amount: f64, credits: f64) -> Result<(), StoreError> {
        let s = &self.0;
        s.block(async {
            let c = s.conn().await?;
            c.execute(
                "INSERT INTO budget_tallies (cap, member, spent)
                     SELECT unnest($1::text[]), $2, $4
                 ON CONFLICT (cap, member) DO UPDATE SET
                     reserved = greatest(budget_tallies.reserved - $3, 0),
                     spent = budget_tallies.spent + $4",
                &[&caps, &s.member_id(), &amount, &credits],
            )
            .await?;
            Ok(())
        })
    }

    fn usage(&self, caps: &[String]) -> Result<Vec<(f64, f64)>, StoreError> {
        let s = &self.0;
        s.block(async {
            let c = s.conn().await?;
            let sql = sums();
            let mut out = Vec::with_capacity(caps.len());
            for cap in caps {
                let r = c.query_one(&sql, &[cap]).await?;
                out.push((r.get(0), r.get(1)));
            }
            Ok(out)
        })
    }

    fn seed(&self, cap: &str, spent: f64) -> Result<(), StoreError> {
        let s = &self.0;
        s.block(async {
            let mut c = s.conn().await?;
            let tx = c.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&BUDGET_LOCK])
                .await?;
            tx.execute(
                "INSERT INTO budget_tallies (cap, member, spent)
                 SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM budget_tallies WHERE cap = $1)",
                &[&cap, &SEED_MEMBER, &spent],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
