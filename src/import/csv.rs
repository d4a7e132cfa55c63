//! CSV lead files: the header (columns → catalogue fields), record assembly
//! and the checks on each row.
//!
//! Records are assembled from physical lines here rather than by the `csv`
//! crate: the crate lets an unterminated quote swallow the rest of the file
//! into one cell, keeps lines of any length, and gives no raw text for the
//! rejects file. A quoted cell may still span lines, but only when the
//! result is a well-formed row; otherwise the opening line alone is rejected
//! and the lines after it are read again as rows of their own.

use super::aliases::ID;
use super::error::{SharedField, UnknownColumn};
use super::fields::{Draft, MatchedBy, Rows, Target};
use super::lines::{too_long, LineReader, PhysLine, MAX_LINE_BYTES};
use super::{ColumnMapping, ImportError, Reject, Row};
use std::collections::VecDeque;
use std::io;
use std::path::Path;

/// Most physical lines one quoted cell may span.
const MAX_RECORD_LINES: usize = 100;

/// What a header column means.
#[derive(Debug)]
enum Column {
    Id,
    Field(String),
    /// A column with an empty header (trailing commas from spreadsheets):
    /// ignored while its cells are empty.
    Unnamed,
    /// A column the user said to skip (`--ignore`).
    Ignored,
}

/// Streaming reader of CSV rows.
pub(crate) struct CsvReader {
    source: LineSource,
    /// Header names as written, for reasons.
    names: Vec<String>,
    columns: Vec<Column>,
    /// What each column was taken for, for `import --dry-run`.
    pub mapping: Vec<ColumnMapping>,
}

/// Physical lines, with lines read ahead for a quoted cell pushed back.
struct LineSource {
    reader: LineReader,
    replay: VecDeque<PhysLine>,
}

impl LineSource {
    fn next(&mut self) -> io::Result<Option<PhysLine>> {
        match self.replay.pop_front() {
            Some(line) => Ok(Some(line)),
            None => self.reader.read(),
        }
    }
}

/// One assembled record, or a reason it could not be assembled.
enum Assembled {
    Record {
        line: u64,
        cells: Cells,
        /// Index of the first cell with text after its closing quote.
        stray: Option<usize>,
        raw: Vec<u8>,
    },
    Reject {
        line: u64,
        reason: String,
        raw: Vec<u8>,
    },
}

