//! `POST /v1/reload`: read the configuration files again and run with them.
//! A file with errors answers 422 with every error; the daemon keeps going.

use super::{blocking, ApiError};
use crate::control::{Control, ReloadSummary};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;

/// The reload route.
pub fn router() -> Router<Control> {
    Router::new().route("/v1/reload", post(reload))
}

async fn reload(State(control): State<Control>) -> Result<Json<ReloadSummary>, ApiError> {
    // Loading reads files and queueing scans the store.
    let summary = blocking(move || control.reload(Utc::now())).await?;
    Ok(Json(summary))
}
