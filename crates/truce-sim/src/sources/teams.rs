//! Ground teams: daylight patrols that report from the field as Cursor-on-Target markers (what
//! an ATAK device sends), and storage-site inspections filed as GeoJSON (CoT cannot carry counts
//! by class).
//!
//! Schedule: each team patrols its quarter of the line, both sides, for six to eight hours from
//! an hour or two after sunrise; now and then a patrol is cancelled for security. On patrol a
//! team visits some of the craters of the last day (`b-m-p-s-m` spot marker, remarks "Fresh
//! crater …" with the calibre and the direction the round came from), sees some of the heavy
//! weapons present (2525 weapon types: `a-u-G-E-W-A` artillery, `a-u-G-E-W-R` rocket launcher,
//! `a-u-G-E-V-A-T` tank — affiliation `u`, unknown: monitors record what they saw, not whose), and
//! draws new works it finds in a disengagement zone (`u-d-f` free-form shape, remarks "Fresh
//! trenches …"). A team turned back at a checkpoint almost always reports it (spot marker,
//! remarks "Access denied …"). The remarks are worded so the ingest's keyword table maps each
//! marker to the intended kind.
//!
//! Error: a team's own GPS fix is good to [`OWN_FIX_CE_M`]; something seen from the road is
//! placed by eye and range estimate, [`STANDOFF_SD_M`] off and reported with a larger `ce`.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use truce_core::observation::{ObservationKind, Reliability, SourceKind, StorageCheck};
use truce_geo::{LonLat, azimuth_deg, destination};

use super::{Ids, Scene, compass, observation, point, source};
use crate::FeedFormat;
use crate::network::{TEAMS, stretch};
use crate::records::{Body, CotEvent, Defect, Draft, Record, Written};
use crate::rng::{
    Rng, Stream, binomial, chance, int, normal, scatter, time_between, uniform, uuid,
};
use crate::sun::daylight;
use crate::truth::EventKind;
use crate::world::Event;

/// When a patrol sets out after sunrise, and how long it lasts, hours.
const PATROL_START_H: (f64, f64) = (1.0, 2.0);
const PATROL_H: (f64, f64) = (6.0, 8.0);
/// Chance a patrol is cancelled (security situation).
const NO_PATROL_P: f64 = 0.1;
/// How far back a patrol looks for craters to visit, hours.
const CRATER_LOOKBACK_H: i64 = 24;
/// Chance a patrol visits a crater in its quarter; sees heavy weapons present; finds new works.
const VISIT_CRATER_P: f64 = 0.3;
const SEE_WEAPON_P: f64 = 0.3;
const SEE_WORKS_P: f64 = 0.5;
/// Chance a team reports being turned back (almost always; the device may be confiscated).
const REPORT_DENIAL_P: f64 = 0.95;
/// Circular error of a marker at the team's own position, metres (handheld GPS).
const OWN_FIX_CE_M: f64 = 10.0;
/// Position error of something seen from the road, metres (one sigma per axis), and the `ce`
/// the team gives it.
const STANDOFF_SD_M: f64 = 150.0;
const STANDOFF_CE_M: f64 = 300.0;
/// Error of a crater's direction of origin from its shape and fragments, degrees (one sigma).
const CRATER_DIRECTION_SD_DEG: f64 = 15.0;
/// Each weapon of a group seen from the road with this chance.
const COUNT_SEEN_P: f64 = 0.8;
/// A drawn trench outline: length and width, metres.
const WORKS_SIZE_M: (f64, f64) = (80.0, 20.0);
/// How long a marker stays current on other devices.
const STALE_H: i64 = 24;
/// Share of valid markers the TAK server sends twice (queued messages re-sent on reconnect).
const RESEND_SHARE: f64 = 0.1;
/// Error radius of a storage inspection's position, metres (the team is at the site).
const INSPECTION_ERROR_RADIUS_M: f64 = 50.0;

/// The CoT 2525 type for a weapon class, when the built-in type table has one.
fn weapon_type(class: &str) -> Option<&'static str> {
    match class {
        "artillery_100mm_plus" => Some("a-u-G-E-W-A"),
        "mlrs" | "heavy_mlrs_tochka" => Some("a-u-G-E-W-R"),
        "tank" => Some("a-u-G-E-V-A-T"),
        _ => None,
    }
}

/// "122 mm" from "D-30 122 mm towed howitzer".
fn calibre(model: &str) -> Option<&str> {
    let at = model.find(" mm")?;
    let start = model[..at].rfind(' ').map_or(0, |i| i + 1);
    Some(&model[start..at + 3])
}

