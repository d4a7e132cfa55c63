//! Batch mode: stream an input file through the engine and write every record,
//! with its field states, as JSON lines. Bad rows go to a rejects file; good
//! rows are never lost with them.

use super::{Engine, Summary, Tally};
use crate::import::{ImportSummary, Importer, ReadOptions, RejectsWriter, Row};
use crate::model::Record;
use futures::StreamExt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Batch options.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Where rejected rows go (created only when there is one).
    pub rejects: PathBuf,
}

/// What a batch did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BatchReport {
    /// Rows read, good and rejected.
    pub import: ImportSummary,
    /// The rejects file, when rows were rejected.
    pub rejects_file: Option<PathBuf>,
    /// Output file.
    pub output: PathBuf,
    /// Fields and providers.
    pub summary: Summary,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Count lines quickly, for the progress bar's length.
fn count_lines(path: &Path) -> u64 {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    while let Ok(k) = f.read(&mut buf) {
        if k == 0 {
            break;
        }
        n += buf[..k].iter().filter(|b| **b == b'\n').count() as u64;
    }
    n
}

/// Enrich every good row of `input` into `output` (JSON lines).
pub async fn enrich_file(
    engine: &Engine,
    input: &Path,
    output: &Path,
    opts: &BatchOptions,
) -> anyhow::Result<BatchReport> {
    enrich_file_with(engine, input, output, opts, &ReadOptions::default()).await
}

