//! `GET /healthz`: liveness for supervisors and load balancers. The one
//! route without the token: it says nothing but "ok".

use axum::routing::get;
use axum::Router;

/// The health route (stateless, outside the token middleware).
pub fn router() -> Router {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
