//! Who is asking, and what they may see: bearer tokens, roles, and every authorization rule of
//! the service in this one module (ARCHITECTURE.md, invariant 5).
//!
//! | role | sees | may do |
//! |---|---|---|
//! | `admin` | everything | everything an analyst may, and read tokens |
//! | `analyst` | everything, with sources, sensors and teams | ingest, decide, task |
//! | `team:ID` | its own tasks (with the place to go) | report outcomes and findings (observations) |
//! | `party:ID` | incidents located in its area or attributed to it (officially or as suggested), or that either party has answered, with full locations but no source identities, sensor or team positions; the log | allegations, responses to incidents it sees |
//! | `public` (no token) | published incidents only, located to a ~5 km cell; aggregates; the log's checkpoint and proofs; the terms | nothing |
//!
//! Filtered lists are filtered before counting and paging, so a count never reveals what the
//! caller may not see.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use truce_fusion::Incident;
use truce_fusion::ledger::{Ledger, Record};
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

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id (None for the public).
    pub token_id: Option<i64>,
    pub name: String,
    pub role: Role,
}

impl Principal {
    pub fn public() -> Principal {
        Principal {
            token_id: None,
            name: "public".into(),
            role: Role::Public,
        }
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
                || truce_fusion::score::suggested_party(incident).as_deref() == Some(p.as_str());
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
        Role::Public => {
            (record.state == truce_fusion::ledger::Lifecycle::Published).then_some(View::Public)
        }
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
pub fn shown_incidents<'a>(ledger: &'a Ledger<'_>, role: &Role) -> Vec<Shown<'a>> {
    let engine = ledger.engine();
    let mut out = Vec::new();
    for (k, (inc, rec)) in ledger.incidents().iter().zip(ledger.records()).enumerate() {
        let party_area = inc.location.and_then(|l| engine.party_at(l));
        let Some(view) = incident_view(role, inc, rec, party_area) else {
            continue;
        };
        let location = inc
            .location
            .map(|l| if view == View::Public { coarsen(l) } else { l });
        out.push(Shown {
            index: k,
            view,
            location,
            party_area,
        });
    }
    out.sort_by_key(|s| std::cmp::Reverse((ledger.incidents()[s.index].start, s.index)));
    out
}

/// SHA-256 of a token secret, lower-case hex: what the store keeps.
pub fn token_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new token secret: `truce_` and 32 random bytes, URL-safe base64.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "truce_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// How long a looked-up token is trusted before the store is asked again: a revocation takes
/// effect within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);

/// Tokens seen recently, by secret hash (None: no such live token).
#[derive(Default)]
pub struct TokenCache {
    entries: HashMap<String, (Instant, Option<Principal>)>,
}

impl TokenCache {
    pub fn get(&self, hash: &str) -> Option<Option<Principal>> {
        self.entries
            .get(hash)
            .filter(|(at, _)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(_, p)| p.clone())
    }

    pub fn put(&mut self, hash: String, principal: Option<Principal>) {
        if self.entries.len() > 10_000 {
            self.entries.clear();
        }
        self.entries.insert(hash, (Instant::now(), principal));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for s in ["admin", "analyst", "team:team-1", "party:RU", "public"] {
            assert_eq!(Role::parse(s).unwrap().name(), s);
        }
        assert!(Role::parse("party:").is_err());
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn coarse_cells_are_about_five_km_and_stable() {
        let p = [38.123456, 48.234567];
        let c = coarsen(p);
        assert_eq!(coarsen(c), c, "a cell centre is its own cell");
        let d = truce_geo::distance_m(p, c);
        assert!(d < COARSE_CELL_M * 0.75, "{d}");
        // Two points 100 m apart usually share a cell; far apart never.
        assert_ne!(coarsen([38.0, 48.0]), coarsen([38.2, 48.0]));
    }
}
