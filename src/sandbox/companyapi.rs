//! `companyapi`: a Clearbit-style company API (the schema Hunter's companies/find
//! also serves), key as `Authorization: Bearer`.
//!
//! `GET /companyapi/v2/companies/find?domain=` → 200 company or 404 `unknown_record`
//! (1 credit per hit). `GET /companyapi/v1/domains/find?name=` → 200
//! `{"name","domain","logo"}` or 404; free, like Clearbit's name-to-domain.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::catalog::{generic_failure, Failure, Vendor};
use super::counters::Outcome;
use super::pipeline::{self, header, query_params, Answer, Call};
use super::rng::stable_hash;
use super::world::{country_name, employee_range, Company};
use super::SandboxState;

const VENDOR: Vendor = Vendor::CompanyApi;

/// `GET /companyapi/v2/companies/find`.
pub(crate) async fn companies_find(
    State(state): State<Arc<SandboxState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let key = bearer(&headers);
    pipeline::handle(&state, VENDOR, key, |call| find_company(call, &params)).await
}

/// `GET /companyapi/v1/domains/find`.
pub(crate) async fn domains_find(
    State(state): State<Arc<SandboxState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    let key = bearer(&headers);
    pipeline::handle(&state, VENDOR, key, |call| find_domain(call, &params)).await
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header(headers, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn error(status: StatusCode, kind: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"error": {"type": kind, "message": message}}))
}

/// Clearbit's `{"error":{"type","message"}}` envelope for each failure.
pub(crate) fn failure_body(failure: &Failure) -> (StatusCode, Value) {
    match failure {
        Failure::Unauthorized => error(
            StatusCode::UNAUTHORIZED,
            "auth_required",
            "Invalid or missing API key",
        ),
        Failure::BadParams(message) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message)
        }
        Failure::RateLimited(_) => error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit",
            "Rate limit exceeded",
        ),
        Failure::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal server error",
        ),
        other => generic_failure(other),
    }
}

fn unknown(message: &str) -> Answer {
    let (status, body) = error(StatusCode::NOT_FOUND, "unknown_record", message);
    Answer::json(status, body, Outcome::Miss)
}

fn find_company(call: &Call<'_>, params: &BTreeMap<String, String>) -> Answer {
    let Some(domain) = params.get("domain") else {
        return Answer::failure(VENDOR, &Failure::BadParams("Missing param: domain".into()));
    };
    match call
        .world
        .find_company_by_domain(domain)
        .filter(|c| VENDOR.knows(call.seed, &c.id))
    {
        Some(c) => Answer::json(
            StatusCode::OK,
            company_record(call.seed, c),
            Outcome::Hit(1.0),
        ),
        None => unknown("Unknown domain"),
    }
}

fn find_domain(call: &Call<'_>, params: &BTreeMap<String, String>) -> Answer {
    let Some(name) = params.get("name") else {
        return Answer::failure(VENDOR, &Failure::BadParams("Missing param: name".into()));
    };
    match call
        .world
        .find_company_by_name(name)
        .filter(|c| VENDOR.knows(call.seed, &c.id))
    {
        Some(c) => Answer::json(
            StatusCode::OK,
            json!({"name": c.name, "domain": c.domain, "logo": null}),
            Outcome::Hit(0.0),
        ),
        None => unknown("Unknown company name"),
    }
}

/// Broad sector for an industry, as Clearbit's `category.sector` reports it.
fn sector(industry: &str) -> &'static str {
    match industry {
        "computer software" | "telecommunications" => "Information Technology",
        "financial services" => "Financials",
        "healthcare" => "Health Care",
        "retail" | "education" => "Consumer Discretionary",
        "manufacturing" | "logistics" => "Industrials",
        "marketing" => "Communication Services",
        "real estate" => "Real Estate",
        _ => "Other",
    }
}

fn company_record(seed: u64, c: &Company) -> Value {
    let h = stable_hash(seed, &[VENDOR.id(), "id", &c.id]);
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 4) & 0xfff,
        stable_hash(seed, &[VENDOR.id(), "id2", &c.id]) & 0xffff_ffff_ffff
    );
    json!({
        "id": id,
        "name": c.name,
        "legalName": null,
        "domain": c.domain,
        "category": {"industry": c.industry, "sector": sector(&c.industry)},
        "metrics": {
            "employees": c.employee_count,
            "employeesRange": employee_range(c.employee_count),
            "estimatedAnnualRevenue": c.revenue_band,
        },
        "geo": {"country": country_name(&c.country), "countryCode": c.country},
        "tech": c.tech,
    })
}
