//! The waterfall order advisor: per field and per segment (company size
//! band, seniority, or any configured field), the provider order that
//! minimises expected credits per filled field, from the hit rates and costs
//! observed in the ledger, with the expected saving against the current order
//! and the evidence behind every number. It refuses to advise a segment where
//! any provider answered about fewer than `advisor.min_records` records.
//!
//! Evidence: every answered call (found or not, cache hits included: the
//! vendor's knowledge is the same) about a record, once per (record,
//! operation), counted in the segments the record belongs to now. A provider
//! asked only after another missed is measured on those misses; the model
//! treats providers' coverage as independent, and reports the overlap seen
//! where several providers were asked about the same record.

mod apply;
mod config;
mod order;

pub use apply::{apply, Applied};
pub use config::{compile_advisor, AdvisorFile, AdvisorSettings};
pub use order::{best_order, credits_per_fill, StepFigures};

use crate::store::LedgerEntry;
use crate::waterfall::{segment_label, Step, WaterfallSettings};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The segment every record belongs to.
pub const ALL: &str = "all";

/// One provider's evidence in one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEvidence {
    /// Operation id.
    pub operation: String,
    /// Records it answered about.
    pub records: u64,
    /// Records its answer filled the field for.
    pub filled: u64,
    /// filled / records.
    pub hit_rate: f64,
    /// Credits per ask.
    pub cost_per_ask: f64,
}

/// How often two providers both filled a field when both were asked about a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overlap {
    /// First operation.
    pub a: String,
    /// Second operation.
    pub b: String,
    /// Records both answered about.
    pub both_asked: u64,
    /// Of those, records both filled.
    pub both_filled: u64,
}

/// The advice for one field in one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldAdvice {
    /// Field.
    pub field: String,
    /// `all`, or `<field>=<value or band>`.
    pub segment: String,
    /// The order used now.
    pub current: Vec<String>,
    /// The suggested order (`None`: refused, see `refused`).
    pub suggested: Option<Vec<String>>,
    /// Expected credits per filled field with the current order.
    pub current_credits_per_fill: Option<f64>,
    /// Expected credits per filled field with the suggestion.
    pub suggested_credits_per_fill: Option<f64>,
    /// current − suggested, credits per filled field.
    pub saving_per_fill: Option<f64>,
    /// Why there is no suggestion.
    pub refused: Option<String>,
    /// The evidence per provider.
    pub evidence: Vec<StepEvidence>,
    /// Overlap between providers asked about the same records.
    pub overlap: Vec<Overlap>,
}

impl FieldAdvice {
    /// True when the suggestion differs from the current order.
    pub fn changes(&self) -> bool {
        self.suggested.as_ref().is_some_and(|s| s != &self.current)
    }
}

/// Every field's advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    /// Evidence needed per provider and segment.
    pub min_records: u64,
    /// Per field and segment.
    pub fields: Vec<FieldAdvice>,
}

/// The segments a record belongs to now (besides `all`).
pub fn segments_of(r: &crate::model::Record, s: &AdvisorSettings) -> Vec<String> {
    s.segment_fields
        .iter()
        .filter_map(|f| {
            let v = segment_label(r.value(f)?, &s.size_bands);
            Some(format!("{f}={v}"))
        })
        .collect()
}

/// What one operation answered about one record.
#[derive(Debug, Default)]
struct Answer {
    fields: BTreeSet<String>,
    cost: f64,
}

/// Collects evidence from ledger rows and records.
#[derive(Debug, Default)]
pub struct Evidence {
    answers: HashMap<(String, String), Answer>,
    segments: HashMap<String, Vec<String>>,
}

impl Evidence {
    /// Count one ledger row (answered calls about a record only).
    pub fn add_call(&mut self, row: &LedgerEntry) {
        let Some(id) = &row.record_id else { return };
        if row.outcome != "hit" && row.outcome != "not_found" {
            return;
        }
        let a = self
            .answers
            .entry((id.clone(), row.operation.to_string()))
            .or_insert_with(|| Answer {
                fields: BTreeSet::new(),
                cost: row.credits + row.saved_credits,
            });
        a.fields.extend(row.fields.iter().map(|f| f.to_string()));
    }

    /// Note a record's segments.
    pub fn add_record(&mut self, r: &crate::model::Record, s: &AdvisorSettings) {
        self.segments.insert(r.id.clone(), segments_of(r, s));
    }

