use crate::util::{read_jsonl, run, stderr, stdout, TestDir};
use leadfall::sandbox::{SandboxSettings, VendorSettings, API_KEYS};
use std::collections::BTreeSet;

const WATERFALL_FIELDS: &[&str] = &[
    "company.domain",
    "person.email",
    "person.title",
    "person.seniority",
    "company.industry",
    "company.employee_count",
    "company.country",
    "company.tech_stack",
    "person.phone",
];

fn leads(t: &TestDir, n: usize) -> String {
    t.sandbox.world().sample_leads_csv(n)
}

/// Every record has a state for every waterfall field, and no empty string stands for unknown.
fn assert_complete(records: &[serde_json::Value]) {
    for r in records {
        for f in WATERFALL_FIELDS {
            let st = &r["fields"][f];
            assert!(
                st["state"] == "known" || st["state"] == "unknown",
                "{} {f}: {st}",
                r["id"]
            );
            if st["state"] == "unknown" {
                assert!(st["reason"].is_string(), "{st}");
            } else {
                assert_ne!(st["value"], "", "{st}");
            }
        }
    }
}

#[test]
fn bad_rows_are_rejected_with_line_and_reason_and_good_rows_all_processed() {
    let t = TestDir::new();
    let mut csv = leads(&t, 20).into_bytes();
    let long = "x".repeat(1500);
    csv.extend_from_slice(b"bad-email,Ann,Lee,Acme,acme.io,ann@@acme\n"); // line 22
    csv.extend_from_slice(b"bad-domain,Ann,Lee,Acme,not a domain,\n"); // 23
    csv.extend_from_slice(b"ragged,Bob\n"); // 24
                                            // Not UTF-8: the file is read as Windows-1252 and the row imported.
    csv.extend_from_slice(b"utf8,Bo\xffb,Ray,Acme,acme.io,\n"); // 25
    csv.extend_from_slice(format!("long,{long},Ray,Acme,acme.io,\n").as_bytes()); // 26
    csv.extend_from_slice(b"lead00003,Dup,Licate,Dup Inc,dup.io,\n"); // 27
    csv.extend_from_slice(b"\"unterminated,Al,Bo,Acme,acme.io,\n"); // 28
    csv.extend_from_slice(b"lead-ok,Jane,Roe,Roe Ltd,,\n"); // 29: good, after the bad ones
    let input = t.write("in/leads.csv", csv);
    let out = t.path("out/enriched.jsonl");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = run(t.enrich(&input, &out, &[]), 3);
    let summary = stdout(&o);
    assert!(
        summary.contains("28 rows read: 22 enriched, 6 rejected"),
        "{summary}"
    );

    let records = read_jsonl(&out);
    let ids: BTreeSet<String> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 22);
    assert!(ids.contains("lead-ok") && ids.contains("lead00019") && ids.contains("utf8"));
    assert_complete(&records);

    let rejects = std::fs::read_to_string(t.path("out/enriched.jsonl.rejects.csv")).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "line,id,reason,raw");
    let reasons: Vec<(String, String)> = csv::Reader::from_reader(rejects.as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[2].to_string())
        })
        .collect();
    let expect = [
        (
            "22",
            "column person.email: \"ann@@acme\" is not a valid email",
        ),
        (
            "23",
            "column company.domain: \"not a domain\" is not a valid domain",
        ),
        ("24", "row has 2 cells but the header has 6 columns"),
        ("26", "over the limit of 1024"),
        ("27", "duplicate id \"lead00003\" (first seen on line 5)"),
        ("28", "unterminated quote"),
    ];
    assert_eq!(reasons.len(), expect.len(), "{rejects}");
    for ((line, reason), (want_line, want)) in reasons.iter().zip(expect) {
        assert_eq!(line, want_line, "{rejects}");
        assert!(
            reason.contains(want),
            "line {line}: {reason:?} should contain {want:?}"
        );
    }
}

