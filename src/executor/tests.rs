//! Executor tests against the sandbox over real sockets: retries, faults,
//! cache, single-flight, circuit breaker, secrets.

use super::*;
use crate::clock::SystemClock;
use crate::config::{self, Settings};
use crate::model::Value;
use crate::sandbox::{serve, Sandbox, SandboxSettings, VendorSettings};
use std::path::Path;

struct Fx {
    sandbox: Sandbox,
    executor: Executor,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn fixture(tweak: impl FnOnce(&mut Settings)) -> Fx {
    let sandbox = Sandbox::new(SandboxSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, sandbox.clone(), async {
        let _ = rx.await;
    }));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let mut settings =
        config::load(&path, &Sandbox::provider_env(base)).expect("default config loads");
    tweak(&mut settings);
    let executor = Executor::new(
        Arc::new(settings.providers.clone()),
        Arc::new(settings.catalogue.clone()),
        Arc::new(crate::store::Store::temporary().unwrap()),
        Arc::new(SystemClock),
    );
    Fx {
        sandbox,
        executor,
        _stop: tx,
    }
}

fn provider<'a>(s: &'a mut Settings, id: &str) -> &'a mut crate::provider::Provider {
    s.providers.get_mut(id).unwrap()
}

/// Fast retries so fault tests finish quickly.
fn quick_retries(s: &mut Settings) {
    for p in s.providers.iter_mut() {
        p.retry.initial_backoff = Duration::from_millis(10);
        p.retry.max_backoff = Duration::from_millis(50);
    }
}

impl Fx {
    fn requests(&self, vendor: &str) -> u64 {
        self.sandbox.counters()[vendor].requests
    }

    /// Inputs of a person the mailfinder knows (or not).
    fn person(&self, known_to_mailfinder: bool) -> Inputs {
        let world = self.sandbox.world();
        // Find one deterministically by asking nothing of the sandbox: try people in order.
        let p = world
            .people
            .iter()
            .find(|p| {
                crate::sandbox::vendor_knows("mailfinder", world.seed, &p.id) == known_to_mailfinder
            })
            .unwrap();
        let c = world.company_of(p);
        [
            ("person.first_name", p.first_name.clone()),
            ("person.last_name", p.last_name.clone()),
            ("company.domain", c.domain.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), Value::Text(v)))
        .collect()
    }
}

