//! Beat the bottleneck vendor: one sandbox world with vendor-like limits
//! (email finder 15/s, person enrich 10/s, person match 20/s, company API
//! 25/s, verifier 50/s, 40 ms latency), run with the configured strict order
//! and with capacity-aware groups, then the same with every limit ×100. The
//! sandbox runs in a child process, so the CPU figure is leadfall's alone.
//! `leadfall-bench --bottleneck-leads 1000` prints it.

use crate::Leadfall;
use anyhow::Context;
use leadfall::config::{self, Settings};
use leadfall::engine::{enrich_file, BatchOptions, Engine, Summary};
use leadfall::sandbox::{SandboxSettings, VendorSettings};
use leadfall::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The vendor-like limits (req/s) of the hand-written baseline's world.
pub const VENDOR_LIMITS: &[(&str, u32)] = &[
    ("mailfinder", 15),
    ("personapi", 10),
    ("peoplematch", 20),
    ("companyapi", 25),
    ("verifier", 50),
];

/// Warm passes timed; the median is reported.
const WARM_RUNS: usize = 5;

/// Fields looked up (the baseline's: no phone, which only one vendor sells).
const FIELDS: &[&str] = &[
    "company.domain",
    "person.email",
    "person.title",
    "person.seniority",
    "company.industry",
    "company.employee_count",
    "company.country",
];

/// The hand-written baseline's order for these fields: the person-enrich
/// vendor first, the one it is bound by. Both runs use it; only the groups
/// differ.
const BASELINE_ORDER: &[(&str, &[&str])] = &[
    (
        "person.title",
        &["personapi.person-enrich", "peoplematch.match"],
    ),
    (
        "person.seniority",
        &["personapi.person-enrich", "peoplematch.match"],
    ),
];

/// Capacity-aware groups: interchangeable operations (same price, all
/// answers verified or confidence-gated), by field.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "person.title",
        &["peoplematch.match", "personapi.person-enrich"],
    ),
    (
        "person.seniority",
        &["peoplematch.match", "personapi.person-enrich"],
    ),
    (
        "person.email",
        &[
            "mailfinder.email-finder",
            "peoplematch.match",
            "personapi.person-enrich",
        ],
    ),
];

/// One pass over the leads.
#[derive(Debug, Clone, Serialize)]
pub struct Pass {
    /// Wall seconds.
    pub wall_secs: f64,
    /// Max over vendors of requests / limit: no client can be faster.
    pub lower_bound_secs: f64,
    /// wall / lower bound.
    pub wall_over_bound: f64,
    /// Requests per vendor.
    pub requests: BTreeMap<String, u64>,
    /// 429s per vendor (pacing should make them 0).
    pub rate_limited: u64,
    /// Share of leads with each field known after the pass.
    pub fill: BTreeMap<String, f64>,
    /// Credits billed over fields filled by enrichment.
    pub credits_per_filled_field: f64,
    /// leadfall's CPU per lead, milliseconds (the sandbox is another process).
    pub cpu_ms_per_lead: f64,
    /// Ledger rows that carry a capacity choice.
    pub capacity_choices: u64,
}

/// Strict and capacity-aware passes at one set of limits.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Limits ×.
    pub scale: u32,
    /// Leads.
    pub leads: usize,
    /// The configured order.
    pub strict: Pass,
    /// With capacity-aware groups.
    pub capacity: Pass,
    /// capacity wall / strict wall.
    pub capacity_over_strict: f64,
    /// Strict passes over the same input again: median wall seconds of
    /// five, and the requests they made.
    pub warm_wall_secs: f64,
    /// The fastest of those passes (the machine's noise is all one way).
    pub warm_min_wall_secs: f64,
    /// Requests the warm pass made (0: all from the cache).
    pub warm_requests: u64,
    /// leadfall's CPU per lead in a warm pass (median), microseconds (with
    /// the wall time it says how well the pass uses the cores).
    pub warm_cpu_us_per_lead: f64,
}

/// Both comparisons.
#[derive(Debug, Clone, Serialize)]
pub struct Bottleneck {
    /// At vendor-like limits (absent when asked for 0 leads).
    pub vendor_like: Option<Comparison>,
    /// With every limit ×100.
    pub generous: Comparison,
}

/// Run both comparisons: `leads` at vendor-like limits, `leads_generous` at
/// ×100; a size of 0 skips that one.
pub async fn bottleneck(
    leadfall: &Leadfall,
    config: &Path,
    leads: usize,
    leads_generous: usize,
) -> anyhow::Result<Bottleneck> {
    Ok(Bottleneck {
        vendor_like: match leads {
            0 => None,
            n => Some(compare(leadfall, config, n, 1).await?),
        },
        generous: compare(leadfall, config, leads_generous, 100).await?,
    })
}

