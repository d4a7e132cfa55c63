//! Why one delivery attempt failed. Every variant is retried (with backoff)
//! until the sink's `max_attempts`; the last one's text becomes the
//! dead-letter reason, so none of them may carry the secret, the signature or
//! the webhook URL (which can hold a token).

use std::time::Duration;

/// One failed delivery attempt.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Writing the JSON-lines file failed.
    #[error("writing {path}")]
    File {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing to stdout failed.
    #[error("writing to stdout")]
    Stdout(#[source] std::io::Error),
    /// The webhook answered with a status other than 2xx.
    #[error("webhook answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The receiver's `Retry-After`, when it sent one in seconds.
        retry_after: Option<Duration>,
    },
    /// The webhook request failed (connection, timeout); the URL is stripped.
    #[error("webhook request failed")]
    Request(#[source] reqwest::Error),
    /// The blocking write task panicked or was cancelled.
    #[error("delivery task failed: {0}")]
    Task(String),
}

impl DeliveryError {
    /// A wait the receiver asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// This error and its causes as one line (`a: b: c`), for logs and
    /// dead-letter reasons.
    pub fn chain(&self) -> String {
        crate::diag::error_chain(self)
    }
}
