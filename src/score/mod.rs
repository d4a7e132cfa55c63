//! Scoring: three scores (account fit, stakeholder fit, intent) from weighted
//! rules, evaluated in three-valued logic so each is an interval under the
//! unknowns, with the fields that could move it and a one-line explanation.
//! Pure: no I/O, time is passed in.

mod cond;
mod config;
mod eval;

#[cfg(test)]
mod tests;

pub use cond::{
    eval as eval_cond, eval_field, fields as cond_fields, Cond, CondFile, FieldTest, ScoreLookup,
    Tri, PERSONAL_DOMAINS,
};
pub use config::{
    compile_cond, compile_scoring, Rule, RuleFile, RuleTest, ScoreFile, ScoringFile,
    ScoringSettings, SignalRuleFile, SCORES,
};
pub use eval::{score, score_all, Score, Scores};
