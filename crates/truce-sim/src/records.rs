//! From the records a source produced to the bytes of its feed files: ordering, the deliberately
//! malformed records, re-delivered duplicates, and the three writers (GeoJSON, FIRMS CSV, CoT).
//!
//! Layout is fixed so that a record's position is known exactly: a GeoJSON FeatureCollection
//! with one feature per line (feature `i` on line `i + 2`), a CSV with a header and one row per
//! line (row `i` on line `i + 2`), and CoT as concatenated messages each with its own XML
//! declaration (event `i`'s `<event>` on line `2i + 2`). Truth records every malformed record by
//! index and line, as the ingest locates it.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use truce_core::observation::Observation;

use crate::rng::{Rng, index};
use crate::sources::round_to;
use crate::sources::satellite::{FIRMS_COLUMNS, FIRMS_DECIMALS};
use crate::truth::{FeedTruth, Malformed};
use crate::{Feed, FeedFormat};

/// The XML declaration every CoT message starts with, as ATAK writes it.
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// A row of a FIRMS VIIRS CSV, every cell as written.
#[derive(Debug, Clone)]
pub(crate) struct FirmsRow {
    /// In the download tool's column order (see `sources::satellite::FIRMS_COLUMNS`).
    pub cells: Vec<String>,
}

/// Index of `frp` among the FIRMS columns.
const FIRMS_FRP: usize = 12;
/// Index of `latitude` among the FIRMS columns.
const FIRMS_LATITUDE: usize = 0;

/// A Cursor-on-Target event, with what its XML needs.
#[derive(Debug, Clone)]
pub(crate) struct CotEvent {
    pub uid: String,
    pub cot_type: String,
    /// `time` and `start`, to the millisecond.
    pub time: DateTime<Utc>,
    pub stale: DateTime<Utc>,
    pub how: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Circular error, metres.
    pub ce: f64,
    pub callsign: String,
    /// `<link point="lat,lon"/>` vertices of a drawing, [lon, lat].
    pub links: Vec<[f64; 2]>,
    pub remarks: String,
}

/// What a record is, before it is written.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Feature(Box<Observation>),
    Firms(FirmsRow),
    Cot(CotEvent),
}

/// One record of a feed.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub time: DateTime<Utc>,
    /// The id the ingest adapter gives the record.
    pub id: String,
    pub body: Body,
    /// Indices of the true events it observed (empty for noise and coverage).
    pub events: Vec<usize>,
}

impl Record {
    /// A GeoJSON record of observation `o` (which has its id), observing `events`.
    pub fn feature(o: Observation, events: Vec<usize>) -> Record {
        Record {
            time: o.properties.observed_at,
            id: o.id.clone().expect("simulated observations have ids"),
            body: Body::Feature(Box::new(o)),
            events,
        }
    }
}

/// A deliberate defect, each a mistake real feeds make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defect {
    /// GeoJSON or FIRMS: a latitude whose decimal point slipped (48.12 → 481.2).
    LatitudeOutOfRange,
    /// GeoJSON: a coordinate written as text (`"48.12"`), as spreadsheet exports do.
    CoordinateAsText,
    /// GeoJSON: a `weapon_present` without its `weapon` (class and count lost by a form).
    MissingWeapon,
    /// GeoJSON: a bearing of 360° or more (a sensor that does not wrap its azimuth).
    AzimuthOutOfRange,
    /// GeoJSON: `observed_at` in a local date format (`02.03.2015 14:20`) instead of RFC 3339.
    LocalDateFormat,
    /// GeoJSON: a coverage status the schema does not know (`down`).
    UnknownStatus,
    /// GeoJSON: a negative count in a storage check (a form's subtraction gone wrong).
    NegativeCount,
    /// FIRMS: a non-numeric cell (`frp` = `n/a`).
    NonNumericCell,
    /// FIRMS: the last row cut off mid-line (an interrupted download).
    TruncatedRow,
    /// CoT: a latitude with a decimal comma (`48,512`), from a device in a comma locale.
    CommaDecimal,
    /// CoT: the capture ends in the middle of the last event.
    TruncatedEvent,
}

