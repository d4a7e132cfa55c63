//! Control API tests: handler plumbing through the router in-process, and the
//! contract over real TCP with the typed [`Client`].

use super::*;
use crate::client::{Client, ClientError};
use crate::clock::SystemClock;
use crate::control::{ErrorBody, ReenrichSummary, Status, StoredRecord, UpsertSummary};
use crate::executor::Executor;
use crate::export::ExportFormat;
use crate::model::{FieldState, Record, Value};
use crate::store::Store;
use axum::body::{Body, Bytes};
use axum::http::{header, Request, StatusCode};
use chrono::Utc;
use std::path::Path;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn control() -> Control {
    let settings = crate::config::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml"),
        &crate::sandbox::Sandbox::provider_env("http://127.0.0.1:9".into()),
    )
    .unwrap_or_else(|e| panic!("config: {e}"));
    let store = Store::temporary().unwrap();
    let executor = Executor::new(
        Arc::new(settings.providers.clone()),
        Arc::new(settings.catalogue.clone()),
        Arc::new(store.clone()),
        Arc::new(SystemClock),
    );
    let settings = Arc::new(settings);
    let engine = crate::engine::Engine::new(settings.clone(), executor, Arc::new(SystemClock));
    Control::new(
        Arc::new(store),
        crate::engine::LiveEngine::new(engine),
        crate::config::Loader::fixed((*settings).clone()),
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(crate::control::DaemonStats::default()),
    )
}

fn app() -> Router {
    router(control(), Token::new(TOKEN))
}

fn input(value: &str) -> FieldState {
    FieldState::input(Value::Text(value.into()), Utc::now())
}

fn lead(id: &str) -> Record {
    let mut r = Record::new(id, Utc::now());
    r.set("person.first_name", input("Jane"));
    r.set("company.domain", input("acme.io"));
    r
}

/// Run one request through the router in-process. `tower` is not a direct
/// dependency, so instead of `ServiceExt::oneshot` the router is wrapped as
/// a `MethodRouter`, which axum lets us call as a `Handler`.
async fn call(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Bytes) {
    let svc = axum::routing::any_service(app.clone());
    let resp = axum::handler::Handler::call(svc, req, ()).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, headers, body)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn upsert_body(records: &[Record]) -> String {
    serde_json::json!({ "records": records }).to_string()
}

fn error_text(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorBody>(body)
        .unwrap_or_else(|e| panic!("not an ErrorBody ({e}): {}", String::from_utf8_lossy(body)))
        .error
}

