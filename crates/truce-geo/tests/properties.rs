//! Property tests: every fast query against its brute-force reference.
//!
//! Fixtures: the bundled Natural Earth Donbass ring (`tests/data`, always present) and the
//! donbas-2015 scenario geometry when the repository has it. Nothing outside the repository
//! is read. Seeds are fixed so that every run checks the same cases.

#[allow(dead_code)]
#[path = "common/geojson.rs"]
mod geojson;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use geo::CoordinatePosition;
use geo::coordinate_position::CoordPos;
use geo_types::{Coord, LineString, MultiPolygon, Polygon, polygon};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use truce_geo::{AreaIndex, LineIndex, LonLat, azimuth_deg, destination, distance_m, reference};

/// The requirement is 1 m against the reference at any range up to 300 km; the measured
/// worst case is 0.3 mm (examples/accuracy.rs). Asserting 1 cm catches a regression long
/// before it could matter.
const DISTANCE_TOLERANCE_M: f64 = 0.01;
/// Beyond 300 km the closed form's error grows (3 cm at 1,000 km) before Karney takes over.
const FAR_DISTANCE_TOLERANCE_M: f64 = 0.1;

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x7275_6365),
        failure_persistence: None,
        ..Config::default()
    }
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scenario(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/donbas-2015/geometry")
        .join(name);
    path.exists().then_some(path)
}

/// The real lines available: the bundled ring, and the scenario contact line if present.
fn real_lines() -> Vec<Vec<Vec<LonLat>>> {
    let mut out = vec![geojson::read_lines(&data("ne_donbass.geojson")).unwrap()];
    if let Some(path) = scenario("contact-line.geojson") {
        out.push(geojson::read_lines(&path).unwrap());
    }
    out
}

/// The real areas available, likewise.
fn real_areas() -> Vec<MultiPolygon<f64>> {
    let mut out = vec![geojson::read_area(&data("ne_donbass.geojson")).unwrap()];
    for name in ["area-ru.geojson", "area-ua.geojson"] {
        if let Some(path) = scenario(name) {
            out.push(geojson::read_area(&path).unwrap());
        }
    }
    out
}

/// A point on edge `edge` of `line` at fraction `t`, moved `range_m` at `azimuth`.
fn near_line(line: &[LonLat], edge: usize, t: f64, azimuth: f64, range_m: f64) -> LonLat {
    let (a, b) = (line[edge], line[edge + 1]);
    let on_line = destination(a, azimuth_deg(a, b), t * distance_m(a, b));
    destination(on_line, azimuth, range_m)
}

/// A zig-zag of geodesic edges: each turns by `turn` degrees alternately left and right.
fn zigzag(start: LonLat, heading: f64, turn: f64, lengths_m: &[f64]) -> Vec<LonLat> {
    let mut line = vec![start];
    for (k, &len) in lengths_m.iter().enumerate() {
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        line.push(destination(
            *line.last().unwrap(),
            heading + sign * turn / 2.0,
            len,
        ));
    }
    line
}