impl CsvReader {
    /// Read and resolve the header; fails before any row is read.
    pub fn open(reader: LineReader, path: &Path, rows: &Rows) -> Result<CsvReader, ImportError> {
        let mut source = LineSource {
            reader,
            replay: VecDeque::new(),
        };
        let bad = |reason: String| ImportError::BadHeader {
            path: path.to_path_buf(),
            reason,
        };
        let cells = match assemble(&mut source, None) {
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
            Ok(Some(Assembled::Reject { reason, .. })) => return Err(bad(reason)),
            Ok(Some(Assembled::Record { stray: Some(i), .. })) => {
                return Err(bad(format!(
                    "text after the closing quote of column {}",
                    i + 1
                )))
            }
            Ok(Some(Assembled::Record { cells, .. })) => cells,
        };
        let names: Vec<String> = cells
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_string())
            .collect();
        let resolved: Vec<Option<(Target, MatchedBy)>> = names
            .iter()
            .map(|name| {
                if name.is_empty() {
                    None
                } else {
                    rows.fields.resolve(name)
                }
            })
            .collect();
        // The id column first: a file without it is most likely headerless
        // or the wrong file, and "no id column" says so better than
        // complaining about whatever its first line holds.
        if !resolved.iter().any(|r| matches!(r, Some((Target::Id, _)))) {
            return Err(ImportError::MissingIdColumn {
                path: path.to_path_buf(),
            });
        }
        let unused: Vec<String> = rows
            .fields
            .unused_rules(&names)
            .into_iter()
            .map(str::to_string)
            .collect();
        if !unused.is_empty() {
            return Err(ImportError::UnusedRule {
                path: path.to_path_buf(),
                rules: unused,
            });
        }
        let mut columns = Vec::with_capacity(names.len());
        let mut mapping = Vec::with_capacity(names.len());
        let mut unknown = Vec::new();
        let mut ambiguous = Vec::new();
        // Field → the first column giving it.
        let mut taken: Vec<(String, usize)> = Vec::new();
        for (i, (name, resolved)) in names.iter().zip(resolved).enumerate() {
            let (column, by) = match resolved {
                _ if name.is_empty() => (Column::Unnamed, MatchedBy::Unnamed),
                None => {
                    unknown.push(UnknownColumn {
                        position: i + 1,
                        column: name.clone(),
                        suggestion: rows.fields.suggest(name),
                    });
                    (Column::Unnamed, MatchedBy::Unnamed)
                }
                Some((Target::Id, by)) => (Column::Id, by),
                Some((Target::Field(f), by)) => (Column::Field(f), by),
                Some((Target::Ignored, by)) => (Column::Ignored, by),
            };
            let key = match &column {
                Column::Id => Some(ID.to_string()),
                Column::Field(f) => Some(f.clone()),
                Column::Unnamed | Column::Ignored => None,
            };
            if let Some(key) = &key {
                if let Some((_, first)) = taken.iter().find(|(k, _)| k == key) {
                    ambiguous.push(SharedField {
                        field: key.clone(),
                        first: (first + 1, names[*first].clone()),
                        second: (i + 1, name.clone()),
                    });
                } else {
                    taken.push((key.clone(), i));
                }
            }
            mapping.push(ColumnMapping {
                position: i + 1,
                column: name.clone(),
                field: key,
                by,
            });
            columns.push(column);
        }
        if !unknown.is_empty() || !ambiguous.is_empty() {
            return Err(ImportError::Columns {
                path: path.to_path_buf(),
                unknown,
                ambiguous,
            });
        }
        Ok(CsvReader {
            source,
            names,
            columns,
            mapping,
        })
    }

    /// The number of the next line to be read (for errors mid-file).
    pub fn next_line_number(&self) -> u64 {
        self.source
            .replay
            .front()
            .map_or(self.source.reader.next_number(), |l| l.number)
    }

    /// The next row, `None` at end of file.
    pub fn next_row(&mut self, rows: &mut Rows) -> io::Result<Option<Row>> {
        let expected = self.columns.len();
        let (line, cells, stray, raw) = match assemble(&mut self.source, Some(expected))? {
            None => return Ok(None),
            Some(Assembled::Reject { line, reason, raw }) => {
                return Ok(Some(Row::Rejected(Reject {
                    line,
                    id: None,
                    reason,
                    raw: super::fields::raw_text(&raw),
                })))
            }
            Some(Assembled::Record {
                line,
                cells,
                stray,
                raw,
            }) => (line, cells, stray, raw),
        };
        let mut draft = Draft::new(line);
        if cells.len() != expected {
            draft.problem(format!(
                "row has {} cells but the header has {expected} columns",
                cells.len()
            ));
            // Still read the id, so the reject says which lead it was.
            if let Some(i) = self.columns.iter().position(|c| matches!(c, Column::Id)) {
                if let Some(Ok(id)) = cells.get(i).map(|c| std::str::from_utf8(c)) {
                    draft.set_id(id);
                }
            }
            return Ok(Some(rows.finish(draft, &raw)));
        }
        if let Some(i) = stray {
            draft.problem(format!(
                "text after the closing quote in column {}",
                self.names[i]
            ));
        }
        for (i, cell) in cells.iter().enumerate() {
            if matches!(self.columns[i], Column::Ignored) {
                continue;
            }
            let name = &self.names[i];
            let Ok(text) = std::str::from_utf8(cell) else {
                draft.problem(format!("invalid UTF-8 in column {name}"));
                continue;
            };
            match &self.columns[i] {
                Column::Id => draft.set_id(text),
                Column::Field(field) => {
                    if let Some(def) = rows.fields.def(field) {
                        // An alias or a --map: say which field the cell was read as.
                        if name == field {
                            draft.add_text(def, text, &format_args!("column {name}"));
                        } else {
                            draft.add_text(def, text, &format_args!("column {name} ({field})"));
                        }
                    }
                }
                Column::Ignored => {}
                Column::Unnamed => {
                    if !text.trim().is_empty() {
                        draft.problem(format!(
                            "column {} has no name in the header but holds a value here",
                            i + 1
                        ));
                    }
                }
            }
        }
        Ok(Some(rows.finish(draft, &raw)))
    }
}

