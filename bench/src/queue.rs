//! Queue throughput: leases + commits per second with several workers, each
//! with its own store handle (on PostgreSQL its own pool and member id, as
//! separate daemons are), and no provider calls: the store's own ceiling.
//! Each run starts from a fresh store (a temp dir, or a throw-away database)
//! holding `records` queued leads; the median of the runs is reported. sled's
//! workers share one leaser (as in its daemon); PostgreSQL's lease on their own.

use chrono::Utc;
use leadfall::engine::merge::merge_input;
use leadfall::model::Precedence;
use leadfall::model::{FieldState, Record, Value};
use leadfall::store::postgres::{PgStore, PgUrl, TempDatabase};
use leadfall::store::StoredRecord;
use leadfall::store::{RecordStore, StepCommit, Store};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records leased per call, as a daemon with free workers asks.
const LEASE_BATCH: usize = 16;
/// Threads per worker handle in the concurrent runs: a daemon commits many
/// passes at once, up to its store's pool (8 connections).
const THREADS_PER_HANDLE: usize = 8;

/// One backend's figures.
#[derive(Debug, Clone, Serialize)]
pub struct QueueBench {
    /// `sled` or `postgres`.
    pub backend: String,
    /// Records per run.
    pub records: usize,
    /// Workers (store handles) leasing and committing at once.
    pub workers: usize,
    /// Threads per handle (1: one pass at a time per daemon; 8: as a daemon
    /// with free workers commits).
    pub threads_per_worker: usize,
    /// Leases + commits per second, per run.
    pub runs: Vec<f64>,
    /// Their median.
    pub median: f64,
}

fn lead(i: usize) -> Record {
    let now = Utc::now();
    let mut r = Record::new(format!("lead{i:07}"), now);
    for (f, v) in [
        ("person.first_name", format!("First{i}")),
        ("person.last_name", format!("Last{i}")),
        ("company.name", format!("Company {}", i % 5000)),
        ("company.domain", format!("company{}.example", i % 5000)),
    ] {
        r.set(f, FieldState::input(Value::Text(v), now));
    }
    r
}

fn merge(e: Option<StoredRecord>, r: Record, now: chrono::DateTime<Utc>) -> (StoredRecord, bool) {
    merge_input(e, r, now, &Precedence::default())
}

/// Fill `store` with `records` queued leads (not timed).
fn fill(store: &dyn RecordStore, records: usize) -> anyhow::Result<()> {
    let ids: Vec<usize> = (0..records).collect();
    for chunk in ids.chunks(1000) {
        store.upsert(chunk.iter().map(|i| lead(*i)).collect(), Utc::now(), &merge)?;
    }
    Ok(())
}

/// Drain the queue with one handle per worker; leases + commits per second.
/// With `one_leaser` the workers take turns leasing, as a sled daemon's one
/// leaser task feeds its workers (sled's `lease_due` assumes one caller);
/// commits run in parallel either way.
fn drain(
    handles: Vec<Arc<dyn RecordStore>>,
    threads: usize,
    records: usize,
    one_leaser: bool,
) -> anyhow::Result<f64> {
    let leaser = std::sync::Mutex::new(());
    let leaser = &leaser;
    let started = Instant::now();
    let done: Vec<anyhow::Result<usize>> = std::thread::scope(|s| {
        let hs: Vec<_> = handles
            .iter()
            .flat_map(|h| std::iter::repeat_n(h, threads))
            .map(|store| {
                s.spawn(move || -> anyhow::Result<usize> {
                    let mut n = 0;
                    loop {
                        let batch = {
                            let _turn = one_leaser
                                .then(|| leaser.lock().unwrap_or_else(|e| e.into_inner()));
                            store.lease_due(Utc::now(), LEASE_BATCH, Duration::from_secs(300))?
                        };
                        if batch.is_empty() {
                            return Ok(n);
                        }
                        for l in batch {
                            let mut record = l.record;
                            record.passes += 1;
                            store.commit_step(StepCommit {
                                record,
                                lease: l.lease,
                                outbox: vec![],
                                next_due: None,
                            })?;
                            n += 1;
                        }
                    }
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("worker panicked")))
            })
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let total: usize = done.into_iter().sum::<anyhow::Result<usize>>()?;
    anyhow::ensure!(
        total == records,
        "{total} of {records} records leased and committed"
    );
    Ok(total as f64 / secs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// sled, then PostgreSQL on the server `pg` (when given), each with one
/// thread per handle and with [`THREADS_PER_HANDLE`].
pub fn run(
    pg: Option<&PgUrl>,
    records: usize,
    workers: usize,
    repeat: usize,
) -> anyhow::Result<Vec<QueueBench>> {
    let mut out = Vec::new();
    for threads in [1, THREADS_PER_HANDLE] {
        let mut runs = Vec::new();
        for _ in 0..repeat.max(1) {
            let dir = tempfile::tempdir()?;
            let store = Store::open(&dir.path().join("store"))?;
            fill(&store, records)?;
            let handles = (0..workers)
                .map(|_| Arc::new(store.clone()) as Arc<dyn RecordStore>)
                .collect();
            runs.push(drain(handles, threads, records, true)?);
        }
        out.push(QueueBench {
            backend: "sled".into(),
            records,
            workers,
            threads_per_worker: threads,
            median: median(runs.clone()),
            runs,
        });
        let Some(server) = pg else { continue };
        let mut runs = Vec::new();
        for _ in 0..repeat.max(1) {
            let db = TempDatabase::create(server)?;
            let first = PgStore::open_migrated(db.url())?;
            fill(&first, records)?;
            let mut handles: Vec<Arc<dyn RecordStore>> = vec![Arc::new(first)];
            for _ in 1..workers {
                handles.push(Arc::new(PgStore::open(db.url())?));
            }
            runs.push(drain(handles, threads, records, false)?);
        }
        out.push(QueueBench {
            backend: "postgres".into(),
            records,
            workers,
            threads_per_worker: threads,
            median: median(runs.clone()),
            runs,
        });
    }
    Ok(out)
}
