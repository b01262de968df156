//! Witness cosigning, as pure functions over the witness's stored state.
//!
//! A witness remembers the last checkpoint it cosigned for the log
//! ([`WitnessState`]). Given a new checkpoint signed by the log and a
//! consistency proof from the remembered size, it checks that the log only
//! appended, then returns a C2SP `tlog-cosignature` v1 (timestamped Ed25519,
//! key type 0x04) signature line and its new state. Otherwise it refuses with
//! a [`WitnessRefusal`] saying why.
//!
//! The request form of C2SP `tlog-witness` `add-checkpoint` is supported by
//! [`AddCheckpointRequest`] and [`Witness::add_checkpoint`].

use crate::checkpoint::{Checkpoint, CheckpointError, parse_canonical_decimal};
use crate::hash::{Hash, HashDecodeError, empty_root};
use crate::note::{KeyType, Note, NoteError, NoteSignature, SignError, SignerKey, VerifierKey};
use crate::proof::{VerifyError, verify_consistency};

/// First line of the witness state text, naming its format and version.
const STATE_HEADER: &str = "truce-witness-state/v1\n";

/// Most consistency proof lines an `add-checkpoint` request may carry
/// (C2SP tlog-witness: clients MUST NOT send more than 63, which is enough
/// for any pair of `u64` tree sizes).
pub const MAX_CONSISTENCY_PROOF_LINES: usize = 63;

/// The last checkpoint a witness cosigned for one log: what it must stay
/// consistent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessState {
    /// The log's origin.
    pub origin: String,
    /// Tree size of the last cosigned checkpoint (0 before the first).
    pub size: u64,
    /// Root hash of the last cosigned checkpoint.
    pub root: Hash,
}

/// Stored witness state text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessStateError {
    /// The first line is not `truce-witness-state/v1`.
    #[error("witness state must start with the line \"truce-witness-state/v1\"")]
    MissingHeader,
    /// The origin, size and root lines are malformed.
    #[error("witness state is malformed: {0}")]
    Body(CheckpointError),
    /// Lines follow the root hash line.
    #[error("witness state has {line_count} extra lines after the root hash")]
    ExtraLines {
        /// Number of extra lines.
        line_count: usize,
    },
}

impl WitnessState {
    /// The state of a witness that has not cosigned anything for `origin`:
    /// size 0 and the empty tree's root.
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            size: 0,
            root: empty_root(),
        }
    }

    /// The on-disk text form:
    ///
    /// ```text
    /// truce-witness-state/v1
    /// <origin>
    /// <size>
    /// <base64 root>
    /// ```
    pub fn to_text(&self) -> String {
        format!(
            "{STATE_HEADER}{}",
            Checkpoint::new(&self.origin, self.size, self.root).to_text()
        )
    }

    /// Parses the text written by [`WitnessState::to_text`].
    pub fn parse(text: &str) -> Result<Self, WitnessStateError> {
        let body = text
            .strip_prefix(STATE_HEADER)
            .ok_or(WitnessStateError::MissingHeader)?;
        let checkpoint = Checkpoint::parse(body).map_err(WitnessStateError::Body)?;
        if !checkpoint.extensions.is_empty() {
            return Err(WitnessStateError::ExtraLines {
                line_count: checkpoint.extensions.len(),
            });
        }
        Ok(Self {
            origin: checkpoint.origin,
            size: checkpoint.size,
            root: checkpoint.root,
        })
    }
}

/// The body of a C2SP `tlog-witness` `add-checkpoint` request:
///
/// ```text
/// old <old size>
/// <base64 consistency proof hash>   (zero or more lines)
///
/// <signed checkpoint note>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The size the client believes the witness last cosigned.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub consistency_proof: Vec<Hash>,
    /// The signed checkpoint note message.
    pub checkpoint: String,
}

/// An `add-checkpoint` request body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The first line is not `old <decimal size>`.
    #[error("request must start with a line \"old <size>\" (decimal, no leading zeros)")]
    InvalidOldSizeLine,
    /// A proof line is not a base64 hash.
    #[error("consistency proof line {line_number} is not a base64 SHA-256 hash: {reason}")]
    InvalidProofLine {
        /// 1-based line number within the request.
        line_number: usize,
        /// Why it does not decode.
        reason: HashDecodeError,
    },
    /// More than [`MAX_CONSISTENCY_PROOF_LINES`] proof lines.
    #[error("request has more than {MAX_CONSISTENCY_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// No blank line before the checkpoint.
    #[error("request has no blank line before the checkpoint")]
    MissingCheckpoint,
}

