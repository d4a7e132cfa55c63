//! The `[waterfall]` section of `config/leadfall.toml`: per-field ordered steps,
//! stop threshold, verification and guard rails. Raw serde structs plus the
//! compile step that checks every reference.

use crate::diag::ConfigError;
use crate::model::{Catalogue, FieldName};
use crate::provider::ProviderSet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The built-in free step that guesses an email from the name and the domain's pattern.
pub const GUESS_STEP: &str = "builtin.email-guess";

/// `[waterfall]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterfallFile {
    /// Confidence at or above which a value stops a field's waterfall.
    #[serde(default = "default_threshold")]
    pub default_threshold: f64,
    /// Most credits one record may spend in one pass (no limit when absent).
    #[serde(default)]
    pub record_ceiling_credits: Option<f64>,
    /// Per-field waterfalls, keyed by field name.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldWaterfallFile>,
    /// Enrich every field even when routes are configured (default: only the
    /// fields that could still change the route; the rest end `not_worth_it`).
    #[serde(default)]
    pub enrich_everything: bool,
}

const fn default_threshold() -> f64 {
    0.7
}

impl Default for WaterfallFile {
    fn default() -> Self {
        WaterfallFile {
            default_threshold: default_threshold(),
            record_ceiling_credits: None,
            fields: BTreeMap::new(),
            enrich_everything: false,
        }
    }
}

/// One field's waterfall.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldWaterfallFile {
    /// Operation ids (`provider.operation`) in order; `builtin.email-guess` for the free guess.
    pub steps: Vec<String>,
    /// Stop threshold for this field (default: `default_threshold`).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Verification operation whose verdict must accept a found value.
    #[serde(default)]
    pub verify: Option<String>,
    /// Accept a `catch_all` verdict (the domain accepts any address).
    #[serde(default)]
    pub accept_catch_all: bool,
    /// Accept an `unknown` verdict (the verifier could not tell).
    #[serde(default)]
    pub accept_unknown: bool,
    /// Interchangeable operations (adjacent in `steps`): within a group the
    /// next lookup goes to the one whose vendor has capacity now; across
    /// groups the order of `steps` holds. Default: none (strict order).
    #[serde(default)]
    pub groups: Vec<Vec<String>>,
    /// Orders for segments, e.g. `"person.seniority=vp" = [...]` or
    /// `"company.employee_count=51-200" = [...]` (bands from `advisor.size_bands`):
    /// a record whose value puts it in the segment uses that order (the first
    /// matching segment in `advisor.segment_fields` order wins).
    /// `leadfall report --advise --apply` writes these.
    #[serde(default)]
    pub segments: BTreeMap<String, Vec<String>>,
}

/// A compiled step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A provider operation.
    Operation(crate::model::Name),
    /// The free email guess.
    Guess,
}

impl Step {
    /// The id as written in config.
    pub fn id(&self) -> &str {
        match self {
            Step::Operation(id) => id,
            Step::Guess => GUESS_STEP,
        }
    }

    /// The id, interned.
    pub fn name(&self) -> crate::model::Name {
        static GUESS: std::sync::OnceLock<crate::model::Name> = std::sync::OnceLock::new();
        match self {
            Step::Operation(id) => *id,
            Step::Guess => *GUESS.get_or_init(|| GUESS_STEP.into()),
        }
    }
}

/// A compiled field waterfall.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldWaterfall {
    /// The field.
    pub field: FieldName,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Stop threshold.
    pub threshold: f64,
    /// Verification operation.
    pub verify: Option<crate::model::Name>,
    /// Accept catch-all verdicts.
    pub accept_catch_all: bool,
    /// Accept unknown verdicts.
    pub accept_unknown: bool,
    /// Capacity-aware groups: ranges of `steps` (start, end exclusive) whose
    /// operations are interchangeable.
    pub groups: Vec<std::ops::Range<usize>>,
    /// Orders per segment: (field, value label, steps).
    pub segments: Vec<(FieldName, String, Vec<Step>)>,
}

impl FieldWaterfall {
    /// The steps in the order for this record's segment (or the default order).
    pub fn steps_for(&self, record: &crate::model::Record, bands: &[i64]) -> &[Step] {
        for (field, label, steps) in &self.segments {
            if record
                .value(field)
                .is_some_and(|v| &segment_label(v, bands) == label)
            {
                return steps;
            }
        }
        &self.steps
    }

    /// The steps ordered for `segment` (`field=label`), or the default order.
    pub fn steps_for_segment(&self, segment: &str) -> &[Step] {
        self.segments
            .iter()
            .find(|(f, l, _)| segment.split_once('=') == Some((f.as_str(), l.as_str())))
            .map_or(&self.steps, |(_, _, s)| s)
    }
}

