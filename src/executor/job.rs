//! Asynchronous vendor jobs in the executor: where a call stands (submit or
//! poll), recording a submitted job durably before the first poll, closing it
//! once its answer is final, and the poll backoff. The call loop itself, with
//! its retries, is in `vendor.rs`.

use super::booking::Booking;
use super::{CallOutcome, Executor};
use crate::store::JobEntry;
use std::time::Duration;

/// Where a call stands: a plain request, or an asynchronous job being
/// submitted or polled (with the vendor's job id).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Phase {
    Direct,
    Submit,
    Poll(String),
}

impl Executor {
    /// Take the answer a vendor posted for the open job of `key`, if any. It
    /// is read once: a final answer closes the job; one still in progress (a
    /// per-contact event) leaves the job to be polled again.
    pub(super) fn take_delivered(&self, key: &[u8]) -> Option<String> {
        let taken = self.inner.store.job_get(key).and_then(|job| {
            let Some(mut job) = job else { return Ok(None) };
            let body = job.delivered.take();
            if body.is_some() {
                self.inner.store.job_set(key, Some(&job), None)?;
            }
            Ok(body)
        });
        taken.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read an open job; polling the vendor");
            None
        })
    }

    /// A vendor posted a finished job (webhook): check the signature (hex
    /// HMAC-SHA1 of the raw body keyed with the provider's API key), find the
    /// open job and keep the answer with it. Returns the record to queue.
    pub fn accept_webhook(
        &self,
        provider_id: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Option<String>, WebhookError> {
        let provider = self
            .inner
            .providers
            .get(provider_id)
            .ok_or(WebhookError::UnknownProvider)?;
        let (op, hook) = provider
            .operations
            .iter()
            .find_map(|o| Some((o, o.job.as_ref()?.webhook.as_ref()?)))
            .ok_or(WebhookError::UnknownProvider)?;
        let key = provider
            .auth
            .as_ref()
            .filter(|_| provider.missing_key_env.is_none())
            .ok_or(WebhookError::BadSignature)?;
        if !signature.is_some_and(|s| webhook_signature_ok(key.secret.expose(), body, s)) {
            return Err(WebhookError::BadSignature);
        }
        let text = std::str::from_utf8(body).map_err(|_| WebhookError::BadBody)?;
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|_| WebhookError::BadBody)?;
        let job_id = hook
            .id_pointer
            .get(&doc)
            .and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or(WebhookError::BadBody)?;
        let job = self
            .inner
            .store
            .job_deliver(&op.id, &job_id, text)
            .map_err(|e| WebhookError::Store(e.to_string()))?
            .ok_or(WebhookError::UnknownJob)?;
        Ok(job.record_id)
    }
    /// Record a submitted job durably (job id + the submit's ledger row, flushed)
    /// before the first poll, so a crash from here on resumes instead of resubmitting.
    pub(super) async fn job_submitted(&self, key: &[u8], job_id: &str, row: Booking<'_>) {
        let (operation, record_id) = (row.id.operation, row.id.record_id);
        let row = self.entry(row);
        let job = JobEntry {
            job_id: job_id.to_string(),
            submitted_at: self.inner.clock.now(),
            record_id: record_id.map(str::to_string),
            delivered: None,
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

/// Why a posted job was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WebhookError {
    /// No such provider, or it takes no webhooks.
    #[error("no provider here takes job webhooks by that id")]
    UnknownProvider,
    /// Missing or wrong signature.
    #[error("missing or wrong signature")]
    BadSignature,
    /// Not JSON, or no job id where the definition says.
    #[error("the body is not a job document")]
    BadBody,
    /// No open job with that id (already answered, or never ours).
    #[error("no open job with that id")]
    UnknownJob,
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

/// Constant-time check of a hex HMAC-SHA1 signature over `body`.
pub fn webhook_signature_ok(key: &str, body: &[u8], signature: &str) -> bool {
    use hmac::Mac;
    let Ok(expected) = hex_decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn hex_decode(s: &str) -> Result<Vec<u8>, ()> {
    if !s.len().is_multiple_of(2) {
        return Err(());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or(())?, 16).map_err(|_| ()))
        .collect()
}
