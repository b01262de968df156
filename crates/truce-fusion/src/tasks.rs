//! Verification tasks: which incidents a ground team should go and see, in what order, and
//! which team goes (issue 5 item 4). Pure and deterministic: no clock (the caller passes
//! `now`), no I/O; the same inputs give the same plan.
//!
//! ```text
//! request(&Incident, &Agreement) -> Result<TaskRequest, String>   // needs a team? else why not
//! assign(&[TaskRequest], &[Team], &BTreeSet<String> busy, &[Denial], now) -> Plan
//!     Plan { assigned: Vec<Assignment { task, incident, team, distance_m }>,
//!            unassigned: Vec<Unassigned { task, incident, reason }> }
//! denial(&Observation, &Place) -> Option<Denial>   // an access denial to feed back to assign
//! verdict(Outcome) -> Option<Verdict>              // None: turned back, the task stays open
//! task_id("inc-42") == "task-inc-42"
//! ```
//!
//! **Which incidents.** An incident needs a team when all hold: its kind leaves something on the
//! ground to find (not a track — the column has gone when a team arrives — not an access denial
//! or a storage check, which are a team's own reports); it breaches a rule of severity at least
//! [`TASK_MIN_SEVERITY`]; its confidence is at least [`TASK_MIN_CONFIDENCE`]; no ground team has
//! reported it already; and it has a location. [`request`] says which test failed otherwise.
//!
//! **Priority** ([`Priority`]): the most severe breach first, then the higher confidence (to the
//! thousandth), then the older incident (it has waited longer and its traces fade first), then
//! the task id.
//!
//! **Assignment** ([`assign`]): in priority order, each task goes to the free team whose base
//! is nearest to the incident (geodesic distance; equal distances to the first team id), and
//! that team is then busy. A task whose place had an access denial within
//! [`ACCESS_DENIAL_RADIUS_M`] in the [`ACCESS_DENIAL_WINDOW_S`] before `now` is not assigned
//! and uses no team: "access denied 3.2 km away at 2015-03-02T10:00Z; retry after
//! 2015-03-03T10:00Z". A task left without a free team says so.
//!
//! **Outcomes** come back as a team's observations carrying `task_outcome` ([`verdict`]):
//! confirmed → verified, not_confirmed → not_confirmed, inconclusive → inconclusive;
//! access_denied → no verdict: the task stays open, and the observation is a new denial
//! ([`denial`]) that keeps the place off the next plans for the window.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use truce_core::agreement::{Agreement, Severity};
use truce_core::mission::Team;
use truce_core::observation::{Observation, ObservationKind, Outcome, Place, SourceKind};
use truce_geo::{LonLat, distance_m};

use crate::correlate::{EventGroup, Incident};

/// The least severe breach worth a team's day. In the Minsk II terms `high` is shelling, heavy
/// weapons, mines and storage shortfalls (and `critical` zone breaches and crossings); below it
/// are thermal anomalies in the security zone (often field fires), overflights and access
/// denials — nothing a visit would settle, or the team's own report.
pub const TASK_MIN_SEVERITY: Severity = Severity::High;
/// The least confidence worth a team's day: at 0.5 an incident is as likely real as not. It
/// keeps a lone allegation (a party's desk, D3: 0.28) or a lone low-grade report off the
/// list until something else backs it; a lone camera (A2: 0.81) or drone (B2: 0.68) suffices.
pub const TASK_MIN_CONFIDENCE: f64 = 0.5;
/// How long an access denial keeps a place off the plan, seconds: a checkpoint that turned a
/// team back is usually still there the same day; the next day is worth a retry (and the denial
/// itself is reported as a freedom-of-movement breach meanwhile).
pub const ACCESS_DENIAL_WINDOW_S: i64 = 24 * 3600;
/// How near a denial must be to keep a task off the plan, metres: 5 km. A checkpoint closes a
/// road, and places within a few kilometres behind it are reached by that road; farther away
/// another approach usually exists. (The simulated checkpoints stand 1–10 km from the line, so
/// one denial shadows the stretch of front immediately behind it, not the team's whole quarter.)
pub const ACCESS_DENIAL_RADIUS_M: f64 = 5_000.0;

/// An access denial: where, and when.
pub type Denial = (LonLat, DateTime<Utc>);

/// How urgent a task is; greater is more urgent (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Priority {
    pub severity: Severity,
    /// Confidence in thousandths, so priorities compare exactly.
    pub confidence_permille: u16,
    /// The incident's start: older is more urgent.
    pub since: DateTime<Utc>,
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> Ordering {
        self.severity
            .cmp(&other.severity)
            .then(self.confidence_permille.cmp(&other.confidence_permille))
            .then(other.since.cmp(&self.since))
    }
}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// An incident that needs a team.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// [`task_id`] of the incident.
    pub task: String,
    pub incident: String,
    /// Where the team goes: the incident's fused location.
    pub location: LonLat,
    pub priority: Priority,
}

/// A task given to a team.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub task: String,
    pub incident: String,
    pub team: String,
    /// Geodesic distance from the team's base to the place, metres.
    pub distance_m: f64,
}

/// A task not given to any team this time, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unassigned {
    pub task: String,
    pub incident: String,
    pub reason: String,
}

/// The outcome of one round of assignment, each list in priority order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub assigned: Vec<Assignment>,
    pub unassigned: Vec<Unassigned>,
}

/// What a team's outcome makes of the incident (the lifecycle states of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Verified,
    NotConfirmed,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::NotConfirmed => "not_confirmed",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// The task id for an incident: `task-<incident id>`.
