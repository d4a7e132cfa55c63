//! A record's fields: name → state, kept sorted by name like the `BTreeMap`
//! it replaces (exports, JSON and diffs keep their order), but found by a
//! scan for an equal name. A record holds a score of fields and the planner
//! looks names up hundreds of times per record; an ordered map compares bytes
//! at every step of every probe ("company." and "person." are shared
//! prefixes), while equality rejects most names on their length alone.

use super::{same, FieldName, FieldState};
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Field name → state, sorted by name, each name once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldMap {
    entries: Vec<(FieldName, FieldState)>,
}

/// Borrowed `(name, state)` pairs, in name order.
pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (FieldName, FieldState)>,
    fn(&'a (FieldName, FieldState)) -> (&'a FieldName, &'a FieldState),
>;

/// A field named in a lookup: text, compared by content, or an interned
/// [`FieldName`], compared by address (the planner's lookups, one
/// instruction per entry).
pub trait FieldKey {
    /// Whether `n` is this field.
    fn is(&self, n: &FieldName) -> bool;
}

impl FieldKey for str {
    #[inline]
    fn is(&self, n: &FieldName) -> bool {
        same(n, self)
    }
}

impl FieldKey for String {
    #[inline]
    fn is(&self, n: &FieldName) -> bool {
        self.as_str().is(n)
    }
}

impl FieldKey for FieldName {
    #[inline]
    fn is(&self, n: &FieldName) -> bool {
        n == self
    }
}

impl<K: FieldKey + ?Sized> FieldKey for &K {
    #[inline]
    fn is(&self, n: &FieldName) -> bool {
        (**self).is(n)
    }
}

impl FieldMap {
    /// An empty map.
    pub fn new() -> FieldMap {
        FieldMap::default()
    }

    /// Room for `n` fields in all.
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n.saturating_sub(self.entries.len()));
    }

    fn position<K: FieldKey + ?Sized>(&self, name: &K) -> Option<usize> {
        self.entries.iter().position(|(n, _)| name.is(n))
    }

    /// The state of `name`.
    pub fn get<K: FieldKey + ?Sized>(&self, name: &K) -> Option<&FieldState> {
        self.entries
            .iter()
            .find(|(n, _)| name.is(n))
            .map(|(_, s)| s)
    }

    /// The same, to change.
    pub fn get_mut<K: FieldKey + ?Sized>(&mut self, name: &K) -> Option<&mut FieldState> {
        self.entries
            .iter_mut()
            .find(|(n, _)| name.is(n))
            .map(|(_, s)| s)
    }

    /// Whether `name` has a state.
    pub fn contains_key<K: FieldKey + ?Sized>(&self, name: &K) -> bool {
        self.position(name).is_some()
    }

    /// Set `name`'s state; the one it replaces, if any.
    pub fn insert(&mut self, name: FieldName, state: FieldState) -> Option<FieldState> {
        self.set(name, state)
    }

    /// The same, copying the name only when it is new (most sets replace a
    /// state, found by equality without ordering compares).
    pub fn set<N: FieldKey + Into<FieldName>>(
        &mut self,
        name: N,
        state: FieldState,
    ) -> Option<FieldState> {
        if let Some(i) = self.position(&name) {
            return Some(std::mem::replace(&mut self.entries[i].1, state));
        }
        let name = name.into();
        match self
            .entries
            .binary_search_by(|(n, _)| super::same::order(n, &name))
        {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, state)),
            Err(i) => {
                self.entries.insert(i, (name, state));
                None
            }
        }
    }

    /// Take `name` out.
    pub fn remove<K: FieldKey + ?Sized>(&mut self, name: &K) -> Option<FieldState> {
        let i = self.position(name)?;
        Some(self.entries.remove(i).1)
    }

    /// `(name, state)` pairs in name order.
    pub fn iter(&self) -> Iter<'_> {
        self.entries.iter().map(|(n, s)| (n, s))
    }

    /// Names in order.
    pub fn keys(&self) -> impl Iterator<Item = &FieldName> {
        self.entries.iter().map(|(n, _)| n)
    }

    /// States in name order.
    pub fn values(&self) -> impl Iterator<Item = &FieldState> {
        self.entries.iter().map(|(_, s)| s)
    }

    /// Fields held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no field is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `map["name"]`: the state, or a panic naming the field (as `BTreeMap` does).
