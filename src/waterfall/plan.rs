//! Planning rounds. Each round schedules, per unfinished field, the first step
//! of its waterfall that has not run yet and whose inputs are known. A field
//! whose next step waits on another field (an email finder on the domain
//! lookup) waits; steps whose inputs can never be known are skipped. Fields
//! with nothing left are finished with the reason that explains them.

use super::config::{FieldWaterfall, Step, WaterfallSettings};
use super::guess;
use super::run::{FieldRun, RunState};
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

/// The calls a round has planned so far and the credits they may cost.
struct Planned {
    calls: Vec<PlannedCall>,
    reserved: f64,
}

impl Planned {
    /// Plan `call` (once: an equal call is shared) and reserve its cost.
    fn add(&mut self, call: PlannedCall, cost: f64) {
        self.reserved += cost;
        push_unique(&mut self.calls, call);
    }
}

/// How a walk through a field's steps ended.
#[derive(Debug, PartialEq)]
enum Walk {
    /// A step runs (or shares a call) this round.
    Scheduled,
    /// A step waits on a field another waterfall may still fill.
    Waiting,
    /// Nothing left to try: the field finishes.
    Exhausted,
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

    /// One planning round: per unfinished field, a verifier check waiting for
    /// it or the first step that can run; fields with nothing left finish.
    /// Returns the calls and whether a field waited on another.
    fn round(
        &self,
        record: &mut Record,
        run: &mut RunState,
        now: DateTime<Utc>,
        pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
        allow_wait: bool,
    ) -> (Vec<PlannedCall>, bool) {
        let mut planned = Planned {
            calls: Vec::with_capacity(4),
            reserved: 0.0,
        };
        // Whether a field waited: only then can a round without waits differ.
        let mut waited = false;
        let mut finished = Vec::new();
        self.reopen_unblocked(record, run);
        for w in &self.settings.fields {
            if !Self::needs_work(record, &w.field, now)
                || run.fields.get(w.field).is_some_and(|f| f.done)
                || Self::set_aside(record, run, w)
            {
                continue;
            }
            // Cheap refresh: an expired value is first re-checked by the verifier;
            // only if that fails does the paid waterfall run again.
            self.queue_recheck(record, run, w, now);
            if self.plan_verify(record, run, w, &mut planned) {
                continue;
            }
            match self.plan_steps(record, run, w, pattern, allow_wait, &mut planned) {
                Walk::Scheduled => {}
                Walk::Waiting => waited = true,
                Walk::Exhausted => finished.push(w),
            }
        }
        for w in finished {
            self.finish(record, run, w, now);
        }
        if run.cheapest_first {
            self.keep_cheapest(run, &mut planned.calls);
        }
        (planned.calls, waited)
    }

    /// Set aside a field that cannot change the route and has no candidate
    /// pending (true); one without a value is marked not worth it.
    fn set_aside(record: &mut Record, run: &mut RunState, w: &FieldWaterfall) -> bool {
        if run.relevant.as_ref().is_none_or(|r| r.contains(&w.field)) {
            return false;
        }
        // Not done: relevance is recomputed every round, and a field that
        // becomes relevant (the route was decided) is looked up then.
        let fr = run.fields.slot(w.field);
        if !fr.pending.is_empty() {
            return false;
        }
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
        true
    }

    /// A candidate waiting for the verifier comes first: plan its check when
    /// affordable (true); otherwise drop the field's candidates as over budget.
    fn plan_verify(
        &self,
        record: &Record,
        run: &mut RunState,
        w: &FieldWaterfall,
        planned: &mut Planned,
    ) -> bool {
        let Some(call) = self.verify_call(record, run, w) else {
            return false;
        };
        let cost = self.cost_of(&call.operation);
        if self.affordable(record, planned.reserved, cost) {
            planned.add(call, cost);
            return true;
        }
        let fr = run.fields.slot(w.field);
        fr.pending.clear();
        fr.budget_blocked = true;
        false
    }

