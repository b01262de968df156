//! C2SP `tlog-proof`: a self-contained, offline-verifiable proof that an
//! entry is in the log, bundling the index, the inclusion proof and the
//! (cosigned) checkpoint:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]
//! index <leaf index>
//! <base64 inclusion proof hash>   (zero or more lines, leaf side first)
//!
//! <signed checkpoint note>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{QuorumError, VerifiedCheckpoint, parse_canonical_decimal, verify_quorum};
use crate::hash::{Hash, HashDecodeError, leaf_hash};
use crate::note::VerifierKey;
use crate::proof::{VerifyError, verify_inclusion};

/// First line of every tlog-proof.
const HEADER: &str = "c2sp.org/tlog-proof@v1\n";

/// Most inclusion proof lines accepted: a tree of `u64` size has at most 64
/// levels below the root.
const MAX_INCLUSION_PROOF_LINES: usize = 64;

/// A tlog-proof: entry index, inclusion proof and signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Optional unauthenticated application data.
    pub extra: Option<Vec<u8>>,
    /// Index of the entry in the log.
    pub index: u64,
    /// Inclusion proof of the entry in the checkpoint's tree.
    pub inclusion_proof: Vec<Hash>,
    /// The signed (and possibly cosigned) checkpoint note message.
    pub checkpoint: String,
}

/// A tlog-proof could not be parsed or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("proof must start with the line \"c2sp.org/tlog-proof@v1\"")]
    MissingHeader,
    /// The `extra` line is not valid base64.
    #[error("the extra line is not valid standard base64")]
    InvalidExtra,
    /// The `index` line is missing or not a canonical decimal.
    #[error("proof must have a line \"index <decimal>\" after the header")]
    InvalidIndexLine,
    /// An inclusion proof line is not a base64 hash.
    #[error("inclusion proof line {line_number} is not a base64 SHA-256 hash: {reason}")]
    InvalidProofLine {
        /// 1-based line number.
        line_number: usize,
        /// Why it does not decode.
        reason: HashDecodeError,
    },
    /// More inclusion proof lines than any tree can need.
    #[error("proof has more than {MAX_INCLUSION_PROOF_LINES} inclusion proof lines")]
    TooManyProofLines,
    /// No blank line and checkpoint after the proof lines.
    #[error("proof has no blank line followed by a checkpoint")]
    MissingCheckpoint,
    /// The checkpoint does not satisfy the signature policy.
    #[error("checkpoint rejected: {0}")]
    Checkpoint(QuorumError),
    /// The entry is not included at the index in the checkpoint's tree.
    #[error("entry is not proven included at index {index}: {reason}")]
    NotIncluded {
        /// The claimed index.
        index: u64,
        /// Why the inclusion proof failed.
        reason: VerifyError,
    },
}

impl TlogProof {
    /// The proof text.
    pub fn to_text(&self) -> String {
        let mut text = HEADER.to_owned();
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        for hash in &self.inclusion_proof {
            text.push_str(&hash.to_base64());
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses proof text. The checkpoint is not verified here.
    pub fn parse(text: &str) -> Result<Self, TlogProofError> {
        let mut rest = text
            .strip_prefix(HEADER)
            .ok_or(TlogProofError::MissingHeader)?;
        let next_line = |rest: &mut &str| -> Result<String, TlogProofError> {
            let (line, after) = rest
                .split_once('\n')
                .ok_or(TlogProofError::MissingCheckpoint)?;
            *rest = after;
            Ok(line.to_owned())
        };
        let mut line = next_line(&mut rest)?;
        let mut line_number = 2;
        let extra = match line.strip_prefix("extra ") {
            Some(encoded) => {
                let extra = BASE64
                    .decode(encoded)
                    .map_err(|_| TlogProofError::InvalidExtra)?;
                line = next_line(&mut rest)?;
                line_number += 1;
                Some(extra)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_decimal)
            .ok_or(TlogProofError::InvalidIndexLine)?;
        let mut inclusion_proof = Vec::new();
        loop {
            let line = next_line(&mut rest)?;
            line_number += 1;
            if line.is_empty() {
                break;
            }
            if inclusion_proof.len() == MAX_INCLUSION_PROOF_LINES {
                return Err(TlogProofError::TooManyProofLines);
            }
            inclusion_proof.push(Hash::from_base64(&line).map_err(|reason| {
                TlogProofError::InvalidProofLine {
                    line_number,
                    reason,
                }
            })?);
        }
        if rest.is_empty() {
            return Err(TlogProofError::MissingCheckpoint);
        }
        Ok(Self {
            extra,
            index,
            inclusion_proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies that `entry` is at `index` in the log, under the checkpoint
    /// policy of [`verify_quorum`] (log signature plus the required
    /// witnesses' cosignatures).
    pub fn verify(
        &self,
        entry: &[u8],
        log_key: &VerifierKey,
        witness_keys: &[VerifierKey],
        required_witnesses: &[&str],
    ) -> Result<VerifiedCheckpoint, TlogProofError> {
        let verified = verify_quorum(&self.checkpoint, log_key, witness_keys, required_witnesses)
            .map_err(TlogProofError::Checkpoint)?;
        verify_inclusion(
            &leaf_hash(entry),
            self.index,
            verified.checkpoint.size,
            &self.inclusion_proof,
            &verified.checkpoint.root,
        )
        .map_err(|reason| TlogProofError::NotIncluded {
            index: self.index,
            reason,
        })?;
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::empty_root;

    #[test]
    fn proof_text_round_trips_with_and_without_extra() {
        let mut proof = TlogProof {
            extra: None,
            index: 73_894,
            inclusion_proof: vec![empty_root(), leaf_hash(b"x")],
            checkpoint: "log\n1\nAAAA\n\n— log AAAA\n".into(),
        };
        let text = proof.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 73894\n"));
        assert_eq!(TlogProof::parse(&text), Ok(proof.clone()));
        proof.extra = Some(b"age-v1.2.1".to_vec());
        let text = proof.to_text();
        assert!(text.contains("\nextra YWdlLXYxLjIuMQ==\nindex"));
        assert_eq!(TlogProof::parse(&text), Ok(proof));
    }

    #[test]
    fn malformed_proofs_are_rejected_with_reason() {
        assert_eq!(
            TlogProof::parse("index 1\n"),
            Err(TlogProofError::MissingHeader)
        );
        assert_eq!(
            TlogProof::parse("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\ncp\n"),
            Err(TlogProofError::InvalidExtra)
        );
        assert_eq!(
            TlogProof::parse("c2sp.org/tlog-proof@v1\nindex -1\n\ncp\n"),
            Err(TlogProofError::InvalidIndexLine)
        );
        assert_eq!(
            TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\ncp\n"),
            Err(TlogProofError::InvalidProofLine {
                line_number: 3,
                reason: HashDecodeError::Length { length_bytes: 3 }
            })
        );
        assert_eq!(
            TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 1\n\n"),
            Err(TlogProofError::MissingCheckpoint)
        );
        let too_many = format!(
            "c2sp.org/tlog-proof@v1\nindex 1\n{}\ncp\n",
            format!("{}\n", empty_root().to_base64()).repeat(MAX_INCLUSION_PROOF_LINES + 1)
        );
        assert_eq!(
            TlogProof::parse(&too_many),
            Err(TlogProofError::TooManyProofLines)
        );
    }
}
