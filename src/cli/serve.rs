//! `leadfall serve`: run the daemon in the foreground (systemd runs it so).

use super::{Global, EXIT_CONFIG};
use crate::config;
use crate::daemon::{self, lock::DataDirLock};
use anyhow::Context;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// `serve` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to let in-flight passes finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub drain_secs: u64,
    /// Control API address for this run (overrides `daemon.listen`; port 0 picks one).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Allow a non-loopback `--listen`.
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// Serve the API and keep the queue, but work no records (bulk loads, inspection).
    #[arg(long)]
    pub no_workers: bool,
}

/// Resolves at the first SIGINT or SIGTERM; a second one exits at once (the
/// leases left behind are recovered at the next start).
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, only a kill stops us; wait forever.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("leadfall daemon: draining (a second signal exits at once)");
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("leadfall daemon: second signal, exiting now");
        std::process::exit(130);
    });
}

/// Run `serve`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    // A reload reads the same file with the same command-line overrides.
    let (path, listen, no_workers) = (g.config.clone(), args.listen, args.no_workers);
    let loader = config::Loader::new(move || {
        let mut s = config::load(&path, &config::process_env)?;
        if let Some(addr) = listen {
            s.daemon.listen = addr;
        }
        if no_workers {
            s.daemon.workers = 0;
        }
        Ok(s)
    });
    if let Some(addr) = args.listen {
        if !addr.ip().is_loopback() && !args.allow_non_loopback {
            anyhow::bail!("--listen {addr} is not a loopback address; add --allow-non-loopback to expose the control API");
        }
    }
    let settings = match loader.load() {
        Ok(s) => s,
        Err(errs) => {
            eprint!("{errs}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    super::enrich::warn_disabled(&settings);
    if let Some(w) = crate::data_dir::loose_mode_warning(&settings.data_dir) {
        eprintln!("{w}");
    }
    // The lock first: a second daemon gets "already running", not "address in use".
    let lock = DataDirLock::acquire(&settings.data_dir)?;
    let listener = tokio::net::TcpListener::bind(settings.daemon.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.daemon.listen))?;
    daemon::serve(
        listener,
        Arc::new(settings),
        loader,
        lock,
        shutdown_signal(),
        Duration::from_secs(args.drain_secs),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
