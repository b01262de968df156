//! Satellite thermal anomalies: VIIRS 375 m active-fire detections as NASA FIRMS serves them.
//!
//! Schedule: each satellite sees the area on one or two consecutive orbits by day and by night.
//! In local solar time the passes fall around 12:45 (ascending) and 02:10 (descending) at the
//! latitude of the Donbas, ± 1.5 h across the 16-day repeat cycle: the bundled real 2023 S-NPP
//! download for 36.8–40.3° E has every daytime pass between 08:41 and 11:38 UTC and every night
//! pass between 22:10 and 01:00 UTC, which is what these windows give at 38.5° E. NOAA-20 flies
//! the same orbit half an orbit ahead, so its passes are S-NPP's 50 minutes earlier; FIRMS has its
//! data only from 2018, so earlier periods have no NOAA-20 file.
//!
//! What it sees: a fire burning at the moment of a clear pass — grass and buildings set alight by
//! impacts, and farmers' field fires — detected with a probability rising with the fire's
//! radiative power. Nothing else: a muzzle flash or a detonation lasts far less than a pixel's
//! dwell time. A pass under cloud sees nothing (written as `degraded` coverage), and a few passes
//! are lost altogether (`pass_missed`).
//!
//! Error: FIRMS reports the centre of the 375 m pixel the fire is in, so the position is off by up
//! to half a pixel in each direction; a large fire lights two or three adjacent pixels. `scan` and
//! `track` (the pixel's size on the ground, km) grow away from nadir; each pass draws its own.

use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use truce_core::observation::{Geometry, SourceKind};
use truce_geo::{LonLat, destination};

use super::{Gap, Scene, round_to};
use crate::FeedFormat;
use crate::records::{Body, Defect, Draft, FirmsRow, Record, Written};
use crate::rng::{Rng, Stream, chance, normal, poisson, uniform};
use crate::sun::{is_day, local_midnight};
use crate::truth::Outage;
use crate::world::FIRMS_BOX_MARGIN_DEG;

/// The columns of a FIRMS VIIRS CSV from the download tool, in its order.
pub(crate) const FIRMS_COLUMNS: [&str; 14] = [
    "latitude",
    "longitude",
    "brightness",
    "scan",
    "track",
    "acq_date",
    "acq_time",
    "satellite",
    "instrument",
    "confidence",
    "version",
    "bright_t31",
    "frp",
    "daynight",
];
/// Decimals of a FIRMS coordinate, as FIRMS writes them (1e-5°, about a metre).
pub(crate) const FIRMS_DECIMALS: i32 = 5;
/// FIRMS's product version for VIIRS collection 2 near-real-time data, as in the bundled file.
const FIRMS_VERSION: &str = "2.0NRT";
/// Nominal VIIRS I-band pixel at nadir, km.
pub(crate) const FIRMS_PIXEL_KM: f64 = 0.375;
/// Range of a pass's pixel size across the scan, km: 0.39 near nadir to 0.60 towards the swath
/// edge, as in the bundled real download (the I-band's aggregation keeps it well under the
/// 0.8 km a plain scan would give at the edge).
const SCAN_KM: (f64, f64) = (0.39, 0.60);
/// Range of a pass's pixel size along the track, km.
const TRACK_KM: (f64, f64) = (0.36, 0.55);
/// Pixel-to-pixel variation of scan and track within one pass, km.
const PIXEL_SIZE_JITTER_KM: f64 = 0.01;
/// Local solar time of the daytime and night-time passes' centre at ~48° N, hours.
const DAY_PASS_LOCAL_H: f64 = 12.75;
const NIGHT_PASS_LOCAL_H: f64 = 26.15;
/// Half-width of the pass windows, hours.
const PASS_WINDOW_H: f64 = 1.45;
/// Chance that the next orbit (one period later) also sees the area.
const SECOND_ORBIT_P: f64 = 0.35;
/// Orbital period of S-NPP and NOAA-20, minutes.
const ORBIT_MIN: i64 = 101;
/// Chance that a pass is under cloud over the area (winter and early spring in the Donbas are
/// mostly overcast; the thermal bands do not see through cloud).
const CLOUDY_PASS_P: f64 = 0.35;
/// Chance that a pass's data never arrives (a downlink or processing gap).
const PASS_MISSED_P: f64 = 0.03;
/// Detection chance of a fire under a clear sky: at most this, falling off for fires whose
/// radiative power is small compared to [`FRP_SCALE_MW`].
const DETECT_MAX_P: f64 = 0.95;
const FRP_SCALE_MW: f64 = 1.5;
/// I4 brightness temperature at which the band saturates; FIRMS writes it as 367.
const I4_SATURATION_K: f64 = 367.0;
/// Brightness rise of the I4 band over the background for a small fire, and per MW of a
/// pixel's fire radiative power, K: a rough fit to the bundled real file, where a pixel of a
/// few MW reads 320–350 K and about one in twenty saturates.
const I4_RISE_K: f64 = 25.0;
const I4_K_PER_MW: f64 = 5.0;
/// I4 rise of a false detection, K: barely above the detection threshold.
const I4_SPURIOUS_RISE_K: f64 = 15.0;
/// False detections per clear pass (sun glint, hot roofs): low confidence, anywhere.
const FALSE_DETECTIONS_PER_PASS: f64 = 0.3;
/// Share of valid rows repeated in the re-download file.
const REDOWNLOAD_SHARE: f64 = 0.1;

