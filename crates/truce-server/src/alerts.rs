//! Alerts: made from the ledger with the agreement's escalation section (`[escalation]`: which
//! severities notify which parties, how fast, and what repeated breaches escalate to), logged
//! as an `alert` entry, published on a broadcast channel and streamed to each subscriber as
//! Server-Sent Events filtered by role (`GET /api/alerts/stream`), and handed to the
//! recipients' webhooks ([`crate::webhooks`]).
//!
//! Every alert published is in the log before anyone is told: one `alert` entry per publish
//! (a batch's alerts together, one transaction and one checkpoint however many there are),
//! naming each alert's incident, severity, recipients and deadline. Webhook outcomes follow in
//! later `alert` entries. So a party cannot claim it was not told (the entry and a delivery
//! with its HTTP status are in the log it can verify), nor can the monitor claim it told a
//! party it did not (no delivery entry, or a `failed` one).

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, TimeDelta, Utc};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use truce_core::agreement::{Agreement, Escalation, Severity};
use truce_fusion::ledger::{ALERT_ACTIONS, AlertRecord, Ledger, SentAlert};
use truce_store::{EntryKind, Log};

use crate::api::require;
use crate::app::ApiError;
use crate::auth::{Action, Principal, Role};
use crate::state::{Alert, Shared};

/// The severity a breach needs to be alerted when the agreement has no escalation section:
/// high and critical, what a watch officer is woken for.
pub const DEFAULT_ALERT_SEVERITY: Severity = Severity::High;

/// Alerts about the incidents `ids` (new or grown incidents for `breach`, an analyst's decision
/// for `state`, a party's response for `response`), with their severity escalated by repeats,
/// their recipients and deadline from the agreement. A `breach` alert is made only when its
/// severity reaches the lowest one `[escalation.notify]` names (without the section, `high`).
pub fn alerts_for(ledger: &Ledger<'_>, ids: &[String], kind: &'static str) -> Vec<Alert> {
    let engine = ledger.engine();
    let terms = engine.agreement();
    let escalation = terms.escalation.as_ref();
    let threshold = escalation
        .and_then(Escalation::lowest_notified)
        .unwrap_or(DEFAULT_ALERT_SEVERITY);
    let repeats = Repeats::new(ledger, escalation);
    let mut out = Vec::new();
    for id in ids {
        let Some(k) = ledger.find(id) else { continue };
        let inc = &ledger.incidents()[k];
        let rec = &ledger.records()[k];
        let base = inc
            .breaches
            .iter()
            .filter_map(|r| terms.rules.iter().find(|x| &x.id == r))
            .map(|r| r.severity)
            .max();
        let party = rec
            .attributed_party
            .clone()
            .or_else(|| truce_fusion::score::suggested_party(inc));
        let party_area = inc
            .location
            .and_then(|p| engine.party_at(p))
            .map(str::to_string);
        let (severity, escalation_note) = match (base, &party) {
            (Some(base), Some(p)) => repeats.escalate(ledger, k, p, base),
            _ => (base, None),
        };
        if kind == "breach" && severity.is_none_or(|s| s < threshold) {
            continue;
        }
        let (recipients, within_s) = recipients(
            terms,
            kind,
            severity,
            party_area.as_deref(),
            party.as_deref(),
        );
        // The entry behind the alert: the latest observation or step, not a record of an
        // earlier alert.
        let entry_seq = rec
            .transitions
            .iter()
            .rev()
            .find(|t| !ALERT_ACTIONS.contains(&t.action.as_str()))
            .map_or(inc.observation_seqs[0], |t| t.entry_seq)
            .max(*inc.observation_seqs.last().expect("never empty"));
        out.push(Alert {
            id: String::new(),
            kind,
            incident: inc.id.clone(),
            state: rec.state.as_str().into(),
            rules: inc.breaches.clone(),
            severity: severity.map(|s| s.as_str().into()),
            escalated_from: escalation_note
                .as_ref()
                .and_then(|_| base.map(|b| b.as_str().to_string())),
            escalation: escalation_note,
            party_area,
            party,
            location: inc.location,
            at: inc.end,
            entry_seq,
            recipients,
            within_s,
            deadline: None,
            created_at: DateTime::<Utc>::MIN_UTC,
            log_seq: None,
        });
    }
    out
}

