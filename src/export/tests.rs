//! Export format tests: column layout, state words, value rendering.

use super::*;
use crate::model::{Known, Record, Unknown, UnknownReason, Value};
use crate::store::QueueState;
use chrono::TimeZone;

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()
}

fn known(value: Value, expires_at: Option<DateTime<Utc>>) -> FieldState {
    FieldState::Known(Known {
        value,
        source: "mailfinder.email-finder".into(),
        confidence: 0.9,
        observed_at: t(1),
        expires_at,
        verified: None,
    })
}

fn stored(record: Record) -> StoredRecord {
    StoredRecord {
        record,
        history: Vec::new(),
        signals: Vec::new(),
        queue: QueueState::Idle { next_due: None },
        conflicts: 0,
        passes: 1,
        created_at: t(1),
        revision: 1,
        scores: None,
        route: None,
        route_history: Vec::new(),
    }
}

/// A record with one field in every interesting state.
fn sample() -> StoredRecord {
    let mut r = Record::new("lead-1", t(1));
    r.set(
        "person.email",
        known(Value::Text("jane@acme.io".into()), Some(t(20))),
    );
    r.set("person.title", known(Value::Text("CTO".into()), Some(t(5))));
    r.set(
        "company.tech_stack",
        known(Value::List(vec!["rust".into(), "postgres".into()]), None),
    );
    r.set("company.employee_count", known(Value::Integer(120), None));
    r.set(
        "person.phone",
        FieldState::Unknown(Unknown {
            reason: UnknownReason::NotFound,
            tried: vec!["personapi.person-enrich".into()],
            retry_at: None,
            detail: None,
        }),
    );
    r.set("email.free_provider", known(Value::Bool(false), None));
    stored(r)
}

fn cell<'a>(header: &[String], row: &'a [String], column: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    &row[i]
}

#[test]
fn header_is_id_then_value_and_state_per_sorted_field() {
    let cat = Catalogue::standard();
    let header = csv_header(&cat);
    assert_eq!(header[0], "id");
    assert_eq!(header.len(), 1 + 2 * cat.iter().count());
    let names: Vec<&String> = header[1..].iter().step_by(2).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "fields are in name order");
    for pair in header[1..].chunks(2) {
        assert_eq!(pair[1], format!("{}.state", pair[0]));
    }
}

#[test]
fn row_renders_values_and_names_every_state() {
    let cat = Catalogue::standard();
    let header = csv_header(&cat);
    let row = csv_row(&sample(), &cat, t(10));
    assert_eq!(row.len(), header.len());
    let table = [
        ("id", "lead-1"),
        ("person.email", "jane@acme.io"),
        ("person.email.state", "known"),
        ("person.title", "CTO"),
        ("person.title.state", "stale"),
        ("company.tech_stack", "rust;postgres"),
        ("company.tech_stack.state", "known"),
        ("company.employee_count", "120"),
        ("email.free_provider", "false"),
        ("person.phone", ""),
        ("person.phone.state", "not_found"),
        ("company.industry", ""),
        ("company.industry.state", "not_attempted"),
    ];
    for (column, want) in table {
        assert_eq!(cell(&header, &row, column), want, "column {column}");
    }
    // The contract: no state cell is ever blank.
    for (h, v) in header.iter().zip(&row) {
        if h.ends_with(".state") {
            assert!(!v.is_empty(), "{h} is empty");
        }
    }
}

#[test]
fn expiry_at_now_counts_as_stale() {
    let cat = Catalogue::standard();
    let header = csv_header(&cat);
    let row = csv_row(&sample(), &cat, t(20));
    assert_eq!(cell(&header, &row, "person.email.state"), "stale");
    assert_eq!(cell(&header, &row, "person.email"), "jane@acme.io");
}

#[test]
fn jsonl_line_round_trips_and_is_one_line() {
    let rec = sample();
    let line = jsonl_line(&rec);
    assert!(!line.contains('\n'));
    let back: StoredRecord = serde_json::from_str(&line).unwrap();
    assert_eq!(back, rec);
}

#[test]
fn format_parses_and_prints() {
    assert_eq!("csv".parse::<ExportFormat>(), Ok(ExportFormat::Csv));
    assert_eq!("JSONL".parse::<ExportFormat>(), Ok(ExportFormat::Jsonl));
    assert!("xml"
        .parse::<ExportFormat>()
        .unwrap_err()
        .contains("jsonl or csv"));
    assert_eq!(ExportFormat::default().to_string(), "jsonl");
}
