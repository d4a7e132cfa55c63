//! `GET /v1/report?from=..&to=..`: the provider cost/coverage report, as
//! built by [`Control::report`]. Times are RFC 3339; the window is widened
//! to whole hours.

use super::{blocking, ApiError, ApiQuery};
use crate::control::{Control, ControlError};
use crate::report::{parse_time, Report, Window};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;

/// The report route.
pub fn router() -> Router<Control> {
    Router::new()
        .route("/v1/report", get(report))
        .route("/v1/advice", get(advice))
}

/// Query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    from: String,
    to: String,
}

fn window(q: &ReportQuery) -> Result<Window, ControlError> {
    let bad = |e: crate::report::WindowError| ControlError::BadRequest(e.to_string());
    Window::new(
        parse_time(&q.from).map_err(bad)?,
        parse_time(&q.to).map_err(bad)?,
    )
    .map_err(bad)
}

/// `GET /v1/advice?from=..&to=..`: the order advice (reads the ledger rows of the window).
async fn advice(
    State(control): State<Control>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<crate::advisor::Advice>, ApiError> {
    let window = window(&q)?;
    Ok(Json(blocking(move || control.advice(window)).await?))
}

async fn report(
    State(control): State<Control>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Json<Report>, ApiError> {
    let window = window(&q)?;
    // Reads the call counters and scans the records.
    Ok(Json(
        blocking(move || control.report(window, Utc::now())).await?,
    ))
}
