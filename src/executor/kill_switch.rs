//! The kill switch: pauses a provider whose hit rate over its last N calls
//! falls below a floor, or whose error rate over them rises above a ceiling,
//! so the waterfall moves on to the next vendor instead of paying for
//! nothing. A pause ends after a cool-down or by `leadfall provider resume`.
//! Configured under `[kill_switch]` (defaults for every provider) and
//! `[kill_switch.providers.<id>]` (overrides). Pure state: time is passed in.

use crate::diag::ConfigError;
use crate::provider::ProviderSet;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;

/// One level of `[kill_switch]`; unset keys inherit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchLevel {
    /// How many of the provider's latest calls (cache hits excluded) are judged. Default 50.
    #[serde(default)]
    pub window_calls: Option<usize>,
    /// Pause when hits / (hits + misses) over the window falls below this (0..1). Default 0: off.
    #[serde(default)]
    pub min_hit_rate: Option<f64>,
    /// Pause when failed calls / window rise above this (0..1). Default 1: off.
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    /// How long a pause lasts before calls resume on their own. Default 3600.
    #[serde(default)]
    pub cool_down_secs: Option<u64>,
}

/// `[kill_switch]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchFile {
    /// Defaults for every provider.
    #[serde(flatten)]
    pub defaults: KillSwitchLevel,
    /// Overrides per provider id.
    #[serde(default)]
    pub providers: BTreeMap<String, KillSwitchLevel>,
}

const fn default_window_calls() -> usize {
    50
}

const fn default_cool_down_secs() -> u64 {
    3600
}

/// The rule for one provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KillRule {
    /// Calls judged.
    pub window_calls: usize,
    /// Hit-rate floor (0: off).
    pub min_hit_rate: f64,
    /// Error-rate ceiling (1: off).
    pub max_error_rate: f64,
    /// Pause length.
    pub cool_down: Duration,
}

impl Default for KillRule {
    fn default() -> Self {
        KillRule {
            window_calls: default_window_calls(),
            min_hit_rate: 0.0,
            max_error_rate: 1.0,
            cool_down: Duration::from_secs(default_cool_down_secs()),
        }
    }
}

impl KillRule {
    /// True when the rule can ever pause.
    pub fn active(&self) -> bool {
        self.min_hit_rate > 0.0 || self.max_error_rate < 1.0
    }
}

/// Validated kill-switch rules per provider id (every provider has one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KillSwitchSettings {
    /// Rules by provider id.
    pub providers: BTreeMap<String, KillRule>,
}

fn resolve(
    path: &Path,
    key: &str,
    base: KillRule,
    level: &KillSwitchLevel,
    errors: &mut Vec<ConfigError>,
) -> KillRule {
    let mut rule = base;
    if let Some(n) = level.window_calls {
        if n == 0 {
            errors.push(ConfigError::at(
                path,
                format!("{key}.window_calls"),
                "must be ≥ 1, got 0",
            ));
        } else {
            rule.window_calls = n;
        }
    }
    let mut rate = |name: &str, v: Option<f64>, slot: &mut f64| {
        if let Some(v) = v {
            if (0.0..=1.0).contains(&v) {
                *slot = v;
            } else {
                errors.push(ConfigError::at(
                    path,
                    format!("{key}.{name}"),
                    format!("must be between 0 and 1, got {v}"),
                ));
            }
        }
    };
    rate("min_hit_rate", level.min_hit_rate, &mut rule.min_hit_rate);
    rate(
        "max_error_rate",
        level.max_error_rate,
        &mut rule.max_error_rate,
    );
    if let Some(s) = level.cool_down_secs {
        rule.cool_down = Duration::from_secs(s);
    }
    rule
}

/// Check `[kill_switch]` and resolve one rule per provider.
pub fn compile_kill_switch(
    path: &Path,
    raw: &KillSwitchFile,
    providers: &ProviderSet,
    errors: &mut Vec<ConfigError>,
) -> KillSwitchSettings {
    let defaults = resolve(
        path,
        "kill_switch",
        KillRule::default(),
        &raw.defaults,
        errors,
    );
    for id in raw.providers.keys() {
        if !providers.contains(id) {
            errors.push(ConfigError::at(
                path,
                format!("kill_switch.providers.{id}"),
                format!("unknown provider {id:?}"),
            ));
        }
    }
    let providers = providers
        .ids()
        .map(|id| {
            let rule = match raw.providers.get(id) {
                Some(level) => resolve(
                    path,
                    &format!("kill_switch.providers.{id}"),
                    defaults,
                    level,
                    errors,
                ),
                None => defaults,
            };
            (id.to_string(), rule)
        })
        .collect();
    KillSwitchSettings { providers }
}

