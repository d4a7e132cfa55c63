//! Importing lead files: streaming CSV and JSON-lines reading into
//! [`Record`]s, with every unusable row turned into a [`Reject`] (line,
//! reason, raw text) instead of stopping the import.
//!
//! Memory stays constant in the file size: rows are read one at a time and
//! lines are capped at 1 MiB; only the set of ids seen grows with the file.
//!
//! Columns are matched to catalogue fields by name, by the header aliases
//! of CRM exports (`aliases.rs`, the one table of them), or by the user's
//! `--map` / `--ignore` ([`ColumnRules`]); a file that is not UTF-8 is read
//! as Windows-1252 (`encoding.rs`).

mod aliases;
mod csv;
mod encoding;
mod error;
mod fields;
mod identity;
mod jsonl;
mod lines;
mod rejects;

#[cfg(test)]
mod tests;

pub use encoding::{detect, detect_file, Detected, Encoding};
pub use error::{ImportError, SharedField, UnknownColumn};
pub use fields::{parse_map, ColumnRules, MatchedBy};
pub use rejects::RejectsWriter;

use crate::model::{Catalogue, Record};
use chrono::{DateTime, Utc};
use fields::{Fields, Rows};
use lines::LineReader;
use serde::Serialize;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::iter::FusedIterator;
use std::path::{Path, PathBuf};

/// A lead file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// The format named by a path's extension (`.csv`; `.jsonl`, `.ndjson`,
    /// `.json`), case-insensitively.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

/// One input row: a record, or the reason it was not imported.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A usable record; `line` is where it starts (1-based).
    Good {
        /// 1-based physical line the row starts on.
        line: u64,
        /// The record, every given value known with source `input`.
        record: Record,
        /// A line for the rejects file about a row that is imported all
        /// the same (no identity to look a person up by).
        warning: Option<Reject>,
    },
    /// A row that was not imported.
    Rejected(Reject),
}

/// A line of the rejects file: a row that was not imported, or one imported
/// with a warning (its reason starts `warning:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// 1-based physical line the row starts on (the CSV header is line 1).
    pub line: u64,
    /// The row's id, when one could be read.
    pub id: Option<String>,
    /// What is wrong, in words a person can act on.
    pub reason: String,
    /// The row as written (lossily decoded), cut to 2,000 characters.
    pub raw: String,
}

/// Counts of an import's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Rows read (blank lines are not rows).
    pub rows: u64,
    /// Rows imported.
    pub good: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Rows imported with a warning line in the rejects file (also in `good`).
    pub warnings: u64,
}

impl ImportSummary {
    /// Count one row.
    pub fn count(&mut self, row: &Row) {
        self.rows += 1;
        match row {
            Row::Good { warning, .. } => {
                self.good += 1;
                self.warnings += u64::from(warning.is_some());
            }
            Row::Rejected(_) => self.rejected += 1,
        }
    }
}

/// How to read a file beyond its format: the user's column rules and the
/// text encoding.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// `--map` and `--ignore`.
    pub columns: ColumnRules,
    /// The encoding, when already decided ([`detect_file`]); `None` detects
    /// it when opening a path and means UTF-8 for [`Importer::from_reader_with`].
    pub encoding: Option<Encoding>,
}

/// What one CSV header column was taken for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnMapping {
    /// 1-based position in the header.
    pub position: usize,
    /// The header as written.
    pub column: String,
    /// `id` or the catalogue field; `None` when the column is skipped.
    pub field: Option<String>,
    /// How that was decided.
    pub by: MatchedBy,
}

/// The markdown table of header aliases that `docs/import.md` shows.
pub fn aliases_markdown() -> String {
    aliases::markdown_table()
}

enum Reader {
    Csv(csv::CsvReader),
    Jsonl(jsonl::JsonlReader),
}

/// A streaming reader of one lead file, yielding [`Row`]s in file order.
///
/// A read error part-way through ends the iteration with one last
/// [`Row::Rejected`] saying where reading stopped; the error itself is kept
/// for [`Importer::take_error`], which callers should check after the loop.
pub struct Importer {
    path: PathBuf,
    format: Format,
    reader: Reader,
    rows: Rows,
    encoding: Encoding,
    error: Option<ImportError>,
    done: bool,
}

