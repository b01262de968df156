//! UCDP Georeferenced Event Dataset (GED) CSV: each event an `explosion` Point.
//!
//! GED events are armed-conflict events with at least one death — for the Donbas state-based
//! conflict overwhelmingly shelling and fighting, whose origin the dataset does not locate — so
//! they become `explosion`, which never attributes responsibility on its own. The sides, the
//! fatality estimate, the place description and the source articles go into the remarks; the
//! sides are not the observed force's affiliation.
//!
//! `where_prec` sets the error radius ([`where_prec_radius_m`]); 6 (country) and 7 (sea or air
//! space) are rejected as too vague. `date_start`…`date_end` and `date_prec` set the time and its
//! uncertainty ([`date_prec_half_width_s`]). Dates are `M/D/YYYY 12:00:00 AM` or `MM/DD/YYYY HH:MM`
//! as in the real extract, or ISO `YYYY-MM-DD`. The id is `ucdp:<id>`.

use chrono::{NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use truce_core::observation::{Observation, ObservationKind, Reliability, Source, SourceKind};

use super::{observation, point};
use crate::tabular::{Col, Header, Row, read_table};
use crate::text::clip_remarks;
use crate::{Adapter, Fatal, Format, Records};

/// Added to each side of the time window, seconds: GED dates are calendar days in the event's
/// (unrecorded) local time, which may be anywhere from UTC−12 to UTC+14.
const LOCAL_DAY_MARGIN_S: f64 = 14.0 * 3600.0;
const DAY_S: f64 = 86_400.0;

pub(crate) struct UcdpAdapter;

struct Columns {
    id: Col,
    date_start: Col,
    date_end: Col,
    lat: Col,
    lon: Col,
    where_prec: Col,
    date_prec: Col,
    type_of_violence: Option<Col>,
    side_a: Option<Col>,
    side_b: Option<Col>,
    best: Option<Col>,
    where_description: Option<Col>,
    adm_1: Option<Col>,
    source_article: Option<Col>,
}

impl Adapter for UcdpAdapter {
    fn format(&self) -> Format {
        Format::Ucdp
    }

    fn read<'a>(&'a self, file: &'a str, bytes: &'a [u8]) -> Result<Records<'a>, Fatal> {
        let columns = |h: &Header| -> Result<Columns, Fatal> {
            let req = |name: &str| h.require(file, name, name, "");
            Ok(Columns {
                id: req("id")?,
                date_start: req("date_start")?,
                date_end: req("date_end")?,
                lat: req("latitude")?,
                lon: req("longitude")?,
                where_prec: req("where_prec")?,
                date_prec: req("date_prec")?,
                type_of_violence: h.find("type_of_violence"),
                side_a: h.find("side_a"),
                side_b: h.find("side_b"),
                best: h.find("best"),
                where_description: h.find("where_description"),
                adm_1: h.find("adm_1"),
                source_article: h.find("source_article"),
            })
        };
        read_table(file, bytes, columns, row_observation)
    }
}

/// Error radius for a UCDP `where_prec`, metres; `None` for 6 and 7, which are rejected.
///
/// | where_prec | UCDP meaning | radius |
/// |---|---|---|
/// | 1 | exact location (a village, a town) | 1 km |
/// | 2 | within about 25 km of the point | 25 km |
/// | 3 | second-order administrative division (raion) | 50 km |
/// | 4 | first-order administrative division (oblast) | 150 km |
/// | 5 | a linear feature or stretch (front line, road, river) | 200 km |
/// | 6 | country only | rejected |
/// | 7 | international waters or air space | rejected |
pub(crate) fn where_prec_radius_m(where_prec: u8) -> Option<f64> {
    match where_prec {
        1 => Some(1_000.0),
        2 => Some(25_000.0),
        3 => Some(50_000.0),
        4 => Some(150_000.0),
        5 => Some(200_000.0),
        _ => None,
    }
}

/// The least ± seconds a UCDP `date_prec` implies (half the range it names), in case
/// `date_start`…`date_end` is narrower than the stated precision.
///
/// | date_prec | UCDP meaning | ± at least |
/// |---|---|---|
/// | 1 | the exact day | 12 h |
/// | 2 | within 2–6 days | 3 days |
/// | 3 | the week | 3.5 days |
/// | 4 | within 8–30 days, or the month | 15 days |
/// | 5 | more than 30 days, or the year | 182.5 days |
pub(crate) fn date_prec_half_width_s(date_prec: u8) -> Option<f64> {
    let days = match date_prec {
        1 => 0.5,
        2 => 3.0,
        3 => 3.5,
        4 => 15.0,
        5 => 182.5,
        _ => return None,
    };
    Some(days * DAY_S)
}

