//! Views: what every surface shows of the ledger's state, as types built from it in one
//! place. The CLI's table and `--json`, the REST API, the OGC API, the GeoPackage `incidents`
//! and `tasks` layers ([`crate::rows`]), alerts, and later the dashboard and reports all show
//! these, and the OpenAPI schemas derive from the same structs — so one incident tells one
//! story wherever it is read.
//!
//! A view is built whole for staff ([`IncidentView::of`]) and cut down for an audience
//! ([`IncidentView::for_audience`], by the rules of [`crate::access`]): fields an audience may
//! not see are left out of the JSON, never shown empty.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use truce_core::agreement::Severity;
use truce_core::assess::Engine;
use truce_fusion::Incident;
use truce_fusion::ledger::{ALERT_ACTIONS, Ledger, Lifecycle, Record, Task, Transition};
use utoipa::ToSchema;

use crate::access::{COARSE_CELL_M, View, coarsen};

/// An incident as an audience sees it. Built whole for staff by [`IncidentView::of`]; the
/// fields marked "not public" are left out for the public, "staff only" for parties too.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentView {
    /// `inc-<seq>` of the observation that started it.
    #[schema(example = "inc-21")]
    pub id: String,
    /// Lifecycle state: single_source, corroborated, verification_tasked, verified,
    /// not_confirmed, inconclusive, published.
    #[schema(example = "corroborated")]
    pub state: String,
    /// The union of its observations' time intervals.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `[lon, lat]`: the fused location (for the public, the centre of its ~5 km cell); None
    /// for bearings that fix no point yet.
    #[schema(value_type = Option<Vec<f64>>, min_items = 2, max_items = 2)]
    pub location: Option<[f64; 2]>,
    /// Public only: the size of the cell `location` was coarsened to, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_precision_m: Option<f64>,
    /// Rule ids its observations may breach, sorted.
    pub rules: Vec<String>,
    /// The highest severity of those rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub max_severity: Option<Severity>,
    /// The party an analyst's `attribute` decision named: the only official attribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributed_party: Option<String>,
    /// Not public: the event group (fire, weapon, movement, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Not public: fusion's evidence state, `single_source` or `corroborated` (the
    /// `incidents` layer's `evidence` column; named apart from an incident detail's
    /// `evidence` chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_state: Option<String>,
    /// Not public: evidence weight in [0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Not public: one-sigma-like radius of `location`, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_m: Option<f64>,
    /// Not public: whose area holds the location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_area: Option<String>,
    /// Not public: the kinds of its observations, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<String>>,
    /// Not public: the kinds of source that reported it, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_kinds: Option<Vec<String>>,
    /// Not public: the party the evidence suggests (never official), and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_party: Option<String>,
    /// Not public: why that party (or, for an origin of fire that names none, why not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion_basis: Option<String>,
    /// Not public: the firing position triangulated from bearings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<OriginView>,
    /// Not public: how many observations make it up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observations: Option<usize>,
    /// Not public: how many independent monitoring platforms reported it (a platform counts
    /// once however many reports it sent; `docs/fusion.md`, *Independence*).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub independent_sources: Option<usize>,
    /// Not public: strikes linked to the firing that caused them, or the firing linked to its
    /// strikes — the other end's id, place, party and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<LinkView>>,
    /// Staff only: its observations' log seqs, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation_seqs: Option<Vec<u64>>,
    /// Staff only (they place the sensors): the bearings among its observations, by seq — the
    /// rays behind its origin of fire, or behind a firing that no two rays fix yet. Left out
    /// when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearings: Option<Vec<BearingView>>,
    /// Not public: its history (for parties, without actors and reasons but for the parties'
    /// responses and alerts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<TransitionView>>,
    /// Staff only: the latest log entry that changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_seq: Option<u64>,
}

/// One end of a strike ↔ firing link, as this incident sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LinkView {
    /// The incident at the other end.
    pub incident: String,
    /// Its place, `[lon, lat]`.
    #[schema(value_type = Option<Vec<f64>>, min_items = 2, max_items = 2)]
    pub location: Option<[f64; 2]>,
    /// The party the firing side suggests, when it names one.
    pub party: Option<String>,
    /// Why the two are linked.
    pub basis: String,
}