impl fmt::Debug for Importer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Importer")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Importer {
    /// Open a lead file; the format comes from the extension. CSV headers are
    /// checked here, before any row is read.
    pub fn open(
        path: &Path,
        catalogue: &Catalogue,
        now: DateTime<Utc>,
    ) -> Result<Importer, ImportError> {
        Importer::open_with(path, catalogue, now, &ReadOptions::default())
    }

    /// [`open`](Self::open) with column rules; the encoding is detected
    /// (a first pass over the file) unless `options` gives it.
    pub fn open_with(
        path: &Path,
        catalogue: &Catalogue,
        now: DateTime<Utc>,
        options: &ReadOptions,
    ) -> Result<Importer, ImportError> {
        let format = Format::from_path(path).ok_or_else(|| ImportError::UnknownFormat {
            path: path.to_path_buf(),
        })?;
        let io_error = |source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        };
        let encoding = match options.encoding {
            Some(e) => e,
            None => detect_file(path).map_err(io_error)?.encoding,
        };
        let file = File::open(path).map_err(io_error)?;
        let options = ReadOptions {
            encoding: Some(encoding),
            ..options.clone()
        };
        Importer::from_reader_with(file, format, path, catalogue, now, &options)
    }

    /// Read from any reader (stdin, an upload) as UTF-8; `name` is only used in messages.
    pub fn from_reader<R: Read + Send + 'static>(
        reader: R,
        format: Format,
        name: &Path,
        catalogue: &Catalogue,
        now: DateTime<Utc>,
    ) -> Result<Importer, ImportError> {
        Importer::from_reader_with(
            reader,
            format,
            name,
            catalogue,
            now,
            &ReadOptions::default(),
        )
    }

    /// [`from_reader`](Self::from_reader) with column rules and an encoding
    /// (a reader cannot be read twice, so it is not detected: UTF-8 unless given).
    pub fn from_reader_with<R: Read + Send + 'static>(
        reader: R,
        format: Format,
        name: &Path,
        catalogue: &Catalogue,
        now: DateTime<Utc>,
        options: &ReadOptions,
    ) -> Result<Importer, ImportError> {
        let fields = Fields::with_rules(catalogue, &options.columns)
            .map_err(|reason| ImportError::BadRule { reason })?;
        let encoding = options.encoding.unwrap_or_default();
        let lines = LineReader::new(
            Box::new(BufReader::with_capacity(64 * 1024, reader)),
            encoding,
        );
        let rows = Rows::new(fields, now);
        let reader = match format {
            Format::Csv => Reader::Csv(csv::CsvReader::open(lines, name, &rows)?),
            Format::JsonLines => Reader::Jsonl(jsonl::JsonlReader::open(lines, name)?),
        };
        Ok(Importer {
            path: name.to_path_buf(),
            format,
            reader,
            rows,
            encoding,
            error: None,
            done: false,
        })
    }

    /// What each CSV header column was taken for (empty for JSON lines,
    /// whose keys are resolved row by row).
    pub fn columns(&self) -> &[ColumnMapping] {
        match &self.reader {
            Reader::Csv(r) => &r.mapping,
            Reader::Jsonl(_) => &[],
        }
    }

    /// How the file's bytes are read.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The read error that ended the iteration early, if any.
    pub fn take_error(&mut self) -> Option<ImportError> {
        self.error.take()
    }
}

impl Iterator for Importer {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.done {
            return None;
        }
        let result = match &mut self.reader {
            Reader::Csv(r) => r.next_row(&mut self.rows),
            Reader::Jsonl(r) => r.next_row(&mut self.rows),
        };
        match result {
            Ok(Some(row)) => Some(row),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(source) => {
                // Stop for good: a failing reader may fail forever. The last
                // row says so, so the rejects file shows the import was cut short.
                self.done = true;
                let line = match &self.reader {
                    Reader::Csv(r) => r.next_line_number(),
                    Reader::Jsonl(r) => r.next_line_number(),
                };
                let reason = format!("read error, the rest of the file was not imported: {source}");
                self.error = Some(ImportError::Io {
                    path: self.path.clone(),
                    source,
                });
                Some(Row::Rejected(Reject {
                    line,
                    id: None,
                    reason,
                    raw: String::new(),
                }))
            }
        }
    }
}

impl FusedIterator for Importer {}
