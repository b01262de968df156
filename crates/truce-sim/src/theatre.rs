//! The agreement's geometry, indexed for placing things: points along the contact line, points
//! at a given distance from it on a given party's side, points inside a disengagement zone.
//!
//! A point "on a side" is found the way a planner would: from a point on the line, walk
//! perpendicular to the line's local direction, then check with the party areas which side the
//! walk ended on (and the real geodesic distance to the whole line, which a bend nearby can make
//! shorter than the walk). Candidates that land in the sea, abroad or too close are drawn again.

use truce_core::agreement::{Agreement, ZoneExtent, ZoneKind, to_multipolygon};
use truce_geo::{AreaIndex, LineIndex, LonLat, azimuth_deg, destination, distance_m};

use crate::rng::{Rng, normal, uniform};

/// How many candidates a placement draws before giving up on that one event. Placements near
/// the line's ends or a narrow area fail often; a thousand misses in a row means the request
/// cannot be met (a withdrawal distance deeper than the party's area, say).
const MAX_PLACEMENT_ATTEMPTS: usize = 1000;

/// Distance from a point on the line at which [`Theatre::sides_at`] probes each side, metres:
/// far enough to clear the line's generalised wiggles, near enough to stay in the same place.
const SIDE_PROBE_M: f64 = 3_000.0;

/// One geodesic edge of the contact line, with its distance from the line's start.
#[derive(Debug, Clone)]
struct Edge {
    start: LonLat,
    end: LonLat,
    from_m: f64,
    length_m: f64,
}

/// A disengagement zone's polygons, indexed.
pub(crate) struct ZoneArea {
    pub id: String,
    area: AreaIndex,
    /// [west, south, east, north], degrees.
    bbox: [f64; 4],
}

/// The agreement with its geometry indexed for placement.
pub(crate) struct Theatre<'a> {
    pub terms: &'a Agreement,
    pub line: LineIndex,
    edges: Vec<Edge>,
    /// Index in `edges` of each polyline's first edge.
    first_edge: Vec<usize>,
    /// Total length of the contact line, metres.
    pub length_m: f64,
    areas: Vec<(String, AreaIndex)>,
    pub zones: Vec<ZoneArea>,
    /// The contact line's bounding box [west, south, east, north], degrees.
    pub bbox: [f64; 4],
}

fn bbox_of<'p>(points: impl Iterator<Item = &'p LonLat>) -> [f64; 4] {
    points.fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, p| {
        [
            b[0].min(p[0]),
            b[1].min(p[1]),
            b[2].max(p[0]),
            b[3].max(p[1]),
        ]
    })
}

