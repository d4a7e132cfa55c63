//! FullEnrich, the asynchronous vendor: submit a job, poll with growing
//! intervals until FINISHED; a pass that runs out of time hands back `pending`
//! and the next one resumes the same job; a crash between submit and answer
//! resumes polling after a restart instead of submitting (and paying) again.

use super::replay::{Reply, Seen};
use super::*;
use serde_json::json;

const JOHN: &[(&str, &str)] = &[
    ("person.first_name", "John"),
    ("person.last_name", "Snow"),
    ("company.domain", "example.com"),
];
const JOB: &str = "2db5ea61-1752-42cf-8ea1-ab1da060cd0a";

/// Polls every few milliseconds, giving up after `max_wait`.
fn fast_polls(max_wait: Duration) -> impl FnOnce(&mut Provider) {
    move |p| {
        for op in &mut p.operations {
            if let Some(j) = op.job.as_mut() {
                j.poll_interval = Duration::from_millis(20);
                j.max_poll_interval = Duration::from_millis(80);
                j.max_wait = max_wait;
            }
        }
    }
}

fn submitted() -> Reply {
    Reply::fixture(200, "fullenrich.contact-enrich-bulk.post.200.json")
}
fn in_progress() -> Reply {
    Reply::fixture(
        400,
        "fullenrich.contact-enrich-bulk.get.400-in-progress.json",
    )
}
fn finished() -> Reply {
    Reply::fixture(200, "fullenrich.contact-enrich-bulk.get.200.json")
}

fn assert_submit(seen: &Seen) {
    assert_shape(
        seen,
        "POST",
        "/api/v2/contact/enrich/bulk",
        AuthAt::Header("authorization", "Bearer "),
        &[],
        &[
            ("/name", json!("leadfall")),
            ("/data/0/first_name", json!("John")),
            ("/data/0/last_name", json!("Snow")),
            ("/data/0/domain", json!("example.com")),
            (
                "/data/0/enrich_fields",
                json!(["contact.work_emails", "contact.phones"]),
            ),
        ],
    );
}

fn assert_poll(seen: &Seen) {
    assert_shape(
        seen,
        "GET",
        &format!("/api/v2/contact/enrich/bulk/{JOB}"),
        AuthAt::Header("authorization", "Bearer "),
        &[],
        &[],
    );
}

fn posts(v: &Vendor) -> usize {
    v.replay
        .seen()
        .iter()
        .filter(|s| s.method == "POST")
        .count()
}

#[tokio::test]
async fn fullenrich_submit_then_poll_until_finished() {
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_secs(10))).await;
    v.replay
        .script([submitted(), in_progress(), in_progress(), finished()]);
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(
        field(&r, "person.email"),
        (json!("john.snow@example.com"), 0.9),
        "DELIVERABLE"
    );
    assert_eq!(field(&r, "person.phone").0, json!("+15551234567"));
    assert_eq!(
        field(&r, "person.title").0,
        json!("Head of Sales Operations")
    );
    assert_eq!(field(&r, "company.employee_count").0, json!(250));
    assert_eq!(r.entry.credits, 14.0, "the job's /cost/credits");
    assert_eq!(r.entry.attempts, 4, "one submit, three polls");
    let seen = v.replay.seen();
    assert_submit(&seen[0]);
    seen[1..].iter().for_each(assert_poll);
    let ledger = v.executor.store().ledger().unwrap();
    let kinds: Vec<(&str, f64)> = ledger
        .iter()
        .map(|e| (e.outcome.as_str(), e.credits))
        .collect();
    assert_eq!(kinds, [("submitted", 0.0), ("hit", 14.0)]);

    // Asked again: the cache answers, nothing is sent.
    let again = v.call("contact-enrich", JOHN).await;
    assert!(again.entry.cached);
    assert_eq!(v.replay.seen().len(), 4);
}

#[tokio::test]
async fn fullenrich_finished_without_contact_info_is_not_found() {
    let mut body: serde_json::Value = serde_json::from_slice(&replay::fixture_bytes(
        "fullenrich.contact-enrich-bulk.get.200.json",
    ))
    .unwrap();
    let contact = body
        .pointer_mut("/data/0")
        .unwrap()
        .as_object_mut()
        .unwrap();
    contact.insert("contact_info".into(), json!({}));
    contact.remove("profile");
    *body.pointer_mut("/cost/credits").unwrap() = json!(0);
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_secs(10))).await;
    v.replay.script([
        submitted(),
        Reply::text(200, "application/json", &body.to_string()),
    ]);
    assert_not_found(&v.call("contact-enrich", JOHN).await);
}

