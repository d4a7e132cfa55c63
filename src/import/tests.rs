//! Tests for the importer: good rows, each kind of reject, header errors,
//! the rejects file, and a property that no good row is ever lost.

use super::fields::{edit_distance, Fields, Target};
use super::*;
use crate::model::{FieldState, Value, SOURCE_INPUT};
use chrono::TimeZone;
use std::collections::BTreeSet;
use std::io::Write;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
}

/// Write `content` to a temp file called `name` and import it.
fn import(name: &str, content: &[u8]) -> Result<Vec<Row>, ImportError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    let mut importer = Importer::open(&path, &Catalogue::standard(), now())?;
    let rows: Vec<Row> = importer.by_ref().collect();
    assert!(importer.take_error().is_none());
    Ok(rows)
}

fn rows(name: &str, content: &[u8]) -> Vec<Row> {
    import(name, content).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn good_ids(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| match r {
            Row::Good { record, .. } => Some(record.id.clone()),
            Row::Rejected(_) => None,
        })
        .collect()
}

fn rejects(rows: &[Row]) -> Vec<&Reject> {
    rows.iter()
        .filter_map(|r| match r {
            Row::Rejected(r) => Some(r),
            Row::Good { .. } => None,
        })
        .collect()
}

fn record<'a>(rows: &'a [Row], id: &str) -> &'a Record {
    rows.iter()
        .find_map(|r| match r {
            Row::Good { record, .. } if record.id == id => Some(record),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no good row {id}"))
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

#[test]
fn good_csv_rows_become_known_input_values() {
    let csv = "id,person.email,company.domain,company.employee_count,company.tech_stack,person.seniority,email.free_provider\n\
               a1, Jane@Acme.IO ,https://www.acme.io/about,\"1,200\",Stripe; AWS,VP,no\n\
               a2,,,,,,\n";
    let rows = rows("leads.csv", csv.as_bytes());
    assert_eq!(good_ids(&rows), ["a1", "a2"]);
    let a1 = record(&rows, "a1");
    assert_eq!(a1.value("person.email"), Some(&text("jane@acme.io")));
    assert_eq!(a1.value("company.domain"), Some(&text("acme.io")));
    assert_eq!(
        a1.value("company.employee_count"),
        Some(&Value::Integer(1200))
    );
    assert_eq!(
        a1.value("company.tech_stack"),
        Some(&Value::List(vec!["stripe".into(), "aws".into()]))
    );
    assert_eq!(a1.value("person.seniority"), Some(&text("vp")));
    assert_eq!(a1.value("email.free_provider"), Some(&Value::Bool(false)));
    for state in a1.fields.values() {
        let FieldState::Known(k) = state else {
            panic!("not known: {state:?}")
        };
        assert_eq!(k.source, SOURCE_INPUT);
        assert_eq!(k.confidence, 1.0);
        assert_eq!(k.observed_at, now());
        assert_eq!(k.expires_at, None);
    }
    assert_eq!(a1.updated_at, now());
    // Empty cells are "not given": no field, never an empty string.
    assert!(record(&rows, "a2").fields.is_empty());
    assert!(matches!(rows[0], Row::Good { line: 2, .. }));
}

#[test]
fn good_jsonl_rows_flat_and_nested() {
    let jsonl = concat!(
        r#"{"id":"j1","person.email":"jane@acme.io","company.employee_count":42,"company.tech_stack":["Segment",null],"email.free_provider":true}"#,
        "\n\n",
        r#"{"id":"j2","person":{"first_name":"Ann","title":null},"company":{"domain":"acme.io"}}"#,
        "\n",
        r#"{"id":77,"email":"x@y.io","person":null}"#,
        "\n",
        r#"{"id":"j4"}"#,
    );
    let rows = rows("leads.jsonl", jsonl.as_bytes());
    assert_eq!(good_ids(&rows), ["j1", "j2", "77", "j4"]);
    let j1 = record(&rows, "j1");
    assert_eq!(
        j1.value("company.employee_count"),
        Some(&Value::Integer(42))
    );
    assert_eq!(
        j1.value("company.tech_stack"),
        Some(&Value::List(vec!["segment".into()]))
    );
    assert_eq!(j1.value("email.free_provider"), Some(&Value::Bool(true)));
    let j2 = record(&rows, "j2");
    assert_eq!(j2.value("person.first_name"), Some(&text("Ann")));
    assert_eq!(j2.value("company.domain"), Some(&text("acme.io")));
    assert!(!j2.fields.contains_key("person.title"), "null is not given");
    assert_eq!(
        record(&rows, "77").value("person.email"),
        Some(&text("x@y.io"))
    );
    assert!(record(&rows, "j4").fields.is_empty());
    // Line numbers are physical: the blank line 2 is skipped but counted.
    assert!(matches!(rows[1], Row::Good { line: 3, .. }));
    assert_eq!(
        record(&rows, "j2")
            .state("company.domain")
            .known()
            .unwrap()
            .source,
        "input"
    );
}

#[test]
fn aliases_bom_crlf_and_multiline_cells() {
    let csv = "\u{feff}ID,Email,First Name,last_name,company_name,website,title,phone,linkedin\r\n\
               c1,jane@acme.io,Jane,Doe,Acme,acme.io,\"VP,\nSales\",(415) 555-0123,linkedin.com/in/jane\r\n\
               c2,,,,,,,,\r\n";
    let rows = rows("leads.CSV", csv.as_bytes());
    assert_eq!(good_ids(&rows), ["c1", "c2"]);
    let c1 = record(&rows, "c1");
    assert_eq!(c1.value("person.email"), Some(&text("jane@acme.io")));
    assert_eq!(c1.value("person.first_name"), Some(&text("Jane")));
    assert_eq!(c1.value("person.last_name"), Some(&text("Doe")));
    assert_eq!(c1.value("company.name"), Some(&text("Acme")));
    assert_eq!(c1.value("company.domain"), Some(&text("acme.io")));
    assert_eq!(c1.value("person.title"), Some(&text("VP, Sales")));
    assert_eq!(c1.value("person.phone"), Some(&text("+14155550123")));
    assert_eq!(
        c1.value("person.linkedin_url"),
        Some(&text("https://linkedin.com/in/jane"))
    );
    // c2 starts after the two-line record.
    assert!(matches!(rows[1], Row::Good { line: 4, .. }));
}

/// (file name, content, expected rejects as (line, reason prefix), expected good ids)
type Case = (&'static str, Vec<u8>, Vec<(u64, String)>, Vec<&'static str>);

fn reject_cases() -> Vec<Case> {
    let long_title = "x".repeat(2000);
    let long_line = format!(
        "{{\"id\":\"big\",\"person.title\":\"{}\"}}",
        "y".repeat(1 << 20)
    );
    let bad_utf8_csv = b"id,person.title\na,CEO\nb,\xff\xfeboss\nc,CTO\n".to_vec();
    let s = |x: &str| x.to_string();
    vec![
        (
            "ragged.csv",
            b"id,person.email\na,a@x.io\nb,b@x.io,extra\nc\nd,d@x.io\n".to_vec(),
            vec![
                (3, s("row has 3 cells but the header has 2 columns")),
                (4, s("row has 1 cells but the header has 2 columns")),
            ],
            vec!["a", "d"],
        ),
        (
            // Not UTF-8: read as Windows-1252, so the row is no longer lost.
            "utf8.csv",
            bad_utf8_csv,
            vec![],
            vec!["a", "b", "c"],
        ),
        (
            "overlong.csv",
            format!("id,person.title\na,CEO\nb,{long_title}\nc,CTO\n").into_bytes(),
            vec![(
                3,
                s("column person.title: value is 2000 characters long, over the limit of 1024"),
            )],
            vec!["a", "c"],
        ),
        (
            "dup.csv",
            b"id,person.email\na,a@x.io\nb,b@x.io\n a ,z@x.io\nc,c@x.io\n".to_vec(),
            vec![(4, s("duplicate id \"a\" (first seen on line 2)"))],
            vec!["a", "b", "c"],
        ),
        (
            "email.csv",
            b"id,person.email\na,a@x.io\nb,jane@\nc,c@x.io\n".to_vec(),
            vec![(3, s("column person.email: \"jane@\" is not a valid email"))],
            vec!["a", "c"],
        ),
        (
            "domain.csv",
            b"id,domain\na,acme.io\nb,not a domain\nc,c.io\n".to_vec(),
            vec![(
                3,
                s("column domain (company.domain): \"not a domain\" is not a valid domain"),
            )],
            vec!["a", "c"],
        ),
        (
            "noid.csv",
            b"id,person.email\na,a@x.io\n,b@x.io\n   ,\nc,c@x.io\n".to_vec(),
            vec![(3, s("missing id")), (4, s("missing id"))],
            vec!["a", "c"],
        ),
        (
            "quote.csv",
            b"id,person.email\na,a@x.io\nb,\"b@x.io\nc,c@x.io\nd,\"d@x.io\"\n".to_vec(),
            vec![(3, s("unterminated quote"))],
            vec!["a", "c", "d"],
        ),
        (
            "stray.csv",
            b"id,person.title\na,\"CEO\" \nb,\"CTO\"x\nc,CFO\n".to_vec(),
            vec![(3, s("text after the closing quote in column person.title"))],
            vec!["a", "c"],
        ),
        (
            "longline.csv",
            format!("id,person.title\na,CEO\nb,{}\nc,CTO\n", "z".repeat((1 << 20) + 5)).into_bytes(),
            vec![(3, s("line is 1048583 bytes long, over the limit of 1048576 bytes"))],
            vec!["a", "c"],
        ),
        (
            "malformed.jsonl",
            b"{\"id\":\"a\"}\n{\"id\": \"b\", \n{\"id\":\"c\"}\n[1]\n".to_vec(),
            vec![
                (2, s("malformed JSON at column 12: EOF while parsing a value")),
                (4, s("expected a JSON object, got an array")),
            ],
            vec!["a", "c"],
        ),
        (
            "unknown.ndjson",
            b"{\"id\":\"a\"}\n{\"id\":\"b\",\"emial\":\"b@x.io\"}\n{\"id\":\"c\",\"person\":{\"emial\":1}}\n{\"id\":\"d\"}\n".to_vec(),
            vec![
                (2, s("unknown field \"emial\" (did you mean \"person.email\"?)")),
                (3, s("unknown field \"person.emial\" (did you mean \"person.email\"?)")),
            ],
            vec!["a", "d"],
        ),
        (
            "json-rules.json",
            b"{\"id\":\"a\"}\n{\"person.email\":\"q@x.io\"}\n{\"id\":\"a\"}\n{\"id\":\"e\",\"person.email\":\"jane@\"}\n{\"id\":\"f\",\"email\":\"f@x.io\",\"person\":{\"email\":\"g@x.io\"}}\n{\"id\":[1]}\n{\"id\":\"z\"}\n".to_vec(),
            vec![
                (2, s("missing id")),
                (3, s("duplicate id \"a\" (first seen on line 1)")),
                (4, s("field person.email: \"jane@\" is not a valid email")),
                (5, s("person.email is given twice (as \"email\" and \"person.email\")")),
                (6, s("id must be a string or a number, not an array")),
            ],
            vec!["a", "z"],
        ),
        (
            "utf8.jsonl",
            b"{\"id\":\"a\"}\n{\"id\":\"b\",\"person.title\":\"\xc3\x28\"}\n{\"id\":\"c\"}\n".to_vec(),
            vec![],
            vec!["a", "b", "c"],
        ),
        (
            "longline.jsonl",
            format!("{{\"id\":\"a\"}}\n{long_line}\n{{\"id\":\"c\"}}\n").into_bytes(),
            vec![(2, format!("line is {} bytes long, over the limit", long_line.len()))],
            vec!["a", "c"],
        ),
        (
            "badid.csv",
            format!("id,person.title\n{},CEO\nb\tc,CEO\nd,CEO\n", "i".repeat(201)).into_bytes(),
            vec![
                (2, s("id is 201 characters long, over the limit of 200")),
                (3, s("id contains a control character")),
            ],
            vec!["d"],
        ),
    ]
}

#[test]
fn bad_rows_are_rejected_with_line_and_reason_and_good_rows_survive() {
    for (name, content, want_rejects, want_good) in reject_cases() {
        let rows = rows(name, &content);
        let got: Vec<(u64, &str)> = rejects(&rows)
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(got.len(), want_rejects.len(), "{name}: {got:?}");
        for ((line, reason), (want_line, want_reason)) in got.iter().zip(&want_rejects) {
            assert_eq!(line, want_line, "{name}: {reason}");
            assert!(
                reason.starts_with(want_reason.as_str()),
                "{name}: got {reason:?}, want {want_reason:?}"
            );
        }
        assert_eq!(good_ids(&rows), want_good, "{name}");
        for r in rejects(&rows) {
            assert!(r.raw.chars().count() <= 2000, "{name}: raw not cut");
        }
    }
}

#[test]
fn rejects_carry_the_raw_row_and_the_id() {
    let rows = rows("leads.csv", b"id,person.email\nb,jane@\nc,\xff@x.io\n");
    let r = rejects(&rows);
    assert_eq!(r[0].raw, "b,jane@");
    assert_eq!(r[0].id.as_deref(), Some("b"));
    // Not UTF-8, so read as Windows-1252: the raw row shows the character.
    assert_eq!(r[1].raw, "c,\u{ff}@x.io");
    let long = rows_of_len(5000);
    assert_eq!(rejects(&long)[0].raw.chars().count(), 2000);
}

fn rows_of_len(n: usize) -> Vec<Row> {
    rows(
        "long.csv",
        format!("id,person.title\nq,{}\n", "é".repeat(n)).as_bytes(),
    )
}

#[test]
fn unterminated_quote_at_end_of_file_loses_nothing_before_it() {
    let rows = rows("q.csv", b"id,person.title\na,CEO\nb,\"CTO\n");
    assert_eq!(good_ids(&rows), ["a"]);
    assert_eq!(rejects(&rows)[0].line, 3);
}

#[test]
fn header_errors_name_the_file() {
    let err = import("h.csv", b"id,Emial,person.title\n").unwrap_err();
    match &err {
        ImportError::Columns {
            unknown, ambiguous, ..
        } => {
            assert_eq!(
                unknown,
                &[UnknownColumn {
                    position: 2,
                    column: "Emial".into(),
                    suggestion: Some("person.email".into()),
                }]
            );
            assert!(ambiguous.is_empty());
        }
        other => panic!("{other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("h.csv") && msg.contains("did you mean \"person.email\""),
        "{msg}"
    );

    let err = import("h.csv", b"id,company.domian\n").unwrap_err();
    assert!(
        matches!(&err, ImportError::Columns { unknown, .. } if unknown[0].suggestion.as_deref() == Some("company.domain")),
        "{err}"
    );
    let err = import("h.csv", b"id,zzzzqqqq\n").unwrap_err();
    assert!(
        matches!(&err, ImportError::Columns { unknown, .. } if unknown[0].suggestion.is_none()),
        "{err}"
    );

    let err = import("h.csv", b"email,title\na@b.io,CEO\n").unwrap_err();
    assert!(matches!(err, ImportError::MissingIdColumn { .. }), "{err}");
    assert!(err.to_string().contains("h.csv"));

    let err = import("h.csv", b"id,email,person.email\n").unwrap_err();
    assert!(
        matches!(&err, ImportError::Columns { ambiguous, .. } if ambiguous.len() == 1),
        "{err}"
    );

    for (name, content) in [("e.csv", &b""[..]), ("e.jsonl", b"\n  \n")] {
        let err = import(name, content).unwrap_err();
        assert!(matches!(err, ImportError::EmptyFile { .. }), "{err}");
        assert!(err.to_string().contains(name));
    }
    let err = import("leads.xlsx", b"id\n").unwrap_err();
    assert!(matches!(err, ImportError::UnknownFormat { .. }), "{err}");
    assert!(err.to_string().contains("leads.xlsx"));

    let err = import("array.json", b"[\n {\"id\":\"a\"}\n]\n").unwrap_err();
    assert!(matches!(err, ImportError::NotJsonLines { .. }), "{err}");

    let err = Importer::open(
        Path::new("/nonexistent/x.csv"),
        &Catalogue::standard(),
        now(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ImportError::Io { .. }) && err.to_string().contains("/nonexistent/x.csv")
    );
}

#[test]
fn a_header_only_csv_has_no_rows_and_unnamed_columns_must_stay_empty() {
    assert!(rows("h.csv", b"id,person.email\n").is_empty());
    let rows = rows("h.csv", b"id,person.title,\na,CEO,\nb,CTO,oops\n");
    assert_eq!(good_ids(&rows), ["a"]);
    assert!(rejects(&rows)[0].reason.starts_with("column 3 has no name"));
}

#[test]
fn suggestions_and_edit_distance() {
    let fields = Fields::new(&Catalogue::standard());
    assert_eq!(fields.suggest("email").as_deref(), Some("person.email"));
    assert_eq!(fields.suggest("E-Mail").as_deref(), Some("person.email"));
    assert_eq!(
        fields.suggest("seniority").as_deref(),
        Some("person.seniority")
    );
    assert_eq!(
        fields.suggest("employee_cnt").as_deref(),
        Some("company.employee_count")
    );
    assert_eq!(fields.suggest("xyz"), None);
    assert_eq!(
        fields.suggest("company.employee_count_of_it").as_deref(),
        Some("company.employee_count")
    );
    // Seen while fuzzing (import_csv ran several times slower than jsonl):
    // an unknown column of n characters cost 51 edit distances of n × ~20
    // cells. A name far longer than every candidate is not compared.
    assert_eq!(fields.suggest(&"x".repeat(1 << 20)), None);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
}

#[test]
fn summary_counts_rows() {
    let rows = rows("s.csv", b"id,person.email\na,a@x.io\nb,bad\nc,\n");
    let mut summary = ImportSummary::default();
    for row in &rows {
        summary.count(row);
    }
    assert_eq!(
        summary,
        ImportSummary {
            rows: 3,
            good: 2,
            rejected: 1,
            warnings: 1
        }
    );
    assert_eq!(
        serde_json::to_value(summary).unwrap(),
        serde_json::json!({"rows":3,"good":2,"rejected":1,"warnings":1})
    );
}

#[test]
fn rejects_file_is_written_lazily_with_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean-rejects.csv");
    let writer = RejectsWriter::create(&clean).unwrap();
    assert_eq!(writer.path(), clean);
    assert_eq!(writer.finish().unwrap(), 0);
    assert!(!clean.exists(), "a clean import leaves no rejects file");

    let path = dir.path().join("rejects.csv");
    let mut writer = RejectsWriter::create(&path).unwrap();
    assert!(!path.exists());
    let rows = rows("r.csv", b"id,person.email\na,a@x.io\nb,jane@\n,c@x.io\n");
    for row in &rows {
        if let Row::Rejected(r) = row {
            writer.write(r).unwrap();
        }
    }
    assert_eq!(writer.finish().unwrap(), 2);
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        written,
        "line,id,reason,raw\n\
         3,b,\"column person.email: \"\"jane@\"\" is not a valid email\",\"b,jane@\"\n\
         4,,missing id,\",c@x.io\"\n"
    );
    // The rejects file is itself importable CSV: its reasons round-trip.
    let mut back = ::csv::Reader::from_path(&path).unwrap();
    assert_eq!(back.records().count(), 2);

    assert!(RejectsWriter::create(dir.path().join("no/such/dir/r.csv")).is_err());
}

