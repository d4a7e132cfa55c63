//! The engine: enriches one record end to end (plan → execute concurrently →
//! apply, until the planner has nothing left), and runs batches over files.
//! Prints nothing; callers render.

mod batch;
mod live;
pub mod merge;
mod output;
pub mod rescore;
mod summary;

#[cfg(test)]
mod tests;

pub use batch::{enrich_file, enrich_file_with, BatchOptions, BatchReport};
pub use live::LiveEngine;
pub use summary::{Summary, Tally};

use crate::clock::Clock;
use crate::config::Settings;
use crate::executor::{CallOutcome, CallResult, Executor};
use crate::model::{Record, Value};
use crate::store::LedgerEntry;
use crate::waterfall::{detect_pattern, CallAnswer, Planner, Purpose, RunState};
use futures::StreamExt;
use std::sync::Arc;

/// Bound on planning rounds for one record: a safety net, far above any real waterfall.
const MAX_ROUNDS: usize = 64;

/// Enriches records.
#[derive(Clone, Debug)]
pub struct Engine {
    settings: Arc<Settings>,
    executor: Executor,
    clock: Arc<dyn Clock>,
    /// Fields a pass can record progress for (see [`progress_fields`]).
    progress_room: usize,
    /// Batch lanes' runtimes, kept from one file's pass to the next.
    lanes: Arc<batch::LanePool>,
}