#[test]
fn a_second_run_over_the_same_input_makes_zero_provider_calls() {
    let t = TestDir::new();
    // More rows than one hand-off chunk (128), so both lanes get work.
    let n = 300;
    let input = t.write("leads.csv", leads(&t, n));
    let first = t.path("first.jsonl");
    run(t.enrich(&input, &first, &["--json"]), 0);
    let after_first = t.sandbox_requests();
    assert!(
        after_first > n as u64,
        "the first run calls the vendors ({after_first})"
    );
    let second = t.path("second.jsonl");
    let o = run(t.enrich(&input, &second, &["--json"]), 0);
    assert_eq!(
        t.sandbox_requests(),
        after_first,
        "second run served from the cache"
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["summary"]["credits"], 0.0);
    assert_eq!(report["summary"]["records"], n, "every lane's count merged");
    // Every record written once.
    let ids: Vec<String> = read_jsonl(&second)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), n);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        n,
        "no record twice"
    );
    // Same answers both times.
    let strip = |rs: Vec<serde_json::Value>| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = rs
            .iter()
            .flat_map(|r| {
                let id = r["id"].as_str().unwrap().to_string();
                r["fields"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(move |(f, s)| (format!("{id}/{f}"), s["value"].to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(strip(read_jsonl(&first)), strip(read_jsonl(&second)));
}

#[test]
fn an_outage_ends_in_provider_error_with_retry_at_and_the_record_intact() {
    let mut s = SandboxSettings::default();
    s.vendors.insert(
        "companyapi".into(),
        VendorSettings {
            outage: Some((0, u64::MAX)),
            ..Default::default()
        },
    );
    let t = TestDir::with_sandbox(s);
    let input = t.write("leads.csv", leads(&t, 10));
    let out = t.path("out.jsonl");
    run(t.enrich(&input, &out, &[]), 0);
    let records = read_jsonl(&out);
    assert_eq!(records.len(), 10);
    assert_complete(&records);
    let with_domain: Vec<_> = records
        .iter()
        .filter(|r| r["fields"]["company.domain"]["source"] == "input")
        .collect();
    assert!(!with_domain.is_empty());
    for r in with_domain {
        let st = &r["fields"]["company.tech_stack"];
        assert_eq!(st["reason"], "provider_error", "{st}");
        assert!(st["retry_at"].is_string(), "{st}");
        assert!(
            st["detail"]
                .as_str()
                .unwrap()
                .contains("companyapi.company-find"),
            "{st}"
        );
        // Other vendors still filled what they could.
        assert_eq!(r["fields"]["person.first_name"]["state"], "known");
    }
}

#[test]
fn a_vendor_throttling_with_retry_after_is_waited_out() {
    // The vendor allows 4 req/s, leadfall's definition says 150/s: 429s with
    // Retry-After follow, and leadfall waits instead of failing the fields.
    let mut s = SandboxSettings::default();
    s.vendors.insert(
        "mailfinder".into(),
        VendorSettings {
            rate_limit_per_sec: Some(4),
            ..Default::default()
        },
    );
    let t = TestDir::with_sandbox(s);
    let input = t.write("leads.csv", leads(&t, 40));
    let out = t.path("out.jsonl");
    let o = run(t.enrich(&input, &out, &["--json"]), 0);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mf = &report["summary"]["providers"]["mailfinder"];
    assert!(
        mf["throttled"].as_u64().unwrap() > 0,
        "the vendor did throttle: {mf}"
    );
    assert_eq!(
        mf["errors"], 0,
        "every throttled call succeeded after waiting: {mf}"
    );
    let c = &t.sandbox.counters()["mailfinder"];
    assert_eq!(c.requests, c.hits + c.misses + c.rate_limited);
}

#[test]
fn api_keys_never_appear_in_logs_errors_or_output() {
    let t = TestDir::new();
    let input = t.write("leads.csv", leads(&t, 15));
    let out = t.path("out.jsonl");
    let mut cmd = t.cmd(&[
        "-vv",
        "--log-format",
        "json",
        "enrich",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    cmd.env("RUST_LOG", "trace");
    // One vendor gets a wrong key: its 401s produce error details too.
    cmd.env("LEADFALL_SANDBOX_KEY_PERSONAPI", "wrong-secret-key-777");
    let o = run(cmd, 0);
    let mut everything = stdout(&o) + &stderr(&o) + &std::fs::read_to_string(&out).unwrap();
    // The ledger is half of what is scanned: a store that will not open fails
    // the test rather than shrinking the scan.
    let store = leadfall::store::Store::open(&t.path("data/store"))
        .unwrap_or_else(|e| panic!("the ledger must be scanned too: {e}"));
    let mut rows = 0;
    for row in store.ledger_rows() {
        everything.push_str(&format!("{:?}", row.unwrap()));
        rows += 1;
    }
    assert!(rows > 0, "the ledger has the run's calls");
    assert!(
        everything.contains("auth_error") || everything.contains("key rejected"),
        "the wrong key was noticed"
    );
    for (_, key) in API_KEYS {
        assert!(!everything.contains(key), "{key} leaked");
    }
    assert!(
        !everything.contains("wrong-secret-key-777"),
        "the wrong key leaked"
    );
}

#[test]
fn an_output_that_cannot_be_written_fails_the_run_and_names_the_file() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full on this machine");
        return;
    }
    let t = TestDir::new();
    // More rows than one lane's write chunk, so the lanes hit the full device.
    let input = t.write("leads.csv", leads(&t, 300));
    let o = run(t.enrich(&input, std::path::Path::new("/dev/full"), &[]), 1);
    let err = stderr(&o);
    assert!(
        err.contains("cannot write /dev/full") && err.contains("No space left"),
        "{err}"
    );
}

/// A forwarding HTTP proxy on 127.0.0.1:0: it records each request's target
/// and `Proxy-Authorization`, then asks the target itself.
struct ForwardProxy {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Asked>>>,
}

/// A request's target and its `Proxy-Authorization`.
type Asked = (String, Option<String>);

impl ForwardProxy {
    fn start(t: &TestDir) -> ForwardProxy {
        use axum::extract::Request;
        use axum::response::IntoResponse;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let direct = reqwest::Client::builder().no_proxy().build().unwrap();
        let forward = move |req: Request| {
            let (log, direct) = (log.clone(), direct.clone());
            async move {
                let auth = req
                    .headers()
                    .get("proxy-authorization")
                    .map(|v| v.to_str().unwrap().to_string());
                log.lock().unwrap().push((req.uri().to_string(), auth));
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                let mut out = direct.request(parts.method, parts.uri.to_string());
                for (k, v) in &parts.headers {
                    if k != "proxy-authorization" && k != "host" {
                        out = out.header(k, v);
                    }
                }
                let resp = out.body(body).send().await.unwrap();
                let status = resp.status();
                let headers = resp.headers().clone();
                // The sandbox's answers are small; a test proxy need not cap them.
                #[allow(clippy::disallowed_methods)]
                let bytes = resp.bytes().await.unwrap();
                (status, headers, bytes).into_response()
            }
        };
        let app = axum::Router::new().fallback(forward);
        let listener =
            t.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        t.rt.spawn(async move { axum::serve(listener, app).await });
        ForwardProxy { url, seen }
    }

    fn seen(&self) -> Vec<Asked> {
        self.seen.lock().unwrap().clone()
    }
}

#[test]
fn vendor_calls_go_through_the_proxy_the_environment_names_and_its_password_stays_secret() {
    let t = TestDir::new();
    let proxy = ForwardProxy::start(&t);
    let input = t.write("leads.csv", leads(&t, 8));
    let with_credentials = proxy.url.replace("http://", "http://ops:proxy-pass-4417@");

    let out = t.path("proxied.jsonl");
    let mut cmd = t.enrich(&input, &out, &[]);
    cmd.env("HTTP_PROXY", &with_credentials)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("RUST_LOG", "debug");
    let o = run(cmd, 0);
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "no vendor call reached the proxy");
    assert_eq!(
        seen.len() as u64,
        t.sandbox_requests(),
        "every vendor call, and only those, went through the proxy"
    );
    for (target, auth) in &seen {
        assert!(target.starts_with(&t.base), "absolute form: {target}");
        // base64("ops:proxy-pass-4417")
        assert_eq!(auth.as_deref(), Some("Basic b3BzOnByb3h5LXBhc3MtNDQxNw=="));
    }
    assert_complete(&read_jsonl(&out));
    let everything = stdout(&o) + &stderr(&o) + &std::fs::read_to_string(&out).unwrap();
    assert!(
        !everything.contains("proxy-pass-4417"),
        "the proxy password leaked"
    );

    // NO_PROXY names the vendors' host: they are asked directly (about the
    // leads the first run did not cache).
    let before = (seen.len(), t.sandbox_requests());
    let more = t.write("more.csv", leads(&t, 16));
    let mut cmd = t.enrich(&more, &t.path("direct.jsonl"), &[]);
    cmd.env("HTTP_PROXY", &with_credentials)
        .env("NO_PROXY", "127.0.0.1");
    run(cmd, 0);
    assert_eq!(proxy.seen().len(), before.0, "NO_PROXY was not honoured");
    assert!(
        t.sandbox_requests() > before.1,
        "the direct run asked no vendor"
    );
}

#[test]
fn a_row_without_identity_is_enriched_with_a_warning_line_in_the_rejects_file() {
    let t = TestDir::new();
    let mut csv = leads(&t, 3);
    csv.push_str("anon,,,Acme,acme.io,\n"); // line 5: a company, nobody to look up
    let input = t.write("in/leads.csv", csv);
    let out = t.path("out/enriched.jsonl");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = run(t.enrich(&input, &out, &[]), 0);
    let summary = stdout(&o);
    assert!(
        summary.contains("4 rows read: 4 enriched, 0 rejected, 1 warnings (see "),
        "{summary}"
    );
    let rejects = std::fs::read_to_string(t.path("out/enriched.jsonl.rejects.csv")).unwrap();
    assert_eq!(
        rejects,
        "line,id,reason,raw\n\
         5,anon,\"warning: no identity (no name, email or LinkedIn URL): every person field will end missing_input\",\"anon,,,Acme,acme.io,\"\n"
    );
    let records = read_jsonl(&out);
    let anon = records
        .iter()
        .find(|r| r["id"] == "anon")
        .expect("anon is kept");
    assert_eq!(anon["fields"]["company.domain"]["value"], "acme.io");
    for f in ["person.email", "person.title", "person.phone"] {
        assert_eq!(anon["fields"][f]["reason"], "missing_input", "{f}: {anon}");
    }
    let o = run(t.enrich(&input, &out, &["--json"]), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["import"]["warnings"], 1, "{v}");
}
