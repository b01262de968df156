//! Cursor-on-Target: real TAK captures (taky, cotlib), our samples of every mapped type, and
//! damaged files.

use truce_core::observation::{Geometry, ObservationKind, Reliability, SourceKind};
use truce_ingest::{CotTypes, Fatal, Format, Locator, Options};

use crate::harness::{Run, fatal, fixture, ingest, ingest_with, line_of};

fn event(index: usize, line: u64) -> Locator {
    Locator::Event { index, line }
}

fn read(name: &str) -> Run {
    ingest(Format::Cot, name, &fixture(name))
}

#[test]
#[allow(
    clippy::approx_constant,
    reason = "the taky sample's longitude is -3.141592, not π"
)]
fn a_real_atak_position_report_is_kept_as_a_report() {
    let run = read("cot/taky/atak_pli_a-f-G-U-C.xml");
    run.assert_counts(1, 0);
    let obs = run.observation(event(0, 1));
    assert_eq!(
        obs.id.as_deref(),
        Some("cot:ANDROID-deadbeef:2021-02-27T20:32:24.771Z")
    );
    assert_eq!(
        obs.properties.source_record.as_deref(),
        Some("ANDROID-deadbeef")
    );
    assert_eq!(
        obs.geometry,
        Geometry::Point {
            coordinates: vec![-3.141592, 1.234567, -25.7]
        }
    );
    let p = &obs.properties;
    assert_eq!(p.kind, ObservationKind::Report);
    assert_eq!(p.error_radius_m, 9.9);
    assert_eq!(
        (p.source.id.as_str(), p.source.kind, p.source.reliability),
        ("JENNY", SourceKind::GroundTeam, Reliability::C)
    );
    // Friend/hostile is how the sender saw the unit, not a party.
    assert!(p.affiliation.is_none());
    assert_eq!(
        p.remarks,
        "[CoT a-f-G-U-C: type not in the table, kept as a report; affiliation friend (as the sender saw it); how m-g]"
    );
}

#[test]
fn real_chats_and_markers() {
    let chat = read("cot/taky/geochat_b-t-f_with_remarks.xml");
    let obs = chat.observation(event(0, 1));
    assert_eq!(obs.properties.kind, ObservationKind::Report);
    assert_eq!(
        obs.properties.source.id, "JENNY",
        "the chat's sender callsign"
    );
    assert_eq!(
        obs.properties.remarks,
        "test\n[CoT b-t-f: GeoChat message; how h-g-i-g-o]"
    );

    let marker = read("cot/taky/itak_marker_a-u-G_empty_marti.xml");
    let p = &marker.observation(event(0, 1)).properties;
    assert_eq!(
        (p.source.id.as_str(), p.error_radius_m),
        ("poop", 1_000.0),
        "iTAK's ce=0 means none"
    );
    assert!(
        p.remarks.contains("affiliation unknown")
            && p.remarks.contains("position error unknown, 1000 m assumed")
    );

    let group = read("cot/cotlib/group_chat.xml");
    let obs = group.observation(event(0, 1));
    assert_eq!(
        (
            obs.properties.source.id.as_str(),
            obs.properties.error_radius_m
        ),
        ("Bravo", 1.0)
    );
    assert_eq!(obs.id.as_deref(), Some("cot:CHAT-2:2020-01-01T00:00:00Z"));
}

#[test]
fn events_at_null_island_have_no_position_and_are_rejected() {
    for name in [
        "cot/taky/takuser_pli.xml",
        "cot/cotlib/geochat_geo1.xml",
        "cot/cotlib/geochat_geo4.xml",
        "cot/cotlib/simple_chat.xml",
    ] {
        let run = read(name);
        run.assert_counts(0, 1);
        let record = run.assert_rejected(event(0, 1), &["<point> is at 0,0"]);
        assert!(
            record.raw.starts_with("<event") && record.raw.ends_with("</event>"),
            "{name}: {}",
            record.raw
        );
    }
}

