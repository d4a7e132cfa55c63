//! Config reload (`leadfall reload`, SIGHUP): read the files again, swap the
//! engine, and queue every record so scores and routes follow the new rules.
//! Providers' limiters and circuits survive unless their definitions changed:
//! a fresh limiter would forget the calls just made and could burst.

use crate::config::Settings;
use crate::control::{Control, ControlError, ReloadSummary};
use crate::engine::Engine;
use crate::executor::Executor;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Reload `c`'s configuration from the file it came from.
pub fn reload(c: &Control, now: DateTime<Utc>) -> Result<ReloadSummary, ControlError> {
    let current = c.engine.current();
    let old = current.settings();
    let mut new = c
        .loader
        .load()
        .map_err(|errs| ControlError::Config(errs.to_string()))?;
    let summary_parts = compare(old, &new);
    // The store, the listener, the workers and the sink tasks were built at start.
    new.data_dir = old.data_dir.clone();
    new.store = old.store.clone();
    new.daemon = old.daemon.clone();
    new.sinks = old.sinks.clone();
    let executor = if summary_parts
        .0
        .iter()
        .any(|p| p == "providers" || p == "fields")
    {
        Executor::with_durability(
            Arc::new(new.providers.clone()),
            Arc::new(new.catalogue.clone()),
            current.executor().shared_store(),
            current.clock(),
            true,
        )
    } else {
        current.executor().clone()
    };
    let (changed, restart_needed) = summary_parts;
    c.engine
        .replace(Engine::new(Arc::new(new), executor, current.clock()));
    let queued = if changed.is_empty() {
        0
    } else {
        c.queue_where(now, &|_| true)?
    };
    tracing::info!(?changed, ?restart_needed, queued, "configuration reloaded");
    if !restart_needed.is_empty() {
        tracing::warn!(
            ?restart_needed,
            "these settings take effect at the next start"
        );
    }
    Ok(ReloadSummary {
        changed,
        restart_needed,
        queued,
    })
}

/// (parts that changed and apply now, parts whose change needs a restart).
fn compare(old: &Settings, new: &Settings) -> (Vec<String>, Vec<String>) {
    let mut changed = Vec::new();
    let mut restart = Vec::new();
    let (od, nd) = (old.decisions.as_ref(), new.decisions.as_ref());
    let parts: [(&str, bool); 6] = [
        ("fields", old.catalogue != new.catalogue),
        ("providers", old.providers_digest != new.providers_digest),
        ("waterfalls", old.waterfall != new.waterfall),
        ("precedence", old.precedence != new.precedence),
        ("scoring", od.map(|d| &d.scoring) != nd.map(|d| &d.scoring)),
        ("routing", od.map(|d| &d.routing) != nd.map(|d| &d.routing)),
    ];
    changed.extend(parts.iter().filter(|p| p.1).map(|p| p.0.to_string()));
    let later: [(&str, bool); 5] = [
        ("data_dir", old.data_dir != new.data_dir),
        ("daemon", old.daemon != new.daemon),
        ("sinks", old.sinks != new.sinks),
        ("budgets", old.budgets != new.budgets),
        ("kill_switch", old.kill_switch != new.kill_switch),
    ];
    restart.extend(later.iter().filter(|p| p.1).map(|p| p.0.to_string()));
    (changed, restart)
}