impl Defect {
    fn describe(self) -> &'static str {
        match self {
            Self::LatitudeOutOfRange => "latitude out of range (decimal point slipped)",
            Self::CoordinateAsText => "coordinate written as a string",
            Self::MissingWeapon => "weapon_present without `weapon`",
            Self::AzimuthOutOfRange => "bearing azimuth of 360° or more",
            Self::LocalDateFormat => "observed_at in a local date format, not RFC 3339",
            Self::UnknownStatus => "unknown coverage status",
            Self::NegativeCount => "negative count in a storage check",
            Self::NonNumericCell => "non-numeric frp cell",
            Self::TruncatedRow => "last row truncated (interrupted download)",
            Self::CommaDecimal => "latitude with a decimal comma",
            Self::TruncatedEvent => "capture ends inside the last <event>",
        }
    }

    /// Defects that cut the file short apply to its last record.
    fn truncates(self) -> bool {
        matches!(self, Self::TruncatedRow | Self::TruncatedEvent)
    }

    /// Whether the defect can be applied to `body`.
    fn applies(self, body: &Body) -> bool {
        use truce_core::observation::{Geometry, ObservationKind as K};
        let feature = |f: fn(&Observation) -> bool| matches!(body, Body::Feature(o) if f(o));
        let point = |o: &Observation| matches!(o.geometry, Geometry::Point { .. });
        match self {
            Self::LatitudeOutOfRange => matches!(body, Body::Firms(_)) || feature(point),
            Self::CoordinateAsText => feature(point),
            Self::MissingWeapon => feature(|o| o.properties.kind == K::WeaponPresent),
            Self::AzimuthOutOfRange => feature(|o| o.properties.bearing.is_some()),
            Self::LocalDateFormat => feature(|_| true),
            Self::UnknownStatus => feature(|o| o.properties.coverage.is_some()),
            Self::NegativeCount => feature(|o| {
                o.properties
                    .storage
                    .as_ref()
                    .is_some_and(|s| !s.counts.is_empty())
            }),
            Self::NonNumericCell | Self::TruncatedRow => matches!(body, Body::Firms(_)),
            Self::CommaDecimal | Self::TruncatedEvent => matches!(body, Body::Cot(_)),
        }
    }
}

/// A feed before it is written.
pub(crate) struct Draft {
    pub file_name: String,
    pub format: FeedFormat,
    pub records: Vec<Record>,
    /// The defects to plant, one record each (skipped when no record fits).
    pub defects: &'static [Defect],
    /// A re-delivery file to write: its name and the share of valid records it repeats.
    pub resend: Option<(String, f64)>,
}

/// Feeds written, with their truth and which valid record observed which event.
#[derive(Default)]
pub(crate) struct Written {
    pub feeds: Vec<Feed>,
    pub truths: Vec<FeedTruth>,
    /// (record id, event index) for every valid record of a main feed.
    pub links: Vec<(String, usize)>,
    /// How many valid records of main feeds observed no event.
    pub noise: usize,
    pub rejected_ids: BTreeSet<String>,
}

impl Written {
    pub fn extend(&mut self, other: Written) {
        self.feeds.extend(other.feeds);
        self.truths.extend(other.truths);
        self.links.extend(other.links);
        self.noise += other.noise;
        self.rejected_ids.extend(other.rejected_ids);
    }
}

impl Draft {
    pub fn new(file_name: &str, format: FeedFormat, defects: &'static [Defect]) -> Draft {
        Draft {
            file_name: file_name.into(),
            format,
            records: Vec::new(),
            defects,
            resend: None,
        }
    }

    /// Orders the records, plants the defects, picks the re-deliveries (drawing from `rng`),
    /// and writes the file(s).
    pub fn write(mut self, rng: &mut Rng) -> Written {
        self.records
            .sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        let n = self.records.len();
        let mut defect_of: Vec<Option<Defect>> = vec![None; n];
        for &defect in self.defects.iter().filter(|d| d.truncates()) {
            if let Some(last) = n.checked_sub(1)
                && defect_of[last].is_none()
                && defect.applies(&self.records[last].body)
            {
                defect_of[last] = Some(defect);
            }
        }
        for &defect in self.defects.iter().filter(|d| !d.truncates()) {
            let fits: Vec<usize> = (0..n)
                .filter(|&i| defect_of[i].is_none() && defect.applies(&self.records[i].body))
                .collect();
            if !fits.is_empty() {
                defect_of[fits[index(rng, fits.len())]] = Some(defect);
            }
        }

        let texts: Vec<Rendered> = self
            .records
            .iter()
            .zip(&defect_of)
            .map(|(r, d)| render(&r.body, *d))
            .collect();
        let mut out = Written::default();
        let mut malformed = Vec::new();
        for (i, (record, defect)) in self.records.iter().zip(&defect_of).enumerate() {
            match defect {
                Some(d) => {
                    malformed.push(Malformed {
                        index: i,
                        line: line_of(self.format, i),
                        id: record.id.clone(),
                        defect: d.describe().into(),
                    });
                    out.rejected_ids.insert(record.id.clone());
                }
                None if record.events.is_empty() => out.noise += 1,
                None => out
                    .links
                    .extend(record.events.iter().map(|&e| (record.id.clone(), e))),
            }
        }
        // A CoT file needs at least one event to be read at all; an empty capture is not sent.
        if n > 0 || self.format != FeedFormat::Cot {
            let all: Vec<usize> = (0..n).collect();
            out.feeds.push(Feed {
                file_name: self.file_name.clone(),
                format: self.format,
                bytes: assemble(self.format, &texts, &all),
            });
            out.truths.push(FeedTruth {
                file_name: self.file_name.clone(),
                format: self.format.as_str().into(),
                records: n,
                malformed,
                repeats: None,
            });
        }

        if let Some((name, share)) = &self.resend {
            let mut valid: Vec<usize> = (0..n).filter(|&i| defect_of[i].is_none()).collect();
            let wanted =
                ((valid.len() as f64 * share).round() as usize).max(usize::from(!valid.is_empty()));
            let mut picked = Vec::with_capacity(wanted);
            for _ in 0..wanted {
                picked.push(valid.remove(index(rng, valid.len())));
            }
            picked.sort_unstable();
            if picked.is_empty() {
                return out;
            }
            out.feeds.push(Feed {
                file_name: name.clone(),
                format: self.format,
                bytes: assemble(self.format, &texts, &picked),
            });
            out.truths.push(FeedTruth {
                file_name: name.clone(),
                format: self.format.as_str().into(),
                records: picked.len(),
                malformed: Vec::new(),
                repeats: Some(self.file_name.clone()),
            });
        }
        out
    }
}