/// Assemble the next record from physical lines, skipping blank lines.
/// `expected` is the header's column count (`None` for the header itself).
fn assemble(source: &mut LineSource, expected: Option<usize>) -> io::Result<Option<Assembled>> {
    let first = loop {
        match source.next()? {
            None => return Ok(None),
            Some(line) if line.is_blank() => continue,
            Some(line) => break line,
        }
    };
    if first.overlong() {
        return Ok(Some(Assembled::Reject {
            line: first.number,
            reason: too_long(first.len),
            raw: first.bytes,
        }));
    }
    let mut split = Splitter::for_line(first.bytes.len());
    split.feed(&first.bytes);
    if !split.in_quotes() {
        let (cells, stray) = split.finish();
        return Ok(Some(Assembled::Record {
            line: first.number,
            cells,
            stray,
            raw: first.bytes,
        }));
    }
    // A quoted cell runs past the end of the line: read ahead until it closes.
    let mut extra: Vec<PhysLine> = Vec::new();
    let mut total = first.len;
    let closed = loop {
        let Some(next) = source.next()? else {
            break false;
        };
        total += 1 + next.len;
        if next.overlong() || total > MAX_LINE_BYTES as u64 || extra.len() + 2 > MAX_RECORD_LINES {
            extra.push(next);
            break false;
        }
        split.feed(b"\n");
        split.feed(&next.bytes);
        extra.push(next);
        if !split.in_quotes() {
            break true;
        }
    };
    if closed {
        let (cells, stray) = split.finish();
        // Only a well-formed row of the right width is taken as a multi-line
        // record; anything else is far more likely a quote left open.
        let width_ok = match expected {
            None => true,
            Some(n) => n == cells.len(),
        };
        if stray.is_none() && width_ok {
            let mut raw = first.bytes;
            for line in &extra {
                raw.push(b'\n');
                raw.extend_from_slice(&line.bytes);
            }
            return Ok(Some(Assembled::Record {
                line: first.number,
                cells,
                stray,
                raw,
            }));
        }
    }
    for line in extra.into_iter().rev() {
        source.replay.push_front(line);
    }
    Ok(Some(Assembled::Reject {
        line: first.number,
        reason: format!(
            "unterminated quote: a quoted cell opened on this line does not close \
             (add the closing \" or double any \" inside the cell; a cell may span at most {MAX_RECORD_LINES} lines)"
        ),
        raw: first.bytes,
    }))
}

/// Where the splitter is within a cell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a cell.
    #[default]
    Start,
    /// Inside a cell that did not start with a quote (quotes are literal).
    Unquoted,
    /// Inside a quoted cell.
    Quoted,
    /// Just after a quote inside a quoted cell: `""` escape or the close.
    QuoteInQuoted,
    /// After a closing quote and optional blanks, waiting for a comma.
    AfterClose,
}

