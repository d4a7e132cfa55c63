//! Response → outcome. Classification happens once, here: user rules first,
//! then status defaults (2xx data, 404 not found, 429 throttled, 408/5xx
//! retryable, 401/403 auth, 402 quota, other 4xx fatal). Malformed bodies are
//! provider errors, never panics.

use super::{BodyPredicate, Confidence, Operation, Provide, RuleOutcome, Transform};
use crate::model::{normalise_json, Catalogue, FieldName, Value};
use serde_json::Value as Json;
use std::time::Duration;

/// A verifier's verdict on a candidate value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Deliverable.
    Valid,
    /// Not deliverable.
    Invalid,
    /// The domain accepts every address.
    CatchAll,
    /// The verifier could not tell.
    Unknown,
}

impl Verdict {
    /// Parse our spelling.
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "valid" => Some(Verdict::Valid),
            "invalid" => Some(Verdict::Invalid),
            "catch_all" => Some(Verdict::CatchAll),
            "unknown" => Some(Verdict::Unknown),
            _ => None,
        }
    }

    /// Our spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::CatchAll => "catch_all",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Values read from a found answer.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Extracted {
    /// Field → (value, confidence 0..1).
    pub values: Vec<(FieldName, Value, f64)>,
    /// The verdict, for verification operations.
    pub verdict: Option<Verdict>,
}

/// The classified result of one HTTP exchange.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Data came back; `credits` is what the vendor bills.
    Hit {
        /// Values.
        extracted: Extracted,
        /// Credits billed.
        credits: f64,
    },
    /// The vendor has no data; `credits` is what a miss bills (usually 0).
    NotFound {
        /// Credits billed.
        credits: f64,
    },
    /// Ask again later (202-style).
    Pending(Option<Duration>),
    /// Throttled, with the vendor's Retry-After when given.
    RateLimited(Option<Duration>),
    /// Out of credits at the vendor.
    QuotaExhausted(String),
    /// Key rejected.
    AuthError(String),
    /// Worth retrying (5xx, 408).
    Transient(String),
    /// Not worth retrying (other 4xx, malformed body).
    Permanent(String),
}

impl Outcome {
    /// Short stable name for the ledger and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Hit { .. } => "hit",
            Outcome::NotFound { .. } => "not_found",
            Outcome::Pending(_) => "pending",
            Outcome::RateLimited(_) => "rate_limited",
            Outcome::QuotaExhausted(_) => "quota_exhausted",
            Outcome::AuthError(_) => "auth_error",
            Outcome::Transient(_) => "transient",
            Outcome::Permanent(_) => "permanent",
        }
    }

    /// Credits billed by this outcome.
    pub fn credits(&self) -> f64 {
        match self {
            Outcome::Hit { credits, .. } | Outcome::NotFound { credits } => *credits,
            _ => 0.0,
        }
    }
}

/// Parse a Retry-After value: delta-seconds (HTTP dates are treated as unknown).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<f64>().ok().and_then(wait)
}

