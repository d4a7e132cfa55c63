//! Tests of the call path's steps one at a time, without a vendor: retry
//! classification, booking, opening a call, reading attempts, the circuit
//! check and settling an answer.

use super::attempt::{describe, retry_after, Answer};
use super::booking::{Booking, CallId, Tally};
use super::vendor::VendorCall;
use super::*;
use crate::clock::ManualClock;
use crate::config::{self, Settings};
use crate::model::Value;
use crate::provider::{Extracted, Outcome};
use crate::sandbox::Sandbox;
use chrono::TimeZone;
use std::ops::ControlFlow;
use std::path::Path;

const FINDER: &str = "mailfinder.email-finder";

fn t0() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
}

/// An executor over the sandbox providers at an address nothing listens on:
/// the steps under test never send.
fn offline(tweak: impl FnOnce(&mut Settings)) -> Executor {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let env = Sandbox::provider_env("http://127.0.0.1:9".to_string());
    let mut settings = config::load(&path, &env).expect("default config loads");
    tweak(&mut settings);
    Executor::new(
        Arc::new(settings.providers.clone()),
        Arc::new(settings.catalogue.clone()),
        Arc::new(crate::store::Store::temporary().unwrap()),
        Arc::new(ManualClock::new(t0())),
    )
}

fn id(operation: &str) -> CallId<'_> {
    CallId {
        key: b"key",
        operation,
        record_id: Some("r1"),
        started: Instant::now(),
    }
}

fn person() -> Inputs {
    [
        ("person.first_name", "Jane"),
        ("person.last_name", "Doe"),
        ("company.domain", "acme.io"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), Value::Text(v.to_string())))
    .collect()
}

fn open<'a>(ex: &'a Executor, inputs: &Inputs) -> VendorCall<'a> {
    match VendorCall::open(ex, id(FINDER), inputs) {
        Ok(call) => call,
        Err(done) => panic!("the finder opens: {:?}", done.0.outcome),
    }
}

fn failure_of(
    step: ControlFlow<booking::Finished>,
) -> (&'static str, String, Duration, LedgerEntry) {
    match step {
        ControlFlow::Break((
            CallResult {
                outcome:
                    CallOutcome::Failed {
                        kind,
                        message,
                        retry_after,
                    },
                entry,
                ..
            },
            None,
        )) => (kind, message, retry_after, entry),
        other => panic!("expected a failure without a cache entry, got {other:?}"),
    }
}

#[test]
fn throttles_pending_answers_and_transient_failures_are_retried_the_rest_not() {
    let s = |n| Some(Duration::from_secs(n));
    assert_eq!(retry_after(&Outcome::RateLimited(s(2))), Some(s(2)));
    assert_eq!(retry_after(&Outcome::RateLimited(None)), Some(None));
    assert_eq!(retry_after(&Outcome::Pending(s(5))), Some(s(5)));
    assert_eq!(retry_after(&Outcome::Transient("5xx".into())), Some(None));
    for o in [
        Outcome::Permanent("400".into()),
        Outcome::AuthError("401".into()),
        Outcome::QuotaExhausted("402".into()),
        Outcome::NotFound { credits: 0.0 },
        Outcome::Hit {
            extracted: Extracted::default(),
            credits: 1.0,
        },
    ] {
        assert_eq!(retry_after(&o), None, "{o:?}");
    }
}

#[test]
fn a_timeout_is_booked_apart_from_other_transient_failures() {
    let kind = |o: Outcome| describe(&o).0;
    assert_eq!(
        kind(Outcome::Transient("timed out after 5s".into())),
        "timeout"
    );
    assert_eq!(
        kind(Outcome::Transient("connection failed".into())),
        "transient"
    );
    assert_eq!(kind(Outcome::RateLimited(None)), "rate_limited");
    assert_eq!(kind(Outcome::Pending(None)), "pending");
    assert_eq!(kind(Outcome::QuotaExhausted("x".into())), "quota_exhausted");
    assert_eq!(
        describe(&Outcome::AuthError("key rejected".into())),
        ("auth_error", "key rejected".to_string())
    );
}