/// [`enrich_file`] with column rules and, when already decided, the encoding.
pub async fn enrich_file_with(
    engine: &Engine,
    input: &Path,
    output: &Path,
    opts: &BatchOptions,
    read: &ReadOptions,
) -> anyhow::Result<BatchReport> {
    use anyhow::Context;
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let importer = Importer::open_with(input, &engine.settings().catalogue, now, read)?;
    let (replace, out) = super::output::Output::create(output)?;
    let bar = if opts.progress {
        let b = indicatif::ProgressBar::new(count_lines(input));
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} rows {per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };

    // The reader runs on a blocking thread and hands rows over in chunks: a
    // hand-off per row cost more than parsing it.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Row>>(16);
    let reader = tokio::task::spawn_blocking(move || {
        let mut importer = importer;
        // The first chunks are small, so every lane starts at once; they grow
        // to full size while the lanes work.
        let mut size = FIRST_CHUNK_ROWS;
        let mut chunk = Vec::with_capacity(size);
        for row in importer.by_ref() {
            chunk.push(row);
            if chunk.len() == size {
                size = (size * 2).min(CHUNK_ROWS);
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(size));
                if tx.blocking_send(full).is_err() {
                    return importer.take_error();
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        importer.take_error()
    });
    // A rejects file left by an earlier run would mislead: this run writes its own.
    let _ = std::fs::remove_file(&opts.rejects);
    let mut rejects = RejectsWriter::create(&opts.rejects)?;
    let mut import = ImportSummary::default();
    let mut summary = Summary::default();
    // One lane per worker thread, each polling its share of the records in
    // flight and writing its own lines: no task per record, and a record is
    // encoded and dropped on the thread that enriched it.
    let lanes = tokio::runtime::Handle::current()
        .metrics()
        .num_workers()
        .max(1);
    let per_lane = (engine.settings().records_in_flight / lanes).max(1);
    let out = std::sync::Arc::new(std::sync::Mutex::new(out));
    // One queue that every lane takes from when it has room: dealt round
    // the lanes in turn, a lane slowed for a moment (writing a ledger page)
    // held up the hand-out, and the other lane ran out of work.
    let (sender, queue) = tokio::sync::mpsc::channel::<Vec<Record>>(2 * lanes);
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(queue));
    let runtimes = engine.lanes.take(lanes)?;
    let handles: Vec<_> = runtimes
        .0
        .iter()
        .map(|rt| rt.spawn(lane(engine.clone(), queue.clone(), per_lane, out.clone())))
        .collect();
    // Held by the lanes alone: when every lane has failed, sending fails.
    drop(queue);
    while let Some(rows) = rx.recv().await {
        bar.inc(rows.len() as u64);
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            import.count(&row);
            match row {
                Row::Good {
                    record, warning, ..
                } => {
                    if let Some(w) = warning {
                        write_reject(&mut rejects, &w);
                    }
                    records.push(record)
                }
                Row::Rejected(r) => write_reject(&mut rejects, &r),
            }
        }
        // The lanes have all gone away (failed): stop reading, their error is reported below.
        if sender.send(records).await.is_err() {
            break;
        }
    }
    drop(sender);
    for h in handles {
        let lane = h.await.context("a batch lane failed")?;
        summary.merge(lane.with_context(|| format!("cannot write {}", output.display()))?);
    }
    // Kept for the next pass, with their idle pooled connections and their
    // threads' memory (fresh lane threads took fresh pages from the OS on
    // every pass). A failed pass (the `?`s above) shuts its runtimes down.
    engine.lanes.give_back(runtimes);
    let out_file = std::sync::Arc::try_unwrap(out)
        .map_err(|_| anyhow::anyhow!("the output is still shared after the lanes ended"))?
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    // The executor recorded every call as it finished; make it durable now.
    engine.executor().store().flush_calls()?;
    replace.commit(out_file)?;
    if let Some(e) = reader.await? {
        // Everything read before the error was enriched and written above.
        return Err(anyhow::Error::new(e).context("the input could not be read to the end"));
    }
    bar.finish_and_clear();
    let rejected = rejects.finish()?;
    Ok(BatchReport {
        import,
        rejects_file: (rejected > 0).then(|| opts.rejects.clone()),
        output: output.to_path_buf(),
        summary,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A rejects file that cannot be written is logged: the good rows go on.
fn write_reject(rejects: &mut RejectsWriter, r: &crate::import::Reject) {
    if let Err(e) = rejects.write(r) {
        tracing::error!(error = %e, "cannot write the rejects file");
    }
}

/// A lane's own runtime, with one worker: a record's calls, their timers
/// and the connections they open all run on one thread. On the shared
/// runtime each woken task also woke the idle sibling worker to look for
/// work: on a cold pass paced by vendor limits that cost ~15% of the
/// client's CPU (`leadfall-bench`, strict order with limits ×100). A
/// multi-threaded runtime of one rather than a current-thread one: the
/// PostgreSQL store blocks with `block_in_place`, which only it allows.
fn lane_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(crate::executor::LANE_THREAD)
        .enable_all()
        .build()
        .context("cannot start a batch lane's runtime")
}

/// Lanes' runtimes, shut down without waiting when dropped: dropping one
/// normally blocks, which an async caller may not do.
#[derive(Debug, Default)]
struct LaneRuntimes(Vec<tokio::runtime::Runtime>);

impl Drop for LaneRuntimes {
    fn drop(&mut self) {
        for rt in self.0.drain(..) {
            rt.shutdown_background();
        }
    }
}

/// Lane runtimes an engine keeps between passes (a pass running beside
/// another starts its own, and only one set is kept); shut down with it.
#[derive(Debug, Default)]
pub(super) struct LanePool(std::sync::Mutex<LaneRuntimes>);

impl LanePool {
    /// `n` runtimes: the kept ones first, then new ones.
    fn take(&self, n: usize) -> anyhow::Result<LaneRuntimes> {
        let mut runtimes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if runtimes.0.len() > n {
            drop(LaneRuntimes(runtimes.0.split_off(n)));
        }
        while runtimes.0.len() < n {
            runtimes.0.push(lane_runtime()?);
        }
        Ok(runtimes)
    }

    /// Keep `runtimes` for the next pass, unless a set is kept already.
    fn give_back(&self, mut runtimes: LaneRuntimes) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.0.is_empty() {
            std::mem::swap(&mut *kept, &mut runtimes);
        }
    }
}

/// The chunks of records every lane takes from (one at a time).
type RecordQueue = std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Vec<Record>>>>;

/// Rows handed from the reader to the lanes at a time.
const CHUNK_ROWS: usize = 128;

/// The size of the reader's first chunk (each next one doubles, up to [`CHUNK_ROWS`]).
const FIRST_CHUNK_ROWS: usize = 8;

/// Output lines a lane gathers before it tries the writer's lock (it waits
/// for the lock only once it holds four times this).
const LANE_CHUNK_BYTES: usize = 64 * 1024;

/// Enrich records taken from the shared queue, up to `in_flight` at once; write
/// their lines to `out` in chunks and count them in the lane's summary.
async fn lane(
    engine: Engine,
    queue: RecordQueue,
    in_flight: usize,
    out: std::sync::Arc<std::sync::Mutex<std::io::BufWriter<std::fs::File>>>,
) -> anyhow::Result<Summary> {
    let mut summary = Tally::default();
    let mut chunk = Vec::with_capacity(LANE_CHUNK_BYTES * 5);
    // `wait`: false gives up at once when the other lane holds the writer,
    // and the lines wait for the next record (a lane stalled on the lock
    // left its core idle while the other lane's write went on).
    let write = |chunk: &mut Vec<u8>, wait: bool| -> std::io::Result<()> {
        let mut writer = match out.try_lock() {
            Ok(w) => w,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) if !wait => return Ok(()),
            Err(std::sync::TryLockError::WouldBlock) => {
                out.lock().unwrap_or_else(|e| e.into_inner())
            }
        };
        writer.write_all(chunk)?;
        chunk.clear();
        Ok(())
    };
    let mut running = futures::stream::FuturesUnordered::new();
    let mut waiting = std::collections::VecDeque::new();
    let mut open = true;
    loop {
        while running.len() < in_flight {
            let Some(r) = waiting.pop_front() else { break };
            running.push(engine.enrich(r));
        }
        tokio::select! {
            // Finish work before taking more: it bounds memory and frees permits.
            biased;
            Some(done) = running.next(), if !running.is_empty() => {
                let (record, ledger): (Record, Vec<crate::store::LedgerEntry>) = done;
                crate::model::write_record(&mut chunk, &record);
                chunk.push(b'\n');
                summary.add_record(&record);
                summary.add_calls(&ledger);
                if chunk.len() >= LANE_CHUNK_BYTES {
                    let wait = chunk.len() >= 4 * LANE_CHUNK_BYTES;
                    write(&mut chunk, wait)?;
                }
            }
            // Cancel-safe: a lane that finishes a record first lets go of the queue.
            r = async { queue.lock().await.recv().await },
                if open && waiting.is_empty() && running.len() < in_flight => match r {
                Some(records) => waiting.extend(records),
                None => open = false,
            },
            else => break,
        }
    }
    write(&mut chunk, true)?;
    Ok(summary.finish())
}

