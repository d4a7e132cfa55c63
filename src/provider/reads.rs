//! The parts of a response body an operation reads, and a parser that builds
//! only those. Vendors answer with whole profiles (a person-enrich body runs
//! to kilobytes of employment history and social handles) while an operation
//! reads a handful of pointers; building every string and map of the rest
//! was most of the cost of classifying an answer. Members nobody points at
//! are passed over by [`Skip`]: still read in full, so a malformed body is
//! refused exactly as before, but never allocated.

use super::{Confidence, Operation, Pointer};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value as Json;
use std::borrow::Cow;

/// A tree of the object keys and array items some pointer passes through.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reads {
    /// A pointer ends here: the value is read whole.
    whole: bool,
    /// Object members pointed into.
    keys: Vec<(String, Reads)>,
    /// Array elements pointed into (`*` or an index: every element is kept,
    /// so indexes stay right).
    items: Option<Box<Reads>>,
}

impl Reads {
    /// Everything a classification of `op`'s answers can read: outcome
    /// predicates, provided fields (and their confidence), the verdict, the
    /// reported cost and the throttled body's wait.
    pub fn of(op: &Operation) -> Reads {
        let mut r = Reads::default();
        for rule in &op.outcomes {
            if let Some((p, _)) = &rule.predicate {
                r.add(p);
            }
        }
        for p in &op.provides {
            // A pick reads inside the array's elements: the array is kept whole.
            r.add(&p.pointer);
            match &p.confidence {
                Confidence::Fixed(_) => {}
                Confidence::Scaled { pointer, .. } | Confidence::Categorical { pointer, .. } => {
                    r.add(pointer)
                }
            }
        }
        if let Some(v) = &op.verifies {
            r.add(&v.verdict_pointer);
        }
        if let Some(p) = &op.cost.actual_pointer {
            r.add(p);
        }
        if let Some(p) = &op.retry_after_pointer {
            r.add(p);
        }
        r
    }

    /// The whole body, whatever is read (for comparison).
    pub fn everything() -> Reads {
        Reads {
            whole: true,
            ..Reads::default()
        }
    }

    /// Keep what `pointer` reaches.
    fn add(&mut self, pointer: &Pointer) {
        self.add_segments(&pointer.keys());
    }

    fn add_segments(&mut self, segs: &[Option<&str>]) {
        let Some((first, rest)) = segs.split_first() else {
            self.whole = true;
            return;
        };
        match first {
            None => self.items_mut().add_segments(rest),
            Some(k) => {
                // `/data/0` indexes an array as well as naming a member.
                if k.parse::<usize>().is_ok() {
                    self.items_mut().add_segments(rest);
                }
                match self.keys.iter_mut().find(|(name, _)| name == k) {
                    Some((_, child)) => child.add_segments(rest),
                    None => {
                        let mut child = Reads::default();
                        child.add_segments(rest);
                        self.keys.push((k.to_string(), child));
                    }
                }
            }
        }
    }

    fn items_mut(&mut self) -> &mut Reads {
        self.items.get_or_insert_with(Default::default)
    }

    /// Parse `body` keeping only what is read; `None` when it is not JSON.
    pub fn parse(&self, body: &[u8]) -> Option<Json> {
        // A whole parse refuses bad UTF-8 anywhere in the body: checked once
        // here, and the str parser then checks no string again.
        let text = std::str::from_utf8(body).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let doc = self.deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(doc)
    }
}

impl<'de> DeserializeSeed<'de> for &Reads {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        if self.whole {
            return Json::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &Reads {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        match &self.items {
            Some(child) => {
                while let Some(v) = seq.next_element_seed(&**child)? {
                    out.push(v);
                }
            }
            None => while seq.next_element::<Skip>()?.is_some() {},
        }
        Ok(Json::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            match self.keys.iter().find(|(name, _)| *name == *k) {
                Some((_, child)) => {
                    let v = map.next_value_seed(child)?;
                    out.insert(k.into_owned(), v);
                }
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Json::Object(out))
    }
}

/// A value passed over but read as a whole parse reads it: numbers in
/// range, string escapes valid, serde_json's depth limit; nothing is built
/// (strings are borrowed). serde's `IgnoredAny` skips faster but takes what
/// a whole parse refuses (`1e400`, a lone surrogate `\ud800`), so a body
/// would be a hit here and malformed there.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_none<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        Skip::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// An object key, borrowed from the body when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(pointers: &[&str]) -> Reads {
        let mut r = Reads::default();
        for p in pointers {
            r.add(&Pointer::parse(p).unwrap());
        }
        r
    }

