//! The errors that stop an import before (or while) rows are read. Problems
//! with single rows are not errors: they become [`super::Reject`]s.

use crate::quoted::quoted;
use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// Why a lead file cannot be imported at all. Every message names the file.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The extension names no supported format.
    #[error("{}: unknown file format; use a .csv, .jsonl, .ndjson or .json file", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The CSV header has no `id` column.
    #[error("{}: the header has no id column (the first line must name the columns, one of them id)", path.display())]
    MissingIdColumn {
        /// The file.
        path: PathBuf,
    },
    /// A CSV header names a column that is neither a catalogue field nor an alias.
    #[error("{}: unknown column {}{}", path.display(), quoted(column), hint(suggestion))]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// The column as written in the header.
        column: String,
        /// The closest catalogue field name, when one is close enough.
        suggestion: Option<String>,
    },
    /// The file holds no header (CSV) or no line at all (JSON lines).
    #[error("{}: the file is empty", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The CSV header is unusable for a reason other than the ones above
    /// (two columns for one field, broken quoting, over-long header line).
    #[error("{}: bad header: {reason}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words a person can act on.
        reason: String,
    },
    /// A `.json` file holding a JSON array rather than one object per line;
    /// reading it line by line would reject every line.
    #[error("{}: this looks like a JSON array; expected JSON lines (one object per line)", path.display())]
    NotJsonLines {
        /// The file.
        path: PathBuf,
    },
}

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean {s:?}?"),
        None => "; it is neither a catalogue field nor a known alias".to_string(),
    }
}