#[tokio::test]
async fn no_token_or_a_wrong_one_is_401() {
    let app = app();
    let bare = Request::get("/v1/status").body(Body::empty()).unwrap();
    let (status, headers, body) = call(&app, bare).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(error_text(&body), "missing or wrong bearer token");

    let wrong = format!("Bearer {}", TOKEN.replace('0', "1"));
    for value in [wrong.as_str(), "Bearer short", "Basic abc"] {
        let req = Request::get("/v1/records/x")
            .header(header::AUTHORIZATION, value)
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = call(&app, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}");
        assert!(!String::from_utf8_lossy(&body).contains(TOKEN));
    }
    let metrics = Request::get("/metrics").body(Body::empty()).unwrap();
    assert_eq!(call(&app, metrics).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let req = Request::get("/healthz").body(Body::empty()).unwrap();
    let (status, _, body) = call(&app(), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"ok");
}

#[tokio::test]
async fn bad_json_and_unknown_fields_are_400_with_a_message() {
    let app = app();
    let (status, _, body) = call(&app, post("/v1/records", "{\"records\": [")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_text(&body).contains("line 1"),
        "{}",
        error_text(&body)
    );

    let (status, _, body) = call(&app, post("/v1/records", r#"{"records": [], "extra": 1}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_text(&body).contains("unknown field `extra`"),
        "{}",
        error_text(&body)
    );

    let (status, _, body) = call(
        &app,
        post("/v1/reenrich", r#"{"selector": {"colour": "red"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&body).contains("unknown field `colour`"));

    let (status, _, body) = call(&app, get("/v1/export?format=xml")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&body).contains("xml"), "{}", error_text(&body));

    // Control-level validation comes back in the same shape.
    let mut bad = lead("x");
    bad.set("person.favourite_colour", input("red"));
    let (status, _, body) = call(&app, post("/v1/records", upsert_body(&[bad]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&body).contains("person.favourite_colour"));
}

#[tokio::test]
async fn an_unknown_key_on_a_record_is_400_naming_it() {
    let app = app();
    let body = r#"{"records":[{"id":"a","fields":{},"bogus":1}]}"#;
    let (status, _, body) = call(&app, post("/v1/records", body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let text = error_text(&body);
    assert!(text.contains("unknown field `bogus`"), "{text}");
    assert!(text.contains("records[0]"), "{text}");
}

#[tokio::test]
async fn errors_quote_at_most_80_characters_of_a_bad_value() {
    let app = app();
    let long = format!("{}\n", "x".repeat(100_000));
    let (status, _, body) = call(&app, post("/v1/records", upsert_body(&[lead(&long)]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let text = error_text(&body);
    let want = format!(
        "record id \"{}…\" (100001 characters) must be",
        "x".repeat(80)
    );
    assert!(text.starts_with(&want), "{}", &text[..text.len().min(300)]);

    let mut bad = lead("a");
    bad.set(long.as_str(), input("red"));
    let (status, _, body) = call(&app, post("/v1/records", upsert_body(&[bad]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&body).len() < 200, "{}", error_text(&body).len());

    // A URI holds at most 64 KiB.
    let (status, _, body) = call(&app, get(&format!("/v1/records/{}", "y".repeat(60_000)))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        error_text(&body).ends_with("…\" (60000 characters)"),
        "{}",
        error_text(&body).len()
    );

    // The reenrich selector's checks quote what they refuse.
    let long = "z".repeat(10_000);
    for selector in [
        serde_json::json!({"field": long}),
        serde_json::json!({"field": "person.title", "state": long}),
        serde_json::json!({"provider": long}),
    ] {
        let body = serde_json::json!({ "selector": selector }).to_string();
        let (status, _, body) = call(&app, post("/v1/reenrich", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let text = error_text(&body);
        assert!(text.contains("…\" (10000 characters)"), "{}", text.len());
    }

    // serde's own messages quote keys and values too.
    let key = "k".repeat(100_000);
    for body in [
        format!(r#"{{"records":[{{"id":"a","fields":{{}},"{key}":1}}]}}"#),
        format!(r#"{{"records":[{{"id":"a","fields":{{"{key}":{{"state":1}}}}}}]}}"#),
        format!(r#"{{"records":[{{"id":"a","fields":{{"person.title":{{"state":"{key}"}}}}}}]}}"#),
    ] {
        let (status, _, body) = call(&app, post("/v1/records", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let text = error_text(&body);
        assert!(text.len() < 400, "{}", &text[..text.len().min(400)]);
    }
}

#[tokio::test]
async fn body_caps_are_64k_except_the_upsert() {
    let app = app();
    let big_kind = "k".repeat(BODY_LIMIT_BYTES);
    let body = serde_json::json!({ "kind": big_kind }).to_string();
    let (status, _, body) = call(&app, post("/v1/records/a/signals", body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    error_text(&body);

    // ~200 KiB of records: over the default cap, well under the upsert's.
    let records: Vec<Record> = (0..2000).map(|i| lead(&format!("lead-{i:05}"))).collect();
    let body = upsert_body(&records);
    assert!(body.len() > BODY_LIMIT_BYTES);
    let (status, _, body) = call(&app, post("/v1/records", body)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let summary: UpsertSummary = serde_json::from_slice(&body).unwrap();
    assert_eq!(summary.created, 2000);
}

#[tokio::test]
async fn unknown_record_is_404() {
    let (status, _, body) = call(&app(), get("/v1/records/nobody")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_text(&body).contains("nobody"));
}

#[tokio::test]
async fn upsert_then_show_round_trips() {
    let app = app();
    let (status, _, body) = call(&app, post("/v1/records", upsert_body(&[lead("a/b c")]))).await;
    assert_eq!(status, StatusCode::OK);
    let summary: UpsertSummary = serde_json::from_slice(&body).unwrap();
    assert_eq!((summary.created, summary.merged), (1, 0));

    // Ids are path segments: the client percent-encodes them.
    let (status, _, body) = call(&app, get("/v1/records/a%2Fb%20c")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let shown: StoredRecord = serde_json::from_slice(&body).unwrap();
    assert_eq!(shown.record.id, "a/b c");
    assert_eq!(
        shown.record.value("company.domain"),
        Some(&Value::Text("acme.io".into()))
    );
}

#[tokio::test]
async fn signal_is_204_and_shows_up() {
    let app = app();
    call(&app, post("/v1/records", upsert_body(&[lead("s1")]))).await;
    let body = r#"{"kind": "pricing_page", "at": "2026-11-20T10:00:00Z"}"#;
    let (status, _, _) = call(&app, post("/v1/records/s1/signals", body)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, body) = call(&app, get("/v1/records/s1")).await;
    let shown: StoredRecord = serde_json::from_slice(&body).unwrap();
    assert_eq!(shown.signals.len(), 1);
    assert_eq!(shown.signals[0].kind, "pricing_page");
    assert_eq!(
        shown.signals[0].at.to_rfc3339(),
        "2026-11-20T10:00:00+00:00"
    );

    let (status, _, _) = call(&app, post("/v1/records/ghost/signals", r#"{"kind": "x"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(&app, post("/v1/records/s1/signals", r#"{"kind": " "}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn status_and_metrics() {
    let app = app();
    call(
        &app,
        post("/v1/records", upsert_body(&[lead("a"), lead("b")])),
    )
    .await;
    let (status, _, body) = call(&app, get("/v1/status")).await;
    assert_eq!(status, StatusCode::OK);
    let s: Status = serde_json::from_slice(&body).unwrap();
    assert_eq!(s.records, 2);
    assert_eq!(s.queued_due + s.queued_later, 2);
    assert!(!s.providers.is_empty());

    let (status, headers, body) = call(&app, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], metrics::CONTENT_TYPE);
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("\nleadfall_store_records 2\n"), "{text}");
    let provider = s.providers.keys().next().unwrap();
    assert!(text.contains(&format!(
        "leadfall_provider_attempts_total{{provider=\"{provider}\"}} 0\n"
    )));
}

// The selection rules are Control's; here only the translation matters: a
// summary on success, an ErrorBody on a refused selector. One outcome each.
#[tokio::test]
async fn reenrich_dry_run_is_a_summary() {
    let app = app();
    call(&app, post("/v1/records", upsert_body(&[lead("r1")]))).await;
    let body = r#"{"selector": {"ids": ["r1", "ghost"]}, "dry_run": true}"#;
    let (status, _, body) = call(&app, post("/v1/reenrich", body)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let s: ReenrichSummary = serde_json::from_slice(&body).unwrap();
    assert!(s.dry_run);
    assert_eq!((s.matched, s.queued), (1, 0), "ghost does not exist");
}

#[tokio::test]
async fn reenrich_queues_what_it_matched() {
    let app = app();
    call(&app, post("/v1/records", upsert_body(&[lead("r1")]))).await;
    let body = r#"{"selector": {"ids": ["r1"]}}"#;
    let (status, _, body) = call(&app, post("/v1/reenrich", body)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let s: ReenrichSummary = serde_json::from_slice(&body).unwrap();
    assert!(!s.dry_run);
    assert_eq!((s.matched, s.queued), (1, 1));
}

#[tokio::test]
async fn reenrich_empty_selector_is_400() {
    let app = app();
    let body = r#"{"selector": {}, "dry_run": true}"#;
    let (status, _, body) = call(&app, post("/v1/reenrich", body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_text(&body).contains("empty selector"));
}

#[tokio::test]
async fn export_streams_jsonl_and_csv() {
    let app = app();
    let records: Vec<Record> = (0..300).map(|i| lead(&format!("e{i:03}"))).collect();
    call(&app, post("/v1/records", upsert_body(&records))).await;

    let (status, headers, body) = call(&app, get("/v1/export")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-ndjson");
    let lines: Vec<StoredRecord> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 300);
    assert_eq!(lines[0].record.id, "e000");
    assert_eq!(lines[299].record.id, "e299");

    let (status, headers, body) = call(&app, get("/v1/export?format=csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let mut rd = csv::Reader::from_reader(&body[..]);
    let header = rd.headers().unwrap().clone();
    assert_eq!(&header[0], "id");
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 300);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[7][col("company.domain")], "acme.io");
    assert_eq!(&rows[7][col("company.domain.state")], "known");
    assert_eq!(&rows[7][col("person.email")], "");
    assert_eq!(&rows[7][col("person.email.state")], "not_attempted");
}

/// Values a spreadsheet would run as formulas.
const FORMULAS: [&str; 7] = [
    "=HYPERLINK(\"http://evil.example/x\",\"click\")",
    "=cmd|' /C calc'!A0",
    "@SUM(1)",
    "+1",
    "-1",
    "\tx",
    "\rx",
];

#[tokio::test]
async fn csv_export_neutralises_formulas_and_jsonl_keeps_them() {
    let app = app();
    let records: Vec<Record> = FORMULAS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = lead(&format!("f{i}"));
            r.set("company.name", input(v));
            r
        })
        .collect();
    let (status, _, body) = call(&app, post("/v1/records", upsert_body(&records))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));

    let (_, _, body) = call(&app, get("/v1/export?format=csv")).await;
    let mut rd = csv::Reader::from_reader(&body[..]);
    let col = rd
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "company.name");
    let cells: Vec<String> = rd
        .records()
        .map(|r| r.unwrap()[col.unwrap()].to_string())
        .collect();
    let want: Vec<String> = FORMULAS.iter().map(|v| format!("'{v}")).collect();
    assert_eq!(cells, want);

    let (_, _, body) = call(&app, get("/v1/export")).await;
    let names: Vec<String> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<StoredRecord>(l).unwrap())
        .map(|s| s.record.value("company.name").unwrap().render())
        .collect();
    assert_eq!(names, FORMULAS);
}

#[test]
fn token_file_is_created_0600_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Token::load_or_create(&data).unwrap();
    let path = data.join(TOKEN_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(first.expose().len(), 64);
    assert!(first.expose().bytes().all(|b| b.is_ascii_hexdigit()));
    let second = Token::load_or_create(&data).unwrap();
    assert_eq!(first, second);
    assert_eq!(Token::read(&path).unwrap(), first);
}

/// The contract over real TCP, through the typed client.
#[tokio::test]
async fn client_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app()).await });

    let client = Client::new(&addr.to_string(), Token::new(TOKEN)).unwrap();
    client.health().await.unwrap();
    let records: Vec<Record> = (0..50).map(|i| lead(&format!("t{i:02}"))).collect();
    let summary = client.upsert(&records).await.unwrap();
    assert_eq!(summary.created, 50);
    let shown = client.show("t07").await.unwrap();
    assert_eq!(shown.record.id, "t07");
    client.signal("t07", "demo_request", None).await.unwrap();
    assert_eq!(client.show("t07").await.unwrap().signals.len(), 1);
    assert!(matches!(
        client.show("nobody").await,
        Err(ClientError::NotFound(_))
    ));
    let err = client.signal("t07", "", None).await.unwrap_err();
    assert!(
        matches!(err, ClientError::BadRequest(ref m) if m.contains("signal kind")),
        "{err:?}"
    );

    let status = client.status().await.unwrap();
    assert_eq!(status.records, 50);
    assert!(client
        .metrics()
        .await
        .unwrap()
        .contains("leadfall_store_records 50"));

    let mut out = Vec::new();
    let n = client
        .export_to(&mut out, ExportFormat::Jsonl, None)
        .await
        .unwrap();
    assert_eq!(n as usize, out.len());
    assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 50);
    let mut csv_out = Vec::new();
    client
        .export_to(&mut csv_out, ExportFormat::Csv, None)
        .await
        .unwrap();
    assert_eq!(csv::Reader::from_reader(&csv_out[..]).records().count(), 50);
    // Nothing was routed here (no pass ran): a route filter matches nothing.
    let mut routed = Vec::new();
    client
        .export_to(&mut routed, ExportFormat::Csv, Some("sales_now"))
        .await
        .unwrap();
    assert_eq!(csv::Reader::from_reader(&routed[..]).records().count(), 0);

    // The daemon's files in a data directory lead to the same daemon.
    let dir = tempfile::tempdir().unwrap();
    let missing = Client::from_data_dir(dir.path()).unwrap_err();
    assert!(matches!(missing, ClientError::DaemonFile { .. }));
    assert!(missing.to_string().contains("control.addr"), "{missing}");
    assert!(missing.to_string().contains("leadfall serve"), "{missing}");
    std::fs::write(dir.path().join(ADDR_FILE), format!("{addr}\n")).unwrap();
    std::fs::write(dir.path().join(TOKEN_FILE), format!("{TOKEN}\n")).unwrap();
    let from_dir = Client::from_data_dir(dir.path()).unwrap();
    assert_eq!(from_dir.status().await.unwrap().records, 50);

    let wrong = Client::new(&addr.to_string(), Token::new("nope")).unwrap();
    assert!(matches!(
        wrong.status().await,
        Err(ClientError::Unauthorized)
    ));
    let mut sink = Vec::new();
    let err = wrong
        .export_to(&mut sink, ExportFormat::Csv, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized));
    assert!(sink.is_empty());

    server.abort();
}

#[tokio::test]
async fn client_says_unreachable_when_nothing_listens() {
    // Bind, note the port, close it: nothing listens there now.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = Client::new(&format!("http://{addr}"), Token::new(TOKEN)).unwrap();
    let err = client.status().await.unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("leadfall serve"));
    assert!(!format!("{err:?}").contains(TOKEN));
}

/// The ops verbs end to end against a live API: parse a command line, run
/// it (on its own thread: `cli::run` builds its own runtime), check the exit
/// code and the files it wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_verbs_against_a_live_api() {
    use std::process::ExitCode;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app()).await });
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let leads = dir.path().join("leads.csv");
    std::fs::write(
        &leads,
        "id,person.email,company.domain\na,a@acme.io,acme.io\nb,not-an-email,acme.io\nc,c@acme.io,acme.io\nd,,beta.io\n",
    )
    .unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let run = |args: &[&str]| -> anyhow::Result<ExitCode> {
        let mut argv = vec!["leadfall", "--json", "--config", config.to_str().unwrap()];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&[
            "--addr",
            &addr,
            "--token-file",
            token_file.to_str().unwrap(),
        ]);
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv)?;
        std::thread::scope(|s| s.spawn(|| crate::cli::run(cli)).join().unwrap())
    };

    let code = run(&["import", leads.to_str().unwrap(), "--batch-size", "2"]).unwrap();
    assert_eq!(code, ExitCode::from(crate::cli::EXIT_ROWS_REJECTED));
    let rejects = std::fs::read_to_string(dir.path().join("leads.csv.rejects.csv")).unwrap();
    assert!(rejects.contains("not-an-email"), "{rejects}");

    let out = dir.path().join("out.csv");
    let code = run(&["export", "--format", "csv", "--out", out.to_str().unwrap()]).unwrap();
    assert_eq!(code, ExitCode::SUCCESS);
    let ids: Vec<String> = csv::Reader::from_path(&out)
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert_eq!(ids, ["a", "c", "d"]);

    assert_eq!(
        run(&["signal", "a", "demo_request"]).unwrap(),
        ExitCode::SUCCESS
    );
    assert_eq!(run(&["show", "a"]).unwrap(), ExitCode::SUCCESS);
    assert_eq!(run(&["status"]).unwrap(), ExitCode::SUCCESS);
    let missing = run(&["show", "zzz"]).unwrap_err();
    assert!(format!("{missing:#}").contains("zzz"), "{missing:#}");
    let empty = run(&["reenrich"]).unwrap_err();
    assert!(empty.to_string().starts_with("nothing selected"), "{empty}");

    server.abort();
}

#[tokio::test]
async fn report_and_provider_resume_plumbing() {
    let app = app();
    let (status, _, body) = call(
        &app,
        get("/v1/report?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let r: crate::report::Report = serde_json::from_slice(&body).unwrap();
    assert_eq!(r.credits, 0.0);
    assert_eq!(r.fields.len(), 9, "one entry per waterfall field");
    let (status, _, body) = call(&app, get("/v1/report?from=soon&to=2026-11-02")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_text(&body),
        "\"soon\" is not a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00Z)"
    );
    let (status, _, body) = call(&app, post("/v1/providers/mailfinder/resume", "")).await;
    assert_eq!(status, StatusCode::OK);
    let res: crate::control::ResumeResult = serde_json::from_slice(&body).unwrap();
    assert_eq!(res.lifted, None, "it was not paused");
    let (status, _, body) = call(&app, post("/v1/providers/nobody/resume", "")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn job_webhooks_need_no_token_but_a_provider_that_takes_them_and_a_bounded_body() {
    let app = app();
    let unsigned = |body: Vec<u8>| {
        Request::post("/v1/webhooks/fullenrich")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    // No token, yet not 401: the vendor's signature guards this route. The
    // default config loads no provider that takes webhooks.
    let (status, _, body) = call(&app, unsigned(b"{\"id\":\"x\"}".to_vec())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body:?}");
    let (status, _, _) = call(&app, unsigned(vec![b' '; 2 << 20])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Every other route still wants the token.
    let (status, _, _) = call(
        &app,
        Request::get("/v1/status").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn webhook_signatures_are_hex_hmac_sha1_of_the_raw_body() {
    // RFC 2202-style vector: HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog").
    let body = b"The quick brown fox jumps over the lazy dog";
    let good = "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9";
    assert!(crate::executor::webhook_signature_ok("key", body, good));
    assert!(crate::executor::webhook_signature_ok(
        "key",
        body,
        &good.to_uppercase()
    ));
    assert!(!crate::executor::webhook_signature_ok(
        "key",
        b"tampered",
        good
    ));
    assert!(!crate::executor::webhook_signature_ok("other", body, good));
    assert!(!crate::executor::webhook_signature_ok("key", body, "zz"));
    assert!(!crate::executor::webhook_signature_ok("key", body, ""));
}
