//! Planning rounds. Each round schedules, per unfinished field, the first step
//! of its waterfall that has not run yet and whose inputs are known. A field
//! whose next step waits on another field (an email finder on the domain
//! lookup) waits; steps whose inputs can never be known are skipped. Fields
//! with nothing left are finished with the reason that explains them.

use super::config::{FieldWaterfall, Step, WaterfallSettings};
use super::guess;
use super::run::RunState;
use crate::model::{
    Catalogue, FieldName, FieldState, Known, Name, Record, Unknown, UnknownReason, Value,
};
use crate::provider::{Extracted, Inputs, ProviderSet, Verdict};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A value offered by a provider, not yet accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The value.
    pub value: Value,
    /// Operation that supplied it.
    pub source: Name,
    /// Confidence 0..1.
    pub confidence: f64,
}

/// Why a call is made.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// Fill fields.
    Fill,
    /// Check a candidate of `field`.
    Verify {
        /// The field.
        field: FieldName,
        /// The candidate checked.
        candidate: Candidate,
        /// It came from the free guess (stricter acceptance).
        guess: bool,
    },
}

/// One call the engine should make.
#[derive(Debug, Clone)]
pub struct PlannedCall {
    /// Operation id.
    pub operation: Name,
    /// Its inputs (only the fields it reads).
    pub inputs: Inputs,
    /// Why.
    pub purpose: Purpose,
}

/// Equal calls are one call (shared by the fields that planned it): the
/// operation is compared first, without `memcmp`, and settles most pairs.
impl PartialEq for PlannedCall {
    fn eq(&self, o: &PlannedCall) -> bool {
        self.operation == o.operation && self.inputs == o.inputs && self.purpose == o.purpose
    }
}

/// What a call returned, as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum CallAnswer {
    /// Values (and a verdict for verifiers), shared with the cache.
    Hit(std::sync::Arc<Extracted>),
    /// No data.
    NotFound,
    /// Failure with a retry time.
    Failed {
        /// Human detail.
        message: String,
        /// When to retry.
        retry_at: DateTime<Utc>,
        /// Stopped by a budget rather than the vendor.
        budget: bool,
    },
}

/// Seconds until an operation's vendor can take another call; capacity-aware
/// groups send the next lookup to the member that waits least.
#[derive(Clone, Copy)]
pub struct WaitFn<'a>(pub &'a (dyn Fn(&str) -> f64 + Sync));

impl std::fmt::Debug for WaitFn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WaitFn")
    }
}

/// The planner over settings, providers and the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    /// Waterfalls and guard rails.
    pub settings: &'a WaterfallSettings,
    /// Provider operations.
    pub providers: &'a ProviderSet,
    /// Field types and lifetimes.
    pub catalogue: &'a Catalogue,
    /// Vendor waits for capacity-aware groups (`None`: groups keep config order).
    pub wait: Option<WaitFn<'a>>,
}

// A ready call is moved once into the round's list; boxing it would allocate per step.
#[allow(clippy::large_enum_variant)]
enum StepCheck {
    Ready(PlannedCall, f64),
    /// Another field of this round already planned the very call.
    Shared,
    Wait,
    Skip {
        budget: bool,
    },
}

impl<'a> Planner<'a> {
    /// True when the field needs work at `now` (unknown, or known but stale).
    fn needs_work(record: &Record, field: &FieldName, now: DateTime<Utc>) -> bool {
        !record.fields.get(field).is_some_and(|s| s.is_fresh(now))
    }

    /// The next calls. Fields with nothing left to do are finished in `record`.
    /// An empty result means the pass is over.
    /// `pattern(first, last, domain)` gives the local-part pattern to guess with
    /// (the one used before for this person, else the domain's learned one).
    pub fn next(
        &self,
        record: &mut Record,
        run: &mut RunState,
        now: DateTime<Utc>,
        pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
    ) -> Vec<PlannedCall> {
        let (calls, waited) = self.round(record, run, now, pattern, true);
        if !calls.is_empty() || !waited {
            return calls;
        }
        // Nothing ready while someone waits means the waits cannot resolve
        // (a dependency cycle or an input nobody provides): stop waiting.
        self.round(record, run, now, pattern, false).0
    }

