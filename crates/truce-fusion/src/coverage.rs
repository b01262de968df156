//! Coverage: "observed and quiet" against "not observed", per sector of the contact line and
//! per UTC day (issue 5 item 5), so that silence is not mistaken for compliance. Pure and
//! deterministic: no clock, no I/O.
//!
//! ```text
//! let sectors = Sectors::new(&agreement.contact_line.lines)?;      // SECTOR_KM pieces by chainage
//! let outages = outages(coverage_observations);                      // from `coverage` observations
//! let reports: Vec<Report> = items.filter_map(|(o, p)| report(o, p)); // drones, satellites, teams
//! let table = coverage(&sectors, &mission.sensors, &outages, &reports,
//!                      &incidents /* (location, start) */, first_day, days);
//! // Vec<SectorDay { sector, from_km, to_km, day, watched_hours, sensors, mobile, incidents, status }>
//! ```
//!
//! **Sectors.** The contact line's polylines, taken in order as one chainage, cut every
//! [`SECTOR_KM`]: sector `i` is the stretch `[i·25, (i+1)·25)` km along the line (the last one
//! takes the rest; a rest under a tenth of a sector joins the one before it). A point belongs to the sector of its nearest point of the line (geodesic), when it
//! is within [`BAND_KM`] of the line; farther points belong to no sector.
//!
//! **Watched hours** of a sector on a day: the hours of the UTC day during which at least one
//! fixed sensor of the mission that *reaches* the sector was up. A sensor reaches a sector when
//! its range circle reaches some point of the sector's stretch of line (a directional sensor:
//! some point within range *and* inside its sector of view, tested every
//! [`SAMPLE_M`] along the stretch). A sensor is up all day except during its outages: each
//! `coverage` observation with a status other than `online` (offline, degraded, jammed,
//! pass_missed) from its `observed_at` to its `until`, or, without `until`, to the sensor's
//! next coverage report (none: to the end of time).
//!
//! **Status** of a sector-day, the first that applies:
//!
//! 1. `incidents` — at least one of the incidents given starts that day in the sector;
//! 2. `observed_quiet` — none did, and the sector was watched at least [`QUIET_MIN_HOURS`], or a
//!    mobile monitoring source (a drone, a satellite, a ground team: [`MOBILE_KINDS`]) filed a
//!    report from the sector that day — it was there and its findings made no incident there;
//! 3. `partly_observed` — none did, and it was watched for some time, but less;
//! 4. `not_observed` — nothing watched it and no mobile source reported from it.
//!
//! Which incidents count is the caller's choice (e.g. those that breach a rule). Party
//! allegations, open sources and other kinds are not the mission's own observation and never
//! make a sector observed; fixed sensors count by their hours, not by their reports.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use truce_core::mission::Sensor;
use truce_core::observation::{
    Coverage, Observation, ObservationKind, Place, SensorStatus, SourceKind,
};
use truce_geo::{GeoError, LineIndex, LonLat, azimuth_deg, destination, distance_m};

/// Length of a sector along the line, km. About the width a fixed site watches (a camera sees
/// 12 km either way, so one site covers about one sector), and it cuts the bundled 2015 line
/// (325 km) into 13 sectors (a tail under a tenth of a sector joins the last): fine enough to say where the mission is blind, coarse enough for a
/// table a person reads day by day, and long enough that a drone sortie or a patrol spends real
/// time in a sector.
pub const SECTOR_KM: f64 = 25.0;
/// How far from the line a point still belongs to a sector, km: the Minsk II withdrawal
/// distance for artillery of 100 mm and more (25 km each side), inside which the line's fire
/// happens — guns fire from up to 18 km behind it and rounds land up to 10 km across. Farther
/// back is the rear, which this table does not speak for.
pub const BAND_KM: f64 = 25.0;
/// Hours a sector must be watched on a day to count as observed when nothing happened there:
/// three quarters of the day. A camera outage of up to six hours still leaves it observed; a
/// longer gap leaves it `partly_observed`, since the silence may be the sensor's.
pub const QUIET_MIN_HOURS: f64 = 18.0;
/// Spacing of the points at which a directional sensor's view of a stretch is tested, metres:
/// a range circle that reaches the line by less than this between two points is missed, a
/// graze of a few centimetres at camera ranges.
pub const SAMPLE_M: f64 = 100.0;
/// The source kinds that move and whose reports make a sector observed: the mission's drones,
/// satellites and ground teams. Fixed sensors count by their watched hours instead.
pub const MOBILE_KINDS: [SourceKind; 3] = [
    SourceKind::Drone,
    SourceKind::Satellite,
    SourceKind::GroundTeam,
];

