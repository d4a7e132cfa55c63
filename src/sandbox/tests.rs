// Tests read small sandbox answers whole; the cap matters for vendors, not for our own test server.
#![allow(clippy::disallowed_methods)]

//! End-to-end tests over real sockets: every vendor's shapes, billing, faults and
//! the control endpoints. Synchronisation is by awaiting responses, never sleeping.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::catalog::Vendor;
use super::rng::stable_unit;
use super::{peoplematch, serve, Person, Sandbox, SandboxSettings, VendorSettings, API_KEYS};

const SEED: u64 = 42;

struct Harness {
    base: String,
    sandbox: Sandbox,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// A reply reduced to what the assertions need.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn start_with(settings: SandboxSettings) -> Harness {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = Sandbox::new(settings);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, sandbox.clone(), async {
        let _ = stopped.await;
    }));
    Harness {
        base,
        sandbox,
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

async fn start() -> Harness {
    start_with(SandboxSettings {
        seed: SEED,
        companies: 120,
        people: 600,
        ..Default::default()
    })
    .await
}

fn key(vendor: &str) -> &'static str {
    API_KEYS
        .iter()
        .find(|(v, _)| *v == vendor)
        .map(|(_, k)| *k)
        .unwrap()
}

impl Harness {
    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn mailfinder(&self, api_key: &str, first: &str, last: &str, domain: &str) -> Reply {
        let q = [
            ("first_name", first),
            ("last_name", last),
            ("domain", domain),
            ("api_key", api_key),
        ];
        self.send(
            self.client
                .get(self.url("/mailfinder/v2/email-finder"))
                .query(&q),
        )
        .await
    }

    async fn personapi(&self, api_key: &str, query: &[(&str, &str)]) -> Reply {
        let request = self
            .client
            .get(self.url("/personapi/v5/person/enrich"))
            .query(query);
        self.send(request.header("X-Api-Key", api_key)).await
    }

    async fn peoplematch(&self, api_key: &str, query: &[(&str, &str)]) -> Reply {
        let request = self
            .client
            .post(self.url("/peoplematch/api/v1/people/match"))
            .query(query);
        self.send(request.header("x-api-key", api_key)).await
    }

    async fn companyapi(&self, api_key: &str, path: &str, query: &[(&str, &str)]) -> Reply {
        let request = self
            .client
            .get(self.url(path))
            .query(query)
            .bearer_auth(api_key);
        self.send(request).await
    }

    async fn verify(&self, api_key: &str, email: &str) -> Reply {
        let q = [("api_key", api_key), ("email", email)];
        self.send(self.client.get(self.url("/verifier/v2/validate")).query(&q))
            .await
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        self.send(request).await
    }

    async fn set_faults(&self, vendor: &str, settings: Value) {
        let path = format!("/_sandbox/vendors/{vendor}");
        let reply = self
            .control(reqwest::Method::PUT, &path, Some(settings))
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }

    fn counters(&self, vendor: &str) -> super::VendorCounters {
        self.sandbox.counters().remove(vendor).unwrap()
    }

    /// First person matching `pick` (the world is fixed by the seed, so is this).
    fn person(&self, pick: impl Fn(&Person) -> bool) -> Person {
        self.sandbox
            .world()
            .people
            .iter()
            .find(|p| pick(p))
            .cloned()
            .expect("no such person")
    }

    fn domain_of(&self, p: &Person) -> String {
        self.sandbox.world().company_of(p).domain.clone()
    }

    fn catch_all(&self, p: &Person) -> bool {
        self.sandbox.world().company_of(p).catch_all
    }
}

fn known(vendor: Vendor, p: &Person) -> bool {
    vendor.knows(SEED, &p.id)
}

/// Whether the verifier would answer "unknown" for this address.
fn greylisted(address: &str) -> bool {
    stable_unit(SEED, &["verifier", "unknown", address]) < 0.03
}

