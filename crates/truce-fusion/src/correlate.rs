//! Correlation: which observations describe one real-world event, and how sure we are.
//!
//! A batch is first put in canonical order — observation time, then sequence number — so the
//! same observations in any order give the same incidents. Then each observation, in that
//! order, joins the incident it most plausibly belongs to (the nearest in space and time,
//! [`SCORE_M_PER_S`], among those that pass every gate), or starts one. Gates:
//!
//! - **kind**: a fire event has two ends kilometres apart, kept as two incidents: the launch
//!   (`firing`) and the strike (explosion, impact, thermal anomaly, damage); weapons present join by class; construction and mine laying are works; movements and
//!   overflights are tracks; access denials join by place, storage checks by site; reports of
//!   unmapped type only with reports. Coverage (sensor health) is not an event and is skipped.
//! - **time**: each observation is the interval `observed_at ± time_uncertainty_s` (reaching
//!   back further for evidence that lasts: a fire burns for hours, damage stays); it must come
//!   within the kind's gate of the incident's interval, which is the union of its members'.
//! - **space**: a point must lie within both error radii plus the kind's slack of one of the
//!   incident's points; a bearing is a ray, and passes when the incident lies in front of the
//!   observer, within range, and within [`BEARING_GATE_SIGMA`] of its angular error — held
//!   only against timely, precise reports' points (else the incident's other rays): one ray
//!   cannot tell which of several salvoes a crater found hours later belongs to.
//! - **coarse reports** ([`COARSE_TIME_S`], [`COARSE_RADIUS_M`]: allegations, day-dated
//!   open-source events) may join but are not gated against while an incident has precise
//!   members, so one vague report does not bridge events. An acoustic report's interval is
//!   one-sided, `[t − u, t]`: sound arrives after the event.
//!
//! Incidents are indexed in an R-tree of 4-D boxes (Earth-centred x, y, z in metres and time
//! in seconds), so finding candidates is logarithmic; a join costs the newcomer's size (running
//! sums for location, time and grades; at most [`MAX_GATING_MEMBERS`] and
//! [`MAX_GATING_POINTS`] of an incident's newest members and points gated against), so a
//! batch of n correlates in O(n log n).
//!
//! Evidence weight: each report's weight is its source's Admiralty reliability × the
//! information's credibility ([`reliability_weight`], [`credibility_weight`]). Independence is
//! by source, not by kind: one platform ([`platform_of`]) counts once — its best report;
//! different teams, drones, sensors and satellites are independent, those of one kind
//! discounted by [`SAME_KIND_FACTOR`] for shared failure modes; everything combines by
//! noisy-OR. An incident is `corroborated` when [`CORROBORATING_SOURCES`] independent
//! monitoring platforms saw it (a party's allegation is not the monitor's observation and does
//! not count) — never on one source's grade alone.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, Envelope, RTree, RTreeObject};
use serde::{Deserialize, Serialize};
use smallvec::{SmallVec, smallvec};
use truce_core::assess::{Assessment, Engine};
use truce_core::observation::{Observation, ObservationKind, Place, Reliability, SourceKind};
use truce_geo::{LonLat, azimuth_deg, destination, distance_m};

use crate::attribute::{PartySuggestion, Suggestion, suggest};
use crate::triangulate::{BearingObs, Origin, angle_diff_deg, triangulate};

/// Fire events (explosion, impact, firing): seconds beyond both time intervals. A salvo's
/// rounds land within a minute, and the sound's delay is already in an acoustic report's
/// uncertainty; the next salvo, minutes later, is another event, and so is returned fire.
pub const FIRE_TIME_GATE_S: f64 = 60.0;
/// How long before a thermal anomaly the fire behind it may have started, seconds: a fire set
/// by shelling burns for hours, and a satellite pass sees it whenever it comes over.
pub const THERMAL_LOOKBACK_S: f64 = 3.0 * 3600.0;
/// How long before an impact or damage is reported the shelling that caused it may have been,
/// seconds: craters stay fresh for a day, and patrols and drones find them hours later.
pub const CRATER_LOOKBACK_S: f64 = 24.0 * 3600.0;
/// Ranking candidates that pass every gate: metres of distance one second of time gap weighs
/// as, so a late crater report joins the nearest shelling in space *and* time (an hour ≈ 3.6 km).
pub const SCORE_M_PER_S: f64 = 1.0;
/// Two bearings from places closer than this (metres) cannot fix a point: their rays meet at
/// the observer. One array hearing a launch and then the detonation is two events, not a fix.
pub const MIN_BASELINE_M: f64 = 100.0;
/// Fire events: metres beyond both error radii. Rounds of one salvo spread over a few
/// hundred metres; an impact area is up to a kilometre across.
pub const FIRE_SPACE_SLACK_M: f64 = 1_000.0;
/// Weapons present: seconds beyond both intervals. A battery stays for hours to days, and
/// daylight sorties and patrols see it again the next morning, up to a night (~19 h) later.
pub const WEAPON_TIME_GATE_S: f64 = 24.0 * 3600.0;
/// Weapons present: metres beyond both radii. A battery's position is a few hundred metres
/// of tree line; it may reposition within a kilometre.
pub const WEAPON_SPACE_SLACK_M: f64 = 1_000.0;
/// Works (construction, mine laying) persist: seconds beyond both intervals.
pub const WORKS_TIME_GATE_S: f64 = 48.0 * 3600.0;
/// Works: metres beyond both radii — a trench line or a minefield is up to a kilometre long.
pub const WORKS_SPACE_SLACK_M: f64 = 1_000.0;
/// Tracks (movement, overflight): seconds beyond both intervals. A column is seen by a drone
/// and reported by a party within the hour.
pub const TRACK_TIME_GATE_S: f64 = 3600.0;
/// Tracks: metres between the nearest vertices beyond both radii. A column moves 15–30 km/h;
/// two sightings minutes apart are a few kilometres apart.
pub const TRACK_SPACE_SLACK_M: f64 = 3_000.0;
/// Access denials: seconds beyond both intervals. A checkpoint turns a patrol back once; a
/// complaint about it follows the same day.
pub const ACCESS_TIME_GATE_S: f64 = 12.0 * 3600.0;
/// Access denials and unmapped reports: metres beyond both radii — one checkpoint.
pub const PLACE_SPACE_SLACK_M: f64 = 500.0;
/// Storage checks of one site: seconds beyond both intervals. One inspection is one day.
pub const STORAGE_TIME_GATE_S: f64 = 12.0 * 3600.0;
/// Unmapped reports: seconds beyond both intervals.
pub const REPORT_TIME_GATE_S: f64 = 3600.0;
/// A bearing passes near a point when the point lies within this many of the bearing's
/// standard deviations of its ray (plus the point's radius): 3σ holds 99.7 % of true targets.
pub const BEARING_GATE_SIGMA: f64 = 3.0;
/// How far a bearing without `max_range_m` can see, metres: acoustic arrays hear guns to
/// 25 km, beyond any camera.
pub const DEFAULT_BEARING_RANGE_M: f64 = 25_000.0;
/// The smallest error radius, metres, used to weight a point: a stated 0 (a GPS fix) would
/// give one report infinite weight in the fused location.
pub const MIN_RADIUS_M: f64 = 10.0;
/// At most this many vertices of a track are kept for gating: a 100,000-vertex track would
/// otherwise dominate the cost; 64 vertices of a 20 km track are 300 m apart.
pub const MAX_TRACK_ANCHORS: usize = 64;
/// At most this many of an incident's newest members are gated against in time (members
/// arrive in time order, so the newest are the ones a new report can follow), for the same
/// reason as [`MAX_GATING_POINTS`].
pub const MAX_GATING_MEMBERS: usize = 256;
/// At most this many of an incident's newest points are gated against (older ones count
/// through the fused location): a trench seen daily for months would otherwise make each new
/// sighting cost the whole history.
pub const MAX_GATING_POINTS: usize = 256;
/// A report whose stated time is uncertain by more than this (seconds) is *coarse*: a
/// party's allegation (± 30 min) or an open-source event dated to the day cannot tell apart
/// salvoes minutes apart. It may join an incident, but while the incident has precise
/// members it is not gated against — otherwise one vague report bridges several events.
pub const COARSE_TIME_S: f64 = 600.0;
/// A report whose error radius exceeds this (metres) is *coarse* (see [`COARSE_TIME_S`]): an
/// allegation placed within 2 km, an open-source event placed in a town or a district,
/// cannot tell apart batteries or impact areas a kilometre apart.
pub const COARSE_RADIUS_M: f64 = 1_000.0;
/// How much a second (third …) independent source of the same kind adds, as a factor on its
/// weight, for the failure modes one kind shares: three ground teams of grade C3 (0.42 each)
/// give 1 − 0.58 × 0.79² ≈ 0.64, a drone and a camera more. Two teams are still two sources.
pub const SAME_KIND_FACTOR: f64 = 0.5;
/// Independent monitoring platforms needed for `corroborated`: two. Never one, whatever its
/// grade; never an allegation.
pub const CORROBORATING_SOURCES: usize = 2;
/// The least ratio of two weapon counts (smaller / larger) for two sightings of one class to be
/// one battery: 0.5. Observers miss some of a battery (the simulated drones see each weapon
/// 85 % of the time; a tree line hides more), so 3 and 4, or 2 and 4, are one group; 2 and 6 are
/// two. Counts of 1 say "at least one" (a CoT marker always carries 1) and party allegations
/// inflate counts, so neither is compared.
pub const WEAPON_COUNT_RATIO: f64 = 0.5;
/// How long before a strike's first timely report the firing that caused it may have been
/// seen or heard, seconds: a shell or rocket flies under a minute to 20 km, and the sound of
/// a launch reaches an array up to a minute late (both already in the reports' uncertainty).
pub const LINK_TIME_S: f64 = 120.0;
/// The farthest a strike is linked to a firing when no calibre says otherwise, metres: the
/// tube and rocket artillery of the Minsk withdrawal classes reach 15–21 km (BM-21 20.4 km);
/// 25 km also covers 152 mm with assisted rounds.
pub const LINK_RANGE_M: f64 = 25_000.0;
/// Mean Earth radius (m) for the index's Earth-centred coordinates (not for distances).
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Admiralty reliability as a probability that a report from the source is right. A
/// completely reliable source is still not certain; F (cannot be judged) sits at a coin toss.
pub fn reliability_weight(r: Reliability) -> f64 {
    match r {
        Reliability::A => 0.95,
        Reliability::B => 0.8,
        Reliability::C => 0.6,
        Reliability::D => 0.4,
        Reliability::E => 0.2,
        Reliability::F => 0.5,
    }
}

