//! The report benchmark behind `leadfall-bench --report-calls N`: writes N
//! synthetic ledger rows (through the same `record_call` the executor uses,
//! so the per-hour counters are kept as in production) over 30 days into a
//! store on disk, then times building the report over the whole window.

use chrono::{TimeZone, Utc};
use leadfall::report::{from_store, Window};
use leadfall::store::{CallStore, LedgerEntry, Store};
use serde::Serialize;
use std::time::Instant;

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct ReportBench {
    /// Ledger rows written.
    pub calls: u64,
    /// Counter buckets the report read.
    pub buckets: usize,
    /// Rows written per second (ledger row + counter update each), all writers.
    pub write_rows_per_sec: f64,
    /// Each report run, milliseconds.
    pub report_ms: Vec<f64>,
    /// Median of `report_ms`.
    pub median_report_ms: f64,
    /// Credits in the report (equal to the credits written: checked).
    pub credits: f64,
}

const OPERATIONS: [&str; 8] = [
    "mailfinder.email-finder",
    "personapi.person-enrich",
    "peoplematch.match",
    "companyapi.company-find",
    "companyapi.domain-lookup",
    "verifier.validate",
    "vendor6.lookup",
    "vendor7.lookup",
];

fn row(i: u64, start: chrono::DateTime<Utc>) -> LedgerEntry {
    let op = OPERATIONS[(i % OPERATIONS.len() as u64) as usize];
    let hit = !i.is_multiple_of(3);
    let cached = i.is_multiple_of(7);
    LedgerEntry {
        choice: None,
        // 30 days of hours, round robin.
        at: start + chrono::Duration::seconds(((i / 8) % 720) as i64 * 3600 + (i % 3600) as i64),
        record_id: Some(format!("lead{:07}", i / 6)),
        operation: op.into(),
        provider: op.split('.').next().unwrap_or_default().into(),
        outcome: if i.is_multiple_of(97) {
            "transient".into()
        } else if hit {
            "hit".into()
        } else {
            "not_found".into()
        },
        cached,
        credits: if hit && !cached { 1.0 } else { 0.0 },
        saved_credits: if hit && cached { 1.0 } else { 0.0 },
        latency_ms: 20 + (i % 400),
        attempts: u32::from(!cached),
        throttled: 0,
        status: Some(if hit { 200 } else { 404 }),
        error: None,
        fields: if hit {
            vec!["person.email".into(), "person.title".into()]
        } else {
            vec![]
        },
    }
}

/// Write `calls` rows with `writers` threads into a store in `dir`, then build the report `runs` times.
pub fn run(
    dir: &std::path::Path,
    calls: u64,
    writers: u64,
    runs: usize,
    waterfall: &leadfall::waterfall::WaterfallSettings,
) -> anyhow::Result<ReportBench> {
    let store = Store::open(dir)?;
    let start = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let t = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let store = store.clone();
                s.spawn(move || -> anyhow::Result<()> {
                    let mut i = w;
                    while i < calls {
                        store.record_call(None, &row(i, start), false)?;
                        i += writers;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a writer panicked"))??;
        }
        Ok(())
    })?;
    store.flush()?;
    let write_rows_per_sec = calls as f64 / t.elapsed().as_secs_f64();
    let expected: f64 = (0..calls).map(|i| row(i, start).credits).sum();
    let window = Window::new(start, start + chrono::Duration::days(31))?;
    let mut report_ms = Vec::new();
    let mut report = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = from_store(&store, &store, waterfall, window, Vec::new(), Utc::now())?;
        report_ms.push(t.elapsed().as_secs_f64() * 1e3);
        report = Some(r);
    }
    let report = report.ok_or_else(|| anyhow::anyhow!("no report run"))?;
    anyhow::ensure!(
        (report.credits - expected).abs() < 1e-6,
        "the report's credits {} differ from the {expected} written",
        report.credits
    );
    let (from, to) = window.hours();
    let buckets = store.call_buckets(from, to)?.len();
    let mut sorted = report_ms.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(ReportBench {
        calls,
        buckets,
        write_rows_per_sec,
        median_report_ms: sorted[sorted.len() / 2],
        report_ms,
        credits: report.credits,
    })
}
