//! The user-facing provider definition format (`providers/*.toml`), as raw serde
//! structs. Every field's `///` doc is its user documentation; defaults are
//! written once as `const fn`s. [`super::compile`] turns these into a validated
//! [`super::Provider`].

use serde::Deserialize;
use std::collections::BTreeMap;

/// One provider definition file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    /// Short stable id, used in operation ids (`<id>.<operation>`), the ledger and reports.
    pub id: String,
    /// Human name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Base URL; operations append their path. Override with `LEADFALL_PROVIDER_<ID>_BASE_URL`.
    pub base_url: String,
    /// How the API key travels. Omit for keyless APIs.
    #[serde(default)]
    pub auth: Option<AuthFile>,
    /// Whole-request timeout, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Largest response body accepted; larger bodies are a provider error.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Pacing and concurrency.
    #[serde(default)]
    pub rate_limit: RateLimitFile,
    /// Retry schedule for 429, 5xx, timeouts and connection errors.
    #[serde(default)]
    pub retry: RetryFile,
    /// Circuit breaker.
    #[serde(default)]
    pub circuit: CircuitFile,
    /// Cache lifetimes (operations may override).
    #[serde(default)]
    pub cache: CacheFile,
    /// What a call costs (operations may override).
    #[serde(default)]
    pub cost: CostFile,
    /// Rate-limit response headers to slow down on.
    #[serde(default)]
    pub rate_headers: RateHeadersFile,
    /// Outcome rules for every operation, checked after the operation's own
    /// (a vendor's status conventions: Hunter's 403 is throttling, 429 is quota).
    #[serde(default)]
    pub outcomes: Vec<OutcomeRuleFile>,
    /// The operations, keyed by name.
    pub operations: BTreeMap<String, OperationFile>,
}

const fn default_timeout_ms() -> u64 {
    10_000
}
const fn default_max_body_bytes() -> u64 {
    1024 * 1024
}

/// Where the API key goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    /// `header`, `query` or `bearer`.
    pub kind: AuthKind,
    /// Header or query parameter name (not used by `bearer`).
    #[serde(default)]
    pub name: Option<String>,
    /// Text put before the key in a header (`API ` for `Authorization: API <key>`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Environment variable holding the key.
    pub env: String,
}

/// Auth placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// A custom header (`X-Api-Key`).
    Header,
    /// A query parameter (`api_key`).
    Query,
    /// `Authorization: Bearer <key>`.
    Bearer,
}

/// Pacing: leadfall spaces requests to stay under the vendor's limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    /// Requests per second (set this or `per_minute`; neither = unlimited).
    #[serde(default)]
    pub per_second: Option<u32>,
    /// Requests per minute.
    #[serde(default)]
    pub per_minute: Option<u32>,
    /// Requests allowed back to back before pacing applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Requests in flight at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: u32,
}
const fn default_burst() -> u32 {
    1
}
const fn default_max_concurrency() -> u32 {
    16
}
impl Default for RateLimitFile {
    fn default() -> Self {
        RateLimitFile {
            per_second: None,
            per_minute: None,
            burst: default_burst(),
            max_concurrency: default_max_concurrency(),
        }
    }
}

/// Retry schedule (exponential backoff with full jitter, Retry-After honoured).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    /// Attempts in all, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First backoff, in milliseconds.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Largest backoff, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Give up after this long in all, in seconds.
    #[serde(default = "default_max_elapsed_secs")]
    pub max_elapsed_secs: u64,
    /// Longest Retry-After honoured, in seconds; longer ones give up at once.
    #[serde(default = "default_max_retry_after_secs")]
    pub max_retry_after_secs: u64,
    /// JSON pointer to the seconds to wait in a throttled answer's body, for vendors
    /// that say it there instead of a `Retry-After` header (BuiltWith's `/retryAfterSeconds`).
    #[serde(default)]
    pub retry_after_pointer: Option<String>,
}
const fn default_max_attempts() -> u32 {
    4
}
const fn default_initial_backoff_ms() -> u64 {
    200
}
const fn default_max_backoff_ms() -> u64 {
    5_000
}
const fn default_max_elapsed_secs() -> u64 {
    30
}
const fn default_max_retry_after_secs() -> u64 {
    30
}
impl Default for RetryFile {
    fn default() -> Self {
        RetryFile {
            max_attempts: default_max_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            max_elapsed_secs: default_max_elapsed_secs(),
            max_retry_after_secs: default_max_retry_after_secs(),
            retry_after_pointer: None,
        }
    }
}