/// A bearing among an incident's observations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct BearingView {
    /// The observation's log seq.
    pub seq: u64,
    /// The observer's place, `[lon, lat]`.
    #[schema(value_type = Vec<f64>, min_items = 2, max_items = 2)]
    pub observer: [f64; 2],
    /// From true north, clockwise, degrees.
    pub azimuth_deg: f64,
    /// One-sigma error of the azimuth, degrees.
    pub error_deg: f64,
    /// How far the observer can sense, metres, when its report says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_range_m: Option<f64>,
    /// A bearing to a firing (the rays that fix an origin of fire), not to an impact.
    pub firing: bool,
}

/// A located origin of fire.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct OriginView {
    /// `[lon, lat]`.
    #[schema(value_type = Vec<f64>, min_items = 2, max_items = 2)]
    pub point: [f64; 2],
    pub ellipse_95: EllipseView,
}

/// A 95 % error ellipse.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct EllipseView {
    pub semi_major_m: f64,
    pub semi_minor_m: f64,
    /// Of the major axis, degrees clockwise from north.
    pub azimuth_deg: f64,
}

/// One step of an incident's history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TransitionView {
    /// None for the first step (detected).
    pub from: Option<String>,
    pub to: String,
    /// detected, corroborated, tasked, outcome, verify, attribute, publish, acknowledge,
    /// dispute, alert, delivered, undelivered.
    pub action: String,
    pub at: DateTime<Utc>,
    /// Left out for parties, but on their responses and on alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The log entry that caused it.
    pub entry_seq: u64,
}

impl TransitionView {
    fn of(t: &Transition) -> TransitionView {
        TransitionView {
            from: t.from.map(|s| s.as_str().to_string()),
            to: t.to.as_str().to_string(),
            action: t.action.to_string(),
            at: t.at,
            actor: Some(t.actor.to_string()),
            reason: Some(t.reason.to_string()),
            entry_seq: t.entry_seq,
        }
    }

    /// Parties see who responded and who was told, never which source, team or analyst.
    fn for_party(mut self) -> TransitionView {
        let open = matches!(self.action.as_str(), "acknowledge" | "dispute")
            || ALERT_ACTIONS.contains(&self.action.as_str());
        if !open {
            self.actor = None;
            self.reason = None;
        }
        self
    }
}

impl IncidentView {
    /// Incident `k` of the ledger, whole (what staff see).
    pub fn of(ledger: &Ledger, k: usize) -> IncidentView {
        IncidentView::of_parts(
            ledger.engine(),
            &ledger.incidents()[k],
            &ledger.records()[k],
        )
    }

