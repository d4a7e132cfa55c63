//! Raw provider file → validated [`Provider`]. Every problem is pushed as a
//! [`ConfigError`] naming the file and key; compilation goes on so that one run
//! of `leadfall check` reports them all.

use super::config::{
    CacheFile, CostFile, OperationFile, OutcomeRuleFile, ProvideFile, ProviderFile,
};
use super::*;
use crate::diag::ConfigError;
use crate::model::Catalogue;
use std::path::Path;

/// Environment lookup (injected so tests and the demo need no global state).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

struct Ctx<'a> {
    file: &'a Path,
    catalogue: &'a Catalogue,
    errors: &'a mut Vec<ConfigError>,
}

impl Ctx<'_> {
    fn err(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::at(self.file, key, message));
    }

    fn field(&mut self, key: &str, name: &str) {
        if !self.catalogue.contains(name) {
            self.err(
                key,
                format!("unknown field {name:?} (not in the field catalogue)"),
            );
        }
    }

    fn pointer(&mut self, key: &str, text: &str) -> Pointer {
        Pointer::parse(text).unwrap_or_else(|e| {
            self.err(key, e);
            Pointer::parse("").expect("empty pointer parses")
        })
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A deployment's changes to where a provider lives and where its key is read
/// (config `[providers.<id>]`); nothing else about the vendor changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Replaces `base_url` (a proxy, a regional endpoint, a test server).
    pub base_url: Option<String>,
    /// Replaces `auth.env`: the variable the key is read from.
    pub key_env: Option<String>,
    /// Where the vendor posts finished jobs back (this deployment's public URL).
    pub webhook_url: Option<String>,
}

/// The environment variable that overrides a provider's base URL.
pub fn base_url_env(id: &str) -> String {
    format!("LEADFALL_PROVIDER_{}_BASE_URL", env_id(id))
}

/// The environment variable that names a provider's key variable instead of `auth.env`.
pub fn key_env_env(id: &str) -> String {
    format!("LEADFALL_PROVIDER_{}_KEY_ENV", env_id(id))
}

fn env_id(id: &str) -> String {
    id.to_uppercase().replace('-', "_")
}

