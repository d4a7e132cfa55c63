//! `leadfall report`: the provider cost/coverage report over a window, as
//! tables, `--json`, `--csv` or an `--html FILE` page; `--advise` prints the
//! waterfall order advice instead, and `--apply` writes it into the config.
//! Asks the running daemon; when none runs on the data directory, reads the
//! store directly.

use super::status::Connect;
use super::Global;
use crate::advisor::{Advice, FieldAdvice};
use crate::config::{self, Settings};
use crate::report::{self, render, Window};
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
    #[arg(long, conflicts_with_all = ["html", "advise"])]
    pub csv: bool,
    /// Write a self-contained HTML page with charts to this file.
    #[arg(long, conflicts_with = "advise")]
    pub html: Option<PathBuf>,
    /// Suggest, per field and segment, the provider order with the fewest
    /// expected credits per filled field (reads the window's ledger rows).
    #[arg(long)]
    pub advise: bool,
    /// With --advise: write the suggestions into the config file (a backup is kept).
    #[arg(long, requires = "advise")]
    pub apply: bool,
    /// Where the daemon (or the data directory) is.
    #[command(flatten)]
    pub connect: Connect,
}

/// Where the data comes from.
enum Source {
    Daemon(crate::client::Client),
    Local(Box<Settings>, PathBuf, crate::daemon::lock::DataDirLock),
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
    let source = source(&args.connect, g)?;
    if args.advise {
        let advice = match source {
            Source::Daemon(c) => c.advice(&window).await?,
            Source::Local(settings, dir, lock) => {
                local(settings.store.clone(), dir, lock, move |records, calls| {
                    Ok(crate::advisor::from_store(
                        records,
                        calls,
                        &settings.waterfall,
                        &settings.advisor,
                        &window,
                    )?)
                })
                .await?
            }
        };
        return advise(&advice, args.apply, g);
    }
    let report = match source {
        Source::Daemon(c) => c.report(&window).await?,
        Source::Local(settings, dir, lock) => {
            local(settings.store.clone(), dir, lock, move |records, calls| {
                let now = Utc::now();
                let budgets = crate::budget::Budgets::load(settings.budgets.clone(), calls, now)?;
                Ok(report::from_store(
                    records,
                    calls,
                    &settings.waterfall,
                    window,
                    budgets.usage(now),
                    now,
                )?)
            })
            .await?
        }
    };
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

/// The daemon when one holds the data directory (or `--addr` names one), else the store.
fn source(connect: &Connect, g: &Global) -> anyhow::Result<Source> {
    if connect.addr.is_some() {
        return Ok(Source::Daemon(connect.client(g)?));
    }
    let settings = config::load(&g.config, &config::process_env)
        .map_err(|errs| anyhow::anyhow!("cannot load {}:\n{errs}", g.config.display()))?;
    let data_dir = connect
        .data_dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.clone());
    match crate::daemon::lock::DataDirLock::acquire(&data_dir) {
        Ok(lock) => Ok(Source::Local(Box::new(settings), data_dir, lock)),
        // A daemon holds the directory: ask it.
        Err(_) => Ok(Source::Daemon(connect.client_for(&settings)?)),
    }
}

/// Run `f` over the configured store (sled in `dir`, or the shared
/// database) on the blocking pool, holding the data directory lock.
async fn local<T: Send + 'static>(
    backend: crate::store::Backend,
    dir: PathBuf,
    lock: crate::daemon::lock::DataDirLock,
    f: impl FnOnce(&dyn crate::store::RecordStore, &dyn crate::store::CallStore) -> anyhow::Result<T>
        + Send
        + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(move || {
        let _lock = lock;
        let store =
            crate::store::Opened::open(&backend, &dir, false).context("opening the store")?;
        f(store.records().as_ref(), store.calls().as_ref())
    })
    .await?
}

fn advise(advice: &Advice, apply: bool, g: &Global) -> anyhow::Result<ExitCode> {
    let applied = if apply {
        Some(crate::advisor::apply(&g.config, advice, Utc::now(), |p| {
            crate::config::load(p, &crate::config::process_env)
                .map(drop)
                .map_err(|e| e.to_string())
        })?)
    } else {
        None
    };
    if g.json {
        super::render::json(&serde_json::json!({ "advice": advice, "applied": applied }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = super::render::table(&[
        "field",
        "segment",
        "order now",
        "suggested",
        "credits/fill now → suggested",
        "evidence (records, hit rate, credits/ask)",
    ]);
    for a in &advice.fields {
        t.add_row(advice_row(a));
    }
    println!("{t}");
    println!(
        "(expected credits per filled field, assuming independent coverage; a segment needs every provider to have answered about {} records)",
        advice.min_records
    );
    if let Some(applied) = applied {
        if applied.changes.is_empty() {
            println!("nothing to apply: every order is already the suggested one");
        }
        for c in &applied.changes {
            println!("applied {c}");
        }
        println!(
            "wrote {} (backup: {})",
            g.config.display(),
            applied.backup.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn advice_row(a: &FieldAdvice) -> Vec<String> {
    let n = |x: Option<f64>| render::num(x);
    let evidence = a
        .evidence
        .iter()
        .map(|e| {
            format!(
                "{}: {}, {:.0}%, {}",
                e.operation,
                e.records,
                e.hit_rate * 100.0,
                render::num(Some(e.cost_per_ask))
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (suggested, cost) = match (&a.suggested, &a.refused) {
        (_, Some(why)) => (format!("none: {why}"), String::new()),
        (Some(s), None) if !a.changes() => (
            format!("keep ({})", s.join(", ")),
            n(a.current_credits_per_fill),
        ),
        (Some(s), None) => (
            s.join(", "),
            format!(
                "{} → {} (saves {}{})",
                n(a.current_credits_per_fill),
                n(a.suggested_credits_per_fill),
                n(a.saving_per_fill),
                a.current_credits_per_fill
                    .zip(a.saving_per_fill)
                    .filter(|(c, _)| *c > 0.0)
                    .map(|(c, s)| format!(", {:.0}%", 100.0 * s / c))
                    .unwrap_or_default()
            ),
        ),
        (None, None) => (String::new(), String::new()),
    };
    vec![
        a.field.clone(),
        a.segment.clone(),
        a.current.join(", "),
        suggested,
        cost,
        evidence,
    ]
}
