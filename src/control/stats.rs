//! Counters a running daemon keeps for `status`.

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

impl DaemonStats {
    /// Count a committed pass.
    pub fn record_pass(&self) {
        self.passes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = std::time::Instant::now();
        let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        r.push_back(now);
        // Keep one minute of history, bounded.
        while r.len() > 100_000
            || r.front()
                .is_some_and(|t| now.duration_since(*t).as_secs() >= 60)
        {
            r.pop_front();
        }
    }

    /// Passes per second over the last minute (or since start, if shorter).
    pub fn throughput(&self) -> f64 {
        let now = std::time::Instant::now();
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let n = r
            .iter()
            .filter(|t| now.duration_since(**t).as_secs() < 60)
            .count();
        let window = now
            .duration_since(self.started)
            .as_secs_f64()
            .clamp(1.0, 60.0);
        n as f64 / window
    }
}
