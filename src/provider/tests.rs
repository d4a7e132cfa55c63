use super::config::ProviderFile;
use super::*;
use crate::diag::ConfigError;
use crate::model::{Catalogue, Value};
use std::path::Path;

const HUNTER_LIKE: &str = r#"
id = "finder"
base_url = "https://api.example.com/v2"
[auth]
kind = "query"
name = "api_key"
env = "FINDER_KEY"
[cost]
per_hit = 1
[operations.email-finder]
path = "/email-finder"
requires = [["person.first_name", "person.last_name", "company.domain"]]
query = { first_name = "{person.first_name}", last_name = "{person.last_name}", domain = "{company.domain}", max_duration = "10" }
[[operations.email-finder.outcomes]]
status = [200]
pointer = "/data/email"
is_null = true
outcome = "not_found"
[[operations.email-finder.outcomes]]
status = [403]
outcome = "rate_limited"
[[operations.email-finder.provides]]
field = "person.email"
pointer = "/data/email"
confidence_pointer = "/data/score"
confidence_scale = 100
[[operations.email-finder.provides]]
field = "person.title"
pointer = "/data/position"
"#;

fn compile(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<Provider>, Vec<ConfigError>) {
    let raw: ProviderFile = toml::from_str(text).expect("parses");
    let mut errors = Vec::new();
    let p = compile_provider(
        Path::new("providers/x.toml"),
        raw,
        &Catalogue::standard(),
        env,
        &mut errors,
    );
    (p, errors)
}

fn key_env(name: &str) -> Option<String> {
    (name == "FINDER_KEY").then(|| "sekrit-123".to_string())
}

fn inputs(pairs: &[(&str, &str)]) -> Inputs {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), Value::Text(v.to_string())))
        .collect()
}

#[test]
fn builds_requests_with_the_key_in_the_query_and_redacts_it() {
    let (p, errors) = compile(HUNTER_LIKE, &key_env);
    assert!(errors.is_empty(), "{errors:?}");
    let p = p.unwrap();
    let op = &p.operations[0];
    let req = build_request(
        &p,
        op,
        &inputs(&[
            ("person.first_name", "Zoë"),
            ("person.last_name", "O'Neil"),
            ("company.domain", "acme.io"),
        ]),
    )
    .unwrap();
    let url = req.url.as_str();
    assert!(
        url.starts_with("https://api.example.com/v2/email-finder?"),
        "{url}"
    );
    assert!(url.contains("first_name=Zo%C3%AB"), "{url}");
    assert!(url.contains("api_key=sekrit-123"));
    let redacted = req.redacted_url();
    assert!(!redacted.contains("sekrit"), "{redacted}");
    assert!(
        redacted.contains("api_key=%5Bredacted%5D") && redacted.contains("first_name=Zo%C3%AB"),
        "{redacted}"
    );
    assert!(!format!("{req:?}").contains("sekrit"));
    assert!(
        !format!("{p:?}").contains("sekrit"),
        "Debug of a provider must not show the key"
    );
    assert!(matches!(
        build_request(&p, op, &inputs(&[("person.first_name", "A")])),
        Err(RequestError::MissingInput(id)) if id == "finder.email-finder"
    ));
    // A base URL changed after loading is the one used (not the URL parsed at load).
    let mut moved = p.clone();
    moved.base_url = "http://127.0.0.1:9/proxy".into();
    let all = inputs(&[
        ("person.first_name", "A"),
        ("person.last_name", "B"),
        ("company.domain", "c.io"),
    ]);
    let req = build_request(&moved, &moved.operations[0], &all).unwrap();
    assert!(
        req.url
            .as_str()
            .starts_with("http://127.0.0.1:9/proxy/email-finder?"),
        "{}",
        req.url
    );
}

