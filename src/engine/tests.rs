//! Engine tests over the sandbox on real sockets: budgets enforced across
//! concurrent lookups, with an injected clock for the reset.

use super::*;
use crate::clock::ManualClock;
use crate::config;
use crate::model::{FieldState, UnknownReason};
use crate::sandbox::{serve, Sandbox, SandboxSettings};
use crate::store::{CallStore, Store};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::path::Path;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn sandbox() -> (Sandbox, String, tokio::sync::oneshot::Sender<()>) {
    let sandbox = Sandbox::new(SandboxSettings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, sandbox.clone(), async {
        let _ = rx.await;
    }));
    (sandbox, base, tx)
}

fn lead_records(
    sandbox: &Sandbox,
    settings: &Settings,
    n: usize,
    now: DateTime<Utc>,
) -> Vec<Record> {
    sandbox
        .world()
        .sample_leads(n)
        .into_iter()
        .map(|lead| {
            let mut r = Record::new(lead.id.clone(), now);
            for (f, v) in [
                ("person.first_name", Some(lead.first_name)),
                ("person.last_name", Some(lead.last_name)),
                ("company.name", Some(lead.company_name)),
                ("company.domain", lead.company_domain),
            ] {
                let Some(v) = v else { continue };
                let def = settings.catalogue.get(f).unwrap();
                let value = crate::model::normalise_text(def, &v).unwrap();
                r.set(f, FieldState::input(value, now));
            }
            r
        })
        .collect()
}

/// Enrich every record, 40 at a time.
async fn run_all(engine: &Engine, records: Vec<Record>) -> Vec<Record> {
    futures::stream::iter(records)
        .map(|r| async move { engine.enrich(r).await.0 })
        .buffer_unordered(40)
        .collect()
        .await
}