/// Circuit breaker: after `failure_threshold` failed calls in a row the
/// provider is not called for `open_secs`, then one probe decides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitFile {
    /// Consecutive failures that open the circuit.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe, in seconds.
    #[serde(default = "default_open_secs")]
    pub open_secs: u64,
}
const fn default_failure_threshold() -> u32 {
    5
}
const fn default_open_secs() -> u64 {
    30
}
impl Default for CircuitFile {
    fn default() -> Self {
        CircuitFile {
            failure_threshold: default_failure_threshold(),
            open_secs: default_open_secs(),
        }
    }
}

/// Cache lifetimes. 0 disables caching of that kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheFile {
    /// How long a found answer is reused, in days.
    #[serde(default = "default_hit_ttl_days")]
    pub hit_ttl_days: f64,
    /// How long a "not found" answer is reused, in days.
    #[serde(default = "default_miss_ttl_days")]
    pub miss_ttl_days: f64,
}
const fn default_hit_ttl_days() -> f64 {
    30.0
}
const fn default_miss_ttl_days() -> f64 {
    7.0
}
impl Default for CacheFile {
    fn default() -> Self {
        CacheFile {
            hit_ttl_days: default_hit_ttl_days(),
            miss_ttl_days: default_miss_ttl_days(),
        }
    }
}

/// Cost model, in the vendor's credits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostFile {
    /// Credits for every answered request (found or not).
    #[serde(default)]
    pub per_request: f64,
    /// Credits when data comes back.
    #[serde(default)]
    pub per_hit: f64,
    /// Extra credits when a given field comes back (Apollo's mobile phone +8).
    #[serde(default)]
    pub per_field: BTreeMap<String, f64>,
    /// Price of one credit in US dollars, for reports.
    #[serde(default)]
    pub credit_usd: Option<f64>,
    /// JSON pointer to the vendor-reported cost, preferred when present.
    #[serde(default)]
    pub actual_pointer: Option<String>,
    /// Response header with the vendor-reported cost, preferred when present.
    #[serde(default)]
    pub actual_header: Option<String>,
}

/// Rate-limit headers the vendor sends; when `remaining` hits 0 leadfall
/// waits for the reset before the next call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateHeadersFile {
    /// Header with the requests left in the window (`x-ratelimit-remaining`).
    #[serde(default)]
    pub remaining: Option<String>,
    /// Header with the seconds until the window resets, a Unix timestamp, or an
    /// RFC 3339 / `YYYY-MM-DD HH:MM:SS` UTC time. A `remaining` value that is a JSON
    /// object (People Data Labs: `{"minute": 0, "day": 90}`) counts as its smallest number.
    #[serde(default)]
    pub reset: Option<String>,
}

/// One operation (an endpoint).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationFile {
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Path appended to the base URL. Record values never go here.
    pub path: String,
    /// Alternative input sets; the call is possible when every field of one set is known.
    #[serde(default)]
    pub requires: Vec<Vec<String>>,
    /// Query parameters: name → template (`"{person.first_name}"` or a literal).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Extra headers: name → template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body template; string leaves `"{field}"` become the typed value, absent values drop the key.
    #[serde(default)]
    pub body: Option<toml::Value>,
    /// Fields this operation fills.
    #[serde(default)]
    pub provides: Vec<ProvideFile>,
    /// Outcome rules, checked in order before the status defaults.
    #[serde(default)]
    pub outcomes: Vec<OutcomeRuleFile>,
    /// Makes this a verification operation for a field.
    #[serde(default)]
    pub verifies: Option<VerifyFile>,
    /// Cost override for this operation.
    #[serde(default)]
    pub cost: Option<CostFile>,
    /// Cache override for this operation.
    #[serde(default)]
    pub cache: Option<CacheFile>,
    /// A limit of this endpoint on top of the provider's (Hunter's verifier allows
    /// 300/min where its finder allows 500/min). Polls and submits both count.
    #[serde(default)]
    pub rate_limit: Option<OperationRateFile>,
    /// Makes this an asynchronous operation: the request above submits a job,
    /// and `outcomes`, `provides` and `cost` apply to the answer of the poll.
    #[serde(default)]
    pub job: Option<JobFile>,
}

/// A per-operation pace, waited for after the provider's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationRateFile {
    /// Requests per second (set this or `per_minute`).
    #[serde(default)]
    pub per_second: Option<u32>,
    /// Requests per minute.
    #[serde(default)]
    pub per_minute: Option<u32>,
    /// Requests allowed back to back before pacing applies.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

