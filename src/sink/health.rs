//! Per-sink delivery state for `status`: cursor, backlog and dead letters.
//! Read-only; blocking store calls (run it on the blocking pool).

use super::config::Sink;
use super::target::kind;
use crate::store::{RecordStore, StoreError};
use serde::{Deserialize, Serialize};

/// Backlogs are counted exactly up to this many events.
pub const LAG_COUNT_CAP: u64 = 10_000;

/// One sink's delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkHealth {
    /// The sink's name.
    pub name: String,
    /// `jsonl`, `stdout` or `webhook`.
    pub kind: String,
    /// Sequence number of the last event delivered or dead-lettered (0: none).
    pub cursor: u64,
    /// Newest outbox sequence number (0: empty).
    pub head: u64,
    /// Events after the cursor still to deliver, counted up to
    /// [`LAG_COUNT_CAP`] (at least that many when equal). Not `head - cursor`:
    /// sequence numbers have gaps (sled skips ahead after a restart).
    pub lag: u64,
    /// Events given up on after `max_attempts`.
    pub dead_letters: u64,
    /// The last of them: sequence number and reason.
    pub last_dead: Option<(u64, String)>,
}

/// The delivery state of every sink.
pub fn sink_health(store: &dyn RecordStore, sinks: &[Sink]) -> Result<Vec<SinkHealth>, StoreError> {
    let head = store.outbox_head()?;
    sinks
        .iter()
        .map(|sink| {
            let cursor = store.outbox_cursor(&sink.name)?;
            let (dead_letters, mut last) = store.outbox_dead_letters(&sink.name, 1)?;
            Ok(SinkHealth {
                name: sink.name.clone(),
                kind: kind(&sink.target).to_string(),
                cursor,
                head,
                lag: count_after(store, cursor)?,
                dead_letters,
                last_dead: last.pop(),
            })
        })
        .collect()
}

/// Events after `cursor`, up to [`LAG_COUNT_CAP`]. The trait has no count, so
/// this pages through them; with no backlog it is one empty read.
fn count_after(store: &dyn RecordStore, mut cursor: u64) -> Result<u64, StoreError> {
    const PAGE: usize = 1024;
    let mut n = 0;
    while n < LAG_COUNT_CAP {
        let page = store.outbox_after(cursor, PAGE)?;
        n += page.len() as u64;
        match page.last() {
            Some((seq, _)) if page.len() == PAGE => cursor = *seq,
            _ => break,
        }
    }
    Ok(n.min(LAG_COUNT_CAP))
}
