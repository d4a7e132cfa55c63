//! Provider cost/coverage reports: per provider, per field (and provider
//! within the field's waterfall), per route, spend over time and budgets,
//! over any window. Read-only. The call side comes from the store's
//! per-hour counters (kept with every ledger row), so a report over millions
//! of calls reads a few thousand buckets; the record side (field states and
//! routes now, route changes in the window) is one pass over the records.
//! [`render`] turns a [`Report`] into a table, CSV or an HTML page.

mod build;
pub mod render;
mod types;
mod window;

pub use build::{build, Inputs, RecordTally};
pub use types::*;
pub use window::{parse_duration, parse_time, Window, WindowError};

use crate::budget::BudgetUse;
use crate::store::{CallStore, RecordStore, StoreError};
use crate::waterfall::WaterfallSettings;
use chrono::{DateTime, Utc};

/// Build a report from the stores.
pub fn from_store(
    records: &dyn RecordStore,
    calls: &dyn CallStore,
    waterfall: &WaterfallSettings,
    window: Window,
    budgets: Vec<BudgetUse>,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let (from, to) = window.hours();
    let buckets = calls.call_buckets(from, to)?;
    let mut tally = RecordTally::default();
    records.scan(&mut |r| {
        tally.add(&r, &window);
        true
    })?;
    Ok(build(Inputs {
        window,
        buckets: &buckets,
        records: tally,
        waterfall,
        budgets,
        now,
    }))
}
