//! `truce demo` end to end, and GDAL's `ogrinfo` — a real GeoPackage client — reading its store.

use std::path::{Path, PathBuf};
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_demo(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-demo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Run from an unrelated directory: the demo needs nothing but the binary.
    let out = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["demo", "--out", dir.to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "demo failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    for needle in [
        "Observations:",
        "by source kind:",
        "Breaches:",
        "presumed party:",
        "Rejected records:",
        "ogrinfo -al -so",
        "Incidents: ",
        "incidents in breach, by rule and presumed party:",
        "origins of fire triangulated",
        "verification tasks,",
        "team-1 sent,",
        "Coverage by sector of the line and UTC day",
        "Score against the simulated truth",
        "F1",
        "attribution accuracy",
        "truce score --db",
        "truce log verify --db",
    ] {
        assert!(
            stdout.contains(needle),
            "demo summary lacks {needle:?}:\n{stdout}"
        );
    }
    dir
}

fn ogrinfo(args: &[&str]) -> String {
    let out = Command::new("ogrinfo").args(args).output().unwrap_or_else(|e| {
        panic!("GDAL's ogrinfo is required for this test and could not be run ({e}); scripts/test installs gdal-bin")
    });
    assert!(
        out.status.success(),
        "ogrinfo {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn sql_count(db: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
        r.get(0)
    })
    .unwrap()
}

#[test]
fn demo_store_opens_in_gdal_with_every_layer_and_count() {
    let dir = run_demo("gdal");
    let db = dir.join("truce.gpkg");
    assert!(dir.join("truth.json").is_file());
    assert!(
        dir.join("feeds")
            .join("firms_viirs_snpp_donbas_2023.csv")
            .is_file()
    );

    let conn = rusqlite::Connection::open(&db).unwrap();
    let layers: Vec<String> = conn
        .prepare("SELECT table_name FROM gpkg_contents ORDER BY table_name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(conn);
    for needed in [
        "observations",
        "contact_line",
        "party_areas",
        "zones",
        "storage_sites",
        "breaches",
        "rejected_records",
        "incidents",
        "incident_observations",
        "incident_transitions",
        "tasks",
    ] {
        assert!(
            layers.iter().any(|l| l == needed),
            "layer {needed} missing from {layers:?}"
        );
    }
    let listing = ogrinfo(&["-so", "-al", db.to_str().unwrap()]);
    for layer in &layers {
        let n = sql_count(&db, layer);
        let block = listing
            .split("Layer name: ")
            .find(|b| b.starts_with(&format!("{layer}\n")))
            .unwrap_or_else(|| panic!("ogrinfo does not list layer {layer}:\n{listing}"));
        assert!(
            block.contains(&format!("Feature Count: {n}\n")),
            "layer {layer}: expected {n} features:\n{block}"
        );
    }
    assert!(
        sql_count(&db, "observations") > 10_000,
        "the demo ingests the real FIRMS and UCDP extracts"
    );

    // A feature read back through GDAL has its geometry intact.
    let (fid, lon, lat): (i64, f64, f64) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT o.fid, json_extract(CAST(e.body AS TEXT), '$.geometry.coordinates[0]'),
                    json_extract(CAST(e.body AS TEXT), '$.geometry.coordinates[1]')
             FROM observations o JOIN entries e ON e.seq = o.fid
             WHERE o.kind = 'thermal_anomaly' ORDER BY o.fid LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let feature = ogrinfo(&[
        db.to_str().unwrap(),
        "observations",
        "-fid",
        &fid.to_string(),
    ]);
    let wkt = feature
        .lines()
        .find(|l| l.trim_start().starts_with("POINT"))
        .unwrap_or_else(|| panic!("no geometry:\n{feature}"));
    let nums: Vec<f64> = wkt
        .trim()
        .trim_start_matches("POINT (")
        .trim_end_matches(')')
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        (nums[0] - lon).abs() < 1e-9 && (nums[1] - lat).abs() < 1e-9,
        "{wkt} vs {lon} {lat}"
    );
    assert!(
        feature.contains("kind (String) = thermal_anomaly"),
        "{feature}"
    );
}

#[test]
fn demo_is_repeatable() {
    let a = run_demo("again-a");
    let b = run_demo("again-b");
    assert_eq!(
        std::fs::read(a.join("truth.json")).unwrap(),
        std::fs::read(b.join("truth.json")).unwrap()
    );
    for t in ["observations", "breaches", "rejected_records"] {
        assert_eq!(
            sql_count(&a.join("truce.gpkg"), t),
            sql_count(&b.join("truce.gpkg"), t),
            "{t}"
        );
    }
}