/// A satellite carrying VIIRS.
struct Satellite {
    /// The canonical name the ingest gives it, as in its ids and source (`viirs-<name>`).
    name: &'static str,
    /// How FIRMS writes it in the `satellite` column.
    letter: &'static str,
    file: &'static str,
    /// Pass times relative to S-NPP's, minutes.
    offset_min: i64,
    /// First day FIRMS has its active-fire data.
    first_data: (i32, u32, u32),
    defects: &'static [Defect],
    redownload: Option<&'static str>,
}

const SATELLITES: [Satellite; 2] = [
    Satellite {
        name: "snpp",
        letter: "N",
        file: "firms_viirs_snpp.csv",
        offset_min: 0,
        first_data: (2012, 1, 20),
        defects: &[
            Defect::NonNumericCell,
            Defect::LatitudeOutOfRange,
            Defect::TruncatedRow,
        ],
        redownload: Some("firms_viirs_snpp_redownload.csv"),
    },
    Satellite {
        name: "noaa20",
        letter: "1",
        file: "firms_viirs_noaa20.csv",
        offset_min: -50,
        first_data: (2018, 1, 1),
        defects: &[Defect::NonNumericCell],
        redownload: None,
    },
];

/// A number as FIRMS writes it: rounded, without trailing zeros (`270`, `0.7`, `48.58626`).
fn cell(x: f64, decimals: i32) -> String {
    format!("{}", round_to(x, decimals))
}

/// The passes over the area during the period, for S-NPP (before the satellite's offset).
fn passes(scene: &Scene<'_, '_>, rng: &mut Rng, lon: f64) -> Vec<DateTime<Utc>> {
    let period = scene.period;
    let first = (period.start - TimeDelta::days(1)).date_naive();
    let mut out = Vec::new();
    for date in first.iter_days().take(period.days as usize + 2) {
        let midnight = local_midnight(date, lon);
        for centre_h in [DAY_PASS_LOCAL_H, NIGHT_PASS_LOCAL_H] {
            let h = centre_h + uniform(rng, -PASS_WINDOW_H, PASS_WINDOW_H);
            let t = midnight + TimeDelta::seconds((h * 3600.0) as i64);
            out.push(t);
            if chance(rng, SECOND_ORBIT_P) {
                // The neighbouring orbit, on whichever side stays in the window.
                let later = h + ORBIT_MIN as f64 / 60.0 <= centre_h + PASS_WINDOW_H;
                let step = TimeDelta::minutes(if later { ORBIT_MIN } else { -ORBIT_MIN });
                out.push(t + step);
            }
        }
    }
    out.sort();
    out
}