#[test]
fn missing_key_disables_the_provider() {
    let (p, errors) = compile(HUNTER_LIKE, &|_| None);
    assert!(errors.is_empty());
    let p = p.unwrap();
    assert_eq!(p.missing_key_env.as_deref(), Some("FINDER_KEY"));
    let err = build_request(&p, &p.operations[0], &inputs(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "provider finder is disabled: environment variable FINDER_KEY is not set"
    );
}

#[test]
fn base_url_can_be_overridden_from_the_environment() {
    let env = |n: &str| match n {
        "LEADFALL_PROVIDER_FINDER_BASE_URL" => Some("http://127.0.0.1:9/proxy".to_string()),
        other => key_env(other),
    };
    let (p, _) = compile(HUNTER_LIKE, &env);
    assert_eq!(p.unwrap().base_url, "http://127.0.0.1:9/proxy");
}

#[test]
fn classifies_found_not_found_and_throttled() {
    let (p, _) = compile(HUNTER_LIKE, &key_env);
    let p = p.unwrap();
    let op = &p.operations[0];
    let cat = Catalogue::standard();
    let found = br#"{"data":{"email":"Patrick@Stripe.com","score":99,"position":"CEO"}}"#;
    match classify(op, &cat, 200, &[], found) {
        Outcome::Hit { extracted, credits } => {
            assert_eq!(credits, 1.0);
            assert_eq!(
                extracted.values[0],
                (
                    "person.email".into(),
                    Value::Text("patrick@stripe.com".into()),
                    0.99
                )
            );
            assert_eq!(extracted.values[1].1, Value::Text("CEO".into()));
        }
        other => panic!("{other:?}"),
    }
    let none = br#"{"data":{"email":null,"score":null,"position":null}}"#;
    assert_eq!(
        classify(op, &cat, 200, &[], none),
        Outcome::NotFound { credits: 0.0 }
    );
    assert_eq!(
        classify(op, &cat, 403, &[], b"{}"),
        Outcome::RateLimited(None)
    );
    let ra = vec![("Retry-After".to_string(), "2".to_string())];
    assert_eq!(
        classify(op, &cat, 429, &ra, b""),
        Outcome::RateLimited(Some(std::time::Duration::from_secs(2)))
    );
    assert_eq!(
        classify(op, &cat, 404, &[], b"{}"),
        Outcome::NotFound { credits: 0.0 }
    );
    assert!(matches!(
        classify(op, &cat, 503, &[], b"oops"),
        Outcome::Transient(_)
    ));
    assert!(matches!(
        classify(op, &cat, 401, &[], b"{}"),
        Outcome::AuthError(_)
    ));
    assert!(matches!(
        classify(op, &cat, 400, &[], b"{}"),
        Outcome::Permanent(_)
    ));
    match classify(op, &cat, 200, &[], br#"{"data":{"email":"a@b.co"#) {
        Outcome::Permanent(m) => assert!(m.contains("malformed JSON"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn picks_collects_maps_and_categorical_confidence() {
    let text = r#"
id = "db"
base_url = "https://db.example.com"
[operations.match]
method = "POST"
path = "/people/match"
requires = [["person.email"]]
query = { email = "{person.email}" }
[[operations.match.provides]]
field = "person.title"
pointer = "/person/employment_history"
pick = { where = "/current", equals = true }
then = "/title"
[[operations.match.provides]]
field = "company.tech_stack"
pointer = "/paths/*/tech/*/name"
[[operations.match.provides]]
field = "person.seniority"
pointer = "/levels"
transform = "first"
map = { cxo = "c_suite" }
[[operations.match.provides]]
field = "person.email"
pointer = "/person/email"
confidence_pointer = "/person/email_status"
confidence_map = { verified = 0.95, guessed = 0.6 }
"#;
    let (p, errors) = compile(text, &|_| None);
    assert!(errors.is_empty(), "{errors:?}");
    let p = p.unwrap();
    let body = br#"{"person":{"email":"x@y.io","email_status":"guessed","employment_history":[{"current":false,"title":"Intern"},{"current":true,"title":"VP Sales"}]},
      "paths":[{"tech":[{"name":"Stripe"},{"name":"AWS"}]},{"tech":[{"name":"stripe"}]}],"levels":["cxo","owner"]}"#;
    let Outcome::Hit { extracted, .. } =
        classify(&p.operations[0], &Catalogue::standard(), 200, &[], body)
    else {
        panic!()
    };
    let get = |f: &str| extracted.values.iter().find(|v| v.0 == f).cloned().unwrap();
    assert_eq!(get("person.title").1, Value::Text("VP Sales".into()));
    assert_eq!(
        get("company.tech_stack").1,
        Value::List(vec!["stripe".into(), "aws".into()])
    );
    assert_eq!(get("person.seniority").1, Value::Text("c_suite".into()));
    assert_eq!(get("person.email").2, 0.6);
}

#[test]
fn reports_every_error_with_its_key() {
    let text = r#"
id = "Bad Id"
base_url = "ftp://x"
[rate_limit]
per_second = 5
burst = 0
[operations.find]
path = "/people/{person.email}"
requires = [["person.shoe_size"]]
[[operations.find.provides]]
field = "person.email"
pointer = "data/email"
confidence = 3
[operations.post]
method = "POST"
path = "/people"
body = { data = [{ email = "{person.email" }] }
"#;
    let (p, errors) = compile(text, &|_| None);
    assert!(p.is_none());
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected = [
        "providers/x.toml: id: \"Bad Id\" must be lower-case letters, digits, '-' or '_'",
        "providers/x.toml: base_url: \"ftp://x\" is not an http(s) URL",
        "providers/x.toml: rate_limit.burst: must be ≥ 1, got 0",
        "providers/x.toml: operations.find.path: must not contain placeholders or a query string; put record values in `query` or `body`",
        "providers/x.toml: operations.find.requires[0]: unknown field \"person.shoe_size\" (not in the field catalogue)",
        "providers/x.toml: operations.find.provides[0].pointer: JSON pointer \"data/email\" must start with '/'",
        "providers/x.toml: operations.find.provides[0].confidence: confidences must lie in 0..1 and a scale must be > 0",
        "providers/x.toml: operations.post.body.data[0].email: unclosed '{' in template \"{person.email\"",
    ];
    for e in expected {
        assert!(
            lines.iter().any(|l| l == e),
            "missing {e:?} in\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn body_templates_keep_types_and_drop_missing_values() {
    let text = r#"
id = "pm"
base_url = "https://pm.example.com"
[operations.enrich]
method = "POST"
path = "/enrich-person"
requires = [["person.email"], ["person.linkedin_url"]]
body = { only_verified_email = true, data = { email = "{person.email}", linkedin_url = "{person.linkedin_url}", note = "lead {person.email}" } }
[[operations.enrich.provides]]
field = "person.title"
pointer = "/person/title"
"#;
    let (p, errors) = compile(text, &|_| None);
    assert!(errors.is_empty(), "{errors:?}");
    let p = p.unwrap();
    let req = build_request(&p, &p.operations[0], &inputs(&[("person.email", "a@b.io")])).unwrap();
    let body: serde_json::Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"only_verified_email": true, "data": {"email": "a@b.io", "note": "lead a@b.io"}})
    );
}

const JOB_VENDOR: &str = r#"
id = "jobs"
base_url = "https://api.example.com/api/v2"
[auth]
kind = "bearer"
env = "FINDER_KEY"
[retry]
retry_after_pointer = "/retryAfterSeconds"
[[outcomes]]
status = [200]
pointer = "/status"
not_equals = ["FINISHED", "IN_PROGRESS"]
outcome = "fatal"
[operations.enrich]
method = "POST"
path = "/contact/enrich/bulk"
requires = [["person.email"]]
body = { name = "leadfall", data = [{ email = "{person.email}" }] }
[operations.enrich.job]
id_pointer = "/enrichment_id"
poll_path = "/contact/enrich/bulk/{job_id}"
poll_query = { forceResults = "false" }
[[operations.enrich.outcomes]]
status = [200]
pointer = "/status"
equals = ["IN_PROGRESS"]
outcome = "pending"
[[operations.enrich.provides]]
field = "person.phone"
pointer = "/data/0/phone"
"#;

#[test]
fn a_job_polls_with_the_vendor_id_as_one_encoded_path_segment() {
    let (p, errors) = compile(JOB_VENDOR, &key_env);
    assert!(errors.is_empty(), "{errors:?}");
    let p = p.unwrap();
    let op = &p.operations[0];
    let job = op.job.as_ref().unwrap();
    assert_eq!(
        job.poll_interval,
        Duration::from_secs(30),
        "documented default"
    );
    let req = build_poll_request(&p, op, "a/b?c").unwrap();
    assert_eq!(req.method, Method::Get);
    assert_eq!(
        req.url.as_str(),
        "https://api.example.com/api/v2/contact/enrich/bulk/a%2Fb%3Fc?forceResults=false"
    );
    assert!(req
        .headers
        .contains(&("authorization".into(), "Bearer sekrit-123".into())));
    assert!(req.body.is_none());
    // The submit is the operation's own request, with the body template.
    let submit = build_request(&p, op, &inputs(&[("person.email", "a@b.io")])).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&submit.body.unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"name": "leadfall", "data": [{"email": "a@b.io"}]})
    );
}