    /// An incident and its record under `engine`'s terms, whole: [`IncidentView::of`] for
    /// a copy of the ledger's incident (the server's read snapshot holds such copies).
    pub fn of_parts(engine: &Engine, inc: &Incident, rec: &Record) -> IncidentView {
        let rules = &engine.agreement().rules;
        let max_severity = inc
            .breaches
            .iter()
            .filter_map(|r| rules.iter().find(|x| &x.id == r).map(|x| x.severity))
            .max();
        let last_seq = *inc.observation_seqs.last().expect("never empty");
        let updated_seq = rec
            .transitions
            .iter()
            .map(|t| t.entry_seq)
            .chain([last_seq])
            .max();
        IncidentView {
            id: inc.id.clone(),
            state: rec.state.as_str().to_string(),
            start: inc.start,
            end: inc.end,
            location: inc.location,
            location_precision_m: None,
            rules: inc.breaches.clone(),
            max_severity,
            attributed_party: rec.attributed_party.clone(),
            group: Some(inc.group.name()),
            evidence_state: Some(inc.state.as_str().to_string()),
            confidence: Some(inc.confidence),
            radius_m: inc.radius_m,
            party_area: inc
                .location
                .and_then(|l| engine.party_at(l))
                .map(str::to_string),
            kinds: Some(inc.kinds.iter().map(|k| k.as_str().to_string()).collect()),
            source_kinds: Some(
                inc.source_kinds
                    .iter()
                    .map(|k| k.as_str().to_string())
                    .collect(),
            ),
            suggested_party: inc.suggested.as_ref().map(|s| s.party.clone()),
            suggestion_basis: inc
                .suggested
                .as_ref()
                .map(|s| s.basis.clone())
                .or_else(|| inc.attribution.as_ref().map(|s| s.basis.clone()))
                .or_else(|| inc.fire_area.as_ref().map(|s| s.basis.clone())),
            origin: inc.origin.as_ref().map(|o| OriginView {
                point: o.point,
                ellipse_95: EllipseView {
                    semi_major_m: o.ellipse.semi_major_m,
                    semi_minor_m: o.ellipse.semi_minor_m,
                    azimuth_deg: o.ellipse.azimuth_deg,
                },
            }),
            observations: Some(inc.observation_seqs.len()),
            independent_sources: Some(inc.independent_sources),
            links: (!inc.links.is_empty()).then(|| {
                inc.links
                    .iter()
                    .map(|l| LinkView {
                        incident: l.incident.clone(),
                        location: l.location,
                        party: l.party.clone(),
                        basis: l.basis.clone(),
                    })
                    .collect()
            }),
            observation_seqs: Some(inc.observation_seqs.to_vec()),
            bearings: (!inc.bearings.is_empty()).then(|| {
                inc.bearings
                    .iter()
                    .map(|b| BearingView {
                        seq: b.seq,
                        observer: b.observer,
                        azimuth_deg: b.azimuth_deg,
                        error_deg: b.error_deg,
                        max_range_m: b.max_range_m,
                        firing: b.firing,
                    })
                    .collect()
            }),
            transitions: Some(rec.transitions.iter().map(TransitionView::of).collect()),
            updated_seq,
        }
    }

    /// Incident `k` as `view` shows it ([`crate::access::incident_view`] says which).
    pub fn shown(ledger: &Ledger, k: usize, view: View) -> IncidentView {
        IncidentView::of(ledger, k).for_audience(view)
    }

    /// [`IncidentView::shown`] for a copy of the ledger's incident and record.
    pub fn shown_parts(engine: &Engine, inc: &Incident, rec: &Record, view: View) -> IncidentView {
        IncidentView::of_parts(engine, inc, rec).for_audience(view)
    }

    /// This (whole) view cut down to what `view` may see.
    pub fn for_audience(self, view: View) -> IncidentView {
        match view {
            View::Full => self,
            View::Party => IncidentView {
                observation_seqs: None,
                bearings: None,
                updated_seq: None,
                transitions: self
                    .transitions
                    .map(|ts| ts.into_iter().map(TransitionView::for_party).collect()),
                ..self
            },
            View::Public => IncidentView {
                id: self.id,
                state: self.state,
                start: self.start,
                end: self.end,
                location: self.location.map(coarsen),
                location_precision_m: Some(COARSE_CELL_M),
                rules: self.rules,
                max_severity: self.max_severity,
                attributed_party: self.attributed_party,
                group: None,
                evidence_state: None,
                confidence: None,
                radius_m: None,
                party_area: None,
                kinds: None,
                source_kinds: None,
                suggested_party: None,
                suggestion_basis: None,
                origin: None,
                observations: None,
                independent_sources: None,
                links: None,
                observation_seqs: None,
                bearings: None,
                transitions: None,
                updated_seq: None,
            },
        }
    }

    /// The party named, official first: "RU (official)", "RU? (suggested)" or "".
    pub fn party_label(&self) -> String {
        match (&self.attributed_party, &self.suggested_party) {
            (Some(p), _) => format!("{p} (official)"),
            (None, Some(p)) => format!("{p}? (suggested)"),
            _ => String::new(),
        }
    }
}

