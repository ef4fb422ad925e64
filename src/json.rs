//! Hand-written JSON output for the hot path.
//!
//! Records are written straight into a byte buffer, without building a
//! `serde_json::Value` per line. Strings that are not valid UTF-8 are written
//! lossily, and the exact bytes go beside them in hex (see [`write_line_fields`]),
//! so the log stays valid JSON and loses nothing.

use std::io::Write;

/// Appends `s` as a JSON string literal (with quotes).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
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
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `,"key":` followed by `bytes` as a string. Invalid UTF-8 is written
/// lossily under `key` and exactly, as hex, under `key_hex`.
pub fn write_bytes_field(out: &mut Vec<u8>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            write_key(out, key);
            write_str(out, s);
        }
        Err(_) => {
            write_key(out, key);
            write_str(out, &String::from_utf8_lossy(bytes));
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"_hex\":\"");
            for b in bytes {
                let _ = write!(out, "{:02x}", b);
            }
            out.push(b'"');
        }
    }
}

/// Appends `,"key":` (keys are plain ASCII chosen by proctor).
pub fn write_key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends `,"key":"value"`.
pub fn write_str_field(out: &mut Vec<u8>, key: &str, value: &str) {
    write_key(out, key);
    write_str(out, value);
}

/// Appends `,"key":n`.
pub fn write_u64_field(out: &mut Vec<u8>, key: &str, n: u64) {
    write_key(out, key);
    let _ = write!(out, "{}", n);
}

/// Appends `,"key":true|false`.
pub fn write_bool_field(out: &mut Vec<u8>, key: &str, b: bool) {
    write_key(out, key);
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Appends `,"key":x` with microsecond precision.
pub fn write_f64_field(out: &mut Vec<u8>, key: &str, x: f64) {
    write_key(out, key);
    if x.is_finite() {
        let _ = write!(out, "{:.6}", x);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Starts a record: `{"type":"<kind>"`. Every record begins this way so a reader
/// can classify it by its first bytes.
pub fn start_record(out: &mut Vec<u8>, kind: &str) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.push(b'"');
}

/// The value of `"type"` in a record that starts as [`start_record`] writes, found
/// without decoding it.
pub fn record_type(raw: &[u8]) -> Option<&[u8]> {
    let rest = raw.strip_prefix(b"{\"type\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_through_serde() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\n\u{1}\u{7f}é");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}\u{7f}é");
    }

    #[test]
    fn invalid_utf8_keeps_the_bytes_in_hex() {
        let mut out = Vec::new();
        start_record(&mut out, "output");
        write_bytes_field(&mut out, "line", b"a\xffb");
        out.push(b'}');
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["line"], "a\u{fffd}b");
        assert_eq!(v["line_hex"], "61ff62");
    }

    #[test]
    fn record_type_reads_the_first_key() {
        assert_eq!(
            record_type(b"{\"type\":\"assert\",\"ok\":true}"),
            Some(&b"assert"[..])
        );
        assert_eq!(record_type(b"{\"ok\":true}"), None);
    }
}
