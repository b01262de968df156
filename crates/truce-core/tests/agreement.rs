//! Loading agreements: the bundled scenario, the canonical hash, and every error at once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use truce_core::agreement::{Diagnostic, load};

fn scenario_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015")
}

fn load_scenario(text: &str) -> Result<truce_core::agreement::Agreement, Vec<Diagnostic>> {
    let dir = scenario_dir();
    load("agreement.toml", text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
}

fn scenario_text() -> String {
    std::fs::read_to_string(scenario_dir().join("agreement.toml")).unwrap()
}

#[test]
fn bundled_scenario_loads() {
    let a = load_scenario(&scenario_text()).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(a.id, "donbas-2015");
    assert_eq!(a.effective_at.to_rfc3339(), "2015-02-14T22:00:00+00:00");
    assert_eq!(
        a.parties.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["UA", "RU"]
    );
    assert_eq!(a.weapon_classes.len(), 3);
    let mlrs = a.weapon_class("mlrs").unwrap();
    assert_eq!(mlrs.withdrawal_km, 35.0);
    assert_eq!((mlrs.withdraw_by - a.effective_at).num_days(), 14);
    assert_eq!(a.zones.len(), 4);
    assert!(a.storage_sites.iter().filter(|s| s.party == "UA").count() >= 2);
    assert!(a.storage_sites.iter().filter(|s| s.party == "RU").count() >= 2);
    assert_eq!(a.hash.len(), 64);
}

#[test]
fn hash_ignores_formatting_but_not_terms() {
    let text = scenario_text();
    let base = load_scenario(&text).unwrap().hash;
    let reformatted = format!(
        "# a new comment\n\n{}",
        text.replace("withdrawal_km = 25", "withdrawal_km   =   25")
    );
    assert_eq!(load_scenario(&reformatted).unwrap().hash, base);
    let changed = text.replace("withdrawal_km = 25", "withdrawal_km = 24");
    assert_ne!(load_scenario(&changed).unwrap().hash, base);
}

/// An in-memory set of geometry files, so each test states exactly what it reads.
struct Files(BTreeMap<&'static str, String>);

impl Files {
    fn load(&self, toml: &str) -> Result<truce_core::agreement::Agreement, Vec<String>> {
        load("terms.toml", toml, &mut |rel| {
            self.0
                .get(rel)
                .map(|s| s.clone().into_bytes())
                .ok_or_else(|| "No such file or directory".to_string())
        })
        .map_err(|d| d.iter().map(ToString::to_string).collect())
    }
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    format!(
        r#"{{"type":"Polygon","coordinates":[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}"#
    )
}

fn good_files() -> Files {
    Files(BTreeMap::from([
        ("ua.geojson", square(36.0, 47.0, 38.0, 49.0)),
        ("ru.geojson", square(38.0, 47.0, 40.0, 49.0)),
        (
            "line.geojson",
            r#"{"type":"LineString","coordinates":[[38.0,47.0],[38.0,48.0],[38.0,49.0]]}"#
                .to_string(),
        ),
        ("zone.geojson", square(37.9, 47.9, 38.1, 48.1)),
    ]))
}

const GOOD: &str = r#"
id = "t"
title = "test"
effective_at = "2026-12-01T00:00:00+02:00"

[[party]]
id = "UA"
name = "Ukraine"
area = "ua.geojson"

[[party]]
id = "RU"
name = "Russia"
area = "ru.geojson"

[contact_line]
geometry = "line.geojson"

[[weapon_class]]
id = "art"
name = "Artillery"
withdrawal_km = 25
withdraw_by = "2026-12-15T00:00:00+02:00"

[[zone]]
id = "z1"
kind = "disengagement"
geometry = "zone.geojson"
prohibits = ["weapon_present"]

[[storage_site]]
id = "s1"
party = "UA"
location = [36.5, 48.0]
radius_m = 500
declared = { art = 3 }

[[rule]]
id = "r1"
kind = "zone"
severity = "high"
zones = ["z1"]
"#;

#[test]
fn small_good_agreement_loads() {
    let a = good_files().load(GOOD).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(a.rules[0].zones, ["z1"]);
}

#[test]
fn every_toml_error_is_reported_with_its_line_and_column() {
    let bad = r#"
id = "t"
effective_at = "2026-12-01T00:00:00+02:00"
colour = "blue"

[[party]]
id = "UA"
name = "Ukraine"
area = "ua.geojson"
flag = "yes"

[[party]]
id = "RU"
name = "Russia"
area = "ru.geojson"

[contact_line]
geometry = "line.geojson"

[[weapon_class]]
id = "art"
name = "Artillery"
withdrawal_km = -5
withdraw_by = "2026-11-15T00:00:00+02:00"

[[weapon_class]]
id = "mlrs"
name = "MLRS"
withdrawal_km = 35000
withdraw_by = "2026-12-15T00:00:00+02:00"

[[weapon_class]]
id = "tochka"
withdrawal_km = 70
withdraw_by = "2026-12-15T00:00:00+02:00"

[[zone]]
id = "z1"
kind = "disengagement"
geometry = "zone.geojson"
prohibits = ["weapon_present"]

[[zone]]
id = "z1"
kind = "disengagement"
geometry = "missing.geojson"
prohibits = ["weapon_present"]

[[storage_site]]
id = "s1"
party = "XX"
location = [36.5, 48.0]
radius_m = 500
declared = { art = 3 }

[[rule]]
id = "r1"
kind = "zone"
severity = "high"
zones = ["z9"]
"#;
    let errors = good_files().load(bad).unwrap_err();
    let expect = [
        "terms.toml:4:1: unknown key `colour`",
        "terms.toml:10:1: unknown field `flag`, expected one of `id`, `name`, `area`",
        "terms.toml:23:17: withdrawal_km -5 must not be negative",
        "terms.toml:24:15: withdraw_by 2026-11-15T00:00:00+02:00 is before effective_at",
        "terms.toml:29:17: withdrawal_km 35000 km is absurd",
        "terms.toml:32:1: missing field `name`",
        "terms.toml:44:6: duplicate zone id `z1`",
        "terms.toml:46:12: cannot read geometry file missing.geojson",
        "terms.toml:51:9: storage_site names unknown party `XX`",
        "terms.toml:60:10: rule `r1` names unknown zone `z9`",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|x| x.contains(e)),
            "expected an error containing {e:?} in {errors:#?}"
        );
    }
}

