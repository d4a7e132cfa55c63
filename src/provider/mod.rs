//! Provider definitions: validated vendor descriptions (from `providers/*.toml`),
//! record → HTTP request, response → classified outcome with values.
//! Bytes in, values out: this module never sends a request.

mod body;
mod compile;
pub mod config;
mod inputs;
mod pointer;
mod reads;
mod request;
mod response;
mod secret;
mod set;

#[cfg(test)]
mod tests;

pub use body::BodyTemplate;
pub use compile::{base_url_env, compile_provider, compile_provider_with, key_env_env, Overrides};
pub use inputs::Inputs;
pub use pointer::{Pick, Pointer};
pub use reads::Reads;
pub use request::{build_poll_request, build_request, HttpRequest, RequestError};
pub use response::{classify, classify_submit, Extracted, Outcome, Verdict};
pub use secret::Secret;
pub use set::ProviderSet;

use crate::model::FieldName;
use std::collections::BTreeMap;
use std::time::Duration;

pub use config::AuthKind;

/// A validated provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Stable id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// Where the vendor posts finished jobs back to this deployment
    /// (`[providers.<id>] webhook_url`); `None`: polling only.
    pub webhook_url: Option<String>,
    /// Auth placement and key; `None` for keyless APIs.
    pub auth: Option<Auth>,
    /// The key's environment variable is set but empty or unset: provider disabled.
    pub missing_key_env: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Response body cap.
    pub max_body_bytes: usize,
    /// Pacing.
    pub rate: Option<Rate>,
    /// In-flight cap.
    pub max_concurrency: usize,
    /// Retry schedule.
    pub retry: RetryPolicy,
    /// Circuit breaker.
    pub circuit: CircuitPolicy,
    /// Rate-limit headers.
    pub rate_headers: RateHeaders,
    /// Price of one credit, for reports.
    pub credit_usd: Option<f64>,
    /// Operations, in name order.
    pub operations: Vec<Operation>,
}

/// Auth placement with the key.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Where it goes.
    pub kind: AuthKind,
    /// Header or parameter name.
    pub name: String,
    /// Text before the key in a header.
    pub prefix: String,
    /// The key, from the environment.
    pub secret: Secret,
}

/// Requests per period, with a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per `period`.
    pub requests: u32,
    /// The window.
    pub period: Duration,
    /// Back-to-back allowance.
    pub burst: u32,
}

impl Rate {
    /// Requests per second.
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.period.as_secs_f64()
    }
}

/// Retry schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all.
    pub max_attempts: u32,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// Total time bound.
    pub max_elapsed: Duration,
    /// Longest Retry-After honoured.
    pub max_retry_after: Duration,
}

/// Circuit breaker policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircuitPolicy {
    /// Consecutive failures that open it.
    pub failure_threshold: u32,
    /// Open time before a probe.
    pub open_for: Duration,
}

/// Rate-limit header names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateHeaders {
    /// Remaining-requests header.
    pub remaining: Option<String>,
    /// Reset header.
    pub reset: Option<String>,
}

/// HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
}

impl Method {
    /// As reqwest wants it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// A template: literal text with `{field}` placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq)]
enum TemplatePart {
    Literal(String),
    /// `{a|b}`: the first of these fields that has a value.
    Field(Vec<FieldName>),
}

impl Template {
    /// Parse `"{person.first_name}"`, `"fixed"`, or a mix; `{company.domain|company.name}`
    /// takes the first field that has a value.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                parts.push(TemplatePart::Literal(rest[..start].to_string()));
            }
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in template {text:?}"))?;
            let name = rest[start + 1..start + end].trim();
            if name.is_empty() {
                return Err(format!("empty placeholder in template {text:?}"));
            }
            let alternatives: Vec<FieldName> =
                name.split('|').map(|a| FieldName::from(a.trim())).collect();
            if alternatives.iter().any(|a| a.is_empty()) {
                return Err(format!("empty alternative in template {text:?}"));
            }
            parts.push(TemplatePart::Field(alternatives));
            rest = &rest[start + end + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Fields the template reads.
    pub fn fields(&self) -> impl Iterator<Item = &FieldName> {
        self.parts.iter().flat_map(|p| match p {
            TemplatePart::Field(f) => f.as_slice(),
            TemplatePart::Literal(_) => &[],
        })
    }

    /// The placeholder's alternatives when the template is exactly one placeholder.
    pub fn sole_field(&self) -> Option<&[FieldName]> {
        match self.parts.as_slice() {
            [TemplatePart::Field(f)] => Some(f),
            _ => None,
        }
    }

    /// Render; `None` when a placeholder has no value.
    pub fn render(&self, inputs: &Inputs) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Field(alts) => {
                    out.push_str(&alts.iter().find_map(|f| inputs.get(f))?.render())
                }
            }
        }
        Some(out)
    }
}

