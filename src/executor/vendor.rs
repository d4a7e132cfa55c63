//! One vendor call from its first attempt to its final answer: the driver
//! loop and the state it carries (job phase, request, retry schedule,
//! tally). Each turn passes the circuit, makes one attempt (`attempt.rs`),
//! then submits, polls, retries or settles; the row is booked in `booking.rs`.

use super::attempt::{describe, retry_after, Answer};
use super::booking::{Booking, CallId, Finished, Tally};
use super::{next_poll_wait, Executor, Phase, ProviderRuntime, ProviderStats};
use crate::provider::{
    build_poll_request, build_request, HttpRequest, Inputs, Operation, Outcome, Provider,
};
use crate::retry::RetrySchedule;
use crate::store::CachedOutcome;
use std::ops::ControlFlow;
use std::time::Duration;
use tokio::time::Instant;

/// A step either lets the call go on or ends it with its result.
type Step = ControlFlow<Finished>;

/// Failures no retry in this call can cure are asked again after an hour.
const LATER: Duration = Duration::from_secs(3600);

/// A vendor call in progress: where its job stands, the request to send
/// next, its retry schedule and the exchanges so far.
pub(super) struct VendorCall<'a> {
    pub(super) ex: &'a Executor,
    pub(super) id: CallId<'a>,
    pub(super) provider: &'a Provider,
    pub(super) op: &'a Operation,
    /// The provider's pacer, permits, circuit and statistics.
    pub(super) rt: &'a ProviderRuntime,
    /// Plain request, job to submit, or job to poll.
    pub(super) phase: Phase,
    /// The request the next attempt sends (the poll once a job is submitted).
    pub(super) req: HttpRequest,
    /// The last HTTP status seen.
    pub(super) last_status: Option<u16>,
    /// Retries of the current phase.
    schedule: RetrySchedule,
    /// HTTP exchanges before the current retry schedule (submit, earlier polls).
    earlier_attempts: u32,
    /// 429 answers so far.
    throttled: u32,
    /// When polling gives up for this call (the next pass resumes the job).
    poll_deadline: Option<Instant>,
    /// The wait before the next poll; grows while the job runs.
    poll_wait: Duration,
}

impl Executor {
    /// The vendor call: circuit, permit, pacing, send, classify, retry.
    pub(super) async fn call_vendor(&self, id: CallId<'_>, inputs: &Inputs) -> Finished {
        let mut call = match VendorCall::open(self, id, inputs) {
            Ok(call) => call,
            Err(done) => return *done,
        };
        loop {
            if let ControlFlow::Break(done) = call.turn().await {
                return done;
            }
        }
    }
}

