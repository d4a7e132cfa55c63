//! Advisor tests: the order from synthetic evidence, refusal on thin
//! evidence, and against a sandbox world whose coverage differs by
//! seniority: the per-segment orders are recovered, and applying them (to a
//! config file, reloaded) lowers credits per filled title in a re-run.

use super::*;
use crate::clock::SystemClock;
use crate::config::{self, Settings};
use crate::engine::Engine;
use crate::model::{FieldState, Record};
use crate::report::Window;
use crate::sandbox::{serve, Sandbox, SandboxSettings};
use crate::store::{CallStore, Store};
use chrono::Utc;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn settings() -> AdvisorSettings {
    AdvisorSettings {
        segment_fields: vec!["person.seniority".into()],
        size_bands: vec![10, 50],
        min_records: 30,
    }
}

fn row(record: &str, op: &str, filled: bool, cost: f64) -> LedgerEntry {
    LedgerEntry {
        choice: None,
        at: Utc::now(),
        record_id: Some(record.into()),
        operation: op.into(),
        provider: op.split('.').next().unwrap().into(),
        outcome: if filled { "hit" } else { "not_found" }.into(),
        cached: false,
        credits: cost,
        saved_credits: 0.0,
        latency_ms: 1,
        attempts: 1,
        throttled: 0,
        status: Some(200),
        error: None,
        fields: if filled {
            vec!["person.title".into()]
        } else {
            vec![]
        },
    }
}

fn title_waterfall(steps: &[&str]) -> WaterfallSettings {
    WaterfallSettings {
        fields: vec![crate::waterfall::FieldWaterfall {
            groups: vec![],
            field: "person.title".into(),
            steps: steps.iter().map(|s| Step::Operation((*s).into())).collect(),
            threshold: 0.7,
            verify: None,
            accept_catch_all: false,
            accept_unknown: false,
            segments: vec![],
        }],
        ..WaterfallSettings::default()
    }
}

fn record(id: &str, seniority: &str) -> Record {
    let mut r = Record::new(id, Utc::now());
    r.set(
        "person.seniority",
        FieldState::input(crate::model::Value::Text(seniority.into()), Utc::now()),
    );
    r
}

#[test]
fn evidence_gives_the_cheapest_order_per_segment_and_refuses_thin_segments() {
    let mut ev = Evidence::default();
    // vp: a fills 20%, b 80%; entry: the reverse. 60 records each, both asked about all.
    for i in 0..120 {
        let (seg, pa, pb) = if i < 60 {
            ("vp", 0.2, 0.8)
        } else {
            ("entry", 0.8, 0.2)
        };
        let id = format!("r{i}");
        ev.add_record(&record(&id, seg), &settings());
        let k = (i % 60) as f64 / 60.0;
        ev.add_call(&row(&id, "a.op", k < pa, 1.0));
        ev.add_call(&row(&id, "b.op", k < pb, 1.0));
        // Asked twice: counted once.
        ev.add_call(&row(&id, "b.op", k < pb, 0.0));
    }
    // Three managers only: too little to advise.
    for i in 0..3 {
        let id = format!("m{i}");
        ev.add_record(&record(&id, "manager"), &settings());
        ev.add_call(&row(&id, "a.op", true, 1.0));
        ev.add_call(&row(&id, "b.op", false, 1.0));
    }
    let advice = ev.advise(&title_waterfall(&["a.op", "b.op"]), &settings());
    let get = |seg: &str| {
        advice
            .fields
            .iter()
            .find(|a| a.segment == seg)
            .unwrap_or_else(|| panic!("no {seg} in {advice:#?}"))
    };
    let vp = get("person.seniority=vp");
    assert_eq!(
        vp.suggested.as_deref(),
        Some(&["b.op".to_string(), "a.op".to_string()][..])
    );
    assert!(vp.changes());
    // a first: 1 + 0.8 = 1.8 per ask, fill 1 - 0.8·0.2 = 0.84; b first: 1 + 0.2 = 1.2.
    assert!((vp.current_credits_per_fill.unwrap() - 1.8 / 0.84).abs() < 1e-9);
    assert!((vp.suggested_credits_per_fill.unwrap() - 1.2 / 0.84).abs() < 1e-9);
    assert_eq!(vp.evidence[0].records, 60);
    let entry = get("person.seniority=entry");
    assert!(!entry.changes(), "a first is already best for entry");
    let manager = get("person.seniority=manager");
    assert_eq!(manager.suggested, None);
    assert_eq!(
        manager.refused.as_deref(),
        Some("too little evidence: a.op answered about 3 records here (need 30)")
    );
    let all = get(ALL);
    assert_eq!(all.overlap.len(), 1);
    assert_eq!(all.overlap[0].both_asked, 123);
}