/// A value's segment label: integers are cut into bands (`1-10`, `11-50`, ...,
/// `5001+`, upper bounds from `bands`), anything else is its lower-case text.
pub fn segment_label(v: &crate::model::Value, bands: &[i64]) -> String {
    match v {
        crate::model::Value::Integer(n) => {
            let mut lo = 1;
            for b in bands {
                if n <= b {
                    return format!("{lo}-{b}");
                }
                lo = b + 1;
            }
            format!("{lo}+")
        }
        other => other.render().to_lowercase(),
    }
}

/// All waterfalls plus guard rails.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WaterfallSettings {
    /// Threshold for fields filled incidentally (no waterfall of their own).
    pub default_threshold: f64,
    /// Per-record ceiling for one pass.
    pub record_ceiling: Option<f64>,
    /// Waterfalls, sorted by field.
    pub fields: Vec<FieldWaterfall>,
    /// Enrich everything, ignoring routes.
    pub enrich_everything: bool,
    /// Band bounds for integer segment fields (from `advisor.size_bands`).
    pub segment_bands: Vec<i64>,
}

impl WaterfallSettings {
    /// The waterfall of a field.
    pub fn get<K: crate::model::FieldKey + ?Sized>(&self, field: &K) -> Option<&FieldWaterfall> {
        self.fields.iter().find(|w| field.is(&w.field))
    }
}

fn check_unit(errors: &mut Vec<ConfigError>, file: &Path, key: String, v: f64) {
    if !(0.0..=1.0).contains(&v) {
        errors.push(ConfigError::at(
            file,
            key,
            format!("must lie in 0..1, got {v}"),
        ));
    }
}

/// Each group as a range of `steps`: two or more operations, adjacent in
/// `steps` (so the order across groups stays what the steps say), no step in
/// two groups, no guess.
fn compile_groups(
    file: &Path,
    key: &str,
    raw: &[Vec<String>],
    steps: &[Step],
    errors: &mut Vec<ConfigError>,
) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (g, members) in raw.iter().enumerate() {
        let gkey = format!("{key}.groups[{g}]");
        let mut at = Vec::new();
        for m in members {
            match steps.iter().position(|s| s.id() == m) {
                Some(i) if matches!(steps[i], Step::Operation(_)) => at.push(i),
                Some(_) => errors.push(ConfigError::at(
                    file,
                    gkey.clone(),
                    "the email guess cannot be grouped",
                )),
                None => errors.push(ConfigError::at(
                    file,
                    gkey.clone(),
                    format!("{m:?} is not one of this field's steps"),
                )),
            }
        }
        if at.len() != members.len() {
            continue;
        }
        at.sort_unstable();
        at.dedup();
        if at.len() < 2 {
            errors.push(ConfigError::at(
                file,
                gkey,
                "a group needs two or more different steps",
            ));
            continue;
        }
        let range = at[0]..at[at.len() - 1] + 1;
        if range.len() != at.len() {
            errors.push(ConfigError::at(
                file,
                gkey,
                "a group's steps must be adjacent in `steps`",
            ));
        } else if out
            .iter()
            .any(|r| r.start < range.end && range.start < r.end)
        {
            errors.push(ConfigError::at(file, gkey, "a step belongs to two groups"));
        } else {
            out.push(range);
        }
    }
    out
}

/// Check every reference and build the settings.
pub fn compile_waterfalls(
    file: &Path,
    raw: &WaterfallFile,
    providers: &ProviderSet,
    catalogue: &Catalogue,
    errors: &mut Vec<ConfigError>,
) -> WaterfallSettings {
    check_unit(
        errors,
        file,
        "waterfall.default_threshold".into(),
        raw.default_threshold,
    );
    if let Some(c) = raw.record_ceiling_credits {
        if !(c.is_finite() && c >= 0.0) {
            errors.push(ConfigError::at(
                file,
                "waterfall.record_ceiling_credits",
                format!("must be ≥ 0, got {c}"),
            ));
        }
    }
    let mut fields: Vec<FieldWaterfall> = raw
        .fields
        .iter()
        .filter_map(|(field, w)| compile_field(file, raw, field, w, providers, catalogue, errors))
        .collect();
    add_shared_operations(&mut fields, providers);
    WaterfallSettings {
        default_threshold: raw.default_threshold,
        record_ceiling: raw.record_ceiling_credits,
        fields,
        enrich_everything: raw.enrich_everything,
        segment_bands: Vec::new(),
    }
}

