//! `leadfall-bench`: figures against the in-process sandbox, measured in one
//! run: rate-limit utilisation per vendor, client overhead per call, the
//! cache effect of a second pass and more; or one of the single-purpose
//! benchmarks (report, queue, import, crash harness). The work lives in the
//! `leadfall_bench` library; this file parses the arguments and renders it.
//!
//! `leadfall-bench leadfall ARGS...` acts as `leadfall ARGS...` (the same
//! library): how the harness starts leadfall's sandbox and daemon as child
//! processes without a separately built `leadfall` binary.

use clap::Parser;
use leadfall::cli::{render, Global};
use leadfall_bench::{self as bench, BenchOptions, Leadfall, AS_LEADFALL};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

// As in `leadfall`: the figures are those of the product's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    // mimalloc's own; the crate links the library.
    fn mi_option_set(option: libc::c_int, value: libc::c_long);
}

/// `mi_option_purge_delay` in mimalloc's option enum.
const MI_OPTION_PURGE_DELAY: libc::c_int = 15;

/// Batch runs keep freed memory instead of returning it to the OS (as
/// `leadfall enrich` does; see `src/main.rs` and README, "Performance"),
/// unless `MIMALLOC_PURGE_DELAY` is set.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an integer option; mimalloc reads it on later frees.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

fn main() -> ExitCode {
    // SAFETY: called before any thread starts; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == AS_LEADFALL) {
        // `leadfall-bench leadfall ARGS...`: leadfall's own main.
        argv.remove(1);
        let cli = leadfall::cli::Cli::parse_from(argv);
        if matches!(cli.command, leadfall::cli::Command::Enrich(_)) {
            keep_freed_memory();
        }
        leadfall::telemetry::init(cli.global.log_format, cli.global.log_level());
        return leadfall::cli::exit_code(leadfall::cli::run(cli));
    }
    let mut args = Args::parse_from(argv);
    args.global.find_config();
    keep_freed_memory();
    leadfall::telemetry::init(args.global.log_format, args.global.log_level());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return leadfall::cli::exit_code(Err(e.into())),
    };
    leadfall::cli::exit_code(rt.block_on(run(args)))
}

/// leadfall's benchmark harness: rate-limit utilisation, overhead and the
/// cache effect against the sandbox, and the single-purpose benchmarks.
#[derive(Debug, Parser)]
#[command(name = "leadfall-bench", version, about)]
struct Args {
    /// Options shared with leadfall (--config, --json, logging).
    #[command(flatten)]
    global: Global,
    /// The leadfall binary the bottleneck run's sandbox and the crash
    /// harness's daemon run as [default: this binary, acting as leadfall].
    #[arg(long)]
    leadfall: Option<PathBuf>,
    /// Seconds of queued work per vendor in the utilisation run.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Calls in each overhead run.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Overhead runs; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Leads in the cache-effect run.
    #[arg(long, default_value_t = 500)]
    leads: usize,
    /// Leads in the run through the daemon's queue.
    #[arg(long, default_value_t = 600)]
    daemon_leads: usize,
    /// Records in the decay-rescan run (e.g. 1000000; 0 skips it).
    #[arg(long, default_value_t = 0)]
    rescan_records: usize,
    /// Leads in the strict vs capacity-aware run at vendor-like limits (e.g. 1000; 0 skips it).
    #[arg(long, default_value_t = 0)]
    bottleneck_leads: usize,
    /// Leads in the same run with every limit ×100.
    #[arg(long, default_value_t = 10_000)]
    bottleneck_generous_leads: usize,
    /// The ×100 bottleneck run alone (its CPU per lead and warm pass), without
    /// the slow vendor-like one; use with --extras-only.
    #[arg(long)]
    bottleneck_generous_only: bool,
    /// Only the runs asked for by size (--rescan-records, --bottleneck-leads).
    #[arg(long)]
    extras_only: bool,
    /// Only the report benchmark: write this many ledger rows (e.g. 10000000)
    /// to a store on disk, then time `report` over them.
    #[arg(long)]
    report_calls: Option<u64>,
    /// Where the report benchmark's store goes [default: a temp dir].
    #[arg(long, requires = "report_calls")]
    report_dir: Option<std::path::PathBuf>,
    /// Only the queue benchmark: lease and commit this many records with
    /// --queue-workers workers on sled and on PostgreSQL, no provider calls.
    #[arg(long)]
    queue_throughput: Option<usize>,
    /// Only the import benchmark: `leadfall import` of this many rows into a
    /// daemon with no workers (every batch on disk before its answer).
    #[arg(long)]
    import_records: Option<usize>,
    /// Only the crash harness: the real daemon killed this many times in the
    /// middle of work (and once right after `import`), compared with an
    /// uninterrupted run on the same world.
    #[arg(long)]
    crash_kills: Option<usize>,
    /// Leads in the crash harness.
    #[arg(long, default_value_t = 1000)]
    crash_leads: usize,
    /// Workers per daemon in the crash harness [default: the config's].
    #[arg(long)]
    crash_workers: Option<usize>,
    /// The sandbox world's seed in the crash harness (and its kill moments).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Workers (store handles: daemons, on PostgreSQL) in the queue benchmark.
    #[arg(long, default_value_t = 3)]
    queue_workers: usize,
    /// The PostgreSQL server for the queue benchmark (a throw-away database
    /// is created on it per run); `off` runs sled only.
    #[arg(long, default_value = leadfall::store::postgres::DEFAULT_TEST_SERVER)]
    queue_pg: String,
}

