//! [`LineIndex`]: geodesic distance from a point to one or more polylines, and crossings.

use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
use rstar::{AABB, RTree, RTreeObject};

use crate::chords::{Chord, ChordTree};
use crate::ellipsoid::{
    Ecef, chord_upper_bound_m, geodesic_from_chord_m, lerp, surface_to_lonlat, to_ecef, to_surface,
};
use crate::planar::segment_intersection;
use crate::{GeoError, LonLat, valid_lonlat};

/// Longest sub-chord an edge is cut into. Two constraints meet here: a chord interpolated and
/// pushed onto the surface stays within L²·f/(8R) ≈ 0.3 mm of the true geodesic at 2 km, and
/// the chord sags below the surface by L²/(8R) ≈ 8 cm, which only widens the candidate search.
const MAX_SUB_CHORD_M: f64 = 2_000.0;

/// Upper bound on how far a sub-chord sags below the surface arc it stands for
/// (L²/(8R) with L = [`MAX_SUB_CHORD_M`] and R the smallest radius of curvature, rounded up).
const SUB_CHORD_SAGITTA_M: f64 = 0.1;

/// Beyond this distance the closed-form distance is no longer trusted (its error reaches
/// centimetres at 1,000 km and grows like s⁵), so the query switches to Karney's algorithm.
const FAST_PATH_MAX_M: f64 = 1_000_000.0;

/// Newton iterations on the Karney path stop when the foot moves less than this along the edge.
const NEWTON_TOLERANCE_M: f64 = 1e-4;

/// Safety cap on Newton iterations on the Karney path (it converges in 2–4).
const NEWTON_MAX_ITERATIONS: usize = 30;

/// The nearest point of a [`LineIndex`] to a query point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearestPoint {
    /// Geodesic distance on WGS84 from the query point to the line (m).
    pub distance_m: f64,
    /// The closest point on the line, [lon, lat] in degrees.
    pub point: LonLat,
    /// Index of the polyline within the index.
    pub line: usize,
    /// Index of the edge within that polyline (vertices `segment` → `segment + 1`).
    pub segment: usize,
}

/// A place where a track meets the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    /// Index of the track segment (track vertices `track_segment` → `track_segment + 1`).
    pub track_segment: usize,
    /// Where the two meet, [lon, lat] in degrees.
    pub point: LonLat,
    /// Index of the polyline within the index.
    pub line: usize,
    /// Index of the edge within that polyline.
    pub segment: usize,
}

/// One edge of one polyline, with what the queries need precomputed.
#[derive(Debug, Clone)]
struct Edge {
    line: usize,
    segment: usize,
    start: LonLat,
    end: LonLat,
    /// Azimuth of the edge geodesic at `start` (degrees), for Karney's direct problem.
    azimuth_start_deg: f64,
    length_m: f64,
    /// Whether this is the last edge of an open polyline: its end point is not shared with a
    /// following edge, so a crossing exactly there is reported by this edge.
    owns_end: bool,
    /// Number of equal sub-chords the edge geodesic is cut into.
    sub_count: usize,
}

/// An edge's bounding box in lon/lat, the unit of the 2-D index used for crossings.
#[derive(Debug, Clone)]
struct PlanarEdge {
    envelope: AABB<[f64; 2]>,
    edge: usize,
}

