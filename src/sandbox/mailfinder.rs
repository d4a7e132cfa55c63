//! `mailfinder`: a Hunter email-finder look-alike.
//!
//! `GET /mailfinder/v2/email-finder?first_name=&last_name=&domain=&api_key=`
//! (`company=` may replace `domain`, `full_name=` the two name fields). Found: 200 with
//! Hunter's `{"data":…,"meta":…}`; unknown: 404 `not_found`. One credit per hit.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::catalog::{generic_failure, Failure, Vendor};
use super::counters::Outcome;
use super::pipeline::{self, query_params, Answer, Call};
use super::rng::stable_hash;
use super::SandboxState;

const VENDOR: Vendor = Vendor::Mailfinder;

/// `GET /mailfinder/v2/email-finder`.
pub(crate) async fn email_finder(
    State(state): State<Arc<SandboxState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = query_params(query.as_deref());
    let key = params.get("api_key").map(String::as_str);
    pipeline::handle(&state, VENDOR, key, |call| find(call, &params)).await
}

fn errors(status: StatusCode, id: &str, details: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"errors": [{"id": id, "code": status.as_u16(), "details": details}]}),
    )
}

/// Hunter's `{"errors":[{id, code, details}]}` envelope for each failure.
pub(crate) fn failure_body(failure: &Failure) -> (StatusCode, Value) {
    match failure {
        Failure::Unauthorized => errors(
            StatusCode::UNAUTHORIZED,
            "authentication_failed",
            "No user found for the API key supplied",
        ),
        Failure::BadParams(details) => errors(StatusCode::BAD_REQUEST, "wrong_params", details),
        Failure::RateLimited(_) => errors(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "You have reached the rate limit for this endpoint. Please slow down.",
        ),
        Failure::ServerError => errors(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Something went wrong on our side. Please try again later.",
        ),
        other => generic_failure(other),
    }
}

fn find(call: &Call<'_>, params: &BTreeMap<String, String>) -> Answer {
    let get = |k: &str| params.get(k).map(String::as_str);
    // Hunter accepts a full name instead of the two parts; split at the first space.
    let split = get("full_name").and_then(|full| full.split_once(' '));
    let first = get("first_name").or(split.map(|(f, _)| f));
    let last = get("last_name").or(split.map(|(_, l)| l.trim()));
    let (Some(first), Some(last)) = (first, last) else {
        let msg = "You are missing the first_name and last_name (or full_name) parameters";
        return Answer::failure(VENDOR, &Failure::BadParams(msg.into()));
    };
    let company = match (get("domain"), get("company")) {
        (Some(domain), _) => call.world.company_index_by_domain(domain),
        (None, Some(name)) => call.world.company_index_by_name(name),
        (None, None) => {
            let msg = "You are missing the domain or company parameter";
            return Answer::failure(VENDOR, &Failure::BadParams(msg.into()));
        }
    };
    let person = company
        .and_then(|c| call.world.find_person_at(first, last, c))
        .filter(|p| call.knows_person(VENDOR, p));
    let Some(person) = person else {
        let body = json!({"errors": [{"id": "not_found", "code": 404,
            "details": "No email found for this person"}]});
        return Answer::json(StatusCode::NOT_FOUND, body, Outcome::Miss);
    };
    let company = call.world.company_of(person);
    let score = 70 + stable_hash(call.seed, &[VENDOR.id(), "score", &person.id]) % 30;
    let status = if company.catch_all {
        "accept_all"
    } else {
        "valid"
    };
    let body = json!({
        "data": {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "email": person.email,
            "score": score,
            "domain": company.domain,
            "accept_all": company.catch_all,
            "position": person.title,
            "twitter": null,
            "linkedin_url": person.linkedin_url,
            "phone_number": null,
            "company": company.name,
            "sources": [],
            "verification": {"date": null, "status": status}
        },
        "meta": {"params": {
            "first_name": get("first_name"),
            "last_name": get("last_name"),
            "full_name": get("full_name"),
            "domain": get("domain"),
            "company": get("company"),
            "max_duration": get("max_duration"),
        }}
    });
    Answer::json(StatusCode::OK, body, Outcome::Hit(1.0))
}