#[test]
fn weapon_types_concatenated_with_declarations() {
    let name = "cot/truce/weapons_concatenated.xml";
    let bytes = fixture(name);
    let run = read(name);
    run.assert_counts(3, 0);
    let expected = [
        ("truce-team3-art-1", "artillery_100mm_plus", 50.0, "hostile"),
        ("truce-team3-mlrs-1", "mlrs", 120.0, "unknown"),
        ("truce-team5-tank-1", "tank", 1_000.0, "hostile"),
    ];
    for (index, (uid, class, radius, affiliation)) in expected.into_iter().enumerate() {
        let obs = run.observation(event(index, line_of(&bytes, uid)));
        let p = &obs.properties;
        assert_eq!(p.kind, ObservationKind::WeaponPresent, "{uid}");
        let weapon = p.weapon.as_ref().unwrap();
        assert_eq!((weapon.class.as_str(), weapon.count), (class, 1));
        assert_eq!(p.error_radius_m, radius, "{uid}");
        assert!(p.affiliation.is_none());
        assert!(
            p.remarks
                .contains(&format!("affiliation {affiliation} (as the sender saw it)")),
            "{}",
            p.remarks
        );
    }
    let tank = run.good()[2];
    assert_eq!(
        tank.id.as_deref(),
        Some("cot:truce-team5-tank-1:2015-03-02T09:05:30.250Z")
    );
    assert_eq!(
        tank.properties.remarks,
        "T-72 tank dug in next to the school\n[CoT a-h-G-E-V-A-T: tank; affiliation hostile (as the sender saw it); how h-e; position error unknown, 1000 m assumed]"
    );
    assert_eq!(
        run.good()[1].geometry,
        Geometry::Point {
            coordinates: vec![38.4012, 48.3391, 212.0]
        }
    );
}

#[test]
fn spot_marker_kinds_come_from_the_remarks() {
    let name = "cot/truce/spot_markers_wrapped.xml";
    let run = read(name);
    run.assert_counts(8, 0);
    let kinds: Vec<ObservationKind> = run.good().iter().map(|o| o.properties.kind).collect();
    use ObservationKind::*;
    assert_eq!(
        kinds,
        [
            Impact,
            Explosion,
            Firing,
            MineLaying,
            Construction,
            AccessDenied,
            Overflight,
            Report
        ]
    );
    let trench = run.good()[4];
    assert!(
        trench
            .properties
            .remarks
            .starts_with("Excavator digging a trench & dugouts"),
        "entities decoded"
    );
    let meeting = run.good()[7];
    assert!(
        meeting
            .properties
            .remarks
            .starts_with("Meeting with village head <no incidents>\n[CoT b-m-p-s-m: spot marker"),
        "CDATA kept"
    );
    assert_eq!(run.good()[0].properties.source.id, "TEAM-1");
}

#[test]
fn shapes_and_routes_take_their_vertices_from_the_links() {
    let run = read("cot/truce/shapes.xml");
    run.assert_counts(4, 0);
    let [trench, area, route, aircraft] = run.good()[..] else {
        unreachable!()
    };
    assert_eq!(trench.properties.kind, ObservationKind::Construction);
    let Geometry::Polygon { coordinates } = &trench.geometry else {
        panic!("{:?}", trench.geometry)
    };
    assert_eq!(coordinates[0].len(), 5, "four vertices, closed");
    assert_eq!(coordinates[0][0], [38.198, 48.451]);
    assert_eq!(coordinates[0][4], coordinates[0][0]);
    assert_eq!(trench.properties.error_radius_m, 0.0);

    assert_eq!(
        area.properties.kind,
        ObservationKind::Report,
        "an empty remark gives no kind"
    );
    assert!(
        matches!(&area.geometry, Geometry::Polygon { coordinates } if coordinates[0].len() == 5)
    );

    assert_eq!(route.properties.kind, ObservationKind::Movement);
    assert_eq!(
        route.geometry,
        Geometry::LineString {
            coordinates: vec![vec![38.1, 48.55], vec![38.12, 48.56], vec![38.15, 48.57]]
        }
    );

    assert_eq!(aircraft.properties.kind, ObservationKind::Report);
    assert_eq!(aircraft.properties.source.id, "UR-PSR");
    assert!(aircraft.properties.remarks.starts_with(
        "[CoT a-n-A-C-F: type not in the table, kept as a report; affiliation neutral"
    ));
}

