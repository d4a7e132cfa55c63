//! Sinks: deliver outbox events (route changes) at least once, in order, to a
//! JSON-lines file, stdout, or a signed HTTP webhook. Each sink keeps its own
//! cursor in the store; an event that keeps failing is dead-lettered after a
//! bounded number of attempts. Never edits records.
//!
//! - `config`: `[[sinks]]` → [`Sink`].
//! - `deliver`: the per-sink loop ([`run_sink`], [`spawn_sinks`]).
//! - `target`: one attempt per kind (file append, stdout); `webhook`: the signed POST.
//! - [`signature`]: the webhook signature scheme, shared with receivers.
//! - `health`: [`sink_health`] for `status`.
//! - `error`: [`DeliveryError`], why an attempt failed.

mod config;
mod deliver;
mod error;
mod health;
pub mod signature;
mod target;
mod webhook;

pub use config::{compile_sinks, Sink, SinkFile, SinkTarget};
pub use deliver::{run_sink, run_sink_with, spawn_sinks, SinkBackoff, BATCH, POLL_EVERY};
pub use error::DeliveryError;
pub use health::{sink_health, SinkHealth, LAG_COUNT_CAP};
pub use signature::{sign, verify};

#[cfg(test)]
mod tests;
