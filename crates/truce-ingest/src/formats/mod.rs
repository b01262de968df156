//! One module per feed format, each with its [`crate::Adapter`].

pub(crate) mod cot;
pub(crate) mod csv;
pub(crate) mod firms;
pub(crate) mod geojson;
pub(crate) mod ucdp;

use chrono::{DateTime, Utc};
use truce_core::observation::{Geometry, Observation, ObservationKind, Source};

/// An observation with the given essentials and every optional property empty; adapters fill in
/// the rest.
pub(crate) fn observation(
    kind: ObservationKind,
    observed_at: DateTime<Utc>,
    source: Source,
    geometry: Geometry,
) -> Observation {
    Observation::new(kind, observed_at, source, geometry)
}

/// A point geometry at `[lon, lat]`.
pub(crate) fn point(lon: f64, lat: f64) -> Geometry {
    Geometry::Point {
        coordinates: vec![lon, lat],
    }
}
