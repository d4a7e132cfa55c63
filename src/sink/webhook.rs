//! The webhook target: one signed `POST` per event (scheme in
//! [`super::signature`]). 2xx is delivered; any other status, a timeout or a
//! connection error is a failed attempt for the retry loop in
//! [`super::deliver`]. Response bodies are never read: only the status counts.
//! Redirects are not followed (a signed delivery goes where it was configured).

use super::error::DeliveryError;
use super::signature::{sign, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::provider::Secret;
use bytes::Bytes;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use std::time::Duration;

/// A configured webhook with its HTTP client.
pub(crate) struct Webhook {
    client: reqwest::Client,
    url: url::Url,
    secret: Secret,
}

impl Webhook {
    /// Build the client (one per sink; `timeout` bounds each attempt).
    pub(crate) fn new(
        url: url::Url,
        secret: Secret,
        timeout: Duration,
    ) -> Result<Webhook, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("leadfall/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Webhook {
            client,
            url,
            secret,
        })
    }

    /// One attempt: sign `body` now and POST it.
    pub(crate) async fn post(&self, event_id: &str, body: Bytes) -> Result<(), DeliveryError> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(self.secret.expose(), timestamp, &body);
        // `event_id` is visible ASCII by construction (see `target::event_id`).
        let id = HeaderValue::from_str(event_id).map_err(|_| {
            DeliveryError::Task(format!("event id {event_id:?} is not a header value"))
        })?;
        let resp = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, id)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            // The URL may carry a token; it must not reach logs or dead-letter reasons.
            .map_err(|e| DeliveryError::Request(e.without_url()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Dropped unread: only the status matters, and the body is the receiver's.
        drop(resp);
        Err(DeliveryError::Status {
            status: status.as_u16(),
            retry_after,
        })
    }
}