#[test]
fn rejects_file_neutralises_formula_ids_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rejects.csv");
    let mut writer = RejectsWriter::create(&path).unwrap();
    let rows = rows(
        "f.csv",
        b"id,person.email\n=cmd|' /C calc'!A0,jane@\n@SUM(1),bob@\n",
    );
    for r in rejects(&rows) {
        writer.write(r).unwrap();
    }
    assert_eq!(writer.finish().unwrap(), 2);
    let mut back = ::csv::Reader::from_path(&path).unwrap();
    let cells: Vec<(String, String)> = back
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[1].to_string(), r[3].to_string()))
        .collect();
    assert_eq!(
        cells,
        [
            (
                "'=cmd|' /C calc'!A0".into(),
                "'=cmd|' /C calc'!A0,jane@".into()
            ),
            ("'@SUM(1)".into(), "'@SUM(1),bob@".into()),
        ]
    );
}

#[test]
fn rows_without_identity_are_kept_with_a_warning_line() {
    let csv = "id,first_name,last_name,email,linkedin,company\n\
               named,Ann,Lee,,,Acme\n\
               mailed,,,ann@acme.io,,\n\
               linked,,,,https://linkedin.com/in/ann,\n\
               half,Ann,,,,Acme\n\
               bare,,,,,Acme\n";
    let rows = rows("w.csv", csv.as_bytes());
    assert_eq!(
        good_ids(&rows),
        ["named", "mailed", "linked", "half", "bare"]
    );
    assert!(rejects(&rows).is_empty());
    let warnings: Vec<&Reject> = rows
        .iter()
        .filter_map(|r| match r {
            Row::Good { warning, .. } => warning.as_ref(),
            Row::Rejected(_) => None,
        })
        .collect();
    let got: Vec<(u64, Option<&str>, &str)> = warnings
        .iter()
        .map(|w| (w.line, w.id.as_deref(), w.raw.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (5, Some("half"), "half,Ann,,,,Acme"),
            (6, Some("bare"), "bare,,,,,Acme")
        ]
    );
    assert!(warnings.iter().all(|w| w.reason
        == "warning: no identity (no name, email or LinkedIn URL): \
            every person field will end missing_input"));
    let mut summary = ImportSummary::default();
    rows.iter().for_each(|r| summary.count(r));
    assert_eq!(
        (summary.good, summary.rejected, summary.warnings),
        (5, 0, 2)
    );
    // The same check on JSON lines.
    let jsonl = super::tests::rows(
        "w.jsonl",
        b"{\"id\":\"j\",\"company\":{\"name\":\"Acme\"}}\n",
    );
    assert!(matches!(&jsonl[0], Row::Good { warning: Some(w), .. } if w.line == 1));
}

