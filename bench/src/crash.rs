//! The crash harness behind `leadfall-bench --crash-kills N`: the real daemon
//! (a [`Leadfall`] child process; by default this binary acting as leadfall)
//! against an in-process sandbox whose vendors bill, killed with SIGKILL at
//! random moments — right after `import` said yes, and in the middle of
//! work — then compared with an uninterrupted run on a fresh sandbox of the
//! same seed: records imported vs present, records whose values or sources
//! differ, passes per record, the ledger against the sandbox's bill per
//! vendor, and per-record credits against the ledger. Every field is
//! enriched (`enrich_everything`), whatever the routes need, so the email
//! waterfall and its verifier run.

use crate::Leadfall;
use leadfall::sandbox::{Sandbox, SandboxSettings, VendorSettings, API_KEYS};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// leadfall as a child process (the daemon and its CLI verbs).
    pub leadfall: Leadfall,
    /// The configuration to copy (its providers pointed at the sandbox).
    pub config: PathBuf,
    /// Leads imported.
    pub leads: usize,
    /// Kills in the middle of work (one more comes right after the import).
    pub kills: usize,
    /// The world's seed (and the kill moments').
    pub seed: u64,
    /// Workers per daemon (`None`: the config's). With one, passes run in
    /// queue order and an uninterrupted run is repeatable; with many, which
    /// record learns a domain's email pattern first varies from run to run.
    pub workers: Option<usize>,
}

/// One vendor's bill against leadfall's ledger.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VendorBill {
    /// Credits the sandbox billed.
    pub billed: f64,
    /// Credits in leadfall's ledger.
    pub ledger: f64,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    /// Records the export holds.
    pub records: usize,
    /// Per vendor.
    pub vendors: BTreeMap<String, VendorBill>,
    /// Sum of the records' `credits_spent`.
    pub record_credits: f64,
    /// Sum of the ledger's credits.
    pub ledger_credits: f64,
    /// Passes per record: (passes, records).
    pub passes: BTreeMap<u32, usize>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CrashReport {
    /// Leads imported (acknowledged by `import`).
    pub imported: usize,
    /// Kills made.
    pub kills: usize,
    /// The uninterrupted run.
    pub reference: RunFigures,
    /// The killed run.
    pub crashed: RunFigures,
    /// Records of the killed run whose field values or sources differ.
    pub differing: Vec<String>,
    /// Of those, the records whose values differ (not only a source).
    pub differing_values: usize,
    /// How many records differ in each field.
    pub differing_fields: BTreeMap<String, usize>,
    /// A few differences: `id field: uninterrupted → killed`.
    pub examples: Vec<String>,
    /// Wall time of the killed run, seconds.
    pub wall_secs: f64,
}

