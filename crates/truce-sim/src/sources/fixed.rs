//! Fixed sensors near the line: cameras and acoustic arrays, each reporting a bearing from its
//! known position to what it saw or heard (GeoJSON observations with `bearing`; the Point is the
//! sensor). One bearing does not locate anything: fusion crosses bearings from several sites.
//!
//! Cameras watch a 120° sector facing the line out to [`CAMERA_RANGE_M`]; they see muzzle flashes
//! and explosions far better at night than by day, time-stamp to the second, and measure the
//! azimuth to [`CAMERA_BEARING_NOISE_DEG`]. Acoustic arrays hear all round, farther for guns and
//! rockets than for mortars, less surely the farther the source; they report the time the sound
//! arrived (up to a minute after the event, which `time_uncertainty_s` covers), classify launch
//! against detonation with some mistakes, and measure the azimuth to
//! [`ACOUSTIC_BEARING_NOISE_DEG`], with the odd echo far off.
//!
//! Both have outages (power cuts: `offline` coverage records) and false alarms — flares for the
//! cameras, quarry blasts for the arrays.

use chrono::{DateTime, TimeDelta, Utc};
use truce_core::observation::{Bearing, Observation, ObservationKind, Reliability, SourceKind};
use truce_geo::{azimuth_deg, distance_m};

use super::{Gap, Ids, Scene, observation, point, round_to, source};
use crate::FeedFormat;
use crate::network::{Site, acoustic_arrays, cameras};
use crate::records::{Defect, Draft, Record, Written};
use crate::rng::{Rng, Stream, chance, normal, poisson, time_between, uniform};
use crate::sun::is_day;
use crate::truth::{EventKind, Outage};
use crate::world::Ordnance;

/// How far a camera sees a flash or an explosion, metres (a thermal PTZ camera on a mast).
pub(crate) const CAMERA_RANGE_M: f64 = 12_000.0;
/// Half the camera's watched sector, degrees either side of facing the line.
pub(crate) const CAMERA_HALF_FOV_DEG: f64 = 60.0;
/// Chance a camera catches an event in its sector by night and by day.
const CAMERA_NIGHT_P: f64 = 0.8;
const CAMERA_DAY_P: f64 = 0.45;
/// One-sigma error of a camera's azimuth, degrees: the pan encoder and the operator's reading
/// of where the flash was in the frame.
const CAMERA_BEARING_NOISE_DEG: f64 = 1.5;
/// Camera clock error, seconds (one sigma), and the uncertainty written.
const CAMERA_CLOCK_SD_S: f64 = 1.0;
const CAMERA_TIME_UNCERTAINTY_S: f64 = 2.0;
/// False flashes (illumination flares, headlights) per camera per night.
const CAMERA_FALSE_PER_NIGHT: f64 = 0.3;

/// How far an array hears a mortar, and guns and rockets, metres.
const ACOUSTIC_MORTAR_RANGE_M: f64 = 12_000.0;
pub(crate) const ACOUSTIC_GUN_RANGE_M: f64 = 25_000.0;
/// Chance of hearing at the array, and how much it falls by the edge of range.
const ACOUSTIC_NEAR_P: f64 = 0.9;
const ACOUSTIC_FALLOFF_P: f64 = 0.4;
/// One-sigma error of an array's azimuth, degrees (a small-aperture array at these ranges).
const ACOUSTIC_BEARING_NOISE_DEG: f64 = 4.0;
/// Chance of an echo or multipath bearing, and how far off it is, degrees.
const ACOUSTIC_OUTLIER_P: f64 = 0.05;
const ACOUSTIC_OUTLIER_DEG: (f64, f64) = (8.0, 20.0);
/// Chance an array classifies launch against detonation correctly.
const ACOUSTIC_CLASSIFY_P: f64 = 0.9;
/// Speed of sound near the ground in winter, m/s.
const SPEED_OF_SOUND_M_S: f64 = 330.0;
/// Quarry and mine blasts heard per array per day (the Donbas is full of quarries).
const QUARRY_BLASTS_PER_DAY: f64 = 0.5;

/// Chance per site per day of an outage, and its length, hours.
const OUTAGE_P: f64 = 0.1;
const OUTAGE_H: (f64, f64) = (2.0, 10.0);

/// What distinguishes the two networks.
struct Network {
    kind: SourceKind,
    file: &'static str,
    defects: &'static [Defect],
    reliability: Reliability,
    credibility: u8,
    stream: Stream,
    outage_cause: &'static str,
}

const CAMERAS: Network = Network {
    kind: SourceKind::Camera,
    file: "cameras.geojson",
    defects: &[Defect::AzimuthOutOfRange],
    reliability: Reliability::A,
    credibility: 2,
    stream: Stream::Cameras,
    outage_cause: "power cut at the camera site",
};