/// One compiled operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `<provider>.<name>`.
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// HTTP method.
    pub method: Method,
    /// Path appended to the base URL.
    pub path: String,
    /// Base URL and path, parsed when the provider loads (used while they
    /// still spell it).
    pub url: Option<url::Url>,
    /// Alternative input sets.
    pub requires: Vec<Vec<FieldName>>,
    /// Query parameters.
    pub query: Vec<(String, Template)>,
    /// Extra headers.
    pub headers: Vec<(String, Template)>,
    /// JSON body template.
    pub body: Option<BodyTemplate>,
    /// Fields filled.
    pub provides: Vec<Provide>,
    /// Outcome rules.
    pub outcomes: Vec<OutcomeRule>,
    /// Verification settings, for verifier operations.
    pub verifies: Option<Verify>,
    /// Cost model.
    pub cost: CostModel,
    /// Cache lifetimes.
    pub cache: CacheTtl,
    /// Pointer to the seconds to wait in a throttled body (when no `Retry-After`).
    pub retry_after_pointer: Option<Pointer>,
    /// The parts of an answer's body classification reads ([`Reads::of`]).
    pub reads: Reads,
    /// This endpoint's own pace, on top of the provider's.
    pub rate: Option<Rate>,
    /// Asynchronous job settings: the request submits, the poll answers.
    pub job: Option<Job>,
    /// Every input field it can read, sorted: computed once when compiled,
    /// as the planner asks for every step of every record.
    pub inputs: Vec<FieldName>,
}

/// An asynchronous job: submit, read the id, poll until the answer is ready.
#[derive(Debug, Clone)]
pub struct Job {
    /// Where the job id is in the submit answer.
    pub id_pointer: Pointer,
    /// Poll method.
    pub poll_method: Method,
    /// Poll path with one `{job_id}` segment.
    pub poll_path: String,
    /// Fixed poll query parameters.
    pub poll_query: Vec<(String, String)>,
    /// First wait before a poll.
    pub poll_interval: Duration,
    /// Longest wait between polls.
    pub max_poll_interval: Duration,
    /// How long one call polls before handing back `pending`.
    pub max_wait: Duration,
    /// The vendor can post the finished job back instead of being polled.
    pub webhook: Option<JobWebhook>,
}

/// A job's webhook: the body key that carries our URL at submit, the header
/// with the hex HMAC-SHA1 of the raw body keyed with the API key, and where
/// the job id is in the posted body (the same document a poll returns).
#[derive(Debug, Clone)]
pub struct JobWebhook {
    /// Submit-body key for the callback URL (`webhook_url`).
    pub url_key: String,
    /// Header with the signature (`X-Signature-SHA1`).
    pub signature_header: String,
    /// Job id in the posted body.
    pub id_pointer: Pointer,
}

impl Operation {
    /// Every input field the operation can read (union of its requirement sets and templates).
    pub fn input_fields(&self) -> &[FieldName] {
        &self.inputs
    }