/// Checks one query against the reference, including that the reported point is on the
/// reported edge at the reported distance.
fn check_nearest(index: &LineIndex, lines: &[Vec<LonLat>], p: LonLat, tolerance_m: f64) {
    let got = index.nearest(p);
    let exact = reference::distance_to_lines_m(lines, p);
    assert!(
        (got.distance_m - exact).abs() <= tolerance_m,
        "{p:?}: {} vs reference {exact}",
        got.distance_m
    );
    assert!(
        (distance_m(p, got.point) - got.distance_m).abs() <= tolerance_m,
        "{p:?}: {got:?}"
    );
    let line = &lines[got.line];
    let on_edge =
        reference::distance_to_edge_m(line[got.segment], line[got.segment + 1], got.point);
    assert!(
        on_edge <= 1e-3,
        "{p:?}: {got:?} is {on_edge} m off its edge"
    );
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn nearest_matches_reference_near_real_lines(
        which in any::<prop::sample::Index>(),
        edge in any::<prop::sample::Index>(),
        t in 0.0..=1.0f64,
        azimuth in 0.0..360.0f64,
        range_m in prop_oneof![0.0..1_000.0f64, 0.0..300_000.0f64],
    ) {
        let all = real_lines();
        let lines = which.get(&all);
        let index = LineIndex::new(lines.clone()).unwrap();
        let line = &lines[0];
        let p = near_line(line, edge.index(line.len() - 1), t, azimuth, range_m);
        check_nearest(&index, lines, p, DISTANCE_TOLERANCE_M);
    }

    #[test]
    fn nearest_matches_reference_on_synthetic_lines(
        lat in -70.0..=70.0f64,
        lon in -180.0..180.0f64,
        heading in 0.0..360.0f64,
        turn in 10.0..170.0f64,
        lengths_m in prop::collection::vec(prop_oneof![1_000.0..20_000.0f64, 50_000.0..100_000.0f64], 1..6),
        edge in any::<prop::sample::Index>(),
        t in 0.0..=1.0f64,
        azimuth in 0.0..360.0f64,
        range_m in 0.0..300_000.0f64,
    ) {
        // Starting anywhere in longitude, some lines cross the antimeridian.
        let line = zigzag([lon, lat], heading, turn, &lengths_m);
        let lines = vec![line];
        let index = LineIndex::new(lines.clone()).unwrap();
        let p = near_line(&lines[0], edge.index(lengths_m.len()), t, azimuth, range_m);
        check_nearest(&index, &lines, p, DISTANCE_TOLERANCE_M);
    }

    #[test]
    fn nearest_matches_reference_with_several_lines(
        lat in -70.0..=70.0f64,
        lon in -180.0..180.0f64,
        gap_m in 1_000.0..200_000.0f64,
        range_m in 0.0..300_000.0f64,
        azimuth in 0.0..360.0f64,
    ) {
        // Two roughly parallel lines `gap_m` apart; the query starts between them.
        let first = zigzag([lon, lat], 0.0, 40.0, &[30_000.0, 30_000.0, 30_000.0]);
        let second: Vec<LonLat> = first.iter().map(|&v| destination(v, 90.0, gap_m)).collect();
        let lines = vec![first, second];
        let index = LineIndex::new(lines.clone()).unwrap();
        let p = near_line(&lines[0], 1, 0.5, azimuth, range_m);
        check_nearest(&index, &lines, p, DISTANCE_TOLERANCE_M);
        let got = index.nearest(p);
        let to = |k: usize| reference::distance_to_lines_m(&lines[k..=k], p);
        let (d0, d1) = (to(0), to(1));
        if (d0 - d1).abs() > 1.0 {
            prop_assert_eq!(got.line, usize::from(d1 < d0));
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn nearest_matches_reference_far_away(
        lat in -60.0..=60.0f64,
        lon in -180.0..180.0f64,
        heading in 0.0..360.0f64,
        lengths_m in prop::collection::vec(5_000.0..100_000.0f64, 1..4),
        azimuth in 0.0..360.0f64,
        range_m in 300_000.0..3_000_000.0f64,
    ) {
        let lines = vec![zigzag([lon, lat], heading, 90.0, &lengths_m)];
        let index = LineIndex::new(lines.clone()).unwrap();
        let p = near_line(&lines[0], 0, 0.5, azimuth, range_m);
        check_nearest(&index, &lines, p, FAR_DISTANCE_TOLERANCE_M);
    }
}

#[test]
fn points_on_the_line_are_at_zero() {
    for lines in real_lines() {
        let index = LineIndex::new(lines.clone()).unwrap();
        let line = &lines[0];
        for w in line.windows(2).step_by(7) {
            assert!(index.distance_m(w[0]) < 1e-6, "vertex {:?}", w[0]);
            let mid = destination(w[0], azimuth_deg(w[0], w[1]), distance_m(w[0], w[1]) / 2.0);
            assert!(index.distance_m(mid) < 1e-3, "mid-edge {mid:?}");
        }
    }
}

#[test]
fn invalid_query_points_give_nan() {
    let index = LineIndex::new(vec![vec![[37.0, 48.0], [38.0, 48.0]]]).unwrap();
    for p in [[f64::NAN, 48.0], [37.0, f64::INFINITY], [37.0, 91.0]] {
        assert!(index.nearest(p).distance_m.is_nan());
        assert!(index.nearest(p).point[0].is_nan());
        assert!(index.distance_m(p).is_nan());
    }
}

#[test]
fn length_is_the_sum_of_geodesic_edges() {
    for lines in real_lines() {
        let index = LineIndex::new(lines.clone()).unwrap();
        let sum: f64 = lines
            .iter()
            .flat_map(|l| l.windows(2))
            .map(|w| distance_m(w[0], w[1]))
            .sum();
        assert!((index.length_m() - sum).abs() < 1e-6);
    }
    if let Some(path) = scenario("contact-line.geojson") {
        // scenarios/donbas-2015/DATA.md quotes 325.0 km.
        let index = LineIndex::new(geojson::read_lines(&path).unwrap()).unwrap();
        assert!(
            (index.length_m() / 1e3 - 325.0).abs() < 0.1,
            "{}",
            index.length_m()
        );
    }
}

// ---------------------------------------------------------------- areas

/// A square with a square hole, plus a triangle elsewhere: holes, several parts, horizontal
/// and vertical edges, and vertices on round numbers.
fn synthetic_area() -> MultiPolygon<f64> {
    let square = Polygon::new(
        LineString::from(vec![
            (37.0, 47.0),
            (39.0, 47.0),
            (39.0, 49.0),
            (37.0, 49.0),
            (37.0, 47.0),
        ]),
        vec![LineString::from(vec![
            (37.5, 47.5),
            (37.5, 48.5),
            (38.5, 48.5),
            (38.5, 47.5),
            (37.5, 47.5),
        ])],
    );
    let triangle = polygon![(x: 39.5, y: 47.0), (x: 40.5, y: 47.25), (x: 39.75, y: 48.9)];
    MultiPolygon(vec![square, triangle])
}

fn all_areas() -> Vec<MultiPolygon<f64>> {
    let mut out = real_areas();
    out.push(synthetic_area());
    out
}

/// Every test area with its index, built once: building is the slow part in debug builds.
fn indexed_areas() -> &'static [(MultiPolygon<f64>, AreaIndex)] {
    static AREAS: OnceLock<Vec<(MultiPolygon<f64>, AreaIndex)>> = OnceLock::new();
    AREAS.get_or_init(|| {
        all_areas()
            .into_iter()
            .map(|a| (a.clone(), AreaIndex::new(a)))
            .collect()
    })
}

fn bbox(area: &MultiPolygon<f64>) -> (LonLat, LonLat) {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in area.0.iter().flat_map(|p| p.exterior().0.iter()) {
        lo = [lo[0].min(c.x), lo[1].min(c.y)];
        hi = [hi[0].max(c.x), hi[1].max(c.y)];
    }
    (lo, hi)
}

/// Both references: the brute-force crossing count, and geo's own winding-number test
/// (an independent implementation; they agree on valid polygons).
fn check_contains(index: &AreaIndex, area: &MultiPolygon<f64>, p: LonLat) {
    let expected = reference::covers(area, p);
    assert_eq!(index.contains(p), expected, "{p:?}");
    let geo = area.coordinate_position(&Coord { x: p[0], y: p[1] }) != CoordPos::Outside;
    assert_eq!(expected, geo, "reference and geo disagree at {p:?}");
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn contains_matches_brute_force_in_the_box(
        which in any::<prop::sample::Index>(),
        fx in -0.05..1.05f64,
        fy in -0.05..1.05f64,
    ) {
        let (area, index) = which.get(indexed_areas());
        let (lo, hi) = bbox(area);
        let p = [lo[0] + fx * (hi[0] - lo[0]), lo[1] + fy * (hi[1] - lo[1])];
        check_contains(index, area, p);
    }

    #[test]
    fn contains_matches_brute_force_near_edges_and_vertices(
        which in any::<prop::sample::Index>(),
        vertex in any::<prop::sample::Index>(),
        t in prop_oneof![Just(0.0), Just(0.5), 0.0..1.0f64],
        offset in prop_oneof![Just(0.0), -1e-9..1e-9f64, -1e-6..1e-6f64, -1e-3..1e-3f64],
        offset_y in prop_oneof![Just(0.0), -1e-9..1e-9f64, -1e-6..1e-6f64],
    ) {
        let (area, index) = which.get(indexed_areas());
        let edges: Vec<(Coord<f64>, Coord<f64>)> = area
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.0.windows(2).map(|w| (w[0], w[1])))
            .collect();
        let (a, b) = *vertex.get(&edges);
        let on_edge = [a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)];
        check_contains(index, area, [on_edge[0] + offset, on_edge[1] + offset_y]);
    }
}

