//! Email and mobile finders: Hunter, LeadMagic, Prospeo.

use super::replay::Reply;
use super::*;
use serde_json::json;

const PATRICK: &[(&str, &str)] = &[
    ("person.first_name", "Patrick"),
    ("person.last_name", "Collison"),
    ("company.domain", "stripe.com"),
];

#[tokio::test]
async fn hunter_email_finder_found() {
    let v = Vendor::start("hunter").await;
    v.replay
        .script([Reply::fixture(200, "hunter.email-finder.200.json")]);
    let r = v.call("email-finder", PATRICK).await;
    assert_eq!(
        field(&r, "person.email"),
        (json!("patrick@stripe.com"), 0.99)
    );
    assert_eq!(field(&r, "person.title").0, json!("CEO"));
    assert_eq!(
        field(&r, "person.linkedin_url").0,
        json!("https://linkedin.com/in/patrickcollison")
    );
    assert!(
        hit(&r).iter().all(|(f, _, _)| f != "person.phone"),
        "null phone is no value"
    );
    assert_eq!(r.entry.credits, 1.0, "1 credit per email found");
    assert_shape(
        &v.only_request(),
        "GET",
        "/v2/email-finder",
        AuthAt::Query("api_key"),
        &[
            ("first_name", "Patrick"),
            ("last_name", "Collison"),
            ("domain", "stripe.com"),
        ],
        &[],
    );
}

#[tokio::test]
async fn hunter_email_finder_not_found_throttle_and_quota() {
    // Not found is 200 with `data.email` null, and free.
    let v = Vendor::start("hunter").await;
    v.replay.script([Reply::fixture(
        200,
        "hunter.email-finder.not-found.constructed.json",
    )]);
    assert_not_found(&v.call("email-finder", PATRICK).await);

    // 403 is Hunter's throttle (retried); no rate headers exist.
    let v = Vendor::start("hunter").await;
    v.replay.script([
        Reply::text(
            403,
            "application/json",
            r#"{"errors":[{"id":"too_many_requests","code":403}]}"#,
        ),
        Reply::fixture(200, "hunter.email-finder.200.json"),
    ]);
    let r = v.call("email-finder", PATRICK).await;
    assert_eq!(field(&r, "person.email").0, json!("patrick@stripe.com"));
    assert_eq!(r.entry.throttled, 1);

    // 429 means the month's credits are gone: not retried.
    let v = Vendor::start("hunter").await;
    v.replay.script([Reply::text(
        429,
        "application/json",
        r#"{"errors":[{"id":"too_many_requests","code":429,"details":"You have reached your monthly limit"}]}"#,
    )]);
    let r = v.call("email-finder", PATRICK).await;
    assert_eq!(failed(&r), "quota_exhausted");
    assert_eq!(v.replay.seen().len(), 1);

    // A 400 (missing parameter) is a provider error, not retried.
    let v = Vendor::start("hunter").await;
    v.replay
        .script([Reply::fixture(400, "hunter.error.400.json")]);
    assert_eq!(failed(&v.call("email-finder", PATRICK).await), "permanent");
    assert_eq!(v.replay.seen().len(), 1);

    assert_faults(
        "hunter",
        "email-finder",
        PATRICK,
        Reply::fixture(200, "hunter.email-finder.200.json"),
    )
    .await;
}

#[tokio::test]
async fn leadmagic_email_finder() {
    let bill = &[
        ("person.first_name", "Bill"),
        ("person.last_name", "Gates"),
        ("company.domain", "microsoft.com"),
    ];
    let v = Vendor::start("leadmagic").await;
    v.replay
        .script([Reply::fixture(200, "leadmagic.email-finder.200.json")]);
    let r = v.call("email-finder", bill).await;
    assert_eq!(
        field(&r, "person.email"),
        (json!("billg@microsoft.com"), 0.9)
    );
    assert_eq!(field(&r, "company.employee_count").0, json!(10001));
    assert_eq!(field(&r, "company.industry").0, json!("Computer Software"));
    assert_eq!(r.entry.credits, 1.0, "credits_consumed");
    assert_shape(
        &v.only_request(),
        "POST",
        "/v1/people/email-finder",
        AuthAt::Header("x-api-key", ""),
        &[],
        &[
            ("/first_name", json!("Bill")),
            ("/last_name", json!("Gates")),
            ("/domain", json!("microsoft.com")),
        ],
    );
    // No company name known: the key is left out, not sent empty.
    assert!(v.only_request().body.unwrap().get("company_name").is_none());

    let v = Vendor::start("leadmagic").await;
    v.replay.script([Reply::fixture(
        200,
        "leadmagic.email-finder.not-found.constructed.json",
    )]);
    assert_not_found(&v.call("email-finder", bill).await);

    let v = Vendor::start("leadmagic").await;
    v.replay.script([
        Reply::text(
            429,
            "application/json",
            r#"{"error":"rate_limited","message":"Too many requests"}"#,
        ),
        Reply::fixture(200, "leadmagic.email-finder.200.json"),
    ]);
    let r = v.call("email-finder", bill).await;
    assert_eq!(r.entry.throttled, 1);
    assert_eq!(field(&r, "person.email").0, json!("billg@microsoft.com"));

    let v = Vendor::start("leadmagic").await;
    v.replay.script([Reply::text(
        402,
        "application/json",
        r#"{"error":"payment_required","message":"Out of credits"}"#,
    )]);
    assert_eq!(
        failed(&v.call("email-finder", bill).await),
        "quota_exhausted"
    );

    assert_faults(
        "leadmagic",
        "email-finder",
        bill,
        Reply::fixture(200, "leadmagic.email-finder.200.json"),
    )
    .await;
}

