//! Company data: Apollo organization enrich, PDL company enrich, BuiltWith,
//! LeadMagic company search.

use super::replay::Reply;
use super::*;
use serde_json::json;

#[tokio::test]
async fn apollo_organization_enrich() {
    let apollo = &[("company.domain", "apollo.io")];
    let v = Vendor::start("apollo").await;
    v.replay
        .script([Reply::fixture(200, "apollo.organizations-enrich.200.json")]);
    let r = v.call("organization-enrich", apollo).await;
    assert_eq!(field(&r, "company.employee_count").0, json!(1600));
    assert_eq!(field(&r, "company.revenue_band").0, json!("100M"));
    assert_eq!(
        field(&r, "company.industry").0,
        json!("information technology & services")
    );
    assert_shape(
        &v.only_request(),
        "GET",
        "/api/v1/organizations/enrich",
        AuthAt::Header("x-api-key", ""),
        &[("domain", "apollo.io")],
        &[],
    );

    let v = Vendor::start("apollo").await;
    v.replay
        .script([Reply::text(200, "application/json", "{}")]);
    assert_not_found(&v.call("organization-enrich", apollo).await);

    // 429 from the fixture, with retry-after.
    let v = Vendor::start("apollo").await;
    v.replay.script([
        Reply::fixture(429, "apollo.organizations-enrich.429.json").header("retry-after", "1"),
        Reply::fixture(200, "apollo.organizations-enrich.200.json"),
    ]);
    let r = v.call("organization-enrich", apollo).await;
    assert_eq!(r.entry.throttled, 1);
    assert_eq!(field(&r, "company.employee_count").0, json!(1600));

    // 422 (no identifying parameter) and 403 (key scope) from the fixtures.
    let v = Vendor::start("apollo").await;
    v.replay
        .script([Reply::fixture(422, "apollo.organizations-enrich.422.json")]);
    assert_eq!(
        failed(&v.call("organization-enrich", apollo).await),
        "permanent"
    );
    let v = Vendor::start("apollo").await;
    v.replay
        .script([Reply::fixture(403, "apollo.organizations-enrich.403.json")]);
    assert_eq!(
        failed(&v.call("organization-enrich", apollo).await),
        "auth_error"
    );
}

#[tokio::test]
async fn peopledatalabs_company_enrich() {
    let pdl = &[("company.name", "People Data Labs")];
    let v = Vendor::start("peopledatalabs").await;
    v.replay.script([
        Reply::fixture(200, "peopledatalabs.company-enrich.200.constructed.json")
            .header("x-call-credits-spent", "1"),
    ]);
    let r = v.call("company-enrich", pdl).await;
    assert_eq!(
        field(&r, "company.domain"),
        (json!("peopledatalabs.com"), 0.6)
    );
    assert_eq!(field(&r, "company.employee_count"), (json!(150), 0.6));
    assert_eq!(field(&r, "company.country").0, json!("united states"));
    assert_shape(
        &v.only_request(),
        "GET",
        "/v5/company/enrich",
        AuthAt::Header("x-api-key", ""),
        &[("name", "People Data Labs")],
        &[],
    );

    let v = Vendor::start("peopledatalabs").await;
    v.replay.script([Reply::fixture(
        404,
        "peopledatalabs.company-enrich.404.json",
    )]);
    assert_not_found(&v.call("company-enrich", pdl).await);
}

#[tokio::test]
async fn builtwith_domain_lookup() {
    let shop = &[("company.domain", "shopify.com")];
    let v = Vendor::start("builtwith").await;
    v.replay
        .script([Reply::fixture(200, "builtwith.domain-lookup.200.json")
            .header("X-API-CREDITS-USED", "1")]);
    let r = v.call("domain-lookup", shop).await;
    let (tech, conf) = field(&r, "company.tech_stack");
    // Collected over Paths × Technologies and de-duplicated.
    assert_eq!(
        tech,
        json!(["shopify", "google analytics 4", "cloudflare cdn"])
    );
    let v2 = Vendor::start("builtwith").await;
    let mut doubled: serde_json::Value =
        serde_json::from_slice(&replay::fixture_bytes("builtwith.domain-lookup.200.json")).unwrap();
    let paths = doubled
        .pointer_mut("/Results/0/Result/Paths")
        .unwrap()
        .as_array_mut()
        .unwrap();
    let mut sub = paths[0].clone();
    sub["SubDomain"] = json!("shop");
    paths.push(sub);
    v2.replay
        .script([Reply::text(200, "application/json", &doubled.to_string())]);
    let (tech2, _) = field(&v2.call("domain-lookup", shop).await, "company.tech_stack");
    assert_eq!(
        tech2, tech,
        "the same technology on two paths is listed once"
    );
    assert_eq!(conf, 0.9);
    assert_eq!(field(&r, "company.name").0, json!("Shopify Inc."));
    assert_eq!(r.entry.credits, 1.0);
    assert_shape(
        &v.only_request(),
        "GET",
        "/v22/api.json",
        AuthAt::Query("KEY"),
        &[("LOOKUP", "shopify.com"), ("NOPII", "yes")],
        &[],
    );

    // Errors inside HTTP 200: -8 invalid domain is not found; -3 is quota; -2 the key.
    let v = Vendor::start("builtwith").await;
    v.replay.script([Reply::fixture(
        200,
        "builtwith.domain-lookup.error.constructed.json",
    )]);
    assert_eq!(
        v.call("domain-lookup", shop).await.outcome,
        leadfall::executor::CallOutcome::NotFound
    );
    for (code, kind) in [
        (-3, "quota_exhausted"),
        (-2, "auth_error"),
        (-1, "permanent"),
    ] {
        let v = Vendor::start("builtwith").await;
        v.replay.script([Reply::text(
            200,
            "application/json",
            &format!(r#"{{"Errors":[{{"Code":{code},"Message":"x"}}],"Results":[]}}"#),
        )]);
        assert_eq!(
            failed(&v.call("domain-lookup", shop).await),
            kind,
            "code {code}"
        );
    }

    // 429: the wait is in the body (`retryAfterSeconds`), not a header.
    let v = Vendor::start("builtwith").await;
    v.replay.script([
        Reply::fixture(429, "builtwith.domain-lookup.429.json")
            .header("X-RATELIMIT-LIMIT-PERSECOND", "10")
            .header("X-RATELIMIT-CURRENT-PERSECOND", "11"),
        Reply::fixture(200, "builtwith.domain-lookup.200.json"),
    ]);
    let started = std::time::Instant::now();
    let r = v.call("domain-lookup", shop).await;
    assert_eq!(r.entry.throttled, 1);
    assert!(!hit(&r).is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retryAfterSeconds: 1 honoured"
    );

    assert_faults(
        "builtwith",
        "domain-lookup",
        shop,
        Reply::fixture(200, "builtwith.domain-lookup.200.json"),
    )
    .await;
}

#[tokio::test]
async fn leadmagic_company_search() {
    let lm = &[("company.domain", "leadmagic.io")];
    let v = Vendor::start("leadmagic").await;
    v.replay
        .script([Reply::fixture(200, "leadmagic.company-search.200.json")]);
    let r = v.call("company-search", lm).await;
    assert_eq!(field(&r, "company.employee_count").0, json!(9));
    assert_eq!(field(&r, "company.industry").0, json!("Internet"));
    assert_eq!(field(&r, "company.country").0, json!("US"));
    assert_shape(
        &v.only_request(),
        "POST",
        "/v1/companies/company-search",
        AuthAt::Header("x-api-key", ""),
        &[],
        &[("/company_domain", json!("leadmagic.io"))],
    );
}
