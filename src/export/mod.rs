//! Records out: the export formats. A CSV row has the id, then for every
//! catalogue field (sorted) its value and a `<field>.state` companion column, so
//! an unknown is never just an empty cell; JSON lines carry the whole
//! [`StoredRecord`]. Pure: the caller passes `now` (it decides what is stale)
//! and does the I/O (the API streams, the CLI writes files).

#[cfg(test)]
mod tests;

use crate::model::{Catalogue, FieldState};
use crate::store::StoredRecord;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An export format, as named on the wire (`?format=`) and on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One [`StoredRecord`] JSON object per line.
    #[default]
    Jsonl,
    /// A header row, then one row per record with state companion columns.
    Csv,
}

impl ExportFormat {
    /// The wire name (`jsonl`, `csv`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }

    /// The HTTP content type of an export in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<ExportFormat, String> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(format!("unknown export format {other:?}: use jsonl or csv")),
        }
    }
}

/// The state column's word for a known value past its `expires_at`.
pub const STATE_STALE: &str = "stale";
/// The state column's word for a fresh known value.
pub const STATE_KNOWN: &str = "known";

/// The CSV header: `id`, then `<field>` and `<field>.state` for every
/// catalogue field in name order.
pub fn csv_header(catalogue: &Catalogue) -> Vec<String> {
    let mut header = vec!["id".to_string()];
    for def in catalogue.iter() {
        header.push(def.name.to_string());
        header.push(format!("{}.state", def.name));
    }
    header
}

/// One CSV row, aligned with [`csv_header`]. Value cells are empty for
/// unknowns (lists are joined with `;`); the state cell always names the
/// state: `known`, `stale` (known but past `expires_at` at `now`), or the
/// unknown reason, `not_attempted` for fields the record never saw.
pub fn csv_row(record: &StoredRecord, catalogue: &Catalogue, now: DateTime<Utc>) -> Vec<String> {
    let fields = &record.record.fields;
    let mut row = Vec::with_capacity(1 + 2 * fields.len().max(1));
    row.push(record.record.id.clone());
    for def in catalogue.iter() {
        let (value, state) = match fields.get(&def.name) {
            Some(FieldState::Known(k)) => {
                let stale = k.expires_at.is_some_and(|e| e <= now);
                let word = if stale { STATE_STALE } else { STATE_KNOWN };
                (k.value.render(), word)
            }
            Some(FieldState::Unknown(u)) => (String::new(), u.reason.as_str()),
            // Absent means nobody asked: the model's own default, spelled out.
            None => (
                String::new(),
                crate::model::UnknownReason::NotAttempted.as_str(),
            ),
        };
        row.push(value);
        row.push(state.to_string());
    }
    row
}

/// One JSON line (without the newline): the whole stored record.
pub fn jsonl_line(record: &StoredRecord) -> String {
    // Our own types with string map keys: serialising cannot fail, so a
    // failure here is a broken invariant, not bad data.
    serde_json::to_string(record).expect("a StoredRecord always serialises to JSON")
}
