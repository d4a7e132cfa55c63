//! leadfall: fills incomplete B2B lead records by querying enrichment
//! providers in waterfall order, keeping explicit unknown states.
//!
//! # Layout
//! Layers, lowest first; a module imports only from its own layer or below,
//! and no two top-level modules import each other (`tests/layers.rs`).
//! - Foundations: [`model`] (records, field states, the catalogue,
//!   normalisation, signals, source precedence), [`clock`], [`diag`],
//!   [`quoted`], [`csv_safe`], [`data_dir`], [`keyed`], [`telemetry`].
//! - Rules (pure: no I/O, no clock): [`provider`] (definitions; record →
//!   request, response → outcome), [`waterfall`] (the planner), [`score`],
//!   [`route`], [`retry`] (the only user of `backoff`), [`import`] (CSV / JSON
//!   lines → records, with rejects).
//! - State and calls: [`store`] (sled or PostgreSQL: records, queue, cache,
//!   ledger, call counters), [`budget`] (credit caps, reservations before a
//!   call), [`executor`] (one vendor call: pacing, concurrency, circuit,
//!   retry, billing, cache, single-flight), [`sink`] (route-change events).
//! - Settings and reading: [`config`] (files → [`config::Settings`]),
//!   [`report`], [`advisor`], [`export`].
//! - [`engine`]: enriches one record end to end; batch runs over files.
//! - Surface: [`control`] (what a running daemon can be asked), [`api`] (its
//!   HTTP face), [`client`], [`daemon`] (`serve`), [`sandbox`] (simulated
//!   vendors for the demo and tests).
//! - [`cli`]: one file per verb.
//!
//! The benchmark harness is not part of the product: it is the workspace
//! member `bench/` (binary `leadfall-bench`), built on this library.
#![warn(missing_docs)]

pub mod advisor;
pub mod api;
pub mod budget;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod control;
pub mod csv_safe;
pub mod daemon;
pub mod data_dir;
pub mod diag;
pub mod engine;
pub mod executor;
pub mod export;
pub mod import;
pub mod keyed;
pub mod model;
pub mod provider;
pub mod quoted;
pub mod report;
pub mod retry;
pub mod route;
pub mod sandbox;
pub mod score;
pub mod sink;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod waterfall;