/// A verification task.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TaskView {
    /// `task-<incident id>`.
    #[schema(example = "task-inc-21")]
    pub id: String,
    pub incident: String,
    /// Where to go, `[lon, lat]`.
    #[schema(value_type = Vec<f64>, min_items = 2, max_items = 2)]
    pub location: [f64; 2],
    pub severity: String,
    pub confidence: f64,
    /// One sortable number: severity rank × 1000 + confidence in thousandths.
    pub priority: i64,
    /// pending, assigned or done.
    pub state: String,
    pub team: Option<String>,
    /// From the team's base, metres.
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub created_seq: u64,
    pub assigned_at: Option<DateTime<Utc>>,
    /// confirmed, not_confirmed, inconclusive or access_denied.
    pub outcome: Option<String>,
    pub outcome_at: Option<DateTime<Utc>>,
    pub outcome_seq: Option<u64>,
    /// The latest word on it: why it waits, who went, what they found.
    pub note: String,
}

/// Severity as a rank for sorting tasks: low 1 … critical 4.
fn severity_rank(s: &str) -> i64 {
    match s {
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => 0,
    }
}

impl From<&Task> for TaskView {
    fn from(t: &Task) -> TaskView {
        TaskView {
            id: t.id.clone(),
            incident: t.incident.clone(),
            location: t.location,
            severity: t.severity.clone(),
            confidence: t.confidence,
            priority: severity_rank(&t.severity) * 1000 + (t.confidence * 1000.0).round() as i64,
            state: t.state.as_str().to_string(),
            team: t.team.clone(),
            distance_m: t.distance_m,
            created_at: t.created_at,
            created_seq: t.created_seq,
            assigned_at: t.assigned_at,
            outcome: t.outcome.map(|o| o.as_str().to_string()),
            outcome_at: t.outcome_at,
            outcome_seq: t.outcome_seq,
            note: t.note.clone(),
        }
    }
}

/// Counts of the incidents an audience sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Stats {
    pub incidents: usize,
    /// Incidents by lifecycle state.
    pub by_state: BTreeMap<String, usize>,
    /// Incidents by rule they may breach (one incident counts under each of its rules).
    pub by_rule: BTreeMap<String, usize>,
    /// Incidents by the UTC day they started on, `YYYY-MM-DD` (the web app's timeline).
    pub by_day: BTreeMap<String, usize>,
}

impl Stats {
    /// Counts over incidents `shown` (indices into the ledger).
    pub fn of(ledger: &Ledger, shown: impl IntoIterator<Item = usize>) -> Stats {
        Stats::of_parts(
            shown
                .into_iter()
                .map(|k| (&*ledger.incidents()[k], &*ledger.records()[k])),
        )
    }

    /// Counts over incidents with their records (copies of the ledger's, or its own).
    pub fn of_parts<'a>(shown: impl IntoIterator<Item = (&'a Incident, &'a Record)>) -> Stats {
        let mut s = Stats {
            incidents: 0,
            by_state: BTreeMap::new(),
            by_rule: BTreeMap::new(),
            by_day: BTreeMap::new(),
        };
        for (inc, rec) in shown {
            s.incidents += 1;
            *s.by_day
                .entry(inc.start.date_naive().to_string())
                .or_default() += 1;
            *s.by_state
                .entry(rec.state.as_str().to_string())
                .or_default() += 1;
            for r in &inc.breaches {
                *s.by_rule.entry(r.clone()).or_default() += 1;
            }
        }
        s
    }
}

/// The lifecycle state named `s`.
pub fn parse_state(s: &str) -> Option<Lifecycle> {
    Lifecycle::ALL.into_iter().find(|l| l.as_str() == s)
}

/// One observation of an incident's evidence chain, with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EvidenceItem {
    /// Its entry in the log.
    pub seq: u64,
    pub kind: String,
    pub observed_at: DateTime<Utc>,
    pub source_kind: String,
    /// Rules its own assessment says it may breach.
    pub rules: Vec<String>,
    /// Staff only: the observation in full (its log entry's JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub observation: Option<serde_json::Value>,
    /// Staff only: its assessment in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub assessment: Option<serde_json::Value>,
    /// Base64 hashes: its inclusion proof against `log.checkpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<Vec<String>>,
}

