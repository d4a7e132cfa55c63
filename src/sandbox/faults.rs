//! Fault injection for one vendor: its settings, the token-bucket rate limiter,
//! the deterministic error/timeout/malformed draw, and the queue of scripted responses.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::counters::Outcome;
use super::rng::stable_unit;

/// Fault settings of one simulated vendor. The default is a perfect vendor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VendorSettings {
    /// Requests per second; `None` is unlimited, `Some(0)` rejects everything.
    /// Exceeding it gives 429 with `Retry-After`.
    pub rate_limit_per_sec: Option<u32>,
    /// Delay added before answering, to simulate the vendor's processing time.
    pub latency_ms: u64,
    /// Fraction of requests answered 500.
    pub error_rate: f64,
    /// Fraction of requests that hang for 60 s (the client should time out first).
    pub timeout_rate: f64,
    /// Fraction of requests answered 200 with a truncated, invalid JSON body.
    pub malformed_rate: f64,
    /// `[start_ms, end_ms)` after sandbox start during which every call gets 503.
    pub outage: Option<(u64, u64)>,
}

/// How long a "timeout" fault hangs before answering.
pub(crate) const TIMEOUT_HANG: Duration = Duration::from_secs(60);

/// What the fault draw decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Answer normally.
    Normal,
    /// Answer 500.
    ServerError,
    /// Hang, then answer 504.
    Timeout,
    /// Answer 200 with a broken body.
    Malformed,
}

impl VendorSettings {
    /// Whether `elapsed_ms` after start falls inside the outage window.
    pub(crate) fn in_outage(&self, elapsed_ms: u64) -> bool {
        self.outage
            .is_some_and(|(start, end)| (start..end).contains(&elapsed_ms))
    }

    /// Deterministic fault draw for the `seq`-th request to `vendor`: one uniform
    /// number partitioned into error, timeout and malformed bands.
    pub(crate) fn draw(&self, seed: u64, vendor: &str, seq: u64) -> Fate {
        let u = stable_unit(seed, &[vendor, "fault", &seq.to_string()]);
        let error = clamp_rate(self.error_rate);
        let timeout = error + clamp_rate(self.timeout_rate);
        let malformed = timeout + clamp_rate(self.malformed_rate);
        if u < error {
            Fate::ServerError
        } else if u < timeout {
            Fate::Timeout
        } else if u < malformed {
            Fate::Malformed
        } else {
            Fate::Normal
        }
    }
}

/// Rates outside `[0, 1]` (or NaN) from a sloppy config are clamped rather than rejected.
fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// Token bucket: refills `rate` tokens per second up to `max(2, rate / 5)`, so a
/// client pacing evenly at the limit never sees 429 but a burst does.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: Option<u32>,
    tokens: f64,
    refilled_at: Instant,
}

/// Result of asking the bucket for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Allowed; `Some(remaining whole tokens)` when a limit is configured.
    Allowed(Option<u32>),
    /// Rejected; retry after this many whole seconds (at least 1).
    Limited(u64),
}

impl TokenBucket {
    /// A full bucket for `rate` requests per second (`None` = unlimited).
    pub(crate) fn new(rate: Option<u32>, now: Instant) -> Self {
        let mut bucket = Self {
            rate,
            tokens: 0.0,
            refilled_at: now,
        };
        bucket.tokens = bucket.capacity();
        bucket
    }

    fn capacity(&self) -> f64 {
        self.rate.map_or(0.0, |r| f64::from((r / 5).max(2)))
    }

    /// Takes one token if available.
    pub(crate) fn try_acquire(&mut self, now: Instant) -> Admission {
        let Some(rate) = self.rate else {
            return Admission::Allowed(None);
        };
        if rate == 0 {
            return Admission::Limited(1);
        }
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(self.capacity());
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Admission::Allowed(Some(self.tokens.floor() as u32))
        } else {
            let wait = (1.0 - self.tokens) / f64::from(rate);
            Admission::Limited((wait.ceil() as u64).max(1))
        }
    }
}

/// One scripted response as posted to `/_sandbox/script/{vendor}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScriptSpec {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Missing or `null` sends an empty body.
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(default)]
    delay_ms: u64,
    /// With a string body: send the string as-is instead of JSON-encoding it.
    #[serde(default)]
    raw: bool,
    /// Credits to bill if this response counts as a hit (status below 400).
    #[serde(default)]
    credits: f64,
}

/// A validated scripted response, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Scripted {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) delay: Duration,
    pub(crate) credits: f64,
}

