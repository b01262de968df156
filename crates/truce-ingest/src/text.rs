//! Bytes to text, and the small helpers every adapter shares: the raw text kept for a record,
//! clipped remarks, content-derived ids and the final validation.

use std::borrow::Cow;

use sha2::{Digest, Sha256};
use truce_core::canonical::to_canonical_json;
use truce_core::observation::{MAX_REMARKS_BYTES, Observation};

use crate::MAX_RAW_BYTES;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The bytes without a leading UTF-8 byte-order mark (Excel writes one on "CSV UTF-8").
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// The text of a file whose byte-order mark says UTF-16 (Excel's "Unicode text"), else that is
/// UTF-8 with or without BOM (borrowed), else Windows-1252 — what Excel and older exports on
/// Windows write, and what the real UCDP GED extract contains (0x92 for ’). Windows-1252 maps
/// every byte to a character, so this never fails; a file in yet another encoding comes out as
/// readable-but-wrong characters, which the raw text then shows.
pub(crate) fn decode_text(bytes: &[u8]) -> Cow<'_, str> {
    if let Some(utf16) = decode_utf16_with_bom(bytes) {
        return Cow::Owned(utf16);
    }
    let bytes = strip_bom(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// The text of a file that starts with a UTF-16 byte-order mark (malformed pairs replaced).
pub(crate) fn decode_utf16_with_bom(bytes: &[u8]) -> Option<String> {
    let (encoding, bom_len) = encoding_rs::Encoding::for_bom(bytes)?;
    (encoding != encoding_rs::UTF_8).then(|| {
        encoding
            .decode_without_bom_handling(&bytes[bom_len..])
            .0
            .into_owned()
    })
}

/// `text` cut to at most `max` bytes at a character boundary, with `marker` appended when cut
/// (the marker fits within `max`).
fn clip(text: &str, max: usize, marker: &str) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(marker.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{marker}", &text[..end])
}

/// The raw text kept for a record: at most [`MAX_RAW_BYTES`].
pub(crate) fn raw_text(text: &str) -> String {
    clip(text, MAX_RAW_BYTES, " …[cut]")
}

/// Remarks cut to what an observation may carry ([`MAX_REMARKS_BYTES`]): a UCDP article list or
/// a long CoT note still goes through, marked as cut, rather than rejecting the whole record.
pub(crate) fn clip_remarks(text: &str) -> String {
    clip(text, MAX_REMARKS_BYTES, " …[cut]")
}

/// An id derived from the observation's content, for records whose feed gives none:
/// `<prefix>:<first 32 hex digits of the SHA-256 of its canonical JSON>`. Independent of key
/// order, white space and column order, so the same record always gets the same id; 128 bits
/// make an accidental collision out of the question.
pub(crate) fn content_id(prefix: &str, obs: &Observation) -> String {
    let digest = Sha256::digest(to_canonical_json(obs).as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}:{hex}")
}

/// The observation if it passes [`Observation::validate`], else the reason.
pub(crate) fn checked(obs: Observation) -> Result<Observation, String> {
    obs.validate().map_err(|e| e.0)?;
    Ok(obs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_borrowed_and_bom_dropped() {
        assert!(matches!(
            decode_text(b"\xEF\xBB\xBFid,kind"),
            Cow::Borrowed("id,kind")
        ));
    }

    #[test]
    fn utf16_is_recognised_by_its_bom() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("id,é".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("id,é".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode_text(&le), "id,é");
        assert_eq!(decode_text(&be), "id,é");
    }

    #[test]
    fn invalid_utf8_is_read_as_windows_1252() {
        assert_eq!(decode_text(b"Ukraine\x92s \x96 \xB7"), "Ukraine’s – ·");
    }

    #[test]
    fn clip_respects_char_boundaries() {
        let text = "é".repeat(10);
        let cut = clip(&text, 9, "…");
        assert!(cut.len() <= 9, "{cut}");
        assert_eq!(cut, "ééé…");
        assert_eq!(clip("short", 9, "…"), "short");
    }
}