#[test]
fn messages_quote_at_most_80_characters_of_a_key_or_value() {
    let column = "c".repeat(100_000);
    let e = import("h.csv", format!("id,{column}\na,b\n").as_bytes()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("(100000 characters)"), "{}", text.len());
    assert!(text.len() < 300, "{}", text.len());

    let key = "k".repeat(5000);
    let email = format!("{}@", "e".repeat(1000));
    let line = format!("{{\"id\":\"a\",\"{key}\":1,\"email\":\"{email}\"}}\n");
    let rows = rows("k.jsonl", line.as_bytes());
    let reason = &rejects(&rows)[0].reason;
    let k80 = "k".repeat(80);
    assert!(
        reason.contains(&format!("unknown field \"{k80}…\" (5000 characters)")),
        "{reason}"
    );
    assert!(
        reason.contains("(1001 characters) is not a valid email"),
        "{reason}"
    );
    assert!(reason.len() < 400, "{}", reason.len());
}

#[test]
fn from_reader_streams_and_importer_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Importer>();
    // 20k rows through a generated reader: nothing is collected up front.
    let n = 20_000u64;
    let body: Vec<u8> = std::iter::once("id,person.email,company.employee_count\n".to_string())
        .chain((0..n).map(|i| format!("id{i},p{i}@x.io,{i}\n")))
        .collect::<String>()
        .into_bytes();
    let importer = Importer::from_reader(
        std::io::Cursor::new(body),
        Format::Csv,
        Path::new("<memory>"),
        &Catalogue::standard(),
        now(),
    )
    .unwrap();
    assert_eq!(importer.format(), Format::Csv);
    let mut summary = ImportSummary::default();
    for row in importer {
        summary.count(&row);
    }
    assert_eq!(
        summary,
        ImportSummary {
            rows: n,
            good: n,
            rejected: 0,
            warnings: 0
        }
    );
}

