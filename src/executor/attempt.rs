//! One attempt at a vendor: read the answer it already posted for an open
//! job, or take a permit, wait for the pace and send; then classify what came
//! back. Whether to try again is the call loop's decision (`vendor.rs`).

use super::vendor::VendorCall;
use super::{http, Attempt, Phase};
use crate::provider::{classify, classify_submit, Outcome};
use std::time::Duration;

/// What one attempt said, as the call loop acts on it.
#[derive(Debug)]
pub(super) enum Answer {
    /// The vendor accepted the job; its id.
    Submitted(String),
    /// Any other answer, and whether the circuit counts it as healthy.
    Classified {
        /// The answer.
        outcome: Outcome,
        /// False for transient failures (timeouts, 5xx, broken connections).
        healthy: bool,
    },
}

impl VendorCall<'_> {
    /// Make one attempt: a webhook delivery for a polled job if there is one,
    /// else a paced HTTP exchange.
    pub(super) async fn send(&self) -> Attempt {
        // A job the vendor already posted back (webhook) is read, not polled.
        let delivered = match &self.phase {
            Phase::Poll(_) => self.ex.take_delivered(self.id.key),
            _ => None,
        };
        if let Some(body) = delivered {
            return Attempt::Response {
                status: 200,
                headers: Vec::new(),
                body: body.into_bytes(),
            };
        }
        let (rt, provider) = (self.rt, self.provider);
        // Permit before pacing: in-flight work stays bounded while we wait our turn.
        let queued = rt.queue();
        let _permit = rt.permits.acquire().await;
        rt.pace(self.id.operation).await;
        drop(queued);
        rt.stats.sent();
        http::send(
            &self.ex.inner.client,
            &self.req,
            provider.timeout,
            provider.max_body_bytes,
        )
        .await
    }

    /// Classify an attempt; a response also sets the last status and feeds
    /// the vendor's rate headers to the pacer.
    pub(super) fn read(&mut self, attempt: Attempt) -> Answer {
        let p = self.provider;
        let (outcome, healthy) = match attempt {
            Attempt::Response {
                status,
                headers,
                body,
            } => return self.read_response(status, &headers, &body),
            Attempt::Timeout => (
                Outcome::Transient(format!("timed out after {:?}", p.timeout)),
                false,
            ),
            Attempt::Connection(m) => {
                (Outcome::Transient(format!("connection failed: {m}")), false)
            }
            // The vendor answered, too much: not a sign it is down.
            Attempt::TooLarge(n) => (
                Outcome::Permanent(format!(
                    "response body of {n} bytes exceeds max_body_bytes {}",
                    p.max_body_bytes
                )),
                true,
            ),
        };
        Answer::Classified { outcome, healthy }
    }

    /// Classify a response: a job id while submitting, else the operation's mapping.
    fn read_response(&mut self, status: u16, headers: &[(String, String)], body: &[u8]) -> Answer {
        self.last_status = Some(status);
        self.ex
            .observe_rate_headers(self.provider, self.rt, headers);
        let outcome = if self.phase == Phase::Submit {
            match classify_submit(self.op, status, headers, body) {
                Ok(job_id) => return Answer::Submitted(job_id),
                Err(o) => o,
            }
        } else {
            classify(self.op, &self.ex.inner.catalogue, status, headers, body)
        };
        let healthy = !matches!(outcome, Outcome::Transient(_));
        Answer::Classified { outcome, healthy }
    }
}

/// `Some(wait the vendor asked for)` when an answer is worth asking again
/// now (throttling, a pending answer, a transient failure); `None` for
/// answers and for failures a retry cannot cure.
pub(super) fn retry_after(o: &Outcome) -> Option<Option<Duration>> {
    match o {
        Outcome::RateLimited(ra) | Outcome::Pending(ra) => Some(*ra),
        Outcome::Transient(_) => Some(None),
        _ => None,
    }
}

/// A failed answer's ledger kind and message.
pub(super) fn describe(o: &Outcome) -> (&'static str, String) {
    match o {
        Outcome::RateLimited(_) => ("rate_limited", "rate limited (HTTP 429)".to_string()),
        Outcome::Pending(_) => ("pending", "answer still pending".to_string()),
        Outcome::Transient(m) => (
            if m.starts_with("timed out") {
                "timeout"
            } else {
                "transient"
            },
            m.clone(),
        ),
        Outcome::Permanent(m) => ("permanent", m.clone()),
        Outcome::AuthError(m) => ("auth_error", m.clone()),
        Outcome::QuotaExhausted(m) => ("quota_exhausted", m.clone()),
        Outcome::Hit { .. } | Outcome::NotFound { .. } => ("ok", String::new()),
    }
}
