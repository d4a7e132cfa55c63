//! The daemon (`leadfall serve`): opens the data directory (one daemon per
//! directory), recovers leases, runs the leaser and the workers, and serves the
//! control API until a shutdown signal; then drains within a deadline.

pub mod select;
pub mod status;

use std::sync::atomic::AtomicU64;

/// Counters the daemon keeps for `status`.
#[derive(Debug)]
pub struct DaemonStats {
    /// When the daemon started.
    pub started: std::time::Instant,
    /// Passes committed since start.
    pub passes: AtomicU64,
    /// Recent pass completion times (for throughput), capped.
    pub recent: std::sync::Mutex<std::collections::VecDeque<std::time::Instant>>,
}

impl Default for DaemonStats {
    fn default() -> Self {
        DaemonStats {
            started: std::time::Instant::now(),
            passes: AtomicU64::new(0),
            recent: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }
}
