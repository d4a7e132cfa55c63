//! Decision-relevant enrichment end to end: the default config's scores and
//! routes, the engine and the sandbox vendors over real sockets.

use super::*;
use crate::model::Signal;
use crate::model::{FieldState, UnknownReason};
use crate::sandbox::{serve, Sandbox, SandboxSettings};
use std::collections::BTreeMap;
use std::path::Path;

struct Fx {
    sandbox: Sandbox,
    engine: Engine,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn fixture() -> Fx {
    let sandbox = Sandbox::new(SandboxSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, sandbox.clone(), async {
        let _ = rx.await;
    }));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let settings = crate::config::load(&path, &Sandbox::provider_env(base)).unwrap();
    assert!(
        !settings.waterfall.enrich_everything,
        "the default is decision-relevant"
    );
    let engine = Engine::from_settings(
        Arc::new(settings),
        Arc::new(crate::store::Store::temporary().unwrap()),
        Arc::new(crate::clock::SystemClock),
    )
    .unwrap();
    Fx {
        sandbox,
        engine,
        _stop: tx,
    }
}

impl Fx {
    fn requests(&self) -> BTreeMap<String, u64> {
        self.sandbox
            .counters()
            .into_iter()
            .filter(|(_, c)| c.requests > 0)
            .map(|(v, c)| (v, c.requests))
            .collect()
    }

    /// A lead with these input values (normalised as an import would).
    fn lead(&self, values: &[(&str, &str)]) -> Record {
        let now = chrono::Utc::now();
        let mut r = Record::new("r1", now);
        for (f, v) in values {
            let def = self.engine.settings().catalogue.get(f).unwrap();
            let value = crate::model::normalise_text(def, v).unwrap();
            r.set(*f, FieldState::input(value, now));
        }
        r
    }
}

fn route(e: &Engine, r: &Record, signals: &[Signal]) -> crate::route::Decision {
    let d = e.settings().decisions.as_ref().unwrap();
    let now = chrono::Utc::now();
    let scores = crate::score::score_all(&d.scoring, r, signals, now);
    crate::route::decide(&d.routing, r, &scores, now, false)
}

