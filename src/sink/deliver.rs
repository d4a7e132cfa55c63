//! The delivery loop: one task per sink walks the outbox after the sink's
//! cursor, in order, and delivers each event at least once.
//!
//! The cursor moves only after an event was delivered (the file synced, stdout
//! flushed, the webhook's 2xx received), so a crash re-delivers at most the
//! event in flight. A failed attempt is retried with the backoff of
//! [`crate::retry`]; after `max_attempts` the event is dead-lettered with the
//! last error as the reason (which also moves the cursor) and the sink goes on.
//! Cancellation is honoured between attempts and between events, never inside
//! one (a webhook attempt is bounded by its timeout). Store calls are blocking
//! sled calls and run on the blocking pool.

use super::config::Sink;
use super::target::{event_id, Target};
use crate::provider::RetryPolicy;
use crate::retry::RetrySchedule;
use crate::store::{RecordStore, StoreError};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Events read from the outbox per store call.
pub const BATCH: usize = 256;
/// How often a caught-up sink looks for new events when nobody wakes it.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// Backoff between attempts at one event; the number of attempts is the sink's
/// `max_attempts`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkBackoff {
    /// First wait (jittered, doubling).
    pub initial: Duration,
    /// Longest wait; also caps a receiver's `Retry-After`.
    pub max: Duration,
    /// Total time spent on one event before it is dead-lettered even if
    /// attempts remain.
    pub max_elapsed: Duration,
}

impl Default for SinkBackoff {
    /// 200 ms doubling to 30 s, at most 10 minutes per event: the default 8
    /// attempts fit well inside (about a minute at worst), so `max_attempts` is
    /// what normally decides.
    fn default() -> Self {
        SinkBackoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(600),
        }
    }
}

impl SinkBackoff {
    fn policy(&self, max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            initial_backoff: self.initial,
            max_backoff: self.max,
            max_elapsed: self.max_elapsed,
            max_retry_after: self.max,
        }
    }
}

/// Deliver `sink`'s events until `cancel`, with the default backoff. `wake` is
/// notified (with `notify_waiters`) when new events are committed; without it
/// a caught-up sink still looks every [`POLL_EVERY`].
pub async fn run_sink(
    store: Arc<dyn RecordStore>,
    sink: Sink,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    run_sink_with(store, sink, SinkBackoff::default(), wake, cancel).await;
}

/// [`run_sink`] with an explicit backoff (tests use milliseconds).
pub async fn run_sink_with(
    store: Arc<dyn RecordStore>,
    sink: Sink,
    backoff: SinkBackoff,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let span = tracing::info_span!("sink", sink = %sink.name);
    SinkLoop {
        policy: backoff.policy(sink.max_attempts),
        store,
        sink,
        wake,
        cancel,
    }
    .run()
    .instrument(span)
    .await;
}

/// Start one [`run_sink`] task per sink, each with a child of `cancel`.
/// Await the handles after cancelling to know every sink has stopped.
pub fn spawn_sinks(
    store: &Arc<dyn RecordStore>,
    sinks: &[Sink],
    wake: &Arc<Notify>,
    cancel: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    sinks
        .iter()
        .map(|sink| {
            tokio::spawn(run_sink(
                store.clone(),
                sink.clone(),
                wake.clone(),
                cancel.child_token(),
            ))
        })
        .collect()
}

/// A store call failed or its blocking task did not finish.
#[derive(Debug, thiserror::Error)]
enum StoreCallError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("store task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// How one event ended.
enum Outcome {
    Delivered,
    /// Attempts exhausted; the reason is the last error.
    GaveUp(String),
    Cancelled,
}

struct SinkLoop {
    store: Arc<dyn RecordStore>,
    sink: Sink,
    policy: RetryPolicy,
    wake: Arc<Notify>,
    cancel: CancellationToken,
}

impl SinkLoop {
    async fn run(self) {
        let target = match Target::new(&self.sink) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "sink stopped: cannot build its HTTP client");
                return;
            }
        };
        while !self.cancel.is_cancelled() {
            // Register for a wake-up before reading, so events committed (and
            // notified) between the read and the wait are not missed.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let name = self.sink.name.clone();
            let batch = self
                .on_store(move |s| {
                    // Another daemon sharing the store sends this sink: wait
                    // (a poll period) and ask again; it may have died.
                    if !s.claim_sink(&name)? {
                        return Ok(Vec::new());
                    }
                    s.outbox_after(s.outbox_cursor(&name)?, BATCH)
                })
                .await;
            match batch {
                Ok(batch) if batch.is_empty() => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep(POLL_EVERY) => {}
                        _ = self.cancel.cancelled() => return,
                    }
                }
                Ok(batch) => {
                    if !self.deliver_batch(&target, batch).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading the outbox failed; retrying");
                    if !self.pause().await {
                        return;
                    }
                }
            }
        }
    }

    /// Deliver a batch in order; false when cancelled.
    async fn deliver_batch(&self, target: &Target, batch: Vec<(u64, Vec<u8>)>) -> bool {
        for (seq, bytes) in batch {
            if self.cancel.is_cancelled() {
                return false;
            }
            let event = Bytes::from(bytes);
            let id = event_id(seq, &event);
            let name = self.sink.name.clone();
            let stored = match self.deliver_one(target, seq, &id, &event).await {
                Outcome::Cancelled => return false,
                Outcome::Delivered => {
                    tracing::debug!(seq, event_id = %id, "event delivered");
                    self.on_store(move |s| s.set_outbox_cursor(&name, seq))
                        .await
                }
                Outcome::GaveUp(reason) => {
                    tracing::warn!(seq, event_id = %id, %reason, "event dead-lettered; going on");
                    self.on_store(move |s| s.outbox_dead_letter(&name, seq, &reason))
                        .await
                }
            };
            if let Err(e) = stored {
                // The cursor did not move: the event is delivered again (at least once).
                tracing::error!(seq, error = %e, "moving the sink cursor failed; retrying");
                return self.pause().await;
            }
        }
        // The batch's cursor moves (and dead letters) reach the disk together:
        // after a crash the sink resumes where it said it was.
        if let Err(e) = self.on_store(|s| s.flush()).await {
            tracing::error!(error = %e, "flushing the sink cursor failed; retrying");
            return self.pause().await;
        }
        true
    }

    /// Attempt one event until it is delivered, attempts run out, or cancel.
    async fn deliver_one(&self, target: &Target, seq: u64, id: &str, event: &Bytes) -> Outcome {
        let mut schedule = RetrySchedule::new(self.policy);
        loop {
            let attempt = schedule.attempts();
            let err = match target.deliver(id, event).await {
                Ok(()) => return Outcome::Delivered,
                Err(e) => e,
            };
            let error = err.chain();
            let retry_after = err
                .retry_after()
                .map(|d| d.min(self.policy.max_retry_after));
            let Some(delay) = schedule.next_delay(retry_after, false) else {
                return Outcome::GaveUp(format!("{error} (attempt {attempt})"));
            };
            tracing::warn!(seq, event_id = %id, attempt, %error, ?delay, "delivery failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.cancel.cancelled() => return Outcome::Cancelled,
            }
        }
    }

    /// Wait [`POLL_EVERY`] after a store error; false when cancelled.
    async fn pause(&self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => true,
            _ = self.cancel.cancelled() => false,
        }
    }

    async fn on_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn RecordStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreCallError> {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(store.as_ref())).await??)
    }
}
