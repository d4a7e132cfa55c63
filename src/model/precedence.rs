//! Source precedence: which source's value wins a field. Config names the
//! order; the merge applies it.

use super::SOURCE_INPUT;

/// Source precedence, highest first, per field or by default. Entries are
/// classes (`manual`, `input`, `vendor`, `guess`), provider ids (`peoplematch`)
/// or operation ids (`peoplematch.match`); the most specific entry that
/// matches a source wins. A value never silently replaces one from a
/// higher-precedence source.
#[derive(Debug, Clone, PartialEq)]
pub struct Precedence {
    /// The default order.
    pub default: Vec<String>,
    /// Per-field orders.
    pub fields: std::collections::BTreeMap<String, Vec<String>>,
}

/// The classes a precedence list may name.
pub const SOURCE_CLASSES: &[&str] = &["manual", "input", "vendor", "guess"];

impl Default for Precedence {
    fn default() -> Self {
        Precedence {
            default: SOURCE_CLASSES.iter().map(|s| s.to_string()).collect(),
            fields: Default::default(),
        }
    }
}

impl Precedence {
    /// Rank of `source` for `field`: larger wins.
    pub fn rank(&self, field: &str, source: &str) -> usize {
        let order = self.fields.get(field).unwrap_or(&self.default);
        let class = match source {
            "manual" => "manual",
            SOURCE_INPUT => "input",
            s if s.starts_with("builtin.") => "guess",
            _ => "vendor",
        };
        let provider = provider_of(source);
        // Most specific first: the operation, its provider, then its class.
        [source, provider, class]
            .iter()
            .find_map(|k| order.iter().position(|o| o == k))
            .map_or(0, |i| order.len() - i)
    }
}

/// The provider of an operation id (`peoplematch.match` → `peoplematch`);
/// a bare provider id is its own.
pub fn provider_of(operation: &str) -> &str {
    let dot = operation.bytes().position(|b| b == b'.');
    dot.map_or(operation, |i| &operation[..i])
}
