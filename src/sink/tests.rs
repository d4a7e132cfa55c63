//! Sink tests: signatures, the JSON-lines target, and the webhook over real
//! sockets against a scripted axum receiver that verifies every signature.
//! Synchronisation is by awaiting store or receiver state, never by sleeping.

use super::signature::{EVENT_ID_HEADER, MAX_AGE_SECS, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::target::event_id;
use super::*;
use crate::engine::merge::merge_input;
use crate::model::Precedence;
use crate::model::Record;
use crate::provider::Secret;
use crate::store::StoredRecord;
use crate::store::{RecordStore, StepCommit, Store};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "whsec_test";

/// Millisecond backoff so retry tests take well under a second.
const FAST: SinkBackoff = SinkBackoff {
    initial: Duration::from_millis(5),
    max: Duration::from_millis(20),
    max_elapsed: Duration::from_secs(10),
};

// ---------- helpers ----------

fn merge(e: Option<StoredRecord>, r: Record, now: DateTime<Utc>) -> (StoredRecord, bool) {
    merge_input(e, r, now, &Precedence::default())
}

fn event(id: &str) -> Value {
    json!({
        "id": id,
        "type": "route_changed",
        "record_id": id.split('#').next().unwrap(),
        "old_route": null,
        "new_route": "sales",
        "scores": {},
        "explanation": "test",
        "changed_fields": [],
        "at": "2026-01-01T00:00:00Z",
    })
}

/// Commit `events` to the outbox the way a worker does: through a step on a
/// fresh record.
fn append(store: &Store, record_id: &str, ids: &[&str]) {
    let now = Utc::now();
    store
        .upsert(vec![Record::new(record_id, now)], now, &merge)
        .unwrap();
    let leased = store
        .lease_due(
            now + chrono::Duration::seconds(1),
            10,
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(leased.len(), 1, "only the new record is due");
    store
        .commit_step(StepCommit {
            record: leased[0].record.clone(),
            lease: leased[0].lease,
            outbox: ids.iter().map(|id| event(id)).collect(),
            next_due: None,
        })
        .unwrap();
}

fn webhook_sink(url: &str, max_attempts: u32) -> Sink {
    Sink {
        name: "hook".into(),
        target: SinkTarget::Webhook {
            url: url::Url::parse(url).unwrap(),
            secret: Secret::new(SECRET.into()),
            timeout: Duration::from_secs(2),
        },
        max_attempts,
    }
}

fn jsonl_sink(path: &Path) -> Sink {
    Sink {
        name: "file".into(),
        target: SinkTarget::Jsonl(path.to_path_buf()),
        max_attempts: 3,
    }
}

struct Running {
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

impl Running {
    fn start(store: &Store, sink: Sink, backoff: SinkBackoff, wake: &Arc<Notify>) -> Running {
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(run_sink_with(
            Arc::new(store.clone()),
            sink,
            backoff,
            wake.clone(),
            cancel.clone(),
        ));
        Running { cancel, handle }
    }

    /// Cancel and require the task to end promptly.
    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(1), self.handle)
            .await
            .expect("the sink stops within a second of cancel")
            .expect("the sink task does not panic");
    }
}

/// Poll `probe` until it says done; on timeout fail with the last state seen.
async fn wait_for<T: Debug>(what: &str, mut probe: impl FnMut() -> (bool, T)) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (done, state) = probe();
        if done {
            return state;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}; last state: {state:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn caught_up(store: &Store, sink: &str) {
    wait_for(&format!("sink {sink} to reach the outbox head"), || {
        let (cursor, head) = (
            store.outbox_cursor(sink).unwrap(),
            store.outbox_head().unwrap(),
        );
        (cursor == head && head > 0, (cursor, head))
    })
    .await;
}

fn read_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .map(|v| v["id"].as_str().unwrap().to_string())
                .unwrap_or_else(|_| format!("unparsable: {l}"))
        })
        .collect()
}

// ---------- the scripted receiver ----------

#[derive(Debug, Default)]
struct Seen {
    /// Requests per event id, signature good or bad.
    attempts: HashMap<String, u32>,
    /// Ids accepted (2xx), each once: the receiver dedupes.
    accepted: Vec<String>,
    /// Requests whose signature, timestamp or headers did not check out.
    bad: Vec<String>,
}

