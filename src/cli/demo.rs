//! `leadfall demo`: the sandbox on a free port, the default config pointed at
//! it, about a thousand sample leads (plus a few broken rows to show rejects),
//! enrichment, and a summary reconciled with the sandbox's own bill.

use super::{enrich, render, Global, EXIT_CONFIG};
use crate::clock::SystemClock;
use crate::config;
use crate::engine::{enrich_file, BatchOptions, Engine};
use crate::sandbox::{serve, Sandbox, SandboxSettings, VendorSettings};
use crate::store::Store;
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `demo` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sample leads to enrich.
    #[arg(long, default_value_t = 1000)]
    pub leads: usize,
    /// Where the demo writes its leads, output and store (default: a fresh temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Demo sandbox: vendor-like latency, a little rate limiting and a few faults.
pub fn demo_sandbox_settings() -> SandboxSettings {
    let vendor = |rate, latency_ms, error_rate| VendorSettings {
        rate_limit_per_sec: Some(rate),
        latency_ms,
        error_rate,
        ..VendorSettings::default()
    };
    let mut s = SandboxSettings::default();
    s.vendors.insert("mailfinder".into(), vendor(150, 20, 0.01));
    s.vendors.insert("personapi".into(), vendor(100, 30, 0.01));
    s.vendors.insert("peoplematch".into(), vendor(150, 25, 0.0));
    s.vendors.insert("companyapi".into(), vendor(200, 15, 0.0));
    s.vendors.insert("verifier".into(), vendor(300, 10, 0.0));
    s
}

/// Run `demo`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::new(demo_sandbox_settings());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let sb = sandbox.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, sb, async {
        let _ = stop_rx.await;
    }));
    let env = Sandbox::provider_env(format!("http://{addr}"));
    let mut settings = match config::load(&g.config, &env) {
        Ok(s) => s,
        Err(errs) => {
            eprint!("{errs}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("leadfall-demo-")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    settings.data_dir = dir.join("data");
    let leads = dir.join("leads.csv");
    let mut csv = sandbox.world().sample_leads_csv(args.leads);
    // Three broken rows: they are rejected with line numbers, the rest go through.
    csv.push_str("bad-1,Ann,Lee,Acme,acme.io,ann@@acme\n");
    csv.push_str("bad-2,Bob,Ray\n");
    csv.push_str("lead00000,Dup,Licate,Dup Inc,dup.io,\n");
    std::fs::write(&leads, csv)?;
    let store = Store::open(&settings.data_dir.join("store"))?;
    let engine = Engine::from_settings(Arc::new(settings), Arc::new(store), Arc::new(SystemClock))?;
    if !g.json {
        println!(
            "sandbox vendors on http://{addr}; enriching {} sample leads from {}",
            args.leads,
            leads.display()
        );
    }
    let opts = BatchOptions {
        progress: !g.json && std::io::stderr().is_terminal(),
        rejects: dir.join("rejects.csv"),
    };
    let out = dir.join("enriched.jsonl");
    let report = enrich_file(&engine, &leads, &out, &opts).await?;
    let billed = sandbox.counters();
    let _ = stop_tx.send(());
    let _ = server.await;
    if g.json {
        render::json(&serde_json::json!({ "report": report, "sandbox_billed": billed }))?;
    } else {
        enrich::print_report(&report, false)?;
        let mut t = render::table(&[
            "vendor (sandbox's own counters)",
            "requests",
            "hits",
            "429s",
            "credits billed",
            "leadfall ledger credits",
        ]);
        for (vendor, c) in &billed {
            let ours = report
                .summary
                .providers
                .get(vendor)
                .map_or(0.0, |p| p.credits);
            t.add_row([
                vendor.clone(),
                c.requests.to_string(),
                c.hits.to_string(),
                c.rate_limited.to_string(),
                render::credits(c.credits_billed),
                render::credits(ours),
            ]);
        }
        println!("{t}");
        if args.dir.is_some() {
            println!("files in {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
