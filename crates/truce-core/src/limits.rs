//! How large anything the log keeps may be: one entry, and the fields people and feeds fill
//! in. Every write path checks these (an observation's [`crate::observation::Observation::validate`],
//! the service's decisions, responses and missions, and the store as the last line), and each
//! refusal names the limit and the size.
//!
//! The entry limit exists because the log is published as C2SP tlog-tiles, whose entry bundles
//! prefix each entry with a `u16` length: an entry over 65,535 bytes could never be served,
//! and the log is append-only, so one would break `/log/tile/entries/…` for good.

/// Largest entry body, bytes: under the 65,535 an entry bundle can hold, with room to spare.
/// An observation is about 1.5 KB; the bundled agreement about 28 KB.
pub const MAX_ENTRY_BYTES: usize = 60 * 1024;
/// Longest id, bytes: observation, source, incident, task, sensor, storage site, party,
/// actor. Ids are names, not documents.
pub const MAX_ID_BYTES: usize = 256;
/// Longest free text other than remarks, bytes: a party's response text, a weapon class, a
/// media URI, an affiliation, a source record.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Most vertices of an observation's polygon, all rings together: a crater field or a
/// burnt area is a few hundred; 10,000 is a survey, 200,000 a flood.
pub const MAX_AREA_VERTICES: usize = 10_000;
/// Most log entries a party's response may cite as its evidence.
pub const MAX_RESPONSE_EVIDENCE: usize = 64;
/// Longest reason, bytes: an analyst's reason for a decision, a rejected record's reason.
pub const MAX_REASON_BYTES: usize = 1024;

/// `Err` naming the limit when `what`'s entry of `len` bytes is over [`MAX_ENTRY_BYTES`].
pub fn check_entry(what: &str, len: usize) -> Result<(), String> {
    if len > MAX_ENTRY_BYTES {
        Err(format!(
            "{what} would be a log entry of {len} bytes; the limit is {MAX_ENTRY_BYTES} bytes (MAX_ENTRY_BYTES: a log tile's entry bundle holds at most 65,535)"
        ))
    } else {
        Ok(())
    }
}

/// `Err` naming `limit` when `field`'s `value` is over `max` bytes.
pub fn check_len(field: &str, value: &str, max: usize, limit: &str) -> Result<(), String> {
    if value.len() > max {
        Err(format!(
            "{field} is {} bytes; the limit is {max} bytes ({limit})",
            value.len()
        ))
    } else {
        Ok(())
    }
}

/// `text` cut to at most `max` bytes on a character boundary (for what is kept rather than
/// refused: a rejected record's reason).
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_with_their_name_and_size() {
        assert!(check_entry("x", MAX_ENTRY_BYTES).is_ok());
        let e = check_entry("an observation", MAX_ENTRY_BYTES + 1).unwrap_err();
        assert!(e.contains("MAX_ENTRY_BYTES") && e.contains("61441"), "{e}");
        let e = check_len("id", &"x".repeat(300), MAX_ID_BYTES, "MAX_ID_BYTES").unwrap_err();
        assert!(e.contains("300 bytes") && e.contains("MAX_ID_BYTES"), "{e}");
        assert_eq!(clip("aé", 2), "a");
        const { assert!(MAX_ENTRY_BYTES < u16::MAX as usize) };
    }
}
