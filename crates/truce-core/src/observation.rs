//! Observations: one report from one source, in the JSON form every adapter produces.
//!
//! An observation is a GeoJSON Feature whose `properties` say what was seen, when, by whom and
//! how sure the source is. The JSON Schema in `schema/observation.schema.json` is generated from
//! these types (`truce schema observation`), so the documented form and the parser cannot drift.
//!
//! Parsing is two-step on purpose: serde checks the shape (types, unknown keys), then
//! [`Observation::validate`] checks what serde cannot (coordinate ranges, a bearing's observer,
//! fields a kind requires). Both produce a reason a person can act on.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::LonLat;
use crate::limits::{MAX_AREA_VERTICES, MAX_ID_BYTES, MAX_TEXT_BYTES, check_len};

/// The largest error radius we accept, 1,000 km: anything vaguer than that cannot be placed
/// against a contact line a few hundred kilometres long and is better filed as a remark.
pub const MAX_ERROR_RADIUS_M: f64 = 1_000_000.0;
/// The longest track we accept, in vertices: a day of 1 Hz GPS fixes is 86,400; more is a feed bug.
pub const MAX_TRACK_VERTICES: usize = 100_000;
/// Longest free-text remark, in bytes: a field report, not a document.
pub const MAX_REMARKS_BYTES: usize = 16 * 1024;

/// What was observed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// A detonation seen or heard, origin unknown.
    Explosion,
    /// A round landing: crater, shell strike. Never attributes on its own.
    Impact,
    /// A weapon firing, seen at its firing position (or a bearing towards it).
    Firing,
    /// A weapon of a declared class seen at a place (class and count in `weapon`).
    WeaponPresent,
    /// A ground movement; a LineString geometry is its track.
    Movement,
    /// An aircraft or drone flight; a LineString geometry is its track.
    Overflight,
    /// A satellite thermal hotspot (e.g. NASA FIRMS): fire, or something burning.
    ThermalAnomaly,
    /// New fortification, trench digging, engineering works.
    Construction,
    /// Mines being laid.
    MineLaying,
    /// A monitoring team refused access to a place.
    AccessDenied,
    /// An inspection of a declared storage site (counts and serials in `storage`).
    StorageCheck,
    /// Damage to buildings or infrastructure.
    Damage,
    /// Sensor health: a camera offline, a drone jammed, a satellite pass missed.
    Coverage,
    /// A report whose type we could not map to a kind (e.g. an unknown CoT type); kept, not dropped.
    Report,
}

impl ObservationKind {
    pub const ALL: [ObservationKind; 14] = [
        Self::Explosion,
        Self::Impact,
        Self::Firing,
        Self::WeaponPresent,
        Self::Movement,
        Self::Overflight,
        Self::ThermalAnomaly,
        Self::Construction,
        Self::MineLaying,
        Self::AccessDenied,
        Self::StorageCheck,
        Self::Damage,
        Self::Coverage,
        Self::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Explosion => "explosion",
            Self::Impact => "impact",
            Self::Firing => "firing",
            Self::WeaponPresent => "weapon_present",
            Self::Movement => "movement",
            Self::Overflight => "overflight",
            Self::ThermalAnomaly => "thermal_anomaly",
            Self::Construction => "construction",
            Self::MineLaying => "mine_laying",
            Self::AccessDenied => "access_denied",
            Self::StorageCheck => "storage_check",
            Self::Damage => "damage",
            Self::Coverage => "coverage",
            Self::Report => "report",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ObservationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of thing the source is. Sources of one kind are not independent witnesses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Satellite,
    Drone,
    Camera,
    Acoustic,
    Radar,
    GroundTeam,
    /// A party's liaison officers: an allegation, not an observation by the monitor.
    Party,
    /// Open sources, media, event datasets such as UCDP.
    OpenSource,
    Simulator,
    Other,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Satellite => "satellite",
            Self::Drone => "drone",
            Self::Camera => "camera",
            Self::Acoustic => "acoustic",
            Self::Radar => "radar",
            Self::GroundTeam => "ground_team",
            Self::Party => "party",
            Self::OpenSource => "open_source",
            Self::Simulator => "simulator",
            Self::Other => "other",
        }
    }
}

