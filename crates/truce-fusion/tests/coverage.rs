//! Coverage on a hand-made line whose answers can be worked out by hand: a meridian from
//! 48.0° N to 48.5° N at 38° E (about 55.6 km: sectors [0, 25), [25, 50), [50, 55.6) km),
//! sensors placed by chainage and offset, outages from coverage observations.

use chrono::{DateTime, NaiveDate, Utc};
use truce_core::mission::{Sector, Sensor};
use truce_core::observation::{Observation, Place, SourceKind, parse_feature};
use truce_fusion::coverage::{
    BAND_KM, QUIET_MIN_HOURS, Sectors, Status, coverage, outages, report,
};
use truce_geo::{LonLat, destination, distance_m};

const START: LonLat = [38.0, 48.0];

fn line() -> Vec<Vec<LonLat>> {
    vec![vec![START, [38.0, 48.5]]]
}

/// The point `east_km` east of the line point `km` along it.
fn at(km: f64, east_km: f64) -> LonLat {
    let on = destination(START, 0.0, km * 1000.0);
    if east_km == 0.0 {
        on
    } else {
        destination(on, 90.0, east_km * 1000.0)
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn sensor(id: &str, p: LonLat, range_km: f64, sector: Option<Sector>) -> Sensor {
    Sensor {
        id: id.into(),
        kind: SourceKind::Camera,
        position: p,
        range_km,
        sector,
    }
}

fn sensors() -> Vec<Sensor> {
    let west = Some(Sector {
        facing_deg: 270.0,
        width_deg: 120.0,
    });
    vec![
        // Reaches chainage 5 ± 4 km: sector 0.
        sensor("cam-a", at(5.0, 3.0), 5.0, None),
        // Reaches 25 ± 4.6 km: sectors 0 and 1.
        sensor("cam-b", at(25.0, 2.0), 5.0, None),
        // Facing the line, ±60°: sees 40 ± 2·tan 60° = 40 ± 3.5 km of it: sector 1 only
        // (all round, its 12 km would reach 40 ± 11.8 km: sector 2 too).
        sensor("cam-c", at(40.0, 2.0), 12.0, west),
        // 30 km from the line, range 10 km: nothing.
        sensor("cam-d", at(10.0, 30.0), 10.0, None),
    ]
}

fn feature(id: &str, kind: &str, p: LonLat, time: &str, source: &str, extra: &str) -> Observation {
    let (sid, skind) = source.split_once(':').unwrap();
    let text = format!(
        r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"kind":"{kind}","observed_at":"{time}","source":{{"id":"{sid}","kind":"{skind}","reliability":"A","credibility":1}}{extra}}}}}"#,
        p[0], p[1]
    );
    parse_feature(0, &text)
        .unwrap_or_else(|r| panic!("{r:?}"))
        .0
}

