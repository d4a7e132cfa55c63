//! Routing: ordered route rules over score intervals and fields decide who
//! works a lead next. A route is decided only when no completion of the
//! unknowns could pick an earlier route; otherwise the lead is "enrich, then
//! rescore" and the decision names the fields that could change it. Pure.

use crate::diag::ConfigError;
use crate::model::{Catalogue, Record};
use crate::score::{
    compile_cond, cond_fields, eval_cond, Cond, CondFile, ScoreLookup, Scores, Tri,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[cfg(test)]
mod tests;

/// The route of a lead the scores cannot place yet.
pub const ENRICH_ROUTE: &str = "enrich_then_rescore";

/// Disqualification reason codes.
pub const REASON_CODES: &[&str] = &[
    "bad_fit",
    "wrong_persona",
    "competitor",
    "not_serviceable_geo",
    "duplicate",
    "unresponsive",
    "no_budget",
    "timing",
];

/// `config/routing.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingFile {
    /// Ordered routes; the first that holds wins; the last must be `always`.
    #[serde(default)]
    pub routes: Vec<RouteFile>,
}

/// One route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// Name (the next action: `sales_now`, `nurture`...).
    pub name: String,
    /// Condition over scores (`{ score = "intent", at_least = 40 }`) and fields.
    pub when: CondFile,
    /// A suppression: the reason code.
    #[serde(default)]
    pub suppress: Option<String>,
    /// Re-score after this many days (nurture, timing).
    #[serde(default)]
    pub recycle_days: Option<f64>,
    /// Fields worth paying for once a lead is on this route (what its next
    /// action needs: the email and phone for sales).
    #[serde(default)]
    pub enrich: Vec<String>,
}

/// A compiled route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Name.
    pub name: String,
    /// Condition.
    pub when: Cond,
    /// Suppression reason code.
    pub suppress: Option<String>,
    /// Recycle delay in days.
    pub recycle_days: Option<f64>,
    /// Fields to fill once routed here.
    pub enrich: Vec<String>,
}

/// Compiled routes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoutingSettings {
    /// In order.
    pub routes: Vec<Route>,
}

/// Compile and check the routes.
pub fn compile_routing(
    file: &Path,
    raw: &RoutingFile,
    catalogue: &Catalogue,
    errors: &mut Vec<ConfigError>,
) -> RoutingSettings {
    let mut routes = Vec::new();
    for (i, r) in raw.routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        if r.name.is_empty()
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            errors.push(ConfigError::at(
                file,
                format!("{key}.name"),
                format!("{:?} must be lower_snake_case", r.name),
            ));
        }
        if r.name == ENRICH_ROUTE || raw.routes[..i].iter().any(|o| o.name == r.name) {
            errors.push(ConfigError::at(
                file,
                format!("{key}.name"),
                format!("{:?} is used twice or reserved", r.name),
            ));
        }
        if let Some(code) = &r.suppress {
            if !REASON_CODES.contains(&code.as_str()) {
                errors.push(ConfigError::at(
                    file,
                    format!("{key}.suppress"),
                    format!("{code:?} is not one of {}", REASON_CODES.join(", ")),
                ));
            }
        }
        if r.recycle_days.is_some_and(|d| d.is_nan() || d <= 0.0) {
            errors.push(ConfigError::at(
                file,
                format!("{key}.recycle_days"),
                "must be > 0",
            ));
        }
        for f in &r.enrich {
            if !catalogue.contains(f) {
                errors.push(ConfigError::at(
                    file,
                    format!("{key}.enrich"),
                    format!("unknown field {f:?}"),
                ));
            }
        }
        let when = compile_cond(
            file,
            &format!("{key}.when"),
            &r.when,
            catalogue,
            true,
            errors,
        );
        routes.push(Route {
            name: r.name.clone(),
            when,
            suppress: r.suppress.clone(),
            recycle_days: r.recycle_days,
            enrich: r.enrich.clone(),
        });
    }
    match routes.last() {
        Some(last) if last.when == Cond::Always => {}
        _ => errors.push(ConfigError::at(
            file,
            "routes",
            "no default route: the last route must have `when = { always = true }`",
        )),
    }
    RoutingSettings { routes }
}

