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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;
use toml::de::{DeTable, DeValue};
use truce_geo::{AreaIndex, LonLat};

use crate::canonical::to_canonical_json;
use crate::observation::ObservationKind;

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

// ---------------------------------------------------------------------------------------------
// Raw TOML shapes. Each table is deserialised on its own so that one bad table does not hide
// the errors in the others.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    id: Spanned<String>,
    name: String,
    area: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContactLine {
    geometry: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeaponClass {
    id: Spanned<String>,
    name: String,
    withdrawal_km: Spanned<f64>,
    withdraw_by: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    kind: Spanned<String>,
    #[serde(default)]
    geometry: Option<Spanned<String>>,
    #[serde(default)]
    within_km: Option<Spanned<f64>>,
    prohibits: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorageSite {
    id: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    party: Spanned<String>,
    location: Spanned<[f64; 2]>,
    radius_m: Spanned<f64>,
    declared: Spanned<BTreeMap<String, u32>>,
    #[serde(default)]
    serials: Option<Spanned<BTreeMap<String, Vec<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    kind: Spanned<String>,
    severity: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    zones: Vec<Spanned<String>>,
    #[serde(default)]
    activities: Vec<Spanned<String>>,
    #[serde(default)]
    observation_kinds: Vec<Spanned<String>>,
    #[serde(default)]
    classes: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    #[serde(default)]
    notify: Vec<RawNotify>,
    #[serde(default)]
    repeat: Vec<RawRepeat>,
}

/// `parties = "involved"` or `parties = ["UA", …]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawRecipients {
    Word(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    severity: Spanned<String>,
    parties: Spanned<RawRecipients>,
    within_s: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepeat {
    rule: Spanned<String>,
    count: Spanned<i64>,
    within_h: Spanned<i64>,
    to_severity: Spanned<String>,
}

const TOP_LEVEL_KEYS: [&str; 12] = [
    "id",
    "title",
    "version",
    "effective_at",
    "party",
    "contact_line",
    "weapon_class",
    "zone",
    "storage_site",
    "rule",
    "description",
    "escalation",
];

/// Collects diagnostics for one TOML file, turning byte spans into line:column.
pub(crate) struct Sink<'t> {
    pub(crate) file: String,
    pub(crate) text: &'t str,
    pub(crate) diags: Vec<Diagnostic>,
}

impl Sink<'_> {
    pub(crate) fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            location: Location::LineColumn { line, column },
            message: message.into(),
        });
    }

    pub(crate) fn toml_error(&mut self, e: &toml::de::Error, fallback: Range<usize>) {
        let span = e.span().unwrap_or(fallback);
        let msg = e.message().trim().replace('\n', " ");
        self.at(span, msg);
    }
}

impl Sink<'_> {
    /// Reports `id` if an earlier table of the same kind used it.
    pub(crate) fn unique(&mut self, seen: &mut BTreeSet<String>, id: &Spanned<String>, what: &str) {
        if !seen.insert(id.get_ref().clone()) {
            self.at(id.span(), format!("duplicate {what} id `{}`", id.get_ref()));
        }
    }

    /// The variant of `all` named `name`, or a report listing the names there are.
    pub(crate) fn named<T: Copy, const N: usize>(
        &mut self,
        name: &Spanned<String>,
        what: &str,
        all: [T; N],
        as_str: fn(T) -> &'static str,
    ) -> Option<T> {
        let found = all.into_iter().find(|k| as_str(*k) == name.get_ref());
        if found.is_none() {
            self.at(
                name.span(),
                format!(
                    "unknown {what} `{}`; expected one of {}",
                    name.get_ref(),
                    all.map(as_str).join(", ")
                ),
            );
        }
        found
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "{s:?} is not an RFC 3339 time with offset (e.g. 2015-02-15T00:00:00+02:00): {e}"
            )
        })
}