const ACOUSTIC: Network = Network {
    kind: SourceKind::Acoustic,
    file: "acoustic.geojson",
    defects: &[Defect::CoordinateAsText],
    reliability: Reliability::B,
    credibility: 3,
    stream: Stream::Acoustic,
    outage_cause: "array offline: battery exhausted",
};

/// An azimuth normalised to [0, 360), rounded to a tenth of a degree as sensors report it.
pub(crate) fn wrap(azimuth: f64) -> f64 {
    let a = round_to(azimuth.rem_euclid(360.0), 1);
    if a >= 360.0 { 0.0 } else { a }
}

/// Each site's outages during the period.
fn outages(scene: &Scene<'_, '_>, rng: &mut Rng, net: &Network, sites: &[Site]) -> Vec<Gap> {
    let mut gaps = Vec::new();
    for site in sites {
        for k in 0..scene.period.days {
            if !chance(rng, OUTAGE_P) {
                continue;
            }
            let (from, to) = scene.period.day(k);
            let start = time_between(rng, from, to);
            let until = (start
                + TimeDelta::seconds((uniform(rng, OUTAGE_H.0, OUTAGE_H.1) * 3600.0) as i64))
            .min(scene.period.end);
            gaps.push(Gap {
                sensor: site.id.clone(),
                kind: net.kind,
                geometry: point(site.position),
                outage: Outage {
                    sensor: site.id.clone(),
                    status: "offline".into(),
                    from: start,
                    until,
                    cause: net.outage_cause.into(),
                    observation_id: None,
                },
            });
        }
    }
    gaps
}

fn is_down(gaps: &[Gap], site: &Site, t: DateTime<Utc>) -> bool {
    gaps.iter()
        .any(|g| g.sensor == site.id && g.outage.from <= t && t < g.outage.until)
}

/// A bearing observation from `site`: azimuth (wrapped and rounded here), its one-sigma error
/// and the farthest the target can be, degrees and metres.
fn bearing(
    ids: &mut Ids,
    net: &Network,
    site: &Site,
    (kind, at): (ObservationKind, DateTime<Utc>),
    (azimuth, error_deg, max_range_m): (f64, f64, f64),
) -> Observation {
    let mut o = observation(
        ids.next(&site.id, at),
        kind,
        at,
        source(&site.id, net.kind, net.reliability, net.credibility),
        point(site.position),
    );
    o.properties.bearing = Some(Bearing {
        azimuth_deg: wrap(azimuth),
        error_deg,
        max_range_m: Some(max_range_m),
    });
    o
}

pub(crate) fn observe_cameras(scene: &Scene<'_, '_>) -> (Written, Vec<Gap>) {
    let sites = cameras(scene.theatre);
    let net = &CAMERAS;
    let mut rng = scene.rng(net.stream, 0);
    let gaps = outages(scene, &mut rng, net, &sites);
    let mut draft = Draft::new(net.file, FeedFormat::GeoJson, net.defects);
    let mut ids = Ids::default();
    for site in &sites {
        for (ei, ev) in scene.events.iter().enumerate() {
            if !matches!(ev.kind, EventKind::Firing | EventKind::Impact)
                || is_down(&gaps, site, ev.time)
            {
                continue;
            }
            let d = distance_m(site.position, ev.location);
            let az = azimuth_deg(site.position, ev.location);
            let off_axis = (az - site.facing_deg + 540.0).rem_euclid(360.0) - 180.0;
            let p = if is_day(ev.time, site.position) {
                CAMERA_DAY_P
            } else {
                CAMERA_NIGHT_P
            };
            if d > CAMERA_RANGE_M || off_axis.abs() > CAMERA_HALF_FOV_DEG || !chance(&mut rng, p) {
                continue;
            }
            let at = ev.time
                + TimeDelta::seconds(normal(&mut rng, 0.0, CAMERA_CLOCK_SD_S).round() as i64);
            let (kind, remarks) = match (ev.kind, ev.ordnance) {
                (EventKind::Firing, Some(Ordnance::Rockets)) => (
                    ObservationKind::Firing,
                    format!("rocket launches, {} rockets in flight", ev.rounds),
                ),
                (EventKind::Firing, _) => (
                    ObservationKind::Firing,
                    format!("muzzle flashes, {} outgoing rounds", ev.rounds),
                ),
                _ => (
                    ObservationKind::Explosion,
                    format!("{} explosions", ev.rounds),
                ),
            };
            let azimuth = az + normal(&mut rng, 0.0, CAMERA_BEARING_NOISE_DEG);
            let mut o = bearing(
                &mut ids,
                net,
                site,
                (kind, at),
                (azimuth, CAMERA_BEARING_NOISE_DEG, CAMERA_RANGE_M),
            );
            o.properties.time_uncertainty_s = CAMERA_TIME_UNCERTAINTY_S;
            o.properties.remarks = remarks;
            draft.records.push(Record::feature(o, vec![ei]));
        }
        for k in 0..scene.period.days {
            let (from, to) = scene.period.day(k);
            for _ in 0..poisson(&mut rng, CAMERA_FALSE_PER_NIGHT) {
                let at = time_between(&mut rng, from, to);
                if is_day(at, site.position) || is_down(&gaps, site, at) {
                    continue;
                }
                let azimuth =
                    site.facing_deg + uniform(&mut rng, -CAMERA_HALF_FOV_DEG, CAMERA_HALF_FOV_DEG);
                let mut o = bearing(
                    &mut ids,
                    net,
                    site,
                    (ObservationKind::Explosion, at),
                    (azimuth, CAMERA_BEARING_NOISE_DEG, CAMERA_RANGE_M),
                );
                o.properties.time_uncertainty_s = CAMERA_TIME_UNCERTAINTY_S;
                o.properties.remarks = "single flash, possibly an illumination flare".into();
                draft.records.push(Record::feature(o, Vec::new()));
            }
        }
    }
    (draft.write(&mut rng), gaps)
}

