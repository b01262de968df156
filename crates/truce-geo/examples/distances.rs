//! Bulk distances and area membership for a points CSV; used by `bench/compare/compare.py`.
//!
//! ```sh
//! cargo run --release -p truce-geo --example distances -- \
//!     --line LINE.geojson [--area NAME=AREA.geojson ...] --points POINTS.csv \
//!     --out RESULTS.csv [--timing TIMING.json] [--repeat 3]
//! ```
//! `POINTS.csv` has a header and columns `id,lon,lat`. `RESULTS.csv` gets
//! `id,distance_m,<area names…>` with 1/0 for membership. Timings are for one core; each timed
//! loop runs `--repeat` times and the fastest run is reported, to keep other processes'
//! noise out of the figure.

#[allow(dead_code)]
#[path = "../tests/common/geojson.rs"]
mod geojson;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use truce_geo::{AreaIndex, LineIndex, LonLat};

struct Args {
    line: PathBuf,
    areas: Vec<(String, PathBuf)>,
    points: PathBuf,
    out: PathBuf,
    timing: Option<PathBuf>,
    repeat: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut line = None;
    let mut areas = Vec::new();
    let mut points = None;
    let mut out = None;
    let mut timing = None;
    let mut repeat = 3;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--line" => line = Some(PathBuf::from(value()?)),
            "--area" => {
                let v = value()?;
                let (name, path) = v.split_once('=').ok_or("--area takes NAME=PATH")?;
                areas.push((name.to_string(), PathBuf::from(path)));
            }
            "--points" => points = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--timing" => timing = Some(PathBuf::from(value()?)),
            "--repeat" => repeat = value()?.parse().map_err(|e| format!("--repeat: {e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        line: line.ok_or("--line is required")?,
        areas,
        points: points.ok_or("--points is required")?,
        out: out.ok_or("--out is required")?,
        timing,
        repeat: repeat.max(1),
    })
}

fn read_points(path: &PathBuf) -> Result<(Vec<String>, Vec<LonLat>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut ids = Vec::new();
    let mut points = Vec::new();
    for (n, row) in text
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(_, r)| !r.is_empty())
    {
        let cols: Vec<&str> = row.split(',').collect();
        let parse = |k: usize| -> Result<f64, String> {
            cols.get(k)
                .ok_or(format!("line {}: missing column", n + 1))?
                .trim()
                .parse()
                .map_err(|e| format!("line {}: {e}", n + 1))
        };
        points.push([parse(1)?, parse(2)?]);
        ids.push(cols[0].to_string());
    }
    Ok((ids, points))
}

/// Seconds taken by the fastest of `repeat` runs of `f`, and its last result.
fn fastest<T>(repeat: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut result = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let r = f();
        best = best.min(start.elapsed().as_secs_f64());
        result = Some(r);
    }
    (best, result.expect("repeat is at least 1"))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let (ids, points) = read_points(&args.points)?;
    let lines = geojson::read_lines(&args.line)?;
    let (build_line_s, line) = fastest(1, || {
        LineIndex::new(lines.clone()).map_err(|e| e.to_string())
    });
    let line = line?;
    let (distance_s, distances) = fastest(args.repeat, || {
        points
            .iter()
            .map(|&p| line.distance_m(p))
            .collect::<Vec<_>>()
    });
    let mut memberships = Vec::new();
    let mut timing_areas = String::new();
    for (name, path) in &args.areas {
        let area = geojson::read_area(path)?;
        let (build_s, index) = fastest(1, || {
            AreaIndex::try_new(area.clone()).map_err(|e| e.to_string())
        });
        let index = index?;
        let (contains_s, inside) = fastest(args.repeat, || {
            points
                .iter()
                .map(|&p| index.contains(p))
                .collect::<Vec<_>>()
        });
        let _ = write!(
            timing_areas,
            r#"{}"{name}": {{"build_s": {build_s:e}, "contains_s": {contains_s:e}, "area_m2": {}}}"#,
            if timing_areas.is_empty() { "" } else { ", " },
            index.area_m2()
        );
        memberships.push(inside);
    }

    let mut out = String::from("id,distance_m");
    for (name, _) in &args.areas {
        out.push(',');
        out.push_str(name);
    }
    out.push('\n');
    for (k, id) in ids.iter().enumerate() {
        let _ = write!(out, "{id},{:.6}", distances[k]);
        for inside in &memberships {
            out.push_str(if inside[k] { ",1" } else { ",0" });
        }
        out.push('\n');
    }
    std::fs::write(&args.out, out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    let timing = format!(
        r#"{{"points": {}, "line_vertices": {}, "build_line_s": {build_line_s:e}, "distance_s": {distance_s:e}, "length_m": {}, "areas": {{{timing_areas}}}}}"#,
        points.len(),
        lines.iter().map(Vec::len).sum::<usize>(),
        line.length_m()
    );
    println!("{timing}");
    if let Some(path) = &args.timing {
        std::fs::write(path, &timing).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("distances: {e}");
        std::process::exit(2);
    }
}