impl RTreeObject for PlanarEdge {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// What a query found: a foot in ECEF from the closed-form path, or a finished answer from
/// the Karney path (or for an invalid query point).
enum Closest {
    Fast(Foot),
    Karney(NearestPoint),
}

/// A candidate foot on an edge found by the fast path.
#[derive(Debug, Clone, Copy)]
struct Foot {
    distance_m: f64,
    surface: Ecef,
    edge: usize,
}

/// One or more polylines on WGS84 (a contact line may be a MultiLineString), indexed for
/// geodesic nearest-point queries and planar crossing tests.
///
/// Edges are geodesics between consecutive vertices. Each edge is cut into sub-chords of at
/// most 2 km whose end points lie exactly on the edge geodesic (Karney's direct problem at
/// build time); the sub-chords, as straight 3-D segments in earth-centred coordinates, go into
/// a bounding-volume hierarchy (`chords.rs`). A query visits them nearest first and skips every
/// chord whose shortest possible geodesic exceeds the best distance found, so every edge that
/// might be nearest is examined. Distances up to 1,000 km come from the closed-form
/// chord–geodesic relation in `ellipsoid.rs` (under a millimetre from Karney there); farther
/// points fall back to Newton's method on Karney's inverse problem.
#[derive(Debug, Clone)]
pub struct LineIndex {
    geodesic: Geodesic,
    edges: Vec<Edge>,
    chords: ChordTree,
    planar: RTree<PlanarEdge>,
    length_m: f64,
}

impl LineIndex {
    /// Builds the index. Each polyline needs at least 2 vertices, all finite, with longitude in
    /// [−180, 180] and latitude in [−90, 90]; at least one polyline is required.
    pub fn new(lines: Vec<Vec<LonLat>>) -> Result<LineIndex, GeoError> {
        if lines.is_empty() {
            return Err(GeoError::NoLines);
        }
        let geodesic = Geodesic::wgs84();
        let mut edges = Vec::new();
        let mut chords = Vec::new();
        let mut planar = Vec::new();
        let mut length_m = 0.0;
        for (line, points) in lines.iter().enumerate() {
            if points.len() < 2 {
                return Err(GeoError::TooFewVertices {
                    line,
                    count: points.len(),
                });
            }
            for (vertex, p) in points.iter().enumerate() {
                valid_lonlat(*p).map_err(|reason| GeoError::BadCoordinate {
                    line,
                    vertex,
                    lon: p[0],
                    lat: p[1],
                    reason,
                })?;
            }
            let closed = points.first() == points.last();
            for (segment, pair) in points.windows(2).enumerate() {
                let (start, end) = (pair[0], pair[1]);
                let (len, azimuth_start_deg, _azi2, _arc): (f64, f64, f64, f64) =
                    geodesic.inverse(start[1], start[0], end[1], end[0]);
                let sub_count = ((len / MAX_SUB_CHORD_M).ceil() as usize).max(1);
                let edge = edges.len();
                // Cut points exactly on the edge geodesic (Karney's direct problem).
                let mut cuts = vec![to_ecef(start)];
                for k in 1..sub_count {
                    let s = len * k as f64 / sub_count as f64;
                    let (lat, lon): (f64, f64) =
                        geodesic.direct(start[1], start[0], azimuth_start_deg, s);
                    cuts.push(to_ecef([lon, lat]));
                }
                cuts.push(to_ecef(end));
                for (index, pair) in cuts.windows(2).enumerate() {
                    chords.push(Chord {
                        a: pair[0],
                        b: pair[1],
                        edge,
                        index,
                    });
                }
                planar.push(PlanarEdge {
                    envelope: AABB::from_corners(start, end),
                    edge,
                });
                edges.push(Edge {
                    line,
                    segment,
                    start,
                    end,
                    azimuth_start_deg,
                    length_m: len,
                    owns_end: segment + 2 == points.len() && !closed,
                    sub_count,
                });
                length_m += len;
            }
        }
        Ok(LineIndex {
            geodesic,
            edges,
            chords: ChordTree::new(chords),
            planar: RTree::bulk_load(planar),
            length_m,
        })
    }

    /// Geodesic length of all polylines together (m).
    pub fn length_m(&self) -> f64 {
        self.length_m
    }

    /// Geodesic distance (m) from `p` to the nearest point of any polyline.
    pub fn distance_m(&self, p: LonLat) -> f64 {
        match self.closest(p) {
            Closest::Fast(foot) => foot.distance_m,
            Closest::Karney(nearest) => nearest.distance_m,
        }
    }

    /// The nearest point of the line to `p`, with edges taken as geodesics on WGS84.
    ///
    /// Within 1 m of a brute-force GeographicLib minimisation at any range (in practice within
    /// a millimetre up to 300 km; see `examples/accuracy.rs`). A `p` that is not a valid
    /// [lon, lat] (non-finite, or latitude outside [−90, 90]) gives NaN in every field of
    /// the result that is a coordinate or distance.
    pub fn nearest(&self, p: LonLat) -> NearestPoint {
        match self.closest(p) {
            Closest::Fast(foot) => {
                let edge = &self.edges[foot.edge];
                NearestPoint {
                    distance_m: foot.distance_m,
                    point: surface_to_lonlat(foot.surface),
                    line: edge.line,
                    segment: edge.segment,
                }
            }
            Closest::Karney(nearest) => nearest,
        }
    }

