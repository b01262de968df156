//! `truce score` on the demo's store: the JSON form, and ours ahead of the baseline.

use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn score_json_has_every_metric_for_ours_and_the_baseline() {
    let dir = std::env::temp_dir().join(format!("truce-score-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let demo = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["demo", "--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(demo.status.success(), "demo failed: {}", text(&demo.stderr));

    let db = dir.join("truce.gpkg");
    let truth = dir.join("truth.json");
    let out = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args([
            "score",
            "--db",
            db.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "score failed: {}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}:\n{}", text(&out.stdout)));
    for side in ["ours", "baseline"] {
        for key in [
            "precision",
            "recall",
            "f1",
            "attribution_accuracy",
            "location_error_m_p50",
            "location_error_m_p90",
        ] {
            assert!(
                json[side][key].is_number(),
                "{side}.{key} is not a number: {}",
                json[side]
            );
        }
        for key in ["claims", "events_observable", "matched"] {
            assert!(json[side][key].is_u64(), "{side}.{key}: {}", json[side]);
        }
    }
    let f1 = |side: &str| json[side]["f1"].as_f64().unwrap();
    assert!(
        f1("ours") > f1("baseline"),
        "ours {} vs baseline {}",
        f1("ours"),
        f1("baseline")
    );

    // The table form names both columns; a missing truth file is a clear error.
    let table = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args([
            "score",
            "--db",
            db.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let table_text = text(&table.stdout);
    assert!(table.status.success());
    assert!(
        table_text.contains("ours") && table_text.contains("baseline") && table_text.contains("F1")
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args([
            "score",
            "--db",
            db.to_str().unwrap(),
            "--truth",
            "/nonexistent/truth.json",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("cannot read /nonexistent/truth.json"));
    let _ = std::fs::remove_dir_all(&dir);
}
