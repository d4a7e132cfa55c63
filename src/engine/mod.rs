//! The engine: enriches one record end to end (plan → execute concurrently →
//! apply, until the planner has nothing left), and runs batches over files.
//! Prints nothing; callers render.

mod batch;
pub mod merge;
pub mod rescore;
mod summary;

pub use batch::{enrich_file, BatchOptions, BatchReport};
pub use summary::Summary;

use crate::clock::Clock;
use crate::config::Settings;
use crate::executor::{CallOutcome, Executor};
use crate::model::{Record, Value};
use crate::store::LedgerEntry;
use crate::waterfall::{detect_pattern, CallAnswer, Planner, Purpose, RunState};
use std::sync::Arc;

/// Bound on planning rounds for one record: a safety net, far above any real waterfall.
const MAX_ROUNDS: usize = 64;

/// Enriches records.
#[derive(Clone, Debug)]
pub struct Engine {
    settings: Arc<Settings>,
    executor: Executor,
    clock: Arc<dyn Clock>,
}

impl Engine {
    /// Build over settings and an executor.
    pub fn new(settings: Arc<Settings>, executor: Executor, clock: Arc<dyn Clock>) -> Engine {
        Engine {
            settings,
            executor,
            clock,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// One enrichment pass over a record: returns it with every waterfall field
    /// known or unknown-with-reason, plus the ledger rows of its calls.
    pub async fn enrich(&self, mut record: Record) -> (Record, Vec<LedgerEntry>) {
        let planner = Planner {
            settings: &self.settings.waterfall,
            providers: &self.settings.providers,
            catalogue: &self.settings.catalogue,
        };
        let store = self.executor.store();
        let pattern = move |first: &str, last: &str, domain: &str| {
            let memo = store.guess_memo(first, last, domain).ok().flatten();
            memo.or_else(|| store.email_pattern(domain).ok().flatten())
        };
        let mut run = RunState::default();
        let mut ledger = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let now = self.clock.now();
            let calls = planner.next(&mut record, &mut run, now, &pattern);
            if calls.is_empty() {
                break;
            }
            // Independent lookups of one record run concurrently.
            let results = futures::future::join_all(calls.iter().map(|c| {
                self.executor
                    .execute(&c.operation, &c.inputs, Some(&record.id))
            }))
            .await;
            let now = self.clock.now();
            for (call, result) in calls.iter().zip(results) {
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
                planner.apply(
                    &mut record,
                    &mut run,
                    call,
                    &answer,
                    result.entry.credits,
                    now,
                );
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
        let text = |f: &str| record.value(f).map(Value::render);
        let (Some(first), Some(last)) = (text("person.first_name"), text("person.last_name"))
        else {
            return;
        };
        let email = candidate.value.render();
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
        let text = |f: &str| record.value(f).map(Value::render);
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

impl Engine {
    /// Build the executor and the engine for `settings` over `store`.
    pub fn from_settings(
        settings: Arc<Settings>,
        store: Arc<dyn crate::store::CallStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine, reqwest::Error> {
        let executor = Executor::new(
            Arc::new(settings.providers.clone()),
            Arc::new(settings.catalogue.clone()),
            store,
            clock.clone(),
        )?;
        Ok(Engine::new(settings, executor, clock))
    }
}
