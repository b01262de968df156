//! The agreement: ceasefire terms as data, loaded from `agreement.toml` plus GeoJSON geometry.
//!
//! Loading never stops at the first problem: every error found is returned as a
//! [`Diagnostic`] naming the file, and the line and column (TOML) or the feature index and the
//! offending coordinate (GeoJSON). The loader does no I/O itself — the caller passes a resolver
//! that returns the bytes of each referenced geometry file — so the core stays pure.
//!
//! The canonical hash is SHA-256 over the canonical JSON ([`crate::canonical`]) of the parsed
//! terms, geometry included: comments, key order and white space do not change it; any change
//! to a term or a coordinate does. `truce agreement canonical FILE` prints the hashed bytes.

// `load` reads as the file's sections in order; each is checked in its own module: `raw` the
// TOML's shapes, `sections` parties, contact line, weapon classes, zones, storage sites and
// rules, `escalation` the `[escalation]` section, `geometry` the GeoJSON files,
// `cross_checks` the checks across them, and `sink` the diagnostics and the checks shared with
// the mission file.
mod cross_checks;
mod escalation;
mod geometry;
mod raw;
mod sections;
mod sink;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use truce_geo::LonLat;

use crate::canonical::to_canonical_json;
use crate::observation::ObservationKind;

pub(crate) use sink::{Sink, check_distance_km, check_lonlat, deserialize, table_items};

/// The farthest any distance in the terms may sensibly be: 1,000 km is more than the whole
/// 2015 contact line; a larger number is a typo (metres written as kilometres).
pub const MAX_DISTANCE_KM: f64 = 1_000.0;
/// Party areas overlapping by more than this are an error (a shared edge is not an overlap;
/// slivers below this come from generalised boundaries and are tolerated).
pub const MAX_PARTY_OVERLAP_KM2: f64 = 0.01;
/// Vertices per geometry file we accept: ten times the detailed oblast boundaries we know of.
pub const MAX_VERTICES_PER_FILE: usize = 1_000_000;
/// The slowest notification the escalation section may promise, seconds: a week. A promise to
/// tell a party of a breach more than a week later is no promise; a larger number is a typo
/// (milliseconds written as seconds).
pub const MAX_NOTIFY_WITHIN_S: u32 = 7 * 24 * 3600;
/// The longest window over which repeated breaches are counted, hours: a year.
pub const MAX_REPEAT_WINDOW_H: u32 = 366 * 24;

/// Rule severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// Activities a zone may prohibit, and which observation kinds show each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    MilitaryPresence,
    WeaponPresent,
    Firing,
    Explosion,
    Construction,
    Overflight,
    MineLaying,
    Movement,
}

impl Activity {
    pub const ALL: [Activity; 8] = [
        Self::MilitaryPresence,
        Self::WeaponPresent,
        Self::Firing,
        Self::Explosion,
        Self::Construction,
        Self::Overflight,
        Self::MineLaying,
        Self::Movement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MilitaryPresence => "military_presence",
            Self::WeaponPresent => "weapon_present",
            Self::Firing => "firing",
            Self::Explosion => "explosion",
            Self::Construction => "construction",
            Self::Overflight => "overflight",
            Self::MineLaying => "mine_laying",
            Self::Movement => "movement",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The activities an observation of `kind` shows. An impact or explosion shows that
    /// something exploded there, not who was present: it never implies military presence.
    pub fn shown_by(kind: ObservationKind) -> &'static [Activity] {
        use ObservationKind as K;
        match kind {
            K::WeaponPresent => &[Self::WeaponPresent, Self::MilitaryPresence],
            K::Firing => &[Self::Firing, Self::MilitaryPresence],
            K::Explosion | K::Impact => &[Self::Explosion],
            K::Construction => &[Self::Construction],
            K::MineLaying => &[Self::MineLaying, Self::MilitaryPresence],
            K::Movement => &[Self::Movement, Self::MilitaryPresence],
            K::Overflight => &[Self::Overflight],
            K::ThermalAnomaly
            | K::AccessDenied
            | K::StorageCheck
            | K::Damage
            | K::Coverage
            | K::Report => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    Disengagement,
    SecurityZone,
    AirExclusion,
    MineFree,
    Other,
}

impl ZoneKind {
    const ALL: [ZoneKind; 5] = [
        Self::Disengagement,
        Self::SecurityZone,
        Self::AirExclusion,
        Self::MineFree,
        Self::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disengagement => "disengagement",
            Self::SecurityZone => "security_zone",
            Self::AirExclusion => "air_exclusion",
            Self::MineFree => "mine_free",
            Self::Other => "other",
        }
    }
}

/// How each rule is checked; see AGREEMENT.md and `docs/agreement.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Explosions, impacts and firing (or the `observation_kinds` given) after the effective
    /// time, optionally only inside `zones`.
    NoFire,
    /// A weapon of a class seen within the class's withdrawal distance after its deadline.
    WeaponWithdrawal,
    /// An activity a zone prohibits, observed inside the zone (`zones`, optional `activities`).
    Zone,
    /// A movement track crossing the contact line.
    NoCrossing,
    /// A storage-site check finding fewer weapons or other serials than declared.
    StorageInventory,
    /// A monitoring team refused access.
    FreedomOfMovement,
}

