//! Configuration: loads `config/leadfall.toml` and every provider definition,
//! runs every check, and returns [`Settings`] or all the errors at once, each
//! naming its file and key. Reads files; opens no store and no socket.

mod file;

pub use file::{ConfigFile, CustomFieldFile, DaemonFile, EngineFile, ProviderOverrideFile};

use crate::diag::{toml_error, ConfigError, ConfigErrors};
use crate::model::{Catalogue, FieldDef};
use crate::provider::{compile_provider_with, config::ProviderFile, Overrides, ProviderSet};
use crate::waterfall::{compile_waterfalls, WaterfallSettings};
use std::path::{Path, PathBuf};

/// Everything the engine needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file it came from.
    pub config_path: PathBuf,
    /// Store directory.
    pub data_dir: PathBuf,
    /// Which store: sled in `data_dir` or a shared PostgreSQL database.
    pub store: crate::store::Backend,
    /// Field catalogue (standard + custom).
    pub catalogue: Catalogue,
    /// Providers by id.
    pub providers: ProviderSet,
    /// Provider definition files read, for `check`.
    pub provider_files: Vec<PathBuf>,
    /// A digest of those files' paths and texts: a reload rebuilds the
    /// executor (limiters, circuits) only when it changes.
    pub providers_digest: u64,
    /// Waterfalls.
    pub waterfall: WaterfallSettings,
    /// Records in flight.
    pub records_in_flight: usize,
    /// Daemon settings.
    pub daemon: DaemonSettings,
    /// Source precedence.
    pub precedence: crate::model::Precedence,
    /// Scores and routes, when both files are configured.
    pub decisions: Option<Decisions>,
    /// Event sinks.
    pub sinks: Vec<crate::sink::Sink>,
    /// Credit caps per day and month, in total and per provider.
    pub budgets: crate::budget::BudgetSettings,
    /// Kill-switch rules per provider.
    pub kill_switch: crate::executor::KillSwitchSettings,
    /// The order advisor's segments and evidence threshold.
    pub advisor: crate::advisor::AdvisorSettings,
}

/// Scoring and routing together: routes read the scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Decisions {
    /// Scores.
    pub scoring: crate::score::ScoringSettings,
    /// Routes.
    pub routing: crate::route::RoutingSettings,
}

/// Read and compile a TOML file into `T` with `compile`, gathering errors.
fn load_toml<R: serde::de::DeserializeOwned, T>(
    path: &Path,
    errors: &mut Vec<ConfigError>,
    compile: impl FnOnce(&R, &mut Vec<ConfigError>) -> T,
) -> Option<T> {
    let text = read(path, errors)?;
    match toml::from_str::<R>(&text) {
        Ok(raw) => Some(compile(&raw, errors)),
        Err(e) => {
            errors.push(toml_error(path, &text, &e));
            None
        }
    }
}

/// Validated `[daemon]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// Control API address.
    pub listen: std::net::SocketAddr,
    /// Workers.
    pub workers: usize,
    /// Lease length.
    pub lease: std::time::Duration,
    /// Shortest requeue delay.
    pub min_requeue: std::time::Duration,
    /// Decay rescan period (`None`: off).
    pub rescore_every: Option<std::time::Duration>,
}

/// Loads the configuration again the way the daemon was started (same file,
/// environment and command-line overrides): what a reload runs.
#[derive(Clone)]
pub struct Loader(std::sync::Arc<dyn Fn() -> Result<Settings, ConfigErrors> + Send + Sync>);

impl Loader {
    /// A loader running `f`.
    pub fn new(f: impl Fn() -> Result<Settings, ConfigErrors> + Send + Sync + 'static) -> Loader {
        Loader(std::sync::Arc::new(f))
    }

    /// A loader that always gives `settings` (benchmarks and tests built in code).
    pub fn fixed(settings: Settings) -> Loader {
        Loader::new(move || Ok(settings.clone()))
    }

    /// Load.
    pub fn load(&self) -> Result<Settings, ConfigErrors> {
        (self.0)()
    }
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loader")
    }
}

/// Environment lookup used for secrets and URL overrides.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn read(path: &Path, errors: &mut Vec<ConfigError>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(ConfigError::at(path, "", format!("cannot read: {e}")));
            None
        }
    }
}

