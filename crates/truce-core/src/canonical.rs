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
    let mut out = String::new();
    write_value(&v, &mut out);
    out
}

/// Canonical JSON text of a JSON value.
pub fn canonical_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("string serialises"));
                out.push(':');
                write_value(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).expect("scalar serialises")),
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
    fn keys_are_sorted_at_every_depth() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":{"z":[1.5,"x"],"y":null}}"#).unwrap();
        assert_eq!(
            canonical_value(&v),
            r#"{"a":{"y":null,"z":[1.5,"x"]},"b":1}"#
        );
    }
}
