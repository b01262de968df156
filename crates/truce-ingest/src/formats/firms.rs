//! NASA FIRMS active-fire CSV (VIIRS 375 m or MODIS 1 km): each row a `thermal_anomaly` Point.
//!
//! Column names are matched in any case, with the API's and the download tool's spellings both
//! accepted (`bright_ti4`/`bright_ti5` or `brightness`/`bright_t31`). Only `latitude`,
//! `longitude` and `acq_date` are required (the reduced form some tools export); without
//! `acq_time` the detection is placed at noon UTC ± 12 h. The error radius is half the diagonal
//! of the pixel (`scan` × `track`, km), the credibility comes from `confidence`, and the id is
//! `firms:<satellite>:<acq_date>T<HHMM>:<lat>:<lon>`.

use chrono::{NaiveDate, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};
use truce_core::observation::{Observation, ObservationKind, Reliability, Source, SourceKind};

use super::{observation, point};
use crate::tabular::{Col, Header, Row, number, read_table};
use crate::text::clip_remarks;
use crate::{Adapter, Fatal, Format, Records};

/// ± seconds around `acq_time`: FIRMS gives the start of the granule the pixel is in, to the
/// minute, and a VIIRS granule spans about 6 minutes (MODIS 5).
const FIRMS_GRANULE_S: f64 = 360.0;
/// ± seconds when the file has no `acq_time`: the whole UTC day around noon.
const FIRMS_WHOLE_DAY_S: f64 = 43_200.0;
/// Nominal VIIRS I-band pixel at nadir, km (used when `scan`/`track` are missing).
const VIIRS_NOMINAL_PIXEL_KM: f64 = 0.375;
/// Nominal MODIS pixel at nadir, km; also used when the instrument is unknown (the larger pixel
/// errs on the side of a wider radius).
const MODIS_NOMINAL_PIXEL_KM: f64 = 1.0;

pub(crate) struct FirmsAdapter;

struct Columns {
    lat: Col,
    lon: Col,
    date: Col,
    time: Option<Col>,
    satellite: Option<Col>,
    instrument: Option<Col>,
    confidence: Option<Col>,
    scan: Option<Col>,
    track: Option<Col>,
    /// Measurements copied into the remarks with their header name and unit: FRP, the two
    /// brightness temperatures.
    measured: Vec<(Col, &'static str)>,
    /// Text copied into the remarks: day/night flag, product version.
    noted: Vec<Col>,
}

impl Adapter for FirmsAdapter {
    fn format(&self) -> Format {
        Format::Firms
    }

    fn read<'a>(&'a self, file: &'a str, bytes: &'a [u8]) -> Result<Records<'a>, Fatal> {
        let columns = |h: &Header| -> Result<Columns, Fatal> {
            let measured = [
                (&["frp"][..], "MW"),
                (&["bright_ti4", "brightness"], "K"),
                (&["bright_ti5", "bright_t31"], "K"),
            ];
            Ok(Columns {
                lat: h.require(file, "latitude", "latitude", "")?,
                lon: h.require(file, "longitude", "longitude", "")?,
                date: h.require(file, "acq_date", "acq_date", "")?,
                time: h.find("acq_time"),
                satellite: h.find("satellite"),
                instrument: h.find("instrument"),
                confidence: h.find("confidence"),
                scan: h.find("scan"),
                track: h.find("track"),
                measured: measured
                    .iter()
                    .filter_map(|(names, unit)| Some((h.find_any(names)?, *unit)))
                    .collect(),
                noted: ["daynight", "version"]
                    .iter()
                    .filter_map(|n| h.find(n))
                    .collect(),
            })
        };
        read_table(file, bytes, columns, row_observation)
    }
}