#[test]
fn a_read_error_mid_file_ends_with_a_reject_and_an_error() {
    struct Failing(std::io::Cursor<Vec<u8>>);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("disk on fire")),
                n => Ok(n),
            }
        }
    }
    let input = Failing(std::io::Cursor::new(
        b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n".to_vec(),
    ));
    let mut importer = Importer::from_reader(
        input,
        Format::JsonLines,
        Path::new("f.jsonl"),
        &Catalogue::standard(),
        now(),
    )
    .unwrap();
    let rows: Vec<Row> = importer.by_ref().collect();
    assert_eq!(good_ids(&rows), ["a", "b"]);
    let last = rejects(&rows);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].line, 3);
    assert!(last[0].reason.contains("disk on fire"));
    assert!(importer.next().is_none());
    assert!(matches!(
        importer.take_error(),
        Some(ImportError::Io { .. })
    ));
}

/// Peak resident memory of this process (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

const STREAM_ROWS: u64 = 20_000;
const STREAM_FIXED: u64 = 16 * 1024 * 1024;
const STREAM_CHILD: &str = "LEADFALL_TEST_IMPORT_STREAM_FILE";

/// A file much bigger than the memory the importer may use streams through:
/// the peak RSS grows by at most a fixed allowance (1 MiB line buffers, the
/// 64 KiB reader, one row's record, the allocator's arena; ~9 MiB measured)
/// plus the one thing that grows with the file, the map of ids seen (~100
/// bytes per id measured; 256 allowed). Holding the rows (~4 KiB each,
/// ~80 MB in all) would blow the bound by 3x.
/// The peak is process-wide, so the import runs in a child process (this
/// test binary re-run on this test alone), where no other test allocates.
#[test]
fn a_big_file_streams_in_bounded_memory() {
    if let Ok(path) = std::env::var(STREAM_CHILD) {
        let before = peak_rss();
        let mut summary = ImportSummary::default();
        for row in Importer::open(Path::new(&path), &Catalogue::standard(), now()).unwrap() {
            summary.count(&row);
        }
        assert_eq!(summary.good, STREAM_ROWS, "{summary:?}");
        let grew = peak_rss().saturating_sub(before);
        let bound = STREAM_FIXED + STREAM_ROWS * 256;
        println!("peak RSS grew by {grew} bytes (bound {bound})");
        assert!(grew < bound, "peak RSS grew by {grew} bytes, bound {bound}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        out,
        "id,person.email,company.domain,person.title,company.name,person.first_name,person.last_name"
    )
    .unwrap();
    let long = "x".repeat(1000);
    for i in 0..STREAM_ROWS {
        writeln!(
            out,
            "id{i},p{i}@acme.io,acme{i}.io,T{long},C{long},F{long},L{long}"
        )
        .unwrap();
    }
    drop(out);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 3 * (STREAM_FIXED + STREAM_ROWS * 256), "{size}");
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "import::tests::a_big_file_streams_in_bounded_memory",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STREAM_CHILD, &path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && said.contains("1 passed"),
        "{said}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(said.contains("peak RSS grew by"), "{said}");
    eprintln!("{said}");
}