/// What a marker is before it becomes CoT.
struct Marker {
    cot_type: &'static str,
    at: DateTime<Utc>,
    position: LonLat,
    ce: f64,
    links: Vec<LonLat>,
    remarks: String,
}

fn cot_record(rng: &mut Rng, team: &str, m: Marker, ei: usize) -> Record {
    let uid = uuid(rng);
    // ATAK writes milliseconds; never .000, so the id's time reads the same whether the ingest
    // keeps the fraction as written or as chrono prints it.
    let time = m.at + TimeDelta::milliseconds(i64::from(int(rng, 1, 999)));
    let id = format!(
        "cot:{uid}:{}",
        time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    );
    let event = CotEvent {
        uid,
        cot_type: m.cot_type.into(),
        time,
        stale: time + TimeDelta::hours(STALE_H),
        how: "h-g-i-g-o",
        lat: m.position[1],
        lon: m.position[0],
        ce: m.ce,
        callsign: team.into(),
        links: m.links,
        remarks: m.remarks,
    };
    Record {
        time,
        id,
        body: Body::Cot(event),
        events: vec![ei],
    }
}

/// The corners of a trench outline around `p`, turned by `heading_deg`.
fn outline(p: LonLat, heading_deg: f64) -> Vec<LonLat> {
    let (half_l, half_w) = (WORKS_SIZE_M.0 / 2.0, WORKS_SIZE_M.1 / 2.0);
    [
        (half_l, half_w),
        (half_l, -half_w),
        (-half_l, -half_w),
        (-half_l, half_w),
    ]
    .iter()
    .map(|&(along, across)| {
        let a = destination(p, heading_deg, along);
        destination(a, heading_deg + 90.0, across)
    })
    .collect()
}

