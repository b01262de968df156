//! CSV: one observation per row, with the documented columns ([`CSV_COLUMNS`]), or a partner's
//! spreadsheet whose headers are mapped onto them (`Options::csv_columns`).
//!
//! Every row is a Point at `lon`, `lat`. A wrong-typed cell rejects its row, naming the column as
//! written in the file and the value; a missing required column rejects the file. The row's `id`
//! is kept as it is; without one the id is `csv:<hash of the observation's canonical JSON>`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as ValueError, StrDeserializer};
use truce_core::observation::{
    Observation, ObservationKind, Reliability, Source, SourceKind, WeaponSeen,
};

use super::{observation, point};
use crate::tabular::{Col, Header, Row, read_table};
use crate::text::{clip_remarks, content_id};
use crate::{Adapter, ConfigError, Fatal, Format, Records};

/// The columns of the documented observation CSV, in documentation order.
pub const CSV_COLUMNS: [&str; 16] = [
    "id",
    "kind",
    "observed_at",
    "lon",
    "lat",
    "error_radius_m",
    "time_uncertainty_s",
    "source_id",
    "source_kind",
    "reliability",
    "credibility",
    "source_party",
    "weapon_class",
    "weapon_count",
    "affiliation",
    "remarks",
];

/// The columns a file must have (directly or through the mapping).
pub const CSV_REQUIRED_COLUMNS: [&str; 8] = [
    "kind",
    "observed_at",
    "lon",
    "lat",
    "source_id",
    "source_kind",
    "reliability",
    "credibility",
];

/// Parses a column mapping `ours=theirs,ours=theirs` (white space around names ignored; `ours`
/// one of [`CSV_COLUMNS`], each at most once). An empty string is no mapping.
///
/// ```
/// let map = truce_ingest::parse_csv_columns("lat=Breite, lon=Länge")?;
/// assert_eq!(map["lat"], "Breite");
/// assert!(truce_ingest::parse_csv_columns("latitude=Breite").is_err());
/// # Ok::<(), truce_ingest::ConfigError>(())
/// ```
pub fn parse_csv_columns(spec: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut map = BTreeMap::new();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (ours, theirs) = pair
            .split_once('=')
            .map(|(o, t)| (o.trim(), t.trim()))
            .filter(|(o, t)| !o.is_empty() && !t.is_empty())
            .ok_or_else(|| ConfigError::ColumnMap(format!("{pair:?} is not ours=theirs")))?;
        if !CSV_COLUMNS.contains(&ours) {
            return Err(ConfigError::ColumnMap(format!(
                "{ours:?} is not a column; known: {}",
                CSV_COLUMNS.join(", ")
            )));
        }
        if map.insert(ours.to_string(), theirs.to_string()).is_some() {
            return Err(ConfigError::ColumnMap(format!("{ours:?} is mapped twice")));
        }
    }
    Ok(map)
}

pub(crate) struct CsvAdapter {
    /// Our column name → the header in the file.
    mapping: BTreeMap<String, String>,
}

impl CsvAdapter {
    pub(crate) fn new(mapping: BTreeMap<String, String>) -> Self {
        Self { mapping }
    }

    /// The column for a required name `ours`: the mapped header if there is one, else `ours`.
    fn required(&self, file: &str, header: &Header, ours: &str) -> Result<Col, Fatal> {
        match self.mapping.get(ours) {
            Some(theirs) => header.require(file, theirs, ours, &format!(" (mapped from {ours})")),
            None => header.require(
                file,
                ours,
                ours,
                &format!("; if the file names it differently, map it: {ours}=<its header>"),
            ),
        }
    }

    /// The column for an optional name `ours`; a mapped header must be there all the same.
    fn optional(&self, file: &str, header: &Header, ours: &str) -> Result<Option<Col>, Fatal> {
        match self.mapping.get(ours) {
            Some(_) => self.required(file, header, ours).map(Some),
            None => Ok(header.find(ours)),
        }
    }
}

/// The columns of one file, resolved.
struct Columns {
    id: Option<Col>,
    kind: Col,
    observed_at: Col,
    lon: Col,
    lat: Col,
    error_radius_m: Option<Col>,
    time_uncertainty_s: Option<Col>,
    source_id: Col,
    source_kind: Col,
    reliability: Col,
    credibility: Col,
    source_party: Option<Col>,
    weapon_class: Option<Col>,
    weapon_count: Option<Col>,
    affiliation: Option<Col>,
    remarks: Option<Col>,
}

impl Adapter for CsvAdapter {
    fn format(&self) -> Format {
        Format::Csv
    }

    fn read<'a>(&'a self, file: &'a str, bytes: &'a [u8]) -> Result<Records<'a>, Fatal> {
        if let Some(unknown) = self
            .mapping
            .keys()
            .find(|k| !CSV_COLUMNS.contains(&k.as_str()))
        {
            return Err(Fatal::UnknownMappedColumn {
                file: file.to_string(),
                column: unknown.clone(),
                known: CSV_COLUMNS.join(", "),
            });
        }
        let columns = |header: &Header| -> Result<Columns, Fatal> {
            let opt = |ours: &str| self.optional(file, header, ours);
            let req = |ours: &str| self.required(file, header, ours);
            Ok(Columns {
                id: opt("id")?,
                kind: req("kind")?,
                observed_at: req("observed_at")?,
                lon: req("lon")?,
                lat: req("lat")?,
                error_radius_m: opt("error_radius_m")?,
                time_uncertainty_s: opt("time_uncertainty_s")?,
                source_id: req("source_id")?,
                source_kind: req("source_kind")?,
                reliability: req("reliability")?,
                credibility: req("credibility")?,
                source_party: opt("source_party")?,
                weapon_class: opt("weapon_class")?,
                weapon_count: opt("weapon_count")?,
                affiliation: opt("affiliation")?,
                remarks: opt("remarks")?,
            })
        };
        read_table(file, bytes, columns, row_observation)
    }
}

