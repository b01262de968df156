//! Tasks to the teams' TAK devices (`truce serve --cot-tcp ADDR --cot-tasks`,
//! `docs/mission.md`): an assigned verification task is sent as a Cursor-on-Target event to the
//! team's devices connected to the CoT TCP listener, so a team sees where to go and what to
//! verify on the map it already works on, and answers from it with the
//! `<truce task=… outcome=…>` report the listener reads.
//!
//! Which connection is whose: a TAK device announces its callsign in every event it sends
//! (`<contact callsign>`; ATAK's position report goes out every few seconds), and a team's
//! devices use the team's id as callsign — the same rule that makes their reports the team's
//! (`truce_ingest`'s CoT adapter). A connection is taken to carry every callsign it has sent
//! (a TAK server relays many devices over one), up to [`MAX_CALLSIGNS_PER_CONNECTION`]. When
//! a callsign first shows, its team's open tasks are sent; afterwards each task assigned to
//! it, when the fold assigns it ([`Assigned::newly_assigned`], called by
//! `crate::reactions::with_core` after every fold: reactions follow the data, whoever wrote
//! the entry).
//!
//! On the TLS listener (`--cot-tls`) the client certificate says whose a connection is: its
//! team's tasks are sent from the start, and no other team's. The plain TCP listener
//! authenticates nobody — that is why sending tasks is a separate switch: a task says where a
//! team is going, which only staff may see (`truce_service::access`), so with `--cot-tcp` turn
//! it on only where the listener's clients are the mission's (its TAK server, a VPN).
//!
//! The event (`b-m-p-w-GOTO`, a go-to waypoint) sits at the task's place, names the task in its
//! uid (prefixed [`TASK_UID_PREFIX`]), its callsign and `<truce task incident severity>`,
//! addresses the team through `<marti><dest callsign>` (so a TAK server routes it), and says in
//! `<remarks>` what to verify and how to answer. The listener skips events whose uid has the
//! prefix, so one echoed back by a TAK server is not read as a report.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use truce_fusion::ledger::{Ledger, TaskState};
use truce_service::view::TaskView;

/// The uid of a task's event is this followed by the task id: Truce's own events, skipped when
/// they come back to the listener.
pub const TASK_UID_PREFIX: &str = "truce:";

/// A task's event goes stale (TAK clients grey it out, then drop it) after this long; a device
/// that reconnects, or a task assigned anew, gets it again. A day covers a team's working day
/// and the drive back.
pub const TASK_STALE_H: i64 = 24;

/// Callsigns one connection may carry: a TAK server relaying a mission's devices (a few dozen
/// teams) fits; a client sending endless made-up callsigns does not grow the set beyond this.
pub const MAX_CALLSIGNS_PER_CONNECTION: usize = 64;

/// The assigned tasks already announced, task id → team: a task is sent again only when it
/// is assigned to another team, or again after being done or pending.
#[derive(Debug, Default)]
pub struct Assigned(HashMap<String, String>);

impl Assigned {
    /// What the ledger has assigned now (sent to a device when its callsign shows, not here).
    pub fn of(ledger: &Ledger) -> Assigned {
        let mut a = Assigned::default();
        a.newly_assigned(ledger);
        a
    }

    /// The tasks assigned since the last call (or to another team), noting them as announced.
    pub fn newly_assigned(&mut self, ledger: &Ledger) -> Vec<TaskView> {
        let mut out = Vec::new();
        for t in ledger.tasks() {
            match (&t.state, &t.team) {
                (TaskState::Assigned, Some(team)) => {
                    if self.0.get(&t.id) != Some(team) {
                        self.0.insert(t.id.clone(), team.clone());
                        out.push(TaskView::from(t));
                    }
                }
                _ => {
                    self.0.remove(&t.id);
                }
            }
        }
        out
    }
}

/// The tasks assigned to `team` and not done.
pub fn open_tasks(ledger: &Ledger, team: &str) -> Vec<TaskView> {
    ledger
        .tasks()
        .iter()
        .filter(|t| t.state == TaskState::Assigned && t.team.as_deref() == Some(team))
        .map(TaskView::from)
        .collect()
}

/// The CoT event for `task` (assigned to a team), made at `now`.
pub fn event(task: &TaskView, now: DateTime<Utc>) -> String {
    let team = task.team.as_deref().unwrap_or_default();
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let stale = now + TimeDelta::hours(TASK_STALE_H);
    let [lon, lat] = task.location;
    let remarks = format!(
        "Truce task {id}: verify incident {incident} (severity {severity}) at {lat:.5}, {lon:.5}. \
         {note} Answer with a report from this place carrying \
         <truce task=\"{id}\" outcome=\"confirmed|not_confirmed|inconclusive|access_denied\"/> \
         in its detail.",
        id = task.id,
        incident = task.incident,
        severity = task.severity,
        note = task.note,
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <event version=\"2.0\" uid=\"{prefix}{id}\" type=\"b-m-p-w-GOTO\" how=\"h-e\" \
         time=\"{now}\" start=\"{now}\" stale=\"{stale}\">\
         <point lat=\"{lat:.6}\" lon=\"{lon:.6}\" hae=\"9999999.0\" ce=\"9999999.0\" le=\"9999999.0\"/>\
         <detail><contact callsign=\"{id}\"/><marti><dest callsign=\"{team}\"/></marti>\
         <truce task=\"{id}\" incident=\"{incident}\" severity=\"{severity}\"/>\
         <remarks>{remarks}</remarks></detail></event>\n",
        prefix = TASK_UID_PREFIX,
        id = xml(&task.id),
        now = time(now),
        stale = time(stale),
        team = xml(team),
        incident = xml(&task.incident),
        severity = xml(&task.severity),
        remarks = xml(&remarks),
    )
}

/// `s` escaped for an XML attribute value or text.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_event_is_well_formed_and_says_how_to_answer() {
        let task = TaskView {
            id: "task-inc-7".into(),
            incident: "inc-7".into(),
            location: [37.81234, 48.05678],
            severity: "high".into(),
            confidence: 0.8,
            priority: 3800,
            state: "assigned".into(),
            team: Some("team-2".into()),
            distance_m: Some(12_000.0),
            created_at: "2015-03-02T10:00:00Z".parse().unwrap(),
            created_seq: 12,
            assigned_at: None,
            outcome: None,
            outcome_at: None,
            outcome_seq: None,
            note: "Crater <fresh> & smoke".into(),
        };
        let now: DateTime<Utc> = "2015-03-02T11:00:00Z".parse().unwrap();
        let e = event(&task, now);
        assert!(e.contains("uid=\"truce:task-inc-7\""), "{e}");
        assert!(e.contains("type=\"b-m-p-w-GOTO\""), "{e}");
        assert!(e.contains("lat=\"48.056780\" lon=\"37.812340\""), "{e}");
        assert!(e.contains("<dest callsign=\"team-2\"/>"), "{e}");
        assert!(e.contains("stale=\"2015-03-03T11:00:00.000Z\""), "{e}");
        assert!(e.contains("Crater &lt;fresh&gt; &amp; smoke"), "{e}");
        assert!(
            e.contains("&lt;truce task=&quot;task-inc-7&quot; outcome="),
            "{e}"
        );
        // One element per line break at most, and balanced: the listener's framer cuts it whole.
        assert_eq!(e.matches("<event").count(), 1);
        assert_eq!(e.matches("</event>").count(), 1);
    }
}
