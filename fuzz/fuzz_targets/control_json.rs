//! Arbitrary bytes as the control API's JSON bodies (`UpsertRequest`,
//! `ReenrichRequest`, `SignalRequest`), decoded by serde_json as the API's
//! `Json` extractor does, then through what the API does with them without
//! a daemon: the upsert check (`control::validate_record`) and the merge
//! into a new stored record (`merge_input`), the reenrich selector check
//! (`control::select::validate`) and matching (`select::matches`).
#![no_main]

use leadfall::control::{QueueState, ReenrichRequest, SignalRequest, StoredRecord, UpsertRequest};
use leadfall::control::select;
use leadfall::engine::merge::merge_input;
use leadfall::model::{FieldState, Known, Record, UnknownReason, Value};
use leadfall_fuzz::{check_record, now, settings};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    // The three bodies have disjoint required keys: at most one decodes.
    if let Ok(req) = serde_json::from_slice::<UpsertRequest>(data) {
        upsert(req);
    } else if let Ok(req) = serde_json::from_slice::<ReenrichRequest>(data) {
        // Invalid selectors are refused with a reason; valid ones are matched.
        match select::validate(&req.selector, settings()) {
            Err(e) => assert!(!e.to_string().trim().is_empty(), "an empty refusal"),
            Ok(()) => {
                for r in stored_samples() {
                    select::matches(&req.selector, r, now());
                }
            }
        }
        round_trip(&req, |a, b: &ReenrichRequest| {
            a.selector == b.selector && a.dry_run == b.dry_run
        });
    } else if let Ok(req) = serde_json::from_slice::<SignalRequest>(data) {
        round_trip(&req, |a, b: &SignalRequest| {
            a.kind == b.kind && a.at == b.at
        });
    }
});

fn upsert(req: UpsertRequest) {
    let settings = settings();
    for record in req.records {
        // Whatever decodes must encode the same way by hand and by serde.
        check_record(&record);
        if leadfall::control::validate_record(settings, &record).is_err() {
            continue;
        }
        let (stored, _) = merge_input(None, record.clone(), now(), &settings.precedence);
        // Known inputs land as given.
        for (field, state) in record.fields.iter() {
            if let FieldState::Known(k) = state {
                assert_eq!(
                    stored.record.fields.get(field).and_then(FieldState::value),
                    Some(&k.value),
                    "{field} was not merged"
                );
            }
        }
        check_record(&stored.record);
        round_trip(&stored, |a, b| {
            a == b || {
                leadfall_fuzz::assert_same_json(a, b);
                true
            }
        });
        // The same upsert again changes nothing.
        let (again, changed) =
            merge_input(Some(stored.clone()), record, now(), &settings.precedence);
        assert!(!changed, "re-upserting the same record changed it");
        assert_eq!(again, stored);
    }
}

/// `value` survives serde_json both ways (the CLI and the store read what
/// the daemon writes).
fn round_trip<T>(value: &T, same: impl Fn(&T, &T) -> bool)
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let text = serde_json::to_string(value).expect("serialises");
    let back: T =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("does not read back: {e}: {text}"));
    assert!(
        same(value, &back),
        "changed through JSON: {value:?} → {back:?}"
    );
}

/// A few stored records for selectors to match: known, stale, unknown.
fn stored_samples() -> &'static [StoredRecord] {
    static S: OnceLock<Vec<StoredRecord>> = OnceLock::new();
    S.get_or_init(|| {
        let t = now();
        let mut a = Record::new("a1", t);
        a.set(
            "person.email",
            FieldState::input(Value::Text("a@acme.io".into()), t),
        );
        a.set(
            "company.domain",
            FieldState::Known(Known {
                value: Value::Text("acme.io".into()),
                source: "companyapi.domain-lookup".into(),
                confidence: 0.9,
                observed_at: t - chrono::Duration::days(400),
                expires_at: Some(t - chrono::Duration::days(1)),
                verified: None,
            }),
        );
        let mut b = Record::new("b2", t);
        b.set(
            "person.title",
            FieldState::unknown(UnknownReason::NotFound, vec!["peoplematch.match".into()]),
        );
        [a, b]
            .into_iter()
            .map(|record| StoredRecord {
                record,
                history: Vec::new(),
                signals: Vec::new(),
                queue: QueueState::Idle { next_due: None },
                conflicts: 0,
                passes: 1,
                created_at: t,
                revision: 1,
                scores: None,
                route: None,
                route_history: Vec::new(),
            })
            .collect()
    })
}