#[test]
fn toml_syntax_error_has_a_location() {
    let errors = good_files()
        .load("id = \"t\"\neffective_at = 2026-12-01T00:00:00+02:00\n[[party]\n")
        .unwrap_err();
    assert!(errors[0].starts_with("terms.toml:3:"), "{errors:#?}");
}

#[test]
fn geometry_errors_name_file_feature_and_coordinate() {
    let mut files = good_files();
    files.0.insert("ua.geojson", r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[36,47],[37,47],[37,48],[36,48]]]}},
        {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[36,47],[37,48],[37,47],[36,48],[36,47]]]}},
        {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[36,47],[237,47],[37,48],[36,47]]]}}
    ]}"#.to_string());
    files.0.insert(
        "ru.geojson",
        "{\"type\": \"Polygon\", \"coordinates\": [[[38, 47], [39, 47]\n".to_string(),
    );
    files.0.insert(
        "line.geojson",
        r#"{"type":"Point","coordinates":[38,47]}"#.to_string(),
    );
    let errors = files.load(GOOD).unwrap_err();
    let expect = [
        "ua.geojson: feature 0, coordinate [36, 48]: ring is not closed",
        "ua.geojson: feature 1, coordinate [36.5, 47.5]: ring intersects itself here",
        "ua.geojson: feature 2, coordinate [237, 47]: coordinate out of range",
        "ru.geojson:2:0: invalid GeoJSON",
        "line.geojson: feature 0: expected LineString or MultiLineString, found Point",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|x| x.contains(e)),
            "expected an error containing {e:?} in {errors:#?}"
        );
    }
}

