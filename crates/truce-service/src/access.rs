//! Who may see and do what: roles, the one authorization table, and how much of an incident
//! each role sees (ARCHITECTURE.md, invariant 5). The HTTP API, the OGC API, the alert
//! stream, the dashboard and the reports all ask here, so an audience sees the same thing on
//! every surface.
//!
//! | role | sees | may do |
//! |---|---|---|
//! | `admin` | everything | everything an analyst may, and read tokens |
//! | `analyst` | everything, with sources, sensors and teams | ingest, decide, task |
//! | `team:ID` | its own tasks (with the place to go) | report outcomes and findings (observations) |
//! | `party:ID` | incidents located in its area or attributed to it (officially or as suggested), or that either party has answered, with full locations but no source identities, sensor or team positions; the log | allegations, responses to incidents it sees |
//! | `public` (no token) | published incidents only, located to a ~5 km cell; aggregates; the log's checkpoint and proofs (hashes; of entry bodies only the terms', [`entry_body`]); the terms | nothing |
//!
//! Filtered lists are filtered before counting and paging, so a count never reveals what the
//! caller may not see.

use truce_core::entry::{Entry, EntryKind, Response as ResponseEntry};
use truce_fusion::Incident;
use truce_fusion::ledger::{Ledger, Lifecycle, Record};
use truce_geo::LonLat;

/// A caller's role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Analyst,
    Team(String),
    Party(String),
    Public,
}

impl Role {
    /// `admin`, `analyst`, `team:ID`, `party:ID`, `public`.
    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "analyst" => Ok(Role::Analyst),
            "public" => Ok(Role::Public),
            _ => match s.split_once(':') {
                Some(("team", id)) if !id.is_empty() => Ok(Role::Team(id.into())),
                Some(("party", id)) if !id.is_empty() => Ok(Role::Party(id.into())),
                _ => Err(format!(
                    "unknown role {s:?}: expected admin, analyst, team:ID, party:ID or public"
                )),
            },
        }
    }

    pub fn name(&self) -> String {
        match self {
            Role::Admin => "admin".into(),
            Role::Analyst => "analyst".into(),
            Role::Team(id) => format!("team:{id}"),
            Role::Party(id) => format!("party:{id}"),
            Role::Public => "public".into(),
        }
    }

    /// Admin or analyst: the monitor's own staff.
    pub fn is_staff(&self) -> bool {
        matches!(self, Role::Admin | Role::Analyst)
    }
}

/// What a request wants to do. Every endpoint names one; [`allowed`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Incidents (list, one, OGC collection), filtered by [`incident_view`].
    ReadIncidents,
    /// Observations with their sources.
    ReadObservations,
    /// Terms: contact line, party areas, zones, storage sites.
    ReadTerms,
    /// The log's checkpoint, proofs and tiles.
    ReadLog,
    /// Aggregates (counts by state, rule) of what the caller may see.
    ReadStats,
    /// Alerts stream.
    ReadAlerts,
    /// Tasks (a team: only its own).
    ReadTasks,
    /// The mission in force: team bases and fixed sensors' positions (staff only: they are the
    /// monitors' own positions).
    ReadMission,
    /// Post observations (a team: findings; staff: any feed).
    PostObservations,
    /// An analyst's decision on an incident.
    Decide,
    /// A team's outcome on its own task.
    PostOutcome,
    /// A party's allegation.
    PostAllegation,
    /// A party's response to an incident about it.
    PostResponse,
    /// Metrics.
    ReadMetrics,
}

/// The one authorization table.
pub fn allowed(role: &Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin | Role::Analyst => {
            !matches!(action, PostOutcome | PostAllegation | PostResponse)
        }
        Role::Team(_) => matches!(
            action,
            ReadTasks | PostObservations | PostOutcome | ReadTerms | ReadLog
        ),
        Role::Party(_) => matches!(
            action,
            ReadIncidents
                | ReadTerms
                | ReadLog
                | ReadStats
                | ReadAlerts
                | PostAllegation
                | PostResponse
        ),
        Role::Public => matches!(action, ReadIncidents | ReadTerms | ReadLog | ReadStats),
    }
}

/// How much of an incident a role sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Everything, sources included (staff).
    Full,
    /// Full location and time, rules, state, transitions without source or team identities,
    /// no sensor or team positions (a party).
    Party,
    /// Published only; location coarsened to a [`COARSE_CELL_M`] cell; no sources (public).
    Public,
}

