//! Witness cosigning: the happy path, every refusal, and offline tlog-proofs
//! checked against the resulting cosigned checkpoints.

use truce_log::note::MAX_COSIGNATURE_TIME_UNIX_S;
use truce_log::{
    AddCheckpointRequest, Checkpoint, Hash, KeyType, MemoryLog, Note, NoteError, SignError,
    SignerKey, TlogProof, TlogProofError, VerifyError, Witness, WitnessRefusal, WitnessSetupError,
    WitnessState, empty_root, sign_note, verify_quorum,
};

const ORIGIN: &str = "truce.example/log";
const UA: &str = "ua.example/witness";
const NOW_UNIX_S: u64 = 1_700_000_000;

fn log_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, KeyType::Ed25519, [1; 32]).unwrap()
}

fn witness() -> Witness {
    let key = SignerKey::from_seed(UA, KeyType::CosignatureV1, [2; 32]).unwrap();
    Witness::new(key, log_key().verifier_key()).unwrap()
}

/// A log holding `size` entries whose content depends on `branch`, so two
/// branches agree up to `common` entries and differ after.
fn log_with(size: u64, common: u64, branch: u8) -> MemoryLog {
    let mut log = MemoryLog::new();
    for i in 0..size {
        let tag = if i < common { 0 } else { branch };
        log.append_entry(format!("entry {i} branch {tag}").as_bytes());
    }
    log
}

fn signed_checkpoint(log: &MemoryLog, size: u64) -> String {
    Checkpoint::new(ORIGIN, size, log.root_at(size).unwrap())
        .sign(&log_key())
        .unwrap()
}

#[test]
fn witness_follows_a_growing_log() {
    let witness = witness();
    let log = log_with(20, 20, 0);
    let mut state = WitnessState::new(ORIGIN);
    for size in [0, 1, 3, 3, 8, 20] {
        let signed = signed_checkpoint(&log, size);
        let proof = log.consistency_proof(state.size, size).unwrap();
        let cosigned = witness
            .cosign(&state, &signed, state.size, &proof, NOW_UNIX_S + size)
            .unwrap();
        assert_eq!(cosigned.checkpoint.size, size);
        assert_eq!(cosigned.state.size, size);
        assert_eq!(cosigned.state.root, log.root_at(size).unwrap());
        let line = cosigned.signature_line();
        assert!(line.starts_with("\u{2014} ua.example/witness "), "{line}");
        let verified = verify_quorum(
            &format!("{signed}{line}"),
            &log_key().verifier_key(),
            &[witness.verifier_key()],
            &[UA],
        )
        .unwrap();
        assert_eq!(
            verified.cosignatures[0].time_unix_s,
            Some(NOW_UNIX_S + size)
        );
        // The stored state survives a round trip through its text form.
        state = WitnessState::parse(&cosigned.state.to_text()).unwrap();
    }
    assert_eq!(state.size, 20);
}

#[test]
fn add_checkpoint_requests_are_handled() {
    let witness = witness();
    let log = log_with(9, 9, 0);
    let state = witness
        .cosign(
            &WitnessState::new(ORIGIN),
            &signed_checkpoint(&log, 4),
            0,
            &[],
            NOW_UNIX_S,
        )
        .unwrap()
        .state;
    let request = AddCheckpointRequest {
        old_size: 4,
        consistency_proof: log.consistency_proof(4, 9).unwrap(),
        checkpoint: signed_checkpoint(&log, 9),
    };
    let cosigned = witness
        .add_checkpoint(&state, &request.to_text(), NOW_UNIX_S)
        .unwrap();
    assert_eq!(cosigned.state.size, 9);
    assert!(matches!(
        witness.add_checkpoint(&state, "old x\n\n", NOW_UNIX_S),
        Err(WitnessRefusal::MalformedRequest(_))
    ));
}

#[test]
fn refuses_checkpoints_not_signed_by_the_log() {
    let witness = witness();
    let log = log_with(3, 3, 0);
    let impostor = SignerKey::from_seed(ORIGIN, KeyType::Ed25519, [66; 32]).unwrap();
    let forged = Checkpoint::new(ORIGIN, 3, log.root())
        .sign(&impostor)
        .unwrap();
    let state = WitnessState::new(ORIGIN);
    assert!(matches!(
        witness.cosign(&state, &forged, 0, &[], NOW_UNIX_S),
        Err(WitnessRefusal::BadLogSignature(
            NoteError::NoKnownSignature { .. }
        ))
    ));
    let mut tampered = Note::parse(&signed_checkpoint(&log, 3)).unwrap();
    tampered.signatures[0].signature[0] ^= 1;
    let refusal = witness
        .cosign(&state, &tampered.to_message(), 0, &[], NOW_UNIX_S)
        .unwrap_err();
    assert!(matches!(
        refusal,
        WitnessRefusal::BadLogSignature(NoteError::InvalidSignature { .. })
    ));
    assert!(
        refusal.to_string().starts_with("bad log signature"),
        "{refusal}"
    );
    // A correctly signed text that is not a checkpoint.
    let not_checkpoint = sign_note("hello\n", &[&log_key()]).unwrap();
    assert!(matches!(
        witness.cosign(&state, &not_checkpoint, 0, &[], NOW_UNIX_S),
        Err(WitnessRefusal::MalformedCheckpoint(_))
    ));
}