/// Only the data directory named by the configuration at `path`: clients use
/// it to find the daemon, even while another file of the config has errors.
pub fn data_dir_of(path: &Path) -> Result<PathBuf, ConfigErrors> {
    #[derive(serde::Deserialize)]
    struct DataDirOnly {
        #[serde(default = "file::default_data_dir")]
        data_dir: String,
    }
    let mut errors = Vec::new();
    let text = read(path, &mut errors).ok_or_else(|| ConfigErrors(errors.clone()))?;
    let raw: DataDirOnly =
        toml::from_str(&text).map_err(|e| ConfigErrors(vec![toml_error(path, &text, &e)]))?;
    Ok(path.parent().unwrap_or(Path::new(".")).join(raw.data_dir))
}

/// Load and check the configuration at `path`.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigErrors> {
    let mut errors = Vec::new();
    let text = read(path, &mut errors).ok_or_else(|| ConfigErrors(errors.clone()))?;
    let raw: ConfigFile =
        toml::from_str(&text).map_err(|e| ConfigErrors(vec![toml_error(path, &text, &e)]))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut catalogue = Catalogue::standard();
    for (name, f) in &raw.fields {
        if catalogue.contains(name) {
            errors.push(ConfigError::at(
                path,
                format!("fields.\"{name}\""),
                "redefines a standard field",
            ));
        } else if !name.contains('.') {
            errors.push(ConfigError::at(
                path,
                format!("fields.\"{name}\""),
                "field names are dotted, like `company.funding_stage`",
            ));
        }
        catalogue.insert(FieldDef {
            name: name.as_str().into(),
            ty: f.ty.clone(),
            values: f.values.iter().map(|v| v.to_lowercase()).collect(),
            ttl_days: f.ttl_days,
        });
    }
    let mut providers = ProviderSet::default();
    let mut provider_files = Vec::new();
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    // Ids of every definition read, compiled or not (for `[providers.<id>]` checks).
    let mut loaded_ids = std::collections::BTreeSet::new();
    for dir in &raw.provider_dirs {
        // Canonical, so errors name `providers/x.toml`, not `config/../providers/x.toml`.
        let dir_path = base.join(dir);
        let dir_path = dir_path.canonicalize().unwrap_or(dir_path);
        let entries = match std::fs::read_dir(&dir_path) {
            Ok(e) => e,
            Err(e) => {
                errors.push(ConfigError::at(
                    path,
                    "provider_dirs",
                    format!("cannot read {}: {e}", dir_path.display()),
                ));
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let Some(text) = read(&file, &mut errors) else {
                continue;
            };
            std::hash::Hash::hash(&(&file, &text), &mut digest);
            let raw_p: ProviderFile = match toml::from_str(&text) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(toml_error(&file, &text, &e));
                    continue;
                }
            };
            loaded_ids.insert(raw_p.id.clone());
            if providers.contains(&raw_p.id) {
                errors.push(ConfigError::at(
                    &file,
                    "id",
                    format!("provider id {:?} is defined twice", raw_p.id),
                ));
                continue;
            }
            if let Some(u) = raw
                .providers
                .get(&raw_p.id)
                .and_then(|o| o.webhook_url.as_ref())
            {
                if !url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
                    errors.push(ConfigError::at(
                        path,
                        format!("providers.{}.webhook_url", raw_p.id),
                        format!("{u:?} is not an http(s) URL"),
                    ));
                }
            }
            let overrides = raw
                .providers
                .get(&raw_p.id)
                .map(|o| Overrides {
                    base_url: o.base_url.clone(),
                    key_env: o.key_env.clone(),
                    webhook_url: o.webhook_url.clone(),
                })
                .unwrap_or_default();
            if let Some(p) =
                compile_provider_with(&file, raw_p, &catalogue, env, &overrides, &mut errors)
            {
                providers.insert(p);
            }
            provider_files.push(file);
        }
    }
    for id in raw.providers.keys() {
        if !loaded_ids.contains(id) {
            errors.push(ConfigError::at(
                path,
                format!("providers.{id}"),
                format!("no provider {id:?} in provider_dirs"),
            ));
        }
    }
    let mut waterfall =
        compile_waterfalls(path, &raw.waterfall, &providers, &catalogue, &mut errors);
    let advisor = crate::advisor::compile_advisor(path, &raw.advisor, &catalogue, &mut errors);
    waterfall.segment_bands = advisor.size_bands.clone();
    // A record in several segments uses the order of the first in `advisor.segment_fields`.
    for w in &mut waterfall.fields {
        w.segments.sort_by_key(|(f, _, _)| {
            advisor
                .segment_fields
                .iter()
                .position(|s| s == f)
                .unwrap_or(usize::MAX)
        });
    }
    if raw.engine.records_in_flight == 0 {
        errors.push(ConfigError::at(
            path,
            "engine.records_in_flight",
            "must be ≥ 1, got 0",
        ));
    }
    let d = &raw.daemon;
    let listen = match d.listen.parse::<std::net::SocketAddr>() {
        Ok(a) if !a.ip().is_loopback() && !d.allow_non_loopback => {
            errors.push(ConfigError::at(path, "daemon.listen", format!("{a} is not a loopback address; set daemon.allow_non_loopback = true to expose the control API")));
            a
        }
        Ok(a) => a,
        Err(_) => {
            errors.push(ConfigError::at(
                path,
                "daemon.listen",
                format!("{:?} is not an address like 127.0.0.1:7878", d.listen),
            ));
            std::net::SocketAddr::from(([127, 0, 0, 1], 7878))
        }
    };
    if d.workers == 0 {
        errors.push(ConfigError::at(
            path,
            "daemon.workers",
            "must be ≥ 1, got 0",
        ));
    }
    if d.lease_secs == 0 {
        errors.push(ConfigError::at(
            path,
            "daemon.lease_secs",
            "must be ≥ 1, got 0",
        ));
    }
    let decisions = match (&raw.scoring_file, &raw.routing_file) {
        (None, None) => None,
        (Some(sf), Some(rf)) => {
            let sp = base.join(sf);
            let rp = base.join(rf);
            let scoring = load_toml(&sp, &mut errors, |r: &crate::score::ScoringFile, e| {
                crate::score::compile_scoring(&sp, r, &catalogue, e)
            });
            let routing = load_toml(&rp, &mut errors, |r: &crate::route::RoutingFile, e| {
                crate::route::compile_routing(&rp, r, &catalogue, e)
            });
            scoring
                .zip(routing)
                .map(|(scoring, routing)| Decisions { scoring, routing })
        }
        _ => {
            errors.push(ConfigError::at(
                path,
                "scoring_file",
                "scoring_file and routing_file go together (routes read the scores)",
            ));
            None
        }
    };
    let store = match &raw.store {
        None => crate::store::Backend::Sled,
        Some(url) => match crate::store::postgres::PgUrl::parse(url) {
            Ok(u) => crate::store::Backend::Postgres(Box::new(u)),
            Err(e) => {
                errors.push(ConfigError::at(path, "store", e));
                crate::store::Backend::Sled
            }
        },
    };
    let sinks = crate::sink::compile_sinks(path, &raw.sinks, env, &mut errors);
    let budgets = crate::budget::compile_budgets(path, &raw.budgets, &providers, &mut errors);
    let kill_switch =
        crate::executor::compile_kill_switch(path, &raw.kill_switch, &providers, &mut errors);
    let known_source = |s: &str| {
        crate::model::SOURCE_CLASSES.contains(&s)
            || providers.operation(s).is_some()
            || providers.contains(s)
    };
    let orders = std::iter::once(("precedence.order".to_string(), &raw.precedence.order)).chain(
        raw.precedence
            .fields
            .iter()
            .map(|(f, o)| (format!("precedence.fields.\"{f}\""), o)),
    );
    for (key, order) in orders {
        for s in order {
            if !known_source(s) {
                errors.push(ConfigError::at(path, key.clone(), format!("{s:?} is not manual, input, vendor, guess, a provider id or an operation id")));
            }
        }
    }
    for f in raw.precedence.fields.keys() {
        if !catalogue.contains(f) {
            errors.push(ConfigError::at(
                path,
                format!("precedence.fields.\"{f}\""),
                format!("unknown field {f:?}"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Settings {
        config_path: path.to_path_buf(),
        data_dir: base.join(&raw.data_dir),
        store,
        catalogue,
        providers,
        provider_files,
        providers_digest: std::hash::Hasher::finish(&digest),
        waterfall,
        records_in_flight: raw.engine.records_in_flight,
        decisions,
        sinks,
        budgets,
        kill_switch,
        advisor,
        precedence: crate::model::Precedence {
            default: raw.precedence.order.clone(),
            fields: raw.precedence.fields.clone(),
        },
        daemon: DaemonSettings {
            listen,
            workers: raw.daemon.workers,
            lease: std::time::Duration::from_secs(raw.daemon.lease_secs),
            min_requeue: std::time::Duration::from_secs(raw.daemon.min_requeue_secs),
            rescore_every: (raw.daemon.rescore_every_secs > 0)
                .then(|| std::time::Duration::from_secs(raw.daemon.rescore_every_secs)),
        },
    })
}
