//! `reenrich`: which records a selector matches, what re-running them could
//! cost at most, and queueing them. Known values the selection targets (a
//! field in a known state, a provider's values) are marked expired so the next
//! pass replaces them; unknown and stale fields re-run anyway.

use crate::config::Settings;
use crate::control::{
    Control, ControlError, ReenrichRequest, ReenrichSummary, Selector, StoredRecord,
};
use crate::model::{FieldState, Record};
use crate::quoted::quoted;
use crate::waterfall::Step;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Does the selector match this record?
pub fn matches(sel: &Selector, r: &StoredRecord, now: DateTime<Utc>) -> bool {
    let rec = &r.record;
    if !sel.ids.is_empty() && !sel.ids.contains(&rec.id) {
        return false;
    }
    if let Some(field) = &sel.field {
        let st = rec.state(field);
        let ok = match sel.state.as_deref() {
            None => true,
            Some("known") => st.value().is_some(),
            Some("stale") => st.is_stale(now),
            Some("unknown") => st.value().is_none(),
            Some(reason) => matches!(&st, FieldState::Unknown(u) if u.reason.as_str() == reason),
        };
        if !ok {
            return false;
        }
    }
    if sel.stale && !rec.fields.values().any(|s| s.is_stale(now)) {
        return false;
    }
    if let Some(p) = &sel.provider {
        if targeted_by_provider(rec, p).is_empty() {
            return false;
        }
    }
    match &sel.route {
        Some(route) => r.route.as_ref().is_some_and(|d| &d.route == route),
        None => true,
    }
}

fn from_provider(source: &str, p: &str) -> bool {
    source == p
        || source
            .strip_prefix(p)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn targeted_by_provider(rec: &Record, p: &str) -> Vec<String> {
    rec.fields
        .iter()
        .filter(|(_, s)| s.known().is_some_and(|k| from_provider(&k.source, p)))
        .map(|(f, _)| f.to_string())
        .collect()
}

/// Fields whose known values this selection asks to replace.
fn targeted(sel: &Selector, rec: &Record) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(f), Some("known" | "stale")) = (&sel.field, sel.state.as_deref()) {
        if rec.fields.get(f).is_some_and(|s| {
            s.known()
                .is_some_and(|k| k.source != crate::model::SOURCE_INPUT)
        }) {
            out.push(f.clone());
        }
    }
    if let Some(p) = &sel.provider {
        out.extend(targeted_by_provider(rec, p));
    }
    out
}

/// Check a selector against the settings before anything is selected.
/// Public (hidden) only so the fuzz targets run it without a daemon.
#[doc(hidden)]
pub fn validate(sel: &Selector, settings: &Settings) -> Result<(), ControlError> {
    let any = !sel.ids.is_empty()
        || sel.field.is_some()
        || sel.stale
        || sel.provider.is_some()
        || sel.route.is_some()
        || sel.all;
    if !any {
        return Err(ControlError::BadRequest(
            "empty selector: give ids, a field and state, stale, a provider, a route, or all"
                .into(),
        ));
    }
    if sel.state.is_some() && sel.field.is_none() {
        return Err(ControlError::BadRequest("`state` needs `field`".into()));
    }
    if let Some(f) = &sel.field {
        if !settings.catalogue.contains(f) {
            return Err(ControlError::BadRequest(format!(
                "unknown field {}",
                quoted(f)
            )));
        }
    }
    if let Some(s) = sel.state.as_deref() {
        let ok = matches!(s, "known" | "stale" | "unknown")
            || crate::model::UnknownReason::ALL
                .iter()
                .any(|r| r.as_str() == s);
        if !ok {
            return Err(ControlError::BadRequest(format!(
                "unknown state {}: known, stale, unknown or an unknown reason",
                quoted(s)
            )));
        }
    }
    if let Some(p) = &sel.provider {
        let pid = crate::provider::provider_of(p);
        if !settings.providers.contains(pid) {
            return Err(ControlError::BadRequest(format!(
                "unknown provider {}",
                quoted(p)
            )));
        }
    }
    Ok(())
}

/// Worst-case credits of one pass over `rec` once `targeted` fields are expired:
/// every step of every field that would run, each operation counted once, capped
/// by the per-record ceiling.
fn max_cost(c: &Control, rec: &Record, targeted: &[String], now: DateTime<Utc>) -> f64 {
    let s = c.settings();
    let mut ops: BTreeSet<&str> = BTreeSet::new();
    for w in &s.waterfall.fields {
        let runs = targeted.iter().any(|t| w.field == *t)
            || !rec.fields.get(&w.field).is_some_and(|st| st.is_fresh(now));
        if !runs {
            continue;
        }
        for step in &w.steps {
            if let Step::Operation(id) = step {
                ops.insert(id);
            }
        }
        if let Some(v) = &w.verify {
            ops.insert(v);
        }
    }
    let mut total = 0.0;
    for op in ops {
        if let Some((p, o)) = s.providers.operation(op) {
            if p.missing_key_env.is_none() {
                total += o.max_cost();
            }
        }
    }
    match s.waterfall.record_ceiling {
        Some(cap) => total.min(cap),
        None => total,
    }
}

/// Select, price, and (unless a dry run) queue.
pub fn reenrich(
    c: &Control,
    req: &ReenrichRequest,
    now: DateTime<Utc>,
) -> Result<ReenrichSummary, ControlError> {
    let sel = &req.selector;
    validate(sel, &c.settings())?;
    let mut ids = Vec::new();
    let mut max_credits = 0.0;
    let mut visit = |r: StoredRecord| {
        if matches(sel, &r, now) {
            max_credits += max_cost(c, &r.record, &targeted(sel, &r.record), now);
            ids.push(r.record.id.clone());
        }
        true
    };
    if !sel.ids.is_empty() {
        for id in &sel.ids {
            if let Some(r) = c.store.get(id)? {
                visit(r);
            }
        }
    } else {
        c.store.scan(&mut visit)?;
    }
    let matched = ids.len() as u64;
    let mut queued = 0;
    if !req.dry_run && !ids.is_empty() {
        let expire = |r: &mut StoredRecord| {
            let fields = targeted(sel, &r.record);
            for f in &fields {
                if let Some(FieldState::Known(k)) = r.record.fields.get_mut(f) {
                    k.expires_at = Some(now);
                }
            }
            !fields.is_empty()
        };
        queued = c.durable(c.store.touch(&ids, now, &expire)?)?;
        c.wake.notify_one();
    }
    Ok(ReenrichSummary {
        matched,
        queued,
        max_credits,
        dry_run: req.dry_run,
    })
}
