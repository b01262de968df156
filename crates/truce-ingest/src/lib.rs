//! Truce's ingest adapters: feed files in, [`Observation`]s out, one [`Record`] per source record.
//!
//! Every feed a monitoring mission receives — its own GeoJSON, partners' spreadsheets, NASA FIRMS
//! fire detections, UCDP GED conflict events, Cursor-on-Target markers from field teams — is read
//! by one [`Adapter`] per [`Format`], in the manner of Vector's sources: one trait, one module per
//! format, a result per record. A bad record never sinks its file: it comes back as a [`Record`]
//! whose `result` is the reason, with its [`Locator`] (line, feature or event) and its raw text for
//! the store's rejected-records table, while the good records around it go through. Only a file
//! that cannot be read at all (not JSON, a required column missing, no CoT event anywhere) is a
//! [`Fatal`] error.
//!
//! Every observation an adapter produces has passed [`Observation::validate`], carries a stable
//! `id` derived from the source record (re-ingesting a file gives the same ids, which the store
//! uses for idempotency) and has `source_record` set. `docs/ingest.md` documents each format, its
//! columns and mapping tables, and what is rejected and why.
//!
//! The crate does no I/O: the caller reads the file and hands in its bytes.
//!
//! # Example
//!
//! ```
//! use truce_ingest::{Format, Options, detect, ingest_file};
//!
//! let csv = "latitude,longitude,acq_date\n48.01,37.80,2023-06-01\n48.02,north,2023-06-01\n";
//! assert_eq!(detect("fires.csv", csv.as_bytes()), Some(Format::Firms));
//!
//! let records = ingest_file("fires.csv", csv.as_bytes(), None, &Options::default())?;
//! let good = records[0].result.as_ref().unwrap();
//! assert_eq!(good.properties.kind.as_str(), "thermal_anomaly");
//! assert_eq!(good.id.as_deref(), Some("firms:unknown:2023-06-01:48.01:37.8"));
//!
//! let bad = &records[1];
//! assert_eq!(bad.locator.to_string(), "line 3");
//! assert_eq!(bad.result.as_ref().unwrap_err(), "column `longitude`: \"north\" is not a number");
//! assert_eq!(bad.raw, "48.02,north,2023-06-01");
//! # Ok::<(), truce_ingest::Fatal>(())
//! ```

mod formats;
mod tabular;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use truce_core::observation::Observation;

pub use formats::cot::{BUILTIN_COT_TYPES_TOML, CotTypes};
pub use formats::csv::{CSV_COLUMNS, CSV_REQUIRED_COLUMNS, parse_csv_columns};

/// The most records one file may hold. A year of country-wide VIIRS detections for Ukraine is
/// 42,415 rows and the whole UCDP GED for Ukraine 2014–2023 is 3,883, so a million leaves room for
/// a larger theatre and several satellites while bounding what [`ingest_file`] holds in memory
/// (about a gigabyte at a kilobyte per record). Past it the adapter reports one rejected record
/// saying so and stops: split the file.
pub const MAX_RECORDS_PER_FILE: usize = 1_000_000;

/// The largest single record (a CSV row, a CoT `<event>`), in bytes. The longest real cell we
/// know, a UCDP `source_article`, is about a kilobyte, and a CoT drawing of 10,000 vertices is
/// well under this; a bigger record is almost always an unbalanced quote or a missing end tag
/// that has swallowed the rest of the file.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// The most raw text kept per record for the rejected-records table, in bytes: enough to see
/// what was wrong, without copying a runaway record into the store. Longer text is cut at a
/// character boundary and marked.
pub const MAX_RAW_BYTES: usize = 64 * 1024;

/// The feed formats Truce reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// A GeoJSON FeatureCollection of observations in the documented form (`docs/observations.md`).
    GeoJson,
    /// A CSV of observations with the documented columns, or a partner's headers mapped onto them.
    Csv,
    /// A NASA FIRMS active-fire CSV (VIIRS or MODIS, API or download-tool column names).
    Firms,
    /// A UCDP Georeferenced Event Dataset (GED) CSV.
    Ucdp,
    /// Cursor-on-Target XML: one `<event>`, several concatenated, or wrapped in a root element.
    Cot,
}

impl Format {
    /// Every format, in the order the documentation lists them.
    pub const ALL: [Format; 5] = [Self::GeoJson, Self::Csv, Self::Firms, Self::Ucdp, Self::Cot];

