//! C2SP `tlog-checkpoint`: the signed tree head, and quorum verification of a
//! checkpoint signed by the log and cosigned by witnesses.
//!
//! The checkpoint body (the note text) is:
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, standard base64>
//! [extension lines, each non-empty]
//! ```
//!
//! Every line ends with a newline.

use crate::hash::{Hash, HashDecodeError};
use crate::note::{
    Note, NoteError, SignError, SignerKey, VerifiedNote, VerifiedSignature, VerifierKey,
};

/// A checkpoint body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text contains a control character or lacks its final newline.
    #[error("checkpoint is not valid note text: {0}")]
    InvalidText(NoteError),
    /// Fewer than the three mandatory lines.
    #[error("checkpoint has {line_count} lines, expected at least 3 (origin, size, root hash)")]
    TooFewLines {
        /// Lines found.
        line_count: usize,
    },
    /// A line is empty (origin or an extension line).
    #[error("checkpoint line {line_number} is empty")]
    EmptyLine {
        /// 1-based line number.
        line_number: usize,
    },
    /// The size line is not a canonical decimal `u64`.
    #[error(
        "checkpoint tree size {text:?} is not a decimal number without leading zeros below 2^64"
    )]
    InvalidSize {
        /// The size line.
        text: String,
    },
    /// The root hash line is not a base64 SHA-256 hash.
    #[error("checkpoint root hash is invalid: {0}")]
    InvalidRoot(HashDecodeError),
}

/// A checkpoint: the log's origin, a tree size and the root hash at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identifier of the log, e.g. `truce.example/log`. In Truce it is
    /// also the name of the log's signing key.
    pub origin: String,
    /// Number of entries in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree at `size`.
    pub root: Hash,
    /// Optional extension lines (not recommended by C2SP; not auditable).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: one line each for origin, size, root and extensions.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for extension in &self.extensions {
            text.push_str(extension);
            text.push('\n');
        }
        text
    }

    /// Parses checkpoint note text. Formatting the result with
    /// [`Checkpoint::to_text`] gives back exactly `text`.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::InvalidText(
            NoteError::TextMissingFinalNewline,
        ))?;
        if let Some(offset_bytes) = body.find(|c: char| c < ' ' && c != '\n') {
            let code = u32::from(body[offset_bytes..].chars().next().expect("found a char"));
            return Err(CheckpointError::InvalidText(NoteError::ControlCharacter {
                code,
                offset_bytes,
            }));
        }
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(CheckpointError::TooFewLines {
                line_count: lines.len(),
            });
        }
        if let Some(empty) = lines.iter().position(|line| line.is_empty()) {
            return Err(CheckpointError::EmptyLine {
                line_number: empty + 1,
            });
        }
        Ok(Self {
            origin: lines[0].to_owned(),
            size: parse_canonical_decimal(lines[1]).ok_or_else(|| {
                CheckpointError::InvalidSize {
                    text: lines[1].to_owned(),
                }
            })?,
            root: Hash::from_base64(lines[2]).map_err(CheckpointError::InvalidRoot)?,
            extensions: lines[3..].iter().map(|line| (*line).to_owned()).collect(),
        })
    }

    /// Signs the checkpoint with the log's Ed25519 key and returns the signed
    /// note message.
    pub fn sign(&self, log_key: &SignerKey) -> Result<String, SignError> {
        let text = self.to_text();
        let mut note = Note::new(&text).map_err(SignError::InvalidText)?;
        note.add_signature(log_key.sign(&text)?);
        Ok(note.to_message())
    }
}

/// Parses ASCII decimal with no sign and no leading zeros (except `0`).
pub(crate) fn parse_canonical_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// A signed checkpoint did not satisfy the verification policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// The signed note is malformed, or a signature by a known key is bad,
    /// or no known key signed it.
    #[error("checkpoint note rejected: {0}")]
    Note(NoteError),
    /// The note verified (witnesses signed) but the log's signature is absent.
    #[error("checkpoint is not signed by the log key {log_key}")]
    MissingLogSignature {
        /// `name+keyid` of the log key.
        log_key: String,
    },
    /// The signed text is not a checkpoint.
    #[error("signed note is not a checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// The checkpoint's origin is not the name of the log key.
    #[error("checkpoint origin {origin:?} is not the log key name {log_key_name:?}")]
    OriginMismatch {
        /// Origin line of the checkpoint.
        origin: String,
        /// Name of the log key.
        log_key_name: String,
    },
    /// A required witness name has no key in the witness key list.
    #[error("required witness {name:?} has no key among the configured witness keys")]
    RequiredWitnessNotConfigured {
        /// The required name.
        name: String,
    },
    /// Required witnesses did not cosign.
    #[error("checkpoint lacks cosignatures from required witnesses: {}", missing.join(", "))]
    MissingCosignatures {
        /// Names of the required witnesses without a valid cosignature.
        missing: Vec<String>,
    },
}