#[test]
fn refuses_checkpoints_of_another_origin() {
    let witness = witness();
    let log = log_with(3, 3, 0);
    let signed = signed_checkpoint(&log, 3);
    let other_state = WitnessState::new("other.example/log");
    assert_eq!(
        witness
            .cosign(&other_state, &signed, 0, &[], NOW_UNIX_S)
            .unwrap_err(),
        WitnessRefusal::OriginMismatch {
            expected: "other.example/log".into(),
            found: ORIGIN.into()
        }
    );
    // Signed by the right key, but naming another origin.
    let misnamed = Checkpoint::new("other.example/log", 3, log.root())
        .sign(&log_key())
        .unwrap();
    assert_eq!(
        witness
            .cosign(
                &WitnessState::new("other.example/log"),
                &misnamed,
                0,
                &[],
                NOW_UNIX_S
            )
            .unwrap_err(),
        WitnessRefusal::OriginMismatch {
            expected: ORIGIN.into(),
            found: "other.example/log".into()
        }
    );
}

#[test]
fn refuses_a_shrinking_tree() {
    let witness = witness();
    let log = log_with(7, 7, 0);
    let state = WitnessState {
        origin: ORIGIN.into(),
        size: 7,
        root: log.root(),
    };
    let refusal = witness
        .cosign(&state, &signed_checkpoint(&log, 3), 7, &[], NOW_UNIX_S)
        .unwrap_err();
    assert_eq!(
        refusal,
        WitnessRefusal::TreeShrank {
            witnessed_size: 7,
            checkpoint_size: 3
        }
    );
    assert_eq!(
        refusal.to_string(),
        "tree shrank: witness cosigned size 7, checkpoint has size 3"
    );
}

#[test]
fn refuses_a_proof_from_another_old_size() {
    let witness = witness();
    let log = log_with(7, 7, 0);
    let state = WitnessState {
        origin: ORIGIN.into(),
        size: 3,
        root: log.root_at(3).unwrap(),
    };
    let proof = log.consistency_proof(2, 7).unwrap();
    assert_eq!(
        witness
            .cosign(&state, &signed_checkpoint(&log, 7), 2, &proof, NOW_UNIX_S)
            .unwrap_err(),
        WitnessRefusal::OldSizeMismatch {
            claimed: 2,
            witnessed_size: 3
        }
    );
}

#[test]
fn refuses_a_fork_at_the_same_size() {
    let witness = witness();
    let honest = log_with(5, 3, 0);
    let forked = log_with(5, 3, 1);
    let state = witness
        .cosign(
            &WitnessState::new(ORIGIN),
            &signed_checkpoint(&honest, 5),
            0,
            &[],
            NOW_UNIX_S,
        )
        .unwrap()
        .state;
    assert_eq!(
        witness
            .cosign(&state, &signed_checkpoint(&forked, 5), 5, &[], NOW_UNIX_S)
            .unwrap_err(),
        WitnessRefusal::Fork {
            size: 5,
            witnessed_root: honest.root(),
            checkpoint_root: forked.root()
        }
    );
    // The same checkpoint again is fine (and needs an empty proof).
    assert!(
        witness
            .cosign(&state, &signed_checkpoint(&honest, 5), 5, &[], NOW_UNIX_S)
            .is_ok()
    );
}

