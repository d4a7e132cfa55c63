use super::*;
use crate::store::{LedgerEntry, Store};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn caps(daily: Option<f64>, monthly: Option<f64>) -> Caps {
    Caps { daily, monthly }
}

fn budgets(total: Caps, p: Option<(&str, Caps)>) -> Arc<Budgets> {
    Arc::new(Budgets::new(BudgetSettings {
        total,
        providers: p.into_iter().map(|(k, c)| (k.to_string(), c)).collect(),
    }))
}

#[test]
fn reservations_count_until_settled_and_refuse_past_the_cap() {
    let b = budgets(caps(Some(3.0), None), None);
    let now = at("2026-11-23T10:00:00Z");
    let r1 = b.reserve("a", 2.0, now).unwrap();
    // 2 held + 2 more would pass 3, even though nothing is spent yet.
    let err = b.reserve("b", 2.0, now).unwrap_err();
    assert_eq!(err.reset_at, at("2026-11-24T00:00:00Z"));
    assert_eq!(
        err.to_string(),
        "total daily budget of 3 credits exhausted until 2026-11-24T00:00:00+00:00"
    );
    r1.settle(1.0); // billed less than the worst case
    let r2 = b.reserve("b", 2.0, now).unwrap();
    drop(r2); // cancelled: released, nothing spent
    let u = b.usage(now);
    assert_eq!((u[0].used, u[0].reserved, u[0].left), (1.0, 0.0, 2.0));
    // Free calls always fit.
    b.reserve("a", 2.0, now).unwrap().settle(2.0);
    b.reserve("a", 0.0, now).unwrap().settle(0.0);
    assert!(b.reserve("a", 0.5, now).is_err());
    // The next day starts fresh.
    b.reserve("a", 3.0, at("2026-11-24T00:00:01Z")).unwrap();
}

#[test]
fn provider_and_monthly_caps_apply_and_the_latest_reset_wins() {
    let b = budgets(caps(None, Some(10.0)), Some(("p", caps(Some(2.0), None))));
    let now = at("2026-12-15T10:00:00Z");
    b.reserve("p", 2.0, now).unwrap().settle(2.0);
    let err = b.reserve("p", 1.0, now).unwrap_err();
    assert_eq!(err.cap, "p daily budget of 2 credits");
    b.reserve("q", 8.0, now).unwrap().settle(8.0);
    let err = b.reserve("p", 1.0, now).unwrap_err();
    assert_eq!(err.reset_at, at("2027-01-01T00:00:00Z"));
    assert_eq!(err.cap, "total monthly budget of 10 credits");
}

#[test]
fn concurrent_reservations_never_overshoot() {
    let b = budgets(caps(Some(100.0), None), None);
    let now = at("2026-11-23T10:00:00Z");
    std::thread::scope(|s| {
        for _ in 0..8 {
            let b = b.clone();
            s.spawn(move || {
                for _ in 0..100 {
                    if let Ok(r) = b.reserve("p", 1.5, now) {
                        r.settle(1.5);
                    }
                }
            });
        }
    });
    let used = b.usage(now)[0].used;
    assert!(used <= 100.0 && used > 98.0, "{used}");
}

#[test]
fn spending_so_far_is_read_back_from_the_call_counters() {
    let store = Store::temporary().unwrap();
    let row = |t: &str, credits: f64| LedgerEntry {
        choice: None,
        at: at(t),
        record_id: None,
        operation: "p.op".into(),
        provider: "p".into(),
        outcome: "hit".into(),
        cached: false,
        credits,
        saved_credits: 0.0,
        latency_ms: 5,
        attempts: 1,
        throttled: 0,
        status: Some(200),
        error: None,
        fields: vec![],
    };
    store
        .ledger_append(&[
            row("2026-10-31T10:00:00Z", 50.0), // last month: not counted
            row("2026-11-02T10:00:00Z", 4.0),
            row("2026-11-23T09:00:00Z", 3.0),
        ])
        .unwrap();
    let settings = BudgetSettings {
        total: caps(Some(5.0), Some(8.0)),
        providers: Default::default(),
    };
    let b = Budgets::load(settings, &store, at("2026-11-23T10:00:00Z")).unwrap();
    let u = b.usage(at("2026-11-23T10:00:00Z"));
    assert_eq!((u[0].period.as_str(), u[0].used), ("daily", 3.0));
    assert_eq!((u[1].period.as_str(), u[1].used), ("monthly", 7.0));
}