impl AddCheckpointRequest {
    /// The request body text.
    pub fn to_text(&self) -> String {
        let mut text = format!("old {}\n", self.old_size);
        for hash in &self.consistency_proof {
            text.push_str(&hash.to_base64());
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses a request body.
    pub fn parse(text: &str) -> Result<Self, RequestError> {
        let (first, mut rest) = text
            .split_once('\n')
            .ok_or(RequestError::InvalidOldSizeLine)?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_canonical_decimal)
            .ok_or(RequestError::InvalidOldSizeLine)?;
        let mut consistency_proof = Vec::new();
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or(RequestError::MissingCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if consistency_proof.len() == MAX_CONSISTENCY_PROOF_LINES {
                return Err(RequestError::TooManyProofLines);
            }
            let hash =
                Hash::from_base64(line).map_err(|reason| RequestError::InvalidProofLine {
                    line_number: consistency_proof.len() + 2,
                    reason,
                })?;
            consistency_proof.push(hash);
        }
        Ok(Self {
            old_size,
            consistency_proof,
            checkpoint: rest.to_owned(),
        })
    }
}

/// Why a witness refused to cosign. Each variant says exactly which check
/// failed; the HTTP status C2SP tlog-witness assigns is noted per variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    /// The `add-checkpoint` request body is malformed (400).
    #[error("malformed add-checkpoint request: {0}")]
    MalformedRequest(RequestError),
    /// The checkpoint is not validly signed by the log key (403).
    #[error("bad log signature: {0}")]
    BadLogSignature(NoteError),
    /// The signed text is not a checkpoint (400).
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(CheckpointError),
    /// The checkpoint is for another log (404 in tlog-witness).
    #[error("origin mismatch: checkpoint is for {found:?}, this witness follows {expected:?}")]
    OriginMismatch {
        /// The origin the witness follows.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// The checkpoint is smaller than the one already cosigned: the log (or a
    /// replayer) presents an older or rolled-back tree (409).
    #[error(
        "tree shrank: witness cosigned size {witnessed_size}, checkpoint has size {checkpoint_size}"
    )]
    TreeShrank {
        /// Size the witness last cosigned.
        witnessed_size: u64,
        /// Size of the presented checkpoint.
        checkpoint_size: u64,
    },
    /// The proof starts from a size other than the one the witness last
    /// cosigned (409; the response body is `witnessed_size`).
    #[error(
        "old size mismatch: proof is from size {claimed}, witness last cosigned size {witnessed_size}"
    )]
    OldSizeMismatch {
        /// Old size the caller gave.
        claimed: u64,
        /// Size the witness last cosigned.
        witnessed_size: u64,
    },
    /// Same size as the cosigned checkpoint but a different root: the log
    /// signed two different trees of one size, proof of a fork (409).
    #[error(
        "fork: size {size} was cosigned with root {witnessed_root}, checkpoint has root {checkpoint_root}"
    )]
    Fork {
        /// The common size.
        size: u64,
        /// Root the witness cosigned.
        witnessed_root: Hash,
        /// Root in the presented checkpoint.
        checkpoint_root: Hash,
    },
    /// The consistency proof does not prove the new tree extends the old (422).
    #[error("inconsistent proof from size {old_size} to {new_size}: {reason}")]
    InconsistentProof {
        /// Size the witness last cosigned.
        old_size: u64,
        /// Size of the presented checkpoint.
        new_size: u64,
        /// Why verification failed.
        reason: VerifyError,
    },
    /// The cosignature could not be made (the time is out of range).
    #[error("cannot cosign: {0}")]
    Signing(SignError),
}

/// A successful cosigning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The checkpoint that was cosigned.
    pub checkpoint: Checkpoint,
    /// The witness's cosignature on it.
    pub cosignature: NoteSignature,
    /// The state to store, replacing the previous one atomically.
    pub state: WitnessState,
}

impl Cosigned {
    /// The cosignature as a note signature line (ending in a newline), to
    /// append to the checkpoint note or return as the `add-checkpoint`
    /// response body.
    pub fn signature_line(&self) -> String {
        self.cosignature.to_line()
    }
}

/// A witness could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessSetupError {
    /// The witness key must be a cosignature/v1 key.
    #[error(
        "witness key {name:?} is an {key_type} key; witnesses need an Ed25519 cosignature/v1 (type 0x04) key"
    )]
    WrongKeyType {
        /// The key's name.
        name: String,
        /// The key's type.
        key_type: KeyType,
    },
}

/// A witness for one log: its cosigning key and the log's verifier key.
#[derive(Debug, Clone)]
pub struct Witness {
    key: SignerKey,
    log_key: VerifierKey,
}

impl Witness {
    /// A witness that cosigns with `key` (type [`KeyType::CosignatureV1`])
    /// checkpoints signed by `log_key`.
    pub fn new(key: SignerKey, log_key: VerifierKey) -> Result<Self, WitnessSetupError> {
        if key.key_type() != KeyType::CosignatureV1 {
            return Err(WitnessSetupError::WrongKeyType {
                name: key.name().to_owned(),
                key_type: key.key_type(),
            });
        }
        Ok(Self { key, log_key })
    }

    /// The public key clients use to check this witness's cosignatures.
    pub fn verifier_key(&self) -> VerifierKey {
        self.key.verifier_key()
    }