/// Check and compile one field's waterfall (`None`: not a catalogue field).
fn compile_field(
    file: &Path,
    raw: &WaterfallFile,
    field: &str,
    w: &FieldWaterfallFile,
    providers: &ProviderSet,
    catalogue: &Catalogue,
    errors: &mut Vec<ConfigError>,
) -> Option<FieldWaterfall> {
    let key = format!("waterfall.fields.\"{field}\"");
    if !catalogue.contains(field) {
        errors.push(ConfigError::at(
            file,
            key,
            format!("unknown field {field:?} (not in the field catalogue)"),
        ));
        return None;
    }
    let skey = format!("{key}.steps");
    if w.steps.is_empty() {
        errors.push(ConfigError::at(
            file,
            skey.clone(),
            "at least one step is required",
        ));
    }
    let steps = compile_steps(file, field, w, &w.steps, &skey, providers, errors);
    let mut segments = Vec::new();
    for (seg, list) in &w.segments {
        let skey = format!("{key}.segments.\"{seg}\"");
        match seg.split_once('=') {
            Some((f, label)) if catalogue.contains(f) && !label.is_empty() => {
                let s = compile_steps(file, field, w, list, &skey, providers, errors);
                segments.push((f.into(), label.to_lowercase(), s));
            }
            _ => errors.push(ConfigError::at(
                file,
                skey,
                "a segment is `<field>=<value or band>`, like \"person.seniority=vp\"",
            )),
        }
    }
    if let Some(v) = &w.verify {
        check_verify(file, &format!("{key}.verify"), field, v, providers, errors);
    }
    let threshold = w.threshold.unwrap_or(raw.default_threshold);
    check_unit(errors, file, format!("{key}.threshold"), threshold);
    let groups = compile_groups(file, &key, &w.groups, &steps, errors);
    Some(FieldWaterfall {
        field: field.into(),
        steps,
        threshold,
        verify: w.verify.as_deref().map(crate::model::Name::from),
        accept_catch_all: w.accept_catch_all,
        accept_unknown: w.accept_unknown,
        groups,
        segments,
    })
}

/// A field's `verify` must name an operation that verifies that field.
fn check_verify(
    file: &Path,
    key: &str,
    field: &str,
    v: &str,
    providers: &ProviderSet,
    errors: &mut Vec<ConfigError>,
) {
    match providers.operation(v) {
        Some((_, op)) if op.verifies.as_ref().is_some_and(|vf| vf.field == field) => {}
        Some(_) => errors.push(ConfigError::at(
            file,
            key,
            format!("operation {v:?} does not verify {field}"),
        )),
        None => errors.push(ConfigError::at(
            file,
            key,
            format!("unknown operation {v:?}"),
        )),
    }
}

/// Operations configured for other fields that also provide a field follow
/// its own steps: they run for those fields anyway (never paid twice), and
/// so a field can be filled the same way whether or not every field is looked up.
fn add_shared_operations(fields: &mut [FieldWaterfall], providers: &ProviderSet) {
    let all_ops: Vec<crate::model::Name> = fields
        .iter()
        .flat_map(|w| {
            w.steps.iter().filter_map(|s| match s {
                Step::Operation(id) => Some(*id),
                Step::Guess => None,
            })
        })
        .collect();
    for w in fields {
        for op in &all_ops {
            let provides = providers
                .operation(op)
                .is_some_and(|(_, o)| o.provided_fields().any(|f| f == &w.field));
            if provides && !w.steps.iter().any(|s| s.id() == op) {
                w.steps.push(Step::Operation(*op));
            }
            for (_, _, steps) in &mut w.segments {
                if provides && !steps.iter().any(|s| s.id() == op) {
                    steps.push(Step::Operation(*op));
                }
            }
        }
    }
}

/// Check and compile one list of steps for `field`.
fn compile_steps(
    file: &Path,
    field: &str,
    w: &FieldWaterfallFile,
    list: &[String],
    key: &str,
    providers: &ProviderSet,
    errors: &mut Vec<ConfigError>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let skey = format!("{key}[{i}]");
        if s == GUESS_STEP {
            if field != "person.email" || w.verify.is_none() {
                errors.push(ConfigError::at(
                    file,
                    skey,
                    "the email guess only applies to person.email with a `verify` operation",
                ));
            }
            steps.push(Step::Guess);
            continue;
        }
        match providers.operation(s) {
            None => errors.push(ConfigError::at(
                file,
                skey,
                format!("unknown operation {s:?} (expected provider.operation from providers/)"),
            )),
            Some((_, op)) if !op.provided_fields().any(|f| f == field) => {
                errors.push(ConfigError::at(
                    file,
                    skey,
                    format!("operation {s:?} does not provide {field}"),
                ))
            }
            Some(_) => steps.push(Step::Operation(s.as_str().into())),
        }
    }
    steps
}
