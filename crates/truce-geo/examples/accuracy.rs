//! Measures `LineIndex::nearest` against the brute-force GeographicLib reference and prints
//! the largest error by range bucket.
//!
//! ```sh
//! cargo run --release -p truce-geo --example accuracy -- [POINTS_PER_BUCKET] [LINE.geojson ...]
//! ```
//! Without files it uses the bundled Natural Earth Donbass ring, the scenario contact line if
//! present, and synthetic lines (zig-zags with 50–100 km edges at 0–70° latitude, one
//! crossing the antimeridian). Points are deterministic.

// Shared with the tests and benches; this target reads lines only.
#[allow(dead_code)]
#[path = "../tests/common/geojson.rs"]
mod geojson;

use std::path::{Path, PathBuf};

use truce_geo::{LineIndex, LonLat, azimuth_deg, destination, distance_m, reference};

/// Upper ends of the range buckets (m).
const BUCKETS_M: [f64; 9] = [1e3, 1e4, 5e4, 1e5, 2e5, 3e5, 6e5, 1e6, 3e6];

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

fn zigzag(start: LonLat, heading_deg: f64, edges: usize, rng: &mut Rng) -> Vec<LonLat> {
    let mut line = vec![start];
    for k in 0..edges {
        let turn = if k % 2 == 0 { 60.0 } else { -60.0 };
        let length_m = 50_000.0 + 50_000.0 * rng.unit();
        let next = destination(*line.last().unwrap(), heading_deg + turn, length_m);
        line.push(next);
    }
    line
}

fn main() {
    let mut args = std::env::args().skip(1);
    let per_bucket: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut sets: Vec<(String, Vec<Vec<LonLat>>)> = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let defaults = [
        root.join("tests/data/ne_donbass.geojson"),
        root.join("../../scenarios/donbas-2015/geometry/contact-line.geojson"),
    ];
    let chosen = if files.is_empty() {
        defaults.to_vec()
    } else {
        files
    };
    for f in chosen.iter().filter(|f| f.exists()) {
        sets.push((
            f.display().to_string(),
            geojson::read_lines(f).expect("readable GeoJSON"),
        ));
    }
    if chosen.iter().all(|f| !f.exists()) {
        eprintln!("none of the given files exist");
    }
    for (name, start, heading) in [
        ("zig-zag 48°N", [37.0, 48.0], 90.0),
        ("zig-zag 70°N", [20.0, 70.0], 90.0),
        ("zig-zag equator", [10.0, 0.0], 0.0),
        ("zig-zag across 180°", [179.0, -30.0], 90.0),
    ] {
        sets.push((name.to_string(), vec![zigzag(start, heading, 8, &mut rng)]));
    }
    println!(
        "| line | {} |",
        BUCKETS_M.map(|b| format!("≤ {} km", b / 1e3)).join(" | ")
    );
    println!("|---|{}", "---|".repeat(BUCKETS_M.len()));
    for (name, lines) in &sets {
        let index = LineIndex::new(lines.clone()).expect("valid line");
        let mut worst = [0.0f64; BUCKETS_M.len()];
        let mut count = [0usize; BUCKETS_M.len()];
        let edges: Vec<(LonLat, LonLat)> = lines
            .iter()
            .flat_map(|l| l.windows(2).map(|w| (w[0], w[1])))
            .collect();
        for (bucket, &max_m) in BUCKETS_M.iter().enumerate() {
            let min_m = if bucket == 0 {
                0.0
            } else {
                BUCKETS_M[bucket - 1]
            };
            for _ in 0..per_bucket {
                let (a, b) = edges[(rng.unit() * edges.len() as f64) as usize];
                let base = destination(a, azimuth_deg(a, b), rng.unit() * distance_m(a, b));
                let p = destination(
                    base,
                    360.0 * rng.unit(),
                    min_m + (max_m - min_m) * rng.unit(),
                );
                let exact = reference::distance_to_lines_m(lines, p);
                let got = index.nearest(p).distance_m;
                let k = BUCKETS_M
                    .iter()
                    .position(|&m| exact <= m)
                    .unwrap_or(BUCKETS_M.len() - 1);
                worst[k] = worst[k].max((got - exact).abs());
                count[k] += 1;
            }
        }
        let cells: Vec<String> = worst
            .iter()
            .zip(count)
            .map(|(w, n)| {
                if n == 0 {
                    "–".to_string()
                } else {
                    format!("{w:.1e} m ({n})")
                }
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}
