//! Batches that come over the network (`POST /api/observations`, the CoT listeners) are
//! stored by one worker at a time, through the service's pipeline
//! ([`truce_service::Service::ingest_stream`]): while one request's batch is folded into the
//! ledger on one core, the next request's batch is appended to the log on the other. A
//! request is answered as soon as its batch is folded and the read snapshot shows it (so a
//! writer reads its own write, as before), and — when it calls for alerts — once they are
//! logged: the worker logs them in the same stream, ahead of the batches queued after it.
//! Its incidents reach the store's derived tables after the next batch's append, or shortly
//! when no batch follows.
//!
//! Requests queue in [`crate::ingest_queue`]. The first to find no worker starts one
//! ([`crate::reactions::with_core`]: the core's lock, others' entries folded first); the
//! worker takes requests as they come, waiting a little for the next, and gives the lock back
//! after a while so decisions and other writers are not kept waiting by a steady feed.

use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use axum::http::StatusCode;
use tokio::sync::oneshot;
use truce_service::alerts::for_applied;
use truce_service::{Folded, Job, Payload};

use crate::error::{ApiError, ApiResult};
use crate::ingest_queue::{Stored, Tag};
use crate::reactions::with_core;
use crate::state::{Core, Shared};

/// Stores one request's records (`file` names it in the store, `format` its feed) through
/// the worker, and answers with what it did once its batch is folded (and its alerts logged).
pub async fn store(
    state: &Shared,
    file: String,
    format: String,
    records: Vec<truce_ingest::Record>,
) -> ApiResult<Stored> {
    let (answer, answered) = oneshot::channel();
    let job = Job {
        file,
        payload: Payload::Records { format, records },
        tag: Tag::Batch(answer),
    };
    if state.ingest.push(job, false) {
        tokio::spawn(work(state.clone()));
    }
    answered.await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not stored: the ingest stopped before this batch (see the server's log); send it again",
        )
    })?
}

/// A worker: takes the core and stores queued requests until none comes or it has held the
/// core long enough; then starts the next if requests are waiting.
async fn work(state: Shared) {
    loop {
        let s = state.clone();
        let ran = with_core(&state, move |core| {
            stream(core, &s);
            Ok(())
        })
        .await;
        if !state.ingest.finish(ran.as_ref().err()) {
            return;
        }
    }
}

/// Runs queued jobs through the service's pipeline. Each is answered on the folding thread:
/// the read snapshot brought level with it first, then its reactions taken; a batch whose
/// alerts are to be logged is answered when they are.
fn stream(core: &mut Core, state: &Shared) {
    let since = Instant::now();
    let leading = core.leading;
    let Core { svc, assigned, .. } = core;
    let in_flight = AtomicUsize::new(0);
    let jobs = std::iter::from_fn(|| state.ingest.next(since, &in_flight));
    let mut answer = |f: Folded<'_, Tag>| {
        let committed = match f.result {
            Ok(committed) => committed,
            Err(e) => return f.tag.fail(ApiError::from(e)),
        };
        let applied = std::mem::take(f.applied);
        crate::state::settle(&state.snapshot, f.ledger, &applied);
        match f.tag {
            Tag::Alerts(answer, mut stored) => {
                let seqs = committed.results.iter().filter_map(|r| r.seq).collect();
                stored.logged = Some(Ok(seqs));
                let _ = answer.send(Ok(*stored));
            }
            Tag::Batch(answer) => {
                let mut alerts = for_applied(f.ledger, &applied);
                let tasks = if applied.is_empty() {
                    Vec::new()
                } else {
                    assigned.newly_assigned(f.ledger)
                };
                let records = crate::alerts::stamp(state, &mut alerts, leading);
                let stored = Stored {
                    committed,
                    alerts,
                    logged: None,
                    tasks,
                    leading,
                };
                match records {
                    Some(records) => {
                        // Logged before batches queued after this one; the request is
                        // answered then.
                        let job = Job {
                            file: format!(
                                "the alerts of batch {}",
                                stored.committed.outcome.batch_id
                            ),
                            payload: Payload::Alerts(records),
                            tag: Tag::Alerts(answer, Box::new(stored)),
                        };
                        // This worker runs (the queue says so until it finishes): it, or the
                        // one it starts when it finishes, takes the job.
                        let started = state.ingest.push(job, true);
                        debug_assert!(!started, "queued from within a worker");
                    }
                    // A request whose client left is stored all the same.
                    None => drop(answer.send(Ok(stored))),
                }
            }
        }
    };
    let answered = |f: Folded<'_, Tag>| {
        answer(f);
        state.ingest.answered(&in_flight);
    };
    if let Err(e) = svc.ingest_stream(jobs, answered, |()| ()) {
        // Every job taken was answered (the failed one with this error); the ones still
        // queued go to the next worker.
        tracing::error!(error = %format!("{e:#}"), "storing a posted batch failed");
    }
}
