//! What the fuzz targets share: the repository's shipped configuration and
//! providers (loaded once per process through the real loaders), a fixed
//! clock, and the invariants every record the library hands out must keep.

use chrono::{DateTime, TimeZone, Utc};
use leadfall::config::Settings;
use leadfall::import::{detect, Format, Importer, ReadOptions, Row};
use leadfall::model::{Catalogue, Record};
use leadfall::provider::{compile_provider, config::ProviderFile, Provider};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root (the fuzz crate lives in `fuzz/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/ has a parent")
        .to_path_buf()
}

/// A fixed "now", so a run is a function of its input alone.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()
}

/// No environment: every keyed provider loads with its key missing, as on a
/// machine without secrets, and no `LEADFALL_PROVIDER_*` override applies.
pub fn no_env(_: &str) -> Option<String> {
    None
}

/// The shipped `config/leadfall.toml`, loaded once by `config::load`.
pub fn settings() -> &'static Settings {
    static S: OnceLock<Settings> = OnceLock::new();
    S.get_or_init(|| {
        let path = repo().join("config/leadfall.toml");
        leadfall::config::load(&path, &no_env)
            .unwrap_or_else(|e| panic!("the shipped config must load: {e}"))
    })
}

/// The standard catalogue, built once.
pub fn catalogue() -> &'static Catalogue {
    static C: OnceLock<Catalogue> = OnceLock::new();
    C.get_or_init(Catalogue::standard)
}

/// Every shipped provider definition (`providers/*.toml`, then
/// `providers/sandbox/*.toml`, each sorted), compiled by the real compiler.
pub fn shipped_providers() -> &'static [Provider] {
    static P: OnceLock<Vec<Provider>> = OnceLock::new();
    P.get_or_init(|| {
        let mut out = Vec::new();
        for dir in ["providers", "providers/sandbox"] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
                .unwrap_or_else(|e| panic!("{dir}: {e}"))
                .map(|e| e.expect("directory entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for file in files {
                let text = std::fs::read_to_string(&file).expect("provider file reads");
                let raw: ProviderFile =
                    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                let mut errors = Vec::new();
                let p = compile_provider(&file, raw, catalogue(), &no_env, &mut errors);
                assert!(errors.is_empty(), "{}: {errors:?}", file.display());
                out.push(p.expect("a shipped provider compiles"));
            }
        }
        assert!(!out.is_empty(), "no shipped providers found");
        out
    })
}

/// What must hold of any record the library accepted: the hand-written JSON
/// is serde's byte for byte (the store and exports rely on it), and it reads
/// back as the same record.
pub fn check_record(record: &Record) {
    let mut ours = Vec::new();
    leadfall::model::write_record(&mut ours, record);
    let serde = serde_json::to_vec(record).expect("a record serialises");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&serde),
        "write_record differs from serde_json"
    );
    let back: Record = serde_json::from_slice(&ours).unwrap_or_else(|e| {
        panic!(
            "a written record does not read back: {e}: {}",
            String::from_utf8_lossy(&ours)
        )
    });
    if &back != record {
        assert_same_json(record, &back);
    }
}

/// `a` and `b` serialise to the same JSON but for floats a last digit apart.
/// serde_json's default float parser (no `float_roundtrip` feature) may
/// read the shortest text of a float one ULP off, so a confidence can drift
/// by one ULP through the store: known, and not what these targets hunt.
pub fn assert_same_json<T: serde::Serialize + std::fmt::Debug>(a: &T, b: &T) {
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value::*;
        match (a, b) {
            (Number(x), Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() && x != y => {
                    (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                }
                _ => x == y,
            },
            (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
            (Object(x), Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((kx, x), (ky, y))| kx == ky && same(x, y))
            }
            _ => a == b,
        }
    }
    let (ja, jb) = (
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap(),
    );
    assert!(same(&ja, &jb), "changed through JSON: {a:?} → {b:?}");
}

/// Import `data` as a lead file of `format` and check every row.
pub fn import(data: &[u8], format: Format) {
    let name = match format {
        Format::Csv => Path::new("fuzz.csv"),
        Format::JsonLines => Path::new("fuzz.jsonl"),
    };
    let reader = std::io::Cursor::new(data.to_vec());
    // As `import` and `enrich` read a file: its encoding decided first.
    let options = ReadOptions {
        encoding: Some(detect(data).expect("an in-memory reader cannot fail").encoding),
        ..ReadOptions::default()
    };
    let mut importer = match Importer::from_reader_with(reader, format, name, catalogue(), now(), &options) {
        Ok(i) => i,
        Err(e) => {
            assert!(!e.to_string().trim().is_empty(), "an empty import error");
            return;
        }
    };
    // Physical lines in the input: no row can start past the last one.
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let mut last = 0;
    let mut rows = 0u64;
    let mut good_ids = HashSet::new();
    for row in importer.by_ref() {
        rows += 1;
        let line = match &row {
            Row::Good { line, .. } => *line,
            Row::Rejected(r) => r.line,
        };
        assert!(line > last, "row at line {line} after a row at line {last}");
        assert!(line <= lines, "row at line {line} of a {lines}-line input");
        last = line;
        match &row {
            Row::Good { record, .. } => {
                assert!(
                    good_ids.insert(record.id.clone()),
                    "two good rows with id {:?}",
                    record.id
                );
                // A good row must be something the control API would accept.
                if let Err(e) = leadfall::control::validate_record(settings(), record) {
                    panic!("an imported record fails the upsert check: {e}");
                }
                check_record(record);
            }
            Row::Rejected(r) => {
                assert!(!r.reason.trim().is_empty(), "a reject without a reason");
                assert!(r.raw.chars().count() <= 2000, "raw text over 2,000 chars");
                if let Some(id) = &r.id {
                    assert!(!id.is_empty(), "a reject with an empty id");
                }
            }
        }
    }
    assert!(rows <= lines, "{rows} rows from {lines} lines");
    // An in-memory reader cannot fail.
    assert!(importer.take_error().is_none());
}