/// One edge of the line with its chainage.
#[derive(Debug, Clone)]
struct Edge {
    start: LonLat,
    end: LonLat,
    azimuth_deg: f64,
    from_m: f64,
    length_m: f64,
}

impl Edge {
    fn at(&self, s_m: f64) -> LonLat {
        let d = (s_m - self.from_m).clamp(0.0, self.length_m);
        if d == 0.0 {
            self.start
        } else if d == self.length_m {
            self.end
        } else {
            destination(self.start, self.azimuth_deg, d)
        }
    }
}

/// One sector's stretch of line.
#[derive(Debug, Clone)]
struct Stretch {
    from_m: f64,
    to_m: f64,
    index: LineIndex,
    /// Points along the stretch at most [`SAMPLE_M`] apart, vertices included.
    samples: Vec<LonLat>,
}

/// The contact line cut into sectors by chainage, indexed.
#[derive(Debug, Clone)]
pub struct Sectors {
    line: LineIndex,
    edges: Vec<Edge>,
    /// Index in `edges` of each polyline's first edge.
    first_edge: Vec<usize>,
    length_m: f64,
    stretches: Vec<Stretch>,
}

impl Sectors {
    /// Cuts the line (one or more polylines, chainage running through them in order).
    pub fn new(lines: &[Vec<LonLat>]) -> Result<Sectors, GeoError> {
        let line = LineIndex::new(lines.to_vec())?;
        let mut edges = Vec::new();
        let mut first_edge = Vec::new();
        let mut from_m = 0.0;
        for polyline in lines {
            first_edge.push(edges.len());
            for pair in polyline.windows(2) {
                let length_m = distance_m(pair[0], pair[1]);
                edges.push(Edge {
                    start: pair[0],
                    end: pair[1],
                    azimuth_deg: azimuth_deg(pair[0], pair[1]),
                    from_m,
                    length_m,
                });
                from_m += length_m;
            }
        }
        let length_m = from_m;
        let sector_m = SECTOR_KM * 1000.0;
        // A tail shorter than a tenth of a sector joins the last sector rather than standing
        // as a sector of its own (the bundled 2015 line is 325.0x km: 13 sectors, not 14).
        let count = ((length_m / sector_m - 0.1).ceil() as usize).max(1);
        let mut stretches = Vec::with_capacity(count);
        for i in 0..count {
            let (a, b) = (
                i as f64 * sector_m,
                if i + 1 == count {
                    length_m
                } else {
                    ((i + 1) as f64 * sector_m).min(length_m)
                },
            );
            let mut pieces = Vec::new();
            let mut samples = Vec::new();
            for (l, &first) in first_edge.iter().enumerate() {
                let last = first_edge.get(l + 1).copied().unwrap_or(edges.len());
                let mut piece: Vec<LonLat> = Vec::new();
                for e in &edges[first..last] {
                    let (lo, hi) = (a.max(e.from_m), b.min(e.from_m + e.length_m));
                    if lo >= hi {
                        continue;
                    }
                    let n = ((hi - lo) / SAMPLE_M).ceil().max(1.0) as usize;
                    for k in 0..=n {
                        let p = e.at(lo + (hi - lo) * k as f64 / n as f64);
                        if samples.last() != Some(&p) {
                            samples.push(p);
                        }
                    }
                    for p in [e.at(lo), e.at(hi)] {
                        if piece.last() != Some(&p) {
                            piece.push(p);
                        }
                    }
                }
                if piece.len() >= 2 {
                    pieces.push(piece);
                }
            }
            if pieces.is_empty() {
                // A zero-length line: one point stands for the stretch.
                let p = edges.first().map_or(lines[0][0], |e| e.start);
                pieces.push(vec![p, p]);
                samples.push(p);
            }
            stretches.push(Stretch {
                from_m: a,
                to_m: b,
                index: LineIndex::new(pieces)?,
                samples,
            });
        }
        Ok(Sectors {
            line,
            edges,
            first_edge,
            length_m,
            stretches,
        })
    }

    /// The number of sectors.
    pub fn len(&self) -> usize {
        self.stretches.len()
    }

    /// Never true: even a zero-length line is one sector.
    pub fn is_empty(&self) -> bool {
        self.stretches.is_empty()
    }

    /// Total length of the line, metres.
    pub fn length_m(&self) -> f64 {
        self.length_m
    }

    /// Where sector `i` starts and ends along the line, km.
    pub fn bounds_km(&self, i: usize) -> (f64, f64) {
        let s = &self.stretches[i];
        (s.from_m / 1000.0, s.to_m / 1000.0)
    }