impl std::ops::Index<&str> for FieldMap {
    type Output = FieldState;
    fn index(&self, name: &str) -> &FieldState {
        self.get(name)
            .unwrap_or_else(|| panic!("no field {name} in the record"))
    }
}

impl<'a> IntoIterator for &'a FieldMap {
    type Item = (&'a FieldName, &'a FieldState);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for FieldMap {
    type Item = (FieldName, FieldState);
    type IntoIter = std::vec::IntoIter<(FieldName, FieldState)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Extend<(FieldName, FieldState)> for FieldMap {
    fn extend<I: IntoIterator<Item = (FieldName, FieldState)>>(&mut self, iter: I) {
        for (n, s) in iter {
            self.insert(n, s);
        }
    }
}

impl FromIterator<(FieldName, FieldState)> for FieldMap {
    fn from_iter<I: IntoIterator<Item = (FieldName, FieldState)>>(iter: I) -> FieldMap {
        let mut m = FieldMap::new();
        m.extend(iter);
        m
    }
}

impl<const N: usize> From<[(FieldName, FieldState); N]> for FieldMap {
    fn from(pairs: [(FieldName, FieldState); N]) -> FieldMap {
        pairs.into_iter().collect()
    }
}

impl Serialize for FieldMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.entries.len()))?;
        for (n, st) in &self.entries {
            m.serialize_entry(n, st)?;
        }
        m.end()
    }
}

/// A JSON object; a repeated name keeps its last state, as a map would.
impl<'de> Deserialize<'de> for FieldMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FieldMap, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldMap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of field names to field states")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<FieldMap, A::Error> {
                let mut m = FieldMap::new();
                while let Some((n, s)) = a.next_entry::<FieldName, FieldState>()? {
                    m.insert(n, s);
                }
                Ok(m)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{UnknownReason, Value};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn state(n: u8) -> FieldState {
        if n.is_multiple_of(2) {
            FieldState::unknown(UnknownReason::NotFound, vec![])
        } else {
            FieldState::input(Value::Integer(i64::from(n)), chrono::DateTime::UNIX_EPOCH)
        }
    }

    proptest! {
        /// Any run of inserts and removes leaves what a BTreeMap would hold, in its order.
        #[test]
        fn it_behaves_like_a_btreemap(ops in prop::collection::vec((any::<bool>(), "[a-c]{0,3}|[a-z.]{8,12}", any::<u8>()), 0..120)) {
            let mut ours = FieldMap::new();
            let mut model = BTreeMap::new();
            for (insert, name, n) in ops {
                if insert {
                    prop_assert_eq!(ours.insert(name.as_str().into(), state(n)), model.insert(name, state(n)));
                } else {
                    prop_assert_eq!(ours.remove(&name), model.remove(&name));
                }
                prop_assert_eq!(ours.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(ours.get(k), Some(v));
            }
            prop_assert!(ours.iter().map(|(k, v)| (k.as_str(), v)).eq(model.iter().map(|(k, v)| (k.as_str(), v))));
            prop_assert_eq!(serde_json::to_string(&ours).unwrap(), serde_json::to_string(&model).unwrap());
            let back: FieldMap = serde_json::from_str(&serde_json::to_string(&ours).unwrap()).unwrap();
            prop_assert_eq!(back, ours);
        }
    }

    #[test]
    fn a_repeated_name_keeps_its_last_state() {
        let m: FieldMap = serde_json::from_str(
            r#"{"b":{"state":"unknown","reason":"not_found"},"a":{"state":"unknown","reason":"invalid"},"b":{"state":"unknown","reason":"not_worth_it"}}"#,
        )
        .unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(
            matches!(m.get("b"), Some(FieldState::Unknown(u)) if u.reason == UnknownReason::NotWorthIt)
        );
    }
}