/// Admiralty credibility of the information as a factor: 1 confirmed … 5 improbable; 6
/// (cannot be judged) neither helps nor damns much.
pub fn credibility_weight(c: u8) -> f64 {
    match c {
        1 => 1.0,
        2 => 0.85,
        3 => 0.7,
        4 => 0.5,
        5 => 0.25,
        _ => 0.6,
    }
}

/// What kind of event an incident is; observations only join incidents of their group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventGroup {
    /// The launch end of a fire event: `firing` (seen at the weapon, or a bearing to it).
    Firing,
    /// The landing end: explosion, impact, thermal anomaly (a fire it set), damage.
    Strike,
    /// Weapons present, by class.
    Weapon(String),
    /// Construction, mine laying.
    Works,
    /// Movement and overflight tracks.
    Track,
    /// Access denied, by place.
    AccessDenied,
    /// Storage checks, by site.
    Storage(String),
    /// Reports of unmapped type.
    Report,
}

impl EventGroup {
    /// Its name in tables and listings: `firing`, `strike`, `weapon:<class>`, `works`,
    /// `track`, `access_denied`, `storage:<site>`, `report`.
    pub fn name(&self) -> String {
        match self {
            Self::Firing => "firing".into(),
            Self::Strike => "strike".into(),
            Self::Weapon(class) => format!("weapon:{class}"),
            Self::Works => "works".into(),
            Self::Track => "track".into(),
            Self::AccessDenied => "access_denied".into(),
            Self::Storage(site) => format!("storage:{site}"),
            Self::Report => "report".into(),
        }
    }

    /// The group of an observation; None for coverage, which is sensor health, not an event.
    pub fn of(obs: &Observation) -> Option<EventGroup> {
        let p = &obs.properties;
        Some(match p.kind {
            ObservationKind::Firing => EventGroup::Firing,
            ObservationKind::Explosion
            | ObservationKind::Impact
            | ObservationKind::ThermalAnomaly
            | ObservationKind::Damage => EventGroup::Strike,
            ObservationKind::WeaponPresent => EventGroup::Weapon(
                p.weapon
                    .as_ref()
                    .map(|w| w.class.clone())
                    .unwrap_or_default(),
            ),
            ObservationKind::Construction | ObservationKind::MineLaying => EventGroup::Works,
            ObservationKind::Movement | ObservationKind::Overflight => EventGroup::Track,
            ObservationKind::AccessDenied => EventGroup::AccessDenied,
            ObservationKind::StorageCheck => EventGroup::Storage(
                p.storage
                    .as_ref()
                    .map(|s| s.site.clone())
                    .unwrap_or_default(),
            ),
            ObservationKind::Report => EventGroup::Report,
            ObservationKind::Coverage => return None,
        })
    }

    /// (time gate s, space slack m) of the group.
    fn gates(&self) -> (f64, f64) {
        match self {
            EventGroup::Firing | EventGroup::Strike => (FIRE_TIME_GATE_S, FIRE_SPACE_SLACK_M),
            EventGroup::Weapon(_) => (WEAPON_TIME_GATE_S, WEAPON_SPACE_SLACK_M),
            EventGroup::Works => (WORKS_TIME_GATE_S, WORKS_SPACE_SLACK_M),
            EventGroup::Track => (TRACK_TIME_GATE_S, TRACK_SPACE_SLACK_M),
            EventGroup::AccessDenied => (ACCESS_TIME_GATE_S, PLACE_SPACE_SLACK_M),
            EventGroup::Storage(_) => (STORAGE_TIME_GATE_S, f64::INFINITY),
            EventGroup::Report => (REPORT_TIME_GATE_S, PLACE_SPACE_SLACK_M),
        }
    }
}

/// Where an incident stands in its lifecycle (the later states need analysts and teams).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IncidentState {
    SingleSource,
    Corroborated,
}

impl IncidentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleSource => "single_source",
            Self::Corroborated => "corroborated",
        }
    }
}

/// The observations that describe one real-world event, fused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `inc-<seq>` of the observation that started it: stable across runs and batch orders.
    pub id: String,
    pub group: EventGroup,
    // The three lists below are inline while short, at no cost in size (a `Vec`'s 24 bytes):
    // most incidents have one observation of one kind from one kind of source, and three
    // allocations an incident were ~100 bytes of a million incidents' memory.
    /// The kinds of its observations, sorted.
    pub kinds: SmallVec<[ObservationKind; 16]>,
    /// Sequence numbers of its observations, sorted; never empty.
    pub observation_seqs: SmallVec<[u64; 2]>,
    /// Fused location: the inverse-variance mean of its points; else the fix of its bearings;
    /// None for bearings that do not (yet) fix a point.
    pub location: Option<LonLat>,
    /// One-sigma-like radius of `location`, metres.
    pub radius_m: Option<f64>,
    /// The union of its observations' time intervals.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Evidence weight in [0, 1] (module doc).
    pub confidence: f64,
    pub state: IncidentState,
    /// The distinct source kinds that reported it, sorted.
    pub source_kinds: SmallVec<[SourceKind; 16]>,
    /// Independent monitoring platforms that reported it (parties' desks not counted):
    /// `corroborated` needs [`CORROBORATING_SOURCES`].
    pub independent_sources: usize,
    /// The firing position fixed from two or more `firing` bearings (its `used` and `rejected`
    /// index the incident's firing bearings in canonical order: time, then seq).
    pub origin: Option<Box<Origin>>,
    /// Who fired, suggested from `origin`; never from impacts.
    pub attribution: Option<Box<Suggestion>>,
    /// Rule ids its observations may breach, sorted.
    pub breaches: Vec<String>,
    /// The `observed_at` (the report's stated time, not the start of its uncertainty
    /// interval) of the observation whose joining first made the incident `corroborated`;
    /// None while it is single-source. From the data only: within a batch members join in
    /// canonical order (time, then seq), so it is the same for any order of the batch.
    pub corroborated_at: Option<DateTime<Utc>>,
    /// The parties its observations' breaches name as presumed responsible, each with the
    /// summed evidence weight (reliability × credibility) of the observations naming it — an
    /// observation counts once per party however many rules it breaches. Impacts, explosions,
    /// hotspots and bare bearings never name a party (the core's rule), so never vote.
    /// See [`crate::attribute::suggested_party`].
    pub breach_parties: BTreeMap<String, f64>,
    /// The party the evidence suggests and why ([`crate::attribute::suggested_party`]), kept
    /// up to date as members join: the one suggestion every surface shows. Never official:
    /// that takes an analyst's `attribute` decision.
    pub suggested: Option<Box<PartySuggestion>>,
    /// Strike ↔ firing: for a strike, the firing that caused it; for a firing, the strikes it
    /// caused — each with the other end's place, the firing side's party and the basis
    /// ([`Fusion`] links each strike to its most plausible firing).
    pub links: Vec<Link>,
    /// Where fire came from when no firing position is fixed: a crater analysis (direction and
    /// calibre → a range band) or a lone firing bearing held against the strike it caused
    /// (ray ∩ weapon range), stated with the party whose area holds all of it
    /// ([`crate::attribute::fire_area_from_craters`], [`crate::attribute::fire_area_from_rays`]).
    pub fire_area: Option<Box<Suggestion>>,
    /// Its observations that are bearings (an acoustic array's, a camera's), by seq: the rays
    /// behind its location or origin, drawn as such on a map. Sensor positions: staff only.
    pub bearings: Vec<BearingRay>,
}

/// A bearing among an incident's observations: from where, which way, how sure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BearingRay {
    /// The observation's log seq.
    pub seq: u64,
    /// The observer's place.
    pub observer: LonLat,
    /// From true north, clockwise, degrees.
    pub azimuth_deg: f64,
    /// One-sigma error of the azimuth, degrees.
    pub error_deg: f64,
    /// How far the observer can sense, metres, when the report says.
    pub max_range_m: Option<f64>,
    /// A bearing to a firing (its rays fix the origin of fire), not to an impact.
    pub firing: bool,
}

/// One end of a strike ↔ firing link, as the incident at the other end sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The incident at the other end.
    pub incident: String,
    /// Its place: the firing position (or the strike's impact, from a firing).
    pub location: Option<LonLat>,
    /// The party the firing side suggests, when it names one.
    pub party: Option<String>,
    /// Why the two are linked: "firing inc-12 38 s before, 9.4 km away (within 21 km)".
    pub basis: String,
}

/// What the correlator keeps of an observation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Member {
    seq: u64,
    kind: ObservationKind,
    /// `observed_at`, seconds.
    at: f64,
    lo: f64,
    hi: f64,
    /// Shared with every member and incident that names it ([`Names`]).
    source_id: Name,
    source_kind: SourceKind,
    weight: f64,
    /// Points with radius (a Point; a track's vertices; an area's centroid). Most members
    /// have one, kept inline: gating walks the newest 256 members' points, and a pointer to
    /// chase for each was a cache miss each.
    anchors: SmallVec<[Anchor; 1]>,
    /// Boxed, like `crater`: few members have one, and inline they were a third of a member.
    bearing: Option<Box<BearingObs>>,
    breaches: Vec<Name>,
    /// The distinct parties its breaches name as presumed responsible, sorted.
    parties: Vec<Name>,
    /// Too vague to tell events apart ([`COARSE_TIME_S`], [`COARSE_RADIUS_M`]).
    coarse: bool,
    /// Weapons counted, when the count says something ([`counted`]).
    count: Option<u32>,
    /// A crater analysis in the remarks: (azimuth fire came from, σ, calibre mm).
    crater: Option<Box<(f64, f64, Option<u32>)>>,
    /// Its own source calls it doubtful or improbable (credibility 4 or 5: "possible explosion
    /// heard, unconfirmed"): its breaches are held back until another source corroborates.
    doubtful: bool,
}