/// NATO Admiralty source reliability: A (completely reliable) … E (unreliable), F (cannot be judged).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Reliability {
    A,
    B,
    C,
    D,
    E,
    F,
}

/// Who reported: a sensor, platform, team or party, with its Admiralty grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Stable identifier of the sensor, platform, team or party desk (e.g. `viirs-snpp`, `team-3`).
    pub id: String,
    pub kind: SourceKind,
    /// Admiralty reliability of the source, A–F.
    pub reliability: Reliability,
    /// Admiralty credibility of this information, 1 (confirmed) … 5 (improbable), 6 (cannot be judged).
    #[schemars(range(min = 1, max = 6))]
    pub credibility: u8,
    /// For allegations: the party that filed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
}

/// A direction seen from a known position (the Feature's Point geometry is the observer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bearing {
    /// Azimuth from true north, clockwise, degrees [0, 360).
    pub azimuth_deg: f64,
    /// One-sigma error of the azimuth, degrees.
    pub error_deg: f64,
    /// Farthest plausible range of the target, metres (e.g. a sensor's detection range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_range_m: Option<f64>,
}

/// A weapon of a declared class, as seen (`weapon_present`) or as firing (`firing`, class optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeaponSeen {
    /// A `[[weapon_class]]` id of the agreement, or a free description when not a declared class.
    pub class: String,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serials: Vec<String>,
}

fn one() -> u32 {
    1
}

/// What a team found at a declared storage site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageCheck {
    /// The `[[storage_site]]` id.
    pub site: String,
    /// Weapons counted, by class id.
    #[serde(default)]
    pub counts: BTreeMap<String, u32>,
    /// Serial numbers seen, by class id (when the team could read them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub serials_seen: BTreeMap<String, Vec<String>>,
}

/// Sensor health, so silence is not mistaken for compliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SensorStatus {
    Online,
    Degraded,
    Offline,
    Jammed,
    PassMissed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// The sensor whose health this is (may differ from the reporting source).
    pub sensor: String,
    pub status: SensorStatus,
    /// End of the period this status holds for; absent means "until the next coverage report".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// A piece of evidence held elsewhere, named by its content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// What a verification team found for the task it was sent on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The team found what the incident says (e.g. the crater, the weapons).
    Confirmed,
    /// The team reached the place and did not find it.
    NotConfirmed,
    /// The team reached the place and cannot say (e.g. a crater of unknown age).
    Inconclusive,
    /// The team was turned back before reaching the place; the observation is an
    /// `access_denied` one, and the task stays open.
    AccessDenied,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Self::Confirmed,
        Self::NotConfirmed,
        Self::Inconclusive,
        Self::AccessDenied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::NotConfirmed => "not_confirmed",
            Self::Inconclusive => "inconclusive",
            Self::AccessDenied => "access_denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// A verification team's finding for a task: the observation is what it saw (a crater
/// `impact`, a `weapon_present` …) and this says which task it answers and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskOutcome {
    /// The task's id, as the mission's tasking gave it.
    pub task: String,
    pub outcome: Outcome,
}

/// The `properties` of an observation Feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationProperties {
    pub kind: ObservationKind,
    /// When it was observed (RFC 3339 with offset; stored in UTC). For tracks: the start.
    pub observed_at: DateTime<Utc>,
    /// ± seconds around `observed_at` within which the event happened.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub time_uncertainty_s: f64,
    pub source: Source,
    /// For Point geometries: radius in metres within which the event lies (CEP-like).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_radius_m: f64,
    /// When present, the Point geometry is the observer and this is the direction seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearing: Option<Bearing>,
    /// For LineString tracks: one time per vertex (RFC 3339).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timestamps: Vec<DateTime<Utc>>,
    /// Required for `weapon_present`; optional for `firing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weapon: Option<WeaponSeen>,
    /// Required for `storage_check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageCheck>,
    /// Required for `coverage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// The party the observed force or aircraft belongs to, when identified (markings,
    /// uniforms); `monitor` for the mission's own aircraft, which air exclusion exempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
    /// The id the record had in its source feed (FIRMS row key, CoT uid, UCDP id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_record: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remarks: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<Media>,
    /// For a verification team's report: the task it answers and the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_outcome: Option<TaskOutcome>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Where: a point (with error radius, or an observer with a bearing), a track, or an area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Geometry {
    Point {
        /// [lon, lat] or [lon, lat, height_m], WGS84 degrees.
        coordinates: Vec<f64>,
    },
    LineString {
        coordinates: Vec<Vec<f64>>,
    },
    Polygon {
        coordinates: Vec<Vec<Vec<f64>>>,
    },
}