#[tokio::test]
async fn fullenrich_long_job_resumes_on_the_next_pass() {
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_millis(300))).await;
    v.replay.script([submitted()]);
    v.replay.repeat(in_progress());
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(
        failed(&r),
        "pending",
        "still running when this pass's time is up"
    );
    let polls_before = v.replay.seen().len();
    assert!(polls_before >= 3, "submitted and polled: {polls_before}");

    // The next pass polls the same job: no second submit.
    v.replay.script([finished()]);
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(field(&r, "person.email").0, json!("john.snow@example.com"));
    assert_eq!(posts(&v), 1, "submitted once");
    assert_poll(v.replay.seen().last().unwrap());
}

/// A child process that does not outlive a failed test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Set in the child process of the crash test: `<store dir>\n<vendor base URL>`.
const CRASH_CHILD: &str = "LEADFALL_TEST_ASYNC_JOB_CRASH_CHILD";

#[tokio::test]
async fn fullenrich_crash_between_submit_and_answer_does_not_pay_twice() {
    if let Ok(arg) = std::env::var(CRASH_CHILD) {
        // The child: what the daemon does, on a store of its own, until the
        // parent kills it with SIGKILL mid-poll (nothing is dropped or flushed
        // on the way out).
        let (dir, base) = arg.split_once('\n').unwrap();
        let mut p = compile_pointed_at("fullenrich", base);
        quick(&mut p);
        fast_polls(Duration::from_secs(30))(&mut p);
        let mut set = ProviderSet::default();
        set.insert(p);
        let executor = Executor::with_durability(
            Arc::new(set),
            Arc::new(Catalogue::standard()),
            Arc::new(Store::open(Path::new(dir)).unwrap()),
            Arc::new(SystemClock),
            true,
        );
        let inputs: Inputs = JOHN
            .iter()
            .map(|(k, val)| ((*k).into(), Value::Text(val.to_string())))
            .collect();
        let r = executor
            .execute("fullenrich.contact-enrich", &inputs, None)
            .await;
        panic!("the child should have been killed mid-poll, got {r:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let replay = replay::Replay::start().await;
    replay.script([submitted()]);
    replay.repeat(in_progress());
    let mut child = KillOnDrop(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "vendors::async_job::fullenrich_crash_between_submit_and_answer_does_not_pay_twice",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                CRASH_CHILD,
                format!("{}\n{}", dir.path().to_str().unwrap(), replay.base),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Submitted and polled once (the job is recorded durably before the first
    // poll): then the process dies, really.
    replay.wait_for_requests(2).await;
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed, not exited: {status}");

    let store = Arc::new(reopen(dir.path()));
    replay.script([finished()]);
    let v = Vendor::on(
        "fullenrich",
        replay.clone(),
        store,
        fast_polls(Duration::from_secs(30)),
    );
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(field(&r, "person.email").0, json!("john.snow@example.com"));
    assert_eq!(
        posts(&v),
        1,
        "the restart resumed the job instead of submitting again"
    );
    assert_poll(replay.seen().last().unwrap());
    let ledger = v.executor.store().ledger().unwrap();
    let billed: f64 = ledger.iter().map(|e| e.credits).sum();
    assert_eq!(billed, 14.0, "{ledger:#?}");
    assert_eq!(
        ledger.iter().filter(|e| e.outcome == "submitted").count(),
        1
    );
}

#[tokio::test]
async fn fullenrich_submit_and_poll_failures() {
    // 429 on submit (no headers; "try again in 1m"): retried with backoff.
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_secs(10))).await;
    v.replay.script([
        Reply::fixture(429, "fullenrich.429.json"),
        submitted(),
        finished(),
    ]);
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(r.entry.throttled, 1);
    assert_eq!(field(&r, "person.email").0, json!("john.snow@example.com"));
    assert_eq!(posts(&v), 2);

    // 401 on submit: auth error, nothing recorded as open.
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_secs(10))).await;
    v.replay.script([Reply::text(
        401,
        "application/json",
        r#"{"code":"error.api.key","message":"Invalid API key"}"#,
    )]);
    assert_eq!(failed(&v.call("contact-enrich", JOHN).await), "auth_error");
    assert_eq!(v.replay.seen().len(), 1);

    // 5xx while polling: retried; the job is kept.
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_secs(10))).await;
    let five = Reply::text(502, "text/html", "bad gateway");
    v.replay
        .script([submitted(), five.clone(), in_progress(), five, finished()]);
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(field(&r, "person.email").0, json!("john.snow@example.com"));
    assert_eq!(posts(&v), 1);

    // The vendor lost the job (404): the call fails, the job is forgotten, the
    // next pass submits afresh.
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_secs(10))).await;
    v.replay.script([
        submitted(),
        Reply::fixture(404, "fullenrich.contact-enrich-bulk.get.404.json"),
        submitted(),
        finished(),
    ]);
    assert_eq!(failed(&v.call("contact-enrich", JOHN).await), "permanent");
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(field(&r, "person.email").0, json!("john.snow@example.com"));
    assert_eq!(posts(&v), 2);

    // Credits ran out mid-job.
    let v = Vendor::start_with("fullenrich", fast_polls(Duration::from_secs(10))).await;
    v.replay.script([
        submitted(),
        Reply::text(
            402,
            "application/json",
            r#"{"id":"x","status":"CREDITS_INSUFFICIENT","data":[]}"#,
        ),
    ]);
    assert_eq!(
        failed(&v.call("contact-enrich", JOHN).await),
        "quota_exhausted"
    );
}

