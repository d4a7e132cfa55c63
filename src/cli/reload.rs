//! `leadfall reload`: the running daemon reads its configuration files again
//! (as SIGHUP does) and queues every record to be rescored and re-routed.

use super::status::Connect;
use super::{render, Global, EXIT_CONFIG};
use crate::client::ClientError;
use std::process::ExitCode;

/// `reload` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the daemon is.
    #[command(flatten)]
    pub connect: Connect,
}

/// Run `reload`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let client = args.connect.client(g)?;
    let summary = match client.reload().await {
        Ok(s) => s,
        Err(ClientError::ConfigInvalid(errors)) => {
            eprintln!("leadfall reload: the daemon kept its running configuration; fix these and reload again:");
            eprint!("{errors}");
            if !errors.ends_with('\n') {
                eprintln!();
            }
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
        Err(e) => return Err(e.into()),
    };
    if g.json {
        render::json(&summary)?;
        return Ok(ExitCode::SUCCESS);
    }
    if summary.changed.is_empty() {
        println!("configuration reloaded: nothing changed");
    } else {
        println!(
            "configuration reloaded: {} changed; {} records queued to be rescored and re-routed",
            summary.changed.join(", "),
            summary.queued
        );
    }
    if !summary.restart_needed.is_empty() {
        println!(
            "restart the daemon to apply: {}",
            summary.restart_needed.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
