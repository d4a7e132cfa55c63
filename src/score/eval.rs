//! Score evaluation: each score is an interval [min, max] over what is still
//! unknown, a point value counting only what is known, the unknown fields that
//! could move it, and a one-line explanation.

use super::cond::{eval, fields, ScoreLookup, Tri};
use super::config::{Rule, RuleTest, ScoringSettings, SCORES};
use crate::model::Record;
use crate::model::Signal;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One evaluated score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// `account_fit`, `stakeholder_fit` or `intent`.
    pub name: String,
    /// Lowest value any completion of the unknowns gives.
    pub min: f64,
    /// Highest value any completion of the unknowns gives.
    pub max: f64,
    /// Counting only what is known.
    pub point: f64,
    /// Unknown fields that could move it.
    pub missing: Vec<String>,
    /// "Tier 1 ICP (+25) · VP Sales (+20) · missing: company.employee_count".
    pub explanation: String,
}

struct NoScores;
impl ScoreLookup for NoScores {
    fn interval(&self, _: &str) -> Option<(f64, f64)> {
        None
    }
}

/// The weight a signal rule contributes now (0 when it does not hold).
fn signal_weight(
    weight: f64,
    kind: &str,
    within_days: f64,
    half_life: Option<f64>,
    min_count: u32,
    signals: &[Signal],
    now: DateTime<Utc>,
) -> (f64, usize) {
    let ages: Vec<f64> = signals
        .iter()
        .filter(|s| s.kind == kind && s.at <= now)
        .map(|s| (now - s.at).num_seconds() as f64 / 86_400.0)
        .filter(|age| *age <= within_days)
        .collect();
    if ages.len() < min_count as usize {
        return (0.0, ages.len());
    }
    let newest = ages.iter().copied().fold(f64::INFINITY, f64::min);
    let decay = half_life.map_or(1.0, |h| 0.5f64.powf(newest / h));
    (weight * decay, ages.len())
}

fn fmt_weight(w: f64) -> String {
    let r = (w * 10.0).round() / 10.0;
    if r >= 0.0 {
        format!("+{r}")
    } else {
        format!("{r}")
    }
}

/// Evaluate one score's rules.
pub fn score(
    name: &str,
    rules: &[Rule],
    record: &Record,
    signals: &[Signal],
    now: DateTime<Utc>,
) -> Score {
    let (mut min, mut max, mut point) = (0.0, 0.0, 0.0);
    let mut missing: Vec<String> = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    for r in rules {
        match &r.test {
            RuleTest::Signal {
                kind,
                within_days,
                half_life_days,
                min_count,
            } => {
                let (w, n) = signal_weight(
                    r.weight,
                    kind,
                    *within_days,
                    *half_life_days,
                    *min_count,
                    signals,
                    now,
                );
                if w != 0.0 {
                    min += w;
                    max += w;
                    point += w;
                    let times = if n > 1 {
                        format!(" ×{n}")
                    } else {
                        String::new()
                    };
                    parts.push(format!("{}{times} ({})", r.label, fmt_weight(w)));
                }
            }
            RuleTest::When(c) => match eval(c, record, &NoScores) {
                Tri::True => {
                    min += r.weight;
                    max += r.weight;
                    point += r.weight;
                    parts.push(format!("{} ({})", r.label, fmt_weight(r.weight)));
                }
                Tri::False => {}
                Tri::Unknown => {
                    if r.weight > 0.0 {
                        max += r.weight;
                    } else {
                        min += r.weight;
                    }
                    let mut fs = Vec::new();
                    fields(c, &mut fs);
                    for f in fs {
                        if record.value(&f).is_none() && !missing.contains(&f) {
                            missing.push(f);
                        }
                    }
                }
            },
        }
    }
    if !missing.is_empty() {
        parts.push(format!("missing: {}", missing.join(", ")));
    }
    let explanation = if parts.is_empty() {
        "no rule applies".to_string()
    } else {
        parts.join(" · ")
    };
    Score {
        name: name.to_string(),
        min,
        max,
        point,
        missing,
        explanation,
    }
}

/// All three scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores(pub Vec<Score>);

impl ScoreLookup for Scores {
    fn interval(&self, name: &str) -> Option<(f64, f64)> {
        self.0
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.min, s.max))
    }
}

impl Scores {
    /// A score by name.
    pub fn get(&self, name: &str) -> Option<&Score> {
        self.0.iter().find(|s| s.name == name)
    }
}

/// Evaluate every score for a record.
pub fn score_all(
    s: &ScoringSettings,
    record: &Record,
    signals: &[Signal],
    now: DateTime<Utc>,
) -> Scores {
    Scores(
        SCORES
            .iter()
            .zip(s.scores.iter())
            .map(|(n, rules)| score(n, rules, record, signals, now))
            .collect(),
    )
}
