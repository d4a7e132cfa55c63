//! Merging new values into a stored record: source precedence, conflicts and
//! history. Pure functions; the store calls `merge_input` inside its upsert
//! transaction and the worker calls `merge_step` before committing.

use crate::control::{Change, QueueState, StoredRecord};
use crate::model::{FieldState, Record, SOURCE_INPUT};
use chrono::{DateTime, Utc};

/// Most history entries kept per record (oldest dropped first).
pub const MAX_HISTORY: usize = 200;

/// Source precedence: manual (a person) > input (the CRM) > vendor > guessed.
/// A value never silently replaces one from a higher-precedence source.
pub fn precedence(source: &str) -> u8 {
    match source {
        "manual" => 3,
        SOURCE_INPUT => 2,
        s if s.starts_with("builtin.") => 0,
        _ => 1,
    }
}

fn push(history: &mut Vec<Change>, change: Change) {
    history.push(change);
    if history.len() > MAX_HISTORY {
        let excess = history.len() - MAX_HISTORY;
        history.drain(..excess);
    }
}

/// Merge an imported record into what is stored. Input values replace vendor
/// and guessed values and older inputs, never manual ones (that is a conflict).
/// Returns the new stored record and whether anything changed.
pub fn merge_input(
    existing: Option<StoredRecord>,
    incoming: Record,
    now: DateTime<Utc>,
) -> (StoredRecord, bool) {
    let mut stored = existing.unwrap_or_else(|| StoredRecord {
        record: Record::new(incoming.id.clone(), now),
        history: Vec::new(),
        signals: Vec::new(),
        queue: QueueState::Queued { due: now },
        conflicts: 0,
        passes: 0,
        created_at: now,
        revision: 0,
    });
    let is_new = stored.revision == 0 && stored.passes == 0 && stored.record.fields.is_empty();
    let mut changed = false;
    for (field, new) in incoming.fields {
        let FieldState::Known(nk) = &new else {
            continue;
        };
        let old = stored.record.fields.get(&field).cloned();
        match old.as_ref().and_then(FieldState::known) {
            Some(ok) if ok.value == nk.value => {
                // The same value re-imported: nothing changes.
                continue;
            }
            Some(ok) if precedence(&ok.source) > precedence(&nk.source) => {
                stored.conflicts += 1;
                push(
                    &mut stored.history,
                    Change {
                        at: now,
                        field,
                        kind: "conflict".into(),
                        old: old.clone(),
                        new,
                    },
                );
                changed = true;
                continue;
            }
            _ => {}
        }
        // A new record's inputs are its first state, not changes: they show in
        // the fields (source `input`); history starts with the first change.
        if !is_new {
            push(
                &mut stored.history,
                Change {
                    at: now,
                    field: field.clone(),
                    kind: "input".into(),
                    old,
                    new: new.clone(),
                },
            );
        }
        stored.record.fields.insert(field, new);
        changed = true;
    }
    if changed {
        stored.record.updated_at = now;
    }
    (stored, changed)
}

/// Fold an enrichment pass into the stored record: every field whose state
/// changed gets a history entry; a known value replaced by a different one is a
/// conflict unless it had expired; a higher-precedence value is never replaced.
pub fn merge_step(stored: &mut StoredRecord, after: Record, now: DateTime<Utc>) {
    for (field, new) in after.fields {
        let old = stored.record.fields.get(&field).cloned();
        if old.as_ref() == Some(&new) {
            continue;
        }
        let kind = match (old.as_ref().and_then(FieldState::known), new.known()) {
            (Some(ok), Some(nk)) if ok.value != nk.value => {
                if precedence(&ok.source) > precedence(&nk.source) {
                    stored.conflicts += 1;
                    push(
                        &mut stored.history,
                        Change {
                            at: now,
                            field,
                            kind: "conflict".into(),
                            old,
                            new,
                        },
                    );
                    continue;
                }
                // A refreshed value that differs is worth counting: the vendor changed its mind.
                stored.conflicts += 1;
                "conflict"
            }
            (Some(_), Some(_)) => "refreshed",
            (_, Some(_)) => "enriched",
            (_, None) => "unknown",
        };
        push(
            &mut stored.history,
            Change {
                at: now,
                field: field.clone(),
                kind: kind.into(),
                old,
                new: new.clone(),
            },
        );
        stored.record.fields.insert(field, new);
    }
    stored.record.credits_spent = after.credits_spent;
    stored.record.updated_at = now;
    stored.passes += 1;
}