/// One observation as a GeoJSON Feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    #[serde(rename = "type")]
    pub feature_type: FeatureTag,
    /// Unique within its feed; adapters derive one from the source record when the feed has none.
    /// GeoJSON allows a string or a number; a number is kept as its decimal text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    #[schemars(with = "Option<String>")]
    pub id: Option<String>,
    pub geometry: Geometry,
    pub properties: ObservationProperties,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        serde_json::Value::Null => Ok(None),
        other => Err(serde::de::Error::custom(format!(
            "feature id must be a string or a number, found {other}"
        ))),
    }
}

/// The literal `"Feature"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FeatureTag {
    Feature,
}

/// A GeoJSON FeatureCollection of observations (the form `truce assess` reads).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ObservationCollection {
    #[serde(rename = "type")]
    pub collection_type: CollectionTag,
    pub features: Vec<Observation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CollectionTag {
    FeatureCollection,
}

/// The place an observation is assessed at, after validation.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Point(LonLat),
    Track(Vec<LonLat>),
    Area(Vec<Vec<LonLat>>),
}

impl Place {
    /// The one point an observation is assessed at for its party area: a Point itself, a
    /// track's start (where the movement began), an area's centroid (planar mean of its
    /// exterior ring's vertices; observation areas are small).
    pub fn assessed_point(&self) -> LonLat {
        match self {
            Place::Point(p) => *p,
            Place::Track(pts) => pts[0],
            Place::Area(rings) => {
                let ring = &rings[0];
                let n = ring.len().saturating_sub(1).max(1);
                let (sx, sy) = ring[..n]
                    .iter()
                    .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
                [sx / n as f64, sy / n as f64]
            }
        }
    }
}

/// Why an observation was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn lonlat(c: &[f64], what: &str) -> Result<LonLat, Invalid> {
    if c.len() < 2 || c.len() > 3 {
        return Err(Invalid(format!(
            "{what}: a position has 2 or 3 numbers [lon, lat(, height)], found {}",
            c.len()
        )));
    }
    let (lon, lat) = (c[0], c[1]);
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(Invalid(format!(
            "{what}: longitude {lon} is outside [-180, 180]"
        )));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(Invalid(format!(
            "{what}: latitude {lat} is outside [-90, 90]"
        )));
    }
    Ok([lon, lat])
}

impl Observation {
    /// An observation with the essentials and every optional property empty (no id, zero
    /// uncertainties); adapters and the simulator fill in the rest.
    pub fn new(
        kind: ObservationKind,
        observed_at: DateTime<Utc>,
        source: Source,
        geometry: Geometry,
    ) -> Observation {
        Observation {
            feature_type: FeatureTag::Feature,
            id: None,
            geometry,
            properties: ObservationProperties {
                kind,
                observed_at,
                time_uncertainty_s: 0.0,
                source,
                error_radius_m: 0.0,
                bearing: None,
                timestamps: Vec::new(),
                weapon: None,
                storage: None,
                coverage: None,
                affiliation: None,
                source_record: None,
                remarks: String::new(),
                media: Vec::new(),
                task_outcome: None,
            },
        }
    }