    fn round(
        &self,
        record: &mut Record,
        run: &mut RunState,
        now: DateTime<Utc>,
        pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
        allow_wait: bool,
    ) -> (Vec<PlannedCall>, bool) {
        let mut calls: Vec<PlannedCall> = Vec::with_capacity(4);
        // Whether a field waited: only then can a round without waits differ.
        let mut waited = false;
        let mut reserved = 0.0;
        let mut finished = Vec::new();
        self.reopen_unblocked(record, run);
        for w in &self.settings.fields {
            if !Self::needs_work(record, &w.field, now)
                || run.fields.get(w.field).is_some_and(|f| f.done)
            {
                continue;
            }
            if run.relevant.as_ref().is_some_and(|r| !r.contains(&w.field)) {
                // Not done: relevance is recomputed every round, and a field that
                // becomes relevant (the route was decided) is looked up then.
                let fr = run.fields.slot(w.field);
                if fr.pending.is_empty() {
                    if record.value(&w.field).is_none() {
                        let tried = fr.tried.to_vec();
                        record.set(
                            w.field,
                            FieldState::Unknown(Unknown {
                                reason: UnknownReason::NotWorthIt,
                                tried,
                                retry_at: None,
                                detail: Some("cannot change the route".to_string()),
                            }),
                        );
                    }
                    continue;
                }
            }
            // Cheap refresh: an expired value is first re-checked by the verifier;
            // only if that fails does the paid waterfall run again.
            self.queue_recheck(record, run, w, now);
            // A candidate waiting for the verifier comes first.
            if let Some(call) = self.verify_call(record, run, w) {
                let cost = self.cost_of(&call.operation);
                if self.affordable(record, reserved, cost) {
                    reserved += cost;
                    push_unique(&mut calls, call);
                    continue;
                }
                let fr = run.fields.slot(w.field);
                fr.pending.clear();
                fr.budget_blocked = true;
            }
            let mut waiting = false;
            let mut scheduled = false;
            let steps = w.steps_for(record, &self.settings.segment_bands);
            let (order, notes) = self.ordered(w, steps, run);
            let n = order.as_ref().map_or(steps.len(), Vec::len);
            for k in 0..n {
                let step = order.as_ref().map_or(&steps[k], |o| o[k]);
                match self.check_step(record, run, w, step, reserved, pattern, calls.as_slice()) {
                    StepCheck::Ready(call, cost) => {
                        if let Step::Guess = step {
                            run.attempted.insert(step.name());
                        }
                        if let Some(note) = notes.get(step.id()) {
                            run.choices.insert(step.name(), note.clone());
                        }
                        reserved += cost;
                        push_unique(&mut calls, call);
                        scheduled = true;
                        break;
                    }
                    StepCheck::Shared => {
                        if let Some(note) = notes.get(step.id()) {
                            run.choices.insert(step.name(), note.clone());
                        }
                        scheduled = true;
                        break;
                    }
                    StepCheck::Wait if allow_wait => {
                        waiting = true;
                        break;
                    }
                    StepCheck::Wait => {}
                    StepCheck::Skip { budget } => {
                        if budget {
                            run.fields.slot(w.field).budget_blocked = true;
                        }
                    }
                }
            }
            waited |= waiting;
            if !scheduled && !waiting {
                finished.push(w);
            }
        }
        for w in finished {
            self.finish(record, run, w, now);
        }
        if run.cheapest_first {
            self.keep_cheapest(run, &mut calls);
        }
        (calls, waited)
    }

