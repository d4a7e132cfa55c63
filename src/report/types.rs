//! The report, as data: what every renderer (table, JSON, CSV, HTML) shows.

use super::Window;
use crate::budget::BudgetUse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A provider cost/coverage report over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The window (whole hours).
    pub window: Window,
    /// When it was built.
    pub generated_at: DateTime<Utc>,
    /// Per provider, by id.
    pub providers: Vec<ProviderReport>,
    /// Per waterfall field, in waterfall order.
    pub fields: Vec<FieldReport>,
    /// Routes.
    pub routes: RouteReport,
    /// Credits per provider over time (per hour for windows up to 3 days, else per day).
    pub spend: Vec<SpendPoint>,
    /// Budget caps: used and left in the current period.
    pub budgets: Vec<BudgetUse>,
    /// Credits billed in the window, all providers.
    pub credits: f64,
}

/// One provider's calls and cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderReport {
    /// Provider id.
    pub provider: String,
    /// Calls that went to the vendor (cache hits not included).
    pub calls: u64,
    /// HTTP requests sent, retries included (what the vendor counts).
    pub requests: u64,
    /// Calls answered from the cache (or coalesced onto an identical call).
    pub cache_hits: u64,
    /// Credits the cache hits saved.
    pub cache_credits_saved: f64,
    /// Answers with data (cache hits included).
    pub hits: u64,
    /// "No data" answers (cache hits included).
    pub misses: u64,
    /// Failed calls by kind.
    pub errors: BTreeMap<String, u64>,
    /// 429 answers.
    pub throttled: u64,
    /// Calls a budget refused before they were made.
    pub budget_blocked: u64,
    /// Calls not made while the kill switch paused the provider.
    #[serde(default)]
    pub paused: u64,
    /// hits / (hits + misses); `None` without answers.
    pub hit_rate: Option<f64>,
    /// Credits billed.
    pub credits: f64,
    /// Field values returned.
    pub fields_filled: u64,
    /// credits / fields_filled.
    pub credits_per_filled_field: Option<f64>,
    /// Median latency of vendor calls, ms (histogram bucket bound).
    pub latency_p50_ms: Option<u64>,
    /// 95th percentile latency, ms.
    pub latency_p95_ms: Option<u64>,
}

/// One step of a field's waterfall.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Operation id.
    pub operation: String,
    /// Calls answered or failed (cache hits included; budget refusals not).
    pub attempts: u64,
    /// Answers carrying a value for the field.
    pub fills: u64,
    /// fills / attempts.
    pub fill_rate: Option<f64>,
    /// This step's share of the field's fills.
    pub share_of_fills: Option<f64>,
    /// Credits of the operation per fill of this field.
    pub cost_per_fill: Option<f64>,
    /// Credits of the operation.
    pub credits: f64,
}

/// One field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldReport {
    /// Field name.
    pub field: String,
    /// Its waterfall steps, in order.
    pub steps: Vec<StepReport>,
    /// Values returned over all steps.
    pub fills: u64,
    /// Records where the field is known now.
    pub known_now: u64,
    /// Records where the field is unknown now, by reason.
    pub unknown_now: BTreeMap<String, u64>,
}

/// A count of route changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Route before (`None`: first routing).
    pub from: Option<String>,
    /// Route after.
    pub to: String,
    /// Changes in the window.
    pub count: u64,
}

/// Routes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteReport {
    /// Records on each route now.
    pub counts: BTreeMap<String, u64>,
    /// Route changes in the window.
    pub transitions: Vec<Transition>,
    /// Changes in the window from one route to another caused by fields enrichment filled.
    pub changed_by_enrichment: u64,
    /// Records routed (or re-routed) in the window.
    pub routed_leads: u64,
    /// Credits in the window / routed leads.
    pub credits_per_routed_lead: Option<f64>,
}

/// Credits in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendPoint {
    /// Bucket start.
    pub start: DateTime<Utc>,
    /// Credits per provider.
    pub credits: BTreeMap<String, f64>,
}