impl Scripted {
    /// How a scripted response is counted: 429 as rate limited, other 4xx/5xx as
    /// errors, anything else as a hit billing the scripted credits (default 0).
    pub(crate) fn outcome(&self) -> Outcome {
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            Outcome::RateLimited
        } else if self.status.as_u16() >= 400 {
            Outcome::Error
        } else {
            Outcome::Hit(self.credits)
        }
    }
}

impl ScriptSpec {
    /// Validates status and headers now, so a bad script fails when posted rather
    /// than in the middle of the test that consumes it.
    pub(crate) fn compile(self) -> Result<Scripted, String> {
        let status = StatusCode::from_u16(self.status)
            .map_err(|_| format!("invalid status code {}", self.status))?;
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        for (name, value) in &self.headers {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("invalid header value {value:?}"))?;
            headers.insert(name, value);
        }
        let body = match self.body {
            None => Bytes::new(),
            Some(serde_json::Value::String(s)) if self.raw => Bytes::from(s),
            Some(value) => Bytes::from(value.to_string()),
        };
        let delay = Duration::from_millis(self.delay_ms);
        let credits = if self.credits.is_finite() {
            self.credits.max(0.0)
        } else {
            0.0
        };
        Ok(Scripted {
            status,
            headers,
            body,
            delay,
            credits,
        })
    }
}

/// Mutable fault state of one vendor.
#[derive(Debug)]
pub(crate) struct FaultState {
    pub(crate) settings: VendorSettings,
    pub(crate) bucket: TokenBucket,
    pub(crate) script: VecDeque<Scripted>,
    /// Sequence number of the next fault draw.
    pub(crate) next_seq: u64,
}

impl FaultState {
    /// Fresh state for `settings`.
    pub(crate) fn new(settings: VendorSettings, now: Instant) -> Self {
        let bucket = TokenBucket::new(settings.rate_limit_per_sec, now);
        Self {
            settings,
            bucket,
            script: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// Replaces the settings; the bucket restarts full at the new rate.
    pub(crate) fn replace_settings(&mut self, settings: VendorSettings, now: Instant) {
        self.bucket = TokenBucket::new(settings.rate_limit_per_sec, now);
        self.settings = settings;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_small_burst_then_limits_and_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Some(10), t0);
        assert_eq!(b.try_acquire(t0), Admission::Allowed(Some(1)));
        assert_eq!(b.try_acquire(t0), Admission::Allowed(Some(0)));
        assert_eq!(b.try_acquire(t0), Admission::Limited(1));
        // Evenly paced at the rate: every request admitted.
        for i in 1..=50 {
            let t = t0 + Duration::from_millis(100 * i);
            assert!(
                matches!(b.try_acquire(t), Admission::Allowed(_)),
                "request {i}"
            );
        }
    }

    #[test]
    fn unlimited_and_zero_rates() {
        let t0 = Instant::now();
        let mut free = TokenBucket::new(None, t0);
        assert_eq!(free.try_acquire(t0), Admission::Allowed(None));
        let mut shut = TokenBucket::new(Some(0), t0);
        assert_eq!(shut.try_acquire(t0), Admission::Limited(1));
    }

    #[test]
    fn draws_are_deterministic_and_roughly_proportional() {
        let s = VendorSettings {
            error_rate: 0.2,
            malformed_rate: 0.1,
            ..Default::default()
        };
        let fates: Vec<Fate> = (0..2000).map(|i| s.draw(42, "mailfinder", i)).collect();
        let again: Vec<Fate> = (0..2000).map(|i| s.draw(42, "mailfinder", i)).collect();
        assert_eq!(fates, again);
        let errors = fates.iter().filter(|f| **f == Fate::ServerError).count();
        let malformed = fates.iter().filter(|f| **f == Fate::Malformed).count();
        assert!((320..480).contains(&errors), "{errors}");
        assert!((140..260).contains(&malformed), "{malformed}");
        assert!(!fates.contains(&Fate::Timeout));
    }

    #[test]
    fn outage_window_is_half_open() {
        let s = VendorSettings {
            outage: Some((100, 200)),
            ..Default::default()
        };
        assert!(!s.in_outage(99));
        assert!(s.in_outage(100));
        assert!(!s.in_outage(200));
    }

    #[test]
    fn settings_deserialize_with_defaults() {
        let s: VendorSettings = serde_json::from_str(r#"{"outage":[5,10]}"#).unwrap();
        assert_eq!(s.outage, Some((5, 10)));
        assert_eq!(s.rate_limit_per_sec, None);
    }
}