impl Args {
    /// How to start leadfall as a child process.
    fn leadfall(&self) -> std::io::Result<Leadfall> {
        match &self.leadfall {
            Some(path) => Ok(Leadfall::binary(path)),
            None => Leadfall::this_binary(),
        }
    }
}

/// Run the benchmarks asked for.
async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let g = &args.global;
    if let Some(calls) = args.report_calls {
        return report_bench(calls, args.report_dir, g).await;
    }
    if let Some(records) = args.queue_throughput {
        return queue_bench(records, &args, g).await;
    }
    if let Some(records) = args.import_records {
        return import_bench(records, &args, g).await;
    }
    if let Some(kills) = args.crash_kills {
        return crash_bench(kills, &args, g).await;
    }
    let opts = BenchOptions {
        config: g.config.clone(),
        seconds: args.seconds,
        calls: args.calls,
        repeat: args.repeat,
        leads: args.leads,
        daemon_leads: args.daemon_leads,
        rescan_records: args.rescan_records,
        bottleneck_leads: args.bottleneck_leads,
        bottleneck_generous_leads: args.bottleneck_generous_leads,
        generous_only: args.bottleneck_generous_only,
        leadfall: args.leadfall()?,
        extras_only: args.extras_only,
    };
    let report = bench::run(&opts).await?;
    if g.json {
        render::json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(core) = &report.core {
        print_core(core, &args);
    }
    if let Some(b) = &report.bottleneck {
        for c in b.vendor_like.iter().chain([&b.generous]) {
            print_comparison(c);
        }
    }
    if let Some(r) = &report.rescan {
        println!(
            "decay rescan ({} records on disk, {} with signals; loaded in {:.1}s): median {:.2}s per rescan; runs: {}",
            r.records,
            r.with_signals,
            r.load_secs,
            r.median_secs,
            r.runs.iter().map(|s| format!("{s:.2}s")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_core(report: &bench::CoreReport, args: &Args) {
    println!(
        "rate-limit utilisation ({} s of queued work per vendor, all vendors at once):",
        args.seconds
    );
    println!("{}", utilisation_table(&report.utilisation));
    let m = &report.modes;
    println!(
        "decision-relevant enrichment ({} leads, demo behaviour mix): same route for {}/{} leads; {} credits against {} when enriching everything ({:.0}% saved)",
        m.leads,
        m.same_route,
        m.leads,
        render::credits(m.credits_relevant),
        render::credits(m.credits_everything),
        100.0 * (1.0 - m.credits_relevant / m.credits_everything.max(1e-9))
    );
    let r = &report.rescore;
    println!(
        "rescoring (3 scores + route decision, default config, one thread, {} records per run): median {:.0} records/s",
        r.records, r.median_per_sec
    );
    let d = &report.daemon;
    println!(
        "through the daemon ({} leads imported, vendors limited to 60/40/80/100/200 req/s): {:.1}s wall, rate-limit lower bound {:.1}s, wall/bound {:.3}",
        d.leads, d.wall_secs, d.lower_bound_secs, d.wall_over_bound
    );
    println!("{}", utilisation_table(&d.vendors));
    let o = &report.overhead;
    println!(
        "overhead (no limits, no latency, sandbox in-process, {} runs of {} calls): median {:.0} calls/s, median {:.1} CPU-µs per call (client + sandbox); runs: {}",
        o.runs.len(),
        args.calls,
        o.median_calls_per_sec,
        o.median_cpu_us_per_call,
        o.runs.iter().map(|r| format!("{:.0}/s", r.calls_per_sec)).collect::<Vec<_>>().join(", ")
    );
    let c = &report.cache;
    println!(
        "cache effect ({} leads twice): first pass {} provider requests / {} credits; second pass {} requests / {} credits",
        c.leads,
        c.first_requests,
        render::credits(c.first_credits),
        c.second_requests,
        render::credits(c.second_credits)
    );
}

/// `bench --report-calls N`: the report over N ledger rows.
async fn report_bench(
    calls: u64,
    dir: Option<std::path::PathBuf>,
    g: &Global,
) -> anyhow::Result<ExitCode> {
    let settings = leadfall::config::load(
        &g.config,
        &leadfall::sandbox::Sandbox::provider_env("http://127.0.0.1:9".into()),
    )
    .map_err(|e| anyhow::anyhow!("cannot load {}:\n{e}", g.config.display()))?;
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().join("store"));
    let r = tokio::task::spawn_blocking(move || {
        bench::report::run(&dir, calls, 2, 5, &settings.waterfall)
    })
    .await??;
    if g.json {
        render::json(&r)?;
    } else {
        println!(
            "report over {} ledger rows ({} hourly counter buckets, 30 days, 8 operations): median {:.1} ms over {} runs ({}); rows written at {:.0}/s (ledger row + counter update each, 2 writers); credits reconciled: {}",
            r.calls,
            r.buckets,
            r.median_report_ms,
            r.report_ms.len(),
            r.report_ms.iter().map(|m| format!("{m:.1}")).collect::<Vec<_>>().join(", "),
            r.write_rows_per_sec,
            render::credits(r.credits)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn utilisation_table(rows: &[bench::Utilisation]) -> comfy_table::Table {
    let mut t = render::table(&[
        "vendor",
        "limit/s",
        "requests",
        "achieved/s",
        "utilisation",
        "429s",
    ]);
    for u in rows {
        t.add_row([
            u.vendor.clone(),
            u.limit.to_string(),
            u.requests.to_string(),
            format!("{:.2}", u.achieved_per_sec),
            format!("{:.1}%", 100.0 * u.utilisation),
            u.rate_limited.to_string(),
        ]);
    }
    t
}

fn print_comparison(c: &bench::Comparison) {
    let limits = bench::VENDOR_LIMITS
        .iter()
        .map(|(v, l)| format!("{v} {}/s", l * c.scale))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "bottleneck run ({} leads, limits ×{}: {limits}; 40 ms latency; sandbox in a child process):",
        c.leads, c.scale
    );
    for (name, p) in [("strict order", &c.strict), ("capacity-aware", &c.capacity)] {
        println!(
            "  {name:<15} wall {:.1}s, rate-limit bound {:.1}s, wall/bound {:.3}, 429s {}, {:.3} credits per filled field, CPU {:.3} ms per lead, {} capacity choices",
            p.wall_secs, p.lower_bound_secs, p.wall_over_bound, p.rate_limited,
            p.credits_per_filled_field, p.cpu_ms_per_lead, p.capacity_choices
        );
        println!(
            "  {:<15} requests {}",
            "",
            p.requests
                .iter()
                .map(|(v, n)| format!("{v} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  {:<15} fill {}",
            "",
            p.fill
                .iter()
                .map(|(f, x)| format!("{f} {:.1}%", x * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "  capacity-aware wall / strict wall {:.3}; warm pass over the same input {:.3}s (median of 5; fastest {:.3}s), {:.1} CPU-µs per lead, with {} vendor requests",
        c.capacity_over_strict,
        c.warm_wall_secs,
        c.warm_min_wall_secs,
        c.warm_cpu_us_per_lead,
        c.warm_requests
    );
}

async fn import_bench(records: usize, args: &Args, g: &Global) -> anyhow::Result<ExitCode> {
    let b = bench::import::run(&g.config, records, args.repeat).await?;
    if g.json {
        render::json(&b)?;
    } else {
        println!(
            "import into the queue ({} rows, {} per request, durable before each answer): median {:.0} records/s ({})",
            b.records,
            b.batch_size,
            b.median,
            b.runs.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn crash_bench(kills: usize, args: &Args, g: &Global) -> anyhow::Result<ExitCode> {
    let opts = bench::crash::CrashOptions {
        leadfall: args.leadfall()?,
        config: g.config.clone(),
        leads: args.crash_leads,
        kills,
        seed: args.seed,
        workers: args.crash_workers,
    };
    let r = bench::crash::run(&opts).await?;
    if g.json {
        render::json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (a, b) = (&r.reference, &r.crashed);
    println!(
        "crash harness: {} leads imported, {} kills (one right after the import), seed {}, {:.1}s",
        r.imported, r.kills, args.seed, r.wall_secs
    );
    println!(
        "records present: {} of {} (uninterrupted run: {})",
        b.records, r.imported, a.records
    );
    println!(
        "records whose values or sources differ from the uninterrupted run: {} ({} by value){}",
        r.differing.len(),
        r.differing_values,
        r.differing
            .iter()
            .take(5)
            .map(|id| format!(" {id}"))
            .collect::<String>()
    );
    if !r.differing_fields.is_empty() {
        println!("  by field: {:?}", r.differing_fields);
        for e in &r.examples {
            println!("  {e}");
        }
    }
    println!(
        "passes per record: {:?} (uninterrupted: {:?})",
        b.passes, a.passes
    );
    for (vendor, bill) in &b.vendors {
        println!(
            "  {vendor}: billed {} ledger {} (uninterrupted: billed {} ledger {})",
            render::credits(bill.billed),
            render::credits(bill.ledger),
            render::credits(a.vendors.get(vendor).map_or(0.0, |v| v.billed)),
            render::credits(a.vendors.get(vendor).map_or(0.0, |v| v.ledger)),
        );
    }
    println!(
        "per-record credits {} against the ledger's {} (uninterrupted: {} against {})",
        render::credits(b.record_credits),
        render::credits(b.ledger_credits),
        render::credits(a.record_credits),
        render::credits(a.ledger_credits)
    );
    Ok(ExitCode::SUCCESS)
}

async fn queue_bench(records: usize, args: &Args, g: &Global) -> anyhow::Result<ExitCode> {
    let pg = match args.queue_pg.as_str() {
        "off" => None,
        url => Some(
            leadfall::store::postgres::PgUrl::parse(url)
                .map_err(|e| anyhow::anyhow!("--queue-pg: {e}"))?,
        ),
    };
    let (workers, repeat) = (args.queue_workers, args.repeat);
    let r = tokio::task::spawn_blocking(move || {
        bench::queue::run(pg.as_ref(), records, workers, repeat)
    })
    .await??;
    if g.json {
        render::json(&r)?;
    } else {
        for b in &r {
            println!(
                "queue throughput, {}: {} records, {} workers × {} threads, no provider calls: median {:.0} leases+commits/s ({})",
                b.backend,
                b.records,
                b.workers,
                b.threads_per_worker,
                b.median,
                b.runs.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::CommandFactory;

    #[test]
    fn the_arguments_are_consistent() {
        Args::command().debug_assert();
    }
}