/// How one call to the vendor ended, as the switch judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Data.
    Hit,
    /// No data.
    Miss,
    /// Failed after retries.
    Error,
}

/// A pause in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    /// Why (`hit rate 0% over the last 10 calls is below the floor of 20%`).
    pub reason: String,
    /// When calls resume on their own.
    pub until: DateTime<Utc>,
}

/// One provider's switch.
#[derive(Debug, Default)]
pub struct KillSwitch {
    window: VecDeque<Sample>,
    paused: Option<Pause>,
}

impl KillSwitch {
    /// The pause in force at `now`; an expired one is lifted (and returned as `Err` once, for logging).
    pub fn check(&mut self, now: DateTime<Utc>) -> Result<Option<&Pause>, Pause> {
        match &self.paused {
            Some(p) if p.until <= now => {
                let lifted = self.paused.take().expect("just matched");
                Err(lifted)
            }
            _ => Ok(self.paused.as_ref()),
        }
    }

    /// The pause, if any (no expiry check).
    pub fn paused(&self) -> Option<&Pause> {
        self.paused.as_ref()
    }

    /// Count one call; returns the new pause when this call trips the switch.
    pub fn record(&mut self, s: Sample, rule: &KillRule, now: DateTime<Utc>) -> Option<Pause> {
        if !rule.active() || self.paused.is_some() {
            return None;
        }
        self.window.push_back(s);
        while self.window.len() > rule.window_calls {
            self.window.pop_front();
        }
        if self.window.len() < rule.window_calls {
            return None;
        }
        let n = self.window.len();
        let count = |k: Sample| self.window.iter().filter(|x| **x == k).count();
        let (hits, misses, errors) = (
            count(Sample::Hit),
            count(Sample::Miss),
            count(Sample::Error),
        );
        let error_rate = errors as f64 / n as f64;
        let reason = if error_rate > rule.max_error_rate {
            Some(format!(
                "error rate {:.0}% over the last {n} calls is above the ceiling of {:.0}%",
                error_rate * 100.0,
                rule.max_error_rate * 100.0
            ))
        } else if hits + misses > 0 && (hits as f64 / (hits + misses) as f64) < rule.min_hit_rate {
            Some(format!(
                "hit rate {:.0}% over the last {n} calls is below the floor of {:.0}%",
                hits as f64 * 100.0 / (hits + misses) as f64,
                rule.min_hit_rate * 100.0
            ))
        } else {
            None
        }?;
        self.window.clear();
        let pause = Pause {
            reason,
            until: now
                + chrono::Duration::from_std(rule.cool_down).unwrap_or(chrono::Duration::hours(1)),
        };
        self.paused = Some(pause.clone());
        Some(pause)
    }

    /// Lift a pause by hand; returns the pause lifted.
    pub fn resume(&mut self) -> Option<Pause> {
        self.window.clear();
        self.paused.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_collapsed_hit_rate_pauses_within_the_window_and_the_cool_down_lifts_it() {
        let rule = KillRule {
            window_calls: 4,
            min_hit_rate: 0.2,
            max_error_rate: 1.0,
            cool_down: Duration::from_secs(60),
        };
        let mut k = KillSwitch::default();
        use Sample::{Hit, Miss};
        for s in [Hit, Hit, Miss, Hit, Miss, Miss, Miss] {
            assert_eq!(k.record(s, &rule, t(0)), None);
        }
        // The window is now hit, miss, miss, miss (25%); one more miss gives 0 of 4.
        let p = k.record(Miss, &rule, t(1)).expect("paused");
        assert_eq!(
            p.reason,
            "hit rate 0% over the last 4 calls is below the floor of 20%"
        );
        assert_eq!(p.until, t(61));
        assert!(k.check(t(30)).unwrap().is_some());
        assert_eq!(k.check(t(61)).unwrap_err(), p);
        assert!(k.check(t(62)).unwrap().is_none());
    }

    #[test]
    fn an_error_spike_pauses_and_resume_lifts_it() {
        let rule = KillRule {
            window_calls: 3,
            min_hit_rate: 0.0,
            max_error_rate: 0.5,
            cool_down: Duration::from_secs(60),
        };
        let mut k = KillSwitch::default();
        k.record(Sample::Error, &rule, t(0));
        k.record(Sample::Hit, &rule, t(0));
        let p = k.record(Sample::Error, &rule, t(0)).expect("paused");
        assert!(
            p.reason.starts_with("error rate 67% over the last 3 calls"),
            "{}",
            p.reason
        );
        assert_eq!(k.resume(), Some(p));
        assert!(k.paused().is_none());
        // Off by default.
        let mut k = KillSwitch::default();
        for _ in 0..100 {
            assert_eq!(k.record(Sample::Miss, &KillRule::default(), t(0)), None);
        }
    }
}