#[tokio::test]
async fn a_booking_fills_the_ledger_row_by_name() {
    let ex = offline(|_| {});
    let tally = Tally {
        attempts: 3,
        throttled: 1,
        status: Some(429),
    };
    let row = ex.entry(Booking {
        credits: 2.5,
        tally,
        error: Some("slow".into()),
        fields: vec!["person.email".into()],
        ..id(FINDER).booking(crate::name!("hit"))
    });
    assert_eq!(row.at, t0());
    assert_eq!(row.operation.as_str(), FINDER);
    assert_eq!(row.provider.as_str(), "mailfinder");
    assert_eq!(row.record_id.as_deref(), Some("r1"));
    assert_eq!(row.outcome.as_str(), "hit");
    assert_eq!(row.credits, 2.5);
    assert_eq!((row.attempts, row.throttled, row.status), (3, 1, Some(429)));
    assert_eq!(row.error.as_deref(), Some("slow"));
    assert_eq!(row.fields.len(), 1);
    assert!(!row.cached);
    assert_eq!(row.saved_credits, 0.0);
}

#[tokio::test]
async fn a_failure_is_booked_with_its_kind_and_caches_nothing() {
    let ex = offline(|_| {});
    let tally = Tally {
        attempts: 2,
        ..Tally::default()
    };
    let wait = Duration::from_secs(7);
    let step = ControlFlow::Break(ex.failed(id(FINDER), "transient", "502".into(), wait, tally));
    let (kind, message, retry_after, row) = failure_of(step);
    assert_eq!(
        (kind, message.as_str(), retry_after),
        ("transient", "502", wait)
    );
    assert_eq!(row.outcome.as_str(), "transient");
    assert_eq!(row.error.as_deref(), Some("502"));
    assert_eq!((row.attempts, row.credits), (2, 0.0));
}

#[tokio::test]
async fn an_answer_is_cached_for_its_ttl_and_a_hit_books_its_fields() {
    let ex = offline(|_| {});
    let extracted = Arc::new(Extracted {
        values: vec![("person.email".into(), Value::Text("j@acme.io".into()), 0.9)],
        verdict: None,
    });
    let day = Duration::from_secs(86_400);
    let hit = CachedOutcome::Hit {
        extracted: extracted.clone(),
    };
    let (res, cache) = ex.answered(id(FINDER), hit, 1.5, day, Tally::default());
    assert_eq!(res.outcome, CallOutcome::Hit(extracted));
    assert_eq!(res.entry.outcome.as_str(), "hit");
    assert_eq!(res.entry.credits, 1.5);
    assert_eq!(
        res.entry.fields,
        vec![crate::model::Name::new("person.email")]
    );
    let cache = cache.expect("a hit with a TTL is cached");
    assert_eq!(cache.credits, 1.5);
    assert_eq!(cache.stored_at, t0());
    assert_eq!(cache.expires_at, t0() + chrono::Duration::days(1));
    assert_eq!(cache.paid_for.as_deref(), Some("r1"));

    let miss = CachedOutcome::NotFound;
    let (res, cache) = ex.answered(id(FINDER), miss, 0.0, Duration::ZERO, Tally::default());
    assert_eq!(res.outcome, CallOutcome::NotFound);
    assert_eq!(res.entry.outcome.as_str(), "not_found");
    assert!(res.entry.fields.is_empty());
    assert!(cache.is_none(), "a zero TTL caches nothing");
}

#[tokio::test]
async fn a_call_that_cannot_start_fails_before_any_attempt() {
    let ex = offline(|_| {});
    let Err(done) = VendorCall::open(&ex, id("nobody.nothing"), &person()) else {
        panic!("an unknown operation cannot open");
    };
    let (res, cache) = *done;
    assert!(cache.is_none());
    assert_eq!(res.entry.attempts, 0);
    match res.outcome {
        CallOutcome::Failed {
            kind, retry_after, ..
        } => assert_eq!(
            (kind, retry_after),
            ("permanent", Duration::from_secs(3600))
        ),
        other => panic!("{other:?}"),
    }
    // Missing inputs: the request cannot be built, the operation is disabled for it.
    let Err(done) = VendorCall::open(&ex, id(FINDER), &Inputs::new()) else {
        panic!("a finder without inputs cannot open");
    };
    let res = done.0;
    assert!(matches!(
        res.outcome,
        CallOutcome::Failed {
            kind: "disabled",
            ..
        }
    ));
}

#[tokio::test]
async fn attempts_without_a_response_are_transient_except_an_oversized_body() {
    let ex = offline(|_| {});
    let inputs = person();
    let mut call = open(&ex, &inputs);
    let read = |call: &mut VendorCall<'_>, a| match call.read(a) {
        Answer::Classified { outcome, healthy } => (outcome, healthy),
        Answer::Submitted(id) => panic!("not a job: {id}"),
    };
    let (o, healthy) = read(&mut call, Attempt::Timeout);
    assert!(
        matches!(&o, Outcome::Transient(m) if m.starts_with("timed out")),
        "{o:?}"
    );
    assert!(!healthy);
    let (o, healthy) = read(&mut call, Attempt::Connection("refused".into()));
    assert_eq!(o, Outcome::Transient("connection failed: refused".into()));
    assert!(!healthy);
    let (o, healthy) = read(&mut call, Attempt::TooLarge(1 << 30));
    assert!(matches!(o, Outcome::Permanent(_)), "{o:?}");
    assert!(healthy, "the vendor answered");
    assert_eq!(call.tally().status, None, "no response, no status");
}