impl<'a> VendorCall<'a> {
    /// Resume the open job of an asynchronous operation, or start afresh
    /// (a plain request, or a job to submit); `Err` when the call cannot start
    /// (boxed: rare, and the call state is what the hot path moves).
    pub(super) fn open(
        ex: &'a Executor,
        id: CallId<'a>,
        inputs: &Inputs,
    ) -> Result<VendorCall<'a>, Box<Finished>> {
        let fail = |kind, message, wait| {
            Err(Box::new(ex.failed(
                id,
                kind,
                message,
                wait,
                Tally::default(),
            )))
        };
        let Some((provider, op)) = ex.inner.providers.operation(id.operation) else {
            return fail(
                "permanent",
                format!("unknown operation {}", id.operation),
                LATER,
            );
        };
        let Some(rt) = ex.inner.runtimes.get(&provider.id) else {
            return fail(
                "permanent",
                format!("no runtime for {}", provider.id),
                LATER,
            );
        };
        let phase = match &op.job {
            None => Phase::Direct,
            Some(_) => match ex.inner.store.job_get(id.key) {
                Ok(Some(j)) => Phase::Poll(j.job_id),
                Ok(None) => Phase::Submit,
                // Without knowing whether a job is open, submitting could pay twice.
                Err(e) => {
                    let message = format!("cannot read open jobs: {e}");
                    return fail("permanent", message, Duration::from_secs(60));
                }
            },
        };
        let built = match &phase {
            Phase::Poll(job_id) => build_poll_request(provider, op, job_id),
            _ => build_request(provider, op, inputs),
        };
        let req = match built {
            Ok(r) => r,
            Err(e) => return fail("disabled", e.to_string(), LATER),
        };
        Ok(VendorCall {
            ex,
            id,
            provider,
            op,
            rt,
            phase,
            req,
            last_status: None,
            schedule: RetrySchedule::new(provider.retry),
            earlier_attempts: 0,
            throttled: 0,
            poll_deadline: op.job.as_ref().map(|j| Instant::now() + j.max_wait),
            poll_wait: op.job.as_ref().map_or(Duration::ZERO, |j| j.poll_interval),
        })
    }

    /// One turn of the loop: pass the circuit, make one attempt, act on it.
    async fn turn(&mut self) -> Step {
        self.admit()?;
        let attempt = self.send().await;
        let outcome = match self.read(attempt) {
            Answer::Submitted(job_id) => return self.submitted(job_id).await,
            Answer::Classified { outcome, healthy } => {
                self.record_health(healthy);
                outcome
            }
        };
        // A running job is not a failure: wait (growing intervals) and poll again.
        if let (Phase::Poll(_), Outcome::Pending(ra)) = (&self.phase, &outcome) {
            return self.poll_later(*ra).await;
        }
        self.settle(outcome).await
    }

    /// The exchanges so far (earlier schedules included).
    pub(super) fn tally(&self) -> Tally {
        Tally {
            attempts: self.earlier_attempts + self.schedule.attempts(),
            throttled: self.throttled,
            status: self.last_status,
        }
    }

    /// End the call with a failure of `kind`, booked with `tally`.
    fn fail(&self, kind: &'static str, message: String, wait: Duration, tally: Tally) -> Step {
        ControlFlow::Break(self.ex.failed(self.id, kind, message, wait, tally))
    }

    /// Ask the provider's circuit breaker to let the next attempt through.
    pub(super) fn admit(&self) -> Step {
        let admitted = self
            .rt
            .circuit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(Instant::now(), &self.provider.circuit);
        let Err(until) = admitted else {
            return ControlFlow::Continue(());
        };
        let wait = until.saturating_duration_since(Instant::now());
        // The attempt the schedule counts was not made.
        let tally = Tally {
            attempts: self.schedule.attempts() - 1,
            ..self.tally()
        };
        let message = format!("circuit open for {}", self.provider.id);
        self.fail("circuit_open", message, wait, tally)
    }

    /// Tell the circuit breaker how the attempt went.
    fn record_health(&self, healthy: bool) {
        let opened = self
            .rt
            .circuit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(healthy, Instant::now(), &self.provider.circuit);
        if opened {
            tracing::warn!(provider = %self.provider.id, "circuit opened after repeated failures");
        }
    }

    /// The vendor took the job: record it durably, then poll it from the
    /// first interval on (or hand back `pending` when that is past the wait).
    async fn submitted(&mut self, job_id: String) -> Step {
        let tally = self.tally();
        let row = Booking {
            tally,
            ..self.id.booking(crate::name!("submitted"))
        };
        self.ex.job_submitted(self.id.key, &job_id, row).await;
        self.record_health(true);
        self.req = match build_poll_request(self.provider, self.op, &job_id) {
            Ok(r) => r,
            Err(e) => return self.fail("permanent", e.to_string(), LATER, tally),
        };
        self.phase = Phase::Poll(job_id);
        self.restart_schedule(tally.attempts);
        // The vendor needs time: the first poll waits one interval.
        let wait = self.poll_wait;
        if self.past_deadline(wait) {
            let message = "job submitted; its answer is not ready yet".to_string();
            return self.fail("pending", message, wait, tally);
        }
        tokio::time::sleep(wait).await;
        ControlFlow::Continue(())
    }

    /// The job is still running: wait a growing interval (or the vendor's
    /// Retry-After) and poll again, or hand back `pending` past the wait.
    async fn poll_later(&mut self, retry_after: Option<Duration>) -> Step {
        let tally = self.tally();
        let max = self
            .op
            .job
            .as_ref()
            .map_or(self.poll_wait, |j| j.max_poll_interval);
        let (wait, next) = next_poll_wait(self.poll_wait, retry_after, max);
        self.poll_wait = next;
        if self.past_deadline(wait) {
            let job_id = match &self.phase {
                Phase::Poll(id) => id.as_str(),
                _ => "",
            };
            let message = format!("job {job_id} still running; polling resumes on the next pass");
            return self.fail("pending", message, wait, tally);
        }
        self.restart_schedule(tally.attempts);
        tokio::time::sleep(wait).await;
        ControlFlow::Continue(())
    }

    /// Whether waiting `wait` more would pass the job's longest wait.
    fn past_deadline(&self, wait: Duration) -> bool {
        self.poll_deadline
            .is_some_and(|d| Instant::now() + wait > d)
    }

    /// A new phase gets a fresh retry schedule; `attempts` made so far stay counted.
    pub(super) fn restart_schedule(&mut self, attempts: u32) {
        self.earlier_attempts = attempts;
        self.schedule = RetrySchedule::new(self.provider.retry);
    }

    /// Act on a classified answer: book a hit or a miss, retry what a retry
    /// may cure, fail the rest.
    pub(super) async fn settle(&mut self, outcome: Outcome) -> Step {
        if matches!(outcome, Outcome::RateLimited(_)) {
            self.throttled += 1;
            ProviderStats::bump(&self.rt.stats.throttled);
        }
        let tally = self.tally();
        let (id, op) = (self.id, self.op);
        match outcome {
            Outcome::Hit { extracted, credits } => {
                let extracted = std::sync::Arc::new(extracted);
                let cached = CachedOutcome::Hit { extracted };
                ControlFlow::Break(self.ex.answered(id, cached, credits, op.cache.hit, tally))
            }
            Outcome::NotFound { credits } => {
                let cached = CachedOutcome::NotFound;
                ControlFlow::Break(self.ex.answered(id, cached, credits, op.cache.miss, tally))
            }
            o => match retry_after(&o) {
                Some(wait) => self.retry(o, wait, tally).await,
                // Permanent errors are not retried now; a later pass may ask again.
                None => {
                    let (kind, message) = describe(&o);
                    self.fail(kind, message, LATER, tally)
                }
            },
        }
    }

    /// Wait out the schedule's next delay before another attempt, or give up
    /// when it has none left.
    async fn retry(&mut self, o: Outcome, retry_after: Option<Duration>, tally: Tally) -> Step {
        if let Outcome::RateLimited(Some(ra)) = &o {
            // Everyone waits, not just this call: the vendor asked for a pause.
            self.rt.pause(Instant::now() + *ra);
        }
        let is_throttle = matches!(o, Outcome::RateLimited(_));
        match self.schedule.next_delay(retry_after, is_throttle) {
            Some(delay) => {
                tracing::debug!(
                    operation = self.id.operation,
                    kind = o.kind(),
                    ?delay,
                    "retrying"
                );
                tokio::time::sleep(delay).await;
                ControlFlow::Continue(())
            }
            None => {
                let (kind, msg) = describe(&o);
                let wait = retry_after.unwrap_or(self.provider.circuit.open_for);
                let message = format!("{msg} (gave up after {} attempts)", tally.attempts);
                self.fail(kind, message, wait, tally)
            }
        }
    }
}