/// Kinds of bad row for the property test.
#[derive(Debug, Clone, Copy)]
enum Bad {
    Ragged,
    Email,
    Utf8,
    Quote,
    MissingId,
    Duplicate,
    Malformed,
    UnknownKey,
}

fn bad_row(kind: Bad, i: usize, csv: bool, earlier_good: Option<usize>) -> Vec<u8> {
    let id = format!("b{i}");
    match (kind, csv) {
        (Bad::Ragged, true) => format!("{id},x@y.io,CEO,extra").into_bytes(),
        (Bad::Ragged | Bad::Malformed, false) => format!("{{\"id\":\"{id}\",").into_bytes(),
        (Bad::Malformed, true) => id.into_bytes(),
        (Bad::Email, true) => format!("{id},nope@,CEO").into_bytes(),
        (Bad::Email, false) => format!("{{\"id\":\"{id}\",\"email\":\"nope@\"}}").into_bytes(),
        (Bad::Utf8, true) => [format!("{id},x@y.io,").as_bytes(), b"\xff\xfe"].concat(),
        (Bad::Utf8, false) => [
            format!("{{\"id\":\"{id}\",\"title\":\"").as_bytes(),
            b"\xff\"}",
        ]
        .concat(),
        (Bad::Quote, true) => format!("{id},\"x@y.io,CEO").into_bytes(),
        (Bad::Quote, false) => format!("{{\"id\":\"{id}\",\"title\":\"CEO}}").into_bytes(),
        (Bad::MissingId, true) => b",x@y.io,CEO".to_vec(),
        (Bad::MissingId, false) => b"{\"email\":\"x@y.io\"}".to_vec(),
        (Bad::UnknownKey, true) => format!("{id},x@y.io,\"CEO\"junk").into_bytes(),
        (Bad::UnknownKey, false) => {
            format!("{{\"id\":\"{id}\",\"emial\":\"x@y.io\"}}").into_bytes()
        }
        (Bad::Duplicate, _) => match earlier_good {
            Some(g) if csv => format!("g{g},dup@y.io,CEO").into_bytes(),
            Some(g) => format!("{{\"id\":\"g{g}\"}}").into_bytes(),
            None => bad_row(Bad::Email, i, csv, None),
        },
    }
}

