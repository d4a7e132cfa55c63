//! Every request leadfall sends must validate against the vendor's OpenAPI
//! spec: each spec in `tests/fixtures/openapi/` is served by a Stoplight Prism
//! mock (`prism mock --errors`), and every operation of the vendor's definition
//! is run against it. With `--errors` Prism answers a request that violates
//! the spec (path, method, parameters, body, auth placement) with 4xx and an
//! `sl-violations` header instead of the example, so a 2xx is the proof.
//!
//! Skips, printing why, when `node`/`npm` are missing or the npm registry is
//! unreachable. Prism is installed once into `<target>/tmp/prism`.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// (vendor id, spec file, operations with inputs).
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, Vec<(&'static str, &'static str)>)>,
);

fn cases() -> Vec<Case> {
    let name_domain = vec![
        ("person.first_name", "John"),
        ("person.last_name", "Snow"),
        ("company.domain", "example.com"),
    ];
    let email = vec![("person.email", "john.snow@example.com")];
    let domain = vec![("company.domain", "example.com")];
    vec![
        (
            "hunter",
            "hunter.yml",
            vec![
                ("email-finder", name_domain.clone()),
                ("email-verifier", email.clone()),
                ("company-find", domain.clone()),
            ],
        ),
        (
            "apollo",
            "apollo.yml",
            vec![
                ("people-match", name_domain.clone()),
                ("organization-enrich", domain.clone()),
            ],
        ),
        (
            "peopledatalabs",
            "peopledatalabs.json",
            vec![
                ("person-enrich", name_domain.clone()),
                ("company-enrich", domain.clone()),
            ],
        ),
        (
            "builtwith",
            "builtwith.yml",
            vec![("domain-lookup", domain.clone())],
        ),
        (
            "neverbounce",
            "neverbounce.yml",
            vec![("single-check", email.clone())],
        ),
        (
            "leadmagic",
            "leadmagic.yaml",
            vec![
                ("email-finder", name_domain.clone()),
                (
                    "mobile-finder",
                    vec![("person.linkedin_url", "https://www.linkedin.com/in/demoge")],
                ),
                ("email-validation", email.clone()),
                ("company-search", domain.clone()),
            ],
        ),
        (
            "fullenrich",
            "fullenrich.yml",
            vec![("contact-enrich", name_domain)],
        ),
    ]
}

