//! Learned email patterns (by domain) and guess memos (by person), with the
//! answers read so far held in memory: every record of a pass asks for them
//! and learns them again, and a sled read or write per ask cost more than
//! planning the record. Absent keys are remembered too.

use super::StoreError;
use foldhash::HashMap;
use std::sync::Mutex;

/// Answers held before the memory is emptied (the trees keep everything).
const CAPACITY: usize = 100_000;

/// One tree of `key → pattern`, memoised.
#[derive(Debug)]
pub struct PatternTree {
    tree: sled::Tree,
    seen: Mutex<HashMap<Vec<u8>, Option<String>>>,
}

impl PatternTree {
    /// Over `tree`.
    pub fn new(tree: sled::Tree) -> PatternTree {
        PatternTree {
            tree,
            seen: Mutex::default(),
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Option<String>>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pattern stored under `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<String>, StoreError> {
        if let Some(held) = self.seen().get(key) {
            return Ok(held.clone());
        }
        let found = self
            .tree
            .get(key)?
            .and_then(|v| String::from_utf8(v.to_vec()).ok());
        self.remember(key, found.clone());
        Ok(found)
    }

    /// Store `pattern` under `key`; a repeat of what is stored writes nothing.
    pub fn set(&self, key: &[u8], pattern: &str) -> Result<(), StoreError> {
        // Compared where it is held, without a copy (the guard is let go
        // before `get` takes it again).
        let held = self.seen().get(key).map(|h| h.as_deref() == Some(pattern));
        let stored = match held {
            Some(same) => same,
            None => self.get(key)?.as_deref() == Some(pattern),
        };
        if stored {
            return Ok(());
        }
        self.tree.insert(key, pattern.as_bytes())?;
        self.remember(key, Some(pattern.to_string()));
        Ok(())
    }

    fn remember(&self, key: &[u8], value: Option<String>) {
        let mut seen = self.seen();
        if seen.len() >= CAPACITY {
            seen.clear();
        }
        seen.insert(key.to_vec(), value);
    }

    /// The tree itself (`migrate --from-sled` copies it).
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> PatternTree {
        let db = sled::Config::new().temporary(true).open().unwrap();
        PatternTree::new(db.open_tree("t").unwrap())
    }

    #[test]
    fn an_absent_key_read_first_is_found_once_set() {
        let t = tree();
        assert_eq!(t.get(b"acme.com").unwrap(), None);
        t.set(b"acme.com", "first.last").unwrap();
        assert_eq!(t.get(b"acme.com").unwrap().as_deref(), Some("first.last"));
        assert_eq!(
            t.tree().get(b"acme.com").unwrap().as_deref(),
            Some(b"first.last".as_slice()),
            "written through to the tree"
        );
        t.set(b"acme.com", "flast").unwrap();
        assert_eq!(t.get(b"acme.com").unwrap().as_deref(), Some("flast"));
    }

    #[test]
    fn a_repeat_of_the_stored_pattern_writes_nothing() {
        let t = tree();
        t.set(b"k", "first").unwrap();
        let mut events = t.tree().watch_prefix(b"k");
        t.set(b"k", "first").unwrap();
        t.set(b"k", "last").unwrap();
        // The first event seen is the change, not the repeat.
        match events.next() {
            Some(sled::Event::Insert { value, .. }) => assert_eq!(&*value, b"last"),
            other => panic!("{other:?}"),
        }
    }
}
