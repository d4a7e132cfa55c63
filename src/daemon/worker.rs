//! The leaser and the workers. One leaser task takes due records off the queue
//! (as many as there are free worker slots) and hands each to a worker task,
//! which runs one enrichment pass and commits record + queue change in one
//! transaction. Shutdown stops the leaser; workers finish their pass.

use super::DaemonStats;
use crate::control::StoredRecord;
use crate::engine::merge::merge_step;
use crate::engine::LiveEngine;
use crate::model::{FieldState, Record};
use crate::store::{Leased, RecordStore, StepCommit, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the workers share.
#[derive(Clone, Debug)]
pub struct WorkerContext {
    /// The store.
    pub store: Arc<dyn RecordStore>,
    /// The engine (a reload swaps it; each pass takes one snapshot).
    pub engine: LiveEngine,
    /// Pokes the leaser when work arrives.
    pub wake: Arc<Notify>,
    /// Pokes the sinks when a commit wrote outbox events.
    pub sink_wake: Arc<Notify>,
    /// Counters.
    pub stats: Arc<DaemonStats>,
    /// Lease length.
    pub lease: Duration,
    /// Shortest requeue delay.
    pub min_requeue: Duration,
}

/// When a record is due again: the earliest retry time of a failed field or
/// expiry of a vendor value, never sooner than `min_requeue` from now.
pub fn next_due(
    record: &Record,
    now: DateTime<Utc>,
    min_requeue: Duration,
) -> Option<DateTime<Utc>> {
    let due = record
        .fields
        .values()
        .filter_map(|s| match s {
            FieldState::Unknown(u) => u.retry_at,
            FieldState::Known(k) if k.source != crate::model::SOURCE_INPUT => k.expires_at,
            FieldState::Known(_) => None,
        })
        .min()?;
    let floor = now + chrono::Duration::from_std(min_requeue).unwrap_or_default();
    Some(due.max(floor))
}

/// Run the leaser until `cancel`; workers are tracked by `tracker`.
pub async fn run_leaser(
    ctx: WorkerContext,
    workers: usize,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    if workers == 0 {
        cancel.cancelled().await;
        return;
    }
    let slots = Arc::new(Semaphore::new(workers));
    loop {
        if cancel.is_cancelled() {
            break;
        }
        // Take a slot first, so leases are only held for records a worker will start now.
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = cancel.cancelled() => break,
        };
        let free = slots.available_permits() + 1;
        let store = ctx.store.clone();
        let lease = ctx.lease;
        let leased =
            tokio::task::spawn_blocking(move || store.lease_due(Utc::now(), free.min(512), lease))
                .await;
        let batch = match leased {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "leasing failed; retrying in a second");
                drop(first);
                tokio::select! { _ = tokio::time::sleep(Duration::from_secs(1)) => {}, _ = cancel.cancelled() => break }
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "leasing task failed");
                break;
            }
        };
        if batch.is_empty() {
            drop(first);
            let wait = match ctx.store.next_due() {
                Ok(Some(due)) => (due - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .min(Duration::from_secs(5)),
                _ => Duration::from_secs(5),
            };
            tokio::select! {
                _ = ctx.wake.notified() => {}
                _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                _ = cancel.cancelled() => break,
            }
            continue;
        }
        let mut permit = Some(first);
        for leased in batch {
            let p = match permit.take() {
                Some(p) => p,
                // Leased count ≤ free slots, so this only waits if a slot was just taken back.
                None => match slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let ctx = ctx.clone();
            tracker.spawn(async move {
                let _slot = p;
                step(&ctx, leased).await;
            });
        }
    }
}

/// One pass over one leased record, committed atomically.
pub async fn step(ctx: &WorkerContext, leased: Leased) {
    let Leased {
        record: stored,
        lease,
    } = leased;
    let id = stored.record.id.clone();
    // A panic in a pass is a bug, not a vendor problem: retrying would panic
    // again, so the record is dead-lettered with the reason.
    let engine = ctx.engine.current();
    let input = stored.record.clone();
    let signals = stored.signals.clone();
    let pass = engine.clone();
    let after = match tokio::spawn(async move { pass.enrich_with_signals(input, &signals).await })
        .await
    {
        Ok((after, _ledger)) => after,
        Err(e) => {
            let reason = format!("the enrichment pass failed: {e}");
            tracing::error!(record = %id, %reason, "dead-lettering the record");
            let store = ctx.store.clone();
            let res =
                tokio::task::spawn_blocking(move || store.dead_letter(&id, lease, &reason)).await;
            if let Ok(Err(e)) | Err(e) =
                res.map_err(|e| crate::store::StoreError::Transaction(e.to_string()))
            {
                tracing::error!(error = %e, "could not dead-letter");
            }
            return;
        }
    };
    let now = Utc::now();
    let mut updated: StoredRecord = stored;
    let history_before = updated.history.len();
    let settings = engine.settings();
    merge_step(&mut updated, after, now, &settings.precedence);
    let mut outbox = Vec::new();
    let mut due = next_due(&updated.record, now, ctx.min_requeue);
    if let Some(d) = &settings.decisions {
        let changed: Vec<String> = updated.history[history_before.min(updated.history.len())..]
            .iter()
            .map(|c| c.field.clone())
            .collect();
        outbox.extend(crate::engine::rescore::rescore(
            d,
            settings,
            &mut updated,
            &changed,
            now,
        ));
        // A recycled lead (nurture, timing) is rescored when its recycle date comes.
        if let Some(at) = updated.route.as_ref().and_then(|r| r.recycle_at) {
            due = Some(due.map_or(at, |d| d.min(at)));
        }
    }
    let has_events = !outbox.is_empty();
    let commit = StepCommit {
        record: updated,
        lease,
        outbox,
        next_due: due,
    };
    let store = ctx.store.clone();
    // A pass that changed the route is made durable before anyone is told: a
    // pass without provider calls (a signal, decay) has no call flush behind it,
    // and an event sinks never see would break "at least once".
    let commit_and_flush = move || {
        store.commit_step(commit)?;
        if has_events {
            store.flush()?;
        }
        Ok::<(), StoreError>(())
    };
    match tokio::task::spawn_blocking(commit_and_flush).await {
        Ok(Ok(())) => {
            ctx.stats.record_pass();
            if has_events {
                // Every sink waits on this; each must hear it.
                ctx.sink_wake.notify_waiters();
            }
        }
        Ok(Err(StoreError::LeaseLost(_))) => {
            // Someone recovered the lease (it expired); that pass wins. Our calls are cached.
            tracing::warn!(record = %id, "lease expired during the pass; result dropped");
        }
        Ok(Err(StoreError::Superseded(_))) => {
            tracing::debug!(record = %id, "record changed during the pass; it runs again");
            ctx.wake.notify_one();
        }
        Ok(Err(e)) => {
            tracing::error!(record = %id, error = %e, "could not commit a pass; the lease will expire and it runs again")
        }
        Err(e) => tracing::error!(record = %id, error = %e, "commit task failed"),
    }
}
