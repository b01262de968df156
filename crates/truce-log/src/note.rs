//! C2SP `signed-note` with Ed25519 keys, and C2SP `tlog-cosignature` v1
//! (timestamped Ed25519) cosignatures.
//!
//! Key strings use the formats of Go's `golang.org/x/mod/sumdb/note`:
//!
//! * verifier key: `<name>+<key id as 8 hex digits>+<base64(type ‖ public key)>`
//! * signer key: `PRIVATE+KEY+<name>+<key id>+<base64(type ‖ 32-byte seed)>`
//!
//! where the key id is the first four bytes, big-endian, of
//! `SHA-256(name ‖ "\n" ‖ type ‖ public key)` and `type` is `0x01` for plain
//! Ed25519 note signatures or `0x04` for timestamped cosignatures.
//!
//! A signed note is `text` (ending in a newline), a blank line, then one or
//! more lines `— <key name> <base64(key id ‖ signature)>`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use crate::checkpoint::{Checkpoint, CheckpointError};

/// Most signatures a note may carry. C2SP `signed-note` requires accepting at
/// least 16; Go's implementation stops at 100 to bound verification work, and
/// so does this one.
pub const MAX_NOTE_SIGNATURES: usize = 100;

/// Prefix of every signature line: an em dash (U+2014) and a space.
pub const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// Literal prefix of signer (private) key strings, so that they cannot be
/// mistaken for verifier keys.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Header line of the message a cosignature/v1 signs (C2SP tlog-cosignature).
const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// Length of an Ed25519 public key or seed.
const ED25519_KEY_SIZE_BYTES: usize = 32;

/// Length of an Ed25519 signature.
const ED25519_SIGNATURE_SIZE_BYTES: usize = 64;

/// Length of the big-endian key id at the start of every signature.
const KEY_ID_SIZE_BYTES: usize = 4;

/// Length of the big-endian POSIX timestamp in a cosignature/v1 signature.
const TIMESTAMP_SIZE_BYTES: usize = 8;

/// Largest timestamp a cosignature may carry (C2SP: at most 2^63 − 1).
pub const MAX_COSIGNATURE_TIME_UNIX_S: u64 = i64::MAX as u64;

/// The signature algorithm a key is for, identified by its type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `0x01`: Ed25519 over the note text (C2SP signed-note). Used by logs.
    Ed25519,
    /// `0x04`: timestamped Ed25519 cosignature over
    /// `cosignature/v1\ntime <t>\n` ‖ note text (C2SP tlog-cosignature).
    /// Used by witnesses.
    CosignatureV1,
}

impl KeyType {
    /// The type byte that prefixes the key material and enters the key id.
    pub fn type_byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::CosignatureV1 => 0x04,
        }
    }

    fn from_type_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(KeyType::Ed25519),
            0x04 => Some(KeyType::CosignatureV1),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Ed25519 => "Ed25519 (type 0x01)",
            KeyType::CosignatureV1 => "Ed25519 cosignature/v1 (type 0x04)",
        })
    }
}

/// A key string could not be parsed or a key could not be made.
///
/// Messages never include secret key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A private signer key was given where a public verifier key is expected.
    #[error("this is a private signer key (PRIVATE+KEY+…), not a verifier key")]
    PrivateKeyGivenAsVerifier,
    /// A signer key does not start with `PRIVATE+KEY+`.
    #[error("a signer key must start with \"PRIVATE+KEY+\"")]
    MissingPrivateKeyPrefix,
    /// The key string does not have its `+`-separated fields.
    #[error("key must have the form <name>+<8 hex digit key id>+<base64 key material>")]
    MissingField,
    /// The key name is empty or contains a Unicode space or `+`.
    #[error("key name {name:?} is invalid: it must be non-empty UTF-8 without spaces or '+'")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The key id field is not 8 hexadecimal digits.
    #[error("key id {text:?} is not 8 hexadecimal digits")]
    InvalidKeyIdText {
        /// The rejected key id field.
        text: String,
    },
    /// The key material is not valid standard base64.
    #[error("key material is not valid standard (padded) base64")]
    InvalidBase64,
    /// The key material is empty.
    #[error("key material is empty")]
    EmptyKeyMaterial,
    /// The key type byte is not one this crate supports.
    #[error(
        "unknown key type 0x{type_byte:02x}: supported are 0x01 (Ed25519) and 0x04 (Ed25519 cosignature/v1)"
    )]
    UnknownKeyType {
        /// The rejected type byte.
        type_byte: u8,
    },
    /// The key material after the type byte is not 32 bytes.
    #[error("Ed25519 key material is {length_bytes} bytes after the type byte, expected 32")]
    WrongKeyLength {
        /// Length found.
        length_bytes: usize,
    },
    /// The stated key id does not match the one computed from name and key.
    #[error("key id {stated:08x} does not match the name and key, which give {computed:08x}")]
    KeyIdMismatch {
        /// Key id written in the key string.
        stated: u32,
        /// Key id computed from the name, type and public key.
        computed: u32,
    },
    /// The public key bytes are not a valid Ed25519 point.
    #[error("public key is not a valid Ed25519 curve point")]
    InvalidPublicKey,
}