#[test]
fn overlapping_party_areas_are_refused() {
    let mut files = good_files();
    files.0.insert("ru.geojson", square(37.5, 47.0, 40.0, 49.0));
    let errors = files.load(GOOD).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("party areas `UA` (ua.geojson) and `RU` (ru.geojson) overlap by")),
        "{errors:#?}"
    );
}

#[test]
fn contact_line_far_from_every_area_is_refused() {
    let mut files = good_files();
    files.0.insert(
        "line.geojson",
        r#"{"type":"LineString","coordinates":[[30.0,47.0],[30.0,48.0]]}"#.to_string(),
    );
    let errors = files.load(GOOD).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("2 contact-line vertices lie outside every party's area")),
        "{errors:#?}"
    );
}

#[test]
fn escalation_section_loads_and_round_trips() {
    use truce_core::agreement::{Agreement, Severity};
    let text = scenario_text();
    let a = load_scenario(&text).unwrap();
    let e = a
        .escalation
        .as_ref()
        .expect("the bundled terms have [escalation]");
    assert_eq!(e.notify.len(), 2);
    assert_eq!(e.notify[0].severity, Severity::High);
    assert!(e.notify[0].involved && e.notify[0].parties.is_empty());
    assert_eq!(e.notify[1].parties, ["RU", "UA"]);
    assert_eq!(e.notify[1].within_s, 60);
    assert_eq!(e.lowest_notified(), Some(Severity::High));
    assert_eq!(e.repeat[0].rule, "no-fire");
    assert_eq!((e.repeat[0].count, e.repeat[0].within_h), (3, 24));
    assert_eq!(e.repeat[0].to_severity, Severity::Critical);
    // A replay reads the same terms back, hash and all.
    let back = Agreement::from_canonical_json(&a.canonical_json()).unwrap();
    assert_eq!(back.hash, a.hash);
    assert_eq!(back.escalation, a.escalation);

    // Without the section the canonical JSON does not mention it: older terms keep their hash.
    let cut = text
        .find("\n# Who is told of what")
        .expect("the section's comment");
    let without = load_scenario(&text[..cut]).unwrap();
    assert!(without.escalation.is_none());
    assert!(!without.canonical_json().contains("escalation"));
    assert_ne!(without.hash, a.hash);
    let back = Agreement::from_canonical_json(&without.canonical_json()).unwrap();
    assert_eq!(back.hash, without.hash);
}

#[test]
fn escalation_errors_have_their_line_and_column() {
    let text = scenario_text();
    let cut = text.find("\n# Who is told of what").unwrap();
    let bad = format!(
        "{}\n[escalation]\n\n[[escalation.notify]]\nseverity = \"urgent\"\nparties = [\"UA\", \"XX\"]\nwithin_s = 0\n\n[[escalation.notify]]\nseverity = \"low\"\nparties = \"everyone\"\nwithin_s = 60\n\n[[escalation.repeat]]\nrule = \"no-such-rule\"\ncount = 1\nwithin_h = 100000\nto_severity = \"critical\"\n",
        &text[..cut]
    );
    let base = text[..cut].lines().count() + 1;
    let errors: Vec<String> = load_scenario(&bad)
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect();
    let expect = [
        (base + 4, "unknown severity `urgent`"),
        (base + 5, "unknown party `XX`"),
        (base + 6, "within_s 0 must be from 1"),
        (base + 10, "write \"involved\""),
        (base + 14, "unknown rule `no-such-rule`"),
        (base + 15, "count 1 must be from 2"),
        (base + 16, "within_h 100000 must be from 1"),
    ];
    for (line, what) in expect {
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(&format!("agreement.toml:{line}:")) && e.contains(what)),
            "no error {what:?} at line {line} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
}
