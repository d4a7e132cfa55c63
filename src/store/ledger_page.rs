//! Ledger pages in binary: many rows in one sled value, every string (record
//! id, operation, provider, outcome, fields) written once per page and
//! referred to by number. A JSON page row was ~350 bytes; a binary row is
//! ~30, and writing the page's bytes was most of what recording a call cost.
//!
//! Layout: `P2`, then the rows (each starting with its flags byte), then the
//! string table, then the table's offset as 4 LE bytes, so rows can be
//! appended while the table is still growing. Integers are LEB128 varints.

use super::LedgerEntry;
use crate::model::Name;
use chrono::{DateTime, Utc};
use foldhash::HashMap;

/// How a binary page starts.
pub const MAGIC: &[u8] = b"P2";

const RECORD_ID: u8 = 1;
const CACHED: u8 = 1 << 1;
const CREDITS: u8 = 1 << 2;
const SAVED: u8 = 1 << 3;
const STATUS: u8 = 1 << 4;
const ERROR: u8 = 1 << 5;
const CHOICE: u8 = 1 << 6;
const FIELDS: u8 = 1 << 7;

/// A page being filled.
#[derive(Debug, Default)]
pub struct PageBuilder {
    rows: Vec<u8>,
    count: usize,
    ids: HashMap<String, u32>,
    /// Interned names' numbers, by address (no hashing of the text).
    names: HashMap<usize, u32>,
    table: Vec<u8>,
}

impl PageBuilder {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// An empty page with room for what this one holds: pages fill to much
    /// the same size, and growing each one from nothing copied its rows
    /// and rehashed its ids a dozen times.
    pub fn sized_like(&self) -> PageBuilder {
        PageBuilder {
            rows: Vec::with_capacity(self.rows.len()),
            count: 0,
            ids: HashMap::with_capacity_and_hasher(self.ids.len(), Default::default()),
            names: HashMap::with_capacity_and_hasher(self.names.len(), Default::default()),
            table: Vec::with_capacity(self.table.len()),
        }
    }