/// The public's location grid: cells of about 5 km (0.045° of latitude; longitude steps
/// widened by 1/cos(latitude) so cells stay ~5 km wide). A stated grid rather than H3, so a
/// reader can reproduce it with a calculator; fine enough for a map of a front, too coarse to
/// point at a house or a position.
pub const COARSE_CELL_M: f64 = 5_000.0;
const CELL_LAT_DEG: f64 = 0.045;

/// The centre of the ~5 km cell holding `p`.
pub fn coarsen(p: LonLat) -> LonLat {
    let lat_i = (p[1] / CELL_LAT_DEG).floor();
    let lat = (lat_i + 0.5) * CELL_LAT_DEG;
    let lon_step = CELL_LAT_DEG / lat.to_radians().cos().max(0.01);
    let lon = ((p[0] / lon_step).floor() + 0.5) * lon_step;
    [(lon * 1e6).round() / 1e6, (lat * 1e6).round() / 1e6]
}

/// `[minlon, minlat, maxlon, maxlat]` holding every point that [`coarsen`] puts in `bbox`
/// (a cell's centre is within half a cell of each of its points): where to look among true
/// locations for the public's coarsened ones.
pub fn coarsening_into([a, b, c, d]: [f64; 4]) -> [f64; 4] {
    // The widest cell a centre in the box can have: longitude steps widen towards the pole.
    let pole_most = (b.abs().max(d.abs()) + CELL_LAT_DEG).min(90.0);
    let lon_step = CELL_LAT_DEG / pole_most.to_radians().cos().max(0.01);
    [
        a - lon_step,
        b - CELL_LAT_DEG,
        c + lon_step,
        d + CELL_LAT_DEG,
    ]
}

/// Whether `role` sees this incident at all, and how. `party_at` is whose area holds the
/// incident's location.
pub fn incident_view(
    role: &Role,
    incident: &Incident,
    record: &Record,
    party_at: Option<&str>,
) -> Option<View> {
    match role {
        Role::Admin | Role::Analyst => Some(View::Full),
        Role::Party(p) => {
            let located = party_at == Some(p.as_str());
            let attributed = record.attributed_party.as_deref() == Some(p.as_str())
                || incident.suggested.as_ref().is_some_and(|s| s.party == *p);
            // A party's response is shown to the other party: an incident either party has
            // answered is visible to both.
            let answered = record
                .transitions
                .iter()
                .any(|t| matches!(t.action.as_str(), "acknowledge" | "dispute"));
            // A party the agreement's escalation section had told of an incident (an `alert`
            // entry naming it) may read what it was told of.
            let told = record.told.iter().any(|t| t == p);
            (located || attributed || answered || told).then_some(View::Party)
        }
        Role::Public => (record.state == Lifecycle::Published).then_some(View::Public),
        Role::Team(_) => None,
    }
}

/// An incident a role may see, as it sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown<'a> {
    /// Index into `Ledger::incidents`.
    pub index: usize,
    pub view: View,
    /// The location as the view shows it (coarsened for the public).
    pub location: Option<LonLat>,
    /// Whose area holds the (true) location.
    pub party_area: Option<&'a str>,
}

/// Every incident `role` may see, newest first (start, then creation): the one list the REST
/// API and OGC API – Features filter and page, so both show a role exactly the same.
pub fn shown_incidents<'a>(ledger: &'a Ledger, role: &Role) -> Vec<Shown<'a>> {
    let engine = ledger.engine();
    let mut out = Vec::new();
    for (k, (inc, rec)) in ledger.incidents().iter().zip(ledger.records()).enumerate() {
        let party_area = inc.location.and_then(|l| engine.party_at(l));
        out.extend(shown_incident(role, k, inc, rec, party_area));
    }
    out.sort_by_key(|s| newest_first(ledger.incidents()[s.index].start, s.index));
    out
}

/// Incident `index` as `role` sees it, if at all: [`incident_view`], and the location the
/// view shows. What [`shown_incidents`] lists, one incident at a time (the server's read
/// snapshot, `crate::snapshot`, calls it for the incidents a write touched).
pub fn shown_incident<'a>(
    role: &Role,
    index: usize,
    incident: &Incident,
    record: &Record,
    party_area: Option<&'a str>,
) -> Option<Shown<'a>> {
    let view = incident_view(role, incident, record, party_area)?;
    let location = incident
        .location
        .map(|l| if view == View::Public { coarsen(l) } else { l });
    Some(Shown {
        index,
        view,
        location,
        party_area,
    })
}

