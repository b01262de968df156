//! Slow, obviously-correct references for tests and benchmarks.
//!
//! Nothing here is indexed or approximated: distances minimise Karney's inverse problem along
//! each edge geodesic by golden-section search to 0.1 mm of arc length, and the planar tests
//! loop over every edge.

use geo_types::MultiPolygon;
use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};

use crate::{Crossing, LineIndex, LonLat};

/// Golden-section search stops when the bracket on arc length is this short. The distance
/// is stationary at the minimum, so its error is far smaller still (nanometres).
const ARC_TOLERANCE_M: f64 = 1e-4;

/// Geodesic distance (m) from `p` to the nearest point of any of `lines`, edges taken as
/// geodesics. Edges whose start is farther than the best distance so far plus their own
/// length are skipped: by the triangle inequality they cannot be nearer (this keeps the
/// brute force usable in debug-mode tests without approximating anything).
///
/// The search along an edge assumes the distance to `p` has a single minimum there, which
/// holds for edges and ranges far below a quarter of the earth's circumference.
pub fn distance_to_lines_m(lines: &[Vec<LonLat>], p: LonLat) -> f64 {
    let g = Geodesic::wgs84();
    let mut edges: Vec<(f64, LonLat, LonLat)> = lines
        .iter()
        .flat_map(|line| line.windows(2))
        .map(|w| {
            let to_start: f64 = g.inverse(p[1], p[0], w[0][1], w[0][0]);
            let length: f64 = g.inverse(w[0][1], w[0][0], w[1][1], w[1][0]);
            (to_start - length, w[0], w[1])
        })
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut best = f64::INFINITY;
    for (lower_bound, a, b) in edges {
        if lower_bound > best {
            break;
        }
        best = best.min(distance_to_edge_m(a, b, p));
    }
    best
}

/// Geodesic distance (m) from `p` to the geodesic edge `a`–`b`, by golden-section search on
/// the arc length from `a`.
pub fn distance_to_edge_m(a: LonLat, b: LonLat, p: LonLat) -> f64 {
    let g = Geodesic::wgs84();
    let (length, azimuth, _azi2, _arc): (f64, f64, f64, f64) = g.inverse(a[1], a[0], b[1], b[0]);
    let at = |s: f64| -> f64 {
        let (lat, lon): (f64, f64) = g.direct(a[1], a[0], azimuth, s);
        g.inverse(p[1], p[0], lat, lon)
    };
    let inv_phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut lo, mut hi) = (0.0, length);
    let mut x1 = hi - inv_phi * (hi - lo);
    let mut x2 = lo + inv_phi * (hi - lo);
    let (mut f1, mut f2) = (at(x1), at(x2));
    while hi - lo > ARC_TOLERANCE_M {
        if f1 < f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - inv_phi * (hi - lo);
            f1 = at(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + inv_phi * (hi - lo);
            f2 = at(x2);
        }
    }
    let to_a: f64 = g.inverse(p[1], p[0], a[1], a[0]);
    let to_b: f64 = g.inverse(p[1], p[0], b[1], b[0]);
    f1.min(f2).min(to_a).min(to_b)
}

/// Crossings found by testing every track segment against every edge of `index`, with the
/// same conventions as [`LineIndex::crossings`] (which finds its candidates through an index).
pub fn crossings(index: &LineIndex, track: &[LonLat]) -> Vec<Crossing> {
    index.crossings_brute_force(track)
}

/// Point-in-MultiPolygon by counting crossings over every edge (even–odd rule, boundary
/// inside, exact predicates), as [`crate::AreaIndex::contains`] promises.
pub fn covers(area: &MultiPolygon<f64>, p: LonLat) -> bool {
    crate::area::covers_brute_force(area, p)
}
