//! The daemon (`leadfall serve`): opens the data directory (one daemon per
//! directory), recovers leases, runs the leaser and the workers, and serves the
//! control API until a shutdown signal; then drains within a deadline.

pub mod local;
pub mod lock;
pub mod members;
mod run;
pub mod worker;

pub use run::{addr_file, serve};

pub use crate::control::DaemonStats;
