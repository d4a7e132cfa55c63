//! `config/scoring.toml`: three scores, each a list of weighted rules over
//! fields or signals; compiled with every error naming the file and key.

use super::cond::{Cond, CondFile, FieldTest};
use crate::diag::ConfigError;
use crate::model::{Catalogue, FieldType};
use serde::Deserialize;
use std::path::Path;

/// The three scores, in their fixed order.
pub const SCORES: [&str; 3] = ["account_fit", "stakeholder_fit", "intent"];

/// `config/scoring.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringFile {
    /// Is the company worth pursuing.
    #[serde(default)]
    pub account_fit: ScoreFile,
    /// Is the person in the buying group.
    #[serde(default)]
    pub stakeholder_fit: ScoreFile,
    /// Is the account moving.
    #[serde(default)]
    pub intent: ScoreFile,
}

/// One score's rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreFile {
    /// Weighted rules; negative weights are negative signals.
    #[serde(default)]
    pub rules: Vec<RuleFile>,
}

/// One weighted rule: over fields (`when`) or over signals (`signal`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Short label for explanations ("Tier 1 ICP").
    pub label: String,
    /// Points when the rule holds (negative for disqualifying signals).
    pub weight: f64,
    /// Condition over fields.
    #[serde(default)]
    pub when: Option<CondFile>,
    /// Condition over behaviour signals.
    #[serde(default)]
    pub signal: Option<SignalRuleFile>,
}

/// A rule over signals: the most recent `kind` within `within_days`, its weight
/// halved every `half_life_days`; with `min_count`, only when that many fell in the window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalRuleFile {
    /// Signal kind (`pricing_page`).
    pub kind: String,
    /// Window, in days.
    pub within_days: f64,
    /// Half-life of the weight, in days (none: no decay).
    #[serde(default)]
    pub half_life_days: Option<f64>,
    /// Signals needed in the window.
    #[serde(default = "one")]
    pub min_count: u32,
}

const fn one() -> u32 {
    1
}

/// A compiled rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Label.
    pub label: String,
    /// Weight.
    pub weight: f64,
    /// What must hold.
    pub test: RuleTest,
}

/// A compiled rule test.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleTest {
    /// Over fields.
    When(Cond),
    /// Over signals.
    Signal {
        /// Kind.
        kind: String,
        /// Window.
        within_days: f64,
        /// Decay.
        half_life_days: Option<f64>,
        /// Count in window.
        min_count: u32,
    },
}

/// All three scores, compiled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoringSettings {
    /// Rules per score, in [`SCORES`] order.
    pub scores: [Vec<Rule>; 3],
}