    /// The name used on the command line and in logs: `geojson`, `csv`, `firms`, `ucdp`, `cot`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GeoJson => "geojson",
            Self::Csv => "csv",
            Self::Firms => "firms",
            Self::Ucdp => "ucdp",
            Self::Cot => "cot",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == wanted)
            .ok_or_else(|| {
                ConfigError::UnknownFormat(format!(
                    "unknown format {s:?}; expected one of geojson, csv, firms, ucdp, cot"
                ))
            })
    }
}

/// Where a record was in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locator {
    /// 1-based line of the record's first line (CSV formats; CoT text outside any event).
    Line(u64),
    /// 0-based index of the feature in a GeoJSON FeatureCollection's `features`.
    Feature(usize),
    /// 0-based index of a CoT `<event>` in its file, and the 1-based line it starts on.
    Event { index: usize, line: u64 },
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "line {line}"),
            Self::Feature(index) => write!(f, "feature {index}"),
            Self::Event { index, line } => write!(f, "event {index} (line {line})"),
        }
    }
}

/// One source record: where it was, its raw text, and the observation or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub locator: Locator,
    /// The record's text as it was in the file (decoded to UTF-8, at most [`MAX_RAW_BYTES`]),
    /// for the rejected-records table.
    pub raw: String,
    /// The validated observation, or the reason the record was rejected.
    pub result: Result<Observation, String>,
}

/// The records of one file, in file order (`Send`: `truce ingest` reads them on a thread of its
/// own while the batch before is stored).
pub type Records<'a> = Box<dyn Iterator<Item = Record> + Send + 'a>;

/// A whole file that cannot be read. Each message names the file and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fatal {
    #[error("{file}: the file is empty")]
    Empty { file: String },
    #[error(
        "{file}: cannot tell the format from the name or the content; name it (geojson, csv, firms, ucdp, cot)"
    )]
    UnknownFormat { file: String },
    #[error(
        "{file}: not valid UTF-8 at line {line} (byte 0x{byte:02X}); GeoJSON must be UTF-8 (RFC 8259 §8.1): re-encode the file"
    )]
    NotUtf8 { file: String, line: u64, byte: u8 },
    #[error("{file}: not a GeoJSON FeatureCollection: {reason}")]
    NotGeoJson { file: String, reason: String },
    #[error("{file}: missing required column `{column}` (the header has: {header}){hint}")]
    MissingColumn {
        file: String,
        column: String,
        header: String,
        hint: String,
    },
    #[error("{file}: column mapping names {column:?}, which is not a CSV column; known: {known}")]
    UnknownMappedColumn {
        file: String,
        column: String,
        known: String,
    },
    #[error("{file}: no Cursor-on-Target <event> element found")]
    NoCotEvents { file: String },
}

/// A bad option: a column mapping, a CoT type table, a format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("column mapping: {0}")]
    ColumnMap(String),
    #[error("CoT type table: {0}")]
    CotTypes(String),
    #[error("{0}")]
    UnknownFormat(String),
}

/// What the adapters can be told beyond the bytes.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// For [`Format::Csv`]: our column name (one of [`CSV_COLUMNS`]) → the header in the
    /// partner's file. See [`parse_csv_columns`] for the `ours=theirs,…` form.
    pub csv_columns: BTreeMap<String, String>,
    /// For [`Format::Cot`]: the CoT type → observation kind table (built in by default).
    pub cot_types: CotTypes,
}

/// A reader of one format.
pub trait Adapter: Sync {
    fn format(&self) -> Format;

    /// Reads a file: a record per source record, or a [`Fatal`] error when the file as a whole
    /// cannot be read. `file` is only used in messages.
    fn read<'a>(&'a self, file: &'a str, bytes: &'a [u8]) -> Result<Records<'a>, Fatal>;
}

/// The adapter for a format, configured by `options`.
pub fn adapter(format: Format, options: &Options) -> Box<dyn Adapter> {
    match format {
        Format::GeoJson => Box::new(formats::geojson::GeoJsonAdapter),
        Format::Csv => Box::new(formats::csv::CsvAdapter::new(options.csv_columns.clone())),
        Format::Firms => Box::new(formats::firms::FirmsAdapter),
        Format::Ucdp => Box::new(formats::ucdp::UcdpAdapter),
        Format::Cot => Box::new(formats::cot::CotAdapter::new(options.cot_types.clone())),
    }
}

/// How many bytes of the start of a file [`detect`] looks at.
const DETECT_WINDOW_BYTES: usize = 64 * 1024;

