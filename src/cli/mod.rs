//! The command line: clap types and one file per verb. A verb parses, calls the
//! library, and renders one result as a table or, with `--json`, as JSON.

mod check;
mod demo;
mod enrich;
mod export;
pub mod import;
mod init;
mod migrate;
mod provider;
mod reenrich;
mod reload;
// Public for the benchmark harness (`bench/`), which renders in the same style.
#[doc(hidden)]
pub mod render;
mod report;
mod sandbox;
mod search;
mod serve;
mod show;
mod signal;
mod starter;
mod status;

use crate::telemetry::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when the run finished but some input rows were rejected.
pub const EXIT_ROWS_REJECTED: u8 = 3;
/// Exit code when the configuration has errors (or none is found).
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a command line that does not parse (sysexits' EX_USAGE).
pub const EXIT_USAGE: u8 = 64;

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
    /// Configuration file [default: ./config/leadfall.toml, else
    /// $XDG_CONFIG_HOME/leadfall/leadfall.toml or ~/.config/leadfall/leadfall.toml].
    #[arg(
        long = "config",
        global = true,
        env = "LEADFALL_CONFIG",
        value_name = "FILE"
    )]
    pub config_flag: Option<PathBuf>,
    /// The configuration file in use, found by [`search`]'s order.
    #[arg(skip)]
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
    /// Set [`Global::config`] by the search order ([`search`]); false when no
    /// file exists (it is then the first place looked at).
    pub fn find_config(&mut self) -> bool {
        match search::find(self.config_flag.as_deref()) {
            Some(p) => {
                self.config = p;
                true
            }
            None => {
                self.config = search::candidates(self.config_flag.as_deref()).remove(0);
                false
            }
        }
    }

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
    /// Write a starter configuration for the real vendors and say which keys to export.
    Init(init::Args),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout.
    Man,
}

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

impl Command {
    /// Whether the verb reads the configuration (the others run without one;
    /// `demo` falls back to the embedded one).
    fn needs_config(&self) -> bool {
        !matches!(
            self,
            Command::Sandbox(_)
                | Command::Demo(_)
                | Command::Init(_)
                | Command::Completions(_)
                | Command::Man
        )
    }
}

/// Find the configuration (see [`search`]); `None` when a verb that needs one
/// has none, after saying where it looked and what to do.
fn locate(cli: &mut Cli) -> Option<()> {
    let g = &mut cli.global;
    match g.find_config() {
        true => {}
        false if g.config_flag.is_some() || !cli.command.needs_config() => {}
        false => {
            let looked: Vec<String> = search::candidates(None)
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            eprintln!(
                "error: no configuration found (looked at {}).\n\
                 Run `leadfall init` to write a starter configuration for the real vendors, \
                 pass --config FILE (or set LEADFALL_CONFIG), or try `leadfall demo`, which needs none.",
                looked.join(", ")
            );
            return None;
        }
    }
    Some(())
}

/// The process exit code of a verb's result; the error goes to stderr. A
/// closed pipe (`leadfall export | head`) is not an error.
pub fn exit_code(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Run a parsed command line.
pub fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    if locate(&mut cli).is_none() {
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
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
            Command::Init(a) => init::run(a, g),
            Command::Completions(a) => {
                let mut cmd = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(a.shell, &mut cmd, "leadfall", &mut std::io::stdout());
                Ok(ExitCode::SUCCESS)
            }
            Command::Man => {
                let cmd = <Cli as clap::CommandFactory>::command();
                clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