/// Compile one provider file. Returns `None` only when the file is unusable;
/// problems are pushed into `errors` either way.
pub fn compile_provider(
    file: &Path,
    raw: ProviderFile,
    catalogue: &Catalogue,
    env: EnvLookup<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<Provider> {
    compile_provider_with(file, raw, catalogue, env, &Overrides::default(), errors)
}

/// [`compile_provider`] with deployment overrides. Precedence, highest first:
/// `LEADFALL_PROVIDER_<ID>_BASE_URL` / `LEADFALL_PROVIDER_<ID>_KEY_ENV` in the
/// environment, then `overrides` (config), then the file.
pub fn compile_provider_with(
    file: &Path,
    mut raw: ProviderFile,
    catalogue: &Catalogue,
    env: EnvLookup<'_>,
    overrides: &Overrides,
    errors: &mut Vec<ConfigError>,
) -> Option<Provider> {
    if let Some(key_env) = env(&key_env_env(&raw.id))
        .filter(|v| !v.trim().is_empty())
        .or_else(|| overrides.key_env.clone())
    {
        if let Some(a) = raw.auth.as_mut() {
            a.env = key_env;
        }
    }
    if let Some(url) = &overrides.base_url {
        raw.base_url = url.clone();
    }
    let before = errors.len();
    let mut cx = Ctx {
        file,
        catalogue,
        errors,
    };
    if !is_id(&raw.id) {
        cx.err(
            "id",
            format!(
                "{:?} must be lower-case letters, digits, '-' or '_'",
                raw.id
            ),
        );
    }
    let base_url = env(&base_url_env(&raw.id)).unwrap_or(raw.base_url.clone());
    match url::Url::parse(&base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            if u.query().is_some() || base_url.contains('{') {
                cx.err("base_url", "must not carry a query or placeholders");
            }
        }
        _ => cx.err("base_url", format!("{base_url:?} is not an http(s) URL")),
    }
    let (auth, missing_key_env) = match raw.auth {
        None => (None, None),
        Some(a) => {
            let name = match (a.kind, a.name) {
                (AuthKind::Bearer, _) => "authorization".to_string(),
                (_, Some(n)) if !n.trim().is_empty() => n,
                _ => {
                    cx.err("auth.name", "required for header and query auth");
                    String::new()
                }
            };
            if a.env.trim().is_empty() {
                cx.err("auth.env", "must name an environment variable");
            }
            let prefix = match a.kind {
                AuthKind::Bearer => "Bearer ".to_string(),
                _ => a.prefix.unwrap_or_default(),
            };
            match env(&a.env).filter(|v| !v.is_empty()) {
                Some(key) => (
                    Some(Auth {
                        kind: a.kind,
                        name,
                        prefix,
                        secret: Secret::new(key),
                    }),
                    None,
                ),
                None => (None, Some(a.env)),
            }
        }
    };
    if raw.timeout_ms == 0 {
        cx.err("timeout_ms", "must be ≥ 1, got 0");
    }
    if raw.max_body_bytes < 64 {
        cx.err(
            "max_body_bytes",
            format!("must be ≥ 64, got {}", raw.max_body_bytes),
        );
    }
    let rl = &raw.rate_limit;
    let rate = rate(
        &mut cx,
        "rate_limit",
        rl.per_second,
        rl.per_minute,
        rl.burst,
    );
    if rl.max_concurrency == 0 {
        cx.err("rate_limit.max_concurrency", "must be ≥ 1, got 0");
    }
    let r = &raw.retry;
    if r.max_attempts == 0 {
        cx.err("retry.max_attempts", "must be ≥ 1, got 0");
    }
    if r.initial_backoff_ms > r.max_backoff_ms {
        cx.err(
            "retry.initial_backoff_ms",
            "must not exceed retry.max_backoff_ms",
        );
    }
    if raw.circuit.failure_threshold == 0 {
        cx.err("circuit.failure_threshold", "must be ≥ 1, got 0");
    }
    if raw.operations.is_empty() {
        cx.err("operations", "at least one operation is required");
    }
    let default_cost = cost(&mut cx, "cost", &raw.cost);
    let default_cache = cache(&mut cx, "cache", &raw.cache);
    // Provider-wide rules (a vendor's status conventions) follow each operation's own.
    let provider_rules: Vec<OutcomeRule> = raw
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, r)| outcome_rule(&mut cx, format!("outcomes[{i}]"), r))
        .collect();
    let defaults = Defaults {
        cost: default_cost,
        cache: default_cache,
        outcomes: provider_rules,
    };
    let retry_after_pointer = raw
        .retry
        .retry_after_pointer
        .as_deref()
        .map(|p| cx.pointer("retry.retry_after_pointer", p));
    let mut operations = Vec::new();
    for (name, op) in raw.operations {
        if !is_id(&name) {
            cx.err(
                format!("operations.{name}"),
                "operation names are lower-case letters, digits, '-' or '_'",
            );
        }
        let key = format!("operations.{name}");
        let compiled = operation(&mut cx, &key, &raw.id, &name, op, &defaults);
        // Parsed once here, cloned per request.
        let url = url::Url::parse(&format!(
            "{}{}",
            base_url.trim_end_matches('/'),
            compiled.path
        ))
        .ok();
        let mut compiled = Operation {
            retry_after_pointer: retry_after_pointer.clone(),
            url,
            ..compiled
        };
        compiled.inputs = compiled.compute_input_fields();
        compiled.reads = Reads::of(&compiled);
        operations.push(compiled);
    }
    let ok = cx.errors.len() == before;
    ok.then(|| Provider {
        name: raw.name.unwrap_or_else(|| raw.id.clone()),
        id: raw.id,
        base_url: base_url.trim_end_matches('/').to_string(),
        webhook_url: overrides.webhook_url.clone(),
        auth,
        missing_key_env,
        timeout: Duration::from_millis(raw.timeout_ms),
        max_body_bytes: raw.max_body_bytes as usize,
        rate,
        max_concurrency: raw.rate_limit.max_concurrency as usize,
        retry: RetryPolicy {
            max_attempts: raw.retry.max_attempts,
            initial_backoff: Duration::from_millis(raw.retry.initial_backoff_ms),
            max_backoff: Duration::from_millis(raw.retry.max_backoff_ms),
            max_elapsed: Duration::from_secs(raw.retry.max_elapsed_secs),
            max_retry_after: Duration::from_secs(raw.retry.max_retry_after_secs),
        },
        circuit: CircuitPolicy {
            failure_threshold: raw.circuit.failure_threshold,
            open_for: Duration::from_secs(raw.circuit.open_secs),
        },
        rate_headers: RateHeaders {
            remaining: raw.rate_headers.remaining.map(|h| h.to_lowercase()),
            reset: raw.rate_headers.reset.map(|h| h.to_lowercase()),
        },
        credit_usd: raw.cost.credit_usd,
        operations,
    })
}

