//! Typed field values. A value is always present: absence is a `FieldState::Unknown`,
//! never an empty string or a zero.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One field value after normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        self.to_string()
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
