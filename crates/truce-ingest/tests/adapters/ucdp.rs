//! UCDP GED: the real Ukraine extract (Windows-1252 bytes, quoted newlines, two date forms) and
//! broken rows.

use truce_core::observation::{ObservationKind, SourceKind};
use truce_ingest::{Fatal, Format, Locator};

use crate::harness::{fatal, fixture, ingest, line_of};

const REAL: &str = "ucdp/ucdp_ged_ukraine_subset.csv";
const DAY_S: f64 = 86_400.0;
const MARGIN_S: f64 = 14.0 * 3600.0;

/// The line a GED row starts on, found by its id at the start of a line.
fn row_line(bytes: &[u8], id: &str) -> Locator {
    Locator::Line(line_of(bytes, &format!("\n{id},")) + 1)
}

#[test]
fn the_real_extract_comes_through_and_country_level_rows_are_rejected() {
    let bytes = fixture(REAL);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the sample keeps its Windows-1252 bytes"
    );
    let run = ingest(Format::Ucdp, REAL, &bytes);
    run.assert_counts(45, 3);
    // Each record sits at the line its row starts on, although 11 rows span several lines.
    for record in &run.records {
        let id = record.raw.split(',').next().unwrap();
        assert_eq!(record.locator, row_line(&bytes, id), "row {id}");
        if let Ok(obs) = &record.result {
            assert_eq!(obs.id, Some(format!("ucdp:{id}")));
            assert_eq!(obs.properties.source_record.as_deref(), Some(id));
        }
    }
    run.assert_rejected(
        row_line(&bytes, "204785"),
        &["where_prec 7: located only to international waters or air space"],
    );
    run.assert_rejected(
        row_line(&bytes, "428182"),
        &["where_prec 6: located only to the country, too vague"],
    );

    let maidan = run.observation(Locator::Line(2));
    let p = &maidan.properties;
    assert_eq!(p.kind, ObservationKind::Explosion);
    assert_eq!(p.observed_at.to_rfc3339(), "2014-01-22T12:00:00+00:00");
    assert_eq!(p.time_uncertainty_s, DAY_S / 2.0 + MARGIN_S);
    assert_eq!(p.error_radius_m, 1_000.0);
    assert_eq!(
        (p.source.id.as_str(), p.source.kind, p.source.credibility),
        ("ucdp-ged", SourceKind::OpenSource, 3)
    );
    assert!(p.affiliation.is_none());
    assert!(
        p.remarks.starts_with(
            "UCDP GED event 147997 (state-based conflict); Government of Ukraine – Maidan; best estimate 5 deaths; \
             where (where_prec 1): Kiev/Kyiv city (Maidan Nezalezhnosti protest camp), Kiev Special Republican city; \
             sources: \"Agence France Presse,2014-01-22,Police disperse Kiev protest"
        ),
        "{}",
        p.remarks
    );

    // 0x92 in the source article is Windows-1252's right single quote.
    let lviv = run.observation(row_line(&bytes, "149250"));
    assert!(
        lviv.properties.remarks.contains("Ukraine’s Lvov"),
        "{}",
        lviv.properties.remarks
    );

    // A month-precision row whose place description holds a newline: 1–31 March 2021.
    let march = run.observation(row_line(&bytes, "402772"));
    assert_eq!(
        march.properties.observed_at.to_rfc3339(),
        "2021-03-16T12:00:00+00:00"
    );
    assert_eq!(march.properties.time_uncertainty_s, 15.5 * DAY_S + MARGIN_S);
    assert_eq!(march.properties.error_radius_m, 150_000.0);
    assert!(
        march
            .properties
            .remarks
            .contains("territory\ncontrolled by the self-proclaimed")
    );

    // Year precision widens a 88-day window to ± half a year.
    let vague = run.observation(row_line(&bytes, "154701"));
    assert_eq!(
        vague.properties.observed_at.to_rfc3339(),
        "2014-06-18T00:00:00+00:00"
    );
    assert_eq!(
        vague.properties.time_uncertainty_s,
        182.5 * DAY_S + MARGIN_S
    );
}

#[test]
fn broken_rows_are_rejected_naming_the_column() {
    let header =
        "id,date_start,date_end,latitude,longitude,where_prec,date_prec,side_a,side_b,best";
    let rows = [
        "1,2/15/2015 12:00:00 AM,2/15/2015 12:00:00 AM,48.3,38.0,1,1,Government of Ukraine,DPR,3",
        "2,2/15/2015 12:00:00 AM,2/15/2015 12:00:00 AM,48.3,38.0,exact,1,,,",
        "3,31/12/2015,31/12/2015,48.3,38.0,1,1,,,",
        "4,2015-02-16,2015-02-15,48.3,38.0,1,1,,,",
        "5,2015-02-16,2015-02-16,48.3.1,38.0,1,1,,,",
        "6,2015-02-16,2015-02-16,48.3,38.0,1,9,,,",
        "7,2015-02-16,2015-02-16,48.3,238.0,1,1,,,",
        ",2015-02-16,2015-02-16,48.3,38.0,1,1,,,",
        "9,2015-02-16,2015-02-18,48.3,38.0,2,2,,,",
    ];
    let text = format!("{header}\n{}\n", rows.join("\n"));
    let run = ingest(Format::Ucdp, "ged.csv", text.as_bytes());
    run.assert_counts(2, 7);
    run.assert_rejected(
        Locator::Line(3),
        &["column `where_prec`: \"exact\" is not a where_prec 1–7"],
    );
    run.assert_rejected(
        Locator::Line(4),
        &["column `date_start`: \"31/12/2015\" is not a date M/D/YYYY or YYYY-MM-DD"],
    );
    run.assert_rejected(
        Locator::Line(5),
        &["date_end 2015-02-15 is before date_start 2015-02-16"],
    );
    run.assert_rejected(
        Locator::Line(6),
        &["column `latitude`: \"48.3.1\" is not a number"],
    );
    run.assert_rejected(
        Locator::Line(7),
        &["column `date_prec`: \"9\" is not a date_prec 1–5"],
    );
    run.assert_rejected(Locator::Line(8), &["longitude 238 is outside [-180, 180]"]);
    run.assert_rejected(Locator::Line(9), &["column `id` is empty"]);
    let first = run.observation(Locator::Line(2));
    assert!(
        first
            .properties
            .remarks
            .starts_with("UCDP GED event 1; Government of Ukraine – DPR; best estimate 3 deaths")
    );
    // Three days, 2–6-day precision: ± 3 days around the middle one.
    let spread = run.observation(Locator::Line(10));
    assert_eq!(
        spread.properties.observed_at.to_rfc3339(),
        "2015-02-17T12:00:00+00:00"
    );
    assert_eq!(spread.properties.time_uncertainty_s, 3.0 * DAY_S + MARGIN_S);
    assert_eq!(spread.properties.error_radius_m, 25_000.0);
}

#[test]
fn a_missing_required_column_rejects_the_file() {
    let err = fatal(
        Format::Ucdp,
        "ged.csv",
        b"id,date_start,date_end,latitude,longitude,date_prec\n",
    );
    assert!(
        matches!(err, Fatal::MissingColumn { ref column, .. } if column == "where_prec"),
        "{err}"
    );
}