/// The longest wait an answer can ask for: a year. `Duration::from_secs_f64`
/// panics past 2^64 seconds and `Instant + Duration` overflows long before,
/// so a `Retry-After: 1e30` is read as this, on which a retry policy gives up.
const MAX_WAIT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A wait in seconds from a vendor: `None` unless finite and ≥ 0, at most [`MAX_WAIT`].
fn wait(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(MAX_WAIT.as_secs_f64())))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Classify a response. `headers` names are compared case-insensitively.
pub fn classify(
    op: &Operation,
    catalogue: &Catalogue,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Outcome {
    let json: Option<Json> = op.reads.parse(body);
    let retry_after = header(headers, "retry-after")
        .and_then(parse_retry_after)
        .or_else(|| {
            // Some vendors put the wait in the body (BuiltWith `retryAfterSeconds`).
            let ptr = op.retry_after_pointer.as_ref()?;
            num(ptr.get(json.as_ref()?)?).and_then(wait)
        });
    for rule in &op.outcomes {
        if !rule.status.is_empty() && !rule.status.contains(&status) {
            continue;
        }
        let matched = match (&rule.predicate, &json) {
            (None, _) => true,
            (Some((ptr, pred)), Some(doc)) => {
                let v = ptr.resolve(doc).into_iter().next();
                match pred {
                    BodyPredicate::Equals(vals) => v.is_some_and(|v| vals.contains(v)),
                    BodyPredicate::IsNull => v.is_none_or(Json::is_null),
                    BodyPredicate::IsEmpty => {
                        v.is_none_or(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty))
                    }
                    BodyPredicate::Exists => v.is_some_and(|v| !v.is_null()),
                    BodyPredicate::NotEquals(vals) => v.is_none_or(|v| !vals.contains(v)),
                }
            }
            (Some(_), None) => false,
        };
        if matched {
            return match rule.outcome {
                RuleOutcome::NotFound => Outcome::NotFound {
                    credits: op.cost.per_request,
                },
                RuleOutcome::Pending => Outcome::Pending(retry_after),
                RuleOutcome::RateLimited => Outcome::RateLimited(retry_after),
                RuleOutcome::QuotaExhausted => {
                    Outcome::QuotaExhausted(format!("HTTP {status}: out of credits"))
                }
                RuleOutcome::AuthError => {
                    Outcome::AuthError(format!("HTTP {status}: key rejected"))
                }
                RuleOutcome::Retryable => Outcome::Transient(format!("HTTP {status}")),
                RuleOutcome::Fatal => {
                    Outcome::Permanent(format!("HTTP {status}: {}", snippet(body)))
                }
            };
        }
    }
    match status {
        200..=299 => match json {
            None => Outcome::Permanent(format!(
                "HTTP {status} with a malformed JSON body: {}",
                snippet(body)
            )),
            Some(doc) => extract(op, catalogue, &doc, headers),
        },
        404 => Outcome::NotFound {
            credits: op.cost.per_request,
        },
        _ => status_default(status, retry_after, body),
    }
}