/// Seniority groups with opposite coverage at peoplematch and mailfinder.
const LEADERS: [&str; 3] = ["c_suite", "vp", "director"];
const STAFF: [&str; 3] = ["manager", "senior", "entry"];

fn world_settings() -> SandboxSettings {
    let mut coverage: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for s in LEADERS {
        coverage
            .entry("peoplematch".into())
            .or_default()
            .insert(s.into(), 0.9);
        coverage
            .entry("mailfinder".into())
            .or_default()
            .insert(s.into(), 0.15);
        coverage
            .entry("personapi".into())
            .or_default()
            .insert(s.into(), 0.4);
    }
    for s in STAFF {
        coverage
            .entry("peoplematch".into())
            .or_default()
            .insert(s.into(), 0.15);
        coverage
            .entry("mailfinder".into())
            .or_default()
            .insert(s.into(), 0.9);
        coverage
            .entry("personapi".into())
            .or_default()
            .insert(s.into(), 0.4);
    }
    SandboxSettings {
        coverage_by_seniority: coverage,
        ..SandboxSettings::default()
    }
}

/// Prices per request: peoplematch costs 1.5, the others 1.
fn price(settings: &mut Settings) {
    for (id, price) in [
        ("personapi", 1.0),
        ("peoplematch", 1.5),
        ("mailfinder", 1.0),
    ] {
        let p = settings.providers.get_mut(id).unwrap();
        for op in &mut p.operations {
            op.cost = crate::provider::CostModel {
                per_request: price,
                per_hit: 0.0,
                per_field: BTreeMap::new(),
                actual_pointer: None,
                actual_header: None,
            };
        }
    }
}

fn leads(sandbox: &Sandbox, settings: &Settings, range: std::ops::Range<usize>) -> Vec<Record> {
    let w = sandbox.world();
    let now = Utc::now();
    range
        .map(|i| {
            let p = &w.people[i];
            let c = w.company_of(p);
            let mut r = Record::new(format!("lead{i:05}"), now);
            for (f, v) in [
                ("person.first_name", p.first_name.as_str()),
                ("person.last_name", p.last_name.as_str()),
                ("company.name", c.name.as_str()),
                ("company.domain", c.domain.as_str()),
                ("person.seniority", p.seniority.as_str()),
            ] {
                let value =
                    crate::model::normalise_text(settings.catalogue.get(f).unwrap(), v).unwrap();
                r.set(f, FieldState::input(value, now));
            }
            r
        })
        .collect()
}

