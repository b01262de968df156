//! The tamper-evident log end to end, against real store files made by `truce ingest` of the
//! donbas-2015 samples: an attacker with the file and the `sqlite3` CLI (dropping the
//! append-only triggers first) changes an observation, an entry, or deletes the last entries,
//! and `truce log verify` names the sequence number; a history rewritten and re-signed with
//! the log's own key is refused by a party's witness and fails `verify-entry` under a quorum
//! that includes it; exported tiles rebuild the checkpoint's root alone; and the demo's store
//! verifies.
//!
//! The `sqlite3` CLI is a test requirement, installed by `scripts/test`; these tests fail, never
//! skip, without it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use truce_log::{TileReader, VerifierKey, root_from_tiles, verify_checkpoint};

const AGREEMENT: &str = "scenarios/donbas-2015/agreement.toml";
const SAMPLES: &str = "scenarios/donbas-2015/observations.geojson";

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

/// Runs `truce`, expecting success; its standard output.
fn ok(args: &[&str]) -> String {
    let out = truce(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "truce {args:?} failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs `truce`, expecting exit 1; its standard error.
fn fails(args: &[&str]) -> String {
    let out = truce(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "truce {args:?} should fail:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-log-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs SQL with the `sqlite3` command-line shell, as an attacker holding the file would.
fn sqlite3(db: &Path, sql: &str) {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the sqlite3 CLI is required for the tamper tests and could not be run ({e}); \
                 scripts/test installs it (apt-get install -y sqlite3)"
            )
        });
    assert!(
        out.status.success(),
        "sqlite3 {sql:?} failed: {}",
        text(&out.stderr)
    );
}

/// What an attacker drops first: the append-only triggers, and the R-tree triggers that call
/// GeoPackage functions the plain shell does not have.
const DROP_TRIGGERS: &str = "DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete; \
     DROP TRIGGER log_nodes_no_update; DROP TRIGGER log_nodes_no_delete; \
     DROP TRIGGER rtree_observations_geom_update1; DROP TRIGGER rtree_observations_geom_update2; \
     DROP TRIGGER rtree_observations_geom_update3; DROP TRIGGER rtree_observations_geom_update4; \
     DROP TRIGGER rtree_observations_geom_delete;";

/// A log key made with `truce log keygen`; returns its verifier key.
fn keygen(dir: &Path, file: &str, name: &str, witness: bool) -> String {
    let path = dir.join(file);
    let mut args = vec!["log", "keygen", name, "--out", s(&path)];
    if witness {
        args.push("--witness");
    }
    ok(&args).trim().to_string()
}

/// `truce ingest` of `feed` into `dir/name` signed with `key`; the store's path.
fn ingest(dir: &Path, name: &str, feed: &Path, key: &Path) -> PathBuf {
    let db = dir.join(name);
    ok(&[
        "ingest",
        "--db",
        s(&db),
        "--agreement",
        AGREEMENT,
        "--log-key",
        s(key),
        s(feed),
    ]);
    db
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    for suffix in ["-wal", "-shm"] {
        let wal = PathBuf::from(format!("{}{suffix}", from.display()));
        if wal.exists() {
            std::fs::copy(&wal, format!("{}{suffix}", to.display())).unwrap();
        }
    }
}

/// The samples with feature `index` moved, and optionally one more feature.
fn altered_samples(dir: &Path, name: &str, index: usize, extra: bool) -> PathBuf {
    let samples = std::fs::read_to_string(root().join(SAMPLES)).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&samples).unwrap();
    let features = doc["features"].as_array_mut().unwrap();
    let coordinates = &mut features[index]["geometry"]["coordinates"];
    coordinates[0] = serde_json::json!(coordinates[0].as_f64().unwrap() + 0.05);
    if extra {
        let mut more = features[0].clone();
        more["id"] = serde_json::json!("added-later");
        features.push(more);
    }
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

#[test]
fn tampering_with_the_store_is_named_by_sequence_number() {
    let dir = tempdir("tamper");
    let vkey = keygen(&dir, "log.key", "truce.example/log", false);
    let honest = ingest(
        &dir,
        "honest.gpkg",
        &root().join(SAMPLES),
        &dir.join("log.key"),
    );
    let report = ok(&["log", "verify", "--db", s(&honest), "--key", &vkey]);
    assert!(report.starts_with("OK: 45 entries"), "{report}");
    assert!(report.contains("signatures verify"), "{report}");

    // One point observation's coordinates changed in the layer: it now sits where another
    // point observation is.
    let points: Vec<i64> = {
        let conn = rusqlite::Connection::open(&honest).unwrap();
        let mut stmt = conn
            .prepare("SELECT o.fid FROM observations o JOIN entries e ON e.seq = o.fid WHERE instr(CAST(e.body AS TEXT), '\"type\":\"Point\"') > 0 ORDER BY o.fid")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let (victim, donor) = (points[2], points[5]);
    let moved = dir.join("moved.gpkg");
    copy_store(&honest, &moved);
    sqlite3(
        &moved,
        &format!(
            "{DROP_TRIGGERS} UPDATE observations SET geom = (SELECT geom FROM observations WHERE fid = {donor}) WHERE fid = {victim};"
        ),
    );
    let err = fails(&["log", "verify", "--db", s(&moved), "--key", &vkey]);
    assert!(
        err.contains(&format!("first difference at seq {victim}:")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "observations row {victim}: geometry position 0 is"
        )),
        "{err}"
    );

    // One entry's body rewritten (latitude 48.x → 47.x).
    let rewritten = dir.join("rewritten.gpkg");
    copy_store(&honest, &rewritten);
    sqlite3(
        &rewritten,
        &format!(
            "{DROP_TRIGGERS} UPDATE entries SET body = replace(body, '48.', '47.') WHERE seq = 7;"
        ),
    );
    let err = fails(&["log", "verify", "--db", s(&rewritten), "--key", &vkey]);
    assert!(err.contains("first difference at seq 7:"), "{err}");
    assert!(err.contains("entries.sha256 is"), "{err}");
    assert!(err.contains("log node (level 0, index 7)"), "{err}");

    // The last entries deleted, with their nodes and rows: the latest checkpoint still says 45.
    let truncated = dir.join("truncated.gpkg");
    copy_store(&honest, &truncated);
    sqlite3(
        &truncated,
        &format!(
            "{DROP_TRIGGERS} DELETE FROM entries WHERE seq >= 42; \
             DELETE FROM log_nodes WHERE ((idx + 1) << level) > 42; \
             DELETE FROM breaches WHERE obs_fid >= 42; \
             DELETE FROM observations WHERE fid >= 42;"
        ),
    );
    let err = fails(&["log", "verify", "--db", s(&truncated), "--key", &vkey]);
    assert!(err.contains("first difference at seq 42:"), "{err}");
    assert!(
        err.contains("covers 45 entries but entries holds only 42"),
        "{err}"
    );
    // And nothing more is appended on top of it.
    let err = fails(&[
        "ingest",
        "--db",
        s(&truncated),
        "--agreement",
        AGREEMENT,
        "--log-key",
        s(&dir.join("log.key")),
        SAMPLES,
    ]);
    assert!(err.contains("entries were deleted"), "{err}");
}

#[test]
fn a_rewritten_history_is_refused_by_a_witness_and_fails_the_quorum() {
    let dir = tempdir("fork");
    let log_key = dir.join("log.key");
    let vkey = keygen(&dir, "log.key", "truce.example/log", false);
    let witness_vkey = keygen(&dir, "ua.key", "ua.example/witness", true);
    let (witness_key, witness_state) = (dir.join("ua.key"), dir.join("ua-state"));
    let witness = |checkpoint: &Path, proof: Option<&Path>| {
        let mut args = vec![
            "log",
            "witness",
            "--key",
            s(&witness_key),
            "--state",
            s(&witness_state),
            "--log-key",
            &vkey,
            s(checkpoint),
        ];
        args.extend(proof.map(s));
        truce(&args)
    };
    let verify_entry = |checkpoint: &Path, proof: &Path| {
        truce(&[
            "log",
            "verify-entry",
            "--checkpoint",
            s(checkpoint),
            "--proof",
            s(proof),
            "--key",
            &vkey,
            "--witness",
            &witness_vkey,
        ])
    };

    // The honest log, cosigned by the UA witness.
    let honest = ingest(&dir, "honest.gpkg", &root().join(SAMPLES), &log_key);
    let checkpoint = dir.join("honest.checkpoint");
    std::fs::write(&checkpoint, ok(&["log", "checkpoint", "--db", s(&honest)])).unwrap();
    let proof = dir.join("honest.proof.json");
    std::fs::write(
        &proof,
        ok(&["log", "prove", "--db", s(&honest), "--seq", "5"]),
    )
    .unwrap();
    let out = witness(&checkpoint, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cosignature = text(&out.stdout);
    assert!(
        cosignature.starts_with("— ua.example/witness "),
        "{cosignature}"
    );
    let cosigned = dir.join("honest.cosigned");
    std::fs::write(
        &cosigned,
        format!(
            "{}{cosignature}",
            std::fs::read_to_string(&checkpoint).unwrap()
        ),
    )
    .unwrap();
    let out = verify_entry(&cosigned, &proof);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("OK: entry 5 is in the log truce.example/log of 45 entries")
    );
    // Without the witness's cosignature the quorum is not met.
    let out = verify_entry(&checkpoint, &proof);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("lacks cosignatures from required witnesses: ua.example/witness"),
        "{}",
        text(&out.stderr)
    );

    // History rewritten — observation 5 moved — and re-signed with the log's own key, same
    // origin, same size. The forged store verifies on its own: only the witness can tell.
    let forged = ingest(
        &dir,
        "forged.gpkg",
        &altered_samples(&dir, "forged.geojson", 4, false),
        &log_key,
    );
    ok(&["log", "verify", "--db", s(&forged), "--key", &vkey]);
    let forged_checkpoint = dir.join("forged.checkpoint");
    std::fs::write(
        &forged_checkpoint,
        ok(&["log", "checkpoint", "--db", s(&forged)]),
    )
    .unwrap();
    let forged_proof = dir.join("forged.proof.json");
    std::fs::write(
        &forged_proof,
        ok(&[
            "log",
            "prove",
            "--db",
            s(&forged),
            "--seq",
            "5",
            "--old-size",
            "45",
        ]),
    )
    .unwrap();
    let out = witness(&forged_checkpoint, Some(&forged_proof));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("witness refuses to cosign: fork: size 45 was cosigned with root"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no cosignature is released");

    // Rewritten and grown by one entry: the consistency proof from 45 does not lead to the
    // root the witness cosigned.
    let grown = ingest(
        &dir,
        "grown.gpkg",
        &altered_samples(&dir, "grown.geojson", 4, true),
        &log_key,
    );
    let grown_checkpoint = dir.join("grown.checkpoint");
    std::fs::write(
        &grown_checkpoint,
        ok(&["log", "checkpoint", "--db", s(&grown)]),
    )
    .unwrap();
    let grown_proof = dir.join("grown.proof.json");
    std::fs::write(
        &grown_proof,
        ok(&[
            "log",
            "prove",
            "--db",
            s(&grown),
            "--seq",
            "5",
            "--old-size",
            "45",
        ]),
    )
    .unwrap();
    let out = witness(&grown_checkpoint, Some(&grown_proof));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("witness refuses to cosign: inconsistent proof from size 45 to 46"),
        "{err}"
    );

    // The forged records fail verify-entry under the quorum "log plus UA": uncosigned, or with
    // the honest cosignature pasted on.
    let out = verify_entry(&forged_checkpoint, &forged_proof);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("lacks cosignatures from required witnesses"),
        "{}",
        text(&out.stderr)
    );
    let pasted = dir.join("forged.pasted");
    std::fs::write(
        &pasted,
        format!(
            "{}{cosignature}",
            std::fs::read_to_string(&forged_checkpoint).unwrap()
        ),
    )
    .unwrap();
    let out = verify_entry(&pasted, &forged_proof);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("checkpoint note rejected"),
        "{}",
        text(&out.stderr)
    );
    // And the honest record still passes: the witness's state did not move.
    let out = verify_entry(&cosigned, &proof);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn exported_tiles_rebuild_the_checkpoint_root_alone() {
    let dir = tempdir("tiles");
    let vkey = keygen(&dir, "log.key", "truce.example/log", false);
    let db = ingest(&dir, "t.gpkg", &root().join(SAMPLES), &dir.join("log.key"));
    let out_dir = dir.join("tiles");
    let said = ok(&["log", "export-tiles", "--db", s(&db), "--out", s(&out_dir)]);
    assert!(said.contains("45 entries"), "{said}");

    // From here on, only the files and the log's public key.
    let key: VerifierKey = vkey.parse().unwrap();
    let checkpoint = std::fs::read_to_string(out_dir.join("checkpoint")).unwrap();
    let verified = verify_checkpoint(&checkpoint, &key).unwrap().checkpoint;
    let fetch = |path: &str| std::fs::read(out_dir.join(path)).map_err(|e| format!("{path}: {e}"));
    assert_eq!(
        root_from_tiles(verified.size, fetch).unwrap(),
        verified.root
    );
    // The entry bundle authenticates against that root, and holds the stored entries.
    let entries = TileReader::new(verified.size, fetch)
        .entries(0, &verified.root)
        .unwrap();
    assert_eq!(entries.len(), 45);
    let proof: serde_json::Value =
        serde_json::from_str(&ok(&["log", "prove", "--db", s(&db), "--seq", "44"])).unwrap();
    assert_eq!(
        B64.encode(&entries[44]),
        proof["entry"].as_str().unwrap(),
        "the last entry, byte for byte"
    );
    assert!(
        entries[0].starts_with(b"{"),
        "entry 0 is the agreement's JSON"
    );
}