type Entry = GeomWithData<Rectangle<[f64; 4]>, usize>;

/// A name members repeat — a source id, a rule, a party — held once: a feed's every
/// observation names the same satellite, and a zone's every breach the same rule. Also the
/// words of a [`crate::ledger::Transition`] (every detected incident's first step says the same
/// thing about its feed). Serialised as the string it is; read back inside
/// [`Names::decoding`] (a ledger snapshot), equal names come back as one allocation again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(Arc<str>);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the two are one allocation (held once), not merely equal.
    pub fn is_shared_with(&self, other: &Name) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(Arc::from(s))
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name(Arc::from(s))
    }
}

thread_local! {
    /// The names of the snapshot being decoded on this thread ([`Names::decoding`]).
    static DECODING: RefCell<Option<Names>> = const { RefCell::new(None) };
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Name;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Name, E> {
                Ok(DECODING.with_borrow_mut(|names| match names {
                    Some(names) => names.get(s),
                    None => Name::from(s),
                }))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// The set of [`Name`]s a [`Fusion`] holds, one allocation each.
#[derive(Debug, Default, Clone)]
pub(crate) struct Names(HashSet<Arc<str>>);

impl Names {
    pub(crate) fn get(&mut self, name: &str) -> Name {
        if let Some(a) = self.0.get(name) {
            return Name(Arc::clone(a));
        }
        let a: Arc<str> = Arc::from(name);
        self.0.insert(Arc::clone(&a));
        Name(a)
    }

    /// Adds the names of `other` not held here (decoded apart: the names of its objects stay
    /// theirs, so a name both held is held twice — a few strings, not one per object).
    pub(crate) fn merge(&mut self, other: Names) {
        // A set keeps the name it holds when an equal one is inserted.
        self.0.extend(other.0);
    }

    /// Runs `decode` (on this thread) with the names it reads shared, and returns them with
    /// what it decoded: decoding a snapshot allocates each distinct name once, not once per
    /// member.
    pub(crate) fn decoding<T>(decode: impl FnOnce() -> T) -> (T, Names) {
        let outer = DECODING.replace(Some(Names::default()));
        let decoded = decode();
        let names = DECODING.replace(outer).unwrap_or_default();
        (decoded, names)
    }
}

/// A point with its radius, and the point on the sphere ([`ecef`]) that gating compares by
/// chord: computed once when the member is made (or read back from a snapshot, which keeps only
/// the point and radius), not on every gate — the sines and cosines of an incident's 256 newest
/// points were a quarter of the server's ingest of a dense feed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(from = "(LonLat, f64)", into = "(LonLat, f64)")]
struct Anchor {
    p: LonLat,
    r: f64,
    c: [f64; 3],
}

impl From<(LonLat, f64)> for Anchor {
    fn from((p, r): (LonLat, f64)) -> Anchor {
        Anchor { p, r, c: ecef(p) }
    }
}

impl From<Anchor> for (LonLat, f64) {
    fn from(a: Anchor) -> (LonLat, f64) {
        (a.p, a.r)
    }
}

/// Running inverse-variance sums of points, averaged on a plane around the first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Points {
    /// The first point: the centre of the plane the location is averaged on.
    centre: Option<LonLat>,
    /// Σ w, Σ w·east, Σ w·north (w = 1/r², east and north in metres around `centre`).
    w: f64,
    east: f64,
    north: f64,
}

impl Points {
    fn add(&mut self, p: LonLat, r: f64) {
        let c = *self.centre.get_or_insert(p);
        let w = 1.0 / (r * r);
        let (d, a) = (distance_m(c, p), azimuth_deg(c, p).to_radians());
        self.w += w;
        self.east += w * d * a.sin();
        self.north += w * d * a.cos();
    }

    /// The inverse-variance mean of the points and its radius, when there are points.
    fn location(&self) -> Option<(LonLat, f64)> {
        let c = self.centre?;
        let (e, n) = (self.east / self.w, self.north / self.w);
        let p = if e == 0.0 && n == 0.0 {
            c
        } else {
            destination(c, e.atan2(n).to_degrees(), e.hypot(n))
        };
        Some((p, (1.0 / self.w).sqrt()))
    }
}

/// Running sums of an incident, so a join costs the newcomer's size, not the incident's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Sums {
    /// Points of precise members, and of coarse ones (which locate only when nothing else
    /// does: [`COARSE_RADIUS_M`]).
    precise: Points,
    coarse: Points,
    /// The union of the members' intervals, seconds.
    lo: f64,
    hi: f64,
    /// The best weight each source (kind, id) gave, sorted by source: one source counts
    /// once. A sorted `Vec`, not a `BTreeMap`: most incidents have one or two sources, and a
    /// map's first node alone is ~450 bytes an incident.
    by_source: Vec<((SourceKind, Name), f64)>,
    /// What doubtful reports say, held back until the incident is corroborated (None: none
    /// held, which is most incidents — boxed, it costs them 8 bytes, not 48).
    held: Option<Box<Held>>,
}

/// The breaches and parties of an incident's doubtful reports (credibility 4–5), not yet the
/// incident's: a report its own source doubts does not put an incident in breach alone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Held {
    rules: Vec<String>,
    parties: BTreeMap<String, f64>,
}

impl Sums {
    fn add_grade(&mut self, m: &Member) {
        let key = (m.source_kind, &*m.source_id);
        match self
            .by_source
            .binary_search_by(|((kind, id), _)| (*kind, &**id).cmp(&key))
        {
            Ok(i) => self.by_source[i].1 = self.by_source[i].1.max(m.weight),
            Err(i) => self
                .by_source
                .insert(i, ((m.source_kind, m.source_id.clone()), m.weight)),
        }
    }
}

/// The R-tree over the incidents' boxes. After a restore it is bulk-loaded on a thread of its
/// own while the rest of the restart goes on (at a million incidents the load is ~0.4 s, and
/// nothing gates a report until the restart is over), and waited for when first used.
struct BoxTree {
    ready: OnceLock<RTree<Entry>>,
    loading: Mutex<Option<std::thread::JoinHandle<RTree<Entry>>>>,
}

impl BoxTree {
    fn of(tree: RTree<Entry>) -> BoxTree {
        BoxTree {
            ready: OnceLock::from(tree),
            loading: Mutex::new(None),
        }
    }

    /// The tree of `boxes`, loaded on another thread.
    fn loading(boxes: Vec<Entry>) -> BoxTree {
        BoxTree {
            ready: OnceLock::new(),
            loading: Mutex::new(Some(std::thread::spawn(move || RTree::bulk_load(boxes)))),
        }
    }

