//! What the store keeps about one lead: the record with its field states,
//! history, signals, queue position, scores and route. Every layer above the
//! store reads these; the control API serialises them as they are.

use crate::model::{FieldState, Record, Signal};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a record stands in the work queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting for a worker from `due`.
    Queued {
        /// When it becomes due.
        due: DateTime<Utc>,
    },
    /// A worker holds it until `until`.
    Leased {
        /// Lease expiry.
        until: DateTime<Utc>,
    },
    /// Nothing to do now; the scheduler wakes it at `next_due` (stale values, retries).
    Idle {
        /// Next time something is due, if ever.
        next_due: Option<DateTime<Utc>>,
    },
    /// Given up after repeated failures of the step itself (not of providers).
    Dead {
        /// Why.
        reason: String,
    },
}

/// One change to a field, for `show`'s history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// When.
    pub at: DateTime<Utc>,
    /// Which field.
    pub field: String,
    /// `input`, `enriched`, `conflict`, `expired`, `reenrich`.
    pub kind: String,
    /// The state before (absent for a first value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<FieldState>,
    /// The state after.
    pub new: FieldState,
}

/// Everything stored about one lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// The record with its field states.
    pub record: Record,
    /// Field changes, oldest first (capped).
    #[serde(default)]
    pub history: Vec<Change>,
    /// Behaviour events.
    #[serde(default)]
    pub signals: Vec<Signal>,
    /// Queue position.
    pub queue: QueueState,
    /// Conflicting values seen (a provider disagreed with a held value).
    #[serde(default)]
    pub conflicts: u32,
    /// Enrichment passes completed.
    #[serde(default)]
    pub passes: u32,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Bumped by every upsert and signal; a step started on an older revision is not committed.
    #[serde(default)]
    pub revision: u64,
    /// The three scores after the last pass (when scoring is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<crate::score::Scores>,
    /// The route after the last pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<crate::route::Decision>,
    /// Route changes, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_history: Vec<RouteChange>,
}

/// One route change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteChange {
    /// When.
    pub at: DateTime<Utc>,
    /// The route before (absent for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The route after.
    pub to: String,
    /// Why.
    pub explanation: String,
    /// Fields the pass that made the change filled or changed (empty: none,
    /// e.g. decay or a new signal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_fields: Vec<String>,
}

/// What an upsert did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpsertSummary {
    /// New records.
    pub created: u64,
    /// Existing records merged.
    pub merged: u64,
    /// Records put (back) on the queue.
    pub queued: u64,
}