    /// The nearest point, left in ECEF on the fast path so that [`Self::distance_m`] does not
    /// pay for converting it back to lon/lat.
    fn closest(&self, p: LonLat) -> Closest {
        if !p[0].is_finite() || !p[1].is_finite() || p[1].abs() > 90.0 {
            return Closest::Karney(NearestPoint {
                distance_m: f64::NAN,
                point: [f64::NAN; 2],
                line: 0,
                segment: 0,
            });
        }
        let q = to_ecef(p);
        let mut best = Foot {
            distance_m: f64::INFINITY,
            surface: q,
            edge: 0,
        };
        self.chords.search(q, f64::INFINITY, |chord| {
            let foot = self.chord_foot(chord, q);
            if foot.distance_m < best.distance_m {
                best = foot;
            }
            // A chord can only hold a nearer point if it is within this radius (the surface
            // arc may lie up to a sagitta closer than its chord).
            (chord_upper_bound_m(best.distance_m) + SUB_CHORD_SAGITTA_M).powi(2)
        });
        if best.distance_m > FAST_PATH_MAX_M {
            Closest::Karney(self.nearest_karney(p, q))
        } else {
            Closest::Fast(best)
        }
    }

    /// The point of `chord` closest to `q` in 3-D, pushed onto the surface, with its geodesic
    /// distance.
    ///
    /// This minimises the chord rather than the geodesic, but the two minima nearly coincide:
    /// along the edge, `d = c·(1 + κ²c²/24)` differs from `c` only through the slow change of
    /// the curvature `κ` with direction, which moves the minimum by about e²cos²φ·c³/(12R²):
    /// 0.2 m at 300 km, 6 m at 1,000 km. At a minimum that shift changes the distance by its
    /// square over twice the range, 10⁻⁷ m and 2·10⁻⁵ m. (A Newton refinement along the edge
    /// was tried and changed no result in `examples/accuracy.rs` at any range.)
    fn chord_foot(&self, chord: &Chord, q: Ecef) -> Foot {
        let surface = to_surface(lerp(chord.a, chord.b, chord.foot_parameter(q)));
        Foot {
            distance_m: geodesic_from_chord_m(q, surface),
            surface,
            edge: chord.edge,
        }
    }

    /// The far-range path: every edge that could be nearest is minimised with Newton's method
    /// on Karney's inverse problem. Only used beyond [`FAST_PATH_MAX_M`].
    fn nearest_karney(&self, p: LonLat, q: Ecef) -> NearestPoint {
        let mut best = NearestPoint {
            distance_m: f64::INFINITY,
            point: p,
            line: 0,
            segment: 0,
        };
        let mut seen = Vec::new();
        self.chords.search(q, f64::INFINITY, |chord| {
            if !seen.contains(&chord.edge) {
                seen.push(chord.edge);
                let edge = &self.edges[chord.edge];
                let s0 = (chord.index as f64 + chord.foot_parameter(q)) * edge.length_m
                    / edge.sub_count as f64;
                let (distance_m, point) = self.newton_on_edge(edge, p, s0);
                if distance_m < best.distance_m {
                    best = NearestPoint {
                        distance_m,
                        point,
                        line: edge.line,
                        segment: edge.segment,
                    };
                }
            }
            // A geodesic is never shorter than its chord.
            (best.distance_m + SUB_CHORD_SAGITTA_M).powi(2)
        });
        best
    }