#[tokio::test]
async fn a_response_sets_the_last_status_and_a_5xx_counts_against_the_circuit() {
    let ex = offline(|_| {});
    let inputs = person();
    let mut call = open(&ex, &inputs);
    let response = Attempt::Response {
        status: 503,
        headers: Vec::new(),
        body: Vec::new(),
    };
    match call.read(response) {
        Answer::Classified { outcome, healthy } => {
            assert!(matches!(outcome, Outcome::Transient(_)), "{outcome:?}");
            assert!(!healthy);
        }
        Answer::Submitted(id) => panic!("not a job: {id}"),
    }
    assert_eq!(call.tally().status, Some(503));
}

#[tokio::test]
async fn an_open_circuit_refuses_the_attempt_without_counting_it() {
    let ex = offline(|_| {});
    let inputs = person();
    let call = open(&ex, &inputs);
    *ex.runtime("mailfinder").unwrap().circuit.lock().unwrap() = Circuit::Open {
        until: Instant::now() + Duration::from_secs(30),
    };
    let (kind, _, wait, row) = failure_of(call.admit());
    assert_eq!(kind, "circuit_open");
    assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
    assert_eq!(row.attempts, 0);
}

#[tokio::test]
async fn a_new_phase_keeps_counting_the_attempts_made_before() {
    let ex = offline(|_| {});
    let inputs = person();
    let mut call = open(&ex, &inputs);
    assert_eq!(
        call.tally().attempts,
        1,
        "the first attempt is about to be made"
    );
    call.restart_schedule(3);
    assert_eq!(call.tally().attempts, 4);
}

#[tokio::test]
async fn settling_books_a_hit_and_fails_what_a_retry_cannot_cure() {
    let ex = offline(|_| {});
    let inputs = person();
    let mut call = open(&ex, &inputs);
    let hit = Outcome::Hit {
        extracted: Extracted::default(),
        credits: 1.0,
    };
    match call.settle(hit).await {
        ControlFlow::Break((res, cache)) => {
            assert_eq!(res.entry.outcome.as_str(), "hit");
            assert_eq!(res.entry.credits, 1.0);
            assert!(cache.is_some(), "mailfinder caches hits for 30 days");
        }
        ControlFlow::Continue(()) => panic!("a hit ends the call"),
    }
    let (kind, message, wait, _) = failure_of(call.settle(Outcome::AuthError("401".into())).await);
    assert_eq!((kind, message.as_str()), ("auth_error", "401"));
    assert_eq!(wait, Duration::from_secs(3600));
}

#[tokio::test]
async fn a_throttle_beyond_the_longest_wait_gives_up_counted_and_pauses_the_vendor() {
    let ex = offline(|_| {});
    let inputs = person();
    let mut call = open(&ex, &inputs);
    let rt = ex.runtime("mailfinder").unwrap();
    let long = Duration::from_secs(24 * 3600);
    let (kind, message, wait, row) =
        failure_of(call.settle(Outcome::RateLimited(Some(long))).await);
    assert_eq!(kind, "rate_limited");
    assert!(message.ends_with("(gave up after 1 attempts)"), "{message}");
    assert_eq!(wait, long, "asked again when the vendor said");
    assert_eq!((row.attempts, row.throttled), (1, 1));
    assert_eq!(
        rt.stats
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(ex.wait_estimate(FINDER) > 3600.0, "everyone waits");
}

#[tokio::test]
async fn a_transient_failure_with_no_retries_left_waits_out_the_circuit() {
    let ex = offline(|s| {
        let p = s.providers.get_mut("mailfinder").unwrap();
        p.retry.max_attempts = 1;
    });
    let inputs = person();
    let mut call = open(&ex, &inputs);
    let open_for = ex.providers().get("mailfinder").unwrap().circuit.open_for;
    let (kind, message, wait, _) = failure_of(call.settle(Outcome::Transient("502".into())).await);
    assert_eq!(kind, "transient");
    assert_eq!(message, "502 (gave up after 1 attempts)");
    assert_eq!(wait, open_for);
}
