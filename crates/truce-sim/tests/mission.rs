//! The simulated mission file: it loads, it is the bundled `scenarios/donbas-2015/mission.toml`
//! byte for byte, and the simulated sensors stand and report exactly where it says.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use truce_core::agreement::{Agreement, load, to_multipolygon};
use truce_core::mission::Mission;
use truce_core::observation::{Geometry, ObservationKind, SourceKind};
use truce_geo::{AreaIndex, LineIndex};
use truce_ingest::{Options, ingest_file};
use truce_sim::{MISSION_FILE_NAME, default_start, mission, mission_toml, simulate};

fn scenario() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015")
}

fn terms() -> &'static Agreement {
    static TERMS: OnceLock<Agreement> = OnceLock::new();
    TERMS.get_or_init(|| {
        let dir = scenario();
        let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|d| panic!("{d:#?}"))
    })
}

/// Rewrites the bundled file: `cargo test -p truce-sim --test mission -- --ignored`.
#[test]
#[ignore = "writes scenarios/donbas-2015/mission.toml"]
fn write_bundled_mission() {
    std::fs::write(scenario().join(MISSION_FILE_NAME), mission_toml(terms())).unwrap();
}

#[test]
fn bundled_mission_is_the_simulated_one() {
    let on_disk = std::fs::read_to_string(scenario().join(MISSION_FILE_NAME)).unwrap();
    assert!(
        on_disk == mission_toml(terms()),
        "scenarios/donbas-2015/mission.toml is stale: run `cargo test -p truce-sim --test mission -- --ignored`"
    );
    let loaded =
        truce_core::mission::load("mission.toml", &on_disk).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(loaded, mission(terms()), "the hash included");
}

#[test]
fn teams_and_sensors() {
    let m: Mission = mission(terms());
    assert_eq!(m.id, "donbas-2015-mission");
    let ids = |kind: SourceKind| -> Vec<&str> {
        m.sensors
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.id.as_str())
            .collect()
    };
    assert_eq!(ids(SourceKind::Camera).len(), 9);
    assert_eq!(ids(SourceKind::Camera)[0], "cam-01");
    assert_eq!(ids(SourceKind::Acoustic).len(), 6);
    for s in &m.sensors {
        let sector = s.sector.map(|x| (x.width_deg, s.range_km));
        match s.kind {
            SourceKind::Camera => assert_eq!(sector, Some((120.0, 12.0)), "{}", s.id),
            _ => assert_eq!((sector, s.range_km), (None, 25.0), "{}", s.id),
        }
    }
    // Each team's base: 25 km behind the line on the first party's (UA) side, one per quarter,
    // in order along the line.
    let ua = AreaIndex::new(to_multipolygon(&terms().parties[0].area));
    let line = LineIndex::new(terms().contact_line.lines.clone()).unwrap();
    assert_eq!(
        m.teams.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["team-1", "team-2", "team-3", "team-4"]
    );
    for t in &m.teams {
        assert!(ua.contains(t.base), "{} {:?}", t.id, t.base);
        let d = line.distance_m(t.base);
        assert!((12_500.0..=25_100.0).contains(&d), "{} {d}", t.id);
    }
    // Same for every seed and period: the sites come from the geometry alone.
    let a = simulate(terms(), 1, 1, default_start(terms()));
    let b = simulate(terms(), 2, 7, default_start(terms()));
    assert_eq!(a.mission, m);
    assert_eq!(b.mission, m);
    assert_eq!(a.mission_toml(), mission_toml(terms()));
}

#[test]
fn simulated_sensors_report_from_where_the_mission_says() {
    let m = mission(terms());
    let sim = simulate(terms(), 3, 1, default_start(terms()));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for feed in &sim.feeds {
        let records = ingest_file(&feed.file_name, &feed.bytes, None, &Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", feed.file_name));
        for r in records {
            let Ok(o) = r.result else { continue };
            let p = &o.properties;
            let sensor_id = match (p.kind, &p.coverage) {
                (ObservationKind::Coverage, Some(c)) => c.sensor.clone(),
                _ => p.source.id.clone(),
            };
            if !matches!(p.source.kind, SourceKind::Camera | SourceKind::Acoustic) {
                continue;
            }
            let sensor = m
                .sensor(&sensor_id)
                .unwrap_or_else(|| panic!("{sensor_id} is not in the mission"));
            assert_eq!(sensor.kind, p.source.kind, "{sensor_id}");
            let Geometry::Point { coordinates } = &o.geometry else {
                panic!("{sensor_id}: not a point")
            };
            assert_eq!(
                coordinates[..],
                sensor.position[..],
                "{sensor_id} in {}",
                feed.file_name
            );
            if let (Some(b), Some(s)) = (&p.bearing, sensor.sector) {
                assert_eq!(b.max_range_m, Some(sensor.range_km * 1000.0));
                // The noisy azimuth is within the sector give or take the noise.
                let off = (b.azimuth_deg - s.facing_deg + 540.0).rem_euclid(360.0) - 180.0;
                assert!(off.abs() <= s.width_deg / 2.0 + 10.0, "{sensor_id} {off}");
            }
            *seen.entry(sensor_id).or_default() += 1;
        }
    }
    assert!(seen.len() >= 10, "{seen:?}");
}