    /// Checks what the JSON shape cannot, and returns the place to assess.
    pub fn validate(&self) -> Result<Place, Invalid> {
        let p = &self.properties;
        let place = match &self.geometry {
            Geometry::Point { coordinates } => Place::Point(lonlat(coordinates, "Point")?),
            Geometry::LineString { coordinates } => {
                if coordinates.len() < 2 {
                    return Err(Invalid(
                        "LineString track needs at least 2 positions".into(),
                    ));
                }
                if coordinates.len() > MAX_TRACK_VERTICES {
                    return Err(Invalid(format!(
                        "track has {} positions; the limit is {MAX_TRACK_VERTICES}",
                        coordinates.len()
                    )));
                }
                let pts = coordinates
                    .iter()
                    .enumerate()
                    .map(|(i, c)| lonlat(c, &format!("LineString position {i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                if !p.timestamps.is_empty() {
                    if p.timestamps.len() != pts.len() {
                        return Err(Invalid(format!(
                            "track has {} positions but {} timestamps",
                            pts.len(),
                            p.timestamps.len()
                        )));
                    }
                    if let Some(i) = p.timestamps.windows(2).position(|w| w[1] < w[0]) {
                        return Err(Invalid(format!(
                            "timestamps go back in time at position {}",
                            i + 1
                        )));
                    }
                }
                Place::Track(pts)
            }
            Geometry::Polygon { coordinates } => {
                if coordinates.is_empty() {
                    return Err(Invalid("Polygon has no rings".into()));
                }
                let mut rings = Vec::with_capacity(coordinates.len());
                for (r, ring) in coordinates.iter().enumerate() {
                    let pts = ring
                        .iter()
                        .enumerate()
                        .map(|(i, c)| lonlat(c, &format!("Polygon ring {r} position {i}")))
                        .collect::<Result<Vec<_>, _>>()?;
                    if pts.len() < 4 || pts.first() != pts.last() {
                        return Err(Invalid(format!(
                            "Polygon ring {r} must be closed (first position = last) with at least 4 positions"
                        )));
                    }
                    rings.push(pts);
                }
                let vertices: usize = rings.iter().map(Vec::len).sum();
                if vertices > MAX_AREA_VERTICES {
                    return Err(Invalid(format!(
                        "Polygon has {vertices} positions; the limit is {MAX_AREA_VERTICES} (MAX_AREA_VERTICES)"
                    )));
                }
                Place::Area(rings)
            }
        };
        if !p.error_radius_m.is_finite() || !(0.0..=MAX_ERROR_RADIUS_M).contains(&p.error_radius_m)
        {
            return Err(Invalid(format!(
                "error_radius_m {} must be between 0 and {MAX_ERROR_RADIUS_M}",
                p.error_radius_m
            )));
        }
        if !p.time_uncertainty_s.is_finite() || p.time_uncertainty_s < 0.0 {
            return Err(Invalid(format!(
                "time_uncertainty_s {} must be a non-negative number",
                p.time_uncertainty_s
            )));
        }
        if !(1..=6).contains(&p.source.credibility) {
            return Err(Invalid(format!(
                "source.credibility {} must be 1–6 (Admiralty code)",
                p.source.credibility
            )));
        }
        if p.source.id.trim().is_empty() {
            return Err(Invalid("source.id is empty".into()));
        }
        if p.remarks.len() > MAX_REMARKS_BYTES {
            return Err(Invalid(format!(
                "remarks are {} bytes; the limit is {MAX_REMARKS_BYTES} bytes (MAX_REMARKS_BYTES)",
                p.remarks.len()
            )));
        }
        self.check_field_sizes().map_err(Invalid)?;
        if let Some(b) = &p.bearing {
            if !matches!(place, Place::Point(_)) {
                return Err(Invalid(
                    "a bearing needs a Point geometry (the observer's position)".into(),
                ));
            }
            if !b.azimuth_deg.is_finite() || !(0.0..360.0).contains(&b.azimuth_deg) {
                return Err(Invalid(format!(
                    "bearing.azimuth_deg {} must be in [0, 360)",
                    b.azimuth_deg
                )));
            }
            if !b.error_deg.is_finite() || !(0.0..=90.0).contains(&b.error_deg) {
                return Err(Invalid(format!(
                    "bearing.error_deg {} must be in [0, 90]",
                    b.error_deg
                )));
            }
        }
        match p.kind {
            ObservationKind::WeaponPresent if p.weapon.is_none() => {
                return Err(Invalid(
                    "weapon_present needs `weapon` {class, count}".into(),
                ));
            }
            ObservationKind::StorageCheck if p.storage.is_none() => {
                return Err(Invalid(
                    "storage_check needs `storage` {site, counts}".into(),
                ));
            }
            ObservationKind::Coverage if p.coverage.is_none() => {
                return Err(Invalid("coverage needs `coverage` {sensor, status}".into()));
            }
            ObservationKind::Movement | ObservationKind::Overflight
                if matches!(place, Place::Area(_)) =>
            {
                return Err(Invalid(format!(
                    "{} needs a Point or a LineString track",
                    p.kind
                )));
            }
            _ => {}
        }
        if let Some(w) = &p.weapon
            && w.count == 0
        {
            return Err(Invalid("weapon.count must be at least 1".into()));
        }
        if let Some(t) = &p.task_outcome {
            if t.task.trim().is_empty() {
                return Err(Invalid("task_outcome.task is empty".into()));
            }
            if t.outcome == Outcome::AccessDenied && p.kind != ObservationKind::AccessDenied {
                return Err(Invalid(format!(
                    "task_outcome access_denied needs kind access_denied, not {}",
                    p.kind
                )));
            }
        }
        for m in &p.media {
            if m.sha256.len() != 64 || !m.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Invalid(format!(
                    "media sha256 {:?} is not 64 hex digits",
                    m.sha256
                )));
            }
        }
        // Last: every field is bounded, but a long track or many serials can still make an
        // entry no tile could hold.
        crate::limits::check_entry("the observation", crate::canonical::canonical_len(self))
            .map_err(Invalid)?;
        Ok(place)
    }