async fn enrich(settings: Settings, records: Vec<Record>) -> (Vec<Record>, Arc<Store>) {
    let store = Arc::new(Store::temporary().unwrap());
    let engine =
        Engine::from_settings(Arc::new(settings), store.clone(), Arc::new(SystemClock)).unwrap();
    let out = futures::stream::iter(records)
        .map(|r| {
            let engine = engine.clone();
            async move { engine.enrich(r).await.0 }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    (out, store)
}

/// A title-only run: credits per filled title.
async fn title_run(mut settings: Settings, records: Vec<Record>) -> (f64, usize) {
    settings
        .waterfall
        .fields
        .retain(|w| w.field == "person.title");
    let (out, store) = enrich(settings, records).await;
    let credits: f64 = store.ledger().unwrap().iter().map(|r| r.credits).sum();
    let filled = out
        .iter()
        .filter(|r| {
            r.fields
                .get("person.title")
                .and_then(FieldState::known)
                .is_some_and(|k| k.source != "input")
        })
        .count();
    (credits / filled.max(1) as f64, filled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advisor_recovers_per_segment_orders_and_applying_them_lowers_credits_per_fill() {
    let sandbox = Sandbox::new(world_settings());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, sandbox.clone(), async {
        let _ = rx.await;
    }));
    // A config whose title waterfall asks the vendors in a poor order.
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(repo.join("config/leadfall.toml"))
        .unwrap()
        .replace(
            "provider_dirs = [\"../providers/sandbox\"]",
            &format!("provider_dirs = [{:?}]", repo.join("providers/sandbox").display().to_string()),
        )
        .replace(
            "[waterfall.fields.\"person.title\"]\nsteps = [\"peoplematch.match\", \"personapi.person-enrich\"]",
            "[waterfall.fields.\"person.title\"]\nsteps = [\"personapi.person-enrich\", \"peoplematch.match\", \"mailfinder.email-finder\"]",
        );
    assert!(text.contains("steps = [\"personapi.person-enrich\", \"peoplematch.match\""));
    for f in ["scoring.toml", "routing.toml"] {
        std::fs::copy(repo.join("config").join(f), dir.path().join(f)).unwrap();
    }
    let config_path = dir.path().join("leadfall.toml");
    std::fs::write(&config_path, text).unwrap();
    let env = Sandbox::provider_env(base);
    let load = || {
        let mut s = config::load(&config_path, &env).unwrap();
        s.waterfall.enrich_everything = true;
        s.waterfall.record_ceiling = None;
        price(&mut s);
        s
    };

    // Learn: 900 leads through every waterfall.
    let before = load();
    let (records, store) = enrich(before.clone(), leads(&sandbox, &before, 0..900)).await;
    let mut ev = Evidence::default();
    for r in &records {
        ev.add_record(r, &before.advisor);
    }
    let window = Window::new(Utc::now() - chrono::Duration::hours(1), Utc::now()).unwrap();
    for row in store.ledger().unwrap() {
        if window.contains(row.at) {
            ev.add_call(&row);
        }
    }
    let advice = ev.advise(&before.waterfall, &before.advisor);
    let title = |seg: &str| {
        advice
            .fields
            .iter()
            .find(|a| a.field == "person.title" && a.segment == seg)
            .unwrap_or_else(|| panic!("no advice for {seg}"))
    };
    for s in LEADERS.iter().chain(&STAFF) {
        let a = title(&format!("person.seniority={s}"));
        println!(
            "{s}: {:?} → {:?}, {} → {} credits per fill; evidence {:?}",
            a.current,
            a.suggested,
            render(a.current_credits_per_fill),
            render(a.suggested_credits_per_fill),
            a.evidence
                .iter()
                .map(|e| (
                    e.operation.as_str(),
                    e.records,
                    (e.hit_rate * 100.0).round()
                ))
                .collect::<Vec<_>>()
        );
        let want: &[&str] = if LEADERS.contains(s) {
            &[
                "peoplematch.match",
                "personapi.person-enrich",
                "mailfinder.email-finder",
            ]
        } else {
            &[
                "mailfinder.email-finder",
                "personapi.person-enrich",
                "peoplematch.match",
            ]
        };
        assert_eq!(
            a.suggested
                .as_deref()
                .map(|v| v.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(want.to_vec()),
            "{s}"
        );
    }

    // Apply to the config file, reload it, and re-run fresh leads both ways.
    let applied = apply(&config_path, &advice, Utc::now(), |p| {
        crate::config::load(p, &crate::config::process_env)
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .unwrap();
    assert!(applied.backup.exists());
    assert!(applied
        .changes
        .iter()
        .any(|c| c.starts_with("person.title [person.seniority=vp]")));
    let after = load();
    let w = after.waterfall.get("person.title").unwrap();
    let seniority = w
        .segments
        .iter()
        .filter(|s| s.0 == "person.seniority")
        .count();
    assert_eq!(seniority, 6, "{:?}", w.segments);
    let fresh = 900..1500;
    let (cpf_before, n_before) =
        title_run(before.clone(), leads(&sandbox, &before, fresh.clone())).await;
    let (cpf_after, n_after) = title_run(after.clone(), leads(&sandbox, &after, fresh)).await;
    println!(
        "re-run on 600 fresh leads: {cpf_before:.3} credits per filled title ({n_before} filled) with the old order, {cpf_after:.3} ({n_after} filled) with the advice ({:.0}% less)",
        100.0 * (1.0 - cpf_after / cpf_before)
    );
    assert!(cpf_after < cpf_before * 0.85, "{cpf_after} vs {cpf_before}");
}

fn render(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}