    /// Checks a signed checkpoint against the stored state and cosigns it.
    ///
    /// `old_size` is the size the `consistency_proof` starts from; it must be
    /// the state's size. `time_unix_s` is the cosigning time in seconds since
    /// the POSIX epoch (the caller reads the clock, keeping this pure).
    ///
    /// Checks, in order: the log's signature, the origin (must be the state's
    /// origin and the log key's name), that the tree did not shrink, that the
    /// proof starts at the cosigned size, that an equal size has an equal
    /// root, and the consistency proof.
    pub fn cosign(
        &self,
        state: &WitnessState,
        signed_checkpoint: &str,
        old_size: u64,
        consistency_proof: &[Hash],
        time_unix_s: u64,
    ) -> Result<Cosigned, WitnessRefusal> {
        let note = Note::parse(signed_checkpoint)
            .and_then(|note| note.verify(std::slice::from_ref(&self.log_key)))
            .map_err(WitnessRefusal::BadLogSignature)?;
        let checkpoint =
            Checkpoint::parse(&note.text).map_err(WitnessRefusal::MalformedCheckpoint)?;
        for expected in [state.origin.as_str(), self.log_key.name()] {
            if checkpoint.origin != expected {
                return Err(WitnessRefusal::OriginMismatch {
                    expected: expected.to_owned(),
                    found: checkpoint.origin,
                });
            }
        }
        if checkpoint.size < state.size {
            return Err(WitnessRefusal::TreeShrank {
                witnessed_size: state.size,
                checkpoint_size: checkpoint.size,
            });
        }
        if old_size != state.size {
            return Err(WitnessRefusal::OldSizeMismatch {
                claimed: old_size,
                witnessed_size: state.size,
            });
        }
        if checkpoint.size == state.size && checkpoint.root != state.root {
            return Err(WitnessRefusal::Fork {
                size: state.size,
                witnessed_root: state.root,
                checkpoint_root: checkpoint.root,
            });
        }
        verify_consistency(
            state.size,
            checkpoint.size,
            &state.root,
            &checkpoint.root,
            consistency_proof,
        )
        .map_err(|reason| WitnessRefusal::InconsistentProof {
            old_size: state.size,
            new_size: checkpoint.size,
            reason,
        })?;
        let cosignature = self
            .key
            .cosign(&note.text, time_unix_s)
            .map_err(WitnessRefusal::Signing)?;
        Ok(Cosigned {
            state: WitnessState {
                origin: checkpoint.origin.clone(),
                size: checkpoint.size,
                root: checkpoint.root,
            },
            checkpoint,
            cosignature,
        })
    }

    /// Handles a C2SP `tlog-witness` `add-checkpoint` request body.
    pub fn add_checkpoint(
        &self,
        state: &WitnessState,
        request_body: &str,
        time_unix_s: u64,
    ) -> Result<Cosigned, WitnessRefusal> {
        let request =
            AddCheckpointRequest::parse(request_body).map_err(WitnessRefusal::MalformedRequest)?;
        self.cosign(
            state,
            &request.checkpoint,
            request.old_size,
            &request.consistency_proof,
            time_unix_s,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_text_round_trips_and_rejects_garbage() {
        let state = WitnessState {
            origin: "truce.example/log".into(),
            size: 42,
            root: crate::hash::leaf_hash(b"x"),
        };
        let text = state.to_text();
        assert!(text.starts_with("truce-witness-state/v1\ntruce.example/log\n42\n"));
        assert_eq!(WitnessState::parse(&text), Ok(state));
        assert_eq!(
            WitnessState::parse("truce.example/log\n42\n"),
            Err(WitnessStateError::MissingHeader)
        );
        assert_eq!(
            WitnessState::parse(&format!("{text}extra\n")),
            Err(WitnessStateError::ExtraLines { line_count: 1 })
        );
        assert!(matches!(
            WitnessState::parse("truce-witness-state/v1\nlog\nx\n"),
            Err(WitnessStateError::Body(_))
        ));
    }

    #[test]
    fn request_text_round_trips() {
        let request = AddCheckpointRequest {
            old_size: 7,
            consistency_proof: vec![empty_root(), crate::hash::leaf_hash(b"a")],
            checkpoint: "log\n8\nAAAA\n\n— log AAAA\n".into(),
        };
        assert_eq!(AddCheckpointRequest::parse(&request.to_text()), Ok(request));
    }

    #[test]
    fn malformed_requests_are_rejected_with_reason() {
        assert_eq!(
            AddCheckpointRequest::parse("old 07\n\ncp\n"),
            Err(RequestError::InvalidOldSizeLine)
        );
        assert_eq!(
            AddCheckpointRequest::parse("new 7\n\ncp\n"),
            Err(RequestError::InvalidOldSizeLine)
        );
        assert_eq!(
            AddCheckpointRequest::parse("old 7\nAAAA\n"),
            Err(RequestError::InvalidProofLine {
                line_number: 2,
                reason: HashDecodeError::Length { length_bytes: 3 }
            })
        );
        assert_eq!(
            AddCheckpointRequest::parse("old 7\n"),
            Err(RequestError::MissingCheckpoint)
        );
        let too_many = format!(
            "old 1\n{}\ncp\n",
            format!("{}\n", empty_root().to_base64()).repeat(MAX_CONSISTENCY_PROOF_LINES + 1)
        );
        assert_eq!(
            AddCheckpointRequest::parse(&too_many),
            Err(RequestError::TooManyProofLines)
        );
    }
}
