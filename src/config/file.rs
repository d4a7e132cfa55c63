//! The raw `config/leadfall.toml` structure. Field docs are the user docs.

use crate::model::FieldType;
use crate::waterfall::WaterfallFile;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `config/leadfall.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Folders with provider definitions, relative to this file.
    #[serde(default = "default_provider_dirs")]
    pub provider_dirs: Vec<String>,
    /// Where the store lives, relative to this file.
    #[serde(default = "default_data_dir")]
    pub data_dir: String,
    /// Engine tuning.
    #[serde(default)]
    pub engine: EngineFile,
    /// Custom fields beyond the standard catalogue.
    #[serde(default)]
    pub fields: BTreeMap<String, CustomFieldFile>,
    /// Per-field waterfalls and guard rails.
    #[serde(default)]
    pub waterfall: WaterfallFile,
}

fn default_provider_dirs() -> Vec<String> {
    vec!["../providers/sandbox".to_string()]
}
fn default_data_dir() -> String {
    "../data".to_string()
}

/// `[engine]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineFile {
    /// Records enriched at once. In-flight provider calls are bounded by each
    /// provider's `max_concurrency`; this only bounds memory.
    #[serde(default = "default_records_in_flight")]
    pub records_in_flight: usize,
}

const fn default_records_in_flight() -> usize {
    512
}

impl Default for EngineFile {
    fn default() -> Self {
        EngineFile {
            records_in_flight: default_records_in_flight(),
        }
    }
}

/// `[fields."custom.name"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldFile {
    /// `string`, `email`, `domain`, `url`, `phone`, `integer`, `enum`, `list` or `bool`.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Allowed values for enums.
    #[serde(default)]
    pub values: Vec<String>,
    /// Days a provider-supplied value stays fresh.
    #[serde(default = "default_ttl_days")]
    pub ttl_days: u32,
}

const fn default_ttl_days() -> u32 {
    180
}