#[derive(Clone, Default)]
struct Receiver {
    /// Statuses to answer first, whatever the event.
    script: Arc<Mutex<VecDeque<u16>>>,
    /// Events always answered 500.
    always_fail: Arc<HashSet<String>>,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().unwrap())
    }

    async fn start(self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(self);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/hook")
    }
}

/// Check a delivery as a real receiver would; the problem if any.
fn check(headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("missing {name}"))
    };
    let id = header(EVENT_ID_HEADER)?.to_string();
    let ts: i64 = header(TIMESTAMP_HEADER)?
        .parse()
        .map_err(|_| "bad timestamp".to_string())?;
    if !verify(SECRET, ts, body, header(SIGNATURE_HEADER)?) {
        return Err(format!("{id}: bad signature"));
    }
    if (Utc::now().timestamp() - ts).abs() > MAX_AGE_SECS {
        return Err(format!("{id}: stale timestamp"));
    }
    if header("content-type")? != "application/json" {
        return Err(format!("{id}: wrong content type"));
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|e| format!("{id}: {e}"))?;
    if parsed["id"] != id.as_str() {
        return Err(format!(
            "{id}: header id differs from body id {}",
            parsed["id"]
        ));
    }
    Ok(id)
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut seen = r.seen.lock().unwrap();
    let id = match check(&headers, &body) {
        Ok(id) => id,
        Err(problem) => {
            seen.bad.push(problem);
            return StatusCode::UNAUTHORIZED;
        }
    };
    *seen.attempts.entry(id.clone()).or_default() += 1;
    if let Some(status) = r.script.lock().unwrap().pop_front() {
        return StatusCode::from_u16(status).unwrap();
    }
    if r.always_fail.contains(&id) {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if !seen.accepted.contains(&id) {
        seen.accepted.push(id);
    }
    StatusCode::OK
}

// ---------- signatures ----------

#[test]
fn sign_verify_round_trip_and_known_vector() {
    let body = br#"{"id":"lead00001#2"}"#;
    let sig = sign(SECRET, 1_700_000_000, body);
    // Computed independently (Python hmac): the scheme is a contract with receivers.
    assert_eq!(
        sig,
        "v1=2f1bcd972a59e7fb57cc26ed28455d98be14154d7b06f25f1398dc31a3fa0e5d"
    );
    assert!(verify(SECRET, 1_700_000_000, body, &sig));
    assert!(verify(
        SECRET,
        1_700_000_000,
        body,
        &sig.to_uppercase().replace("V1=", "v1=")
    ));
    assert!(
        verify(SECRET, 1_700_000_000, body, &format!("v1=00ff, {sig}")),
        "any of several entries (rotation)"
    );
}

