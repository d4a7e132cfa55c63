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
    /// Where records, the queue, the cache and the ledger live: absent for the
    /// embedded store (sled, in `data_dir/store`), or a `postgres://` URL that
    /// several daemons share (each keeps its own `data_dir` for its lock,
    /// control address and token).
    #[serde(default)]
    pub store: Option<String>,
    /// Engine tuning.
    #[serde(default)]
    pub engine: EngineFile,
    /// Custom fields beyond the standard catalogue.
    #[serde(default)]
    pub fields: BTreeMap<String, CustomFieldFile>,
    /// Per-field waterfalls and guard rails.
    #[serde(default)]
    pub waterfall: WaterfallFile,
    /// The daemon (`leadfall serve`).
    #[serde(default)]
    pub daemon: DaemonFile,
    /// Which source wins when two disagree.
    #[serde(default)]
    pub precedence: PrecedenceFile,
    /// Scoring rules, relative to this file (absent: no scores).
    #[serde(default)]
    pub scoring_file: Option<String>,
    /// Routes, relative to this file (absent: no routes).
    #[serde(default)]
    pub routing_file: Option<String>,
    /// Where route-change events are delivered.
    #[serde(default)]
    pub sinks: Vec<crate::sink::SinkFile>,
    /// `[budgets]`: daily and monthly credit caps, in total and per provider.
    #[serde(default)]
    pub budgets: crate::budget::BudgetFile,
    /// `[kill_switch]`: pause a provider whose hit rate collapses or whose errors spike.
    #[serde(default)]
    pub kill_switch: crate::executor::KillSwitchFile,
    /// `[advisor]`: segments and evidence for `report --advise`.
    #[serde(default)]
    pub advisor: crate::advisor::AdvisorFile,
    /// Per-provider deployment overrides, keyed by provider id: where the vendor
    /// is reached and which variable holds its key. The environment wins:
    /// `LEADFALL_PROVIDER_<ID>_BASE_URL`, `LEADFALL_PROVIDER_<ID>_KEY_ENV`.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderOverrideFile>,
}

/// `[providers.<id>]`: a proxy, a regional endpoint or a test server, and the
/// key variable. Nothing else about the vendor changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderOverrideFile {
    /// Replaces the definition's `base_url`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Replaces the definition's `auth.env`: the environment variable holding the key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// This deployment's public URL for the vendor's job webhooks
    /// (`https://leads.example.com/v1/webhooks/<id>`, proxied to the daemon).
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// `[precedence]`: source order, highest first.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecedenceFile {
    /// Default order: classes `manual`, `input`, `vendor`, `guess`, provider ids or operation ids.
    #[serde(default = "default_precedence")]
    pub order: Vec<String>,
    /// Per-field orders, e.g. `"person.title" = ["manual", "peoplematch", "input", "vendor", "guess"]`.
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<String>>,
}

fn default_precedence() -> Vec<String> {
    crate::model::SOURCE_CLASSES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl Default for PrecedenceFile {
    fn default() -> Self {
        PrecedenceFile {
            order: default_precedence(),
            fields: BTreeMap::new(),
        }
    }
}

/// `[daemon]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonFile {
    /// Control API address. Loopback unless `allow_non_loopback`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Allow a control API address that is not loopback (it is token-protected, but think twice).
    #[serde(default)]
    pub allow_non_loopback: bool,
    /// Records worked on at once. Vendor concurrency is capped per provider; this bounds memory.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// How long a worker holds a record before another may take it over, in seconds.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// Shortest wait before a record is worked on again after a pass, in seconds
    /// (guards against hot loops when a retry time is already past).
    #[serde(default = "default_min_requeue_secs")]
    pub min_requeue_secs: u64,
    /// How often leads with behaviour signals are rescored so intent decays, in
    /// seconds (0: never).
    #[serde(default = "default_rescore_every_secs")]
    pub rescore_every_secs: u64,
}

const fn default_rescore_every_secs() -> u64 {
    3600
}

fn default_listen() -> String {
    "127.0.0.1:7878".to_string()
}
const fn default_workers() -> usize {
    256
}
const fn default_lease_secs() -> u64 {
    300
}
const fn default_min_requeue_secs() -> u64 {
    60
}

impl Default for DaemonFile {
    fn default() -> Self {
        DaemonFile {
            listen: default_listen(),
            allow_non_loopback: false,
            workers: default_workers(),
            lease_secs: default_lease_secs(),
            min_requeue_secs: default_min_requeue_secs(),
            rescore_every_secs: default_rescore_every_secs(),
        }
    }
}

fn default_provider_dirs() -> Vec<String> {
    vec!["../providers/sandbox".to_string()]
}
pub(super) fn default_data_dir() -> String {
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