pub(crate) fn observe(scene: &Scene<'_, '_>) -> (Written, Vec<Gap>) {
    let th = scene.theatre;
    let [w, s, e, n] = th.bbox;
    let [dlon, dlat] = FIRMS_BOX_MARGIN_DEG;
    let bbox = [w - dlon, s - dlat, e + dlon, n + dlat];
    let box_polygon = Geometry::Polygon {
        coordinates: vec![vec![
            vec![bbox[0], bbox[1]],
            vec![bbox[2], bbox[1]],
            vec![bbox[2], bbox[3]],
            vec![bbox[0], bbox[3]],
            vec![bbox[0], bbox[1]],
        ]],
    };
    let lon = (w + e) / 2.0;
    let mut written = Written::default();
    let mut gaps = Vec::new();
    for (k, sat) in SATELLITES.iter().enumerate() {
        let (y, m, d) = sat.first_data;
        let first_data = NaiveDate::from_ymd_opt(y, m, d).expect("a valid date");
        if scene.period.end.date_naive() < first_data {
            continue;
        }
        let mut rng = scene.rng(Stream::Satellite, k as u64);
        let sensor = format!("viirs-{}", sat.name);
        let times: Vec<DateTime<Utc>> = passes(scene, &mut rng, lon)
            .into_iter()
            .map(|t| t + TimeDelta::minutes(sat.offset_min))
            .filter(|t| scene.period.contains(*t) && t.date_naive() >= first_data)
            .collect();
        let mut draft = Draft::new(sat.file, FeedFormat::Firms, sat.defects);
        draft.resend = sat.redownload.map(|f| (f.to_string(), REDOWNLOAD_SHARE));
        for (i, &tp) in times.iter().enumerate() {
            let next = times
                .get(i + 1)
                .copied()
                .unwrap_or(tp + TimeDelta::hours(12));
            let gap = |status: &str, cause: String| Gap {
                sensor: sensor.clone(),
                kind: SourceKind::Satellite,
                geometry: box_polygon.clone(),
                outage: Outage {
                    sensor: sensor.clone(),
                    status: status.into(),
                    from: tp,
                    until: next,
                    cause,
                    observation_id: None,
                },
            };
            if chance(&mut rng, PASS_MISSED_P) {
                gaps.push(gap(
                    "pass_missed",
                    format!(
                        "{sensor} pass at {} UTC: no data received",
                        tp.format("%H:%M")
                    ),
                ));
                continue;
            }
            if chance(&mut rng, CLOUDY_PASS_P) {
                gaps.push(gap(
                    "degraded",
                    format!(
                        "{sensor} pass at {} UTC: the area under cloud",
                        tp.format("%H:%M")
                    ),
                ));
                continue;
            }
            let scan = uniform(&mut rng, SCAN_KM.0, SCAN_KM.1);
            let track = TRACK_KM.0
                + (scan - SCAN_KM.0) / (SCAN_KM.1 - SCAN_KM.0) * (TRACK_KM.1 - TRACK_KM.0);
            let pass = Pass {
                sat,
                time: tp,
                scan_km: scan,
                track_km: track,
            };
            for (ei, ev) in scene.events.iter().enumerate() {
                let Some(burn) = &ev.burn else { continue };
                if !(burn.from <= tp && tp < burn.until) {
                    continue;
                }
                let p = DETECT_MAX_P * (1.0 - (-burn.frp_mw / FRP_SCALE_MW).exp());
                if !chance(&mut rng, p) {
                    continue;
                }
                for px in 0..burn.pixels {
                    let fire = destination(ev.location, 90.0, f64::from(px) * scan * 1000.0);
                    let frp = burn.frp_mw * uniform(&mut rng, 0.6, 1.4);
                    add(&mut draft, pass.row(&mut rng, fire, frp, false), ei);
                }
            }
            for _ in 0..poisson(&mut rng, FALSE_DETECTIONS_PER_PASS) {
                if let Some(p) = th.on_land_away(&mut rng, bbox, 0.0) {
                    let frp = uniform(&mut rng, 0.3, 1.2);
                    let record = pass.row(&mut rng, p, frp, true);
                    if draft.records.iter().all(|r| r.id != record.id) {
                        draft.records.push(record);
                    }
                }
            }
        }
        written.extend(draft.write(&mut rng));
    }
    (written, gaps)
}