/// A pace from `per_second` / `per_minute` + `burst`, checked under `key`.
fn rate(
    cx: &mut Ctx<'_>,
    key: &str,
    per_second: Option<u32>,
    per_minute: Option<u32>,
    burst: u32,
) -> Option<Rate> {
    if burst == 0 {
        cx.err(format!("{key}.burst"), "must be ≥ 1, got 0");
    }
    let (requests, period) = match (per_second, per_minute) {
        (Some(_), Some(_)) => {
            cx.err(key, "set per_second or per_minute, not both");
            return None;
        }
        (Some(0), _) | (_, Some(0)) => {
            cx.err(key, "a rate must be ≥ 1 (leave it out for no limit)");
            return None;
        }
        (Some(n), None) => (n, Duration::from_secs(1)),
        (None, Some(n)) => (n, Duration::from_secs(60)),
        (None, None) => return None,
    };
    Some(Rate {
        requests,
        period,
        burst,
    })
}

fn cost(cx: &mut Ctx<'_>, key: &str, c: &CostFile) -> CostModel {
    for (k, v) in [("per_request", c.per_request), ("per_hit", c.per_hit)] {
        if !(v.is_finite() && v >= 0.0) {
            cx.err(
                format!("{key}.{k}"),
                format!("must be a number ≥ 0, got {v}"),
            );
        }
    }
    for (field, v) in &c.per_field {
        cx.field(&format!("{key}.per_field"), field);
        if !(v.is_finite() && *v >= 0.0) {
            cx.err(
                format!("{key}.per_field.{field}"),
                format!("must be ≥ 0, got {v}"),
            );
        }
    }
    CostModel {
        per_request: c.per_request,
        per_hit: c.per_hit,
        per_field: c.per_field.iter().map(|(f, v)| (f.into(), *v)).collect(),
        actual_pointer: c
            .actual_pointer
            .as_deref()
            .map(|p| cx.pointer(&format!("{key}.actual_pointer"), p)),
        actual_header: c.actual_header.as_ref().map(|h| h.to_lowercase()),
    }
}

fn cache(cx: &mut Ctx<'_>, key: &str, c: &CacheFile) -> CacheTtl {
    let mut days = |k: &str, v: f64| {
        if !(v.is_finite() && v >= 0.0) {
            cx.err(format!("{key}.{k}"), format!("must be ≥ 0 days, got {v}"));
            return Duration::ZERO;
        }
        Duration::from_secs_f64(v * 86_400.0)
    };
    CacheTtl {
        hit: days("hit_ttl_days", c.hit_ttl_days),
        miss: days("miss_ttl_days", c.miss_ttl_days),
    }
}

fn template(cx: &mut Ctx<'_>, key: &str, text: &str) -> Template {
    match Template::parse(text) {
        Ok(t) => {
            for f in t.fields() {
                cx.field(key, f);
            }
            t
        }
        Err(e) => {
            cx.err(key, e);
            Template { parts: Vec::new() }
        }
    }
}

/// What every operation of a provider inherits unless it says otherwise.
struct Defaults {
    cost: CostModel,
    cache: CacheTtl,
    /// Provider-wide outcome rules, appended after the operation's own.
    outcomes: Vec<OutcomeRule>,
}

