//! JSON body templates, compiled once when a provider loads: a request fills
//! the placeholders without parsing template text again, and a malformed
//! placeholder is an error that names its key instead of a silently dropped one.

use super::{Inputs, Template};
use crate::model::FieldName;
use serde_json::Value as J;

/// The compiled shape of an operation's `body` table.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyTemplate {
    /// A string that is exactly one placeholder: the value keeps its JSON type.
    Value(Vec<FieldName>),
    /// A string of text and placeholders.
    Text(Template),
    /// An array; items whose placeholders have no value are left out.
    Array(Vec<BodyTemplate>),
    /// An object; keys whose placeholders have no value are left out.
    Object(Vec<(String, BodyTemplate)>),
    /// A number, boolean or null, sent as written.
    Literal(J),
}

impl BodyTemplate {
    /// Compile a body; `Err((path, message))` names the failing key
    /// (`.data[0].first_name`).
    pub fn compile(v: &J) -> Result<BodyTemplate, (String, String)> {
        Ok(match v {
            J::String(s) => {
                let t = Template::parse(s).map_err(|e| (String::new(), e))?;
                match t.sole_field() {
                    Some(alts) => BodyTemplate::Value(alts.to_vec()),
                    None => BodyTemplate::Text(t),
                }
            }
            J::Array(items) => BodyTemplate::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| Self::compile(x).map_err(|(p, e)| (format!("[{i}]{p}"), e)))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(map) => BodyTemplate::Object(
                map.iter()
                    .map(|(k, x)| {
                        Self::compile(x)
                            .map(|t| (k.clone(), t))
                            .map_err(|(p, e)| (format!(".{k}{p}"), e))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => BodyTemplate::Literal(other.clone()),
        })
    }

    /// Fields the body reads.
    pub fn fields(&self, out: &mut Vec<FieldName>) {
        match self {
            BodyTemplate::Value(alts) => out.extend(alts.iter().cloned()),
            BodyTemplate::Text(t) => out.extend(t.fields().cloned()),
            BodyTemplate::Array(items) => items.iter().for_each(|x| x.fields(out)),
            BodyTemplate::Object(entries) => entries.iter().for_each(|(_, x)| x.fields(out)),
            BodyTemplate::Literal(_) => {}
        }
    }

    /// The body for `inputs`; `None` when this part's placeholders have no value.
    pub fn fill(&self, inputs: &Inputs) -> Option<J> {
        match self {
            BodyTemplate::Value(alts) => {
                alts.iter().find_map(|f| inputs.get(f)).map(|v| v.to_json())
            }
            BodyTemplate::Text(t) => t.render(inputs).map(J::String),
            BodyTemplate::Array(items) => Some(J::Array(
                items.iter().filter_map(|x| x.fill(inputs)).collect(),
            )),
            BodyTemplate::Object(entries) => Some(J::Object(
                entries
                    .iter()
                    .filter_map(|(k, x)| x.fill(inputs).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            BodyTemplate::Literal(v) => Some(v.clone()),
        }
    }
}
