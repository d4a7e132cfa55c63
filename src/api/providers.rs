//! `POST /v1/providers/{id}/resume`: lift a kill-switch pause by hand, as
//! done by [`Control::resume_provider`].

use super::ApiError;
use crate::control::{Control, ResumeResult};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};

/// The providers routes.
pub fn router() -> Router<Control> {
    Router::new().route("/v1/providers/{id}/resume", post(resume))
}

async fn resume(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<Json<ResumeResult>, ApiError> {
    let lifted = control.resume_provider(&id)?;
    Ok(Json(ResumeResult {
        provider: id,
        lifted,
    }))
}
