//! One module per feed format, each with its [`crate::Adapter`].

pub(crate) mod cot;
pub(crate) mod csv;
pub(crate) mod firms;
pub(crate) mod geojson;
pub(crate) mod ucdp;

use chrono::{DateTime, Utc};
use truce_core::observation::{
    FeatureTag, Geometry, Observation, ObservationKind, ObservationProperties, Source,
};

/// An observation with the given essentials and every optional property empty; adapters fill in
/// the rest.
pub(crate) fn observation(
    kind: ObservationKind,
    observed_at: DateTime<Utc>,
    source: Source,
    geometry: Geometry,
) -> Observation {
    Observation {
        feature_type: FeatureTag::Feature,
        id: None,
        geometry,
        properties: ObservationProperties {
            kind,
            observed_at,
            time_uncertainty_s: 0.0,
            source,
            error_radius_m: 0.0,
            bearing: None,
            timestamps: Vec::new(),
            weapon: None,
            storage: None,
            coverage: None,
            affiliation: None,
            source_record: None,
            remarks: String::new(),
            media: Vec::new(),
        },
    }
}

/// A point geometry at `[lon, lat]`.
pub(crate) fn point(lon: f64, lat: f64) -> Geometry {
    Geometry::Point {
        coordinates: vec![lon, lat],
    }
}