    /// How far along the line `p`'s nearest point of the line is, metres; `None` when `p` is
    /// more than [`BAND_KM`] from the line (or not a coordinate).
    pub fn chainage_m(&self, p: LonLat) -> Option<f64> {
        let n = self.line.nearest(p);
        if n.distance_m.is_nan() || n.distance_m > BAND_KM * 1000.0 {
            return None;
        }
        let e = &self.edges[self.first_edge[n.line] + n.segment];
        Some(e.from_m + distance_m(e.start, n.point).min(e.length_m))
    }

    /// The sector `p` belongs to (module doc), if any.
    pub fn sector_of(&self, p: LonLat) -> Option<usize> {
        let s = self.chainage_m(p)?;
        Some(((s / (SECTOR_KM * 1000.0)) as usize).min(self.len() - 1))
    }

    /// Whether `sensor` reaches sector `i` (module doc).
    pub fn reaches(&self, i: usize, sensor: &Sensor) -> bool {
        let s = &self.stretches[i];
        let range_m = sensor.range_km * 1000.0;
        if s.index.distance_m(sensor.position) > range_m {
            return false;
        }
        let Some(view) = sensor.sector else {
            return true;
        };
        s.samples.iter().any(|&q| {
            let d = distance_m(sensor.position, q);
            d == 0.0 || (d <= range_m && view.contains(azimuth_deg(sensor.position, q)))
        })
    }
}

/// A period a sensor was not looking.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub sensor: String,
    pub status: SensorStatus,
    pub from: DateTime<Utc>,
    /// `None`: open-ended.
    pub until: Option<DateTime<Utc>>,
}

/// The outages that `coverage` observations report (others are ignored): each status other
/// than `online`, until its `until`, else until the same sensor's next coverage report, else
/// open-ended. Sorted by sensor, then start.
pub fn outages<'a>(observations: impl IntoIterator<Item = &'a Observation>) -> Vec<Outage> {
    let mut reports: Vec<(usize, DateTime<Utc>, &Coverage)> = observations
        .into_iter()
        .enumerate()
        .filter(|(_, o)| o.properties.kind == ObservationKind::Coverage)
        .filter_map(|(i, o)| Some((i, o.properties.observed_at, o.properties.coverage.as_ref()?)))
        .collect();
    reports.sort_by(|a, b| (a.2.sensor.as_str(), a.1, a.0).cmp(&(b.2.sensor.as_str(), b.1, b.0)));
    let mut out = Vec::new();
    for (k, &(_, from, c)) in reports.iter().enumerate() {
        if c.status == SensorStatus::Online {
            continue;
        }
        let next = reports
            .get(k + 1)
            .filter(|n| n.2.sensor == c.sensor)
            .map(|n| n.1);
        out.push(Outage {
            sensor: c.sensor.clone(),
            status: c.status,
            from,
            until: c.until.or(next),
        });
    }
    out
}

/// A report by a mobile monitoring source: who, where, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub source: String,
    pub kind: SourceKind,
    pub location: LonLat,
    pub time: DateTime<Utc>,
}

/// The report an observation is, when its source is one of [`MOBILE_KINDS`] and it is not a
/// coverage record; located at its assessed point (a track's start, an area's centroid).
pub fn report(obs: &Observation, place: &Place) -> Option<Report> {
    let p = &obs.properties;
    (MOBILE_KINDS.contains(&p.source.kind) && p.kind != ObservationKind::Coverage).then(|| Report {
        source: p.source.id.clone(),
        kind: p.source.kind,
        location: place.assessed_point(),
        time: p.observed_at,
    })
}

/// How well a sector was observed on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Incidents,
    ObservedQuiet,
    PartlyObserved,
    NotObserved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incidents => "incidents",
            Self::ObservedQuiet => "observed_quiet",
            Self::PartlyObserved => "partly_observed",
            Self::NotObserved => "not_observed",
        }
    }
}

/// One row of the coverage table.
#[derive(Debug, Clone, PartialEq)]
pub struct SectorDay {
    pub sector: usize,
    /// The sector's stretch along the line, km.
    pub from_km: f64,
    pub to_km: f64,
    pub day: NaiveDate,
    /// Hours of the day at least one fixed sensor reaching the sector was up.
    pub watched_hours: f64,
    /// The fixed sensors reaching the sector that were up some of the day, sorted.
    pub sensors: Vec<String>,
    /// The mobile sources that reported from the sector that day, sorted.
    pub mobile: Vec<String>,
    /// Incidents starting that day in the sector.
    pub incidents: usize,
    pub status: Status,
}

