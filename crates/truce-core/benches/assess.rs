//! Whole-assessment throughput: area, distance, zones and every rule, per observation.
//!
//! `cargo bench -p truce-core --bench assess` — one core (`assess` in a loop) and all cores
//! (`assess_batch`, rayon), on the donbas-2015 scenario with weapon sightings spread over the
//! region out to ~250 km from the line. Results go in docs/benchmarks.md.

use std::hint::black_box;
use std::path::PathBuf;

use chrono::Duration;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use truce_core::agreement::load;
use truce_core::assess::Engine;
use truce_core::observation::{
    Geometry, Observation, ObservationKind, Place, Reliability, Source, SourceKind, WeaponSeen,
};

const POINTS: usize = 100_000;

fn engine() -> Engine {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    let a = load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap();
    Engine::new(a).unwrap()
}

/// Deterministic points (a Weyl sequence) over 35–41° E, 46.5–50° N.
fn observations(e: &Engine) -> Vec<(usize, Observation, Place)> {
    let t = e.agreement().effective_at + Duration::days(20);
    let classes = ["artillery_100mm_plus", "mlrs", "heavy_mlrs_tochka"];
    (0..POINTS)
        .map(|i| {
            let u = (i as f64 * 0.618_033_988_749_895).fract();
            let v = (i as f64 * 0.754_877_666_246_693).fract();
            let p = [35.0 + 6.0 * u, 46.5 + 3.5 * v];
            let source = Source {
                id: "uav".into(),
                kind: SourceKind::Drone,
                reliability: Reliability::B,
                credibility: 2,
                party: None,
            };
            let mut o = Observation::new(
                ObservationKind::WeaponPresent,
                t,
                source,
                Geometry::Point {
                    coordinates: p.to_vec(),
                },
            );
            o.id = Some(format!("b{i}"));
            o.properties.error_radius_m = 50.0;
            o.properties.weapon = Some(WeaponSeen {
                class: classes[i % 3].into(),
                count: 1,
                serials: vec![],
            });
            (i, o, Place::Point(p))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let e = engine();
    let items = observations(&e);
    let mut g = c.benchmark_group("assess/donbas-2015");
    g.throughput(Throughput::Elements(POINTS as u64));
    g.sample_size(10);
    g.bench_function("one core", |b| {
        b.iter(|| {
            for (i, o, p) in &items {
                black_box(e.assess(*i, o, p));
            }
        })
    });
    g.bench_function("all cores (assess_batch)", |b| {
        b.iter(|| black_box(e.assess_batch(&items)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
