//! The log's Merkle tree and checkpoints in the store: nodes written with every batch, proofs
//! that verify, checkpoints signed and kept, catching up an older file, a second writer, a
//! failed batch that leaves the tree as it was, deleted entries refused, and the audit naming
//! the first seq that differs.

mod common;

use common::{ScratchFile, accepted, batch, engine, received_at, rejected};
use rusqlite::Connection;
use truce_log::{
    Checkpoint, Hash, KeyType, Note, SignerKey, leaf_hash, root_from_leaf_hashes, root_from_tiles,
    verify_checkpoint, verify_consistency, verify_inclusion,
};
use truce_store::{AuditError, GeoPackageStore, Log, Store, StoreError};

const TIME: u64 = 1_425_297_600; // 2015-03-02T12:00:00Z

fn log_key(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, KeyType::Ed25519, [seed; 32]).unwrap()
}

/// A store with the scenario's terms, its samples and two rejections: 1 + n + 2 entries.
fn filled(file: &ScratchFile) -> GeoPackageStore {
    let engine = engine();
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(&engine, "a.geojson", accepted(&engine), rejected()))
        .unwrap();
    store
}

fn leaves(store: &GeoPackageStore) -> Vec<Hash> {
    store
        .entries(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| leaf_hash(&e.body))
        .collect()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A plain connection with the append-only triggers and foreign keys off, as an attacker (or a
/// test of an older file) would have it.
fn tamper(file: &ScratchFile) -> Connection {
    let conn = Connection::open(file.path()).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete;
         DROP TRIGGER IF EXISTS log_nodes_no_update; DROP TRIGGER IF EXISTS log_nodes_no_delete;
         DROP TRIGGER IF EXISTS rtree_observations_geom_update1;
         DROP TRIGGER IF EXISTS rtree_observations_geom_update2;
         DROP TRIGGER IF EXISTS rtree_observations_geom_update3;
         DROP TRIGGER IF EXISTS rtree_observations_geom_update4;
         DROP TRIGGER IF EXISTS rtree_observations_geom_delete;",
    )
    .unwrap();
    conn
}

fn mismatch(store: &GeoPackageStore) -> (u64, Vec<String>) {
    match store.audit(None) {
        Err(AuditError::Mismatch {
            seq, differences, ..
        }) => (seq, differences),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn every_batch_writes_its_nodes_and_proofs_verify() {
    let file = ScratchFile::new("log-proofs");
    let store = filled(&file);
    let leaves = leaves(&store);
    let n = leaves.len() as u64;
    assert_eq!(store.log_size().unwrap(), n);
    let conn = Connection::open(file.path()).unwrap();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM log_nodes") as u64,
        2 * n - u64::from(n.count_ones()),
        "every complete subtree, once"
    );

    for size in [1, 2, 3, n / 2, n - 1, n] {
        let root = root_from_leaf_hashes(&leaves[..size as usize]);
        for seq in 0..size {
            let proof = store.inclusion_proof(seq, size).unwrap();
            verify_inclusion(&leaves[seq as usize], seq, size, &proof, &root)
                .unwrap_or_else(|e| panic!("entry {seq} at size {size}: {e}"));
        }
        for old in 0..=size {
            let old_root = root_from_leaf_hashes(&leaves[..old as usize]);
            let proof = store.consistency_proof(old, size).unwrap();
            verify_consistency(old, size, &old_root, &root, &proof)
                .unwrap_or_else(|e| panic!("{old} → {size}: {e}"));
        }
    }
    let entry = store.entry(3).unwrap().unwrap();
    assert_eq!(leaf_hash(&entry.body), leaves[3]);
    assert!(store.entry(n).unwrap().is_none());
    let err = store.inclusion_proof(0, n + 1).unwrap_err();
    assert!(
        matches!(err, StoreError::LogRequest { .. }) && err.to_string().contains("not"),
        "{err}"
    );
}

#[test]
fn checkpoints_are_signed_kept_and_not_repeated() {
    let file = ScratchFile::new("log-checkpoints");
    let mut store = filled(&file);
    let key = log_key("truce.example/log", 7);
    assert_eq!(store.latest_checkpoint().unwrap(), None);
    let text = store.sign_checkpoint(&key, TIME).unwrap();
    let verified = verify_checkpoint(&text, &key.verifier_key()).unwrap();
    let n = store.log_size().unwrap();
    assert_eq!(verified.checkpoint.size, n);
    assert_eq!(
        verified.checkpoint.root,
        root_from_leaf_hashes(&leaves(&store))
    );
    let latest = store.latest_checkpoint().unwrap().unwrap();
    assert_eq!(
        (latest.size, latest.root, latest.text.as_str()),
        (n, verified.checkpoint.root, text.as_str())
    );
    assert_eq!(latest.created_at.timestamp() as u64, TIME);

    // Nothing appended: the same checkpoint, no new row.
    assert_eq!(store.sign_checkpoint(&key, TIME + 60).unwrap(), text);
    let conn = Connection::open(file.path()).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM log_checkpoints"), 1);

    // Another key is another log, even under the same name: refused, naming both.
    for other in [
        log_key("someone.else/log", 8),
        log_key("truce.example/log", 8),
    ] {
        let message = store.sign_checkpoint(&other, TIME).unwrap_err().to_string();
        assert!(
            message.contains(&format!(
                "signed by the key truce.example/log+{:08x}",
                key.key_id()
            )) && message.contains(&format!("{}+{:08x}", other.name(), other.key_id())),
            "{message}"
        );
    }

    // A witness key cannot sign for the log.
    let witness =
        SignerKey::from_seed("truce.example/log", KeyType::CosignatureV1, [9; 32]).unwrap();
    assert!(store.sign_checkpoint(&witness, TIME).is_err());

    // New terms appended: a new checkpoint, consistent with the first.
    let other = common::agreement_with(Some(("version = 1", "version = 2")));
    store.put_agreement(&other, received_at()).unwrap();
    let second = store.sign_checkpoint(&key, TIME + 120).unwrap();
    let second = verify_checkpoint(&second, &key.verifier_key()).unwrap();
    assert_eq!(second.checkpoint.size, n + 1);
    let proof = store.consistency_proof(n, n + 1).unwrap();
    verify_consistency(
        n,
        n + 1,
        &verified.checkpoint.root,
        &second.checkpoint.root,
        &proof,
    )
    .unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM log_checkpoints"), 2);
    let summary = store.audit(Some(&key.verifier_key())).unwrap();
    assert_eq!(
        (
            summary.entries,
            summary.checkpoints,
            summary.latest_checkpoint_size
        ),
        (n + 1, 2, Some(n + 1))
    );
}

#[test]
fn an_older_file_and_unindexed_entries_are_caught_up_on_open() {
    let file = ScratchFile::new("log-catch-up");
    let store = filled(&file);
    let root = root_from_leaf_hashes(&leaves(&store));
    let n = store.log_size().unwrap();
    drop(store);

    // A file from before migration 2: no tree at all.
    let conn = tamper(&file);
    conn.execute_batch(
        "DROP TABLE log_nodes; DROP TABLE log_checkpoints;
         DROP TABLE incidents; DROP TABLE incident_observations; DROP TABLE incident_transitions;
         DROP TABLE tasks; DROP TABLE derived_state; DROP TABLE api_tokens;
         DROP TABLE ledger_snapshots; DROP INDEX entries_agreements;
         DELETE FROM gpkg_geometry_columns WHERE table_name IN ('incidents', 'tasks');
         DELETE FROM gpkg_contents WHERE table_name IN
           ('incidents', 'incident_observations', 'incident_transitions', 'tasks');
         CREATE TABLE assessments_table AS SELECT * FROM assessments;
         DROP VIEW assessments; ALTER TABLE assessments_table RENAME TO assessments;
         DELETE FROM truce_schema_version WHERE version >= 2;",
    )
    .unwrap();
    drop(conn);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    assert_eq!(store.log_size().unwrap(), n);
    let key = log_key("truce.example/log", 1);
    let text = store.sign_checkpoint(&key, TIME).unwrap();
    assert_eq!(
        Checkpoint::parse(&Note::parse(&text).unwrap().text)
            .unwrap()
            .root,
        root
    );
    drop(store);

    // The last entries without their nodes (a writer that did not index them).
    let conn = tamper(&file);
    conn.execute("DELETE FROM log_nodes WHERE ((idx + 1) << level) > 5", [])
        .unwrap();
    drop(conn);
    let store = GeoPackageStore::open(file.path()).unwrap();
    assert_eq!(store.log_size().unwrap(), n);
    store.audit(Some(&key.verifier_key())).unwrap();
}

#[test]
fn a_second_writer_and_a_failed_batch_keep_the_tree_whole() {
    let file = ScratchFile::new("log-writers");
    let engine = engine();
    let input = accepted(&engine);
    let mut first = filled_with(&file, &engine, &input[..5]);
    let mut second = GeoPackageStore::open(file.path()).unwrap();
    second
        .append_batch(&batch(
            &engine,
            "b.geojson",
            input[5..9].to_vec(),
            Vec::new(),
        ))
        .unwrap();
    // `first` appends after `second` without knowing: it picks up the tree from the file.
    first
        .append_batch(&batch(
            &engine,
            "c.geojson",
            input[9..12].to_vec(),
            Vec::new(),
        ))
        .unwrap();

    // A batch that fails halfway (a unique index one of its breaches violates) leaves the tree
    // as it was, and the next batch follows on.
    let outside = Connection::open(file.path()).unwrap();
    outside
        .execute_batch(
            "CREATE UNIQUE INDEX inject_failure ON breaches(rule) WHERE rule = 'injected-failure'",
        )
        .unwrap();
    let mut poisoned = input[12..].to_vec();
    let mut breach = input
        .iter()
        .flat_map(|a| a.assessment.breaches.clone())
        .next()
        .unwrap();
    breach.rule = "injected-failure".into();
    poisoned[3]
        .assessment
        .breaches
        .extend([breach.clone(), breach]);
    let nodes_before = count(&outside, "SELECT COUNT(*) FROM log_nodes");
    first
        .append_batch(&batch(&engine, "d.geojson", poisoned, Vec::new()))
        .unwrap_err();
    assert_eq!(
        count(&outside, "SELECT COUNT(*) FROM log_nodes"),
        nodes_before
    );
    outside.execute_batch("DROP INDEX inject_failure").unwrap();
    first
        .append_batch(&batch(
            &engine,
            "d.geojson",
            input[12..].to_vec(),
            rejected(),
        ))
        .unwrap();

    let summary = first.audit(None).unwrap();
    assert_eq!(summary.entries, 1 + input.len() as u64 + 2);
    assert_eq!(summary.root, root_from_leaf_hashes(&leaves(&first)));
    assert_eq!(summary.observation_rows, input.len() as u64);
    assert_eq!(summary.rejected_rows, 2);
    assert!(summary.signatures_checked_with.is_none());
}

fn filled_with(
    file: &ScratchFile,
    engine: &truce_core::assess::Engine,
    input: &[truce_store::Accepted],
) -> GeoPackageStore {
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(engine, "a.geojson", input.to_vec(), Vec::new()))
        .unwrap();
    store
}

#[test]
fn deleted_entries_are_reported_and_no_more_is_appended() {
    let file = ScratchFile::new("log-deleted");
    let mut store = filled(&file);
    let key = log_key("truce.example/log", 3);
    store.sign_checkpoint(&key, TIME).unwrap();
    let n = store.log_size().unwrap();
    drop(store);
    let conn = tamper(&file);
    conn.execute("DELETE FROM entries WHERE seq >= ?1", [n as i64 - 2])
        .unwrap();
    drop(conn);

    // It still opens, for the audit; the audit names the first missing seq.
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    let (seq, differences) = mismatch(&store);
    assert_eq!(seq, n - 2, "{differences:?}");
    let all = differences.join("\n");
    assert!(
        all.contains(&format!(
            "covers {n} entries but entries holds only {}",
            n - 2
        )),
        "{all}"
    );
    assert!(all.contains("log_nodes holds"), "{all}");
    // Nothing new goes under the old leaves.
    let engine = engine();
    let err = store
        .append_batch(&batch(&engine, "late.geojson", Vec::new(), rejected()))
        .unwrap_err();
    assert!(err.to_string().contains("entries were deleted"), "{err}");
    assert!(store.sign_checkpoint(&key, TIME).is_err());
}

#[test]
fn the_audit_names_the_first_seq_that_differs() {
    let file = ScratchFile::new("log-audit");
    let mut store = filled(&file);
    let key = log_key("truce.example/log", 4);
    store.sign_checkpoint(&key, TIME).unwrap();
    let summary = store.audit(Some(&key.verifier_key())).unwrap();
    assert_eq!(summary.entries, store.log_size().unwrap());
    drop(store);
    let conn = tamper(&file);
    let audit = || mismatch(&GeoPackageStore::open(file.path()).unwrap());

    // A stored node changed: named at the seq that completes it (leaves 4 and 5).
    let node: Vec<u8> = conn
        .query_row(
            "SELECT hash FROM log_nodes WHERE level = 1 AND idx = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 1 AND idx = 2",
        [],
    )
    .unwrap();
    let (seq, differences) = audit();
    assert_eq!(seq, 5, "{differences:?}");
    assert!(
        differences[0].contains("log node (level 1, index 2) is AAAA"),
        "{differences:?}"
    );
    conn.execute(
        "UPDATE log_nodes SET hash = ?1 WHERE level = 1 AND idx = 2",
        [&node],
    )
    .unwrap();

    // A rejected record's reason rewritten: named at its entry.
    let (id, entry_seq, reason): (i64, i64, String) = conn
        .query_row(
            "SELECT id, entry_seq, reason FROM rejected_records ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    conn.execute(
        "UPDATE rejected_records SET reason = 'nothing wrong' WHERE id = ?1",
        [id],
    )
    .unwrap();
    let (seq, differences) = audit();
    assert_eq!(seq as i64, entry_seq, "{differences:?}");
    assert!(
        differences[0].contains(&format!("rejected_records row {id}")),
        "{differences:?}"
    );
    conn.execute(
        "UPDATE rejected_records SET reason = ?2 WHERE id = ?1",
        rusqlite::params![id, reason],
    )
    .unwrap();

    // Untouched again, but checked with a key that did not sign it.
    let store = GeoPackageStore::open(file.path()).unwrap();
    store.audit(Some(&key.verifier_key())).unwrap();
    let other = log_key("truce.example/log", 5).verifier_key();
    match store.audit(Some(&other)) {
        Err(AuditError::Mismatch { differences, .. }) => assert!(
            differences.iter().any(|d| d.contains("checkpoint 1")),
            "{differences:?}"
        ),
        other => panic!("a checkpoint signed by another key is reported, got {other:?}"),
    }
}

#[test]
fn tiles_rebuild_the_root() {
    let file = ScratchFile::new("log-tiles");
    let store = filled(&file);
    let n = store.log_size().unwrap();
    let root = root_from_leaf_hashes(&leaves(&store));
    let files = store.tiles(0, n).unwrap();
    let fetch = |path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.bytes.clone())
            .ok_or_else(|| format!("no tile {path}"))
    };
    assert_eq!(root_from_tiles(n, fetch).unwrap(), root);
    assert!(files.iter().any(|f| f.path.starts_with("tile/entries/000")));
    assert!(store.tiles(n, n - 1).is_err());
}
