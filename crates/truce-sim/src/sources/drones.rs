//! The mission's drones: daylight sorties over a stretch of the line, reporting what their
//! cameras find as GeoJSON observations.
//!
//! Schedule: each drone flies two sorties a day between sunrise and sunset over its third of the
//! line, reaching [`BAND_M`] either side. Some sorties are grounded by weather (`offline`
//! coverage for the planned window); some are jammed and cut short (`jammed` coverage from then
//! to the planned end) — the OSCE mission's drones were jammed routinely.
//!
//! What it sees while airborne over its stretch, each with its own chance (a sortie cannot watch
//! the whole stretch at once): a battery firing, rounds landing or the fresh craters of the last
//! night, heavy weapons or works that are there, a column moving (its track, with a time per
//! vertex). Error: position ± tens of metres,
//! counts low when some weapons are hidden, the odd class mistaken for another; and now and
//! then a false weapon sighting (a tractor under netting).

use chrono::{DateTime, TimeDelta, Utc};
use truce_core::observation::{Geometry, ObservationKind, Reliability, SourceKind, WeaponSeen};

use super::{Gap, Ids, Scene, observation, point, position, source};
use crate::FeedFormat;
use crate::network::{DRONES, stretch};
use crate::records::{Defect, Draft, Record, Written};
use crate::rng::{Stream, binomial, chance, index, scatter, time_between, uniform};
use crate::sun::daylight;
use crate::truth::{EventKind, Outage};

/// How far either side of the line a drone's route reaches, metres: the artillery withdrawal
/// band and a little more.
const BAND_M: f64 = 30_000.0;
/// Sorties per drone per day.
const SORTIES_PER_DAY: usize = 2;
/// Length of a sortie, hours (a small tactical UAV's endurance).
const SORTIE_H: (f64, f64) = (2.5, 4.0);
/// Gap between sorties, hours (recovery, refuel, relaunch).
const TURNAROUND_H: (f64, f64) = (1.0, 2.0);
/// First launch after sunrise, hours.
const FIRST_LAUNCH_H: (f64, f64) = (0.5, 1.5);
/// Chance a sortie is grounded by weather.
const GROUNDED_P: f64 = 0.15;
/// Chance a sortie is jammed and cut short.
const JAMMED_P: f64 = 0.2;
/// Chances of seeing, during a sortie over the stretch: firing, rounds landing, fresh craters
/// of the last [`CRATER_VISIBLE_H`], weapons or works that are there, a moving column.
const SEE_FIRING_P: f64 = 0.35;
const SEE_IMPACT_P: f64 = 0.3;
const SEE_CRATERS_P: f64 = 0.25;
const CRATER_VISIBLE_H: i64 = 12;
const SEE_PRESENT_P: f64 = 0.55;
const SEE_MOVEMENT_P: f64 = 0.6;
/// Chance per sortie of a false weapon sighting.
const FALSE_WEAPON_P: f64 = 0.12;
/// Position error of a drone fix on the ground, metres (one sigma per axis): the camera's
/// geolocation from the aircraft's GPS, attitude and laser range.
const POSITION_SD_M: f64 = 25.0;
/// Error radius written with each observation, metres (two sigma).
const ERROR_RADIUS_M: f64 = 50.0;
/// ± seconds of a drone observation's time (the video is time-stamped).
const TIME_UNCERTAINTY_S: f64 = 10.0;
/// Chance each weapon of a group is seen (the rest under cover).
const COUNT_SEEN_P: f64 = 0.85;
/// Chance a declared class is taken for another.
const MISIDENTIFY_P: f64 = 0.05;
/// Share of valid records the ground station uploads twice.
const RESEND_SHARE: f64 = 0.08;

