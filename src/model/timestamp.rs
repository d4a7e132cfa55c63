//! RFC 3339 timestamps written without `fmt`. chrono's serde impl goes
//! through `Display`, and serde_json feeds that through its escaping adapter
//! one character at a time: with a score of timestamps per record it was the
//! largest single cost of encoding one. The text is chrono's own (`AutoSi`
//! fraction, `Z`), so readers see no difference; a unit test holds them equal.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// `#[serde(serialize_with = "timestamp::serialize")]`.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut out = Text::default();
    match out.rfc3339(t) {
        Some(()) => s.serialize_str(out.as_str()),
        None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// The same for `Option<DateTime<Utc>>`.
pub fn option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    struct Rfc3339<'a>(&'a DateTime<Utc>);
    impl Serialize for Rfc3339<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serialize(self.0, s)
        }
    }
    match t {
        Some(t) => s.serialize_some(&Rfc3339(t)),
        None => s.serialize_none(),
    }
}

/// `t` in RFC 3339 as chrono writes it, or `None` outside years 0..=9999.
pub fn rfc3339(t: &DateTime<Utc>) -> Option<Text> {
    let mut out = Text::default();
    out.rfc3339(t).map(|()| out)
}

/// (year, month, day) of the day `days` after 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A stack buffer long enough for `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
#[derive(Default)]
pub struct Text {
    buf: [u8; 32],
    len: usize,
}

impl Text {
    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `v` in exactly `width` digits, zero-padded.
    fn digits(&mut self, mut v: u32, width: usize) {
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len += width;
    }

    /// `t` as chrono writes it; `None` for years outside 0..=9999 (the
    /// caller falls back to chrono, which adds a sign). The text up to the
    /// seconds comes from a per-thread memo of the last few seconds seen
    /// (a pass writes thousands of timestamps within the same seconds).
    fn rfc3339(&mut self, t: &DateTime<Utc>) -> Option<()> {
        let secs = t.timestamp();
        let mut nano = t.timestamp_subsec_nanos();
        let leap = nano >= 1_000_000_000;
        if leap {
            // A leap second: chrono writes :60.
            nano -= 1_000_000_000;
        }
        let prefix = if leap {
            prefix(secs, true)?
        } else {
            PREFIXES.with(|p| p.borrow_mut().get(secs))?
        };
        self.buf[..PREFIX_LEN].copy_from_slice(&prefix);
        self.len = PREFIX_LEN;
        // AutoSi: no fraction, or 3, 6 or 9 digits, whichever is exact.
        if nano != 0 {
            self.byte(b'.');
            match (nano % 1_000_000, nano % 1_000) {
                (0, _) => self.digits(nano / 1_000_000, 3),
                (_, 0) => self.digits(nano / 1_000, 6),
                _ => self.digits(nano, 9),
            }
        }
        self.byte(b'Z');
        Some(())
    }
}

/// `YYYY-MM-DDTHH:MM:SS`.
const PREFIX_LEN: usize = 19;

/// The text of second `secs` after the epoch up to its seconds (`:60` for a
/// leap second); `None` outside years 0..=9999.
fn prefix(secs: i64, leap: bool) -> Option<[u8; PREFIX_LEN]> {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let year = u32::try_from(year).ok().filter(|y| *y <= 9999)?;
    let of_day = secs.rem_euclid(86_400) as u32;
    let mut t = Text::default();
    t.digits(year, 4);
    for (sep, v) in [
        (b'-', month),
        (b'-', day),
        (b'T', of_day / 3600),
        (b':', of_day / 60 % 60),
        (b':', of_day % 60 + u32::from(leap)),
    ] {
        t.byte(sep);
        t.digits(v, 2);
    }
    let mut out = [0u8; PREFIX_LEN];
    out.copy_from_slice(t.as_bytes());
    Some(out)
}

/// The prefixes of the last few seconds written on this thread (observation
/// times and the expiry times a lifetime after them alternate).
#[derive(Default)]
struct Prefixes {
    held: [Option<(i64, [u8; PREFIX_LEN])>; 4],
    next: usize,
}

impl Prefixes {
    fn get(&mut self, secs: i64) -> Option<[u8; PREFIX_LEN]> {
        if let Some((_, p)) = self.held.iter().flatten().find(|(s, _)| *s == secs) {
            return Some(*p);
        }
        let p = prefix(secs, false)?;
        self.held[self.next] = Some((secs, p));
        self.next = (self.next + 1) % self.held.len();
        Some(p)
    }
}

thread_local! {
    static PREFIXES: std::cell::RefCell<Prefixes> = std::cell::RefCell::default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(t: &DateTime<Utc>) -> String {
        serialize(t, serde_json::value::Serializer)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn chronos(t: &DateTime<Utc>) -> String {
        serde_json::to_value(t)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    proptest! {
        #[test]
        fn the_text_is_chronos(secs in -70_000_000_000i64..260_000_000_000, nanos in 0u32..1_000_000_000, round in 0u8..4) {
            // Whole seconds, millis and micros take the shorter forms.
            let nanos = match round { 0 => 0, 1 => nanos / 1_000_000 * 1_000_000, 2 => nanos / 1000 * 1000, _ => nanos };
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            prop_assert_eq!(ours(&t), chronos(&t));
            // Again, and at other times within the same second: the memo's text.
            prop_assert_eq!(ours(&t), chronos(&t));
            for other in [0, 999_999_999, nanos / 2] {
                let u = DateTime::from_timestamp(secs, other).unwrap();
                prop_assert_eq!(ours(&u), chronos(&u));
            }
        }
    }

    #[test]
    fn leap_seconds_and_far_years_match_too() {
        let leap = DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap();
        assert_eq!(ours(&leap), chronos(&leap));
        let far = DateTime::from_timestamp(300_000_000_000, 5).unwrap();
        assert_eq!(ours(&far), chronos(&far));
        let some = option(&Some(leap), serde_json::value::Serializer).unwrap();
        assert_eq!(some.as_str(), Some(chronos(&leap).as_str()));
        let none = option(&None, serde_json::value::Serializer).unwrap();
        assert!(none.is_null());
    }
}