/// A running Prism mock; killed on drop.
struct Mock {
    child: Child,
    base: String,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails instead under LEADFALL_TEST_REQUIRE=all (or =node).
fn skip(why: &str) {
    leadfall::testing::require_or_skip(
        "node",
        &format!("vendors::prism (OpenAPI validation of vendor requests): {why}"),
    );
    println!("SKIPPED vendors::prism (OpenAPI validation of vendor requests): {why}");
}

/// `<target>/tmp/prism/node_modules/.bin/prism`, installing it on first use.
fn prism_bin() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prism");
    let bin = dir.join("node_modules/.bin/prism");
    // Prism is a node script: node is needed even when it is installed already.
    for tool in ["node", "npm"] {
        match Command::new(tool).arg("--version").output() {
            Ok(o) if o.status.success() => {}
            _ => return Err(format!("`{tool}` is not installed or not on PATH")),
        }
        if bin.exists() {
            return Ok(bin);
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .arg("@stoplight/prism-cli@5")
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !out.status.success() || !bin.exists() {
        return Err(format!(
            "`npm install @stoplight/prism-cli@5` failed (registry unreachable?): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(bin)
}

/// Start `prism mock --errors` on a spec and wait until it listens.
fn start_mock(bin: &Path, spec: &str) -> Mock {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openapi")
        .join(spec);
    let mut child = Command::new(bin)
        // Port 0: the OS picks one and Prism prints where it listens.
        .args(["mock", "--errors", "-h", "127.0.0.1", "-p", "0"])
        .arg(&spec_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start prism");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let ready = line.contains("Prism is listening");
            let _ = tx.send((ready, line));
        }
    });
    let mut log = Vec::new();
    let base = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((true, line)) => {
                let at = line.find("http://").expect("a URL in Prism's ready line");
                break line[at..].trim().to_string();
            }
            Ok((false, line)) => log.push(line),
            Err(_) => panic!("prism on {spec} did not start:\n{}", log.join("\n")),
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    Mock { child, base }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_requests_validate_against_their_openapi_specs() {
    let bin = match tokio::task::spawn_blocking(prism_bin).await.unwrap() {
        Ok(b) => b,
        Err(why) => return skip(&why),
    };
    let cases = cases();
    // Start every mock first (each takes a second or two), then run.
    let mocks: Vec<Mock> = {
        let bin = bin.clone();
        let specs: Vec<&'static str> = cases.iter().map(|c| c.1).collect();
        tokio::task::spawn_blocking(move || {
            std::thread::scope(|s| {
                let handles: Vec<_> = specs
                    .iter()
                    .map(|spec| s.spawn(|| start_mock(&bin, spec)))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            })
        })
        .await
        .unwrap()
    };
    let mut checked = 0;
    let mut spec_own_violations = Vec::new();
    // The check can fail: a request without its key is rejected by the mock.
    let proxy = replay::Replay::start().await;
    proxy.forward(&mocks[0].base);
    let _ = reqwest::get(format!(
        "{}/email-finder?first_name=John&last_name=Snow&domain=example.com",
        proxy.base
    ))
    .await;
    let (request, _) = verdict(&proxy.seen()[0]);
    assert!(
        request.is_some(),
        "a keyless request must be rejected: {:?}",
        proxy.seen()
    );
    for ((id, spec, ops), mock) in cases.into_iter().zip(&mocks) {
        // A recording proxy in front of the mock: it keeps Prism's verdict on
        // each request (status + `sl-violations`) for the assertions below.
        let proxy = replay::Replay::start().await;
        proxy.forward(&mock.base);
        let executor = prism_executor(id, &proxy.base);
        for (op, inputs) in ops {
            let before = proxy.seen().len();
            let inputs: Inputs = inputs
                .iter()
                .map(|(k, v)| ((*k).into(), Value::Text(v.to_string())))
                .collect();
            let r = executor.execute(&format!("{id}.{op}"), &inputs, None).await;
            let sent = &proxy.seen()[before..];
            assert!(
                !sent.is_empty(),
                "{id}.{op}: nothing sent ({:?})",
                r.outcome
            );
            for s in sent {
                let (request, response) = verdict(s);
                assert!(
                    request.is_none(),
                    "{id}.{op}: {} {}?{:?} is not valid for {spec}: {request:?}",
                    s.method,
                    s.path,
                    s.query
                );
                // The spec's own examples sometimes break its schema: Prism
                // then answers 500, which is about the spec, not our request.
                spec_own_violations.extend(
                    response
                        .into_iter()
                        .map(|m| format!("{spec} {}: {m}", s.path)),
                );
                checked += 1;
            }
        }
    }
    println!(
        "vendors::prism: {checked} requests validated against {} specs",
        mocks.len()
    );
    spec_own_violations.sort();
    spec_own_violations.dedup();
    for v in spec_own_violations {
        println!("  (spec example violates its own response schema) {v}");
    }
}

/// Prism's verdict on one forwarded request: the request's problem (a
/// validation status or request-located violations), and the messages of
/// violations located in the (spec's own) response.
fn verdict(s: &replay::Seen) -> (Option<String>, Vec<String>) {
    let (status, violations) = s.forwarded.clone().expect("forwarded");
    let list: Vec<serde_json::Value> = violations
        .as_deref()
        .map(|v| serde_json::from_str(v).unwrap_or_default())
        .unwrap_or_default();
    let (request, response): (Vec<_>, Vec<_>) = list
        .into_iter()
        .partition(|v| v["location"][0] == "request");
    let rejected = matches!(status, 400 | 401 | 403 | 404 | 405 | 415 | 422);
    let problem = (rejected || !request.is_empty())
        .then(|| format!("HTTP {status}: {}", serde_json::Value::Array(request)));
    let response = response
        .iter()
        .map(|v| v["message"].as_str().unwrap_or("").to_string())
        .collect();
    (problem, response)
}

/// The vendor's definition with its base URL at the mock's root (Prism ignores
/// the spec's server path) and a GUID-shaped key.
fn prism_executor(id: &str, base: &str) -> Executor {
    let mut p = compile_pointed_at(id, base);
    p.base_url = base.to_string();
    quick(&mut p);
    for op in &mut p.operations {
        if let Some(j) = op.job.as_mut() {
            j.poll_interval = Duration::from_millis(10);
            j.max_poll_interval = Duration::from_millis(10);
        }
    }
    let mut set = ProviderSet::default();
    set.insert(p);
    Executor::new(
        Arc::new(set),
        Arc::new(Catalogue::standard()),
        Arc::new(Store::temporary().unwrap()),
        Arc::new(SystemClock),
    )
}