    fn get(&self) -> &RTree<Entry> {
        self.ready.get_or_init(|| {
            let handle = self
                .loading
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .expect("a tree not ready is loading");
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn get_mut(&mut self) -> &mut RTree<Entry> {
        self.get();
        self.ready.get_mut().expect("loaded above")
    }
}

/// The fusion engine: incidents so far, and the index over them.
pub struct Fusion {
    engine: Arc<Engine>,
    /// Shared (copy on write) with the read snapshots made of them: a snapshot holds the
    /// same incidents, not copies, until one changes.
    incidents: Vec<Arc<Incident>>,
    members: Vec<Vec<Member>>,
    sums: Vec<Sums>,
    boxes: Vec<Entry>,
    tree: BoxTree,
    /// Where each incident's gating points are ([`Reach`]), for incidents of
    /// [`REACH_MEMBERS`] or more; kept as members join, made again when a snapshot is
    /// restored.
    reach: Vec<Option<Box<Reach>>>,
    skipped: usize,
    /// For a strike, the firing it is linked to; for a firing, its strikes.
    fired_by: Vec<Option<usize>>,
    caused: Vec<BTreeSet<usize>>,
    /// Incidents other than the one an observation joined that the last joins changed (a link
    /// made or moved): [`Fusion::take_changed`].
    changed: BTreeSet<usize>,
    names: Names,
}

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9
}

fn ecef(p: LonLat) -> [f64; 3] {
    let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
    [
        EARTH_RADIUS_M * lat.cos() * lon.cos(),
        EARTH_RADIUS_M * lat.cos() * lon.sin(),
        EARTH_RADIUS_M * lat.sin(),
    ]
}

/// A 4-D box around points (each grown by its radius plus `grow_m`) and a time interval.
fn bbox(points: &[Anchor], grow_m: f64, lo: f64, hi: f64) -> AABB<[f64; 4]> {
    let mut min = [f64::INFINITY, f64::INFINITY, f64::INFINITY, lo];
    let mut max = [f64::NEG_INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY, hi];
    for &Anchor { r, c, .. } in points {
        for d in 0..3 {
            min[d] = min[d].min(c[d] - r - grow_m);
            max[d] = max[d].max(c[d] + r + grow_m);
        }
    }
    AABB::from_corners(min, max)
}

impl Member {
    fn new(
        seq: u64,
        obs: &Observation,
        place: &Place,
        a: &Assessment,
        names: &mut Names,
    ) -> Member {
        let p = &obs.properties;
        let t = secs(p.observed_at);
        let radius = p.error_radius_m.max(MIN_RADIUS_M);
        let anchors = match place {
            Place::Point(pt) if p.bearing.is_none() => smallvec![Anchor::from((*pt, radius))],
            Place::Point(_) => SmallVec::new(),
            Place::Track(pts) => {
                let step = pts.len().div_ceil(MAX_TRACK_ANCHORS).max(1);
                let mut v: SmallVec<[Anchor; 1]> = pts
                    .iter()
                    .step_by(step)
                    .map(|&q| Anchor::from((q, radius)))
                    .collect();
                v.push(Anchor::from((pts[pts.len() - 1], radius)));
                v
            }
            Place::Area(rings) => {
                let n = (rings[0].len() - 1).max(1) as f64;
                let c = rings[0][..rings[0].len() - 1]
                    .iter()
                    .fold([0.0, 0.0], |s, q| [s[0] + q[0] / n, s[1] + q[1] / n]);
                smallvec![Anchor::from((c, radius))]
            }
        };
        let bearing = match (place, &p.bearing) {
            (Place::Point(o), Some(b)) => Some(Box::new(BearingObs {
                observer: *o,
                azimuth_deg: b.azimuth_deg,
                error_deg: b.error_deg,
                max_range_m: b.max_range_m,
            })),
            _ => None,
        };
        // Sound arrives after the event, never before: an acoustic report's time is the
        // arrival, so the event lies in [t − uncertainty, t].
        let late_by = if p.source.kind == SourceKind::Acoustic {
            0.0
        } else {
            p.time_uncertainty_s
        };
        let hi = p.timestamps.last().map_or(t, |&e| secs(e)) + late_by;
        // A bearing's place is its observer's, not the event's: what its breaches say of the
        // place (a zone, a party area) is about the observer, so it names nobody here.
        let mut parties: Vec<Name> = if p.bearing.is_some() {
            Vec::new()
        } else {
            a.breaches
                .iter()
                .filter_map(|b| b.party.as_deref())
                .map(|n| names.get(n))
                .collect()
        };
        parties.sort();
        parties.dedup();
        Member {
            seq,
            kind: p.kind,
            at: t,
            lo: t - p.time_uncertainty_s,
            hi,
            source_id: names.get(&p.source.id),
            source_kind: p.source.kind,
            weight: reliability_weight(p.source.reliability)
                * credibility_weight(p.source.credibility),
            anchors,
            bearing,
            breaches: a.breaches.iter().map(|b| names.get(&b.rule)).collect(),
            parties,
            coarse: p.time_uncertainty_s > COARSE_TIME_S || p.error_radius_m > COARSE_RADIUS_M,
            count: counted(obs),
            crater: crate::attribute::crater_analysis(obs).map(Box::new),
            doubtful: matches!(p.source.credibility, 4 | 5),
        }
    }

    /// How a member serves as what others are gated against in time: 0 a timely, precise
    /// report; 1 a timely, coarse one; 2 late evidence (a kind that reaches back). Only the
    /// best tier an incident has is gated against.
    fn tier(&self) -> u8 {
        if self.lookback_s() > 0.0 {
            2
        } else if self.coarse {
            1
        } else {
            0
        }
    }

    /// How far back before its interval the event it shows may have begun.
    fn lookback_s(&self) -> f64 {
        match self.kind {
            ObservationKind::ThermalAnomaly => THERMAL_LOOKBACK_S,
            ObservationKind::Impact | ObservationKind::Damage => CRATER_LOOKBACK_S,
            _ => 0.0,
        }
    }

    /// The points and radii this member occupies, for the index: its anchors, or its ray.
    fn extent(&self) -> Vec<Anchor> {
        match &self.bearing {
            Some(b) => {
                let range = b.max_range_m.unwrap_or(DEFAULT_BEARING_RANGE_M);
                // Ray ends and middle; the slack covers the ray's sideways spread.
                // (The angle is capped short of a right angle, where the cone stops being a cone.)
                let half = (BEARING_GATE_SIGMA * b.error_deg).min(80.0);
                let spread = range * half.to_radians().tan();
                let mid = destination(b.observer, b.azimuth_deg, range / 2.0);
                let end = destination(b.observer, b.azimuth_deg, range);
                [(b.observer, spread), (mid, spread), (end, spread)]
                    .into_iter()
                    .map(Anchor::from)
                    .collect()
            }
            None => self.anchors.to_vec(),
        }
    }
}

/// The time gap (s) between `m` and the incident's members, or None when beyond the gate.
/// Late evidence (a crater, a hotspot: kinds that reach back) may join an event it follows,
/// but does not itself extend the time others are gated against — unless nothing else is
/// there, so that a crater seen twice is still one incident.
///
/// One pass over the members (this runs for every candidate incident of every observation,
/// over up to [`MAX_GATING_MEMBERS`]): the best tier so far, and the first of the smallest gaps
/// among that tier's members, as `min_by` would pick.
fn time_gap(members: &[Member], m: &Member, gate: f64) -> Option<f64> {
    let mut best_tier = u8::MAX;
    let mut best: Option<f64> = None;
    for x in members {
        let tier = x.tier();
        if tier > best_tier {
            continue;
        }
        if tier < best_tier {
            best_tier = tier;
            best = None;
        }
        let gap = (m.lo - x.hi).max(x.lo - m.hi).max(0.0);
        let back = if m.lo >= x.hi {
            m.lookback_s()
        } else {
            x.lookback_s()
        };
        if gap <= gate + back && best.is_none_or(|b| gap.total_cmp(&b).is_lt()) {
            best = Some(gap);
        }
    }
    best
}

/// The points an incident with `members` is gated against (its location aside): the newest
/// [`MAX_GATING_POINTS`] of its members' points — of its precise members' when it has any.
fn gating_points(members: &[Member]) -> impl Iterator<Item = Anchor> + '_ {
    let precise = members.iter().any(|x| !x.coarse);
    members
        .iter()
        .rev()
        .filter(move |x| !precise || !x.coarse)
        .flat_map(|x| x.anchors.iter().copied())
        .take(MAX_GATING_POINTS)
}

/// The chord between two points on the sphere (m).
fn chord_m(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Kept from a decision that [`Fusion::out_of_reach`] takes on rounded numbers (m).
const REACH_MARGIN_M: f64 = 0.001;

/// The box (in chord space) around an incident's gating points ([`gating_points`]) and the
/// largest of their radii.
#[derive(Debug, Clone, Copy)]
struct Reach {
    min: [f64; 3],
    max: [f64; 3],
    r: f64,
}

/// An incident with fewer members is walked, not boxed: a box would save little and cost
/// memory for each of the many small incidents.
const REACH_MEMBERS: usize = 8;

impl Reach {
    /// The reach of an incident with `members`, if it has [`REACH_MEMBERS`] or more and
    /// gating points.
    fn of_members(members: &[Member]) -> Option<Box<Reach>> {
        if members.len() < REACH_MEMBERS {
            return None;
        }
        Reach::of(gating_points(members)).map(Box::new)
    }

    /// None for no points.
    fn of(points: impl Iterator<Item = Anchor>) -> Option<Reach> {
        points.fold(None, |reach: Option<Reach>, a| {
            let mut out = reach.unwrap_or(Reach {
                min: a.c,
                max: a.c,
                r: a.r,
            });
            for d in 0..3 {
                out.min[d] = out.min[d].min(a.c[d]);
                out.max[d] = out.max[d].max(a.c[d]);
            }
            out.r = out.r.max(a.r);
            Some(out)
        })
    }

    /// The distance from `c` to the box (0 inside): no more than the chord to any point in it.
    fn distance(&self, c: [f64; 3]) -> f64 {
        c.iter()
            .zip(self.min.iter().zip(&self.max))
            .map(|(&x, (&lo, &hi))| (lo - x).max(x - hi).max(0.0).powi(2))
            .sum::<f64>()
            .sqrt()
    }
}

/// The geodesic distance from `q` (radius `rq`) to the nearest of `points` within both radii
/// plus `slack_m`. Chords on a sphere screen the points first (cheap; within 1 % of the
/// geodesic at these ranges), so only the nearest is measured on the ellipsoid — unless it
/// fails, when every candidate is. `points` gives the same points each time it is called
/// (it is walked twice at most, and nothing is collected: this runs for every candidate
/// incident of every observation).
fn nearest_within<I>(points: impl Fn() -> I, q: &Anchor, slack_m: f64) -> Option<f64>
where
    I: Iterator<Item = Anchor>,
{
    let chord = |c: [f64; 3]| chord_m(c, q.c);
    let within = |a: &Anchor, d: f64| d <= a.r + q.r + slack_m;
    let candidates = || {
        points()
            .map(|a| (chord(a.c), a))
            .filter(|&(c, a)| within(&a, 0.99 * c))
    };
    // The first of the nearest by chord, as `min_by` picks.
    let mut nearest: Option<(f64, Anchor)> = None;
    for (c, a) in candidates() {
        if nearest.is_none_or(|(b, _)| c.total_cmp(&b).is_lt()) {
            nearest = Some((c, a));
        }
    }
    let (_, a) = nearest?;
    let d = distance_m(a.p, q.p);
    if within(&a, d) {
        return Some(d);
    }
    candidates()
        .map(|(_, a)| (distance_m(a.p, q.p), a))
        .filter(|&(d, a)| within(&a, d))
        .map(|(d, _)| d)
        .min_by(f64::total_cmp)
}

/// Whether a bearing's ray passes a point of radius `r` (within `slack_m` more).
fn ray_passes(b: &BearingObs, p: LonLat, r: f64, slack_m: f64) -> Option<f64> {
    let d = distance_m(b.observer, p);
    let off = angle_diff_deg(azimuth_deg(b.observer, p), b.azimuth_deg).to_radians();
    let along = d * off.cos();
    let across = (d * off.sin()).abs();
    let range = b.max_range_m.unwrap_or(DEFAULT_BEARING_RANGE_M);
    let allowed = BEARING_GATE_SIGMA * b.error_deg.to_radians() * d + r + slack_m;
    (along > -r && along <= range + r && across <= allowed).then_some(across)
}

/// The engine's state as a ledger snapshot keeps it ([`crate::ledger::Ledger::snapshot`]):
/// everything but the terms (given again on restore) and the R-tree (bulk-loaded again from
/// the boxes), borrowed when written and owned when read. The index's shape differs from one
/// grown by inserts, which changes nothing: every search over it breaks ties by incident index.
///
/// In two parts, serialised apart so that a restart decodes them on two cores at once: the
/// incidents with their running sums, boxes and links; and the members (with the ledger's
/// records, about as long to decode as the first).
pub(crate) struct FusionState<'a> {
    pub(crate) incidents: IncidentsPart<'a>,
    pub(crate) members: MembersPart<'a>,
}

/// The incidents part of a [`FusionState`].
#[derive(Serialize, Deserialize)]
pub(crate) struct IncidentsPart<'a> {
    incidents: Cow<'a, [Arc<Incident>]>,
    sums: Cow<'a, [Sums]>,
    /// Each incident's index box: its lower and upper corners.
    boxes: Vec<([f64; 4], [f64; 4])>,
    skipped: usize,
    fired_by: Cow<'a, [Option<usize>]>,
    caused: Cow<'a, [BTreeSet<usize>]>,
}