/// Adds a row observing event `ei`; a second fire in the same pixel of the same pass is the
/// same row (FIRMS reports each pixel once), which then observes both.
fn add(draft: &mut Draft, mut record: Record, ei: usize) {
    if let Some(same) = draft.records.iter_mut().find(|r| r.id == record.id) {
        if !same.events.contains(&ei) {
            same.events.push(ei);
        }
        return;
    }
    record.events.push(ei);
    draft.records.push(record);
}

/// One clear pass of one satellite.
struct Pass<'s> {
    sat: &'s Satellite,
    time: DateTime<Utc>,
    scan_km: f64,
    track_km: f64,
}

impl Pass<'_> {
    /// The row of the pixel containing a fire at `fire` with radiative power `frp_mw`.
    fn row(&self, rng: &mut Rng, fire: LonLat, frp_mw: f64, spurious: bool) -> Record {
        let scan = round_to(
            self.scan_km + uniform(rng, -PIXEL_SIZE_JITTER_KM, PIXEL_SIZE_JITTER_KM),
            2,
        );
        let track = round_to(
            self.track_km + uniform(rng, -PIXEL_SIZE_JITTER_KM, PIXEL_SIZE_JITTER_KM),
            2,
        );
        // The pixel centre: anywhere within half a pixel of the fire on each axis.
        let east = destination(fire, 90.0, uniform(rng, -0.5, 0.5) * scan * 1000.0);
        let centre = destination(east, 0.0, uniform(rng, -0.5, 0.5) * track * 1000.0);
        let day = is_day(self.time, centre);
        let background = if day {
            uniform(rng, 275.0, 295.0)
        } else {
            uniform(rng, 262.0, 278.0)
        };
        let rise = if spurious {
            I4_SPURIOUS_RISE_K
        } else {
            I4_RISE_K + I4_K_PER_MW * frp_mw
        };
        let i4 = (background + rise + normal(rng, 0.0, 4.0)).min(I4_SATURATION_K);
        let confidence = if spurious || frp_mw < 1.0 {
            "l"
        } else if i4 >= I4_SATURATION_K {
            "h"
        } else {
            "n"
        };
        let (lat, lon) = (
            cell(centre[1], FIRMS_DECIMALS),
            cell(centre[0], FIRMS_DECIMALS),
        );
        let hhmm = self.time.hour() * 100 + self.time.minute();
        let date = self.time.format("%Y-%m-%d").to_string();
        let id = format!("firms:{}:{date}T{hhmm:04}:{lat}:{lon}", self.sat.name);
        let cells = vec![
            lat,
            lon,
            cell(i4, 2),
            cell(scan, 2),
            cell(track, 2),
            date,
            hhmm.to_string(),
            self.sat.letter.to_string(),
            "VIIRS".to_string(),
            confidence.to_string(),
            FIRMS_VERSION.to_string(),
            cell(background, 2),
            cell(frp_mw, 2),
            if day { "D" } else { "N" }.to_string(),
        ];
        Record {
            time: self.time,
            id,
            body: Body::Firms(FirmsRow { cells }),
            events: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_written_like_firms() {
        assert_eq!(cell(270.0, 2), "270");
        assert_eq!(cell(0.7, 2), "0.7");
        assert_eq!(cell(48.586_261, 5), "48.58626");
        assert_eq!(cell(37.955_3, 5), "37.9553");
    }
}
