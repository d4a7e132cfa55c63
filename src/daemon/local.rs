//! The daemon inside this process, for `demo` and `leadfall-bench`: the
//! same `serve` on a free loopback port, with a client that is ready once
//! the API answers.

use super::lock::DataDirLock;
use crate::client::Client;
use crate::config::{Loader, Settings};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A daemon running on this runtime.
#[derive(Debug)]
pub struct LocalDaemon {
    /// A client for its control API.
    pub client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl LocalDaemon {
    /// Start `serve` on 127.0.0.1:0 for `settings` and wait until its API
    /// answers; `loader` gives the settings again on a reload.
    pub async fn start(
        settings: Settings,
        loader: Loader,
        drain: Duration,
    ) -> anyhow::Result<LocalDaemon> {
        let data_dir = settings.data_dir.clone();
        let lock = DataDirLock::acquire(&data_dir)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(super::serve(
            listener,
            Arc::new(settings),
            loader,
            lock,
            async {
                let _ = stop_rx.await;
            },
            drain,
        ));
        // The daemon writes its address once the API listens.
        loop {
            if task.is_finished() {
                return match task.await? {
                    Err(e) => Err(e.context("the daemon stopped")),
                    Ok(()) => Err(anyhow::anyhow!("the daemon stopped")),
                };
            }
            if let Ok(client) = Client::from_data_dir(&data_dir) {
                if client.health().await.is_ok() {
                    return Ok(LocalDaemon { client, stop, task });
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Poll `status` until nothing is due or leased; `progress(passes, queued, leased)` sees each poll.
    pub async fn wait_idle(&self, mut progress: impl FnMut(u64, u64, u64)) -> anyhow::Result<()> {
        loop {
            let s = self.client.status().await?;
            progress(s.passes_since_start, s.queued_due, s.leased);
            if s.queued_due == 0 && s.leased == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM-like stop: drain and wait for `serve` to return.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}
