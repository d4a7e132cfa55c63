//! `POST /v1/reenrich`: select records and queue them again (or count and
//! price them for a dry run). Selection rules live in [`Control::reenrich`].

use super::extract::ApiJson;
use super::{blocking, ApiError};
use crate::control::{Control, ReenrichRequest, ReenrichSummary};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;

/// The reenrich route.
pub fn router() -> Router<Control> {
    Router::new().route("/v1/reenrich", post(reenrich))
}

async fn reenrich(
    State(control): State<Control>,
    ApiJson(req): ApiJson<ReenrichRequest>,
) -> Result<Json<ReenrichSummary>, ApiError> {
    // Selection scans the store.
    let summary = blocking(move || control.reenrich(&req, Utc::now())).await?;
    Ok(Json(summary))
}
