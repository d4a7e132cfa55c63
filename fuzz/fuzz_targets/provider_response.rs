//! A shipped provider definition and an arbitrary HTTP answer (status,
//! headers, body) through the response mapping the executor runs
//! (`provider::classify`, `classify_submit` for job submits, and the
//! rate-limit headers' pause, `executor::rate_header_wait`).
//!
//! Input: byte 0 picks the provider (`providers/*.toml`, then
//! `providers/sandbox/*.toml`), byte 1 the operation, bytes 2..4 the status
//! (little-endian, folded into 100..=999 as hyper allows); the rest is
//! `name: value` header lines, a blank line, and the body (no blank line:
//! all body, no headers).
#![no_main]

use leadfall::executor::rate_header_wait;
use leadfall::model::{FieldState, Known, Record};
use leadfall::provider::{classify, classify_submit, Operation, Outcome, Reads};
use leadfall_fuzz::{catalogue, check_record, now, shipped_providers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [p, o, s0, s1, rest @ ..] = data else {
        return;
    };
    let providers = shipped_providers();
    let provider = &providers[usize::from(*p) % providers.len()];
    let op = &provider.operations[usize::from(*o) % provider.operations.len()];
    let status = 100 + u16::from_le_bytes([*s0, *s1]) % 900;
    let (headers, body) = split(rest);

    let outcome = classify(op, catalogue(), status, &headers, body);
    check_outcome(op, &outcome);

    // The pruned parse (`op.reads`) must classify exactly as the whole body.
    let mut whole = op.clone();
    whole.reads = Reads::everything();
    let full = classify(&whole, catalogue(), status, &headers, body);
    assert_eq!(outcome, full, "pruned and whole parses disagree");

    // The pause the rate-limit headers ask for is bounded by the provider's
    // longest honoured Retry-After.
    if let Some(wait) = rate_header_wait(provider, &headers, now) {
        assert!(wait <= provider.retry.max_retry_after, "{wait:?}");
    }

    if op.job.is_some() {
        match classify_submit(op, status, &headers, body) {
            Ok(id) => assert!(!id.trim().is_empty(), "an empty job id"),
            Err(o) => check_outcome(op, &o),
        }
    }
});

/// Header lines up to the first blank line, then the body.
fn split(rest: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let Some(at) = rest.windows(2).position(|w| w == b"\n\n") else {
        return (Vec::new(), rest);
    };
    let headers = String::from_utf8_lossy(&rest[..at])
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    (headers, &rest[at + 2..])
}

/// An outcome is well-formed: credits a finite non-negative number, a hit
/// carries something, confidences lie in 0..=1, messages say something, and
/// the values are storable (a record holding them round-trips through JSON).
fn check_outcome(op: &Operation, outcome: &Outcome) {
    let credits = outcome.credits();
    assert!(
        credits.is_finite() && credits >= 0.0,
        "credits {credits} in {outcome:?}"
    );
    match outcome {
        Outcome::Hit { extracted, .. } => {
            assert!(
                !extracted.values.is_empty() || extracted.verdict.is_some(),
                "an empty hit"
            );
            let mut record = Record::new("fuzz", now());
            for (field, value, confidence) in &extracted.values {
                assert!(
                    (0.0..=1.0).contains(confidence),
                    "confidence {confidence} for {field}"
                );
                assert!(
                    op.provided_fields().any(|f| f == field),
                    "{field} is not provided by {}",
                    op.id
                );
                // As the engine keeps a found value.
                record.set(
                    *field,
                    FieldState::Known(Known {
                        value: value.clone(),
                        source: op.id.as_str().into(),
                        confidence: *confidence,
                        observed_at: now(),
                        expires_at: Some(now() + chrono::Duration::days(30)),
                        verified: None,
                    }),
                );
            }
            check_record(&record);
        }
        Outcome::QuotaExhausted(m)
        | Outcome::AuthError(m)
        | Outcome::Transient(m)
        | Outcome::Permanent(m) => assert!(!m.trim().is_empty(), "an empty message"),
        Outcome::NotFound { .. } | Outcome::Pending(_) | Outcome::RateLimited(_) => {}
    }
}