/// The members part of a [`FusionState`].
#[derive(Serialize, Deserialize)]
pub(crate) struct MembersPart<'a> {
    members: Cow<'a, [Vec<Member>]>,
}

impl Fusion {
    /// Its state for a snapshot (the links changed since the last [`Fusion::take_changed`] are
    /// not kept: a snapshot is taken between batches).
    pub(crate) fn state(&self) -> FusionState<'_> {
        FusionState {
            incidents: IncidentsPart {
                incidents: Cow::Borrowed(&self.incidents),
                sums: Cow::Borrowed(&self.sums),
                boxes: self
                    .boxes
                    .iter()
                    .map(|b| {
                        let e = b.geom().envelope();
                        (e.lower(), e.upper())
                    })
                    .collect(),
                skipped: self.skipped,
                fired_by: Cow::Borrowed(&self.fired_by),
                caused: Cow::Borrowed(&self.caused),
            },
            members: MembersPart {
                members: Cow::Borrowed(&self.members),
            },
        }
    }

    /// The engine [`Fusion::state`] described, under `engine`'s terms; None when the parts do
    /// not fit together (one entry per incident in each).
    /// `names` are those the state was decoded with ([`Names::decoding`]).
    pub(crate) fn restore(
        engine: Arc<Engine>,
        state: FusionState<'_>,
        names: Names,
    ) -> Option<Fusion> {
        let FusionState {
            incidents: part,
            members: MembersPart { members },
        } = state;
        let n = part.incidents.len();
        if [
            members.len(),
            part.sums.len(),
            part.boxes.len(),
            part.fired_by.len(),
            part.caused.len(),
        ]
        .iter()
        .any(|&l| l != n)
        {
            return None;
        }
        let boxes: Vec<Entry> = part
            .boxes
            .iter()
            .enumerate()
            .map(|(k, &(lo, hi))| GeomWithData::new(Rectangle::from_corners(lo, hi), k))
            .collect();
        let members = members.into_owned();
        Some(Fusion {
            engine,
            incidents: part.incidents.into_owned(),
            reach: members.iter().map(|m| Reach::of_members(m)).collect(),
            members,
            sums: part.sums.into_owned(),
            tree: BoxTree::loading(boxes.clone()),
            boxes,
            skipped: part.skipped,
            fired_by: part.fired_by.into_owned(),
            caused: part.caused.into_owned(),
            changed: BTreeSet::new(),
            names,
        })
    }

    /// `s` as a [`Name`] this engine already holds, when it does (one allocation per distinct
    /// name).
    pub(crate) fn name(&mut self, s: &str) -> Name {
        self.names.get(s)
    }

    pub fn new(engine: Arc<Engine>) -> Fusion {
        Fusion {
            engine,
            incidents: Vec::new(),
            members: Vec::new(),
            sums: Vec::new(),
            boxes: Vec::new(),
            tree: BoxTree::of(RTree::new()),
            reach: Vec::new(),
            skipped: 0,
            fired_by: Vec::new(),
            caused: Vec::new(),
            changed: BTreeSet::new(),
            names: Names::default(),
        }
    }

    /// The incidents so far, in order of creation.
    pub fn incidents(&self) -> &[Arc<Incident>] {
        &self.incidents
    }

    /// Observations not correlated because they are not events (coverage).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Correlates a batch of assessed observations (`seq` unique, e.g. the log's sequence).
    /// The batch is put in canonical order first, so its order does not matter.
    pub fn fuse(&mut self, batch: &[(u64, Observation, Place, Assessment)]) {
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&batch[a], &batch[b]);
            x.1.properties
                .observed_at
                .cmp(&y.1.properties.observed_at)
                .then(x.0.cmp(&y.0))
        });
        for i in order {
            let (seq, obs, place, a) = &batch[i];
            self.fuse_one(*seq, obs, place, a);
        }
    }

    /// Correlates one observation, as [`Fusion::fuse`] does each of a batch in canonical
    /// order, and returns the index in [`Fusion::incidents`] of the incident it joined or
    /// started (None when it is not an event: coverage). Feeding a log's observations one by
    /// one in seq order is how the ledger replays it.
    pub fn fuse_one(
        &mut self,
        seq: u64,
        obs: &Observation,
        place: &Place,
        a: &Assessment,
    ) -> Option<usize> {
        let Some(group) = EventGroup::of(obs) else {
            self.skipped += 1;
            return None;
        };
        let m = Member::new(seq, obs, place, a, &mut self.names);
        let k = match self.best_candidate(&group, &m) {
            Some(k) => {
                self.add(k, m);
                k
            }
            None => {
                self.start(group, m);
                self.incidents.len() - 1
            }
        };
        self.relink(k);
        self.changed.remove(&k);
        Some(k)
    }

    /// The incidents, other than those observations joined, whose links or suggestion the
    /// joins since the last call changed (a strike's firing found later, a firing's strike):
    /// the ledger refreshes them too.
    pub fn take_changed(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.changed).into_iter().collect()
    }

    /// Recomputes the strike ↔ firing links that incident `k`'s change may have changed, and
    /// the suggestions that follow from them. A link is a function of the incidents as they
    /// stand (each strike's best firing), so it does not
    /// depend on which of two arrived first.
    fn relink(&mut self, k: usize) {
        let group = self.incidents[k].group.clone();
        let strikes: Vec<usize> = match group {
            EventGroup::Strike => vec![k],
            EventGroup::Firing => {
                let q = self.boxes[k].geom().envelope();
                let (lo, hi) = (q.lower(), q.upper());
                let g = LINK_RANGE_M;
                let t = LINK_TIME_S;
                let query = AABB::from_corners(
                    [lo[0] - g, lo[1] - g, lo[2] - g, lo[3] - t],
                    [hi[0] + g, hi[1] + g, hi[2] + g, hi[3] + t],
                );
                let mut v: Vec<usize> = self
                    .tree
                    .get()
                    .locate_in_envelope_intersecting(&query)
                    .map(|e| e.data)
                    .filter(|&j| self.incidents[j].group == EventGroup::Strike)
                    .collect();
                v.extend(self.caused[k].iter().copied());
                v.sort_unstable();
                v.dedup();
                v
            }
            _ => return,
        };
        let mut firings: BTreeSet<usize> = BTreeSet::new();
        if group == EventGroup::Firing {
            firings.insert(k);
        }
        // The strikes to refresh: `k` itself, those whose firing changed, and (below) those
        // of every firing refreshed. A strike in reach whose firing did not change, and whose
        // firing is not refreshed, would be recomputed to what it already is.
        let mut touched_strikes: BTreeSet<usize> = BTreeSet::new();
        if group == EventGroup::Strike {
            touched_strikes.insert(k);
        }
        for &s in &strikes {
            let new = self.best_firing(s);
            let old = self.fired_by[s];
            if new != old {
                if let Some(f) = old {
                    self.caused[f].remove(&s);
                    firings.insert(f);
                }
                if let Some(f) = new {
                    self.caused[f].insert(s);
                    firings.insert(f);
                }
                self.fired_by[s] = new;
                touched_strikes.insert(s);
            }
        }
        // A strike that changed (a report joined it) may have moved: the firing it stays
        // linked to shows its place in its links and may take its area from it.
        if group == EventGroup::Strike
            && let Some(f) = self.fired_by[k]
        {
            firings.insert(f);
        }
        // Firings first (their area may come from a strike's place), then their strikes.
        for &f in &firings {
            self.refresh_firing(f);
            touched_strikes.extend(self.caused[f].iter().copied());
        }
        for &s in &touched_strikes {
            self.refresh_strike(s);
        }
        self.changed.extend(firings);
        self.changed.extend(touched_strikes);
    }

    /// The firing incident that most plausibly caused strike `s`: among firings whose time
    /// comes within [`LINK_TIME_S`] of the strike's timely reports and whose place (a point, a
    /// fixed origin, or a lone ray) is within the weapon's range of the strike, the nearest in
    /// time, then in space, then the earlier. None when the strike has no timely, precise
    /// report (a crater found hours later cannot tell which salvo) or no location.
    fn best_firing(&self, s: usize) -> Option<usize> {
        let inc = &self.incidents[s];
        let at = inc.location?;
        let timely: Vec<&Member> = self.members[s].iter().filter(|m| m.tier() == 0).collect();
        let lo = timely.iter().map(|m| m.lo).min_by(f64::total_cmp)?;
        let hi = timely.iter().map(|m| m.hi).max_by(f64::total_cmp)?;
        let range = self.strike_range(s);
        let c = ecef(at);
        let g = range;
        let query = AABB::from_corners(
            [c[0] - g, c[1] - g, c[2] - g, lo - LINK_TIME_S],
            [c[0] + g, c[1] + g, c[2] + g, hi + LINK_TIME_S],
        );
        let mut best: Option<(f64, f64, usize)> = None;
        for e in self.tree.get().locate_in_envelope_intersecting(&query) {
            let f = e.data;
            if self.incidents[f].group != EventGroup::Firing {
                continue;
            }
            let fm: Vec<&Member> = self.members[f].iter().filter(|m| !m.coarse).collect();
            let (Some(flo), Some(fhi)) = (
                fm.iter().map(|m| m.lo).min_by(f64::total_cmp),
                fm.iter().map(|m| m.hi).max_by(f64::total_cmp),
            ) else {
                continue;
            };
            // Fire precedes its strike: the launch at most LINK_TIME_S before the impact
            // is heard or seen, and not after it (beyond the reports' uncertainties).
            let gap = (lo - fhi).max(0.0);
            if gap > LINK_TIME_S || flo > hi + FIRE_TIME_GATE_S {
                continue;
            }
            let Some(d) = self.firing_distance(f, at, range) else {
                continue;
            };
            if best.is_none_or(|(bg, bd, bf)| (gap, d, f) < (bg, bd, bf)) {
                best = Some((gap, d, f));
            }
        }
        best.map(|b| b.2)
    }

    /// The weapon range (m) a strike could have been fired from: the calibre of a crater
    /// analysis when a member states one, else [`LINK_RANGE_M`].
    fn strike_range(&self, s: usize) -> f64 {
        self.members[s]
            .iter()
            .filter_map(|m| m.crater.as_deref().and_then(|c| c.2))
            .map(|c| crate::attribute::range_band_m(Some(c)).1)
            .max_by(f64::total_cmp)
            .unwrap_or(LINK_RANGE_M)
    }

    /// How far (m) firing `f` is from a strike at `at` when it could have reached it: its
    /// located position within `range`, or a lone ray passing within `range`.
    fn firing_distance(&self, f: usize, at: LonLat, range: f64) -> Option<f64> {
        let inc = &self.incidents[f];
        if let Some(p) = inc.location {
            let d = distance_m(p, at);
            let r = inc.radius_m.unwrap_or(0.0);
            return (d <= range + r).then_some(d);
        }
        self.members[f]
            .iter()
            .filter_map(|m| m.bearing.as_deref())
            .filter_map(|b| crate::attribute::ray_within(b, at, range).map(|(t0, _)| t0))
            .min_by(f64::total_cmp)
    }

    /// A firing's links (its strikes), its fire area (a lone ray ∩ the strikes' ranges) and
    /// its suggestion.
    fn refresh_firing(&mut self, f: usize) {
        let strikes: Vec<usize> = self.caused[f].iter().copied().collect();
        let rays: Vec<BearingObs> = self.members[f]
            .iter()
            .filter_map(|m| m.bearing.as_deref().cloned())
            .collect();
        let located = self.incidents[f].location.is_some();
        let mut area = None;
        let mut links = Vec::new();
        for &s in &strikes {
            let si = &self.incidents[s];
            let Some(at) = si.location else { continue };
            if !located && area.is_none() {
                let range = self.strike_range(s);
                area =
                    crate::attribute::fire_area_from_rays(&self.engine, &rays, at, range, &si.id);
            }
            links.push(Link {
                incident: si.id.clone(),
                location: si.location,
                party: None,
                basis: format!("strike {} within range of this firing", si.id),
            });
        }
        let inc = Arc::make_mut(&mut self.incidents[f]);
        inc.links = links;
        inc.fire_area = area.map(Box::new);
        inc.suggested = crate::attribute::suggested_party(inc).map(Box::new);
        // The strikes' party comes from here.
        let party = inc.suggested.as_ref().map(|p| p.party.clone());
        for l in &mut Arc::make_mut(&mut self.incidents[f]).links {
            l.party = party.clone();
        }
    }

    /// A strike's link to its firing (with the firing side's party), its fire area from a
    /// crater analysis, and its suggestion.
    fn refresh_strike(&mut self, s: usize) {
        let link = self.fired_by[s].map(|f| {
            let fi = &self.incidents[f];
            let si = &self.incidents[s];
            let gap = {
                let timely = self.members[s].iter().filter(|m| m.tier() == 0);
                let lo = timely.map(|m| m.lo).fold(f64::INFINITY, f64::min);
                let fhi = self.members[f].iter().map(|m| m.hi).fold(f64::NEG_INFINITY, f64::max);
                (lo - fhi).max(0.0)
            };
            let place = match (fi.location, si.location) {
                (Some(p), Some(q)) => format!("{} away", crate::triangulate::km(distance_m(p, q))),
                _ => "its ray passing within range".into(),
            };
            Link {
                incident: fi.id.clone(),
                location: fi.location,
                party: fi.suggested.as_ref().map(|p| p.party.clone()),
                basis: format!(
                    "fired by {} ({} reports, {place}, {:.0} s before this strike's first timely report, within {:.0} s and {})",
                    fi.id,
                    fi.observation_seqs.len(),
                    gap,
                    LINK_TIME_S,
                    crate::triangulate::km(self.strike_range(s))
                ),
            }
        });
        let at = self.incidents[s].location;
        let craters: Vec<(f64, f64, Option<u32>)> = self.members[s]
            .iter()
            .filter_map(|m| m.crater.as_deref().copied())
            .collect();
        let area =
            at.and_then(|at| crate::attribute::fire_area_from_craters(&self.engine, at, &craters));
        let inc = Arc::make_mut(&mut self.incidents[s]);
        inc.links = link.into_iter().collect();
        inc.fire_area = area.map(Box::new);
        inc.suggested = crate::attribute::suggested_party(inc).map(Box::new);
    }

    /// The incident `m` most plausibly belongs to: the closest that passes every gate, ties to
    /// the earlier incident.
    fn best_candidate(&self, group: &EventGroup, m: &Member) -> Option<usize> {
        let (time_gate, slack) = group.gates();
        let grow = if slack.is_finite() { slack } else { 0.0 };
        let mut query = bbox(
            &m.extent(),
            grow,
            m.lo - m.lookback_s() - time_gate,
            m.hi + time_gate,
        );
        if !slack.is_finite() {
            // By key (a storage site), not by place: any place matches.
            let (lo, hi) = (query.lower(), query.upper());
            query = AABB::from_corners(
                [f64::MIN, f64::MIN, f64::MIN, lo[3]],
                [f64::MAX, f64::MAX, f64::MAX, hi[3]],
            );
        }
        let mut best: Option<(f64, usize)> = None;
        for e in self.tree.get().locate_in_envelope_intersecting(&query) {
            let k = e.data;
            let inc = &self.incidents[k];
            if &inc.group != group || self.out_of_reach(k, m, slack) {
                continue;
            }
            let members = &self.members[k];
            let recent = &members[members.len().saturating_sub(MAX_GATING_MEMBERS)..];
            let Some(gap) = time_gap(recent, m, time_gate) else {
                continue;
            };
            if !counts_compatible(recent, m) {
                continue;
            }
            let Some(d) = self.space_score(k, m, slack) else {
                continue;
            };
            let score = d + SCORE_M_PER_S * gap;
            if best.is_none_or(|(s, j)| score < s || (score == s && k < j)) {
                best = Some((score, k));
            }
        }
        best.map(|b| b.1)
    }

    /// Whether `m` (a point report) surely fails incident `k`'s space gate, found without
    /// walking its members: every point of `m` is farther from the box around the incident's
    /// gating points than the largest of their radii, its own and the gate allow — so
    /// [`Fusion::space_score`] would screen every gating point out by chord (its first step),
    /// and its location too, which is tried on its own. False whenever unsure: a bearing, a
    /// gate by key, an incident without gating points (located by rays).
    fn out_of_reach(&self, k: usize, m: &Member, slack: f64) -> bool {
        let Some(reach) = &self.reach[k] else {
            return false;
        };
        if m.bearing.is_some() || !slack.is_finite() || m.anchors.is_empty() {
            return false;
        }
        let screened_out =
            |a: &Anchor, chord: f64, r: f64| 0.99 * chord > r + a.r + slack + REACH_MARGIN_M;
        if !m
            .anchors
            .iter()
            .all(|a| screened_out(a, reach.distance(a.c), reach.r))
        {
            return false;
        }
        // The location's place on the sphere only when the box says out of reach.
        let inc = &self.incidents[k];
        let Some(p) = inc.location else {
            return true;
        };
        let l = Anchor::from((p, inc.radius_m.unwrap_or(MIN_RADIUS_M)));
        m.anchors
            .iter()
            .all(|a| screened_out(a, chord_m(l.c, a.c), l.r))
    }

    /// How far (m) `m` is from incident `k`, or None when it fails the space gate.
    fn space_score(&self, k: usize, m: &Member, slack: f64) -> Option<f64> {
        if !slack.is_finite() {
            return Some(0.0);
        }
        let inc = &self.incidents[k];
        // Coarse reports' points are gated against only when the incident has no precise
        // member (a point or a bearing): a bearing-only incident with an allegation is gated
        // by its rays, not by the allegation's 2 km.
        let precise = self.members[k].iter().any(|x| !x.coarse);
        let precise_points = self.members[k]
            .iter()
            .any(|x| !x.coarse && !x.anchors.is_empty());
        let located = inc
            .location
            .filter(|_| precise_points || !precise)
            .map(|p| Anchor::from((p, inc.radius_m.unwrap_or(MIN_RADIUS_M))));
        let points = || gating_points(&self.members[k]).chain(located);
        match &m.bearing {
            Some(b) => {
                // A ray is held only against points of timely, precise reports: a crater
                // found hours later or an allegation's 2 km lies on many rays of many
                // salvoes, and a ray cannot tell which.
                let timely: Vec<(LonLat, f64)> = self.members[k]
                    .iter()
                    .rev()
                    .filter(|x| x.tier() == 0)
                    .flat_map(|x| x.anchors.iter().map(|&a| (a.p, a.r)))
                    .take(MAX_GATING_POINTS)
                    .collect();
                if !timely.is_empty() {
                    return timely
                        .iter()
                        .filter_map(|&(p, r)| ray_passes(b, p, r, slack))
                        .min_by(f64::total_cmp);
                }
                // Else the incident's rays: they must meet in front of every observer.
                let mut rays: Vec<BearingObs> = self.members[k]
                    .iter()
                    .filter_map(|x| x.bearing.as_deref().cloned())
                    .collect();
                if rays.is_empty() {
                    return None;
                }
                if rays
                    .iter()
                    .any(|r| distance_m(r.observer, b.observer) < MIN_BASELINE_M)
                {
                    return None;
                }
                rays.push(BearingObs::clone(b));
                let fix = triangulate(&rays).ok().filter(|o| o.rejected.is_empty())?;
                rays.iter()
                    .all(|r| ray_passes(r, fix.point, fix.ellipse.semi_major_m, slack).is_some())
                    .then_some(0.0)
            }
            None => {
                let mut best: Option<f64> = None;
                let no_points = points().next().is_none();
                for a in &m.anchors {
                    let (q, rq) = (a.p, a.r);
                    if let Some(d) = nearest_within(points, a, slack)
                        && best.is_none_or(|b| d < b)
                    {
                        best = Some(d);
                    }
                    if no_points {
                        // Bearing-only incident: the point must lie on every ray. One ray
                        // does not locate: late or coarse evidence, which one ray cannot tell
                        // from other salvoes', needs two rays that fix a point.
                        let rays = self.members[k].iter().filter_map(|x| x.bearing.as_deref());
                        if m.tier() > 0 && inc.location.is_none() {
                            continue;
                        }
                        let worst = rays
                            .map(|b| ray_passes(b, q, rq, slack))
                            .try_fold(0.0_f64, |w, x| x.map(|x| w.max(x)));
                        if let Some(w) = worst
                            && best.is_none_or(|b| w < b)
                        {
                            best = Some(w);
                        }
                    }
                }
                best
            }
        }
    }

    fn start(&mut self, group: EventGroup, m: Member) {
        let k = self.incidents.len();
        let t = DateTime::<Utc>::from_timestamp(0, 0).expect("epoch");
        self.incidents.push(Arc::new(Incident {
            id: format!("inc-{}", m.seq),
            group,
            kinds: SmallVec::new(),
            observation_seqs: SmallVec::new(),
            location: None,
            radius_m: None,
            start: t,
            end: t,
            confidence: 0.0,
            state: IncidentState::SingleSource,
            source_kinds: SmallVec::new(),
            independent_sources: 0,
            origin: None,
            attribution: None,
            breaches: Vec::new(),
            corroborated_at: None,
            breach_parties: BTreeMap::new(),
            suggested: None,
            links: Vec::new(),
            fire_area: None,
            bearings: Vec::new(),
        }));
        self.members.push(Vec::new());
        self.fired_by.push(None);
        self.caused.push(BTreeSet::new());
        self.sums.push(Sums {
            lo: m.lo,
            hi: m.hi,
            ..Sums::default()
        });
        let placeholder = GeomWithData::new(Rectangle::from_aabb(AABB::from_point([0.0; 4])), k);
        self.boxes.push(placeholder);
        self.reach.push(None);
        self.add(k, m);
    }

    /// Adds `m` to incident `k` and updates what the incident says, and its index box. The cost
    /// is the newcomer's (plus a pass over the members' grades), not the incident's history.
    fn add(&mut self, k: usize, m: Member) {
        let sums = &mut self.sums[k];
        for &Anchor { p, r, .. } in &m.anchors {
            if m.coarse {
                sums.coarse.add(p, r);
            } else {
                sums.precise.add(p, r);
            }
        }
        sums.add_grade(&m);
        sums.lo = sums.lo.min(m.lo);
        sums.hi = sums.hi.max(m.hi);
        let (lo, hi) = (sums.lo, sums.hi);
        let located = sums.precise.location();
        let vaguely = sums.coarse.location();
        let firing_bearing = m.kind == ObservationKind::Firing && m.bearing.is_some();
        let mut extent = m.extent();
        let reach = m.lo - m.lookback_s();
        let inc = Arc::make_mut(&mut self.incidents[k]);
        insert_sorted_inline(&mut inc.observation_seqs, m.seq);
        if let Some(b) = &m.bearing {
            let at = inc.bearings.partition_point(|x| x.seq < m.seq);
            inc.bearings.insert(
                at,
                BearingRay {
                    seq: m.seq,
                    observer: b.observer,
                    azimuth_deg: b.azimuth_deg,
                    error_deg: b.error_deg,
                    max_range_m: b.max_range_m,
                    firing: m.kind == ObservationKind::Firing,
                },
            );
        }
        insert_sorted_inline(&mut inc.kinds, m.kind);
        // A doubtful report's breaches wait in `held` until the incident is corroborated.
        let held = &mut self.sums[k].held;
        for rule in &m.breaches {
            if m.doubtful {
                held.get_or_insert_default().rules.push((**rule).to_owned());
            } else {
                insert_sorted(&mut inc.breaches, (**rule).to_owned());
            }
        }
        for party in &m.parties {
            let to = if m.doubtful {
                &mut held.get_or_insert_default().parties
            } else {
                &mut inc.breach_parties
            };
            *to.entry((**party).to_owned()).or_insert(0.0) += m.weight;
        }
        let joined_at = m.at;
        self.members[k].push(m);
        let members = &self.members[k];
        self.reach[k] = Reach::of_members(members);
        assert!(
            !members.is_empty(),
            "an incident has at least one observation"
        );
        let to_time = |s: f64| {
            DateTime::<Utc>::from_timestamp_millis((s * 1000.0).round() as i64)
                .expect("observation times are in range")
        };
        // Precise points locate; without them, the fix of the bearings does; without one,
        // coarse points (an allegation, an open-source report).
        let (location, radius) = match located {
            Some((p, r)) => (Some(p), r),
            None => {
                let rays: Vec<BearingObs> = members
                    .iter()
                    .filter_map(|x| x.bearing.as_deref().cloned())
                    .collect();
                match (triangulate(&rays), vaguely) {
                    (Ok(o), _) => (Some(o.point), o.ellipse.semi_major_m),
                    (Err(_), Some((p, r))) => (Some(p), r),
                    (Err(_), None) => (None, 0.0),
                }
            }
        };
        if firing_bearing {
            let firing: Vec<BearingObs> = members
                .iter()
                .filter(|x| x.kind == ObservationKind::Firing)
                .filter_map(|x| x.bearing.as_deref().cloned())
                .collect();
            inc.origin = if firing.len() >= 2 {
                triangulate(&firing).ok().map(Box::new)
            } else {
                None
            };
            inc.attribution = inc
                .origin
                .as_ref()
                .map(|o| Box::new(suggest(&self.engine, o)));
        }
        (
            inc.confidence,
            inc.state,
            inc.source_kinds,
            inc.independent_sources,
        ) = evidence(&self.sums[k].by_source);
        if inc.independent_sources >= CORROBORATING_SOURCES
            && let Some(held) = self.sums[k].held.take()
        {
            let Held { rules, parties } = *held;
            for rule in rules {
                insert_sorted(&mut inc.breaches, rule);
            }
            for (party, w) in parties {
                *inc.breach_parties.entry(party).or_insert(0.0) += w;
            }
        }
        inc.suggested = crate::attribute::suggested_party(inc).map(Box::new);
        if inc.state == IncidentState::Corroborated && inc.corroborated_at.is_none() {
            inc.corroborated_at = Some(to_time(joined_at));
        }
        inc.location = location;
        inc.radius_m = location.map(|_| radius);
        inc.start = to_time(lo);
        inc.end = to_time(hi);
        // The box only grows: the union of what it covered and what the newcomer adds.
        extent.extend(location.map(|p| Anchor::from((p, radius))));
        let mut aabb = bbox(&extent, 0.0, reach, hi);
        if members.len() > 1 {
            aabb.merge(&self.boxes[k].geom().envelope());
        }
        let entry = GeomWithData::new(Rectangle::from_aabb(aabb), k);
        let tree = self.tree.get_mut();
        tree.remove(&self.boxes[k]);
        tree.insert(entry);
        self.boxes[k] = entry;
    }
}

