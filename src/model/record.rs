//! A lead record: an id and a state for every field it has seen.

use super::{FieldKey, FieldMap, FieldName, FieldState, Value};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A lead record. Fields absent from the map are `not_attempted`.
///
/// Unknown keys are refused, as in a field state: a misspelt key in an
/// upsert (`"field"` for `"fields"`) would otherwise drop its data silently.
/// These four names have never changed, so stored records read the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Caller-chosen stable id (the CRM id, an import key).
    pub id: String,
    /// Field name → state. Sorted, so exports and diffs are stable.
    pub fields: FieldMap,
    /// Credits spent on this record so far.
    #[serde(default)]
    pub credits_spent: f64,
    /// Last change.
    #[serde(serialize_with = "super::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl Record {
    /// An empty record.
    pub fn new(id: impl Into<String>, now: DateTime<Utc>) -> Record {
        Record {
            id: id.into(),
            fields: FieldMap::new(),
            credits_spent: 0.0,
            updated_at: now,
        }
    }

    /// The state of a field (`not_attempted` when never seen).
    pub fn state<K: FieldKey + ?Sized>(&self, field: &K) -> FieldState {
        self.fields
            .get(field)
            .cloned()
            .unwrap_or_else(FieldState::not_attempted)
    }

    /// The known value of a field, fresh or stale.
    pub fn value<K: FieldKey + ?Sized>(&self, field: &K) -> Option<&Value> {
        self.fields.get(field).and_then(FieldState::value)
    }

    /// Set a field's state. The name is copied only when the field is new
    /// (most sets replace a state).
    pub fn set<N: FieldKey + Into<FieldName>>(&mut self, field: N, state: FieldState) {
        self.fields.set(field, state);
    }
}