    /// The field's steps in the order to try them now: within each
    /// capacity-aware group, the untried members by vendor wait (ties keep
    /// config order). Notes say why a member jumped ahead of the group's first.
    /// Groups apply to the field's default order; a segment's own order
    /// (`steps` is not `w.steps`) is followed strictly. `None`: the order
    /// is `steps` as configured (no group, or no waits to go by).
    fn ordered<'w>(
        &self,
        w: &FieldWaterfall,
        steps: &'w [Step],
        run: &RunState,
    ) -> (Option<Vec<&'w Step>>, BTreeMap<String, String>) {
        let mut notes = BTreeMap::new();
        let default_order = std::ptr::eq(steps, w.steps.as_slice());
        let Some(WaitFn(wait)) = self.wait.filter(|_| default_order && !w.groups.is_empty()) else {
            return (None, notes);
        };
        let mut order: Vec<&Step> = steps.iter().collect();
        for g in &w.groups {
            // Waits read once: the vendors' state moves while we look.
            let mut keyed: Vec<(f64, &Step)> = order[g.clone()]
                .iter()
                .map(|s| {
                    let tried = run.attempted.contains(s.name());
                    (if tried { f64::INFINITY } else { wait(s.id()) }, *s)
                })
                .collect();
            let Some(&(first_wait, first)) = keyed.iter().find(|k| k.0.is_finite()) else {
                continue;
            };
            // Stable: equal waits keep the configured order.
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (chosen_wait, chosen) = keyed[0];
            if chosen != first {
                notes.insert(
                    chosen.id().to_string(),
                    format!(
                        "capacity: {} (wait {chosen_wait:.2}s) before {} (wait {first_wait:.2}s)",
                        chosen.id(),
                        first.id(),
                    ),
                );
            }
            for (slot, (_, step)) in order[g.clone()].iter_mut().zip(keyed) {
                *slot = step;
            }
        }
        (Some(order), notes)
    }

    /// Keep the calls at the lowest price; the others stay open (their fields
    /// were scheduled, not finished) and are planned again next round.
    fn keep_cheapest(&self, run: &mut RunState, calls: &mut Vec<PlannedCall>) {
        let Some(min) = calls
            .iter()
            .map(|c| self.cost_of(&c.operation))
            .min_by(f64::total_cmp)
        else {
            return;
        };
        calls.retain(|c| {
            let keep = self.cost_of(&c.operation) <= min + 1e-9;
            if !keep && matches!(c.purpose, Purpose::Verify { guess: true, .. }) {
                // A deferred guess was never made.
                run.attempted.remove(Step::Guess.name());
            }
            keep
        });
    }

    /// A field closed as `missing_input` opens again when a later call in the
    /// pass brought an input one of its steps needed (a LinkedIn URL from a
    /// person lookup lets a match API run).
    fn reopen_unblocked(&self, record: &Record, run: &mut RunState) {
        for w in &self.settings.fields {
            let blocked = matches!(record.fields.get(&w.field), Some(FieldState::Unknown(u)) if u.reason == UnknownReason::MissingInput);
            if !blocked || !run.fields.get(w.field).is_some_and(|f| f.done) {
                continue;
            }
            let known = |f: &FieldName| record.value(f).is_some();
            let runnable = w.steps.iter().any(|s| match s {
                Step::Operation(id) => {
                    !run.attempted.contains(*id)
                        && self.enabled(id)
                        && self
                            .providers
                            .operation(id)
                            .is_some_and(|(_, op)| op.satisfied_by(&known))
                }
                Step::Guess => false,
            });
            if runnable {
                if let Some(fr) = run.fields.get_mut(w.field) {
                    fr.done = false;
                }
            }
        }
    }

    fn cost_of(&self, op: &str) -> f64 {
        self.providers
            .operation(op)
            .map_or(0.0, |(_, o)| o.max_cost())
    }

    fn affordable(&self, record: &Record, reserved: f64, cost: f64) -> bool {
        self.settings
            .record_ceiling
            .is_none_or(|c| record.credits_spent + reserved + cost <= c + 1e-9)
    }

    fn enabled(&self, op: &str) -> bool {
        self.providers
            .operation(op)
            .is_some_and(|(p, _)| p.missing_key_env.is_none())
    }

    fn verify_call(
        &self,
        record: &Record,
        run: &RunState,
        w: &FieldWaterfall,
    ) -> Option<PlannedCall> {
        let _ = record;
        let verify = w.verify.as_ref()?;
        let cand = run.fields.get(w.field)?.pending.front()?.clone();
        let (_, op) = self.providers.operation(verify)?;
        let vfield = op.verifies.as_ref()?.field;
        let mut inputs = Inputs::new();
        inputs.insert(vfield, cand.value.clone());
        Some(PlannedCall {
            operation: *verify,
            inputs,
            purpose: Purpose::Verify {
                field: w.field,
                candidate: cand,
                guess: false,
            },
        })
    }

    fn queue_recheck(
        &self,
        record: &Record,
        run: &mut RunState,
        w: &FieldWaterfall,
        now: DateTime<Utc>,
    ) {
        let Some(k) = record
            .fields
            .get(&w.field)
            .filter(|s| s.is_stale(now))
            .and_then(FieldState::known)
        else {
            return;
        };
        if !w.verify.as_ref().is_some_and(|v| self.enabled(v)) {
            return;
        }
        let fr = run.fields.slot(w.field);
        if fr.rechecked {
            return;
        }
        fr.rechecked = true;
        fr.pending.push_front(Candidate {
            value: k.value.clone(),
            source: k.source,
            confidence: k.confidence,
        });
    }

    /// Can `f` still become known in this pass (another waterfall is working on it)?
    fn may_become_known(&self, record: &Record, run: &RunState, f: &str) -> bool {
        record.value(f).is_none()
            && self.settings.get(f).is_some()
            && !run.fields.get_str(f).is_some_and(|r| r.done)
    }

    #[allow(clippy::too_many_arguments)]
    fn check_step(
        &self,
        record: &Record,
        run: &RunState,
        w: &FieldWaterfall,
        step: &Step,
        reserved: f64,
        pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
        planned: &[PlannedCall],
    ) -> StepCheck {
        let known = |f: &FieldName| record.value(f).is_some();
        let known_text = |f: &str| record.value(f).is_some();
        match step {
            Step::Guess => {
                if run.attempted.contains(step.name()) {
                    return StepCheck::Skip { budget: false };
                }
                let need = ["person.first_name", "person.last_name", "company.domain"];
                if !need.iter().all(|f| known_text(f)) {
                    let can_wait = need
                        .iter()
                        .all(|f| known_text(f) || self.may_become_known(record, run, f));
                    return if can_wait {
                        StepCheck::Wait
                    } else {
                        StepCheck::Skip { budget: false }
                    };
                }
                let Some(verify) = w.verify.as_ref().filter(|v| self.enabled(v)) else {
                    return StepCheck::Skip { budget: false };
                };
                let text = |f: &str| record.value(f).map(Value::text).unwrap_or_default();
                let domain = text("company.domain");
                let (first, last) = (text("person.first_name"), text("person.last_name"));
                let pat = pattern(&first, &last, &domain)
                    .unwrap_or_else(|| guess::DEFAULT_PATTERN.to_string());
                let Some(local) = guess::local_part(&pat, &first, &last) else {
                    return StepCheck::Skip { budget: false };
                };
                let Ok(email) = crate::model::email_of(&local, &domain) else {
                    return StepCheck::Skip { budget: false };
                };
                let cost = self.cost_of(verify);
                if !self.affordable(record, reserved, cost) {
                    return StepCheck::Skip { budget: true };
                }
                let (_, op) = self
                    .providers
                    .operation(verify)
                    .expect("enabled verify exists");
                let mut inputs = Inputs::new();
                inputs.insert(
                    op.verifies.as_ref().map(|v| v.field).unwrap_or_default(),
                    Value::Text(email.clone()),
                );
                StepCheck::Ready(
                    PlannedCall {
                        operation: *verify,
                        inputs,
                        purpose: Purpose::Verify {
                            field: w.field,
                            candidate: Candidate {
                                value: Value::Text(email),
                                source: step.name(),
                                confidence: 0.9,
                            },
                            guess: true,
                        },
                    },
                    cost,
                )
            }
            Step::Operation(id) => {
                if run.attempted.contains(*id) {
                    return StepCheck::Skip { budget: false };
                }
                // One lookup for "exists" and "enabled".
                let Some((_, op)) = self
                    .providers
                    .operation(id)
                    .filter(|(p, _)| p.missing_key_env.is_none())
                else {
                    return StepCheck::Skip { budget: false };
                };
                if !op.satisfied_by(&known) {
                    let can_wait = op.requires.iter().any(|set| {
                        set.iter()
                            .all(|f| known(f) || self.may_become_known(record, run, f))
                    });
                    return if can_wait {
                        StepCheck::Wait
                    } else {
                        StepCheck::Skip { budget: false }
                    };
                }
                // Another field already scheduled this very call: it is shared,
                // not paid twice. The record's values do not change within a
                // round, so the same operation has the same inputs.
                if planned
                    .iter()
                    .any(|c| c.operation == *id && c.purpose == Purpose::Fill)
                {
                    return StepCheck::Shared;
                }
                // Inserted one by one: `collect` into a map sorts a vector first.
                let mut inputs = Inputs::new();
                for f in op.input_fields() {
                    if let Some(v) = record.value(f) {
                        inputs.insert(*f, v.clone());
                    }
                }
                let call = PlannedCall {
                    operation: *id,
                    inputs,
                    purpose: Purpose::Fill,
                };
                let cost = op.max_cost();
                if !self.affordable(record, reserved, cost) {
                    return StepCheck::Skip { budget: true };
                }
                StepCheck::Ready(call, cost)
            }
        }
    }

    /// Apply one call's answer to the record and the pass state.
    pub fn apply(
        &self,
        record: &mut Record,
        run: &mut RunState,
        call: &PlannedCall,
        answer: &CallAnswer,
        credits: f64,
        now: DateTime<Utc>,
    ) {
        record.credits_spent += credits;
        record.updated_at = now;
        match &call.purpose {
            Purpose::Fill => self.apply_fill(record, run, call, answer, now),
            Purpose::Verify {
                field,
                candidate,
                guess,
            } => self.apply_verify(record, run, call, *field, candidate, *guess, answer, now),
        }
    }

    fn apply_fill(
        &self,
        record: &mut Record,
        run: &mut RunState,
        call: &PlannedCall,
        answer: &CallAnswer,
        now: DateTime<Utc>,
    ) {
        run.attempted.insert(call.operation);
        let Some((_, op)) = self.providers.operation(&call.operation) else {
            return;
        };
        for field in op.provided_fields() {
            if !Self::needs_work(record, field, now) {
                continue;
            }
            let slot = run.fields.slot_index(*field);
            let fr = run.fields.at(slot);
            if fr.done {
                continue;
            }
            if !fr.tried.contains(&call.operation) {
                fr.tried.push(call.operation);
            }
            match answer {
                CallAnswer::Hit(ex) => match ex.values.iter().find(|(f, _, _)| f == field) {
                    Some((_, value, confidence)) => {
                        let cand = Candidate {
                            value: value.clone(),
                            source: call.operation,
                            confidence: *confidence,
                        };
                        self.offer(record, run, *field, slot, cand, now);
                    }
                    None => fr.answered_none = true,
                },
                CallAnswer::NotFound => fr.answered_none = true,
                CallAnswer::Failed {
                    message,
                    retry_at,
                    budget,
                } => {
                    if *budget {
                        fr.note_budget(*retry_at, message);
                    } else {
                        fr.errors
                            .push((format!("{}: {message}", call.operation), *retry_at));
                    }
                }
            }
        }
    }

    /// A provider offered a value for `field` (its progress at `slot`).
    fn offer(
        &self,
        record: &mut Record,
        run: &mut RunState,
        field: FieldName,
        slot: usize,
        cand: Candidate,
        now: DateTime<Utc>,
    ) {
        let w = self.settings.get(&field);
        let threshold = w.map_or(self.settings.default_threshold, |w| w.threshold);
        let fr = run.fields.at(slot);
        if fr.rejected.contains(&cand.value) || fr.pending.iter().any(|c| c.value == cand.value) {
            return;
        }
        if cand.confidence + 1e-9 < threshold {
            if fr
                .best_low
                .as_ref()
                .is_none_or(|b| b.confidence < cand.confidence)
            {
                fr.best_low = Some(cand);
            }
            // A field with no waterfall of its own keeps nothing below the threshold.
            return;
        }
        let needs_verify = w
            .and_then(|w| w.verify.as_ref())
            .is_some_and(|v| self.enabled(v));
        if needs_verify && run.relevant.as_ref().is_some_and(|r| !r.contains(&field)) {
            // A free by-product, but checking it would cost: not for a field that cannot matter.
            return;
        }
        if needs_verify {
            fr.pending.push_back(cand);
        } else {
            fr.done = true;
            self.accept(record, run, field, cand, None, now);
        }
    }

    fn accept(
        &self,
        record: &mut Record,
        run: &mut RunState,
        field: FieldName,
        cand: Candidate,
        verdict: Option<Verdict>,
        now: DateTime<Utc>,
    ) {
        let ttl = self.catalogue.get_name(field).map_or(365, |d| d.ttl_days);
        let expires_at = run.expiry(now, ttl);
        record.set(
            field,
            FieldState::Known(Known {
                value: cand.value,
                source: cand.source,
                confidence: cand.confidence,
                observed_at: now,
                expires_at: Some(expires_at),
                verified: verdict.map(|v| v.as_str().to_string()),
            }),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_verify(
        &self,
        record: &mut Record,
        run: &mut RunState,
        call: &PlannedCall,
        field: FieldName,
        cand: &Candidate,
        guess: bool,
        answer: &CallAnswer,
        now: DateTime<Utc>,
    ) {
        let Some(w) = self.settings.get(&field) else {
            return;
        };
        let fr = run.fields.slot(field);
        fr.pending.retain(|c| c.value != cand.value);
        if guess && !fr.tried.iter().any(|t| t == &cand.source) {
            fr.tried.push(cand.source);
        }
        if !fr.tried.contains(&call.operation) {
            fr.tried.push(call.operation);
        }
        let verdict = match answer {
            CallAnswer::Hit(ex) => ex.verdict.unwrap_or(Verdict::Unknown),
            CallAnswer::NotFound => Verdict::Unknown,
            CallAnswer::Failed {
                message,
                retry_at,
                budget,
            } => {
                if *budget {
                    fr.note_budget(*retry_at, message);
                } else if !guess {
                    fr.errors
                        .push((format!("{}: {message}", call.operation), *retry_at));
                }
                return;
            }
        };
        // A guess must be proven deliverable: on a catch-all domain any guess "passes".
        let accepted = match verdict {
            Verdict::Valid => true,
            Verdict::CatchAll => w.accept_catch_all && !guess,
            Verdict::Unknown => w.accept_unknown && !guess,
            Verdict::Invalid => false,
        };
        if accepted {
            fr.done = true;
            fr.pending.clear();
            self.accept(record, run, field, cand.clone(), Some(verdict), now);
        } else if !guess {
            fr.rejected.push(cand.value.clone());
        }
    }

    /// Close a field that has nothing left to try, with the reason that explains it.
    fn finish(
        &self,
        record: &mut Record,
        run: &mut RunState,
        w: &FieldWaterfall,
        now: DateTime<Utc>,
    ) {
        let fr = run.fields.slot(w.field);
        fr.done = true;
        let tried = fr.tried.to_vec();
        if w.verify.is_none() {
            if let Some(best) = fr.best_low.take() {
                // Paid-for data below the stop threshold is kept, with its low confidence.
                self.accept(record, run, w.field, best, None, now);
                return;
            }
        }
        let (reason, retry_at, detail) = if !fr.rejected.is_empty() {
            let rejected: Vec<String> = fr.rejected.iter().map(Value::render).collect();
            (
                UnknownReason::Invalid,
                None,
                Some(format!("rejected by the verifier: {}", rejected.join(", "))),
            )
        } else if !fr.errors.is_empty() {
            let retry = fr.errors.iter().map(|(_, t)| *t).min();
            let msg = fr
                .errors
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            (UnknownReason::ProviderError, retry, Some(msg))
        } else if let Some((reset, message)) = &fr.budget_reset {
            // Asked again when the cap resets.
            (
                UnknownReason::BudgetExhausted,
                Some(*reset),
                Some(message.clone()),
            )
        } else if fr.budget_blocked {
            (
                UnknownReason::BudgetExhausted,
                None,
                Some("per-record credit ceiling reached".to_string()),
            )
        } else if fr.answered_none {
            (UnknownReason::NotFound, None, None)
        } else if tried.is_empty() {
            let missing = self.missing_inputs(record, w);
            if !missing.is_empty() {
                (
                    UnknownReason::MissingInput,
                    None,
                    Some(format!("needs {missing}")),
                )
            } else {
                let keys = self.missing_keys(w);
                let detail = if keys.is_empty() {
                    "no enabled provider for this field".to_string()
                } else {
                    format!(
                        "no enabled provider for this field (set {})",
                        keys.join(", ")
                    )
                };
                (UnknownReason::NotAttempted, None, Some(detail))
            }
        } else {
            (UnknownReason::NotFound, None, None)
        };
        // A stale value stays (reported stale) rather than being replaced by
        // "unknown", unless the verifier has just rejected it.
        if record
            .fields
            .get(&w.field)
            .and_then(FieldState::value)
            .is_some_and(|v| !fr.rejected.contains(v))
        {
            return;
        }
        record.set(
            w.field,
            FieldState::Unknown(Unknown {
                reason,
                tried,
                retry_at,
                detail,
            }),
        );
    }

    /// Environment variables that would enable this field's disabled providers.
    fn missing_keys(&self, w: &FieldWaterfall) -> Vec<String> {
        let mut keys: Vec<String> = w
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Operation(id) => self
                    .providers
                    .operation(id)
                    .and_then(|(p, _)| p.missing_key_env.clone()),
                Step::Guess => None,
            })
            .collect();
        keys.dedup();
        keys
    }

    /// The inputs the enabled steps lack, as `a + b or c`.
    fn missing_inputs(&self, record: &Record, w: &FieldWaterfall) -> String {
        let mut sets: Vec<String> = Vec::new();
        for step in &w.steps {
            let reqs: Vec<Vec<FieldName>> = match step {
                Step::Guess if w.verify.as_ref().is_some_and(|v| self.enabled(v)) => vec![vec![
                    "person.first_name".into(),
                    "person.last_name".into(),
                    "company.domain".into(),
                ]],
                Step::Operation(id) if self.enabled(id) => self
                    .providers
                    .operation(id)
                    .map(|(_, o)| o.requires.clone())
                    .unwrap_or_default(),
                _ => vec![],
            };
            for set in reqs {
                let missing: Vec<&str> = set
                    .iter()
                    .map(|f| f.as_str())
                    .filter(|f| record.value(f).is_none())
                    .collect();
                let s = missing.join(" + ");
                if !missing.is_empty() && !sets.contains(&s) {
                    sets.push(s);
                }
            }
        }
        sets.join(" or ")
    }
}

fn push_unique(calls: &mut Vec<PlannedCall>, call: PlannedCall) {
    if !calls.contains(&call) {
        calls.push(call);
    }
}
