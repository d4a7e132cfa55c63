//! `leadfall demo`: the sandbox on a free port, the daemon on a fresh data
//! directory with the default config pointed at the sandbox, about a thousand
//! sample leads (plus a few broken rows) imported through the same path as
//! `leadfall import`, progress followed through `status`, and a summary
//! reconciled with the sandbox's own bill. Then it keeps serving (the hints say
//! what to try) until Ctrl-C; `--once` stops after the summary.

use super::import::{import_file, ImportOptions};
use super::{enrich, render, Global, EXIT_CONFIG};
use crate::config;
use crate::daemon::local::LocalDaemon;
use crate::engine::Summary;
use crate::export::ExportFormat;
use crate::sandbox::{serve, Sandbox, SandboxSettings, VendorSettings};
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `demo` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sample leads to enrich.
    #[arg(long, default_value_t = 1000)]
    pub leads: usize,
    /// Where the demo writes its leads, output and store (default: a fresh temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Stop after the summary instead of serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,
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

/// What the demo did, for `--json`.
#[derive(serde::Serialize)]
struct DemoReport {
    import: super::import::ImportReport,
    summary: Summary,
    sandbox_billed: std::collections::BTreeMap<String, crate::sandbox::VendorCounters>,
    data_dir: PathBuf,
    seconds: f64,
}

/// Run `demo`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let sandbox = Sandbox::new(demo_sandbox_settings());
    let sb_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sb_addr = sb_listener.local_addr()?;
    let (sb_stop, sb_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sb_server = tokio::spawn(serve(sb_listener, sandbox.clone(), async {
        let _ = sb_stop_rx.await;
    }));
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
    // The config against the sandbox, with the data under the demo's
    // directory; the embedded one when none is found (an installed binary).
    let config_path = if g.config.exists() {
        g.config.clone()
    } else {
        super::starter::write_default(&dir).context("writing the embedded configuration")?
    };
    let (path, env, data) = (
        config_path.clone(),
        Sandbox::provider_env(format!("http://{sb_addr}")),
        dir.join("data"),
    );
    let loader = config::Loader::new(move || {
        let mut s = config::load(&path, &env)?;
        s.data_dir = data.clone();
        Ok(s)
    });
    let settings = match loader.load() {
        Ok(s) => s,
        Err(errs) => {
            eprint!("{errs}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let data_dir = settings.data_dir.clone();
    let catalogue = settings.catalogue.clone();
    let daemon = LocalDaemon::start(settings, loader, Duration::from_secs(10)).await?;
    let client = &daemon.client;

    let leads = dir.join("leads.csv");
    let mut csv = sandbox.world().sample_leads_csv(args.leads);
    // Three broken rows: they are rejected with line numbers, the rest go through.
    csv.push_str("bad-1,Ann,Lee,Acme,acme.io,ann@@acme\n");
    csv.push_str("bad-2,Bob,Ray\n");
    csv.push_str("lead00000,Dup,Licate,Dup Inc,dup.io,\n");
    std::fs::write(&leads, csv)?;
    let interactive = !g.json && std::io::stderr().is_terminal();
    if !g.json {
        println!(
            "sandbox vendors on http://{sb_addr}; daemon on http://{}; importing {} sample leads",
            client.base_url().authority(),
            args.leads
        );
    }
    let opts = ImportOptions {
        rejects: Some(dir.join("rejects.csv")),
        batch_size: 1000,
        progress: interactive,
    };
    let import = import_file(client, &catalogue, &leads, &opts).await?;
    // Behaviour for some leads, so routes differ: pricing-page visits and demo requests.
    for (i, lead) in sandbox.world().sample_leads(args.leads).iter().enumerate() {
        if i % 3 == 0 {
            client.signal(&lead.id, "pricing_page", None).await?;
        }
        if i % 7 == 0 {
            client.signal(&lead.id, "demo_request", None).await?;
        }
    }
    follow(&daemon, import.good, interactive).await?;

    let mut out = Vec::new();
    client
        .export_to(&mut out, ExportFormat::Jsonl, None)
        .await?;
    let mut summary = Summary::default();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let r: crate::control::StoredRecord = serde_json::from_slice(line)?;
        summary.add_record(&r.record);
    }
    let calls = client.calls().await?;
    summary.providers = calls.providers;
    summary.credits = calls.credits;
    std::fs::write(dir.join("enriched.jsonl"), &out)?;
    let billed = sandbox.counters();
    let report = DemoReport {
        import,
        summary,
        sandbox_billed: billed,
        data_dir: data_dir.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    if g.json {
        render::json(&report)?;
    } else {
        print_summary(&report);
    }
    if !args.once {
        let cfg = config_path.display();
        let dd = data_dir.display();
        // The binary as it was started (`cargo run` users have no `leadfall` on PATH).
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "leadfall".into());
        println!("\nThe daemon keeps serving. In another terminal:");
        println!("  {exe} --config {cfg} status --data-dir {dd}");
        println!("  {exe} --config {cfg} show lead00001 --data-dir {dd}");
        println!("  {exe} --config {cfg} reenrich --provider companyapi --dry-run --data-dir {dd}");
        println!("  {exe} --config {cfg} export --format csv --data-dir {dd} | head");
        println!("Ctrl-C stops it.");
        let _ = tokio::signal::ctrl_c().await;
    }
    daemon.stop().await?;
    let _ = sb_stop.send(());
    let _ = sb_server.await;
    Ok(ExitCode::SUCCESS)
}

/// Follow the daemon until idle, with a progress bar.
async fn follow(daemon: &LocalDaemon, records: u64, interactive: bool) -> anyhow::Result<()> {
    let bar = if interactive {
        let b = indicatif::ProgressBar::new(records);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} enriching [{bar:40}] {pos}/{len} passes {per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    daemon
        .wait_idle(|passes, queued, leased| {
            bar.set_position(passes.min(records));
            bar.set_message(format!("{queued} queued, {leased} in flight"));
        })
        .await?;
    bar.finish_and_clear();
    Ok(())
}

fn print_summary(r: &DemoReport) {
    let i = &r.import;
    println!(
        "{} rows read: {} imported, {} rejected, {} warnings (see {}) · enriched in {:.1}s",
        i.rows,
        i.good,
        i.rejected,
        i.warnings,
        i.rejects_file
            .as_ref()
            .map_or("-".into(), |p| p.display().to_string()),
        r.seconds
    );
    let batch = crate::engine::BatchReport {
        import: crate::import::ImportSummary {
            rows: i.rows,
            good: i.good,
            rejected: i.rejected,
            warnings: i.warnings,
        },
        rejects_file: i.rejects_file.clone(),
        output: r.data_dir.join("..").join("enriched.jsonl"),
        summary: r.summary.clone(),
        seconds: r.seconds,
    };
    let _ = enrich::print_tables(&batch);
    let mut t = render::table(&[
        "vendor (sandbox's own counters)",
        "requests",
        "hits",
        "429s",
        "credits billed",
        "leadfall ledger credits",
    ]);
    for (vendor, c) in &r.sandbox_billed {
        let ours = r.summary.providers.get(vendor).map_or(0.0, |p| p.credits);
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
}
