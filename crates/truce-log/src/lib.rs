//! Truce's tamper-evident log.
//!
//! Truce records every accepted input in an append-only log in the manner of
//! Certificate Transparency, so that two adversary parties can each audit the
//! record and prove to anyone that it was neither rewritten nor forked. This
//! crate is the pure core of that log — functions over bytes and strings, no
//! files, no clock, no database:
//!
//! * [`hash`]: RFC 6962 / RFC 9162 Merkle hashing with SHA-256;
//! * [`tree`]: the [`Frontier`] that appends without recomputing the tree and
//!   reports every new complete-subtree hash for a store to persist, and the
//!   [`HashReader`] trait a store implements;
//! * [`proof`]: inclusion and consistency proofs from `O(log n)` stored
//!   hashes, and their RFC 9162 verification;
//! * [`memory`]: [`MemoryLog`], an in-memory store of all subtree hashes;
//! * [`note`] and [`checkpoint`]: C2SP signed notes with Ed25519 keys,
//!   tlog-checkpoint, and quorum verification ("log plus both parties");
//! * [`witness`]: C2SP tlog-cosignature v1 witness cosigning with typed
//!   refusals;
//! * [`tiles`]: C2SP tlog-tiles static export, and reading the tree back from
//!   tiles alone;
//! * [`tlog_proof`]: C2SP tlog-proof offline inclusion proofs.
//!
//! The formats are specified in `docs/log.md` precisely enough to write an
//! independent verifier.
//!
//! # Example
//!
//! ```
//! use truce_log::{
//!     Checkpoint, KeyType, MemoryLog, SignerKey, Witness, WitnessState, leaf_hash,
//!     verify_inclusion, verify_quorum,
//! };
//!
//! // The log appends entries and signs a checkpoint.
//! let log_key = SignerKey::from_seed("truce.example/log", KeyType::Ed25519, [1; 32])?;
//! let mut log = MemoryLog::new();
//! for entry in [&b"first"[..], b"second", b"third"] {
//!     log.append_entry(entry);
//! }
//! let checkpoint = Checkpoint::new("truce.example/log", log.size(), log.root());
//! let signed = checkpoint.sign(&log_key)?;
//!
//! // A party's witness checks the log only grew, and cosigns.
//! let ua_key = SignerKey::from_seed("ua.example/witness", KeyType::CosignatureV1, [2; 32])?;
//! let witness = Witness::new(ua_key, log_key.verifier_key())?;
//! let state = WitnessState::new("truce.example/log");
//! let proof = log.consistency_proof(state.size, log.size())?;
//! let cosigned = witness.cosign(&state, &signed, state.size, &proof, 1_700_000_000)?;
//! let cosigned_checkpoint = format!("{signed}{}", cosigned.signature_line());
//!
//! // An auditor requires both signatures, then checks an entry's inclusion.
//! let verified = verify_quorum(
//!     &cosigned_checkpoint,
//!     &log_key.verifier_key(),
//!     &[witness.verifier_key()],
//!     &["ua.example/witness"],
//! )?;
//! let inclusion = log.inclusion_proof(1, verified.checkpoint.size)?;
//! verify_inclusion(
//!     &leaf_hash(b"second"),
//!     1,
//!     verified.checkpoint.size,
//!     &inclusion,
//!     &verified.checkpoint.root,
//! )?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod checkpoint;
pub mod hash;
pub mod memory;
pub mod note;
pub mod proof;
pub mod tiles;
pub mod tlog_proof;
pub mod tree;
pub mod witness;

pub use checkpoint::{
    Checkpoint, CheckpointError, QuorumError, VerifiedCheckpoint, verify_checkpoint, verify_quorum,
};
pub use hash::{HASH_SIZE_BYTES, Hash, HashDecodeError, empty_root, leaf_hash, node_hash};
pub use memory::{MemoryLog, MissingNode};
pub use note::{
    KeyError, KeyType, Note, NoteError, NoteSignature, SignError, SignerKey, VerifiedNote,
    VerifiedSignature, VerifierKey, open_note, sign_note,
};
pub use proof::{
    ProofError, VerifyError, consistency_proof, inclusion_proof, root_from_inclusion_proof,
    verify_consistency, verify_inclusion,
};
pub use tiles::{TileFile, TileReader, root_from_tiles, tiles_for_update};
pub use tlog_proof::{TlogProof, TlogProofError};
pub use tree::{Frontier, HashReader, StoredNode, root_from_leaf_hashes, tree_root};
pub use witness::{
    AddCheckpointRequest, Cosigned, Witness, WitnessRefusal, WitnessSetupError, WitnessState,
};