fn good_row(i: usize, variant: u8, csv: bool) -> Vec<u8> {
    let id = format!("g{i}");
    match (variant % 4, csv) {
        (0, true) => format!("{id},p{i}@x.io,CEO"),
        (1, true) => format!("{id},,\"VP, Sales\""),
        (2, true) => format!("{id},,"),
        (_, true) => format!("\"{id}\",p{i}@x.io,\"Head of \"\"Growth\"\"\""),
        (0, false) => format!("{{\"id\":\"{id}\",\"person.email\":\"p{i}@x.io\"}}"),
        (1, false) => format!("{{\"id\":\"{id}\",\"person\":{{\"title\":\"VP\"}}}}"),
        (2, false) => format!("{{\"id\":\"{id}\"}}"),
        (_, false) => format!("{{\"id\":\"{id}\",\"title\":\"a \\\"b\\\"\",\"email\":null}}"),
    }
    .into_bytes()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn no_good_row_is_ever_lost(
        csv in proptest::bool::ANY,
        plan in proptest::collection::vec((proptest::bool::ANY, 0u8..8, 0u8..4), 0..40),
    ) {
        let kinds = [Bad::Ragged, Bad::Email, Bad::Utf8, Bad::Quote, Bad::MissingId, Bad::Duplicate, Bad::Malformed, Bad::UnknownKey];
        let mut body: Vec<u8> = if csv { b"id,person.email,person.title\n".to_vec() } else { Vec::new() };
        let mut want_good = BTreeSet::new();
        let mut last_good = None;
        for (i, (good, kind, variant)) in plan.iter().enumerate() {
            let line = if *good {
                want_good.insert(format!("g{i}"));
                last_good = Some(i);
                good_row(i, *variant, csv)
            } else if matches!(kinds[*kind as usize], Bad::Utf8) {
                // A byte that is not UTF-8 makes the file Windows-1252,
                // which reads every byte: the row is good now.
                want_good.insert(format!("b{i}"));
                bad_row(Bad::Utf8, i, csv, last_good)
            } else {
                bad_row(kinds[*kind as usize], i, csv, last_good)
            };
            body.extend_from_slice(&line);
            body.push(b'\n');
        }
        // JSON lines needs a first line; an all-bad plan keeps it honest.
        if !csv && body.is_empty() {
            body.extend_from_slice(b"\n{\"id\":\"g-last\"}\n");
            want_good.insert("g-last".to_string());
        }
        let name = if csv { "p.csv" } else { "p.jsonl" };
        let rows = rows(name, &body);
        let got: BTreeSet<String> = good_ids(&rows).into_iter().collect();
        proptest::prop_assert_eq!(&got, &want_good);
        proptest::prop_assert_eq!(rows.len(), plan.len().max(usize::from(!csv)));
    }
}

// ---- header aliases, --map / --ignore, encodings (issue 31, item 3) ----

/// Import `content` as `name` with column rules.
fn import_with(
    name: &str,
    content: &[u8],
    map: &[(&str, &str)],
    ignore: &[&str],
) -> Result<(Vec<ColumnMapping>, Vec<Row>), ImportError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    let options = ReadOptions {
        columns: ColumnRules {
            map: map
                .iter()
                .map(|(c, f)| (c.to_string(), f.to_string()))
                .collect(),
            ignore: ignore.iter().map(|c| c.to_string()).collect(),
        },
        encoding: None,
    };
    let mut importer = Importer::open_with(&path, &Catalogue::standard(), now(), &options)?;
    let columns = importer.columns().to_vec();
    let rows: Vec<Row> = importer.by_ref().collect();
    assert!(importer.take_error().is_none());
    Ok((columns, rows))
}

#[test]
fn export_headers_resolve_regardless_of_case_and_punctuation() {
    let fields = Fields::new(&Catalogue::standard());
    let cases = [
        ("company_domain", "company.domain"),
        ("Company Domain", "company.domain"),
        ("COMPANY-DOMAIN", "company.domain"),
        ("Website", "company.domain"),
        ("Website URL", "company.domain"),
        ("Email Address", "person.email"),
        (" email_address ", "person.email"),
        ("E-mail", "person.email"),
        ("Account Name", "company.name"),
        ("Company Name", "company.name"),
        ("Job Title", "person.title"),
        ("Title", "person.title"),
        ("Mobile Phone", "person.phone"),
        ("Phone Number", "person.phone"),
        ("First Name", "person.first_name"),
        ("first_name", "person.first_name"),
        ("Last Name", "person.last_name"),
        ("LinkedIn URL", "person.linkedin_url"),
        ("Person Linkedin Url", "person.linkedin_url"),
        ("Company Linkedin Url", "company.linkedin_url"),
        ("# Employees", "company.employee_count"),
        ("Country/Region", "person.country"),
        ("Person.First Name", "person.first_name"),
        ("person.email", "person.email"),
    ];
    for (header, field) in cases {
        assert_eq!(
            fields.resolve(header).map(|(t, _)| t),
            Some(Target::Field(field.into())),
            "{header:?}"
        );
    }
    for header in [
        "id",
        "ID",
        "Record ID",
        "Contact ID",
        "Lead ID",
        "Apollo Contact Id",
    ] {
        assert_eq!(
            fields.resolve(header).map(|(t, _)| t),
            Some(Target::Id),
            "{header:?}"
        );
    }
    for header in ["Lifecycle Stage", "Create Date", "Name", ""] {
        assert_eq!(fields.resolve(header), None, "{header:?}");
    }
    // A custom field by its own name, punctuation aside.
    let mut custom = Catalogue::standard();
    custom.insert(crate::model::FieldDef {
        name: "custom.website".into(),
        ty: crate::model::FieldType::Url,
        values: vec![],
        ttl_days: 30,
    });
    let fields = Fields::new(&custom);
    assert_eq!(
        fields.resolve("Custom Website").map(|(t, _)| t),
        Some(Target::Field("custom.website".into()))
    );
}