fn operation(
    cx: &mut Ctx<'_>,
    key: &str,
    provider: &str,
    name: &str,
    op: OperationFile,
    defaults: &Defaults,
) -> Operation {
    let method = match op.method.to_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        other => {
            cx.err(
                format!("{key}.method"),
                format!("{other:?} is not GET, POST or PUT"),
            );
            Method::Get
        }
    };
    if !op.path.starts_with('/') {
        cx.err(format!("{key}.path"), "must start with '/'");
    }
    if op.path.contains('{') || op.path.contains('?') {
        // Record values go into query or body only, never into the URL structure.
        cx.err(format!("{key}.path"), "must not contain placeholders or a query string; put record values in `query` or `body`");
    }
    for (i, set) in op.requires.iter().enumerate() {
        if set.is_empty() {
            cx.err(
                format!("{key}.requires[{i}]"),
                "an input set must name at least one field",
            );
        }
        for f in set {
            cx.field(&format!("{key}.requires[{i}]"), f);
        }
    }
    let query = op
        .query
        .iter()
        .map(|(k, v)| (k.clone(), template(cx, &format!("{key}.query.{k}"), v)))
        .collect();
    let headers = op
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), template(cx, &format!("{key}.headers.{k}"), v)))
        .collect();
    let body = op.body.as_ref().and_then(|b| {
        let json = serde_json::to_value(b).unwrap_or(serde_json::Value::Null);
        match BodyTemplate::compile(&json) {
            Ok(t) => {
                let mut fields = Vec::new();
                t.fields(&mut fields);
                for f in fields {
                    cx.field(&format!("{key}.body"), &f);
                }
                Some(t)
            }
            Err((path, e)) => {
                cx.err(format!("{key}.body{path}"), e);
                None
            }
        }
    });
    if body.is_some() && method == Method::Get {
        cx.err(format!("{key}.body"), "a GET operation cannot have a body");
    }
    let provides: Vec<Provide> = op
        .provides
        .iter()
        .enumerate()
        .map(|(i, p)| provide(cx, &format!("{key}.provides[{i}]"), p))
        .collect();
    let mut outcomes: Vec<OutcomeRule> = op
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, r)| outcome_rule(cx, format!("{key}.outcomes[{i}]"), r))
        .collect();
    outcomes.extend(defaults.outcomes.iter().cloned());
    let verifies = op.verifies.as_ref().map(|v| {
        let vk = format!("{key}.verifies");
        cx.field(&format!("{vk}.field"), &v.field);
        let mut verdicts = BTreeMap::new();
        for (spelling, verdict) in &v.verdicts {
            match Verdict::parse(verdict) {
                Some(vd) => {
                    verdicts.insert(spelling.to_lowercase(), vd);
                }
                None => cx.err(
                    format!("{vk}.verdicts.{spelling}"),
                    format!("{verdict:?} is not valid, invalid, catch_all or unknown"),
                ),
            }
        }
        let free_verdicts = v
            .free_verdicts
            .iter()
            .filter_map(|f| {
                let parsed = Verdict::parse(f);
                if parsed.is_none() {
                    cx.err(
                        format!("{vk}.free_verdicts"),
                        format!("{f:?} is not valid, invalid, catch_all or unknown"),
                    );
                }
                parsed
            })
            .collect();
        Verify {
            field: v.field.as_str().into(),
            verdict_pointer: cx.pointer(&format!("{vk}.verdict_pointer"), &v.verdict_pointer),
            verdicts,
            free_verdicts,
        }
    });
    if provides.is_empty() && verifies.is_none() {
        cx.err(
            key.to_string(),
            "an operation must `provides` at least one field or `verifies` one",
        );
    }
    let cost = match &op.cost {
        Some(c) => cost(cx, &format!("{key}.cost"), c),
        None => defaults.cost.clone(),
    };
    let cache_ttl = match &op.cache {
        Some(c) => cache(cx, &format!("{key}.cache"), c),
        None => defaults.cache,
    };
    let job = op.job.as_ref().map(|j| job(cx, &format!("{key}.job"), j));
    let op_rate = op.rate_limit.as_ref().and_then(|r| {
        rate(
            cx,
            &format!("{key}.rate_limit"),
            r.per_second,
            r.per_minute,
            r.burst,
        )
    });
    let mut requires: Vec<Vec<FieldName>> = op
        .requires
        .iter()
        .map(|set| set.iter().map(FieldName::from).collect())
        .collect();
    if requires.is_empty() {
        // Without explicit sets, every placeholder is required.
        let mut all = Vec::new();
        op.query.values().chain(op.headers.values()).for_each(|t| {
            if let Ok(t) = Template::parse(t) {
                all.extend(t.fields().cloned());
            }
        });
        if let Some(b) = &body {
            b.fields(&mut all);
        }
        all.sort();
        all.dedup();
        if !all.is_empty() {
            requires.push(all);
        }
    }
    Operation {
        id: format!("{provider}.{name}"),
        provider: provider.to_string(),
        method,
        path: op.path,
        url: None,
        requires,
        query,
        headers,
        body,
        provides,
        outcomes,
        verifies,
        cost,
        cache: cache_ttl,
        retry_after_pointer: None,
        reads: Reads::default(),
        rate: op_rate,
        job,
        inputs: Vec::new(),
    }
}

