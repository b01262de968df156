//! Where the sun is: day and night decide when drones fly and teams patrol, how visible a muzzle
//! flash is to a camera, and the FIRMS day/night flag.
//!
//! The NOAA Global Monitoring Division's low-accuracy solar position formulas (Spencer's Fourier
//! series for the declination and the equation of time): good to a few tenths of a degree, far
//! finer than anything here needs.

use std::f64::consts::PI;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use truce_geo::LonLat;

/// Step of the sunrise/sunset search, minutes: a schedule does not need more.
const DAYLIGHT_STEP_MIN: i64 = 5;

/// Elevation of the sun's centre above the horizon at `t` seen from `p`, degrees (refraction
/// ignored).
pub(crate) fn elevation_deg(t: DateTime<Utc>, p: LonLat) -> f64 {
    let hour = f64::from(t.num_seconds_from_midnight()) / 3600.0;
    let gamma = 2.0 * PI / 365.0 * (f64::from(t.ordinal0()) + (hour - 12.0) / 24.0);
    let eq_time_min = 229.18
        * (0.000075 + 0.001868 * gamma.cos()
            - 0.032077 * gamma.sin()
            - 0.014615 * (2.0 * gamma).cos()
            - 0.040849 * (2.0 * gamma).sin());
    let declination = 0.006918 - 0.399912 * gamma.cos() + 0.070257 * gamma.sin()
        - 0.006758 * (2.0 * gamma).cos()
        + 0.000907 * (2.0 * gamma).sin()
        - 0.002697 * (3.0 * gamma).cos()
        + 0.00148 * (3.0 * gamma).sin();
    let true_solar_min = hour * 60.0 + eq_time_min + 4.0 * p[0];
    let hour_angle = (true_solar_min / 4.0 - 180.0).to_radians();
    let lat = p[1].to_radians();
    let cos_zenith =
        lat.sin() * declination.sin() + lat.cos() * declination.cos() * hour_angle.cos();
    90.0 - cos_zenith.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Whether the sun is up at `t` at `p`.
pub(crate) fn is_day(t: DateTime<Utc>, p: LonLat) -> bool {
    elevation_deg(t, p) > 0.0
}

/// Local mean midnight at the start of `date` at longitude `lon` (15° of longitude an hour).
pub(crate) fn local_midnight(date: NaiveDate, lon: f64) -> DateTime<Utc> {
    let offset_s = (lon / 15.0 * 3600.0).round() as i64;
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        - TimeDelta::seconds(offset_s)
}

/// Sunrise and sunset on the local `date` at `p`, to [`DAYLIGHT_STEP_MIN`]; `None` in polar
/// night (and the whole day in polar day).
pub(crate) fn daylight(date: NaiveDate, p: LonLat) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let midnight = local_midnight(date, p[0]);
    let steps = 24 * 60 / DAYLIGHT_STEP_MIN;
    let up: Vec<DateTime<Utc>> = (0..=steps)
        .map(|i| midnight + TimeDelta::minutes(i * DAYLIGHT_STEP_MIN))
        .filter(|t| is_day(*t, p))
        .collect();
    Some((*up.first()?, *up.last()?))
}

/// The local mean solar hour (0–23) at `t` at longitude `lon`.
pub(crate) fn local_hour(t: DateTime<Utc>, lon: f64) -> u32 {
    let local = t + TimeDelta::seconds((lon / 15.0 * 3600.0).round() as i64);
    local.hour()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn donetsk_daylight_in_early_march() {
        // Donetsk, 2 March 2015: declination −7.4°, equation of time −12.3 min, so solar noon
        // is 09:41 UTC and the sun's centre crosses the horizon 5 h 27 min either side
        // (cos H = −tan 48° · tan −7.4°): 04:14 and 15:08 UTC, without refraction.
        let (rise, set) =
            daylight(NaiveDate::from_ymd_opt(2015, 3, 2).unwrap(), [37.8, 48.0]).unwrap();
        let minutes = |t: DateTime<Utc>| i64::from(t.hour() * 60 + t.minute());
        assert!(
            (minutes(rise) - (4 * 60 + 14)).abs() <= DAYLIGHT_STEP_MIN + 1,
            "{rise}"
        );
        assert!(
            (minutes(set) - (15 * 60 + 8)).abs() <= DAYLIGHT_STEP_MIN + 1,
            "{set}"
        );
        let noon = "2015-03-02T09:45:00Z".parse().unwrap();
        assert!((elevation_deg(noon, [37.8, 48.0]) - 34.7).abs() < 1.0);
        assert!(!is_day(
            "2015-03-02T23:00:00Z".parse().unwrap(),
            [37.8, 48.0]
        ));
        assert_eq!(local_hour("2015-03-02T22:00:00Z".parse().unwrap(), 37.8), 0);
    }
}