/// One drone's airborne window over its stretch.
struct Sortie {
    drone: usize,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

fn hours(h: f64) -> TimeDelta {
    TimeDelta::seconds((h * 3600.0) as i64)
}

pub(crate) fn observe(scene: &Scene<'_, '_>) -> (Written, Vec<Gap>) {
    let th = scene.theatre;
    let mut rng = scene.rng(Stream::Drones, 0);
    let mut gaps = Vec::new();
    let mut sorties = Vec::new();
    for (i, drone) in DRONES.iter().enumerate() {
        let base = th.at_fraction((i as f64 + 0.5) / DRONES.len() as f64);
        let first = scene.period.start.date_naive();
        for date in first.iter_days().take(scene.period.days as usize + 1) {
            let Some((rise, set)) = daylight(date, base) else {
                continue;
            };
            let mut launch = rise + hours(uniform(&mut rng, FIRST_LAUNCH_H.0, FIRST_LAUNCH_H.1));
            for _ in 0..SORTIES_PER_DAY {
                let land = (launch + hours(uniform(&mut rng, SORTIE_H.0, SORTIE_H.1))).min(set);
                if land <= launch {
                    break;
                }
                let next = land + hours(uniform(&mut rng, TURNAROUND_H.0, TURNAROUND_H.1));
                let (from, to) = (launch, land);
                launch = next;
                if !(scene.period.contains(from) && to <= scene.period.end) {
                    continue;
                }
                let gap = |status: &str, from, until, cause: &str| Gap {
                    sensor: drone.to_string(),
                    kind: SourceKind::Drone,
                    geometry: point(base),
                    outage: Outage {
                        sensor: drone.to_string(),
                        status: status.into(),
                        from,
                        until,
                        cause: cause.into(),
                        observation_id: None,
                    },
                };
                if chance(&mut rng, GROUNDED_P) {
                    gaps.push(gap(
                        "offline",
                        from,
                        to,
                        "sortie cancelled: low cloud and icing",
                    ));
                    continue;
                }
                let mut sortie = Sortie { drone: i, from, to };
                if chance(&mut rng, JAMMED_P) {
                    let jammed = time_between(&mut rng, from + TimeDelta::minutes(20), to);
                    gaps.push(gap(
                        "jammed",
                        jammed,
                        to,
                        "GPS and control link jammed; sortie aborted",
                    ));
                    sortie.to = jammed;
                }
                sorties.push(sortie);
            }
        }
    }

    let mut draft = Draft::new(
        "drones.geojson",
        FeedFormat::GeoJson,
        &[Defect::LatitudeOutOfRange, Defect::MissingWeapon],
    );
    draft.resend = Some(("drones-resend.geojson".into(), RESEND_SHARE));
    let mut ids = Ids::default();
    let classes: Vec<String> = th
        .terms
        .weapon_classes
        .iter()
        .map(|c| c.id.clone())
        .collect();
    for sortie in &sorties {
        let drone = DRONES[sortie.drone];
        let mut new = |kind, at: DateTime<Utc>, geometry| {
            let mut o = observation(
                ids.next(drone, at),
                kind,
                at,
                source(drone, SourceKind::Drone, Reliability::B, 2),
                geometry,
            );
            o.properties.time_uncertainty_s = TIME_UNCERTAINTY_S;
            if matches!(o.geometry, Geometry::Point { .. }) {
                o.properties.error_radius_m = ERROR_RADIUS_M;
            }
            o
        };
        let airborne = |t: &DateTime<Utc>| (sortie.from..sortie.to).contains(t);
        for (ei, ev) in scene.events.iter().enumerate() {
            let over = stretch(th.fraction_of(ev.location), DRONES.len()) == sortie.drone
                && th.distance_m(ev.location) <= BAND_M;
            if !over {
                continue;
            }
            let o = match ev.kind {
                EventKind::Firing if airborne(&ev.time) && chance(&mut rng, SEE_FIRING_P) => {
                    let w = ev.weapon.as_ref().expect("a firing has its weapon");
                    let seen = binomial(&mut rng, w.count, COUNT_SEEN_P).max(1);
                    let mut o = new(
                        ObservationKind::Firing,
                        ev.time,
                        point(scatter(&mut rng, ev.location, POSITION_SD_M)),
                    );
                    o.properties.weapon = Some(WeaponSeen {
                        class: w.class.clone(),
                        count: seen,
                        serials: Vec::new(),
                    });
                    o.properties.remarks = format!("{seen} × {} firing", w.model);
                    o
                }
                EventKind::Impact if airborne(&ev.time) && chance(&mut rng, SEE_IMPACT_P) => {
                    let mut o = new(
                        ObservationKind::Impact,
                        ev.time,
                        point(scatter(&mut rng, ev.location, POSITION_SD_M)),
                    );
                    o.properties.remarks = format!("about {} rounds landing", ev.rounds);
                    o
                }
                EventKind::Impact
                    if ev.time < sortie.from
                        && ev.time + TimeDelta::hours(CRATER_VISIBLE_H) > sortie.from
                        && chance(&mut rng, SEE_CRATERS_P) =>
                {
                    let at = time_between(&mut rng, sortie.from, sortie.to);
                    let g = point(scatter(&mut rng, ev.location, POSITION_SD_M));
                    let mut o = new(ObservationKind::Impact, at, g);
                    o.properties.remarks = "fresh craters, scorched ground".into();
                    o
                }
                EventKind::HeavyWeapon | EventKind::DisengagementBreach
                    if ev.present_during(sortie.from, sortie.to)
                        && chance(&mut rng, SEE_PRESENT_P) =>
                {
                    let from = ev.time.max(sortie.from);
                    let to = ev.end.map_or(sortie.to, |end| end.min(sortie.to));
                    let at = time_between(&mut rng, from, to);
                    let g = point(scatter(&mut rng, ev.location, POSITION_SD_M));
                    match &ev.weapon {
                        Some(w) => {
                            let seen = binomial(&mut rng, w.count, COUNT_SEEN_P).max(1);
                            let mistaken = classes.contains(&w.class)
                                && classes.len() > 1
                                && chance(&mut rng, MISIDENTIFY_P);
                            let class = if mistaken {
                                classes
                                    .iter()
                                    .find(|c| **c != w.class)
                                    .cloned()
                                    .unwrap_or_else(|| w.class.clone())
                            } else {
                                w.class.clone()
                            };
                            let mut o = new(ObservationKind::WeaponPresent, at, g);
                            o.properties.weapon = Some(WeaponSeen {
                                class,
                                count: seen,
                                serials: Vec::new(),
                            });
                            o.properties.remarks = format!("{seen} × {} in a tree line", w.model);
                            o
                        }
                        None => {
                            let mut o = new(ObservationKind::Construction, at, g);
                            o.properties.remarks = "fresh trenches and a dugout".into();
                            o
                        }
                    }
                }
                EventKind::LineCrossing if chance(&mut rng, SEE_MOVEMENT_P) => {
                    let seen: Vec<_> = ev.track.iter().filter(|(_, t)| airborne(t)).collect();
                    if seen.len() < 2 {
                        continue;
                    }
                    let coordinates = seen
                        .iter()
                        .map(|(p, _)| position(scatter(&mut rng, *p, POSITION_SD_M / 2.0)))
                        .collect();
                    let mut o = new(
                        ObservationKind::Movement,
                        seen[0].1,
                        Geometry::LineString { coordinates },
                    );
                    o.properties.timestamps = seen.iter().map(|(_, t)| *t).collect();
                    let vehicles = ev.weapon.as_ref().map_or(1, |w| w.count);
                    o.properties.remarks = format!("column of {vehicles} armoured vehicles moving");
                    o
                }
                _ => continue,
            };
            draft.records.push(Record::feature(o, vec![ei]));
        }
        if chance(&mut rng, FALSE_WEAPON_P) && !classes.is_empty() {
            let centre = (sortie.drone as f64 + 0.5) / DRONES.len() as f64;
            let parties: Vec<&str> = th.parties().collect();
            let party = parties[index(&mut rng, parties.len())];
            if let Some((p, _)) = th.place(&mut rng, party, (centre, 0.1), (1_000.0, BAND_M)) {
                let at = time_between(&mut rng, sortie.from, sortie.to);
                let mut o = new(ObservationKind::WeaponPresent, at, point(p));
                o.properties.weapon = Some(WeaponSeen {
                    class: classes[0].clone(),
                    count: 1,
                    serials: Vec::new(),
                });
                o.properties.remarks = "possible howitzer under camouflage netting".into();
                draft.records.push(Record::feature(o, Vec::new()));
            }
        }
    }
    (draft.write(&mut rng), gaps)
}
