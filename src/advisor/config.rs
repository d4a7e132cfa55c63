//! `[advisor]` in `config/leadfall.toml`: how records are split into
//! segments, and how much evidence a suggestion needs.

use crate::diag::ConfigError;
use crate::model::Catalogue;
use serde::Deserialize;
use std::path::Path;

/// `[advisor]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorFile {
    /// Fields whose values define segments; integer fields are cut into `size_bands`.
    #[serde(default = "default_segment_fields")]
    pub segment_fields: Vec<String>,
    /// Upper bounds of the bands integer segment fields are cut into (ascending).
    #[serde(default = "default_size_bands")]
    pub size_bands: Vec<i64>,
    /// Fewest records each provider of a waterfall must have answered, in a
    /// segment, before an order is suggested for it.
    #[serde(default = "default_min_records")]
    pub min_records: u64,
}

fn default_segment_fields() -> Vec<String> {
    vec!["company.employee_count".into(), "person.seniority".into()]
}

fn default_size_bands() -> Vec<i64> {
    vec![10, 50, 200, 1000, 5000]
}

const fn default_min_records() -> u64 {
    30
}

impl Default for AdvisorFile {
    fn default() -> Self {
        AdvisorFile {
            segment_fields: default_segment_fields(),
            size_bands: default_size_bands(),
            min_records: default_min_records(),
        }
    }
}

/// Validated `[advisor]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisorSettings {
    /// Segment fields, in order of preference.
    pub segment_fields: Vec<String>,
    /// Band upper bounds.
    pub size_bands: Vec<i64>,
    /// Evidence needed per provider and segment.
    pub min_records: u64,
}

impl Default for AdvisorSettings {
    fn default() -> Self {
        let f = AdvisorFile::default();
        AdvisorSettings {
            segment_fields: f.segment_fields,
            size_bands: f.size_bands,
            min_records: f.min_records,
        }
    }
}

/// Check `[advisor]`.
pub fn compile_advisor(
    path: &Path,
    raw: &AdvisorFile,
    catalogue: &Catalogue,
    errors: &mut Vec<ConfigError>,
) -> AdvisorSettings {
    for (i, f) in raw.segment_fields.iter().enumerate() {
        if !catalogue.contains(f) {
            errors.push(ConfigError::at(
                path,
                format!("advisor.segment_fields[{i}]"),
                format!("unknown field {f:?}"),
            ));
        }
    }
    if raw.size_bands.windows(2).any(|w| w[0] >= w[1]) {
        errors.push(ConfigError::at(
            path,
            "advisor.size_bands",
            "must be strictly ascending",
        ));
    }
    if raw.min_records == 0 {
        errors.push(ConfigError::at(
            path,
            "advisor.min_records",
            "must be ≥ 1, got 0",
        ));
    }
    AdvisorSettings {
        segment_fields: raw.segment_fields.clone(),
        size_bands: raw.size_bands.clone(),
        min_records: raw.min_records,
    }
}
