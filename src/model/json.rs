//! A record as one line of JSON, written by hand. The text is byte for byte
//! what `serde_json::to_writer` makes of the derived `Serialize` (a property
//! test holds them equal); serde_json looks at every byte of every string
//! through its escape table and dispatches every field through the generic
//! serializer, which was a fifth of a cached pass over a file of leads.

use super::{FieldState, Known, Record, Unknown, Value};
use chrono::{DateTime, Utc};

/// Append `record` as JSON to `out`.
pub fn write_record(out: &mut Vec<u8>, record: &Record) {
    let stamps = &mut Stamps::default();
    out.extend_from_slice(b"{\"id\":");
    string(out, &record.id);
    out.extend_from_slice(b",\"fields\":{");
    for (i, (name, state)) in record.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, name);
        out.push(b':');
        match state {
            FieldState::Known(k) => known(out, k, stamps),
            FieldState::Unknown(u) => unknown(out, u, stamps),
        }
    }
    out.extend_from_slice(b"},\"credits_spent\":");
    stamps.float(out, record.credits_spent);
    out.extend_from_slice(b",\"updated_at\":");
    stamps.write(out, &record.updated_at);
    out.push(b'}');
}

/// The last few timestamps written, as text: a record's fields share a
/// handful (the import time, each planning round's time, and that time plus
/// each freshness the catalogue uses: five in the standard one).
/// Numbers too: a record's confidences are a handful of values, and
/// finding the shortest text of one cost more than the rest of its field.
#[derive(Default)]
struct Stamps {
    held: [Option<(DateTime<Utc>, super::timestamp::Text)>; 8],
    next: usize,
    floats: [Option<(u64, FloatText)>; 4],
    next_float: usize,
}

/// A float's text (the shortest is at most 24 bytes: `-1.2345678901234567e-308`).
#[derive(Clone, Copy)]
struct FloatText {
    bytes: [u8; 24],
    len: u8,
}

impl Stamps {
    /// [`float`], memoised by the number's bits.
    fn float(&mut self, out: &mut Vec<u8>, f: f64) {
        let bits = f.to_bits();
        if let Some((_, t)) = self.floats.iter().flatten().find(|(b, _)| *b == bits) {
            out.extend_from_slice(&t.bytes[..usize::from(t.len)]);
            return;
        }
        let start = out.len();
        float(out, f);
        let text = &out[start..];
        let mut bytes = [0u8; 24];
        if let Some(held) = bytes.get_mut(..text.len()) {
            held.copy_from_slice(text);
            let len = text.len() as u8; // at most 24
            self.floats[self.next_float] = Some((bits, FloatText { bytes, len }));
            self.next_float = (self.next_float + 1) % self.floats.len();
        }
    }

    fn write(&mut self, out: &mut Vec<u8>, t: &DateTime<Utc>) {
        let held = self.held.iter().flatten().find(|(at, _)| at == t);
        if let Some((_, text)) = held {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
            return;
        }
        match super::timestamp::rfc3339(t) {
            // Digits and separators only: nothing to escape.
            Some(text) => {
                out.push(b'"');
                out.extend_from_slice(text.as_bytes());
                out.push(b'"');
                self.held[self.next] = Some((*t, text));
                self.next = (self.next + 1) % self.held.len();
            }
            None => string(out, &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        }
    }
}

fn known(out: &mut Vec<u8>, k: &Known, stamps: &mut Stamps) {
    out.extend_from_slice(b"{\"state\":\"known\",\"value\":");
    value(out, &k.value);
    out.extend_from_slice(b",\"source\":");
    string(out, &k.source);
    out.extend_from_slice(b",\"confidence\":");
    stamps.float(out, k.confidence);
    out.extend_from_slice(b",\"observed_at\":");
    stamps.write(out, &k.observed_at);
    if let Some(t) = &k.expires_at {
        out.extend_from_slice(b",\"expires_at\":");
        stamps.write(out, t);
    }
    if let Some(v) = &k.verified {
        out.extend_from_slice(b",\"verified\":");
        string(out, v);
    }
    out.push(b'}');
}

fn unknown(out: &mut Vec<u8>, u: &Unknown, stamps: &mut Stamps) {
    out.extend_from_slice(b"{\"state\":\"unknown\",\"reason\":\"");
    out.extend_from_slice(u.reason.as_str().as_bytes());
    out.extend_from_slice(b"\",\"tried\":");
    strings(out, &u.tried);
    if let Some(t) = &u.retry_at {
        out.extend_from_slice(b",\"retry_at\":");
        stamps.write(out, t);
    }
    if let Some(d) = &u.detail {
        out.extend_from_slice(b",\"detail\":");
        string(out, d);
    }
    out.push(b'}');
}

/// Append `v` as JSON (the bare value, as its `Serialize` writes it).
pub fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Integer(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
        Value::Text(s) => string(out, s),
        Value::List(l) => strings(out, l),
    }
}

fn strings<S: AsRef<str>>(out: &mut Vec<u8>, list: &[S]) {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, s.as_ref());
    }
    out.push(b']');
}

