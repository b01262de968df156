//! Finding where a polygon ring crosses itself, with the coordinate to show the user.
//!
//! geo's `Validation` says *that* a ring self-intersects but not *where*; a person fixing a
//! boundary file needs the place. A sweep over edges sorted by their west end keeps this
//! near O(n log n) on real boundaries (82,000-vertex oblast outlines) instead of O(n²).

use crate::LonLat;

/// The first place where two non-adjacent edges of a closed ring touch or cross.
pub fn self_intersection(ring: &[LonLat]) -> Option<LonLat> {
    let n = ring.len().checked_sub(1)?; // number of edges in a closed ring
    if n < 3 {
        return None;
    }
    let mut edges: Vec<usize> = (0..n).collect();
    let min_x = |i: usize| ring[i][0].min(ring[i + 1][0]);
    let max_x = |i: usize| ring[i][0].max(ring[i + 1][0]);
    edges.sort_by(|&a, &b| min_x(a).total_cmp(&min_x(b)));
    let mut best: Option<(usize, usize, LonLat)> = None;
    for (k, &i) in edges.iter().enumerate() {
        let right = max_x(i);
        for &j in &edges[k + 1..] {
            if min_x(j) > right {
                break;
            }
            let (a, b) = (i.min(j), i.max(j));
            let adjacent = b == a + 1 || (a == 0 && b == n - 1);
            if adjacent {
                // Neighbours share a vertex; they only intersect wrongly if they fold back
                // onto each other (collinear overlap).
                if folds_back(ring[a], ring[a + 1], ring[b], ring[b + 1]) {
                    let at = ring[b];
                    best = pick(best, (a, b, at));
                }
                continue;
            }
            if let Some(at) = segment_touch(ring[a], ring[a + 1], ring[b], ring[b + 1]) {
                best = pick(best, (a, b, at));
            }
        }
    }
    best.map(|(_, _, at)| at)
}

/// Deterministic choice among several crossings: the one on the lowest-numbered edges.
fn pick(
    best: Option<(usize, usize, LonLat)>,
    new: (usize, usize, LonLat),
) -> Option<(usize, usize, LonLat)> {
    match best {
        Some(b) if (b.0, b.1) <= (new.0, new.1) => Some(b),
        _ => Some(new),
    }
}

fn orient(a: LonLat, b: LonLat, c: LonLat) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn on_segment(a: LonLat, b: LonLat, p: LonLat) -> bool {
    p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Where segments ab and cd share a point, if they do.
fn segment_touch(a: LonLat, b: LonLat, c: LonLat, d: LonLat) -> Option<LonLat> {
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        let t = d1 / (d1 - d2);
        return Some([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
    }
    for (s0, s1, p, o) in [(c, d, a, d1), (c, d, b, d2), (a, b, c, d3), (a, b, d, d4)] {
        if o == 0.0 && on_segment(s0, s1, p) {
            return Some(p);
        }
    }
    None
}

/// Two consecutive edges a→b, b→c (passed as a,b and b,c in either order) run back over each other.
fn folds_back(a0: LonLat, a1: LonLat, b0: LonLat, b1: LonLat) -> bool {
    let (p, shared, q) = if a1 == b0 {
        (a0, a1, b1)
    } else if b1 == a0 {
        (b0, b1, a1)
    } else {
        return false;
    };
    orient(p, shared, q) == 0.0 && {
        let u = [p[0] - shared[0], p[1] - shared[1]];
        let v = [q[0] - shared[0], q[1] - shared[1]];
        u[0] * v[0] + u[1] * v[1] > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_is_simple() {
        let ring = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];
        assert_eq!(self_intersection(&ring), None);
    }

    #[test]
    fn bow_tie_crosses_in_the_middle() {
        let ring = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
        assert_eq!(self_intersection(&ring), Some([0.5, 0.5]));
    }

    #[test]
    fn spike_folding_back_is_found() {
        let ring = [[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]];
        assert!(self_intersection(&ring).is_some());
    }

    #[test]
    fn ring_touching_itself_at_a_vertex_is_found() {
        let ring = [
            [0.0, 0.0],
            [2.0, 0.0],
            [1.0, 1.0],
            [2.0, 2.0],
            [0.0, 2.0],
            [1.0, 1.0],
            [0.0, 0.0],
        ];
        assert_eq!(self_intersection(&ring), Some([1.0, 1.0]));
    }
}
