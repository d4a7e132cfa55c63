//! `leadfall report`: the provider cost/coverage report over a window, as
//! tables, `--json`, `--csv` or an `--html FILE` page. Asks the running
//! daemon; when none runs on the data directory, reads the store directly.

use super::status::Connect;
use super::Global;
use crate::config;
use crate::report::{self, render, Report, Window};
use anyhow::Context;
use chrono::Utc;
use std::path::PathBuf;
use std::process::ExitCode;

/// `report` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How far back: `90m`, `24h`, `7d`, `4w` [default: 30d].
    #[arg(long, conflicts_with = "from")]
    pub since: Option<String>,
    /// Window start: a date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
    #[arg(long)]
    pub from: Option<String>,
    /// Window end (exclusive) [default: now].
    #[arg(long)]
    pub to: Option<String>,
    /// CSV on stdout (`section,key,subkey,measure,value`).
    #[arg(long, conflicts_with = "html")]
    pub csv: bool,
    /// Write a self-contained HTML page with charts to this file.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Where the daemon (or the data directory) is.
    #[command(flatten)]
    pub connect: Connect,
}

/// Run `report`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let window = Window::resolve(
        args.since.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
        now,
    )?;
    let report = fetch(&args.connect, g, window).await?;
    if let Some(path) = &args.html {
        std::fs::write(path, render::html(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !g.json {
            println!("wrote {}", path.display());
            return Ok(ExitCode::SUCCESS);
        }
    }
    if g.json {
        super::render::json(&report)?;
    } else if args.csv {
        print!("{}", render::csv(&report)?);
    } else {
        print!("{}", render::tables(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// From the daemon, or from the store when no daemon holds the data directory.
async fn fetch(connect: &Connect, g: &Global, window: Window) -> anyhow::Result<Report> {
    if connect.addr.is_some() {
        return Ok(connect.client(g)?.report(&window).await?);
    }
    let settings = config::load(&g.config, &config::process_env)
        .map_err(|errs| anyhow::anyhow!("cannot load {}:\n{errs}", g.config.display()))?;
    let data_dir = connect
        .data_dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.clone());
    let Ok(lock) = crate::daemon::lock::DataDirLock::acquire(&data_dir) else {
        // A daemon holds the directory: ask it.
        return Ok(connect.client_for(&settings)?.report(&window).await?);
    };
    tokio::task::spawn_blocking(move || {
        let _lock = lock;
        let store =
            crate::store::Store::open(&data_dir.join("store")).context("opening the store")?;
        let now = Utc::now();
        let budgets = crate::budget::Budgets::load(settings.budgets.clone(), &store, now)?;
        Ok(report::from_store(
            &store,
            &store,
            &settings.waterfall,
            window,
            budgets.usage(now),
            now,
        )?)
    })
    .await?
}
