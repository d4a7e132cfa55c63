//! Lead files as CRMs export them (issue 31, item 3): header aliases,
//! `--map` / `--ignore`, `import --dry-run`, and Windows-1252 files, through
//! the real binary.

use crate::util::{read_jsonl, run, stderr, stdout, TestDir};

/// A HubSpot contacts export: aliased headers, one column leadfall has no
/// field for, one it should read as another field.
const HUBSPOT: &str = "\u{feff}Record ID,First Name,Last Name,Email,Phone Number,Company Name,Website URL,Job Title,Lifecycle Stage,Industry Segment\n\
101,Ana,Silva,ana@acme.io,+1 415 555 0100,Acme,https://www.acme.io/,Head of Growth,lead,Software\n\
102,Ben,Ode,ben@,,Beta,beta.io,CTO,customer,Retail\n\
103,Cleo,Park,cleo@gamma.io,,Gamma,gamma.io,VP Sales,lead,Fintech\n";

#[test]
fn a_hubspot_export_is_refused_with_the_fix_then_dry_run_shows_the_mapping() {
    let t = TestDir::new();
    let file = t.write("contacts.csv", HUBSPOT);
    let file_arg = file.to_str().unwrap();

    // Without flags: every column leadfall cannot use, at once, with the fix.
    let o = run(t.cmd(&["import", file_arg, "--dry-run"]), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{file_arg}: line 1: 2 unknown and 0 ambiguous columns; read a column as a field \
             with --map 'COLUMN=FIELD' or skip it with --ignore 'COLUMN':\n  \
             column 9 \"Lifecycle Stage\": unknown; no field is close\n  \
             column 10 \"Industry Segment\": unknown; no field is close\n\
             to skip every unknown column: --ignore 'Lifecycle Stage' --ignore 'Industry Segment'"
        )),
        "{err}"
    );

    // With them: the mapping and the first rows, and nothing sent (no
    // daemon runs here), no rejects file.
    let flags = [
        "import",
        file_arg,
        "--dry-run",
        "--ignore",
        "lifecycle stage",
        "--map",
        "Industry Segment=company.industry",
        "--json",
    ];
    let o = run(t.cmd(&flags[..flags.len() - 3]), 1);
    assert!(
        stderr(&o).contains("unknown column \"Industry Segment\""),
        "{}",
        stderr(&o)
    );
    let o = run(t.cmd(&flags), 3);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let columns: Vec<(String, serde_json::Value, String)> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["column"].as_str().unwrap().to_string(),
                c["field"].clone(),
                c["by"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("Record ID", "id", "alias"),
        ("First Name", "person.first_name", "alias"),
        ("Last Name", "person.last_name", "alias"),
        ("Email", "person.email", "alias"),
        ("Phone Number", "person.phone", "alias"),
        ("Company Name", "company.name", "name"),
        ("Website URL", "company.domain", "alias"),
        ("Job Title", "person.title", "alias"),
        ("Lifecycle Stage", "", "ignore"),
        ("Industry Segment", "company.industry", "map"),
    ];
    assert_eq!(columns.len(), want.len(), "{columns:?}");
    for ((column, field, by), (wc, wf, wb)) in columns.iter().zip(want) {
        assert_eq!(column, wc);
        let wf = if wf.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::from(wf)
        };
        assert_eq!((field, by.as_str()), (&wf, wb), "{column}");
    }
    assert_eq!(report["encoding"], "utf-8");
    assert_eq!(
        report["summary"],
        serde_json::json!({"rows": 3, "good": 2, "rejected": 1, "warnings": 0})
    );
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows[0]["outcome"], "ok");
    assert_eq!(rows[0]["values"]["company.domain"], "acme.io");
    assert_eq!(rows[0]["values"]["person.title"], "Head of Growth");
    assert_eq!(rows[0]["values"]["company.industry"], "Software");
    assert!(rows[0]["values"].get("Lifecycle Stage").is_none());
    assert_eq!(rows[1]["outcome"], "rejected");
    assert_eq!(rows[1]["id"], "102");
    assert!(
        rows[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("column Email (person.email): \"ben@\" is not a valid email"),
        "{}",
        rows[1]
    );
    assert!(!t.path("contacts.csv.rejects.csv").exists());

    // The table form names each column's field and how it was matched.
    let o = run(t.cmd(&flags[..flags.len() - 1]), 3);
    let out = stdout(&o);
    assert!(out.contains("nothing is sent"), "{out}");
    for needle in [
        "Lifecycle Stage",
        "(ignored)",
        "--ignore",
        "company.industry",
        "--map",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    assert!(
        out.contains("3 rows read: 2 would be imported, 1 rejected, 0 warnings"),
        "{out}"
    );
}

#[test]
fn enrich_reads_a_windows_1252_export_and_says_so_once() {
    let t = TestDir::new();
    // Excel on Windows: `é`, `ü` and `ß` are one byte each, not UTF-8.
    let mut csv = b"Record ID,First Name,Last Name,Company,Website,Lifecycle Stage\n".to_vec();
    csv.extend_from_slice(b"r1,Jos\xe9,M\xfcller,Caf\xe9 GmbH,acme.io,lead\n");
    csv.extend_from_slice(b"r2,J\xfcrgen,Stra\xdfer,Beta,beta.io,lead\n");
    csv.extend_from_slice(b"r3,Ann,Lee,Gamma,gamma.io,lead\n");
    let input = t.write("excel.csv", csv);
    let out = t.path("enriched.jsonl");
    let o = run(t.enrich(&input, &out, &["--ignore", "Lifecycle Stage"]), 0);
    let err = stderr(&o);
    let warning = format!(
        "warning: {}: not UTF-8 (first at line 2); reading it as Windows-1252",
        input.display()
    );
    assert_eq!(err.matches(&warning).count(), 1, "{err}");
    assert!(
        stdout(&o).contains("3 rows read: 3 enriched, 0 rejected"),
        "{}",
        stdout(&o)
    );
    let records = read_jsonl(&out);
    let name = |id: &str, field: &str| -> String {
        let r = records.iter().find(|r| r["id"] == id).unwrap();
        r["fields"][field]["value"].as_str().unwrap().to_string()
    };
    assert_eq!(name("r1", "person.first_name"), "José");
    assert_eq!(name("r1", "person.last_name"), "Müller");
    assert_eq!(name("r1", "company.name"), "Café GmbH");
    assert_eq!(name("r2", "person.first_name"), "Jürgen");
    assert_eq!(name("r2", "person.last_name"), "Straßer");

    // A UTF-8 file gets no warning.
    let utf8 = t.write(
        "utf8.csv",
        "Record ID,First Name,Website\nu1,Zoë,zoe.io\n".as_bytes(),
    );
    let o = run(t.enrich(&utf8, &t.path("u.jsonl"), &[]), 0);
    assert!(!stderr(&o).contains("Windows-1252"), "{}", stderr(&o));
}
