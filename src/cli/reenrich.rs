//! `leadfall reenrich`: select records (by id, field state, staleness,
//! provider, route, or all) and queue them again in the running daemon; or,
//! with `--dry-run`, count them and price the worst case. `--wait` follows the
//! queue until the work is done.

use super::status::Connect;
use super::{render, Global};
use crate::control::{ReenrichRequest, ReenrichSummary, Selector, Status};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How often `--wait` asks the daemon.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// `reenrich` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// This record (repeat for more).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Records where this field is in `--state`.
    #[arg(long, requires = "state")]
    pub field: Option<String>,
    /// The state for `--field`: `known`, `unknown`, or an unknown reason (`not_found`, ...).
    #[arg(long, requires = "field")]
    pub state: Option<String>,
    /// Records holding a stale value.
    #[arg(long)]
    pub stale: bool,
    /// Records with a value from this provider (`mailfinder` or `mailfinder.email-finder`).
    #[arg(long)]
    pub provider: Option<String>,
    /// Records on this route.
    #[arg(long)]
    pub route: Option<String>,
    /// Every record (the other selectors narrow it down when given).
    #[arg(long)]
    pub all: bool,
    /// Count and price only; queue nothing.
    #[arg(long, conflicts_with = "wait")]
    pub dry_run: bool,
    /// Wait until nothing is due or leased any more.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub wait_timeout_secs: u64,
    /// Where the daemon is.
    #[command(flatten)]
    pub connect: Connect,
}

impl Args {
    fn selector(&self) -> Selector {
        Selector {
            ids: self.ids.clone(),
            field: self.field.clone(),
            state: self.state.clone(),
            stale: self.stale,
            provider: self.provider.clone(),
            route: self.route.clone(),
            all: self.all,
        }
    }
}

/// Run `reenrich`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let selector = args.selector();
    // An empty selector would mean "nothing" to the daemon, but to a person it
    // usually means they forgot the flag: say which ones exist.
    if selector == Selector::default() {
        anyhow::bail!(
            "nothing selected: give --id ID, --field F --state S, --stale, --provider P, \
             --route R, or --all (add --dry-run to see the count and cost first)"
        );
    }
    let client = args.connect.client(g)?;
    let summary = client
        .reenrich(&ReenrichRequest {
            selector,
            dry_run: args.dry_run,
        })
        .await?;
    if !g.json {
        print_summary(&summary);
    }
    let waited = if args.wait && summary.queued > 0 {
        let progress = !g.json && std::io::stderr().is_terminal();
        Some(
            wait(
                &client,
                Duration::from_secs(args.wait_timeout_secs),
                progress,
            )
            .await?,
        )
    } else {
        None
    };
    if g.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            summary: &'a ReenrichSummary,
            #[serde(skip_serializing_if = "Option::is_none")]
            waited_secs: Option<f64>,
        }
        render::json(&Out {
            summary: &summary,
            waited_secs: waited.map(|d| d.as_secs_f64()),
        })?;
    } else if let Some(d) = waited {
        println!("done: nothing due or leased after {:.1}s", d.as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &ReenrichSummary) {
    if s.dry_run {
        println!(
            "dry run: {} records match; queueing them could cost at most {} credits",
            s.matched,
            render::credits(s.max_credits)
        );
    } else {
        println!(
            "{} records matched, {} queued (at most {} credits)",
            s.matched,
            s.queued,
            render::credits(s.max_credits)
        );
    }
}

/// Poll `status` until nothing is due or leased; returns the time waited.
async fn wait(
    client: &crate::client::Client,
    timeout: Duration,
    progress: bool,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let bar = if progress {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} done {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut most = 0u64;
    let mut tick = tokio::time::interval(WAIT_POLL);
    loop {
        tick.tick().await;
        let s: Status = client.status().await?;
        let left = s.queued_due + s.leased;
        // The total is the most ever seen outstanding: upserts may add work meanwhile.
        most = most.max(left);
        bar.set_length(most);
        bar.set_position(most - left);
        bar.set_message(format!(
            "{} due, {} leased, {} dead",
            s.queued_due, s.leased, s.dead
        ));
        if left == 0 {
            bar.finish_and_clear();
            return Ok(started.elapsed());
        }
        if started.elapsed() >= timeout {
            bar.abandon();
            anyhow::bail!(
                "gave up waiting after {}s: {} records still due, {} leased (the daemon keeps working)",
                timeout.as_secs(),
                s.queued_due,
                s.leased
            );
        }
    }
}