impl<'a> Theatre<'a> {
    /// Indexes the terms. The agreement loader has already checked every coordinate, so the
    /// indexes cannot fail.
    pub fn new(terms: &'a Agreement) -> Theatre<'a> {
        let lines = terms.contact_line.lines.clone();
        let line =
            LineIndex::new(lines.clone()).expect("a loaded agreement has a valid contact line");
        let mut edges = Vec::new();
        let mut first_edge = Vec::new();
        let mut from_m = 0.0;
        for polyline in &lines {
            first_edge.push(edges.len());
            for pair in polyline.windows(2) {
                let length_m = distance_m(pair[0], pair[1]);
                edges.push(Edge {
                    start: pair[0],
                    end: pair[1],
                    from_m,
                    length_m,
                });
                from_m += length_m;
            }
        }
        let areas = terms
            .parties
            .iter()
            .map(|p| (p.id.clone(), AreaIndex::new(to_multipolygon(&p.area))))
            .collect();
        let zones = terms
            .zones
            .iter()
            .filter(|z| z.kind == ZoneKind::Disengagement)
            .filter_map(|z| match &z.extent {
                ZoneExtent::Polygons { polygons, .. } => Some(ZoneArea {
                    id: z.id.clone(),
                    area: AreaIndex::new(to_multipolygon(polygons)),
                    bbox: bbox_of(polygons.iter().flatten().flatten()),
                }),
                ZoneExtent::WithinKmOfLine { .. } => None,
            })
            .collect();
        let bbox = bbox_of(lines.iter().flatten());
        Theatre {
            terms,
            line,
            edges,
            first_edge,
            length_m: from_m,
            areas,
            zones,
            bbox,
        }
    }

    /// The point `s_m` metres along the line, and the line's direction there (azimuth, degrees).
    pub fn along(&self, s_m: f64) -> (LonLat, f64) {
        let s_m = s_m.clamp(0.0, self.length_m);
        let i = self
            .edges
            .partition_point(|e| e.from_m + e.length_m < s_m)
            .min(self.edges.len() - 1);
        let e = &self.edges[i];
        let azimuth = azimuth_deg(e.start, e.end);
        (
            destination(e.start, azimuth, (s_m - e.from_m).min(e.length_m)),
            azimuth,
        )
    }

    /// The point at `fraction` (0 = start, 1 = end) of the line's length.
    pub fn at_fraction(&self, fraction: f64) -> LonLat {
        self.along(fraction * self.length_m).0
    }

    /// How far along the line (0–1) the point of the line nearest to `p` is.
    pub fn fraction_of(&self, p: LonLat) -> f64 {
        let nearest = self.line.nearest(p);
        let edge = &self.edges[self.first_edge[nearest.line] + nearest.segment];
        ((edge.from_m + distance_m(edge.start, nearest.point)) / self.length_m).clamp(0.0, 1.0)
    }

    /// Geodesic distance from `p` to the contact line, metres.
    pub fn distance_m(&self, p: LonLat) -> f64 {
        self.line.distance_m(p)
    }

    /// The party whose area contains `p` (the first, where areas share a boundary).
    pub fn party_at(&self, p: LonLat) -> Option<&str> {
        self.areas
            .iter()
            .find(|(_, a)| a.contains(p))
            .map(|(id, _)| id.as_str())
    }

    /// Parties with an area, in agreement order.
    pub fn parties(&self) -> impl Iterator<Item = &str> {
        self.areas.iter().map(|(id, _)| id.as_str())
    }

    /// Whether `p` is on land held by some party (not the sea, not abroad).
    pub fn on_land(&self, p: LonLat) -> bool {
        self.party_at(p).is_some()
    }

    /// The point `d_m` metres from the line point at `s_m`, walking perpendicular to the line
    /// onto `party`'s side; `None` when neither perpendicular ends in `party`'s area.
    pub fn offset(&self, s_m: f64, party: &str, d_m: f64) -> Option<LonLat> {
        let (foot, azimuth) = self.along(s_m);
        [azimuth + 90.0, azimuth - 90.0]
            .into_iter()
            .map(|a| destination(foot, a.rem_euclid(360.0), d_m))
            .find(|q| self.party_at(*q) == Some(party))
    }

    /// The parties on either side of the line at `s_m`: each perpendicular probed at
    /// [`SIDE_PROBE_M`]; `None` where one side is not any party's (the line's ends, the coast).
    pub fn sides_at(&self, s_m: f64) -> Option<(&str, &str)> {
        let (foot, azimuth) = self.along(s_m);
        let probe = |a: f64| self.party_at(destination(foot, a.rem_euclid(360.0), SIDE_PROBE_M));
        let (left, right) = (probe(azimuth - 90.0)?, probe(azimuth + 90.0)?);
        (left != right).then_some((left, right))
    }

    /// The other party at `s_m`: across the line from `party`.
    pub fn across(&self, s_m: f64, party: &str) -> Option<&str> {
        let (a, b) = self.sides_at(s_m)?;
        if a == party {
            Some(b)
        } else if b == party {
            Some(a)
        } else {
            None
        }
    }

    /// A point on `party`'s side whose real distance from the line is within
    /// `[min_m, max_m]`, near the line position drawn by `fraction` (a centre and a spread, as
    /// fractions of the line's length; a spread of 0.5 or more means anywhere), and the position
    /// along the line it was placed from (metres).
    pub fn place(
        &self,
        rng: &mut Rng,
        party: &str,
        (centre, spread): (f64, f64),
        (min_m, max_m): (f64, f64),
    ) -> Option<(LonLat, f64)> {
        for _ in 0..MAX_PLACEMENT_ATTEMPTS {
            let fraction = if spread >= 0.5 {
                uniform(rng, 0.0, 1.0)
            } else {
                normal(rng, centre, spread).clamp(0.0, 1.0)
            };
            let s_m = fraction * self.length_m;
            let d_m = uniform(rng, min_m, max_m);
            let Some(q) = self.offset(s_m, party, d_m) else {
                continue;
            };
            let real = self.distance_m(q);
            if (min_m..=max_m).contains(&real) {
                return Some((q, s_m));
            }
        }
        None
    }

    /// A point inside the zone that some party holds, drawn uniformly over the zone's bounding
    /// box until one falls inside.
    pub fn in_zone(&self, rng: &mut Rng, zone: &ZoneArea) -> Option<LonLat> {
        let [w, s, e, n] = zone.bbox;
        (0..MAX_PLACEMENT_ATTEMPTS)
            .map(|_| [uniform(rng, w, e), uniform(rng, s, n)])
            .find(|p| zone.area.contains(*p) && self.on_land(*p))
    }

    /// Whether `p` is inside the zone with id `zone`.
    #[cfg(test)]
    pub fn zone_contains(&self, zone: &str, p: LonLat) -> bool {
        self.zones
            .iter()
            .any(|z| z.id == zone && z.area.contains(p))
    }

    /// A point on land anywhere in `bbox` at least `min_from_line_m` from the line.
    pub fn on_land_away(
        &self,
        rng: &mut Rng,
        bbox: [f64; 4],
        min_from_line_m: f64,
    ) -> Option<LonLat> {
        let [w, s, e, n] = bbox;
        (0..MAX_PLACEMENT_ATTEMPTS)
            .map(|_| [uniform(rng, w, e), uniform(rng, s, n)])
            .find(|p| self.on_land(*p) && self.distance_m(*p) >= min_from_line_m)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rng::{Stream, stream};

    pub(crate) fn donbas() -> Agreement {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/donbas-2015");
        let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap()
    }

    #[test]
    fn along_and_fraction_agree() {
        let terms = donbas();
        let t = Theatre::new(&terms);
        assert!(t.length_m > 300_000.0, "{}", t.length_m);
        for f in [0.0, 0.1, 0.37, 0.5, 0.93, 1.0] {
            let p = t.at_fraction(f);
            assert!(t.distance_m(p) < 1.0);
            assert!(
                (t.fraction_of(p) - f).abs() < 1e-4,
                "{f}: {}",
                t.fraction_of(p)
            );
        }
    }

    #[test]
    fn placement_lands_on_the_asked_side_and_distance() {
        let terms = donbas();
        let t = Theatre::new(&terms);
        let mut rng = stream(1, Stream::Hotspots, 0);
        for party in ["UA", "RU"] {
            for _ in 0..50 {
                let (p, _) = t
                    .place(&mut rng, party, (0.5, 1.0), (3_000.0, 20_000.0))
                    .unwrap();
                assert_eq!(t.party_at(p), Some(party));
                let d = t.distance_m(p);
                assert!((3_000.0..=20_000.0).contains(&d), "{d}");
            }
        }
        let (a, b) = t.sides_at(0.5 * t.length_m).unwrap();
        assert_ne!(a, b);
        assert_eq!(t.across(0.5 * t.length_m, a), Some(b));
        let zone = &t.zones[0];
        let p = t.in_zone(&mut rng, zone).unwrap();
        assert!(t.zone_contains(&zone.id, p));
    }
}
