//! RFC 8785 canonical JSON of a parsed document, written straight into one
//! buffer: what a document's address is the SHA-256 of.
//!
//! serde_jcs produces the same bytes (the tests compare the two on every
//! fixture), but it buffers each key and value of every object in a
//! vector of its own and parses each key back to sort it; on the 536,000
//! documents of the benchmark estate that was most of an import's time.
//! Here an object's members are sorted by reference, and numbers take
//! ECMAScript's form through ryu-js as serde_jcs does (integers as the
//! double they round to).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// SHA-256 of the canonical JSON of `value`.
pub fn hash(value: &Value) -> [u8; 32] {
    let mut out = Vec::with_capacity(1024);
    write(value, &mut out);
    Sha256::digest(&out).into()
}

/// Appends the canonical JSON of `value` to `out`.
pub fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Without arbitrary precision every number has an f64 form;
            // a parsed document holds no NaN or infinity.
            let f = n.as_f64().unwrap_or_default();
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // Keys sort by their UTF-16 code units (RFC 8785 §3.2.3).
            members.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write(v, out);
            }
            out.push(b'}');
        }
    }
}

/// A string as JSON.stringify writes it: `"` and `\` escaped, the control
/// characters as their short escape or `\u00xx`, everything else as is.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn same_as_serde_jcs(v: &Value) {
        let mut ours = Vec::new();
        write(v, &mut ours);
        let theirs = serde_jcs::to_vec(v).unwrap();
        assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
    }

    #[test]
    fn writes_what_serde_jcs_writes_for_edge_cases() {
        same_as_serde_jcs(&json!({
            "numbers": [0, -0.0, 1, -1, 1.5, 1e21, 1e-7, 123456789012345678u64, -9007199254740993i64,
                        5e-324, 1.7976931348623157e308, 0.1, 100, 1e20, 333_333_333.333_333_3],
            "strings": ["", "\"\\/", "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}", "é€😀\u{2028}\u{2029}"],
            "€": 1, "😀": 2, "\u{e000}": 3, "a": {"b": [], "a": {}}, "A": null, "": true, "\r": false,
        }));
        // RFC 8785 §3.2.3's own sorting example.
        same_as_serde_jcs(
            &json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
                                   "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"}),
        );
    }

    #[test]
    fn writes_what_serde_jcs_writes_for_every_fixture() {
        // Beside the checkout or any parent, as the policy vectors find it.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|d| d.join("shared/fixtures"))
            .find(|d| d.is_dir())
            .expect("shared/fixtures beside the checkout or a parent");
        let mut seen = 0;
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    // A few upstream payloads are not JSON as written (SOURCES.md).
                    if let Ok(v) = serde_json::from_str::<Value>(&text) {
                        same_as_serde_jcs(&v);
                        seen += 1;
                    }
                }
            }
        }
        assert!(seen > 50, "only {seen} fixtures under {}", root.display());
    }
}