/// Compile a condition; `allow_scores` for route conditions.
pub fn compile_cond(
    file: &Path,
    key: &str,
    c: &CondFile,
    catalogue: &Catalogue,
    allow_scores: bool,
    errors: &mut Vec<ConfigError>,
) -> Cond {
    let mut err = |m: String| errors.push(ConfigError::at(file, key, m));
    let kinds = [
        c.all.is_some(),
        c.any.is_some(),
        c.not.is_some(),
        c.field.is_some(),
        c.always.is_some(),
        c.score.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        err("a condition needs exactly one of all, any, not, field, score or always".into());
        return Cond::Always;
    }
    if let Some(cs) = &c.all {
        return Cond::All(
            cs.iter()
                .enumerate()
                .map(|(i, x)| {
                    compile_cond(
                        file,
                        &format!("{key}.all[{i}]"),
                        x,
                        catalogue,
                        allow_scores,
                        errors,
                    )
                })
                .collect(),
        );
    }
    if let Some(cs) = &c.any {
        return Cond::Any(
            cs.iter()
                .enumerate()
                .map(|(i, x)| {
                    compile_cond(
                        file,
                        &format!("{key}.any[{i}]"),
                        x,
                        catalogue,
                        allow_scores,
                        errors,
                    )
                })
                .collect(),
        );
    }
    if let Some(x) = &c.not {
        return Cond::Not(Box::new(compile_cond(
            file,
            &format!("{key}.not"),
            x,
            catalogue,
            allow_scores,
            errors,
        )));
    }
    if c.always.is_some() {
        return Cond::Always;
    }
    if let Some(score) = &c.score {
        if !allow_scores {
            err("score conditions belong in routes, not in score rules".into());
        } else if !SCORES.contains(&score.as_str()) {
            err(format!(
                "unknown score {score:?} (account_fit, stakeholder_fit or intent)"
            ));
        }
        if c.at_least.is_none() && c.below.is_none() {
            err("a score condition needs at_least or below".into());
        }
        return Cond::Score {
            score: score.clone(),
            at_least: c.at_least,
            below: c.below,
        };
    }
    let field = c.field.clone().unwrap_or_default();
    let Some(def) = catalogue.get(&field) else {
        err(format!(
            "unknown field {field:?} (not in the field catalogue)"
        ));
        return Cond::Always;
    };
    let tests = [
        c.equals.is_some(),
        c.in_.is_some(),
        c.contains_any.is_some(),
        c.between.is_some(),
        c.exists.is_some(),
        c.personal_domain.is_some(),
    ];
    if tests.iter().filter(|t| **t).count() != 1 {
        err(format!("field {field}: give exactly one of equals, in, contains_any, between, exists, personal_domain"));
        return Cond::Always;
    }
    let json = |v: &toml::Value| {
        let j = serde_json::to_value(v).unwrap_or_default();
        match j {
            serde_json::Value::String(s) => serde_json::Value::String(s.to_lowercase()),
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(serde_json::Value::from)
                .unwrap_or(serde_json::Value::Null),
            other => other,
        }
    };
    let test = if let Some(v) = &c.equals {
        FieldTest::In(vec![json(v)])
    } else if let Some(vs) = &c.in_ {
        FieldTest::In(vs.iter().map(json).collect())
    } else if let Some(items) = &c.contains_any {
        if def.ty != FieldType::List {
            err(format!("field {field} is not a list; use `in`"));
        }
        FieldTest::ContainsAny(items.iter().map(|s| s.to_lowercase()).collect())
    } else if let Some((lo, hi)) = c.between {
        if def.ty != FieldType::Integer {
            err(format!(
                "field {field} is not a number; `between` needs an integer field"
            ));
        }
        if lo > hi {
            err(format!("between [{lo}, {hi}] is empty"));
        }
        FieldTest::Between(lo, hi)
    } else if let Some(e) = c.exists {
        FieldTest::Exists(e)
    } else {
        if !matches!(def.ty, FieldType::Email | FieldType::Domain) {
            err(format!(
                "field {field}: personal_domain needs an email or domain field"
            ));
        }
        FieldTest::PersonalDomain(c.personal_domain.unwrap_or(true))
    };
    Cond::Field { field, test }
}

/// Compile `config/scoring.toml`.
pub fn compile_scoring(
    file: &Path,
    raw: &ScoringFile,
    catalogue: &Catalogue,
    errors: &mut Vec<ConfigError>,
) -> ScoringSettings {
    let mut out = ScoringSettings::default();
    for (i, (name, score)) in [
        ("account_fit", &raw.account_fit),
        ("stakeholder_fit", &raw.stakeholder_fit),
        ("intent", &raw.intent),
    ]
    .into_iter()
    .enumerate()
    {
        for (j, r) in score.rules.iter().enumerate() {
            let key = format!("{name}.rules[{j}]");
            if !r.weight.is_finite() {
                errors.push(ConfigError::at(
                    file,
                    format!("{key}.weight"),
                    "must be a finite number",
                ));
            }
            let test = match (&r.when, &r.signal) {
                (Some(c), None) => RuleTest::When(compile_cond(
                    file,
                    &format!("{key}.when"),
                    c,
                    catalogue,
                    false,
                    errors,
                )),
                (None, Some(s)) => {
                    if s.within_days.is_nan() || s.within_days <= 0.0 {
                        errors.push(ConfigError::at(
                            file,
                            format!("{key}.signal.within_days"),
                            "must be > 0",
                        ));
                    }
                    if s.half_life_days.is_some_and(|h| h.is_nan() || h <= 0.0) {
                        errors.push(ConfigError::at(
                            file,
                            format!("{key}.signal.half_life_days"),
                            "must be > 0",
                        ));
                    }
                    RuleTest::Signal {
                        kind: s.kind.clone(),
                        within_days: s.within_days,
                        half_life_days: s.half_life_days,
                        min_count: s.min_count.max(1),
                    }
                }
                _ => {
                    errors.push(ConfigError::at(
                        file,
                        key.clone(),
                        "a rule needs `when` or `signal`, not both",
                    ));
                    continue;
                }
            };
            out.scores[i].push(Rule {
                label: r.label.clone(),
                weight: r.weight,
                test,
            });
        }
    }
    out
}
