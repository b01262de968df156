//! NASA FIRMS: the real VIIRS S-NPP download, the API's and MODIS's column forms, the reduced
//! form, and broken rows.

use truce_core::observation::{Geometry, ObservationKind, SourceKind};
use truce_ingest::{Fatal, Format, Locator};

use crate::harness::{fatal, fixture, ingest};

const REAL: &str = "firms/firms_viirs_snpp_ukraine_2023_head200.csv";

#[test]
fn the_real_viirs_download_comes_through_row_by_row() {
    let bytes = fixture(REAL);
    let run = ingest(Format::Firms, REAL, &bytes);
    run.assert_counts(200, 0);
    // 47.62075,35.71787,344.94,0.52,0.5,2023-02-24,1106,N,VIIRS,n,2.0NRT,269.52,7.75,D
    let first = run.observation(Locator::Line(2));
    assert_eq!(
        first.id.as_deref(),
        Some("firms:snpp:2023-02-24T1106:47.62075:35.71787")
    );
    assert_eq!(first.properties.source_record, first.id);
    assert_eq!(
        first.geometry,
        Geometry::Point {
            coordinates: vec![35.71787, 47.62075]
        }
    );
    let p = &first.properties;
    assert_eq!(p.kind, ObservationKind::ThermalAnomaly);
    assert_eq!(p.observed_at.to_rfc3339(), "2023-02-24T11:06:00+00:00");
    assert_eq!(p.time_uncertainty_s, 360.0);
    // Half the diagonal of a 0.52 km × 0.5 km pixel.
    assert_eq!(p.error_radius_m, 361.0);
    assert_eq!(
        (p.source.id.as_str(), p.source.kind, p.source.credibility),
        ("viirs-snpp", SourceKind::Satellite, 3)
    );
    assert_eq!(
        p.remarks,
        "frp 7.75 MW; brightness 344.94 K; bright_t31 269.52 K; confidence n; daynight D; version 2.0NRT"
    );
    // The sample has low, nominal and high confidence rows.
    let credibility = |c: u8| {
        run.good()
            .iter()
            .filter(|o| o.properties.source.credibility == c)
            .count()
    };
    assert_eq!(
        (credibility(2), credibility(3), credibility(4)),
        (3, 194, 3)
    );
    // Night detections at 00:05 keep their leading zeros in the id.
    assert!(
        run.good()
            .iter()
            .any(|o| o.id.as_deref().unwrap().contains("T0005:"))
    );
}

#[test]
fn api_modis_and_short_time_forms() {
    let text = "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight\n\
                48.5,37.9,330.1,0.39,0.36,2023-06-01,00:52:00,N20,VIIRS,h,2.0NRT,290.2,3.1,N\n\
                48.5,37.9,330.1,0.39,0.36,2023-06-01,5,1,VIIRS,l,2.0NRT,290.2,3.1,N\n\
                48.5,37.9,330.1,1.2,1.1,2023-06-01,830,T,MODIS,85,6.1NRT,290.2,3.1,D\n\
                48.5,37.9,330.1,1.2,1.1,2023-06-01,831,Aqua,MODIS,29,6.1NRT,290.2,3.1,D\n";
    let run = ingest(Format::Firms, "api.csv", text.as_bytes());
    run.assert_counts(4, 0);
    let obs = |line| run.observation(Locator::Line(line));
    assert_eq!(
        obs(2).id.as_deref(),
        Some("firms:noaa20:2023-06-01T0052:48.5:37.9")
    );
    assert_eq!(
        (
            obs(2).properties.source.id.as_str(),
            obs(2).properties.source.credibility
        ),
        ("viirs-noaa20", 2)
    );
    assert!(
        obs(2)
            .properties
            .remarks
            .starts_with("frp 3.1 MW; bright_ti4 330.1 K; bright_ti5 290.2 K")
    );
    assert_eq!(
        obs(3).properties.observed_at.to_rfc3339(),
        "2023-06-01T00:05:00+00:00"
    );
    assert_eq!(
        (
            obs(3).properties.source.id.as_str(),
            obs(3).properties.source.credibility
        ),
        ("viirs-noaa20", 4)
    );
    assert_eq!(
        obs(4).id.as_deref(),
        Some("firms:terra:2023-06-01T0830:48.5:37.9")
    );
    assert_eq!(
        (
            obs(4).properties.source.id.as_str(),
            obs(4).properties.source.credibility
        ),
        ("modis-terra", 2)
    );
    assert_eq!(obs(4).properties.error_radius_m, 814.0);
    assert_eq!(
        (
            obs(5).properties.source.id.as_str(),
            obs(5).properties.source.credibility
        ),
        ("modis-aqua", 4)
    );
}

