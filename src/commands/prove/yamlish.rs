//! The YAMLish prove's state file is written in (TAP::Parser::YAMLish): a
//! document between `---` and `...`, mappings indented two spaces a level,
//! scalars plain, '...' or "..." quoted, `~` for none. Only what a state file
//! holds is read: mappings of mappings of scalars (and `{}`).

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Scalar(Option<String>),
    Map(BTreeMap<String, Node>),
}

/// Parses a document; the error names the line.
pub fn read(text: &str) -> Result<Node, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .peekable();
    match lines.next() {
        Some((_, l)) if l.trim_end() == "---" => {}
        Some((n, _)) => return Err(format!("line {}: no '---' to start the document", n + 1)),
        None => return Err("it is empty".into()),
    }
    let mut rows = Vec::new();
    for (n, line) in lines {
        if line.trim_end() == "..." {
            break;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent % 2 != 0 {
            return Err(format!(
                "line {}: indented by an odd number of spaces",
                n + 1
            ));
        }
        rows.push((n + 1, indent / 2, line.trim()));
    }
    let mut at = 0;
    let map = mapping(&rows, &mut at, 0)?;
    if let Some((n, _, _)) = rows.get(at) {
        return Err(format!("line {}: indented more than its mapping", n));
    }
    Ok(Node::Map(map))
}

fn mapping(
    rows: &[(usize, usize, &str)],
    at: &mut usize,
    depth: usize,
) -> Result<BTreeMap<String, Node>, String> {
    let mut map = BTreeMap::new();
    while let Some(&(n, level, text)) = rows.get(*at) {
        if level < depth {
            break;
        }
        if level > depth {
            return Err(format!("line {}: indented more than its mapping", n));
        }
        *at += 1;
        let (key, rest) = key_and_rest(text).ok_or(format!("line {}: not 'key: value'", n))?;
        let value = match rest {
            "" => Node::Map(mapping(rows, at, depth + 1)?),
            "{}" => Node::Map(BTreeMap::new()),
            scalar => Node::Scalar(decode(scalar).ok_or(format!("line {}: a bad scalar", n))?),
        };
        map.insert(key, value);
    }
    Ok(map)
}

/// `key: rest` with the key decoded; rest is trimmed.
fn key_and_rest(text: &str) -> Option<(String, &str)> {
    let (key, rest) = match text.chars().next()? {
        q @ ('"' | '\'') => {
            let end = quoted_end(text, q)?;
            (decode(&text[..=end])??, text[end + 1..].strip_prefix(':')?)
        }
        _ => {
            let colon = text
                .find(": ")
                .or_else(|| text.strip_suffix(':').map(|k| k.len()))?;
            (text[..colon].to_string(), &text[colon + 1..])
        }
    };
    Some((key, rest.trim()))
}

/// Where the quote opened at 0 closes (`''` inside single quotes is a quote,
/// `\"` inside double quotes too).
fn quoted_end(text: &str, quote: char) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == '"' => i += 2,
            b'\'' if quote == '\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b as char == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A scalar's value: `None` for `~`; `None` from the outer Option when it
/// does not decode.
fn decode(text: &str) -> Option<Option<String>> {
    if text == "~" {
        return Some(None);
    }
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Some(Some(inner.replace("''", "'")));
    }
    let inner = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner,
        None => return Some(Some(text.to_string())),
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            'z' => '\0',
            'a' => '\x07',
            't' => '\t',
            'n' => '\n',
            'v' => '\x0b',
            'f' => '\x0c',
            'r' => '\r',
            'e' => '\x1b',
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                char::from(u8::from_str_radix(&hex, 16).ok()?)
            }
            other => other,
        });
    }
    Some(Some(out))
}

/// Writes `map` as TAP::Parser::YAMLish::Writer does: keys sorted, a key
/// starting with a non-word character or holding a control character or `"`
/// double-quoted, a value holding white space single-quoted.
pub fn write(map: &BTreeMap<String, Node>) -> String {
    let mut out = String::from("---\n");
    write_map(map, 0, &mut out);
    out.push_str("...\n");
    out
}

fn write_map(map: &BTreeMap<String, Node>, depth: usize, out: &mut String) {
    for (key, value) in map {
        out.push_str(&"  ".repeat(depth));
        let starts_odd = key
            .chars()
            .next()
            .map_or(false, |c| !(c.is_alphanumeric() || c == '_'));
        out.push_str(&encode(key, starts_odd));
        out.push(':');
        match value {
            Node::Map(inner) if inner.is_empty() => out.push_str(" {}\n"),
            Node::Map(inner) => {
                out.push('\n');
                write_map(inner, depth + 1, out);
            }
            Node::Scalar(None) => out.push_str(" ~\n"),
            Node::Scalar(Some(s)) => {
                out.push(' ');
                out.push_str(&encode(s, false));
                out.push('\n');
            }
        }
    }
}

fn encode(value: &str, quote_anyway: bool) -> String {
    if quote_anyway || value.chars().any(|c| c.is_control() || c == '"') {
        let mut out = String::from("\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\0' => out.push_str("\\z"),
                '\x07' => out.push_str("\\a"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\x0b' => out.push_str("\\v"),
                '\x0c' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                '\x1b' => out.push_str("\\e"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        return out;
    }
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return format!("'{}'", value.replacen('\'', "''", 1));
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state file as prove 3.44 wrote it.
    const PROVE_WROTE: &str = "---
generation: 2
last_run_time: 1796666794.02946
tests:
  \"./t/odd.t\":
    elapsed: 0.00188708305358887
    gen: 2
    last_fail_time: 1796666794.02096
    last_result: 2
  't/a b.t':
    last_result: 0
    seq: 1
version: 1
...
";

    #[test]
    fn reads_what_prove_writes_and_writes_it_back_the_same() {
        let doc = match read(PROVE_WROTE).unwrap() {
            Node::Map(m) => m,
            other => panic!("{:?}", other),
        };
        let tests = match &doc["tests"] {
            Node::Map(m) => m,
            other => panic!("{:?}", other),
        };
        assert_eq!(tests.keys().collect::<Vec<_>>(), ["./t/odd.t", "t/a b.t"]);
        assert_eq!(write(&doc), PROVE_WROTE);
    }

    #[test]
    fn empty_maps_nulls_and_escapes() {
        let doc = read("---\ntests: {}\nx: ~\ny: \"a\\tb\\x41\\\"\"\n...\n").unwrap();
        let map = match doc {
            Node::Map(m) => m,
            other => panic!("{:?}", other),
        };
        assert_eq!(map["tests"], Node::Map(BTreeMap::new()));
        assert_eq!(map["x"], Node::Scalar(None));
        assert_eq!(map["y"], Node::Scalar(Some("a\tbA\"".into())));
        assert_eq!(
            write(&map),
            "---\ntests: {}\nx: ~\ny: \"a\\tbA\\\"\"\n...\n"
        );
    }

    #[test]
    fn what_is_not_a_state_file_says_where() {
        assert!(read("tests:\n").unwrap_err().contains("line 1"));
        assert!(read("---\na: 1\n   b: 2\n").unwrap_err().contains("line 3"));
        assert!(read("---\na 1\n").unwrap_err().contains("line 2"));
    }
}
