//! Typed field values. A value is always present: absence is a `FieldState::Unknown`,
//! never an empty string or a zero.

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::Serialize;
use std::fmt;

/// One field value after normalisation. Serialises as the bare JSON value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean flag.
    Bool(bool),
    /// A whole number (employee counts, years).
    Integer(i64),
    /// Any textual value (emails, domains, names, enums, phones, URLs).
    Text(String),
    /// A list of texts (tech stack, departments).
    List(Vec<String>),
}

impl Value {
    /// The value as text when it is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The value as it goes into a query string or a CSV cell.
    pub fn render(&self) -> String {
        match self {
            // Text is its own rendering: a copy, not a trip through `fmt`.
            Value::Text(s) => s.clone(),
            v => v.to_string(),
        }
    }

    /// [`Value::render`], borrowed when the value is text.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Value::Text(s) => std::borrow::Cow::Borrowed(s),
            v => std::borrow::Cow::Owned(v.to_string()),
        }
    }

    /// The value as JSON, for request bodies.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => serde_json::Value::from(l.clone()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Text(s) => f.write_str(s),
            Value::List(l) => f.write_str(&l.join(";")),
        }
    }
}

/// Deserialised by the JSON type directly: `untagged` would try each variant in
/// turn and build an error for every miss, which dominated bulk imports.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean, an integer, a string or a list of strings")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                i64::try_from(v)
                    .map(Value::Integer)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
                Ok(Value::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Value::List(out))
            }
        }
        d.deserialize_any(V)
    }
}
