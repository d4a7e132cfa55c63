use super::*;
use crate::model::Signal;
use crate::model::{Catalogue, FieldState, Record, UnknownReason, Value};
use chrono::{Duration, TimeZone, Utc};
use std::path::Path;

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

fn set(r: &mut Record, f: &str, v: Value) {
    r.set(f, FieldState::input(v, t0()));
}

fn compile(text: &str) -> ScoringSettings {
    let raw: ScoringFile = toml::from_str(text).unwrap();
    let mut errors = Vec::new();
    let s = compile_scoring(
        Path::new("scoring.toml"),
        &raw,
        &Catalogue::standard(),
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    s
}

const CFG: &str = r#"
[[account_fit.rules]]
label = "Tier 1 industry"
weight = 25
when = { field = "company.industry", in = ["computer software", "financial services"] }
[[account_fit.rules]]
label = "Mid-market"
weight = 20
when = { field = "company.employee_count", between = [50, 5000] }
[[account_fit.rules]]
label = "Consultancy"
weight = -30
when = { field = "company.industry", equals = "consulting" }
[[intent.rules]]
label = "pricing page"
weight = 30
signal = { kind = "pricing_page", within_days = 60, half_life_days = 14 }
"#;

#[test]
fn kleene_truth_tables() {
    use Tri::*;
    let all = [True, False, Unknown];
    for a in all {
        for b in all {
            let and = a.and(b);
            let or = a.or(b);
            let expect_and = if a == False || b == False {
                False
            } else if a == True && b == True {
                True
            } else {
                Unknown
            };
            let expect_or = if a == True || b == True {
                True
            } else if a == False && b == False {
                False
            } else {
                Unknown
            };
            assert_eq!(and, expect_and, "{a:?} and {b:?}");
            assert_eq!(or, expect_or, "{a:?} or {b:?}");
            assert_eq!(a.and(b).negate(), a.negate().or(b.negate()), "De Morgan");
        }
        assert_eq!(a.negate().negate(), a);
    }
}

#[test]
fn an_unknown_industry_widens_the_interval() {
    let s = compile(CFG);
    let mut r = Record::new("r", t0());
    set(&mut r, "company.employee_count", Value::Integer(300));
    let sc = score_all(&s, &r, &[], t0());
    let a = sc.get("account_fit").unwrap();
    // Known: mid-market +20. Unknown industry: +25 possible, -30 possible.
    assert_eq!((a.min, a.point, a.max), (-10.0, 20.0, 45.0));
    assert_eq!(a.missing, vec!["company.industry".to_string()]);
    assert_eq!(
        a.explanation,
        "Mid-market (+20) · missing: company.industry"
    );
    set(
        &mut r,
        "company.industry",
        Value::Text("Computer Software".into()),
    );
    let a = score_all(&s, &r, &[], t0()).0[0].clone();
    assert_eq!((a.min, a.point, a.max), (45.0, 45.0, 45.0));
    assert!(a.missing.is_empty());
}

#[test]
fn intent_decays_with_a_half_life_and_leaves_its_window() {
    let s = compile(CFG);
    let r = Record::new("r", t0());
    let visit = |days: i64| {
        vec![Signal {
            kind: "pricing_page".into(),
            at: t0() - Duration::days(days),
        }]
    };
    let at = |days| {
        score_all(&s, &r, &visit(days), t0())
            .get("intent")
            .unwrap()
            .point
    };
    assert_eq!(at(0), 30.0);
    assert!((at(14) - 15.0).abs() < 1e-9, "one half-life halves it");
    assert!((at(42) - 3.75).abs() < 1e-9, "six weeks: three half-lives");
    assert_eq!(at(61), 0.0, "out of the window");
}

#[test]
fn exists_is_false_only_once_settled() {
    let mut r = Record::new("r", t0());
    let test = FieldTest::Exists(false);
    assert_eq!(
        eval_field(&r, "person.phone", &test),
        Tri::Unknown,
        "never asked"
    );
    r.set(
        "person.phone",
        FieldState::unknown(UnknownReason::ProviderError, vec![]),
    );
    assert_eq!(
        eval_field(&r, "person.phone", &test),
        Tri::Unknown,
        "may still come"
    );
    r.set(
        "person.phone",
        FieldState::unknown(UnknownReason::NotFound, vec!["x.y".into()]),
    );
    assert_eq!(eval_field(&r, "person.phone", &test), Tri::True);
}

#[test]
fn bad_rules_name_the_file_and_key() {
    let raw: ScoringFile = toml::from_str(
        r#"
[[account_fit.rules]]
label = "shoe"
weight = 5
when = { field = "person.shoe_size", equals = 42 }
[[stakeholder_fit.rules]]
label = "title"
weight = 5
when = { field = "person.title", between = [1, 2] }
[[intent.rules]]
label = "both"
weight = 1
"#,
    )
    .unwrap();
    let mut errors = Vec::new();
    compile_scoring(
        Path::new("config/scoring.toml"),
        &raw,
        &Catalogue::standard(),
        &mut errors,
    );
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "config/scoring.toml: account_fit.rules[0].when: unknown field \"person.shoe_size\" (not in the field catalogue)",
            "config/scoring.toml: stakeholder_fit.rules[0].when: field person.title is not a number; `between` needs an integer field",
            "config/scoring.toml: intent.rules[0]: a rule needs `when` or `signal`, not both",
        ]
    );
}

proptest::proptest! {
    /// The interval contains the score of every completion of the unknowns,
    /// and the point value counts only known rules.
    #[test]
    fn the_interval_contains_every_completion(
        weights in proptest::collection::vec(-40i32..40, 1..6),
        targets in proptest::collection::vec(0usize..3, 1..6),
        known in proptest::collection::vec(proptest::option::of(0usize..3), 3),
    ) {
        let fields = ["company.industry", "company.country", "person.department"];
        let values = ["a", "b", "c"];
        let mut text = String::new();
        for (i, w) in weights.iter().enumerate() {
            let f = fields[i % 3];
            let v = values[targets.get(i).copied().unwrap_or(0)];
            text.push_str(&format!("[[account_fit.rules]]\nlabel = \"r{i}\"\nweight = {w}\nwhen = {{ field = \"{f}\", equals = \"{v}\" }}\n"));
        }
        let s = compile(&text);
        let mut r = Record::new("r", t0());
        for (f, k) in fields.iter().zip(&known) {
            if let Some(k) = k {
                set(&mut r, f, Value::Text(values[*k].into()));
            }
        }
        let sc = score_all(&s, &r, &[], t0()).0[0].clone();
        // Every completion of the unknown fields over the value domain.
        let unknown: Vec<usize> = (0..3).filter(|i| known[*i].is_none()).collect();
        for combo in 0..3usize.pow(unknown.len() as u32) {
            let mut full = r.clone();
            let mut c = combo;
            for i in &unknown {
                set(&mut full, fields[*i], Value::Text(values[c % 3].into()));
                c /= 3;
            }
            let v = score_all(&s, &full, &[], t0()).0[0].point;
            proptest::prop_assert!(sc.min <= v + 1e-9 && v <= sc.max + 1e-9, "{} not in [{}, {}]", v, sc.min, sc.max);
        }
        proptest::prop_assert!(sc.min <= sc.point && sc.point <= sc.max);
    }
}
