//! A real GeoPackage client reads the store: GDAL's `ogrinfo` lists every layer with its
//! feature count, reads an observation back with its geometry, and finds observations through
//! the R-tree spatial index.
//!
//! GDAL is a test requirement, installed by `scripts/test` (`apt-get install -y gdal-bin`). This
//! test fails — it never skips — when `ogrinfo` is missing, so a green run means a real client
//! read the file.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{ScratchFile, accepted, batch, engine, received_at, rejected};
use truce_core::observation::Place;
use truce_store::{GeoPackageStore, Store};

/// Runs `ogrinfo` with `args`; its standard output, after checking it succeeded without
/// warnings.
fn ogrinfo(args: &[&str]) -> String {
    let output = match Command::new("ogrinfo").args(args).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "cannot run `ogrinfo` ({e}): this test reads the store with GDAL, a real GeoPackage client, and must not \
             be skipped. Install GDAL: `apt-get install -y gdal-bin` (scripts/test does this when ogrinfo is missing)."
        ),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ogrinfo {args:?} failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    assert!(
        stderr.trim().is_empty(),
        "ogrinfo {args:?} complained:\n{stderr}"
    );
    stdout
}

/// `Layer name:` → `Feature Count:` from `ogrinfo -so -al`.
fn feature_counts(summary: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let mut layer = None;
    for line in summary.lines() {
        if let Some(name) = line.strip_prefix("Layer name: ") {
            layer = Some(name.trim().to_string());
        } else if let Some(n) = line.strip_prefix("Feature Count: ") {
            let name = layer.take().expect("a feature count follows a layer name");
            counts.insert(name, n.trim().parse().unwrap());
        }
    }
    counts
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("the scratch path is UTF-8")
}

#[test]
fn ogrinfo_reads_every_layer_and_an_observation() {
    let file = ScratchFile::new("ogrinfo");
    let engine = engine();
    let input = accepted(&engine);
    let bad = rejected();
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(
            &engine,
            "observations.geojson",
            input.clone(),
            bad.clone(),
        ))
        .unwrap();
    let summary = store.summary(0).unwrap();
    drop(store);

    let a = engine.agreement();
    let n = input.len() as u64;
    let sources: std::collections::BTreeSet<&str> = input
        .iter()
        .map(|a| a.observation.properties.source.id.as_str())
        .collect();
    let expected: BTreeMap<String, u64> = [
        ("observations", n),
        ("assessments", n),
        ("breaches", summary.breaches),
        ("contact_line", 1),
        ("party_areas", a.parties.len() as u64),
        ("zones", a.zones.len() as u64),
        ("storage_sites", a.storage_sites.len() as u64),
        ("batches", 1),
        ("rejected_records", bad.len() as u64),
        ("sources", sources.len() as u64),
        ("agreements", 1),
        ("entries", 1 + n + bad.len() as u64),
        // Derived by the ledger, which the CLI runs; the store alone leaves them empty.
        ("incidents", 0),
        ("incident_observations", 0),
        ("incident_transitions", 0),
        ("tasks", 0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let listing = ogrinfo(&["-so", "-al", path_arg(file.path())]);
    assert_eq!(feature_counts(&listing), expected, "{listing}");
    assert!(
        listing.contains("Geometry: Point") && listing.contains("Geometry: Multi Polygon"),
        "{listing}"
    );

    // Feature 1 of `observations` is log entry 1, the scenario's first sample, a point.
    let first = &input[0];
    let Place::Point([lon, lat]) = first.place else {
        panic!("the scenario starts with a point")
    };
    let feature = ogrinfo(&[path_arg(file.path()), "observations", "-fid", "1"]);
    let wkt = feature
        .lines()
        .map(str::trim)
        .find_map(|l| {
            l.strip_prefix("POINT (")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or_else(|| panic!("no POINT geometry in:\n{feature}"));
    let xy: Vec<f64> = wkt.split(' ').map(|v| v.parse().unwrap()).collect();
    assert_eq!(xy, [lon, lat], "{feature}");
    let id = first.observation.id.as_deref().unwrap();
    for expected in [
        format!("obs_id (String) = {id}"),
        format!("kind (String) = {}", first.observation.properties.kind),
        "entry_seq (Integer64) = 1".to_string(),
        format!(
            "content_sha256 (Binary) = {}",
            summary_sha(file.path(), 1).to_uppercase()
        ),
    ] {
        assert!(
            feature.contains(&expected),
            "no {expected:?} in:\n{feature}"
        );
    }

    // A spatial filter goes through the R-tree: the features GDAL finds in a box are those
    // whose envelopes meet it.
    let (min_lon, min_lat, max_lon, max_lat) = (38.0, 48.0, 39.0, 48.6);
    let meets = |ring: &[[f64; 2]]| {
        let (x0, x1) = ring
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p[0]), b.max(p[0])));
        let (y0, y1) = ring
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p[1]), b.max(p[1])));
        x0 <= max_lon && x1 >= min_lon && y0 <= max_lat && y1 >= min_lat
    };
    let in_box = input
        .iter()
        .filter(|a| match &a.place {
            Place::Point(p) => meets(std::slice::from_ref(p)),
            Place::Track(pts) => meets(pts),
            Place::Area(rings) => meets(&rings[0]),
        })
        .count() as u64;
    assert!(
        in_box > 0 && in_box < n,
        "the box should split the samples, has {in_box} of {n}"
    );
    let spat = ["-so", path_arg(file.path()), "observations", "-spat"];
    let bounds = [min_lon, min_lat, max_lon, max_lat].map(|v| v.to_string());
    let args: Vec<&str> = spat
        .iter()
        .copied()
        .chain(bounds.iter().map(String::as_str))
        .collect();
    let filtered = ogrinfo(&args);
    assert_eq!(
        feature_counts(&filtered)["observations"],
        in_box,
        "{filtered}"
    );
}

/// The stored content hash of a feature, read through the store's own API.
fn summary_sha(path: &Path, seq: u64) -> String {
    let store = GeoPackageStore::open(path).unwrap();
    store.observations(seq, 1).unwrap().remove(0).content_sha256
}