/// The coverage table for `days` UTC days from `first_day`: every sector for each day, days in
/// order, sectors in order (module doc). `incidents` are (location, start).
pub fn coverage(
    sectors: &Sectors,
    sensors: &[Sensor],
    outages: &[Outage],
    reports: &[Report],
    incidents: &[(LonLat, DateTime<Utc>)],
    first_day: NaiveDate,
    days: u32,
) -> Vec<SectorDay> {
    let reach: Vec<Vec<&Sensor>> = (0..sectors.len())
        .map(|i| sensors.iter().filter(|s| sectors.reaches(i, s)).collect())
        .collect();
    let report_sectors: Vec<(Option<usize>, &Report)> = reports
        .iter()
        .map(|r| (sectors.sector_of(r.location), r))
        .collect();
    let incident_sectors: Vec<(Option<usize>, NaiveDate)> = incidents
        .iter()
        .map(|(p, t)| (sectors.sector_of(*p), t.date_naive()))
        .collect();
    let mut out = Vec::with_capacity(sectors.len() * days as usize);
    for day in first_day.iter_days().take(days as usize) {
        let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        let end = start + TimeDelta::days(1);
        for (i, reaching) in reach.iter().enumerate() {
            let mut up = Vec::new();
            let mut sensors_up = Vec::new();
            for s in reaching {
                let intervals = up_intervals(&s.id, outages, start, end);
                if !intervals.is_empty() {
                    sensors_up.push(s.id.clone());
                }
                up.extend(intervals);
            }
            sensors_up.sort();
            let watched_hours = union_seconds(up) as f64 / 3600.0;
            let mobile: BTreeSet<&str> = report_sectors
                .iter()
                .filter(|(s, r)| *s == Some(i) && r.time.date_naive() == day)
                .map(|(_, r)| r.source.as_str())
                .collect();
            let count = incident_sectors
                .iter()
                .filter(|(s, d)| *s == Some(i) && *d == day)
                .count();
            let status = if count > 0 {
                Status::Incidents
            } else if watched_hours >= QUIET_MIN_HOURS || !mobile.is_empty() {
                Status::ObservedQuiet
            } else if watched_hours > 0.0 {
                Status::PartlyObserved
            } else {
                Status::NotObserved
            };
            let (from_km, to_km) = sectors.bounds_km(i);
            out.push(SectorDay {
                sector: i,
                from_km,
                to_km,
                day,
                watched_hours,
                sensors: sensors_up,
                mobile: mobile.into_iter().map(str::to_string).collect(),
                incidents: count,
                status,
            });
        }
    }
    out
}

/// The parts of `[start, end)` when `sensor` was up: the interval minus its outages.
fn up_intervals(
    sensor: &str,
    outages: &[Outage],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut down: Vec<(DateTime<Utc>, DateTime<Utc>)> = outages
        .iter()
        .filter(|o| o.sensor == sensor)
        .map(|o| (o.from.max(start), o.until.map_or(end, |u| u.min(end))))
        .filter(|(a, b)| a < b)
        .collect();
    down.sort();
    let mut up = Vec::new();
    let mut at = start;
    for (a, b) in down {
        if a > at {
            up.push((at, a));
        }
        at = at.max(b);
    }
    if at < end {
        up.push((at, end));
    }
    up
}

/// Total seconds covered by the union of intervals.
fn union_seconds(mut intervals: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> i64 {
    intervals.sort();
    let mut total = 0;
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (a, b) in intervals {
        match &mut current {
            Some((_, e)) if a <= *e => *e = (*e).max(b),
            _ => {
                if let Some((s, e)) = current {
                    total += (e - s).num_seconds();
                }
                current = Some((a, b));
            }
        }
    }
    if let Some((s, e)) = current {
        total += (e - s).num_seconds();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn up_intervals_subtract_outages_and_unions_merge() {
        let o = |from: &str, until: Option<&str>| Outage {
            sensor: "s".into(),
            status: SensorStatus::Offline,
            from: t(from),
            until: until.map(t),
        };
        let (a, b) = (t("2015-03-02T00:00:00Z"), t("2015-03-03T00:00:00Z"));
        let outages = [
            o("2015-03-01T22:00:00Z", Some("2015-03-02T02:00:00Z")),
            o("2015-03-02T10:00:00Z", Some("2015-03-02T12:00:00Z")),
            o("2015-03-02T11:00:00Z", Some("2015-03-02T13:00:00Z")),
            o("2015-03-02T20:00:00Z", None),
        ];
        let up = up_intervals("s", &outages, a, b);
        assert_eq!(
            up,
            [
                (t("2015-03-02T02:00:00Z"), t("2015-03-02T10:00:00Z")),
                (t("2015-03-02T13:00:00Z"), t("2015-03-02T20:00:00Z")),
            ]
        );
        assert_eq!(union_seconds(up.clone()), 15 * 3600);
        assert_eq!(up_intervals("other", &outages, a, b), [(a, b)]);
        let mut both = up;
        both.push((t("2015-03-02T09:00:00Z"), t("2015-03-02T14:00:00Z")));
        assert_eq!(union_seconds(both), 18 * 3600);
    }
}