#[test]
fn the_reduced_form_spans_the_day() {
    let text = "LATITUDE,Longitude,ACQ_DATE\n48.01,37.80,2023-06-01\n";
    let run = ingest(Format::Firms, "reduced.csv", text.as_bytes());
    let obs = run.observation(Locator::Line(2));
    assert_eq!(
        obs.id.as_deref(),
        Some("firms:unknown:2023-06-01:48.01:37.8")
    );
    let p = &obs.properties;
    assert_eq!(
        (p.observed_at.to_rfc3339().as_str(), p.time_uncertainty_s),
        ("2023-06-01T12:00:00+00:00", 43_200.0)
    );
    assert_eq!((p.source.id.as_str(), p.source.credibility), ("firms", 6));
    // Unknown instrument: the 1 km MODIS pixel.
    assert_eq!(p.error_radius_m, 707.0);
}

#[test]
fn broken_rows_are_rejected_and_the_rest_kept() {
    let real = String::from_utf8(fixture(REAL)).unwrap();
    let mut lines: Vec<String> = real.lines().take(8).map(str::to_string).collect();
    // Line 3: a latitude that is not a number; 4: no 30 February; 5: minute 60; 6: unknown
    // confidence; 7: off the globe; 8: negative pixel.
    lines[2] = lines[2].replacen("47.62539", "47.6x539", 1);
    lines[3] = lines[3].replacen("2023-02-24", "2023-02-30", 1);
    lines[4] = lines[4].replacen(",1106,", ",1160,", 1);
    lines[5] = lines[5].replacen(",n,", ",medium,", 1);
    lines[6] = lines[6].replacen(lines[6].split(',').next().unwrap(), "91.2", 1);
    let mut fields: Vec<&str> = lines[7].split(',').collect();
    fields[3] = "-0.47";
    lines[7] = fields.join(",");
    let text = lines.join("\n") + "\n" + real.lines().nth(8).unwrap() + "\n";
    let run = ingest(Format::Firms, "broken.csv", text.as_bytes());
    run.assert_counts(2, 6);
    run.assert_rejected(
        Locator::Line(3),
        &["column `latitude`: \"47.6x539\" is not a number"],
    );
    run.assert_rejected(
        Locator::Line(4),
        &["column `acq_date`: \"2023-02-30\" is not a date YYYY-MM-DD"],
    );
    run.assert_rejected(
        Locator::Line(5),
        &["column `acq_time`: \"1160\" is not a time HHMM or HH:MM:SS"],
    );
    run.assert_rejected(
        Locator::Line(6),
        &["column `confidence`: \"medium\" is not a FIRMS confidence"],
    );
    run.assert_rejected(Locator::Line(7), &["latitude 91.2 is outside [-90, 90]"]);
    run.assert_rejected(
        Locator::Line(8),
        &["column `scan`: \"-0.47\" is not a pixel size"],
    );
    let typed =
        "latitude,longitude,acq_date,frp\n48.1,37.9,2023-06-01,hot\n48.1,37.9,2023-06-01,2.5\n";
    let run = ingest(Format::Firms, "typed.csv", typed.as_bytes());
    run.assert_rejected(Locator::Line(2), &["column `frp`: \"hot\" is not a number"]);
    assert_eq!(
        run.observation(Locator::Line(3)).properties.remarks,
        "frp 2.5 MW"
    );
}

#[test]
fn a_missing_required_column_rejects_the_file() {
    let err = fatal(
        Format::Firms,
        "f.csv",
        b"latitude,longitude,acq_time\n48.1,37.9,1106\n",
    );
    assert!(
        matches!(err, Fatal::MissingColumn { ref column, .. } if column == "acq_date"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the header has: latitude, longitude, acq_time"),
        "{err}"
    );
}
