//! Sinks: deliver outbox events (route changes) at least once, in order, to a
//! JSON-lines file, stdout, or a signed HTTP webhook. Each sink keeps its own
//! cursor in the store; an event that keeps failing is dead-lettered after a
//! bounded number of attempts. Never edits records.

mod config;

pub use config::{compile_sinks, Sink, SinkFile, SinkTarget};
