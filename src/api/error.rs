//! The one error type of the control API and its one JSON body
//! ([`ErrorBody`]). Handlers return [`ApiError`]; the status code is chosen in
//! one `match`, and internal failures are logged here and reach the client
//! only as "internal error".

use crate::control::{ControlError, ErrorBody};
use crate::quoted::{quoted, shorten_message};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use thiserror::Error;

/// Why a control API request failed.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The record (or route) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or invalid; the text names the problem.
    #[error("{0}")]
    BadRequest(String),
    /// The daemon's configuration files have errors (a reload was refused).
    #[error("{0}")]
    ConfigInvalid(String),
    /// The body is over the route's size cap.
    #[error("{0}")]
    TooLarge(String),
    /// No bearer token, or the wrong one.
    #[error("missing or wrong bearer token")]
    Unauthorized,
    /// The store or a task failed. Logged; the client sees "internal error".
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status for this error: the only place that decides it.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::ConfigInvalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        match e {
            // Not the error's own text: it would quote the whole id from the URL.
            ControlError::NotFound(id) => {
                ApiError::NotFound(format!("no record with id {}", quoted(&id)))
            }
            ControlError::BadRequest(m) => ApiError::BadRequest(m),
            ControlError::Config(m) => ApiError::ConfigInvalid(m),
            ControlError::Store(s) => ApiError::Internal(format!("store: {s}")),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        // axum's text names the problem (syntax error with line and column,
        // unknown field, missing content type): good enough for a person,
        // once the keys and values it quotes are cut.
        let text = shorten_message(&r.body_text());
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(text)
        } else {
            ApiError::BadRequest(text)
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::BadRequest(shorten_message(&r.body_text()))
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::Internal(format!("control task failed: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let error = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "control API request failed");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut resp = (status, Json(ErrorBody { error })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}
