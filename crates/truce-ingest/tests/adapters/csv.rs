//! The documented observation CSV, and partners' spreadsheets mapped onto it.

use truce_core::observation::{ObservationKind, Reliability, SourceKind};
use truce_ingest::{Fatal, Format, Locator, MAX_RECORD_BYTES, Options, parse_csv_columns};

use crate::harness::{fatal, fixture, ingest, ingest_with};

const HEADER: &str = "id,kind,observed_at,lon,lat,error_radius_m,source_id,source_kind,reliability,credibility,weapon_class,weapon_count,remarks";

fn file(rows: &[&str]) -> String {
    format!("{HEADER}\n{}\n", rows.join("\n"))
}

const GOOD: &str = "ok-1,impact,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,2,,,crater";

#[test]
fn the_partner_sample_comes_through_field_by_field() {
    let name = "csv/partner_observations.csv";
    let run = ingest(Format::Csv, name, &fixture(name));
    // Five rows; the trailing row of empty cells is spreadsheet padding and is skipped.
    run.assert_counts(5, 0);
    let locators: Vec<Locator> = run.records.iter().map(|r| r.locator).collect();
    // The second row's quoted remark spans lines 3 and 4.
    assert_eq!(locators, [2, 3, 5, 6, 7].map(Locator::Line));

    let weapons = run.observation(Locator::Line(2));
    assert_eq!(weapons.id.as_deref(), Some("team3-0412"));
    assert_eq!(
        weapons.properties.source_record.as_deref(),
        Some("team3-0412")
    );
    assert_eq!(weapons.properties.kind, ObservationKind::WeaponPresent);
    let weapon = weapons.properties.weapon.as_ref().unwrap();
    assert_eq!((weapon.class.as_str(), weapon.count), ("mlrs", 4));
    assert_eq!(
        weapons.properties.observed_at.to_rfc3339(),
        "2015-03-02T08:00:00+00:00"
    );
    assert_eq!(
        (
            weapons.properties.error_radius_m,
            weapons.properties.time_uncertainty_s
        ),
        (50.0, 60.0)
    );
    assert_eq!(
        weapons.properties.remarks,
        "four BM-21 in a tree line, camouflaged"
    );

    let crater = run.record(Locator::Line(3));
    assert_eq!(
        crater.result.as_ref().unwrap().properties.remarks,
        "crater 2 m wide;\nfragments of a 122 mm rocket"
    );
    assert!(
        crater.raw.starts_with("team3-0413,") && crater.raw.ends_with("122 mm rocket\""),
        "{}",
        crater.raw
    );

    let no_id = run.observation(Locator::Line(5));
    let id = no_id.id.as_deref().unwrap();
    assert!(id.starts_with("csv:") && id.len() == 4 + 32, "{id}");
    assert_eq!(no_id.properties.source_record.as_deref(), Some(id));
    assert_eq!(
        no_id.properties.observed_at.to_rfc3339(),
        "2015-03-02T11:00:00+00:00"
    );

    let allegation = run.observation(Locator::Line(6));
    assert_eq!(allegation.properties.source.kind, SourceKind::Party);
    assert_eq!(allegation.properties.source.party.as_deref(), Some("ua"));
    assert_eq!(allegation.properties.source.reliability, Reliability::F);
    assert_eq!(allegation.properties.affiliation.as_deref(), Some("ru"));
    assert_eq!(allegation.properties.weapon.as_ref().unwrap().count, 1);
    assert_eq!(
        allegation.properties.remarks,
        "alleged firing position, \"Grad\" reported"
    );

    assert_eq!(
        run.observation(Locator::Line(7))
            .properties
            .source
            .reliability,
        Reliability::B
    );
}

#[test]
fn a_wrong_cell_rejects_its_row_only_naming_column_and_value() {
    let rows = [
        GOOD,
        "r-lat,impact,2015-03-02T10:00:00Z,38.0,north,50,team-3,ground_team,B,2,,,",
        "r-kind,shelling,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,2,,,",
        "r-time,impact,2015-03-02 10:00,38.0,48.1,50,team-3,ground_team,B,2,,,",
        "r-cred,impact,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,7,,,",
        "r-src,impact,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,satelite,B,2,,,",
        "r-count,weapon_present,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,2,mlrs,many,",
        "r-class,impact,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,2,,3,",
        "r-range,impact,2015-03-02T10:00:00Z,38.0,95.5,50,team-3,ground_team,B,2,,,",
        "r-radius,impact,2015-03-02T10:00:00Z,38.0,48.1,-5,team-3,ground_team,B,2,,,",
        "r-empty,impact,2015-03-02T10:00:00Z,38.0,48.1,50,,ground_team,B,2,,,",
        "ok-2,explosion,2015-03-02T11:00:00+02:00,38.1,48.1,,team-3,ground_team,B,2,,,",
        "r-short,impact,2015-03-02T10:00:00Z",
    ];
    let run = ingest(Format::Csv, "partner.csv", file(&rows).as_bytes());
    run.assert_counts(2, 11);
    assert_eq!(
        run.observation(Locator::Line(13)).id.as_deref(),
        Some("ok-2")
    );
    let line = |n| Locator::Line(n);
    let bad = run.assert_rejected(line(3), &["column `lat`: \"north\" is not a number"]);
    assert_eq!(bad.raw, rows[1]);
    run.assert_rejected(
        line(4),
        &["column `kind`: \"shelling\" is not a kind; expected one of explosion"],
    );
    run.assert_rejected(
        line(5),
        &["column `observed_at`: \"2015-03-02 10:00\" is not an RFC 3339 time"],
    );
    run.assert_rejected(
        line(6),
        &["column `credibility`: \"7\" is not an Admiralty credibility 1–6"],
    );
    run.assert_rejected(
        line(7),
        &["column `source_kind`: \"satelite\" is not a source kind"],
    );
    run.assert_rejected(line(8), &["column `weapon_count`: \"many\" is not a count"]);
    run.assert_rejected(line(9), &["weapon_count is set but weapon_class is empty"]);
    run.assert_rejected(line(10), &["latitude 95.5 is outside [-90, 90]"]);
    run.assert_rejected(line(11), &["error_radius_m -5 must be between 0"]);
    run.assert_rejected(line(12), &["column `source_id` is empty"]);
    run.assert_rejected(
        line(14),
        &["row has 3 fields but the header has 13 (a truncated row?)"],
    );
}

