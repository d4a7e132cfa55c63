//! leadfall's benchmark harness (`leadfall-bench`), kept out of the product:
//! a workspace member built on the `leadfall` library. Everything runs
//! against an in-process sandbox on 127.0.0.1:0 and reports figures measured
//! in one run. Where a run needs leadfall as a child process (the bottleneck
//! run's sandbox, the crash harness's daemon), it starts a [`Leadfall`]: by
//! default this binary acting as leadfall, so the child is always built from
//! the same sources as the harness.

use leadfall::clock::SystemClock;
use leadfall::config::{self, Settings};
use leadfall::engine::{enrich_file, BatchOptions, Engine};
use leadfall::executor::Executor;
use leadfall::model::Value;
use leadfall::provider::{Inputs, Rate};
use leadfall::sandbox::{serve, Sandbox, SandboxSettings, VendorSettings};
use leadfall::store::Store;
use serde::Serialize;
use std::ffi::OsString;
use std::path::PathBuf;

mod bottleneck;
pub mod crash;
pub mod import;
pub mod queue;
pub mod report;
mod rescan;
pub use bottleneck::{bottleneck, Bottleneck, Comparison, Pass, VENDOR_LIMITS};
pub use rescan::{rescan_speed, RescanSpeed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first argument that makes `leadfall-bench` act as `leadfall`
/// (`leadfall-bench leadfall serve ...`): how the harness starts leadfall as
/// a child without a separately built binary.
pub const AS_LEADFALL: &str = "leadfall";

/// How the harness starts leadfall as a child process.
#[derive(Debug, Clone)]
pub struct Leadfall {
    program: PathBuf,
    /// Arguments before leadfall's own ([`AS_LEADFALL`] for a bench binary).
    prefix: Vec<OsString>,
}

impl Leadfall {
    /// A `leadfall` binary (e.g. `target/release/leadfall`).
    pub fn binary(path: impl Into<PathBuf>) -> Leadfall {
        Leadfall {
            program: path.into(),
            prefix: Vec::new(),
        }
    }

    /// A `leadfall-bench` binary, acting as leadfall.
    pub fn bench_binary(path: impl Into<PathBuf>) -> Leadfall {
        Leadfall {
            program: path.into(),
            prefix: vec![AS_LEADFALL.into()],
        }
    }

    /// This process's binary (a `leadfall-bench`), acting as leadfall.
    pub fn this_binary() -> std::io::Result<Leadfall> {
        Ok(Leadfall::bench_binary(std::env::current_exe()?))
    }

    /// A command that runs leadfall; leadfall's arguments follow.
    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(&self.program);
        c.args(&self.prefix);
        c
    }
}

impl std::fmt::Display for Leadfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.program.display())?;
        for a in &self.prefix {
            write!(f, " {}", a.to_string_lossy())?;
        }
        Ok(())
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Config with the sandbox providers.
    pub config: PathBuf,
    /// Seconds of queued work per vendor (utilisation).
    pub seconds: u64,
    /// Calls per overhead run.
    pub calls: usize,
    /// Overhead runs (the median is reported).
    pub repeat: usize,
    /// Leads (cache effect).
    pub leads: usize,
    /// Leads through the daemon.
    pub daemon_leads: usize,
    /// Records in the decay-rescan run (0: skipped).
    pub rescan_records: usize,
    /// Leads in the bottleneck run at vendor-like limits (0: skipped).
    pub bottleneck_leads: usize,
    /// Leads in the bottleneck run with every limit ×100.
    pub bottleneck_generous_leads: usize,
    /// Only the ×100 half of the bottleneck run.
    pub generous_only: bool,
    /// leadfall as a child process (the bottleneck run's sandbox).
    pub leadfall: Leadfall,
    /// Only the runs asked for by size (rescan, bottleneck), not the core figures.
    pub extras_only: bool,
}

/// One vendor's utilisation.
#[derive(Debug, Clone, Serialize)]
pub struct Utilisation {
    /// Vendor id.
    pub vendor: String,
    /// Its limit, requests per second.
    pub limit: u32,
    /// Requests the sandbox received.
    pub requests: u64,
    /// Requests per second between the first and the last arrival.
    pub achieved_per_sec: f64,
    /// achieved / limit.
    pub utilisation: f64,
    /// 429s the sandbox sent.
    pub rate_limited: u64,
}