impl RuleKind {
    const ALL: [RuleKind; 6] = [
        Self::NoFire,
        Self::WeaponWithdrawal,
        Self::Zone,
        Self::NoCrossing,
        Self::StorageInventory,
        Self::FreedomOfMovement,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoFire => "no_fire",
            Self::WeaponWithdrawal => "weapon_withdrawal",
            Self::Zone => "zone",
            Self::NoCrossing => "no_crossing",
            Self::StorageInventory => "storage_inventory",
            Self::FreedomOfMovement => "freedom_of_movement",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Party {
    pub id: String,
    pub name: String,
    /// The area file as written in the TOML (relative to it).
    pub area_file: String,
    /// Polygons, each a list of rings (exterior first) of [lon, lat].
    pub area: Vec<Vec<Vec<LonLat>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactLine {
    pub geometry_file: String,
    /// One or more polylines of [lon, lat].
    pub lines: Vec<Vec<LonLat>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeaponClass {
    pub id: String,
    pub name: String,
    /// Distance from the contact line, on each side, inside which the class may not be.
    pub withdrawal_km: f64,
    pub withdraw_by: DateTime<Utc>,
}

/// Where a zone is: a polygon file, or everything within a distance of the contact line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneExtent {
    Polygons {
        file: String,
        polygons: Vec<Vec<Vec<LonLat>>>,
    },
    WithinKmOfLine {
        within_km: f64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub kind: ZoneKind,
    pub extent: ZoneExtent,
    pub prohibits: Vec<Activity>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StorageSite {
    pub id: String,
    pub name: String,
    pub party: String,
    pub location: LonLat,
    pub radius_m: f64,
    /// Declared counts by weapon class id.
    pub declared: BTreeMap<String, u32>,
    /// Declared serial numbers by weapon class id (optional).
    pub serials: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub kind: RuleKind,
    pub severity: Severity,
    pub description: String,
    /// Zone ids the rule is limited to (required for `zone`, optional for `no_fire`).
    pub zones: Vec<String>,
    /// For `zone` rules: only these of the zones' prohibited activities (empty = all).
    pub activities: Vec<Activity>,
    /// For `no_fire`: which observation kinds count (empty = explosion, impact, firing).
    pub observation_kinds: Vec<ObservationKind>,
    /// For `weapon_withdrawal`: which classes (empty = all).
    pub classes: Vec<String>,
}

/// Who is told of what, how fast, and what repeated breaches escalate to (`[escalation]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Which severities notify whom, and how fast.
    pub notify: Vec<Notify>,
    /// What repeated breaches of a rule by one party escalate to.
    pub repeat: Vec<Repeat>,
}

/// `[[escalation.notify]]`: alerts of `severity` or above go to `parties` within `within_s`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// The lowest severity this entry covers.
    pub severity: Severity,
    /// The parties involved: the one whose area the incident is in and the one it is
    /// attributed to (officially or as suggested). Written `parties = "involved"`.
    pub involved: bool,
    /// Parties named (`parties = ["UA", "RU"]`).
    pub parties: Vec<String>,
    /// The deadline the monitor commits to, from the alert's creation, seconds.
    pub within_s: u32,
}

/// `[[escalation.repeat]]`: `count` breaches of `rule` by one party within `within_h` hours
/// raise the alert's severity to `to_severity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    pub rule: String,
    pub count: u32,
    pub within_h: u32,
    pub to_severity: Severity,
}

impl Escalation {
    /// The lowest severity any `notify` entry covers: alerts below it go to nobody.
    pub fn lowest_notified(&self) -> Option<Severity> {
        self.notify.iter().map(|n| n.severity).min()
    }
}

/// The terms, parsed and checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agreement {
    pub id: String,
    pub title: String,
    pub version: u32,
    pub effective_at: DateTime<Utc>,
    pub parties: Vec<Party>,
    pub contact_line: ContactLine,
    pub weapon_classes: Vec<WeaponClass>,
    pub zones: Vec<Zone>,
    pub storage_sites: Vec<StorageSite>,
    pub rules: Vec<Rule>,
    /// Who is told of breaches and how fast (absent from the canonical JSON when the terms
    /// have none, so terms without it keep their hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// Lower-case hex SHA-256 of [`Agreement::canonical_json`].
    #[serde(skip)]
    pub hash: String,
}

impl Agreement {
    /// The canonical JSON the hash is computed over.
    pub fn canonical_json(&self) -> String {
        to_canonical_json(self)
    }