/// Checks C2SP key name rules: non-empty, no Unicode white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The key id: `SHA-256(name ‖ "\n" ‖ type ‖ public key)[..4]`, big-endian.
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([key_type.type_byte()]);
    hasher.update(public_key);
    let digest: [u8; 32] = hasher.finalize().into();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Splits `<name>+<key id>+<base64>` and decodes the base64 part into a key
/// type and 32 bytes of key material. The base64 may itself contain `+`.
fn parse_key_fields(text: &str) -> Result<(String, u32, KeyType, [u8; 32]), KeyError> {
    let mut fields = text.splitn(3, '+');
    let (Some(name), Some(id_text), Some(material_text)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(KeyError::MissingField);
    };
    if !is_valid_key_name(name) {
        return Err(KeyError::InvalidName {
            name: name.to_owned(),
        });
    }
    let stated_id = parse_key_id(id_text)?;
    let material = BASE64
        .decode(material_text)
        .map_err(|_| KeyError::InvalidBase64)?;
    let (&type_byte, key_bytes) = material.split_first().ok_or(KeyError::EmptyKeyMaterial)?;
    let key_type =
        KeyType::from_type_byte(type_byte).ok_or(KeyError::UnknownKeyType { type_byte })?;
    let key_bytes: [u8; ED25519_KEY_SIZE_BYTES] =
        key_bytes.try_into().map_err(|_| KeyError::WrongKeyLength {
            length_bytes: key_bytes.len(),
        })?;
    Ok((name.to_owned(), stated_id, key_type, key_bytes))
}

fn parse_key_id(text: &str) -> Result<u32, KeyError> {
    let invalid = || KeyError::InvalidKeyIdText {
        text: text.to_owned(),
    };
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    u32::from_str_radix(text, 16).map_err(|_| invalid())
}

fn check_key_id(stated: u32, computed: u32) -> Result<(), KeyError> {
    if stated == computed {
        Ok(())
    } else {
        Err(KeyError::KeyIdMismatch { stated, computed })
    }
}

/// A public key that verifies note signatures, with its name and key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_type: KeyType,
    key_id: u32,
    public_key: VerifyingKey,
}