    /// Minimises the Karney distance from `p` along an edge, starting at arc length `s0`.
    ///
    /// With `X(s)` on the edge and `ψ` the angle at `X` between the edge and the geodesic
    /// continuing away from `p`, `d′(s) = cos ψ` and `d″(s) = sin²ψ · M21/m12` (the geodesic
    /// curvature of the circle of radius d around p is M21/m12). The end points are also
    /// tried, so a clamped or stalled iteration still returns the edge's minimum.
    fn newton_on_edge(&self, edge: &Edge, p: LonLat, s0: f64) -> (f64, LonLat) {
        let g = &self.geodesic;
        let distance_to = |x: LonLat| -> f64 { g.inverse(p[1], p[0], x[1], x[0]) };
        let mut best = (distance_to(edge.start), edge.start);
        let at_end = distance_to(edge.end);
        if at_end < best.0 {
            best = (at_end, edge.end);
        }
        let mut s = s0;
        for _ in 0..NEWTON_MAX_ITERATIONS {
            let (lat, lon, azimuth_edge): (f64, f64, f64) =
                g.direct(edge.start[1], edge.start[0], edge.azimuth_start_deg, s);
            #[allow(non_snake_case)]
            let (d, _azi1, azimuth_away, m12, _M12, M21, _a12): (
                f64,
                f64,
                f64,
                f64,
                f64,
                f64,
                f64,
            ) = g.inverse(p[1], p[0], lat, lon);
            if d < best.0 {
                best = (d, [lon, lat]);
            }
            let psi = (azimuth_away - azimuth_edge).to_radians();
            let slope = psi.cos();
            let curvature = psi.sin().powi(2) * M21 / m12;
            let step = if curvature > 0.0 && curvature.is_finite() {
                -slope / curvature
            } else {
                -slope.signum() * edge.length_m
            };
            let next = (s + step).clamp(0.0, edge.length_m);
            if (next - s).abs() < NEWTON_TOLERANCE_M {
                break;
            }
            s = next;
        }
        best
    }

    /// Every point where `track` (a polyline in lon/lat) meets the line, in track order
    /// (by track segment, then along it).
    ///
    /// Segments are straight in lon/lat (RFC 7946) for both the track and the line, found
    /// through a 2-D R*-tree of edge boxes. For distances the line's edges are geodesics; the
    /// two differ by at most about L²·tan φ/(8R) across an edge of length L at latitude φ:
    /// 0.1 m for 2 km, 0.4 m for the 4 km typical of the donbas-2015 line, 3.5 m for its longest
    /// (12.6 km) edge. Only a track that comes that close to the middle of an edge could be
    /// judged differently. Like RFC 7946, nothing wraps at the antimeridian: a segment from
    /// 179° to −179° runs the long way round.
    ///
    /// Touching counts as meeting; a point shared by two consecutive track segments or two
    /// consecutive edges is reported once; where a track segment runs along an edge, the first
    /// shared point is reported.
    pub fn crossings(&self, track: &[LonLat]) -> Vec<Crossing> {
        let mut out = Vec::new();
        let mut hits = Vec::new();
        let last_track_segment = track.len().saturating_sub(2);
        for (track_segment, pair) in track.windows(2).enumerate() {
            let envelope = AABB::from_corners(pair[0], pair[1]);
            hits.clear();
            for candidate in self.planar.locate_in_envelope_intersecting(&envelope) {
                let edge = &self.edges[candidate.edge];
                if let Some(hit) = crossing_of(
                    pair,
                    track_segment == last_track_segment,
                    edge,
                    track_segment,
                ) {
                    hits.push(hit);
                }
            }
            hits.sort_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then((a.1.line, a.1.segment).cmp(&(b.1.line, b.1.segment)))
            });
            out.extend(hits.iter().map(|h| h.1));
        }
        out
    }

    /// Brute-force crossings (every track segment against every edge) for tests.
    pub(crate) fn crossings_brute_force(&self, track: &[LonLat]) -> Vec<Crossing> {
        let last_track_segment = track.len().saturating_sub(2);
        let mut out = Vec::new();
        for (track_segment, pair) in track.windows(2).enumerate() {
            let mut hits: Vec<_> = self
                .edges
                .iter()
                .filter_map(|edge| {
                    crossing_of(
                        pair,
                        track_segment == last_track_segment,
                        edge,
                        track_segment,
                    )
                })
                .collect();
            hits.sort_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then((a.1.line, a.1.segment).cmp(&(b.1.line, b.1.segment)))
            });
            out.extend(hits.iter().map(|h| h.1));
        }
        out
    }
}

/// Where track segment `pair` meets `edge`, with its parameter along the track segment, after
/// dropping points that the next track segment or the next edge will report.
fn crossing_of(
    pair: &[LonLat],
    last_track_segment: bool,
    edge: &Edge,
    track_segment: usize,
) -> Option<(f64, Crossing)> {
    let (t, point) = segment_intersection(pair[0], pair[1], edge.start, edge.end)?;
    if (point == pair[1] && !last_track_segment) || (point == edge.end && !edge.owns_end) {
        return None;
    }
    Some((
        t,
        Crossing {
            track_segment,
            point,
            line: edge.line,
            segment: edge.segment,
        },
    ))
}
