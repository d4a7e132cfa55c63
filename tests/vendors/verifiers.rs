//! Email verifiers: ZeroBounce, NeverBounce, Hunter's verifier, LeadMagic validation.

use super::replay::Reply;
use super::*;
use leadfall::provider::Verdict;

fn verdict(r: &leadfall::executor::CallResult) -> Verdict {
    match &r.outcome {
        leadfall::executor::CallOutcome::Hit(ex) => ex.verdict.expect("a verdict"),
        other => panic!("expected a verdict, got {other:?}"),
    }
}

fn with_status(name: &str, field: &str, value: &str) -> Reply {
    let mut v: serde_json::Value = serde_json::from_slice(&replay::fixture_bytes(name)).unwrap();
    *v.pointer_mut(field).unwrap() = serde_json::Value::String(value.into());
    Reply::text(200, "application/json", &v.to_string())
}

const JILL: &[(&str, &str)] = &[("person.email", "flowerjill@aol.com")];

#[tokio::test]
async fn zerobounce_validate() {
    let v = Vendor::start("zerobounce").await;
    v.replay
        .script([Reply::fixture(200, "zerobounce.validate.200.json")]);
    let r = v.call("validate", JILL).await;
    assert_eq!(verdict(&r), Verdict::Valid);
    assert_eq!(r.entry.credits, 1.0);
    assert_shape(
        &v.only_request(),
        "GET",
        "/v2/validate",
        AuthAt::Query("api_key"),
        &[("email", "flowerjill@aol.com")],
        &[],
    );
    for (status, expected, credits) in [
        ("catch-all", Verdict::CatchAll, 1.0),
        ("spamtrap", Verdict::Invalid, 1.0),
        ("unknown", Verdict::Unknown, 0.0),
    ] {
        let v = Vendor::start("zerobounce").await;
        v.replay.script([with_status(
            "zerobounce.validate.200.json",
            "/status",
            status,
        )]);
        let r = v.call("validate", JILL).await;
        assert_eq!(verdict(&r), expected, "{status}");
        assert_eq!(
            r.entry.credits, credits,
            "{status}: `unknown` is not charged"
        );
    }
    // 403 is ZeroBounce's temporary shield: wait and retry, not an auth error.
    let v = Vendor::start("zerobounce").await;
    v.replay.script([
        Reply::text(403, "text/html", "API Shield"),
        Reply::fixture(200, "zerobounce.validate.200.json"),
    ]);
    let r = v.call("validate", JILL).await;
    assert_eq!(r.entry.throttled, 1);
    assert_eq!(verdict(&r), Verdict::Valid);
    // A bad key: 200 with an `error` message.
    let v = Vendor::start("zerobounce").await;
    v.replay.script([Reply::text(
        200,
        "application/json",
        r#"{"error":"Invalid API key or your account ran out of credits"}"#,
    )]);
    assert_eq!(failed(&v.call("validate", JILL).await), "auth_error");

    let v = Vendor::start("zerobounce").await;
    v.replay.script([
        Reply::text(429, "text/plain", "Too Many Requests"),
        Reply::fixture(200, "zerobounce.validate.200.json"),
    ]);
    assert_eq!(v.call("validate", JILL).await.entry.throttled, 1);

    assert_faults(
        "zerobounce",
        "validate",
        JILL,
        Reply::fixture(200, "zerobounce.validate.200.json"),
    )
    .await;
}

