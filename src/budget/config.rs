//! `[budgets]` in `config/leadfall.toml`: daily and monthly credit caps, for
//! all providers together and per provider. Raw serde structs, then checked
//! into [`BudgetSettings`] with every error naming its file and key.

use crate::diag::ConfigError;
use crate::provider::ProviderSet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Daily and monthly caps (credits). A missing cap means no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapsFile {
    /// Most credits per UTC calendar day.
    #[serde(default)]
    pub daily_credits: Option<f64>,
    /// Most credits per UTC calendar month.
    #[serde(default)]
    pub monthly_credits: Option<f64>,
}

/// `[budgets]`: caps for all providers together, and `[budgets.providers.<id>]` per provider.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFile {
    /// Caps on all providers together.
    #[serde(flatten)]
    pub total: CapsFile,
    /// Caps per provider id.
    #[serde(default)]
    pub providers: BTreeMap<String, CapsFile>,
}

/// Validated caps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Caps {
    /// Per UTC day.
    pub daily: Option<f64>,
    /// Per UTC month.
    pub monthly: Option<f64>,
}

impl Caps {
    /// True when no cap is set.
    pub fn is_empty(&self) -> bool {
        self.daily.is_none() && self.monthly.is_none()
    }
}

/// Validated budgets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetSettings {
    /// All providers together.
    pub total: Caps,
    /// Per provider.
    pub providers: BTreeMap<String, Caps>,
}

impl BudgetSettings {
    /// True when nothing is capped.
    pub fn is_empty(&self) -> bool {
        self.total.is_empty() && self.providers.values().all(Caps::is_empty)
    }
}

fn check_caps(path: &Path, key: &str, raw: &CapsFile, errors: &mut Vec<ConfigError>) -> Caps {
    let mut check = |name: &str, v: Option<f64>| {
        let v = v?;
        if !v.is_finite() || v < 0.0 {
            let key = if key.is_empty() {
                format!("budgets.{name}")
            } else {
                format!("budgets.{key}.{name}")
            };
            errors.push(ConfigError::at(
                path,
                key,
                format!("must be a number ≥ 0, got {v}"),
            ));
            return None;
        }
        Some(v)
    };
    let daily = check("daily_credits", raw.daily_credits);
    let monthly = check("monthly_credits", raw.monthly_credits);
    if let (Some(d), Some(m)) = (daily, monthly) {
        if d > m {
            let key = if key.is_empty() {
                "budgets.daily_credits".to_string()
            } else {
                format!("budgets.{key}.daily_credits")
            };
            errors.push(ConfigError::at(
                path,
                key,
                format!("{d} is above the monthly cap {m}"),
            ));
        }
    }
    Caps { daily, monthly }
}

/// Check `[budgets]` against the providers.
pub fn compile_budgets(
    path: &Path,
    raw: &BudgetFile,
    providers: &ProviderSet,
    errors: &mut Vec<ConfigError>,
) -> BudgetSettings {
    let total = check_caps(path, "", &raw.total, errors);
    let mut out = BTreeMap::new();
    for (id, caps) in &raw.providers {
        let key = format!("providers.{id}");
        if !providers.contains(id) {
            errors.push(ConfigError::at(
                path,
                format!("budgets.{key}"),
                format!("unknown provider {id:?}"),
            ));
            continue;
        }
        out.insert(id.clone(), check_caps(path, &key, caps, errors));
    }
    BudgetSettings {
        total,
        providers: out,
    }
}
