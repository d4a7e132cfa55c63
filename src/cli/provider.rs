//! `leadfall provider resume P`: lift the kill switch's pause of a provider
//! in the running daemon.

use super::status::Connect;
use super::{render, Global};
use std::process::ExitCode;

/// `provider` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Provider actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Resume a provider the kill switch paused (before its cool-down ends).
    Resume {
        /// Provider id.
        provider: String,
        /// Where the daemon is.
        #[command(flatten)]
        connect: Connect,
    },
}

/// Run `provider`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Resume { provider, connect } => {
            let res = connect.client(g)?.resume_provider(&provider).await?;
            if g.json {
                render::json(&res)?;
            } else {
                match &res.lifted {
                    Some(p) => println!("resumed {provider} (paused because {})", p.reason),
                    None => println!("{provider} was not paused"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