#[test]
fn every_vertex_is_inside() {
    for (area, index) in indexed_areas() {
        for c in area
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.0.iter())
        {
            assert!(index.contains([c.x, c.y]), "{c:?}");
        }
    }
}

#[test]
fn holes_and_parts() {
    let index = AreaIndex::new(synthetic_area());
    assert!(index.contains([37.2, 48.0]));
    assert!(!index.contains([38.0, 48.0]), "inside the hole");
    assert!(index.contains([37.5, 48.0]), "on the hole's boundary");
    assert!(index.contains([39.9, 47.5]), "second part");
    assert!(!index.contains([39.25, 48.0]), "between the parts");
    assert!(!index.contains([f64::NAN, 48.0]));
    assert!(!index.contains([36.0, 48.0]));
}

#[test]
fn empty_and_invalid_areas() {
    let empty = AreaIndex::new(MultiPolygon(vec![]));
    assert!(!empty.contains([0.0, 0.0]));
    assert_eq!(empty.area_m2(), 0.0);
    let bad = MultiPolygon(vec![
        polygon![(x: 0.0, y: 0.0), (x: 1.0, y: f64::NAN), (x: 1.0, y: 1.0)],
    ]);
    assert!(AreaIndex::try_new(bad).is_err());
}

#[test]
fn geodesic_area() {
    // GeographicLib's documented value for the 1° × 1° cell at the equator.
    let cell = MultiPolygon(vec![
        polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)],
    ]);
    assert!((AreaIndex::new(cell.clone()).area_m2() - 12_308_778_361.469_452).abs() < 1.0);
    // Orientation does not matter.
    let mut reversed = cell.clone();
    reversed.0[0].exterior_mut(|r| r.0.reverse());
    assert!((AreaIndex::new(reversed).area_m2() - 12_308_778_361.469_452).abs() < 1.0);
    // A hole is subtracted.
    let area = synthetic_area();
    let hole = MultiPolygon(vec![Polygon::new(area.0[0].interiors()[0].clone(), vec![])]);
    let shell = MultiPolygon(vec![Polygon::new(area.0[0].exterior().clone(), vec![])]);
    let triangle = MultiPolygon(vec![area.0[1].clone()]);
    let expected = AreaIndex::new(shell).area_m2() - AreaIndex::new(hole).area_m2()
        + AreaIndex::new(triangle).area_m2();
    assert!((AreaIndex::new(area).area_m2() - expected).abs() < 1.0);
    if let Some(path) = scenario("area-ru.geojson") {
        // scenarios/donbas-2015/DATA.md quotes 17,757 km².
        let ru = AreaIndex::new(geojson::read_area(&path).unwrap());
        assert!(
            (ru.area_m2() / 1e6 - 17_757.0).abs() < 1.0,
            "{}",
            ru.area_m2()
        );
    }
}

