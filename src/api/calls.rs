//! `GET /v1/calls`: calls and credits per provider from the ledger, as built
//! by [`Control::calls`].

use super::{blocking, ApiError};
use crate::control::Control;
use crate::engine::Summary;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

/// The calls route.
pub fn router() -> Router<Control> {
    Router::new().route("/v1/calls", get(calls))
}

async fn calls(State(control): State<Control>) -> Result<Json<Summary>, ApiError> {
    // Reads the whole ledger.
    Ok(Json(blocking(move || control.calls()).await?))
}
