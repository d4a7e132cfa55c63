//! All providers of a deployment, in id order, with an index of their
//! operations. The planner looks an operation up a dozen times per record;
//! walking a map of providers and then their operations by text cost about
//! 200 instructions a lookup, where the index finds an interned id by its
//! address.

use super::{Operation, Provider};
use crate::model::{FieldKey, Name};

/// Providers by id (a deployment has a handful: a short sorted vector).
#[derive(Debug, Clone, Default)]
pub struct ProviderSet {
    providers: Vec<Provider>,
    /// Operation id → (provider, operation) positions, rebuilt on insert.
    /// A provider changed through [`ProviderSet::get_mut`] may leave it
    /// stale: every hit is checked, and a miss falls back to the scan.
    index: Vec<(Name, usize, usize)>,
}

impl ProviderSet {
    /// Add or replace the provider with `p.id`; the one replaced, if any.
    pub fn insert(&mut self, p: Provider) -> Option<Provider> {
        let old = match self
            .providers
            .binary_search_by(|q| q.id.as_str().cmp(&p.id))
        {
            Ok(i) => Some(std::mem::replace(&mut self.providers[i], p)),
            Err(i) => {
                self.providers.insert(i, p);
                None
            }
        };
        self.index = self
            .providers
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.operations
                    .iter()
                    .enumerate()
                    .map(move |(j, o)| (Name::new(&o.id), i, j))
            })
            .collect();
        old
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| crate::model::same(&p.id, id))
    }

    /// The same, to change (tests and benches set limits this way).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Provider> {
        self.providers
            .iter_mut()
            .find(|p| crate::model::same(&p.id, id))
    }

    /// Whether a provider has this id.
    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// The providers, in id order.
    pub fn iter(&self) -> std::slice::Iter<'_, Provider> {
        self.providers.iter()
    }

    /// The same, to change.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Provider> {
        self.providers.iter_mut()
    }

    /// The provider ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.providers.iter().map(|p| p.id.as_str())
    }

    /// Whether there is no provider.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Find an operation by `<provider>.<name>` (text or an interned name).
    pub fn operation<K: FieldKey + ?Sized>(&self, id: &K) -> Option<(&Provider, &Operation)> {
        let indexed = self
            .index
            .iter()
            .find(|(n, _, _)| id.is(n))
            .and_then(|&(n, i, j)| {
                let p = self.providers.get(i)?;
                let o = p
                    .operations
                    .get(j)
                    .filter(|o| crate::model::same(&o.id, &n))?;
                Some((p, o))
            });
        indexed.or_else(|| {
            self.providers.iter().find_map(|p| {
                p.operations
                    .iter()
                    .find(|o| id.is(&Name::new(&o.id)))
                    .map(|o| (p, o))
            })
        })
    }
}