/// A checkpoint that satisfied a verification policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The log's valid signature.
    pub log_signature: VerifiedSignature,
    /// Valid signatures by configured witness keys (required or not).
    pub cosignatures: Vec<VerifiedSignature>,
}

/// Verifies a signed checkpoint against the log key only.
pub fn verify_checkpoint(
    message: &str,
    log_key: &VerifierKey,
) -> Result<VerifiedCheckpoint, QuorumError> {
    verify_quorum(message, log_key, &[], &[])
}

/// Verifies a signed checkpoint under the policy "signed by the log and
/// cosigned by every witness named in `required_witnesses`", for example the
/// log plus both parties' witnesses.
///
/// Signatures by keys in neither `log_key` nor `witness_keys` are ignored; a
/// bad signature by any of those keys rejects the checkpoint. The checkpoint
/// origin must equal the log key's name.
pub fn verify_quorum(
    message: &str,
    log_key: &VerifierKey,
    witness_keys: &[VerifierKey],
    required_witnesses: &[&str],
) -> Result<VerifiedCheckpoint, QuorumError> {
    if let Some(name) = required_witnesses
        .iter()
        .find(|name| !witness_keys.iter().any(|key| key.name() == **name))
    {
        return Err(QuorumError::RequiredWitnessNotConfigured {
            name: (*name).to_owned(),
        });
    }
    let mut known = Vec::with_capacity(1 + witness_keys.len());
    known.push(log_key.clone());
    known.extend_from_slice(witness_keys);
    let note: VerifiedNote = Note::parse(message)
        .and_then(|note| note.verify(&known))
        .map_err(QuorumError::Note)?;
    let (log_signatures, cosignatures): (Vec<_>, Vec<_>) = note
        .verified
        .into_iter()
        .partition(|signature| signature.key == *log_key);
    let log_signature =
        log_signatures
            .into_iter()
            .next()
            .ok_or_else(|| QuorumError::MissingLogSignature {
                log_key: format!("{}+{:08x}", log_key.name(), log_key.key_id()),
            })?;
    let checkpoint = Checkpoint::parse(&note.text).map_err(QuorumError::Checkpoint)?;
    if checkpoint.origin != log_key.name() {
        return Err(QuorumError::OriginMismatch {
            origin: checkpoint.origin,
            log_key_name: log_key.name().to_owned(),
        });
    }
    let missing: Vec<String> = required_witnesses
        .iter()
        .filter(|name| !cosignatures.iter().any(|c| c.key.name() == **name))
        .map(|name| (*name).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(QuorumError::MissingCosignatures { missing });
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        log_signature,
        cosignatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::empty_root;

    #[test]
    fn checkpoint_text_round_trips_exactly() {
        let mut checkpoint = Checkpoint::new("example.com/log", 20_852_163, empty_root());
        assert_eq!(
            Checkpoint::parse(&checkpoint.to_text()),
            Ok(checkpoint.clone())
        );
        checkpoint.extensions.push("ext one".into());
        let text = checkpoint.to_text();
        assert!(text.ends_with("\next one\n"));
        assert_eq!(Checkpoint::parse(&text), Ok(checkpoint));
    }

    #[test]
    fn c2sp_example_checkpoint_body_parses() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let checkpoint = Checkpoint::parse(text).unwrap();
        assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size, 20_852_163);
        assert_eq!(checkpoint.to_text(), text);
    }

    #[test]
    fn malformed_checkpoints_are_rejected_with_reason() {
        let root = empty_root().to_base64();
        let cases: Vec<(String, CheckpointError)> = vec![
            (
                format!("log\n1\n{root}"),
                CheckpointError::InvalidText(NoteError::TextMissingFinalNewline),
            ),
            (
                "log\n1\n".into(),
                CheckpointError::TooFewLines { line_count: 2 },
            ),
            (
                format!("\n1\n{root}\n"),
                CheckpointError::EmptyLine { line_number: 1 },
            ),
            (
                format!("log\n1\n{root}\n\n"),
                CheckpointError::EmptyLine { line_number: 4 },
            ),
            (
                format!("log\n01\n{root}\n"),
                CheckpointError::InvalidSize { text: "01".into() },
            ),
            (
                format!("log\n+1\n{root}\n"),
                CheckpointError::InvalidSize { text: "+1".into() },
            ),
            (
                format!("log\n18446744073709551616\n{root}\n"),
                CheckpointError::InvalidSize {
                    text: "18446744073709551616".into(),
                },
            ),
            (
                "log\n1\nAAAA\n".into(),
                CheckpointError::InvalidRoot(HashDecodeError::Length { length_bytes: 3 }),
            ),
            (
                format!("lo\tg\n1\n{root}\n"),
                CheckpointError::InvalidText(NoteError::ControlCharacter {
                    code: 9,
                    offset_bytes: 2,
                }),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Checkpoint::parse(&text), Err(expected), "{text:?}");
        }
        assert_eq!(parse_canonical_decimal("0"), Some(0));
        assert_eq!(parse_canonical_decimal(""), None);
        assert_eq!(parse_canonical_decimal("00"), None);
    }
}