/// Guesses a file's format from its content, then its extension.
///
/// Content first: `{` is GeoJSON; `<` with an `<event` element is CoT; a CSV header with
/// `latitude`, `longitude` and `acq_date` is FIRMS, one with `date_prec` and `where_prec` is UCDP
/// (any header case). Then the extension: `.geojson`/`.json`, `.cot`/`.xml`, `.csv`/`.txt`
/// (the documented observation CSV). `None` when neither tells.
pub fn detect(path: &str, bytes: &[u8]) -> Option<Format> {
    let head = &bytes[..bytes.len().min(DETECT_WINDOW_BYTES)];
    let head = text::decode_text(head);
    let content = head.trim_start();
    if content.starts_with('{') {
        return Some(Format::GeoJson);
    }
    if content.starts_with('<') && content.contains("<event") {
        return Some(Format::Cot);
    }
    let header = tabular::header_names(content.lines().next().unwrap_or(""));
    let has = |name: &str| header.iter().any(|h| h == name);
    if has("latitude") && has("longitude") && has("acq_date") {
        return Some(Format::Firms);
    }
    if has("date_prec") && has("where_prec") {
        return Some(Format::Ucdp);
    }
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    match extension.as_str() {
        "geojson" | "json" => Some(Format::GeoJson),
        "cot" | "xml" => Some(Format::Cot),
        "csv" | "txt" => Some(Format::Csv),
        _ => None,
    }
}

/// Reads one file in the given format, or the detected one when `format` is `None`: what the
/// `truce ingest` command calls for each file.
pub fn ingest_file(
    path_display: &str,
    bytes: &[u8],
    format: Option<Format>,
    options: &Options,
) -> Result<Vec<Record>, Fatal> {
    let format = match format {
        Some(f) => f,
        None => detect(path_display, bytes).ok_or_else(|| Fatal::UnknownFormat {
            file: path_display.to_string(),
        })?,
    };
    let adapter = adapter(format, options);
    Ok(adapter.read(path_display, bytes)?.collect())
}

/// What every adapter's records go through last: the per-file record limit, and a check that no
/// two records of the file share an id (the store would take the second for a re-delivery of the
/// first and drop it, so it is rejected here, where the file and line are still known).
pub(crate) fn finish_records<'a>(records: impl Iterator<Item = Record> + Send + 'a) -> Records<'a> {
    limit_records(records, MAX_RECORDS_PER_FILE)
}

/// [`finish_records`] with the record limit as a parameter, so that tests need not make a
/// million records.
fn limit_records<'a>(
    records: impl Iterator<Item = Record> + Send + 'a,
    max_records: usize,
) -> Records<'a> {
    let mut seen: HashMap<String, Locator> = HashMap::new();
    let mut stopped = false;
    Box::new(records.enumerate().map_while(move |(count, mut record)| {
        if stopped {
            return None;
        }
        if count == max_records {
            stopped = true;
            record.result = Err(format!(
                "stopped here: a file may hold at most {max_records} records; split the file and ingest the rest"
            ));
            return Some(record);
        }
        if let Ok(obs) = &record.result
            && let Some(id) = &obs.id
        {
            if let Some(first) = seen.get(id) {
                record.result = Err(format!("duplicate id `{id}`: already used at {first}"));
            } else {
                seen.insert(id.clone(), record.locator);
            }
        }
        Some(record)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: u64, id: &str) -> Record {
        let csv = format!("latitude,longitude,acq_date\n48.{line},37.9,2023-06-01\n");
        let mut records = ingest_file(
            "f.csv",
            csv.as_bytes(),
            Some(Format::Firms),
            &Options::default(),
        )
        .unwrap();
        let mut record = records.remove(0);
        record.locator = Locator::Line(line);
        if let Ok(obs) = &mut record.result {
            obs.id = Some(id.to_string());
        }
        record
    }

    #[test]
    fn the_record_limit_stops_the_file_with_a_rejected_record() {
        let records: Vec<Record> = (1..=5)
            .map(|line| record(line, &format!("r{line}")))
            .collect();
        let limited: Vec<Record> = limit_records(records.into_iter(), 3).collect();
        assert_eq!(limited.len(), 4);
        assert!(limited[..3].iter().all(|r| r.result.is_ok()));
        assert_eq!(limited[3].locator, Locator::Line(4));
        assert_eq!(
            limited[3].result.as_ref().unwrap_err(),
            "stopped here: a file may hold at most 3 records; split the file and ingest the rest"
        );
    }

    #[test]
    fn a_repeated_id_is_rejected_naming_the_first() {
        let records = vec![record(1, "a"), record(2, "b"), record(3, "a")];
        let checked: Vec<Record> = finish_records(records.into_iter()).collect();
        assert!(checked[1].result.is_ok());
        assert_eq!(
            checked[2].result.as_ref().unwrap_err(),
            "duplicate id `a`: already used at line 1"
        );
    }
}
