//! The sandbox: five simulated enrichment vendors served over real HTTP, answering
//! from a deterministic synthetic [`World`].
//!
//! Each vendor copies the request and response shapes of a real one (Hunter, People
//! Data Labs, Apollo, Clearbit, ZeroBounce) and knows a deterministic subset of the
//! world. Faults (rate limits, latency, errors, hangs, malformed bodies, outages,
//! scripted responses) are configured per vendor through [`VendorSettings`] or the
//! `/_sandbox/...` control endpoints. Counters record what each vendor would have
//! billed, so leadfall's own credit ledger can be reconciled against them.
//!
//! Used by the demo, the benchmark and the integration tests; start it with
//! [`serve`] on a loopback listener.

mod catalog;
mod companyapi;
mod control;
mod counters;
mod faults;
mod generate;
mod mailfinder;
mod peoplematch;
mod personapi;
mod pipeline;
mod rng;
mod verifier;
mod world;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

pub use catalog::API_KEYS;
pub use counters::VendorCounters;
pub use faults::VendorSettings;
pub use world::{country_name, employee_range, Company, Person, SampleLead, World};

use catalog::Vendor;
use pipeline::{lock, VendorRuntime};

/// How to build a sandbox. Every field has a default, so `{}` is a valid config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxSettings {
    /// Seed of the synthetic world and of every deterministic draw (default 42).
    pub seed: u64,
    /// Number of companies (default 400).
    pub companies: usize,
    /// Number of people (default 2000).
    pub people: usize,
    /// Fault settings per vendor id; vendors not listed behave perfectly.
    pub vendors: BTreeMap<String, VendorSettings>,
    /// Coverage of the people vendors (`mailfinder`, `personapi`, `peoplematch`)
    /// by the person's seniority, replacing the vendor's usual fraction:
    /// `{ peoplematch = { vp = 0.9, entry = 0.2 } }`. A world where the best
    /// waterfall order differs by segment.
    pub coverage_by_seniority: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            seed: 42,
            companies: 400,
            people: 2000,
            vendors: BTreeMap::new(),
            coverage_by_seniority: BTreeMap::new(),
        }
    }
}

/// Shared state behind every handler.
pub(crate) struct SandboxState {
    pub(crate) seed: u64,
    pub(crate) world: World,
    /// Coverage overrides: vendor → seniority → fraction.
    pub(crate) coverage: BTreeMap<String, BTreeMap<String, f64>>,
    /// Reference point for outage windows and timelines.
    pub(crate) started: Instant,
    /// Indexed by `Vendor::index`.
    pub(crate) vendors: Vec<VendorRuntime>,
}

/// A running-state handle to the simulated vendors; cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    state: Arc<SandboxState>,
}

impl fmt::Debug for Sandbox {
    // The world is thousands of records; keep debug output readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("seed", &self.state.seed)
            .field("companies", &self.state.world.companies.len())
            .field("people", &self.state.world.people.len())
            .finish()
    }
}

impl Sandbox {
    /// Generates the world and sets up every vendor. The outage clock starts now.
    /// Settings for unknown vendor ids are ignored with a warning.
    pub fn new(settings: SandboxSettings) -> Sandbox {
        for id in settings.vendors.keys() {
            if Vendor::from_id(id).is_none() {
                tracing::warn!(vendor = %id, "sandbox settings name an unknown vendor; ignored");
            }
        }
        let world = World::generate(settings.seed, settings.companies, settings.people);
        let started = Instant::now();
        let vendors = Vendor::ALL
            .into_iter()
            .map(|v| {
                let vendor_settings = settings.vendors.get(v.id()).cloned().unwrap_or_default();
                VendorRuntime::new(vendor_settings, started)
            })
            .collect();
        let state = SandboxState {
            seed: settings.seed,
            world,
            coverage: settings.coverage_by_seniority.clone(),
            started,
            vendors,
        };
        Sandbox {
            state: Arc::new(state),
        }
    }

    /// The synthetic world the vendors answer from (the ground truth for scoring).
    pub fn world(&self) -> &World {
        &self.state.world
    }

    /// Snapshot of every vendor's counters, keyed by vendor id (all five present).
    pub fn counters(&self) -> BTreeMap<String, VendorCounters> {
        control::snapshot(&self.state)
    }

    /// Same as `POST /_sandbox/reset`: zeroes counters, timelines and fault sequence
    /// numbers, drops pending scripted responses and refills rate buckets.
    pub fn reset(&self) {
        control::reset_all(&self.state);
    }