fn job(cx: &mut Ctx<'_>, key: &str, j: &super::config::JobFile) -> Job {
    let poll_method = match j.poll_method.to_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        other => {
            cx.err(
                format!("{key}.poll_method"),
                format!("{other:?} is not GET or POST"),
            );
            Method::Get
        }
    };
    let segments: Vec<&str> = j.poll_path.split('/').collect();
    let placeholders = j.poll_path.matches('{').count();
    if !j.poll_path.starts_with('/') {
        cx.err(format!("{key}.poll_path"), "must start with '/'");
    } else if j.poll_path.contains('?') || placeholders != 1 || !segments.contains(&"{job_id}") {
        cx.err(
            format!("{key}.poll_path"),
            "must contain `{job_id}` as one whole path segment, no other placeholder and no query string",
        );
    }
    for (k, v) in &j.poll_query {
        if v.contains('{') {
            cx.err(
                format!("{key}.poll_query.{k}"),
                "poll parameters are literals; record values go into the submit request",
            );
        }
    }
    if j.poll_interval_ms == 0 {
        cx.err(format!("{key}.poll_interval_ms"), "must be ≥ 1, got 0");
    }
    if j.poll_interval_ms > j.max_poll_interval_ms {
        cx.err(
            format!("{key}.poll_interval_ms"),
            "must not exceed max_poll_interval_ms",
        );
    }
    if j.max_wait_secs == 0 {
        cx.err(format!("{key}.max_wait_secs"), "must be ≥ 1, got 0");
    }
    Job {
        id_pointer: cx.pointer(&format!("{key}.id_pointer"), &j.id_pointer),
        poll_method,
        poll_path: j.poll_path.clone(),
        poll_query: j
            .poll_query
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        poll_interval: Duration::from_millis(j.poll_interval_ms),
        max_poll_interval: Duration::from_millis(j.max_poll_interval_ms),
        max_wait: Duration::from_secs(j.max_wait_secs),
        webhook: j.webhook.as_ref().map(|w| {
            if w.url_key.is_empty() || w.signature_header.is_empty() {
                cx.err(
                    format!("{key}.webhook"),
                    "url_key and signature_header must not be empty",
                );
            }
            crate::provider::JobWebhook {
                url_key: w.url_key.clone(),
                signature_header: w.signature_header.to_lowercase(),
                id_pointer: cx.pointer(&format!("{key}.webhook.id_pointer"), &w.id_pointer),
            }
        }),
    }
}