#[test]
fn non_ascii_text_and_character_references() {
    let run = read("cot/truce/geochat_ukrainian.xml");
    let obs = run.observation(event(0, 2));
    assert!(
        obs.properties
            .remarks
            .starts_with("Вибух біля школи № 3 — чекаємо на підтвердження\n"),
        "{}",
        obs.properties.remarks
    );
    assert_eq!(obs.properties.source.id, "TEAM-6");
    assert_eq!(
        obs.id.as_deref(),
        Some("cot:GeoChat.ANDROID-team6.All Chat Rooms.2f6c1d0e:2015-03-05T07:45:12.500Z")
    );
}

/// Three spot markers; `{n}` in `middle` is replaced by the middle event.
fn three(middle: &str) -> String {
    let marker = |uid: &str, minute: u32, remarks: &str| {
        format!(
            "<event version=\"2.0\" uid=\"{uid}\" type=\"b-m-p-s-m\" how=\"h-e\" time=\"2015-03-03T06:{minute:02}:00Z\" start=\"2015-03-03T06:{minute:02}:00Z\" stale=\"2015-03-04T06:00:00Z\">\n\
             <point lat=\"48.1\" lon=\"37.7\" hae=\"9999999.0\" ce=\"20\" le=\"9999999.0\"/>\n\
             <detail><remarks>{remarks}</remarks></detail>\n</event>\n"
        )
    };
    format!(
        "{}{middle}{}",
        marker("first", 1, "crater"),
        marker("last", 3, "crater")
    )
}

