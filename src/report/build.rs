//! Building a report: call counters (pre-aggregated per hour and operation)
//! for the provider, field and spend sections; one pass over the stored
//! records for the field states and routes now and the route changes in the
//! window. Pure: the caller reads the store and passes the clock.

use super::types::*;
use super::Window;
use crate::budget::BudgetUse;
use crate::model::FieldState;
use crate::store::StoredRecord;
use crate::store::{CallBucket, CallStats};
use crate::waterfall::{Step, WaterfallSettings};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet};

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// Accumulates the record side of a report (field states, routes).
#[derive(Debug, Default)]
pub struct RecordTally {
    known: BTreeMap<String, u64>,
    unknown: BTreeMap<String, BTreeMap<String, u64>>,
    route_counts: BTreeMap<String, u64>,
    transitions: BTreeMap<(Option<String>, String), u64>,
    changed_by_enrichment: u64,
    routed: u64,
}

impl RecordTally {
    /// Count one record against `window`.
    pub fn add(&mut self, r: &StoredRecord, window: &Window) {
        for (name, state) in &r.record.fields {
            match state {
                FieldState::Known(_) => *self.known.entry(name.to_string()).or_default() += 1,
                FieldState::Unknown(u) => {
                    *self
                        .unknown
                        .entry(name.to_string())
                        .or_default()
                        .entry(u.reason.to_string())
                        .or_default() += 1
                }
            }
        }
        if let Some(route) = &r.route {
            *self.route_counts.entry(route.route.clone()).or_default() += 1;
        }
        let mut routed = false;
        for c in r.route_history.iter().filter(|c| window.contains(c.at)) {
            routed = true;
            *self
                .transitions
                .entry((c.from.clone(), c.to.clone()))
                .or_default() += 1;
            if c.from.is_some() && !c.changed_fields.is_empty() {
                self.changed_by_enrichment += 1;
            }
        }
        self.routed += u64::from(routed);
    }
}

/// Everything a report is built from.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The window.
    pub window: Window,
    /// Call counters of the window's hours.
    pub buckets: &'a [CallBucket],
    /// The stored records, tallied.
    pub records: RecordTally,
    /// The waterfalls (field order and steps).
    pub waterfall: &'a WaterfallSettings,
    /// Budget use now.
    pub budgets: Vec<BudgetUse>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Build the report.
pub fn build(inp: Inputs<'_>) -> Report {
    let mut by_provider: BTreeMap<String, CallStats> = BTreeMap::new();
    let mut by_operation: BTreeMap<String, CallStats> = BTreeMap::new();
    for b in inp.buckets {
        by_provider
            .entry(b.provider().to_string())
            .or_default()
            .merge(&b.stats);
        by_operation
            .entry(b.operation.clone())
            .or_default()
            .merge(&b.stats);
    }
    let providers: Vec<ProviderReport> = by_provider
        .iter()
        .map(|(p, s)| provider_report(p, s))
        .collect();
    let credits = providers.iter().map(|p| p.credits).sum::<f64>();
    let fields = inp
        .waterfall
        .fields
        .iter()
        .map(|w| {
            let steps: Vec<StepReport> = w
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Operation(id) => Some(id),
                    Step::Guess => None,
                })
                .map(|op| {
                    let s = by_operation.get(op.as_str()).cloned().unwrap_or_default();
                    let fills = s.fills.get(w.field.as_str()).copied().unwrap_or(0);
                    let attempts = s.calls + s.cached;
                    StepReport {
                        operation: op.to_string(),
                        attempts,
                        fills,
                        fill_rate: ratio(fills as f64, attempts as f64),
                        share_of_fills: None,
                        cost_per_fill: ratio(s.credits, fills as f64),
                        credits: s.credits,
                    }
                })
                .collect();
            let total: u64 = steps.iter().map(|s| s.fills).sum();
            let steps = steps
                .into_iter()
                .map(|mut s| {
                    s.share_of_fills = ratio(s.fills as f64, total as f64);
                    s
                })
                .collect();
            FieldReport {
                field: w.field.to_string(),
                steps,
                fills: total,
                known_now: inp
                    .records
                    .known
                    .get(w.field.as_str())
                    .copied()
                    .unwrap_or(0),
                unknown_now: inp
                    .records
                    .unknown
                    .get(w.field.as_str())
                    .cloned()
                    .unwrap_or_default(),
            }
        })
        .collect();
    let t = inp.records;
    let routes = RouteReport {
        counts: t.route_counts,
        transitions: t
            .transitions
            .into_iter()
            .map(|((from, to), count)| Transition { from, to, count })
            .collect(),
        changed_by_enrichment: t.changed_by_enrichment,
        routed_leads: t.routed,
        credits_per_routed_lead: ratio(credits, t.routed as f64),
    };
    Report {
        window: inp.window,
        generated_at: inp.now,
        providers,
        fields,
        routes,
        spend: spend(&inp.window, inp.buckets),
        budgets: inp.budgets,
        credits,
    }
}

fn provider_report(p: &str, s: &CallStats) -> ProviderReport {
    let fields_filled: u64 = s.fills.values().sum();
    ProviderReport {
        provider: p.to_string(),
        calls: s.calls,
        requests: s.requests,
        cache_hits: s.cached,
        cache_credits_saved: s.cached_credits_saved,
        hits: s.hits,
        misses: s.misses,
        errors: s.errors.clone(),
        throttled: s.throttled,
        budget_blocked: s.budget_blocked,
        paused: s.paused,
        hit_rate: ratio(s.hits as f64, (s.hits + s.misses) as f64),
        credits: s.credits,
        fields_filled,
        credits_per_filled_field: ratio(s.credits, fields_filled as f64),
        latency_p50_ms: s.latency_quantile(0.5),
        latency_p95_ms: s.latency_quantile(0.95),
    }
}

/// Credits per provider per hour (windows up to 3 days) or per day.
fn spend(window: &Window, buckets: &[CallBucket]) -> Vec<SpendPoint> {
    let (from, to) = window.hours();
    let step = if to - from <= 72 { 1 } else { 24 };
    let start = |h: u32| {
        Utc.timestamp_opt(i64::from(h) * 3600, 0)
            .single()
            .unwrap_or_default()
    };
    let providers: BTreeSet<&str> = buckets.iter().map(CallBucket::provider).collect();
    let mut points: BTreeMap<u32, BTreeMap<String, f64>> = BTreeMap::new();
    let first = from - from % step;
    let mut h = first;
    while h < to {
        points.insert(h, providers.iter().map(|p| (p.to_string(), 0.0)).collect());
        h += step;
    }
    for b in buckets {
        let slot = b.hour - b.hour % step;
        *points
            .entry(slot)
            .or_default()
            .entry(b.provider().to_string())
            .or_default() += b.stats.credits;
    }
    points
        .into_iter()
        .map(|(h, credits)| SpendPoint {
            start: start(h),
            credits,
        })
        .collect()
}