#[test]
fn verify_rejects_tampering() {
    let body = br#"{"id":"lead00001#2"}"#;
    let sig = sign(SECRET, 1_700_000_000, body);
    assert!(
        !verify(SECRET, 1_700_000_000, br#"{"id":"lead00001#3"}"#, &sig),
        "tampered body"
    );
    assert!(!verify("other", 1_700_000_000, body, &sig), "wrong secret");
    assert!(
        !verify(SECRET, 1_700_000_001, body, &sig),
        "other timestamp"
    );
    let hex = sig.strip_prefix("v1=").unwrap();
    for bad in [
        "",
        "v1=",
        hex,
        "v2=00",
        "v1=zz",
        &format!("v1={}", &hex[..62]),
    ] {
        assert!(!verify(SECRET, 1_700_000_000, body, bad), "header {bad:?}");
    }
}

#[test]
fn event_ids_are_stable_header_values() {
    assert_eq!(event_id(7, br#"{"id":"lead00001#2"}"#), "lead00001#2");
    assert_eq!(event_id(7, br#"{"id":"l\u00e9a 1%"}"#), "l%C3%A9a%201%25");
    assert_eq!(event_id(7, br#"{"type":"route_changed"}"#), "seq-7");
    assert_eq!(event_id(7, br#"{"id":""}"#), "seq-7");
}

// ---------- jsonl ----------

#[tokio::test]
async fn jsonl_delivers_in_order_and_a_restart_delivers_nothing_twice() {
    let store = Store::temporary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out").join("events.jsonl");
    let wake = Arc::new(Notify::new());
    append(&store, "lead1", &["lead1#1", "lead1#2", "lead1#3"]);
    append(&store, "lead2", &["lead2#1", "lead2#2"]);

    let run = Running::start(&store, jsonl_sink(&path), FAST, &wake);
    caught_up(&store, "file").await;
    run.stop().await;
    assert_eq!(
        read_ids(&path),
        ["lead1#1", "lead1#2", "lead1#3", "lead2#1", "lead2#2"]
    );

    // A new task on the same open store (a clean restart; the crash is
    // `jsonl_after_a_kill_9_delivers_nothing_flushed_twice`) starts at the cursor; the wake-up
    // brings the new events without waiting for the poll tick.
    let run = Running::start(&store, jsonl_sink(&path), FAST, &wake);
    append(&store, "lead3", &["lead3#1", "lead3#2"]);
    wake.notify_waiters();
    caught_up(&store, "file").await;
    run.stop().await;
    assert_eq!(
        read_ids(&path),
        ["lead1#1", "lead1#2", "lead1#3", "lead2#1", "lead2#2", "lead3#1", "lead3#2"]
    );
    let health = sink_health(&store, &[jsonl_sink(&path)]).unwrap();
    assert_eq!(health.len(), 1);
    assert_eq!(
        (
            health[0].kind.as_str(),
            health[0].lag,
            health[0].dead_letters
        ),
        ("jsonl", 0, 0)
    );
    assert_eq!(health[0].cursor, health[0].head);
}

/// Set in the child process of the kill test: the test's directory.
const KILL_CHILD: &str = "LEADFALL_TEST_SINK_KILL_CHILD";

/// The restart above is a clean one (the task cancelled, the store still
/// open). Here the delivering process is killed with SIGKILL: what the sink
/// had delivered and flushed its cursor for is not delivered again, and
/// nothing is lost.
#[tokio::test]
async fn jsonl_after_a_kill_9_delivers_nothing_flushed_twice() {
    if let Ok(dir) = std::env::var(KILL_CHILD) {
        let dir = Path::new(&dir);
        let store = Store::open(&dir.join("store")).unwrap();
        let wake = Arc::new(Notify::new());
        append(&store, "lead1", &["lead1#1", "lead1#2", "lead1#3"]);
        append(&store, "lead2", &["lead2#1", "lead2#2"]);
        store.flush().unwrap();
        let _run = Running::start(&store, jsonl_sink(&dir.join("events.jsonl")), FAST, &wake);
        caught_up(&store, "file").await;
        // The sink flushes a batch's cursor before it reads the next batch:
        // once these are delivered too, the first five's cursor is on disk.
        // (Not flushed here: only the sink's own flush may persist the cursor.)
        append(&store, "lead3", &["lead3#1", "lead3#2"]);
        wake.notify_waiters();
        caught_up(&store, "file").await;
        crate::testing::acknowledge();
        std::future::pending::<()>().await;
    }
    let dir = tempfile::tempdir().unwrap();
    crate::testing::run_child_and_kill_it(
        "sink::tests::jsonl_after_a_kill_9_delivers_nothing_flushed_twice",
        KILL_CHILD,
        dir.path().to_str().unwrap(),
    );
    let path = dir.path().join("events.jsonl");
    let store = Store::open(&dir.path().join("store")).unwrap();
    let wake = Arc::new(Notify::new());
    let run = Running::start(&store, jsonl_sink(&path), FAST, &wake);
    append(&store, "lead4", &["lead4#1"]);
    wake.notify_waiters();
    caught_up(&store, "file").await;
    run.stop().await;
    let ids = read_ids(&path);
    // lead3's events and cursor may not have reached the disk: at least
    // once, in order.
    let first = ["lead1#1", "lead1#2", "lead1#3", "lead2#1", "lead2#2"];
    assert_eq!(ids[..5], first, "{ids:?}");
    let rest: Vec<&str> = ids[5..].iter().map(String::as_str).collect();
    assert!(
        rest == ["lead3#1", "lead3#2", "lead4#1"]
            || rest == ["lead3#1", "lead3#2", "lead3#1", "lead3#2", "lead4#1"],
        "{ids:?}"
    );
}

#[tokio::test]
async fn jsonl_keeps_a_torn_last_line_apart() {
    let store = Store::temporary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, r#"{"id":"torn"#).unwrap();
    append(&store, "lead1", &["lead1#1"]);
    let run = Running::start(&store, jsonl_sink(&path), FAST, &Arc::new(Notify::new()));
    caught_up(&store, "file").await;
    run.stop().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], r#"{"id":"torn"#);
    assert_eq!(read_ids(&path)[1], "lead1#1");
}

// ---------- webhook ----------

#[tokio::test]
async fn webhook_retries_5xx_then_delivers_once() {
    let store = Store::temporary().unwrap();
    let receiver = Receiver {
        script: Arc::new(Mutex::new(VecDeque::from([500, 500]))),
        ..Receiver::default()
    };
    let url = receiver.clone().start().await;
    let wake = Arc::new(Notify::new());
    append(&store, "lead00001", &["lead00001#1"]);

    let run = Running::start(&store, webhook_sink(&url, 5), FAST, &wake);
    caught_up(&store, "hook").await;
    run.stop().await;
    receiver.seen(|s| {
        assert!(s.bad.is_empty(), "bad deliveries: {:?}", s.bad);
        assert_eq!(s.attempts["lead00001#1"], 3, "500, 500, then 200");
        assert_eq!(s.accepted, ["lead00001#1"]);
    });

    // A crash before the cursor moved re-delivers; the receiver's dedupe on
    // the event id keeps it one logical delivery.
    store.set_outbox_cursor("hook", 0).unwrap();
    let run = Running::start(&store, webhook_sink(&url, 5), FAST, &wake);
    caught_up(&store, "hook").await;
    run.stop().await;
    receiver.seen(|s| {
        assert!(s.bad.is_empty(), "bad deliveries: {:?}", s.bad);
        assert_eq!(s.attempts["lead00001#1"], 4);
        assert_eq!(s.accepted, ["lead00001#1"]);
    });
    let health = sink_health(&store, &[webhook_sink(&url, 5)]).unwrap();
    assert_eq!((health[0].lag, health[0].dead_letters), (0, 0));
}

#[tokio::test]
async fn webhook_dead_letters_after_max_attempts_and_goes_on() {
    let store = Store::temporary().unwrap();
    let receiver = Receiver {
        always_fail: Arc::new(HashSet::from(["lead1#1".to_string()])),
        ..Receiver::default()
    };
    let url = receiver.clone().start().await;
    append(&store, "lead1", &["lead1#1", "lead1#2"]);
    let first_seq = store.outbox_after(0, 1).unwrap()[0].0;

    let sink = webhook_sink(&url, 3);
    let run = Running::start(&store, sink.clone(), FAST, &Arc::new(Notify::new()));
    caught_up(&store, "hook").await;
    run.stop().await;
    receiver.seen(|s| {
        assert!(s.bad.is_empty(), "bad deliveries: {:?}", s.bad);
        assert_eq!(s.attempts["lead1#1"], 3, "exactly max_attempts");
        assert_eq!(s.attempts["lead1#2"], 1);
        assert_eq!(s.accepted, ["lead1#2"]);
    });
    let health = sink_health(&store, &[sink]).unwrap();
    let h = &health[0];
    assert_eq!((h.name.as_str(), h.kind.as_str()), ("hook", "webhook"));
    assert_eq!((h.cursor, h.lag, h.dead_letters), (h.head, 0, 1));
    assert_eq!(
        h.last_dead,
        Some((first_seq, "webhook answered 500 (attempt 3)".to_string()))
    );
}

// ---------- cancellation ----------

#[tokio::test]
async fn cancel_stops_an_idle_sink() {
    let store = Store::temporary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = Running::start(
        &store,
        jsonl_sink(&dir.path().join("e.jsonl")),
        FAST,
        &Arc::new(Notify::new()),
    );
    run.stop().await;
}

#[tokio::test]
async fn cancel_stops_a_sink_waiting_to_retry() {
    let store = Store::temporary().unwrap();
    let receiver = Receiver {
        always_fail: Arc::new(HashSet::from(["lead1#1".to_string()])),
        ..Receiver::default()
    };
    let url = receiver.clone().start().await;
    append(&store, "lead1", &["lead1#1"]);
    let slow = SinkBackoff {
        initial: Duration::from_secs(30),
        max: Duration::from_secs(60),
        max_elapsed: Duration::from_secs(600),
    };
    let run = Running::start(
        &store,
        webhook_sink(&url, 10),
        slow,
        &Arc::new(Notify::new()),
    );
    wait_for("the first attempt", || {
        let n = receiver.seen(|s| s.attempts.get("lead1#1").copied().unwrap_or(0));
        (n >= 1, n)
    })
    .await;
    run.stop().await;
    assert_eq!(store.outbox_cursor("hook").unwrap(), 0, "nothing delivered");
    assert_eq!(
        store.outbox_dead_letters("hook", 1).unwrap().0,
        0,
        "nor given up"
    );
}