fn health(id: &str, sensor: &str, status: &str, from: &str, until: Option<&str>) -> Observation {
    let until = until.map_or(String::new(), |u| format!(r#","until":"{u}""#));
    feature(
        id,
        "coverage",
        START,
        from,
        &format!("{sensor}:camera"),
        &format!(r#","coverage":{{"sensor":"{sensor}","status":"{status}"{until}}}"#),
    )
}

#[test]
fn sectors_by_chainage() {
    let s = Sectors::new(&line()).unwrap();
    let length_km = distance_m(START, [38.0, 48.5]) / 1000.0;
    assert!((length_km - 55.6).abs() < 0.1, "{length_km}");
    assert_eq!(s.len(), 3);
    assert_eq!(s.bounds_km(0), (0.0, 25.0));
    assert_eq!(s.bounds_km(1), (25.0, 50.0));
    assert_eq!(s.bounds_km(2).0, 50.0);
    assert!((s.bounds_km(2).1 - length_km).abs() < 1e-9);
    assert!((s.chainage_m(at(12.0, 5.0)).unwrap() - 12_000.0).abs() < 50.0);
    assert_eq!(s.sector_of(at(24.9, 3.0)), Some(0));
    assert_eq!(s.sector_of(at(25.1, -3.0)), Some(1));
    assert_eq!(s.sector_of(at(52.0, 0.0)), Some(2));
    // Beyond the end, the nearest point is the end: the last sector.
    assert_eq!(s.sector_of([38.0, 48.6]), Some(2));
    // Within the band, and beyond it.
    assert_eq!(s.sector_of(at(30.0, BAND_KM - 0.5)), Some(1));
    assert_eq!(s.sector_of(at(30.0, BAND_KM + 0.5)), None);
}

#[test]
fn chainage_runs_through_the_polylines_in_order() {
    // 0.1° (11.1 km) then 0.3° (33.4 km) of meridian: two sectors.
    let s = Sectors::new(&[
        vec![[38.0, 48.0], [38.0, 48.1]],
        vec![[39.0, 48.0], [39.0, 48.3]],
    ])
    .unwrap();
    assert_eq!(s.len(), 2);
    let first = distance_m([38.0, 48.0], [38.0, 48.1]);
    let c = s.chainage_m([39.01, 48.2]).unwrap();
    assert!((c - first - distance_m([39.0, 48.0], [39.0, 48.2])).abs() < 20.0);
    assert_eq!(s.sector_of([39.01, 48.2]), Some(1));
    assert_eq!(s.sector_of([39.01, 48.1]), Some(0), "11.1 + 11.1 km");
    assert_eq!(s.sector_of([38.01, 48.05]), Some(0));
}

#[test]
fn which_sensors_reach_which_sectors() {
    let s = Sectors::new(&line()).unwrap();
    let reach = |x: &Sensor| (0..3).filter(|&i| s.reaches(i, x)).collect::<Vec<_>>();
    let all = sensors();
    assert_eq!(reach(&all[0]), [0]);
    assert_eq!(reach(&all[1]), [0, 1]);
    assert_eq!(reach(&all[2]), [1]);
    assert_eq!(reach(&all[3]), Vec::<usize>::new());
    let mut all_round = all[2].clone();
    all_round.sector = None;
    assert_eq!(reach(&all_round), [1, 2]);
    let mut away = all[2].clone();
    away.sector = Some(Sector {
        facing_deg: 90.0,
        width_deg: 120.0,
    });
    assert_eq!(
        reach(&away),
        Vec::<usize>::new(),
        "facing away from the line"
    );
}

#[test]
fn outages_come_from_coverage_observations() {
    let obs = [
        health("h1", "cam-c", "offline", "2015-03-01T20:00:00Z", None),
        health("h2", "cam-c", "online", "2015-03-03T08:00:00Z", None),
        health(
            "h3",
            "cam-a",
            "jammed",
            "2015-03-02T06:00:00Z",
            Some("2015-03-02T12:00:00Z"),
        ),
        health("h4", "cam-b", "degraded", "2015-03-04T06:00:00Z", None),
        feature(
            "x",
            "impact",
            START,
            "2015-03-02T06:00:00Z",
            "uav-1:drone",
            "",
        ),
    ];
    let got: Vec<(String, Option<DateTime<Utc>>)> = outages(&obs)
        .into_iter()
        .map(|o| (format!("{} {}", o.sensor, o.from), o.until))
        .collect();
    assert_eq!(
        got,
        [
            (
                "cam-a 2015-03-02 06:00:00 UTC".to_string(),
                Some(t("2015-03-02T12:00:00Z"))
            ),
            ("cam-b 2015-03-04 06:00:00 UTC".to_string(), None),
            (
                "cam-c 2015-03-01 20:00:00 UTC".to_string(),
                Some(t("2015-03-03T08:00:00Z")),
            ),
        ]
    );
}

#[test]
fn reports_are_the_mission_s_mobile_sources() {
    let p = at(52.0, 1.0);
    let place = Place::Point(p);
    let drone = feature("d", "impact", p, "2015-03-02T09:00:00Z", "uav-1:drone", "");
    let r = report(&drone, &place).unwrap();
    assert_eq!((r.source.as_str(), r.kind), ("uav-1", SourceKind::Drone));
    for source in ["jccc-ua:party", "ucdp-ged:open_source", "cam-01:camera"] {
        let o = feature("o", "impact", p, "2015-03-02T09:00:00Z", source, "");
        assert_eq!(report(&o, &place), None, "{source}");
    }
    let h = health("h", "uav-1", "jammed", "2015-03-02T09:00:00Z", None);
    assert_eq!(report(&h, &place), None, "sensor health is not a report");
}

#[test]
fn two_days_of_three_sectors() {
    let sectors = Sectors::new(&line()).unwrap();
    let health = [
        // cam-a down 06–12 on the 2nd; cam-b 10–17; cam-c from the evening of the 1st until
        // its next report, online at 08:00 on the 3rd.
        health(
            "h1",
            "cam-a",
            "offline",
            "2015-03-02T06:00:00Z",
            Some("2015-03-02T12:00:00Z"),
        ),
        health(
            "h2",
            "cam-b",
            "offline",
            "2015-03-02T10:00:00Z",
            Some("2015-03-02T17:00:00Z"),
        ),
        health("h3", "cam-c", "offline", "2015-03-01T20:00:00Z", None),
        health("h4", "cam-c", "online", "2015-03-03T08:00:00Z", None),
    ];
    let outages = outages(&health);
    let reports: Vec<_> = [
        // A drone in sector 2 on the 2nd, and one beyond the band (not counted).
        (at(52.0, 1.0), "2015-03-02T09:00:00Z", "uav-1:drone"),
        (at(52.0, 40.0), "2015-03-03T09:00:00Z", "uav-2:drone"),
        // A party's allegation is no report.
        (at(53.0, 1.0), "2015-03-03T09:00:00Z", "jccc-ru:party"),
    ]
    .into_iter()
    .filter_map(|(p, time, source)| {
        report(
            &feature(
                "r",
                "weapon_present",
                p,
                time,
                source,
                r#","weapon":{"class":"x"}"#,
            ),
            &Place::Point(p),
        )
    })
    .collect();
    assert_eq!(reports.len(), 2);
    let incidents = [
        (at(12.0, -1.0), t("2015-03-03T21:00:00Z")),
        (at(40.0, 30.0), t("2015-03-03T21:00:00Z")), // beyond the band
    ];
    let table = coverage(
        &sectors,
        &sensors(),
        &outages,
        &reports,
        &incidents,
        NaiveDate::from_ymd_opt(2015, 3, 2).unwrap(),
        2,
    );
    // day sector: watched hours, sensors up, mobile sources, incidents, status.
    let rows: Vec<String> = table
        .iter()
        .map(|r| {
            format!(
                "{} {}: {} h, [{}], [{}], {}, {}",
                r.day,
                r.sector,
                r.watched_hours,
                r.sensors.join(" "),
                r.mobile.join(" "),
                r.incidents,
                r.status.as_str()
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            // cam-a up 00–06, 12–24; cam-b 00–10, 17–24: together 00–10, 12–24.
            "2015-03-02 0: 22 h, [cam-a cam-b], [], 0, observed_quiet",
            // cam-b alone (cam-c down all day): 17 h, short of 18.
            "2015-03-02 1: 17 h, [cam-b], [], 0, partly_observed",
            // No sensor, but a drone reported from it.
            "2015-03-02 2: 0 h, [], [uav-1], 0, observed_quiet",
            "2015-03-03 0: 24 h, [cam-a cam-b], [], 1, incidents",
            // cam-c back from 08:00, cam-b all day.
            "2015-03-03 1: 24 h, [cam-b cam-c], [], 0, observed_quiet",
            "2015-03-03 2: 0 h, [], [], 0, not_observed",
        ]
    );
    assert_eq!(table[1].status, Status::PartlyObserved);
    assert!(table[1].watched_hours < QUIET_MIN_HOURS);
}

/// The simulator's three days under the bundled terms: its mission's sensors, its sensor-health
/// feed, the drones', satellites' and teams' reports, and the fused incidents that breach a
/// rule; then the tasks those incidents need, planned for the mission's teams.
#[test]
fn the_simulated_mission_over_three_days() {
    use std::collections::{BTreeMap, BTreeSet};
    use truce_fusion::Fusion;
    use truce_fusion::tasks::{assign, request};

    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    let terms = truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap();
    let engine = std::sync::Arc::new(truce_core::assess::Engine::new(terms).unwrap());
    let terms = engine.agreement();
    let start = truce_sim::default_start(terms);
    let sim = truce_sim::simulate(terms, 3, 1, start);
    let mut batch = Vec::new();
    let mut seen = BTreeSet::new();
    for feed in &sim.feeds {
        let records =
            truce_ingest::ingest_file(&feed.file_name, &feed.bytes, None, &Default::default())
                .unwrap();
        for r in records {
            let Ok(obs) = r.result else { continue };
            if !seen.insert(obs.display_id(0)) {
                continue; // re-deliveries
            }
            let place = obs.validate().unwrap();
            let seq = batch.len() as u64;
            let a = engine.assess(seq as usize, &obs, &place);
            batch.push((seq, obs, place, a));
        }
    }
    let mut fusion = Fusion::new(engine.clone());
    fusion.fuse(&batch);
    let breaching: Vec<_> = fusion
        .incidents()
        .iter()
        .filter(|i| !i.breaches.is_empty())
        .collect();

    let sectors = Sectors::new(&terms.contact_line.lines).unwrap();
    let outages = outages(batch.iter().map(|b| &b.1));
    let reports: Vec<_> = batch.iter().filter_map(|b| report(&b.1, &b.2)).collect();
    let incidents: Vec<_> = breaching
        .iter()
        .filter_map(|i| Some((i.location?, i.start)))
        .collect();
    let table = coverage(
        &sectors,
        &sim.mission.sensors,
        &outages,
        &reports,
        &incidents,
        start.date_naive(),
        3,
    );
    assert_eq!(table.len(), sectors.len() * 3);
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &table {
        *by_status.entry(r.status.as_str()).or_default() += 1;
        // Each row's status follows from its own numbers.
        let want = if r.incidents > 0 {
            Status::Incidents
        } else if r.watched_hours >= QUIET_MIN_HOURS || !r.mobile.is_empty() {
            Status::ObservedQuiet
        } else if r.watched_hours > 0.0 {
            Status::PartlyObserved
        } else {
            Status::NotObserved
        };
        assert_eq!(r.status, want, "{r:?}");
    }
    println!(
        "{} sectors of {:.0} km line, {} outages, {} mobile reports, {} breaching incidents: {by_status:?}",
        sectors.len(),
        sectors.length_m() / 1000.0,
        outages.len(),
        reports.len(),
        incidents.len()
    );
    assert!(by_status.get("incidents").is_some_and(|&n| n > 0));
    assert!(by_status.get("observed_quiet").is_some_and(|&n| n > 0));

    let requests: Vec<_> = breaching
        .iter()
        .filter_map(|i| request(i, terms).ok())
        .collect();
    let plan = assign(
        &requests,
        &sim.mission.teams,
        &BTreeSet::new(),
        &[],
        start + chrono::TimeDelta::days(3),
    );
    println!(
        "{} tasks: {} assigned ({:?}), {} waiting",
        requests.len(),
        plan.assigned.len(),
        plan.assigned
            .iter()
            .map(|a| format!("{} {} {:.1} km", a.task, a.team, a.distance_m / 1000.0))
            .collect::<Vec<_>>(),
        plan.unassigned.len()
    );
    assert_eq!(
        plan.assigned.len(),
        sim.mission.teams.len().min(requests.len())
    );
}
