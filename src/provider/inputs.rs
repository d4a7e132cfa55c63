//! The input values an operation is called with: a few (field, value) pairs
//! kept sorted by field name (they are part of the cache key), held inline.
//! Operations read one to three fields; a `BTreeMap` allocated a node of
//! eleven slots for every call the planner considered.

use crate::model::{FieldKey, FieldName, Value};
use smallvec::SmallVec;

/// Normalised input values, sorted by field name.
#[derive(Clone, Default, PartialEq)]
pub struct Inputs(SmallVec<[(FieldName, Value); 3]>);

impl Inputs {
    /// No inputs.
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Set `field` to `value`, returning the value it replaced.
    pub fn insert(&mut self, field: FieldName, value: Value) -> Option<Value> {
        match self.0.binary_search_by(|(n, _)| n.cmp(&field)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (field, value));
                None
            }
        }
    }

    /// The value of `field`.
    pub fn get<K: FieldKey + ?Sized>(&self, field: &K) -> Option<&Value> {
        self.0.iter().find(|(n, _)| field.is(n)).map(|(_, v)| v)
    }

    /// Whether `field` has a value.
    pub fn contains_key<K: FieldKey + ?Sized>(&self, field: &K) -> bool {
        self.get(field).is_some()
    }

    /// The pairs, in field-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&FieldName, &Value)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// How many fields have values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FromIterator<(FieldName, Value)> for Inputs {
    fn from_iter<I: IntoIterator<Item = (FieldName, Value)>>(iter: I) -> Inputs {
        let mut inputs = Inputs::new();
        for (f, v) in iter {
            inputs.insert(f, v);
        }
        inputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Inserts, lookups and order are a `BTreeMap`'s.
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec((0usize..6, 0i64..4), 0..12)) {
            const NAMES: [&str; 6] = ["person.email", "company.domain", "person.first_name",
                "person.last_name", "company.name", "person.linkedin_url"];
            let mut ours = Inputs::new();
            let mut model = BTreeMap::new();
            for (n, v) in ops {
                let name = FieldName::new(NAMES[n]);
                prop_assert_eq!(ours.insert(name, Value::Integer(v)), model.insert(name, Value::Integer(v)));
            }
            prop_assert_eq!(ours.len(), model.len());
            let pairs: Vec<_> = ours.iter().map(|(n, v)| (*n, v.clone())).collect();
            let expected: Vec<_> = model.iter().map(|(n, v)| (*n, v.clone())).collect();
            prop_assert_eq!(pairs, expected);
            for n in NAMES {
                prop_assert_eq!(ours.get(n), model.get(&FieldName::new(n)));
            }
            let rebuilt: Inputs = model.into_iter().collect();
            prop_assert_eq!(rebuilt, ours);
        }
    }
}
