use super::*;
use crate::model::Signal;
use crate::model::{FieldState, Value};
use crate::score::{compile_scoring, score_all, ScoringFile, ScoringSettings};
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn set(r: &mut Record, f: &str, v: Value) {
    r.set(f, FieldState::input(v, t0()));
}

const SCORING: &str = r#"
[[account_fit.rules]]
label = "Tier 1 industry"
weight = 40
when = { field = "company.industry", equals = "computer software" }
[[account_fit.rules]]
label = "Mid-market"
weight = 30
when = { field = "company.employee_count", between = [50, 5000] }
[[intent.rules]]
label = "pricing page"
weight = 50
signal = { kind = "pricing_page", within_days = 60, half_life_days = 14 }
"#;

const ROUTING: &str = r#"
[[routes]]
name = "sales_now"
when = { all = [ { score = "account_fit", at_least = 60 }, { score = "intent", at_least = 40 } ] }
[[routes]]
name = "suppressed"
when = { score = "account_fit", below = 20 }
suppress = "bad_fit"
[[routes]]
name = "nurture"
when = { always = true }
recycle_days = 90
"#;

fn settings() -> (ScoringSettings, RoutingSettings) {
    let cat = Catalogue::standard();
    let mut errors = Vec::new();
    let s = compile_scoring(
        Path::new("s.toml"),
        &toml::from_str::<ScoringFile>(SCORING).unwrap(),
        &cat,
        &mut errors,
    );
    let r = compile_routing(
        Path::new("r.toml"),
        &toml::from_str::<RoutingFile>(ROUTING).unwrap(),
        &cat,
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    (s, r)
}

fn route(r: &Record, signals: &[Signal], now: DateTime<Utc>) -> Decision {
    let (s, routes) = settings();
    decide(&routes, r, &score_all(&s, r, signals, now), now, false)
}

#[test]
fn decided_only_when_no_completion_could_pick_an_earlier_route() {
    let pricing = vec![Signal {
        kind: "pricing_page".into(),
        at: t0(),
    }];
    let mut r = Record::new("a", t0());
    set(
        &mut r,
        "company.industry",
        Value::Text("computer software".into()),
    );
    // account_fit in [40, 70]: sales_now possible but not certain; suppressed impossible.
    let d = route(&r, &pricing, t0());
    assert!(!d.decided);
    assert_eq!(d.route, ENRICH_ROUTE);
    assert_eq!(d.candidates, ["sales_now", "nurture"]);
    assert_eq!(
        d.could_change,
        ["company.employee_count"],
        "only the employee count can change it"
    );
    set(&mut r, "company.employee_count", Value::Integer(300));
    let d = route(&r, &pricing, t0());
    assert_eq!((d.route.as_str(), d.decided), ("sales_now", true));
    assert!(
        d.explanation
            .starts_with("sales_now: account_fit 70, stakeholder_fit 0, intent 50"),
        "{}",
        d.explanation
    );
}

#[test]
fn a_lead_that_cannot_reach_a_paid_route_is_routed_without_enrichment() {
    // No intent: sales_now is impossible whatever the firmographics; the lead is
    // decided now (nurture or suppressed still depend on fit, so not here)...
    let mut r = Record::new("a", t0());
    set(&mut r, "company.industry", Value::Text("retail".into()));
    set(&mut r, "company.employee_count", Value::Integer(10));
    let d = route(&r, &[], t0());
    assert_eq!(
        (d.route.as_str(), d.decided, d.reason.as_deref()),
        ("suppressed", true, Some("bad_fit"))
    );
    // ...and with a decent size but unknown industry, nurture is certain without intent.
    let mut r = Record::new("b", t0());
    set(&mut r, "company.employee_count", Value::Integer(300));
    let d = route(&r, &[], t0());
    assert_eq!((d.route.as_str(), d.decided), ("nurture", true));
    assert_eq!(d.recycle_at, Some(t0() + chrono::Duration::days(90)));
}

#[test]
fn decay_moves_a_lead_out_of_sales_now() {
    let mut r = Record::new("a", t0());
    set(
        &mut r,
        "company.industry",
        Value::Text("computer software".into()),
    );
    set(&mut r, "company.employee_count", Value::Integer(300));
    let visit = vec![Signal {
        kind: "pricing_page".into(),
        at: t0(),
    }];
    assert_eq!(route(&r, &visit, t0()).route, "sales_now");
    // Six weeks later: 50 × 0.5^3 = 6.25 < 40.
    assert_eq!(
        route(&r, &visit, t0() + chrono::Duration::weeks(6)).route,
        "nurture"
    );
}

#[test]
fn settling_decides_on_what_is_known() {
    let (s, routes) = settings();
    let mut r = Record::new("a", t0());
    set(
        &mut r,
        "company.industry",
        Value::Text("computer software".into()),
    );
    let pricing = vec![Signal {
        kind: "pricing_page".into(),
        at: t0(),
    }];
    let d = decide(&routes, &r, &score_all(&s, &r, &pricing, t0()), t0(), true);
    assert_eq!(
        (d.route.as_str(), d.decided),
        ("nurture", true),
        "point fit 40 < 60"
    );
}

#[test]
fn routes_without_a_default_or_with_bad_codes_fail_the_check() {
    let raw: RoutingFile = toml::from_str(
        r#"
[[routes]]
name = "Sales Now"
when = { score = "fit", at_least = 60 }
suppress = "annoying"
"#,
    )
    .unwrap();
    let mut errors = Vec::new();
    compile_routing(
        Path::new("config/routing.toml"),
        &raw,
        &Catalogue::standard(),
        &mut errors,
    );
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "config/routing.toml: routes[0].name: \"Sales Now\" must be lower_snake_case",
            "config/routing.toml: routes[0].suppress: \"annoying\" is not one of bad_fit, wrong_persona, competitor, not_serviceable_geo, duplicate, unresponsive, no_budget, timing",
            "config/routing.toml: routes[0].when: unknown score \"fit\" (account_fit, stakeholder_fit or intent)",
            "config/routing.toml: routes: no default route: the last route must have `when = { always = true }`",
        ]
    );
}