#[test]
fn the_alias_table_is_consistent_and_documented() {
    let catalogue = Catalogue::standard();
    let mut seen: std::collections::BTreeMap<String, &str> = Default::default();
    for a in super::aliases::ALIASES {
        assert!(
            a.field == "id" || catalogue.contains(a.field),
            "{} is not a field",
            a.field
        );
        for h in a.headers {
            let key = super::aliases::header_key(h);
            assert!(!key.is_empty(), "{h:?}");
            if let Some(other) = seen.insert(key.clone(), a.field) {
                panic!("{h:?} ({key}) is listed for {other} and {}", a.field);
            }
            // No alias may shadow another field's own name.
            for def in catalogue.iter() {
                if super::aliases::header_key(&def.name) == key {
                    assert_eq!(def.name.as_str(), a.field, "{h:?}");
                }
            }
        }
    }
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/import.md"),
    )
    .unwrap();
    let table = aliases_markdown();
    assert!(
        docs.contains(&table),
        "docs/import.md must hold the alias table exactly as generated:\n{table}"
    );
}

/// A HubSpot contacts export: every header known, values land in fields.
const HUBSPOT: &[u8] = b"Record ID,First Name,Last Name,Email,Phone Number,Company Name,Website URL,Job Title,Country/Region\n\
501,Ana,Silva,ana@acme.io,+1 415 555 0100,Acme,https://www.acme.io/,Head of Growth,Portugal\n\
502,Ben,Ode,ben@,,Beta,beta.io,CTO,\n";

#[test]
fn a_hubspot_export_imports_without_flags() {
    let (columns, rows) = import_with("contacts.csv", HUBSPOT, &[], &[]).unwrap();
    let fields: Vec<(&str, Option<&str>, MatchedBy)> = columns
        .iter()
        .map(|c| (c.column.as_str(), c.field.as_deref(), c.by))
        .collect();
    assert_eq!(
        fields,
        [
            ("Record ID", Some("id"), MatchedBy::Alias),
            ("First Name", Some("person.first_name"), MatchedBy::Alias),
            ("Last Name", Some("person.last_name"), MatchedBy::Alias),
            ("Email", Some("person.email"), MatchedBy::Alias),
            ("Phone Number", Some("person.phone"), MatchedBy::Alias),
            ("Company Name", Some("company.name"), MatchedBy::Name),
            ("Website URL", Some("company.domain"), MatchedBy::Alias),
            ("Job Title", Some("person.title"), MatchedBy::Alias),
            ("Country/Region", Some("person.country"), MatchedBy::Alias),
        ]
    );
    let ana = record(&rows, "501");
    assert_eq!(ana.value("company.domain"), Some(&text("acme.io")));
    assert_eq!(ana.value("person.title"), Some(&text("Head of Growth")));
    assert_eq!(ana.value("person.email"), Some(&text("ana@acme.io")));
    // A bad cell names the column as written and the field it was read as.
    assert_eq!(
        rejects(&rows)[0].reason,
        "column Email (person.email): \"ben@\" is not a valid email"
    );
}

#[test]
fn map_and_ignore_say_what_other_columns_mean() {
    let csv = b"Key,Acct,Lifecycle Stage,e-mail\nk1,Acme Corp,!!garbage!!,k1@acme.io\n";
    let (columns, rows) = import_with(
        "crm.csv",
        csv,
        &[("key", "id"), ("Acct", "Company Name")],
        &["LIFECYCLE STAGE"],
    )
    .unwrap();
    let by: Vec<(Option<&str>, MatchedBy)> =
        columns.iter().map(|c| (c.field.as_deref(), c.by)).collect();
    assert_eq!(
        by,
        [
            (Some("id"), MatchedBy::Map),
            (Some("company.name"), MatchedBy::Map),
            (None, MatchedBy::Ignore),
            (Some("person.email"), MatchedBy::Alias),
        ]
    );
    let r = record(&rows, "k1");
    assert_eq!(r.value("company.name"), Some(&text("Acme Corp")));
    assert_eq!(r.fields.len(), 2, "the ignored column gives nothing");

    // JSON lines honour the same rules, key by key.
    let (_, rows) = import_with(
        "crm.jsonl",
        b"{\"Key\":\"j1\",\"Acct\":\"Beta\",\"Lifecycle Stage\":{\"x\":1}}\n",
        &[("Key", "id"), ("Acct", "company.name")],
        &["Lifecycle Stage"],
    )
    .unwrap();
    assert_eq!(
        record(&rows, "j1").value("company.name"),
        Some(&text("Beta"))
    );
}

#[test]
fn unknown_columns_are_listed_at_once_with_the_fix() {
    let err = import_with("crm.csv", b"Record ID,Emial,Email\n", &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "{path}: line 1, column 2: unknown column \"Emial\"; did you mean \"person.email\"? \
         read it as a field with --map 'Emial=person.email' or skip it with --ignore 'Emial'"
            .replace("{path}", &path_of(&err))
    );
    let err = import_with(
        "crm.csv",
        b"Record ID,Lifecycle Stage,Email,Contact's owner,Phone Number,Mobile Phone\n",
        &[],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "{path}: line 1: 2 unknown and 1 ambiguous columns; read a column as a field with \
         --map 'COLUMN=FIELD' or skip it with --ignore 'COLUMN':\n  \
         column 2 \"Lifecycle Stage\": unknown; no field is close\n  \
         column 4 \"Contact's owner\": unknown; no field is close\n  \
         columns \"Phone Number\" (column 5) and \"Mobile Phone\" (column 6) both map to \
         person.phone; keep one: --ignore 'Mobile Phone', or --map the other to a different field\n\
         to skip every unknown column: --ignore 'Lifecycle Stage' --ignore 'Contact'\\''s owner'"
            .replace("{path}", &path_of(&err))
    );
    // The suggested fix works.
    let (_, rows) = import_with(
        "crm.csv",
        b"Record ID,Lifecycle Stage,Email,Contact's owner,Phone Number,Mobile Phone\n1,lead,a@b.io,me,,+14155550100\n",
        &[],
        &["Lifecycle Stage", "Contact's owner", "Phone Number"],
    )
    .unwrap();
    assert_eq!(
        record(&rows, "1").value("person.phone"),
        Some(&text("+14155550100"))
    );
}

