//! RFC 6962 / RFC 9162 Merkle tree hashing with SHA-256.
//!
//! Leaves and interior nodes are domain-separated by a one-byte prefix so that
//! a leaf can never be confused with an interior node (second-preimage
//! resistance of the tree):
//!
//! * leaf hash: `SHA-256(0x00 ‖ entry)`
//! * node hash: `SHA-256(0x01 ‖ left ‖ right)`
//! * root of the empty tree: `SHA-256("")`

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest as _, Sha256};

/// Size of a SHA-256 hash, the only hash function used by the log.
pub const HASH_SIZE_BYTES: usize = 32;

/// Prefix byte of a leaf hash input (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;

/// Prefix byte of an interior node hash input (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE_BYTES]);

/// A hash given as text or bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashDecodeError {
    /// The base64 text is not valid standard (RFC 4648 §4, padded) base64.
    #[error("hash {text:?} is not valid standard base64")]
    Base64 {
        /// The text that failed to decode.
        text: String,
    },
    /// The hexadecimal text contains a character outside `0-9a-fA-F`.
    #[error("hash {text:?} is not valid hexadecimal")]
    Hex {
        /// The text that failed to decode.
        text: String,
    },
    /// The decoded value does not have the length of a SHA-256 hash.
    #[error("hash is {length_bytes} bytes long, expected {HASH_SIZE_BYTES}")]
    Length {
        /// Length of the decoded value.
        length_bytes: usize,
    },
}

impl Hash {
    /// Builds a hash from a byte slice, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashDecodeError> {
        let array: [u8; HASH_SIZE_BYTES] =
            bytes.try_into().map_err(|_| HashDecodeError::Length {
                length_bytes: bytes.len(),
            })?;
        Ok(Self(array))
    }

    /// The 32 raw bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE_BYTES] {
        &self.0
    }

    /// Standard padded base64, as used in checkpoints and proof lines.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Decodes standard padded base64 (44 characters for a SHA-256 hash).
    pub fn from_base64(text: &str) -> Result<Self, HashDecodeError> {
        let bytes = BASE64.decode(text).map_err(|_| HashDecodeError::Base64 {
            text: text.to_owned(),
        })?;
        Self::from_slice(&bytes)
    }

    /// Lower-case hexadecimal (64 characters).
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(2 * HASH_SIZE_BYTES);
        for byte in self.0 {
            out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Decodes 64 hexadecimal digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, HashDecodeError> {
        Self::from_slice(&decode_hex(text)?)
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Decodes a string of hexadecimal digit pairs into bytes.
pub(crate) fn decode_hex(text: &str) -> Result<Vec<u8>, HashDecodeError> {
    let hex_error = || HashDecodeError::Hex {
        text: text.to_owned(),
    };
    if !text.len().is_multiple_of(2) {
        return Err(hex_error());
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16).ok_or_else(hex_error)?;
            let low = char::from(pair[1]).to_digit(16).ok_or_else(hex_error)?;
            // Both digits are below 16, so the value fits a byte.
            Ok((high * 16 + low) as u8)
        })
        .collect()
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<[u8; HASH_SIZE_BYTES]> for Hash {
    fn from(bytes: [u8; HASH_SIZE_BYTES]) -> Self {
        Self(bytes)
    }
}

/// SHA-256 of arbitrary bytes.
pub fn sha256(data: &[u8]) -> Hash {
    Hash(Sha256::digest(data).into())
}

/// RFC 6962 leaf hash: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

/// RFC 6962 interior node hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// Root hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    sha256(b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concatenated = vec![NODE_PREFIX];
        concatenated.extend_from_slice(&a.0);
        concatenated.extend_from_slice(&b.0);
        assert_eq!(node_hash(&a, &b), sha256(&concatenated));
        // A leaf whose content is `0x01 ‖ a ‖ b` minus the prefix does not
        // collide with the node.
        assert_ne!(leaf_hash(&concatenated[1..]), node_hash(&a, &b));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn hex_and_base64_round_trip() {
        let hash = leaf_hash(b"round trip");
        assert_eq!(Hash::from_hex(&hash.to_hex()), Ok(hash));
        assert_eq!(Hash::from_hex(&hash.to_hex().to_uppercase()), Ok(hash));
        assert_eq!(Hash::from_base64(&hash.to_base64()), Ok(hash));
        assert_eq!(hash.to_base64().len(), 44);
    }

    #[test]
    fn malformed_hash_text_is_rejected_with_reason() {
        assert_eq!(
            Hash::from_hex("abc"),
            Err(HashDecodeError::Hex { text: "abc".into() })
        );
        assert_eq!(
            Hash::from_hex("zz"),
            Err(HashDecodeError::Hex { text: "zz".into() })
        );
        assert_eq!(
            Hash::from_hex("00ff"),
            Err(HashDecodeError::Length { length_bytes: 2 })
        );
        assert!(matches!(
            Hash::from_base64("not base64!"),
            Err(HashDecodeError::Base64 { .. })
        ));
        assert_eq!(
            Hash::from_base64("AAAA"),
            Err(HashDecodeError::Length { length_bytes: 3 })
        );
    }
}