#[tokio::test]
async fn neverbounce_single_check() {
    let v = Vendor::start("neverbounce").await;
    v.replay.script([Reply::fixture(
        200,
        "neverbounce.single-check.200-credits-info.json",
    )]);
    let r = v.call("single-check", JILL).await;
    assert_eq!(verdict(&r), Verdict::Valid);
    let billed: serde_json::Value = serde_json::from_slice(&replay::fixture_bytes(
        "neverbounce.single-check.200-credits-info.json",
    ))
    .unwrap();
    assert_eq!(
        Some(r.entry.credits),
        billed
            .pointer("/credits_info/paid_credits_used")
            .and_then(|v| v.as_f64()),
        "the vendor's credits_info wins"
    );
    assert_shape(
        &v.only_request(),
        "GET",
        "/v4.2/single/check",
        AuthAt::Query("key"),
        &[("email", "flowerjill@aol.com"), ("credits_info", "1")],
        &[],
    );
    let v = Vendor::start("neverbounce").await;
    v.replay.script([with_status(
        "neverbounce.single-check.200.json",
        "/result",
        "catchall",
    )]);
    assert_eq!(
        verdict(&v.call("single-check", JILL).await),
        Verdict::CatchAll
    );

    // Errors are HTTP 200 with a `status`: throttling is retried...
    let v = Vendor::start("neverbounce").await;
    v.replay.script([
        Reply::fixture(200, "neverbounce.throttled.constructed.json"),
        Reply::fixture(200, "neverbounce.single-check.200.json"),
    ]);
    let r = v.call("single-check", JILL).await;
    assert_eq!(r.entry.throttled, 1);
    assert_eq!(verdict(&r), Verdict::Valid);
    // ... a bad key is an auth error, any other failure a provider error.
    for (status, kind) in [
        ("auth_failure", "auth_error"),
        ("general_failure", "permanent"),
    ] {
        let v = Vendor::start("neverbounce").await;
        v.replay.script([Reply::text(
            200,
            "application/json",
            &format!(r#"{{"status":"{status}","message":"x","execution_time":1}}"#),
        )]);
        assert_eq!(
            failed(&v.call("single-check", JILL).await),
            kind,
            "{status}"
        );
    }

    assert_faults(
        "neverbounce",
        "single-check",
        JILL,
        Reply::fixture(200, "neverbounce.single-check.200.json"),
    )
    .await;
}

#[tokio::test]
async fn hunter_email_verifier() {
    // 202: the SMTP check is still running; the same request is repeated.
    let v = Vendor::start("hunter").await;
    v.replay.script([
        Reply::text(202, "application/json", r#"{"data":{"status":null}}"#),
        Reply::fixture(200, "hunter.email-verifier.200.json"),
    ]);
    let r = v.call("email-verifier", JILL).await;
    // The fixture's `/data/status` is "valid": one credit, the 202 is free.
    assert_eq!(verdict(&r), Verdict::Valid);
    assert_eq!(r.entry.credits, 1.0);
    let seen = v.replay.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].query("email"), seen[1].query("email"));
    assert_shape(
        &seen[1],
        "GET",
        "/v2/email-verifier",
        AuthAt::Query("api_key"),
        &[("email", "flowerjill@aol.com")],
        &[],
    );
    for (status, expected, credits) in [
        ("accept_all", Verdict::CatchAll, 1.0),
        ("disposable", Verdict::Invalid, 1.0),
        ("unknown", Verdict::Unknown, 0.0),
    ] {
        let v = Vendor::start("hunter").await;
        v.replay.script([with_status(
            "hunter.email-verifier.200.json",
            "/data/status",
            status,
        )]);
        let r = v.call("email-verifier", JILL).await;
        assert_eq!(verdict(&r), expected, "{status}");
        assert_eq!(r.entry.credits, credits, "{status}: `unknown` is free");
    }
}

#[tokio::test]
async fn leadmagic_email_validation() {
    let v = Vendor::start("leadmagic").await;
    v.replay
        .script([Reply::fixture(200, "leadmagic.email-validate.200.json")]);
    let r = v
        .call(
            "email-validation",
            &[("person.email", "jesse@leadmagic.io")],
        )
        .await;
    assert_eq!(verdict(&r), Verdict::Valid);
    assert_eq!(r.entry.credits, 0.05, "credits_consumed");
    assert_shape(
        &v.only_request(),
        "POST",
        "/v1/people/email-validation",
        AuthAt::Header("x-api-key", ""),
        &[],
        &[("/email", serde_json::json!("jesse@leadmagic.io"))],
    );
}