const FINDER: &str = "mailfinder.email-finder";

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_succeeds() {
    let fx = fixture(quick_retries).await;
    fx.sandbox
        .script("mailfinder", serde_json::json!([{"status": 429, "headers": {"retry-after": "1"}, "body": {"errors": []}}]))
        .unwrap();
    let started = std::time::Instant::now();
    let res = fx
        .executor
        .execute(FINDER, &fx.person(true), Some("r1"))
        .await;
    assert!(
        matches!(res.outcome, CallOutcome::Hit(_)),
        "{:?}",
        res.outcome
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!((res.entry.attempts, res.entry.throttled), (2, 1));
    assert_eq!(fx.requests("mailfinder"), 2);
    assert_eq!(res.entry.credits, 1.0);
}

#[tokio::test]
async fn a_5xx_burst_is_retried() {
    let fx = fixture(quick_retries).await;
    fx.sandbox
        .script(
            "mailfinder",
            serde_json::json!([{"status": 500}, {"status": 502}]),
        )
        .unwrap();
    let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
    assert!(
        matches!(res.outcome, CallOutcome::Hit(_)),
        "{:?}",
        res.outcome
    );
    assert_eq!(res.entry.attempts, 3);
    assert_eq!(fx.requests("mailfinder"), 3);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let fx = fixture(quick_retries).await;
    fx.sandbox
        .script(
            "mailfinder",
            serde_json::json!({"status": 400, "body": {"errors": [{"id": "wrong_params"}]}}),
        )
        .unwrap();
    let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
    match res.outcome {
        CallOutcome::Failed { kind, message, .. } => {
            assert_eq!(kind, "permanent");
            assert!(message.contains("HTTP 400"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fx.requests("mailfinder"), 1);
}

#[tokio::test]
async fn malformed_json_is_a_provider_error_not_a_panic() {
    let fx = fixture(quick_retries).await;
    fx.sandbox
        .script(
            "mailfinder",
            serde_json::json!({"status": 200, "raw": true, "body": "{\"data\": {\"email\": "}),
        )
        .unwrap();
    let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
    let CallOutcome::Failed { kind, message, .. } = res.outcome else {
        panic!("{:?}", res.outcome)
    };
    assert_eq!(kind, "permanent");
    assert!(message.contains("malformed JSON"), "{message}");
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let fx = fixture(|s| provider(s, "mailfinder").max_body_bytes = 256).await;
    let big = "x".repeat(10_000);
    fx.sandbox
        .script(
            "mailfinder",
            serde_json::json!({"status": 200, "body": {"data": {"email": big}}}),
        )
        .unwrap();
    let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
    let CallOutcome::Failed { message, .. } = res.outcome else {
        panic!("{:?}", res.outcome)
    };
    assert!(message.contains("exceeds max_body_bytes 256"), "{message}");
}

#[tokio::test]
async fn a_hanging_vendor_times_out_and_is_retried_within_bounds() {
    let fx = fixture(|s| {
        quick_retries(s);
        let p = provider(s, "mailfinder");
        p.timeout = Duration::from_millis(200);
        p.retry.max_attempts = 2;
    })
    .await;
    fx.sandbox.set_vendor_settings(
        "mailfinder",
        VendorSettings {
            timeout_rate: 1.0,
            ..Default::default()
        },
    );
    let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
    let CallOutcome::Failed { kind, .. } = res.outcome else {
        panic!("{:?}", res.outcome)
    };
    assert_eq!(kind, "timeout");
    assert_eq!(res.entry.attempts, 2);
    assert_eq!(fx.requests("mailfinder"), 2);
}

#[tokio::test]
async fn a_rejected_key_is_an_auth_error_and_never_leaks() {
    let fx = fixture(|s| {
        let p = provider(s, "mailfinder");
        if let Some(a) = p.auth.as_mut() {
            a.secret = crate::provider::Secret::new("wrong-key-4242".into());
        }
    })
    .await;
    let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
    let CallOutcome::Failed { kind, message, .. } = &res.outcome else {
        panic!("{:?}", res.outcome)
    };
    assert_eq!(*kind, "auth_error");
    assert_eq!(fx.requests("mailfinder"), 1, "401 is not retried");
    let all = format!("{message} {:?} {:?}", res.entry, res.outcome);
    assert!(!all.contains("wrong-key-4242"), "{all}");
}

#[tokio::test]
async fn connection_errors_never_show_the_key() {
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let fx = fixture(|s| {
        quick_retries(s);
        let p = provider(s, "mailfinder");
        p.base_url = format!("http://{closed}/mailfinder");
        p.retry.max_attempts = 2;
    })
    .await;
    let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
    let CallOutcome::Failed { kind, message, .. } = &res.outcome else {
        panic!("{:?}", res.outcome)
    };
    assert_eq!(*kind, "transient");
    assert!(message.contains("connection failed"), "{message}");
    assert!(
        !message.contains("sandbox-mailfinder-key") && !message.contains("api_key"),
        "{message}"
    );
}

#[tokio::test]
async fn the_cache_answers_repeats_hits_and_misses_alike() {
    let fx = fixture(|_| {}).await;
    for known in [true, false] {
        let inputs = fx.person(known);
        let before = fx.requests("mailfinder");
        let first = fx.executor.execute(FINDER, &inputs, None).await;
        let second = fx.executor.execute(FINDER, &inputs, None).await;
        assert_eq!(
            fx.requests("mailfinder"),
            before + 1,
            "second call served from the cache"
        );
        assert_eq!(first.outcome, second.outcome);
        assert!(!first.entry.cached && second.entry.cached);
        assert_eq!(second.entry.credits, 0.0);
    }
}

#[tokio::test]
async fn a_cached_answer_comes_without_a_call_and_is_booked_like_one() {
    let fx = fixture(|_| {}).await;
    let inputs = fx.person(true);
    let missed = fx
        .executor
        .answer_from_cache(FINDER.into(), &inputs, Some("r1"), None, chrono::Utc::now())
        .expect_err("nothing is cached yet");
    assert_eq!(missed, crate::store::cache_key(FINDER, &inputs));
    let first = fx
        .executor
        .execute_looked_up(FINDER, &inputs, Some("r1"), None, missed)
        .await;
    assert!(!first.entry.cached, "the miss went to the vendor");
    let again = fx
        .executor
        .answer_from_cache(
            FINDER.into(),
            &inputs,
            Some("r2"),
            Some("capacity: why".into()),
            chrono::Utc::now(),
        )
        .expect("cached now");
    assert_eq!(fx.requests("mailfinder"), 1, "one request in all");
    assert_eq!(again.outcome, first.outcome);
    assert!(again.entry.cached && again.entry.credits == 0.0);
    assert_eq!(again.entry.saved_credits, first.entry.credits);
    assert_eq!(again.entry.choice.as_deref(), Some("capacity: why"));
    let rows = crate::store::CallStore::ledger(fx.executor.store()).unwrap();
    assert_eq!(rows.len(), 2, "both calls are in the ledger");
    assert_eq!(rows[1].record_id.as_deref(), Some("r2"));
    assert!(rows[1].cached);
}

#[tokio::test]
async fn concurrent_identical_lookups_make_one_call() {
    let fx = fixture(|_| {}).await;
    fx.sandbox.set_vendor_settings(
        "mailfinder",
        VendorSettings {
            latency_ms: 200,
            ..Default::default()
        },
    );
    let inputs = fx.person(true);
    let results = futures::future::join_all((0..10).map(|i| {
        let ex = fx.executor.clone();
        let inputs = inputs.clone();
        async move { ex.execute(FINDER, &inputs, Some(&format!("r{i}"))).await }
    }))
    .await;
    assert_eq!(fx.requests("mailfinder"), 1);
    assert_eq!(
        results.iter().filter(|r| !r.entry.cached).count(),
        1,
        "one paid call, nine coalesced"
    );
    assert_eq!(results.iter().map(|r| r.entry.credits).sum::<f64>(), 1.0);
    assert!(results
        .iter()
        .all(|r| matches!(r.outcome, CallOutcome::Hit(_))));
}

#[tokio::test]
async fn an_outage_opens_the_circuit_which_closes_after_it() {
    let fx = fixture(|s| {
        quick_retries(s);
        let p = provider(s, "mailfinder");
        p.circuit.failure_threshold = 3;
        p.circuit.open_for = Duration::from_millis(300);
        p.retry.max_attempts = 2;
    })
    .await;
    fx.sandbox.set_vendor_settings(
        "mailfinder",
        VendorSettings {
            outage: Some((0, u64::MAX)),
            ..Default::default()
        },
    );
    let mut kinds = Vec::new();
    for i in 0..4 {
        let mut inputs = fx.person(true);
        inputs.insert("person.first_name".into(), Value::Text(format!("x{i}")));
        if let CallOutcome::Failed { kind, .. } =
            fx.executor.execute(FINDER, &inputs, None).await.outcome
        {
            kinds.push(kind);
        }
    }
    assert_eq!(
        kinds,
        ["transient", "circuit_open", "circuit_open", "circuit_open"]
    );
    assert_eq!(fx.requests("mailfinder"), 3, "no calls while open");
    assert_eq!(
        fx.executor
            .runtime("mailfinder")
            .unwrap()
            .circuit
            .lock()
            .unwrap()
            .name(),
        "open"
    );
    // The outage ends; once the cool-down passes, a probe closes the circuit.
    fx.sandbox
        .set_vendor_settings("mailfinder", VendorSettings::default());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let res = loop {
        let res = fx.executor.execute(FINDER, &fx.person(true), None).await;
        match &res.outcome {
            CallOutcome::Failed {
                kind: "circuit_open",
                retry_after,
                ..
            } if std::time::Instant::now() < deadline => {
                tokio::time::sleep(*retry_after).await; // the breaker says when to come back
            }
            _ => break res,
        }
    };
    assert!(
        matches!(res.outcome, CallOutcome::Hit(_)),
        "{:?}",
        res.outcome
    );
    assert_eq!(
        fx.executor
            .runtime("mailfinder")
            .unwrap()
            .circuit
            .lock()
            .unwrap()
            .name(),
        "closed"
    );
}

#[tokio::test]
async fn pacing_keeps_under_the_vendor_limit() {
    let fx = fixture(|s| {
        let p = provider(s, "mailfinder");
        p.rate = Some(crate::provider::Rate {
            requests: 20,
            period: Duration::from_secs(1),
            burst: 1,
        });
    })
    .await;
    fx.sandbox.set_vendor_settings(
        "mailfinder",
        VendorSettings {
            rate_limit_per_sec: Some(20),
            ..Default::default()
        },
    );
    let people: Vec<Inputs> = (0..30)
        .map(|i| {
            let mut p = fx.person(true);
            p.insert("person.first_name".into(), Value::Text(format!("n{i}")));
            p
        })
        .collect();
    futures::future::join_all(people.iter().map(|p| fx.executor.execute(FINDER, p, None))).await;
    let c = &fx.sandbox.counters()["mailfinder"];
    assert_eq!(c.requests, 30);
    assert_eq!(c.rate_limited, 0, "pacing, not bursting into 429s");
}

#[tokio::test]
async fn an_exhausted_rate_window_header_pauses_the_next_call() {
    let fx = fixture(|s| {
        let p = provider(s, "mailfinder");
        p.rate_headers.remaining = Some("x-ratelimit-remaining".into());
        p.rate_headers.reset = Some("x-ratelimit-reset".into());
    })
    .await;
    fx.sandbox
        .script(
            "mailfinder",
            serde_json::json!({"status": 200, "headers": {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"},
                "body": {"data": {"email": "a@b.io", "score": 90}}}),
        )
        .unwrap();
    let mut a = fx.person(true);
    a.insert("person.first_name".into(), Value::Text("first".into()));
    fx.executor.execute(FINDER, &a, None).await;
    let t = std::time::Instant::now();
    fx.executor.execute(FINDER, &fx.person(true), None).await;
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "waited for the window to reset: {:?}",
        t.elapsed()
    );
    let times = fx.sandbox.timeline("mailfinder");
    assert_eq!(times.len(), 2);
    assert!(times[1] - times[0] >= 900, "{times:?}");
}

#[test]
fn rate_headers_read_numbers_json_windows_and_times() {
    assert_eq!(super::remaining_count("0"), Some(0.0));
    assert_eq!(
        super::remaining_count(r#"{"minute": 0, "day": 90}"#),
        Some(0.0)
    );
    assert_eq!(
        super::remaining_count(r#"{"minute": "12", "day": 90}"#),
        Some(12.0)
    );
    assert_eq!(super::remaining_count("lots"), None);
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(super::reset_secs("30", now), Some(30.0));
    assert_eq!(
        super::reset_secs(&(now.timestamp() + 45).to_string(), now),
        Some(45.0)
    );
    assert_eq!(super::reset_secs("2026-11-23T12:01:00Z", now), Some(60.0));
    assert_eq!(super::reset_secs("2026-11-23 12:00:20", now), Some(20.0));
    assert_eq!(
        super::reset_secs("2026-11-23 11:00:00", now),
        Some(0.0),
        "past: no wait"
    );
    assert_eq!(super::reset_secs("soon", now), None);
}

#[test]
fn a_negative_or_odd_rate_window_reset_waits_nothing_or_the_cap() {
    // Found through the provider_response fuzz target: a reset header of
    // `-5` panicked in Duration::from_secs_f64 (fuzz/regressions/provider_response/).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let mut settings = config::load(&path, &|_| None).expect("default config loads");
    let p = provider(&mut settings, "personapi");
    p.rate_headers.reset = Some("x-ratelimit-reset".into());
    let answer = |reset: &str| {
        let headers = [
            ("X-RateLimit-Remaining".to_string(), "0".to_string()),
            ("x-ratelimit-reset".to_string(), reset.to_string()),
        ];
        rate_header_wait(p, &headers, chrono::Utc::now)
    };
    assert_eq!(answer("-5"), Some(Duration::ZERO));
    assert_eq!(answer("2"), Some(Duration::from_secs(2)));
    assert_eq!(answer("NaN"), Some(p.retry.max_retry_after));
    assert_eq!(answer("1e30"), Some(p.retry.max_retry_after));
}

#[tokio::test]
async fn calls_queued_behind_a_paced_vendor_raise_its_wait_estimate_and_ledger_rows_keep_the_choice(
) {
    let fx = fixture(|s| {
        provider(s, "mailfinder").rate = Some(crate::provider::Rate {
            requests: 10,
            period: Duration::from_secs(1),
            burst: 1,
        });
    })
    .await;
    // Idle: one pacing slot (1/10 s).
    assert_eq!(fx.executor.wait_estimate(FINDER), 0.1);
    let people: Vec<Inputs> = (0..20)
        .map(|i| {
            let mut p = fx.person(true);
            p.insert("person.first_name".into(), Value::Text(format!("w{i}")));
            p
        })
        .collect();
    let ex = fx.executor.clone();
    let calls = tokio::spawn(async move {
        futures::future::join_all(
            people
                .iter()
                .map(|p| ex.execute_chosen(FINDER, p, Some("r"), Some("capacity: test".into()))),
        )
        .await
    });
    // 20 calls at 10/s: most of them wait, about a second and more of work ahead.
    let mut peak = 0.0f64;
    while !calls.is_finished() {
        peak = peak.max(fx.executor.wait_estimate(FINDER));
        tokio::task::yield_now().await;
    }
    let results = calls.await.unwrap();
    assert!(peak >= 1.0, "peak wait estimate {peak}");
    assert_eq!(
        fx.executor.wait_estimate(FINDER),
        0.1,
        "nothing waits any more"
    );
    assert!(results
        .iter()
        .all(|r| r.entry.choice.as_deref() == Some("capacity: test")));
    let ledger = fx.executor.store().ledger().unwrap();
    assert_eq!(ledger.len(), 20);
    assert!(ledger
        .iter()
        .all(|r| r.choice.as_deref() == Some("capacity: test")));
}

#[test]
fn polls_of_a_running_job_back_off_to_the_cap() {
    let max = Duration::from_secs(300);
    let mut interval = Duration::from_secs(30);
    let mut waits = Vec::new();
    for _ in 0..6 {
        let (wait, next) = super::next_poll_wait(interval, None, max);
        waits.push(wait.as_secs());
        interval = next;
    }
    assert_eq!(waits, [30, 60, 120, 240, 300, 300]);
    // The vendor's Retry-After decides this wait; the schedule still grows.
    let (wait, next) =
        super::next_poll_wait(Duration::from_secs(30), Some(Duration::from_secs(7)), max);
    assert_eq!((wait.as_secs(), next.as_secs()), (7, 60));
    let (wait, _) =
        super::next_poll_wait(Duration::from_secs(30), Some(Duration::from_secs(900)), max);
    assert_eq!(wait, max, "capped");
}