pub(crate) fn observe(scene: &Scene<'_, '_>) -> Written {
    let th = scene.theatre;
    let mut rng = scene.rng(Stream::Teams, 0);
    let mut cot = Draft::new(
        "ground-teams.cot",
        FeedFormat::Cot,
        &[Defect::CommaDecimal, Defect::TruncatedEvent],
    );
    cot.resend = Some(("ground-teams-resend.cot".into(), RESEND_SHARE));
    let mut storage = Draft::new(
        "storage-checks.geojson",
        FeedFormat::GeoJson,
        &[Defect::NegativeCount],
    );
    let mut ids = Ids::default();

    // Reports that do not depend on a patrol's schedule: denials and inspections.
    for (ei, ev) in scene.events.iter().enumerate() {
        let Some(team) = ev.team else { continue };
        match ev.kind {
            EventKind::AccessDenied if chance(&mut rng, REPORT_DENIAL_P) => {
                let remarks = "Access denied at a checkpoint: armed personnel refused passage towards the line".into();
                let m = Marker {
                    cot_type: "b-m-p-s-m",
                    at: ev.time,
                    position: scatter(&mut rng, ev.location, OWN_FIX_CE_M / 2.0),
                    ce: OWN_FIX_CE_M,
                    links: Vec::new(),
                    remarks,
                };
                cot.records.push(cot_record(&mut rng, team, m, ei));
            }
            EventKind::StorageInspection | EventKind::StorageShortfall => {
                let finding = ev.finding.as_ref().expect("an inspection has its finding");
                let mut o = observation(
                    ids.next(&format!("storage-{team}"), ev.time),
                    ObservationKind::StorageCheck,
                    ev.time,
                    source(team, SourceKind::GroundTeam, Reliability::A, 2),
                    point(scatter(
                        &mut rng,
                        ev.location,
                        INSPECTION_ERROR_RADIUS_M / 3.0,
                    )),
                );
                o.properties.error_radius_m = INSPECTION_ERROR_RADIUS_M;
                o.properties.storage = Some(StorageCheck {
                    site: finding.site.clone(),
                    counts: finding.counts.clone(),
                    serials_seen: finding.serials_seen.clone(),
                });
                o.properties.remarks = ev.detail.clone();
                storage.records.push(Record::feature(o, vec![ei]));
            }
            _ => {}
        }
    }

    for (ti, team) in TEAMS.iter().enumerate() {
        let base = th.at_fraction((ti as f64 + 0.5) / TEAMS.len() as f64);
        let first = scene.period.start.date_naive();
        for date in first.iter_days().take(scene.period.days as usize + 1) {
            let Some((rise, set)) = daylight(date, base) else {
                continue;
            };
            let hours = |h: f64| TimeDelta::seconds((h * 3600.0) as i64);
            let from = rise + hours(uniform(&mut rng, PATROL_START_H.0, PATROL_START_H.1));
            let to = (from + hours(uniform(&mut rng, PATROL_H.0, PATROL_H.1))).min(set);
            if chance(&mut rng, NO_PATROL_P)
                || !scene.period.contains(from)
                || to > scene.period.end
            {
                continue;
            }
            let mine = |e: &Event| stretch(th.fraction_of(e.location), TEAMS.len()) == ti;
            for (ei, ev) in scene.events.iter().enumerate().filter(|(_, e)| mine(e)) {
                let marker = match ev.kind {
                    EventKind::Impact
                        if ev.time < to
                            && ev.time > from - TimeDelta::hours(CRATER_LOOKBACK_H)
                            && chance(&mut rng, VISIT_CRATER_P) =>
                    {
                        let firer = ev.cause.map(|c| scene.events[c].location);
                        let direction = firer.map_or(String::new(), |f| {
                            let az = azimuth_deg(ev.location, f)
                                + normal(&mut rng, 0.0, CRATER_DIRECTION_SD_DEG);
                            format!("; direction of origin {}", compass(az))
                        });
                        let model = ev.weapon.as_ref().map_or("", |w| w.model.as_str());
                        let round = match (
                            calibre(model),
                            model.contains("mortar"),
                            model.contains("rocket"),
                        ) {
                            (Some(c), true, _) => format!("{c} mortar bomb, tail fin found"),
                            (Some(c), _, true) => format!("{c} rocket, motor section found"),
                            (Some(c), _, _) => format!("{c} round"),
                            (None, _, _) => "calibre not determined".to_string(),
                        };
                        Marker {
                            cot_type: "b-m-p-s-m",
                            at: time_between(
                                &mut rng,
                                (ev.time + TimeDelta::minutes(30)).max(from),
                                to,
                            ),
                            position: scatter(&mut rng, ev.location, OWN_FIX_CE_M / 2.0),
                            ce: OWN_FIX_CE_M,
                            links: Vec::new(),
                            remarks: format!("Fresh crater, {round}{direction}"),
                        }
                    }
                    EventKind::HeavyWeapon | EventKind::DisengagementBreach
                        if ev.weapon.is_some()
                            && ev.present_during(from, to)
                            && chance(&mut rng, SEE_WEAPON_P) =>
                    {
                        let w = ev.weapon.as_ref().expect("checked above");
                        let seen = binomial(&mut rng, w.count, COUNT_SEEN_P).max(1);
                        let at = time_between(
                            &mut rng,
                            ev.time.max(from),
                            ev.end.map_or(to, |e| e.min(to)),
                        );
                        Marker {
                            cot_type: weapon_type(&w.class).unwrap_or("b-m-p-s-m"),
                            at,
                            position: scatter(&mut rng, ev.location, STANDOFF_SD_M),
                            ce: STANDOFF_CE_M,
                            links: Vec::new(),
                            remarks: format!("{seen} × {} seen from the road", w.model),
                        }
                    }
                    EventKind::DisengagementBreach
                        if ev.weapon.is_none() && ev.time < to && chance(&mut rng, SEE_WORKS_P) =>
                    {
                        let zone = ev
                            .zone
                            .as_deref()
                            .and_then(|z| th.terms.zones.iter().find(|x| x.id == z));
                        let name = zone.map_or("disengagement area", |z| z.name.as_str());
                        Marker {
                            cot_type: "u-d-f",
                            at: time_between(&mut rng, ev.time.max(from), to),
                            position: ev.location,
                            ce: OWN_FIX_CE_M,
                            links: outline(
                                scatter(&mut rng, ev.location, OWN_FIX_CE_M),
                                uniform(&mut rng, 0.0, 180.0),
                            ),
                            remarks: format!("Fresh trenches dug inside the {name}"),
                        }
                    }
                    _ => continue,
                };
                cot.records.push(cot_record(&mut rng, team, marker, ei));
            }
        }
    }
    let mut written = cot.write(&mut rng);
    written.extend(storage.write(&mut rng));
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibres_are_read_from_models() {
        assert_eq!(calibre("D-30 122 mm towed howitzer"), Some("122 mm"));
        assert_eq!(calibre("2B11 120 mm mortar"), Some("120 mm"));
        assert_eq!(calibre("T-64BV main battle tank"), None);
    }

    #[test]
    fn outline_is_a_closed_shape_around_the_point() {
        let p = [38.5, 48.7];
        let corners = outline(p, 30.0);
        assert_eq!(corners.len(), 4);
        for c in corners {
            let d = truce_geo::distance_m(p, c);
            assert!((d - 41.23).abs() < 0.1, "{d}");
        }
    }
}
