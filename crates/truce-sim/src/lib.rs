//! Truce's scenario simulator: what really happens along a ceasefire line over a few days, and
//! the feeds a monitoring mission would receive about it — with the answer key.
//!
//! [`simulate`] takes the terms (an [`Agreement`]), a number of days, a seed and a start time,
//! and returns a [`Simulation`]: the feed files, byte for byte as the ingest adapters read them
//! (NASA FIRMS VIIRS CSV, GeoJSON observations, Cursor-on-Target XML), and the [`Truth`] — every
//! true event with the ids of the records that observed it, the sensor outages, the records
//! written malformed on purpose and the files that re-deliver records already sent. A scorer
//! holds the engine's incidents against the truth; `docs/simulator.md` describes each source's
//! schedule, error and miss rate.
//!
//! The simulation is pure and deterministic: no clock, no I/O, no global randomness. Each
//! generator and each source draws from its own ChaCha20 stream keyed by the seed (see `rng`),
//! so the same seed gives byte-identical feeds and truth, and adding a source leaves the
//! others' output unchanged. The caller writes the files.
//!
//! Modules: `world` makes the true events on the geometry of `theatre`; `network` places the
//! mission's sensors; each module of `sources` observes the events and produces records, which
//! `records` orders, damages on purpose, duplicates and writes; `truth` is the answer key.
//!
//! # Example
//!
//! ```
//! use truce_sim::{simulate, default_start, TRUTH_FILE_NAME};
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/donbas-2015");
//! let toml = std::fs::read_to_string(format!("{dir}/agreement.toml")).unwrap();
//! let terms = truce_core::agreement::load("agreement.toml", &toml, &mut |rel| {
//!     std::fs::read(format!("{dir}/{rel}")).map_err(|e| e.to_string())
//! })
//! .unwrap();
//!
//! let sim = simulate(&terms, 3, 1, default_start(&terms));
//! assert_eq!(sim, simulate(&terms, 3, 1, default_start(&terms)));
//! for feed in &sim.feeds {
//!     // The CLI writes each to `<out>/<file_name>`.
//!     assert!(!feed.bytes.is_empty(), "{}", feed.file_name);
//! }
//! assert_eq!(TRUTH_FILE_NAME, "truth.json");
//! let truth = sim.truth_json();
//! assert!(truth.contains("\"agreement_hash\""));
//! assert!(sim.truth.events.iter().any(|e| e.kind == truce_sim::EventKind::LineCrossing));
//! ```

mod network;
mod records;
mod rng;
mod sources;
mod sun;
mod theatre;
mod truth;
mod world;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use truce_core::agreement::Agreement;
use truce_core::mission::Mission;

pub use truth::{EventKind, FeedTruth, Malformed, Outage, Summary, TrueEvent, TrueWeapon, Truth};

use records::Written;
use sources::{Scene, allegations, drones, fixed, health, satellite, teams};
use theatre::Theatre;
use world::Period;

/// The name the truth is written under, next to the feeds.
pub const TRUTH_FILE_NAME: &str = "truth.json";

/// The name the mission file is written under, next to the feeds.
pub const MISSION_FILE_NAME: &str = "mission.toml";

/// The number of days `truce simulate` runs by default: enough for every kind of event, a few
/// dozen to a hundred and fifty of them, and a few hundred records.
pub const DEFAULT_DAYS: u32 = 3;

/// The format of a feed file, named as the ingest names its formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedFormat {
    /// A GeoJSON FeatureCollection of observations (`docs/observations.md`).
    GeoJson,
    /// A NASA FIRMS VIIRS active-fire CSV, as the download tool writes it.
    Firms,
    /// Cursor-on-Target XML: concatenated messages, each with its XML declaration.
    Cot,
}

impl FeedFormat {
    /// `geojson`, `firms` or `cot`: the ingest's name for the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GeoJson => "geojson",
            Self::Firms => "firms",
            Self::Cot => "cot",
        }
    }
}

/// One feed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// A plain file name (no directory), unique within the simulation.
    pub file_name: String,
    pub format: FeedFormat,
    pub bytes: Vec<u8>,
}

/// The feeds, their ground truth, and the mission whose sensors and teams produced them.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub feeds: Vec<Feed>,
    pub truth: Truth,
    /// The simulated mission's teams and fixed sensors ([`mission`]).
    pub mission: Mission,
}

impl Simulation {
    /// `truth.json`: the truth as pretty-printed JSON with a final newline.
    pub fn truth_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.truth).expect("the truth serialises");
        text.push('\n');
        text
    }

    /// `mission.toml`: the mission file ([`mission_toml`]).
    pub fn mission_toml(&self) -> String {
        mission_file(&self.mission)
    }
}

/// The simulated mission under `agreement`: ground teams `team-1…4`, each with a base 25 km
/// behind the line on the first party's side level with the middle of its quarter, and the
/// cameras and acoustic arrays exactly where the simulated ones stand, with their range and
/// (cameras) sector. From the geometry alone: the same for every seed, period and start.
pub fn mission(agreement: &Agreement) -> Mission {
    network::mission(&Theatre::new(agreement))
}

