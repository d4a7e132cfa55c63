//! String-keyed maps touched once per field of every record: look a key up
//! by `&str` and clone it only when it is new (`entry(key.to_string())`
//! allocates on every hit too).

use std::collections::BTreeMap;

/// `map[key]`, inserted as `V::default()` when absent.
pub fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_slot_is_created_once_and_found_after() {
        let mut m = std::collections::BTreeMap::<String, u32>::new();
        *super::slot(&mut m, "a") += 1;
        *super::slot(&mut m, "a") += 1;
        *super::slot(&mut m, "b") += 5;
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("a".into(), 2), ("b".into(), 5)]
        );
    }
}