/// Where a lead goes, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The route, or [`ENRICH_ROUTE`] while undecided.
    pub route: String,
    /// False while enrichment could still change it.
    pub decided: bool,
    /// Suppression reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When to rescore a recycled lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recycle_at: Option<DateTime<Utc>>,
    /// Routes still possible (undecided only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// Unknown fields that could change the decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub could_change: Vec<String>,
    /// One line for a person.
    pub explanation: String,
}

/// Point values as degenerate intervals: for settling with what is known.
struct Points<'a>(&'a Scores);
impl ScoreLookup for Points<'_> {
    fn interval(&self, name: &str) -> Option<(f64, f64)> {
        self.0.get(name).map(|s| (s.point, s.point))
    }
}

fn explain(route: &Route, scores: &Scores) -> String {
    let parts: Vec<String> = scores
        .0
        .iter()
        .map(|s| format!("{} {}", s.name, fmt_interval(s.min, s.max)))
        .collect();
    let why = scores
        .0
        .iter()
        .map(|s| s.explanation.as_str())
        .filter(|e| *e != "no rule applies")
        .collect::<Vec<_>>()
        .join(" · ");
    let mut line = format!("{}: {}", route.name, parts.join(", "));
    if !why.is_empty() {
        line.push_str(" — ");
        line.push_str(&why);
    }
    line
}

fn fmt_interval(min: f64, max: f64) -> String {
    if (max - min).abs() < 1e-9 {
        format!("{}", (min * 10.0).round() / 10.0)
    } else {
        format!(
            "[{}, {}]",
            (min * 10.0).round() / 10.0,
            (max * 10.0).round() / 10.0
        )
    }
}

/// Decide. `settle`: nothing unknown can still be filled, so decide on what is
/// known (point values; an unknown field condition counts as false).
pub fn decide(
    routing: &RoutingSettings,
    record: &Record,
    scores: &Scores,
    now: DateTime<Utc>,
    settle: bool,
) -> Decision {
    let mut open: Vec<&Route> = Vec::new();
    for route in &routing.routes {
        let t = if settle {
            match eval_cond(&route.when, record, &Points(scores)) {
                Tri::Unknown => Tri::False,
                t => t,
            }
        } else {
            eval_cond(&route.when, record, scores)
        };
        match t {
            Tri::False => continue,
            Tri::Unknown => open.push(route),
            Tri::True if open.is_empty() => {
                return Decision {
                    route: route.name.clone(),
                    decided: true,
                    reason: route.suppress.clone(),
                    recycle_at: route
                        .recycle_days
                        .map(|d| now + chrono::Duration::seconds((d * 86_400.0) as i64)),
                    candidates: vec![],
                    could_change: vec![],
                    explanation: explain(route, scores),
                };
            }
            Tri::True => {
                open.push(route);
                break;
            }
        }
    }
    // Undecided: the fields that could tip an open route, directly or through a score.
    let mut could_change: Vec<String> = Vec::new();
    for route in &open {
        let mut fs = Vec::new();
        cond_fields(&route.when, &mut fs);
        for f in fs.into_iter().filter(|f| record.value(f).is_none()) {
            if !could_change.contains(&f) {
                could_change.push(f);
            }
        }
        let mut scores_read = Vec::new();
        score_names(&route.when, &mut scores_read);
        for s in scores_read.iter().filter_map(|n| scores.get(n)) {
            for f in &s.missing {
                if !could_change.contains(f) {
                    could_change.push(f.clone());
                }
            }
        }
    }
    let candidates: Vec<String> = open.iter().map(|r| r.name.clone()).collect();
    Decision {
        route: ENRICH_ROUTE.to_string(),
        decided: false,
        reason: None,
        recycle_at: None,
        explanation: format!(
            "undecided between {} · missing: {}",
            candidates.join(", "),
            could_change.join(", ")
        ),
        candidates,
        could_change,
    }
}

fn score_names(c: &Cond, out: &mut Vec<String>) {
    match c {
        Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|x| score_names(x, out)),
        Cond::Not(x) => score_names(x, out),
        Cond::Score { score, .. } => out.push(score.clone()),
        _ => {}
    }
}
