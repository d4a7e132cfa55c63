//! The time window of a report: `--since 7d`, or `--from` / `--to` as dates
//! or RFC 3339 times. Call counters are kept per hour, so a window is widened
//! to whole hours.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A half-open window `[from, to)`, whole hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

/// A window the user asked for that makes no sense.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WindowError {
    /// Not a duration like `7d`.
    #[error("{0:?} is not a duration like 90m, 24h, 7d or 4w")]
    Duration(String),
    /// Not a time.
    #[error("{0:?} is not a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00Z)")]
    Time(String),
    /// Ends before it starts.
    #[error("the window ends ({to}) before it starts ({from})")]
    Backwards {
        /// Start.
        from: DateTime<Utc>,
        /// End.
        to: DateTime<Utc>,
    },
}

/// Parse `90m`, `24h`, `7d`, `4w`.
pub fn parse_duration(s: &str) -> Result<chrono::Duration, WindowError> {
    let err = || WindowError::Duration(s.to_string());
    let t = s.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?);
    let n: i64 = n.parse().map_err(|_| err())?;
    match unit {
        "m" => Ok(chrono::Duration::minutes(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        "w" => Ok(chrono::Duration::weeks(n)),
        _ => Err(err()),
    }
}

/// Parse a date (midnight UTC) or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, WindowError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
        .ok_or_else(|| WindowError::Time(s.to_string()))
}

fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(t.timestamp().div_euclid(3600) * 3600, 0)
        .single()
        .unwrap_or(t)
}

impl Window {
    /// From `since` ago (or `from`) to `to` (or now), widened to whole hours.
    pub fn resolve(
        since: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Window, WindowError> {
        let to = to.map(parse_time).transpose()?.unwrap_or(now);
        let from = match (from, since) {
            (Some(f), _) => parse_time(f)?,
            (None, Some(s)) => to - parse_duration(s)?,
            (None, None) => to - chrono::Duration::days(30),
        };
        Window::new(from, to)
    }

    /// `[from, to)` widened to whole hours.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Window, WindowError> {
        if to < from {
            return Err(WindowError::Backwards { from, to });
        }
        let to_floor = floor_hour(to);
        let to = if to_floor == to {
            to
        } else {
            to_floor + chrono::Duration::hours(1)
        };
        Ok(Window {
            from: floor_hour(from),
            to,
        })
    }

    /// The window's hours since the epoch, `[from, to)`.
    pub fn hours(&self) -> (u32, u32) {
        (
            crate::store::hour_of(self.from),
            crate::store::hour_of(self.to),
        )
    }

    /// True when `t` is inside.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_resolve_to_whole_hours() {
        let now = parse_time("2026-11-23T14:38:57Z").unwrap();
        let w = Window::resolve(Some("7d"), None, None, now).unwrap();
        assert_eq!(w.from, parse_time("2026-11-16T14:00:00Z").unwrap());
        assert_eq!(w.to, parse_time("2026-11-23T15:00:00Z").unwrap());
        let w = Window::resolve(None, Some("2026-11-01"), Some("2026-11-02"), now).unwrap();
        assert_eq!(w.hours().1 - w.hours().0, 24);
        assert_eq!(
            Window::resolve(Some("7x"), None, None, now)
                .unwrap_err()
                .to_string(),
            "\"7x\" is not a duration like 90m, 24h, 7d or 4w"
        );
        assert!(matches!(
            Window::resolve(None, Some("2026-11-03"), Some("2026-11-02"), now),
            Err(WindowError::Backwards { .. })
        ));
        assert!(Window::resolve(None, Some("yesterday"), None, now).is_err());
    }
}