    /// Walk the field's steps in order to the first that runs (or is shared)
    /// now, or one that waits on another field when waiting is allowed.
    fn plan_steps(
        &self,
        record: &Record,
        run: &mut RunState,
        w: &FieldWaterfall,
        pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
        allow_wait: bool,
        planned: &mut Planned,
    ) -> Walk {
        let steps = w.steps_for(record, &self.settings.segment_bands);
        let (order, notes) = self.ordered(w, steps, run);
        let n = order.as_ref().map_or(steps.len(), Vec::len);
        for k in 0..n {
            let step = order.as_ref().map_or(&steps[k], |o| o[k]);
            // Why a capacity-aware group put this step first, for the ledger.
            let note_choice = |run: &mut RunState| {
                if let Some(note) = notes.get(step.id()) {
                    run.choices.insert(step.name(), note.clone());
                }
            };
            match self.check_step(record, run, w, step, pattern, planned) {
                StepCheck::Ready(call, cost) => {
                    if let Step::Guess = step {
                        run.attempted.insert(step.name());
                    }
                    note_choice(run);
                    planned.add(call, cost);
                    return Walk::Scheduled;
                }
                StepCheck::Shared => {
                    note_choice(run);
                    return Walk::Scheduled;
                }
                StepCheck::Wait if allow_wait => return Walk::Waiting,
                StepCheck::Wait => {}
                StepCheck::Skip { budget } => {
                    if budget {
                        run.fields.slot(w.field).budget_blocked = true;
                    }
                }
            }
        }
        Walk::Exhausted
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

    /// Whether `step` can run for `w` now, given the calls this round planned.
    fn check_step(
        &self,
        record: &Record,
        run: &RunState,
        w: &FieldWaterfall,
        step: &Step,
        pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
        planned: &Planned,
    ) -> StepCheck {
        match step {
            Step::Guess => self.check_guess(record, run, w, planned.reserved, pattern),
            Step::Operation(id) => self.check_operation(record, run, *id, planned),
        }
    }

    /// The free guess: a verifier call on the email the person's name and
    /// the domain's pattern give, once the name and domain are known.
    fn check_guess(
        &self,
        record: &Record,
        run: &RunState,
        w: &FieldWaterfall,
        reserved: f64,
        pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
    ) -> StepCheck {
        let skip = StepCheck::Skip { budget: false };
        if run.attempted.contains(Step::Guess.name()) {
            return skip;
        }
        let known_text = |f: &str| record.value(f).is_some();
        if !GUESS_INPUTS.iter().all(|f| known_text(f)) {
            let can_wait = GUESS_INPUTS
                .iter()
                .all(|f| known_text(f) || self.may_become_known(record, run, f));
            return if can_wait { StepCheck::Wait } else { skip };
        }
        let Some(verify) = w.verify.as_ref().filter(|v| self.enabled(v)) else {
            return skip;
        };
        let Some(email) = guessed_email(record, pattern) else {
            return skip;
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
        let candidate = Candidate {
            value: Value::Text(email),
            source: Step::Guess.name(),
            confidence: 0.9,
        };
        let purpose = Purpose::Verify {
            field: w.field,
            candidate,
            guess: true,
        };
        let call = PlannedCall {
            operation: *verify,
            inputs,
            purpose,
        };
        StepCheck::Ready(call, cost)
    }

    /// A provider operation: runs once its inputs are known, waits while
    /// another waterfall may still supply them, is shared when another field
    /// planned the very call.
    fn check_operation(
        &self,
        record: &Record,
        run: &RunState,
        id: Name,
        planned: &Planned,
    ) -> StepCheck {
        let skip = StepCheck::Skip { budget: false };
        if run.attempted.contains(id) {
            return skip;
        }
        // One lookup for "exists" and "enabled".
        let Some((_, op)) = self
            .providers
            .operation(&id)
            .filter(|(p, _)| p.missing_key_env.is_none())
        else {
            return skip;
        };
        let known = |f: &FieldName| record.value(f).is_some();
        if !op.satisfied_by(&known) {
            let can_wait = op.requires.iter().any(|set| {
                set.iter()
                    .all(|f| known(f) || self.may_become_known(record, run, f))
            });
            return if can_wait { StepCheck::Wait } else { skip };
        }
        // Another field already scheduled this very call: it is shared,
        // not paid twice. The record's values do not change within a
        // round, so the same operation has the same inputs.
        if planned
            .calls
            .iter()
            .any(|c| c.operation == id && c.purpose == Purpose::Fill)
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
            operation: id,
            inputs,
            purpose: Purpose::Fill,
        };
        let cost = op.max_cost();
        if !self.affordable(record, planned.reserved, cost) {
            return StepCheck::Skip { budget: true };
        }
        StepCheck::Ready(call, cost)
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
        let (reason, retry_at, detail) = self.why_unknown(record, fr, w);
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

    /// Why a finished field is unknown: what the verifier rejected, the
    /// errors, the budget, "not found", or why nothing was tried. With the
    /// time it is worth asking again, if known, and a detail.
    fn why_unknown(
        &self,
        record: &Record,
        fr: &FieldRun,
        w: &FieldWaterfall,
    ) -> (UnknownReason, Option<DateTime<Utc>>, Option<String>) {
        if !fr.rejected.is_empty() {
            let rejected: Vec<String> = fr.rejected.iter().map(Value::render).collect();
            let detail = format!("rejected by the verifier: {}", rejected.join(", "));
            (UnknownReason::Invalid, None, Some(detail))
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
            let detail = "per-record credit ceiling reached".to_string();
            (UnknownReason::BudgetExhausted, None, Some(detail))
        } else if fr.answered_none || !fr.tried.is_empty() {
            (UnknownReason::NotFound, None, None)
        } else {
            self.why_not_tried(record, w)
        }
    }

    /// Why no step of the field ran: a missing input, or no enabled provider.
    fn why_not_tried(
        &self,
        record: &Record,
        w: &FieldWaterfall,
    ) -> (UnknownReason, Option<DateTime<Utc>>, Option<String>) {
        let missing = self.missing_inputs(record, w);
        if !missing.is_empty() {
            return (
                UnknownReason::MissingInput,
                None,
                Some(format!("needs {missing}")),
            );
        }
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

/// The fields the email guess needs.
const GUESS_INPUTS: [&str; 3] = ["person.first_name", "person.last_name", "company.domain"];

/// The email the guess tries: the local part from the pattern (the person's,
/// the domain's, else the default) at the record's domain.
fn guessed_email(
    record: &Record,
    pattern: &dyn Fn(&str, &str, &str) -> Option<String>,
) -> Option<String> {
    let text = |f: &str| record.value(f).map(Value::text).unwrap_or_default();
    let domain = text("company.domain");
    let (first, last) = (text("person.first_name"), text("person.last_name"));
    let pat = pattern(&first, &last, &domain).unwrap_or_else(|| guess::DEFAULT_PATTERN.to_string());
    let local = guess::local_part(&pat, &first, &last)?;
    crate::model::email_of(&local, &domain).ok()
}

#[cfg(test)]
mod tests {
    //! The planner's steps one at a time; whole passes are in `waterfall/tests.rs`.

    use super::*;
    use crate::provider::{compile_provider, config::ProviderFile};
    use chrono::TimeZone;
    use std::path::Path;

    const PROVIDER: &str = r#"
id = "a"
base_url = "https://a.example"
[operations.finder]
path = "/find"
requires = [["person.first_name", "person.last_name", "company.domain"]]
query = { f = "{person.first_name}", l = "{person.last_name}", d = "{company.domain}" }
[[operations.finder.provides]]
field = "person.email"
pointer = "/email"
"#;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()
    }

    fn providers(key_missing: bool) -> ProviderSet {
        let raw: ProviderFile = toml::from_str(PROVIDER).unwrap();
        let mut errors = Vec::new();
        let mut p = compile_provider(
            Path::new("a.toml"),
            raw,
            &Catalogue::standard(),
            &|_| None,
            &mut errors,
        )
        .unwrap();
        if key_missing {
            p.missing_key_env = Some("A_KEY".into());
        }
        let mut set = ProviderSet::default();
        set.insert(p);
        set
    }

    fn email_waterfall() -> FieldWaterfall {
        FieldWaterfall {
            field: "person.email".into(),
            steps: vec![Step::Operation("a.finder".into())],
            threshold: 0.8,
            verify: None,
            accept_catch_all: false,
            accept_unknown: false,
            groups: Vec::new(),
            segments: Vec::new(),
        }
    }

    fn record(inputs: &[(&str, &str)]) -> Record {
        let mut r = Record::new("r1", t0());
        for (f, v) in inputs {
            r.set(*f, FieldState::input(Value::Text(v.to_string()), t0()));
        }
        r
    }

    /// `why_unknown` for `fr` with a planner over provider `a`.
    fn why(fr: &FieldRun, record: &Record, key_missing: bool) -> (UnknownReason, Option<String>) {
        let providers = providers(key_missing);
        let settings = WaterfallSettings {
            default_threshold: 0.8,
            record_ceiling: None,
            fields: vec![email_waterfall()],
            enrich_everything: false,
            segment_bands: Vec::new(),
        };
        let catalogue = Catalogue::standard();
        let planner = Planner {
            settings: &settings,
            providers: &providers,
            catalogue: &catalogue,
            wait: None,
        };
        let (reason, _, detail) = planner.why_unknown(record, fr, &email_waterfall());
        (reason, detail)
    }

    #[test]
    fn a_finished_field_says_the_most_telling_reason_first() {
        let r = record(&[]);
        let later = t0() + chrono::Duration::hours(1);
        let mut fr = FieldRun {
            rejected: vec![Value::Text("x@acme.io".into())],
            errors: vec![("a.finder: 502".into(), later)],
            budget_blocked: true,
            answered_none: true,
            ..FieldRun::default()
        };
        let (reason, detail) = why(&fr, &r, false);
        assert_eq!(reason, UnknownReason::Invalid);
        assert_eq!(
            detail.as_deref(),
            Some("rejected by the verifier: x@acme.io")
        );
        fr.rejected.clear();
        assert_eq!(why(&fr, &r, false).0, UnknownReason::ProviderError);
        fr.errors.clear();
        assert_eq!(why(&fr, &r, false).0, UnknownReason::BudgetExhausted);
        fr.budget_blocked = false;
        assert_eq!(why(&fr, &r, false).0, UnknownReason::NotFound);
    }

    #[test]
    fn provider_errors_are_asked_again_at_the_earliest_retry() {
        let (soon, late) = (
            t0() + chrono::Duration::minutes(5),
            t0() + chrono::Duration::hours(2),
        );
        let fr = FieldRun {
            errors: vec![("a: 502".into(), late), ("b: timeout".into(), soon)],
            ..FieldRun::default()
        };
        let providers = providers(false);
        let settings = WaterfallSettings {
            default_threshold: 0.8,
            record_ceiling: None,
            fields: vec![email_waterfall()],
            enrich_everything: false,
            segment_bands: Vec::new(),
        };
        let catalogue = Catalogue::standard();
        let planner = Planner {
            settings: &settings,
            providers: &providers,
            catalogue: &catalogue,
            wait: None,
        };
        let (reason, retry_at, detail) = planner.why_unknown(&record(&[]), &fr, &email_waterfall());
        assert_eq!(reason, UnknownReason::ProviderError);
        assert_eq!(retry_at, Some(soon));
        assert_eq!(detail.as_deref(), Some("a: 502; b: timeout"));
    }

    #[test]
    fn a_budget_reset_is_when_the_field_is_asked_again() {
        let reset = t0() + chrono::Duration::days(1);
        let fr = FieldRun {
            budget_blocked: true,
            budget_reset: Some((reset, "daily cap".into())),
            ..FieldRun::default()
        };
        let (reason, detail) = why(&fr, &record(&[]), false);
        assert_eq!(reason, UnknownReason::BudgetExhausted);
        assert_eq!(detail.as_deref(), Some("daily cap"));
        let blocked = FieldRun {
            budget_blocked: true,
            ..FieldRun::default()
        };
        let (_, detail) = why(&blocked, &record(&[]), false);
        assert_eq!(detail.as_deref(), Some("per-record credit ceiling reached"));
    }

    #[test]
    fn a_field_nothing_was_tried_for_names_the_missing_input_or_key() {
        let fr = FieldRun::default();
        let (reason, detail) = why(&fr, &record(&[("person.first_name", "Jane")]), false);
        assert_eq!(reason, UnknownReason::MissingInput);
        assert_eq!(
            detail.as_deref(),
            Some("needs person.last_name + company.domain")
        );
        let (reason, detail) = why(&fr, &record(&[]), true);
        assert_eq!(reason, UnknownReason::NotAttempted);
        assert_eq!(
            detail.as_deref(),
            Some("no enabled provider for this field (set A_KEY)")
        );
        let tried = FieldRun {
            tried: smallvec::smallvec!["a.finder".into()],
            ..FieldRun::default()
        };
        assert_eq!(why(&tried, &record(&[]), false).0, UnknownReason::NotFound);
    }

    #[test]
    fn the_guess_uses_the_known_pattern_else_the_default() {
        let r = record(&[
            ("person.first_name", "Jane"),
            ("person.last_name", "Doe"),
            ("company.domain", "acme.io"),
        ]);
        let learned = |_: &str, _: &str, d: &str| (d == "acme.io").then(|| "flast".to_string());
        assert_eq!(guessed_email(&r, &learned).as_deref(), Some("jdoe@acme.io"));
        assert_eq!(
            guessed_email(&r, &|_, _, _| None).as_deref(),
            Some("jane.doe@acme.io")
        );
        let nameless = record(&[("company.domain", "acme.io")]);
        assert_eq!(guessed_email(&nameless, &|_, _, _| None), None);
    }

    #[test]
    fn a_round_plans_each_call_once_and_reserves_what_it_may_cost() {
        let call = |op: &str| PlannedCall {
            operation: op.into(),
            inputs: Inputs::new(),
            purpose: Purpose::Fill,
        };
        let mut planned = Planned {
            calls: Vec::new(),
            reserved: 0.0,
        };
        planned.add(call("a.finder"), 1.0);
        planned.add(call("b.finder"), 0.5);
        planned.add(call("a.finder"), 0.0);
        assert_eq!(planned.calls.len(), 2);
        assert_eq!(planned.reserved, 1.5);
    }
}
