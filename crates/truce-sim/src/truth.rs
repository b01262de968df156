//! Ground truth: what really happened, which records observed it, which records are noise, which
//! are malformed and which are re-deliveries — the answer key a scorer holds the engine's
//! incidents against. Serialised as `truth.json`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use truce_geo::LonLat;

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A weapon firing from its position (mortar, gun or rocket launcher); `weapon` says which.
    Firing,
    /// Rounds landing in one place; `cause` is the firing event.
    Impact,
    /// Heavy weapons of a declared class inside the class's withdrawal distance after its deadline.
    HeavyWeapon,
    /// A weapon, or new works, inside a disengagement zone (`zone`).
    DisengagementBreach,
    /// A column moving across the contact line (`track`, `track_times`); `location` is where it
    /// crosses, `party` the side it started from.
    LineCrossing,
    /// A ground team refused passage at a checkpoint; `party` holds the checkpoint.
    AccessDenied,
    /// A declared storage site (`site`) inspected and found short of its declared weapons.
    StorageShortfall,
    /// A declared storage site (`site`) inspected and found as declared (no violation).
    StorageInspection,
    /// Farmers burning fields far from the line (no violation; FIRMS sees it).
    AgriculturalFire,
    /// A window of silence along the whole line: no firing from `time` to `end` (no violation).
    QuietPeriod,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Impact => "impact",
            Self::HeavyWeapon => "heavy_weapon",
            Self::DisengagementBreach => "disengagement_breach",
            Self::LineCrossing => "line_crossing",
            Self::AccessDenied => "access_denied",
            Self::StorageShortfall => "storage_shortfall",
            Self::StorageInspection => "storage_inspection",
            Self::AgriculturalFire => "agricultural_fire",
            Self::QuietPeriod => "quiet_period",
        }
    }
}

/// Weapons involved in an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueWeapon {
    /// The agreement's `[[weapon_class]]` id, or a description for undeclared weapons
    /// (`mortar_120mm`, `tank`, `armoured_vehicle`).
    pub class: String,
    pub count: u32,
    /// The system, e.g. "2S1 Gvozdika 122 mm self-propelled howitzer".
    pub model: String,
}

/// One thing that really happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueEvent {
    /// `ev-0001` …, in time order.
    pub id: String,
    pub kind: EventKind,
    /// When it started (for an impact, when the first round landed).
    pub time: DateTime<Utc>,
    /// When it ended, for things that last: weapons present, a crossing, a fire, a quiet period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// [lon, lat], WGS84.
    pub location: LonLat,
    /// The party responsible; null where nobody is (no violation) or nobody can know.
    pub party: Option<String>,
    /// Whether the terms were breached (false for fields burning, compliant inspections, quiet
    /// periods, and anything before the agreement took effect).
    pub violation: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weapon: Option<TrueWeapon>,
    /// Rounds fired or landed (firing and impact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    /// The disengagement zone id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The storage site id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Weapons counted at a storage site, by class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<BTreeMap<String, u32>>,
    /// The crossing column's track, [lon, lat] per vertex, and the time at each vertex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track: Vec<LonLat>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track_times: Vec<DateTime<Utc>>,
    /// For an impact: the firing event that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// For an access denial or an inspection: the team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// What happened, in words.
    pub detail: String,
    /// The ids (as the ingest adapters give them) of the valid records that observed it, sorted.
    /// Empty when every source missed it.
    pub observation_ids: Vec<String>,
}

/// A period a sensor was not looking, as its `coverage` record says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outage {
    pub sensor: String,
    /// `offline`, `jammed`, `degraded`, `pass_missed`.
    pub status: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Why, in words.
    pub cause: String,
    /// The id of the coverage record; null when that record is one of the malformed ones.
    pub observation_id: Option<String>,
}

/// A record written malformed on purpose, which the ingest must reject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Malformed {
    /// 0-based index of the record in its file (data row, feature or `<event>`).
    pub index: usize,
    /// 1-based line the record starts on.
    pub line: u64,
    /// The id the record would have had.
    pub id: String,
    /// What is wrong with it.
    pub defect: String,
}

/// One written feed, as the ingest should find it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedTruth {
    pub file_name: String,
    /// `geojson`, `firms` or `cot` (the ingest's format names).
    pub format: String,
    /// Records in the file, malformed ones included.
    pub records: usize,
    /// The records the ingest must reject, in file order.
    pub malformed: Vec<Malformed>,
    /// For a re-delivery: the file whose records this one repeats byte for byte (every record
    /// here has the id of a record there, so the store must count each as a duplicate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<String>,
}

/// Counts, for a summary line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub events_by_kind: BTreeMap<String, usize>,
    pub violations: usize,
    /// Events that no valid record observed.
    pub unobserved: usize,
    /// Valid records per file (re-deliveries included).
    pub valid_records_by_feed: BTreeMap<String, usize>,
    pub malformed_records: usize,
    pub duplicate_records: usize,
    /// Valid records of the main feeds that no true event produced: false detections, false
    /// allegations, coverage records.
    pub noise_records: usize,
}

/// Everything `truth.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub days: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub agreement_id: String,
    pub agreement_version: u32,
    /// The agreement's canonical hash (lower-case hex SHA-256), so a scorer knows which terms.
    pub agreement_hash: String,
    pub summary: Summary,
    pub events: Vec<TrueEvent>,
    pub outages: Vec<Outage>,
    pub feeds: Vec<FeedTruth>,
}
