//! Reactions follow the data: every call into the service goes through [`with_core`], which
//! first folds entries other processes appended (at most every [`EXTERNAL_SYNC`]), runs the
//! call, then takes every entry the service folded — its own writes and others' — and
//! publishes the alerts they call for ([`truce_service::alerts::for_applied`]) and the tasks
//! they assigned, for the teams' TAK devices ([`crate::cot_tasks`]). A `truce
//! decide` run from a shell while the server runs is alerted like a decision posted to the
//! API; [`follow_log`] makes sure that happens even when no request comes.

use std::time::{Duration, Instant};

use truce_service::alerts::for_applied;

use crate::error::ApiResult;
use crate::state::{Core, Shared, run_blocking};

/// How often the log is checked for entries another process appended: a CLI `truce ingest` or
/// `truce decide` alongside the server shows, and is alerted, within this time.
pub const EXTERNAL_SYNC: Duration = Duration::from_millis(250);

/// Runs `f` with the core locked on a blocking thread, after folding others' entries; then
/// publishes the alerts every entry folded meanwhile calls for.
pub async fn with_core<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&mut Core) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let snapshot = state.clone();
    let (out, alerts) = run_blocking(state, move |core| {
        let snapshot = &snapshot.snapshot;
        if core.synced_at.is_none_or(|t| t.elapsed() >= EXTERNAL_SYNC) {
            // The lead first: a leader that died wrote nothing after its lock was freed, so
            // this sync folds all it logged, its alert entries with their causes (which
            // `for_applied` then does not alert again).
            let was = core.leading;
            core.leading = core
                .svc
                .store_mut()
                .lead()
                .map_err(truce_service::ServiceError::from)?;
            if core.leading && !was {
                tracing::info!("leading: this server logs alerts and calls webhooks");
            }
            core.svc.sync()?;
            core.synced_at = Some(Instant::now());
        }
        let out = f(core);
        // The snapshot first, then the reactions, to everything folded since the last call
        // (`run_blocking` settles calls that do not react here, like logging alerts).
        core.settle(snapshot);
        let applied = std::mem::take(&mut core.unreacted);
        let alerts = for_applied(core.svc.ledger(), &applied);
        // Tasks move only when an entry is folded.
        let tasks = if applied.is_empty() {
            Vec::new()
        } else {
            core.assigned.newly_assigned(core.svc.ledger())
        };
        Ok((out, (alerts, tasks, core.leading)))
    })
    .await?;
    let (alerts, tasks, leading) = alerts;
    crate::alerts::publish(state, alerts, leading).await;
    for t in tasks {
        // No device listening is not an error: it gets its open tasks when it connects.
        let _ = state.tasks.send(t);
    }
    out
}

/// Folds and alerts entries other processes append, every [`EXTERNAL_SYNC`], until the
/// service stops.
pub async fn follow_log(state: Shared) {
    let mut stop = state.stop.subscribe();
    let mut tick = tokio::time::interval(EXTERNAL_SYNC);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut last, mut quiet) = (None, 0u32);
    loop {
        let stopped = tokio::select! {
            _ = tick.tick() => false,
            r = stop.wait_for(|s| *s) => { drop(r); true }
        };
        if stopped {
            break;
        }
        match with_core(&state, |core| Ok(core.svc.ledger().through_seq())).await {
            Ok(through) if through == last => quiet += 1,
            Ok(through) => (last, quiet) = (through, 0),
            Err(e) => tracing::error!(error = %e.reason, "following the log failed"),
        }
        // A burst has ended (nothing folded for SNAPSHOT_QUIET): the ledger snapshot, when due,
        // is written now rather than in the middle of the burst's batches.
        if quiet == SNAPSHOT_QUIET_TICKS {
            snapshot(&state, false).await;
        }
    }
}

/// Ticks of [`EXTERNAL_SYNC`] with nothing folded after which a burst counts as ended: 2 s.
const SNAPSHOT_QUIET_TICKS: u32 = 8;

/// Writes the ledger snapshot (`truce_service::Service::write_snapshot`) when one is due, or
/// (`always`, at shutdown) whenever the ledger folded anything since the last. A failure is
/// logged: it costs the next start a longer fold, nothing else.
pub async fn snapshot(state: &Shared, always: bool) {
    let written = run_blocking(state, move |core| {
        if always || core.svc.snapshot_due() {
            Ok(core.svc.write_snapshot().map_err(|e| format!("{e:#}")))
        } else {
            Ok(Ok(false))
        }
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the ledger snapshot was not written"),
        Err(e) => tracing::warn!(error = %e.reason, "the ledger snapshot was not written"),
    }
}