pub(crate) fn table_items<'i>(
    value: Spanned<DeValue<'i>>,
    key: &str,
    sink: &mut Sink<'_>,
) -> Vec<Spanned<DeValue<'i>>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items.into_iter().collect(),
        DeValue::Table(t) => vec![Spanned::new(span, DeValue::Table(t))],
        _ => {
            sink.at(
                span,
                format!("`{key}` must be a table (write it as [[{key}]])"),
            );
            Vec::new()
        }
    }
}

pub(crate) fn deserialize<'i, T: Deserialize<'i>>(
    value: Spanned<DeValue<'i>>,
    sink: &mut Sink<'_>,
) -> Option<T> {
    let span = value.span();
    match T::deserialize(value.into_deserializer()) {
        Ok(t) => Some(t),
        Err(e) => {
            sink.toml_error(&e, span);
            None
        }
    }
}

/// Parses and checks an agreement. `file` is how to name the TOML file in messages (and the
/// directory geometry paths are shown relative to); `resolve` returns a geometry file's bytes.
pub fn load(
    file: &str,
    text: &str,
    resolve: &mut Resolver<'_>,
) -> Result<Agreement, Vec<Diagnostic>> {
    let mut sink = Sink {
        file: file.to_string(),
        text,
        diags: Vec::new(),
    };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for e in &syntax_errors {
            sink.toml_error(e, 0..0);
        }
        return Err(sink.diags);
    }
    let root_span = root.span();
    let root = root.into_inner();

    let mut id = None;
    let mut title = None;
    let mut version = None;
    let mut effective_at: Option<Spanned<String>> = None;
    let mut raw_parties = Vec::new();
    let mut raw_line: Option<RawContactLine> = None;
    let mut raw_classes = Vec::new();
    let mut raw_zones = Vec::new();
    let mut raw_sites = Vec::new();
    let mut raw_rules = Vec::new();
    let mut raw_escalation: Option<RawEscalation> = None;

    for (key, value) in root {
        let key_span = key.span();
        let key = key.into_inner();
        match key.as_ref() {
            "id" => id = deserialize::<String>(value, &mut sink),
            "title" => title = deserialize::<String>(value, &mut sink),
            "description" => {
                deserialize::<String>(value, &mut sink);
            }
            "version" => version = deserialize::<u32>(value, &mut sink),
            "effective_at" => effective_at = deserialize::<Spanned<String>>(value, &mut sink),
            "contact_line" => raw_line = deserialize::<RawContactLine>(value, &mut sink),
            "party" => {
                for item in table_items(value, "party", &mut sink) {
                    raw_parties.extend(deserialize::<RawParty>(item, &mut sink));
                }
            }
            "weapon_class" => {
                for item in table_items(value, "weapon_class", &mut sink) {
                    raw_classes.extend(deserialize::<RawWeaponClass>(item, &mut sink));
                }
            }
            "zone" => {
                for item in table_items(value, "zone", &mut sink) {
                    raw_zones.extend(deserialize::<RawZone>(item, &mut sink));
                }
            }
            "storage_site" => {
                for item in table_items(value, "storage_site", &mut sink) {
                    raw_sites.extend(deserialize::<RawStorageSite>(item, &mut sink));
                }
            }
            "rule" => {
                for item in table_items(value, "rule", &mut sink) {
                    raw_rules.extend(deserialize::<RawRule>(item, &mut sink));
                }
            }
            "escalation" => raw_escalation = deserialize::<RawEscalation>(value, &mut sink),
            other => sink.at(
                key_span,
                format!(
                    "unknown key `{other}`; expected one of {}",
                    TOP_LEVEL_KEYS.join(", ")
                ),
            ),
        }
    }
    let head = root_span.start..root_span.start;
    for (name, present) in [
        ("id", id.is_some()),
        ("effective_at", effective_at.is_some()),
        ("contact_line", raw_line.is_some()),
    ] {
        if !present
            && !sink
                .diags
                .iter()
                .any(|d| d.message.contains(&format!("`{name}`")))
        {
            sink.at(head.clone(), format!("missing key `{name}`"));
        }
    }
    if raw_parties.is_empty() && !text.contains("[[party]]") {
        sink.at(
            head.clone(),
            "missing [[party]]: the terms need at least one party with an area",
        );
    }

    let effective = effective_at
        .as_ref()
        .and_then(|t| match parse_time(t.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                sink.at(t.span(), format!("effective_at: {e}"));
                None
            }
        });

    let mut geo = GeometryReader {
        base: base_dir(file),
        resolve,
        diags: Vec::new(),
    };

    // Parties.
    let mut parties = Vec::new();
    let mut seen = BTreeSet::new();
    for p in raw_parties {
        sink.unique(&mut seen, &p.id, "party");
        let area = geo.polygons(p.area.get_ref(), p.area.span(), &mut sink);
        parties.push(Party {
            id: p.id.into_inner(),
            name: p.name,
            area_file: p.area.into_inner(),
            area: area.unwrap_or_default(),
        });
    }
    let party_ids: BTreeSet<String> = parties.iter().map(|p| p.id.clone()).collect();

    // Contact line.
    let contact_line = raw_line.and_then(|l| {
        let lines = geo.lines(l.geometry.get_ref(), l.geometry.span(), &mut sink)?;
        Some(ContactLine {
            geometry_file: l.geometry.into_inner(),
            lines,
        })
    });

    // Weapon classes.
    let mut classes = Vec::new();
    let mut seen = BTreeSet::new();
    for c in raw_classes {
        sink.unique(&mut seen, &c.id, "weapon_class");
        check_distance_km(&mut sink, &c.withdrawal_km, "withdrawal_km");
        let deadline = match parse_time(c.withdraw_by.get_ref()) {
            Ok(t) => {
                if let Some(eff) = effective
                    && t < eff
                {
                    sink.at(
                        c.withdraw_by.span(),
                        format!(
                            "withdraw_by {} is before effective_at {}",
                            c.withdraw_by.get_ref(),
                            effective_at
                                .as_ref()
                                .map(|e| e.get_ref().as_str())
                                .unwrap_or("")
                        ),
                    );
                }
                Some(t)
            }
            Err(e) => {
                sink.at(c.withdraw_by.span(), format!("withdraw_by: {e}"));
                None
            }
        };
        classes.push(WeaponClass {
            id: c.id.into_inner(),
            name: c.name,
            withdrawal_km: *c.withdrawal_km.get_ref(),
            withdraw_by: deadline.unwrap_or(DateTime::<Utc>::MIN_UTC),
        });
    }
    let class_ids: BTreeSet<String> = classes.iter().map(|c| c.id.clone()).collect();

    // Zones.
    let mut zones = Vec::new();
    let mut seen = BTreeSet::new();
    for z in raw_zones {
        sink.unique(&mut seen, &z.id, "zone");
        let kind = sink.named(&z.kind, "zone kind", ZoneKind::ALL, ZoneKind::as_str);
        let extent = match (&z.geometry, &z.within_km) {
            (Some(g), None) => geo
                .polygons(g.get_ref(), g.span(), &mut sink)
                .map(|polygons| ZoneExtent::Polygons {
                    file: g.get_ref().clone(),
                    polygons,
                }),
            (None, Some(km)) => {
                check_distance_km(&mut sink, km, "within_km");
                Some(ZoneExtent::WithinKmOfLine {
                    within_km: *km.get_ref(),
                })
            }
            (Some(g), Some(_)) => {
                sink.at(
                    g.span(),
                    "a zone has either `geometry` or `within_km`, not both",
                );
                None
            }
            (None, None) => {
                sink.at(
                    z.id.span(),
                    format!(
                        "zone `{}` needs `geometry` (a polygon file) or `within_km` (a band around the contact line)",
                        z.id.get_ref()
                    ),
                );
                None
            }
        };
        let mut prohibits = Vec::new();
        for a in &z.prohibits {
            match Activity::parse(a.get_ref()) {
                Some(act) => prohibits.push(act),
                None => sink.at(
                    a.span(),
                    format!(
                        "unknown activity `{}`; expected one of {}",
                        a.get_ref(),
                        Activity::ALL.map(|a| a.as_str()).join(", ")
                    ),
                ),
            }
        }
        if let (Some(kind), Some(extent)) = (kind, extent) {
            zones.push(Zone {
                name: z.name.unwrap_or_else(|| z.id.get_ref().clone()),
                id: z.id.into_inner(),
                kind,
                extent,
                prohibits,
            });
        }
    }
    let zone_ids: BTreeSet<String> = zones.iter().map(|z| z.id.clone()).collect();

    // Storage sites.
    let mut sites = Vec::new();
    let mut seen = BTreeSet::new();
    for s in raw_sites {
        sink.unique(&mut seen, &s.id, "storage_site");
        if !party_ids.contains(s.party.get_ref()) {
            sink.at(
                s.party.span(),
                format!("storage_site names unknown party `{}`", s.party.get_ref()),
            );
        }
        let [lon, lat] = *s.location.get_ref();
        check_lonlat(&mut sink, &s.location, "location");
        let radius = *s.radius_m.get_ref();
        if !radius.is_finite() || radius <= 0.0 || radius > MAX_DISTANCE_KM * 1000.0 {
            sink.at(
                s.radius_m.span(),
                format!("radius_m {radius} must be above 0 and at most 1,000 km"),
            );
        }
        for class in s.declared.get_ref().keys() {
            if !class_ids.contains(class) {
                sink.at(
                    s.declared.span(),
                    format!("declared inventory names unknown weapon_class `{class}`"),
                );
            }
        }
        let serials = s.serials.map(|x| {
            for class in x.get_ref().keys() {
                if !class_ids.contains(class) {
                    sink.at(
                        x.span(),
                        format!("serials name unknown weapon_class `{class}`"),
                    );
                }
            }
            x.into_inner()
        });
        sites.push(StorageSite {
            name: s.name.unwrap_or_else(|| s.id.get_ref().clone()),
            id: s.id.into_inner(),
            party: s.party.into_inner(),
            location: [lon, lat],
            radius_m: radius,
            declared: s.declared.into_inner(),
            serials: serials.unwrap_or_default(),
        });
    }

    // Rules.
    let mut rules = Vec::new();
    let mut seen = BTreeSet::new();
    for r in raw_rules {
        sink.unique(&mut seen, &r.id, "rule");
        let kind = sink.named(&r.kind, "rule kind", RuleKind::ALL, RuleKind::as_str);
        let severity = severity(&mut sink, &r.severity);
        for z in &r.zones {
            if !zone_ids.contains(z.get_ref()) {
                sink.at(
                    z.span(),
                    format!(
                        "rule `{}` names unknown zone `{}`",
                        r.id.get_ref(),
                        z.get_ref()
                    ),
                );
            }
        }
        for c in &r.classes {
            if !class_ids.contains(c.get_ref()) {
                sink.at(
                    c.span(),
                    format!(
                        "rule `{}` names unknown weapon_class `{}`",
                        r.id.get_ref(),
                        c.get_ref()
                    ),
                );
            }
        }
        let mut activities = Vec::new();
        for a in &r.activities {
            match Activity::parse(a.get_ref()) {
                Some(act) => activities.push(act),
                None => sink.at(a.span(), format!("unknown activity `{}`", a.get_ref())),
            }
        }
        let mut observation_kinds = Vec::new();
        for k in &r.observation_kinds {
            match ObservationKind::parse(k.get_ref()) {
                Some(kind) => observation_kinds.push(kind),
                None => sink.at(
                    k.span(),
                    format!("unknown observation kind `{}`", k.get_ref()),
                ),
            }
        }
        if kind == Some(RuleKind::Zone) && r.zones.is_empty() {
            sink.at(
                r.id.span(),
                format!(
                    "rule `{}` of kind zone needs `zones = [...]`",
                    r.id.get_ref()
                ),
            );
        }
        if let (Some(kind), Some(severity)) = (kind, severity) {
            rules.push(Rule {
                id: r.id.into_inner(),
                kind,
                severity,
                description: r.description.unwrap_or_default(),
                zones: r.zones.into_iter().map(Spanned::into_inner).collect(),
                activities,
                observation_kinds,
                classes: r.classes.into_iter().map(Spanned::into_inner).collect(),
            });
        }
    }

    let rule_ids: BTreeSet<String> = rules.iter().map(|r| r.id.clone()).collect();
    let escalation = raw_escalation.map(|e| escalation(&mut sink, e, &party_ids, &rule_ids));

    let mut diags = sink.diags;
    diags.append(&mut geo.diags);

    // Checks across geometries, only worth doing on geometry that read cleanly.
    if diags.is_empty()
        && let Some(line) = &contact_line
    {
        diags.extend(cross_checks(file, &parties, line));
    }

    if !diags.is_empty() {
        return Err(diags);
    }
    let mut agreement = Agreement {
        id: id.unwrap_or_default(),
        title: title.unwrap_or_default(),
        version: version.unwrap_or(1),
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

/// A severity by name, or a report.
fn severity(sink: &mut Sink<'_>, name: &Spanned<String>) -> Option<Severity> {
    match name.get_ref().as_str() {
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        other => {
            sink.at(
                name.span(),
                format!("unknown severity `{other}`; expected low, medium, high or critical"),
            );
            None
        }
    }
}

/// Checks `[escalation]`: severities, parties, rules, and numbers in range.
fn escalation(
    sink: &mut Sink<'_>,
    raw: RawEscalation,
    party_ids: &BTreeSet<String>,
    rule_ids: &BTreeSet<String>,
) -> Escalation {
    let mut notify = Vec::new();
    for n in raw.notify {
        let sev = severity(sink, &n.severity);
        let span = n.parties.span();
        let (involved, parties) = match n.parties.into_inner() {
            RawRecipients::Word(w) if w == "involved" => (true, Vec::new()),
            RawRecipients::Word(w) => {
                sink.at(
                    span,
                    format!(
                        "parties = {w:?}: write \"involved\" (the parties whose area it is in or it is attributed to) or a list of party ids"
                    ),
                );
                (false, Vec::new())
            }
            RawRecipients::List(list) => {
                if list.is_empty() {
                    sink.at(
                        span.clone(),
                        "parties = []: name at least one party, or write \"involved\"",
                    );
                }
                let mut seen = BTreeSet::new();
                for p in &list {
                    if !party_ids.contains(p) {
                        sink.at(
                            span.clone(),
                            format!(
                                "escalation names unknown party `{p}`; expected one of {}",
                                party_ids.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        );
                    } else if !seen.insert(p.clone()) {
                        sink.at(span.clone(), format!("party `{p}` named twice"));
                    }
                }
                (false, seen.into_iter().collect())
            }
        };
        let within = *n.within_s.get_ref();
        if within < 1 || within > i64::from(MAX_NOTIFY_WITHIN_S) {
            sink.at(
                n.within_s.span(),
                format!(
                    "within_s {within} must be from 1 to {MAX_NOTIFY_WITHIN_S} (a week), in seconds"
                ),
            );
        }
        if let Some(severity) = sev {
            notify.push(Notify {
                severity,
                involved,
                parties,
                within_s: within.clamp(1, i64::from(MAX_NOTIFY_WITHIN_S)) as u32,
            });
        }
    }
    let mut repeat = Vec::new();
    for r in raw.repeat {
        if !rule_ids.contains(r.rule.get_ref()) {
            sink.at(
                r.rule.span(),
                format!("escalation names unknown rule `{}`", r.rule.get_ref()),
            );
        }
        let count = *r.count.get_ref();
        if !(2..=10_000).contains(&count) {
            sink.at(
                r.count.span(),
                format!("count {count} must be from 2 to 10,000 (one breach is not a repeat)"),
            );
        }
        let hours = *r.within_h.get_ref();
        if hours < 1 || hours > i64::from(MAX_REPEAT_WINDOW_H) {
            sink.at(
                r.within_h.span(),
                format!(
                    "within_h {hours} must be from 1 to {MAX_REPEAT_WINDOW_H} (a year), in hours"
                ),
            );
        }
        if let Some(to_severity) = severity(sink, &r.to_severity) {
            repeat.push(Repeat {
                rule: r.rule.into_inner(),
                count: count.clamp(2, 10_000) as u32,
                within_h: hours.clamp(1, i64::from(MAX_REPEAT_WINDOW_H)) as u32,
                to_severity,
            });
        }
    }
    Escalation { notify, repeat }
}

/// Reports a `[lon, lat]` outside lon −180…180, lat −90…90 (or not a number).
pub(crate) fn check_lonlat(sink: &mut Sink<'_>, p: &Spanned<[f64; 2]>, name: &str) {
    let [lon, lat] = *p.get_ref();
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        sink.at(
            p.span(),
            format!("{name} [{lon}, {lat}] is out of range (lon −180…180, lat −90…90)"),
        );
    }
}

pub(crate) fn check_distance_km(sink: &mut Sink<'_>, km: &Spanned<f64>, name: &str) {
    let v = *km.get_ref();
    if !v.is_finite() || v < 0.0 {
        sink.at(km.span(), format!("{name} {v} must not be negative"));
    } else if v > MAX_DISTANCE_KM {
        sink.at(
            km.span(),
            format!(
                "{name} {v} km is absurd (over {MAX_DISTANCE_KM} km); distances are in kilometres"
            ),
        );
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base_dir(file: &str) -> String {
    match file.rfind('/') {
        Some(i) => file[..=i].to_string(),
        None => String::new(),
    }
}

/// Overlapping party areas and a contact line that strays from every area.
fn cross_checks(file: &str, parties: &[Party], line: &ContactLine) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let indexes: Vec<AreaIndex> = parties
        .iter()
        .map(|p| AreaIndex::new(to_multipolygon(&p.area)))
        .collect();
    for i in 0..parties.len() {
        for j in i + 1..parties.len() {
            if let Some((km2, at)) = overlap(&parties[i].area, &parties[j].area)
                && km2 > MAX_PARTY_OVERLAP_KM2
            {
                diags.push(Diagnostic {
                    file: file.to_string(),
                    location: Location::File,
                    message: format!(
                        "party areas `{}` ({}) and `{}` ({}) overlap by {km2:.3} km² (e.g. around [{:.5}, {:.5}])",
                        parties[i].id, parties[i].area_file, parties[j].id, parties[j].area_file, at[0], at[1]
                    ),
                });
            }
        }
    }
    if !indexes.is_empty() {
        let outside: Vec<LonLat> = line
            .lines
            .iter()
            .flatten()
            .copied()
            .filter(|p| !indexes.iter().any(|a| a.contains(*p)))
            .collect();
        if let Some(first) = outside.first() {
            diags.push(Diagnostic {
                file: format!("{}{}", base_dir(file), line.geometry_file),
                location: Location::Feature { index: 0, coordinate: Some(*first) },
                message: format!(
                    "{} contact-line vertices lie outside every party's area; the line should run along the parties' areas",
                    outside.len()
                ),
            });
        }
    }
    diags
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

fn overlap(a: &[Vec<Vec<LonLat>>], b: &[Vec<Vec<LonLat>>]) -> Option<(f64, LonLat)> {
    use geo::{BooleanOps, BoundingRect, GeodesicArea, InteriorPoint, Intersects};
    let (ma, mb) = (to_multipolygon(a), to_multipolygon(b));
    let (ra, rb) = (ma.bounding_rect()?, mb.bounding_rect()?);
    if !ra.intersects(&rb) {
        return None;
    }
    let inter = ma.intersection(&mb);
    if inter.0.is_empty() {
        return None;
    }
    let km2 = inter.geodesic_area_unsigned() / 1e6;
    let at = inter
        .interior_point()
        .map(|p| [p.x(), p.y()])
        .unwrap_or([f64::NAN, f64::NAN]);
    Some((km2, at))
}

// ---------------------------------------------------------------------------------------------
// GeoJSON geometry files.

struct GeometryReader<'r, 'a> {
    base: String,
    resolve: &'r mut Resolver<'a>,
    diags: Vec<Diagnostic>,
}

impl GeometryReader<'_, '_> {
    fn read(
        &mut self,
        rel: &str,
        span: Range<usize>,
        sink: &mut Sink<'_>,
    ) -> Option<(String, Vec<GeoFeature>)> {
        let shown = format!("{}{}", self.base, rel);
        let bytes = match (self.resolve)(rel) {
            Ok(b) => b,
            Err(e) => {
                sink.at(span, format!("cannot read geometry file {shown}: {e}"));
                return None;
            }
        };
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                self.diags.push(Diagnostic {
                    file: shown,
                    location: Location::LineColumn {
                        line: e.line(),
                        column: e.column(),
                    },
                    message: format!("invalid GeoJSON: {e}"),
                });
                return None;
            }
        };
        match features(&value) {
            Ok(f) => Some((shown, f)),
            Err(message) => {
                self.diags.push(Diagnostic {
                    file: shown,
                    location: Location::File,
                    message,
                });
                None
            }
        }
    }

    fn polygons(
        &mut self,
        rel: &str,
        span: Range<usize>,
        sink: &mut Sink<'_>,
    ) -> Option<Vec<Vec<Vec<LonLat>>>> {
        let (shown, feats) = self.read(rel, span, sink)?;
        let before = self.diags.len();
        let mut out = Vec::new();
        let mut vertices = 0usize;
        for (index, f) in feats.iter().enumerate() {
            let polys: Vec<&serde_json::Value> = match f.kind.as_str() {
                "Polygon" => vec![&f.coordinates],
                "MultiPolygon" => f
                    .coordinates
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                other => {
                    self.feature_error(
                        &shown,
                        index,
                        None,
                        format!("expected Polygon or MultiPolygon, found {other}"),
                    );
                    continue;
                }
            };
            for poly in polys {
                let Some(rings) = poly.as_array() else {
                    self.feature_error(
                        &shown,
                        index,
                        None,
                        "polygon coordinates must be an array of rings".into(),
                    );
                    continue;
                };
                let mut parsed = Vec::new();
                for ring in rings {
                    let Some(pts) = self.positions(&shown, index, ring) else {
                        continue;
                    };
                    vertices += pts.len();
                    self.check_ring(&shown, index, &pts);
                    parsed.push(pts);
                }
                if !parsed.is_empty() {
                    out.push(parsed);
                }
            }
        }
        if vertices > MAX_VERTICES_PER_FILE {
            self.diags.push(Diagnostic {
                file: shown.clone(),
                location: Location::File,
                message: format!("{vertices} vertices; the limit is {MAX_VERTICES_PER_FILE}"),
            });
        }
        if out.is_empty() && self.diags.len() == before {
            self.diags.push(Diagnostic {
                file: shown,
                location: Location::File,
                message: "no polygons in file".into(),
            });
        }
        (self.diags.len() == before).then_some(out)
    }

    fn lines(
        &mut self,
        rel: &str,
        span: Range<usize>,
        sink: &mut Sink<'_>,
    ) -> Option<Vec<Vec<LonLat>>> {
        let (shown, feats) = self.read(rel, span, sink)?;
        let before = self.diags.len();
        let mut out = Vec::new();
        for (index, f) in feats.iter().enumerate() {
            let lines: Vec<&serde_json::Value> = match f.kind.as_str() {
                "LineString" => vec![&f.coordinates],
                "MultiLineString" => f
                    .coordinates
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default(),
                other => {
                    self.feature_error(
                        &shown,
                        index,
                        None,
                        format!("expected LineString or MultiLineString, found {other}"),
                    );
                    continue;
                }
            };
            for l in lines {
                if let Some(pts) = self.positions(&shown, index, l) {
                    if pts.len() < 2 {
                        self.feature_error(
                            &shown,
                            index,
                            pts.first().copied(),
                            "a line needs at least 2 positions".into(),
                        );
                    } else {
                        out.push(pts);
                    }
                }
            }
        }
        if out.is_empty() && self.diags.len() == before {
            self.diags.push(Diagnostic {
                file: shown,
                location: Location::File,
                message: "no lines in file".into(),
            });
        }
        (self.diags.len() == before).then_some(out)
    }

    fn feature_error(
        &mut self,
        file: &str,
        index: usize,
        coordinate: Option<LonLat>,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            file: file.to_string(),
            location: Location::Feature { index, coordinate },
            message,
        });
    }

    fn positions(
        &mut self,
        file: &str,
        index: usize,
        v: &serde_json::Value,
    ) -> Option<Vec<LonLat>> {
        let Some(arr) = v.as_array() else {
            self.feature_error(
                file,
                index,
                None,
                "coordinates must be an array of positions".into(),
            );
            return None;
        };
        let mut pts = Vec::with_capacity(arr.len());
        let mut ok = true;
        for p in arr {
            let nums: Option<Vec<f64>> = p
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_f64()).collect());
            match nums.as_deref() {
                Some([lon, lat, ..]) => {
                    let c = [*lon, *lat];
                    if !(-180.0..=180.0).contains(lon) || !(-90.0..=90.0).contains(lat) {
                        self.feature_error(
                            file,
                            index,
                            Some(c),
                            "coordinate out of range (lon −180…180, lat −90…90)".into(),
                        );
                        ok = false;
                    }
                    pts.push(c);
                }
                _ => {
                    self.feature_error(
                        file,
                        index,
                        None,
                        format!("{p} is not a position [lon, lat]"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(pts)
    }

    fn check_ring(&mut self, file: &str, index: usize, ring: &[LonLat]) {
        if ring.len() < 4 {
            self.feature_error(
                file,
                index,
                ring.first().copied(),
                format!(
                    "ring has {} positions; a closed ring needs at least 4",
                    ring.len()
                ),
            );
            return;
        }
        if ring.first() != ring.last() {
            self.feature_error(
                file,
                index,
                ring.last().copied(),
                format!(
                    "ring is not closed: it starts at [{}, {}]",
                    ring[0][0], ring[0][1]
                ),
            );
            return;
        }
        if let Some(at) = crate::rings::self_intersection(ring) {
            self.feature_error(file, index, Some(at), "ring intersects itself here".into());
        }
    }
}

struct GeoFeature {
    kind: String,
    coordinates: serde_json::Value,
}

/// The geometries of a FeatureCollection, a Feature or a bare geometry, in order.
fn features(v: &serde_json::Value) -> Result<Vec<GeoFeature>, String> {
    let kind = v
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("GeoJSON object has no \"type\"")?;
    match kind {
        "FeatureCollection" => {
            let feats = v
                .get("features")
                .and_then(|f| f.as_array())
                .ok_or("FeatureCollection has no \"features\" array")?;
            feats
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    geometry_of(f.get("geometry").unwrap_or(&serde_json::Value::Null))
                        .map_err(|e| format!("feature {i}: {e}"))
                })
                .collect()
        }
        "Feature" => Ok(vec![geometry_of(
            v.get("geometry").unwrap_or(&serde_json::Value::Null),
        )?]),
        _ => Ok(vec![geometry_of(v)?]),
    }
}

fn geometry_of(g: &serde_json::Value) -> Result<GeoFeature, String> {
    let kind = g
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("geometry is missing or has no \"type\"")?;
    let coordinates = g
        .get("coordinates")
        .cloned()
        .ok_or_else(|| format!("{kind} has no \"coordinates\""))?;
    Ok(GeoFeature {
        kind: kind.to_string(),
        coordinates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, text.find('=').unwrap()), (1, 3));
        assert_eq!(line_column(text, text.rfind('=').unwrap()), (2, 4));
    }
}
