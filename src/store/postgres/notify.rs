//! Cross-daemon wake-ups: a write that queues work (`leadfall_queue`) or
//! appends outbox events (`leadfall_outbox`) sends a PostgreSQL notification
//! in its transaction (delivered on commit); every daemon listens on one
//! connection of its own and wakes its leaser or its sinks. Without it an idle
//! daemon would only see another's import at its next poll. Losing the
//! listening connection costs latency only: the pollers still run.

use super::{pg_message, PgStore};
use crate::store::StoreError;
use futures::StreamExt;

/// Channel: records were queued.
pub(super) const QUEUE: &str = "leadfall_queue";
/// Channel: outbox events were committed.
pub(super) const OUTBOX: &str = "leadfall_outbox";

/// Wakes a daemon's leaser and sinks when another daemon writes.
pub trait Wake: Send + Sync + 'static {
    /// Records were queued.
    fn queued(&self);
    /// Outbox events were committed.
    fn outbox(&self);
}

impl PgStore {
    /// Listen for notifications on a connection of its own, calling `wake`
    /// until the store is dropped (or the connection fails, which is logged).
    pub fn listen(&self, wake: impl Wake) -> Result<(), StoreError> {
        let config = self.inner.url.config().clone();
        let rt = self.inner.rt.as_ref().expect("runtime present until drop");
        let url = self.inner.url.to_string();
        let client = self.block(async {
            let (client, mut conn) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| StoreError::Open(url.clone(), pg_message(&e)))?;
            let url = url.clone();
            tokio::spawn(async move {
                let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
                while let Some(m) = messages.next().await {
                    match m {
                        Ok(tokio_postgres::AsyncMessage::Notification(n)) => match n.channel() {
                            QUEUE => wake.queued(),
                            OUTBOX => wake.outbox(),
                            _ => {}
                        },
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(database = %url, error = %pg_message(&e), "notification connection lost; falling back to polling");
                            break;
                        }
                    }
                }
            });
            client
                .batch_execute(&format!("LISTEN {QUEUE}; LISTEN {OUTBOX}"))
                .await?;
            Ok::<_, StoreError>(client)
        })?;
        // The client must live as long as the listening: park it on the runtime.
        rt.spawn(async move {
            let _client = client;
            std::future::pending::<()>().await;
        });
        Ok(())
    }
}

/// `SELECT pg_notify(channel)` inside a transaction (sent at commit).
pub(super) async fn notify(
    tx: &tokio_postgres::Transaction<'_>,
    channel: &str,
) -> Result<(), StoreError> {
    tx.execute("SELECT pg_notify($1, '')", &[&channel]).await?;
    Ok(())
}