/// The parties told of an alert, and the deadline in seconds. Staff are told of everything.
///
/// - With `[escalation]`: every `notify` entry whose severity the alert reaches adds its
///   parties (`involved`: the party whose area the incident is in and the one it is attributed
///   to); the deadline is the tightest `within_s` of those entries. An alert no entry covers
///   (a decision on a low-severity incident) goes to the parties involved, without a deadline.
/// - Without: the parties involved, no deadline.
/// - A response is told to every party (each sees the other's answer), with the deadline its
///   severity calls for.
pub fn recipients(
    terms: &Agreement,
    kind: &str,
    severity: Option<Severity>,
    party_area: Option<&str>,
    party: Option<&str>,
) -> (Vec<String>, Option<u32>) {
    let known = |p: &str| terms.parties.iter().any(|x| x.id == p);
    let mut involved = BTreeSet::new();
    for p in [party_area, party].into_iter().flatten() {
        if known(p) {
            involved.insert(p.to_string());
        }
    }
    let mut told = BTreeSet::new();
    let mut within = None;
    let matching: Vec<_> = terms
        .escalation
        .iter()
        .flat_map(|e| &e.notify)
        .filter(|n| severity.is_some_and(|s| s >= n.severity))
        .collect();
    for n in &matching {
        if n.involved {
            told.extend(involved.iter().cloned());
        }
        told.extend(n.parties.iter().cloned());
        within = Some(within.map_or(n.within_s, |w: u32| w.min(n.within_s)));
    }
    if matching.is_empty() {
        told = involved;
    }
    if kind == "response" {
        told.extend(terms.parties.iter().map(|p| p.id.clone()));
    }
    (told.into_iter().collect(), within)
}

/// For each `[escalation.repeat]` entry, the start times of the incidents breaching its rule,
/// by party (official attribution, else the suggested one), sorted: counting the breaches in a
/// window is then a binary search, so a batch's alerts cost one pass over the incidents.
struct Repeats<'a> {
    entries: Vec<(&'a truce_core::agreement::Repeat, StartsByParty)>,
}

/// Start times of incidents, sorted, by party.
type StartsByParty = HashMap<String, Vec<DateTime<Utc>>>;

impl<'a> Repeats<'a> {
    fn new(ledger: &Ledger<'_>, escalation: Option<&'a Escalation>) -> Repeats<'a> {
        let mut entries = Vec::new();
        for r in escalation.iter().flat_map(|e| &e.repeat) {
            let mut by_party = StartsByParty::new();
            for (inc, rec) in ledger.incidents().iter().zip(ledger.records()) {
                if !inc.breaches.contains(&r.rule) {
                    continue;
                }
                let party = rec
                    .attributed_party
                    .clone()
                    .or_else(|| truce_fusion::score::suggested_party(inc));
                if let Some(p) = party {
                    by_party.entry(p).or_default().push(inc.start);
                }
            }
            for times in by_party.values_mut() {
                times.sort_unstable();
            }
            entries.push((r, by_party));
        }
        Repeats { entries }
    }

    /// The severity of incident `k` (by `party`, its rules' own severity `base`) after the
    /// repeat rules: when `count` incidents breaching the rule by the same party started within
    /// `within_h` hours up to this one's start (this one included), the highest `to_severity`
    /// that applies, with why.
    fn escalate(
        &self,
        ledger: &Ledger<'_>,
        k: usize,
        party: &str,
        base: Severity,
    ) -> (Option<Severity>, Option<String>) {
        let inc = &ledger.incidents()[k];
        let mut best = (base, None);
        for (r, by_party) in &self.entries {
            if !inc.breaches.contains(&r.rule) || r.to_severity <= best.0 {
                continue;
            }
            let Some(times) = by_party.get(party) else {
                continue;
            };
            let from = inc.start - TimeDelta::hours(i64::from(r.within_h));
            let n =
                times.partition_point(|t| *t <= inc.start) - times.partition_point(|t| *t < from);
            if n >= r.count as usize {
                best = (
                    r.to_severity,
                    Some(format!(
                        "{n} {} breaches by {party} within {} h",
                        r.rule, r.within_h
                    )),
                );
            }
        }
        (Some(best.0), best.1)
    }
}

/// What most alerts in one `alert` entry may be: a batch of 10,000 observations can touch as
/// many incidents, and one entry of a few MB is still cheaper than 10,000 transactions. More
/// are split across entries.
pub const MAX_ALERTS_PER_ENTRY: usize = 10_000;

/// Logs `alerts` as one `alert` entry (with a checkpoint), then sends them to every
/// subscriber and to the recipients' webhooks. Logging comes first: nobody is told what the
/// log does not show was sent. If logging fails (a locked or full disk) the alerts are still
/// sent — telling a party late is worse than an alert missing from the log — and the failure
/// is reported as an error.
pub async fn publish(state: &Shared, mut alerts: Vec<Alert>) {
    if alerts.is_empty() {
        return;
    }
    let now = Utc::now();
    let hooks = state.webhooks.get().cloned();
    for a in &mut alerts {
        a.id = format!("alert:{}:{}", a.incident, a.entry_seq);
        a.created_at = now;
        a.deadline = a.within_s.map(|s| now + TimeDelta::seconds(i64::from(s)));
    }
    let records: Vec<AlertRecord> = alerts
        .chunks(MAX_ALERTS_PER_ENTRY)
        .map(|chunk| AlertRecord {
            alerts: chunk.iter().map(|a| sent(a, hooks.as_deref())).collect(),
            deliveries: Vec::new(),
            created_at: now,
        })
        .collect();
    match log_records(state, records).await {
        Ok(seqs) => {
            for (chunk, seq) in alerts.chunks_mut(MAX_ALERTS_PER_ENTRY).zip(seqs) {
                for a in chunk {
                    a.log_seq = Some(seq);
                }
            }
        }
        Err(e) => tracing::error!(
            error = %e.reason,
            alerts = alerts.len(),
            "alerts could not be logged; sending them anyway"
        ),
    }
    for a in alerts {
        state.metrics.alerts_sent.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = &hooks {
            h.dispatch(state, &a);
        }
        // No subscriber is not an error: the alert is in the log and the incident's record.
        let _ = state.alerts.send(a);
    }
}