impl Engine {
    /// Build over settings and an executor.
    pub fn new(settings: Arc<Settings>, executor: Executor, clock: Arc<dyn Clock>) -> Engine {
        Engine {
            progress_room: progress_fields(&settings),
            lanes: Arc::default(),
            settings,
            executor,
            clock,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, shared.
    pub fn shared_settings(&self) -> Arc<Settings> {
        self.settings.clone()
    }

    /// The clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// One enrichment pass over a record: returns it with every waterfall field
    /// known or unknown-with-reason, plus the ledger rows of its calls.
    pub async fn enrich(&self, record: Record) -> (Record, Vec<LedgerEntry>) {
        self.enrich_with_signals(record, &[]).await
    }

    /// The fields worth paying for now: those that could change the route,
    /// plus the inputs their lookups need, and whether the route is still
    /// undecided. `None`: enrich everything (no routes configured, or
    /// `waterfall.enrich_everything`).
    fn relevant(
        &self,
        record: &Record,
        signals: &[crate::model::Signal],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<(std::collections::BTreeSet<crate::model::FieldName>, bool)> {
        let d = self
            .settings
            .decisions
            .as_ref()
            .filter(|_| !self.settings.waterfall.enrich_everything)?;
        let scores = crate::score::score_all(&d.scoring, record, signals, now);
        let mut decision = crate::route::decide(&d.routing, record, &scores, now, false);
        if !decision.decided
            && !decision
                .could_change
                .iter()
                .any(|f| rescore::fillable_in(&self.settings, record, f, true))
        {
            // Nothing that could change the route is left to learn: the route
            // is settled on what is known (as the rescore will record it), and
            // its action's fields are bought in this pass.
            decision = crate::route::decide(&d.routing, record, &scores, now, true);
            decision.decided = true;
        }
        let mut set: std::collections::BTreeSet<crate::model::FieldName> = if decision.decided {
            // Decided: what the route's next action needs.
            d.routing
                .routes
                .iter()
                .find(|r| r.name == decision.route)
                .map(|r| r.enrich.iter().map(crate::model::FieldName::from).collect())
                .unwrap_or_default()
        } else {
            decision
                .could_change
                .iter()
                .map(crate::model::FieldName::from)
                .collect()
        };
        // Inputs of the steps that could fill them (the domain before the email finder), to a fixpoint.
        loop {
            let mut more = Vec::new();
            for f in &set {
                let Some(w) = self.settings.waterfall.get(f) else {
                    continue;
                };
                for step in &w.steps {
                    let reqs: Vec<Vec<crate::model::FieldName>> = match step {
                        crate::waterfall::Step::Operation(id) => self
                            .settings
                            .providers
                            .operation(id)
                            .map(|(_, o)| o.requires.clone())
                            .unwrap_or_default(),
                        crate::waterfall::Step::Guess => vec![vec!["company.domain".into()]],
                    };
                    // Only the inputs of the cheapest way in: nothing when a requirement set is
                    // already met, else the set missing the fewest fields that can be looked up.
                    let missing = |rs: &Vec<crate::model::FieldName>| {
                        rs.iter()
                            .filter(|r| record.value(r).is_none())
                            .cloned()
                            .collect::<Vec<_>>()
                    };
                    if reqs.iter().any(|rs| missing(rs).is_empty()) {
                        continue;
                    }
                    let best = reqs
                        .iter()
                        .map(missing)
                        .filter(|m| m.iter().all(|r| self.settings.waterfall.get(r).is_some()))
                        .min_by_key(Vec::len);
                    more.extend(best.into_iter().flatten().filter(|r| !set.contains(r)));
                }
            }
            if more.is_empty() {
                break;
            }
            set.extend(more);
        }
        Some((set, !decision.decided))
    }

    /// One pass with the record's behaviour signals: with routes configured, only
    /// fields that could still change the route are paid for.
    pub async fn enrich_with_signals(
        &self,
        mut record: Record,
        signals: &[crate::model::Signal],
    ) -> (Record, Vec<LedgerEntry>) {
        let executor = &self.executor;
        let wait = move |op: &str| executor.fill_wait(op);
        let planner = Planner {
            settings: &self.settings.waterfall,
            providers: &self.settings.providers,
            catalogue: &self.settings.catalogue,
            wait: Some(crate::waterfall::WaitFn(&wait)),
        };
        let store = self.executor.store();
        let pattern = move |first: &str, last: &str, domain: &str| {
            let memo = store.guess_memo(first, last, domain).ok().flatten();
            memo.or_else(|| store.email_pattern(domain).ok().flatten())
        };
        let mut run = RunState {
            fields: crate::waterfall::FieldRuns::with_capacity(self.progress_room),
            ..RunState::default()
        };
        let mut ledger = Vec::new();
        // Read again only after vendor calls: rounds answered from the cache
        // take no time worth a new timestamp (each distinct one costs its
        // text in the output and its expiry arithmetic).
        let mut now = self.clock.now();
        // The record as committed: calls paid for it after this were paid by
        // a pass that died before its commit (see `CallResult::credits_for`).
        let (since, started) = (record.updated_at, now);
        let mut claimed = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let relevant = self.relevant(&record, signals, now);
            run.cheapest_first = relevant.as_ref().is_some_and(|r| r.1);
            run.relevant = relevant.map(|r| r.0);
            let calls = planner.next(&mut record, &mut run, now, &pattern);
            if calls.is_empty() {
                break;
            }
            // Cached answers first, without a future each; the rest, independent
            // lookups of one record, run concurrently.
            let mut missed = Vec::new();
            let mut results: Vec<Option<_>> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let choice = run.choices.remove(&c.operation);
                    let answer = self.executor.answer_from_cache(
                        c.operation,
                        &c.inputs,
                        Some(&record.id),
                        choice.clone(),
                        now,
                    );
                    answer.map_err(|key| missed.push((i, key, choice))).ok()
                })
                .collect();
            let waited = !missed.is_empty();
            if !missed.is_empty() {
                let fetch = |(i, key, choice): (usize, Vec<u8>, Option<String>)| {
                    let c = &calls[i];
                    // Boxed: held inline, a vendor call's future made this
                    // one ~7.8 KB, copied whole each time a record starts,
                    // cached or not.
                    let call = Box::pin(self.executor.execute_looked_up(
                        &c.operation,
                        &c.inputs,
                        Some(&record.id),
                        choice,
                        key,
                    ));
                    async move { (i, call.await) }
                };
                // FuturesUnordered polls only the lookup that woke (join_all
                // polls every one on each wake-up); a single lookup is awaited as is.
                let fetched: Vec<(usize, CallResult)> = if missed.len() == 1 {
                    vec![fetch(missed.swap_remove(0)).await]
                } else {
                    missed
                        .into_iter()
                        .map(fetch)
                        .collect::<futures::stream::FuturesUnordered<_>>()
                        .collect()
                        .await
                };
                for (i, r) in fetched {
                    results[i] = Some(r);
                }
            }
            let results = results.into_iter().flatten();
            // After vendor calls, time has moved; cached answers took none.
            if waited {
                now = self.clock.now();
            }
            for (call, result) in calls.iter().zip(results) {
                let credits = result.credits_for(since, started, &mut claimed);
                let answer = match result.outcome {
                    CallOutcome::Hit(ex) => CallAnswer::Hit(ex),
                    CallOutcome::NotFound => CallAnswer::NotFound,
                    CallOutcome::Failed {
                        kind,
                        message,
                        retry_after,
                    } => CallAnswer::Failed {
                        message,
                        retry_at: now
                            + chrono::Duration::from_std(retry_after)
                                .unwrap_or(chrono::Duration::hours(1)),
                        budget: kind == "budget_exhausted",
                    },
                };
                planner.apply(&mut record, &mut run, call, &answer, credits, now);
                // A cached verdict teaches its patterns again: the pass that
                // fetched it may have died before its patterns reached the
                // disk, and its replay reads the verdict from the cache.
                if let Purpose::Verify {
                    guess, candidate, ..
                } = &call.purpose
                {
                    if *guess {
                        self.memo_guess(&record, candidate);
                    }
                    self.learn_pattern(&record);
                }
                ledger.push(result.entry);
            }
        }
        (record, ledger)
    }

