//! `verifier`: a ZeroBounce validate look-alike that knows every address.
//!
//! `GET /verifier/v2/validate?api_key=&email=` → always 200 when authenticated, with
//! `status` `valid` (a person's true email), `catch-all` (any address at a catch-all
//! company), `invalid` (`mailbox_not_found`, or `no_dns_entries` off-world) or, for
//! ~3% of addresses, `unknown`/`greylisted`. One credit per validation except
//! `unknown`, which is free and counted as a miss. A bad key gets ZeroBounce's
//! 200 `{"error": …}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::catalog::{generic_failure, Failure, Vendor};
use super::counters::Outcome;
use super::pipeline::{self, query_params, Answer, Call};
use super::rng::stable_unit;
use super::SandboxState;

const VENDOR: Vendor = Vendor::Verifier;

/// Fraction of in-world addresses whose check cannot complete.
const UNKNOWN_RATE: f64 = 0.03;

/// Web-mail domains: they resolve, but nobody in the world has a mailbox there.
const FREE_MAIL: &[(&str, &str)] = &[
    ("gmail.com", "google"),
    ("googlemail.com", "google"),
    ("yahoo.com", "yahoo"),
    ("aol.com", "yahoo"),
    ("outlook.com", "microsoft"),
    ("hotmail.com", "microsoft"),
    ("icloud.com", "apple"),
];

/// `GET /verifier/v2/validate`.
pub(crate) async fn validate(
    State(state): State<Arc<SandboxState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = query_params(query.as_deref());
    let key = params.get("api_key").map(String::as_str);
    pipeline::handle(&state, VENDOR, key, |call| check(call, &params)).await
}

/// ZeroBounce's flat `{"error": …}` bodies; a bad key is famously a 200.
pub(crate) fn failure_body(failure: &Failure) -> (StatusCode, Value) {
    match failure {
        Failure::Unauthorized => (
            StatusCode::OK,
            json!({"error": "Invalid API Key or your account ran out of credits"}),
        ),
        Failure::BadParams(message) => (StatusCode::BAD_REQUEST, json!({"error": message})),
        Failure::RateLimited(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "Too many requests, please slow down"}),
        ),
        Failure::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "Internal server error"}),
        ),
        other => generic_failure(other),
    }
}

/// The verdict for one address.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) status: &'static str,
    pub(crate) sub_status: &'static str,
    /// Whether the domain has mail servers.
    mx_found: bool,
    smtp_provider: Option<&'static str>,
    free_email: bool,
}

/// Classifies `address` (already trimmed and lowercased) against the world.
pub(crate) fn classify(call: &Call<'_>, address: &str) -> Verdict {
    let verdict = |status, sub_status, mx_found, smtp_provider, free_email| Verdict {
        status,
        sub_status,
        mx_found,
        smtp_provider,
        free_email,
    };
    let parts = address.split_once('@');
    let Some((_, domain)) = parts.filter(|(a, d)| {
        !a.is_empty() && d.contains('.') && !d.contains('@') && !a.contains(char::is_whitespace)
    }) else {
        return verdict("invalid", "failed_syntax_check", false, None, false);
    };
    if let Some((_, provider)) = FREE_MAIL.iter().find(|(d, _)| *d == domain) {
        return verdict("invalid", "mailbox_not_found", true, Some(*provider), true);
    }
    let Some(company) = call.world.find_company_by_domain(domain) else {
        return verdict("invalid", "no_dns_entries", false, None, false);
    };
    // Providers split by the company's cloud, so the field is stable per domain.
    let provider = if company.tech.iter().any(|t| t == "gcp") {
        "google"
    } else {
        "microsoft"
    };
    if stable_unit(call.seed, &[VENDOR.id(), "unknown", address]) < UNKNOWN_RATE {
        return verdict("unknown", "greylisted", true, Some(provider), false);
    }
    if company.catch_all {
        return verdict("catch-all", "", true, Some(provider), false);
    }
    if call.world.is_true_email(address) {
        verdict("valid", "", true, Some(provider), false)
    } else {
        verdict("invalid", "mailbox_not_found", true, Some(provider), false)
    }
}

fn check(call: &Call<'_>, params: &BTreeMap<String, String>) -> Answer {
    let Some(raw) = params.get("email") else {
        return Answer::failure(
            VENDOR,
            &Failure::BadParams("Missing parameter: email".into()),
        );
    };
    let address = raw.trim().to_lowercase();
    let v = classify(call, &address);
    let (account, domain) = address.split_once('@').unwrap_or((address.as_str(), ""));
    let person = (v.status == "valid")
        .then(|| call.world.find_person_by_email(&address))
        .flatten();
    let mx_record = match v.smtp_provider {
        Some("google") => Some("aspmx.l.google.com".to_string()),
        Some("microsoft") => Some(format!(
            "{}.mail.protection.outlook.com",
            domain.replace('.', "-")
        )),
        Some(_) => Some(format!("mx.{domain}")),
        None => None,
    };
    let body = json!({
        "address": address,
        "status": v.status,
        "sub_status": v.sub_status,
        "free_email": v.free_email,
        "did_you_mean": null,
        "account": account,
        "domain": domain,
        "domain_age_days": null,
        "smtp_provider": v.smtp_provider,
        "mx_record": mx_record,
        "mx_found": if v.mx_found { "true" } else { "false" },
        "firstname": person.map(|p| &p.first_name),
        "lastname": person.map(|p| &p.last_name),
        "processed_at": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
    });
    let outcome = if v.status == "unknown" {
        Outcome::Miss
    } else {
        Outcome::Hit(1.0)
    };
    Answer::json(StatusCode::OK, body, outcome)
}