fn path_of(err: &ImportError) -> String {
    let msg = err.to_string();
    msg[..msg.find(": line 1").unwrap()].to_string()
}

#[test]
fn bad_rules_are_refused_before_any_row() {
    let csv = b"id,Acct\n1,Acme\n";
    let err = import_with("r.csv", csv, &[("Acct", "company.nmae")], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--map 'Acct=company.nmae': \"company.nmae\" is not a field; did you mean \"company.name\"?"
    );
    let err = import_with("r.csv", csv, &[("Acct", "company.name")], &["acct"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--map 'Acct=company.name' and --ignore 'acct' both name column \"acct\"; keep one"
    );
    let err = import_with("r.csv", csv, &[("Acct", "company.name")], &["Acount"]).unwrap_err();
    assert!(
        matches!(&err, ImportError::UnusedRule { rules, .. } if rules == &["--ignore 'Acount'"]),
        "{err}"
    );
    assert!(err
        .to_string()
        .ends_with("r.csv: line 1: --ignore 'Acount' names no column of the header"));
    assert_eq!(
        parse_map("A=b=person.email"),
        Ok(("A=b".to_string(), "person.email".to_string()))
    );
    assert!(parse_map("Acct").is_err() && parse_map("=x").is_err());
}

/// `Müller,José,Zoë` written by Excel on Windows.
const CP1252: &[u8] =
    b"id,First Name,Last Name,Company\n1,Jos\xe9,M\xfcller,Caf\xe9 \x80 Co\n2,Ann,Lee,Acme\n";

#[test]
fn a_windows_1252_file_is_transcoded_not_rejected() {
    let detected = detect(CP1252).unwrap();
    assert_eq!(
        detected,
        Detected {
            encoding: Encoding::Windows1252,
            first_bad_line: Some(2)
        }
    );
    let warning = detected.warning(Path::new("x/leads.csv")).unwrap();
    assert!(
        warning.starts_with("x/leads.csv: not UTF-8 (first at line 2); reading it as Windows-1252"),
        "{warning}"
    );
    let rows = rows("excel.csv", CP1252);
    assert!(rejects(&rows).is_empty(), "{:?}", rejects(&rows));
    let r = record(&rows, "1");
    assert_eq!(r.value("person.first_name"), Some(&text("José")));
    assert_eq!(r.value("person.last_name"), Some(&text("Müller")));
    assert_eq!(r.value("company.name"), Some(&text("Café € Co")));

    // Read as UTF-8 (a reader cannot be scanned first), the row is rejected
    // as before, naming the column.
    let rows: Vec<Row> = Importer::from_reader(
        CP1252,
        Format::Csv,
        Path::new("stdin.csv"),
        &Catalogue::standard(),
        now(),
    )
    .unwrap()
    .collect();
    assert_eq!(good_ids(&rows), ["2"]);
    assert!(rejects(&rows)[0]
        .reason
        .starts_with("invalid UTF-8 in column First Name"));
}

#[test]
fn utf8_files_keep_every_line_and_lose_their_bom() {
    let utf8 = "\u{feff}Record ID,First Name\n1,Zoë\n2,Łukasz\n".as_bytes();
    assert_eq!(
        detect(utf8).unwrap(),
        Detected {
            encoding: Encoding::Utf8,
            first_bad_line: None
        }
    );
    let bom = rows("bom.csv", utf8);
    assert_eq!(
        record(&bom, "2").value("person.first_name"),
        Some(&text("Łukasz"))
    );

    // Two exports pasted together: the UTF-8 lines read as before, the
    // Windows-1252 line is transcoded.
    let mut mixed = "id,First Name\n1,Zoë\n".as_bytes().to_vec();
    mixed.extend_from_slice(b"2,J\xfcrgen\n");
    let got = rows("mixed.csv", &mixed);
    assert_eq!(
        record(&got, "1").value("person.first_name"),
        Some(&text("Zoë"))
    );
    assert_eq!(
        record(&got, "2").value("person.first_name"),
        Some(&text("Jürgen"))
    );
}

#[test]
fn detection_reads_across_buffers_and_counts_lines() {
    // A two-byte character cut by the 64 KiB buffer boundary is still UTF-8.
    let mut body = vec![b'a'; 64 * 1024 - 1];
    body.extend_from_slice("é\nb\n".as_bytes());
    assert_eq!(detect(&body[..]).unwrap().encoding, Encoding::Utf8);
    // A character cut by the end of the file is not.
    let mut cut = body.clone();
    cut.push(0xc3);
    assert_eq!(
        detect(&cut[..]).unwrap(),
        Detected {
            encoding: Encoding::Windows1252,
            first_bad_line: Some(3)
        }
    );
    // UTF-16 is refused with its name, not read as Windows-1252.
    let err = import("u16.csv", b"\xff\xfei\x00d\x00\n\x00").unwrap_err();
    assert!(err.to_string().contains("the file is UTF-16"), "{err}");
    let mut late = b"x\n".repeat(50_000);
    late.extend_from_slice(b"\xe9\n");
    assert_eq!(detect(&late[..]).unwrap().first_bad_line, Some(50_001));
}
