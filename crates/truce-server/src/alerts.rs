//! Alerts, published: which ones and to whom is decided by [`truce_service::alerts`] from
//! the entries the service folded (whoever wrote them); here they are logged as an `alert`
//! entry, published on a broadcast channel (streamed to each subscriber as Server-Sent
//! Events filtered by role, `crate::api::alerts`), and handed to the recipients' webhooks
//! ([`crate::webhooks`]).
//!
//! Every alert published is in the log before anyone is told: one `alert` entry per publish
//! (a batch's alerts together, one transaction and one checkpoint however many there are),
//! naming each alert's incident, severity, recipients and deadline. Webhook outcomes follow in
//! later `alert` entries. So a party cannot claim it was not told (the entry and a delivery
//! with its HTTP status are in the log it can verify), nor can the monitor claim it told a
//! party it did not (no delivery entry, or a `failed` one).

use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use truce_fusion::ledger::AlertRecord;
use truce_service::alerts::{Alert, MAX_ALERTS_PER_ENTRY, sent};

use crate::state::Shared;

/// Logs `alerts` as one `alert` entry (with a checkpoint), then sends them to every
/// subscriber and to the recipients' webhooks. Logging comes first: nobody is told what the
/// log does not show was sent. If logging fails (a locked or full disk) the alerts are still
/// sent — telling a party late is worse than an alert missing from the log — and the failure
/// is reported as an error. A replica that does not lead (`leading`, see
/// [`crate::state::Core::leading`]) only sends them to its own subscribers.
pub async fn publish(state: &Shared, mut alerts: Vec<Alert>, leading: bool) {
    let logged = match stamp(state, &mut alerts, leading) {
        Some(records) => Some(
            crate::state::log_alert_records(state, records)
                .await
                .map_err(|e| e.reason),
        ),
        None => None,
    };
    send(state, alerts, logged);
}

/// Stamps `alerts` (id, time, deadline) and, when this server leads and there are any, makes
/// the records to log them by (one per [`MAX_ALERTS_PER_ENTRY`]).
pub fn stamp(state: &Shared, alerts: &mut [Alert], leading: bool) -> Option<Vec<AlertRecord>> {
    if alerts.is_empty() {
        return None;
    }
    let now = state.clock.now();
    for a in alerts.iter_mut() {
        a.id = format!("alert:{}:{}", a.incident, a.entry_seq);
        a.created_at = now;
        a.deadline = a.within_s.map(|s| now + TimeDelta::seconds(i64::from(s)));
    }
    if !leading {
        // Another replica leads: it logs these alerts and calls the webhooks, once; this one
        // tells its own subscribers.
        return None;
    }
    let hooks = state.webhooks.get();
    Some(
        alerts
            .chunks(MAX_ALERTS_PER_ENTRY)
            .map(|chunk| AlertRecord {
                alerts: chunk
                    .iter()
                    .map(|a| sent(a, hooks.map(|h| h.parties_for(a)).unwrap_or_default()))
                    .collect(),
                deliveries: Vec::new(),
                created_at: now,
            })
            .collect(),
    )
}

/// Sends `alerts` (stamped by [`stamp`]) to every subscriber, and — when they were to be
/// logged (`logged`: the seqs of their entries, or why they could not be) — to the
/// recipients' webhooks.
pub fn send(state: &Shared, mut alerts: Vec<Alert>, logged: Option<Result<Vec<u64>, String>>) {
    let Some(logged) = logged else {
        // Not this replica's to log or deliver.
        for a in alerts {
            let _ = state.alerts.send(a);
        }
        return;
    };
    match logged {
        Ok(seqs) => {
            for (chunk, seq) in alerts.chunks_mut(MAX_ALERTS_PER_ENTRY).zip(seqs) {
                for a in chunk {
                    a.log_seq = Some(seq);
                }
            }
        }
        Err(reason) => tracing::error!(
            error = %reason,
            alerts = alerts.len(),
            "alerts could not be logged; sending them anyway"
        ),
    }
    let hooks = state.webhooks.get().cloned();
    for a in alerts {
        state.metrics.alerts_sent.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = &hooks {
            h.dispatch(state, &a);
        }
        // No subscriber is not an error: the alert is in the log and the incident's record.
        let _ = state.alerts.send(a);
    }
}
