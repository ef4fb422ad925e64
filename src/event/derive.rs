//! The fields a line record leaves out because its line or the log's defaults
//! give them (see `tap::Line::write_fields` and [`super::write::tap_line`]),
//! put back into a decoded record, so that a reader sees every field whether
//! the log was written before the records were made small or after. It runs
//! only when a record is decoded, which is only when a reader asks.

use crate::json;
use crate::tap::{self, Directive};
use serde_json::{Map, Value};

/// The stream a line record names when it has no `"stream"`.
pub const DEFAULT_STREAM: &str = "stdout";

/// Puts back what a line record of `kind` left out.
pub fn fill(kind: super::Kind, value: &mut Value) {
    let record = match value.as_object_mut() {
        Some(record) => record,
        None => return,
    };
    if !record.contains_key("stream") {
        record.insert("stream".into(), DEFAULT_STREAM.into());
    }
    if kind == super::Kind::Assert {
        fill_assert(record);
    }
}

/// A passing assert has no `"ok"`; a record without a description has its
/// number (unless given), description, directive and reason in its line.
fn fill_assert(record: &mut Map<String, Value>) {
    if !record.contains_key("ok") {
        record.insert("ok".into(), true.into());
    }
    if record.contains_key("description") {
        return;
    }
    let line = match line_bytes(record) {
        Some(line) => line,
        None => return,
    };
    let opens = record.get("opens_subtest") == Some(&Value::Bool(true));
    let stated = match tap::stated(&line, opens) {
        Some(stated) => stated,
        None => return,
    };
    if let (false, Some(n)) = (record.contains_key("number"), stated.number) {
        record.insert("number".into(), n.into());
    }
    insert_bytes(record, "description", &stated.description);
    if let Some(d) = stated.directive {
        let word = if d == Directive::Skip { "skip" } else { "todo" };
        record.insert("directive".into(), word.into());
        insert_bytes(record, "reason", &stated.reason);
    }
}

/// The line exactly: from `line_hex` when it was not UTF-8.
fn line_bytes(record: &Map<String, Value>) -> Option<Vec<u8>> {
    if let Some(hex) = record.get("line_hex").and_then(Value::as_str) {
        return json::unhex(hex);
    }
    record
        .get("line")
        .and_then(Value::as_str)
        .map(|s| s.as_bytes().to_vec())
}

/// `key` as `json::write_bytes_field` writes it: lossy text, and the exact
/// bytes under `<key>_hex` when they are not UTF-8.
fn insert_bytes(record: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            record.insert(key.into(), s.into());
        }
        Err(_) => {
            record.insert(key.into(), String::from_utf8_lossy(bytes).into());
            record.insert(format!("{}_hex", key), json::hex(bytes).into());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::event::Event;
    use serde_json::json;

    fn read(record: &str) -> serde_json::Value {
        Event::new(record.as_bytes()).value().clone()
    }

    #[test]
    fn a_small_assert_reads_as_it_was_parsed() {
        assert_eq!(
            read(
                r#"{"type":"assert","job":1,"try":1,"ok":false,"depth":1,"line":"    not ok 7 - a \\# b # TODO later {"}"#
            ),
            json!({"type": "assert", "job": 1, "try": 1, "ok": false, "number": 7,
                   "description": "a # b", "directive": "todo", "reason": "later {",
                   "depth": 1, "stream": "stdout", "line": "    not ok 7 - a \\# b # TODO later {"})
        );
        assert_eq!(
            read(r#"{"type":"assert","number":4,"opens_subtest":true,"line":"ok - name {\r"}"#)
                ["description"],
            "name"
        );
        let exact =
            read(r#"{"type":"assert","line":"ok 1 - \ufffd","line_hex":"6f6b2031202d20ff"}"#);
        assert_eq!(
            (&exact["description"], &exact["description_hex"]),
            (&json!("\u{fffd}"), &json!("ff"))
        );
    }

    #[test]
    fn a_whole_record_is_left_as_it_is() {
        let whole = r#"{"type":"assert","ok":true,"number":2,"description":"x","segments":2,"stream":"stderr","line":"junk\rok 2 - x # skip"}"#;
        assert_eq!(
            read(whole),
            serde_json::from_str::<serde_json::Value>(whole).unwrap()
        );
    }
}