#[tokio::test]
async fn mailfinder_found_not_found_bad_params_and_bad_key() {
    let h = start().await;
    let k = key("mailfinder");
    let p = h.person(|p| known(Vendor::Mailfinder, p));
    let reply = h
        .mailfinder(
            k,
            &p.first_name.to_uppercase(),
            &p.last_name,
            &h.domain_of(&p),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let data = &reply.json()["data"];
    assert_eq!(data["email"], p.email.as_str());
    assert_eq!(data["position"], p.title.as_str());
    assert_eq!(data["linkedin_url"], p.linkedin_url.as_str());
    assert!(data["phone_number"].is_null());
    assert!((70..=99).contains(&data["score"].as_u64().unwrap()));
    assert_eq!(data["accept_all"], h.catch_all(&p));
    let expected_status = if h.catch_all(&p) {
        "accept_all"
    } else {
        "valid"
    };
    assert_eq!(data["verification"]["status"], expected_status);
    assert_eq!(
        reply.json()["meta"]["params"]["domain"],
        h.domain_of(&p).as_str()
    );

    let unknown = h.person(|p| !known(Vendor::Mailfinder, p));
    let reply = h
        .mailfinder(
            k,
            &unknown.first_name,
            &unknown.last_name,
            &h.domain_of(&unknown),
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"errors":[{"id":"not_found","code":404,"details":"No email found for this person"}]})
    );
    let reply = h.mailfinder(k, "Nobody", "Atall", "nowhere.example").await;
    assert_eq!(reply.status, 404);

    let reply = h
        .send(
            h.client.get(
                h.url("/mailfinder/v2/email-finder?api_key=sandbox-mailfinder-key&first_name=A"),
            ),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["errors"][0]["id"], "wrong_params");

    let reply = h
        .mailfinder("wrong-key", &p.first_name, &p.last_name, &h.domain_of(&p))
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({"errors":[{"id":"authentication_failed","code":401,
            "details":"No user found for the API key supplied"}]})
    );

    let c = h.counters("mailfinder");
    assert_eq!(
        (c.requests, c.hits, c.misses, c.errors, c.rate_limited),
        (5, 1, 2, 2, 0)
    );
    assert_eq!(c.credits_billed, 1.0);
}

#[tokio::test]
async fn personapi_matches_by_email_profile_and_name() {
    let h = start().await;
    let k = key("personapi");
    let p = h.person(|p| known(Vendor::PersonApi, p));
    let company = h.sandbox.world().company_of(&p).clone();

    let reply = h.personapi(k, &[("email", &p.email)]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-call-credits-spent"), Some("1"));
    assert_eq!(
        reply.header("x-ratelimit-remaining"),
        None,
        "no limit configured"
    );
    let body = reply.json();
    assert_eq!(body["status"], 200);
    assert!((8..=10).contains(&body["likelihood"].as_u64().unwrap()));
    let data = &body["data"];
    assert_eq!(data["work_email"], p.email.as_str());
    assert_eq!(data["first_name"], p.first_name.to_lowercase());
    assert_eq!(data["job_title"], p.title.to_lowercase());
    assert_eq!(data["job_title_role"], p.department.as_str());
    assert_eq!(data["job_company_website"], company.domain.as_str());
    assert_eq!(
        data["job_company_size"],
        super::employee_range(company.employee_count)
    );
    assert!(data["linkedin_url"]
        .as_str()
        .unwrap()
        .starts_with("linkedin.com/in/"));
    assert!(data["mobile_phone"].is_null() || data["mobile_phone"] == p.phone.as_str());

    let reply = h.personapi(k, &[("profile", &p.linkedin_url)]).await;
    assert_eq!(reply.json()["data"]["work_email"], p.email.as_str());
    let by_name = [
        ("first_name", p.first_name.as_str()),
        ("last_name", &p.last_name),
        ("company", &company.name),
    ];
    let reply = h.personapi(k, &by_name).await;
    assert_eq!(reply.status, 200);
    assert!((6..=8).contains(&reply.json()["likelihood"].as_u64().unwrap()));

    let unknown = h.person(|p| !known(Vendor::PersonApi, p));
    let reply = h.personapi(k, &[("email", &unknown.email)]).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"status":404,"error":{"type":"not_found","message":"No records were found matching your request"}})
    );
    assert_eq!(reply.header("x-call-credits-spent"), None);

    let reply = h.personapi(k, &[("company", "x")]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error");
    let reply = h.personapi("nope", &[("email", &p.email)]).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["type"], "authentication_error");

    let c = h.counters("personapi");
    assert_eq!((c.requests, c.hits, c.misses, c.errors), (6, 3, 1, 2));
    assert_eq!(c.credits_billed, 3.0);
}

