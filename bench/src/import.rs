//! Import throughput: `leadfall import`'s own path (the CSV reader, batches
//! over HTTP, the daemon's upsert with its durable flush before each answer)
//! into the queue of a daemon in this process with no workers, so the figure
//! is the queue's intake, not enrichment. Each run starts from a fresh data
//! directory; the median of the runs is reported.

use leadfall::config::{self, Loader};
use leadfall::daemon::local::LocalDaemon;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Good rows per upsert request, as `leadfall import` sends by default.
const BATCH: usize = 1000;

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct ImportBench {
    /// Rows per run.
    pub records: usize,
    /// Rows per upsert request.
    pub batch_size: usize,
    /// Records stored and queued per second, per run (acknowledged = on disk).
    pub runs: Vec<f64>,
    /// Their median.
    pub median: f64,
}

/// A plain lead list of `n` rows.
fn leads_csv(n: usize) -> String {
    let mut out =
        String::from("id,person.first_name,person.last_name,company.name,company.domain\n");
    for i in 0..n {
        let c = i % 5000;
        out.push_str(&format!(
            "lead{i:07},First{i},Last{i},Company {c},company{c}.example\n"
        ));
    }
    out
}

/// Import `records` rows `repeat` times, each into a fresh store.
pub async fn run(config_path: &Path, records: usize, repeat: usize) -> anyhow::Result<ImportBench> {
    let mut runs = Vec::new();
    for _ in 0..repeat.max(1) {
        let dir = tempfile::tempdir()?;
        let mut settings =
            config::load(config_path, &config::process_env).map_err(|e| anyhow::anyhow!("{e}"))?;
        settings.data_dir = dir.path().join("data");
        settings.store = leadfall::store::Backend::Sled;
        settings.daemon.workers = 0;
        settings.sinks.clear();
        let catalogue = settings.catalogue.clone();
        let loader = Loader::fixed(settings.clone());
        let daemon = LocalDaemon::start(settings, loader, Duration::from_secs(10)).await?;
        let file = dir.path().join("leads.csv");
        std::fs::write(&file, leads_csv(records))?;
        let opts = leadfall::cli::import::ImportOptions {
            rejects: None,
            batch_size: BATCH,
            progress: false,
        };
        let t0 = Instant::now();
        let report =
            leadfall::cli::import::import_file(&daemon.client, &catalogue, &file, &opts).await?;
        let secs = t0.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.created == records as u64,
            "{} of {records} records created",
            report.created
        );
        daemon.stop().await?;
        runs.push(records as f64 / secs);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(ImportBench {
        records,
        batch_size: BATCH,
        median: sorted[sorted.len() / 2],
        runs,
    })
}