/// An alert as its `alert` entry records it.
fn sent(a: &Alert, hooks: Option<&crate::webhooks::Webhooks>) -> SentAlert {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| serde_json::from_value(serde_json::Value::from(s)).ok())
    };
    SentAlert {
        id: a.id.clone(),
        kind: a.kind.into(),
        incident: a.incident.clone(),
        state: a.state.clone(),
        severity: parse(&a.severity),
        escalated_from: parse(&a.escalated_from),
        escalation: a.escalation.clone(),
        rules: a.rules.clone(),
        recipients: a.recipients.clone(),
        webhooks: hooks.map(|h| h.parties_for(a)).unwrap_or_default(),
        within_s: a.within_s,
        deadline: a.deadline,
        cause_seq: a.entry_seq,
    }
}

/// Appends each record as an `alert` entry, lets the ledger follow (the incidents show the
/// alerts), and signs one checkpoint. Returns the entries' seqs.
pub async fn log_records(state: &Shared, records: Vec<AlertRecord>) -> Result<Vec<u64>, ApiError> {
    crate::api::with_core(state, move |core| {
        let mut seqs = Vec::with_capacity(records.len());
        for r in &records {
            let body = truce_core::canonical::to_canonical_json(r);
            seqs.push(
                core.store
                    .append_record(EntryKind::Alert, &body)
                    .map_err(anyhow::Error::from)?,
            );
        }
        crate::replay::follow(&mut core.store, &mut core.ledger)?;
        core.store
            .sign_checkpoint(&core.key, Utc::now().timestamp().max(0) as u64)
            .map_err(anyhow::Error::from)?;
        Ok(seqs)
    })
    .await
}

/// Whether `role` is told of `alert`: staff of everything; a party of the alerts it is a
/// recipient of.
pub fn told(role: &Role, alert: &Alert) -> bool {
    match role {
        Role::Admin | Role::Analyst => true,
        Role::Party(p) => alert.recipients.iter().any(|r| r == p),
        Role::Team(_) | Role::Public => false,
    }
}

pub async fn stream(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    require(&p, Action::ReadAlerts, "subscribe to alerts")?;
    let role = p.role.clone();
    let mut stop = state.stop.subscribe();
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let events = BroadcastStream::new(state.alerts.subscribe()).filter_map(move |a| match a {
        Ok(alert) if told(&role, &alert) => Some(Ok(Event::default()
            .event(alert.kind)
            .id(alert.id.clone())
            .json_data(&alert)
            .unwrap_or_else(|_| Event::default().comment("unencodable alert")))),
        Ok(_) => None,
        // A subscriber too slow to keep up is told how many it missed.
        Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
            Some(Ok(Event::default().event("lagged").data(n.to_string())))
        }
    });
    // The stream ends when the service shuts down.
    let events = futures_util::StreamExt::take_until(events, Box::pin(stopping));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(with_escalation: bool) -> Agreement {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
        let mut text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        if !with_escalation {
            text.truncate(text.find("\n# Who is told of what").unwrap());
        }
        truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap()
    }

    #[test]
    fn recipients_follow_the_escalation_section() {
        let t = terms(true);
        let r = |kind, sev, area, party| recipients(&t, kind, sev, area, party);
        // High: the parties involved, within 60 s.
        assert_eq!(
            r("breach", Some(Severity::High), Some("RU"), None),
            (vec!["RU".to_string()], Some(60))
        );
        assert_eq!(
            r("breach", Some(Severity::High), Some("UA"), Some("RU")),
            (vec!["RU".to_string(), "UA".to_string()], Some(60))
        );
        // Critical: every party named.
        assert_eq!(
            r("breach", Some(Severity::Critical), Some("RU"), Some("RU")).0,
            ["RU", "UA"]
        );
        // Below every entry (a decision on a medium incident): the parties involved, no
        // deadline; a response: every party.
        assert_eq!(
            r("state", Some(Severity::Medium), Some("UA"), None),
            (vec!["UA".to_string()], None)
        );
        assert_eq!(
            r("response", Some(Severity::Low), None, None).0,
            ["RU", "UA"]
        );
        // An unknown party is nobody.
        assert_eq!(r("state", None, Some("XX"), None), (vec![], None));
    }

    #[test]
    fn without_a_section_the_parties_involved_are_told_without_deadline() {
        let t = terms(false);
        assert_eq!(
            recipients(&t, "breach", Some(Severity::Critical), Some("RU"), None),
            (vec!["RU".to_string()], None)
        );
    }
}
