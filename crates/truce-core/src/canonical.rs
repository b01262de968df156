//! Canonical JSON: the one byte form Truce hashes and logs.
//!
//! Object keys sorted by their UTF-8 bytes, no insignificant white space, numbers as serde_json
//! prints them (integers as integers, floats in the shortest form that round-trips), strings
//! escaped as serde_json escapes them. Written here rather than relying on `serde_json::Map`
//! ordering because a dependency enabling serde_json's `preserve_order` feature anywhere in the
//! build would silently change every hash.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::Digest as _;

/// Canonical JSON text of any serialisable value.
pub fn to_canonical_json<T: Serialize>(value: &T) -> String {
    let v = serde_json::to_value(value).expect("value serialises to JSON");
    canonical_value(&v)
}

/// Canonical JSON text of a JSON value.
pub fn canonical_value(v: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_value(v, &mut out);
    // Only serde_json's own (valid UTF-8) output and ASCII punctuation went in.
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// The length in bytes of `value`'s canonical JSON, without building it: the canonical form
/// differs from serde_json's compact form only in the order of object keys (the same tokens,
/// escaped and printed by the same code), so the lengths are equal. What the entry-size check
/// on every observation uses (`Observation::validate`), at a fraction of the cost.
pub fn canonical_len<T: Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("value serialises to JSON");
    count.0
}

fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k).expect("string serialises");
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other).expect("scalar serialises"),
    }
}

/// A value back from its canonical JSON (a log entry) with the lower-case hex SHA-256 of those
/// bytes. Refuses text that is not exactly the canonical form of what it parses to, so a
/// replay runs on the very value the entry's hash names. `what` names it in messages.
pub fn from_canonical_json<T: DeserializeOwned + Serialize>(
    text: &str,
    what: &str,
) -> Result<(T, String), String> {
    let value: T = serde_json::from_str(text).map_err(|e| format!("not {what}: {e}"))?;
    let again = to_canonical_json(&value);
    if again != text {
        return Err(format!(
            "not in canonical form (the bytes differ from the re-encoded {what})"
        ));
    }
    let hash = crate::agreement::hex(&sha2::Sha256::digest(again.as_bytes()));
    Ok((value, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_is_the_canonical_length() {
        let v: Value = serde_json::from_str(
            r#"{"z":"\u00e9\n\"","b":[1,-2.5e-7,1e300,null,true],"a":{"y":"Дебальцеве","x":{}}}"#,
        )
        .unwrap();
        assert_eq!(canonical_len(&v), canonical_value(&v).len());
    }

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"z":[1.5,"x"],"y":null}}"#).unwrap();
        assert_eq!(
            canonical_value(&v),
            r#"{"a":{"y":null,"z":[1.5,"x"]},"b":1}"#
        );
    }
}
