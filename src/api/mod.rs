//! The control API (axum): one router per area, merged here behind the token
//! middleware; `/healthz` alone is open. Handlers translate HTTP ↔
//! [`Control`] calls; rules live in `control/` and below. The daemon binds the
//! listener and serves [`router`]; nothing here opens sockets.
//!
//! Bodies are capped: 32 MiB for `POST /v1/records` (import batches), 64 KiB
//! everywhere else. Every error is an [`ErrorBody`](crate::control::ErrorBody).

mod auth;
mod calls;
mod error;
mod export;
mod extract;
mod health;
pub mod metrics;
mod providers;
mod records;
mod reenrich;
mod reload;
mod report;
mod status;
mod webhooks;

#[cfg(test)]
mod tests;

pub use auth::{Token, TOKEN_FILE};
pub use error::ApiError;
pub use extract::{ApiJson, ApiQuery};
pub use records::UPSERT_BODY_LIMIT_BYTES;

use crate::control::{Control, ControlError};
use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::sync::Arc;

/// The file in the data directory where the daemon writes the address it
/// bound (`127.0.0.1:41234`), for the CLI to find.
pub const ADDR_FILE: &str = "control.addr";

/// Body cap for every route but the upsert.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The whole control API.
pub fn router(control: Control, token: Token) -> Router {
    let guarded = Router::new()
        .merge(records::router())
        .merge(reenrich::router())
        .merge(reload::router())
        .merge(status::router())
        .merge(calls::router())
        .merge(report::router())
        .merge(providers::router())
        .merge(export::router())
        .merge(metrics::router())
        // Layers wrap the routes above only: health stays outside the token check.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            auth::require_token,
        ))
        .with_state(control.clone());
    // Vendors sign their posts; they cannot send our token.
    let signed = webhooks::router().with_state(control.clone());
    Router::new()
        .merge(health::router())
        .merge(signed)
        .merge(guarded)
        // Outermost, so a route's own `DefaultBodyLimit` (the upsert) overrides it.
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// Run a control call on the blocking pool (store scans and batch writes
/// must not stall the async workers).
async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ControlError> + Send + 'static,
    T: Send + 'static,
{
    Ok(tokio::task::spawn_blocking(f).await??)
}