fn row_observation(c: &Columns, row: &Row<'_>) -> Result<Observation, String> {
    let lat = row.number(&c.lat)?;
    let lon = row.number(&c.lon)?;
    let date = row.parsed(&c.date, |s| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "is not a date YYYY-MM-DD".to_string())
    })?;
    let time = row.parsed_opt(c.time.as_ref(), acq_time)?;
    let satellite = row.text(c.satellite.as_ref()).map(satellite);
    let instrument = row
        .text(c.instrument.as_ref())
        .map(str::to_ascii_lowercase)
        .or_else(|| satellite.as_deref().and_then(instrument_of));
    // Without a confidence the information "cannot be judged" (Admiralty 6).
    let credibility = row
        .parsed_opt(c.confidence.as_ref(), confidence)?
        .unwrap_or(6);
    let scan_km = row.parsed_opt(c.scan.as_ref(), pixel_km)?;
    let track_km = row.parsed_opt(c.track.as_ref(), pixel_km)?;
    let nominal_km = match instrument.as_deref() {
        Some("viirs") => VIIRS_NOMINAL_PIXEL_KM,
        _ => MODIS_NOMINAL_PIXEL_KM,
    };
    let (scan_km, track_km) = (
        scan_km.unwrap_or(nominal_km),
        track_km.unwrap_or(nominal_km),
    );
    let mut remarks: Vec<String> = Vec::new();
    for (col, unit) in &c.measured {
        if let Some(value) = row.parsed_opt(Some(col), number)? {
            remarks.push(format!("{} {value} {unit}", col.header()));
        }
    }
    if let Some(conf) = row.text(c.confidence.as_ref()) {
        remarks.push(format!("confidence {conf}"));
    }
    for col in &c.noted {
        if let Some(value) = row.text(Some(col)) {
            remarks.push(format!("{} {value}", col.header()));
        }
    }

    let source_id = match (&instrument, &satellite) {
        (Some(i), Some(s)) => format!("{i}-{s}"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => "firms".to_string(),
    };
    let source = Source {
        id: source_id,
        kind: SourceKind::Satellite,
        reliability: Reliability::B,
        credibility,
        party: None,
    };
    let satellite = satellite.unwrap_or_else(|| "unknown".to_string());
    let (observed_at, uncertainty_s, key) = match time {
        Some(t) => {
            let hhmm = t.format(if t.second() == 0 { "%H%M" } else { "%H%M%S" });
            (date.and_time(t), FIRMS_GRANULE_S, format!("{date}T{hhmm}"))
        }
        None => (
            date.and_time(NaiveTime::MIN) + TimeDelta::hours(12),
            FIRMS_WHOLE_DAY_S,
            date.to_string(),
        ),
    };
    let mut obs = observation(
        ObservationKind::ThermalAnomaly,
        Utc.from_utc_datetime(&observed_at),
        source,
        point(lon, lat),
    );
    let p = &mut obs.properties;
    p.time_uncertainty_s = uncertainty_s;
    p.error_radius_m = (scan_km.hypot(track_km) / 2.0 * 1000.0).round();
    p.remarks = clip_remarks(&remarks.join("; "));
    let id = format!("firms:{satellite}:{key}:{lat}:{lon}");
    p.source_record = Some(id.clone());
    obs.id = Some(id);
    Ok(obs)
}

/// `acq_time`: `HHMM` without guaranteed leading zeros (`5` is 00:05, `830` is 08:30), or
/// `HH:MM` / `HH:MM:SS`.
fn acq_time(cell: &str) -> Result<NaiveTime, String> {
    const WHY: &str = "is not a time HHMM or HH:MM:SS";
    if cell.contains(':') {
        return NaiveTime::parse_from_str(cell, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(cell, "%H:%M"))
            .map_err(|_| WHY.to_string());
    }
    if cell.is_empty() || cell.len() > 4 || !cell.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WHY.to_string());
    }
    let hhmm: u32 = cell.parse().map_err(|_| WHY.to_string())?;
    NaiveTime::from_hms_opt(hhmm / 100, hhmm % 100, 0).ok_or_else(|| WHY.to_string())
}

