//! JSON-lines lead files: one object per line, flat (`"person.email"`) or
//! nested one level (`"person": {"email": ..}`), and the checks on each row.

use super::aliases::ID;
use super::fields::{raw_text, Draft, Rows, Target};
use super::lines::{too_long, LineReader, PhysLine};
use super::{ImportError, Reject, Row};
use crate::quoted::quoted;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io;
use std::path::Path;

/// Streaming reader of JSON-lines rows.
pub(crate) struct JsonlReader {
    lines: LineReader,
    /// The first non-blank line, read by `open` to recognise empty files.
    pending: Option<PhysLine>,
}

impl JsonlReader {
    /// Check the file holds something that can be JSON lines.
    pub fn open(mut lines: LineReader, path: &Path) -> Result<JsonlReader, ImportError> {
        let first = loop {
            match lines.read() {
                Err(source) => {
                    return Err(ImportError::Io {
                        path: path.to_path_buf(),
                        source,
                    })
                }
                Ok(None) => {
                    return Err(ImportError::EmptyFile {
                        path: path.to_path_buf(),
                    })
                }
                Ok(Some(line)) if line.is_blank() => continue,
                Ok(Some(line)) => break line,
            }
        };
        // A pretty-printed `.json` array would otherwise give one reject per line.
        if first.bytes.trim_ascii_start().starts_with(b"[") {
            return Err(ImportError::NotJsonLines {
                path: path.to_path_buf(),
            });
        }
        Ok(JsonlReader {
            lines,
            pending: Some(first),
        })
    }

    /// The number of the next line to be read (for errors mid-file).
    pub fn next_line_number(&self) -> u64 {
        self.pending
            .as_ref()
            .map_or(self.lines.next_number(), |l| l.number)
    }

    /// The next row, `None` at end of file.
    pub fn next_row(&mut self, rows: &mut Rows) -> io::Result<Option<Row>> {
        let line = loop {
            let next = match self.pending.take() {
                Some(line) => line,
                None => match self.lines.read()? {
                    Some(line) => line,
                    None => return Ok(None),
                },
            };
            if !next.is_blank() {
                break next;
            }
        };
        Ok(Some(parse_row(&line, rows)))
    }
}

fn reject(line: &PhysLine, reason: String) -> Row {
    Row::Rejected(Reject {
        line: line.number,
        id: None,
        reason,
        raw: raw_text(&line.bytes),
    })
}

fn parse_row(line: &PhysLine, rows: &mut Rows) -> Row {
    if line.overlong() {
        return reject(line, too_long(line.len));
    }
    let text = match std::str::from_utf8(&line.bytes) {
        Ok(text) => text,
        Err(e) => {
            return reject(
                line,
                format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
            )
        }
    };
    let map = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => map,
        Ok(other) => {
            return reject(
                line,
                format!("expected a JSON object, got {}", kind(&other)),
            )
        }
        Err(e) => return reject(line, malformed(&e)),
    };
    let mut draft = Draft::new(line.number);
    // Catalogue name → the key that gave it, to catch one field given twice.
    let mut given: HashMap<String, String> = HashMap::new();
    for (key, value) in &map {
        if rows.fields.is_group(key) && matches!(value, Json::Object(_) | Json::Null) {
            if let Json::Object(inner) = value {
                for (sub, v) in inner {
                    field(&mut draft, rows, &mut given, &format!("{key}.{sub}"), v);
                }
            }
        } else {
            field(&mut draft, rows, &mut given, key, value);
        }
    }
    rows.finish(draft, &line.bytes)
}

fn field(
    draft: &mut Draft,
    rows: &Rows,
    given: &mut HashMap<String, String>,
    key: &str,
    value: &Json,
) {
    let name = match rows.fields.resolve(key) {
        None => {
            draft.problem(rows.fields.unknown_field(key));
            return;
        }
        Some((Target::Ignored, _)) => return,
        Some((Target::Id, _)) => ID.to_string(),
        Some((Target::Field(name), _)) => name,
    };
    if let Some(first) = given.insert(name.clone(), key.to_string()) {
        draft.problem(format!(
            "{name} is given twice (as {} and {})",
            quoted(&first),
            quoted(key)
        ));
        return;
    }
    if name == ID {
        match value {
            Json::String(s) => draft.set_id(s),
            // CRM ids are often numeric; take them as their text.
            Json::Number(n) => draft.set_id(&n.to_string()),
            Json::Null => {}
            other => draft.id_problem(format!(
                "id must be a string or a number, not {}",
                kind(other)
            )),
        }
    } else if let Some(def) = rows.fields.def(&name) {
        draft.add_json(def, value, &format_args!("field {key}"));
    }
}

/// serde's message without its "at line 1 column N" (always line 1 here),
/// with the column put first where a person looks for it.
fn malformed(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text
        .rfind(" at line ")
        .map_or(text.as_str(), |i| &text[..i]);
    format!("malformed JSON at column {}: {message}", e.column())
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
