//! A daemon on a shared store is a member: it registers with its control
//! address, beats every [`HEARTBEAT_EVERY`], and paces every vendor at its
//! share of the limit (the limit split in whole requests over the live
//! members, see [`crate::executor::share_of`]), re-read at each beat.
//!
//! Why share-of-limit and not a token bucket in the database: the vendors'
//! limits are the hot path (every request), and a bucket would put a database
//! round trip before each one; a share costs nothing per request and only
//! moves when a daemon joins or dies. The price is a daemon idle on a vendor
//! leaves its share unused. Joining is safe because a new member waits
//! [`SETTLE`] (others see it within one beat and slow down) before it sends
//! anything; a dead member's share comes back only when its heartbeat is
//! [`LIVE_SECS`] old, so the sum never passes the limit.

use crate::engine::LiveEngine;
use crate::store::postgres::PgStore;
#[cfg(doc)]
use crate::store::postgres::LIVE_SECS;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a member beats and re-reads the membership.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long a new member waits before its first lease: two beats of the others.
pub const SETTLE: Duration = Duration::from_secs(2);

/// What a notification from another daemon wakes.
#[derive(Debug)]
pub struct Wakers {
    /// The leaser (records were queued).
    pub leaser: std::sync::Arc<tokio::sync::Notify>,
    /// The sinks (outbox events were committed).
    pub sinks: std::sync::Arc<tokio::sync::Notify>,
}

impl crate::store::postgres::Wake for Wakers {
    fn queued(&self) {
        self.leaser.notify_one();
    }

    fn outbox(&self) {
        self.sinks.notify_waiters();
    }
}

/// This daemon's membership; [`Membership::leave`] ends it.
#[derive(Debug)]
pub struct Membership {
    store: PgStore,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// Cancelled when a newer leadfall has migrated the schema: this daemon
    /// must stop rather than write into a schema it does not know.
    outdated: CancellationToken,
}

/// Pace every provider of the current engine at this member's part of its
/// limits (`n` live members, this one `rank`th).
fn apply_share(engine: &LiveEngine, (n, rank): (u32, u32)) {
    let executor = engine.executor();
    for id in engine.settings().providers.ids() {
        if let Some(rt) = executor.runtime(id) {
            rt.set_share(n, rank);
        }
    }
}

/// Register, take this daemon's share, wait [`SETTLE`], and keep beating
/// until [`Membership::leave`] (not on the drain's cancel: the heartbeat must
/// outlive the drain, or others would take back leases still being worked).
pub async fn join(store: PgStore, engine: LiveEngine, listen: &str) -> anyhow::Result<Membership> {
    let (s, l) = (store.clone(), listen.to_string());
    let n = tokio::task::spawn_blocking(move || {
        s.register(&l)?;
        s.heartbeat()
    })
    .await??;
    apply_share(&engine, n);
    tracing::info!(
        member = store.member_id(),
        live = n.0,
        rank = n.1,
        "joined the daemons sharing the store"
    );
    tokio::time::sleep(SETTLE).await;
    let (stop, outdated) = (CancellationToken::new(), CancellationToken::new());
    let task = {
        let (store, stop, outdated) = (store.clone(), stop.clone(), outdated.clone());
        tokio::spawn(async move {
            let mut last = n;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                    _ = stop.cancelled() => break,
                }
                let s = store.clone();
                let beat = move || {
                    let n = s.heartbeat()?;
                    s.refuse_newer(s.schema_version()?.0).map(|()| n)
                };
                match tokio::task::spawn_blocking(beat).await {
                    Ok(Err(e @ crate::store::StoreError::SchemaTooNew { .. })) => {
                        tracing::error!(error = %e, "stopping: the shared store's schema moved on");
                        outdated.cancel();
                        break;
                    }
                    Ok(Ok(n)) => {
                        // Every beat: a reload may have built new limiters.
                        apply_share(&engine, n);
                        if n != last {
                            tracing::info!(
                                live = n.0,
                                rank = n.1,
                                "membership changed; vendor limits re-shared"
                            );
                            last = n;
                        }
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "heartbeat failed"),
                    Err(e) => tracing::error!(error = %e, "heartbeat task failed"),
                }
            }
        })
    };
    Ok(Membership {
        store,
        stop,
        task,
        outdated,
    })
}

impl Membership {
    /// Resolves when a newer leadfall has migrated the shared schema.
    pub async fn outdated(&self) {
        self.outdated.cancelled().await
    }

    /// Stop beating and leave: leases still held go back to the queue now.
    pub async fn leave(self) {
        self.stop.cancel();
        let _ = self.task.await;
        let s = self.store.clone();
        match tokio::task::spawn_blocking(move || s.deregister()).await {
            Ok(Ok(())) => tracing::info!("left the daemons sharing the store"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "could not leave the membership; others take over when its heartbeat ages")
            }
            Err(e) => tracing::error!(error = %e, "leave task failed"),
        }
    }
}