fn row_observation(c: &Columns, row: &Row<'_>) -> Result<Observation, String> {
    let kind = row.parsed(&c.kind, kind)?;
    let observed_at = row.parsed(&c.observed_at, timestamp)?;
    let lon = row.number(&c.lon)?;
    let lat = row.number(&c.lat)?;
    let source = Source {
        id: row.required(&c.source_id)?.to_string(),
        kind: row.parsed(&c.source_kind, source_kind)?,
        reliability: row.parsed(&c.reliability, reliability)?,
        credibility: row.parsed(&c.credibility, credibility)?,
        party: row.text(c.source_party.as_ref()).map(str::to_string),
    };
    let mut obs = observation(kind, observed_at, source, point(lon, lat));
    let p = &mut obs.properties;
    p.error_radius_m = row.number_opt(c.error_radius_m.as_ref())?.unwrap_or(0.0);
    p.time_uncertainty_s = row
        .number_opt(c.time_uncertainty_s.as_ref())?
        .unwrap_or(0.0);
    let count = row.parsed_opt(c.weapon_count.as_ref(), weapon_count)?;
    p.weapon = match (row.text(c.weapon_class.as_ref()), count) {
        (Some(class), count) => Some(WeaponSeen {
            class: class.to_string(),
            count: count.unwrap_or(1),
            serials: Vec::new(),
        }),
        (None, Some(_)) => return Err("weapon_count is set but weapon_class is empty".to_string()),
        (None, None) => None,
    };
    p.affiliation = row.text(c.affiliation.as_ref()).map(str::to_string);
    p.remarks = row
        .text(c.remarks.as_ref())
        .map(clip_remarks)
        .unwrap_or_default();
    let id = match row.text(c.id.as_ref()) {
        Some(id) => id.to_string(),
        None => content_id("csv", &obs),
    };
    obs.properties.source_record = Some(id.clone());
    obs.id = Some(id);
    Ok(obs)
}

fn kind(cell: &str) -> Result<ObservationKind, String> {
    ObservationKind::parse(&cell.to_ascii_lowercase()).ok_or_else(|| {
        let kinds: Vec<&str> = ObservationKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("is not a kind; expected one of {}", kinds.join(", "))
    })
}

/// An RFC 3339 time with its offset; a space may stand for the `T` (as spreadsheets write it).
pub(crate) fn timestamp(cell: &str) -> Result<DateTime<Utc>, String> {
    let with_t = match cell.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &cell[..10], &cell[11..]),
        _ => cell.to_string(),
    };
    DateTime::parse_from_rfc3339(&with_t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            "is not an RFC 3339 time with offset, e.g. 2015-03-02T10:00:00+02:00".to_string()
        })
}

/// A serde-named enum value (`ground_team`, `B`) from a cell.
fn enum_value<'de, T: Deserialize<'de>>(cell: &'de str) -> Option<T> {
    let d: StrDeserializer<'de, ValueError> = cell.into_deserializer();
    T::deserialize(d).ok()
}

fn source_kind(cell: &str) -> Result<SourceKind, String> {
    enum_value(&cell.to_ascii_lowercase()).ok_or_else(|| {
        "is not a source kind; expected satellite, drone, camera, acoustic, radar, ground_team, party, open_source, simulator or other".to_string()
    })
}

fn reliability(cell: &str) -> Result<Reliability, String> {
    enum_value(&cell.to_ascii_uppercase())
        .ok_or_else(|| "is not an Admiralty reliability A–F".to_string())
}

fn credibility(cell: &str) -> Result<u8, String> {
    match cell.parse::<u8>() {
        Ok(c @ 1..=6) => Ok(c),
        _ => Err("is not an Admiralty credibility 1–6".to_string()),
    }
}

fn weapon_count(cell: &str) -> Result<u32, String> {
    match cell.parse::<u32>() {
        Ok(n @ 1..) => Ok(n),
        _ => Err("is not a count of at least 1".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_map_syntax() {
        let map = parse_csv_columns(" lat = Breite ,lon=Länge,").unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map["lon"], "Länge");
        assert!(parse_csv_columns("").unwrap().is_empty());
        assert!(
            parse_csv_columns("lat")
                .unwrap_err()
                .to_string()
                .contains("not ours=theirs")
        );
        assert!(parse_csv_columns("lat=").is_err());
        assert!(
            parse_csv_columns("lat=a,lat=b")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(
            parse_csv_columns("latitude=a")
                .unwrap_err()
                .to_string()
                .contains("not a column")
        );
    }

    #[test]
    fn cells() {
        assert_eq!(kind("Weapon_Present"), Ok(ObservationKind::WeaponPresent));
        assert!(
            kind("shelling")
                .unwrap_err()
                .contains("expected one of explosion")
        );
        assert_eq!(
            timestamp("2015-03-02 10:00:00+02:00").unwrap().to_rfc3339(),
            "2015-03-02T08:00:00+00:00"
        );
        assert!(timestamp("2015-03-02 10:00:00").is_err());
        assert_eq!(source_kind("Ground_Team"), Ok(SourceKind::GroundTeam));
        assert_eq!(reliability("b"), Ok(Reliability::B));
        assert!(reliability("G").is_err());
        assert_eq!(credibility("6"), Ok(6));
        assert!(credibility("0").is_err());
        assert!(weapon_count("0").is_err());
    }
}
