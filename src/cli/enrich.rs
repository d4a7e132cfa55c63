//! `leadfall enrich INPUT --out OUT.jsonl`: the engine in-process over a file.

use super::import::{detect_encoding, ColumnArgs};
use super::{render, Global, EXIT_CONFIG, EXIT_ROWS_REJECTED};
use crate::clock::SystemClock;
use crate::config;
use crate::engine::{enrich_file_with, BatchOptions, BatchReport, Engine};
use crate::import::ReadOptions;
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `enrich` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input file (.csv or .jsonl).
    pub input: PathBuf,
    /// Output file (JSON lines, one record with every field state per line).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Rejected rows (CSV with line and reason); default: `<out>.rejects.csv`.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Column mapping.
    #[command(flatten)]
    pub columns: ColumnArgs,
}

/// Run `enrich`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let settings = match config::load(&g.config, &config::process_env) {
        Ok(s) => Arc::new(s),
        Err(errs) => {
            eprint!("{errs}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    warn_disabled(&settings);
    // Before the store opens: a file that cannot be read fails fast.
    let read = ReadOptions {
        columns: args.columns.rules(),
        encoding: Some(detect_encoding(&args.input)?),
    };
    // The configured store: a shared database lends its cache and ledger.
    let store = crate::store::Opened::open(&settings.store, &settings.data_dir, true)
        .context("opening the store")?;
    let engine = Engine::from_settings(settings, store.calls(), Arc::new(SystemClock))?;
    let rejects = args.rejects.clone().unwrap_or_else(|| {
        let mut p = args.out.clone().into_os_string();
        p.push(".rejects.csv");
        p.into()
    });
    let opts = BatchOptions {
        progress: !args.no_progress && !g.json && std::io::stderr().is_terminal(),
        rejects,
    };
    let report = enrich_file_with(&engine, &args.input, &args.out, &opts, &read).await?;
    print_report(&report, g.json)?;
    Ok(exit_code(&report))
}

/// Say which providers are off for lack of a key, before any work starts.
pub fn warn_disabled(settings: &crate::config::Settings) {
    for p in settings.providers.iter() {
        if let Some(env) = &p.missing_key_env {
            eprintln!(
                "warning: provider {} is disabled: set {env} (fields it fills end `not_attempted`)",
                p.id
            );
        }
    }
}

/// Exit 0, or [`EXIT_ROWS_REJECTED`] when rows were rejected.
pub fn exit_code(report: &BatchReport) -> ExitCode {
    if report.import.rejected > 0 {
        ExitCode::from(EXIT_ROWS_REJECTED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Print a batch report as tables or JSON.
pub fn print_report(report: &BatchReport, json: bool) -> anyhow::Result<()> {
    if json {
        return render::json(report);
    }
    println!(
        "{} rows read: {} enriched, {} rejected, {} warnings{} · {:.1}s · output {}",
        report.import.rows,
        report.import.good,
        report.import.rejected,
        report.import.warnings,
        report
            .rejects_file
            .as_ref()
            .map(|p| format!(" (see {})", p.display()))
            .unwrap_or_default(),
        report.seconds,
        report.output.display()
    );
    print_tables(report)
}

/// The field and provider tables of a run.
pub fn print_tables(report: &BatchReport) -> anyhow::Result<()> {
    let s = &report.summary;
    let mut t = render::table(&["field", "from input", "filled", "unknown (by reason)"]);
    for (name, f) in &s.fields {
        let unknown = f
            .unknown
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        t.add_row([
            name.clone(),
            f.from_input.to_string(),
            f.filled.to_string(),
            unknown,
        ]);
    }
    println!("{t}");
    let mut t = render::table(&[
        "provider", "calls", "cached", "hits", "misses", "errors", "429s", "hit rate", "credits",
    ]);
    for (name, p) in &s.providers {
        let paid = p.calls - p.cached;
        t.add_row([
            name.clone(),
            p.calls.to_string(),
            p.cached.to_string(),
            p.hits.to_string(),
            p.misses.to_string(),
            p.errors.to_string(),
            p.throttled.to_string(),
            render::pct(p.hits, p.hits + p.misses),
            render::credits(p.credits),
        ]);
        let _ = paid;
    }
    println!("{t}");
    println!("credits spent: {}", render::credits(s.credits));
    Ok(())
}
