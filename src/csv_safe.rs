//! CSV files a spreadsheet opens safely: every text cell that starts with
//! `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so it is
//! shown as text instead of run as a formula (OWASP, "CSV Injection"). The
//! one writer behind the CSV export, the rejects file and `report --csv`.

use std::borrow::Cow;
use std::fmt::Display;
use std::io;
use std::path::Path;

/// First characters a spreadsheet may take as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell` as a spreadsheet will show it: with a `'` in front when its first
/// character could start a formula, unchanged otherwise.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A number leadfall computed itself (a count, a rate, credits), written as
/// is. Exempt from [`neutralise`]: it is not user text, and `-3.5` must stay
/// a number a spreadsheet can sum, not become the text `'-3.5`. Only built
/// from numeric types, so user text cannot pass as one.
#[derive(Debug, Clone, PartialEq)]
pub struct Number(String);

impl Number {
    fn of(n: impl Display) -> Number {
        Number(n.to_string())
    }
}

macro_rules! number_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Number {
                Number::of(n)
            }
        }
        impl From<Option<$t>> for Number {
            /// An absent number is an empty cell.
            fn from(n: Option<$t>) -> Number {
                n.map(Number::of).unwrap_or(Number(String::new()))
            }
        }
    )*};
}
number_from!(u32, u64, i64, f64);

/// One cell: user (or config) text, neutralised, or a [`Number`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Text from anywhere; neutralised when written.
    Text(&'a str),
    /// A number leadfall computed; written as is.
    Number(Number),
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(s: &'a str) -> Cell<'a> {
        Cell::Text(s)
    }
}

impl<'a> From<&'a String> for Cell<'a> {
    fn from(s: &'a String) -> Cell<'a> {
        Cell::Text(s)
    }
}

impl From<Number> for Cell<'_> {
    fn from(n: Number) -> Self {
        Cell::Number(n)
    }
}

/// A `csv::Writer` that neutralises every text cell it writes.
#[derive(Debug)]
pub struct Writer<W: io::Write> {
    inner: csv::Writer<W>,
}

impl<W: io::Write> Writer<W> {
    /// Write CSV to `out`.
    pub fn from_writer(out: W) -> Writer<W> {
        Writer {
            inner: csv::Writer::from_writer(out),
        }
    }

    /// Write one row.
    pub fn write_row<'a, I>(&mut self, cells: I) -> csv::Result<()>
    where
        I: IntoIterator,
        I::Item: Into<Cell<'a>>,
    {
        let cells = cells.into_iter().map(|c| match c.into() {
            Cell::Text(s) => neutralise(s),
            Cell::Number(Number(n)) => Cow::Owned(n),
        });
        // `write_record` takes `AsRef<[u8]>`, which `Cow<str>` is not.
        self.inner.write_record(cells.map(|c| match c {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }))
    }

    /// Flush what is buffered to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// Flush and hand back the underlying writer.
    pub fn into_inner(self) -> csv::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }
}

impl Writer<std::fs::File> {
    /// Create (or truncate) the file at `path`, with the user's umask: these
    /// are the user's files (rejects), not the data directory's.
    pub fn from_path(path: &Path) -> csv::Result<Writer<std::fs::File>> {
        Ok(Writer {
            inner: csv::Writer::from_path(path)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(cells: &[Cell<'_>]) -> String {
        let mut w = Writer::from_writer(Vec::new());
        w.write_row(cells.iter().cloned()).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn formula_starts_get_a_quote_and_the_rest_is_unchanged() {
        for (raw, want) in [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(1)", "'@SUM(1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("a=1", "a=1"),
            (" =1", " =1"),
            ("", ""),
            ("'=1", "'=1"),
        ] {
            assert_eq!(neutralise(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn text_cells_are_neutralised_and_numbers_are_not() {
        let row = [
            Cell::Text("-3.5"),
            Cell::Number(Number::from(-3.5)),
            Cell::Number(Number::from(None::<f64>)),
            Cell::Number(Number::from(7u64)),
        ];
        assert_eq!(written(&row), "'-3.5,-3.5,,7\n");
    }
}
