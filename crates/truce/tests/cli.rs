//! The `truce` binary as a user runs it: exit codes, output on stdout, reasons on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn truce(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const AGREEMENT: &str = "scenarios/donbas-2015/agreement.toml";
const SAMPLES: &str = "scenarios/donbas-2015/observations.geojson";

#[test]
fn agreement_check_prints_the_summary() {
    let out = truce(&["agreement", "check", AGREEMENT]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for needle in [
        "Agreement donbas-2015",
        "effective at   2015-02-14T22:00:00+00:00",
        "canonical hash sha256:",
        "UA ",
        "RU ",
        "Contact line  325.0 km",
        "mlrs",
        "35.0 km each side, withdraw by 2015-02-28T22:00:00+00:00",
        "disengagement-zolote",
        "site-ua-pavlohrad",
        "no-crossing",
        "OK: the terms are consistent.",
    ] {
        assert!(
            stdout.contains(needle),
            "summary lacks {needle:?}:\n{stdout}"
        );
    }
}

#[test]
fn agreement_check_lists_every_error_and_exits_1() {
    let dir = tempdir("bad-agreement");
    std::fs::write(
        dir.join("line.geojson"),
        r#"{"type":"LineString","coordinates":[[38,47],[38,48]]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("terms.toml"),
        "id = \"x\"\neffective_at = \"2026-12-01T00:00:00Z\"\nwat = 1\n[[party]]\nid = \"UA\"\nname = \"U\"\narea = \"nope.geojson\"\n[contact_line]\ngeometry = \"line.geojson\"\n",
    )
    .unwrap();
    let path = dir.join("terms.toml");
    let out = truce(&["agreement", "check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("terms.toml:3:1: unknown key `wat`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("terms.toml:7:8: cannot read geometry file"),
        "{stderr}"
    );
    assert!(stderr.contains("2 errors in the agreement"), "{stderr}");
}

/// The hand-designed samples give exactly the reviewed assessments (golden file).
#[test]
fn assess_samples_match_the_reviewed_expectations() {
    let out = truce(&["assess", "--agreement", AGREEMENT, SAMPLES]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected =
        std::fs::read_to_string(root().join("scenarios/donbas-2015/observations.expected.jsonl"))
            .unwrap();
    let got = text(&out.stdout);
    for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "line {} differs", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count());
}

#[test]
fn assess_reports_bad_features_and_assesses_the_rest() {
    let samples = std::fs::read_to_string(root().join(SAMPLES)).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&samples).unwrap();
    let features = doc["features"].as_array_mut().unwrap();
    let n = features.len();
    features[1]["geometry"]["coordinates"] = serde_json::json!([38.0, 95.0]);
    features[2]["properties"]["kind"] = serde_json::json!("shelling");
    features[3]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("observed_at");
    features.push(serde_json::json!({"type": "Feature", "id": 7}));
    let mut child = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["assess", "--agreement", AGREEMENT, "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("<stdin>: feature 1 (id fire-02): Point: latitude 95 is outside [-90, 90]"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "<stdin>: feature 2 (id fire-03): properties.kind: unknown variant `shelling`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("<stdin>: feature 3 (id fire-04): properties: missing field `observed_at`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("<stdin>: feature {n} (id 7): missing field")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("4 of {} features rejected", n + 1)),
        "{stderr}"
    );
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), n - 3);
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .contains("\"id\":\"fire-01\"")
    );
}

#[test]
fn assess_fails_on_unreadable_input() {
    let out = truce(&["assess", "--agreement", AGREEMENT, "no/such/file.geojson"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read no/such/file.geojson"));
    let out = truce(&["assess", "--agreement", "no/such/agreement.toml", SAMPLES]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read agreement no/such/agreement.toml"));
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
