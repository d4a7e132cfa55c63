//! Asynchronous vendor jobs in the executor: where a call stands (submit or
//! poll), recording a submitted job durably before the first poll, closing it
//! once its answer is final, and the poll backoff. The call loop itself, with
//! its retries, stays in `mod.rs`.

use super::{CallOutcome, Executor};
use crate::store::JobEntry;
use std::time::Duration;
use tokio::time::Instant;

/// Where a call stands: a plain request, or an asynchronous job being
/// submitted or polled (with the vendor's job id).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Phase {
    Direct,
    Submit,
    Poll(String),
}

impl Executor {
    /// Record a submitted job durably (job id + the submit's ledger row, flushed)
    /// before the first poll, so a crash from here on resumes instead of resubmitting.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn job_submitted(
        &self,
        key: &[u8],
        operation: &str,
        record_id: Option<&str>,
        job_id: &str,
        started: Instant,
        attempts: u32,
        throttled: u32,
        status: u16,
    ) {
        let row = self.entry(
            operation,
            record_id,
            "submitted",
            false,
            0.0,
            started,
            attempts,
            throttled,
            Some(status),
            None,
        );
        let job = JobEntry {
            job_id: job_id.to_string(),
            submitted_at: self.inner.clock.now(),
        };
        if let Err(e) = self.inner.store.job_set(key, Some(&job), Some(&row)) {
            tracing::error!(operation, error = %e, "could not record a submitted job");
        }
        self.flush().await;
    }

    /// Forget an asynchronous call's job once its answer is final (recorded
    /// and cached): found, not found, or a failure that polling cannot cure.
    /// Pending, throttled and transient failures keep it for the next pass.
    pub(super) async fn close_job(&self, operation: &str, key: &[u8], outcome: &CallOutcome) {
        let is_job = self
            .inner
            .providers
            .operation(operation)
            .is_some_and(|(_, op)| op.job.is_some());
        let keep = matches!(
            outcome,
            CallOutcome::Failed {
                kind: "pending"
                    | "rate_limited"
                    | "transient"
                    | "timeout"
                    | "circuit_open"
                    | "disabled",
                ..
            }
        );
        if !is_job || keep {
            return;
        }
        if let Err(e) = self.inner.store.job_set(key, None, None) {
            tracing::error!(operation, error = %e, "could not close a finished job");
        }
        if self.inner.durable {
            self.flush().await;
        }
    }
}

/// The wait before the next poll of a running job, and the interval after
/// that: the vendor's Retry-After when given, else the current interval, which
/// doubles each time; both capped at `max`.
pub(super) fn next_poll_wait(
    current: Duration,
    retry_after: Option<Duration>,
    max: Duration,
) -> (Duration, Duration) {
    (
        retry_after.unwrap_or(current).min(max),
        (current * 2).min(max),
    )
}
