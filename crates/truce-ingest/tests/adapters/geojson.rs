//! GeoJSON: truce-core's FeatureCollection form, with raw text and ids added.

use truce_ingest::{Fatal, Format, Locator};

use crate::harness::{fatal, fixture, ingest};

const SOURCE: &str =
    r#""source":{"id":"team-3","kind":"ground_team","reliability":"B","credibility":2}"#;

fn feature(id: &str, props: &str, coordinates: &str) -> String {
    let id = if id.is_empty() {
        String::new()
    } else {
        format!(r#""id":"{id}","#)
    };
    format!(
        r#"{{"type":"Feature",{id}"geometry":{{"type":"Point","coordinates":{coordinates}}},"properties":{{{props}}}}}"#
    )
}

fn impact(id: &str, coordinates: &str) -> String {
    feature(
        id,
        &format!(r#""kind":"impact","observed_at":"2015-03-02T10:00:00Z",{SOURCE}"#),
        coordinates,
    )
}

fn collection(features: &[String]) -> String {
    format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[\n{}\n]}}",
        features.join(",\n")
    )
}

#[test]
fn the_scenario_observations_all_come_through_with_their_ids() {
    let name = "geojson/donbas-2015-observations.geojson";
    let run = ingest(Format::GeoJson, name, &fixture(name));
    run.assert_counts(44, 0);
    let first = run.observation(Locator::Feature(0));
    assert_eq!(first.id.as_deref(), Some("fire-01"));
    assert_eq!(first.properties.source_record.as_deref(), Some("fire-01"));
    let raw = &run.record(Locator::Feature(0)).raw;
    assert!(
        raw.starts_with(r#"{"type": "Feature", "id": "fire-01""#) && raw.ends_with("}}"),
        "{raw}"
    );
}

#[test]
fn a_feature_without_an_id_gets_one_from_its_content() {
    let one = collection(&[impact("", "[38.0, 48.1]")]);
    // The same feature with other white space and key order.
    let same = collection(&[format!(
        r#"{{ "properties": {{ {SOURCE}, "observed_at": "2015-03-02T10:00:00Z", "kind": "impact" }}, "geometry": {{"coordinates": [38.0, 48.1], "type": "Point"}}, "type": "Feature" }}"#
    )]);
    let moved = collection(&[impact("", "[38.0, 48.2]")]);
    let id = |text: &str| {
        ingest(Format::GeoJson, "x.geojson", text.as_bytes()).good()[0]
            .id
            .clone()
            .unwrap()
    };
    assert!(id(&one).starts_with("geojson:"), "{}", id(&one));
    assert_eq!(id(&one).len(), "geojson:".len() + 32);
    assert_eq!(id(&one), id(&same));
    assert_ne!(id(&one), id(&moved));
    let run = ingest(Format::GeoJson, "x.geojson", one.as_bytes());
    assert_eq!(run.good()[0].properties.source_record, run.good()[0].id);
}

#[test]
fn bad_features_are_reported_by_index_and_the_good_ones_kept() {
    let wrong_type = feature(
        "t",
        &format!(r#""kind":"impact","observed_at":1425290400,{SOURCE}"#),
        "[38.0, 48.1]",
    );
    let missing = feature(
        "m",
        r#""kind":"impact","observed_at":"2015-03-02T10:00:00Z""#,
        "[38.0, 48.1]",
    );
    let unknown_key = feature(
        "u",
        &format!(r#""kind":"impact","observed_at":"2015-03-02T10:00:00Z",{SOURCE},"colour":"red""#),
        "[38.0, 48.1]",
    );
    let text = collection(&[
        impact("ok-1", "[38.0, 48.1]"),
        impact("bad-lat", "[38.0, 98.1]"),
        wrong_type,
        missing,
        unknown_key,
        impact("ok-2", "[38.1, 48.1]"),
        impact("ok-1", "[38.2, 48.1]"),
    ]);
    let run = ingest(Format::GeoJson, "x.geojson", text.as_bytes());
    run.assert_counts(2, 5);
    assert_eq!(
        run.observation(Locator::Feature(5)).id.as_deref(),
        Some("ok-2")
    );
    let bad = run.assert_rejected(Locator::Feature(1), &["latitude 98.1 is outside [-90, 90]"]);
    assert!(
        bad.raw.contains(r#""id":"bad-lat""#) && bad.raw.contains("98.1"),
        "{}",
        bad.raw
    );
    run.assert_rejected(
        Locator::Feature(2),
        &["invalid type: integer `1425290400`, expected an RFC 3339"],
    );
    run.assert_rejected(Locator::Feature(3), &["missing field `source`"]);
    run.assert_rejected(Locator::Feature(4), &["unknown field `colour`"]);
    run.assert_rejected(Locator::Feature(6), &["duplicate id `ok-1`", "feature 0"]);
}

#[test]
fn a_file_that_is_not_a_feature_collection_is_fatal() {
    let truncated = collection(&[impact("a", "[38.0, 48.1]")]);
    let truncated = &truncated[..truncated.len() / 2];
    let cases: [(&str, &str); 3] = [
        (truncated, "EOF while parsing"),
        (
            r#"{"type":"Feature","features":[]}"#,
            "expected \"type\": \"FeatureCollection\"",
        ),
        ("[1, 2]", "not a GeoJSON FeatureCollection"),
    ];
    for (text, why) in cases {
        let err = fatal(Format::GeoJson, "x.geojson", text.as_bytes());
        assert!(matches!(err, Fatal::NotGeoJson { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("x.geojson: not a GeoJSON FeatureCollection"),
            "{err}"
        );
        assert!(err.to_string().contains(why), "{err}");
    }
}

#[test]
fn geojson_must_be_utf8_but_may_start_with_a_bom() {
    let text = collection(&[
        impact("a", "[38.0, 48.1]"),
        feature(
            "b",
            &format!(
                r#""kind":"impact","observed_at":"2015-03-02T10:00:00Z",{SOURCE},"remarks":"Ukraine@s""#
            ),
            "[38.0, 48.1]",
        ),
    ]);
    let mut latin1 = text.clone().into_bytes();
    let at = latin1.iter().position(|&b| b == b'@').unwrap();
    latin1[at] = 0x92;
    assert_eq!(
        fatal(Format::GeoJson, "x.geojson", &latin1),
        Fatal::NotUtf8 {
            file: "x.geojson".into(),
            line: 3,
            byte: 0x92
        }
    );
    let with_bom = [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat();
    ingest(Format::GeoJson, "x.geojson", &with_bom).assert_counts(2, 0);
}
