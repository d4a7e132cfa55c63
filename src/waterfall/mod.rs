//! The waterfall planner: given a record and what this pass has done so far,
//! which provider operations run next, and how their answers change the record.
//! Stop rules, verification, the free email guess, field dependencies, the
//! per-record ceiling, and "never pay twice for a field" live here. No I/O.

mod config;
mod guess;
mod plan;
mod run;

#[cfg(test)]
mod tests;

pub use config::{
    compile_waterfalls, segment_label, FieldWaterfall, FieldWaterfallFile, Step, WaterfallFile,
    WaterfallSettings, GUESS_STEP,
};
pub use guess::{detect as detect_pattern, local_part, DEFAULT_PATTERN, PATTERNS};
pub use plan::{CallAnswer, Candidate, PlannedCall, Planner, Purpose, WaitFn};
pub use run::{FieldRun, FieldRuns, Names, RunState};