/// The order incidents are listed in, as a sort key: newest start first, then the latest
/// created (`index` into `Ledger::incidents`).
pub fn newest_first(
    start: chrono::DateTime<chrono::Utc>,
    index: usize,
) -> std::cmp::Reverse<(chrono::DateTime<chrono::Utc>, usize)> {
    std::cmp::Reverse((start, index))
}

/// Whether `role` may read the body of log entry `entry` (its exact bytes, as the proof
/// endpoint would hand them out), or why not. A proof's hashes are for everyone — the hash
/// tiles are public and reveal nothing — but a body is shown only where the role may see
/// everything in it:
///
/// | entry | staff | party | team, public |
/// |---|---|---|---|
/// | `agreement` (the terms) | yes | yes | yes |
/// | `response` | yes | on an incident it sees (responses are shown to both parties) | no |
/// | `observation`, `rejected` (name their source, quote its record) | yes | no | no |
/// | `decision` (names the analyst and the reason, which a party's history leaves out) | yes | no | no |
/// | `mission` (team bases, sensor positions) | yes | no | no |
/// | `alert` (every recipient and delivery of a batch) | yes | no | no |
/// | `report` (a report issued: its audience, files' SHA-256) | yes | public ones and its own | public ones |
///
/// The C2SP entry bundles (`/log/tile/entries/…`) are the log itself and hold every body;
/// they are served to staff and parties, who mirror and re-run the log (`docs/api.md`).
pub fn entry_body(role: &Role, ledger: &Ledger, entry: &Entry) -> Result<(), &'static str> {
    if role.is_staff() || entry.kind == EntryKind::Agreement {
        return Ok(());
    }
    match entry.kind {
        EntryKind::Response => {
            if let Role::Party(_) = role
                && let Ok(r) = serde_json::from_slice::<ResponseEntry>(&entry.body)
                && let Some(k) = ledger.find(&r.incident)
            {
                let inc = &ledger.incidents()[k];
                let party_at = inc.location.and_then(|l| ledger.engine().party_at(l));
                if incident_view(role, inc, &ledger.records()[k], party_at).is_some() {
                    return Ok(());
                }
            }
            Err("a response is shown to the parties that see its incident")
        }
        EntryKind::Observation | EntryKind::Rejected => {
            Err("an observation names its source, which only the monitor's staff may read")
        }
        EntryKind::Decision => {
            Err("a decision names its analyst and reason, which only the monitor's staff may read")
        }
        EntryKind::Mission => {
            Err("the mission places teams and sensors, which only the monitor's staff may read")
        }
        EntryKind::Alert => Err(
            "an alert entry names every recipient and delivery, which only the monitor's staff may read",
        ),
        EntryKind::Report => {
            let audience = serde_json::from_slice::<crate::report::IssuedAudience>(&entry.body)
                .map(|r| r.audience)
                .unwrap_or_default();
            if audience == "public" || audience == role.name() {
                Ok(())
            } else {
                Err("a report entry is shown to the audience it was issued for")
            }
        }
        EntryKind::Agreement => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every point whose cell centre lies in a box lies in [`coarsening_into`] of it — also
    /// with the centre on the box's edge, near the poles and where cells are widest — and the
    /// box found is not the whole world.
    #[test]
    fn a_point_coarsened_into_a_box_is_in_the_box_it_is_looked_for_in() {
        let mut checked = 0;
        for lat_i in -1780..=1780 {
            let lat = lat_i as f64 * 0.05 + 0.0123;
            for lon_i in -36..=36 {
                let p = [lon_i as f64 * 4.999 + 0.37, lat];
                let c = coarsen(p);
                // The box is the centre alone: the tightest a query can be around it.
                let [a, b, cc, d] = coarsening_into([c[0], c[1], c[0], c[1]]);
                assert!(
                    (a..=cc).contains(&p[0]) && (b..=d).contains(&p[1]),
                    "{p:?} -> {c:?} outside {:?}",
                    [a, b, cc, d]
                );
                checked += 1;
            }
        }
        assert!(checked > 200_000);
        let [a, b, c, d] = coarsening_into([37.0, 47.0, 38.0, 48.0]);
        assert!(
            a > 36.8 && c < 38.2 && b > 46.9 && d < 48.1,
            "{a} {b} {c} {d}"
        );
    }
}