#[test]
fn submit_answers_give_the_job_id_or_a_failure() {
    let (p, _) = compile(JOB_VENDOR, &key_env);
    let op = &p.unwrap().operations[0];
    assert_eq!(
        classify_submit(op, 200, &[], br#"{"enrichment_id":"j-1"}"#),
        Ok("j-1".to_string())
    );
    assert!(matches!(
        classify_submit(op, 200, &[], br#"{"other":1}"#),
        Err(Outcome::Permanent(m)) if m.contains("/enrichment_id")
    ));
    assert_eq!(
        classify_submit(op, 429, &[("Retry-After".into(), "7".into())], b"{}"),
        Err(Outcome::RateLimited(Some(Duration::from_secs(7))))
    );
    assert!(matches!(
        classify_submit(op, 401, &[], b"{}"),
        Err(Outcome::AuthError(_))
    ));
    // A 404 on submit is a wrong path, not "no data".
    assert!(matches!(
        classify_submit(op, 404, &[], b"{}"),
        Err(Outcome::Permanent(_))
    ));
}

#[test]
fn provider_rules_follow_operation_rules_and_not_equals_matches_the_rest() {
    let (p, _) = compile(JOB_VENDOR, &key_env);
    let op = &p.unwrap().operations[0];
    let cat = Catalogue::standard();
    assert_eq!(
        classify(op, &cat, 200, &[], br#"{"status":"IN_PROGRESS"}"#),
        Outcome::Pending(None),
        "the operation's own rule wins"
    );
    assert!(matches!(
        classify(op, &cat, 200, &[], br#"{"status":"CANCELED"}"#),
        Outcome::Permanent(_)
    ));
    assert!(
        matches!(
            classify(op, &cat, 200, &[], br#"{"other":1}"#),
            Outcome::Permanent(_)
        ),
        "a missing value is not equal to any listed one"
    );
    assert!(matches!(
        classify(
            op,
            &cat,
            200,
            &[],
            br#"{"status":"FINISHED","data":[{"phone":"+1 415 555 0100"}]}"#
        ),
        Outcome::Hit { .. }
    ));
}

#[test]
fn a_throttled_body_can_say_how_long_to_wait() {
    let (p, _) = compile(JOB_VENDOR, &key_env);
    let op = &p.unwrap().operations[0];
    let cat = Catalogue::standard();
    assert_eq!(
        classify(
            op,
            &cat,
            429,
            &[],
            br#"{"error":"Rate limit exceeded","retryAfterSeconds":2}"#
        ),
        Outcome::RateLimited(Some(Duration::from_secs(2)))
    );
    assert_eq!(
        classify(
            op,
            &cat,
            429,
            &[("retry-after".into(), "5".into())],
            br#"{"retryAfterSeconds":2}"#
        ),
        Outcome::RateLimited(Some(Duration::from_secs(5))),
        "the header wins"
    );
}

#[test]
fn job_and_rule_mistakes_name_file_and_key() {
    let broken = JOB_VENDOR
        .replace("/contact/enrich/bulk/{job_id}", "/contact/{job_id}/x{y}")
        .replace(
            "not_equals = [\"FINISHED\", \"IN_PROGRESS\"]",
            "not_equals = [\"FINISHED\"]\nis_null = true",
        );
    let (_, errors) = compile(&broken, &key_env);
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "providers/x.toml: outcomes[0]: use one of equals, not_equals, is_null or is_empty",
            "providers/x.toml: operations.enrich.job.poll_path: must contain `{job_id}` as one whole path segment, no other placeholder and no query string",
        ]
    );
}

#[test]
fn every_real_vendor_definition_compiles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("providers");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let raw: ProviderFile = toml::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut errors = Vec::new();
        let p = compile_provider(&path, raw, &Catalogue::standard(), &|_| None, &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
        let p = p.unwrap();
        assert!(
            p.missing_key_env.is_some(),
            "{}: keys only from the environment",
            p.id
        );
        assert!(p.base_url.starts_with("https://"), "{}", p.id);
        ids.push(p.id);
    }
    ids.sort();
    assert_eq!(
        ids,
        [
            "apollo",
            "builtwith",
            "fullenrich",
            "hunter",
            "leadmagic",
            "neverbounce",
            "peopledatalabs",
            "prospeo",
            "zerobounce"
        ]
    );
}

/// Every real vendor's documented answers classify the same whether the body
/// is parsed whole or only where the operation reads it.
#[test]
fn pruned_bodies_classify_like_whole_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures: Vec<(String, Vec<u8>)> = std::fs::read_dir(root.join("tests/fixtures/vendors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    let catalogue = Catalogue::standard();
    let mut compared = 0;
    let mut smaller = 0;
    for entry in std::fs::read_dir(root.join("providers")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let raw: ProviderFile = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut errors = Vec::new();
        let p = compile_provider(&path, raw, &catalogue, &|_| None, &mut errors).unwrap();
        for (name, body) in fixtures
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("{}.", p.id)))
        {
            for op in &p.operations {
                let mut whole = op.clone();
                whole.reads = Reads::everything();
                let headers = [("retry-after".to_string(), "2".to_string())];
                for status in [200, 400, 404, 429] {
                    assert_eq!(
                        classify(op, &catalogue, status, &headers, body),
                        classify(&whole, &catalogue, status, &headers, body),
                        "{} on {name} with HTTP {status}",
                        op.id
                    );
                    compared += 1;
                }
                let full: serde_json::Value = serde_json::from_slice(body).unwrap();
                if op.reads.parse(body).unwrap() != full {
                    smaller += 1;
                }
            }
        }
    }
    assert!(compared > 100, "{compared} comparisons");
    assert!(smaller > 10, "pruning left out nothing in {smaller} bodies");
}

#[test]
fn the_readme_ten_line_vendor_compiles() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("### Adding a vendor in ten lines").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    assert!(block.lines().count() <= 10, "{block}");
    let (p, errors) = compile(block, &|n: &str| (n == "ACME_API_KEY").then(|| "k".into()));
    assert!(errors.is_empty(), "{errors:?}");
    let p = p.unwrap();
    assert_eq!(p.operations[0].id, "acme.find-email");
    assert_eq!(
        p.operations[0].requires.len(),
        1,
        "requirements follow from the placeholders"
    );
}