/// A daemon child on a data directory.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(run: &Run) -> anyhow::Result<Daemon> {
        let addr = run.data.join("control.addr");
        let _ = std::fs::remove_file(&addr);
        let mut child = run
            .cmd(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !addr.exists() {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("the daemon exited with {status}");
            }
            anyhow::ensure!(Instant::now() < deadline, "the daemon did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Daemon { child })
    }

    fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// One run: a sandbox, a config pointed at it, a data directory.
struct Run {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    leadfall: Leadfall,
    /// The sandbox serving (stopped on drop).
    running: crate::Running,
}

impl Run {
    async fn new(opts: &CrashOptions) -> anyhow::Result<Run> {
        let mut settings = SandboxSettings {
            seed: opts.seed,
            ..SandboxSettings::default()
        };
        for (vendor, _) in API_KEYS {
            settings.vendors.insert(
                vendor.to_string(),
                VendorSettings {
                    latency_ms: 2,
                    ..Default::default()
                },
            );
        }
        let running = crate::start(settings).await?;
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let config = write_config(&opts.config, dir.path(), &data, opts.workers)?;
        Ok(Run {
            sandbox: running.sandbox.clone(),
            dir,
            data,
            config,
            leadfall: opts.leadfall.clone(),
            running,
        })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.leadfall.command();
        c.arg("--config").arg(&self.config).args(args);
        c.env_remove("RUST_LOG");
        c.envs(Sandbox::child_env(&self.running.base));
        c
    }

    fn requests(&self) -> u64 {
        self.sandbox.counters().values().map(|c| c.requests).sum()
    }

    fn import(&self, leads: &Path) -> anyhow::Result<usize> {
        let out = self
            .cmd(&["import", &leads.display().to_string(), "--json"])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        Ok(v["good"].as_u64().unwrap_or(0) as usize)
    }

    /// Wait until nothing is due or leased (the daemon running).
    fn wait_idle(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let out = self.cmd(&["status", "--json"]).output()?;
            if out.status.success() {
                let s: serde_json::Value = serde_json::from_slice(&out.stdout)?;
                if s["queued_due"] == 0 && s["leased"] == 0 {
                    return Ok(());
                }
            }
            anyhow::ensure!(Instant::now() < deadline, "the queue did not drain");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Records (id → export line) and the run's figures: the export through
    /// the running `daemon`, which is then killed, and the ledger read from
    /// the store it leaves.
    fn figures(
        &self,
        daemon: Daemon,
    ) -> anyhow::Result<(BTreeMap<String, serde_json::Value>, RunFigures)> {
        let out = self.dir.path().join("export.jsonl");
        let o = self
            .cmd(&[
                "export",
                "--format",
                "jsonl",
                "--out",
                &out.display().to_string(),
            ])
            .output()?;
        anyhow::ensure!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        daemon.kill9()?;
        let mut records = BTreeMap::new();
        for line in std::fs::read_to_string(&out)?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let id = v["record"]["id"].as_str().unwrap_or_default().to_string();
            records.insert(id, v);
        }
        let store = leadfall::store::Store::open(&self.data.join("store"))?;
        let ledger = leadfall::store::CallStore::ledger(&store)?;
        let mut vendors: BTreeMap<String, VendorBill> = BTreeMap::new();
        for (vendor, c) in self.sandbox.counters() {
            vendors
                .entry(vendor)
                .or_insert(VendorBill {
                    billed: 0.0,
                    ledger: 0.0,
                })
                .billed = c.credits_billed;
        }
        for row in &ledger {
            if let Some(v) = vendors.get_mut(row.provider.as_str()) {
                v.ledger += row.credits;
            }
        }
        let mut passes = BTreeMap::new();
        for r in records.values() {
            *passes
                .entry(r["passes"].as_u64().unwrap_or(0) as u32)
                .or_default() += 1;
        }
        let figures = RunFigures {
            records: records.len(),
            vendors,
            record_credits: records
                .values()
                .map(|r| r["record"]["credits_spent"].as_f64().unwrap_or(0.0))
                .sum(),
            ledger_credits: ledger.iter().map(|r| r.credits).sum(),
            passes,
        };
        Ok((records, figures))
    }
}

/// The configuration under test, with absolute provider dirs and `data_dir`.
fn write_config(
    config: &Path,
    dir: &Path,
    data: &Path,
    workers: Option<usize>,
) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(config)?;
    let mut doc: toml_edit::DocumentMut = text.parse()?;
    let base = config.parent().unwrap_or(Path::new("."));
    if let Some(dirs) = doc.get_mut("provider_dirs").and_then(|d| d.as_array_mut()) {
        for d in dirs.iter_mut() {
            if let Some(p) = d.as_str() {
                let abs = std::fs::canonicalize(base.join(p))?;
                *d = toml_edit::Value::from(abs.display().to_string());
            }
        }
    }
    doc["data_dir"] = toml_edit::value(data.display().to_string());
    // Every waterfall runs (the email finders, the guess, the verifier), so
    // every kind of learned state is at stake.
    doc["waterfall"]["enrich_everything"] = toml_edit::value(true);
    if let Some(w) = workers {
        doc["daemon"]["workers"] = toml_edit::value(w as i64);
    }
    let cdir = dir.join("config");
    std::fs::create_dir_all(&cdir)?;
    for entry in std::fs::read_dir(base)? {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "toml") && p != config {
            std::fs::copy(&p, cdir.join(p.file_name().unwrap_or_default()))?;
        }
    }
    let out = cdir.join("leadfall.toml");
    std::fs::write(&out, doc.to_string())?;
    Ok(out)
}