    /// Append a row.
    pub fn push(&mut self, row: &LedgerEntry) {
        if self.rows.is_empty() {
            self.rows.extend_from_slice(MAGIC);
        }
        let flags = [
            (RECORD_ID, row.record_id.is_some()),
            (CACHED, row.cached),
            (CREDITS, row.credits != 0.0),
            (SAVED, row.saved_credits != 0.0),
            (STATUS, row.status.is_some()),
            (ERROR, row.error.is_some()),
            (CHOICE, row.choice.is_some()),
            (FIELDS, !row.fields.is_empty()),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .fold(0u8, |flags, (bit, _)| flags | bit);
        self.rows.push(flags);
        varint(&mut self.rows, zigzag(row.at.timestamp()));
        varint(&mut self.rows, u64::from(row.at.timestamp_subsec_nanos()));
        if let Some(id) = &row.record_id {
            self.string(id);
        }
        for n in [row.operation, row.provider, row.outcome] {
            self.name(n);
        }
        for (on, x) in [(CREDITS, row.credits), (SAVED, row.saved_credits)] {
            if flags & on != 0 {
                self.rows.extend_from_slice(&x.to_le_bytes());
            }
        }
        varint(&mut self.rows, row.latency_ms);
        varint(&mut self.rows, u64::from(row.attempts));
        varint(&mut self.rows, u64::from(row.throttled));
        if let Some(s) = row.status {
            varint(&mut self.rows, u64::from(s));
        }
        for s in [&row.error, &row.choice].into_iter().flatten() {
            self.string(s);
        }
        if !row.fields.is_empty() {
            varint(&mut self.rows, row.fields.len() as u64);
            for f in &row.fields {
                self.name(*f);
            }
        }
        self.count += 1;
    }

    /// Write `s`'s number into the rows, adding it to the table when new.
    fn string(&mut self, s: &str) {
        let n = match self.ids.get(s) {
            Some(n) => *n,
            None => {
                let n = self.add(s);
                self.ids.insert(s.to_string(), n);
                n
            }
        };
        varint(&mut self.rows, u64::from(n));
    }

    /// The same for an interned name, found by its address.
    fn name(&mut self, s: Name) {
        let at = s.as_str().as_ptr() as usize;
        let n = match self.names.get(&at) {
            Some(n) => *n,
            None => {
                let n = self.add(&s);
                self.names.insert(at, n);
                n
            }
        };
        varint(&mut self.rows, u64::from(n));
    }

    /// Add `s` to the string table: its number.
    fn add(&mut self, s: &str) -> u32 {
        let n = (self.ids.len() + self.names.len()) as u32;
        varint(&mut self.table, s.len() as u64);
        self.table.extend_from_slice(s.as_bytes());
        n
    }

    /// The page's bytes (empty when no row was pushed).
    pub fn finish(self) -> Vec<u8> {
        let mut out = self.rows;
        if out.is_empty() {
            return out;
        }
        let at = out.len() as u32;
        varint(&mut out, (self.ids.len() + self.names.len()) as u64);
        out.extend_from_slice(&self.table);
        out.extend_from_slice(&at.to_le_bytes());
        out
    }
}

/// The rows of a binary page (`value` starts with [`MAGIC`]).
pub fn decode(value: &[u8]) -> Result<Vec<LedgerEntry>, String> {
    let short = || "truncated ledger page".to_string();
    let body = value
        .strip_prefix(MAGIC)
        .ok_or("not a binary ledger page")?;
    let (rest, at) = body.split_last_chunk::<4>().ok_or_else(short)?;
    let at = (u32::from_le_bytes(*at) as usize)
        .checked_sub(MAGIC.len())
        .ok_or_else(short)?;
    let (mut rows, table) = (rest.get(..at).ok_or_else(short)?, &rest[at..]);
    let strings = read_table(table)?;
    // Each string is interned once per page, not once per row that names it.
    let mut names = vec![None; strings.len()];
    let mut out = Vec::new();
    while !rows.is_empty() {
        out.push(read_row(&mut rows, &strings, &mut names)?);
    }
    Ok(out)
}

fn read_table(mut t: &[u8]) -> Result<Vec<&str>, String> {
    let n = read_varint(&mut t)?;
    let mut strings = Vec::new();
    for _ in 0..n {
        let len = read_varint(&mut t)? as usize;
        let bytes = t.get(..len).ok_or("truncated ledger page string table")?;
        strings.push(std::str::from_utf8(bytes).map_err(|e| format!("ledger page string: {e}"))?);
        t = &t[len..];
    }
    Ok(strings)
}

fn read_row(
    r: &mut &[u8],
    strings: &[&str],
    names: &mut [Option<crate::model::Name>],
) -> Result<LedgerEntry, String> {
    let (&flags, rest) = r.split_first().ok_or("truncated ledger row")?;
    *r = rest;
    let index = |r: &mut &[u8]| -> Result<usize, String> {
        let n = read_varint(r)? as usize;
        match n < strings.len() {
            true => Ok(n),
            false => Err(format!("ledger row names string {n} of {}", strings.len())),
        }
    };
    let string = |r: &mut &[u8]| index(r).map(|n| strings[n].to_string());
    let mut name = |r: &mut &[u8]| -> Result<crate::model::Name, String> {
        let n = index(r)?;
        if let Some(name) = names[n] {
            return Ok(name);
        }
        let name = crate::model::Name::checked(strings[n]).map_err(|e| e.to_string())?;
        names[n] = Some(name);
        Ok(name)
    };
    let f64_le = |r: &mut &[u8]| -> Result<f64, String> {
        let (b, rest) = r.split_first_chunk::<8>().ok_or("truncated ledger row")?;
        *r = rest;
        Ok(f64::from_le_bytes(*b))
    };
    let secs = unzigzag(read_varint(r)?);
    let nanos = u32::try_from(read_varint(r)?).map_err(|e| e.to_string())?;
    let at: DateTime<Utc> =
        DateTime::from_timestamp(secs, nanos).ok_or("ledger row time out of range")?;
    let record_id = (flags & RECORD_ID != 0).then(|| string(r)).transpose()?;
    let operation = name(r)?;
    let provider = name(r)?;
    let outcome = name(r)?;
    let credits = if flags & CREDITS != 0 {
        f64_le(r)?
    } else {
        0.0
    };
    let saved_credits = if flags & SAVED != 0 { f64_le(r)? } else { 0.0 };
    let latency_ms = read_varint(r)?;
    let small = |r: &mut &[u8]| u32::try_from(read_varint(r)?).map_err(|e| e.to_string());
    let attempts = small(r)?;
    let throttled = small(r)?;
    let status = (flags & STATUS != 0)
        .then(|| small(r).and_then(|s| u16::try_from(s).map_err(|e| e.to_string())))
        .transpose()?;
    let error = (flags & ERROR != 0).then(|| string(r)).transpose()?;
    let choice = (flags & CHOICE != 0).then(|| string(r)).transpose()?;
    let fields = match flags & FIELDS != 0 {
        false => Vec::new(),
        true => (0..read_varint(r)?)
            .map(|_| name(r))
            .collect::<Result<_, _>>()?,
    };
    Ok(LedgerEntry {
        at,
        record_id,
        operation,
        provider,
        outcome,
        cached: flags & CACHED != 0,
        credits,
        saved_credits,
        latency_ms,
        attempts,
        throttled,
        status,
        error,
        choice,
        fields,
    })
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(x: u64) -> i64 {
    ((x >> 1) as i64) ^ -((x & 1) as i64)
}

fn varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn read_varint(r: &mut &[u8]) -> Result<u64, String> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = r.split_first().ok_or("truncated ledger row")?;
        *r = rest;
        x |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(x);
        }
    }
    Err("ledger row varint too long".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_row() -> impl Strategy<Value = LedgerEntry> {
        let text = || "[a-z._@-]{0,12}";
        (
            (any::<i32>(), 0u32..1_000_000_000),
            proptest::option::of(text()),
            (text(), text(), text()),
            (
                any::<bool>(),
                any::<f64>(),
                prop_oneof![Just(0.0), any::<f64>()],
            ),
            (
                any::<u64>(),
                any::<u32>(),
                any::<u32>(),
                proptest::option::of(any::<u16>()),
            ),
            (proptest::option::of(text()), proptest::option::of(text())),
            proptest::collection::vec(text(), 0..4),
        )
            .prop_map(|(t, record_id, s, c, n, e, fields)| LedgerEntry {
                at: DateTime::from_timestamp(i64::from(t.0), t.1).unwrap(),
                record_id,
                operation: s.0.into(),
                provider: s.1.into(),
                outcome: s.2.into(),
                cached: c.0,
                credits: c.1,
                saved_credits: c.2,
                latency_ms: n.0,
                attempts: n.1,
                throttled: n.2,
                status: n.3,
                error: e.0,
                choice: e.1,
                fields: fields.into_iter().map(Name::from).collect(),
            })
    }

    /// Equality that reads NaN credits as equal to NaN.
    fn same(a: &LedgerEntry, b: &LedgerEntry) -> bool {
        let bits = |r: &LedgerEntry| (r.credits.to_bits(), r.saved_credits.to_bits());
        let strip = |r: &LedgerEntry| LedgerEntry {
            credits: 0.0,
            saved_credits: 0.0,
            ..r.clone()
        };
        // -0.0 is written as "no credits" and reads back as 0.0.
        let norm = |(c, s): (u64, u64)| {
            let z = |x: u64| if f64::from_bits(x) == 0.0 { 0 } else { x };
            (z(c), z(s))
        };
        strip(a) == strip(b) && norm(bits(a)) == norm(bits(b))
    }

    proptest! {
        #[test]
        fn any_rows_round_trip_in_order(rows in proptest::collection::vec(any_row(), 1..40)) {
            let mut p = PageBuilder::default();
            for r in &rows {
                p.push(r);
            }
            prop_assert_eq!(p.len(), rows.len());
            let back = decode(&p.finish()).unwrap();
            prop_assert_eq!(back.len(), rows.len());
            for (a, b) in rows.iter().zip(&back) {
                prop_assert!(same(a, b), "{:?} != {:?}", a, b);
            }
        }

        #[test]
        fn a_cut_page_is_an_error_never_a_panic(rows in proptest::collection::vec(any_row(), 1..8), cut in 0usize..400) {
            let mut p = PageBuilder::default();
            for r in &rows {
                p.push(r);
            }
            let page = p.finish();
            let cut = cut.min(page.len() - 1);
            // Any prefix either fails or (by chance) decodes; it never panics.
            let _ = decode(&page[..cut]);
        }
    }

    #[test]
    fn repeated_strings_are_stored_once() {
        let row = LedgerEntry {
            at: Utc::now(),
            record_id: Some("lead00001".into()),
            operation: "mailfinder.email-finder".into(),
            provider: "mailfinder".into(),
            outcome: "hit".into(),
            cached: true,
            credits: 0.0,
            saved_credits: 1.0,
            latency_ms: 0,
            attempts: 0,
            throttled: 0,
            status: None,
            error: None,
            choice: None,
            fields: vec!["person.email".into()],
        };
        let mut p = PageBuilder::default();
        for _ in 0..100 {
            p.push(&row);
        }
        let page = p.finish();
        assert!(page.len() < 100 * 30, "{} bytes for 100 rows", page.len());
        assert_eq!(decode(&page).unwrap(), vec![row; 100]);
    }
}