fn budget_blocked(records: &[Record]) -> Vec<(String, DateTime<Utc>)> {
    records
        .iter()
        .flat_map(|r| r.fields.iter())
        .filter_map(|(f, s)| match s {
            FieldState::Unknown(u) if u.reason == UnknownReason::BudgetExhausted => Some((
                f.to_string(),
                u.retry_at.expect("a budget stop says when to retry"),
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_cap_holds_under_40_concurrent_lookups_and_lookups_resume_after_the_reset() {
    let (sandbox, base, _stop) = sandbox().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let mut settings = config::load(&path, &Sandbox::provider_env(base)).unwrap();
    settings.waterfall.enrich_everything = true;
    // Only the daily cap limits this run.
    settings.waterfall.record_ceiling = None;
    settings.budgets.total.daily = Some(100.0);
    let settings = Arc::new(settings);
    let clock = Arc::new(ManualClock::new(at("2026-11-23T10:00:00Z")));
    let store = Arc::new(Store::temporary().unwrap());
    let engine = Engine::from_settings(settings.clone(), store.clone(), clock.clone()).unwrap();
    let records = lead_records(&sandbox, &settings, 300, clock.now());

    let first = run_all(&engine, records).await;
    let billed = |s: &Sandbox| s.counters().values().map(|c| c.credits_billed).sum::<f64>();
    let day1 = billed(&sandbox);
    let ledger: f64 = store.ledger().unwrap().iter().map(|r| r.credits).sum();
    println!("day 1: billed {day1} credits (ledger {ledger}) under a cap of 100");
    assert!(day1 <= 100.0, "the cap was overshot: {day1}");
    assert!(day1 >= 90.0, "the cap should be nearly used: {day1}");
    assert_eq!(ledger, day1, "ledger vs the sandbox bill");
    let blocked = budget_blocked(&first);
    assert!(
        blocked.len() > 100,
        "{} fields budget_exhausted",
        blocked.len()
    );
    let reset = at("2026-11-24T00:00:00Z");
    assert!(
        blocked.iter().all(|(_, t)| *t == reset),
        "retry_at is the reset time"
    );

    // Before the reset the cap still holds (at most what was left is bought).
    let again = run_all(&engine, first.clone()).await;
    assert!(billed(&sandbox) <= 100.0, "{}", billed(&sandbox));
    assert!(!budget_blocked(&again).is_empty());
    let day1 = billed(&sandbox);

    // After the reset the same fields are looked up again, under the new day's cap.
    clock.advance(chrono::Duration::hours(14));
    let second = run_all(&engine, first).await;
    let day2 = billed(&sandbox) - day1;
    println!(
        "day 2: billed {day2} more; budget_exhausted fields {} → {}",
        blocked.len(),
        budget_blocked(&second).len()
    );
    assert!(day2 > 0.0 && day2 <= 100.0, "{day2}");
    assert!(budget_blocked(&second).len() < blocked.len());
}

/// Enrich records `concurrency` at a time.
async fn run_some(engine: &Engine, records: Vec<Record>, concurrency: usize) -> Vec<Record> {
    futures::stream::iter(records)
        .map(|r| async move { engine.enrich(r).await.0 })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_whose_hit_rate_collapses_is_paused_within_n_calls_and_the_waterfall_moves_on() {
    let (sandbox, base, _stop) = sandbox().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let mut settings = config::load(&path, &Sandbox::provider_env(base)).unwrap();
    settings.waterfall.enrich_everything = true;
    const N: usize = 10;
    let rule = settings
        .kill_switch
        .providers
        .get_mut("mailfinder")
        .unwrap();
    *rule = crate::executor::KillRule {
        window_calls: N,
        min_hit_rate: 0.2,
        max_error_rate: 1.0,
        cool_down: std::time::Duration::from_secs(3600),
    };
    let settings = Arc::new(settings);
    let clock = Arc::new(ManualClock::new(at("2026-11-23T10:00:00Z")));
    let engine = Engine::from_settings(
        settings.clone(),
        Arc::new(Store::temporary().unwrap()),
        clock.clone(),
    )
    .unwrap();
    let leads = lead_records(&sandbox, &settings, 200, clock.now());
    let requests = |s: &Sandbox| s.counters()["mailfinder"].requests;

    // Healthy: the vendor finds most emails and is never paused.
    run_some(&engine, leads[..60].to_vec(), 4).await;
    let before = requests(&sandbox);
    assert!(before > N as u64, "mailfinder was asked {before} times");
    assert_eq!(engine.executor().paused("mailfinder"), None);

    // Its coverage collapses: every answer is now "not found".
    let script: Vec<_> = (0..300)
        .map(|_| serde_json::json!({"status": 404}))
        .collect();
    sandbox
        .script("mailfinder", serde_json::Value::Array(script))
        .unwrap();
    let later = run_some(&engine, leads[60..].to_vec(), 4).await;
    let after = requests(&sandbox) - before;
    let pause = engine.executor().paused("mailfinder").expect("paused");
    println!(
        "mailfinder asked {after} times after the collapse, then paused: {}",
        pause.reason
    );
    // N calls fill the window; at most the 4 in flight when it trips come on top.
    assert!(
        after <= (N + 4) as u64,
        "asked {after} times after the collapse"
    );
    assert!(
        pause
            .reason
            .ends_with("over the last 10 calls is below the floor of 20%"),
        "{}",
        pause.reason
    );
    // The waterfall moved on: later emails come from the next vendors.
    let from_next = later
        .iter()
        .filter(|r| {
            r.fields
                .get("person.email")
                .and_then(FieldState::known)
                .is_some_and(|k| {
                    k.source == "peoplematch.match" || k.source == "personapi.person-enrich"
                })
        })
        .count();
    assert!(from_next > 10, "{from_next} emails from the next vendors");

    // The cool-down lifts the pause.
    clock.advance(chrono::Duration::seconds(3601));
    assert_eq!(engine.executor().paused("mailfinder"), None);
}

/// The default config enriching every field against the sandbox at `base`,
/// and a clock stopped on a Monday morning.
fn everything(base: String) -> (Arc<Settings>, Arc<ManualClock>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
    let mut settings = config::load(&path, &Sandbox::provider_env(base)).unwrap();
    settings.waterfall.enrich_everything = true;
    let clock = Arc::new(ManualClock::new(at("2026-11-23T10:00:00Z")));
    (Arc::new(settings), clock)
}

/// The domains' learned patterns, for the domains of `records`' emails.
fn patterns(store: &Store, records: &[Record]) -> std::collections::BTreeMap<String, String> {
    records
        .iter()
        .filter_map(|r| r.value("person.email").map(Value::text))
        .filter_map(|e| e.split_once('@').map(|(_, d)| d.to_string()))
        .filter_map(|d| store.email_pattern(&d).unwrap().map(|p| (d, p)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_from_cached_verdicts_learns_the_patterns_again() {
    let (sandbox, base, _stop) = sandbox().await;
    let (settings, clock) = everything(base);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let engine = Engine::from_settings(settings.clone(), store.clone(), clock.clone()).unwrap();
    // One at a time, so the replay meets the records in the same order.
    let records = lead_records(&sandbox, &settings, 150, clock.now());
    let first = run_some(&engine, records.clone(), 1).await;
    let learned = patterns(&store, &first);
    assert!(learned.len() > 10, "{learned:?}");
    store.flush().unwrap();
    drop((engine, store));

    // A crash before the patterns reached the disk: the cache and ledger
    // (flushed with each call) are there, the patterns are not. (A real
    // crash loses only what came after the last flush; here every pattern is
    // lost, and the replay must still buy nothing and learn them all.)
    let db = retry_locked(|| sled::open(dir.path()));
    for tree in ["email_patterns", "email_guesses"] {
        db.open_tree(tree).unwrap().clear().unwrap();
    }
    db.flush().unwrap();
    drop(db);
    let store = Arc::new(retry_locked(|| Store::open(dir.path())));
    let engine = Engine::from_settings(settings.clone(), store.clone(), clock.clone()).unwrap();
    let requests = sandbox.counters().values().map(|c| c.requests).sum::<u64>();
    let replay = run_some(&engine, records, 1).await;
    assert_eq!(
        sandbox.counters().values().map(|c| c.requests).sum::<u64>(),
        requests,
        "the replay reads every answer from the cache"
    );
    assert_eq!(patterns(&store, &replay), learned);
}

/// Open again in this process: sled lets go of its file lock a moment after
/// the last handle is dropped.
fn retry_locked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open() {
            Ok(v) => return v,
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_claims_what_its_killed_pass_paid_so_records_add_up_to_the_ledger() {
    let (sandbox, base, _stop) = sandbox().await;
    let (settings, clock) = everything(base);
    let store = Arc::new(Store::temporary().unwrap());
    let engine = Engine::from_settings(settings.clone(), store.clone(), clock.clone()).unwrap();
    let records = lead_records(&sandbox, &settings, 60, clock.now());
    clock.advance(chrono::Duration::seconds(1));
    // The killed pass: it paid, and its records never reached the store.
    let _lost = run_all(&engine, records.clone()).await;
    let ledger = || store.ledger().unwrap();
    let paid_for = |id: &str| -> f64 {
        ledger()
            .iter()
            .filter(|r| r.record_id.as_deref() == Some(id))
            .map(|r| r.credits)
            .sum()
    };
    let total = |rows: Vec<crate::store::LedgerEntry>| rows.iter().map(|r| r.credits).sum::<f64>();
    let spent = |rs: &[Record]| rs.iter().map(|r| r.credits_spent).sum::<f64>();
    let paid = total(ledger());
    assert!(paid > 10.0, "{paid}");
    let requests = sandbox.counters().values().map(|c| c.requests).sum::<u64>();
    clock.advance(chrono::Duration::seconds(1));
    let replay = run_all(&engine, records).await;
    assert_eq!(
        sandbox.counters().values().map(|c| c.requests).sum::<u64>(),
        requests,
        "the replay pays nothing"
    );
    for r in &replay {
        assert!(
            (r.credits_spent - paid_for(&r.id)).abs() < 1e-9,
            "{}: {} claimed, {} paid for it",
            r.id,
            r.credits_spent,
            paid_for(&r.id)
        );
    }
    assert!(
        (spent(&replay) - paid).abs() < 1e-6,
        "{} vs {paid}",
        spent(&replay)
    );
    // A later pass over the committed records claims nothing twice: what it
    // adds is what it paid.
    clock.advance(chrono::Duration::seconds(1));
    let later = run_all(&engine, replay).await;
    let paid = total(ledger());
    assert!(
        (spent(&later) - paid).abs() < 1e-6,
        "{} vs {paid}",
        spent(&later)
    );
}
