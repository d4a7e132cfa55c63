//! `leadfall import FILE`: stream a CSV or JSON-lines file into the running
//! daemon. Rows are read and checked on a blocking thread, good ones are sent
//! in batches (at most two in flight, so memory stays bounded however large
//! the file), bad ones go to the rejects file with line and reason.
//! `--map` / `--ignore` ([`ColumnArgs`], shared with `enrich`) say what the
//! columns mean; `--dry-run` shows that and the first rows, sending nothing.

use super::status::Connect;
use super::{render, Global, EXIT_CONFIG, EXIT_ROWS_REJECTED};
use crate::config;
use crate::import::{
    ColumnMapping, ColumnRules, Encoding, Format, ImportSummary, Importer, MatchedBy, ReadOptions,
    RejectsWriter, Row,
};
use crate::model::{Catalogue, Record};
use anyhow::Context;
use futures::StreamExt;
use serde::Serialize;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Upsert batches sent concurrently: one on the wire while the next is
/// merged, without letting a fast reader pile batches up in memory.
const BATCHES_IN_FLIGHT: usize = 2;

/// Rows `--dry-run` shows one by one (the rest are only counted).
const DRY_RUN_ROWS: usize = 5;

/// What the columns of an input file mean, beyond their names and the
/// header aliases (shared by `import` and `enrich`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ColumnArgs {
    /// Read column COL as FIELD (a catalogue field, or `id`), e.g.
    /// `--map 'Company Domain=company.domain'`; repeatable. COL matches
    /// regardless of case and punctuation, like header aliases.
    #[arg(long = "map", value_name = "COL=FIELD", value_parser = parse_map_arg)]
    pub map: Vec<MapArg>,
    /// Skip column COL; repeatable.
    #[arg(long = "ignore", value_name = "COL")]
    pub ignore: Vec<String>,
}

/// One `--map COL=FIELD`.
#[derive(Debug, Clone)]
pub struct MapArg {
    /// The column.
    pub column: String,
    /// The field.
    pub field: String,
}

fn parse_map_arg(raw: &str) -> Result<MapArg, String> {
    let (column, field) = crate::import::parse_map(raw)?;
    Ok(MapArg { column, field })
}

impl ColumnArgs {
    /// The rules for the importer.
    pub fn rules(&self) -> ColumnRules {
        ColumnRules {
            map: self
                .map
                .iter()
                .map(|m| (m.column.clone(), m.field.clone()))
                .collect(),
            ignore: self.ignore.clone(),
        }
    }
}

/// Decide a file's encoding (a first pass over it) and say once, on stderr,
/// when it is read as Windows-1252.
pub fn detect_encoding(path: &Path) -> anyhow::Result<Encoding> {
    // A file of no known format is refused by the importer; scanning an
    // `.xlsx` would only warn about its bytes first.
    if Format::from_path(path).is_none() {
        return Ok(Encoding::Utf8);
    }
    let detected = crate::import::detect_file(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if let Some(warning) = detected.warning(path) {
        eprintln!("warning: {warning}");
    }
    Ok(detected.encoding)
}

/// `import` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The lead file (.csv, or .jsonl / .ndjson).
    pub file: PathBuf,
    /// Rejected rows (CSV with line, id, reason, raw) [default: `<FILE>.rejects.csv`].
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Good rows per upsert request.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=50_000))]
    pub batch_size: u64,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Read and check the file, print what each column was taken for and
    /// the first rows' results, and send nothing (no daemon needed).
    #[arg(long)]
    pub dry_run: bool,
    /// Column mapping.
    #[command(flatten)]
    pub columns: ColumnArgs,
    /// Where the daemon is.
    #[command(flatten)]
    pub connect: Connect,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The file read.
    pub file: PathBuf,
    /// Rows read.
    pub rows: u64,
    /// Rows sent to the daemon.
    pub good: u64,
    /// Rows rejected (in the rejects file).
    pub rejected: u64,
    /// Rows imported with a warning (also in the rejects file).
    pub warnings: u64,
    /// New records.
    pub created: u64,
    /// Existing records merged.
    pub merged: u64,
    /// Records queued for enrichment.
    pub queued: u64,
    /// Wall time.
    pub seconds: f64,
    /// Rows per second.
    pub rows_per_sec: f64,
    /// Where rejects were written, when there were any.
    pub rejects_file: Option<PathBuf>,
    /// How the file's bytes were read.
    pub encoding: Encoding,
}

