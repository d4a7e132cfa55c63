//! The decay rescan at scale: a store of N leads on disk, one in ten with a
//! behaviour signal; the tick scans every record and queues those with
//! signals. `leadfall-bench --rescan-records 1000000` prints the figures.

use leadfall::config::Settings;
use leadfall::control::{Control, Signal};
use leadfall::engine::{Engine, LiveEngine};
use leadfall::model::{FieldState, Record, Value};
use leadfall::store::{RecordStore, Store};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// Figures of the rescan run.
#[derive(Debug, Clone, Serialize)]
pub struct RescanSpeed {
    /// Records in the store.
    pub records: usize,
    /// Records with signals (queued by each rescan).
    pub with_signals: u64,
    /// Seconds to load the store (not the figure of interest; for context).
    pub load_secs: f64,
    /// Median seconds per rescan (scan everything + queue those with signals).
    pub median_secs: f64,
    /// Every run, seconds.
    pub runs: Vec<f64>,
}

/// Load `n` leads into a store on disk and time `repeat` decay rescans.
pub fn rescan_speed(settings: &Settings, n: usize, repeat: usize) -> anyhow::Result<RescanSpeed> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("store"))?;
    let now = chrono::Utc::now();
    let t0 = Instant::now();
    let text = |v: &str| FieldState::input(Value::Text(v.into()), now);
    let merge = |existing, incoming, now| {
        leadfall::engine::merge::merge_input(existing, incoming, now, &settings.precedence)
    };
    for start in (0..n).step_by(1000) {
        let batch = (start..(start + 1000).min(n))
            .map(|i| {
                let mut r = Record::new(format!("lead{i:08}"), now);
                r.set("person.first_name", text("Ann"));
                r.set("person.last_name", text("Lee"));
                r.set("company.name", text("Acme"));
                r.set("company.domain", text(&format!("acme{}.io", i % 5000)));
                r
            })
            .collect();
        store.upsert(batch, now, &merge)?;
    }
    for i in (0..n).step_by(10) {
        let signal = Signal {
            kind: "pricing_page".into(),
            at: now,
        };
        store.add_signal(&format!("lead{i:08}"), signal, now)?;
    }
    store.flush()?;
    let load_secs = t0.elapsed().as_secs_f64();
    let control = control_over(store, settings)?;
    let mut runs = Vec::new();
    let mut with_signals = 0;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        with_signals = control.rescan_signals(chrono::Utc::now())?;
        runs.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(RescanSpeed {
        records: n,
        with_signals,
        load_secs,
        median_secs: sorted[sorted.len() / 2],
        runs,
    })
}

/// The daemon's control surface over `store` (no workers: nothing drains the queue).
fn control_over(store: Store, settings: &Settings) -> anyhow::Result<Control> {
    let settings = Arc::new(settings.clone());
    let clock = Arc::new(leadfall::clock::SystemClock);
    let engine = Engine::from_settings(settings.clone(), Arc::new(store.clone()), clock)?;
    Ok(Control::new(
        Arc::new(store),
        LiveEngine::new(engine),
        leadfall::config::Loader::fixed((*settings).clone()),
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(leadfall::control::DaemonStats::default()),
    ))
}