/// The 1-based line record `i` starts on, in the fixed layout of each format.
fn line_of(format: FeedFormat, i: usize) -> u64 {
    match format {
        FeedFormat::GeoJson | FeedFormat::Firms => i as u64 + 2,
        FeedFormat::Cot => 2 * i as u64 + 2,
    }
}

/// The file: the records `which` of `texts`, in the format's layout. A record cut short ends
/// the file there, without its newline.
fn assemble(format: FeedFormat, texts: &[Rendered], which: &[usize]) -> Vec<u8> {
    let mut out = String::new();
    match format {
        FeedFormat::GeoJson => {
            out.push_str("{\"type\":\"FeatureCollection\",\"features\":[\n");
            for (k, &i) in which.iter().enumerate() {
                out.push_str(&texts[i].text);
                out.push_str(if k + 1 < which.len() { ",\n" } else { "\n" });
            }
            out.push_str("]}\n");
        }
        FeedFormat::Firms | FeedFormat::Cot => {
            if format == FeedFormat::Firms {
                out.push_str(&FIRMS_COLUMNS.join(","));
                out.push('\n');
            }
            for &i in which {
                if format == FeedFormat::Cot {
                    out.push_str(XML_DECLARATION);
                    out.push('\n');
                }
                out.push_str(&texts[i].text);
                if !texts[i].cut {
                    out.push('\n');
                }
            }
        }
    }
    out.into_bytes()
}

/// A record's text, and whether it was cut short.
struct Rendered {
    text: String,
    cut: bool,
}

/// The text of one record, with `defect` planted.
fn render(body: &Body, defect: Option<Defect>) -> Rendered {
    let whole = |text: String| Rendered { text, cut: false };
    match body {
        Body::Feature(o) => whole(feature_json(o, defect)),
        Body::Firms(row) => {
            let mut cells = row.cells.clone();
            match defect {
                Some(Defect::NonNumericCell) => cells[FIRMS_FRP] = "n/a".into(),
                Some(Defect::LatitudeOutOfRange) => {
                    let lat: f64 = cells[FIRMS_LATITUDE].parse().expect("a latitude we wrote");
                    cells[FIRMS_LATITUDE] = format!("{}", round_to(slipped(lat), FIRMS_DECIMALS));
                }
                Some(Defect::TruncatedRow) => return cut(&cells.join(",")),
                _ => {}
            }
            whole(cells.join(","))
        }
        Body::Cot(e) => {
            let xml = cot_xml(e, defect == Some(Defect::CommaDecimal));
            if defect == Some(Defect::TruncatedEvent) {
                cut(&xml)
            } else {
                whole(xml)
            }
        }
    }
}

/// The first 60 % of `text` (at a character boundary).
fn cut(text: &str) -> Rendered {
    let mut end = text.len() * 3 / 5;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Rendered {
        text: text[..end].to_string(),
        cut: true,
    }
}

/// A latitude whose decimal point slipped right, as many places as it takes to leave the globe
/// (48.12345 → 481.2345; 5.1 → 510).
fn slipped(lat: f64) -> f64 {
    let mut x = if lat == 0.0 { 0.91 } else { lat };
    while x.abs() <= 90.0 {
        x *= 10.0;
    }
    x
}

