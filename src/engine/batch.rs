//! Batch mode: stream an input file through the engine and write every record,
//! with its field states, as JSON lines. Bad rows go to a rejects file; good
//! rows are never lost with them.

use super::{Engine, Summary};
use crate::import::{ImportSummary, Importer, RejectsWriter, Row};
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
    use anyhow::Context;
    let started = std::time::Instant::now();
    let now = chrono::Utc::now();
    let importer = Importer::open(input, &engine.settings().catalogue, now)?;
    let out_file = std::fs::File::create(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let mut out = std::io::BufWriter::new(out_file);
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

    // The reader runs on a blocking thread and hands rows over a bounded channel.
    let (tx, rx) = tokio::sync::mpsc::channel::<Row>(1024);
    let reader = tokio::task::spawn_blocking(move || {
        let mut importer = importer;
        for row in importer.by_ref() {
            if tx.blocking_send(row).is_err() {
                break;
            }
        }
        importer.take_error()
    });
    // A rejects file left by an earlier run would mislead: this run writes its own.
    let _ = std::fs::remove_file(&opts.rejects);
    let mut rejects = RejectsWriter::create(&opts.rejects)?;
    let mut import = ImportSummary::default();
    let mut summary = Summary::default();
    {
        let rows =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        let records = rows.filter_map(|row| {
            import.count(&row);
            bar.inc(1);
            let rec = match row {
                Row::Good { record, .. } => Some(record),
                Row::Rejected(r) => {
                    if let Err(e) = rejects.write(&r) {
                        tracing::error!(error = %e, "cannot write the rejects file");
                    }
                    None
                }
            };
            std::future::ready(rec)
        });
        // Each record is a task of its own, so every core of the runtime works
        // on them (one stream polled by this task would run on one thread).
        let enriched = records
            .map(|r: Record| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let (record, ledger) = engine.enrich(r).await;
                    // Encoded in the task too: one writer encoding every line would be serial.
                    let line = serde_json::to_vec(&record);
                    (record, ledger, line)
                })
            })
            .buffer_unordered(engine.settings().records_in_flight);
        let mut enriched = std::pin::pin!(enriched);
        while let Some(done) = enriched.next().await {
            let (record, ledger, line) = done.context("a record's enrichment task failed")?;
            out.write_all(&line?)?;
            out.write_all(b"\n")?;
            summary.add_record(&record);
            summary.add_calls(&ledger);
        }
    }
    // The executor recorded every call as it finished; make it durable now.
    engine.executor().store().flush_calls()?;
    out.flush()?;
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