/// serde_json's numbers: the shortest text that reads back the same, `null`
/// for NaN and infinities.
fn float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// A JSON string with serde_json's escapes: `\"`, `\\`, the short forms
/// `\b \t \n \f \r`, and `\u00xx` (lower-case hex) for other control bytes.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape: a pass eight bytes at a time says so.
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any byte is a control byte, `"` or `\\`: eight bytes per step
/// (the last step overlaps the one before), bytes one by one under eight.
fn needs_escape(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let mut i = 0;
    while i + 8 < bytes.len() {
        if word_needs_escape(word(i)) {
            return true;
        }
        i += 8;
    }
    word_needs_escape(word(bytes.len() - 8))
}

/// The word-at-a-time tests: a byte below 0x20, or equal to `"` or `\\`
/// (a byte is zero after the xor). Exact: no byte is reported that is not there.
#[inline]
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    (below(w, 0x20) | below(w ^ (ONES * 0x22), 1) | below(w ^ (ONES * 0x5c), 1)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Name, UnknownReason};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // Control bytes, quotes, backslashes and non-ASCII, as well as plain text.
        prop_oneof![
            "[a-z.@-]{0,12}",
            "[\\x00-\\x1f\"\\\\a\u{7f}é😀]{0,8}",
            any::<String>(),
        ]
    }

    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        // Years past 9999 take chrono's own path.
        (-62_000_000_000i64..400_000_000_000, 0u32..2_000_000_000).prop_map(|(s, n)| {
            Utc.timestamp_opt(s, n)
                .single()
                .unwrap_or_else(|| Utc.timestamp_opt(s, 0).unwrap())
        })
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (0u32..1000).prop_map(|n| f64::from(n) / 100.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Integer),
            text().prop_map(Value::Text),
            prop::collection::vec(text(), 0..3).prop_map(Value::List),
        ]
    }

    fn state() -> impl Strategy<Value = FieldState> {
        let known = (
            value(),
            text(),
            float(),
            time(),
            prop::option::of(time()),
            prop::option::of(text()),
        )
            .prop_map(
                |(value, source, confidence, observed_at, expires_at, verified)| {
                    FieldState::Known(Known {
                        value,
                        source: source.into(),
                        confidence,
                        observed_at,
                        expires_at,
                        verified,
                    })
                },
            );
        let unknown = (
            prop::sample::select(UnknownReason::ALL.to_vec()),
            prop::collection::vec(text(), 0..3),
            prop::option::of(time()),
            prop::option::of(text()),
        )
            .prop_map(|(reason, tried, retry_at, detail)| {
                FieldState::Unknown(Unknown {
                    reason,
                    tried: tried.into_iter().map(Name::from).collect(),
                    retry_at,
                    detail,
                })
            });
        prop_oneof![known, unknown]
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            text(),
            prop::collection::btree_map(text(), state(), 0..6),
            float(),
            time(),
        )
            .prop_map(|(id, fields, credits_spent, updated_at)| Record {
                id,
                fields: fields
                    .into_iter()
                    .map(|(k, v)| (Name::from(k), v))
                    .collect(),
                credits_spent,
                updated_at,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_text_is_serde_jsons(r in record()) {
            let mut ours = Vec::new();
            write_record(&mut ours, &r);
            let theirs = serde_json::to_vec(&r).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// The word-at-a-time scan agrees with a byte-by-byte one, at every
        /// length and position (bytes drawn mostly near the boundaries).
        #[test]
        fn the_escape_scan_is_exact(bytes in proptest::collection::vec(
            prop_oneof![Just(0x1fu8), Just(0x20), Just(b'"'), Just(b'\\'), Just(0x7f), Just(0x80), Just(0xff), Just(b'a'), any::<u8>()],
            0..40,
        ), clean in any::<bool>()) {
            let bytes: Vec<u8> = if clean {
                bytes.into_iter().filter(|&b| b >= 0x20 && b != b'"' && b != b'\\').collect()
            } else {
                bytes
            };
            let naive = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_escape(&bytes), naive);
        }
    }

    #[test]
    fn repeated_and_evicted_numbers_are_written_as_serde_json_writes_them() {
        let t = Utc.with_ymd_and_hms(2026, 12, 2, 3, 4, 5).unwrap();
        let mut r = Record::new("r", t);
        let confidences = [0.9, -0.0, 0.0, f64::NAN, -1.234_567_890_123_456_7e-308, 1.0];
        for i in 0..30 {
            let mut k = FieldState::input(Value::Integer(i), t);
            if let FieldState::Known(k) = &mut k {
                k.confidence = confidences[(i as usize * 7) % confidences.len()];
            }
            r.set(format!("f.{i:02}").as_str(), k);
        }
        r.credits_spent = 0.9;
        let mut ours = Vec::new();
        write_record(&mut ours, &r);
        let theirs = serde_json::to_vec(&r).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
    }

    #[test]
    fn a_record_with_both_states_reads_back_equal() {
        let t = Utc.with_ymd_and_hms(2026, 12, 2, 3, 4, 5).unwrap();
        let mut r = Record::new("lead \"7\"\n", t);
        r.set(
            "person.email",
            FieldState::input(Value::Text("a@b.io".into()), t),
        );
        r.set(
            "person.title",
            FieldState::unknown(UnknownReason::NotFound, vec!["x.y".into()]),
        );
        let mut out = Vec::new();
        write_record(&mut out, &r);
        let back: Record = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, r);
    }
}