fn provide(cx: &mut Ctx<'_>, key: &str, p: &ProvideFile) -> Provide {
    cx.field(&format!("{key}.field"), &p.field);
    let pointer = cx.pointer(&format!("{key}.pointer"), &p.pointer);
    let pick = p
        .pick
        .as_ref()
        .and_then(|pk| match (&pk.where_pointer, &pk.equals, &pk.max_by) {
            (Some(w), Some(eq), None) => Some(Pick::Where {
                pointer: cx.pointer(&format!("{key}.pick.where"), w),
                value: serde_json::to_value(eq).unwrap_or_default(),
            }),
            (None, None, Some(m)) => {
                Some(Pick::MaxBy(cx.pointer(&format!("{key}.pick.max_by"), m)))
            }
            _ => {
                cx.err(format!("{key}.pick"), "use `where` + `equals`, or `max_by`");
                None
            }
        });
    let then = p
        .then
        .as_deref()
        .map(|t| cx.pointer(&format!("{key}.then"), t));
    if then.is_some() && pick.is_none() {
        cx.err(
            format!("{key}.then"),
            "`then` applies to a picked element; add `pick`",
        );
    }
    let transform = match p.transform.as_deref() {
        None => Transform::None,
        Some("lowercase") => Transform::Lowercase,
        Some("first") => Transform::First,
        Some("join") => Transform::Join,
        Some(other) => {
            cx.err(
                format!("{key}.transform"),
                format!("{other:?} is not lowercase, first or join"),
            );
            Transform::None
        }
    };
    let confidence = match (
        &p.confidence_pointer,
        p.confidence_scale,
        p.confidence_map.is_empty(),
    ) {
        (None, _, _) => Confidence::Fixed(p.confidence.unwrap_or(0.8)),
        (Some(ptr), scale, true) => Confidence::Scaled {
            pointer: cx.pointer(&format!("{key}.confidence_pointer"), ptr),
            scale: scale.unwrap_or(1.0),
            default: p.confidence.unwrap_or(0.5),
        },
        (Some(ptr), None, false) => Confidence::Categorical {
            pointer: cx.pointer(&format!("{key}.confidence_pointer"), ptr),
            map: p
                .confidence_map
                .iter()
                .map(|(k, v)| (k.to_lowercase(), *v))
                .collect(),
            default: p.confidence.unwrap_or(0.5),
        },
        (Some(_), Some(_), false) => {
            cx.err(
                format!("{key}.confidence_scale"),
                "use confidence_scale or confidence_map, not both",
            );
            Confidence::Fixed(0.5)
        }
    };
    let check = |v: f64| (0.0..=1.0).contains(&v);
    let bad_conf = match &confidence {
        Confidence::Fixed(v) => !check(*v),
        Confidence::Scaled { scale, default, .. } => {
            scale.is_nan() || *scale <= 0.0 || !check(*default)
        }
        Confidence::Categorical { map, default, .. } => {
            !map.values().all(|v| check(*v)) || !check(*default)
        }
    };
    if bad_conf {
        cx.err(
            format!("{key}.confidence"),
            "confidences must lie in 0..1 and a scale must be > 0",
        );
    }
    Provide {
        field: p.field.as_str().into(),
        pointer,
        pick,
        then,
        transform,
        map: p
            .map
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect(),
        confidence,
    }
}

/// Compile one outcome rule (`rk` names it in errors).
fn outcome_rule(cx: &mut Ctx<'_>, rk: String, r: &OutcomeRuleFile) -> OutcomeRule {
    let outcome = match r.outcome.as_str() {
        "not_found" => RuleOutcome::NotFound,
        "pending" => RuleOutcome::Pending,
        "rate_limited" => RuleOutcome::RateLimited,
        "quota_exhausted" => RuleOutcome::QuotaExhausted,
        "auth_error" => RuleOutcome::AuthError,
        "retryable" => RuleOutcome::Retryable,
        "fatal" => RuleOutcome::Fatal,
        other => {
            cx.err(format!("{rk}.outcome"), format!("{other:?} is not one of not_found, pending, rate_limited, quota_exhausted, auth_error, retryable, fatal"));
            RuleOutcome::Fatal
        }
    };
    let predicate = match &r.pointer {
        None => {
            if !r.equals.is_empty() || !r.not_equals.is_empty() || r.is_null || r.is_empty {
                cx.err(format!("{rk}.pointer"), "a body predicate needs a pointer");
            }
            None
        }
        Some(p) => {
            let ptr = cx.pointer(&format!("{rk}.pointer"), p);
            if !r.not_equals.is_empty() && (!r.equals.is_empty() || r.is_null || r.is_empty) {
                cx.err(
                    rk.clone(),
                    "use one of equals, not_equals, is_null or is_empty",
                );
            }
            let pred = match (r.equals.is_empty(), r.is_null, r.is_empty) {
                (false, false, false) => BodyPredicate::Equals(
                    r.equals
                        .iter()
                        .map(|v| serde_json::to_value(v).unwrap_or_default())
                        .collect(),
                ),
                (true, true, false) => BodyPredicate::IsNull,
                (true, false, true) => BodyPredicate::IsEmpty,
                (true, false, false) if !r.not_equals.is_empty() => BodyPredicate::NotEquals(
                    r.not_equals
                        .iter()
                        .map(|v| serde_json::to_value(v).unwrap_or_default())
                        .collect(),
                ),
                (true, false, false) => BodyPredicate::Exists,
                _ => {
                    cx.err(
                        rk.clone(),
                        "use one of equals, not_equals, is_null or is_empty",
                    );
                    BodyPredicate::Exists
                }
            };
            Some((ptr, pred))
        }
    };
    if r.status.is_empty() && predicate.is_none() {
        cx.err(rk, "a rule needs a status list, a pointer, or both");
    }
    OutcomeRule {
        status: r.status.clone(),
        predicate,
        outcome,
    }
}