    /// Replaces one vendor's fault settings (same as `PUT /_sandbox/vendors/{vendor}`).
    /// Returns false if `vendor` is not a sandbox vendor id.
    pub fn set_vendor_settings(&self, vendor: &str, settings: VendorSettings) -> bool {
        let Some(v) = Vendor::from_id(vendor) else {
            return false;
        };
        lock(&self.state.vendors[v.index()].faults).replace_settings(settings, Instant::now());
        true
    }

    /// Queue scripted responses for a vendor, in the JSON shape `POST
    /// /_sandbox/script/{vendor}` takes (a list or one object). Used by tests.
    pub fn script(&self, vendor: &str, script: serde_json::Value) -> Result<usize, String> {
        let v = Vendor::from_id(vendor).ok_or_else(|| format!("unknown vendor {vendor:?}"))?;
        let specs: Vec<faults::ScriptSpec> = match script {
            serde_json::Value::Array(_) => serde_json::from_value(script),
            one => serde_json::from_value(one).map(|s| vec![s]),
        }
        .map_err(|e| format!("invalid script: {e}"))?;
        let entries = specs
            .into_iter()
            .map(faults::ScriptSpec::compile)
            .collect::<Result<Vec<_>, _>>()?;
        let mut f = lock(&self.state.vendors[v.index()].faults);
        f.script.extend(entries);
        Ok(f.script.len())
    }

    /// Request arrival times for a vendor, in ms since the sandbox started.
    pub fn timeline(&self, vendor: &str) -> Vec<u64> {
        Vendor::from_id(vendor)
            .map(|v| lock(&self.state.vendors[v.index()].timeline).clone())
            .unwrap_or_default()
    }

    /// The environment a `leadfall` child process needs to use the sandbox
    /// at `base` (each vendor's base URL and key).
    pub fn child_env(base: &str) -> Vec<(String, String)> {
        API_KEYS
            .iter()
            .flat_map(|(vendor, key)| {
                let up = vendor.to_uppercase();
                [
                    (
                        format!("LEADFALL_PROVIDER_{up}_BASE_URL"),
                        format!("{base}/{vendor}"),
                    ),
                    (format!("LEADFALL_SANDBOX_KEY_{up}"), key.to_string()),
                ]
            })
            .collect()
    }

    /// An environment lookup for configs pointed at this sandbox at `base`
    /// (`http://127.0.0.1:PORT`): provider base URLs and API keys come from the
    /// sandbox, every other variable from the process.
    pub fn provider_env(base: String) -> impl Fn(&str) -> Option<String> + Send + Sync + Clone {
        move |name: &str| {
            if let Some(id) = name
                .strip_prefix("LEADFALL_PROVIDER_")
                .and_then(|r| r.strip_suffix("_BASE_URL"))
            {
                let id = id.to_lowercase();
                if API_KEYS.iter().any(|(v, _)| *v == id) {
                    return Some(format!("{base}/{id}"));
                }
            }
            if let Some(v) = name.strip_prefix("LEADFALL_SANDBOX_KEY_") {
                let v = v.to_lowercase();
                return API_KEYS
                    .iter()
                    .find(|(id, _)| *id == v)
                    .map(|(_, k)| k.to_string());
            }
            std::env::var(name).ok()
        }
    }

    /// The whole app: the five vendors under `/<vendor_id>/...` plus `/_sandbox/...`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/mailfinder/v2/email-finder", get(mailfinder::email_finder))
            .route("/personapi/v5/person/enrich", get(personapi::enrich))
            .route(
                "/peoplematch/api/v1/people/match",
                post(peoplematch::people_match),
            )
            .route(
                "/companyapi/v2/companies/find",
                get(companyapi::companies_find),
            )
            .route("/companyapi/v1/domains/find", get(companyapi::domains_find))
            .route("/verifier/v2/validate", get(verifier::validate))
            .merge(control::routes())
            .with_state(Arc::clone(&self.state))
    }
}

/// Whether a sandbox vendor knows an entity (a person or company id) in the
/// world made from `seed`: the ground truth tests pick their examples by.
pub fn vendor_knows(vendor: &str, seed: u64, entity_id: &str) -> bool {
    Vendor::from_id(vendor).is_some_and(|v| v.knows(seed, entity_id))
}

/// Serves `sandbox` on an already-bound listener until `shutdown` resolves.
///
/// Shutdown is graceful: requests in flight are finished first, which for a request
/// caught in an injected 60 s hang means waiting for it (or for its client to leave).
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Sandbox,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, sandbox.router())
        .with_graceful_shutdown(shutdown)
        .await
}
