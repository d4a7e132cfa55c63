//! People databases: Apollo people match, People Data Labs person enrich.

use super::replay::Reply;
use super::*;
use serde_json::json;

const TIM: &[(&str, &str)] = &[("person.email", "tim@apollo.io")];

#[tokio::test]
async fn apollo_people_match() {
    let v = Vendor::start("apollo").await;
    v.replay
        .script([Reply::fixture(200, "apollo.people-match.200.json")]);
    let r = v.call("people-match", TIM).await;
    assert_eq!(
        field(&r, "person.email"),
        (json!("tim@apollo.io"), 0.95),
        "email_status verified"
    );
    assert_eq!(field(&r, "person.seniority").0, json!("founder"));
    assert_eq!(field(&r, "person.title").0, json!("Founder & CEO"));
    assert_eq!(field(&r, "company.employee_count").0, json!(1600));
    let (tech, _) = field(&r, "company.tech_stack");
    assert!(
        tech.as_array().unwrap().contains(&json!("salesforce")),
        "{tech}"
    );
    assert_eq!(r.entry.credits, 1.0);
    // Parameters in the query string of a POST, key in x-api-key.
    assert_shape(
        &v.only_request(),
        "POST",
        "/api/v1/people/match",
        AuthAt::Header("x-api-key", ""),
        &[("email", "tim@apollo.io"), ("reveal_phone_number", "false")],
        &[],
    );

    // No match: 200 with `person` null.
    let v = Vendor::start("apollo").await;
    v.replay
        .script([Reply::text(200, "application/json", r#"{"person":null}"#)]);
    assert_not_found(&v.call("people-match", TIM).await);

    // 429 with Apollo's window headers and retry-after: honoured, then the answer.
    let v = Vendor::start("apollo").await;
    v.replay.script([
        Reply::fixture(429, "apollo.people-match.429.json")
            .header("retry-after", "1")
            .header("x-minute-requests-left", "0")
            .header("x-rate-limit-minute", "1000"),
        Reply::fixture(200, "apollo.people-match.200.json"),
    ]);
    let started = std::time::Instant::now();
    let r = v.call("people-match", TIM).await;
    assert_eq!(field(&r, "person.email").0, json!("tim@apollo.io"));
    assert_eq!(r.entry.throttled, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retry-after: 1 honoured"
    );

    // A key without the endpoint in scope: 403 API_INACCESSIBLE.
    let v = Vendor::start("apollo").await;
    v.replay.script([Reply::text(
        403,
        "application/json",
        r#"{"error":"api/v1/people/match is not accessible with this api_key","error_code":"API_INACCESSIBLE"}"#,
    )]);
    assert_eq!(failed(&v.call("people-match", TIM).await), "auth_error");

    assert_faults(
        "apollo",
        "people-match",
        TIM,
        Reply::fixture(200, "apollo.people-match.200.json"),
    )
    .await;
}

#[tokio::test]
async fn peopledatalabs_person_enrich() {
    let sean = &[
        ("person.first_name", "Sean"),
        ("person.last_name", "Thorne"),
        ("company.domain", "peopledatalabs.com"),
    ];
    let found = || {
        Reply::fixture(200, "peopledatalabs.person-enrich.200.constructed.json")
            .header("x-call-credits-spent", "1")
            .header("x-call-credits-type", "enrich")
            .header("x-ratelimit-remaining", r#"{"minute": 999}"#)
    };
    let v = Vendor::start("peopledatalabs").await;
    v.replay.script([found()]);
    let r = v.call("person-enrich", sean).await;
    assert_eq!(
        field(&r, "person.email"),
        (json!("sean@peopledatalabs.com"), 0.9),
        "likelihood 9/10"
    );
    assert_eq!(
        field(&r, "person.seniority").0,
        json!("c_suite"),
        "cxo mapped"
    );
    assert_eq!(
        field(&r, "company.employee_count").0,
        json!(125),
        "51-200 → midpoint"
    );
    assert_eq!(r.entry.credits, 1.0, "x-call-credits-spent");
    assert_shape(
        &v.only_request(),
        "GET",
        "/v5/person/enrich",
        AuthAt::Header("x-api-key", ""),
        &[
            ("first_name", "Sean"),
            ("last_name", "Thorne"),
            ("company", "peopledatalabs.com"),
        ],
        &[],
    );

    let v = Vendor::start("peopledatalabs").await;
    v.replay
        .script([Reply::fixture(404, "peopledatalabs.person-enrich.404.json")]);
    assert_not_found(&v.call("person-enrich", sean).await);

    // 429 with PDL's JSON window headers and a reset time: paused, retried.
    let v = Vendor::start("peopledatalabs").await;
    v.replay.script([
        Reply::text(
            429,
            "application/json",
            r#"{"status":429,"error":{"type":"rate_limit_error","message":"Rate limit exceeded"}}"#,
        )
        .header("x-ratelimit-remaining", r#"{"minute": 0, "day": 5000}"#)
        .header("x-ratelimit-limit", r#"{"minute": 1000}"#),
        found(),
    ]);
    let r = v.call("person-enrich", sean).await;
    assert_eq!(r.entry.throttled, 1);
    assert_eq!(
        field(&r, "person.email").0,
        json!("sean@peopledatalabs.com")
    );

    let v = Vendor::start("peopledatalabs").await;
    v.replay.script([Reply::text(
        402,
        "application/json",
        r#"{"status":402,"error":{"type":"payment_required","message":"You have hit your account maximum"}}"#,
    )]);
    assert_eq!(
        failed(&v.call("person-enrich", sean).await),
        "quota_exhausted"
    );

    assert_faults("peopledatalabs", "person-enrich", sean, found()).await;
}