#[test]
fn an_operation_can_have_its_own_pace() {
    let text = HUNTER_LIKE.replace(
        "[[operations.email-finder.outcomes]]\nstatus = [200]",
        "rate_limit = { per_minute = 300, burst = 10 }\n[[operations.email-finder.outcomes]]\nstatus = [200]",
    );
    let (p, errors) = compile(&text, &key_env);
    assert!(errors.is_empty(), "{errors:?}");
    let rate = p.unwrap().operations[0].rate.unwrap();
    assert_eq!(
        (rate.requests, rate.period, rate.burst),
        (300, Duration::from_secs(60), 10)
    );
    let bad = text.replace("per_minute = 300, burst = 10", "per_minute = 0");
    let (_, errors) = compile(&bad, &key_env);
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["providers/x.toml: operations.email-finder.rate_limit: a rate must be ≥ 1 (leave it out for no limit)"]
    );
}

#[test]
fn operations_are_found_by_name_or_text_even_after_a_provider_changes() {
    let (finder, errors) = compile(HUNTER_LIKE, &key_env);
    assert!(errors.is_empty(), "{errors:?}");
    let other = HUNTER_LIKE.replace("id = \"finder\"", "id = \"alpha\"");
    let (alpha, _) = compile(&other, &key_env);
    let mut set = ProviderSet::default();
    assert!(set.insert(finder.unwrap()).is_none());
    assert!(set.insert(alpha.unwrap()).is_none());
    assert_eq!(set.ids().collect::<Vec<_>>(), ["alpha", "finder"]);
    let name = crate::model::Name::new("finder.email-finder");
    let (p, o) = set.operation(&name).expect("by interned name");
    assert_eq!(
        (p.id.as_str(), o.id.as_str()),
        ("finder", "finder.email-finder")
    );
    let (p, _) = set.operation("alpha.email-finder").expect("by text");
    assert_eq!(p.id, "alpha");
    assert!(set.operation("finder.nothing").is_none());
    assert!(set.operation("finder").is_none());
    // Changed in place, the index is stale: lookups still answer from the providers.
    let finder = set.get_mut("finder").unwrap();
    let mut renamed = finder.operations[0].clone();
    renamed.id = "finder.renamed".into();
    finder.operations.insert(0, renamed);
    let (_, o) = set.operation(&name).expect("moved, still found");
    assert_eq!(o.id, "finder.email-finder");
    let (_, o) = set
        .operation("finder.renamed")
        .expect("added in place, found");
    assert_eq!(o.id, "finder.renamed");
    // Replacing a provider re-indexes.
    let (again, _) = compile(HUNTER_LIKE, &key_env);
    assert!(set.insert(again.unwrap()).is_some());
    assert!(set.operation("finder.renamed").is_none());
}

#[test]
fn a_huge_wait_from_a_vendor_is_capped_not_a_panic() {
    // Found through the provider_response fuzz target: `Retry-After: 1e30`,
    // or 1e300 at the body's retry_after_pointer, panicked in
    // Duration::from_secs_f64 (fuzz/regressions/provider_response/).
    use super::response::parse_retry_after;
    let year = Duration::from_secs(365 * 24 * 60 * 60);
    assert_eq!(parse_retry_after("1e30"), Some(year));
    assert_eq!(
        parse_retry_after(" 2.5 "),
        Some(Duration::from_millis(2500))
    );
    assert_eq!(parse_retry_after("-1"), None);
    assert_eq!(parse_retry_after("NaN"), None);
    assert_eq!(parse_retry_after("inf"), None);
    let (p, errors) = compile(JOB_VENDOR, &key_env);
    assert!(errors.is_empty(), "{errors:?}");
    let op = &p.unwrap().operations[0];
    let body = br#"{"retryAfterSeconds": 1e300}"#;
    let out = classify(op, &Catalogue::standard(), 429, &[], body);
    assert_eq!(out, Outcome::RateLimited(Some(year)));
}
