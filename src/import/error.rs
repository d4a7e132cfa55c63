//! The errors that stop an import before (or while) rows are read. Problems
//! with single rows are not errors: they become [`super::Reject`]s.

use super::fields::shell_quote;
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
    /// No CSV column means the record id.
    #[error(
        "{}: line 1: the header has no id column: name one `id` (or Record ID, Contact ID, \
         Lead ID), or say which it is with --map 'COLUMN=id'",
        path.display()
    )]
    MissingIdColumn {
        /// The file.
        path: PathBuf,
    },
    /// CSV columns that are neither a field, an alias, nor mapped or
    /// ignored, and columns that give the same field twice: all of them at
    /// once, so one run lists every fix.
    #[error("{}", columns_message(path, unknown, ambiguous))]
    Columns {
        /// The file.
        path: PathBuf,
        /// Unknown columns, in header order.
        unknown: Vec<UnknownColumn>,
        /// Pairs of columns that give one field.
        ambiguous: Vec<SharedField>,
    },
    /// A `--map` or `--ignore` that names no column of the CSV header
    /// (most likely a typo: it would otherwise do nothing).
    #[error("{}: line 1: {} names no column of the header", path.display(), rules.join(", "))]
    UnusedRule {
        /// The file.
        path: PathBuf,
        /// The rules, as given.
        rules: Vec<String>,
    },
    /// A `--map` or `--ignore` that cannot be used with any file.
    #[error("{reason}")]
    BadRule {
        /// What is wrong, naming the rule.
        reason: String,
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

/// A header column nothing maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownColumn {
    /// 1-based position in the header.
    pub position: usize,
    /// The header as written.
    pub column: String,
    /// The closest catalogue field, when one is close enough.
    pub suggestion: Option<String>,
}

/// Two header columns that map to one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedField {
    /// The field (or `id`).
    pub field: String,
    /// The first column: 1-based position and header.
    pub first: (usize, String),
    /// The second column.
    pub second: (usize, String),
}

fn columns_message(
    path: &std::path::Path,
    unknown: &[UnknownColumn],
    ambiguous: &[SharedField],
) -> String {
    let file = path.display();
    // One problem: one sentence, with the fix spelt out.
    match (unknown, ambiguous) {
        ([u], []) => {
            let hint = match &u.suggestion {
                Some(s) => format!("did you mean {s:?}? "),
                None => "it is neither a catalogue field nor a known header alias; ".into(),
            };
            let field = u.suggestion.as_deref().unwrap_or("FIELD");
            return format!(
                "{file}: line 1, column {}: unknown column {}; {hint}read it as a field with \
                 --map {} or skip it with --ignore {}",
                u.position,
                quoted(&u.column),
                shell_quote(&format!("{}={field}", u.column)),
                shell_quote(&u.column),
            );
        }
        ([], [a]) => return format!("{file}: line 1: {}", shared(a)),
        _ => {}
    }
    let mut out = format!(
        "{file}: line 1: {} unknown and {} ambiguous columns; read a column as a field with \
         --map 'COLUMN=FIELD' or skip it with --ignore 'COLUMN':",
        unknown.len(),
        ambiguous.len()
    );
    for u in unknown {
        let hint = match &u.suggestion {
            Some(s) => format!("closest field {s:?}"),
            None => "no field is close".into(),
        };
        out.push_str(&format!(
            "\n  column {} {}: unknown; {hint}",
            u.position,
            quoted(&u.column)
        ));
    }
    for a in ambiguous {
        out.push_str(&format!("\n  {}", shared(a)));
    }
    if unknown.len() > 1 {
        let all: Vec<String> = unknown
            .iter()
            .map(|u| format!("--ignore {}", shell_quote(&u.column)))
            .collect();
        out.push_str(&format!(
            "\nto skip every unknown column: {}",
            all.join(" ")
        ));
    }
    out
}

fn shared(a: &SharedField) -> String {
    format!(
        "columns {} (column {}) and {} (column {}) both map to {}; keep one: --ignore {}, \
         or --map the other to a different field",
        quoted(&a.first.1),
        a.first.0,
        quoted(&a.second.1),
        a.second.0,
        a.field,
        shell_quote(&a.second.1),
    )
}
