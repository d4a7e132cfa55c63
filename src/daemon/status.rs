//! `status`: queue counts and provider health.

use crate::control::{Control, ControlError, Status};
use chrono::{DateTime, Utc};

/// Build the status answer.
pub fn status(c: &Control, now: DateTime<Utc>) -> Result<Status, ControlError> {
    let q = c.store.queue_stats(now)?;
    Ok(Status {
        records: q.records,
        queued_due: q.queued_due,
        queued_later: q.queued_later,
        leased: q.leased,
        expired_leases: q.expired_leases,
        oldest_queued: q.oldest_queued,
        oldest_lease: q.oldest_lease,
        ..Status::default()
    })
}