/// An asynchronous vendor job: submit, read the job id, poll until done.
/// The job id is recorded durably before the first poll, so a restart resumes
/// polling the same job instead of submitting (and paying) again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// JSON pointer to the job id in the submit answer (`/enrichment_id`).
    pub id_pointer: String,
    /// HTTP method of the poll.
    #[serde(default = "default_method")]
    pub poll_method: String,
    /// Path of the poll, appended to the base URL; `{job_id}` (a whole path
    /// segment, the only placeholder allowed) is replaced by the vendor's id.
    pub poll_path: String,
    /// Fixed query parameters of the poll (literals; no record values).
    #[serde(default)]
    pub poll_query: BTreeMap<String, String>,
    /// Wait before the first poll, in milliseconds; doubled after every
    /// `pending` answer up to `max_poll_interval_ms`. A `Retry-After` wins.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Longest wait between two polls, in milliseconds.
    #[serde(default = "default_max_poll_interval_ms")]
    pub max_poll_interval_ms: u64,
    /// How long one call keeps polling, in seconds; then the field is
    /// `provider_error` with a retry time and the next pass resumes the same job.
    /// Keep it below `daemon.lease_secs`.
    #[serde(default = "default_max_wait_secs")]
    pub max_wait_secs: u64,
    /// The vendor posts the finished job to this deployment (when
    /// `[providers.<id>] webhook_url` is set); polling stays the fallback.
    #[serde(default)]
    pub webhook: Option<JobWebhookFile>,
}

/// `[operations.X.job.webhook]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobWebhookFile {
    /// Submit-body key that carries the callback URL.
    pub url_key: String,
    /// Header with the hex HMAC-SHA1 of the raw body, keyed with the API key.
    pub signature_header: String,
    /// JSON pointer to the job id in the posted body.
    pub id_pointer: String,
}
const fn default_poll_interval_ms() -> u64 {
    30_000
}
const fn default_max_poll_interval_ms() -> u64 {
    300_000
}
const fn default_max_wait_secs() -> u64 {
    240
}

fn default_method() -> String {
    "GET".to_string()
}

/// How one field is read from the response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvideFile {
    /// The record field filled.
    pub field: String,
    /// JSON pointer to the value; a `*` segment collects over an array.
    pub pointer: String,
    /// Pick one element when `pointer` reaches an array.
    #[serde(default)]
    pub pick: Option<PickFile>,
    /// Pointer applied to the picked element.
    #[serde(default)]
    pub then: Option<String>,
    /// `lowercase`, `first`, `join` or `map`-only.
    #[serde(default)]
    pub transform: Option<String>,
    /// Value spellings → our spelling; applied after `transform`.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// Fixed confidence (0..1) when the vendor gives none. Default 0.8.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Pointer to the vendor's confidence number or category.
    #[serde(default)]
    pub confidence_pointer: Option<String>,
    /// Top of the vendor's numeric scale (100 for 0–100, 10 for 1–10).
    #[serde(default)]
    pub confidence_scale: Option<f64>,
    /// Category → confidence, for categorical vendors (`verified = 0.95`).
    #[serde(default)]
    pub confidence_map: BTreeMap<String, f64>,
}

/// Pick rule for arrays: `where`/`equals`, or `max_by`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickFile {
    /// Pointer inside each element compared with `equals`.
    #[serde(default, rename = "where")]
    pub where_pointer: Option<String>,
    /// The value that selects the element.
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// Pointer to a number; the element with the largest wins.
    #[serde(default)]
    pub max_by: Option<String>,
}

/// `(status, body predicate) → outcome`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRuleFile {
    /// Statuses this rule applies to (empty: any).
    #[serde(default)]
    pub status: Vec<u16>,
    /// Pointer the predicate looks at.
    #[serde(default)]
    pub pointer: Option<String>,
    /// Matches when the pointed value equals one of these.
    #[serde(default)]
    pub equals: Vec<toml::Value>,
    /// Matches when the pointed value is null or missing.
    #[serde(default)]
    pub is_null: bool,
    /// Matches when the pointed value is an empty array, null or missing.
    #[serde(default)]
    pub is_empty: bool,
    /// Matches when the pointed value is missing or differs from every one of these
    /// (NeverBounce: `/status` not `success` is an error).
    #[serde(default)]
    pub not_equals: Vec<toml::Value>,
    /// `not_found`, `pending`, `rate_limited`, `quota_exhausted`, `auth_error`, `retryable` or `fatal`.
    pub outcome: String,
}

/// A verification operation: it checks a candidate value of `field`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyFile {
    /// The field verified (its candidate is the input).
    pub field: String,
    /// Pointer to the verdict.
    pub verdict_pointer: String,
    /// Vendor verdict → `valid`, `invalid`, `catch_all` or `unknown`.
    #[serde(default)]
    pub verdicts: BTreeMap<String, String>,
    /// Verdicts the vendor does not bill (ZeroBounce's `unknown`).
    #[serde(default)]
    pub free_verdicts: Vec<String>,
}