#[test]
fn ingest_keeps_the_log_key_beside_the_store_and_out_of_it() {
    let dir = tempdir("default-key");
    let db = dir.join("field.gpkg");
    let args = ["ingest", "--db", s(&db), "--agreement", AGREEMENT, SAMPLES];
    let out = truce(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let key_file = dir.join("field.gpkg.log.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the signer key is readable by its owner only"
    );
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert!(key.starts_with("PRIVATE+KEY+truce.local/field+"), "{key}");
    let stderr = text(&out.stderr);
    let vkey = stderr
        .split("auditors: ")
        .nth(1)
        .unwrap_or_else(|| panic!("the verifier key is printed when the key is made:\n{stderr}"))
        .trim()
        .to_string();
    // PRIVATE+KEY+<name>+<key id>+<base64>: the base64 may itself hold '+'.
    let secret = key.trim().splitn(5, '+').nth(4).unwrap();
    assert!(secret.len() >= 40, "{secret}");
    let store = std::fs::read(&db).unwrap();
    assert!(
        !store.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the private key never enters the store"
    );

    // The next run signs with the same key; `verify` finds it beside the store.
    ok(&args);
    let report = ok(&["log", "verify", "--db", s(&db)]);
    assert!(
        report.contains("signatures verify with the log key of"),
        "{report}"
    );
    assert!(report.contains(&vkey), "{report}");
    let checkpoint = ok(&["log", "checkpoint", "--db", s(&db)]);
    assert!(
        checkpoint.starts_with("truce.local/field\n45\n"),
        "{checkpoint}"
    );
}

#[test]
fn the_demo_store_verifies_and_its_checkpoint_proves_entries() {
    let dir = tempdir("demo");
    let out = ok(&["demo", "--out", s(&dir)]);
    assert!(out.contains("Log truce.local/demo:"), "{out}");
    let db = dir.join("truce.gpkg");
    let vkey_file = dir.join("log.vkey");
    let mode = std::fs::metadata(dir.join("truce.gpkg.log.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let vkey = std::fs::read_to_string(&vkey_file).unwrap();
    assert!(
        out.contains(vkey.trim()),
        "the demo prints its verifier key"
    );

    let report = ok(&["log", "verify", "--db", s(&db), "--key", s(&vkey_file)]);
    assert!(report.starts_with("OK: "), "{report}");
    assert!(report.contains("signatures verify"), "{report}");

    let proof = ok(&["log", "prove", "--db", s(&db), "--seq", "1000"]);
    let doc: serde_json::Value = serde_json::from_str(&proof).unwrap();
    let checkpoint = dir.join("checkpoint");
    std::fs::write(&checkpoint, doc["checkpoint"].as_str().unwrap()).unwrap();
    let proof_file = dir.join("proof.json");
    std::fs::write(&proof_file, &proof).unwrap();
    let out = truce(&[
        "log",
        "verify-entry",
        "--checkpoint",
        s(&checkpoint),
        "--proof",
        s(&proof_file),
        "--key",
        s(&vkey_file),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("OK: entry 1000 is in the log truce.local/demo"),
        "{}",
        text(&out.stderr)
    );
}