    /// The terms back from their canonical JSON (an `agreement` log entry), with the hash
    /// computed over those bytes. Refuses text that is not exactly the canonical form of what
    /// it parses to, so a replay runs on the very terms the entry's hash names. The checks
    /// [`load`] makes of a TOML file are not repeated: a canonical entry was written by it.
    pub fn from_canonical_json(text: &str) -> Result<Agreement, String> {
        let (mut agreement, hash): (Agreement, _) =
            crate::canonical::from_canonical_json(text, "an agreement")?;
        agreement.hash = hash;
        Ok(agreement)
    }

    pub fn party(&self, id: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.id == id)
    }

    pub fn weapon_class(&self, id: &str) -> Option<&WeaponClass> {
        self.weapon_classes.iter().find(|c| c.id == id)
    }

    pub fn storage_site(&self, id: &str) -> Option<&StorageSite> {
        self.storage_sites.iter().find(|s| s.id == id)
    }
}

/// Where a problem is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    File,
    LineColumn {
        line: usize,
        column: usize,
    },
    Feature {
        index: usize,
        coordinate: Option<LonLat>,
    },
}

/// One problem in an agreement or its geometry, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File => write!(f, "{}: {}", self.file, self.message),
            Location::LineColumn { line, column } => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.message)
            }
            Location::Feature {
                index,
                coordinate: Some([lon, lat]),
            } => write!(
                f,
                "{}: feature {index}, coordinate [{lon}, {lat}]: {}",
                self.file, self.message
            ),
            Location::Feature {
                index,
                coordinate: None,
            } => {
                write!(f, "{}: feature {index}: {}", self.file, self.message)
            }
        }
    }
}

/// Returns the bytes of a geometry file named (relative to the TOML file) in the terms.
pub type Resolver<'a> = dyn FnMut(&str) -> Result<Vec<u8>, String> + 'a;

/// Parses and checks an agreement. `file` is how to name the TOML file in messages (and the
/// directory geometry paths are shown relative to); `resolve` returns a geometry file's bytes.
pub fn load(
    file: &str,
    text: &str,
    resolve: &mut Resolver<'_>,
) -> Result<Agreement, Vec<Diagnostic>> {
    let mut sink = Sink::new(file, text);
    let Some(raw) = raw::read(text, &mut sink) else {
        return Err(sink.diags);
    };
    let effective = sections::effective_at(raw.effective_at.as_ref(), &mut sink);

    let mut geo = geometry::GeometryReader {
        base: geometry::base_dir(file),
        resolve,
        diags: Vec::new(),
    };
    let parties = sections::parties(raw.parties, &mut geo, &mut sink);
    let party_ids = ids(parties.iter().map(|p| &p.id));
    let contact_line = sections::contact_line(raw.contact_line, &mut geo, &mut sink);
    let classes = sections::weapon_classes(
        raw.weapon_classes,
        raw.effective_at.as_ref(),
        effective,
        &mut sink,
    );
    let class_ids = ids(classes.iter().map(|c| &c.id));
    let zones = sections::zones(raw.zones, &mut geo, &mut sink);
    let zone_ids = ids(zones.iter().map(|z| &z.id));
    let sites = sections::storage_sites(raw.storage_sites, &party_ids, &class_ids, &mut sink);
    let rules = sections::rules(raw.rules, &zone_ids, &class_ids, &mut sink);
    let rule_ids = ids(rules.iter().map(|r| &r.id));
    let escalation = raw
        .escalation
        .map(|e| escalation::escalation(&mut sink, e, &party_ids, &rule_ids));

    let mut diags = sink.diags;
    diags.append(&mut geo.diags);

    // Checks across geometries, only worth doing on geometry that read cleanly.
    if diags.is_empty()
        && let Some(line) = &contact_line
    {
        diags.extend(cross_checks::cross_checks(file, &parties, line));
    }

    if !diags.is_empty() {
        return Err(diags);
    }
    let mut agreement = Agreement {
        id: raw.id.unwrap_or_default(),
        title: raw.title.unwrap_or_default(),
        version: raw.version.unwrap_or(1),
        effective_at: effective.expect("checked above"),
        parties,
        contact_line: contact_line.expect("checked above"),
        weapon_classes: classes,
        zones,
        storage_sites: sites,
        rules,
        escalation,
        hash: String::new(),
    };
    agreement.hash = hex(&Sha256::digest(agreement.canonical_json().as_bytes()));
    Ok(agreement)
}

/// The ids of a section's entries, to check references to them.
fn ids<'a>(ids: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    ids.cloned().collect()
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn to_multipolygon(polys: &[Vec<Vec<LonLat>>]) -> geo_types::MultiPolygon<f64> {
    geo_types::MultiPolygon(
        polys
            .iter()
            .map(|rings| {
                let mut rings = rings.iter().map(|r| {
                    geo_types::LineString(
                        r.iter()
                            .map(|&[x, y]| geo_types::coord! {x: x, y: y})
                            .collect(),
                    )
                });
                let exterior = rings
                    .next()
                    .unwrap_or_else(|| geo_types::LineString(vec![]));
                geo_types::Polygon::new(exterior, rings.collect())
            })
            .collect(),
    )
}
