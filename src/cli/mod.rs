//! The command line: clap types and one file per verb. A verb parses, calls the
//! library, and renders one result as a table or, with `--json`, as JSON.

mod check;
mod demo;
mod enrich;
mod export;
pub mod import;
mod migrate;
mod provider;
mod reenrich;
mod reload;
// Public for the benchmark harness (`bench/`), which renders in the same style.
#[doc(hidden)]
pub mod render;
mod report;
mod sandbox;
mod serve;
mod show;
mod signal;
mod status;

use crate::telemetry::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when the run finished but some input rows were rejected.
pub const EXIT_ROWS_REJECTED: u8 = 3;
/// Exit code when the configuration has errors.
pub const EXIT_CONFIG: u8 = 2;

/// leadfall: waterfall enrichment of B2B lead records with explicit unknowns.
#[derive(Debug, Parser)]
#[command(name = "leadfall", version, about)]
pub struct Cli {
    /// Options shared by every verb.
    #[command(flatten)]
    pub global: Global,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every verb.
#[derive(Debug, Args)]
pub struct Global {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        default_value = "config/leadfall.toml",
        env = "LEADFALL_CONFIG"
    )]
    pub config: PathBuf,
    /// Machine-readable JSON output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More logging (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Global {
    /// The default log level for the verbosity.
    pub fn log_level(&self) -> &'static str {
        match self.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    }
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the durable queue, workers and the control API on 127.0.0.1.
    Serve(serve::Args),
    /// Validate the configuration and every provider definition.
    Check(check::Args),
    /// Enrich a CSV or JSON-lines file in-process and write JSON lines.
    Enrich(enrich::Args),
    /// Serve the simulated providers on 127.0.0.1.
    Sandbox(sandbox::Args),
    /// Sandbox + daemon + sample leads imported and enriched + summary; no API keys needed.
    Demo(demo::Args),
    /// Send a lead file (CSV or JSON lines) to the running daemon; bad rows go to a rejects file.
    Import(import::Args),
    /// Queue records again (by id, field state, staleness, provider, route, or all); --dry-run prices it.
    Reenrich(reenrich::Args),
    /// Make the running daemon read its configuration again (as SIGHUP does) and rescore every lead.
    Reload(reload::Args),
    /// Show the daemon's queue, provider health and dead letters.
    Status(status::Args),
    /// Show one record: field states with provenance, history and signals.
    Show(show::Args),
    /// Export records from the daemon as JSON lines or CSV (with state columns).
    Export(export::Args),
    /// Record a behaviour event (pricing page visit, demo request) on a record.
    Signal(signal::Args),
    /// Provider cost/coverage report over a window: table, --json, --csv or --html FILE.
    Report(report::Args),
    /// Provider controls: `provider resume P` lifts a kill-switch pause.
    Provider(provider::Args),
    /// Create or upgrade the PostgreSQL schema; --from-sled DIR copies an embedded store into it.
    Migrate(migrate::Args),
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let g = &cli.global;
    rt.block_on(async {
        match cli.command {
            Command::Serve(a) => serve::run(a, g).await,
            Command::Check(a) => check::run(a, g),
            Command::Enrich(a) => enrich::run(a, g).await,
            Command::Sandbox(a) => sandbox::run(a, g).await,
            Command::Demo(a) => demo::run(a, g).await,
            Command::Import(a) => import::run(a, g).await,
            Command::Reenrich(a) => reenrich::run(a, g).await,
            Command::Reload(a) => reload::run(a, g).await,
            Command::Status(a) => status::run(a, g).await,
            Command::Show(a) => show::run(a, g).await,
            Command::Export(a) => export::run(a, g).await,
            Command::Signal(a) => signal::run(a, g).await,
            Command::Report(a) => report::run(a, g).await,
            Command::Provider(a) => provider::run(a, g).await,
            Command::Migrate(a) => migrate::run(a, g),
        }
    })
}
