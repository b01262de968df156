//! Fusion: from many noisy reports to incidents.
//!
//! Three pure, deterministic pieces (no I/O, no clock, no randomness):
//!
//! - [`triangulate()`] — the origin of fire from two or more bearings: a weighted least-squares
//!   intersection on a local tangent plane, a 95 % error ellipse, and inconsistent bearings
//!   rejected with a reason;
//! - [`suggest()`] — whose area a located origin is in, stated with its basis; an impact alone
//!   never attributes;
//! - [`Fusion`] — correlation of assessed observations into incidents, gated in time, space and
//!   kind, indexed so a batch correlates in O(n log n), the same incidents for any order of a
//!   batch, each with a confidence from its distinct sources' Admiralty grades.
//!
//! See `docs/fusion.md` for the gates, the confidence model and what remains.
//!
//! ```
//! use truce_fusion::{BearingObs, triangulate};
//! use truce_geo::{azimuth_deg, distance_m};
//!
//! let origin = [38.2, 48.05];
//! let bearings: Vec<BearingObs> = [[38.0, 48.0], [38.3, 47.9]]
//!     .into_iter()
//!     .map(|o| BearingObs { observer: o, azimuth_deg: azimuth_deg(o, origin), error_deg: 1.5, max_range_m: None })
//!     .collect();
//! let fix = triangulate(&bearings).unwrap();
//! assert!(distance_m(fix.point, origin) < 0.01);
//! assert!(fix.ellipse.semi_major_m > fix.ellipse.semi_minor_m);
//! assert!(fix.ellipse.contains(fix.point, origin));
//! ```

pub mod attribute;
pub mod baseline;
pub mod correlate;
pub mod coverage;
pub mod ledger;
pub mod repeats;
pub mod score;
pub mod tasks;
pub mod triangulate;

pub use attribute::{Suggestion, suggest};
pub use correlate::{EventGroup, Fusion, Incident, IncidentState, Link, Name};
pub use triangulate::{BearingObs, Ellipse, Origin, TriangulationError, triangulate};