#[tokio::test]
async fn leadmagic_mobile_finder() {
    let who = &[("person.linkedin_url", "https://www.linkedin.com/in/someone")];
    let v = Vendor::start("leadmagic").await;
    v.replay
        .script([Reply::fixture(200, "leadmagic.mobile-finder.200.json")]);
    let r = v.call("mobile-finder", who).await;
    assert_eq!(field(&r, "person.phone").0, json!("+1234567890"));
    assert_eq!(
        r.entry.credits, 1.0,
        "the vendor's credits_consumed wins over the model's 5"
    );
    assert_shape(
        &v.only_request(),
        "POST",
        "/v1/people/mobile-finder",
        AuthAt::Header("x-api-key", ""),
        &[],
        &[("/profile_url", json!("https://www.linkedin.com/in/someone"))],
    );

    let v = Vendor::start("leadmagic").await;
    v.replay.script([Reply::fixture(
        200,
        "leadmagic.mobile-finder.not-found.constructed.json",
    )]);
    assert_not_found(&v.call("mobile-finder", who).await);
}

#[tokio::test]
async fn prospeo_enrich_person() {
    let eoghan = &[
        ("person.first_name", "Eoghan"),
        ("person.last_name", "Mccabe"),
        ("company.domain", "intercom.com"),
    ];
    let v = Vendor::start("prospeo").await;
    v.replay.script([Reply::fixture(
        200,
        "prospeo.enrich-person.200.constructed.json",
    )]);
    let r = v.call("enrich-person", eoghan).await;
    assert_eq!(
        field(&r, "person.email"),
        (json!("eoghan@intercom.com"), 0.95)
    );
    assert_eq!(
        field(&r, "person.seniority").0,
        json!("c_suite"),
        "picked from the current job"
    );
    assert_eq!(field(&r, "company.employee_count").0, json!(1200));
    assert_eq!(field(&r, "company.revenue_band").0, json!("$100M-$250M"));
    assert_eq!(r.entry.credits, 1.0);
    assert_shape(
        &v.only_request(),
        "POST",
        "/enrich-person",
        AuthAt::Header("x-key", ""),
        &[],
        &[
            ("/data/first_name", json!("Eoghan")),
            ("/data/last_name", json!("Mccabe")),
            ("/data/company_website", json!("intercom.com")),
            ("/only_verified_email", json!(true)),
        ],
    );

    // NO_MATCH arrives as HTTP 400 with the code in the body.
    let v = Vendor::start("prospeo").await;
    v.replay.script([Reply::fixture(
        400,
        "prospeo.enrich-person.no-match.constructed.json",
    )]);
    assert_not_found(&v.call("enrich-person", eoghan).await);

    // RATE_LIMITED as 429 with the code in the body: retried.
    let v = Vendor::start("prospeo").await;
    v.replay.script([
        Reply::fixture(429, "prospeo.rate-limited.constructed.json"),
        Reply::fixture(200, "prospeo.enrich-person.200.constructed.json"),
    ]);
    let r = v.call("enrich-person", eoghan).await;
    assert_eq!(r.entry.throttled, 1);
    assert_eq!(field(&r, "person.email").0, json!("eoghan@intercom.com"));

    // INSUFFICIENT_CREDITS is a 400 too: quota, not a bad request.
    let v = Vendor::start("prospeo").await;
    v.replay.script([Reply::text(
        400,
        "application/json",
        r#"{"error":true,"error_code":"INSUFFICIENT_CREDITS"}"#,
    )]);
    assert_eq!(
        failed(&v.call("enrich-person", eoghan).await),
        "quota_exhausted"
    );

    assert_faults(
        "prospeo",
        "enrich-person",
        eoghan,
        Reply::fixture(200, "prospeo.enrich-person.200.constructed.json"),
    )
    .await;
}