    #[test]
    fn only_what_is_pointed_at_is_built() {
        let body = br#"{"data":{"email":"a@b.io","history":[{"x":1}],"title":"CTO"},
            "status":"found","emails":[{"v":1,"w":2},{"v":3}],"n":1.5,"big":{"a":[1,2,3]}}"#;
        let r = reads(&["/data/email", "/status", "/emails/*/v", "/n"]);
        assert_eq!(
            r.parse(body).unwrap(),
            serde_json::json!({"data":{"email":"a@b.io"},"status":"found",
                "emails":[{"v":1},{"v":3}],"n":1.5})
        );
    }

    #[test]
    fn a_pointer_that_ends_at_a_container_keeps_it_whole() {
        let body = br#"{"list":[{"a":1,"b":[2]}],"other":[1],"esc\"aped":{"k":"v"}}"#;
        let r = reads(&["/list", "/esc\"aped/k"]);
        assert_eq!(
            r.parse(body).unwrap(),
            serde_json::json!({"list":[{"a":1,"b":[2]}],"esc\"aped":{"k":"v"}})
        );
        // The empty pointer is the whole document.
        let all: Json = serde_json::from_slice(body).unwrap();
        assert_eq!(reads(&[""]).parse(body).unwrap(), all);
    }

    #[test]
    fn malformed_bodies_are_refused_even_where_nothing_is_read() {
        let r = reads(&["/a"]);
        assert!(r.parse(br#"{"a":1,"b":[1,}"#).is_none());
        assert!(r.parse(br#"{"a":1} trailing"#).is_none());
        assert!(r.parse(b"").is_none());
        assert_eq!(r.parse(b"[1,2]").unwrap(), serde_json::json!([]));
    }

    #[test]
    fn invalid_utf8_is_refused_even_in_a_member_nobody_reads() {
        // Found by fuzzing (fuzz/regressions/provider_response): the whole
        // parse refused this body while the pruned one took it.
        let body = b"{\"a\":1,\"message\":\"try again in 31\xff\xfe\"}";
        assert!(serde_json::from_slice::<Json>(body).is_err());
        assert!(reads(&["/a"]).parse(body).is_none());
        assert!(Reads::everything().parse(body).is_none());
    }

    #[test]
    fn what_a_whole_parse_refuses_is_refused_in_a_member_nobody_reads() {
        // Found by fuzzing (fuzz/regressions/provider_response/): a number out
        // of range or a lone surrogate escape where nothing is read was taken
        // by the pruned parse (IgnoredAny) and refused by a whole one.
        for body in [
            &br#"{"a":1,"wd":88E910}"#[..],
            br#"{"a":1,"n":[-1e400]}"#,
            br#"{"a":1,"s":"\ud800"}"#,
            br#"{"a":1,"\udc00":2}"#,
        ] {
            assert!(serde_json::from_slice::<Json>(body).is_err());
            assert!(reads(&["/a"]).parse(body).is_none(), "{body:?}");
        }
        let ok = br#"{"a":1,"s":"\ud83d\ude00 \"x\"","n":[1e308,-0,18446744073709551615]}"#;
        assert_eq!(
            reads(&["/a"]).parse(ok).unwrap(),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn array_indexes_survive_pruning() {
        let body = br#"{"data":[{"phone":"1"},{"phone":"2","x":"y"}]}"#;
        let r = reads(&["/data/1/phone"]);
        let doc = r.parse(body).unwrap();
        let p = Pointer::parse("/data/1/phone").unwrap();
        assert_eq!(p.get(&doc), Some(&serde_json::json!("2")));
    }
}