async fn compare(
    leadfall: &Leadfall,
    config: &Path,
    leads: usize,
    scale: u32,
) -> anyhow::Result<Comparison> {
    let (strict, warm) = pass(leadfall, config, leads, scale, false).await?;
    let (capacity, _) = pass(leadfall, config, leads, scale, true).await?;
    Ok(Comparison {
        scale,
        leads,
        capacity_over_strict: capacity.wall_secs / strict.wall_secs,
        strict,
        capacity,
        warm_wall_secs: warm.wall_secs,
        warm_min_wall_secs: warm.min_wall_secs,
        warm_requests: warm.requests,
        warm_cpu_us_per_lead: warm.cpu_us_per_lead,
    })
}

/// The warm passes of one [`pass`].
struct Warm {
    wall_secs: f64,
    min_wall_secs: f64,
    requests: u64,
    cpu_us_per_lead: f64,
}

/// A fresh sandbox and store; a cold pass, then a warm one over the same input.
async fn pass(
    leadfall: &Leadfall,
    config: &Path,
    leads: usize,
    scale: u32,
    grouped: bool,
) -> anyhow::Result<(Pass, Warm)> {
    let dir = tempfile::tempdir()?;
    let mut world = SandboxSettings {
        people: leads.max(2000),
        companies: (leads / 5).max(400),
        ..SandboxSettings::default()
    };
    for (v, limit) in VENDOR_LIMITS {
        world.vendors.insert(
            v.to_string(),
            VendorSettings {
                rate_limit_per_sec: Some(limit * scale),
                latency_ms: 40,
                ..VendorSettings::default()
            },
        );
    }
    let sandbox = SandboxProcess::spawn(leadfall, &world, dir.path())?;
    let settings = settings(config, &sandbox.base, dir.path(), scale, grouped)?;
    let csv = leadfall::sandbox::World::generate(world.seed, world.companies, world.people)
        .sample_leads_csv(leads);
    let input = dir.path().join("leads.csv");
    std::fs::write(&input, csv)?;
    let store = Store::open(&settings.data_dir.join("store"))?;
    let engine = Engine::from_settings(
        Arc::new(settings),
        Arc::new(store.clone()),
        Arc::new(leadfall::clock::SystemClock),
    )?;
    let opts = |name: &str| BatchOptions {
        progress: false,
        rejects: dir.path().join(format!("{name}.rejects.csv")),
    };
    let cpu0 = crate::cpu_seconds();
    let t0 = Instant::now();
    let cold = enrich_file(
        &engine,
        &input,
        &dir.path().join("cold.jsonl"),
        &opts("cold"),
    )
    .await?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = crate::cpu_seconds() - cpu0;
    let counters = sandbox.counters().await?;
    // Warm passes over the same input: the median of WARM_RUNS.
    let mut warm_walls = Vec::new();
    let mut warm_cpus = Vec::new();
    warm_gate("ready").await?;
    for _ in 0..WARM_RUNS {
        let t1 = Instant::now();
        let cpu1 = crate::cpu_seconds();
        enrich_file(
            &engine,
            &input,
            &dir.path().join("warm.jsonl"),
            &opts("warm"),
        )
        .await?;
        warm_walls.push(t1.elapsed().as_secs_f64());
        warm_cpus.push(crate::cpu_seconds() - cpu1);
    }
    warm_gate("done").await?;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let warm_min = warm_walls.iter().copied().fold(f64::INFINITY, f64::min);
    let warm_wall = median(warm_walls);
    let warm_cpu = median(warm_cpus);
    let after = sandbox.counters().await?;
    let total = |c: &BTreeMap<String, Counters>| c.values().map(|v| v.requests).sum::<u64>();
    let warm_requests = total(&after) - total(&counters);
    let choices = leadfall::store::CallStore::ledger(&store)?
        .iter()
        .filter(|r| r.choice.is_some())
        .count() as u64;
    Ok((
        summarise(&cold.summary, &counters, wall, cpu, leads, scale, choices),
        Warm {
            wall_secs: warm_wall,
            requests: warm_requests,
            min_wall_secs: warm_min,
            cpu_us_per_lead: warm_cpu * 1e6 / leads.max(1) as f64,
        },
    ))
}

/// With `LEADFALL_BENCH_WARM_GATE` set to a FIFO (`scripts/callgrind-warm`),
/// say on stderr that the warm passes are `ready` or `done` and wait for a
/// line on the FIFO: the script switches callgrind's counting on and off
/// around exactly the warm passes.
async fn warm_gate(stage: &str) -> anyhow::Result<()> {
    let Some(fifo) = std::env::var_os("LEADFALL_BENCH_WARM_GATE") else {
        return Ok(());
    };
    eprintln!("bench: warm passes {stage} ({WARM_RUNS} passes)");
    tokio::fs::read(&fifo)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the gate {}: {e}", fifo.to_string_lossy()))?;
    Ok(())
}