#[tokio::test]
async fn mobile_phone_is_present_for_about_half_the_hits() {
    let h = start().await;
    let world = h.sandbox.world();
    let hits: Vec<&Person> = world
        .people
        .iter()
        .filter(|p| known(Vendor::PersonApi, p))
        .take(40)
        .collect();
    let mut with_mobile = 0;
    for p in &hits {
        let reply = h.personapi(key("personapi"), &[("email", &p.email)]).await;
        if !reply.json()["data"]["mobile_phone"].is_null() {
            with_mobile += 1;
        }
    }
    assert!((8..=32).contains(&with_mobile), "{with_mobile} of 40");
}

#[tokio::test]
async fn peoplematch_returns_people_nulls_and_some_wrong_emails() {
    let h = start().await;
    let k = key("peoplematch");
    let right =
        h.person(|p| known(Vendor::PeopleMatch, p) && !peoplematch::gives_wrong_email(SEED, p));
    let domain = h.domain_of(&right);
    let query = [
        ("first_name", right.first_name.as_str()),
        ("last_name", &right.last_name),
        ("domain", &domain),
    ];
    let reply = h.peoplematch(k, &query).await;
    assert_eq!(reply.status, 200);
    let person = &reply.json()["person"];
    assert_eq!(person["email"], right.email.as_str());
    assert_eq!(person["email_status"], "verified");
    assert_eq!(person["seniority"], right.seniority.as_str());
    assert_eq!(person["departments"], json!([right.department]));
    assert_eq!(person["organization"]["primary_domain"], domain.as_str());
    let history = person["employment_history"].as_array().unwrap();
    let current: Vec<_> = history.iter().filter(|e| e["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["title"], right.title.as_str());

    let reply = h
        .peoplematch(k, &[("linkedin_url", &right.linkedin_url)])
        .await;
    assert_eq!(reply.json()["person"]["email"], right.email.as_str());

    let unknown = h.person(|p| !known(Vendor::PeopleMatch, p));
    let reply = h.peoplematch(k, &[("email", &unknown.email)]).await;
    assert_eq!((reply.status, reply.json()), (200, json!({"person": null})));

    // The wrong answers: right domain, another pattern, "guessed", and the verifier
    // rejects them (unless it happens to greylist that address or the domain is catch-all).
    let world = h.sandbox.world();
    let liars: Vec<&Person> = world
        .people
        .iter()
        .filter(|p| peoplematch::gives_wrong_email(SEED, p) && !world.company_of(p).catch_all)
        .collect();
    let rate = liars.len() as f64 / world.people.len() as f64;
    assert!((0.02..0.10).contains(&rate), "wrong-email rate {rate}");
    let liar = liars
        .iter()
        .find(|p| !greylisted(&peoplematch::wrong_email(world, p)))
        .expect("some liar");
    let reply = h
        .peoplematch(k, &[("linkedin_url", &liar.linkedin_url)])
        .await;
    let person = &reply.json()["person"];
    assert_eq!(person["email_status"], "guessed");
    let wrong = person["email"].as_str().unwrap().to_string();
    assert_ne!(wrong, liar.email);
    assert!(wrong.ends_with(&format!("@{}", h.domain_of(liar))));
    let verdict = h.verify(key("verifier"), &wrong).await.json();
    assert_eq!(
        (verdict["status"].as_str(), verdict["sub_status"].as_str()),
        (Some("invalid"), Some("mailbox_not_found"))
    );
    // Asked by email, it echoes the true address.
    let reply = h.peoplematch(k, &[("email", &liar.email)]).await;
    assert_eq!(reply.json()["person"]["email"], liar.email.as_str());

    let reply = h.peoplematch(k, &[("first_name", "Only")]).await;
    assert_eq!(reply.status, 422);
    assert!(reply.json()["error"].is_string());
    let reply = h.peoplematch("bad", &[("email", &right.email)]).await;
    assert_eq!(reply.status, 401);

    let c = h.counters("peoplematch");
    assert_eq!((c.requests, c.hits, c.misses, c.errors), (7, 4, 1, 2));
    assert_eq!(c.credits_billed, 4.0);
}

#[tokio::test]
async fn peoplematch_accepts_a_json_body_too() {
    let h = start().await;
    let p = h.person(|p| known(Vendor::PeopleMatch, p));
    let request = h
        .client
        .post(h.url("/peoplematch/api/v1/people/match"))
        .header("x-api-key", key("peoplematch"))
        .header("content-type", "application/json")
        .body(json!({"linkedin_url": p.linkedin_url}).to_string());
    let reply = h.send(request).await;
    assert_eq!(
        reply.json()["person"]["id"].as_str().map(str::len),
        Some(24)
    );
}

#[tokio::test]
async fn companyapi_find_and_free_name_to_domain() {
    let h = start().await;
    let k = key("companyapi");
    let world = h.sandbox.world();
    let known_company = world
        .companies
        .iter()
        .find(|c| Vendor::CompanyApi.knows(SEED, &c.id))
        .unwrap();
    let unknown_company = world
        .companies
        .iter()
        .find(|c| !Vendor::CompanyApi.knows(SEED, &c.id))
        .unwrap();

    let domain_url = format!("https://www.{}/", known_company.domain);
    let reply = h
        .companyapi(
            k,
            "/companyapi/v2/companies/find",
            &[("domain", &domain_url)],
        )
        .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["domain"], known_company.domain.as_str());
    assert_eq!(
        body["category"]["industry"],
        known_company.industry.as_str()
    );
    assert_eq!(body["metrics"]["employees"], known_company.employee_count);
    assert_eq!(
        body["metrics"]["estimatedAnnualRevenue"],
        known_company.revenue_band.as_str()
    );
    assert_eq!(body["geo"]["countryCode"], known_company.country.as_str());
    assert_eq!(
        body["geo"]["country"],
        super::country_name(&known_company.country)
    );
    assert_eq!(body["tech"], json!(known_company.tech));

    let reply = h
        .companyapi(
            k,
            "/companyapi/v2/companies/find",
            &[("domain", &unknown_company.domain)],
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["type"], "unknown_record");

    let name = known_company.name.to_lowercase();
    let reply = h
        .companyapi(k, "/companyapi/v1/domains/find", &[("name", &name)])
        .await;
    assert_eq!(
        reply.json(),
        json!({"name": known_company.name, "domain": known_company.domain, "logo": null})
    );
    let reply = h
        .companyapi(k, "/companyapi/v1/domains/find", &[("name", "No Such Co")])
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["type"], "unknown_record");

    let reply = h
        .companyapi(
            "bad",
            "/companyapi/v2/companies/find",
            &[("domain", &known_company.domain)],
        )
        .await;
    assert_eq!(reply.status, 401);
    let reply = h
        .send(
            h.client
                .get(h.url("/companyapi/v2/companies/find?domain=x.com")),
        )
        .await;
    assert_eq!(reply.status, 401, "missing Authorization header");

    let c = h.counters("companyapi");
    assert_eq!((c.requests, c.hits, c.misses, c.errors), (6, 2, 2, 2));
    assert_eq!(c.credits_billed, 1.0, "domains/find is free");
}