/// The leads: the world's people, as a CSV.
fn leads(run: &Run, n: usize) -> anyhow::Result<PathBuf> {
    let path = run.dir.path().join("leads.csv");
    std::fs::write(&path, run.sandbox.world().sample_leads_csv(n))?;
    Ok(path)
}

/// The fields of a record that must match: value and source per field.
fn fields(r: &serde_json::Value) -> BTreeMap<String, (serde_json::Value, serde_json::Value)> {
    r["record"]["fields"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(f, s)| {
                    let value = s.get("value").cloned().unwrap_or(s["reason"].clone());
                    (f.clone(), (value, s["source"].clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Run both and compare.
pub async fn run(opts: &CrashOptions) -> anyhow::Result<CrashReport> {
    // The uninterrupted run.
    let reference = Run::new(opts).await?;
    let file = leads(&reference, opts.leads)?;
    let d = Daemon::start(&reference)?;
    reference.import(&file)?;
    reference.wait_idle()?;
    let (want, reference_figures) = reference.figures(d)?;

    // The same on a fresh world of the same seed, killed.
    let crashed = Run::new(opts).await?;
    let file = leads(&crashed, opts.leads)?;
    let t0 = Instant::now();
    let d = Daemon::start(&crashed)?;
    let imported = crashed.import(&file)?;
    d.kill9()?; // right after the acknowledgement
    let mut kills = 1;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(opts.seed);
    let expected = reference.requests().max(1);
    for _ in 0..opts.kills {
        let d = Daemon::start(&crashed)?;
        // Kill after a random share of the work the reference needed.
        let share: f64 = rand::Rng::gen(&mut rng);
        let step = 1 + (share * expected as f64 / opts.kills.max(1) as f64) as u64;
        let target = crashed.requests() + step;
        let deadline = Instant::now() + Duration::from_secs(60);
        while crashed.requests() < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        d.kill9()?;
        kills += 1;
    }
    let d = Daemon::start(&crashed)?;
    crashed.wait_idle()?;
    let wall_secs = t0.elapsed().as_secs_f64();
    let (got, crashed_figures) = crashed.figures(d)?;
    let mut differing = Vec::new();
    let mut differing_fields: BTreeMap<String, usize> = BTreeMap::new();
    let mut examples = Vec::new();
    let mut differing_values = 0;
    for (id, r) in &want {
        let (a, b) = (fields(r), got.get(id).map(fields).unwrap_or_default());
        if a != b {
            differing.push(id.clone());
            let values = |m: &BTreeMap<String, (serde_json::Value, serde_json::Value)>| {
                m.iter()
                    .map(|(f, (v, _))| (f.clone(), v.clone()))
                    .collect::<Vec<_>>()
            };
            differing_values += usize::from(values(&a) != values(&b));
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for f in keys {
                if a.get(f) != b.get(f) {
                    *differing_fields.entry(f.clone()).or_default() += 1;
                    if examples.len() < 5 {
                        examples.push(format!("{id} {f}: {:?} → {:?}", a.get(f), b.get(f)));
                    }
                }
            }
        }
    }
    Ok(CrashReport {
        imported,
        kills,
        reference: reference_figures,
        crashed: crashed_figures,
        differing,
        differing_values,
        differing_fields,
        examples,
        wall_secs,
    })
}
