//! Interned names: fields (`person.email`), operations
//! (`mailfinder.email-finder`), providers and outcome kinds. A pass over a
//! record copies these names dozens of times (inputs, candidates, tried
//! lists, ledger rows); as `String`s every copy was an allocation, a
//! `memcpy` and a free, a fifth of the warm pass. A [`Name`] is a pointer
//! into a process-wide table, copied for free and compared by address.
//!
//! The table only grows. Names come from config, the catalogue and stored or
//! submitted records; unknown fields are refused at import, so the set is
//! bounded by what the deployment defines. Against a client submitting
//! endless new names, the table refuses names past [`MAX_NAMES`] or longer
//! than [`MAX_NAME_BYTES`] when they arrive through serde (an error naming
//! the limit), so memory stays bounded.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};

/// Most distinct names one process keeps.
pub const MAX_NAMES: usize = 16_384;
/// Longest name accepted from outside (serde).
pub const MAX_NAME_BYTES: usize = 256;

/// A literal's [`Name`], interned on first use and then read from a static
/// (no table lookup): `name!("hit")`.
#[macro_export]
macro_rules! name {
    ($s:literal) => {{
        static N: std::sync::OnceLock<$crate::model::Name> = std::sync::OnceLock::new();
        *N.get_or_init(|| $crate::model::Name::new($s))
    }};
}

/// An interned name: `Copy`, equal when it is the same table entry.
#[derive(Clone, Copy)]
pub struct Name(&'static str);

fn table() -> &'static RwLock<HashSet<&'static str, foldhash::fast::RandomState>> {
    static TABLE: OnceLock<RwLock<HashSet<&'static str, foldhash::fast::RandomState>>> =
        OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Why a name from outside was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Longer than [`MAX_NAME_BYTES`].
    TooLong(usize),
    /// The table holds [`MAX_NAMES`] names already.
    TooMany,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::TooLong(n) => {
                write!(f, "a name of {n} bytes (the limit is {MAX_NAME_BYTES})")
            }
            NameError::TooMany => write!(
                f,
                "more than {MAX_NAMES} distinct field and operation names in one process"
            ),
        }
    }
}

impl Name {
    /// The interned `s` (names from config and code: no limit applies).
    pub fn new(s: &str) -> Name {
        Name::lookup(s).unwrap_or_else(|| Name::insert(s))
    }

    /// The interned `s`, refused past the limits (names from outside).
    pub fn checked(s: &str) -> Result<Name, NameError> {
        if let Some(n) = Name::lookup(s) {
            return Ok(n);
        }
        if s.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong(s.len()));
        }
        if table().read().unwrap_or_else(|e| e.into_inner()).len() >= MAX_NAMES {
            return Err(NameError::TooMany);
        }
        Ok(Name::insert(s))
    }

    fn lookup(s: &str) -> Option<Name> {
        let t = table().read().unwrap_or_else(|e| e.into_inner());
        t.get(s).map(|n| Name(n))
    }

    fn insert(s: &str) -> Name {
        let mut t = table().write().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get(s) {
            return Name(n);
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        t.insert(leaked);
        Name(leaked)
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl PartialEq for Name {
    #[inline]
    fn eq(&self, o: &Name) -> bool {
        // One table entry per text: the same address is the same name.
        std::ptr::eq(self.0.as_ptr(), o.0.as_ptr())
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    #[inline]
    fn eq(&self, o: &str) -> bool {
        super::same(self.0, o)
    }
}

impl PartialEq<&str> for Name {
    #[inline]
    fn eq(&self, o: &&str) -> bool {
        super::same(self.0, o)
    }
}

impl PartialEq<String> for Name {
    #[inline]
    fn eq(&self, o: &String) -> bool {
        super::same(self.0, o)
    }
}

impl PartialEq<Name> for str {
    #[inline]
    fn eq(&self, o: &Name) -> bool {
        super::same(self, o.0)
    }
}

impl PartialEq<Name> for &str {
    #[inline]
    fn eq(&self, o: &Name) -> bool {
        super::same(self, o.0)
    }
}

impl PartialEq<Name> for String {
    #[inline]
    fn eq(&self, o: &Name) -> bool {
        super::same(self, o.0)
    }
}

// Hash and order as the text, so maps keyed by `Name` are found by `&str`.
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h)
    }
}

impl Ord for Name {
    fn cmp(&self, o: &Name) -> std::cmp::Ordering {
        if self == o {
            return std::cmp::Ordering::Equal;
        }
        super::order(self.0, o.0)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, o: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0, f)
    }
}

impl Default for Name {
    fn default() -> Name {
        Name::new("")
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Name;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Name, E> {
                Name::checked(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_are_one_name() {
        let a = Name::new("person.email");
        let b = Name::from(String::from("person.email"));
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_ne!(a, Name::new("person.title"));
        assert_eq!(a, "person.email");
        assert!(a < Name::new("person.title"));
    }

    #[test]
    fn serde_round_trips_and_refuses_long_names() {
        let n: Name = serde_json::from_str("\"company.domain\"").unwrap();
        assert_eq!(n, Name::new("company.domain"));
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"company.domain\"");
        let long = format!("\"{}\"", "x".repeat(MAX_NAME_BYTES + 1));
        let e = serde_json::from_str::<Name>(&long).unwrap_err();
        assert!(e.to_string().contains("the limit is 256"), "{e}");
    }

    #[test]
    fn a_map_keyed_by_name_is_found_by_text() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(Name::new("b.y"), 1);
        m.insert(Name::new("a.x"), 2);
        assert_eq!(m.get("a.x"), Some(&2));
        assert_eq!(
            m.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            ["a.x", "b.y"]
        );
    }
}
