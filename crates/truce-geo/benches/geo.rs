//! Throughput of the spatial queries, in points per second (criterion reports "elem/s").
//!
//! Inputs: the donbas-2015 scenario line and areas (falling back to the bundled Natural Earth
//! Donbass ring when the scenario is absent), and optionally the 2026 DeepStateMap front line
//! (the boundary of the occupied MultiPolygon) from `../shared/data/frontline/`, which is not
//! bundled: without it that group is skipped with a message.
//!
//! Query points are deterministic: a random point on the line, moved 0–300 km in a random
//! direction. Single-core groups run on the calling thread; `*/all-cores` groups split the
//! same points over every core with rayon.

#[path = "../tests/common/geojson.rs"]
mod geojson;

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use geo::Contains;
use geo::indexed::IntervalTreeMultiPolygon;
use geo_types::{Coord, MultiPolygon};
use rayon::prelude::*;
use truce_geo::{AreaIndex, LineIndex, LonLat, azimuth_deg, destination, distance_m};

/// Points per timed batch: large enough that per-batch overhead vanishes and the working set
/// (1.6 MB of points) resembles a real bulk assessment.
const POINTS: usize = 100_000;
/// Query points lie up to this far from the line.
const MAX_RANGE_M: f64 = 300_000.0;

/// xorshift64: reproducible points without a dependency.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Points within [`MAX_RANGE_M`] of the line, picked uniformly along its edges' index and
/// in range.
fn points_near(lines: &[Vec<LonLat>], n: usize, seed: u64) -> Vec<LonLat> {
    let mut rng = Rng(seed);
    let edges: Vec<(LonLat, LonLat)> = lines
        .iter()
        .flat_map(|l| l.windows(2).map(|w| (w[0], w[1])))
        .collect();
    (0..n)
        .map(|_| {
            let (a, b) = edges[(rng.unit() * edges.len() as f64) as usize];
            let base = destination(a, azimuth_deg(a, b), rng.unit() * distance_m(a, b));
            destination(base, 360.0 * rng.unit(), MAX_RANGE_M * rng.unit())
        })
        .collect()
}

/// Points uniform in the area's bounding box: every one goes through the grid.
fn points_in_box(area: &MultiPolygon<f64>, n: usize, seed: u64) -> Vec<LonLat> {
    let mut rng = Rng(seed);
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in area.0.iter().flat_map(|p| p.exterior().0.iter()) {
        lo = [lo[0].min(c.x), lo[1].min(c.y)];
        hi = [hi[0].max(c.x), hi[1].max(c.y)];
    }
    (0..n)
        .map(|_| {
            [
                lo[0] + (hi[0] - lo[0]) * rng.unit(),
                lo[1] + (hi[1] - lo[1]) * rng.unit(),
            ]
        })
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Case {
    name: &'static str,
    lines: Vec<Vec<LonLat>>,
    areas: Vec<(&'static str, MultiPolygon<f64>)>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let scenario = workspace().join("scenarios/donbas-2015/geometry");
    if scenario.join("contact-line.geojson").exists() {
        cases.push(Case {
            name: "donbas-2015",
            lines: geojson::read_lines(&scenario.join("contact-line.geojson")).expect("line"),
            areas: vec![
                (
                    "ru",
                    geojson::read_area(&scenario.join("area-ru.geojson")).expect("area-ru"),
                ),
                (
                    "ua",
                    geojson::read_area(&scenario.join("area-ua.geojson")).expect("area-ua"),
                ),
            ],
        });
    } else {
        let ne = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ne_donbass.geojson");
        println!("scenario geometry absent; using the bundled Natural Earth Donbass ring");
        cases.push(Case {
            name: "ne-donbass",
            lines: geojson::read_lines(&ne).expect("line"),
            areas: vec![("donbass", geojson::read_area(&ne).expect("area"))],
        });
    }
    let front = workspace().join("../shared/data/frontline/deepstatemap_occupied_20260822.geojson");
    if front.exists() {
        cases.push(Case {
            name: "deepstate-2026",
            lines: geojson::read_lines(&front).expect("front line"),
            areas: vec![(
                "occupied",
                geojson::read_area(&front).expect("occupied area"),
            )],
        });
    } else {
        println!(
            "{} absent: skipping the 2026 front-line group",
            front.display()
        );
    }
    cases
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let vertices: usize = case.lines.iter().map(Vec::len).sum();
        println!(
            "{}: {} polylines, {vertices} vertices",
            case.name,
            case.lines.len()
        );
        let near = points_near(&case.lines, POINTS, 0x9e37_79b9_7f4a_7c15);

        let mut group = c.benchmark_group("build");
        group.bench_function(BenchmarkId::new("line", case.name), |b| {
            b.iter(|| LineIndex::new(black_box(case.lines.clone())).unwrap())
        });
        for (area_name, area) in &case.areas {
            group.bench_function(
                BenchmarkId::new("area", format!("{}/{area_name}", case.name)),
                |b| b.iter(|| AreaIndex::new(black_box(area.clone()))),
            );
        }
        group.finish();

        let line = LineIndex::new(case.lines.clone()).unwrap();
        let mut group = c.benchmark_group("distance");
        group.throughput(Throughput::Elements(POINTS as u64));
        group.sample_size(20);
        group.bench_function(BenchmarkId::new("one-core", case.name), |b| {
            b.iter(|| near.iter().map(|&p| line.distance_m(p)).sum::<f64>())
        });
        group.bench_function(BenchmarkId::new("all-cores", case.name), |b| {
            b.iter(|| near.par_iter().map(|&p| line.distance_m(p)).sum::<f64>())
        });
        group.finish();

        let mut group = c.benchmark_group("contains");
        group.throughput(Throughput::Elements(POINTS as u64));
        for (area_name, area) in &case.areas {
            let index = AreaIndex::new(area.clone());
            let in_box = points_in_box(area, POINTS, 0x2545_f491_4f6c_dd1d);
            let interval_tree = IntervalTreeMultiPolygon::new(area);
            for (points_name, points) in [("near-line", &near), ("in-bbox", &in_box)] {
                let id = format!("{}/{area_name}/{points_name}", case.name);
                group.bench_function(BenchmarkId::new("one-core", &id), |b| {
                    b.iter(|| points.iter().filter(|&&p| index.contains(p)).count())
                });
                group.bench_function(BenchmarkId::new("all-cores", &id), |b| {
                    b.iter(|| points.par_iter().filter(|&&p| index.contains(p)).count())
                });
                // geo's own indexed polygon, for comparison (interior only, one core).
                group.bench_function(BenchmarkId::new("geo-interval-tree", &id), |b| {
                    b.iter(|| {
                        points
                            .iter()
                            .filter(|p| interval_tree.contains(&Coord { x: p[0], y: p[1] }))
                            .count()
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