pub fn task_id(incident: &str) -> String {
    format!("task-{incident}")
}

/// The incident's verdict from a team's outcome; `None` for `access_denied`: the team did not
/// get there, the task stays open, and the report is a new [`denial`].
pub fn verdict(outcome: Outcome) -> Option<Verdict> {
    match outcome {
        Outcome::Confirmed => Some(Verdict::Verified),
        Outcome::NotConfirmed => Some(Verdict::NotConfirmed),
        Outcome::Inconclusive => Some(Verdict::Inconclusive),
        Outcome::AccessDenied => None,
    }
}

/// The access denial an observation reports, if it is one from the mission (a party's report
/// is an allegation, not the mission's own experience of the road).
pub fn denial(obs: &Observation, place: &Place) -> Option<Denial> {
    let p = &obs.properties;
    (p.kind == ObservationKind::AccessDenied && p.source.kind != SourceKind::Party)
        .then(|| (place.assessed_point(), p.observed_at))
}

/// The task an incident needs, or why it needs none.
pub fn request(incident: &Incident, agreement: &Agreement) -> Result<TaskRequest, String> {
    match incident.group {
        EventGroup::Track => {
            return Err("a movement or flight leaves nothing for a team to find".into());
        }
        EventGroup::AccessDenied | EventGroup::Storage(_) => {
            return Err("it is a team's own report".into());
        }
        _ => {}
    }
    let severity = incident
        .breaches
        .iter()
        .filter_map(|id| agreement.rules.iter().find(|r| &r.id == id))
        .map(|r| r.severity)
        .max();
    match severity {
        Some(s) if s >= TASK_MIN_SEVERITY => {}
        _ => {
            return Err(format!(
                "no breach of severity {} or above (breaches: {})",
                TASK_MIN_SEVERITY.as_str(),
                if incident.breaches.is_empty() {
                    "none".to_string()
                } else {
                    incident.breaches.join(", ")
                }
            ));
        }
    }
    if incident.confidence < TASK_MIN_CONFIDENCE {
        return Err(format!(
            "confidence {:.2} is below {TASK_MIN_CONFIDENCE}",
            incident.confidence
        ));
    }
    if incident.source_kinds.contains(&SourceKind::GroundTeam) {
        return Err("a ground team has already reported it".into());
    }
    let location = incident
        .location
        .ok_or("not located: its bearings do not fix a point")?;
    Ok(TaskRequest {
        task: task_id(&incident.id),
        incident: incident.id.clone(),
        location,
        priority: Priority {
            severity: severity.expect("checked above"),
            confidence_permille: (incident.confidence.clamp(0.0, 1.0) * 1000.0).round() as u16,
            since: incident.start,
        },
    })
}

/// Gives tasks to teams: highest priority first, each to the nearest free team, skipping
/// places denied recently (module doc). `busy` are the ids of teams already out on a task.
pub fn assign(
    requests: &[TaskRequest],
    teams: &[Team],
    busy: &BTreeSet<String>,
    denials: &[Denial],
    now: DateTime<Utc>,
) -> Plan {
    let mut order: Vec<&TaskRequest> = requests.iter().collect();
    order.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.task.cmp(&b.task)));
    let mut free: Vec<&Team> = teams.iter().filter(|t| !busy.contains(&t.id)).collect();
    free.sort_by(|a, b| a.id.cmp(&b.id));
    let mut plan = Plan::default();
    for r in order {
        let unassigned = |reason: String| Unassigned {
            task: r.task.clone(),
            incident: r.incident.clone(),
            reason,
        };
        if let Some(reason) = denied(r.location, denials, now) {
            plan.unassigned.push(unassigned(reason));
            continue;
        }
        let nearest = free
            .iter()
            .enumerate()
            .map(|(i, t)| (i, distance_m(t.base, r.location)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        match nearest {
            Some((i, d)) => {
                let team = free.remove(i);
                plan.assigned.push(Assignment {
                    task: r.task.clone(),
                    incident: r.incident.clone(),
                    team: team.id.clone(),
                    distance_m: d,
                });
            }
            None if teams.is_empty() => {
                plan.unassigned
                    .push(unassigned("the mission has no teams".into()));
            }
            None => plan.unassigned.push(unassigned(format!(
                "no free team: all {} are busy",
                teams.len()
            ))),
        }
    }
    plan
}

/// Why `p` is off limits at `now`, naming the latest denial within the radius and window.
fn denied(p: LonLat, denials: &[Denial], now: DateTime<Utc>) -> Option<String> {
    let window = TimeDelta::seconds(ACCESS_DENIAL_WINDOW_S);
    let (d, at) = denials
        .iter()
        .filter(|(_, at)| *at <= now && now < *at + window)
        .map(|(q, at)| (distance_m(*q, p), *at))
        .filter(|(d, _)| *d <= ACCESS_DENIAL_RADIUS_M)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.total_cmp(&a.0)))?;
    let minute = |t: DateTime<Utc>| {
        let format = if t.second() == 0 && t.nanosecond() == 0 {
            "%Y-%m-%dT%H:%MZ"
        } else {
            "%Y-%m-%dT%H:%M:%SZ"
        };
        t.format(format).to_string()
    };
    Some(format!(
        "access denied {} away at {}; retry after {}",
        distance_text(d),
        minute(at),
        minute(at + window)
    ))
}

/// "3.2 km", "450 m".
fn distance_text(m: f64) -> String {
    if m >= 1_000.0 {
        format!("{:.1} km", m / 1_000.0)
    } else {
        format!("{m:.0} m")
    }
}
