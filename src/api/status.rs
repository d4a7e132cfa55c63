//! `GET /v1/status`: queue counts and provider health, as built by
//! [`Control::status`].

use super::{blocking, ApiError};
use crate::control::{Control, Status};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;

/// The status route.
pub fn router() -> Router<Control> {
    Router::new().route("/v1/status", get(status))
}

async fn status(State(control): State<Control>) -> Result<Json<Status>, ApiError> {
    // Queue counts come from a store scan.
    let status = blocking(move || control.status(Utc::now())).await?;
    Ok(Json(status))
}
