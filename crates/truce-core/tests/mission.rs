//! Loading mission files: the model, every error at once with file:line:column, the hash, and
//! the round trips through TOML and the logged JSON.

use truce_core::mission::{Mission, Sector, load};
use truce_core::observation::SourceKind;

const GOOD: &str = r#"
id = "test-mission"
version = 2
description = "two teams, two sensors"

[[team]]
id = "team-1"
name = "Team One"
base = [37.5, 48.7]

[[team]]
id = "team-2"
base = [37.6, 47.3]

[[sensor]]
id = "cam-01"
kind = "camera"
position = [38.01, 48.95]
range_km = 12
sector_deg = [135.5, 120]

[[sensor]]
id = "aco-01"
kind = "acoustic"
position = [38.2, 48.1]
range_km = 25.0
"#;

fn errors(text: &str) -> Vec<String> {
    load("mission.toml", text)
        .map(|_| Vec::new())
        .unwrap_or_else(|d| d.iter().map(ToString::to_string).collect())
}

#[test]
fn good_mission_loads() {
    let m = load("mission.toml", GOOD).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(m.id, "test-mission");
    assert_eq!(m.version, 2);
    assert_eq!(m.teams.len(), 2);
    assert_eq!(m.teams[0].name, "Team One");
    assert_eq!(m.teams[1].name, "team-2", "name defaults to the id");
    assert_eq!(m.team("team-2").unwrap().base, [37.6, 47.3]);
    let cam = m.sensor("cam-01").unwrap();
    assert_eq!(cam.kind, SourceKind::Camera);
    assert_eq!(cam.range_km, 12.0);
    assert_eq!(
        cam.sector,
        Some(Sector {
            facing_deg: 135.5,
            width_deg: 120.0
        })
    );
    assert_eq!(m.sensor("aco-01").unwrap().sector, None);
    assert_eq!(m.hash.len(), 64);
}

#[test]
fn version_defaults_to_one_and_lists_may_be_empty() {
    let m = load("m.toml", "id = \"x\"\n").unwrap();
    assert_eq!(m.version, 1);
    assert!(m.teams.is_empty() && m.sensors.is_empty());
}

#[test]
fn hash_ignores_formatting_but_not_resources() {
    let base = load("m.toml", GOOD).unwrap().hash;
    let reformatted = format!(
        "# comment\n{}",
        GOOD.replace("range_km = 12\n", "range_km   =   12.0\n")
    );
    assert_eq!(load("m.toml", &reformatted).unwrap().hash, base);
    let moved = GOOD.replace("base = [37.5, 48.7]", "base = [37.5, 48.71]");
    assert_ne!(load("m.toml", &moved).unwrap().hash, base);
}

#[test]
fn toml_and_json_round_trip() {
    let m = load("m.toml", GOOD).unwrap();
    let again = load("again.toml", &m.to_toml()).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(again, m);
    let json = m.canonical_json();
    assert!(json.starts_with(r#"{"id":"test-mission","#), "{json}");
    assert!(
        !json.contains("hash"),
        "the hash is not part of what it hashes"
    );
    let replayed = Mission::from_canonical_json(&json).unwrap();
    assert_eq!(replayed, m, "hash recomputed on replay");
    assert!(Mission::from_canonical_json(r#"{"id":"x"}"#).is_err());
    let spaced = json.replacen(',', ", ", 1);
    assert!(
        Mission::from_canonical_json(&spaced)
            .unwrap_err()
            .contains("canonical")
    );
}

#[test]
fn every_error_at_once_with_line_and_column() {
    let text = r#"id = "m"
colour = "blue"

[[team]]
id = "team-1"
base = [37.5, 98.7]

[[team]]
id = "team-1"
base = [37.5, 48.7]
boss = "x"

[[sensor]]
id = "team-1"
kind = "camera"
position = [200.0, 48.0]
range_km = -3

[[sensor]]
id = "s2"
kind = "drone"
position = [38.0, 48.0]
range_km = 0

[[sensor]]
id = "s2"
kind = "periscope"
position = [38.0, 48.0]
range_km = 5
sector_deg = [360, 0]
"#;
    let e = errors(text);
    let expected = [
        "mission.toml:2:1: unknown key `colour`; expected one of id, version, description, team, sensor",
        "mission.toml:6:8: base [37.5, 98.7] is out of range (lon −180…180, lat −90…90)",
        // The unknown key stops that table; a duplicate is only seen in tables that parse.
        "mission.toml:11:1: unknown field `boss`, expected one of `id`, `name`, `base`",
        "mission.toml:14:6: sensor id `team-1` is also a team's: both are observation source ids and must differ",
        "mission.toml:16:12: position [200, 48] is out of range (lon −180…180, lat −90…90)",
        "mission.toml:17:12: range_km -3 must not be negative",
        "mission.toml:21:8: `drone` is not a fixed sensor kind (expected one of camera, acoustic, radar, other): drones, satellites and teams move, so coverage counts their reports; ground teams are [[team]]",
        "mission.toml:23:12: range_km must be above 0",
        "mission.toml:26:6: duplicate sensor id `s2`",
        "mission.toml:27:8: unknown sensor kind `periscope`; expected one of camera, acoustic, radar, other",
        "mission.toml:30:14: sector_deg facing 360 must be an azimuth in [0, 360)",
        "mission.toml:30:14: sector_deg width 0 must be above 0 and at most 360",
    ];
    for want in expected {
        assert!(
            e.iter().any(|got| got == want),
            "missing {want:?} in {e:#?}"
        );
    }
    assert_eq!(e.len(), expected.len(), "{e:#?}");
}

#[test]
fn duplicate_team_and_missing_id() {
    let text =
        "[[team]]\nid = \"a\"\nbase = [1.0, 2.0]\n\n[[team]]\nid = \"a\"\nbase = [1.0, 2.0]\n";
    let e = errors(text);
    assert_eq!(
        e,
        [
            "mission.toml:1:1: missing key `id`",
            "mission.toml:6:6: duplicate team id `a`"
        ]
    );
    assert_eq!(
        errors("id = \"\"\n"),
        ["mission.toml:1:6: id must not be empty"]
    );
    let syntax = errors("id = \"m\"\n[[team]\n");
    assert_eq!(syntax.len(), 1);
    assert!(syntax[0].starts_with("mission.toml:2:"), "{syntax:?}");
}

#[test]
fn sector_contains_wraps_round_north() {
    let s = Sector {
        facing_deg: 350.0,
        width_deg: 40.0,
    };
    assert!(s.contains(10.0) && s.contains(330.0) && s.contains(0.0));
    assert!(!s.contains(11.0) && !s.contains(329.0));
}