#[cfg(test)]
mod tests {
    use super::LanePool;

    /// The threads each of `n` runtimes taken from `pool` runs its tasks on.
    async fn threads(pool: &LanePool, n: usize) -> Vec<std::thread::ThreadId> {
        let runtimes = pool.take(n).unwrap();
        let mut ids = Vec::new();
        for rt in &runtimes.0 {
            ids.push(
                rt.spawn(async { std::thread::current().id() })
                    .await
                    .unwrap(),
            );
        }
        pool.give_back(runtimes);
        ids
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_pass_runs_on_the_first_pass_lanes() {
        let pool = LanePool::default();
        let first = threads(&pool, 2).await;
        assert_eq!(threads(&pool, 2).await, first);
        // Fewer lanes: the kept ones, the rest shut down (from async code, without blocking).
        assert_eq!(threads(&pool, 1).await, first[..1]);
        // More: the kept one and a new one.
        let more = threads(&pool, 2).await;
        assert_eq!(more[0], first[0]);
        assert!(!first.contains(&more[1]));
        // Dropped from async code, the pool shuts its runtimes down without panicking.
        drop(pool);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pass_that_fails_does_not_hand_its_lanes_on() {
        let pool = LanePool::default();
        let first = pool.take(2).unwrap();
        let ids: Vec<_> = futures::future::join_all(
            first
                .0
                .iter()
                .map(|rt| rt.spawn(async { std::thread::current().id() })),
        )
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
        // Not given back (the pass returned early): dropped, and shut down.
        drop(first);
        let next = threads(&pool, 2).await;
        assert!(next.iter().all(|t| !ids.contains(t)));
    }
}
