//! The five simulated vendors: ids, API keys, coverage, and how each one words
//! its errors (every vendor has its own error envelope, copied from the real one).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::rng::stable_unit;
use super::{companyapi, mailfinder, peoplematch, personapi, verifier};

/// Vendor id → the only API key that vendor accepts; any other key is rejected.
pub const API_KEYS: &[(&str, &str)] = &[
    ("mailfinder", "sandbox-mailfinder-key"),
    ("personapi", "sandbox-personapi-key"),
    ("peoplematch", "sandbox-peoplematch-key"),
    ("companyapi", "sandbox-companyapi-key"),
    ("verifier", "sandbox-verifier-key"),
];

/// One of the simulated vendors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Mailfinder,
    PersonApi,
    PeopleMatch,
    CompanyApi,
    Verifier,
}

/// Why a request is refused before or instead of a real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Missing or wrong API key.
    Unauthorized,
    /// Required parameters missing; the message says which.
    BadParams(String),
    /// Token bucket empty; retry after this many seconds.
    RateLimited(u64),
    /// Injected 500.
    ServerError,
    /// Outage window: 503.
    Outage,
    /// Injected hang: 504 once it ends (the client should have given up by then).
    Timeout,
}

impl Vendor {
    /// All vendors, in the order their state is stored.
    pub(crate) const ALL: [Vendor; 5] = [
        Vendor::Mailfinder,
        Vendor::PersonApi,
        Vendor::PeopleMatch,
        Vendor::CompanyApi,
        Vendor::Verifier,
    ];

    /// Position in [`Vendor::ALL`] (also the index into [`API_KEYS`]).
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The id used in URLs, settings and counters.
    pub(crate) fn id(self) -> &'static str {
        API_KEYS[self.index()].0
    }

    /// The accepted API key.
    pub(crate) fn api_key(self) -> &'static str {
        API_KEYS[self.index()].1
    }

    /// Parses a vendor id.
    pub(crate) fn from_id(id: &str) -> Option<Vendor> {
        Vendor::ALL.into_iter().find(|v| v.id() == id)
    }

    /// Fraction of entities (people, or companies for companyapi) the vendor knows.
    fn coverage(self) -> f64 {
        match self {
            Vendor::Mailfinder => 0.60,
            Vendor::PersonApi => 0.55,
            Vendor::PeopleMatch => 0.70,
            Vendor::CompanyApi => 0.85,
            Vendor::Verifier => 1.0,
        }
    }

    /// Whether this vendor has `entity_id` in its database (deterministic per seed).
    pub(crate) fn knows(self, seed: u64, entity_id: &str) -> bool {
        stable_unit(seed, &[self.id(), "coverage", entity_id]) < self.coverage()
    }

    /// The vendor-styled response for a failure.
    pub(crate) fn failure(self, failure: &Failure) -> Response {
        let (status, body) = match failure {
            // Outages and hangs are answered by the vendor's edge, not its API code.
            Failure::Outage => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"message": "service unavailable"}),
            ),
            Failure::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                json!({"message": "gateway timeout"}),
            ),
            other => match self {
                Vendor::Mailfinder => mailfinder::failure_body(other),
                Vendor::PersonApi => personapi::failure_body(other),
                Vendor::PeopleMatch => peoplematch::failure_body(other),
                Vendor::CompanyApi => companyapi::failure_body(other),
                Vendor::Verifier => verifier::failure_body(other),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Failure::RateLimited(secs) = failure {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(*secs));
        }
        response
    }
}

/// A uniform fallback body for failures a vendor has no special wording for.
pub(crate) fn generic_failure(failure: &Failure) -> (StatusCode, Value) {
    match failure {
        Failure::Unauthorized => (StatusCode::UNAUTHORIZED, json!({"message": "unauthorized"})),
        Failure::BadParams(m) => (StatusCode::BAD_REQUEST, json!({"message": m})),
        Failure::RateLimited(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "too many requests"}),
        ),
        Failure::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "internal server error"}),
        ),
        Failure::Outage => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": "service unavailable"}),
        ),
        Failure::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            json!({"message": "gateway timeout"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keys_line_up() {
        for v in Vendor::ALL {
            assert_eq!(Vendor::from_id(v.id()), Some(v));
            assert_eq!(v.api_key(), format!("sandbox-{}-key", v.id()));
        }
        assert_eq!(Vendor::from_id("nope"), None);
    }

    #[test]
    fn coverage_matches_the_configured_fractions() {
        for (vendor, expected) in [(Vendor::Mailfinder, 0.60), (Vendor::PeopleMatch, 0.70)] {
            let known = (0..4000)
                .filter(|i| vendor.knows(42, &format!("p{i:05}")))
                .count();
            let fraction = known as f64 / 4000.0;
            assert!(
                (fraction - expected).abs() < 0.03,
                "{} {fraction}",
                vendor.id()
            );
        }
        assert!((0..100).all(|i| Vendor::Verifier.knows(1, &i.to_string())));
    }
}
