//! `serve` wiring: store, lease recovery, membership (shared store), the
//! control API, the leaser and workers, the expired-lease sweeper, and the
//! drain on shutdown. Wiring only:
//! the rules live in the engine, the store and the control surface.

use super::lock::DataDirLock;
use super::worker::{run_leaser, WorkerContext};
use super::DaemonStats;
use crate::clock::SystemClock;
use crate::config::{Loader, Settings};
use crate::control::Control;
use crate::engine::{Engine, LiveEngine};
use crate::executor::Executor;
use crate::store::postgres::PgBudgetTally;
use crate::store::Opened;
use anyhow::Context;
use chrono::Utc;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often expired leases (a stuck worker) are put back on the queue.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Where the daemon tells clients its address.
pub fn addr_file(settings: &Settings) -> PathBuf {
    settings.data_dir.join("control.addr")
}

/// Run the daemon on `listener` until `shutdown` resolves, then drain for at
/// most `drain`. The caller holds `lock` (one daemon per data directory);
/// `loader` reads the configuration again on a reload.
pub async fn serve(
    listener: TcpListener,
    settings: Arc<Settings>,
    loader: Loader,
    lock: DataDirLock,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    let data_dir = settings.data_dir.clone();
    let store = Opened::open(&settings.store, &data_dir, true).context("opening the store")?;
    let records = store.records();
    let calls = store.calls();
    // sled: every lease belongs to a daemon that is gone (we hold the lock).
    // Shared: other daemons hold theirs; only expired ones and those of dead
    // members come back.
    let recovered = records.recover_leases(Utc::now(), store.postgres().is_some())?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "returned leases left by a previous run to the queue"
        );
    }
    let budgets = match store.postgres() {
        None => crate::budget::Budgets::load(settings.budgets.clone(), calls.as_ref(), Utc::now()),
        Some(pg) => crate::budget::Budgets::shared(
            settings.budgets.clone(),
            Arc::new(PgBudgetTally(pg.clone())),
            calls.as_ref(),
            Utc::now(),
        ),
    }
    .context("reading this month's spending for the budgets")?;
    let executor = Executor::with_durability(
        Arc::new(settings.providers.clone()),
        Arc::new(settings.catalogue.clone()),
        calls.clone(),
        Arc::new(SystemClock),
        true,
    )
    .with_budgets(Arc::new(budgets))
    .with_kill_switch(settings.kill_switch.clone());
    let engine = LiveEngine::new(Engine::new(
        settings.clone(),
        executor,
        Arc::new(SystemClock),
    ));
    let wake = Arc::new(tokio::sync::Notify::new());
    let stats = Arc::new(DaemonStats::default());
    let control = Control::new(
        records.clone(),
        engine.clone(),
        loader,
        wake.clone(),
        stats.clone(),
    )
    .with_shared_store(store.postgres().cloned());
    let token = crate::api::Token::load_or_create(&data_dir).context("control token")?;
    let addr = listener.local_addr()?;
    let app = crate::api::router(control.clone(), token);

    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    // A separate notify: the leaser's is used with notify_one.
    let sink_wake = Arc::new(tokio::sync::Notify::new());
    if let Some(pg) = store.postgres() {
        // Another daemon's import or outbox append wakes this one at once.
        pg.listen(super::members::Wakers {
            leaser: wake.clone(),
            sinks: sink_wake.clone(),
        })
        .context("listening for other daemons' writes")?;
    }
    // On a shared store: join the members before any lease or sink claim,
    // and pace at this daemon's share of every vendor limit.
    let membership = match store.postgres() {
        Some(pg) => Some(
            super::members::join(pg.clone(), engine.clone(), &addr.to_string())
                .await
                .context("joining the daemons sharing the store")?,
        ),
        None => None,
    };
    let sink_tasks = crate::sink::spawn_sinks(&records, &settings.sinks, &sink_wake, &cancel);
    let ctx = WorkerContext {
        store: records.clone(),
        engine,
        wake,
        sink_wake,
        stats,
        lease: settings.daemon.lease,
        min_requeue: settings.daemon.min_requeue,
    };
    let leaser = tokio::spawn(run_leaser(
        ctx,
        settings.daemon.workers,
        cancel.child_token(),
        tracker.clone(),
    ));
    let sweeper = {
        let cancel = cancel.child_token();
        let records = records.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SWEEP_EVERY) => {}
                    _ = cancel.cancelled() => break,
                }
                match records.recover_leases(Utc::now(), true) {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(n, "expired leases returned to the queue"),
                    Err(e) => tracing::error!(error = %e, "lease sweep failed"),
                }
            }
        })
    };
    // Intent decays: leads with signals are rescored on a tick.
    let rescanner = settings.daemon.rescore_every.map(|every| {
        let cancel = cancel.child_token();
        let control = control.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = cancel.cancelled() => break,
                }
                let c = control.clone();
                match tokio::task::spawn_blocking(move || c.rescan_signals(Utc::now())).await {
                    Ok(Ok(n)) => tracing::info!(n, "queued leads with signals for a decay rescore"),
                    Ok(Err(e)) => tracing::error!(error = %e, "decay rescan failed"),
                    Err(e) => tracing::error!(error = %e, "decay rescan task failed"),
                }
            }
        })
    });
    let hangup = spawn_reload_on_hangup(control.clone(), cancel.child_token())?;
    let api_cancel = CancellationToken::new();
    let api = {
        let stop = api_cancel.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        })
    };
    // Clients find the daemon here; written once the API is listening.
    let addr_path = data_dir.join("control.addr");
    let tmp = data_dir.join("control.addr.tmp");
    crate::data_dir::write_private(&tmp, format!("{addr}\n").as_bytes())?;
    std::fs::rename(&tmp, &addr_path)?;
    tracing::info!(%addr, data_dir = %data_dir.display(), lock = %lock.path().display(), "leadfall daemon serving");
    eprintln!(
        "leadfall daemon: control API on http://{addr}, data in {}",
        data_dir.display()
    );

    let outdated = async {
        match &membership {
            Some(m) => m.outdated().await,
            None => std::future::pending().await,
        }
    };
    let schema_moved = tokio::select! {
        () = shutdown => false,
        () = outdated => true,
    };
    tracing::info!("shutting down: no new leases; draining in-flight passes");
    cancel.cancel();
    let _ = leaser.await;
    let _ = sweeper.await;
    if let Some(r) = rescanner {
        let _ = r.await;
    }
    let _ = hangup.await;
    tracker.close();
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        tracing::warn!(
            ?drain,
            "drain deadline passed; unfinished passes are recovered at the next start"
        );
    }
    // Sinks stop between events (the cancel above reached them); undelivered
    // events stay in the outbox for the next start.
    for h in sink_tasks {
        if let Err(e) = h.await {
            tracing::error!(error = %e, "sink task failed");
        }
    }
    api_cancel.cancel();
    if let Ok(Err(e)) = api.await {
        tracing::error!(error = %e, "control API stopped with an error");
    }
    let _ = std::fs::remove_file(&addr_path);
    records.flush()?;
    if let Some(m) = membership {
        m.leave().await;
    }
    drop(lock);
    if schema_moved {
        anyhow::bail!("a newer leadfall migrated the shared store's schema; upgrade this binary");
    }
    Ok(())
}

/// SIGHUP reloads the configuration, as `leadfall reload` does; a bad file is
/// logged with every error and the daemon keeps its running configuration.
fn spawn_reload_on_hangup(
    control: Control,
    cancel: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                got = hup.recv() => if got.is_none() { break },
                _ = cancel.cancelled() => break,
            }
            let c = control.clone();
            match tokio::task::spawn_blocking(move || c.reload(Utc::now())).await {
                Ok(Ok(s)) => eprintln!(
                    "leadfall daemon: SIGHUP: configuration reloaded (changed: {}; {} records queued)",
                    if s.changed.is_empty() { "nothing".to_string() } else { s.changed.join(", ") },
                    s.queued
                ),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "SIGHUP: the configuration has errors; still running with the previous one");
                    eprintln!("leadfall daemon: SIGHUP: the configuration has errors; still running with the previous one:\n{e}");
                }
                Err(e) => tracing::error!(error = %e, "reload task failed"),
            }
        }
    }))
}
