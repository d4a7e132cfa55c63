//! leadfall: fills incomplete B2B lead records by querying enrichment
//! providers in waterfall order, keeping explicit unknown states.
//!
//! # Layout
//! Pure core (no I/O, no clock):
//! - [`model`]: records, field states, the field catalogue, normalisation.
//! - [`provider`]: validated provider definitions; record → request, response → outcome.
//! - [`waterfall`]: the planner: which operations to run next for a record.
//!
//! I/O shell:
//! - [`config`]: loads `config/*.toml` and `providers/*.toml` into [`config::Settings`].
//! - [`retry`]: the only user of `backoff`: the retry schedule.
//! - [`executor`]: sends one operation (limiter, concurrency cap, circuit, cache, single-flight).
//! - [`store`]: the sled store (cache, ledger, call counters per hour).
//! - [`advisor`]: the waterfall order advisor (per field and segment) and `--apply`.
//! - [`budget`]: daily/monthly credit caps with reservations taken before a call.
//! - [`report`]: cost/coverage reports from the call counters; table, JSON, CSV, HTML.
//! - [`engine`]: enriches one record end to end; batch runs over files.
//! - [`import`]: streaming CSV / JSON lines → records, with rejects.
//! - [`csv_safe`]: the CSV writer every CSV output uses (formula cells neutralised).
//! - [`sandbox`]: simulated vendors for the demo, benchmarks and tests.
//! - [`data_dir`]: the data directory's permissions (0700, files 0600).
//! - [`quoted`]: user values in messages, cut to 80 characters.
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
