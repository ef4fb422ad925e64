//! Hand-written JSON output for the hot path.
//!
//! Records are written straight into a byte buffer, without building a
//! `serde_json::Value` per line. Strings that are not valid UTF-8 are written
//! lossily, and the exact bytes go beside them in hex (see `event::write`'s line records),
//! so the log stays valid JSON and loses nothing.

use std::io::Write;

/// Appends `s` as a JSON string literal (with quotes). Runs of plain bytes are
/// found eight at a time and copied whole; only what must be escaped is looked
/// at byte by byte.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[i..i + 8]);
            if !needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes in `x` is a control character, `"`, `\\` or
/// DEL (the classic has-zero-byte test, applied to each).
fn needs_escape(x: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(LO) & !v & HI != 0;
    // Bytes below 0x20: subtracting 0x20 borrows into the high bit (bytes with
    // the high bit already set are not ASCII and need no escape).
    let below_space = x.wrapping_sub(LO * 0x20) & !x & HI != 0;
    below_space
        || has_zero(x ^ (LO * b'"' as u64))
        || has_zero(x ^ (LO * b'\\' as u64))
        || has_zero(x ^ (LO * 0x7f))
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
            write_hex(out, bytes);
            out.push(b'"');
        }
    }
}

/// Appends `bytes` as a string, or as `{"hex":"..."}` when they are not
/// UTF-8 (an environment value in the plan, or in a spawn).
pub fn write_bytes_or_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => write_str(out, s),
        Err(_) => {
            out.extend_from_slice(b"{\"hex\":\"");
            write_hex(out, bytes);
            out.extend_from_slice(b"\"}");
        }
    }
}

/// Appends `bytes` as lower-case hex digits.
fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{:02x}", b);
    }
}

/// `bytes` as lower-case hex digits.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(2 * bytes.len());
    write_hex(&mut out, bytes);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// The bytes a string of hex digits stands for (the `_hex` fields); `None`
/// when it is not one.
pub fn unhex(digits: &str) -> Option<Vec<u8>> {
    let digits = digits.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    let value = |d: u8| (d as char).to_digit(16).map(|v| v as u8);
    digits
        .chunks(2)
        .map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?))
        .collect()
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

/// Appends `,"key":["a","b",...]`.
pub fn write_str_list_field<S: AsRef<str>>(out: &mut Vec<u8>, key: &str, items: &[S]) {
    write_key(out, key);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, item.as_ref());
    }
    out.push(b']');
}

/// Appends `,"key":[{...},{...}]`, one object an item: `fields` writes an
/// item's fields, each with its leading comma, and the first comma of each
/// object is dropped.
pub fn write_object_list_field<T>(
    out: &mut Vec<u8>,
    key: &str,
    items: &[T],
    mut fields: impl FnMut(&mut Vec<u8>, &T),
) {
    write_key(out, key);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let start = out.len();
        fields(out, item);
        match out.get(start) {
            Some(b',') => out[start] = b'{',
            _ => out.insert(start, b'{'),
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends `,"key":n`.
pub fn write_u64_field(out: &mut Vec<u8>, key: &str, n: u64) {
    write_key(out, key);
    write_u64(out, n);
}

/// Appends `n` in decimal, without going through `fmt`.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
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

/// A time stamp formatted once and written into many records (every line read
/// in one wake-up shares it).
pub struct Stamp {
    text: Vec<u8>,
}

impl Stamp {
    pub fn new(seconds: f64) -> Stamp {
        let mut text = Vec::with_capacity(32);
        write_f64_field(&mut text, "stamp", seconds);
        Stamp { text }
    }

    /// Appends `,"stamp":...`.
    pub fn write_field(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.text);
    }

    /// The field as written, to tell two stamps apart.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
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
    fn a_list_of_objects_is_json() {
        let mut out = b"{\"type\":\"x\"".to_vec();
        write_object_list_field(&mut out, "list", &[1u64, 2], |out, n| {
            write_u64_field(out, "n", *n);
            write_str_field(out, "s", "a");
        });
        write_object_list_field(&mut out, "empty", &[0u64; 0], |_, _| {});
        out.push(b'}');
        let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"type": "x", "list": [{"n": 1, "s": "a"}, {"n": 2, "s": "a"}], "empty": []})
        );
    }

    #[test]
    fn strings_round_trip_through_serde() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\n\u{1}\u{7f}é");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}\u{7f}é");
    }

    #[test]
    fn escapes_are_found_anywhere_in_a_word() {
        for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}'] {
            for at in 0..20 {
                let mut text: String = "abcdefghijklmnopqrstu".chars().take(20).collect();
                text.replace_range(at..at + 1, &special.to_string());
                let mut out = Vec::new();
                write_str(&mut out, &text);
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, text, "{:?} at {}", special, at);
                assert!(
                    out.len() > text.len() + 2,
                    "{:?} at {} was not escaped",
                    special,
                    at
                );
            }
        }
        let mut out = Vec::new();
        write_str(&mut out, "plain ascii and é ü € 𝄞 beyond");
        assert_eq!(out, "\"plain ascii and é ü € 𝄞 beyond\"".as_bytes());
    }

    #[test]
    fn numbers_and_stamps() {
        let mut out = Vec::new();
        write_u64(&mut out, 0);
        out.push(b' ');
        write_u64(&mut out, u64::MAX);
        assert_eq!(out, b"0 18446744073709551615");
        let mut out = Vec::new();
        Stamp::new(1.5).write_field(&mut out);
        assert_eq!(out, b",\"stamp\":1.500000");
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
        assert_eq!(unhex("61ff62").unwrap(), b"a\xffb");
        assert_eq!(unhex("6"), None);
        assert_eq!(unhex("zz"), None);
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
