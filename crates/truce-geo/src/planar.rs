//! Exact planar predicates in lon/lat (RFC 7946 treats edges as straight in lon/lat).

use geo::kernels::{Kernel, RobustKernel};
use geo::{Coord, Orientation};

use crate::LonLat;

/// Orientation of `r` relative to the directed line `p → q`, computed exactly (Shewchuk's
/// adaptive predicate, through geo's robust kernel), so that on-boundary and crossing
/// decisions never depend on rounding.
pub(crate) fn orient(p: LonLat, q: LonLat, r: LonLat) -> Orientation {
    let c = |a: LonLat| Coord { x: a[0], y: a[1] };
    RobustKernel::orient2d(c(p), c(q), c(r))
}

/// Whether `r`, known to be collinear with `p` and `q`, lies within the closed segment.
pub(crate) fn within_box(p: LonLat, q: LonLat, r: LonLat) -> bool {
    r[0] >= p[0].min(q[0])
        && r[0] <= p[0].max(q[0])
        && r[1] >= p[1].min(q[1])
        && r[1] <= p[1].max(q[1])
}

/// The first point (along `p1 → p2`) that segment `p1p2` shares with segment `q1q2`, with its
/// parameter in [0, 1] along `p1p2`; `None` if they are disjoint. Touching and collinear
/// overlap count; a shared end point is returned exactly as given.
pub(crate) fn segment_intersection(
    p1: LonLat,
    p2: LonLat,
    q1: LonLat,
    q2: LonLat,
) -> Option<(f64, LonLat)> {
    let o1 = orient(q1, q2, p1);
    let o2 = orient(q1, q2, p2);
    let o3 = orient(p1, p2, q1);
    let o4 = orient(p1, p2, q2);
    let strictly_opposite = |a: Orientation, b: Orientation| {
        a != Orientation::Collinear && b != Orientation::Collinear && a != b
    };
    if strictly_opposite(o1, o2) && strictly_opposite(o3, o4) {
        let r = [p2[0] - p1[0], p2[1] - p1[1]];
        let s = [q2[0] - q1[0], q2[1] - q1[1]];
        let qp = [q1[0] - p1[0], q1[1] - p1[1]];
        let t = (qp[0] * s[1] - qp[1] * s[0]) / (r[0] * s[1] - r[1] * s[0]);
        return Some((t, [p1[0] + t * r[0], p1[1] + t * r[1]]));
    }
    let along = |x: LonLat| {
        let r = [p2[0] - p1[0], p2[1] - p1[1]];
        let len2 = r[0] * r[0] + r[1] * r[1];
        if len2 > 0.0 {
            ((x[0] - p1[0]) * r[0] + (x[1] - p1[1]) * r[1]) / len2
        } else {
            0.0
        }
    };
    let mut first: Option<(f64, LonLat)> = None;
    let mut consider = |t: f64, x: LonLat| {
        if first.is_none_or(|(best, _)| t < best) {
            first = Some((t, x));
        }
    };
    if o1 == Orientation::Collinear && within_box(q1, q2, p1) {
        consider(0.0, p1);
    }
    if o2 == Orientation::Collinear && within_box(q1, q2, p2) {
        consider(1.0, p2);
    }
    if o3 == Orientation::Collinear && within_box(p1, p2, q1) {
        consider(along(q1), q1);
    }
    if o4 == Orientation::Collinear && within_box(p1, p2, q2) {
        consider(along(q2), q2);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proper_crossing() {
        let (t, x) = segment_intersection([0.0, 0.0], [2.0, 2.0], [0.0, 2.0], [2.0, 0.0]).unwrap();
        assert_eq!((t, x), (0.5, [1.0, 1.0]));
    }

    #[test]
    fn disjoint_and_parallel() {
        assert!(segment_intersection([0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]).is_none());
        assert!(segment_intersection([0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]).is_none());
        assert!(segment_intersection([0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [1.5, 1.0]).is_none());
    }

    #[test]
    fn touching_at_end_points() {
        // The track ends on the edge.
        assert_eq!(
            segment_intersection([0.0, -1.0], [0.0, 0.0], [-1.0, 0.0], [1.0, 0.0]),
            Some((1.0, [0.0, 0.0]))
        );
        // The edge starts on the track.
        assert_eq!(
            segment_intersection([-1.0, 0.0], [1.0, 0.0], [0.5, 0.0], [0.5, 3.0]),
            Some((0.75, [0.5, 0.0]))
        );
    }

    #[test]
    fn collinear_overlap_reports_first_shared_point() {
        assert_eq!(
            segment_intersection([0.0, 0.0], [4.0, 0.0], [3.0, 0.0], [1.0, 0.0]),
            Some((0.25, [1.0, 0.0]))
        );
        assert_eq!(
            segment_intersection([2.0, 0.0], [4.0, 0.0], [0.0, 0.0], [3.0, 0.0]),
            Some((0.0, [2.0, 0.0]))
        );
    }
}
