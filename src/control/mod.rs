//! The control surface of a running daemon: what the control API (and tests)
//! can ask of it. Handlers in `api/` translate HTTP to these calls; the rules
//! (merging, selection, pricing) live here, over the store.

mod reload;
pub mod select;
mod stats;
mod status;
mod types;

pub use stats::DaemonStats;
pub use types::*;

use crate::config::{Loader, Settings};
use crate::engine::LiveEngine;
use crate::executor::Executor;
use crate::model::Record;
use crate::store::{RecordStore, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use thiserror::Error;

/// Why a control call failed; the API maps each to a status code.
#[derive(Debug, Error)]
pub enum ControlError {
    /// No such record.
    #[error("no record with id {0:?}")]
    NotFound(String),
    /// The request is invalid (names the problem).
    #[error("{0}")]
    BadRequest(String),
    /// A reloaded configuration is invalid (every error, with file and key);
    /// the daemon keeps running with the one it had.
    #[error("{0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Handle on the running daemon's state. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Control {
    pub(crate) store: Arc<dyn RecordStore>,
    pub(crate) engine: LiveEngine,
    pub(crate) loader: Loader,
    pub(crate) wake: Arc<tokio::sync::Notify>,
    pub(crate) stats: Arc<DaemonStats>,
    /// The shared store, for `status`'s members (none on sled).
    pub(crate) shared: Option<crate::store::postgres::PgStore>,
}

impl Control {
    /// A control handle over a store and the running engine; `loader` reads
    /// the configuration again for a reload.
    pub fn new(
        store: Arc<dyn RecordStore>,
        engine: LiveEngine,
        loader: Loader,
        wake: Arc<tokio::sync::Notify>,
        stats: Arc<DaemonStats>,
    ) -> Control {
        Control {
            store,
            engine,
            loader,
            wake,
            stats,
            shared: None,
        }
    }

    /// Report the members of this shared store in `status`.
    pub fn with_shared_store(mut self, store: Option<crate::store::postgres::PgStore>) -> Control {
        self.shared = store;
        self
    }

    /// The daemon's counters.
    pub fn stats(&self) -> &DaemonStats {
        &self.stats
    }

    /// Upsert a batch: input values become `known` with source `input`; new and
    /// changed records are queued now.
    pub fn upsert(
        &self,
        records: Vec<Record>,
        now: DateTime<Utc>,
    ) -> Result<UpsertSummary, ControlError> {
        let settings = self.settings();
        for r in &records {
            validate_record(&settings, r)?;
        }
        let prec = &settings.precedence;
        let merge = |existing, incoming, now| {
            crate::engine::merge::merge_input(existing, incoming, now, prec)
        };
        let summary = self.durable(self.store.upsert(records, now, &merge)?)?;
        if summary.queued > 0 {
            self.wake.notify_one();
        }
        Ok(summary)
    }

    /// Make this call's writes durable before it is acknowledged, so a `kill
    /// -9` right after the answer loses nothing. Concurrent requests share
    /// one fsync: sled makes everything written up to the flush stable at
    /// once (group commit); PostgreSQL committed before returning.
    pub(crate) fn durable<T>(&self, answer: T) -> Result<T, ControlError> {
        self.store.flush()?;
        Ok(answer)
    }

    /// One record.
    pub fn show(&self, id: &str) -> Result<StoredRecord, ControlError> {
        self.store
            .get(id)?
            .ok_or_else(|| ControlError::NotFound(id.to_string()))
    }

    /// Record a behaviour event and queue the record for rescoring.
    pub fn signal(&self, id: &str, signal: Signal, now: DateTime<Utc>) -> Result<(), ControlError> {
        if signal.kind.trim().is_empty() || signal.kind.len() > 100 {
            return Err(ControlError::BadRequest(
                "signal kind must be 1..=100 characters".into(),
            ));
        }
        if !self.durable(self.store.add_signal(id, signal, now)?)? {
            return Err(ControlError::NotFound(id.to_string()));
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Select records and queue them (or, for a dry run, count and price them).
    pub fn reenrich(
        &self,
        req: &ReenrichRequest,
        now: DateTime<Utc>,
    ) -> Result<ReenrichSummary, ControlError> {
        select::reenrich(self, req, now)
    }

    /// Queue every lead with behaviour signals for a rescoring pass, so intent
    /// decays and routes follow (its fields are fresh: the pass buys nothing).
    /// Returns how many were queued.
    pub fn rescan_signals(&self, now: DateTime<Utc>) -> Result<u64, ControlError> {
        if self.settings().decisions.is_none() {
            return Ok(0);
        }
        let ids = self.store.signalled()?;
        let n = self.store.requeue(&ids, now)?;
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }

    /// Queue every record `pick` selects, now; returns how many.
    pub(crate) fn queue_where(
        &self,
        now: DateTime<Utc>,
        pick: &dyn Fn(&StoredRecord) -> bool,
    ) -> Result<u64, ControlError> {
        let mut ids = Vec::new();
        self.store.scan(&mut |r| {
            if pick(&r) {
                ids.push(r.record.id.clone());
            }
            true
        })?;
        let n = self.durable(self.store.requeue(&ids, now)?)?;
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }

    /// Read the configuration again and run with it; every record is queued
    /// to be rescored and re-routed. An invalid configuration changes nothing.
    pub fn reload(&self, now: DateTime<Utc>) -> Result<ReloadSummary, ControlError> {
        reload::reload(self, now)
    }

    /// The provider cost/coverage report over `window`, with live budget use.
    pub fn report(
        &self,
        window: crate::report::Window,
        now: DateTime<Utc>,
    ) -> Result<crate::report::Report, ControlError> {
        let engine = self.engine.current();
        let (settings, executor) = (engine.settings(), engine.executor());
        let budgets = executor.budgets().map(|b| b.usage(now)).unwrap_or_default();
        Ok(crate::report::from_store(
            self.store.as_ref(),
            executor.store(),
            &settings.waterfall,
            window,
            budgets,
            now,
        )?)
    }

    /// The waterfall order advice over `window`.
    pub fn advice(
        &self,
        window: crate::report::Window,
    ) -> Result<crate::advisor::Advice, ControlError> {
        let engine = self.engine.current();
        let (settings, executor) = (engine.settings(), engine.executor());
        Ok(crate::advisor::from_store(
            self.store.as_ref(),
            executor.store(),
            &settings.waterfall,
            &settings.advisor,
            &window,
        )?)
    }

    /// Lift the kill switch's pause of `provider`; returns the pause lifted, if any.
    pub fn resume_provider(
        &self,
        provider: &str,
    ) -> Result<Option<crate::executor::Pause>, ControlError> {
        self.executor()
            .resume(provider)
            .map_err(|_| ControlError::NotFound(provider.to_string()))
    }

    /// Queue and provider health.
    pub fn status(&self, now: DateTime<Utc>) -> Result<Status, ControlError> {
        status::status(self, now)
    }

    /// Visit every record matching `filter`, in id order; stop when `f` returns false.
    pub fn export(
        &self,
        filter: &ExportFilter,
        f: &mut dyn FnMut(StoredRecord) -> bool,
    ) -> Result<(), ControlError> {
        match &filter.route {
            None => self.store.scan(f)?,
            Some(route) => self.store.scan(&mut |r| {
                if r.route.as_ref().is_some_and(|d| &d.route == route) {
                    f(r)
                } else {
                    true
                }
            })?,
        }
        Ok(())
    }

    /// Calls and credits per provider, from the whole ledger.
    pub fn calls(&self) -> Result<crate::engine::Summary, ControlError> {
        let mut s = crate::engine::Summary::default();
        s.add_calls(&self.executor().store().ledger()?);
        Ok(s)
    }

    /// The settings the daemon runs with now.
    pub fn settings(&self) -> Arc<Settings> {
        self.engine.settings()
    }

    /// The provider executor now (for provider health).
    pub fn executor(&self) -> Executor {
        self.engine.executor()
    }
}

/// Reject records a worker could not handle: bad ids, unknown fields,
/// non-input states. Public (hidden) only so the fuzz targets run the same
/// check as [`Control::upsert`] without a daemon.
#[doc(hidden)]
pub fn validate_record(settings: &Settings, r: &Record) -> Result<(), ControlError> {
    use crate::quoted::quoted;
    let id = quoted(&r.id);
    // Characters, not bytes: the importer takes ids of up to 200 characters.
    if r.id.trim().is_empty() || r.id.chars().count() > 200 || r.id.chars().any(char::is_control) {
        return Err(ControlError::BadRequest(format!(
            "record id {id} must be 1..=200 printable characters"
        )));
    }
    for (field, state) in &r.fields {
        if !settings.catalogue.contains(field) {
            return Err(ControlError::BadRequest(format!(
                "record {id}: unknown field {}",
                quoted(field)
            )));
        }
        if let crate::model::FieldState::Known(k) = state {
            if k.source != crate::model::SOURCE_INPUT && k.source != "manual" {
                return Err(ControlError::BadRequest(format!(
                    "record {id}: field {field} has source {}; upserts carry `input` or `manual` values",
                    quoted(&k.source)
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/leadfall.toml");
        crate::config::load(&path, &|_| None).expect("default config loads")
    }

    #[test]
    fn an_id_of_200_characters_is_valid_however_many_bytes() {
        // Found by fuzzing (fuzz/regressions/import_csv/): the importer takes
        // ids of up to 200 characters, the upsert check counted bytes, so an
        // imported id of multi-byte characters was refused by the API.
        let s = settings();
        let id = |n: usize| Record::new("é".repeat(n), Utc::now());
        assert!(validate_record(&s, &id(200)).is_ok());
        assert!(validate_record(&s, &id(201)).is_err());
        assert!(validate_record(&s, &Record::new(" ", Utc::now())).is_err());
        assert!(validate_record(&s, &Record::new("a\tb", Utc::now())).is_err());
    }
}