/// The checkpoint an incident's proofs are against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProofAnchor {
    /// The latest signed checkpoint (a C2SP signed note).
    pub checkpoint: Option<String>,
    pub tree_size: Option<u64>,
    /// What the proofs prove against.
    pub proofs_against: String,
}

/// One incident; for staff and parties with its evidence chain and the checkpoint its proofs
/// are against.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    /// Not public: up to [`crate::Service::EVIDENCE_MAX`] observations with inclusion proofs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<EvidenceItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<ProofAnchor>,
}

/// A page of incidents.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentPage {
    /// Incidents matching, of those the caller may see.
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    /// The next page's offset; null on the last page.
    pub next_offset: Option<usize>,
    pub incidents: Vec<IncidentView>,
}

/// An [`IncidentPage`] whose incidents are already serialised, each the JSON of an
/// [`IncidentView`] as serde writes it: what a server sends from views it serialised once
/// ([`crate::snapshot`]). Serialises exactly as the `IncidentPage` of the same views (a test
/// below holds the two together); the OpenAPI document describes `IncidentPage`.
#[derive(Debug, Serialize)]
pub struct SerialisedIncidentPage<'a> {
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub next_offset: Option<usize>,
    pub incidents: Vec<&'a serde_json::value::RawValue>,
}

/// A decision or response logged, and the incident after it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Logged {
    pub incident: IncidentView,
    /// Its entry in the log.
    pub entry_seq: u64,
}

/// The mission in force (`GET /api/mission`, staff): where the teams set out from and where
/// the fixed sensors stand; empty lists before a mission is set.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MissionView {
    pub teams: Vec<TeamView>,
    pub sensors: Vec<SensorView>,
}

/// A ground team and its base.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TeamView {
    /// Its `source.id` (the CoT callsign).
    pub id: String,
    pub name: String,
    /// `[lon, lat]`.
    #[schema(value_type = Vec<f64>, min_items = 2, max_items = 2)]
    pub base: [f64; 2],
}

/// A fixed sensor.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SensorView {
    pub id: String,
    /// camera, acoustic, radar or other.
    pub kind: String,
    /// `[lon, lat]`.
    #[schema(value_type = Vec<f64>, min_items = 2, max_items = 2)]
    pub position: [f64; 2],
    pub range_km: f64,
    /// Degrees clockwise from north, for a directional sensor.
    pub facing_deg: Option<f64>,
    pub width_deg: Option<f64>,
}

impl MissionView {
    /// The ledger's mission in force, or empty lists.
    pub fn of(ledger: &Ledger) -> MissionView {
        let Some(m) = ledger.mission() else {
            return MissionView {
                teams: Vec::new(),
                sensors: Vec::new(),
            };
        };
        MissionView {
            teams: m
                .teams
                .iter()
                .map(|t| TeamView {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    base: t.base,
                })
                .collect(),
            sensors: m
                .sensors
                .iter()
                .map(|s| SensorView {
                    id: s.id.clone(),
                    kind: s.kind.as_str().to_string(),
                    position: s.position,
                    range_km: s.range_km,
                    facing_deg: s.sector.map(|x| x.facing_deg),
                    width_deg: s.sector.map(|x| x.width_deg),
                })
                .collect(),
        }
    }
}

/// Verification tasks.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TaskList {
    pub total: usize,
    pub tasks: Vec<TaskView>,
}

/// Liveness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Entries in the log.
    pub log_size: u64,
    /// Incidents in the ledger.
    pub incidents: usize,
}

/// Who the caller is (`GET /api/whoami`): what the web app shows and which views it offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Whoami {
    /// `admin`, `analyst`, `team:ID`, `party:ID` or `public` (no token).
    pub role: String,
    /// The token's holder (`public` without a token).
    pub name: String,
    /// The log's verifier key (`name+keyid+base64`) as this server holds it: a client checks
    /// checkpoints' signatures with it, or better with the key the mission published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_key: Option<String>,
}
