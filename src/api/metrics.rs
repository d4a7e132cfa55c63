//! `GET /metrics`: the Prometheus text exposition (format 0.0.4), rendered by
//! hand from [`Status`] on every scrape. The daemon keeps no second set of
//! counters: what `status` says and what Prometheus sees cannot disagree.

use super::{blocking, ApiError};
use crate::control::{Control, Status};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// Records stored.
pub const STORE_RECORDS: &str = "leadfall_store_records";
/// Records queued and due now.
pub const QUEUE_DUE_RECORDS: &str = "leadfall_queue_due_records";
/// Records queued for later.
pub const QUEUE_LATER_RECORDS: &str = "leadfall_queue_later_records";
/// Records leased by a worker.
pub const QUEUE_LEASED_RECORDS: &str = "leadfall_queue_leased_records";
/// Records idle (done for now).
pub const QUEUE_IDLE_RECORDS: &str = "leadfall_queue_idle_records";
/// Records dead-lettered.
pub const QUEUE_DEAD_RECORDS: &str = "leadfall_queue_dead_records";
/// Leases past expiry that nobody recovered (should stay 0).
pub const QUEUE_EXPIRED_LEASES: &str = "leadfall_queue_expired_leases";
/// Age of the oldest due queue entry.
pub const QUEUE_OLDEST_DUE_AGE_SECONDS: &str = "leadfall_queue_oldest_due_age_seconds";
/// Enrichment passes completed since start.
pub const PASSES_TOTAL: &str = "leadfall_passes_total";
/// Passes per second over the last minute.
pub const THROUGHPUT_PASSES_PER_SECOND: &str = "leadfall_throughput_passes_per_second";
/// Conflicting values held, over all records.
pub const CONFLICTS_VALUES: &str = "leadfall_conflicts_values";
/// Seconds since the daemon started.
pub const UPTIME_SECONDS: &str = "leadfall_uptime_seconds";
/// HTTP attempts per provider.
pub const PROVIDER_ATTEMPTS_TOTAL: &str = "leadfall_provider_attempts_total";
/// 429 answers per provider.
pub const PROVIDER_THROTTLED_TOTAL: &str = "leadfall_provider_throttled_total";
/// Cache answers per provider.
pub const PROVIDER_CACHED_TOTAL: &str = "leadfall_provider_cached_total";
/// Failed calls per provider.
pub const PROVIDER_ERRORS_TOTAL: &str = "leadfall_provider_errors_total";
/// Calls in flight per provider.
pub const PROVIDER_IN_FLIGHT_CALLS: &str = "leadfall_provider_in_flight_calls";
/// Failed / (answered + failed) per provider.
pub const PROVIDER_ERROR_RATIO: &str = "leadfall_provider_error_ratio";
/// Circuit state per provider: 1 on the current `state` label.
pub const PROVIDER_CIRCUIT_STATE: &str = "leadfall_provider_circuit_state";
/// 1 when the provider is disabled for lack of a key.
pub const PROVIDER_DISABLED: &str = "leadfall_provider_disabled";

/// The circuit states every provider reports a sample for (0 or 1).
const CIRCUIT_STATES: [&str; 3] = ["closed", "open", "half_open"];

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics route.
pub fn router() -> Router<Control> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(control): State<Control>) -> Result<impl IntoResponse, ApiError> {
    let now = Utc::now();
    let status = blocking(move || control.status(now)).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&status, now)))
}

