//! Open asynchronous vendor jobs, keyed like the cache (operation + inputs).
//! The job id is written with the submit's ledger row, durably, before the first
//! poll: a process that dies between submit and answer resumes polling the same
//! job on restart instead of submitting (and paying) again.

use super::{LedgerEntry, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::Transactional;

/// A submitted job whose answer has not been read yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEntry {
    /// The vendor's job id.
    pub job_id: String,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
    /// The record it was submitted for (queued again when the vendor posts the answer).
    #[serde(default)]
    pub record_id: Option<String>,
    /// The finished job as the vendor posted it (webhook): the next poll of
    /// this job reads it instead of calling the vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<String>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: "job entry",
        message: e.to_string(),
    }
}

impl Store {
    /// The open job for `key`, if any.
    pub fn job_get(&self, key: &[u8]) -> Result<Option<JobEntry>, StoreError> {
        self.jobs
            .get(key)?
            .map(|b| serde_json::from_slice(&b).map_err(corrupt))
            .transpose()
    }

    /// Keep a posted answer with the open job `job_id` of `operation`; returns
    /// the job (with its record) or `None` when no such job is open.
    pub fn job_deliver(
        &self,
        operation: &str,
        job_id: &str,
        body: &str,
    ) -> Result<Option<JobEntry>, StoreError> {
        let mut prefix = operation.as_bytes().to_vec();
        prefix.push(0);
        for item in self.jobs.scan_prefix(&prefix) {
            let (key, b) = item?;
            let mut job: JobEntry = serde_json::from_slice(&b).map_err(corrupt)?;
            if job.job_id == job_id {
                job.delivered = Some(body.to_string());
                self.jobs
                    .insert(key, serde_json::to_vec(&job).map_err(corrupt)?)?;
                self.jobs.flush()?;
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    /// Remember (`Some`) or forget (`None`) the open job for `key`, together
    /// with an optional ledger row, in one transaction.
    pub fn job_set(
        &self,
        key: &[u8],
        job: Option<&JobEntry>,
        row: Option<&LedgerEntry>,
    ) -> Result<(), StoreError> {
        let job_bytes = job.map(serde_json::to_vec).transpose().map_err(corrupt)?;
        let row_bytes = row.map(serde_json::to_vec).transpose().map_err(corrupt)?;
        let seq = self.db.generate_id()?.to_be_bytes();
        (&self.jobs, &self.ledger)
            .transaction(|(jobs, ledger)| {
                match &job_bytes {
                    Some(b) => jobs.insert(key, b.as_slice())?,
                    None => jobs.remove(key)?,
                };
                if let Some(r) = &row_bytes {
                    ledger.insert(&seq, r.as_slice())?;
                }
                Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(e) => e,
                sled::transaction::TransactionError::Storage(e) => StoreError::from(e),
            })
    }
}