/// Open again in the same process: sled releases the previous handle's file
/// lock a moment after it is dropped.
fn reopen(dir: &std::path::Path) -> Store {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(s) => return s,
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Hex HMAC-SHA1 of `body` keyed with `key`, as FullEnrich signs its posts.
fn sign(key: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn fullenrich_webhook_delivers_the_answer_and_the_next_pass_reads_it_without_polling() {
    const HOOK: &str = "https://leads.example.com/v1/webhooks/fullenrich";
    let v = Vendor::start_with("fullenrich", |p| {
        fast_polls(Duration::from_millis(200))(p);
        p.webhook_url = Some(HOOK.into());
    })
    .await;
    v.replay.script([submitted()]);
    v.replay.repeat(in_progress());
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(failed(&r), "pending");
    let submit = &v.replay.seen()[0];
    let sent = submit.body.as_ref().unwrap();
    assert_eq!(sent["webhook_url"], HOOK, "the submit asks for the webhook");

    let key = v
        .executor
        .providers()
        .get("fullenrich")
        .unwrap()
        .auth
        .as_ref()
        .unwrap()
        .secret
        .expose()
        .to_string();
    let body = replay::fixture_bytes("fullenrich.contact-enrich-bulk.get.200.json");
    let accept =
        |sig: Option<&str>, body: &[u8]| v.executor.accept_webhook("fullenrich", sig, body);
    // Unsigned, wrongly signed, or about a job that is not ours: refused.
    assert_eq!(accept(None, &body), Err(WebhookError::BadSignature));
    assert_eq!(
        accept(Some(&sign("not-the-key", &body)), &body),
        Err(WebhookError::BadSignature)
    );
    let other = String::from_utf8(body.clone())
        .unwrap()
        .replace(JOB, "another-job");
    assert_eq!(
        accept(Some(&sign(&key, other.as_bytes())), other.as_bytes()),
        Err(WebhookError::UnknownJob)
    );
    assert_eq!(
        v.executor.accept_webhook("hunter", Some("00"), &body),
        Err(WebhookError::UnknownProvider)
    );
    // The real post: kept with the job, for the record the job was submitted for.
    assert_eq!(
        accept(Some(&sign(&key, &body)), &body),
        Ok(Some("r1".to_string()))
    );

    let requests = v.replay.seen().len();
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(field(&r, "person.email").0, json!("john.snow@example.com"));
    assert_eq!(r.entry.credits, 14.0);
    assert_eq!(
        v.replay.seen().len(),
        requests,
        "answered from the post, not polled"
    );
    assert_eq!(posts(&v), 1);
    // The job is closed: a repeated post (FullEnrich retries on non-2xx) finds nothing.
    assert_eq!(
        accept(Some(&sign(&key, &body)), &body),
        Err(WebhookError::UnknownJob)
    );
}

#[tokio::test]
async fn a_posted_job_still_in_progress_is_read_once_then_polling_resumes() {
    let v = Vendor::start_with("fullenrich", |p| {
        fast_polls(Duration::from_millis(150))(p);
        p.webhook_url = Some("https://leads.example.com/v1/webhooks/fullenrich".into());
    })
    .await;
    v.replay.script([submitted()]);
    v.replay.repeat(in_progress());
    assert_eq!(failed(&v.call("contact-enrich", JOHN).await), "pending");
    let key = v
        .executor
        .providers()
        .get("fullenrich")
        .unwrap()
        .auth
        .as_ref()
        .unwrap()
        .secret
        .expose()
        .to_string();
    // A per-contact event: the job is still running.
    let running = String::from_utf8(replay::fixture_bytes(
        "fullenrich.contact-enrich-bulk.get.200.json",
    ))
    .unwrap()
    .replace("\"FINISHED\"", "\"IN_PROGRESS\"");
    let sig = sign(&key, running.as_bytes());
    assert_eq!(
        v.executor
            .accept_webhook("fullenrich", Some(&sig), running.as_bytes()),
        Ok(Some("r1".to_string()))
    );
    // Read once (pending), then the vendor is polled again and answers.
    v.replay.script([finished()]);
    let r = v.call("contact-enrich", JOHN).await;
    assert_eq!(field(&r, "person.email").0, json!("john.snow@example.com"));
    assert_poll(v.replay.seen().last().unwrap());
    assert_eq!(posts(&v), 1);
}