#[tokio::test]
async fn verifier_statuses_and_billing() {
    let h = start().await;
    let k = key("verifier");
    let valid = h.person(|p| !h.catch_all(p) && !greylisted(&p.email));
    let reply = h.verify(k, &valid.email.to_uppercase()).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["address"], valid.email.as_str());
    assert_eq!(
        (body["status"].as_str(), body["sub_status"].as_str()),
        (Some("valid"), Some(""))
    );
    assert_eq!(body["free_email"], false);
    assert_eq!(body["mx_found"], "true");
    assert!(body["did_you_mean"].is_null());
    assert_eq!(body["domain"], h.domain_of(&valid).as_str());
    assert!(body["processed_at"].is_string());

    let at_catch_all = h.person(|p| h.catch_all(p));
    let address = format!("someone.else@{}", h.domain_of(&at_catch_all));
    if !greylisted(&address) {
        assert_eq!(h.verify(k, &address).await.json()["status"], "catch-all");
    }
    let invalid = format!("not.a.person@{}", h.domain_of(&valid));
    assert!(!greylisted(&invalid), "pick another probe address");
    let body = h.verify(k, &invalid).await.json();
    assert_eq!(
        (body["status"].as_str(), body["sub_status"].as_str()),
        (Some("invalid"), Some("mailbox_not_found"))
    );
    let body = h.verify(k, "someone@unknown-domain.example").await.json();
    assert_eq!(
        (body["status"].as_str(), body["sub_status"].as_str()),
        (Some("invalid"), Some("no_dns_entries"))
    );
    assert_eq!(body["mx_found"], "false");

    // An address the verifier greylists: "unknown", and free.
    let domain = h.domain_of(&valid);
    let grey = (0..1000)
        .map(|i| format!("probe{i}@{domain}"))
        .find(|a| greylisted(a))
        .unwrap();
    let body = h.verify(k, &grey).await.json();
    assert_eq!(
        (body["status"].as_str(), body["sub_status"].as_str()),
        (Some("unknown"), Some("greylisted"))
    );

    let reply = h.verify("bad", &valid.email).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"error": "Invalid API Key or your account ran out of credits"})
    );

    let c = h.counters("verifier");
    let catch_all_checked = u64::from(!greylisted(&address));
    assert_eq!(c.requests, 5 + catch_all_checked);
    assert_eq!((c.hits, c.misses, c.errors), (3 + catch_all_checked, 1, 1));
    assert_eq!(c.credits_billed, c.hits as f64);
}

