//! `leadfall signal ID KIND [--at TIME]`: record a behaviour event (a pricing
//! page visit, a demo request) on a record in the running daemon.

use super::status::Connect;
use super::{render, Global};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::process::ExitCode;

/// `signal` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The record id.
    pub id: String,
    /// The event kind (`pricing_page`, `demo_request`, ...).
    pub kind: String,
    /// When it happened, RFC 3339 (`2026-11-23T12:00:00Z`) [default: now].
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
    /// Where the daemon is.
    #[command(flatten)]
    pub connect: Connect,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Recorded<'a> {
    id: &'a str,
    kind: &'a str,
    at: Option<DateTime<Utc>>,
}

/// Run `signal`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let client = args.connect.client(g)?;
    client.signal(&args.id, &args.kind, args.at).await?;
    if g.json {
        render::json(&Recorded {
            id: &args.id,
            kind: &args.kind,
            at: args.at,
        })?;
    } else {
        println!(
            "recorded {} for {}; it is queued for rescoring",
            args.kind, args.id
        );
    }
    Ok(ExitCode::SUCCESS)
}
