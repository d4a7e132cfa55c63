//! The `/_sandbox/...` control endpoints tests and the benchmark use to observe and
//! steer the vendors. No key needed: the sandbox only ever listens on loopback.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::catalog::Vendor;
use super::faults::{ScriptSpec, TokenBucket, VendorSettings};
use super::pipeline::{lock, VendorRuntime};
use super::{SandboxState, VendorCounters};

/// All control routes, to be merged into the sandbox router.
pub(crate) fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/_sandbox/healthz", get(|| async { "ok" }))
        .route("/_sandbox/counters", get(counters))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/script/{vendor}", post(script))
        .route(
            "/_sandbox/vendors/{vendor}",
            get(get_settings).put(put_settings),
        )
        .route("/_sandbox/timeline/{vendor}", get(timeline))
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"message": message}))).into_response()
}

/// Resolves the `{vendor}` path segment.
fn runtime<'a>(state: &'a SandboxState, id: &str) -> Option<&'a VendorRuntime> {
    Vendor::from_id(id).map(|v| &state.vendors[v.index()])
}

fn unknown_vendor(id: &str) -> Response {
    let body = Json(json!({"message": format!("unknown vendor {id:?}")}));
    (StatusCode::NOT_FOUND, body).into_response()
}

/// Snapshot of every vendor's counters, keyed by vendor id.
pub(crate) fn snapshot(state: &SandboxState) -> BTreeMap<String, VendorCounters> {
    Vendor::ALL
        .into_iter()
        .map(|v| {
            (
                v.id().to_string(),
                lock(&state.vendors[v.index()].counters).clone(),
            )
        })
        .collect()
}

/// Zeroes counters, timelines and fault sequence numbers, drops pending scripts and
/// refills rate buckets; fault settings are kept.
pub(crate) fn reset_all(state: &SandboxState) {
    let now = Instant::now();
    for runtime in &state.vendors {
        *lock(&runtime.counters) = VendorCounters::default();
        lock(&runtime.timeline).clear();
        let mut faults = lock(&runtime.faults);
        faults.script.clear();
        faults.next_seq = 0;
        faults.bucket = TokenBucket::new(faults.settings.rate_limit_per_sec, now);
    }
}

async fn counters(State(state): State<Arc<SandboxState>>) -> Response {
    Json(snapshot(&state)).into_response()
}

async fn reset(State(state): State<Arc<SandboxState>>) -> Response {
    reset_all(&state);
    Json(snapshot(&state)).into_response()
}

/// A script is a list of responses, or a single one for convenience.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScriptBody {
    Many(Vec<ScriptSpec>),
    One(ScriptSpec),
}

async fn script(
    State(state): State<Arc<SandboxState>>,
    Path(vendor): Path<String>,
    body: Bytes,
) -> Response {
    let Some(runtime) = runtime(&state, &vendor) else {
        return unknown_vendor(&vendor);
    };
    let specs = match serde_json::from_slice::<ScriptBody>(&body) {
        Ok(ScriptBody::Many(specs)) => specs,
        Ok(ScriptBody::One(spec)) => vec![spec],
        Err(e) => return bad_request(format!("invalid script: {e}")),
    };
    // Compile all before queueing any, so a bad entry leaves the queue untouched.
    let compiled: Result<Vec<_>, String> = specs.into_iter().map(ScriptSpec::compile).collect();
    match compiled {
        Ok(entries) => {
            let mut faults = lock(&runtime.faults);
            faults.script.extend(entries);
            Json(json!({"queued": faults.script.len()})).into_response()
        }
        Err(message) => bad_request(message),
    }
}

async fn get_settings(
    State(state): State<Arc<SandboxState>>,
    Path(vendor): Path<String>,
) -> Response {
    match runtime(&state, &vendor) {
        Some(r) => Json(lock(&r.faults).settings.clone()).into_response(),
        None => unknown_vendor(&vendor),
    }
}

async fn put_settings(
    State(state): State<Arc<SandboxState>>,
    Path(vendor): Path<String>,
    body: Bytes,
) -> Response {
    let Some(runtime) = runtime(&state, &vendor) else {
        return unknown_vendor(&vendor);
    };
    match serde_json::from_slice::<VendorSettings>(&body) {
        Ok(settings) => {
            lock(&runtime.faults).replace_settings(settings.clone(), Instant::now());
            Json(settings).into_response()
        }
        Err(e) => bad_request(format!("invalid vendor settings: {e}")),
    }
}

async fn timeline(State(state): State<Arc<SandboxState>>, Path(vendor): Path<String>) -> Response {
    match runtime(&state, &vendor) {
        // Cloned under the lock, serialised outside it.
        Some(r) => {
            let times = lock(&r.timeline).clone();
            Json(times).into_response()
        }
        None => unknown_vendor(&vendor),
    }
}
