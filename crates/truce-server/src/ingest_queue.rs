//! Requests waiting for `crate::ingest`'s worker, and what each is answered with. Below the
//! state (which holds the queue), so it imports nothing of the crate but the error.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use truce_service::Committed;
use truce_service::Job;
use truce_service::alerts::Alert;
use truce_service::view::TaskView;

use crate::error::ApiError;

/// How long a worker waits for the next request before it gives the core back: long enough
/// for a client to send its next batch once answered.
pub const LINGER: Duration = Duration::from_millis(30);

/// How long one worker keeps the core's lock while requests keep coming.
pub const HOLD: Duration = Duration::from_millis(1000);

/// What a request is answered with: its batch, and the reactions to it — the alerts it calls
/// for already logged (`logged`: their entries' seqs, or why they could not be; None when
/// this server does not lead, or there are none), to be sent by the request's handler.
pub struct Stored {
    pub committed: Committed,
    pub alerts: Vec<Alert>,
    pub logged: Option<Result<Vec<u64>, String>>,
    pub tasks: Vec<TaskView>,
    pub leading: bool,
}

/// Where a request's answer goes.
pub type Answer = oneshot::Sender<Result<Stored, ApiError>>;

/// A job's tag: a request's batch, or the alerts its batch called for (the request is
/// answered once they are logged).
pub enum Tag {
    Batch(Answer),
    Alerts(Answer, Box<Stored>),
}

impl Tag {
    /// Answers the job with `e`: a batch with the error, a batch's alerts with the batch as
    /// stored and why its alerts are not logged (they are sent all the same).
    pub fn fail(self, e: ApiError) {
        let _ = match self {
            Tag::Batch(answer) => answer.send(Err(e)),
            Tag::Alerts(answer, mut stored) => {
                stored.logged = Some(Err(e.reason));
                answer.send(Ok(*stored))
            }
        };
    }
}

/// Requests waiting for the worker.
#[derive(Default)]
pub struct IngestQueue {
    queue: Mutex<Waiting>,
    arrived: Condvar,
}

#[derive(Default)]
struct Waiting {
    jobs: VecDeque<Job<Tag>>,
    /// A worker is running (or about to): a request queued now is taken by it or by the
    /// one it starts when it finishes.
    working: bool,
}

impl IngestQueue {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` (first when `first`: a batch's alerts go before batches that came after
    /// it); true when no worker runs and the caller must start one.
    pub fn push(&self, job: Job<Tag>, first: bool) -> bool {
        let mut w = self.waiting();
        if first {
            w.jobs.push_front(job);
        } else {
            w.jobs.push_back(job);
        }
        self.arrived.notify_all();
        !std::mem::replace(&mut w.working, true)
    }

    /// The next job for a worker that started at `since` and has `in_flight` jobs taken
    /// and not yet answered: one queued; else, while any is in flight, the next to arrive
    /// (its client may be one of theirs, sending again once answered); else one that arrives
    /// within [`LINGER`]. None when none does, or once the worker has held the core for
    /// [`HOLD`] (the jobs still queued go to the next worker). Counts the job taken in
    /// flight; [`IngestQueue::answered`] counts it out.
    pub fn next(&self, since: Instant, in_flight: &AtomicUsize) -> Option<Job<Tag>> {
        let mut w = self.waiting();
        let mut lingered = false;
        loop {
            let held = since.elapsed();
            if held >= HOLD {
                return None;
            }
            if let Some(job) = w.jobs.pop_front() {
                in_flight.fetch_add(1, Ordering::AcqRel);
                return Some(job);
            }
            let waiting = in_flight.load(Ordering::Acquire) > 0;
            if !waiting && lingered {
                return None;
            }
            lingered = !waiting;
            let wait = if waiting { HOLD - held } else { LINGER };
            w = self
                .arrived
                .wait_timeout(w, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// A job taken by [`IngestQueue::next`] is answered (or handed on): one less in flight.
    pub fn answered(&self, in_flight: &AtomicUsize) {
        let _w = self.waiting();
        in_flight.fetch_sub(1, Ordering::AcqRel);
        self.arrived.notify_all();
    }

    /// A worker is done: true when requests queued meanwhile need the next one. When it
    /// could not start (`failed`: the core's sync failed), the requests waiting are
    /// answered with why.
    pub fn finish(&self, failed: Option<&ApiError>) -> bool {
        let mut w = self.waiting();
        if let Some(e) = failed {
            for job in w.jobs.drain(..) {
                job.tag.fail(ApiError::new(e.status, e.reason.clone()));
            }
        }
        w.working = !w.jobs.is_empty();
        w.working
    }
}