fn summarise(
    summary: &Summary,
    counters: &BTreeMap<String, Counters>,
    wall: f64,
    cpu: f64,
    leads: usize,
    scale: u32,
    capacity_choices: u64,
) -> Pass {
    let limit = |v: &str| {
        VENDOR_LIMITS
            .iter()
            .find(|(id, _)| *id == v)
            .map_or(f64::INFINITY, |(_, l)| f64::from(l * scale))
    };
    let lower_bound_secs = counters
        .iter()
        .map(|(v, c)| c.requests as f64 / limit(v))
        .fold(0.0, f64::max);
    let filled: u64 = summary.fields.values().map(|f| f.filled).sum();
    let credits: f64 = counters.values().map(|c| c.credits_billed).sum();
    Pass {
        wall_secs: wall,
        lower_bound_secs,
        wall_over_bound: wall / lower_bound_secs.max(1e-9),
        requests: counters
            .iter()
            .map(|(v, c)| (v.clone(), c.requests))
            .collect(),
        rate_limited: counters.values().map(|c| c.rate_limited).sum(),
        fill: FIELDS
            .iter()
            .map(|f| {
                let s = summary.fields.get(*f).cloned().unwrap_or_default();
                (
                    f.to_string(),
                    (s.filled + s.from_input) as f64 / leads.max(1) as f64,
                )
            })
            .collect(),
        credits_per_filled_field: credits / filled.max(1) as f64,
        cpu_ms_per_lead: cpu * 1000.0 / leads.max(1) as f64,
        capacity_choices,
    }
}

/// The config pointed at the sandbox, pacing at the sandbox's limits, with
/// only [`FIELDS`] looked up, every one of them (like the baseline script),
/// and the groups when asked.
fn settings(
    config: &Path,
    base: &str,
    dir: &Path,
    scale: u32,
    grouped: bool,
) -> anyhow::Result<Settings> {
    let mut s = config::load(
        config,
        &leadfall::sandbox::Sandbox::provider_env(base.to_string()),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    s.data_dir = dir.join("data");
    s.waterfall.enrich_everything = true;
    s.waterfall.record_ceiling = None;
    s.waterfall
        .fields
        .retain(|w| FIELDS.contains(&w.field.as_str()));
    // The engine's default records in flight (512) already keeps every
    // vendor's queue full here; 4,096 gave the same wall / bound and cost
    // ~20% more CPU per lead in page faults and timers (README, "Performance").
    s.records_in_flight = config::EngineFile::default().records_in_flight;
    for (v, limit) in VENDOR_LIMITS {
        if let Some(p) = s.providers.get_mut(v) {
            p.rate = Some(leadfall::provider::Rate {
                requests: limit * scale,
                period: std::time::Duration::from_secs(1),
                burst: 1,
            });
            p.max_concurrency = p.max_concurrency.max(512);
        }
    }
    for (field, order) in BASELINE_ORDER {
        if let Some(w) = s.waterfall.fields.iter_mut().find(|w| w.field == *field) {
            let ops = |st: &leadfall::waterfall::Step| order.contains(&st.id());
            w.steps.retain(|st| !ops(st));
            let first: Vec<_> = order
                .iter()
                .map(|id| leadfall::waterfall::Step::Operation((*id).into()))
                .collect();
            w.steps.splice(0..0, first);
        }
    }
    if grouped {
        for (field, members) in GROUPS {
            let Some(w) = s.waterfall.fields.iter_mut().find(|w| w.field == *field) else {
                continue;
            };
            // The members together, in config order, where the first one stands.
            let member = |st: &leadfall::waterfall::Step| members.contains(&st.id());
            let Some(at) = w.steps.iter().position(member) else {
                continue;
            };
            let group: Vec<_> = w.steps.iter().filter(|st| member(st)).cloned().collect();
            w.steps.retain(|st| !member(st));
            let n = group.len();
            w.steps.splice(at..at, group);
            w.groups = std::iter::once(at..at + n).collect();
        }
    }
    Ok(s)
}

/// A vendor's counters as the sandbox reports them.
#[derive(Debug, Clone, serde::Deserialize)]
struct Counters {
    requests: u64,
    rate_limited: u64,
    credits_billed: f64,
}

/// `leadfall sandbox` in a child process, killed on drop.
struct SandboxProcess {
    child: std::process::Child,
    base: String,
    http: reqwest::Client,
}

impl SandboxProcess {
    fn spawn(
        leadfall: &Leadfall,
        world: &SandboxSettings,
        dir: &Path,
    ) -> anyhow::Result<SandboxProcess> {
        let file: PathBuf = dir.join("sandbox.toml");
        std::fs::write(&file, toml::to_string(world)?)?;
        let mut child = leadfall
            .command()
            .args(["--json", "sandbox", "--port", "0", "--settings"])
            .arg(&file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {leadfall} sandbox"))?;
        let stdout = child.stdout.take().context("sandbox stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("the sandbox printed {line:?}, not its address"))?;
        let addr = v["address"].as_str().context("no address")?.to_string();
        Ok(SandboxProcess {
            child,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        })
    }

    async fn counters(&self) -> anyhow::Result<BTreeMap<String, Counters>> {
        let mut resp = self
            .http
            .get(format!("{}/_sandbox/counters", self.base))
            .send()
            .await?
            .error_for_status()?;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            body.extend_from_slice(&chunk);
            anyhow::ensure!(
                body.len() < 1 << 20,
                "the sandbox's counters are over 1 MiB"
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
