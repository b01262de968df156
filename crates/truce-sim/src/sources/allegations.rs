//! Party allegations: each party's liaison desk files what it says the other side did, as GeoJSON
//! observations with source kind `party` (one file per party, as each desk files its own).
//!
//! Some allegations are true — shelling that landed on the desk's side, the other side's heavy
//! weapons, a crossing, a breach in a disengagement zone — but placed and timed as a party
//! reports them: kilometres off, the time rounded to five minutes and shifted, counts inflated.
//! Others are false: shelling nobody did, weapons that are not there. A true allegation is in
//! its event's `observation_ids`; a false one is in no event's. Every allegation names the
//! accused party in `affiliation` and carries the same grade, D3 (not usually reliable,
//! possibly true): the monitor cannot tell them apart before verifying.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use truce_core::observation::{
    Observation, ObservationKind, Reliability, Source, SourceKind, WeaponSeen,
};
use truce_geo::LonLat;

use super::{Ids, Scene, observation, point};
use crate::FeedFormat;
use crate::records::{Defect, Draft, Record, Written};
use crate::rng::{Rng, Stream, chance, index, int, normal, poisson, scatter, time_between};
use crate::truth::EventKind;

/// Chance a party alleges each of: an impact on its side, the other side's heavy weapons (or
/// weapons and works in a disengagement zone), a crossing from the other side.
const ALLEGE_IMPACT_P: f64 = 0.3;
const ALLEGE_WEAPONS_P: f64 = 0.25;
const ALLEGE_CROSSING_P: f64 = 0.6;
/// How far off a party places what it alleges, metres (one sigma per axis).
const PLACE_SD_M: f64 = 1_200.0;
/// How far off its time is, minutes (one sigma), before rounding to five minutes.
const TIME_SD_MIN: f64 = 15.0;
/// The error radius and time uncertainty a party's desk writes.
const ERROR_RADIUS_M: f64 = 2_000.0;
const TIME_UNCERTAINTY_S: f64 = 1_800.0;
/// False allegations per party per day.
const FALSE_PER_DAY: f64 = 1.0;
/// Depth of a false shelling claim on the party's own side, and of false weapons on the other's,
/// metres from the line.
const FALSE_IMPACT_DEPTH_M: (f64, f64) = (1_000.0, 8_000.0);
const FALSE_WEAPON_DEPTH_M: (f64, f64) = (3_000.0, 20_000.0);

/// A time as a party reports it: shifted, rounded to five minutes.
fn reported_time(rng: &mut Rng, t: DateTime<Utc>) -> DateTime<Utc> {
    let shifted = t + TimeDelta::seconds((normal(rng, 0.0, TIME_SD_MIN) * 60.0) as i64);
    let over = i64::from(shifted.minute() % 5) * 60 + i64::from(shifted.second());
    shifted - TimeDelta::seconds(over)
}

/// One party's desk.
struct Desk<'p> {
    party: &'p str,
    ids: Ids,
    prefix: String,
}

impl Desk<'_> {
    fn allege(
        &mut self,
        kind: ObservationKind,
        at: DateTime<Utc>,
        p: LonLat,
        accused: &str,
    ) -> Observation {
        let source = Source {
            id: self.prefix.clone(),
            kind: SourceKind::Party,
            reliability: Reliability::D,
            credibility: 3,
            party: Some(self.party.to_string()),
        };
        let mut o = observation(self.ids.next(&self.prefix, at), kind, at, source, point(p));
        o.properties.error_radius_m = ERROR_RADIUS_M;
        o.properties.time_uncertainty_s = TIME_UNCERTAINTY_S;
        o.properties.affiliation = Some(accused.to_string());
        o
    }
}