    /// The advice.
    pub fn advise(&self, waterfall: &WaterfallSettings, s: &AdvisorSettings) -> Advice {
        // (field, segment, op) → (asked, filled, cost)
        type Tally = BTreeMap<(String, String, String), (u64, u64, f64)>;
        let mut tally: Tally = BTreeMap::new();
        let mut overlap: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
        let mut by_record: HashMap<&str, Vec<(&str, &Answer)>> = HashMap::new();
        for ((id, op), a) in &self.answers {
            by_record
                .entry(id.as_str())
                .or_default()
                .push((op.as_str(), a));
        }
        let mut fields = Vec::new();
        for w in &waterfall.fields {
            let ops: Vec<&str> = w
                .steps
                .iter()
                .filter_map(|st| match st {
                    Step::Operation(id) => Some(id.as_str()),
                    Step::Guess => None,
                })
                .collect();
            if ops.len() < 2 {
                continue; // nothing to order
            }
            fields.push((w, ops.clone()));
            for (id, answers) in &by_record {
                let segs = self.segments.get(*id).map(Vec::as_slice).unwrap_or(&[]);
                let asked: Vec<(&str, bool)> = answers
                    .iter()
                    .filter(|(op, _)| ops.contains(op))
                    .map(|(op, a)| (*op, a.fields.contains(w.field.as_str())))
                    .collect();
                for (op, a) in answers.iter().filter(|(op, _)| ops.contains(op)) {
                    let filled = a.fields.contains(w.field.as_str());
                    for seg in std::iter::once(ALL).chain(segs.iter().map(String::as_str)) {
                        let t = tally
                            .entry((w.field.to_string(), seg.to_string(), op.to_string()))
                            .or_default();
                        t.0 += 1;
                        t.1 += u64::from(filled);
                        t.2 += a.cost;
                    }
                }
                for (i, (a, fa)) in asked.iter().enumerate() {
                    for (b, fb) in &asked[i + 1..] {
                        let (a, b, fa, fb) = if a < b {
                            (a, b, fa, fb)
                        } else {
                            (b, a, fb, fa)
                        };
                        let o = overlap
                            .entry((w.field.to_string(), a.to_string(), b.to_string()))
                            .or_default();
                        o.0 += 1;
                        o.1 += u64::from(*fa && *fb);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (w, ops) in fields {
            let field = w.field.to_string();
            let segments: BTreeSet<&String> = tally
                .keys()
                .filter(|(f, _, _)| f == &field)
                .map(|(_, seg, _)| seg)
                .collect();
            let mut segments: Vec<&String> = segments.into_iter().collect();
            // `all` first, then the segments in name order.
            segments.sort_by_key(|s| (s.as_str() != ALL, (*s).clone()));
            for seg in segments {
                let figures: Vec<StepFigures> = ops
                    .iter()
                    .map(|op| {
                        let (asked, filled, cost) = tally
                            .get(&(field.clone(), seg.clone(), op.to_string()))
                            .copied()
                            .unwrap_or_default();
                        StepFigures {
                            operation: op.to_string(),
                            asked,
                            filled,
                            cost: if asked == 0 { 0.0 } else { cost / asked as f64 },
                        }
                    })
                    .collect();
                // The order used now in this segment.
                let current: Vec<&StepFigures> = w
                    .steps_for_segment(seg)
                    .iter()
                    .filter_map(|st| figures.iter().find(|f| f.operation == st.id()))
                    .collect();
                out.push(field_advice(
                    &field,
                    seg,
                    &figures,
                    &current,
                    &overlap,
                    s.min_records,
                ));
            }
        }
        Advice {
            min_records: s.min_records,
            fields: out,
        }
    }
}

fn field_advice(
    field: &str,
    segment: &str,
    figures: &[StepFigures],
    current: &[&StepFigures],
    overlap: &BTreeMap<(String, String, String), (u64, u64)>,
    min_records: u64,
) -> FieldAdvice {
    let evidence = figures
        .iter()
        .map(|f| StepEvidence {
            operation: f.operation.clone(),
            records: f.asked,
            filled: f.filled,
            hit_rate: f.hit_rate(),
            cost_per_ask: f.cost,
        })
        .collect();
    let overlap = if segment == ALL {
        overlap
            .iter()
            .filter(|((f, _, _), _)| f == field)
            .map(|((_, a, b), (n, both))| Overlap {
                a: a.clone(),
                b: b.clone(),
                both_asked: *n,
                both_filled: *both,
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut advice = FieldAdvice {
        field: field.to_string(),
        segment: segment.to_string(),
        current: current.iter().map(|f| f.operation.clone()).collect(),
        suggested: None,
        current_credits_per_fill: None,
        suggested_credits_per_fill: None,
        saving_per_fill: None,
        refused: None,
        evidence,
        overlap,
    };
    if let Some(weak) = figures.iter().min_by_key(|f| f.asked) {
        if weak.asked < min_records {
            advice.refused = Some(format!(
                "too little evidence: {} answered about {} records here (need {min_records})",
                weak.operation, weak.asked
            ));
            return advice;
        }
    }
    let best = best_order(figures);
    advice.current_credits_per_fill = credits_per_fill(current);
    advice.suggested_credits_per_fill = credits_per_fill(&best);
    advice.saving_per_fill = advice
        .current_credits_per_fill
        .zip(advice.suggested_credits_per_fill)
        .map(|(c, s)| c - s);
    advice.suggested = Some(best.iter().map(|f| f.operation.clone()).collect());
    advice
}

#[cfg(test)]
mod tests;

/// Gather the evidence from the stores over `window` and advise.
pub fn from_store(
    records: &dyn crate::store::RecordStore,
    calls: &dyn crate::store::CallStore,
    waterfall: &WaterfallSettings,
    settings: &AdvisorSettings,
    window: &crate::report::Window,
) -> Result<Advice, crate::store::StoreError> {
    let mut ev = Evidence::default();
    records.scan(&mut |r| {
        ev.add_record(&r.record, settings);
        true
    })?;
    for row in calls.ledger()? {
        if window.contains(row.at) {
            ev.add_call(&row);
        }
    }
    Ok(ev.advise(waterfall, settings))
}
