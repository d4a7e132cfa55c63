//! `peoplematch`: an Apollo people/match look-alike, including its imperfections.
//!
//! `POST /peoplematch/api/v1/people/match?first_name=&last_name=&domain=&email=&linkedin_url=`
//! (`organization_name=` may replace `domain`; a JSON object body is merged under
//! the query), key in `x-api-key`. Found: 200 `{"person":{…}}`; unknown: 200
//! `{"person":null}`. About 8% of known people come back with a wrong email at the
//! right domain (`email_status: "guessed"`), which the verifier rejects.
//! One credit per non-null person.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};

use super::catalog::{Failure, Vendor};
use super::counters::Outcome;
use super::generate::email_patterns;
use super::pipeline::{self, header, query_params, Answer, Call};
use super::rng::{stable_hash, stable_unit};
use super::world::{country_name, email_local_part, Person, World};
use super::SandboxState;

const VENDOR: Vendor = Vendor::PeopleMatch;

/// Fraction of known people for whom the vendor returns a wrong email.
const WRONG_EMAIL_RATE: f64 = 0.08;

/// `POST /peoplematch/api/v1/people/match`.
pub(crate) async fn people_match(
    State(state): State<Arc<SandboxState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = query_params(query.as_deref());
    merge_json_body(&mut params, &body);
    // Older Apollo clients send `api_key` as a parameter instead of the header.
    let key = header(&headers, "x-api-key").or(params.get("api_key").map(String::as_str));
    pipeline::handle(&state, VENDOR, key, |call| find(call, &params)).await
}

/// Apollo also takes the same parameters as a JSON body; query values win.
/// A body that is not a JSON object is ignored rather than rejected.
fn merge_json_body(params: &mut BTreeMap<String, String>, body: &[u8]) {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    for (k, v) in map {
        if let Value::String(s) = v {
            let s = s.trim();
            if !s.is_empty() {
                params.entry(k).or_insert_with(|| s.to_string());
            }
        }
    }
}

/// Apollo's error bodies: `{"error": …}` for most, `{"message": …}` for 429.
pub(crate) fn failure_body(failure: &Failure) -> (StatusCode, Value) {
    match failure {
        Failure::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid access credentials.", "error_code": "INVALID_API_KEY"}),
        ),
        Failure::BadParams(message) => {
            (StatusCode::UNPROCESSABLE_ENTITY, json!({"error": message}))
        }
        Failure::RateLimited(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "The maximum number of api calls allowed for api/v1/people/match \
                               is exceeded. Please slow down or upgrade your plan."}),
        ),
        Failure::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "Something went wrong. Please try again later."}),
        ),
        other => super::catalog::generic_failure(other),
    }
}

fn find(call: &Call<'_>, params: &BTreeMap<String, String>) -> Answer {
    let world = call.world;
    let get = |k: &str| params.get(k).map(String::as_str);
    let first = get("first_name");
    let last = get("last_name");
    let org = get("domain").or(get("organization_name"));
    let by_name = first.is_some() && last.is_some() && org.is_some();
    if get("email").is_none() && get("linkedin_url").is_none() && !by_name {
        let msg = "Please provide an email, a linkedin_url, or first_name, last_name and domain";
        return Answer::failure(VENDOR, &Failure::BadParams(msg.into()));
    }
    let by_email = get("email").and_then(|e| world.find_person_by_email(e));
    let person = by_email
        .or_else(|| get("linkedin_url").and_then(|u| world.find_person_by_linkedin(u)))
        .or_else(|| {
            let company = get("domain")
                .and_then(|d| world.company_index_by_domain(d))
                .or_else(|| {
                    get("organization_name").and_then(|n| world.company_index_by_name(n))
                })?;
            world.find_person_at(first?, last?, company)
        })
        .filter(|p| call.knows_person(VENDOR, p));
    match person {
        // Matched on the email the caller already has: Apollo echoes it back, so no
        // wrong answer is possible for this request.
        Some(p) => {
            let wrong = by_email.is_none() && gives_wrong_email(call.seed, p);
            let body = json!({"person": record(call, p, wrong)});
            Answer::json(StatusCode::OK, body, Outcome::Hit(1.0))
        }
        None => Answer::json(StatusCode::OK, json!({"person": null}), Outcome::Miss),
    }
}

/// A wrong address at the person's domain that is nobody's true email: the other
/// patterns in order, then numbered variants as a last resort.
pub(crate) fn wrong_email(world: &World, p: &Person) -> String {
    let domain = &world.company_of(p).domain;
    let candidates = email_patterns()
        .iter()
        .map(|pattern| {
            format!(
                "{}@{domain}",
                email_local_part(pattern, &p.first_name, &p.last_name)
            )
        })
        .chain((1..).map(|n| {
            let local = email_local_part("first.last", &p.first_name, &p.last_name);
            format!("{local}{n}@{domain}")
        }));
    candidates
        .into_iter()
        .find(|e| *e != p.email && !world.is_true_email(e))
        .unwrap_or_default()
}

/// Whether peoplematch gives `p` a wrong email (when matched by name or LinkedIn).
pub(crate) fn gives_wrong_email(seed: u64, p: &Person) -> bool {
    VENDOR.knows(seed, &p.id)
        && stable_unit(seed, &[VENDOR.id(), "wrong", &p.id]) < WRONG_EMAIL_RATE
}

fn apollo_id(seed: u64, kind: &str, id: &str) -> String {
    let a = stable_hash(seed, &[VENDOR.id(), kind, id]);
    let b = stable_hash(seed, &[VENDOR.id(), kind, id, "2"]);
    format!("{a:016x}{:08x}", b >> 32)
}

fn record(call: &Call<'_>, p: &Person, wrong: bool) -> Value {
    let world = call.world;
    let company = world.company_of(p);
    let (email, status) = if wrong {
        (wrong_email(world, p), "guessed")
    } else {
        (p.email.clone(), "verified")
    };
    let linkedin = p.linkedin_url.replace("https://www.", "http://www.");
    let h = stable_hash(call.seed, &[VENDOR.id(), "history", &p.id]);
    let start_year = 2012 + h % 12;
    let mut history = vec![json!({
        "current": true,
        "title": p.title,
        "organization_name": company.name,
        "organization_id": apollo_id(call.seed, "org", &company.id),
        "start_date": format!("{start_year}-01-01"),
        "end_date": null,
    })];
    // One earlier job at another company, for realism (and so that clients pick the
    // `current` entry rather than the first one).
    let previous = &world.companies[(h >> 8) as usize % world.companies.len()];
    if previous.id != company.id {
        history.push(json!({
            "current": false,
            "title": "Associate",
            "organization_name": previous.name,
            "organization_id": apollo_id(call.seed, "org", &previous.id),
            "start_date": format!("{}-01-01", start_year - 3),
            "end_date": format!("{start_year}-01-01"),
        }));
    }
    json!({
        "id": apollo_id(call.seed, "person", &p.id),
        "first_name": p.first_name,
        "last_name": p.last_name,
        "name": format!("{} {}", p.first_name, p.last_name),
        "linkedin_url": linkedin,
        "title": p.title,
        "email_status": status,
        "email": email,
        "seniority": p.seniority,
        "departments": [p.department],
        "employment_history": history,
        "organization": {
            "id": apollo_id(call.seed, "org", &company.id),
            "name": company.name,
            "primary_domain": company.domain,
            "website_url": format!("http://www.{}", company.domain),
            "estimated_num_employees": company.employee_count,
            "industry": company.industry,
            "country": country_name(&company.country),
        },
    })
}
