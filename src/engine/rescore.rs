//! Rescore and re-route a stored record after a pass: scores with intervals,
//! the route decision (settled on what is known once no unknown that matters
//! can still be filled), the route history, and the route-change event for the
//! outbox. Pure: time is passed in.

use crate::config::{Decisions, Settings};
use crate::model::{FieldState, UnknownReason};
use crate::route::decide;
use crate::score::score_all;
use crate::store::{RouteChange, StoredRecord};
use chrono::{DateTime, Utc};

/// Can a later pass still fill `field` (it has a waterfall and is not settled)?
fn fillable(settings: &Settings, stored: &StoredRecord, field: &str) -> bool {
    fillable_in(settings, &stored.record, field, false)
}

/// [`fillable`] over a record. In the middle of a pass, a field set aside as
/// `not_worth_it` by an earlier round, or waiting for an input another
/// field's lookup may still bring (`missing_input`), can still be filled.
pub(super) fn fillable_in(
    settings: &Settings,
    record: &crate::model::Record,
    field: &str,
    in_pass: bool,
) -> bool {
    settings.waterfall.get(field).is_some()
        && match record.fields.get(field) {
            None => true,
            Some(FieldState::Known(_)) => false,
            Some(FieldState::Unknown(u)) => {
                matches!(
                    u.reason,
                    UnknownReason::NotAttempted
                        | UnknownReason::ProviderError
                        | UnknownReason::BudgetExhausted
                ) || (in_pass
                    && matches!(
                        u.reason,
                        UnknownReason::NotWorthIt | UnknownReason::MissingInput
                    ))
            }
        }
}

/// Rescore `stored`; returns the route-change event when the route changed.
pub fn rescore(
    d: &Decisions,
    settings: &Settings,
    stored: &mut StoredRecord,
    changed_fields: &[String],
    now: DateTime<Utc>,
) -> Option<serde_json::Value> {
    let scores = score_all(&d.scoring, &stored.record, &stored.signals, now);
    let mut decision = decide(&d.routing, &stored.record, &scores, now, false);
    if !decision.decided
        && !decision
            .could_change
            .iter()
            .any(|f| fillable(settings, stored, f))
    {
        // Nothing that matters can still be learnt: decide on what is known.
        decision = decide(&d.routing, &stored.record, &scores, now, true);
    }
    let old = stored.route.as_ref().map(|r| r.route.clone());
    let changed = old.as_deref() != Some(decision.route.as_str());
    let event = changed.then(|| {
        stored.route_history.push(RouteChange {
            at: now,
            from: old.clone(),
            to: decision.route.clone(),
            explanation: decision.explanation.clone(),
            changed_fields: changed_fields.to_vec(),
        });
        serde_json::json!({
            // Stable: the record and the ordinal of this change.
            "id": format!("{}#{}", stored.record.id, stored.route_history.len()),
            "type": "route_changed",
            "record_id": stored.record.id,
            "old_route": old,
            "new_route": decision.route,
            "decided": decision.decided,
            "reason": decision.reason,
            "recycle_at": decision.recycle_at,
            "scores": scores,
            "explanation": decision.explanation,
            "changed_fields": changed_fields,
            "at": now,
        })
    });
    stored.scores = Some(scores);
    stored.route = Some(decision);
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Signal;
    use crate::model::{Record, Value};
    use chrono::TimeZone;

    #[test]
    fn intent_decay_moves_a_lead_out_of_sales_now_with_an_event() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
        let settings = crate::config::load(&path, &|_| None).unwrap();
        let d = settings.decisions.clone().unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 9, 1, 9, 0, 0).unwrap();
        let (mut stored, _) = crate::engine::merge::merge_input(
            None,
            Record::new("lead1", t0),
            t0,
            &settings.precedence,
        );
        for (f, v) in [
            ("company.domain", Value::Text("acme.io".into())),
            ("company.industry", Value::Text("computer software".into())),
            ("company.employee_count", Value::Integer(300)),
            ("company.country", Value::Text("US".into())),
            ("person.seniority", Value::Text("vp".into())),
            ("person.department", Value::Text("sales".into())),
        ] {
            stored.record.set(f, FieldState::input(v, t0));
        }
        stored.signals = ["pricing_page", "demo_request"]
            .map(|kind| Signal {
                kind: kind.into(),
                at: t0,
            })
            .into();
        let first = rescore(&d, &settings, &mut stored, &[], t0).expect("first routing");
        assert_eq!(first["new_route"], "sales_now", "{first}");
        // Nothing changes the next day but the scores' age: same route, no event.
        assert!(rescore(
            &d,
            &settings,
            &mut stored,
            &[],
            t0 + chrono::Duration::days(1)
        )
        .is_none());
        // Six weeks on, the demo request left its window and the pricing visit
        // decayed three half-lives: the lead leaves sales now.
        let later = t0 + chrono::Duration::weeks(6);
        let event = rescore(&d, &settings, &mut stored, &[], later).expect("a route change");
        assert_eq!(event["id"], "lead1#2");
        assert_eq!(event["old_route"], "sales_now");
        assert_ne!(event["new_route"], "sales_now");
        assert_eq!(event["at"], serde_json::json!(later));
        assert_eq!(stored.route_history.len(), 2);
    }
}