    /// Ids within [`MAX_ID_BYTES`], other texts within [`MAX_TEXT_BYTES`].
    fn check_field_sizes(&self) -> Result<(), String> {
        let p = &self.properties;
        let id = |field: &str, v: &str| check_len(field, v, MAX_ID_BYTES, "MAX_ID_BYTES");
        let text = |field: &str, v: &str| check_len(field, v, MAX_TEXT_BYTES, "MAX_TEXT_BYTES");
        if let Some(i) = &self.id {
            id("id", i)?;
        }
        id("source.id", &p.source.id)?;
        if let Some(party) = &p.source.party {
            id("source.party", party)?;
        }
        if let Some(w) = &p.weapon {
            text("weapon.class", &w.class)?;
            for s in &w.serials {
                id("weapon.serials", s)?;
            }
        }
        if let Some(st) = &p.storage {
            id("storage.site", &st.site)?;
            for (class, serials) in &st.serials_seen {
                text("storage.serials_seen", class)?;
                for s in serials {
                    id("storage.serials_seen", s)?;
                }
            }
            for class in st.counts.keys() {
                text("storage.counts", class)?;
            }
        }
        if let Some(c) = &p.coverage {
            id("coverage.sensor", &c.sensor)?;
        }
        if let Some(a) = &p.affiliation {
            text("affiliation", a)?;
        }
        if let Some(r) = &p.source_record {
            text("source_record", r)?;
        }
        for m in &p.media {
            if let Some(u) = &m.uri {
                text("media.uri", u)?;
            }
            if let Some(t) = &m.media_type {
                id("media.media_type", t)?;
            }
        }
        if let Some(t) = &p.task_outcome {
            id("task_outcome.task", &t.task)?;
        }
        Ok(())
    }

    /// The id to report: the Feature id, else the source record, else `#<index>`.
    pub fn display_id(&self, index: usize) -> String {
        self.id
            .clone()
            .or_else(|| self.properties.source_record.clone())
            .unwrap_or_else(|| format!("#{index}"))
    }
}

/// One feature that could not be read, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub index: usize,
    pub id: Option<String>,
    pub reason: String,
}

/// Good features with their index in the collection and place, and the rejected ones.
pub type Parsed = (Vec<(usize, Observation, Place)>, Vec<Rejected>);

