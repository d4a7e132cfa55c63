//! The harness's integration tests (one test binary): the benchmarks run
//! against the in-process sandbox, and the crash harness against the real
//! daemon, started as `leadfall-bench leadfall serve ...`.

/// The crash harness: the daemon killed in the middle of work.
mod crash;
/// Scores and routes: decision-relevant enrichment against enriching
/// everything; strict against capacity-aware order.
mod routing;

use std::path::PathBuf;

/// The repository root (the harness is its `bench/` member).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is in the repository")
        .to_path_buf()
}
