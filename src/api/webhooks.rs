//! `POST /v1/webhooks/{provider}`: an asynchronous vendor posts a finished
//! job. Vendors cannot send our bearer token, so this route is outside the
//! token check and trusts the vendor's signature instead (HMAC of the raw
//! body keyed with the provider's API key). The answer is kept with the open
//! job and the record queued; its next pass reads it instead of polling.

use crate::control::Control;
use crate::executor::WebhookError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Utc;

/// Bodies up to this size (one job of up to 100 contacts).
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// The webhook route.
pub fn router() -> Router<Control> {
    Router::new()
        .route("/v1/webhooks/{provider}", post(webhook))
        .layer(axum::extract::DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
}

async fn webhook(
    State(control): State<Control>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let executor = control.executor();
    let signature_header = executor
        .providers()
        .get(&provider)
        .and_then(|p| {
            p.operations
                .iter()
                .find_map(|o| o.job.as_ref()?.webhook.as_ref())
        })
        .map(|w| w.signature_header.clone());
    let signature = signature_header
        .and_then(|h| headers.get(h.as_str()))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let accepted = tokio::task::spawn_blocking(move || {
        let record = executor.accept_webhook(&provider, signature.as_deref(), &body)?;
        if let Some(id) = &record {
            if let Err(e) = control.store.requeue(std::slice::from_ref(id), Utc::now()) {
                tracing::warn!(record = %id, error = %e, "could not queue the record of a posted job");
            }
            control.wake.notify_one();
        }
        Ok::<_, WebhookError>(())
    })
    .await;
    match accepted {
        Ok(Ok(())) => (StatusCode::OK, "ok".into()),
        Ok(Err(e)) => {
            let code = match e {
                WebhookError::UnknownProvider | WebhookError::UnknownJob => StatusCode::NOT_FOUND,
                WebhookError::BadSignature => StatusCode::UNAUTHORIZED,
                WebhookError::BadBody => StatusCode::BAD_REQUEST,
                WebhookError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            tracing::warn!(error = %e, status = code.as_u16(), "job webhook refused");
            (code, e.to_string())
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