    /// Remember which pattern this person's guess used, whatever the verdict.
    fn memo_guess(&self, record: &Record, candidate: &crate::waterfall::Candidate) {
        let text = |f: &str| record.value(f).map(Value::text);
        let (Some(first), Some(last)) = (text("person.first_name"), text("person.last_name"))
        else {
            return;
        };
        let email = candidate.value.text();
        let Some((local, domain)) = email.split_once('@') else {
            return;
        };
        if let Some(p) = detect_pattern(local, &first, &last) {
            if let Err(e) = self
                .executor
                .store()
                .set_guess_memo(&first, &last, domain, p)
            {
                tracing::warn!(error = %e, "could not store a guess memo");
            }
        }
    }

    /// Remember the domain's email pattern once an email is verified valid.
    fn learn_pattern(&self, record: &Record) {
        let Some(k) = record.fields.get("person.email").and_then(|s| s.known()) else {
            return;
        };
        if k.verified.as_deref() != Some("valid") {
            return;
        }
        let text = |f: &str| record.value(f).map(Value::text);
        let (Some(email), Some(first), Some(last)) = (
            text("person.email"),
            text("person.first_name"),
            text("person.last_name"),
        ) else {
            return;
        };
        let Some((local, domain)) = email.split_once('@') else {
            return;
        };
        if let Some(p) = detect_pattern(local, &first, &last) {
            if let Err(e) = self.executor.store().set_email_pattern(domain, p) {
                tracing::warn!(error = %e, "could not store an email pattern");
            }
        }
    }
}

/// How many fields one pass can record progress for: those with a waterfall
/// and those an operation provides (a lookup fills several). Room for these
/// and no more: thousands of records are in flight at once, and room for the
/// whole catalogue made each one's progress ~5 KB where ~3 KB is used.
fn progress_fields(settings: &Settings) -> usize {
    let mut names: Vec<crate::model::FieldName> =
        settings.waterfall.fields.iter().map(|w| w.field).collect();
    for p in settings.providers.iter() {
        for o in &p.operations {
            names.extend(o.provided_fields().copied());
        }
    }
    names.sort();
    names.dedup();
    names.len()
}

impl Engine {
    /// Build the executor and the engine for `settings` over `store`, with
    /// the configured budgets (this month's spending read back from `store`).
    pub fn from_settings(
        settings: Arc<Settings>,
        store: Arc<dyn crate::store::CallStore>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Engine> {
        let budgets =
            crate::budget::Budgets::load(settings.budgets.clone(), store.as_ref(), clock.now())?;
        let executor = Executor::new(
            Arc::new(settings.providers.clone()),
            Arc::new(settings.catalogue.clone()),
            store,
            clock.clone(),
        )
        .with_budgets(Arc::new(budgets))
        .with_kill_switch(settings.kill_switch.clone());
        Ok(Engine::new(settings, executor, clock))
    }
}

#[cfg(test)]
mod relevant_tests;