    /// [`Operation::input_fields`], computed from the definition.
    pub fn compute_input_fields(&self) -> Vec<FieldName> {
        let mut out: Vec<FieldName> = self.requires.iter().flatten().cloned().collect();
        out.extend(self.query.iter().flat_map(|(_, t)| t.fields().cloned()));
        out.extend(self.headers.iter().flat_map(|(_, t)| t.fields().cloned()));
        if let Some(body) = &self.body {
            body.fields(&mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    /// The first requirement set fully present in `known`, if any (no sets: always callable).
    pub fn satisfied_by(&self, known: &dyn Fn(&FieldName) -> bool) -> bool {
        self.requires.is_empty() || self.requires.iter().any(|set| set.iter().all(known))
    }

    /// Largest credits one call can cost (for ceilings and reservations).
    pub fn max_cost(&self) -> f64 {
        self.cost.per_request + self.cost.per_hit + self.cost.per_field.values().sum::<f64>()
    }

    /// Fields this operation fills.
    pub fn provided_fields(&self) -> impl Iterator<Item = &FieldName> {
        self.provides.iter().map(|p| &p.field)
    }
}

/// How a field is read from a response.
#[derive(Debug, Clone)]
pub struct Provide {
    /// The field.
    pub field: FieldName,
    /// Where.
    pub pointer: Pointer,
    /// Element choice.
    pub pick: Option<Pick>,
    /// Pointer into the picked element.
    pub then: Option<Pointer>,
    /// Value transform.
    pub transform: Transform,
    /// Spelling map.
    pub map: BTreeMap<String, String>,
    /// How confident.
    pub confidence: Confidence,
}

/// Value transforms applied before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// As is.
    None,
    /// Lower-case text.
    Lowercase,
    /// First element of an array.
    First,
    /// Join an array with `;`.
    Join,
}

/// Confidence mapping to 0..1.
#[derive(Debug, Clone, PartialEq)]
pub enum Confidence {
    /// A fixed number.
    Fixed(f64),
    /// A number at a pointer divided by a scale; `default` when absent.
    Scaled {
        /// Where.
        pointer: Pointer,
        /// Top of the scale.
        scale: f64,
        /// When the vendor leaves it out.
        default: f64,
    },
    /// A category at a pointer mapped to numbers; `default` for others.
    Categorical {
        /// Where.
        pointer: Pointer,
        /// Category → confidence.
        map: BTreeMap<String, f64>,
        /// Unmapped categories.
        default: f64,
    },
}

/// What an outcome rule concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    /// No data.
    NotFound,
    /// Still working; ask again.
    Pending,
    /// Throttled.
    RateLimited,
    /// Out of credits.
    QuotaExhausted,
    /// Bad key.
    AuthError,
    /// Try again.
    Retryable,
    /// Give up.
    Fatal,
}

/// `(status, predicate) → outcome`.
#[derive(Debug, Clone)]
pub struct OutcomeRule {
    /// Statuses (empty: any).
    pub status: Vec<u16>,
    /// Predicate over the body.
    pub predicate: Option<(Pointer, BodyPredicate)>,
    /// Conclusion.
    pub outcome: RuleOutcome,
}

/// A body predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyPredicate {
    /// Equals one of.
    Equals(Vec<serde_json::Value>),
    /// Null or missing.
    IsNull,
    /// Empty array, null or missing.
    IsEmpty,
    /// Present and not null.
    Exists,
    /// Missing, or equal to none of these.
    NotEquals(Vec<serde_json::Value>),
}

/// Verification settings.
#[derive(Debug, Clone)]
pub struct Verify {
    /// The field verified.
    pub field: FieldName,
    /// Where the verdict is.
    pub verdict_pointer: Pointer,
    /// Vendor spelling → verdict.
    pub verdicts: BTreeMap<String, Verdict>,
    /// Verdicts not billed.
    pub free_verdicts: Vec<Verdict>,
}

/// Cost model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostModel {
    /// Per answered request.
    pub per_request: f64,
    /// Per hit.
    pub per_hit: f64,
    /// Extra per field present.
    pub per_field: BTreeMap<FieldName, f64>,
    /// Vendor-reported cost in the body.
    pub actual_pointer: Option<Pointer>,
    /// Vendor-reported cost in a header.
    pub actual_header: Option<String>,
}

/// Cache lifetimes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheTtl {
    /// Found answers.
    pub hit: Duration,
    /// Not-found answers.
    pub miss: Duration,
}

pub use crate::model::provider_of;