/// Inserts `x` into the sorted `v` unless it is there.
fn insert_sorted<T: Ord>(v: &mut Vec<T>, x: T) {
    if let Err(i) = v.binary_search(&x) {
        v.insert(i, x);
    }
}

/// [`insert_sorted`] for a list kept inline while short.
fn insert_sorted_inline<A: smallvec::Array>(v: &mut SmallVec<A>, x: A::Item)
where
    A::Item: Ord,
{
    if let Err(i) = v.binary_search(&x) {
        v.insert(i, x);
    }
}

/// The independence key of a source: its kind and its platform — the source id up to the first
/// `/` (`uav-2/eo` and `uav-2/ir` are two sensors of one drone, which fail together). Sources
/// with different keys are independent; one key counts once (module doc, `docs/fusion.md`).
pub fn platform_of(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// Confidence, state, distinct source kinds and the number of independent monitoring sources,
/// from each source's best weight (module doc):
///
/// - one platform counts once (its best report), whatever it sent;
/// - independent platforms of one kind combine by noisy-OR, every one after the best
///   discounted by [`SAME_KIND_FACTOR`] for the failure modes they share (one kind of sensor is
///   fooled by the same flare, the same cloud, the same rumour);
/// - kinds combine by noisy-OR;
/// - `corroborated` needs [`CORROBORATING_SOURCES`] independent *monitoring* platforms (a
///   party's allegation adds to the confidence but never corroborates), whatever the
///   confidence: one source is never corroboration, however good its grade.
fn evidence(
    by_source: &[((SourceKind, Name), f64)],
) -> (f64, IncidentState, SmallVec<[SourceKind; 16]>, usize) {
    let mut by_platform: BTreeMap<(SourceKind, &str), f64> = BTreeMap::new();
    for &((kind, ref id), w) in by_source {
        let p = by_platform.entry((kind, platform_of(id))).or_insert(0.0);
        *p = p.max(w);
    }
    let mut by_kind: BTreeMap<SourceKind, Vec<f64>> = BTreeMap::new();
    for ((kind, _), w) in &by_platform {
        by_kind.entry(*kind).or_default().push(*w);
    }
    let mut miss = 1.0;
    for ws in by_kind.values_mut() {
        ws.sort_by(|a, b| b.total_cmp(a));
        for (i, w) in ws.iter().enumerate() {
            let w = if i == 0 { *w } else { SAME_KIND_FACTOR * w };
            miss *= 1.0 - w;
        }
    }
    let confidence = 1.0 - miss;
    let monitors = by_platform
        .keys()
        .filter(|(k, _)| *k != SourceKind::Party)
        .count();
    let state = if monitors >= CORROBORATING_SOURCES {
        IncidentState::Corroborated
    } else {
        IncidentState::SingleSource
    };
    (confidence, state, by_kind.into_keys().collect(), monitors)
}

/// The weapon count of a sighting when it tells batteries apart: more than one weapon, from a
/// monitoring source (not a party's allegation). See [`WEAPON_COUNT_RATIO`].
fn counted(obs: &Observation) -> Option<u32> {
    let p = &obs.properties;
    if p.kind != ObservationKind::WeaponPresent || p.source.kind == SourceKind::Party {
        return None;
    }
    p.weapon.as_ref().map(|w| w.count).filter(|&c| c > 1)
}

/// Whether `m`'s count fits the counts of an incident's recent members.
fn counts_compatible(recent: &[Member], m: &Member) -> bool {
    let Some(c) = m.count else { return true };
    recent.iter().filter_map(|x| x.count).all(|x| {
        let (lo, hi) = (f64::from(x.min(c)), f64::from(x.max(c)));
        lo / hi >= WEAPON_COUNT_RATIO
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_from_a_snapshot_are_shared_again() {
        let mut m = member(SourceKind::Satellite, "viirs-snpp", 0.8);
        m.breaches = vec![Name::from("no-fire-zone")];
        let mut sums = Sums::default();
        sums.add_grade(&m);
        let bytes = postcard::to_allocvec(&(vec![m.clone(), m], sums)).unwrap();
        // Outside a decoding, each name is its own copy.
        let (plain, _): (Vec<Member>, Sums) = postcard::from_bytes(&bytes).unwrap();
        assert!(!Arc::ptr_eq(&plain[0].source_id.0, &plain[1].source_id.0));
        let (decoded, mut names) =
            Names::decoding(|| postcard::from_bytes::<(Vec<Member>, Sums)>(&bytes));
        let (members, sums) = decoded.unwrap();
        let id = &members[0].source_id.0;
        assert_eq!(&**id, "viirs-snpp");
        assert!(Arc::ptr_eq(id, &members[1].source_id.0));
        assert!(Arc::ptr_eq(id, &sums.by_source[0].0.1.0));
        assert!(Arc::ptr_eq(
            &members[0].breaches[0].0,
            &members[1].breaches[0].0
        ));
        assert_eq!(names.0.len(), 2);
        // A new member's names come from the same set; the thread decodes plainly again.
        assert!(Arc::ptr_eq(&names.get("viirs-snpp").0, id));
        assert!(DECODING.with_borrow(Option::is_none));
    }

    #[test]
    fn an_anchor_is_kept_as_its_point_and_radius_and_its_chord_point_computed_again() {
        let a = Anchor::from(([37.8, 48.1], 375.0));
        assert_eq!(a.c, ecef([37.8, 48.1]));
        // A snapshot holds what it held before anchors carried their chord point.
        let bytes = postcard::to_allocvec(&a).unwrap();
        assert_eq!(
            bytes,
            postcard::to_allocvec(&([37.8_f64, 48.1_f64], 375.0_f64)).unwrap()
        );
        let back: Anchor = postcard::from_bytes(&bytes).unwrap();
        assert_eq!((back.p, back.r, back.c), (a.p, a.r, a.c));
    }

    /// Issue 14: gating skips an incident whose gating points' box is out of a report's
    /// reach without walking its members — only ever one the space gate refuses. A row of
    /// 300 hotspots 113 m apart (more than the 256 newest points gated against), probed on a
    /// grid around it with three radii: every probe skipped fails `space_score`, many are
    /// skipped (the row's oldest end among them: out of the newest 256's reach), and the
    /// probes beside the newest end are not.
    #[test]
    fn an_incident_out_of_reach_is_one_the_space_gate_refuses() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
        let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        let agreement = truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|d| panic!("{d:#?}"));
        let mut fusion = Fusion::new(Arc::new(Engine::new(agreement).unwrap()));
        let hotspot = |p: LonLat, r: f64| {
            let mut m = member(SourceKind::Satellite, "viirs", 0.7);
            m.kind = ObservationKind::ThermalAnomaly;
            m.anchors = smallvec![Anchor::from((p, r))];
            m
        };
        let row = |i: i32| [37.5 + f64::from(i) * 0.0015, 47.6];
        fusion.start(EventGroup::Strike, hotspot(row(0), 375.0));
        for i in 1..300 {
            fusion.add(0, hotspot(row(i), 375.0));
        }
        assert!(fusion.reach[0].is_some());
        let (_, slack) = EventGroup::Strike.gates();
        let (mut skipped, mut kept) = (0, 0);
        for r in [50.0, 375.0, 1500.0] {
            for i in -40..340 {
                for j in -30..=30 {
                    let p = [37.5 + f64::from(i) * 0.0015, 47.6 + f64::from(j) * 0.0011];
                    let probe = hotspot(p, r);
                    if fusion.out_of_reach(0, &probe, slack) {
                        skipped += 1;
                        assert_eq!(fusion.space_score(0, &probe, slack), None, "{p:?} {r}");
                    } else {
                        kept += 1;
                    }
                }
            }
        }
        assert!(
            skipped > 10_000 && kept > 10_000,
            "{skipped} skipped, {kept} kept"
        );
        assert!(
            fusion.out_of_reach(0, &hotspot(row(5), 50.0), slack),
            "the oldest end"
        );
        assert!(!fusion.out_of_reach(0, &hotspot(row(299), 50.0), slack));
    }

    #[test]
    fn the_nearest_point_within_reach_is_measured_on_the_ellipsoid() {
        let q = Anchor::from(([37.8, 48.1], 100.0));
        let far = Anchor::from(([37.9, 48.1], 100.0)); // ~7.4 km east: out of reach
        let near = Anchor::from(([37.8, 48.102], 100.0)); // ~222 m north
        let nearer = Anchor::from(([37.8, 48.101], 100.0)); // ~111 m north
        let points = [far, near, nearer];
        let d = nearest_within(|| points.iter().copied(), &q, 50.0).unwrap();
        assert!((d - distance_m(nearer.p, q.p)).abs() < 1e-9, "{d}");
        assert_eq!(nearest_within(|| [far].into_iter(), &q, 50.0), None);
        assert_eq!(nearest_within(std::iter::empty, &q, 50.0), None);
    }

    fn member(kind: SourceKind, id: &str, weight: f64) -> Member {
        Member {
            seq: 0,
            kind: ObservationKind::Explosion,
            at: 0.0,
            lo: 0.0,
            hi: 0.0,
            source_id: id.into(),
            source_kind: kind,
            weight,
            anchors: SmallVec::new(),
            bearing: None,
            breaches: Vec::new(),
            parties: Vec::new(),
            coarse: false,
            count: None,
            crater: None,
            doubtful: false,
        }
    }

    fn evidence_of(members: &[Member]) -> (f64, IncidentState, SmallVec<[SourceKind; 16]>, usize) {
        let mut sums = Sums::default();
        for m in members {
            sums.add_grade(m);
        }
        evidence(&sums.by_source)
    }

    #[test]
    fn independence_is_by_source_not_by_kind() {
        let one = evidence_of(&[member(SourceKind::Drone, "uav-1", 0.6)]);
        assert_eq!(one.1, IncidentState::SingleSource);
        // One source counts once, however often it reports.
        let same_source = evidence_of(&[
            member(SourceKind::Drone, "uav-1", 0.6),
            member(SourceKind::Drone, "uav-1", 0.6),
        ]);
        assert_eq!(one.0, same_source.0);
        assert_eq!(same_source.1, IncidentState::SingleSource);
        // Two sensors of one platform ("uav-1/eo", "uav-1/ir") are one source.
        let one_platform = evidence_of(&[
            member(SourceKind::Drone, "uav-1/eo", 0.6),
            member(SourceKind::Drone, "uav-1/ir", 0.5),
        ]);
        assert_eq!((one_platform.0, one_platform.3), (0.6, 1));
        assert_eq!(one_platform.1, IncidentState::SingleSource);
        // Two drones are two sources, the second discounted for shared failure modes.
        let same_kind = evidence_of(&[
            member(SourceKind::Drone, "uav-1", 0.6),
            member(SourceKind::Drone, "uav-2", 0.5),
        ]);
        assert!((same_kind.0 - (1.0 - 0.4 * (1.0 - SAME_KIND_FACTOR * 0.5))).abs() < 1e-12);
        assert_eq!((same_kind.1, same_kind.3), (IncidentState::Corroborated, 2));
        // Three ground teams C3 (0.42) seeing one battery: corroborated, above one team.
        let teams = evidence_of(&[
            member(SourceKind::GroundTeam, "team-1", 0.42),
            member(SourceKind::GroundTeam, "team-2", 0.42),
            member(SourceKind::GroundTeam, "team-3", 0.42),
        ]);
        assert_eq!((teams.1, teams.3), (IncidentState::Corroborated, 3));
        assert!(teams.0 > 0.6 && teams.0 < 0.7, "{}", teams.0);
        // Kinds combine by noisy-OR.
        let two_kinds = evidence_of(&[
            member(SourceKind::Drone, "uav-1", 0.6),
            member(SourceKind::Camera, "cam-01", 0.5),
        ]);
        assert!((two_kinds.0 - 0.8).abs() < 1e-12, "noisy-OR 1 − 0.4 × 0.5");
        assert_eq!(two_kinds.1, IncidentState::Corroborated);
        // An allegation adds confidence but never corroborates; nor does one excellent source.
        let alleged = evidence_of(&[
            member(SourceKind::Drone, "uav-1", 0.6),
            member(SourceKind::Party, "jccc-ua", 0.3),
        ]);
        assert_eq!(alleged.1, IncidentState::SingleSource);
        assert!(alleged.0 > one.0);
        let excellent = evidence_of(&[member(SourceKind::Drone, "uav-1", 0.95)]);
        assert_eq!(excellent.1, IncidentState::SingleSource);
    }
}
