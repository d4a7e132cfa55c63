//! Conditions over fields and scores, evaluated in three-valued logic: a
//! condition over an unknown field is neither true nor false.

use crate::model::{FieldState, Record, UnknownReason, Value};
use serde::Deserialize;

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    /// Holds whatever the unknowns turn out to be.
    True,
    /// Fails whatever the unknowns turn out to be.
    False,
    /// Depends on a value nobody knows yet.
    Unknown,
}

impl Tri {
    /// Kleene conjunction.
    pub fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    /// Kleene disjunction.
    pub fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }

    /// Kleene negation.
    pub fn negate(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// A condition as written in config (`when = { field = "...", in = [...] }`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CondFile {
    /// Every one holds.
    #[serde(default)]
    pub all: Option<Vec<CondFile>>,
    /// At least one holds.
    #[serde(default)]
    pub any: Option<Vec<CondFile>>,
    /// It does not hold.
    #[serde(default)]
    pub not: Option<Box<CondFile>>,
    /// The field tested.
    #[serde(default)]
    pub field: Option<String>,
    /// Equal to this value (text compared case-insensitively).
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// One of these values.
    #[serde(default, rename = "in")]
    pub in_: Option<Vec<toml::Value>>,
    /// A list field containing any of these.
    #[serde(default)]
    pub contains_any: Option<Vec<String>>,
    /// A number in [lo, hi].
    #[serde(default)]
    pub between: Option<(f64, f64)>,
    /// The field is known (`true`) or known to be missing (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
    /// An email or domain at a personal mailbox provider (gmail.com ...).
    #[serde(default)]
    pub personal_domain: Option<bool>,
    /// Always true (a default route).
    #[serde(default)]
    pub always: Option<bool>,
    /// The score tested (routes only).
    #[serde(default)]
    pub score: Option<String>,
    /// The score is at least this.
    #[serde(default)]
    pub at_least: Option<f64>,
    /// The score is below this.
    #[serde(default)]
    pub below: Option<f64>,
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Conjunction.
    All(Vec<Cond>),
    /// Disjunction.
    Any(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// Always true.
    Always,
    /// A test on a field.
    Field {
        /// The field.
        field: String,
        /// The test.
        test: FieldTest,
    },
    /// A test on a score interval.
    Score {
        /// Score name.
        score: String,
        /// At least (inclusive).
        at_least: Option<f64>,
        /// Below (exclusive).
        below: Option<f64>,
    },
}

/// Tests on one field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldTest {
    /// One of these (lower-cased texts, integers, booleans as JSON).
    In(Vec<serde_json::Value>),
    /// A list containing any of these (lower-case).
    ContainsAny(Vec<String>),
    /// A number in [lo, hi].
    Between(f64, f64),
    /// Known (`true`) or known missing (`false`).
    Exists(bool),
    /// At a personal mailbox domain.
    PersonalDomain(bool),
}

/// Free mailbox domains: a personal address is not a disqualifier by itself,
/// but rules may want to know.
pub const PERSONAL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "yandex.ru",
    "mail.com",
    "qq.com",
];

/// Reasons after which a field will not become known without new input:
/// `exists = false` holds for them.
fn settled(reason: UnknownReason) -> bool {
    matches!(
        reason,
        UnknownReason::NotFound | UnknownReason::Invalid | UnknownReason::MissingInput
    )
}

fn norm(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::Value::String(s.to_lowercase()),
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(serde_json::Value::from)
            .unwrap_or_else(|| v.clone()),
        other => other.clone(),
    }
}

/// Evaluate a field test on a record.
pub fn eval_field(record: &Record, field: &str, test: &FieldTest) -> Tri {
    let state = record.fields.get(field);
    let value = match state {
        Some(FieldState::Known(k)) => &k.value,
        Some(FieldState::Unknown(u)) => {
            return match test {
                FieldTest::Exists(want) if settled(u.reason) => {
                    if *want {
                        Tri::False
                    } else {
                        Tri::True
                    }
                }
                _ => Tri::Unknown,
            }
        }
        None => return Tri::Unknown,
    };
    let b = |x: bool| if x { Tri::True } else { Tri::False };
    match test {
        FieldTest::Exists(want) => b(*want),
        FieldTest::In(options) => b(options.contains(&norm(&value.to_json()))),
        FieldTest::ContainsAny(items) => match value {
            Value::List(l) => b(l.iter().any(|x| items.contains(&x.to_lowercase()))),
            Value::Text(t) => b(items.contains(&t.to_lowercase())),
            _ => Tri::False,
        },
        FieldTest::Between(lo, hi) => match value {
            Value::Integer(i) => b((*lo..=*hi).contains(&(*i as f64))),
            _ => Tri::False,
        },
        FieldTest::PersonalDomain(want) => {
            let text = value.render().to_lowercase();
            let domain = text.rsplit('@').next().unwrap_or(&text);
            b(PERSONAL_DOMAINS.contains(&domain) == *want)
        }
    }
}

/// Score intervals a route condition can read.
pub trait ScoreLookup {
    /// [min, max] of a score.
    fn interval(&self, score: &str) -> Option<(f64, f64)>;
}

/// Evaluate a condition.
pub fn eval(cond: &Cond, record: &Record, scores: &dyn ScoreLookup) -> Tri {
    match cond {
        Cond::Always => Tri::True,
        Cond::All(cs) => cs
            .iter()
            .fold(Tri::True, |acc, c| acc.and(eval(c, record, scores))),
        Cond::Any(cs) => cs
            .iter()
            .fold(Tri::False, |acc, c| acc.or(eval(c, record, scores))),
        Cond::Not(c) => eval(c, record, scores).negate(),
        Cond::Field { field, test } => eval_field(record, field, test),
        Cond::Score {
            score,
            at_least,
            below,
        } => {
            let Some((min, max)) = scores.interval(score) else {
                return Tri::Unknown;
            };
            let mut t = Tri::True;
            if let Some(th) = at_least {
                t = t.and(if min >= *th {
                    Tri::True
                } else if max < *th {
                    Tri::False
                } else {
                    Tri::Unknown
                });
            }
            if let Some(th) = below {
                t = t.and(if max < *th {
                    Tri::True
                } else if min >= *th {
                    Tri::False
                } else {
                    Tri::Unknown
                });
            }
            t
        }
    }
}

/// Fields a condition reads.
pub fn fields(cond: &Cond, out: &mut Vec<String>) {
    match cond {
        Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| fields(c, out)),
        Cond::Not(c) => fields(c, out),
        Cond::Field { field, .. } => {
            if !out.contains(field) {
                out.push(field.clone());
            }
        }
        Cond::Always | Cond::Score { .. } => {}
    }
}
