//! `leadfall sandbox`: serve the simulated vendors until Ctrl-C.

use super::Global;
use crate::sandbox::{serve, Sandbox, SandboxSettings};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// `sandbox` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 7070)]
    pub port: u16,
    /// World seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Sandbox settings (TOML: seed, companies, people, [vendors.<id>] faults).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Write N sample leads as CSV to this file and exit.
    #[arg(long, value_name = "FILE")]
    pub write_leads: Option<PathBuf>,
    /// How many sample leads `--write-leads` writes.
    #[arg(long, default_value_t = 1000)]
    pub leads: usize,
}

/// Load sandbox settings from a file, or the defaults with `seed`.
pub fn settings(path: Option<&PathBuf>, seed: u64) -> anyhow::Result<SandboxSettings> {
    match path {
        None => Ok(SandboxSettings {
            seed,
            ..SandboxSettings::default()
        }),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}", crate::diag::toml_error(p, &text, &e)))
        }
    }
}

/// Run `sandbox`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::new(settings(args.settings.as_ref(), args.seed)?);
    if let Some(path) = &args.write_leads {
        std::fs::write(path, sandbox.world().sample_leads_csv(args.leads))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {} sample leads to {}", args.leads, path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot bind 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    if g.json {
        println!("{}", serde_json::json!({ "address": addr.to_string() }));
    } else {
        println!("sandbox vendors on http://{addr} (counters: http://{addr}/_sandbox/counters); Ctrl-C stops");
        println!("# point the default config at it (keys are the sandbox's own, not secrets):");
        for (vendor, key) in crate::sandbox::API_KEYS {
            let up = vendor.to_uppercase();
            println!("export LEADFALL_SANDBOX_KEY_{up}={key} LEADFALL_PROVIDER_{up}_BASE_URL=http://{addr}/{vendor}");
        }
    }
    serve(listener, sandbox, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
