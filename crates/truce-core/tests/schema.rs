//! The checked-in JSON Schema is exactly what the types generate, so docs and parser agree.

#[test]
fn checked_in_schema_matches_the_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schema/observation.schema.json");
    let on_disk = std::fs::read_to_string(&path).expect("schema/observation.schema.json exists");
    let generated =
        serde_json::to_string_pretty(&truce_core::observation::json_schema()).unwrap() + "\n";
    assert!(
        on_disk == generated,
        "schema/observation.schema.json is stale: run `cargo run --release -p truce -- schema observation > schema/observation.schema.json`"
    );
}

/// The entry-size check measures an observation without building its canonical JSON
/// (`canonical::canonical_len`); on every observation of the bundled scenario (points, tracks,
/// areas, weapons, bearings, media) that length is the canonical JSON's.
#[test]
fn the_entry_size_check_measures_the_canonical_json() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("observations.geojson")).unwrap();
    let (good, bad) = truce_core::observation::parse_collection(&text).unwrap();
    assert!(
        bad.is_empty() && good.len() > 20,
        "{} good, {bad:?}",
        good.len()
    );
    for (_, o, _) in &good {
        let canonical = truce_core::canonical::to_canonical_json(o);
        assert_eq!(
            truce_core::canonical::canonical_len(o),
            canonical.len(),
            "{canonical}"
        );
    }
}
