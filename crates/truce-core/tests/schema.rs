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
