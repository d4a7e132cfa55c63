//! Behaviour signals: what a lead did, as scoring reads it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A behaviour event (pricing page visit, demo request...), used by scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Kind, free text from config (`pricing_page`, `demo_request`).
    pub kind: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}