#[test]
fn a_malformed_event_is_rejected_and_its_neighbours_kept() {
    let spot = |attrs: &str, point: &str, detail: &str| {
        format!(
            "<event version=\"2.0\" {attrs}>\n<point {point}/>\n<detail>{detail}</detail>\n</event>\n"
        )
    };
    let ok_attrs = r#"uid="mid" type="b-m-p-s-m" time="2015-03-03T06:02:00Z""#;
    let ok_point = r#"lat="48.1" lon="37.7" ce="20""#;
    let cases: Vec<(String, &str)> = vec![
        (spot(ok_attrs, ok_point, "<remarks>crater</detail>"), "XML error: ill-formed document: expected `</remarks>`, but `</detail>` was found"),
        (spot(ok_attrs, r#"lat="91" lon="37.7""#, ""), "latitude 91 is outside [-90, 90]"),
        (spot(ok_attrs, r#"lat="north" lon="37.7""#, ""), "<point> lat=\"north\" is not a number"),
        (spot(ok_attrs, r#"lat="48.1""#, ""), "<point> has no lon"),
        (spot(r#"type="b-m-p-s-m" time="2015-03-03T06:02:00Z""#, ok_point, ""), "<event> has no uid"),
        (spot(r#"uid="mid" type="b-m-p-s-m" time="yesterday""#, ok_point, ""), "time=\"yesterday\" is not a CoT time"),
        (spot(r#"uid="mid" type="b-m-p-s-m""#, ok_point, ""), "<event> has neither time nor start"),
        (spot(ok_attrs, ok_point, "<remarks>crater &nbsp; 2 m</remarks>"), "unknown entity &nbsp;"),
        (spot(r#"uid="mid" type="u-d-f" time="2015-03-03T06:02:00Z""#, ok_point, "<link point=\"48.1,37.7\"/><link point=\"48.2,37.7\"/>"), "has 2 <link point> vertices; an area needs at least 3"),
        (spot(r#"uid="mid" type="u-d-f" time="2015-03-03T06:02:00Z""#, ok_point, "<link point=\"48.1;37.7\"/>"), "<link point=\"48.1;37.7\"> is not lat,lon[,hae]"),
        (spot(r#"uid="mid" uid="again" type="b-m-p-s-m" time="2015-03-03T06:02:00Z""#, ok_point, ""), "bad attribute"),
        ("<event version=\"2.0\" uid=\"mid\" type=\"b-m-p-s-m\" time=\"2015-03-03T06:02:00Z\">\n<point lat=\"48.1\" lon=\"37.7\"/>\n".to_string(), "not closed before the next one starts"),
        ("<event uid=\"mid\" type=\"b-m-p-s-m\" time=\"2015-03-03T06:02:00Z\"/>\n".to_string(), "<event> has no <point>"),
    ];
    for (middle, reason) in cases {
        let text = three(&middle);
        let run = ingest(Format::Cot, "three.cot", text.as_bytes());
        assert_eq!(run.good().len(), 2, "{reason}: {:#?}", run.rejected());
        let record = run.assert_rejected(event(1, 5), &[reason]);
        assert_eq!(record.raw, middle.trim_end(), "{reason}");
        assert_eq!(
            run.good()[1].id.as_deref(),
            Some("cot:last:2015-03-03T06:03:00Z")
        );
    }
}

#[test]
fn a_byte_that_is_not_utf8_rejects_only_its_event() {
    let text = three(
        "<event uid=\"mid\" type=\"b-m-p-s-m\" time=\"2015-03-03T06:02:00Z\">\n<point lat=\"48.1\" lon=\"37.7\"/>\n<detail><remarks>school@s yard</remarks></detail>\n</event>\n",
    );
    let bytes: Vec<u8> = text
        .bytes()
        .map(|b| if b == b'@' { 0x92 } else { b })
        .collect();
    let run = ingest(Format::Cot, "cp1252.cot", &bytes);
    run.assert_counts(2, 1);
    let record = run.assert_rejected(event(1, 5), &["not valid UTF-8: byte 0x92 at line 7"]);
    assert!(record.raw.contains("school\u{FFFD}s yard"));

    // A declared encoding is honoured.
    let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<event uid='e' type='b-m-p-s-m' time='2015-03-03T06:00:00Z'><point lat='48.1' lon='37.7' ce='5'/><detail><remarks>caf\xE9 hit</remarks></detail></event>";
    let run = ingest(Format::Cot, "latin1.cot", latin1);
    let obs = run.observation(event(0, 2));
    assert!(obs.properties.remarks.starts_with("café hit"));
    assert_eq!(obs.properties.kind, ObservationKind::Impact);
}

#[test]
fn a_truncated_capture_keeps_the_complete_events() {
    let full = fixture("cot/truce/spot_markers_wrapped.xml");
    let text = String::from_utf8(full.clone()).unwrap();
    // Cut inside the fourth marker's start tag, then inside its <detail>.
    for cut_after in [
        "uid=\"spot-04\"",
        "<detail><contact callsign=\"TEAM-2\"/><remarks>Anti-tank",
    ] {
        let cut = &full[..text.find(cut_after).unwrap() + cut_after.len()];
        let run = ingest(Format::Cot, "cut.cot", cut);
        run.assert_counts(3, 1);
        run.assert_rejected(event(3, line_of(&full, "spot-04")), &["(truncated?)"]);
    }
}

#[test]
fn text_outside_events_and_repeats() {
    let text = three("<note><b></note>\n");
    let run = ingest(Format::Cot, "stray.cot", text.as_bytes());
    run.assert_counts(2, 1);
    let stray = run.assert_rejected(Locator::Line(5), &["XML error outside any <event>"]);
    assert_eq!(stray.raw, "<note><b></note>");

    let first = three("");
    let twice = format!("{first}{first}");
    let run = ingest(Format::Cot, "twice.cot", twice.as_bytes());
    run.assert_counts(2, 2);
    run.assert_rejected(
        event(2, 9),
        &["duplicate id `cot:first:2015-03-03T06:01:00Z`: already used at event 0 (line 1)"],
    );
}

#[test]
fn a_file_without_events_is_fatal() {
    for text in [
        "<?xml version='1.0'?>\n<types><cot cot='a-h-G'/></types>",
        "hello",
    ] {
        assert_eq!(
            fatal(Format::Cot, "x.cot", text.as_bytes()),
            Fatal::NoCotEvents {
                file: "x.cot".into()
            }
        );
    }
}

#[test]
fn the_type_table_can_be_replaced() {
    let table = r#"
        [[type]]
        pattern = "a-?-G-U-C*"
        kind = "movement"
        label = "patrol"
    "#;
    let options = Options {
        cot_types: CotTypes::from_toml(table).unwrap(),
        ..Options::default()
    };
    let name = "cot/taky/atak_pli_a-f-G-U-C.xml";
    let run = ingest_with(Format::Cot, &options, name, &fixture(name));
    let p = &run.observation(event(0, 1)).properties;
    assert_eq!(p.kind, ObservationKind::Movement);
    assert!(p.remarks.starts_with("[CoT a-f-G-U-C: patrol;"));
    // Without the built-in rules, a spot marker is unmapped.
    let run = ingest_with(Format::Cot, &options, "three.cot", three("").as_bytes());
    assert!(
        run.good()
            .iter()
            .all(|o| o.properties.kind == ObservationKind::Report)
    );
}