fn row_observation(c: &Columns, row: &Row<'_>) -> Result<Observation, String> {
    let id = row.required(&c.id)?;
    let lat = row.number(&c.lat)?;
    let lon = row.number(&c.lon)?;
    let where_prec = row.parsed(&c.where_prec, |s| {
        s.parse::<u8>()
            .ok()
            .filter(|p| (1..=7).contains(p))
            .ok_or_else(|| "is not a where_prec 1–7".to_string())
    })?;
    let radius_m = where_prec_radius_m(where_prec).ok_or_else(|| {
        let what = if where_prec == 6 { "the country" } else { "international waters or air space" };
        format!(
            "where_prec {where_prec}: located only to {what}, too vague to place against a contact line"
        )
    })?;
    let date_prec_s = row.parsed(&c.date_prec, |s| {
        s.parse::<u8>()
            .ok()
            .and_then(date_prec_half_width_s)
            .ok_or_else(|| "is not a date_prec 1–5".to_string())
    })?;
    let start = row.parsed(&c.date_start, date)?;
    let end = row.parsed(&c.date_end, date)?;
    if end < start {
        return Err(format!("date_end {end} is before date_start {start}"));
    }

    // The event happened on some local day from date_start to date_end inclusive.
    let span_s = ((end - start).num_days() + 1) as f64 * DAY_S;
    let half_s = (span_s / 2.0).max(date_prec_s);
    let start_utc = Utc.from_utc_datetime(&start.and_time(NaiveTime::MIN));
    let observed_at = start_utc + TimeDelta::seconds((span_s / 2.0) as i64);

    let mut remarks = vec![match row.text(c.type_of_violence.as_ref()) {
        Some("1") => format!("UCDP GED event {id} (state-based conflict)"),
        Some("2") => format!("UCDP GED event {id} (non-state conflict)"),
        Some("3") => format!("UCDP GED event {id} (one-sided violence)"),
        _ => format!("UCDP GED event {id}"),
    }];
    match (row.text(c.side_a.as_ref()), row.text(c.side_b.as_ref())) {
        (Some(a), Some(b)) => remarks.push(format!("{a} – {b}")),
        (Some(one), None) | (None, Some(one)) => remarks.push(one.to_string()),
        (None, None) => {}
    }
    if let Some(best) = row.text(c.best.as_ref()) {
        remarks.push(format!("best estimate {best} deaths"));
    }
    let place: Vec<&str> = [c.where_description.as_ref(), c.adm_1.as_ref()]
        .into_iter()
        .filter_map(|col| row.text(col))
        .collect();
    remarks.push(format!(
        "where (where_prec {where_prec}): {}",
        place.join(", ")
    ));
    if let Some(sources) = row.text(c.source_article.as_ref()) {
        remarks.push(format!("sources: {sources}"));
    }

    let source = Source {
        id: "ucdp-ged".to_string(),
        kind: SourceKind::OpenSource,
        reliability: Reliability::B,
        credibility: 3,
        party: None,
    };
    let mut obs = observation(
        ObservationKind::Explosion,
        observed_at,
        source,
        point(lon, lat),
    );
    let p = &mut obs.properties;
    p.error_radius_m = radius_m;
    p.time_uncertainty_s = half_s + LOCAL_DAY_MARGIN_S;
    p.remarks = clip_remarks(&remarks.join("; "));
    p.source_record = Some(id.to_string());
    obs.id = Some(format!("ucdp:{id}"));
    Ok(obs)
}

/// A GED date: `M/D/YYYY` (month first, as the real extract writes it, with any time after a
/// space ignored) or ISO `YYYY-MM-DD` (with any time after `T` or a space ignored).
fn date(cell: &str) -> Result<NaiveDate, String> {
    let day = cell.split([' ', 'T']).next().unwrap_or(cell);
    let format = if day.contains('/') {
        "%m/%d/%Y"
    } else {
        "%Y-%m-%d"
    };
    NaiveDate::parse_from_str(day, format)
        .map_err(|_| "is not a date M/D/YYYY or YYYY-MM-DD".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_real_form() {
        let d = |s| date(s).map(|d| d.to_string());
        assert_eq!(d("1/22/2014 12:00:00 AM").unwrap(), "2014-01-22");
        assert_eq!(d("03/01/2021 00:00").unwrap(), "2021-03-01");
        assert_eq!(d("12/31/2015 12:00:00 AM").unwrap(), "2015-12-31");
        assert_eq!(d("2015-02-15").unwrap(), "2015-02-15");
        assert_eq!(d("2015-02-15T00:00:00").unwrap(), "2015-02-15");
        assert!(d("31/12/2015").is_err());
        assert!(d("yesterday").is_err());
    }

    #[test]
    fn precision_tables() {
        assert_eq!(where_prec_radius_m(1), Some(1_000.0));
        assert_eq!(where_prec_radius_m(5), Some(200_000.0));
        assert_eq!(where_prec_radius_m(6), None);
        assert_eq!(date_prec_half_width_s(1), Some(43_200.0));
        assert_eq!(date_prec_half_width_s(6), None);
    }
}