#[test]
fn a_missing_required_column_rejects_the_file_naming_it() {
    let text = "id,kind,lon,lat,source_id,source_kind,reliability,credibility\n";
    let err = fatal(Format::Csv, "partner.csv", text.as_bytes());
    assert!(
        matches!(err, Fatal::MissingColumn { ref column, .. } if column == "observed_at"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "partner.csv: missing required column `observed_at` (the header has: id, kind, lon, lat, source_id, source_kind, reliability, credibility); if the file names it differently, map it: observed_at=<its header>"
    );
}

#[test]
fn a_partner_spreadsheet_is_read_through_the_column_mapping() {
    let text = "Nr;Art;Zeit;Länge;Breite;Quelle;Typ;Zuverl;Glaubw;Notiz\n\
                7;impact;2015-03-02T10:00:00Z;38.0;48.1;team-de;ground_team;C;3;Einschlag\n\
                8;impact;2015-03-02T10:00:00Z;38.0;Nord;team-de;ground_team;C;3;\n"
        .replace(';', ",");
    let options = Options {
        csv_columns: parse_csv_columns(
            "id=Nr,kind=Art,observed_at=Zeit,lon=Länge,lat=Breite,source_id=Quelle,source_kind=Typ,reliability=Zuverl,credibility=Glaubw,remarks=notiz",
        )
        .unwrap(),
        ..Options::default()
    };
    let run = ingest_with(Format::Csv, &options, "partner.csv", text.as_bytes());
    run.assert_counts(1, 1);
    let obs = run.observation(Locator::Line(2));
    assert_eq!(
        obs.geometry,
        truce_core::observation::Geometry::Point {
            coordinates: vec![38.0, 48.1]
        }
    );
    assert_eq!(obs.properties.remarks, "Einschlag");
    assert_eq!(obs.id.as_deref(), Some("7"));
    run.assert_rejected(
        Locator::Line(3),
        &["column `Breite` (lat): \"Nord\" is not a number"],
    );

    let mut missing = options.clone();
    missing
        .csv_columns
        .insert("affiliation".into(), "Seite".into());
    let err = harness_fatal_with(&missing, &text);
    assert!(
        err.to_string().contains("missing required column `Seite`")
            && err.to_string().contains("(mapped from affiliation)"),
        "{err}"
    );

    let mut unknown = options;
    unknown
        .csv_columns
        .insert("latitude".into(), "Breite".into());
    assert!(
        matches!(harness_fatal_with(&unknown, &text), Fatal::UnknownMappedColumn { ref column, .. } if column == "latitude")
    );
}

fn harness_fatal_with(options: &Options, text: &str) -> Fatal {
    match truce_ingest::adapter(Format::Csv, options).read("partner.csv", text.as_bytes()) {
        Ok(_) => panic!("expected a fatal error"),
        Err(e) => e,
    }
}

#[test]
fn windows_1252_and_a_bom_are_decoded() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(file(&[GOOD]).as_bytes());
    ingest(Format::Csv, "bom.csv", &bytes).assert_counts(1, 0);

    let text = file(&[
        "cp-1,impact,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,2,,,\"school@s yard # north\"",
    ]);
    let bytes: Vec<u8> = text
        .bytes()
        .map(|b| match b {
            b'@' => 0x92,
            b'#' => 0x96,
            b => b,
        })
        .collect();
    assert!(std::str::from_utf8(&bytes).is_err());
    let run = ingest(Format::Csv, "cp1252.csv", &bytes);
    assert_eq!(
        run.observation(Locator::Line(2)).properties.remarks,
        "school’s yard – north"
    );
    assert!(run.record(Locator::Line(2)).raw.contains("school’s"));
}

#[test]
fn an_unbalanced_quote_is_caught_by_the_record_limit() {
    let runaway = format!(
        "r-q,impact,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,2,,,\"never closed\n{}",
        "x,".repeat(MAX_RECORD_BYTES / 2)
    );
    let run = ingest(Format::Csv, "q.csv", file(&[GOOD, &runaway]).as_bytes());
    run.assert_counts(1, 1);
    run.assert_rejected(Locator::Line(3), &["over the limit", "unbalanced quote"]);
}

#[test]
fn excel_unicode_text_is_utf16_with_a_bom() {
    let text =
        file(&["u-1,impact,2015-03-02T10:00:00Z,38.0,48.1,50,team-3,ground_team,B,2,,,воронка"]);
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let run = ingest(Format::Csv, "unicode.csv", &bytes);
    assert_eq!(
        run.observation(Locator::Line(2)).properties.remarks,
        "воронка"
    );
}
