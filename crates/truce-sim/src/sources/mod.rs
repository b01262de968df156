//! The sources: each looks at the true events through its own schedule, coverage, error and
//! miss rate, draws from its own random stream, and produces the records of its feed(s).
//!
//! | source | feed | format |
//! |---|---|---|
//! | VIIRS on S-NPP (and NOAA-20 from 2018) | `firms_viirs_snpp.csv` (+ `_redownload`), `firms_viirs_noaa20.csv` | FIRMS CSV |
//! | the mission's drones | `drones.geojson` (+ `drones-resend.geojson`) | GeoJSON |
//! | fixed cameras | `cameras.geojson` | GeoJSON (bearings) |
//! | acoustic arrays | `acoustic.geojson` | GeoJSON (bearings) |
//! | ground teams | `ground-teams.cot` (+ `ground-teams-resend.cot`), `storage-checks.geojson` | CoT, GeoJSON |
//! | each party's liaison desk | `allegations-<party>.geojson` | GeoJSON |
//! | sensor health of all of the above | `sensor-health.geojson` | GeoJSON (`coverage`) |

pub(crate) mod allegations;
pub(crate) mod drones;
pub(crate) mod fixed;
pub(crate) mod health;
pub(crate) mod satellite;
pub(crate) mod teams;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use truce_core::observation::{
    Geometry, Observation, ObservationKind, Reliability, Source, SourceKind,
};
use truce_geo::LonLat;

use crate::rng::{Rng, Stream, stream};
use crate::theatre::Theatre;
use crate::truth::Outage;
use crate::world::{Event, Period};

/// Decimal places of the coordinates written to GeoJSON: 1e-7° is about a centimetre, finer
/// than any source here measures, and keeps the files readable.
const COORDINATE_DECIMALS: i32 = 7;

/// What every source looks at.
pub(crate) struct Scene<'t, 'a> {
    pub theatre: &'t Theatre<'a>,
    pub events: &'t [Event],
    pub period: Period,
    pub seed: u64,
}

impl Scene<'_, '_> {
    pub fn rng(&self, s: Stream, offset: u64) -> Rng {
        stream(self.seed, s, offset)
    }
}

/// `x` rounded to `decimals` places (the value written, so ids and tests see the same number).
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// A GeoJSON position, rounded.
pub(crate) fn position(p: LonLat) -> Vec<f64> {
    vec![
        round_to(p[0], COORDINATE_DECIMALS),
        round_to(p[1], COORDINATE_DECIMALS),
    ]
}

pub(crate) fn point(p: LonLat) -> Geometry {
    Geometry::Point {
        coordinates: position(p),
    }
}

/// A source description.
pub(crate) fn source(
    id: &str,
    kind: SourceKind,
    reliability: Reliability,
    credibility: u8,
) -> Source {
    Source {
        id: id.into(),
        kind,
        reliability,
        credibility,
        party: None,
    }
}

/// An observation with the essentials; the caller fills in the rest.
pub(crate) fn observation(
    id: String,
    kind: ObservationKind,
    observed_at: DateTime<Utc>,
    source: Source,
    geometry: Geometry,
) -> Observation {
    Observation {
        id: Some(id),
        ..Observation::new(kind, observed_at, source, geometry)
    }
}

/// Record ids of the form `<prefix>-<YYYY-MM-DD>-<NNNN>`, numbered per prefix over the run.
#[derive(Default)]
pub(crate) struct Ids(BTreeMap<String, u32>);

impl Ids {
    pub fn next(&mut self, prefix: &str, t: DateTime<Utc>) -> String {
        let n = self.0.entry(prefix.to_string()).or_insert(0);
        *n += 1;
        format!("{prefix}-{}-{:04}", t.format("%Y-%m-%d"), n)
    }
}

/// A sensor not looking, to be written as a `coverage` record by [`health`].
#[derive(Debug, Clone)]
pub(crate) struct Gap {
    pub sensor: String,
    pub kind: SourceKind,
    pub geometry: Geometry,
    pub outage: Outage,
}

/// The 16-point compass name of an azimuth, as teams write directions.
pub(crate) fn compass(azimuth_deg: f64) -> &'static str {
    const POINTS: [&str; 16] = [
        "north",
        "north-north-east",
        "north-east",
        "east-north-east",
        "east",
        "east-south-east",
        "south-east",
        "south-south-east",
        "south",
        "south-south-west",
        "south-west",
        "west-south-west",
        "west",
        "west-north-west",
        "north-west",
        "north-north-west",
    ];
    POINTS[((azimuth_deg.rem_euclid(360.0) / 22.5).round() as usize) % 16]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compass_points() {
        assert_eq!(compass(0.0), "north");
        assert_eq!(compass(359.0), "north");
        assert_eq!(compass(45.0), "north-east");
        assert_eq!(compass(100.0), "east");
        assert_eq!(compass(-90.0), "west");
    }

    #[test]
    fn ids_count_per_prefix() {
        let mut ids = Ids::default();
        let t = "2015-03-02T10:00:00Z".parse().unwrap();
        assert_eq!(ids.next("uav-1", t), "uav-1-2015-03-02-0001");
        assert_eq!(ids.next("uav-2", t), "uav-2-2015-03-02-0001");
        assert_eq!(ids.next("uav-1", t), "uav-1-2015-03-02-0002");
    }
}
