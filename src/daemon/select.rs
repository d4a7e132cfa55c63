//! `reenrich` selection and pricing.

use crate::control::{Control, ControlError, ReenrichRequest, ReenrichSummary};
use chrono::{DateTime, Utc};

/// Select, price, and (unless a dry run) queue.
pub fn reenrich(c: &Control, req: &ReenrichRequest, now: DateTime<Utc>) -> Result<ReenrichSummary, ControlError> {
    let _ = (c, req, now);
    Err(ControlError::BadRequest("reenrich is not wired yet".into()))
}
