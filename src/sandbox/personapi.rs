//! `personapi`: a People Data Labs person-enrich look-alike.
//!
//! `GET /personapi/v5/person/enrich` with `email=`, `profile=` (LinkedIn URL) or
//! `first_name=&last_name=&company=` (company name or domain); key in `X-Api-Key`.
//! Found: 200 `{"status":200,"likelihood":…,"data":{…}}` with PDL's lowercase values;
//! unknown: 404 `not_found`. One credit per hit (`x-call-credits-spent: 1`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::catalog::{generic_failure, Failure, Vendor};
use super::counters::Outcome;
use super::pipeline::{self, header, query_params, Answer, Call};
use super::rng::stable_hash;
use super::world::{country_name, employee_range, normalize_linkedin, Person};
use super::SandboxState;

const VENDOR: Vendor = Vendor::PersonApi;

/// `GET /personapi/v5/person/enrich`.
pub(crate) async fn enrich(
    State(state): State<Arc<SandboxState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = query_params(query.as_deref());
    // PDL documents the header; its clients also pass `api_key` in the query.
    let key = header(&headers, "x-api-key").or(params.get("api_key").map(String::as_str));
    pipeline::handle(&state, VENDOR, key, |call| find(call, &params)).await
}

fn error(status: StatusCode, kind: &str, message: &str) -> (StatusCode, Value) {
    let body = json!({"status": status.as_u16(), "error": {"type": kind, "message": message}});
    (status, body)
}

/// PDL's `{"status", "error":{"type","message"}}` envelope for each failure.
pub(crate) fn failure_body(failure: &Failure) -> (StatusCode, Value) {
    match failure {
        Failure::Unauthorized => error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "Request object must contain a valid API key",
        ),
        Failure::BadParams(message) => {
            error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
        }
        Failure::RateLimited(_) => error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "An error occurred due to requests hitting the API too quickly",
        ),
        Failure::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "Internal server error",
        ),
        other => generic_failure(other),
    }
}

fn find(call: &Call<'_>, params: &BTreeMap<String, String>) -> Answer {
    let world = call.world;
    let get = |k: &str| params.get(k).map(String::as_str);
    let by_name = match (get("first_name"), get("last_name"), get("company")) {
        (Some(first), Some(last), Some(company)) => Some((first, last, company)),
        _ => None,
    };
    if get("email").is_none() && get("profile").is_none() && by_name.is_none() {
        let msg =
            "Request object must contain email, profile, or first_name, last_name and company";
        return Answer::failure(VENDOR, &Failure::BadParams(msg.into()));
    }
    // Like PDL, any one identifying input that matches is enough; strong
    // identifiers (email, profile) give a higher likelihood than a name match.
    let strong = get("email")
        .and_then(|e| world.find_person_by_email(e))
        .or_else(|| get("profile").and_then(|p| world.find_person_by_linkedin(p)));
    let weak = || {
        let (first, last, company) = by_name?;
        let index = world
            .company_index_by_domain(company)
            .or_else(|| world.company_index_by_name(company))?;
        world.find_person_at(first, last, index)
    };
    let (person, likelihood_floor) = match strong {
        Some(p) => (Some(p), 8),
        None => (weak(), 6),
    };
    let person = person.filter(|p| call.knows_person(VENDOR, p));
    let mut answer = match person {
        Some(p) => {
            let spread = stable_hash(call.seed, &[VENDOR.id(), "likelihood", &p.id]) % 3;
            let mut answer = Answer::json(
                StatusCode::OK,
                json!({"status": 200, "likelihood": likelihood_floor + spread, "data": record(call, p)}),
                Outcome::Hit(1.0),
            );
            answer
                .response
                .headers_mut()
                .insert("x-call-credits-spent", HeaderValue::from(1));
            answer
        }
        None => Answer::json(
            StatusCode::NOT_FOUND,
            json!({"status": 404, "error": {"type": "not_found",
                "message": "No records were found matching your request"}}),
            Outcome::Miss,
        ),
    };
    if let Some(remaining) = call.remaining {
        answer
            .response
            .headers_mut()
            .insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    }
    answer
}

/// The person in PDL's schema (lowercase values, scheme-less LinkedIn URL).
fn record(call: &Call<'_>, p: &Person) -> Value {
    let company = call.world.company_of(p);
    let linkedin = normalize_linkedin(&p.linkedin_url);
    let username = linkedin.rsplit('/').next().unwrap_or_default().to_string();
    let has_mobile = stable_hash(call.seed, &[VENDOR.id(), "mobile", &p.id]).is_multiple_of(2);
    let level = match p.seniority.as_str() {
        "c_suite" => "cxo",
        other => other,
    };
    let full_name = format!("{} {}", p.first_name, p.last_name).to_lowercase();
    json!({
        "id": pdl_id(call.seed, &p.id),
        "full_name": full_name,
        "first_name": p.first_name.to_lowercase(),
        "last_name": p.last_name.to_lowercase(),
        "linkedin_url": linkedin,
        "linkedin_username": username,
        "work_email": p.email,
        "personal_emails": [],
        "mobile_phone": if has_mobile { Some(&p.phone) } else { None },
        "job_title": p.title.to_lowercase(),
        "job_title_role": p.department,
        "job_title_levels": [level],
        "job_company_name": company.name.to_lowercase(),
        "job_company_website": company.domain,
        "job_company_size": employee_range(company.employee_count),
        "job_company_industry": company.industry,
        "location_country": country_name(&company.country).to_lowercase(),
    })
}

/// A PDL-looking record id: 22 base-62 characters and a `_0000` suffix.
fn pdl_id(seed: u64, person_id: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(27);
    for chunk in 0..2 {
        let mut h = stable_hash(seed, &[VENDOR.id(), "id", person_id, &chunk.to_string()]);
        for _ in 0..11 {
            id.push(char::from(ALPHABET[(h % 62) as usize]));
            h /= 62;
        }
    }
    id.push_str("_0000");
    id
}