/// `mission.toml` for [`mission`]: a header comment, then [`Mission::to_toml`]. The bundled
/// `scenarios/donbas-2015/mission.toml` is this text (a test checks it).
pub fn mission_toml(agreement: &Agreement) -> String {
    mission_file(&mission(agreement))
}

fn mission_file(m: &Mission) -> String {
    format!(
        "# The monitoring mission's own resources: ground verification teams and fixed sensors.\n\
         # Written by truce-sim from the agreement's geometry (`truce_sim::mission_toml`); the\n\
         # simulated cameras and acoustic arrays stand exactly here. Format: docs/mission.md.\n\n{}",
        m.to_toml()
    )
}

/// A start that shows every rule at work: the first UTC midnight at or after the later of the
/// agreement's effective time and its last withdrawal deadline (2015-03-01T00:00Z for the
/// bundled Minsk II scenario).
pub fn default_start(agreement: &Agreement) -> DateTime<Utc> {
    let latest = agreement
        .weapon_classes
        .iter()
        .map(|c| c.withdraw_by)
        .fold(agreement.effective_at, DateTime::max);
    let midnight = latest
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    if midnight == latest {
        midnight
    } else {
        midnight + TimeDelta::days(1)
    }
}

/// Simulates `days` days from `start` under `agreement`, with every random choice drawn from
/// streams keyed by `seed`. Pure: the same arguments give the same bytes.
pub fn simulate(agreement: &Agreement, days: u32, seed: u64, start: DateTime<Utc>) -> Simulation {
    let theatre = Theatre::new(agreement);
    let period = Period::new(start, days);
    let events = world::generate(&theatre, period, seed);
    let scene = Scene {
        theatre: &theatre,
        events: &events,
        period,
        seed,
    };

    let mut written = Written::default();
    let mut gaps = Vec::new();
    for (w, g) in [
        satellite::observe(&scene),
        drones::observe(&scene),
        fixed::observe_cameras(&scene),
        fixed::observe_acoustic(&scene),
    ] {
        written.extend(w);
        gaps.extend(g);
    }
    written.extend(teams::observe(&scene));
    written.extend(allegations::observe(&scene));
    let (coverage, outages) = health::write(&scene, gaps);
    written.extend(coverage);

    let mut observed: Vec<Vec<String>> = vec![Vec::new(); events.len()];
    for (id, e) in written.links {
        observed[e].push(id);
    }
    let events: Vec<TrueEvent> = events
        .iter()
        .zip(observed)
        .map(|(e, mut ids)| {
            ids.sort();
            ids.dedup();
            true_event(e, &events, ids)
        })
        .collect();
    let summary = summarise(&events, &written.truths, written.noise);
    Simulation {
        feeds: written.feeds,
        truth: Truth {
            seed,
            days,
            start: period.start,
            end: period.end,
            agreement_id: agreement.id.clone(),
            agreement_version: agreement.version,
            agreement_hash: agreement.hash.clone(),
            summary,
            events,
            outages,
            feeds: written.truths,
        },
        mission: network::mission(&theatre),
    }
}

fn true_event(e: &world::Event, all: &[world::Event], observation_ids: Vec<String>) -> TrueEvent {
    TrueEvent {
        id: e.id.clone(),
        kind: e.kind,
        time: e.time,
        end: e.end,
        location: e.location,
        party: e.party.clone(),
        violation: e.violation,
        weapon: e.weapon.as_ref().map(|w| TrueWeapon {
            class: w.class.clone(),
            count: w.count,
            model: w.model.clone(),
        }),
        rounds: (e.rounds > 0).then_some(e.rounds),
        zone: e.zone.clone(),
        site: e.finding.as_ref().map(|f| f.site.clone()),
        found: e.finding.as_ref().map(|f| f.counts.clone()),
        track: e.track.iter().map(|(p, _)| *p).collect(),
        track_times: e.track.iter().map(|(_, t)| *t).collect(),
        cause: e.cause.map(|c| all[c].id.clone()),
        team: e.team.map(str::to_string),
        detail: e.detail.clone(),
        observation_ids,
    }
}

fn summarise(events: &[TrueEvent], feeds: &[FeedTruth], noise: usize) -> Summary {
    let mut events_by_kind = BTreeMap::new();
    for e in events {
        *events_by_kind
            .entry(e.kind.as_str().to_string())
            .or_insert(0) += 1;
    }
    Summary {
        events_by_kind,
        violations: events.iter().filter(|e| e.violation).count(),
        unobserved: events
            .iter()
            .filter(|e| e.kind != EventKind::QuietPeriod && e.observation_ids.is_empty())
            .count(),
        valid_records_by_feed: feeds
            .iter()
            .map(|f| (f.file_name.clone(), f.records - f.malformed.len()))
            .collect(),
        malformed_records: feeds.iter().map(|f| f.malformed.len()).sum(),
        duplicate_records: feeds
            .iter()
            .filter(|f| f.repeats.is_some())
            .map(|f| f.records)
            .sum(),
        noise_records: noise,
    }
}
