//! Integration tests of every adapter through one harness: real samples (see
//! `tests/fixtures/README.md`) and malformed input for each format, checking that bad records are
//! reported with the right locator and reason and that the good ones in the same file come
//! through. One test binary, so the crate links once.

mod harness;

mod cot;
mod csv;
mod firms;
mod geojson;
mod ucdp;

use harness::{fatal, fixture, ingest};
use truce_ingest::{Fatal, Format, Locator, Options, detect, ingest_file};

/// One real sample per format.
const SAMPLES: [(Format, &str); 5] = [
    (Format::GeoJson, "geojson/donbas-2015-observations.geojson"),
    (Format::Csv, "csv/partner_observations.csv"),
    (
        Format::Firms,
        "firms/firms_viirs_snpp_ukraine_2023_head200.csv",
    ),
    (Format::Ucdp, "ucdp/ucdp_ged_ukraine_subset.csv"),
    (Format::Cot, "cot/truce/spot_markers_wrapped.xml"),
];

#[test]
fn every_sample_is_detected_as_its_format() {
    for (format, name) in SAMPLES {
        assert_eq!(detect(name, &fixture(name)), Some(format), "{name}");
    }
    // Content wins over a misleading extension; the extension decides for the plain CSV.
    assert_eq!(
        detect("fires.txt", b"LATITUDE,LONGITUDE,ACQ_DATE\n"),
        Some(Format::Firms)
    );
    assert_eq!(
        detect("events.dat", b"id,date_prec,where_prec\n"),
        Some(Format::Ucdp)
    );
    assert_eq!(
        detect("x.json", b"<?xml version='1.0'?>\n<event uid='a'/>"),
        Some(Format::Cot)
    );
    assert_eq!(detect("obs.csv", b"id,kind\n"), Some(Format::Csv));
    assert_eq!(detect("feed.cot", b""), Some(Format::Cot));
    assert_eq!(detect("blob.bin", b"\x00\x01\x02"), None);
    assert_eq!(detect("README", b"hello"), None);
}

#[test]
fn ingest_file_detects_or_takes_the_format_given() {
    let csv = fixture("firms/firms_viirs_snpp_ukraine_2023_head200.csv");
    let detected = ingest_file("a.csv", &csv, None, &Options::default()).unwrap();
    assert_eq!(detected.len(), 200);
    // Told it is the plain observation CSV, the FIRMS header lacks its required columns.
    let told = ingest_file("a.csv", &csv, Some(Format::Csv), &Options::default()).unwrap_err();
    assert!(
        matches!(told, Fatal::MissingColumn { ref column, .. } if column == "kind"),
        "{told}"
    );
    let unknown = ingest_file("blob.bin", b"\x00\x01", None, &Options::default()).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "blob.bin: cannot tell the format from the name or the content; name it (geojson, csv, firms, ucdp, cot)"
    );
}

#[test]
fn format_names_round_trip() {
    for format in Format::ALL {
        assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
    }
    assert_eq!(" CoT ".parse::<Format>().unwrap(), Format::Cot);
    assert!(
        "kml"
            .parse::<Format>()
            .unwrap_err()
            .to_string()
            .contains("expected one of")
    );
}

#[test]
fn every_adapter_rejects_an_empty_file_as_a_whole() {
    for (format, _) in SAMPLES {
        for empty in [&b""[..], b"\xEF\xBB\xBF", b" \n\r\n"] {
            assert!(
                matches!(fatal(format, "empty", empty), Fatal::Empty { .. }),
                "{format}"
            );
        }
    }
}

/// A file cut short (a partial download, a full disk) keeps every record before the cut; what
/// the cut breaks is rejected or, for a single JSON document, the file is.
#[test]
fn every_adapter_keeps_the_records_before_a_truncation() {
    for (format, name) in SAMPLES {
        let bytes = fixture(name);
        let full = ingest(format, name, &bytes);
        for fraction in [0.3, 0.61, 0.9] {
            let cut = &bytes[..(bytes.len() as f64 * fraction) as usize];
            if format == Format::GeoJson {
                assert!(matches!(fatal(format, name, cut), Fatal::NotGeoJson { .. }));
                continue;
            }
            let truncated = ingest(format, name, cut);
            let (last, before) = truncated
                .records
                .split_last()
                .expect("records before the cut");
            for record in before {
                assert!(
                    full.records.contains(record),
                    "{name} cut at {fraction}: {} changed",
                    record.locator
                );
            }
            if format == Format::Cot {
                assert!(
                    last.result.as_ref().is_err_and(|e| e.contains("truncated")),
                    "{last:?}"
                );
            }
        }
    }
}

#[test]
fn locators_read_as_people_cite_them() {
    assert_eq!(Locator::Line(12).to_string(), "line 12");
    assert_eq!(Locator::Feature(3).to_string(), "feature 3");
    assert_eq!(
        Locator::Event { index: 2, line: 40 }.to_string(),
        "event 2 (line 40)"
    );
}
