//! The second scenario family (`scenarios/replay/`, written without `truce-sim`: real UCDP
//! places, reports only in FIRMS CSV and Cursor-on-Target as TAK devices send them) goes
//! through the real CLI — ingest, fuse, score — and fusion's conclusions hold on a seed never
//! used for tuning (docs/fusion.md: seeds 1–2 tuned, 101–103 reported): breach incidents
//! match events, attributions are right, and nothing is corroborated by a single source.

mod common;

use common::{ok, root, s, tempdir, truce};
use serde_json::Value;

#[test]
fn the_replay_family_scores_on_a_report_seed() {
    let dir = tempdir("replay", "seed-102");
    let generated = std::process::Command::new("python3")
        .arg(root().join("scenarios/replay/generate.py"))
        .args(["--seed", "102", "--out", s(&dir)])
        .output()
        .expect("python3 runs scenarios/replay/generate.py");
    assert!(
        generated.status.success(),
        "generate.py: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let db = dir.join("truce.gpkg");
    let mut args = vec![
        "ingest".to_string(),
        "--db".into(),
        s(&db).into(),
        "--agreement".into(),
        "scenarios/donbas-2015/agreement.toml".into(),
        s(&dir.join("firms_viirs.csv")).into(),
    ];
    let mut cot: Vec<String> = std::fs::read_dir(dir.join("cot"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    cot.sort();
    assert!(cot.len() > 20, "one CoT file per report: {}", cot.len());
    args.extend(cot);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = truce(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let score: Value = serde_json::from_str(&ok(&[
        "score",
        "--db",
        s(&db),
        "--truth",
        s(&dir.join("truth.json")),
        "--json",
    ]))
    .unwrap();
    let ours = &score["ours"];
    let f = |k: &str| -> f64 {
        ours[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} in {ours:#}"))
    };
    let theirs = &score["baseline"];
    // Measured 1.000 on this seed, DBSCAN 0.947 (docs/fusion.md); a regression shows here.
    assert!(f("breach_f1") >= 0.95, "breach F1 {ours:#}");
    assert!(
        f("breach_f1") > theirs["breach_f1"].as_f64().unwrap(),
        "ahead of DBSCAN: {ours:#} vs {theirs:#}"
    );
    assert_eq!(f("breach_recall"), 1.0, "every breach event found {ours:#}");
    assert_eq!(
        f("duplicate_claims"),
        0.0,
        "one incident per event {ours:#}"
    );
    assert!(
        f("attribution_stated") > 0.0,
        "some incidents name a party {ours:#}"
    );
    assert!(
        f("attribution_accuracy") >= 0.95,
        "attribution accuracy {ours:#}"
    );
    assert_eq!(
        f("corroborated_single_source"),
        0.0,
        "no incident corroborated by one source: {ours:#}"
    );
    assert!(f("location_error_m_p90") <= 500.0, "location p90 {ours:#}");
    // Measured 0.692 (crater analyses combined, three-to-one odds); 0.231 before.
    assert!(
        f("attribution_coverage") >= 0.6,
        "attribution coverage {ours:#}"
    );
    // The explanation names every event and every incident matched to none: here the four
    // "possible explosion heard, unconfirmed" reports, visible but in no breach.
    let explained = ok(&[
        "score",
        "--db",
        s(&db),
        "--truth",
        s(&dir.join("truth.json")),
        "--explain",
    ]);
    let unmatched = explained
        .split("Incidents matched to no event:")
        .nth(1)
        .unwrap_or_else(|| panic!("{explained}"));
    let lines: Vec<&str> = unmatched.lines().filter(|l| l.contains("inc-")).collect();
    assert_eq!(lines.len(), 4, "{unmatched}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("single_source") && !l.contains("breach")),
        "{unmatched}"
    );
    assert!(explained.contains(" right"), "{explained}");
    let _ = std::fs::remove_dir_all(&dir);
}