/// Classify the answer to an asynchronous job's submit: `Ok(job id)` for a 2xx
/// carrying the id at `job.id_pointer`, otherwise the failure by the status
/// defaults (the operation's outcome rules describe the poll's answer, not this one).
pub fn classify_submit(
    op: &Operation,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<String, Outcome> {
    let retry_after = header(headers, "retry-after").and_then(parse_retry_after);
    let Some(job) = &op.job else {
        return Err(Outcome::Permanent(format!("{} is not a job", op.id)));
    };
    if !(200..=299).contains(&status) {
        return Err(status_default(status, retry_after, body));
    }
    let doc: Json = serde_json::from_slice(body).map_err(|_| {
        Outcome::Permanent(format!(
            "HTTP {status} with a malformed JSON body: {}",
            snippet(body)
        ))
    })?;
    match job.id_pointer.get(&doc) {
        Some(Json::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Json::Number(n)) => Ok(n.to_string()),
        _ => Err(Outcome::Permanent(format!(
            "job submit answer has no id at {}",
            job.id_pointer.as_str()
        ))),
    }
}

/// What a status means when no rule and no body says otherwise.
fn status_default(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Outcome {
    match status {
        429 => Outcome::RateLimited(retry_after),
        408 | 500..=599 => Outcome::Transient(format!("HTTP {status}")),
        401 | 403 => Outcome::AuthError(format!("HTTP {status}: key rejected")),
        402 => Outcome::QuotaExhausted(format!("HTTP {status}: out of credits")),
        _ => Outcome::Permanent(format!("HTTP {status}: {}", snippet(body))),
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(160)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn extract(
    op: &Operation,
    catalogue: &Catalogue,
    doc: &Json,
    headers: &[(String, String)],
) -> Outcome {
    let mut extracted = Extracted::default();
    for p in &op.provides {
        let Some(def) = catalogue.get(&p.field) else {
            continue;
        };
        let Some(raw) = read(p, doc) else { continue };
        if let Ok(value) = normalise_json(def, &raw) {
            extracted
                .values
                .push((p.field, value, confidence(&p.confidence, doc)));
        }
    }
    let mut free = false;
    if let Some(v) = &op.verifies {
        let verdict = v.verdict_pointer.get(doc).and_then(Json::as_str).map(|s| {
            v.verdicts
                .get(&s.to_lowercase())
                .copied()
                .or(Verdict::parse(s))
                .unwrap_or(Verdict::Unknown)
        });
        match verdict {
            Some(vd) => {
                free = v.free_verdicts.contains(&vd);
                extracted.verdict = Some(vd);
            }
            None => {
                return Outcome::Permanent(format!(
                    "verifier answer has no verdict at {}",
                    v.verdict_pointer.as_str()
                ))
            }
        }
    }
    if extracted.values.is_empty() && extracted.verdict.is_none() {
        return Outcome::NotFound {
            credits: op.cost.per_request,
        };
    }
    let reported = op
        .cost
        .actual_header
        .as_deref()
        .and_then(|h| header(headers, h))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .or_else(|| {
            op.cost
                .actual_pointer
                .as_ref()
                .and_then(|p| p.get(doc))
                .and_then(num)
        });
    let credits = if free {
        0.0
    } else if let Some(c) = reported.filter(|c| c.is_finite() && *c >= 0.0) {
        c
    } else {
        let extra: f64 = extracted
            .values
            .iter()
            .filter_map(|(f, _, _)| op.cost.per_field.get(f))
            .sum();
        op.cost.per_request + op.cost.per_hit + extra
    };
    Outcome::Hit { extracted, credits }
}

fn num(v: &Json) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The raw JSON for one provided field, after pick/then/transform/map.
fn read(p: &Provide, doc: &Json) -> Option<Json> {
    let raw = if let Some(pick) = &p.pick {
        let arr = p.pointer.get(doc)?;
        let el = pick.apply(arr)?;
        match &p.then {
            Some(t) => t.get(el)?.clone(),
            None => el.clone(),
        }
    } else if p.pointer.collects() {
        let items: Vec<Json> = p
            .pointer
            .resolve(doc)
            .into_iter()
            .filter(|v| !v.is_null())
            .cloned()
            .collect();
        if items.is_empty() {
            return None;
        }
        Json::Array(items)
    } else {
        p.pointer.get(doc)?.clone()
    };
    let raw = match (p.transform, raw) {
        (Transform::None, v) => v,
        (Transform::Lowercase, Json::String(s)) => Json::String(s.to_lowercase()),
        (Transform::Lowercase, v) => v,
        (Transform::First, Json::Array(a)) => a.into_iter().find(|v| !v.is_null())?,
        (Transform::First, v) => v,
        (Transform::Join, Json::Array(a)) => Json::String(
            a.iter()
                .filter_map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .or_else(|| (!v.is_null()).then(|| v.to_string()))
                })
                .collect::<Vec<_>>()
                .join(";"),
        ),
        (Transform::Join, v) => v,
    };
    if p.map.is_empty() {
        return Some(raw);
    }
    let key = match &raw {
        Json::String(s) => s.to_lowercase(),
        other => other.to_string(),
    };
    // With a map, only mapped spellings are accepted: an unmapped value is not trusted.
    p.map.get(&key).map(|v| Json::String(v.clone()))
}

fn confidence(c: &Confidence, doc: &Json) -> f64 {
    let v = match c {
        Confidence::Fixed(v) => *v,
        Confidence::Scaled {
            pointer,
            scale,
            default,
        } => pointer
            .get(doc)
            .and_then(num)
            .map(|n| n / scale)
            .unwrap_or(*default),
        Confidence::Categorical {
            pointer,
            map,
            default,
        } => pointer
            .get(doc)
            .and_then(Json::as_str)
            .and_then(|s| map.get(&s.to_lowercase()).copied())
            .unwrap_or(*default),
    };
    v.clamp(0.0, 1.0)
}