/// One upsert's worth of good rows, with the lines they came from (for messages).
struct Batch {
    first_line: u64,
    last_line: u64,
    records: Vec<Record>,
}

/// Run `import`.
pub async fn run(args: Args, g: &Global) -> anyhow::Result<ExitCode> {
    let settings = match config::load(&g.config, &config::process_env) {
        Ok(s) => s,
        Err(errs) => {
            eprint!("{errs}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let read = ReadOptions {
        columns: args.columns.rules(),
        encoding: None,
    };
    if args.dry_run {
        return dry_run(&args.file, &settings.catalogue, &read, g.json);
    }
    let client = args.connect.client_for(&settings)?;
    let opts = ImportOptions {
        rejects: args.rejects.clone(),
        batch_size: args.batch_size as usize,
        progress: !args.no_progress && !g.json && std::io::stderr().is_terminal(),
    };
    let report = import_file_with(&client, &settings.catalogue, &args.file, &opts, &read).await?;
    if g.json {
        render::json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.rejected > 0 {
        ExitCode::from(EXIT_ROWS_REJECTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rejects file (default `<FILE>.rejects.csv`).
    pub rejects: Option<PathBuf>,
    /// Good rows per upsert request.
    pub batch_size: usize,
    /// Show a progress bar.
    pub progress: bool,
}

/// Stream `file_path` to the daemon behind `client` in batches; rejects go to
/// the rejects file. Used by `import` and by `demo`.
pub async fn import_file(
    client: &crate::client::Client,
    catalogue: &crate::model::Catalogue,
    file_path: &Path,
    opts: &ImportOptions,
) -> anyhow::Result<ImportReport> {
    import_file_with(client, catalogue, file_path, opts, &ReadOptions::default()).await
}

/// [`import_file`] with column rules; the encoding is detected (and a
/// Windows-1252 file warned about) unless `read` gives it.
pub async fn import_file_with(
    client: &crate::client::Client,
    catalogue: &crate::model::Catalogue,
    file_path: &Path,
    opts: &ImportOptions,
    read: &ReadOptions,
) -> anyhow::Result<ImportReport> {
    // Fail before reading a byte when the daemon is not there.
    client.health().await?;

    let started = std::time::Instant::now();
    let format = Format::from_path(file_path).with_context(|| {
        format!(
            "cannot tell the format of {}: name it .csv, .jsonl or .ndjson",
            file_path.display()
        )
    })?;
    let encoding = match read.encoding {
        Some(e) => e,
        None => detect_encoding(file_path)?,
    };
    let read = ReadOptions {
        encoding: Some(encoding),
        ..read.clone()
    };
    let file = std::fs::File::open(file_path)
        .with_context(|| format!("cannot open {}", file_path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(len, opts.progress);
    let reader = Counted {
        inner: file,
        bar: bar.clone(),
    };
    let importer = Importer::from_reader_with(
        reader,
        format,
        file_path,
        catalogue,
        chrono::Utc::now(),
        &read,
    )?;
    let rejects_path = opts
        .rejects
        .clone()
        .unwrap_or_else(|| suffixed(file_path, ".rejects.csv"));
    // A rejects file left by an earlier run would mislead: this run writes its own.
    let _ = std::fs::remove_file(&rejects_path);
    let rejects = RejectsWriter::create(&rejects_path)
        .with_context(|| format!("cannot write rejects to {}", rejects_path.display()))?;

    let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(1);
    let batch_size = opts.batch_size;
    let reader =
        tokio::task::spawn_blocking(move || read_batches(importer, rejects, batch_size, tx));

    let mut report = ImportReport {
        file: file_path.to_path_buf(),
        encoding,
        ..ImportReport::default()
    };
    let sent =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
            .map(|batch| {
                let client = client.clone();
                async move {
                    let result = client.upsert(&batch.records).await;
                    (
                        batch.first_line,
                        batch.last_line,
                        batch.records.len(),
                        result,
                    )
                }
            })
            .buffered(BATCHES_IN_FLIGHT);
    // Boxed, so that `drop` below really drops it (and the receiver with it).
    let mut sent = Box::pin(sent);
    let mut failure = None;
    while let Some((first, last, n, result)) = sent.next().await {
        match result {
            Ok(s) => {
                report.created += s.created;
                report.merged += s.merged;
                report.queued += s.queued;
                bar.set_message(format!("{} records sent", report.created + report.merged));
            }
            Err(e) => {
                failure = Some(anyhow::Error::new(e).context(format!(
                    "the daemon did not take the {n} rows on lines {first}-{last}; \
                     batches sent before it were imported"
                )));
                break;
            }
        }
    }
    // Dropping the stream closes the channel, so a reader blocked on a full
    // channel after a failure stops instead of waiting forever.
    drop(sent);
    let (summary, lines, read_error) = reader.await.context("the file reader failed")??;
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(e) = read_error {
        return Err(anyhow::Error::new(e).context("the input could not be read to the end"));
    }
    report.rows = summary.rows;
    report.good = summary.good;
    report.rejected = summary.rejected;
    report.warnings = summary.warnings;
    report.seconds = started.elapsed().as_secs_f64();
    report.rows_per_sec = if report.seconds > 0.0 {
        report.rows as f64 / report.seconds
    } else {
        0.0
    };
    report.rejects_file = (lines > 0).then_some(rejects_path);
    Ok(report)
}

/// The blocking half: read every row, write rejects, send full batches.
/// Returns the row counts, the rejects file's lines and a read error that cut the file short.
fn read_batches(
    mut importer: Importer,
    mut rejects: RejectsWriter,
    batch_size: usize,
    tx: tokio::sync::mpsc::Sender<Batch>,
) -> anyhow::Result<(ImportSummary, u64, Option<crate::import::ImportError>)> {
    let mut summary = ImportSummary::default();
    let mut batch = Batch {
        first_line: 0,
        last_line: 0,
        records: Vec::with_capacity(batch_size),
    };
    for row in importer.by_ref() {
        summary.count(&row);
        match row {
            Row::Good {
                line,
                record,
                warning,
            } => {
                if let Some(w) = warning {
                    rejects
                        .write(&w)
                        .with_context(|| format!("cannot write {}", rejects.path().display()))?;
                }
                if batch.records.is_empty() {
                    batch.first_line = line;
                }
                batch.last_line = line;
                batch.records.push(record);
                if batch.records.len() >= batch_size {
                    let next = Batch {
                        first_line: 0,
                        last_line: 0,
                        records: Vec::with_capacity(batch_size),
                    };
                    if tx
                        .blocking_send(std::mem::replace(&mut batch, next))
                        .is_err()
                    {
                        // The sender side failed and said why; stop reading.
                        break;
                    }
                }
            }
            Row::Rejected(r) => rejects
                .write(&r)
                .with_context(|| format!("cannot write {}", rejects.path().display()))?,
        }
    }
    if !batch.records.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    let rejected = rejects.finish().context("cannot finish the rejects file")?;
    Ok((summary, rejected, importer.take_error()))
}

fn print_report(r: &ImportReport) {
    println!(
        "{} rows read: {} imported, {} rejected, {} warnings{} · {} new, {} merged, {} queued · {:.1}s ({:.0} rows/s)",
        r.rows,
        r.good,
        r.rejected,
        r.warnings,
        r.rejects_file
            .as_ref()
            .map(|p| format!(" (see {})", p.display()))
            .unwrap_or_default(),
        r.created,
        r.merged,
        r.queued,
        r.seconds,
        r.rows_per_sec,
    );
}

/// What `import --dry-run` found.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    /// The file read.
    pub file: PathBuf,
    /// How its bytes were read.
    pub encoding: Encoding,
    /// What each CSV column was taken for (empty for JSON lines).
    pub columns: Vec<ColumnMapping>,
    /// The first rows, as they would be imported.
    pub rows: Vec<PreviewRow>,
    /// Counts over the whole file.
    pub summary: ImportSummary,
}

/// One row as `--dry-run` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewRow {
    /// 1-based line the row starts on.
    pub line: u64,
    /// The id, when one could be read.
    pub id: Option<String>,
    /// `ok`, `warning` (imported, with a line in the rejects file) or `rejected`.
    pub outcome: &'static str,
    /// Why it was rejected or warned about.
    pub reason: Option<String>,
    /// The values it would import, by field.
    pub values: std::collections::BTreeMap<String, serde_json::Value>,
}

impl PreviewRow {
    fn of(row: &Row) -> PreviewRow {
        match row {
            Row::Good {
                line,
                record,
                warning,
            } => PreviewRow {
                line: *line,
                id: Some(record.id.clone()),
                outcome: if warning.is_some() { "warning" } else { "ok" },
                reason: warning.as_ref().map(|w| w.reason.clone()),
                values: record
                    .fields
                    .iter()
                    .filter_map(|(name, state)| Some((name.to_string(), state.value()?.to_json())))
                    .collect(),
            },
            Row::Rejected(r) => PreviewRow {
                line: r.line,
                id: r.id.clone(),
                outcome: "rejected",
                reason: Some(r.reason.clone()),
                values: Default::default(),
            },
        }
    }
}

/// `import --dry-run`: read the whole file as an import would, send nothing
/// and write no rejects file; exit as the import would.
fn dry_run(
    file: &Path,
    catalogue: &Catalogue,
    read: &ReadOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let encoding = detect_encoding(file)?;
    let read = ReadOptions {
        encoding: Some(encoding),
        ..read.clone()
    };
    let mut importer = Importer::open_with(file, catalogue, chrono::Utc::now(), &read)?;
    let mut report = DryRun {
        file: file.to_path_buf(),
        encoding,
        columns: importer.columns().to_vec(),
        rows: Vec::new(),
        summary: ImportSummary::default(),
    };
    for row in importer.by_ref() {
        report.summary.count(&row);
        if report.rows.len() < DRY_RUN_ROWS {
            report.rows.push(PreviewRow::of(&row));
        }
    }
    if let Some(e) = importer.take_error() {
        return Err(anyhow::Error::new(e).context("the input could not be read to the end"));
    }
    if json {
        render::json(&report)?;
    } else {
        print_dry_run(&report);
    }
    Ok(if report.summary.rejected > 0 {
        ExitCode::from(EXIT_ROWS_REJECTED)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_dry_run(r: &DryRun) {
    println!(
        "dry run of {} ({}): nothing is sent",
        r.file.display(),
        r.encoding.name()
    );
    if !r.columns.is_empty() {
        let mut t = render::table(&["#", "column", "field", "by"]);
        for c in &r.columns {
            let by = match c.by {
                MatchedBy::Name => "name",
                MatchedBy::Alias => "alias",
                MatchedBy::Map => "--map",
                MatchedBy::Ignore => "--ignore",
                MatchedBy::Unnamed => "no header",
            };
            t.add_row([
                c.position.to_string(),
                c.column.clone(),
                c.field.clone().unwrap_or_else(|| "(ignored)".into()),
                by.to_string(),
            ]);
        }
        println!("{t}");
    }
    let mut t = render::table(&["line", "id", "result", "values / reason"]);
    for row in &r.rows {
        let detail = match row.outcome {
            "rejected" => row.reason.clone().unwrap_or_default(),
            _ => {
                let values: Vec<String> = row
                    .values
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}={s}"),
                        v => format!("{k}={v}"),
                    })
                    .collect();
                let mut d = values.join(", ");
                if let Some(reason) = &row.reason {
                    d.push_str(&format!(" ({reason})"));
                }
                d
            }
        };
        t.add_row([
            row.line.to_string(),
            row.id.clone().unwrap_or_default(),
            row.outcome.to_string(),
            detail,
        ]);
    }
    println!("{t}");
    let s = &r.summary;
    println!(
        "{} rows read: {} would be imported, {} rejected, {} warnings",
        s.rows, s.good, s.rejected, s.warnings
    );
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

fn progress_bar(len: u64, visible: bool) -> indicatif::ProgressBar {
    if !visible {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(len);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b
}

/// Counts bytes read into the progress bar (the file's size is its length).
struct Counted {
    inner: std::fs::File,
    bar: indicatif::ProgressBar,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
