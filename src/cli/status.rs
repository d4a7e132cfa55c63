//! `leadfall status`: queue counts, provider health and dead letters from the
//! running daemon. Also home of [`Connect`], the flags every daemon-facing
//! verb shares to find the daemon.

use super::{render, Global};
use crate::client::Client;
use crate::config::{self, Settings};
use crate::control::Status;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// How to reach the daemon: its data directory (which holds `control.addr`
/// and `control.token`), or an explicit address and token file.
#[derive(Debug, Clone, clap::Args)]
pub struct Connect {
    /// The daemon's data directory [default: the config's `data_dir`].
    #[arg(long, conflicts_with = "addr")]
    pub data_dir: Option<PathBuf>,
    /// The control API address (`127.0.0.1:41234` or a URL); needs --token-file.
    #[arg(long, requires = "token_file")]
    pub addr: Option<String>,
    /// The file holding the control token (with --addr).
    #[arg(long, requires = "addr")]
    pub token_file: Option<PathBuf>,
}

impl Connect {
    /// The client, with the config's `data_dir` as the default directory.
    pub fn client(&self, g: &Global) -> anyhow::Result<Client> {
        self.build(|| {
            config::data_dir_of(&g.config).map_err(|errs| {
                anyhow::anyhow!(
                    "cannot read {} to find the data directory (or pass --data-dir):\n{errs}",
                    g.config.display()
                )
            })
        })
    }

    /// The client, with `settings.data_dir` as the default directory.
    pub fn client_for(&self, settings: &Settings) -> anyhow::Result<Client> {
        self.build(|| Ok(settings.data_dir.clone()))
    }

    fn build(&self, data_dir: impl FnOnce() -> anyhow::Result<PathBuf>) -> anyhow::Result<Client> {
        if let (Some(addr), Some(file)) = (&self.addr, &self.token_file) {
            let token = crate::api::Token::read(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?;
            return Ok(Client::new(addr, token)?);
        }
        let dir = match &self.data_dir {
            Some(d) => d.clone(),
            None => data_dir()?,
        };
        Ok(Client::from_data_dir(&dir)?)
    }
}

/// `status` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the daemon is.
    #[command(flatten)]
    pub connect: Connect,
}

/// Run `status`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let client = args.connect.client(g)?;
    let status = client.status().await?;
    if g.json {
        render::json(&status)?;
    } else {
        print_status(&status);
    }
    Ok(ExitCode::SUCCESS)
}

/// A duration in its largest whole unit: `45s`, `12m`, `5h`, `3d`.
pub fn human_secs(secs: i64) -> String {
    let (sign, s) = if secs < 0 { ("-", -secs) } else { ("", secs) };
    let text = match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    };
    format!("{sign}{text}")
}

fn print_status(s: &Status) {
    // First, so nobody misses it: work is stuck behind a lease nobody holds.
    if s.expired_leases > 0 {
        println!(
            "WARNING: {} lease(s) expired and were not recovered{}: those records are stuck; \
             restart the daemon to recover them",
            s.expired_leases,
            s.oldest_lease
                .map(|t| format!(" (oldest expired {})", t.to_rfc3339()))
                .unwrap_or_default()
        );
    }
    println!(
        "{} records · {} passes since start ({:.1}/s) · {} conflicting values · up {}",
        s.records,
        s.passes_since_start,
        s.throughput_per_sec,
        s.conflicts,
        human_secs(s.uptime_secs as i64)
    );
    if s.queued_calls_bound_secs > 0.0 {
        let slowest = s
            .providers
            .iter()
            .filter_map(|(id, p)| Some((id, p.queued as f64 / p.rate_per_sec?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(id, _)| id.as_str())
            .unwrap_or("-");
        println!(
            "calls queued now need at least {:.1}s at the vendors' limits (bottleneck: {slowest})",
            s.queued_calls_bound_secs
        );
    }
    let now = chrono::Utc::now();
    let mut t = render::table(&["queue", "records", "note"]);
    let oldest = s
        .oldest_queued
        .map(|d| {
            format!(
                "oldest due {} ago",
                human_secs((now - d).num_seconds().max(0))
            )
        })
        .unwrap_or_default();
    t.add_row(["due now".to_string(), s.queued_due.to_string(), oldest]);
    t.add_row([
        "due later".to_string(),
        s.queued_later.to_string(),
        String::new(),
    ]);
    let lease = s
        .oldest_lease
        .map(|u| format!("oldest lease ends {}", u.to_rfc3339()))
        .unwrap_or_default();
    t.add_row(["leased".to_string(), s.leased.to_string(), lease]);
    t.add_row(["idle".to_string(), s.idle.to_string(), String::new()]);
    t.add_row(["dead".to_string(), s.dead.to_string(), String::new()]);
    println!("{t}");

    let mut t = render::table(&[
        "provider",
        "circuit",
        "rate/s",
        "in flight",
        "queued",
        "wait",
        "used",
        "attempts",
        "429s",
        "cached",
        "errors",
        "error rate",
        "disabled",
    ]);
    for (id, p) in &s.providers {
        t.add_row([
            id.clone(),
            p.circuit.clone(),
            p.rate_per_sec
                .map(|r| format!("{r:.1}"))
                .unwrap_or_else(|| "-".into()),
            p.in_flight.to_string(),
            p.queued.to_string(),
            format!("{:.2}s", p.queue_wait_secs),
            p.utilisation
                .map(|u| format!("{:.0}%", 100.0 * u))
                .unwrap_or_else(|| "-".into()),
            p.attempts.to_string(),
            p.throttled.to_string(),
            p.cached.to_string(),
            p.errors.to_string(),
            format!("{:.1}%", 100.0 * p.error_rate),
            p.disabled
                .as_ref()
                .map(|env| format!("set {env}"))
                .unwrap_or_default(),
        ]);
    }
    println!("{t}");
    if !s.members.is_empty() {
        let mut t = render::table(&["member", "host/pid", "listen", "heartbeat", "leases"]);
        for m in &s.members {
            let me = s.member_id.as_deref() == Some(m.id.as_str());
            t.add_row([
                format!("{}{}", m.id, if me { " (this daemon)" } else { "" }),
                format!("{}/{}", m.host, m.pid),
                m.listen.clone(),
                format!(
                    "{:.1}s ago{}",
                    m.heartbeat_age_secs,
                    if m.live { "" } else { " DEAD" }
                ),
                m.leases.to_string(),
            ]);
        }
        println!("{t}");
    }
    for b in &s.budgets {
        println!(
            "budget {} {}: {} of {} credits used, {} reserved, {} left (resets {})",
            b.scope,
            b.period,
            render::credits(b.used),
            render::credits(b.cap),
            render::credits(b.reserved),
            render::credits(b.left),
            b.resets_at.format("%Y-%m-%d %H:%M UTC")
        );
    }
    for (id, p) in &s.providers {
        if let Some(pause) = &p.paused {
            println!(
                "PAUSED: {id} by the kill switch until {} ({}); `leadfall provider resume {id}` lifts it",
                pause.until.format("%Y-%m-%d %H:%M:%S UTC"),
                pause.reason
            );
        }
    }

    if !s.dead_letters.is_empty() {
        let mut t = render::table(&["dead letter", "reason"]);
        for (id, reason) in &s.dead_letters {
            t.add_row([id.as_str(), reason.as_str()]);
        }
        println!("{t}");
        if s.dead > s.dead_letters.len() as u64 {
            println!(
                "(first {} of {} dead letters)",
                s.dead_letters.len(),
                s.dead
            );
        }
    }
}