impl VerifierKey {
    /// Builds a verifier key from a name and a raw Ed25519 public key.
    pub fn from_public_key(
        name: &str,
        key_type: KeyType,
        public_key: &[u8; 32],
    ) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName {
                name: name.to_owned(),
            });
        }
        let verifying_key =
            VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(Self {
            name: name.to_owned(),
            key_type,
            key_id: key_id(name, key_type, public_key),
            public_key: verifying_key,
        })
    }

    /// Parses `<name>+<key id>+<base64(type ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        if text.starts_with(PRIVATE_KEY_PREFIX) {
            return Err(KeyError::PrivateKeyGivenAsVerifier);
        }
        let (name, stated_id, key_type, public_key) = parse_key_fields(text)?;
        check_key_id(stated_id, key_id(&name, key_type, &public_key))?;
        Self::from_public_key(&name, key_type, &public_key)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id (first four bytes of the key hash).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature algorithm.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.public_key.to_bytes()
    }

    /// Checks `signature` (the bytes after the key id) over `note_text`.
    ///
    /// Returns `None` if the signature is invalid, otherwise
    /// `Some(cosignature time)` — the time is present for cosignature/v1
    /// keys only.
    fn check(&self, note_text: &str, signature: &[u8]) -> Option<Option<u64>> {
        match self.key_type {
            KeyType::Ed25519 => {
                let bytes: &[u8; ED25519_SIGNATURE_SIZE_BYTES] = signature.try_into().ok()?;
                self.public_key
                    .verify_strict(note_text.as_bytes(), &Signature::from_bytes(bytes))
                    .ok()?;
                Some(None)
            }
            KeyType::CosignatureV1 => {
                let (time_bytes, ed25519_bytes) =
                    signature.split_at_checked(TIMESTAMP_SIZE_BYTES)?;
                let time_unix_s = u64::from_be_bytes(time_bytes.try_into().ok()?);
                if time_unix_s > MAX_COSIGNATURE_TIME_UNIX_S {
                    return None;
                }
                let bytes: &[u8; ED25519_SIGNATURE_SIZE_BYTES] = ed25519_bytes.try_into().ok()?;
                let message = cosignature_v1_message(time_unix_s, note_text);
                self.public_key
                    .verify_strict(message.as_bytes(), &Signature::from_bytes(bytes))
                    .ok()?;
                Some(Some(time_unix_s))
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = vec![self.key_type.type_byte()];
        material.extend_from_slice(self.public_key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(material)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        Self::parse(text)
    }
}

/// A private key that signs notes (type 0x01) or cosigns checkpoints
/// (type 0x04), with its name and key id.
///
/// It deliberately has no `Display`; use [`SignerKey::to_key_string`] to
/// write it out. `Debug` shows only the public parts.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key_type: KeyType,
    key_id: u32,
    signing_key: SigningKey,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_type", &self.key_type)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A note could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key is of the wrong type for the requested operation.
    #[error("key {name:?} is an {key_type} key, but {operation} needs an {required} key")]
    WrongKeyType {
        /// Name of the key.
        name: String,
        /// Type of the key.
        key_type: KeyType,
        /// Type the operation needs.
        required: KeyType,
        /// What was attempted.
        operation: &'static str,
    },
    /// The note text is not acceptable note text.
    #[error("cannot sign: {0}")]
    InvalidText(NoteError),
    /// A cosignature was requested over text that is not a checkpoint.
    #[error("cannot cosign: {0}")]
    NotACheckpoint(CheckpointError),
    /// The cosignature time exceeds 2^63 − 1.
    #[error("cosignature time {time_unix_s} exceeds the maximum 2^63-1 seconds")]
    TimeOutOfRange {
        /// The rejected time.
        time_unix_s: u64,
    },
}

impl SignerKey {
    /// Makes a key from a name and a 32-byte Ed25519 seed. The seed must be
    /// uniformly random and secret (e.g. 32 bytes from the OS random source);
    /// the same seed always gives the same key.
    pub fn from_seed(name: &str, key_type: KeyType, seed: [u8; 32]) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::InvalidName {
                name: name.to_owned(),
            });
        }
        let signing_key = SigningKey::from_bytes(&seed);
        let public_key = signing_key.verifying_key().to_bytes();
        Ok(Self {
            name: name.to_owned(),
            key_type,
            key_id: key_id(name, key_type, &public_key),
            signing_key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key id>+<base64(type ‖ seed)>`, checking
    /// that the key id matches the public key derived from the seed.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let rest = text
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(KeyError::MissingPrivateKeyPrefix)?;
        let (name, stated_id, key_type, seed) = parse_key_fields(rest)?;
        let key = Self::from_seed(&name, key_type, seed)?;
        check_key_id(stated_id, key.key_id)?;
        Ok(key)
    }

    /// The signer key string `PRIVATE+KEY+<name>+<key id>+<base64>`. Secret.
    pub fn to_key_string(&self) -> String {
        let mut material = vec![self.key_type.type_byte()];
        material.extend_from_slice(self.signing_key.as_bytes());
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(material)
        )
    }

    /// The matching public verifier key.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_type: self.key_type,
            key_id: self.key_id,
            public_key: self.signing_key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature algorithm.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    fn require(&self, required: KeyType, operation: &'static str) -> Result<(), SignError> {
        if self.key_type == required {
            Ok(())
        } else {
            Err(SignError::WrongKeyType {
                name: self.name.clone(),
                key_type: self.key_type,
                required,
                operation,
            })
        }
    }

    fn signature(&self, mut signed_bytes: Vec<u8>, message: &[u8]) -> NoteSignature {
        signed_bytes.extend_from_slice(&self.signing_key.sign(message).to_bytes());
        NoteSignature {
            key_name: self.name.clone(),
            key_id: self.key_id,
            signature: signed_bytes,
        }
    }

    /// Signs note text with a plain Ed25519 (type 0x01) key.
    pub fn sign(&self, note_text: &str) -> Result<NoteSignature, SignError> {
        self.require(KeyType::Ed25519, "signing a note")?;
        validate_text(note_text).map_err(SignError::InvalidText)?;
        Ok(self.signature(Vec::new(), note_text.as_bytes()))
    }

    /// Cosigns checkpoint note text with a cosignature/v1 (type 0x04) key,
    /// stating the time of cosigning in seconds since the POSIX epoch.
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        time_unix_s: u64,
    ) -> Result<NoteSignature, SignError> {
        self.require(KeyType::CosignatureV1, "cosigning a checkpoint")?;
        Checkpoint::parse(checkpoint_text).map_err(SignError::NotACheckpoint)?;
        if time_unix_s > MAX_COSIGNATURE_TIME_UNIX_S {
            return Err(SignError::TimeOutOfRange { time_unix_s });
        }
        let message = cosignature_v1_message(time_unix_s, checkpoint_text);
        Ok(self.signature(time_unix_s.to_be_bytes().to_vec(), message.as_bytes()))
    }
}

/// The message a cosignature/v1 signs: `cosignature/v1\ntime <t>\n` followed
/// by the note text.
fn cosignature_v1_message(time_unix_s: u64, note_text: &str) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {time_unix_s}\n{note_text}")
}

/// One signature line of a note: key name, key id and signature bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Name of the signing key.
    pub key_name: String,
    /// Key id of the signing key.
    pub key_id: u32,
    /// The signature bytes after the key id: 64 bytes for Ed25519, or an
    /// 8-byte big-endian time followed by 64 bytes for cosignature/v1.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line `— <name> <base64(key id ‖ signature)>` with its final newline.
    pub fn to_line(&self) -> String {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.key_name,
            BASE64.encode(bytes)
        )
    }

    /// Parses one signature line, with or without its final newline.
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let malformed = |reason| NoteError::MalformedSignatureLine {
            line: line.to_owned(),
            reason,
        };
        let rest = line
            .strip_prefix(SIGNATURE_LINE_PREFIX)
            .ok_or_else(|| malformed("it does not start with an em dash (U+2014) and a space"))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("there is no space between key name and signature"))?;
        if !is_valid_key_name(name) {
            return Err(malformed(
                "the key name is empty or contains a space or '+'",
            ));
        }
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| malformed("the signature is not valid standard base64"))?;
        if bytes.len() <= KEY_ID_SIZE_BYTES {
            return Err(malformed(
                "the signature is too short to hold a key id and a signature",
            ));
        }
        let (id_bytes, signature) = bytes.split_at(KEY_ID_SIZE_BYTES);
        Ok(Self {
            key_name: name.to_owned(),
            key_id: u32::from_be_bytes(id_bytes.try_into().expect("split at the key id size")),
            signature: signature.to_vec(),
        })
    }
}

/// A note could not be parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note contains an ASCII control character other than newline.
    #[error(
        "note contains control character U+{code:04X} at byte {offset_bytes}; only newline is allowed"
    )]
    ControlCharacter {
        /// The character's code point.
        code: u32,
        /// Byte offset in the note.
        offset_bytes: usize,
    },
    /// The note text does not end in a newline.
    #[error("note text must end with a newline")]
    TextMissingFinalNewline,
    /// There is no blank line separating text and signatures.
    #[error("note has no blank line separating the text from the signatures")]
    MissingSignatureBlock,
    /// The signature block is empty or does not end in a newline.
    #[error("note's signature block must be one or more lines, each ending in a newline")]
    UnterminatedSignatureBlock,
    /// A signature line is malformed.
    #[error("malformed signature line {line:?}: {reason}")]
    MalformedSignatureLine {
        /// The offending line (signatures are public).
        line: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The note carries more signatures than [`MAX_NOTE_SIGNATURES`].
    #[error("note has more than {MAX_NOTE_SIGNATURES} signatures")]
    TooManySignatures,
    /// Two known keys share a name and key id, so a signature is ambiguous.
    #[error(
        "two known keys are named {name:?} with key id {key_id:08x}; the key list is misconfigured"
    )]
    AmbiguousKey {
        /// Shared name.
        name: String,
        /// Shared key id.
        key_id: u32,
    },
    /// A signature by a known key does not verify: the note is rejected.
    #[error("signature by known key {name}+{key_id:08x} does not verify")]
    InvalidSignature {
        /// Name of the key.
        name: String,
        /// Key id of the key.
        key_id: u32,
    },
    /// No signature is by a known key.
    #[error("note has no signature by a known key (signed by: {signers})")]
    NoKnownSignature {
        /// The `name+keyid` of every signature found, comma-separated.
        signers: String,
    },
}

/// Checks that a note (text or whole message) has only newline as control
/// character. `&str` is already valid UTF-8.
fn check_characters(message: &str) -> Result<(), NoteError> {
    match message.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((offset_bytes, c)) => Err(NoteError::ControlCharacter {
            code: u32::from(c),
            offset_bytes,
        }),
        None => Ok(()),
    }
}

fn validate_text(text: &str) -> Result<(), NoteError> {
    check_characters(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::TextMissingFinalNewline);
    }
    Ok(())
}

/// A note: text and the signatures found on it, verified or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, including its final newline.
    pub text: String,
    /// Signatures in the order they appear.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// A note with the given text and no signatures yet.
    pub fn new(text: &str) -> Result<Self, NoteError> {
        validate_text(text)?;
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note: text, blank line, signature lines. Signatures
    /// are not verified here; see [`Note::verify`].
    pub fn parse(message: &str) -> Result<Self, NoteError> {
        check_characters(message)?;
        let split = message
            .rfind("\n\n")
            .ok_or(NoteError::MissingSignatureBlock)?;
        let (text, signature_block) = (&message[..=split], &message[split + 2..]);
        if signature_block.is_empty() || !signature_block.ends_with('\n') {
            return Err(NoteError::UnterminatedSignatureBlock);
        }
        let lines: Vec<&str> = signature_block.split_terminator('\n').collect();
        if lines.len() > MAX_NOTE_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let signatures = lines
            .into_iter()
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Adds a signature, replacing any existing one by the same key (same
    /// name and key id).
    pub fn add_signature(&mut self, signature: NoteSignature) {
        self.signatures
            .retain(|s| !(s.key_name == signature.key_name && s.key_id == signature.key_id));
        self.signatures.push(signature);
    }

    /// The whole signed note: text, blank line, one line per signature.
    pub fn to_message(&self) -> String {
        let mut message = self.text.clone();
        message.push('\n');
        for signature in &self.signatures {
            message.push_str(&signature.to_line());
        }
        message
    }

    /// Verifies the signatures by `known` keys, following C2SP signed-note:
    ///
    /// * a signature whose (name, key id) matches no known key is ignored and
    ///   listed as unverified;
    /// * a signature by a known key that fails to verify rejects the note;
    /// * repeated signatures by one key are checked once;
    /// * at least one signature by a known key must verify.
    pub fn verify(&self, known: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        let mut unverified: Vec<NoteSignature> = Vec::new();
        for signature in &self.signatures {
            let mut matching = known
                .iter()
                .filter(|k| k.name == signature.key_name && k.key_id == signature.key_id);
            let Some(key) = matching.next() else {
                if !unverified.contains(signature) {
                    unverified.push(signature.clone());
                }
                continue;
            };
            if matching.next().is_some() {
                return Err(NoteError::AmbiguousKey {
                    name: key.name.clone(),
                    key_id: key.key_id,
                });
            }
            if verified.iter().any(|v| v.key == *key) {
                continue;
            }
            let time_unix_s = key.check(&self.text, &signature.signature).ok_or_else(|| {
                NoteError::InvalidSignature {
                    name: key.name.clone(),
                    key_id: key.key_id,
                }
            })?;
            verified.push(VerifiedSignature {
                key: key.clone(),
                signature: signature.clone(),
                time_unix_s,
            });
        }
        if verified.is_empty() {
            let signers = self
                .signatures
                .iter()
                .map(|s| format!("{}+{:08x}", s.key_name, s.key_id))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(NoteError::NoKnownSignature { signers });
        }
        Ok(VerifiedNote {
            text: self.text.clone(),
            verified,
            unverified,
        })
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_message())
    }
}

/// A signature that verified against a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The key that verified it.
    pub key: VerifierKey,
    /// The signature as found in the note.
    pub signature: NoteSignature,
    /// For cosignature/v1 keys, the time the cosigner stated, in seconds
    /// since the POSIX epoch; `None` for plain Ed25519 signatures.
    pub time_unix_s: Option<u64>,
}

/// A note whose signatures by known keys all verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The signed text.
    pub text: String,
    /// Signatures by known keys, all valid, at most one per key.
    pub verified: Vec<VerifiedSignature>,
    /// Signatures by unknown keys (not checked), without exact duplicates.
    pub unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The verified signature by the key named `name`, if any.
    pub fn signature_by(&self, name: &str) -> Option<&VerifiedSignature> {
        self.verified.iter().find(|v| v.key.name == name)
    }
}

/// Parses a signed note and verifies it against `known` keys
/// ([`Note::parse`] then [`Note::verify`]).
pub fn open_note(message: &str, known: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    Note::parse(message)?.verify(known)
}

/// Signs `text` with each signer (which must be plain Ed25519 keys) and
/// returns the signed note message.
pub fn sign_note(text: &str, signers: &[&SignerKey]) -> Result<String, SignError> {
    let mut note = Note::new(text).map_err(SignError::InvalidText)?;
    for signer in signers {
        note.add_signature(signer.sign(text)?);
    }
    Ok(note.to_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];

    #[test]
    fn key_strings_round_trip_for_both_types() {
        for key_type in [KeyType::Ed25519, KeyType::CosignatureV1] {
            let signer = SignerKey::from_seed("example.org/log", key_type, SEED).unwrap();
            let reparsed = SignerKey::parse(&signer.to_key_string()).unwrap();
            assert_eq!(reparsed.key_id(), signer.key_id());
            assert_eq!(reparsed.verifier_key(), signer.verifier_key());
            let verifier_text = signer.verifier_key().to_string();
            assert_eq!(
                VerifierKey::parse(&verifier_text).unwrap(),
                signer.verifier_key()
            );
        }
        let plain = SignerKey::from_seed("n", KeyType::Ed25519, SEED).unwrap();
        let cosigning = SignerKey::from_seed("n", KeyType::CosignatureV1, SEED).unwrap();
        assert_ne!(
            plain.key_id(),
            cosigning.key_id(),
            "the type byte enters the key id"
        );
    }

    #[test]
    fn signer_debug_output_hides_the_seed() {
        let signer = SignerKey::from_seed("n", KeyType::Ed25519, SEED).unwrap();
        let debug = format!("{signer:?}");
        let secret = signer.to_key_string();
        let seed_base64 = secret.rsplit('+').next().unwrap();
        assert!(!debug.contains(seed_base64), "{debug}");
        assert!(debug.contains("\"n\""));
    }

    #[test]
    fn key_errors_say_what_is_wrong() {
        let signer = SignerKey::from_seed("log", KeyType::Ed25519, SEED).unwrap();
        assert_eq!(
            VerifierKey::parse(&signer.to_key_string()),
            Err(KeyError::PrivateKeyGivenAsVerifier)
        );
        assert_eq!(
            SignerKey::parse(&signer.verifier_key().to_string()).unwrap_err(),
            KeyError::MissingPrivateKeyPrefix
        );
        assert_eq!(VerifierKey::parse("log+1234"), Err(KeyError::MissingField));
        assert_eq!(
            VerifierKey::parse("log+12345678+!!!!"),
            Err(KeyError::InvalidBase64)
        );
        assert_eq!(
            VerifierKey::parse("log+1234567g+AQ=="),
            Err(KeyError::InvalidKeyIdText {
                text: "1234567g".into()
            })
        );
        assert_eq!(
            VerifierKey::parse("log+12345678+"),
            Err(KeyError::EmptyKeyMaterial)
        );
        assert_eq!(
            VerifierKey::parse("log+12345678+AwEB"),
            Err(KeyError::UnknownKeyType { type_byte: 3 })
        );
        assert_eq!(
            VerifierKey::parse("log+12345678+AQEB"),
            Err(KeyError::WrongKeyLength { length_bytes: 2 })
        );
        assert!(matches!(
            SignerKey::from_seed("has space", KeyType::Ed25519, SEED),
            Err(KeyError::InvalidName { .. })
        ));
        let wrong_id = format!(
            "log+00000000+{}",
            signer
                .verifier_key()
                .to_string()
                .rsplit_once('+')
                .unwrap()
                .1
        );
        assert_eq!(
            VerifierKey::parse(&wrong_id),
            Err(KeyError::KeyIdMismatch {
                stated: 0,
                computed: signer.key_id()
            })
        );
    }

    #[test]
    fn key_names_follow_c2sp_rules() {
        assert!(is_valid_key_name("example.com/log42"));
        assert!(!is_valid_key_name(""));
        assert!(!is_valid_key_name("a+b"));
        assert!(!is_valid_key_name("a b"));
        assert!(!is_valid_key_name("a\u{00a0}b"));
        assert!(!is_valid_key_name("a\u{3000}b"));
    }

    #[test]
    fn wrong_key_type_is_refused_for_each_operation() {
        let plain = SignerKey::from_seed("log", KeyType::Ed25519, SEED).unwrap();
        let cosigner = SignerKey::from_seed("w", KeyType::CosignatureV1, SEED).unwrap();
        let checkpoint = "log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        assert!(matches!(
            plain.cosign(checkpoint, 1),
            Err(SignError::WrongKeyType { .. })
        ));
        assert!(matches!(
            cosigner.sign(checkpoint),
            Err(SignError::WrongKeyType { .. })
        ));
        assert!(matches!(
            cosigner.cosign("not a checkpoint\n", 1),
            Err(SignError::NotACheckpoint(_))
        ));
        assert_eq!(
            cosigner.cosign(checkpoint, MAX_COSIGNATURE_TIME_UNIX_S + 1),
            Err(SignError::TimeOutOfRange {
                time_unix_s: MAX_COSIGNATURE_TIME_UNIX_S + 1
            })
        );
        assert_eq!(
            plain.sign("no newline"),
            Err(SignError::InvalidText(NoteError::TextMissingFinalNewline))
        );
    }

    #[test]
    fn cosignature_signs_the_cosignature_v1_message() {
        let cosigner = SignerKey::from_seed("w", KeyType::CosignatureV1, SEED).unwrap();
        let checkpoint = "log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let signature = cosigner.cosign(checkpoint, 1_679_315_147).unwrap();
        assert_eq!(signature.signature.len(), 72);
        assert_eq!(&signature.signature[..8], &1_679_315_147u64.to_be_bytes());
        let message = format!("cosignature/v1\ntime 1679315147\n{checkpoint}");
        let ed25519 = Signature::from_bytes(signature.signature[8..].try_into().unwrap());
        assert!(
            cosigner
                .signing_key
                .verifying_key()
                .verify_strict(message.as_bytes(), &ed25519)
                .is_ok()
        );
    }
}