// ---------------------------------------------------------------- crossings

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn crossings_match_brute_force(
        which in any::<prop::sample::Index>(),
        start in any::<prop::sample::Index>(),
        steps in prop::collection::vec((0.0..360.0f64, 100.0..40_000.0f64), 1..12),
        snap in any::<bool>(),
    ) {
        let all = real_lines();
        let lines = which.get(&all);
        let index = LineIndex::new(lines.clone()).unwrap();
        let line = &lines[0];
        // A random walk starting on a line vertex; optionally every other track vertex is
        // snapped to a line vertex, to exercise shared points.
        let mut track = vec![line[start.index(line.len())]];
        for (k, &(azimuth, len)) in steps.iter().enumerate() {
            let next = destination(*track.last().unwrap(), azimuth, len);
            let snapped = line.iter().copied().min_by(|a, b| {
                distance_m(*a, next).total_cmp(&distance_m(*b, next))
            }).unwrap();
            track.push(if snap && k % 2 == 1 { snapped } else { next });
        }
        prop_assert_eq!(index.crossings(&track), reference::crossings(&index, &track));
    }
}

#[test]
fn crossings_at_shared_points_are_reported_once() {
    let index = LineIndex::new(vec![vec![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]]).unwrap();
    // Through the line's middle vertex.
    let through_vertex = index.crossings(&[[1.0, -1.0], [1.0, 1.0]]);
    assert_eq!(through_vertex.len(), 1);
    assert_eq!(
        (through_vertex[0].point, through_vertex[0].segment),
        ([1.0, 0.0], 1)
    );
    // A track vertex on the line.
    let track_vertex = index.crossings(&[[0.5, -1.0], [0.5, 0.0], [0.5, 1.0]]);
    assert_eq!(track_vertex.len(), 1);
    assert_eq!(track_vertex[0].track_segment, 1);
    // Back and forth: two crossings, in track order.
    let zigzag = index.crossings(&[[1.5, -1.0], [1.5, 1.0], [0.25, -1.0]]);
    assert_eq!(
        zigzag.iter().map(|c| c.track_segment).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(zigzag[0].point, [1.5, 0.0]);
    // The line's own end points count.
    assert_eq!(index.crossings(&[[2.0, -1.0], [2.0, 1.0]]).len(), 1);
    // A closed ring reports its start/end vertex once.
    let ring = LineIndex::new(vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]).unwrap();
    assert_eq!(ring.crossings(&[[-1.0, 0.0], [0.5, 0.0]]).len(), 1);
    assert!(index.crossings(&[[0.0, 1.0]]).is_empty());
}