/// A row's cells: their bytes end to end and where each ends. Two
/// allocations per row where a `Vec` per cell took one each, plus regrowth.
#[derive(Debug, Default, PartialEq)]
struct Cells {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Cells {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        Some(&self.bytes[start..end])
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// RFC 4180 cell splitter, fed one line (or a line continuation) at a time.
#[derive(Debug, Default)]
struct Splitter {
    /// Cells ended so far; the current cell's bytes follow the last end.
    cells: Cells,
    state: State,
    stray: Option<usize>,
}

impl Splitter {
    /// A splitter with room for a line of `len` bytes (a cell holds at most
    /// its line's bytes) and a typical row's cells.
    fn for_line(len: usize) -> Splitter {
        Splitter {
            cells: Cells {
                bytes: Vec::with_capacity(len),
                ends: Vec::with_capacity(16),
            },
            ..Splitter::default()
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        use State::*;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            // Runs of plain bytes are copied at once: a cell grows by one
            // copy instead of a push (and a regrowth) per byte.
            let run_end = match (self.state, b) {
                (Start, b'"' | b',') => None,
                (Start | Unquoted, _) => Some(find(&bytes[i..], b',')),
                (Quoted, b'"') => None,
                (Quoted, _) => Some(find(&bytes[i..], b'"')),
                _ => None,
            };
            if let Some(n) = run_end.filter(|&n| n > 0) {
                self.cells.bytes.extend_from_slice(&bytes[i..i + n]);
                if self.state == Start {
                    self.state = Unquoted;
                }
                i += n;
                continue;
            }
            i += 1;
            match (self.state, b) {
                (Start, b'"') => self.state = Quoted,
                (Start | Unquoted | QuoteInQuoted | AfterClose, b',') => {
                    self.cells.ends.push(self.cells.bytes.len());
                    self.state = Start;
                }
                (Start | Unquoted, _) => {
                    self.cells.bytes.push(b);
                    self.state = Unquoted;
                }
                (Quoted, b'"') => self.state = QuoteInQuoted,
                (Quoted, _) => self.cells.bytes.push(b),
                (QuoteInQuoted, b'"') => {
                    self.cells.bytes.push(b'"');
                    self.state = Quoted;
                }
                // Blanks after a closing quote are common and harmless.
                (QuoteInQuoted | AfterClose, b' ' | b'\t') => self.state = AfterClose,
                (QuoteInQuoted | AfterClose, _) => {
                    // `"a"b`: the csv crate would glue this on silently; we
                    // reject the row. Carry on unquoted so the line ends the record.
                    self.stray.get_or_insert(self.cells.len());
                    self.cells.bytes.push(b);
                    self.state = Unquoted;
                }
            }
        }
    }

    fn in_quotes(&self) -> bool {
        self.state == State::Quoted
    }
}

/// Bytes before the first `c` in `s` (all of them when there is none).
fn find(s: &[u8], c: u8) -> usize {
    s.iter().position(|&x| x == c).unwrap_or(s.len())
}

impl Splitter {
    fn finish(mut self) -> (Cells, Option<usize>) {
        self.cells.ends.push(self.cells.bytes.len());
        (self.cells, self.stray)
    }
}

#[cfg(test)]
mod splitter_tests {
    use super::Splitter;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cells_are_the_csv_crates_wherever_the_line_is_cut(
            cells in prop::collection::vec("[a-z \",]{0,6}", 1..6),
            cut in 0usize..40,
        ) {
            let quoted: Vec<String> = std::iter::once("id".to_string())
                .chain(cells.iter().map(|c| {
                    if c.contains([',', '"']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c.clone()
                    }
                }))
                .collect();
            let line = quoted.join(",");
            let mut split = Splitter::default();
            let (a, b) = line.as_bytes().split_at(cut.min(line.len()));
            split.feed(a);
            split.feed(b);
            let (ours, stray) = split.finish();
            prop_assert_eq!(stray, None);
            let ours: Vec<Vec<u8>> = ours.iter().map(<[u8]>::to_vec).collect();
            let theirs = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes())
                .byte_records()
                .next()
                .unwrap()
                .unwrap();
            let theirs: Vec<Vec<u8>> = theirs.iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(ours, theirs);
        }
    }
}