/// Render a status as Prometheus text.
pub fn render(s: &Status, now: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(4096);
    let gauges: [(&str, &str, f64); 9] = [
        (STORE_RECORDS, "Records stored.", s.records as f64),
        (
            QUEUE_DUE_RECORDS,
            "Records queued and due now.",
            s.queued_due as f64,
        ),
        (
            QUEUE_LATER_RECORDS,
            "Records queued for later.",
            s.queued_later as f64,
        ),
        (
            QUEUE_LEASED_RECORDS,
            "Records leased by a worker.",
            s.leased as f64,
        ),
        (
            QUEUE_IDLE_RECORDS,
            "Records idle (done for now).",
            s.idle as f64,
        ),
        (QUEUE_DEAD_RECORDS, "Records dead-lettered.", s.dead as f64),
        (
            QUEUE_EXPIRED_LEASES,
            "Leases past expiry nobody recovered.",
            s.expired_leases as f64,
        ),
        (
            THROUGHPUT_PASSES_PER_SECOND,
            "Enrichment passes per second over the last minute.",
            s.throughput_per_sec,
        ),
        (
            CONFLICTS_VALUES,
            "Conflicting values held, over all records.",
            s.conflicts as f64,
        ),
    ];
    for (name, help, value) in gauges {
        family(&mut out, name, help, "gauge");
        sample(&mut out, name, &[], value);
    }
    // Zero when nothing is due, so the series never disappears.
    let oldest_age = s
        .oldest_queued
        .map(|due| (now - due).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    family(
        &mut out,
        QUEUE_OLDEST_DUE_AGE_SECONDS,
        "Age of the oldest queued entry.",
        "gauge",
    );
    sample(&mut out, QUEUE_OLDEST_DUE_AGE_SECONDS, &[], oldest_age);
    family(
        &mut out,
        UPTIME_SECONDS,
        "Seconds since the daemon started.",
        "gauge",
    );
    sample(&mut out, UPTIME_SECONDS, &[], s.uptime_secs as f64);
    family(
        &mut out,
        PASSES_TOTAL,
        "Enrichment passes completed since start.",
        "counter",
    );
    sample(&mut out, PASSES_TOTAL, &[], s.passes_since_start as f64);

    type Get = fn(&crate::control::ProviderHealth) -> f64;
    let per_provider: [(&str, &str, &str, Get); 6] = [
        (
            PROVIDER_ATTEMPTS_TOTAL,
            "HTTP attempts since start.",
            "counter",
            |p| p.attempts as f64,
        ),
        (
            PROVIDER_THROTTLED_TOTAL,
            "429 answers since start.",
            "counter",
            |p| p.throttled as f64,
        ),
        (
            PROVIDER_CACHED_TOTAL,
            "Cache answers since start.",
            "counter",
            |p| p.cached as f64,
        ),
        (
            PROVIDER_ERRORS_TOTAL,
            "Failed calls since start.",
            "counter",
            |p| p.errors as f64,
        ),
        (
            PROVIDER_IN_FLIGHT_CALLS,
            "Calls in flight now.",
            "gauge",
            |p| p.in_flight as f64,
        ),
        (
            PROVIDER_ERROR_RATIO,
            "Failed / (answered + failed) since start.",
            "gauge",
            |p| p.error_rate,
        ),
    ];
    for (name, help, kind, get) in per_provider {
        family(&mut out, name, help, kind);
        for (id, p) in &s.providers {
            sample(&mut out, name, &[("provider", id)], get(p));
        }
    }
    family(
        &mut out,
        PROVIDER_CIRCUIT_STATE,
        "Circuit breaker state (1 on the current state).",
        "gauge",
    );
    for (id, p) in &s.providers {
        for state in CIRCUIT_STATES {
            let on = if p.circuit == state { 1.0 } else { 0.0 };
            sample(
                &mut out,
                PROVIDER_CIRCUIT_STATE,
                &[("provider", id), ("state", state)],
                on,
            );
        }
    }
    family(
        &mut out,
        PROVIDER_DISABLED,
        "1 when disabled for lack of an API key.",
        "gauge",
    );
    for (id, p) in &s.providers {
        let off = if p.disabled.is_some() { 1.0 } else { 0.0 };
        sample(&mut out, PROVIDER_DISABLED, &[("provider", id)], off);
    }
    out
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

/// Label values escape backslash, double quote and newline (exposition format).
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus spells the special floats its own way.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::control::ProviderHealth;

    #[test]
    fn renders_gauges_and_labelled_counters() {
        let mut s = Status {
            queued_due: 7,
            ..Status::default()
        };
        s.providers.insert(
            "mail\"finder".into(),
            ProviderHealth {
                attempts: 12,
                circuit: "open".into(),
                disabled: Some("KEY".into()),
                ..ProviderHealth::default()
            },
        );
        let text = render(&s, Utc::now());
        assert!(text
            .contains("# TYPE leadfall_queue_due_records gauge\nleadfall_queue_due_records 7\n"));
        assert!(text.contains("leadfall_provider_attempts_total{provider=\"mail\\\"finder\"} 12\n"));
        assert!(text.contains(
            "leadfall_provider_circuit_state{provider=\"mail\\\"finder\",state=\"open\"} 1\n"
        ));
        assert!(text.contains("leadfall_provider_disabled{provider=\"mail\\\"finder\"} 1\n"));
        assert!(text.contains("# TYPE leadfall_provider_attempts_total counter\n"));
    }
}