#[tokio::test]
async fn a_lead_whose_best_fit_reaches_no_paid_route_is_routed_without_a_call() {
    let fx = fixture().await;
    // Weak-fit industry, unserviceable country, no modern stack: even the best
    // employee count leaves account fit below zero.
    let lead = fx.lead(&[
        ("person.first_name", "Ann"),
        ("person.last_name", "Lee"),
        ("company.name", "Old School"),
        ("company.domain", "oldschool.example"),
        ("company.industry", "education"),
        ("company.country", "BR"),
        ("company.tech_stack", "excel"),
    ]);
    let (after, ledger) = fx.engine.enrich_with_signals(lead, &[]).await;
    assert!(ledger.is_empty(), "{ledger:?}");
    assert!(fx.requests().is_empty(), "{:?}", fx.requests());
    let decision = route(&fx.engine, &after, &[]);
    assert!(decision.decided, "{decision:?}");
    assert_eq!(decision.route, "suppressed_bad_fit");
    for f in ["company.employee_count", "person.email", "person.title"] {
        match after.fields.get(f) {
            Some(FieldState::Unknown(u)) => assert_eq!(u.reason, UnknownReason::NotWorthIt, "{f}"),
            other => panic!("{f}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_lead_that_needs_only_the_employee_count_gets_only_that_lookup() {
    let fx = fixture().await;
    let company = fx.sandbox.world().companies[0].clone();
    // Everything a rep needs is known; account fit is [55, 80] for want of the
    // head count, which decides between sales now and SDR review.
    let lead = fx.lead(&[
        ("person.first_name", "Ann"),
        ("person.last_name", "Lee"),
        ("person.email", "ann@example.org"),
        ("person.phone", "+14155550100"),
        ("person.title", "VP Sales"),
        ("person.seniority", "vp"),
        ("person.department", "sales"),
        ("company.name", &company.name),
        ("company.domain", &company.domain),
        ("company.industry", "computer software"),
        ("company.country", "US"),
        ("company.tech_stack", "snowflake"),
    ]);
    let signals = [Signal {
        kind: "demo_request".into(),
        at: chrono::Utc::now(),
    }];
    let before = route(&fx.engine, &lead, &signals);
    assert!(!before.decided, "{before:?}");
    assert_eq!(before.could_change, ["company.employee_count"]);
    let (after, ledger) = fx.engine.enrich_with_signals(lead, &signals).await;
    let ops: Vec<&str> = ledger.iter().map(|e| e.operation.as_str()).collect();
    assert_eq!(ops, ["companyapi.company-find"]);
    assert_eq!(
        fx.requests(),
        BTreeMap::from([("companyapi".to_string(), 1)])
    );
    assert_eq!(
        after.value("company.employee_count"),
        Some(&crate::model::Value::Integer(i64::from(
            company.employee_count
        )))
    );
    let decided = route(&fx.engine, &after, &signals);
    let want = if (50..=5000).contains(&company.employee_count) {
        "sales_now"
    } else {
        "sdr_review"
    };
    assert_eq!((decided.decided, decided.route.as_str()), (true, want));
}

/// A lead whose route can no longer change but is not decided: its industry
/// was looked for and not found, so account fit stays an interval that
/// straddles `sdr_review`'s bar, while what is known puts it there.
fn settled_on_what_is_known(fx: &Fx) -> (Record, [Signal; 1]) {
    let mut lead = fx.lead(&[
        ("person.first_name", "Ann"),
        ("person.last_name", "Lee"),
        ("company.name", "Nowhere Found"),
        ("company.domain", "nowhere-found.example"),
        ("company.country", "US"),
        ("company.tech_stack", "snowflake"),
        ("company.employee_count", "200"),
    ]);
    lead.set(
        "company.industry",
        FieldState::Unknown(crate::model::Unknown {
            reason: UnknownReason::NotFound,
            tried: vec![],
            retry_at: None,
            detail: None,
        }),
    );
    let signals = [Signal {
        kind: "pricing_page".into(),
        at: chrono::Utc::now(),
    }];
    (lead, signals)
}

#[tokio::test]
async fn a_route_settled_on_what_is_known_gets_its_enrich_fields_in_that_pass() {
    let fx = fixture().await;
    let (lead, signals) = settled_on_what_is_known(&fx);
    let open = route(&fx.engine, &lead, &signals);
    assert!(
        !open.decided,
        "the industry could still pick another route: {open:?}"
    );
    assert_eq!(open.could_change, ["company.industry"]);
    let (set, cheapest_first) = fx
        .engine
        .relevant(&lead, &signals, chrono::Utc::now())
        .unwrap();
    assert!(
        set.contains("person.email"),
        "sdr_review needs an email: {set:?}"
    );
    assert!(!cheapest_first);

    let (after, ledger) = fx.engine.enrich_with_signals(lead, &signals).await;
    let email_ops = ledger
        .iter()
        .filter(|e| {
            fx.engine
                .settings()
                .waterfall
                .get("person.email")
                .is_some_and(|w| w.steps.iter().any(|s| s.id() == e.operation.as_str()))
        })
        .count();
    assert!(email_ops > 0, "the email waterfall ran: {ledger:?}");
    // The whole email waterfall ran for the settled route. (Its unknown may
    // still read `not_worth_it` when a later round's lookup reopened the
    // route: issue 36, noted.)
    match after.fields.get("person.email") {
        Some(FieldState::Unknown(u)) => {
            for step in [
                "builtin.email-guess",
                "peoplematch.match",
                "personapi.person-enrich",
            ] {
                assert!(u.tried.iter().any(|t| t == step), "{step} not tried: {u:?}");
            }
        }
        Some(FieldState::Known(_)) => {}
        None => panic!("no email state"),
    }
}