/// A feature as one line of JSON, keys in the documented order (type, id, geometry,
/// properties), with `defect` planted. Defects the types can hold are made on a copy of the
/// observation; the others (a string where a number goes, a value outside a type) are made on
/// the serialised text, replacing the one exact piece of it they change.
fn feature_json(o: &Observation, defect: Option<Defect>) -> String {
    use truce_core::observation::Geometry;
    let json = |o: &Observation| serde_json::to_string(o).expect("an observation serialises");
    let mut o = o.clone();
    let p = &mut o.properties;
    match defect {
        Some(Defect::LatitudeOutOfRange) => {
            if let Geometry::Point { coordinates } = &mut o.geometry {
                coordinates[1] = slipped(coordinates[1]);
            }
        }
        Some(Defect::MissingWeapon) => p.weapon = None,
        Some(Defect::AzimuthOutOfRange) => {
            if let Some(b) = &mut p.bearing {
                b.azimuth_deg += 360.0;
            }
        }
        Some(Defect::CoordinateAsText) => {
            if let Geometry::Point { coordinates } = &o.geometry {
                let numbers = json_of(coordinates);
                let text = format!(
                    "[{},\"{}\"]",
                    json_of(&coordinates[0]),
                    json_of(&coordinates[1])
                );
                return json(&o).replacen(&numbers, &text, 1);
            }
        }
        Some(Defect::LocalDateFormat) => {
            let written = format!("\"observed_at\":{}", json_of(&p.observed_at));
            // The parties' desks keep Kyiv and Moscow winter time, UTC+2 and UTC+3; +2 here.
            let local = (p.observed_at + TimeDelta::hours(2)).format("%d.%m.%Y %H:%M");
            return json(&o).replacen(&written, &format!("\"observed_at\":\"{local}\""), 1);
        }
        Some(Defect::UnknownStatus) => {
            if let Some(c) = &p.coverage {
                let written = format!("\"status\":{}", json_of(&c.status));
                return json(&o).replacen(&written, "\"status\":\"down\"", 1);
            }
        }
        Some(Defect::NegativeCount) => {
            let first = p.storage.as_ref().and_then(|s| s.counts.iter().next());
            if let Some((written, wrong)) = first.map(|(class, n)| {
                let class = json_of(class);
                (format!("{class}:{n}"), format!("{class}:-1"))
            }) {
                return json(&o).replacen(&written, &wrong, 1);
            }
        }
        _ => {}
    }
    json(&o)
}

fn json_of<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("a value serialises")
}

/// Escapes text for an XML attribute or element.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A CoT time as ATAK writes it: UTC to the millisecond with `Z`.
pub(crate) fn cot_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One CoT event on one line; `comma` writes the latitude with a decimal comma.
fn cot_xml(e: &CotEvent, comma: bool) -> String {
    let lat = format!("{:.7}", e.lat);
    let lat = if comma { lat.replace('.', ",") } else { lat };
    let links: String = e
        .links
        .iter()
        .map(|[lon, lat]| format!(r#"<link point="{lat:.7},{lon:.7}"/>"#))
        .collect();
    format!(
        concat!(
            r#"<event version="2.0" uid="{uid}" type="{ty}" time="{t}" start="{t}" stale="{stale}" how="{how}">"#,
            r#"<point lat="{lat}" lon="{lon:.7}" hae="9999999.0" ce="{ce:.1}" le="9999999.0"/>"#,
            r#"<detail><contact callsign="{cs}"/>{links}<remarks>{remarks}</remarks></detail></event>"#
        ),
        uid = xml_escape(&e.uid),
        ty = xml_escape(&e.cot_type),
        t = cot_time(e.time),
        stale = cot_time(e.stale),
        how = e.how,
        lat = lat,
        lon = e.lon,
        ce = e.ce,
        cs = xml_escape(&e.callsign),
        links = links,
        remarks = xml_escape(&e.remarks),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_slips_off_the_globe() {
        assert_eq!(round_to(slipped(48.12345), FIRMS_DECIMALS), 481.2345);
        assert_eq!(slipped(5.1), 510.0);
        assert_eq!(slipped(-48.0), -480.0);
        assert!(slipped(0.0) > 90.0);
    }

    #[test]
    fn firms_column_indices() {
        assert_eq!(FIRMS_COLUMNS[FIRMS_FRP], "frp");
        assert_eq!(FIRMS_COLUMNS[FIRMS_LATITUDE], "latitude");
    }

    #[test]
    fn cut_keeps_a_prefix() {
        let c = cut("abcdefghij");
        assert_eq!((c.text.as_str(), c.cut), ("abcdef", true));
    }
}
