//! `status`: queue counts, throughput and provider health.

use crate::control::{Control, ControlError, ProviderHealth, Status};
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;

/// Build the status answer.
pub fn status(c: &Control, now: DateTime<Utc>) -> Result<Status, ControlError> {
    let q = c.store.queue_stats(now)?;
    let conflicts = c.store.conflicts()?;
    let (dead, first) = c.store.dead_letters(20)?;
    let dead_letters = first.into_iter().collect();
    // One snapshot: a reload during the answer cannot mix two configurations.
    let engine = c.engine.current();
    let providers: std::collections::BTreeMap<String, ProviderHealth> = engine
        .settings()
        .providers
        .iter()
        .map(|p| {
            let mut h = ProviderHealth {
                rate_per_sec: p.rate.map(|r| r.per_second()),
                disabled: p.missing_key_env.clone(),
                circuit: "closed".into(),
                ..ProviderHealth::default()
            };
            h.paused = engine.executor().paused(&p.id);
            if let Some(rt) = engine.executor().runtime(&p.id) {
                h.circuit = rt
                    .circuit
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .name()
                    .to_string();
                h.in_flight = (p.max_concurrency
                    - rt.permits.available_permits().min(p.max_concurrency))
                    as u64;
                h.attempts = rt.stats.attempts.load(Ordering::Relaxed);
                h.throttled = rt.stats.throttled.load(Ordering::Relaxed);
                h.cached = rt.stats.cached.load(Ordering::Relaxed);
                h.errors = rt.stats.failed.load(Ordering::Relaxed);
                h.queued = rt.waiting.load(Ordering::Relaxed);
                h.queue_wait_secs = rt.expected_wait(h.rate_per_sec);
                h.utilisation = h.rate_per_sec.map(|r| rt.stats.recent_rate() / r);
                let answered = rt.stats.answered.load(Ordering::Relaxed);
                let total = answered + h.errors;
                h.error_rate = if total == 0 {
                    0.0
                } else {
                    h.errors as f64 / total as f64
                };
            }
            (p.id.clone(), h)
        })
        .collect();
    let stats = c.stats();
    let queued_calls_bound_secs = providers
        .values()
        .filter_map(|h: &ProviderHealth| Some(h.queued as f64 / h.rate_per_sec?))
        .fold(0.0, f64::max);
    Ok(Status {
        queued_calls_bound_secs,
        records: q.records,
        queued_due: q.queued_due,
        queued_later: q.queued_later,
        leased: q.leased,
        idle: q
            .records
            .saturating_sub(q.queued_due + q.queued_later + q.leased + dead),
        dead,
        dead_letters,
        passes_since_start: stats.passes.load(Ordering::Relaxed),
        throughput_per_sec: stats.throughput(),
        oldest_queued: q.oldest_queued,
        oldest_lease: q.oldest_lease,
        expired_leases: q.expired_leases,
        conflicts,
        providers,
        uptime_secs: stats.started.elapsed().as_secs(),
        sinks: crate::sink::sink_health(c.store.as_ref(), &c.settings().sinks)?,
        budgets: c
            .executor()
            .budgets()
            .map(|b| b.usage(now))
            .unwrap_or_default(),
        members: match &c.shared {
            Some(pg) => pg.members()?,
            None => Vec::new(),
        },
        member_id: c.shared.as_ref().map(|pg| pg.member_id().to_string()),
    })
}
