//! The path every vendor request takes before the vendor's own logic runs:
//! timeline → auth → outage → rate limit → scripted response → fault draw →
//! latency → real answer, with exactly one counter outcome recorded per request.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::catalog::{Failure, Vendor};
use super::counters::{Outcome, VendorCounters};
use super::faults::{Admission, Fate, FaultState, VendorSettings, TIMEOUT_HANG};
use super::world::World;
use super::SandboxState;

/// Most arrival times kept per vendor; later arrivals are not recorded.
pub(crate) const TIMELINE_CAP: usize = 1_000_000;

/// Runtime state of one vendor.
#[derive(Debug)]
pub(crate) struct VendorRuntime {
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) counters: Mutex<VendorCounters>,
    /// Arrival times in ms since sandbox start.
    pub(crate) timeline: Mutex<Vec<u64>>,
}

impl VendorRuntime {
    pub(crate) fn new(settings: VendorSettings, now: Instant) -> Self {
        Self {
            faults: Mutex::new(FaultState::new(settings, now)),
            counters: Mutex::new(VendorCounters::default()),
            timeline: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, outcome: Outcome) {
        lock(&self.counters).record(outcome);
    }
}

/// Locks a mutex, ignoring poisoning: the guarded data stays consistent because no
/// code path panics half-way through an update, and the sandbox must keep serving.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a vendor's own logic sees.
pub(crate) struct Call<'a> {
    pub(crate) world: &'a World,
    pub(crate) seed: u64,
    /// Coverage overrides by seniority (see `SandboxSettings::coverage_by_seniority`).
    pub(crate) coverage:
        &'a std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
    /// Whole tokens left in the rate-limit bucket, when a limit is configured.
    pub(crate) remaining: Option<u32>,
}

impl Call<'_> {
    /// Whether `vendor` knows this person, with the seniority overrides applied.
    pub(crate) fn knows_person(&self, vendor: super::catalog::Vendor, p: &super::Person) -> bool {
        match self
            .coverage
            .get(vendor.id())
            .and_then(|m| m.get(&p.seniority))
        {
            Some(c) => super::rng::stable_unit(self.seed, &[vendor.id(), "coverage", &p.id]) < *c,
            None => vendor.knows(self.seed, &p.id),
        }
    }
}

/// A vendor's real answer and how to count it.
pub(crate) struct Answer {
    pub(crate) response: Response,
    pub(crate) outcome: Outcome,
}

impl Answer {
    /// Convenience for the usual JSON answers.
    pub(crate) fn json(status: StatusCode, body: serde_json::Value, outcome: Outcome) -> Self {
        Self {
            response: (status, axum::Json(body)).into_response(),
            outcome,
        }
    }

    /// A refusal worded by the vendor and counted as an error.
    pub(crate) fn failure(vendor: Vendor, failure: &Failure) -> Self {
        Self {
            response: vendor.failure(failure),
            outcome: Outcome::Error,
        }
    }
}

/// What was decided under the fault lock, acted on after releasing it.
enum Decision {
    Respond(Response, Outcome),
    Scripted(super::faults::Scripted),
    Proceed {
        fate: Fate,
        latency: Duration,
        remaining: Option<u32>,
    },
}

/// Runs the full request path for `vendor`; `answer` produces the real answer.
pub(crate) async fn handle(
    state: &SandboxState,
    vendor: Vendor,
    key: Option<&str>,
    answer: impl FnOnce(&Call<'_>) -> Answer,
) -> Response {
    let runtime = &state.vendors[vendor.index()];
    let now = Instant::now();
    let elapsed_ms = now.saturating_duration_since(state.started).as_millis() as u64;
    {
        let mut timeline = lock(&runtime.timeline);
        if timeline.len() < TIMELINE_CAP {
            timeline.push(elapsed_ms);
        }
    }

    if key.map(str::trim) != Some(vendor.api_key()) {
        runtime.record(Outcome::Error);
        return vendor.failure(&Failure::Unauthorized);
    }

    let decision = {
        let mut faults = lock(&runtime.faults);
        if faults.settings.in_outage(elapsed_ms) {
            Decision::Respond(vendor.failure(&Failure::Outage), Outcome::Error)
        } else {
            match faults.bucket.try_acquire(now) {
                Admission::Limited(secs) => Decision::Respond(
                    vendor.failure(&Failure::RateLimited(secs)),
                    Outcome::RateLimited,
                ),
                Admission::Allowed(remaining) => match faults.script.pop_front() {
                    Some(scripted) => Decision::Scripted(scripted),
                    None => {
                        let seq = faults.next_seq;
                        faults.next_seq += 1;
                        Decision::Proceed {
                            fate: faults.settings.draw(state.seed, vendor.id(), seq),
                            latency: Duration::from_millis(faults.settings.latency_ms),
                            remaining,
                        }
                    }
                },
            }
        }
    };

    let (fate, latency, remaining) = match decision {
        Decision::Respond(response, outcome) => {
            runtime.record(outcome);
            return response;
        }
        Decision::Scripted(scripted) => {
            runtime.record(scripted.outcome());
            if !scripted.delay.is_zero() {
                tokio::time::sleep(scripted.delay).await;
            }
            return (scripted.status, scripted.headers, scripted.body).into_response();
        }
        Decision::Proceed {
            fate,
            latency,
            remaining,
        } => (fate, latency, remaining),
    };

    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fate {
        Fate::Normal => {
            let call = Call {
                world: &state.world,
                seed: state.seed,
                coverage: &state.coverage,
                remaining,
            };
            let answer = answer(&call);
            runtime.record(answer.outcome);
            answer.response
        }
        Fate::ServerError => {
            runtime.record(Outcome::Error);
            vendor.failure(&Failure::ServerError)
        }
        Fate::Timeout => {
            // Counted before hanging so counters reflect it while the client waits.
            runtime.record(Outcome::Error);
            tokio::time::sleep(TIMEOUT_HANG).await;
            vendor.failure(&Failure::Timeout)
        }
        Fate::Malformed => {
            runtime.record(Outcome::Error);
            malformed_response()
        }
    }
}

/// 200 with a JSON body cut off mid-string, as a flaky proxy might deliver it.
fn malformed_response() -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, "{\"data\":{\"id\":\"trunc").into_response()
}

/// Query-string parameters, trimmed, empty values dropped, first occurrence wins.
/// Never fails: bad percent-encoding is decoded leniently, as real vendors do.
pub(crate) fn query_params(raw: Option<&str>) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        if !v.is_empty() {
            params
                .entry(k.into_owned())
                .or_insert_with(|| v.to_string());
        }
    }
    params
}

/// A header's value as text, if present and valid visible ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