/// Reads a FeatureCollection of observations, keeping every good feature and explaining every
/// bad one. Fails as a whole only when the text is not a FeatureCollection at all.
pub fn parse_collection(text: &str) -> Result<Parsed, String> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (index, raw) in split_collection(text)?.into_iter().enumerate() {
        match parse_feature(index, raw) {
            Ok((obs, place)) => good.push((index, obs, place)),
            Err(r) => bad.push(r),
        }
    }
    Ok((good, bad))
}

/// The raw text of each feature of a FeatureCollection, without parsing the features: memory
/// stays at the size of the text however many features it holds.
pub fn split_collection(text: &str) -> Result<Vec<&str>, String> {
    #[derive(Deserialize)]
    struct Loose<'t> {
        #[serde(rename = "type")]
        kind: String,
        #[serde(borrow)]
        features: Vec<&'t serde_json::value::RawValue>,
    }
    let loose: Loose<'_> =
        serde_json::from_str(text).map_err(|e| format!("not a GeoJSON FeatureCollection: {e}"))?;
    if loose.kind != "FeatureCollection" {
        return Err(format!(
            "expected \"type\": \"FeatureCollection\", found {:?}",
            loose.kind
        ));
    }
    Ok(loose.features.into_iter().map(|r| r.get()).collect())
}

/// Parses and validates one feature (`index` is its place in the collection, for messages).
pub fn parse_feature(index: usize, raw: &str) -> Result<(Observation, Place), Rejected> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let parsed = serde_path_to_error::deserialize::<_, Observation>(&mut de);
    let reason = match parsed {
        Ok(obs) => match obs.validate() {
            Ok(place) => return Ok((obs, place)),
            Err(e) => e.0,
        },
        Err(e) => field_error(&e),
    };
    // Only a rejected feature pays for a second, loose parse to find its id.
    let id = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| match v.get("id") {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        });
    Err(Rejected { index, id, reason })
}

/// A serde error with the path of the field it is about: "properties.observed_at: invalid type …".
fn field_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    if path == "." {
        e.inner().to_string()
    } else {
        format!("{path}: {}", e.inner())
    }
}

