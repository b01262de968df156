//! Incidents as the analyst meets them: written while ingesting, listed, moved by decisions
//! that go into the log, and rebuilt from the log alone to the same tables.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const AGREEMENT: &str = "scenarios/donbas-2015/agreement.toml";

fn truce(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = truce(args);
    assert!(
        out.status.success(),
        "truce {args:?} failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-incidents-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn execute(db: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
}

/// Every incident row, as text, in id order.
fn incident_rows(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT incident_id, state, evidence, confidence, kinds, observations, start_at, end_at, \
             quote(geom) FROM incidents ORDER BY fid",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, f64>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, String>(8)?
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The simulator's main feeds (re-deliveries left out), in a fixed order.
fn feeds(dir: &Path) -> Vec<PathBuf> {
    let sim = dir.join("sim");
    ok(&["simulate", "--days", "2", "--seed", "2", "--out", s(&sim)]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&sim)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name != "truth.json"
                && name != "mission.toml"
                && !name.contains("resend")
                && !name.contains("redownload")
        })
        .collect();
    files.sort();
    files
}

/// Exit status of an ingest may be 2 (some records rejected: the simulator plants them).
fn ingest(db: &Path, files: &[PathBuf]) {
    let mut args = vec!["ingest", "--db", s(db), "--agreement", AGREEMENT];
    args.extend(files.iter().map(|f| s(f)));
    let out = truce(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn incidents_follow_ingest_decisions_are_logged_and_rebuild_finds_the_same_tables() {
    let dir = tempdir("lifecycle");
    let files = feeds(&dir);

    // One ingest per file (four processes' worth of incremental updates) and one ingest of
    // everything give the same incidents.
    let per_file = dir.join("per-file.gpkg");
    for f in &files {
        ingest(&per_file, std::slice::from_ref(f));
    }
    let at_once = dir.join("at-once.gpkg");
    ingest(&at_once, &files);
    let rows = incident_rows(&per_file);
    assert!(rows.len() > 10, "{} incidents", rows.len());
    assert_eq!(rows, incident_rows(&at_once));
    let links: i64 = query(&per_file, "SELECT COUNT(*) FROM incident_observations");
    let non_coverage: i64 = query(
        &per_file,
        "SELECT COUNT(*) FROM observations WHERE kind <> 'coverage'",
    );
    assert_eq!(
        links, non_coverage,
        "every event observation is in one incident"
    );

    let listed = ok(&[
        "incidents",
        "--db",
        s(&per_file),
        "--json",
        "--limit",
        "100000",
    ]);
    let listed: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), rows.len());
    for inc in &listed {
        assert_eq!(inc["transitions"][0]["action"], "detected", "{inc}");
    }
    let corroborated = listed
        .iter()
        .find(|i| {
            i["transitions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["action"] == "corroborated")
        })
        .expect("the simulator's two days corroborate something");
    let steps = corroborated["transitions"].as_array().unwrap();
    let step = steps
        .iter()
        .find(|t| t["action"] == "corroborated")
        .unwrap();
    assert_eq!(step["actor"], "truce");
    assert!(
        step["reason"].as_str().unwrap().contains("confidence"),
        "{step}"
    );
    let mut expected: Vec<String> = steps
        .iter()
        .map(|t| t["action"].as_str().unwrap().to_string())
        .collect();
    expected.extend(["verify", "attribute", "publish"].map(String::from));
    let id = corroborated["id"].as_str().unwrap().to_string();

    // Refusals log nothing.
    let entries = |db: &Path| -> i64 { query(db, "SELECT COUNT(*) FROM entries") };
    let before = entries(&per_file);
    let decide = |action: &[&str]| {
        let mut args = vec!["decide", "--db", s(&per_file), id.as_str()];
        args.extend_from_slice(action);
        truce(&args)
    };
    let out = decide(&["publish", "--actor", "analyst-1", "--reason", "too early"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("only verified, not confirmed or inconclusive"),
        "{}",
        text(&out.stderr)
    );
    let out = decide(&["attribute", "XX", "--actor", "analyst-1", "--reason", "?"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("UA, RU"),
        "{}",
        text(&out.stderr)
    );
    let stranger = dir.join("stranger.key");
    ok(&[
        "log",
        "keygen",
        "truce.example/other",
        "--out",
        s(&stranger),
    ]);
    let out = truce(&[
        "decide",
        "--db",
        s(&per_file),
        &id,
        "verify",
        "--actor",
        "a",
        "--reason",
        "r",
        "--log-key",
        s(&stranger),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("sign with the log's own key"));
    assert_eq!(
        entries(&per_file),
        before,
        "a refused decision is not logged"
    );

    // Decisions move the incident, each an entry, each with actor and reason.
    for action in [
        &[
            "verify",
            "--actor",
            "analyst-1",
            "--reason",
            "drone video reviewed",
        ][..],
        &[
            "attribute",
            "RU",
            "--actor",
            "analyst-2",
            "--reason",
            "crater analysis",
        ],
        &["publish", "--actor", "chief", "--reason", "daily report"],
    ] {
        let out = decide(action);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(entries(&per_file), before + 3);
    let kinds: String = query(
        &per_file,
        "SELECT group_concat(kind) FROM (SELECT kind FROM entries ORDER BY seq DESC LIMIT 3)",
    );
    assert_eq!(kinds, "decision,decision,decision");
    let published = ok(&[
        "incidents",
        "--db",
        s(&per_file),
        "--json",
        "--state",
        "published",
    ]);
    let published: serde_json::Value = serde_json::from_str(published.trim()).unwrap();
    assert_eq!(published["id"], id.as_str());
    assert_eq!(published["attributed_party"], "RU");
    let actions: Vec<&str> = published["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, expected);
    let row: String = query(
        &per_file,
        &format!(
            "SELECT state || '|' || attributed_party FROM incidents WHERE incident_id = '{id}'"
        ),
    );
    assert_eq!(row, "published|RU");
    let steps: i64 = query(
        &per_file,
        &format!(
            "SELECT COUNT(*) FROM incident_transitions t JOIN incidents i ON i.fid = t.incident_fid \
             WHERE i.incident_id = '{id}' AND t.actor IN ('analyst-1', 'analyst-2', 'chief')"
        ),
    );
    assert_eq!(steps, 3);

    // The log replayed from nothing gives the very tables written along the way.
    let out = ok(&["rebuild", "--db", s(&per_file), "--check"]);
    assert_eq!(out.matches("identical  sha256").count(), 4, "{out}");
    assert!(out.contains(" 0 differ"), "{out}");

    // A derived row altered behind Truce's back is found and rewritten.
    execute(
        &per_file,
        &format!("UPDATE incidents SET confidence = 0.01 WHERE incident_id = '{id}'"),
    );
    let out = truce(&["rebuild", "--db", s(&per_file), "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("incidents ") && l.contains("REWRITTEN")),
        "{stdout}"
    );
    ok(&["rebuild", "--db", s(&per_file), "--check"]);

    // The mission's teams take tasks; a team's outcome, arriving as an observation, verifies.
    let out = ok(&["tasks", "--db", s(&per_file)]);
    assert!(out.contains("no mission file in force"), "{out}");
    let out = ok(&[
        "mission",
        "set",
        "--db",
        s(&per_file),
        s(&dir.join("sim/mission.toml")),
    ]);
    assert!(out.contains("4 teams"), "{out}");
    let tasks: Vec<serde_json::Value> = ok(&["tasks", "--db", s(&per_file), "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sent: Vec<&serde_json::Value> = tasks.iter().filter(|t| t["state"] == "assigned").collect();
    assert_eq!(sent.len(), 4, "{tasks:#?}");
    let task = sent[0];
    let (task_id, team, incident) = (
        task["id"].as_str().unwrap(),
        task["team"].as_str().unwrap(),
        task["incident"].as_str().unwrap(),
    );
    let at = task["location"].as_array().unwrap();
    let finding = dir.join("finding.geojson");
    std::fs::write(
        &finding,
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","id":"{team}-finding-1","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"kind":"impact","observed_at":"2015-03-03T12:00:00Z","source":{{"id":"{team}","kind":"ground_team","reliability":"A","credibility":1}},"error_radius_m":20,"remarks":"two fresh craters, 122 mm fragments","task_outcome":{{"task":"{task_id}","outcome":"confirmed"}}}}}}]}}"#,
            at[0], at[1]
        ),
    )
    .unwrap();
    ingest(&per_file, &[finding]);
    let verified = ok(&[
        "incidents",
        "--db",
        s(&per_file),
        "--json",
        "--state",
        "verified",
    ]);
    let verified: serde_json::Value = serde_json::from_str(verified.trim()).unwrap();
    assert_eq!(verified["id"], incident);
    let last = verified["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "outcome");
    assert_eq!(last["actor"], team);
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("confirmed: two fresh craters"),
        "{last}"
    );
    let state: String = query(
        &per_file,
        &format!("SELECT state || '|' || outcome FROM tasks WHERE task_id = '{task_id}'"),
    );
    assert_eq!(state, "done|confirmed");
    // The team is free again and takes the next task.
    let assigned: i64 = query(
        &per_file,
        "SELECT COUNT(*) FROM tasks WHERE state = 'assigned'",
    );
    assert_eq!(assigned, 4);
    ok(&["rebuild", "--db", s(&per_file), "--check"]);

    // Killed after a batch committed but before its incidents were written: the tables lag
    // the log, and the next command that opens the ledger brings them level.
    execute(
        &per_file,
        "UPDATE derived_state SET through_seq = through_seq - 40; \
         DELETE FROM incident_observations WHERE obs_fid > (SELECT MAX(seq) - 40 FROM entries);",
    );
    ok(&["incidents", "--db", s(&per_file), "--limit", "1"]);
    ok(&["rebuild", "--db", s(&per_file), "--check"]);
    let _ = std::fs::remove_dir_all(&dir);
}
