use super::*;
use chrono::{TimeZone, Utc};

fn def(name: &str) -> FieldDef {
    Catalogue::standard()
        .get(name)
        .cloned()
        .expect("standard field")
}

#[test]
fn emails_are_lower_cased_and_checked() {
    assert_eq!(email(" Jane.Doe@Acme.IO ").unwrap(), "jane.doe@acme.io");
    assert!(email("jane.doe").is_err());
    assert!(email("jane doe@acme.io").is_err());
    assert!(email("jane@acme").is_err());
}

#[test]
fn domains_come_bare_from_urls_and_emails() {
    for (raw, want) in [
        ("https://www.Acme.io/about?x=1", "acme.io"),
        ("acme.io", "acme.io"),
        ("jane@acme.co.uk", "acme.co.uk"),
        ("http://acme.io:8080", "acme.io"),
        ("WWW.ACME.IO.", "acme.io"),
    ] {
        assert_eq!(domain(raw).unwrap(), want, "{raw}");
    }
    for bad in ["acme", "http://", "ac me.io", "acme.123", "-acme.io"] {
        assert!(domain(bad).is_err(), "{bad} should be rejected");
    }
}

#[test]
fn phones_become_e164ish() {
    assert_eq!(phone("(415) 555-0123").unwrap(), "+14155550123");
    assert_eq!(phone("+44 20 7946 0958").unwrap(), "+442079460958");
    assert_eq!(phone("0044 20 7946 0958").unwrap(), "+442079460958");
    assert!(phone("call me").is_err());
    assert!(phone("12").is_err());
}

#[test]
fn integers_accept_the_forms_vendors_print() {
    for (raw, want) in [
        ("1200", 1200),
        ("1,200", 1200),
        ("1.2k", 1200),
        ("3M", 3_000_000),
        ("$2B", 2_000_000_000),
        ("51-200", 125),
        ("10001+", 10001),
    ] {
        assert_eq!(integer(raw).unwrap(), want, "{raw}");
    }
    assert!(integer("lots").is_err());
    assert!(integer("200-51").is_err());
}

#[test]
fn enums_lists_and_text() {
    assert_eq!(
        normalise_text(&def("person.seniority"), "C Suite").unwrap(),
        Value::Text("c_suite".into())
    );
    assert!(normalise_text(&def("person.seniority"), "wizard").is_err());
    assert_eq!(
        normalise_text(&def("company.tech_stack"), "Stripe; AWS;stripe").unwrap(),
        Value::List(vec!["stripe".into(), "aws".into()])
    );
    assert_eq!(
        normalise_json(
            &def("company.tech_stack"),
            &serde_json::json!(["Segment", null])
        )
        .unwrap(),
        Value::List(vec!["segment".into()])
    );
    assert_eq!(
        normalise_text(&def("person.title"), "  VP   Sales ").unwrap(),
        Value::Text("VP Sales".into())
    );
    assert_eq!(
        normalise_text(&def("person.title"), "   "),
        Err(NormaliseError::Empty)
    );
    let long = "x".repeat(MAX_VALUE_CHARS + 1);
    assert!(matches!(
        normalise_text(&def("person.title"), &long),
        Err(NormaliseError::TooLong(_))
    ));
    assert_eq!(
        normalise_json(&def("company.employee_count"), &serde_json::json!(42.4)).unwrap(),
        Value::Integer(42)
    );
}

#[test]
fn field_states_serialise_to_the_documented_json() {
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let known = FieldState::Known(Known {
        value: Value::Text("jane@acme.io".into()),
        source: "mailfinder.email-finder".into(),
        confidence: 0.92,
        observed_at: at,
        expires_at: None,
        verified: None,
    });
    let json = serde_json::to_value(&known).unwrap();
    assert_eq!(json["state"], "known");
    assert_eq!(json["value"], "jane@acme.io");
    assert_eq!(json["source"], "mailfinder.email-finder");
    assert_eq!(json["confidence"], 0.92);
    assert_eq!(json["observed_at"], "2026-01-02T03:04:05Z");

    let unknown = FieldState::unknown(UnknownReason::NotFound, vec!["a.b".into(), "c.d".into()]);
    let json = serde_json::to_value(&unknown).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"state":"unknown","reason":"not_found","tried":["a.b","c.d"]})
    );
    let back: FieldState = serde_json::from_value(json).unwrap();
    assert_eq!(back, unknown);
}

#[test]
fn stale_values_are_reported_stale() {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let state = FieldState::Known(Known {
        value: Value::Integer(5),
        source: "x.y".into(),
        confidence: 1.0,
        observed_at: t0,
        expires_at: Some(t0 + chrono::Duration::days(1)),
        verified: None,
    });
    assert!(state.is_fresh(t0));
    assert!(!state.is_stale(t0));
    assert!(state.is_stale(t0 + chrono::Duration::days(2)));
}

proptest::proptest! {
    #[test]
    fn normalised_values_are_never_empty_text(raw in ".{0,40}") {
        let cat = Catalogue::standard();
        for d in cat.iter() {
            if let Ok(v) = normalise_text(d, &raw) {
                proptest::prop_assert!(v.render() != "", "{} gave an empty value for {:?}", d.name, raw);
            }
        }
    }

    #[test]
    fn email_normalisation_is_idempotent(local in "[a-z0-9.]{1,12}", dom in "[a-z]{1,10}\\.(com|io|co\\.uk)") {
        if let Ok(once) = email(&format!("{local}@{dom}")) {
            proptest::prop_assert_eq!(email(&once).unwrap(), once);
        }
    }
}
