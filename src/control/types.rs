//! The request and answer types of the control surface. They are the JSON
//! bodies of the control API and what the CLI renders; serde is the contract.
//! The stored record and its parts live with the store, signals in the model;
//! they are re-exported here because the API speaks them too.

use crate::model::Record;
pub use crate::model::Signal;
pub use crate::store::{Change, QueueState, RouteChange, StoredRecord, UpsertSummary};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /v1/providers/{id}/resume`: what was lifted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeResult {
    /// The provider.
    pub provider: String,
    /// The pause lifted (`None`: it was not paused).
    pub lifted: Option<crate::executor::Pause>,
}

/// `POST /v1/records`: upsert a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsertRequest {
    /// Records with input values (`known`, source `input`).
    pub records: Vec<Record>,
}

/// Which records `reenrich` selects. Fields combine with AND; `all` selects everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// These ids.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Records where this field ...
    #[serde(default)]
    pub field: Option<String>,
    /// ... is in this state: `known`, `unknown`, or an unknown reason (`not_found`, ...).
    #[serde(default)]
    pub state: Option<String>,
    /// Records with a stale value.
    #[serde(default)]
    pub stale: bool,
    /// Records with a value from this provider (id or `provider.operation`).
    #[serde(default)]
    pub provider: Option<String>,
    /// Records on this route (scoring issue; matches nothing until routes exist).
    #[serde(default)]
    pub route: Option<String>,
    /// Every record.
    #[serde(default)]
    pub all: bool,
}

/// `POST /v1/reenrich`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReenrichRequest {
    /// Which records.
    pub selector: Selector,
    /// Count and price only; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a config reload changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReloadSummary {
    /// The parts that changed and now apply: `scoring`, `routing`,
    /// `waterfalls`, `providers`, `fields`, `precedence`.
    pub changed: Vec<String>,
    /// Parts whose change waits for a restart: `data_dir`, `daemon`, `sinks`,
    /// `budgets`, `kill_switch`.
    pub restart_needed: Vec<String>,
    /// Records queued to be rescored and re-routed (all of them when
    /// something changed).
    pub queued: u64,
}

/// What `reenrich` did (or would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReenrichSummary {
    /// Records selected.
    pub matched: u64,
    /// Records put on the queue (0 for a dry run).
    pub queued: u64,
    /// Most credits the selected records could cost (every step of every
    /// waterfall they would re-run, at its worst case, capped by the record ceiling).
    pub max_credits: f64,
    /// Dry run.
    pub dry_run: bool,
}

/// `POST /v1/records/{id}/signals`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// Event kind.
    pub kind: String,
    /// When (default: now).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// Per-provider health for `status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderHealth {
    /// Configured rate, requests/s (None: unlimited).
    pub rate_per_sec: Option<f64>,
    /// Circuit state: `closed`, `open`, `half_open`.
    pub circuit: String,
    /// Calls in flight now.
    pub in_flight: u64,
    /// HTTP attempts since start.
    pub attempts: u64,
    /// 429s since start.
    pub throttled: u64,
    /// Cache answers since start.
    pub cached: u64,
    /// Failed calls since start.
    pub errors: u64,
    /// Failed / (answered + failed) since start.
    pub error_rate: f64,
    /// Disabled for lack of a key (the variable to set).
    pub disabled: Option<String>,
    /// Calls waiting for a permit or their pacing slot now.
    #[serde(default)]
    pub queued: u64,
    /// Seconds a new call would wait for its slot now.
    #[serde(default)]
    pub queue_wait_secs: f64,
    /// Requests sent over the last full 10 s window, as a share of the limit.
    #[serde(default)]
    pub utilisation: Option<f64>,
    /// Paused by the kill switch: why and until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<crate::executor::Pause>,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Records stored.
    pub records: u64,
    /// Queued and due now.
    pub queued_due: u64,
    /// Queued for later.
    pub queued_later: u64,
    /// Leased (in flight).
    pub leased: u64,
    /// Idle (done for now).
    pub idle: u64,
    /// Dead-lettered.
    pub dead: u64,
    /// Dead-lettered records: id → reason (first 20).
    pub dead_letters: BTreeMap<String, String>,
    /// Enrichment passes completed since start.
    pub passes_since_start: u64,
    /// Passes per second over the last minute.
    pub throughput_per_sec: f64,
    /// Due time of the oldest queued item.
    pub oldest_queued: Option<DateTime<Utc>>,
    /// Expiry of the oldest lease.
    pub oldest_lease: Option<DateTime<Utc>>,
    /// Leases past their expiry that nobody rescued (should be 0).
    pub expired_leases: u64,
    /// Conflicting values seen, in all records.
    pub conflicts: u64,
    /// Per provider.
    pub providers: BTreeMap<String, ProviderHealth>,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// Event sinks: cursor, lag and dead letters.
    #[serde(default)]
    pub sinks: Vec<crate::sink::SinkHealth>,
    /// No client could finish the calls queued now sooner: the most, over
    /// vendors, of queued calls over the vendor's rate (the bottleneck's).
    #[serde(default)]
    pub queued_calls_bound_secs: f64,
    /// Credit budgets: used, reserved and left in the current period.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<crate::budget::BudgetUse>,
    /// Daemons sharing the store (PostgreSQL), oldest first; empty on sled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<crate::store::postgres::Member>,
    /// This daemon's member id on a shared store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

/// Export filter (`GET /v1/export?route=...&format=jsonl|csv`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportFilter {
    /// Only this route (scoring issue).
    #[serde(default)]
    pub route: Option<String>,
}

/// The one JSON error body of the control API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}