pub(crate) fn observe_acoustic(scene: &Scene<'_, '_>) -> (Written, Vec<Gap>) {
    let sites = acoustic_arrays(scene.theatre);
    let net = &ACOUSTIC;
    let mut rng = scene.rng(net.stream, 0);
    let gaps = outages(scene, &mut rng, net, &sites);
    let mut draft = Draft::new(net.file, FeedFormat::GeoJson, net.defects);
    let mut ids = Ids::default();
    let uncertainty_s = (ACOUSTIC_GUN_RANGE_M / SPEED_OF_SOUND_M_S).ceil();
    for site in &sites {
        for (ei, ev) in scene.events.iter().enumerate() {
            if !matches!(ev.kind, EventKind::Firing | EventKind::Impact) {
                continue;
            }
            let range = if ev.ordnance == Some(Ordnance::Mortar) {
                ACOUSTIC_MORTAR_RANGE_M
            } else {
                ACOUSTIC_GUN_RANGE_M
            };
            let d = distance_m(site.position, ev.location);
            let arrival = ev.time + TimeDelta::seconds((d / SPEED_OF_SOUND_M_S).round() as i64);
            if d > range
                || is_down(&gaps, site, arrival)
                || !chance(&mut rng, ACOUSTIC_NEAR_P - ACOUSTIC_FALLOFF_P * d / range)
            {
                continue;
            }
            let launch = (ev.kind == EventKind::Firing) == chance(&mut rng, ACOUSTIC_CLASSIFY_P);
            let mut error = normal(&mut rng, 0.0, ACOUSTIC_BEARING_NOISE_DEG);
            if chance(&mut rng, ACOUSTIC_OUTLIER_P) {
                let off = uniform(&mut rng, ACOUSTIC_OUTLIER_DEG.0, ACOUSTIC_OUTLIER_DEG.1);
                error += if chance(&mut rng, 0.5) { off } else { -off };
            }
            let azimuth = azimuth_deg(site.position, ev.location) + error;
            let kind = if launch {
                ObservationKind::Firing
            } else {
                ObservationKind::Explosion
            };
            let mut o = bearing(
                &mut ids,
                net,
                site,
                (kind, arrival),
                (azimuth, ACOUSTIC_BEARING_NOISE_DEG, range),
            );
            o.properties.time_uncertainty_s = uncertainty_s;
            o.properties.remarks = format!(
                "impulsive sound classified as {}, {} shots; time is the arrival at the array",
                if launch { "launch" } else { "detonation" },
                ev.rounds
            );
            draft.records.push(Record::feature(o, vec![ei]));
        }
        for k in 0..scene.period.days {
            let (from, to) = scene.period.day(k);
            for _ in 0..poisson(&mut rng, QUARRY_BLASTS_PER_DAY) {
                let at = time_between(&mut rng, from, to);
                if !is_day(at, site.position) || is_down(&gaps, site, at) {
                    continue;
                }
                let azimuth = uniform(&mut rng, 0.0, 360.0);
                let mut o = bearing(
                    &mut ids,
                    net,
                    site,
                    (ObservationKind::Explosion, at),
                    (azimuth, ACOUSTIC_BEARING_NOISE_DEG, ACOUSTIC_GUN_RANGE_M),
                );
                o.properties.time_uncertainty_s = uncertainty_s;
                o.properties.remarks = "single detonation, classified as detonation".into();
                draft.records.push(Record::feature(o, Vec::new()));
            }
        }
    }
    (draft.write(&mut rng), gaps)
}