pub(crate) fn observe(scene: &Scene<'_, '_>) -> Written {
    let th = scene.theatre;
    let parties: Vec<&str> = th.parties().collect();
    let mut written = Written::default();
    for (pi, &party) in parties.iter().enumerate() {
        let mut rng = scene.rng(Stream::Allegations, pi as u64);
        let prefix = format!("jccc-{}", party.to_lowercase());
        let mut desk = Desk {
            party,
            ids: Ids::default(),
            prefix: prefix.clone(),
        };
        let mut draft = Draft::new(
            &format!("allegations-{}.geojson", party.to_lowercase()),
            FeedFormat::GeoJson,
            &[Defect::LocalDateFormat],
        );
        for (ei, ev) in scene.events.iter().enumerate() {
            let Some(accused) = ev.party.as_deref().filter(|a| *a != party && ev.violation) else {
                continue;
            };
            let on_our_side = th.party_at(ev.location) == Some(party);
            let o = match ev.kind {
                EventKind::Impact if on_our_side && chance(&mut rng, ALLEGE_IMPACT_P) => {
                    let at = reported_time(&mut rng, ev.time);
                    let mut o = desk.allege(
                        ObservationKind::Impact,
                        at,
                        scatter(&mut rng, ev.location, PLACE_SD_M),
                        accused,
                    );
                    let claimed = ev.rounds + int(&mut rng, 0, ev.rounds);
                    let calibre = ev
                        .weapon
                        .as_ref()
                        .map_or("heavy weapons".to_string(), |w| w.model.clone());
                    o.properties.remarks = format!(
                        "{accused} forces shelled our positions with {calibre}: {claimed} rounds"
                    );
                    o
                }
                EventKind::HeavyWeapon | EventKind::DisengagementBreach
                    if chance(&mut rng, ALLEGE_WEAPONS_P) =>
                {
                    let at = reported_time(&mut rng, ev.time);
                    let p = scatter(&mut rng, ev.location, PLACE_SD_M);
                    match &ev.weapon {
                        Some(w) => {
                            let mut o = desk.allege(ObservationKind::WeaponPresent, at, p, accused);
                            let count = w.count + int(&mut rng, 0, 2);
                            o.properties.weapon = Some(WeaponSeen {
                                class: w.class.clone(),
                                count,
                                serials: Vec::new(),
                            });
                            o.properties.remarks = format!(
                                "{accused} moved {count} × {} forward in breach of the withdrawal",
                                w.model
                            );
                            o
                        }
                        None => {
                            let mut o = desk.allege(ObservationKind::Construction, at, p, accused);
                            o.properties.remarks = format!(
                                "{accused} forces are digging in inside the disengagement area"
                            );
                            o
                        }
                    }
                }
                EventKind::LineCrossing if chance(&mut rng, ALLEGE_CROSSING_P) => {
                    let at = reported_time(&mut rng, ev.time);
                    let mut o = desk.allege(
                        ObservationKind::Movement,
                        at,
                        scatter(&mut rng, ev.location, PLACE_SD_M),
                        accused,
                    );
                    o.properties.remarks =
                        format!("{accused} sabotage and reconnaissance group crossed the line");
                    o
                }
                _ => continue,
            };
            draft.records.push(Record::feature(o, vec![ei]));
        }
        // False allegations: shelling of our side, or their weapons forward, that never was.
        let other = parties.iter().copied().find(|p| *p != party);
        let classes = &th.terms.weapon_classes;
        for _ in 0..poisson(&mut rng, FALSE_PER_DAY * f64::from(scene.period.days)) {
            let Some(accused) = other else { break };
            let when = time_between(&mut rng, scene.period.start, scene.period.end);
            let at = reported_time(&mut rng, when);
            let o = if classes.is_empty() || chance(&mut rng, 0.6) {
                let Some((p, _)) = th.place(&mut rng, party, (0.5, 1.0), FALSE_IMPACT_DEPTH_M)
                else {
                    continue;
                };
                let mut o = desk.allege(ObservationKind::Impact, at, p, accused);
                o.properties.remarks = format!(
                    "{accused} forces shelled our positions: {} rounds",
                    int(&mut rng, 3, 30)
                );
                o
            } else {
                let class = &classes[index(&mut rng, classes.len())];
                let depth = (
                    FALSE_WEAPON_DEPTH_M.0,
                    FALSE_WEAPON_DEPTH_M.1.min(class.withdrawal_km * 1000.0),
                );
                let Some((p, _)) = th.place(&mut rng, accused, (0.5, 1.0), depth) else {
                    continue;
                };
                let mut o = desk.allege(ObservationKind::WeaponPresent, at, p, accused);
                let count = int(&mut rng, 2, 8);
                o.properties.weapon = Some(WeaponSeen {
                    class: class.id.clone(),
                    count,
                    serials: Vec::new(),
                });
                o.properties.remarks = format!(
                    "{accused} moved {count} × {} forward in breach of the withdrawal",
                    class.name
                );
                o
            };
            draft.records.push(Record::feature(o, Vec::new()));
        }
        written.extend(draft.write(&mut rng));
    }
    written
}