/// One overhead run.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadRun {
    /// Calls made.
    pub calls: usize,
    /// Wall seconds.
    pub seconds: f64,
    /// Calls per second.
    pub calls_per_sec: f64,
    /// Process CPU time (client and in-process sandbox) per call, µs.
    pub cpu_us_per_call: f64,
}

/// Overhead over several runs.
#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    /// Every run.
    pub runs: Vec<OverheadRun>,
    /// Median calls per second.
    pub median_calls_per_sec: f64,
    /// Median CPU-µs per call.
    pub median_cpu_us_per_call: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Cache-effect figures.
#[derive(Debug, Clone, Serialize)]
pub struct CacheEffect {
    /// Leads enriched twice.
    pub leads: usize,
    /// Sandbox requests in the first pass.
    pub first_requests: u64,
    /// Ledger credits in the first pass.
    pub first_credits: f64,
    /// Sandbox requests in the second pass.
    pub second_requests: u64,
    /// Ledger credits in the second pass.
    pub second_credits: f64,
}

/// The daemon's queue against rate-limited vendors.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonRun {
    /// Leads imported.
    pub leads: usize,
    /// Import to idle, seconds.
    pub wall_secs: f64,
    /// max over vendors of requests / limit: no schedule can finish sooner.
    pub lower_bound_secs: f64,
    /// wall / lower bound.
    pub wall_over_bound: f64,
    /// Per vendor, over its first-to-last request.
    pub vendors: Vec<Utilisation>,
}

/// All figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The core figures (skipped with `extras_only`).
    #[serde(flatten)]
    pub core: Option<CoreReport>,
    /// The decay rescan over a large store (when asked for).
    pub rescan: Option<RescanSpeed>,
    /// Strict against capacity-aware order at vendor-like and ×100 limits (when asked for).
    pub bottleneck: Option<Bottleneck>,
}

/// The figures every `leadfall-bench` run prints.
#[derive(Debug, Clone, Serialize)]
pub struct CoreReport {
    /// Per vendor.
    pub utilisation: Vec<Utilisation>,
    /// Through the daemon.
    pub daemon: DaemonRun,
    /// Decision-relevant enrichment against enriching everything.
    pub modes: ModeComparison,
    /// Rescoring speed on one core.
    pub rescore: RescoreSpeed,
    /// Overhead.
    pub overhead: Overhead,
    /// Cache effect.
    pub cache: CacheEffect,
}

/// The one operation benchmarked per vendor, with its limit in the utilisation run.
const VENDOR_OPS: &[(&str, &str, u32)] = &[
    ("mailfinder", "mailfinder.email-finder", 15),
    ("personapi", "personapi.person-enrich", 10),
    ("peoplematch", "peoplematch.match", 20),
    ("companyapi", "companyapi.company-find", 25),
    ("verifier", "verifier.validate", 50),
];

struct Running {
    sandbox: Sandbox,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(settings: SandboxSettings) -> anyhow::Result<Running> {
    let sandbox = Sandbox::new(settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, sandbox.clone(), async {
        let _ = rx.await;
    }));
    Ok(Running {
        sandbox,
        base,
        _stop: tx,
    })
}