#[tokio::test]
async fn rate_limit_gives_429_with_retry_after() {
    let h = start().await;
    h.set_faults("personapi", json!({"rate_limit_per_sec": 1}))
        .await;
    let p = h.person(|p| known(Vendor::PersonApi, p));
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..5 {
        let reply = h.personapi(key("personapi"), &[("email", &p.email)]).await;
        statuses.push(reply.status);
        if reply.status == 429 {
            limited = Some(reply);
        } else {
            assert!(reply.header("x-ratelimit-remaining").is_some());
        }
    }
    // Capacity is max(2, rate / 5) = 2: the first two pass; five within a second cannot.
    assert_eq!(&statuses[..2], &[200, 200]);
    let limited = limited.expect("no 429 among five requests at 1/s");
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.json()["error"]["type"], "rate_limit_error");
    let c = h.counters("personapi");
    let count_429 = statuses.iter().filter(|s| **s == 429).count() as u64;
    assert_eq!(c.rate_limited, count_429);
    assert_eq!(
        c.credits_billed,
        (5 - count_429) as f64,
        "429s are never billed"
    );
    assert_eq!(c.requests, 5);
}

#[tokio::test]
async fn outage_window_answers_503_until_lifted() {
    let h = start_with(SandboxSettings {
        seed: SEED,
        companies: 20,
        people: 50,
        vendors: [(
            "verifier".to_string(),
            VendorSettings {
                outage: Some((0, u64::MAX)),
                ..Default::default()
            },
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    })
    .await;
    let reply = h.verify(key("verifier"), "a@b.com").await;
    assert_eq!(
        (reply.status, reply.json()),
        (503, json!({"message": "service unavailable"}))
    );
    // Auth still comes first.
    assert!(h.verify("bad", "a@b.com").await.json()["error"].is_string());
    h.set_faults("verifier", json!({})).await;
    assert_eq!(
        h.verify(key("verifier"), "a@b.com").await.json()["status"],
        "invalid"
    );
    let c = h.counters("verifier");
    assert_eq!(
        (c.requests, c.errors, c.hits, c.credits_billed),
        (3, 2, 1, 1.0)
    );
}

#[tokio::test]
async fn scripted_responses_are_consumed_in_order() {
    let h = start().await;
    let script = json!([
        {"status": 500, "body": {"message": "boom"}},
        {"status": 429, "headers": {"retry-after": "3"}, "body": {"message": "slow down"}},
        {"status": 200, "body": "{\"data\": {\"email\": ", "raw": true},
        {"status": 200, "body": "just a string"},
    ]);
    let reply = h
        .control(
            reqwest::Method::POST,
            "/_sandbox/script/mailfinder",
            Some(script),
        )
        .await;
    assert_eq!((reply.status, reply.json()), (200, json!({"queued": 4})));
    let p = h.person(|p| known(Vendor::Mailfinder, p));
    let domain = h.domain_of(&p);
    let k = key("mailfinder");

    // A bad key does not consume a scripted response.
    assert_eq!(
        h.mailfinder("bad", &p.first_name, &p.last_name, &domain)
            .await
            .status,
        401
    );
    let first = h.mailfinder(k, &p.first_name, &p.last_name, &domain).await;
    assert_eq!(
        (first.status, first.json()),
        (500, json!({"message": "boom"}))
    );
    let second = h.mailfinder(k, &p.first_name, &p.last_name, &domain).await;
    assert_eq!(
        (second.status, second.header("retry-after")),
        (429, Some("3"))
    );
    let third = h.mailfinder(k, &p.first_name, &p.last_name, &domain).await;
    assert_eq!(third.status, 200);
    assert_eq!(&third.body[..], b"{\"data\": {\"email\": ");
    assert!(serde_json::from_slice::<Value>(&third.body).is_err());
    let fourth = h.mailfinder(k, &p.first_name, &p.last_name, &domain).await;
    assert_eq!(
        &fourth.body[..],
        b"\"just a string\"",
        "non-raw strings are JSON-encoded"
    );
    let normal = h.mailfinder(k, &p.first_name, &p.last_name, &domain).await;
    assert_eq!(normal.json()["data"]["email"], p.email.as_str());

    let c = h.counters("mailfinder");
    assert_eq!((c.requests, c.errors, c.rate_limited, c.hits), (6, 2, 1, 3));
    assert_eq!(
        c.credits_billed, 1.0,
        "scripted responses bill nothing unless told to"
    );

    let bad = json!([{"status": 1000}]);
    let reply = h
        .control(
            reqwest::Method::POST,
            "/_sandbox/script/mailfinder",
            Some(bad),
        )
        .await;
    assert_eq!(reply.status, 400);
    let reply = h
        .control(
            reqwest::Method::POST,
            "/_sandbox/script/nosuch",
            Some(json!([])),
        )
        .await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn malformed_error_and_timeout_faults() {
    let h = start().await;
    let p = h.person(|p| known(Vendor::CompanyApi, p));
    let domain = h.domain_of(&p);
    let k = key("companyapi");
    let find = "/companyapi/v2/companies/find";

    h.set_faults("companyapi", json!({"malformed_rate": 1.0}))
        .await;
    let reply = h.companyapi(k, find, &[("domain", &domain)]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());

    h.set_faults("companyapi", json!({"error_rate": 1.0})).await;
    let reply = h.companyapi(k, find, &[("domain", &domain)]).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"]["type"], "server_error");

    h.set_faults("companyapi", json!({"timeout_rate": 1.0}))
        .await;
    let request = h
        .client
        .get(h.url(find))
        .query(&[("domain", &domain)])
        .bearer_auth(k)
        .timeout(Duration::from_millis(300));
    let err = request
        .send()
        .await
        .expect_err("should hang past the client timeout");
    assert!(err.is_timeout());

    let c = h.counters("companyapi");
    assert_eq!(
        (c.requests, c.errors, c.hits, c.credits_billed),
        (3, 3, 0, 0.0)
    );
}

#[tokio::test]
async fn fault_draws_are_deterministic_per_request_sequence() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let h = start().await;
        h.set_faults("verifier", json!({"error_rate": 0.5})).await;
        let mut statuses = Vec::new();
        for i in 0..24 {
            statuses.push(
                h.verify(key("verifier"), &format!("x{i}@example.com"))
                    .await
                    .status,
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&500) && runs[0].contains(&200));
}

#[tokio::test]
async fn control_endpoints() {
    let h = start().await;
    let reply = h
        .control(reqwest::Method::GET, "/_sandbox/healthz", None)
        .await;
    assert_eq!((reply.status, &reply.body[..]), (200, &b"ok"[..]));

    h.verify(key("verifier"), "a@b.com").await;
    h.verify(key("verifier"), "c@d.com").await;
    let counters = h
        .control(reqwest::Method::GET, "/_sandbox/counters", None)
        .await
        .json();
    let ids: Vec<&str> = counters
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        ids,
        [
            "companyapi",
            "mailfinder",
            "peoplematch",
            "personapi",
            "verifier"
        ]
    );
    assert_eq!(counters["verifier"]["requests"], 2);
    assert_eq!(counters["verifier"]["credits_billed"], 2.0);

    let timeline = h
        .control(reqwest::Method::GET, "/_sandbox/timeline/verifier", None)
        .await
        .json();
    let times = timeline.as_array().unwrap();
    assert_eq!(times.len(), 2);
    assert!(times[0].as_u64() <= times[1].as_u64());

    let settings = h
        .control(reqwest::Method::GET, "/_sandbox/vendors/verifier", None)
        .await
        .json();
    assert_eq!(settings["rate_limit_per_sec"], Value::Null);
    h.set_faults("verifier", json!({"latency_ms": 5, "outage": [10, 20]}))
        .await;
    let settings = h
        .control(reqwest::Method::GET, "/_sandbox/vendors/verifier", None)
        .await
        .json();
    assert_eq!(
        (settings["latency_ms"].as_u64(), &settings["outage"]),
        (Some(5), &json!([10, 20]))
    );
    let reply = h
        .control(
            reqwest::Method::PUT,
            "/_sandbox/vendors/verifier",
            Some(json!({"latency_ms": "x"})),
        )
        .await;
    assert_eq!(reply.status, 400);

    let reply = h
        .control(reqwest::Method::POST, "/_sandbox/reset", None)
        .await;
    assert_eq!(reply.status, 200);
    assert!(h
        .sandbox
        .counters()
        .values()
        .all(|c| *c == super::VendorCounters::default()));
    let timeline = h
        .control(reqwest::Method::GET, "/_sandbox/timeline/verifier", None)
        .await
        .json();
    assert_eq!(timeline, json!([]));
    let reply = h
        .control(reqwest::Method::GET, "/_sandbox/timeline/nosuch", None)
        .await;
    assert_eq!(reply.status, 404);
}

#[test]
fn settings_default_from_empty_json() {
    let s: SandboxSettings = serde_json::from_str("{}").unwrap();
    assert_eq!(
        (s.seed, s.companies, s.people, s.vendors.len()),
        (42, 400, 2000, 0)
    );
    let s: SandboxSettings =
        serde_json::from_str(r#"{"seed": 7, "vendors": {"mailfinder": {"error_rate": 0.1}}}"#)
            .unwrap();
    assert_eq!(s.vendors["mailfinder"].error_rate, 0.1);
    assert_eq!(s.people, 2000);
}
