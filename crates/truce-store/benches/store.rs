//! Store throughput: 100,000 assessed observations appended in batches of 10,000 to a new
//! GeoPackage file (canonical JSON, SHA-256, geometry BLOBs, the R-tree, the entries log with
//! its Merkle tree nodes, the assessments and breaches, one transaction per batch), and a
//! checkpoint signed after each batch, as `truce ingest` does.
//!
//! `cargo bench -p truce-store --bench store`. The observations are the donbas-2015 sample
//! features (points, bearings, tracks, an area; 14 kinds), each repeated with its own id, time
//! and a small offset so that none is a duplicate, assessed by the engine before timing starts.
//! Results go in docs/benchmarks.md.

use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use truce_core::agreement::load;
use truce_core::assess::Engine;
use truce_core::observation::{Geometry, parse_collection};
use truce_log::{KeyType, SignerKey};
use truce_store::{Accepted, Batch, GeoPackageStore, Log, Store};

/// Observations appended per measured run.
const OBSERVATIONS: usize = 100_000;
/// Observations per batch (one transaction each), as an ingest of a 10,000-row file.
const BATCH_SIZE: usize = 10_000;

fn scenario() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015")
}

fn engine() -> Engine {
    let dir = scenario();
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    let a = load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap();
    Engine::new(a).unwrap()
}

/// Moves every position of a geometry by `d` degrees east and north.
fn shift(g: &mut Geometry, d: f64) {
    let move_position = |c: &mut Vec<f64>| {
        c[0] += d;
        c[1] += d;
    };
    match g {
        Geometry::Point { coordinates } => move_position(coordinates),
        Geometry::LineString { coordinates } => coordinates.iter_mut().for_each(move_position),
        Geometry::Polygon { coordinates } => {
            coordinates.iter_mut().flatten().for_each(move_position)
        }
    }
}

/// The sample features repeated to `OBSERVATIONS`, each distinct, assessed, split into batches.
fn batches(engine: &Engine) -> Vec<Batch> {
    let text = std::fs::read_to_string(scenario().join("observations.geojson")).unwrap();
    let (samples, _) = parse_collection(&text).unwrap();
    let items: Vec<_> = (0..OBSERVATIONS)
        .map(|i| {
            let (_, mut o, _) = samples[i % samples.len()].clone();
            o.id = Some(format!("{}-{i}", o.id.as_deref().unwrap_or("sample")));
            o.properties.observed_at += Duration::seconds(i as i64);
            o.properties
                .timestamps
                .iter_mut()
                .for_each(|t| *t += Duration::seconds(i as i64));
            shift(&mut o.geometry, (i % 1000) as f64 * 1e-5);
            let place = o.validate().expect("a shifted sample stays valid");
            (i, o, place)
        })
        .collect();
    let assessments = engine.assess_batch(&items);
    let received_at = Utc.with_ymd_and_hms(2015, 3, 2, 12, 0, 0).unwrap();
    let mut accepted = items
        .into_iter()
        .zip(assessments)
        .map(|((i, observation, place), assessment)| Accepted {
            observation,
            place,
            assessment,
            locator: format!("feature {i}"),
        })
        .peekable();
    let mut out = Vec::new();
    while accepted.peek().is_some() {
        out.push(Batch {
            file: format!("bench-{}.geojson", out.len()),
            format: "geojson".into(),
            agreement_hash: engine.agreement().hash.clone(),
            received_at,
            accepted: accepted.by_ref().take(BATCH_SIZE).collect(),
            rejected: Vec::new(),
        });
    }
    out
}

fn remove_store(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

fn bench(c: &mut Criterion) {
    let engine = engine();
    let batches = batches(&engine);
    let file = std::env::temp_dir().join(format!("truce-store-bench-{}.gpkg", std::process::id()));
    let key = SignerKey::from_seed("truce.example/bench", KeyType::Ed25519, [1; 32]).unwrap();
    let signed_at = batches[0].received_at.timestamp() as u64;
    let mut g = c.benchmark_group("store/append");
    g.throughput(Throughput::Elements(OBSERVATIONS as u64));
    g.sample_size(10);
    g.bench_function("100k observations in batches of 10k", |b| {
        b.iter_batched(
            || {
                remove_store(&file);
                let mut store = GeoPackageStore::open(&file).unwrap();
                store
                    .put_agreement(engine.agreement(), batches[0].received_at)
                    .unwrap();
                store
            },
            |mut store| {
                for batch in &batches {
                    let outcome = store.append_batch(batch).unwrap();
                    assert_eq!(outcome.accepted, batch.accepted.len());
                    store.sign_checkpoint(&key, signed_at).unwrap();
                }
                store
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
    remove_store(&file);
}

criterion_group!(benches, bench);
criterion_main!(benches);