/// The satellite's canonical lower-case name: FIRMS writes `N`, `N20`/`1`, `N21`/`2`,
/// `Terra`/`T`, `Aqua`/`A`. Other names are kept, lower-cased.
fn satellite(cell: &str) -> String {
    let name = cell.trim().to_ascii_lowercase();
    match name.as_str() {
        "n" | "npp" | "snpp" | "suomi npp" | "suomi-npp" => "snpp",
        "n20" | "1" | "noaa-20" | "noaa20" | "j1" => "noaa20",
        "n21" | "2" | "noaa-21" | "noaa21" | "j2" => "noaa21",
        "t" | "terra" => "terra",
        "a" | "aqua" => "aqua",
        other => return other.replace(' ', "-"),
    }
    .to_string()
}

/// The instrument a satellite carries, for files without an `instrument` column.
fn instrument_of(satellite: &str) -> Option<String> {
    match satellite {
        "snpp" | "noaa20" | "noaa21" => Some("viirs".to_string()),
        "terra" | "aqua" => Some("modis".to_string()),
        _ => None,
    }
}

/// Admiralty credibility from FIRMS `confidence`: VIIRS `h`/`n`/`l` → 2/3/4; MODIS 0–100:
/// ≥ 80 → 2, ≥ 30 → 3, else 4.
fn confidence(cell: &str) -> Result<u8, String> {
    match cell.to_ascii_lowercase().as_str() {
        "h" | "high" => return Ok(2),
        "n" | "nominal" => return Ok(3),
        "l" | "low" => return Ok(4),
        _ => {}
    }
    match cell.parse::<f64>() {
        Ok(p) if (80.0..=100.0).contains(&p) => Ok(2),
        Ok(p) if (30.0..80.0).contains(&p) => Ok(3),
        Ok(p) if (0.0..30.0).contains(&p) => Ok(4),
        _ => Err("is not a FIRMS confidence (l, n, h or 0–100)".to_string()),
    }
}

/// A pixel dimension in km: positive and finite.
fn pixel_km(cell: &str) -> Result<f64, String> {
    match number(cell) {
        Ok(km) if km > 0.0 => Ok(km),
        _ => Err("is not a pixel size in km (a positive number)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acq_time_forms() {
        let t = |s| acq_time(s).map(|t| t.format("%H:%M:%S").to_string());
        assert_eq!(t("5").unwrap(), "00:05:00");
        assert_eq!(t("830").unwrap(), "08:30:00");
        assert_eq!(t("0005").unwrap(), "00:05:00");
        assert_eq!(t("2359").unwrap(), "23:59:00");
        assert_eq!(t("10:52:30").unwrap(), "10:52:30");
        assert_eq!(t("10:52").unwrap(), "10:52:00");
        for bad in ["2460", "1275", "12345", "-5", "1a", "25:00:00"] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn satellites_and_instruments() {
        assert_eq!(satellite("N"), "snpp");
        assert_eq!(satellite("1"), "noaa20");
        assert_eq!(satellite("N21"), "noaa21");
        assert_eq!(satellite("Terra"), "terra");
        assert_eq!(satellite("A"), "aqua");
        assert_eq!(satellite("Landsat 9"), "landsat-9");
        assert_eq!(instrument_of("aqua").as_deref(), Some("modis"));
        assert_eq!(instrument_of("landsat-9"), None);
    }

    #[test]
    fn confidence_to_credibility() {
        assert_eq!(confidence("h"), Ok(2));
        assert_eq!(confidence("N"), Ok(3));
        assert_eq!(confidence("l"), Ok(4));
        assert_eq!(confidence("80"), Ok(2));
        assert_eq!(confidence("79"), Ok(3));
        assert_eq!(confidence("30"), Ok(3));
        assert_eq!(confidence("29"), Ok(4));
        assert_eq!(confidence("0"), Ok(4));
        assert!(confidence("101").is_err());
        assert!(confidence("x").is_err());
    }
}
