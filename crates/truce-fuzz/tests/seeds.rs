//! Writes the seeds of the `note` and `proof` corpora that no fixture file holds: texts made
//! with Go's signed-note test key and a real in-memory log (a signed checkpoint, witness state,
//! an add-checkpoint request, a C2SP tlog-proof, a `truce log prove` document with real
//! inclusion and consistency proofs, an entry bundle, the binary proof form of
//! `truce_fuzz::proof`), into `fuzz/seeds/`. Ignored: `fuzz/seed.sh` runs it.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use truce_log::{
    AddCheckpointRequest, Checkpoint, MemoryLog, SignerKey, TlogProof, WitnessState, leaf_hash,
};
use truce_server::proof::ProofDocument;

const PETER_SKEY: &str =
    include_str!("../../truce-log/tests/vectors/signed-note/peter-neumann.skey");

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
#[ignore = "writes fuzz/seeds: run by fuzz/seed.sh"]
fn write_generated_seeds() {
    let signer = SignerKey::parse(PETER_SKEY.trim_end()).unwrap();
    let origin = signer.verifier_key().name().to_string();
    let mut log = MemoryLog::new();
    let entries: Vec<Vec<u8>> = (0..7)
        .map(|i| format!("{{\"seq\":{i},\"kind\":\"observation\"}}").into_bytes())
        .collect();
    for e in &entries {
        log.append_entry(e);
    }
    let (size, root) = (log.size(), log.root());
    let checkpoint = Checkpoint::new(&origin, size, root).sign(&signer).unwrap();
    let index = 3;
    let inclusion = log.inclusion_proof(index, size).unwrap();
    let consistency = log.consistency_proof(4, size).unwrap();

    write("note", "seed-checkpoint", checkpoint.as_bytes());
    write(
        "note",
        "seed-witness-state",
        WitnessState::new(&origin).to_text().as_bytes(),
    );
    let request = AddCheckpointRequest {
        old_size: 4,
        consistency_proof: consistency.clone(),
        checkpoint: checkpoint.clone(),
    };
    write("note", "seed-add-checkpoint", request.to_text().as_bytes());

    let tlog_proof = TlogProof {
        extra: Some(b"v1".to_vec()),
        index,
        inclusion_proof: inclusion.clone(),
        checkpoint: checkpoint.clone(),
    };
    write("proof", "seed-tlog-proof", tlog_proof.to_text().as_bytes());
    let doc = ProofDocument {
        leaf_index: index,
        entry: Some(B64.encode(&entries[index as usize])),
        leaf_hash: leaf_hash(&entries[index as usize]).to_base64(),
        withheld: None,
        tree_size: size,
        root: root.to_base64(),
        inclusion: inclusion.iter().map(|h| h.to_base64()).collect(),
        checkpoint: checkpoint.clone(),
        old_size: Some(4),
        consistency: Some(consistency.iter().map(|h| h.to_base64()).collect()),
    };
    write(
        "proof",
        "seed-proof-document.json",
        serde_json::to_string(&doc).unwrap().as_bytes(),
    );
    let mut bundle = Vec::new();
    for e in &entries {
        bundle.extend(u16::try_from(e.len()).unwrap().to_be_bytes());
        bundle.extend(e);
    }
    write("proof", "seed-entry-bundle", &bundle);
    // `truce_fuzz::proof`'s binary form: index, size, leaf, root, proof; trailing byte.
    let mut binary = Vec::new();
    binary.extend(index.to_le_bytes());
    binary.extend(size.to_le_bytes());
    binary.extend(leaf_hash(&entries[index as usize]).as_bytes());
    binary.extend(root.as_bytes());
    for h in &inclusion {
        binary.extend(h.as_bytes());
    }
    write("proof", "seed-binary-inclusion", &binary);
    let mut binary = Vec::new();
    binary.extend(4u64.to_le_bytes());
    binary.extend(size.to_le_bytes());
    binary.extend(log.root_at(4).unwrap().as_bytes());
    binary.extend(root.as_bytes());
    for h in &consistency {
        binary.extend(h.as_bytes());
    }
    write("proof", "seed-binary-consistency", &binary);
}