/// The JSON Schema of one observation Feature, as checked into `schema/observation.schema.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Observation)).expect("schema serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(props: &str, geom: &str) -> String {
        format!(r#"{{"type":"Feature","id":"o1","geometry":{geom},"properties":{props}}}"#)
    }

    const SRC: &str =
        r#""source":{"id":"cam-1","kind":"camera","reliability":"B","credibility":2}"#;

    #[test]
    fn weapon_observation_round_trips() {
        let text = feature(
            &format!(
                r#"{{"kind":"weapon_present","observed_at":"2015-03-02T10:00:00+02:00",{SRC},"weapon":{{"class":"mlrs","count":4}}}}"#
            ),
            r#"{"type":"Point","coordinates":[38.0,48.1]}"#,
        );
        let obs: Observation = serde_json::from_str(&text).unwrap();
        assert_eq!(obs.validate().unwrap(), Place::Point([38.0, 48.1]));
        assert_eq!(
            obs.properties.observed_at.to_rfc3339(),
            "2015-03-02T08:00:00+00:00"
        );
        let back: Observation =
            serde_json::from_str(&serde_json::to_string(&obs).unwrap()).unwrap();
        assert_eq!(back, obs);
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let text = feature(
            &format!(
                r#"{{"kind":"impact","observed_at":"2015-03-02T10:00:00Z",{SRC},"colour":"red"}}"#
            ),
            r#"{"type":"Point","coordinates":[38.0,48.1]}"#,
        );
        let err = serde_json::from_str::<Observation>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn collection_keeps_good_and_explains_bad() {
        let good = feature(
            &format!(r#"{{"kind":"impact","observed_at":"2015-03-02T10:00:00Z",{SRC}}}"#),
            r#"{"type":"Point","coordinates":[38.0,48.1]}"#,
        );
        let bad_lat = feature(
            &format!(r#"{{"kind":"impact","observed_at":"2015-03-02T10:00:00Z",{SRC}}}"#),
            r#"{"type":"Point","coordinates":[38.0,98.1]}"#,
        );
        let no_weapon = feature(
            &format!(r#"{{"kind":"weapon_present","observed_at":"2015-03-02T10:00:00Z",{SRC}}}"#),
            r#"{"type":"Point","coordinates":[38.0,48.1]}"#,
        );
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{good},{bad_lat},{no_weapon},{{"type":"Feature"}}]}}"#
        );
        let (ok, bad) = parse_collection(&text).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(bad.len(), 3);
        assert!(bad[0].reason.contains("latitude 98.1"), "{:?}", bad[0]);
        assert_eq!(bad[0].index, 1);
        assert_eq!(bad[0].id.as_deref(), Some("o1"));
        assert!(
            bad[1].reason.contains("weapon_present needs"),
            "{:?}",
            bad[1]
        );
        assert!(bad[2].reason.contains("missing field"), "{:?}", bad[2]);
    }

    #[test]
    fn track_timestamps_must_match_and_advance() {
        let text = feature(
            &format!(
                r#"{{"kind":"movement","observed_at":"2015-03-02T10:00:00Z",{SRC},"timestamps":["2015-03-02T10:00:00Z","2015-03-02T09:00:00Z"]}}"#
            ),
            r#"{"type":"LineString","coordinates":[[38.0,48.1],[38.1,48.2]]}"#,
        );
        let obs: Observation = serde_json::from_str(&text).unwrap();
        assert!(obs.validate().unwrap_err().0.contains("back in time"));
    }

    #[test]
    fn task_outcome_round_trips_and_is_checked() {
        let props = |kind: &str, outcome: &str| {
            feature(
                &format!(
                    r#"{{"kind":"{kind}","observed_at":"2015-03-02T10:00:00Z",{SRC},"task_outcome":{outcome}}}"#
                ),
                r#"{"type":"Point","coordinates":[38.0,48.1]}"#,
            )
        };
        let text = props(
            "impact",
            r#"{"task":"task-inc-7","outcome":"not_confirmed"}"#,
        );
        let obs: Observation = serde_json::from_str(&text).unwrap();
        obs.validate().unwrap();
        assert_eq!(
            obs.properties.task_outcome,
            Some(TaskOutcome {
                task: "task-inc-7".into(),
                outcome: Outcome::NotConfirmed
            })
        );
        let back = serde_json::to_string(&obs).unwrap();
        assert!(back.contains(r#""task_outcome":{"task":"task-inc-7","outcome":"not_confirmed"}"#));
        // Absent: skipped, and Observation::new leaves it out.
        let plain = Observation::new(
            ObservationKind::Impact,
            obs.properties.observed_at,
            obs.properties.source.clone(),
            obs.geometry.clone(),
        );
        assert!(
            !serde_json::to_string(&plain)
                .unwrap()
                .contains("task_outcome")
        );

        let check = |kind: &str, outcome: &str| -> Result<Place, String> {
            let obs: Observation =
                serde_json::from_str(&props(kind, outcome)).map_err(|e| e.to_string())?;
            obs.validate().map_err(|e| e.0)
        };
        assert_eq!(
            check("impact", r#"{"task":" ","outcome":"confirmed"}"#).unwrap_err(),
            "task_outcome.task is empty"
        );
        assert_eq!(
            check("impact", r#"{"task":"t1","outcome":"access_denied"}"#).unwrap_err(),
            "task_outcome access_denied needs kind access_denied, not impact"
        );
        check(
            "access_denied",
            r#"{"task":"t1","outcome":"access_denied"}"#,
        )
        .unwrap();
        assert!(
            check("impact", r#"{"task":"t1","outcome":"maybe"}"#)
                .unwrap_err()
                .contains("unknown variant `maybe`")
        );
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn schema_names_every_kind() {
        let schema = json_schema().to_string();
        for k in ObservationKind::ALL {
            assert!(
                schema.contains(&format!("\"{}\"", k.as_str())),
                "{k} missing from schema"
            );
        }
    }
}
