//! `/v1/records`: upsert a batch, show one record, add a signal. Handlers
//! translate HTTP to [`Control`] calls and nothing more.

use super::extract::ApiJson;
use super::{blocking, ApiError};
use crate::control::{Control, Signal, SignalRequest, StoredRecord, UpsertRequest, UpsertSummary};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;

/// Cap on an upsert body: a 5,000-record import batch is a few MiB; 32 MiB
/// leaves room for wide records without letting one request eat the heap.
pub const UPSERT_BODY_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// The records routes.
pub fn router() -> Router<Control> {
    Router::new()
        .route(
            "/v1/records",
            // A route layer sits inside the API-wide 64 KiB default, so it wins here.
            post(upsert).layer(DefaultBodyLimit::max(UPSERT_BODY_LIMIT_BYTES)),
        )
        .route("/v1/records/{id}", get(show))
        .route("/v1/records/{id}/signals", post(signal))
}

async fn upsert(
    State(control): State<Control>,
    ApiJson(req): ApiJson<UpsertRequest>,
) -> Result<Json<UpsertSummary>, ApiError> {
    // Merging a batch writes thousands of keys: keep it off the async workers.
    let summary = blocking(move || control.upsert(req.records, Utc::now())).await?;
    Ok(Json(summary))
}

async fn show(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<Json<StoredRecord>, ApiError> {
    Ok(Json(control.show(&id)?))
}

async fn signal(
    State(control): State<Control>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SignalRequest>,
) -> Result<StatusCode, ApiError> {
    let now = Utc::now();
    let signal = Signal {
        kind: req.kind,
        at: req.at.unwrap_or(now),
    };
    // The signal is flushed to disk before the answer: off the async workers.
    blocking(move || control.signal(&id, signal, now)).await?;
    Ok(StatusCode::NO_CONTENT)
}
