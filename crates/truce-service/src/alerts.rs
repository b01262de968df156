//! Alerts: which incidents a folded entry makes worth telling, how severe (with the
//! agreement's escalation section: repeats escalate), to whom and by when. Pure: made from the
//! ledger and the entries just applied ([`crate::Applied`]), whoever wrote them — the server
//! publishes them (SSE, webhooks) and logs them as `alert` entries.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use truce_core::agreement::{Agreement, Escalation, Severity};
use truce_core::entry::EntryKind;
use truce_fusion::ledger::{ALERT_ACTIONS, Ledger, SentAlert};
use utoipa::ToSchema;

use crate::Applied;
use crate::access::Role;

/// Something parties and staff are told as it happens: on the alert stream, by webhook, and
/// in the log ([`alerts_for`]).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Alert {
    /// `alert:<incident>:<entry_seq>`: the SSE event id and the webhook's `X-Truce-Alert-Id`.
    pub id: String,
    /// `breach` (a new or grown incident in breach), `state` (an analyst's decision) or
    /// `response` (a party's response).
    pub kind: &'static str,
    pub incident: String,
    pub state: String,
    pub rules: Vec<String>,
    /// After escalation (`[escalation.repeat]`).
    pub severity: Option<String>,
    /// The rules' own severity when a repeat escalated it, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<String>,
    /// Whose area the incident is in, and the party it is attributed to (official or
    /// suggested): who is told.
    pub party_area: Option<String>,
    pub party: Option<String>,
    pub location: Option<[f64; 2]>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The log entry behind it.
    pub entry_seq: u64,
    /// The parties told (staff are told of every alert): `[escalation.notify]`, or without
    /// one the parties involved (every party for a response).
    pub recipients: Vec<String>,
    /// How fast the agreement's escalation section says they must be told, and by when.
    pub within_s: Option<u32>,
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// When the alert was published.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The `alert` log entry that records it (None only if logging it failed).
    pub log_seq: Option<u64>,
}

/// The severity a breach needs to be alerted when the agreement has no escalation section:
/// high and critical, what a watch officer is woken for.
pub const DEFAULT_ALERT_SEVERITY: Severity = Severity::High;

/// Alerts about the incidents `ids` (new or grown incidents for `breach`, an analyst's decision
/// for `state`, a party's response for `response`), with their severity escalated by repeats,
/// their recipients and deadline from the agreement. A `breach` alert is made only when its
/// severity reaches the lowest one `[escalation.notify]` names (without the section, `high`).
pub fn alerts_for(ledger: &Ledger, ids: &[String], kind: &'static str) -> Vec<Alert> {
    let engine = ledger.engine();
    let terms = engine.agreement();
    let escalation = terms.escalation.as_ref();
    let threshold = escalation
        .and_then(Escalation::lowest_notified)
        .unwrap_or(DEFAULT_ALERT_SEVERITY);
    let repeats = Repeats::new(escalation);
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
            .or_else(|| inc.suggested.as_ref().map(|s| s.party.clone()));
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

/// The `[escalation.repeat]` entries, counted against the ledger's start times of the
/// incidents breaching each repeated rule by party (`Ledger::repeats`, kept as incidents
/// change: a count is a range of a sorted set, not a pass over the incidents).
struct Repeats<'a> {
    entries: &'a [truce_core::agreement::Repeat],
}

impl<'a> Repeats<'a> {
    fn new(escalation: Option<&'a Escalation>) -> Repeats<'a> {
        Repeats {
            entries: escalation.map_or(&[], |e| &e.repeat),
        }
    }

    /// The severity of incident `k` (by `party`, its rules' own severity `base`) after the
    /// repeat rules: when `count` incidents breaching the rule by the same party started within
    /// `within_h` hours up to this one's start (this one included), the highest `to_severity`
    /// that applies, with why.
    fn escalate(
        &self,
        ledger: &Ledger,
        k: usize,
        party: &str,
        base: Severity,
    ) -> (Option<Severity>, Option<String>) {
        let inc = &ledger.incidents()[k];
        let mut best = (base, None);
        for r in self.entries {
            if !inc.breaches.contains(&r.rule) || r.to_severity <= best.0 {
                continue;
            }
            let from = inc.start - TimeDelta::hours(i64::from(r.within_h));
            let Some(n) = ledger.repeats().count(&r.rule, party, from, inc.start) else {
                continue;
            };
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

/// The alerts the entries in `applied` call for, in their order: a `breach` alert for each
/// incident an observation made or grew, a `state` alert for an analyst's decision, a
/// `response` alert for a party's response (naming the response's entry). Alerts and
/// missions call for none. An incident touched by several entries of one batch is alerted
/// once, for the last of them. An entry followed in `applied` by an `alert` entry about the
/// same incident was alerted already — by the replica that led before this one, which logged
/// it before it died — and is not alerted again.
pub fn for_applied(ledger: &Ledger, applied: &[Applied]) -> Vec<Alert> {
    let mut out: Vec<Alert> = Vec::new();
    let mut breach_ids: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut alerted_after: BTreeSet<&str> = BTreeSet::new();
    for a in applied.iter().rev() {
        if a.kind == EntryKind::Alert {
            alerted_after.extend(a.incidents.iter().map(String::as_str));
            continue;
        }
        let kind = match a.kind {
            EntryKind::Observation => "breach",
            EntryKind::Decision => "state",
            EntryKind::Response => "response",
            _ => continue,
        };
        for id in &a.incidents {
            if alerted_after.contains(id.as_str()) || !seen.insert((kind, id.clone())) {
                continue;
            }
            if kind == "breach" {
                breach_ids.push(id.clone());
                continue;
            }
            for mut alert in alerts_for(ledger, std::slice::from_ref(id), kind) {
                if kind == "response" {
                    alert.entry_seq = a.seq;
                }
                out.push(alert);
            }
        }
    }
    breach_ids.reverse();
    let mut breaches = alerts_for(ledger, &breach_ids, "breach");
    out.reverse();
    breaches.extend(out);
    breaches
}

/// An alert as its `alert` entry records it.
pub fn sent(a: &Alert, webhooks: Vec<String>) -> SentAlert {
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
        webhooks,
        within_s: a.within_s,
        deadline: a.deadline,
        cause_seq: a.entry_seq,
    }
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