fn load(opts: &BenchOptions, base: &str) -> anyhow::Result<Settings> {
    config::load(&opts.config, &Sandbox::provider_env(base.to_string()))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn executor(settings: &Settings) -> anyhow::Result<Executor> {
    Ok(Executor::new(
        Arc::new(settings.providers.clone()),
        Arc::new(settings.catalogue.clone()),
        Arc::new(Store::temporary()?),
        Arc::new(SystemClock),
    ))
}

/// A sandbox whose vendors enforce `limits` (req/s, 40 ms latency) and settings
/// that pace at exactly those limits.
async fn limited(
    opts: &BenchOptions,
    limits: &[(&str, u32)],
) -> anyhow::Result<(Running, Settings)> {
    let mut sb = SandboxSettings::default();
    for (vendor, limit) in limits {
        let v = VendorSettings {
            rate_limit_per_sec: Some(*limit),
            latency_ms: 40,
            ..Default::default()
        };
        sb.vendors.insert(vendor.to_string(), v);
    }
    let run = start(sb).await?;
    let mut settings = load(opts, &run.base)?;
    for (vendor, limit) in limits {
        if let Some(p) = settings.providers.get_mut(vendor) {
            p.rate = Some(Rate {
                requests: *limit,
                period: Duration::from_secs(1),
                burst: 1,
            });
        }
    }
    Ok((run, settings))
}

/// Distinct inputs for call `i` of an operation (distinct, so the cache never answers).
fn inputs_for(op: &str, i: usize) -> Inputs {
    let text = |s: String| Value::Text(s);
    let mut m = Inputs::new();
    match op {
        "verifier.validate" => {
            m.insert("person.email".into(), text(format!("user{i}@bench.io")));
        }
        "companyapi.company-find" => {
            m.insert("company.domain".into(), text(format!("co{i}.bench.io")));
        }
        _ => {
            m.insert("person.first_name".into(), text(format!("first{i}")));
            m.insert("person.last_name".into(), text("last".into()));
            m.insert("company.domain".into(), text("bench.io".into()));
        }
    }
    m
}

/// Process CPU time (user + system) from /proc, in seconds.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after ')'; 100 ticks/s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

async fn utilisation(opts: &BenchOptions) -> anyhow::Result<Vec<Utilisation>> {
    let limits: Vec<(&str, u32)> = VENDOR_OPS.iter().map(|(v, _, l)| (*v, *l)).collect();
    let (run, settings) = limited(opts, &limits).await?;
    let ex = executor(&settings)?;
    let mut tasks = Vec::new();
    for (_, op, limit) in VENDOR_OPS {
        let n = (*limit as u64 * opts.seconds) as usize;
        for i in 0..n {
            let ex = ex.clone();
            let op = op.to_string();
            tasks.push(tokio::spawn(async move {
                ex.execute(&op, &inputs_for(&op, i), None).await
            }));
        }
    }
    for t in tasks {
        t.await?;
    }
    let limits: Vec<(&str, u32)> = VENDOR_OPS.iter().map(|(v, _, l)| (*v, *l)).collect();
    Ok(vendor_rates(&run.sandbox, &limits))
}

async fn overhead(opts: &BenchOptions) -> anyhow::Result<Overhead> {
    let mut runs = Vec::new();
    for _ in 0..opts.repeat.max(1) {
        runs.push(overhead_run(opts).await?);
    }
    Ok(Overhead {
        median_calls_per_sec: median(runs.iter().map(|r| r.calls_per_sec).collect()),
        median_cpu_us_per_call: median(runs.iter().map(|r| r.cpu_us_per_call).collect()),
        runs,
    })
}

async fn overhead_run(opts: &BenchOptions) -> anyhow::Result<OverheadRun> {
    let run = start(SandboxSettings::default()).await?;
    let mut settings = load(opts, &run.base)?;
    for p in settings.providers.iter_mut() {
        p.rate = None;
        p.max_concurrency = 64;
    }
    let ex = executor(&settings)?;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let per_task = opts.calls.div_ceil(64);
    let tasks: Vec<_> = (0..64)
        .map(|w| {
            let ex = ex.clone();
            tokio::spawn(async move {
                for j in 0..per_task {
                    let i = w * per_task + j;
                    let (_, op, _) = VENDOR_OPS[i % VENDOR_OPS.len()];
                    ex.execute(op, &inputs_for(op, i), None).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let calls = per_task * 64;
    Ok(OverheadRun {
        calls,
        seconds,
        calls_per_sec: calls as f64 / seconds,
        cpu_us_per_call: cpu * 1e6 / calls as f64,
    })
}

async fn cache_effect(opts: &BenchOptions) -> anyhow::Result<CacheEffect> {
    let run = start(SandboxSettings::default()).await?;
    let dir = tempfile::tempdir()?;
    let mut settings = load(opts, &run.base)?;
    settings.data_dir = dir.path().join("data");
    let leads = dir.path().join("leads.csv");
    std::fs::write(&leads, run.sandbox.world().sample_leads_csv(opts.leads))?;
    let store = Store::open(&settings.data_dir.join("store"))?;
    let engine = Engine::from_settings(Arc::new(settings), Arc::new(store), Arc::new(SystemClock))?;
    let batch = |name: &str| BatchOptions {
        progress: false,
        rejects: dir.path().join(format!("{name}.rejects.csv")),
    };
    let total = |s: &Sandbox| s.counters().values().map(|c| c.requests).sum::<u64>();
    let first = enrich_file(
        &engine,
        &leads,
        &dir.path().join("first.jsonl"),
        &batch("first"),
    )
    .await?;
    let after_first = total(&run.sandbox);
    let second = enrich_file(
        &engine,
        &leads,
        &dir.path().join("second.jsonl"),
        &batch("second"),
    )
    .await?;
    Ok(CacheEffect {
        leads: opts.leads,
        first_requests: after_first,
        first_credits: first.summary.credits,
        second_requests: total(&run.sandbox) - after_first,
        second_credits: second.summary.credits,
    })
}

/// Vendor limits (req/s) for the daemon run: the core benchmark's ×4, so the
/// run stays short; personapi (asked for every record's phone) is the bottleneck.
const DAEMON_LIMITS: &[(&str, u32)] = &[
    ("mailfinder", 60),
    ("personapi", 40),
    ("peoplematch", 80),
    ("companyapi", 100),
    ("verifier", 200),
];

fn vendor_rates(sandbox: &Sandbox, limits: &[(&str, u32)]) -> Vec<Utilisation> {
    let counters = sandbox.counters();
    limits
        .iter()
        .map(|(vendor, limit)| {
            let times = sandbox.timeline(vendor);
            let span = match (times.first(), times.last()) {
                (Some(a), Some(b)) if b > a => (b - a) as f64 / 1000.0,
                _ => 0.0,
            };
            let achieved = if span > 0.0 {
                times.len().saturating_sub(1) as f64 / span
            } else {
                0.0
            };
            Utilisation {
                vendor: vendor.to_string(),
                limit: *limit,
                requests: counters[*vendor].requests,
                achieved_per_sec: achieved,
                utilisation: achieved / *limit as f64,
                rate_limited: counters[*vendor].rate_limited,
            }
        })
        .collect()
}

async fn through_daemon(opts: &BenchOptions) -> anyhow::Result<DaemonRun> {
    let (run, mut settings) = limited(opts, DAEMON_LIMITS).await?;
    let dir = tempfile::tempdir()?;
    settings.data_dir = dir.path().join("data");
    let catalogue = settings.catalogue.clone();
    let loader = config::Loader::fixed(settings.clone());
    let daemon =
        leadfall::daemon::local::LocalDaemon::start(settings, loader, Duration::from_secs(10))
            .await?;
    let leads = dir.path().join("leads.csv");
    std::fs::write(
        &leads,
        run.sandbox.world().sample_leads_csv(opts.daemon_leads),
    )?;
    let t0 = Instant::now();
    let import_opts = leadfall::cli::import::ImportOptions {
        rejects: None,
        batch_size: 1000,
        progress: false,
    };
    leadfall::cli::import::import_file(&daemon.client, &catalogue, &leads, &import_opts).await?;
    daemon.wait_idle(|_, _, _| {}).await?;
    let wall_secs = t0.elapsed().as_secs_f64();
    daemon.stop().await?;
    let vendors = vendor_rates(&run.sandbox, DAEMON_LIMITS);
    let lower_bound_secs = vendors
        .iter()
        .map(|v| v.requests as f64 / v.limit as f64)
        .fold(0.0, f64::max);
    Ok(DaemonRun {
        leads: opts.daemon_leads,
        wall_secs,
        lower_bound_secs,
        wall_over_bound: wall_secs / lower_bound_secs.max(1e-9),
        vendors,
    })
}

/// Run every benchmark.
pub async fn run(opts: &BenchOptions) -> anyhow::Result<BenchReport> {
    let core = match opts.extras_only {
        true => None,
        false => Some(core(opts).await?),
    };
    Ok(BenchReport {
        core,
        bottleneck: match (opts.bottleneck_leads, opts.generous_only) {
            (0, false) => None,
            (_, true) => Some(
                bottleneck(
                    &opts.leadfall,
                    &opts.config,
                    0,
                    opts.bottleneck_generous_leads,
                )
                .await?,
            ),
            (n, false) => Some(
                bottleneck(
                    &opts.leadfall,
                    &opts.config,
                    n,
                    opts.bottleneck_generous_leads,
                )
                .await?,
            ),
        },
        rescan: match opts.rescan_records {
            0 => None,
            n => {
                let settings = load(opts, "http://127.0.0.1:9")?;
                Some(tokio::task::block_in_place(|| {
                    rescan_speed(&settings, n, 3)
                })?)
            }
        },
    })
}

async fn core(opts: &BenchOptions) -> anyhow::Result<CoreReport> {
    // The daemon run last: its store's background threads would skew the overhead figures.
    let utilisation = utilisation(opts).await?;
    let overhead = overhead(opts).await?;
    let cache = cache_effect(opts).await?;
    Ok(CoreReport {
        utilisation,
        overhead,
        cache,
        modes: compare_modes(opts, opts.leads).await?,
        rescore: rescore_speed(opts)?,
        daemon: through_daemon(opts).await?,
    })
}

/// Decision-relevant enrichment against "enrich everything" on the same leads.
#[derive(Debug, Clone, Serialize)]
pub struct ModeComparison {
    /// Leads compared.
    pub leads: usize,
    /// Leads routed the same way by both.
    pub same_route: usize,
    /// Credits when only route-relevant fields are paid for.
    pub credits_relevant: f64,
    /// Credits when every field is enriched.
    pub credits_everything: f64,
    /// Leads routed differently: (id, relevant-only route, enrich-everything route).
    pub differences: Vec<(String, String, String)>,
    /// Fields a lead's route needs (`enrich`), filled by enriching everything
    /// but not by decision-relevant enrichment: (id, route, field).
    pub shortchanged: Vec<(String, String, String)>,
    /// Route fields filled, (decision-relevant, enrich-everything).
    pub route_fields_filled: (usize, usize),
}

/// The demo's behaviour mix: every 3rd lead visited pricing, every 7th asked for a demo.
pub fn demo_signals(
    i: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<leadfall::control::Signal> {
    let mut s = Vec::new();
    if i.is_multiple_of(3) {
        s.push(leadfall::control::Signal {
            kind: "pricing_page".into(),
            at: now,
        });
    }
    if i.is_multiple_of(7) {
        s.push(leadfall::control::Signal {
            kind: "demo_request".into(),
            at: now,
        });
    }
    s
}

/// Enrich the sample leads in both modes (fresh caches each) and compare routes and credits.
pub async fn compare_modes(opts: &BenchOptions, leads: usize) -> anyhow::Result<ModeComparison> {
    let mut routes: Vec<Vec<(String, String)>> = Vec::new();
    let mut credits = Vec::new();
    // Per mode, per lead: the route's `enrich` fields that ended known.
    let mut filled: Vec<Vec<std::collections::BTreeSet<String>>> = Vec::new();
    for everything in [false, true] {
        let run = start(SandboxSettings::default()).await?;
        let mut settings = load(opts, &run.base)?;
        settings.waterfall.enrich_everything = everything;
        let decisions = settings
            .decisions
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the config has no scoring/routing files"))?;
        let settings = Arc::new(settings);
        let engine = Engine::from_settings(
            settings.clone(),
            Arc::new(Store::temporary()?),
            Arc::new(SystemClock),
        )?;
        let now = chrono::Utc::now();
        let mut out = Vec::new();
        let mut have = Vec::new();
        let mut spent = 0.0;
        for (i, lead) in run.sandbox.world().sample_leads(leads).iter().enumerate() {
            let mut r = leadfall::model::Record::new(lead.id.clone(), now);
            let mut put = |f: &str, v: Option<&String>| {
                if let Some(v) = v {
                    let def = settings.catalogue.get(f).expect("standard field");
                    if let Ok(value) = leadfall::model::normalise_text(def, v) {
                        r.set(f, leadfall::model::FieldState::input(value, now));
                    }
                }
            };
            put("person.first_name", Some(&lead.first_name));
            put("person.last_name", Some(&lead.last_name));
            put("company.name", Some(&lead.company_name));
            put("company.domain", lead.company_domain.as_ref());
            put("person.email", lead.email.as_ref());
            let signals = demo_signals(i, now);
            let (after, ledger) = engine.enrich_with_signals(r, &signals).await;
            spent += ledger.iter().map(|l| l.credits).sum::<f64>();
            let (mut stored, _) = leadfall::engine::merge::merge_input(
                None,
                leadfall::model::Record::new(lead.id.clone(), now),
                now,
                &settings.precedence,
            );
            // Every state, unknowns included (an upsert keeps only inputs).
            stored.record = after;
            stored.signals = signals;
            leadfall::engine::rescore::rescore(&decisions, &settings, &mut stored, &[], now);
            let route = stored.route.as_ref().map(|d| d.route.as_str());
            let needs = decisions
                .routing
                .routes
                .iter()
                .find(|r| Some(r.name.as_str()) == route);
            have.push(
                needs
                    .into_iter()
                    .flat_map(|r| r.enrich.iter())
                    .filter(|f| stored.record.value(f).is_some())
                    .cloned()
                    .collect(),
            );
            out.push((
                lead.id.clone(),
                stored.route.map(|d| d.route).unwrap_or_default(),
            ));
        }
        routes.push(out);
        credits.push(spent);
        filled.push(have);
    }
    let shortchanged = routes[0]
        .iter()
        .zip(filled[0].iter().zip(&filled[1]))
        .flat_map(|((id, route), (relevant, everything))| {
            everything
                .difference(relevant)
                .map(move |f| (id.clone(), route.clone(), f.clone()))
        })
        .collect();
    Ok(ModeComparison {
        leads,
        same_route: routes[0]
            .iter()
            .zip(&routes[1])
            .filter(|(a, b)| a == b)
            .count(),
        credits_relevant: credits[0],
        credits_everything: credits[1],
        differences: routes[0]
            .iter()
            .zip(&routes[1])
            .filter(|(a, b)| a != b)
            .map(|(a, b)| (a.0.clone(), a.1.clone(), b.1.clone()))
            .collect(),
        shortchanged,
        route_fields_filled: (
            filled[0].iter().map(|s| s.len()).sum(),
            filled[1].iter().map(|s| s.len()).sum(),
        ),
    })
}

/// Rescoring speed: scores and a route decision per record, pure CPU, one thread.
#[derive(Debug, Clone, Serialize)]
pub struct RescoreSpeed {
    /// Records rescored per run.
    pub records: usize,
    /// Median rescorings per second on one core.
    pub median_per_sec: f64,
    /// Every run.
    pub runs: Vec<f64>,
}

/// Rescore the sample leads (enriched-looking, with signals) `repeat` times on one thread.
pub fn rescore_speed(opts: &BenchOptions) -> anyhow::Result<RescoreSpeed> {
    let settings = load(opts, "http://127.0.0.1:9")?;
    let d = settings
        .decisions
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the config has no scoring/routing files"))?;
    let world = leadfall::sandbox::World::generate(42, 400, 2000);
    let now = chrono::Utc::now();
    let records: Vec<(leadfall::model::Record, Vec<leadfall::control::Signal>)> = world
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let c = world.company_of(p);
            let mut r = leadfall::model::Record::new(p.id.clone(), now);
            for (f, v) in [
                ("company.industry", c.industry.clone()),
                ("company.employee_count", c.employee_count.to_string()),
                ("company.country", c.country.clone()),
                ("company.tech_stack", c.tech.join(";")),
                ("person.seniority", p.seniority.clone()),
                ("person.department", p.department.clone()),
            ] {
                // Every other lead misses a field, so intervals are not all points.
                if (i + f.len()) % 5 == 0 {
                    continue;
                }
                if let Some(def) = settings.catalogue.get(f) {
                    if let Ok(value) = leadfall::model::normalise_text(def, &v) {
                        r.set(
                            f,
                            leadfall::model::FieldState::Known(leadfall::model::Known {
                                value,
                                source: "x.y".into(),
                                confidence: 0.9,
                                observed_at: now,
                                expires_at: None,
                                verified: None,
                            }),
                        );
                    }
                }
            }
            (r, demo_signals(i, now))
        })
        .collect();
    let mut runs = Vec::new();
    for _ in 0..opts.repeat.max(1) {
        let t = Instant::now();
        let mut routed = 0usize;
        for _ in 0..25 {
            for (r, s) in &records {
                let scores = leadfall::score::score_all(&d.scoring, r, s, now);
                let decision = leadfall::route::decide(&d.routing, r, &scores, now, false);
                routed += decision.decided as usize;
            }
        }
        std::hint::black_box(routed);
        runs.push((records.len() * 25) as f64 / t.elapsed().as_secs_f64());
    }
    Ok(RescoreSpeed {
        records: records.len() * 25,
        median_per_sec: median(runs.clone()),
        runs,
    })
}