#[test]
fn refuses_an_inconsistent_proof() {
    let witness = witness();
    let honest = log_with(8, 3, 0);
    let forked = log_with(8, 3, 1);
    let state = WitnessState {
        origin: ORIGIN.into(),
        size: 5,
        root: honest.root_at(5).unwrap(),
    };
    // The forked log's own proof cannot connect the honest old root.
    let proof = forked.consistency_proof(5, 8).unwrap();
    let refusal = witness
        .cosign(
            &state,
            &signed_checkpoint(&forked, 8),
            5,
            &proof,
            NOW_UNIX_S,
        )
        .unwrap_err();
    assert!(
        matches!(
            refusal,
            WitnessRefusal::InconsistentProof {
                old_size: 5,
                new_size: 8,
                reason: VerifyError::OldRootMismatch { .. }
            }
        ),
        "{refusal:?}"
    );
    // A garbage proof for an honest checkpoint is refused too.
    let garbage = vec![Hash::default(); proof.len()];
    assert!(matches!(
        witness.cosign(
            &state,
            &signed_checkpoint(&honest, 8),
            5,
            &garbage,
            NOW_UNIX_S
        ),
        Err(WitnessRefusal::InconsistentProof { .. })
    ));
    // An empty proof where one is needed.
    assert!(matches!(
        witness.cosign(&state, &signed_checkpoint(&honest, 8), 5, &[], NOW_UNIX_S),
        Err(WitnessRefusal::InconsistentProof {
            reason: VerifyError::WrongProofLength { actual: 0, .. },
            ..
        })
    ));
}

#[test]
fn refuses_an_impossible_time_and_a_plain_key() {
    let witness = witness();
    let log = log_with(1, 1, 0);
    assert!(matches!(
        witness.cosign(
            &WitnessState::new(ORIGIN),
            &signed_checkpoint(&log, 1),
            0,
            &[],
            MAX_COSIGNATURE_TIME_UNIX_S + 1
        ),
        Err(WitnessRefusal::Signing(SignError::TimeOutOfRange { .. }))
    ));
    let plain = SignerKey::from_seed(UA, KeyType::Ed25519, [2; 32]).unwrap();
    assert_eq!(
        Witness::new(plain, log_key().verifier_key()).unwrap_err(),
        WitnessSetupError::WrongKeyType {
            name: UA.into(),
            key_type: KeyType::Ed25519
        }
    );
}

#[test]
fn empty_tree_checkpoint_must_have_the_empty_root() {
    let witness = witness();
    let bogus = Checkpoint::new(ORIGIN, 0, Hash([7; 32]))
        .sign(&log_key())
        .unwrap();
    assert!(matches!(
        witness.cosign(&WitnessState::new(ORIGIN), &bogus, 0, &[], NOW_UNIX_S),
        Err(WitnessRefusal::Fork { size: 0, .. })
    ));
    let genuine = Checkpoint::new(ORIGIN, 0, empty_root())
        .sign(&log_key())
        .unwrap();
    assert!(
        witness
            .cosign(&WitnessState::new(ORIGIN), &genuine, 0, &[], NOW_UNIX_S)
            .is_ok()
    );
}

#[test]
fn tlog_proofs_verify_offline_against_the_cosigned_checkpoint() {
    let witness = witness();
    let log = log_with(11, 11, 0);
    let signed = signed_checkpoint(&log, 11);
    let cosigned = witness
        .cosign(&WitnessState::new(ORIGIN), &signed, 0, &[], NOW_UNIX_S)
        .unwrap();
    let checkpoint = format!("{signed}{}", cosigned.signature_line());
    let proof = TlogProof {
        extra: None,
        index: 6,
        inclusion_proof: log.inclusion_proof(6, 11).unwrap(),
        checkpoint,
    };
    let parsed = TlogProof::parse(&proof.to_text()).unwrap();
    let log_verifier = log_key().verifier_key();
    let witnesses = [witness.verifier_key()];
    let entry = b"entry 6 branch 0";
    let verified = parsed
        .verify(entry, &log_verifier, &witnesses, &[UA])
        .unwrap();
    assert_eq!(verified.checkpoint.size, 11);
    assert!(matches!(
        parsed.verify(b"entry 6 branch 1", &log_verifier, &witnesses, &[UA]),
        Err(TlogProofError::NotIncluded {
            index: 6,
            reason: VerifyError::RootMismatch { .. }
        })
    ));
    let mut wrong_index = parsed.clone();
    wrong_index.index = 5;
    assert!(matches!(
        wrong_index.verify(entry, &log_verifier, &witnesses, &[UA]),
        Err(TlogProofError::NotIncluded { index: 5, .. })
    ));
    // Requiring a witness that did not cosign fails on the checkpoint.
    let ru = SignerKey::from_seed("ru.example/witness", KeyType::CosignatureV1, [3; 32]).unwrap();
    assert!(matches!(
        parsed.verify(
            entry,
            &log_verifier,
            &[witness.verifier_key(), ru.verifier_key()],
            &[UA, "ru.example/witness"]
        ),
        Err(TlogProofError::Checkpoint(_))
    ));
}
