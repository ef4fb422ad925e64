//! A small YAMLish reader for TAP diagnostic blocks: block maps, block lists,
//! plain / single-quoted / double-quoted scalars, flow lists and maps on one
//! line, and literal (`|`) and folded (`>`) block scalars, into JSON values.
//!
//! It is not YAML: no anchors, aliases, tags, multi-document streams or complex
//! keys. Anything it cannot read is an `Err`, and the caller keeps the block as
//! text, so a diagnostic is never lost to a reader that is too small.

use serde_json::{Map, Number, Value};

/// Reads one YAML document (already stripped of the TAP block's indentation).
pub fn read(text: &str) -> Result<Value, String> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.contains('\t') && raw.trim_start_matches(' ').starts_with('\t') {
            return Err(format!("line {}: a tab in the indentation", i + 1));
        }
        let content = raw.trim_start_matches(' ');
        lines.push(Src {
            indent: raw.len() - content.len(),
            text: content,
            raw,
        });
    }
    let mut r = Reader { lines, pos: 0 };
    r.skip_empty();
    if r.pos < r.lines.len() && r.lines[r.pos].text == "---" {
        r.pos += 1;
    }
    r.skip_empty();
    if r.pos == r.lines.len() {
        return Ok(Value::Null);
    }
    let indent = r.lines[r.pos].indent;
    let value = r.node(indent)?;
    r.skip_empty();
    if r.pos < r.lines.len() {
        return Err(format!(
            "line {}: unexpected text after the document",
            r.pos + 1
        ));
    }
    Ok(value)
}

struct Src<'a> {
    indent: usize,
    /// The line after its indentation.
    text: &'a str,
    /// The whole line, for block scalars that keep extra indentation.
    raw: &'a str,
}

struct Reader<'a> {
    lines: Vec<Src<'a>>,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn skip_empty(&mut self) {
        while self.pos < self.lines.len() && is_empty(self.lines[self.pos].text) {
            self.pos += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("line {}: {}", self.pos + 1, what))
    }

    /// The node whose first line is the current line, at `indent`.
    fn node(&mut self, indent: usize) -> Result<Value, String> {
        let text = self.lines[self.pos].text;
        if is_list_item(text) {
            self.list(indent)
        } else if split_key(text).is_some() {
            self.map(indent)
        } else {
            let first = self.lines[self.pos].text;
            self.pos += 1;
            self.scalar_lines(first, indent.saturating_sub(1))
        }
    }

    fn list(&mut self, indent: usize) -> Result<Value, String> {
        let mut items = Vec::new();
        loop {
            self.skip_empty();
            if self.pos == self.lines.len()
                || self.lines[self.pos].indent != indent
                || !is_list_item(self.lines[self.pos].text)
            {
                break;
            }
            let text = self.lines[self.pos].text;
            let rest = text[1..].trim_start_matches(' ');
            if is_empty(rest) {
                self.pos += 1;
                items.push(self.nested(indent, false)?);
            } else {
                // Read the item as if its text started a line of its own, at the
                // column it sits in: `- a: 1` followed by `  b: 2` is one map.
                let line = &mut self.lines[self.pos];
                line.indent += text.len() - rest.len();
                line.text = rest;
                let item_indent = line.indent;
                items.push(self.node(item_indent)?);
            }
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, indent: usize) -> Result<Value, String> {
        let mut map = Map::new();
        loop {
            self.skip_empty();
            if self.pos == self.lines.len() || self.lines[self.pos].indent < indent {
                break;
            }
            if self.lines[self.pos].indent > indent {
                return self.err("indented more than the key before it");
            }
            let text = self.lines[self.pos].text;
            let (key, rest) = match split_key(text) {
                Some(kv) => kv,
                None => return self.err("expected `key: value`"),
            };
            let key = self.key(key)?;
            self.pos += 1;
            let value = if is_empty(rest) {
                self.nested(indent, true)?
            } else {
                self.inline(rest, indent)?
            };
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    /// The value under a key or dash with nothing after it: a more indented node,
    /// a list at the key's own indentation (YAML allows that for maps), or null.
    fn nested(&mut self, indent: usize, in_map: bool) -> Result<Value, String> {
        self.skip_empty();
        if self.pos == self.lines.len() {
            return Ok(Value::Null);
        }
        let next = &self.lines[self.pos];
        if next.indent > indent || (in_map && next.indent == indent && is_list_item(next.text)) {
            let child = next.indent;
            self.node(child)
        } else {
            Ok(Value::Null)
        }
    }

    fn key(&self, key: &str) -> Result<String, String> {
        match key.as_bytes()[0] {
            b'"' | b'\'' => match quoted(key)? {
                (s, "") => Ok(s),
                _ => self.err("text after a quoted key"),
            },
            b'?' | b'&' | b'*' | b'!' | b'[' | b'{' => {
                self.err("a key this reader does not support")
            }
            _ => Ok(key.to_string()),
        }
    }

    /// A value on the same line as its key (the key's line is already consumed).
    fn inline(&mut self, rest: &'a str, indent: usize) -> Result<Value, String> {
        match rest.as_bytes()[0] {
            b'|' | b'>' => self.block_scalar(rest, indent),
            b'"' | b'\'' => match quoted(rest)? {
                (s, tail) if is_empty(tail) => Ok(Value::String(s)),
                _ => self.err("text after a quoted string"),
            },
            b'[' | b'{' => {
                let mut f = Flow {
                    s: rest.as_bytes(),
                    text: rest,
                    i: 0,
                };
                let v = f.value()?;
                f.space();
                if !is_empty(&rest[f.i..]) {
                    return self.err("text after a flow collection");
                }
                Ok(v)
            }
            b'&' | b'*' | b'!' | b'%' | b'@' | b'`' => {
                self.err("anchors, aliases and tags are not supported")
            }
            _ => self.scalar_lines(rest, indent),
        }
    }

    /// A plain scalar, continued on following lines indented past `indent`.
    fn scalar_lines(&mut self, first: &str, indent: usize) -> Result<Value, String> {
        let first = strip_comment(first);
        let mut more = String::new();
        while self.pos < self.lines.len() {
            let line = &self.lines[self.pos];
            if is_empty(line.text)
                || line.indent <= indent
                || is_list_item(line.text)
                || split_key(line.text).is_some()
            {
                break;
            }
            more.push(' ');
            more.push_str(strip_comment(line.text));
            self.pos += 1;
        }
        if more.is_empty() {
            Ok(plain(first))
        } else {
            Ok(Value::String(format!("{}{}", first, more)))
        }
    }

    fn block_scalar(&mut self, header: &str, indent: usize) -> Result<Value, String> {
        let header = strip_comment(header);
        let folded = header.starts_with('>');
        let mut chomp = 'c';
        let mut explicit = None;
        for c in header[1..].chars() {
            match c {
                '-' | '+' => chomp = c,
                '1'..='9' => explicit = Some(indent + c as usize - '0' as usize),
                _ => return self.err("a block scalar header this reader does not support"),
            }
        }
        let mut block_indent = explicit;
        let mut lines: Vec<&str> = Vec::new();
        while self.pos < self.lines.len() {
            let line = &self.lines[self.pos];
            if line.raw.trim().is_empty() {
                lines.push("");
                self.pos += 1;
                continue;
            }
            let bi = *block_indent.get_or_insert(line.indent);
            if line.indent < bi || bi <= indent {
                break;
            }
            lines.push(&line.raw[bi..]);
            self.pos += 1;
        }
        let content_end = lines
            .iter()
            .rposition(|l| !l.is_empty())
            .map_or(0, |p| p + 1);
        let trailing = lines.len() - content_end;
        let mut out = String::new();
        let mut empties = 0;
        let mut prev: Option<&str> = None;
        for line in &lines[..content_end] {
            if line.is_empty() {
                empties += 1;
                continue;
            }
            if let Some(prev) = prev {
                // Folding joins neighbouring lines with a space and turns each empty
                // line into one break; more-indented lines keep their breaks.
                let plain_pair = folded && !prev.starts_with(' ') && !line.starts_with(' ');
                let breaks = if plain_pair { empties } else { empties + 1 };
                if breaks == 0 {
                    out.push(' ');
                }
                out.extend(std::iter::repeat('\n').take(breaks));
            } else {
                out.extend(std::iter::repeat('\n').take(empties));
            }
            empties = 0;
            out.push_str(line);
            prev = Some(line);
        }
        match chomp {
            '-' => {}
            '+' => {
                if content_end > 0 {
                    out.push('\n');
                }
                out.extend(std::iter::repeat('\n').take(trailing));
            }
            _ => {
                if content_end > 0 {
                    out.push('\n');
                }
            }
        }
        Ok(Value::String(out))
    }
}

fn is_empty(text: &str) -> bool {
    let t = text.trim();
    t.is_empty() || t.starts_with('#')
}

fn is_list_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Splits `key: value` at the first `: ` (or a final `:`) outside quotes.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    if b.is_empty() || b[0] == b'#' || is_list_item(text) {
        return None;
    }
    let start = match b[0] {
        q @ (b'"' | b'\'') => 1 + b[1..].iter().position(|&c| c == q)? + 1,
        b'[' | b'{' => return None,
        _ => 0,
    };
    let mut i = start;
    while i < b.len() {
        if b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ') {
            let key = text[..i].trim_end();
            if key.is_empty() {
                return None;
            }
            return Some((key, text[i + 1..].trim()));
        }
        if b[i] == b'#' && i > 0 && b[i - 1] == b' ' {
            return None;
        }
        i += 1;
    }
    None
}

/// Drops a ` # comment` from a plain scalar.
fn strip_comment(text: &str) -> &str {
    let b = text.as_bytes();
    for i in 1..b.len() {
        if b[i] == b'#' && (b[i - 1] == b' ' || b[i - 1] == b'\t') {
            return text[..i].trim_end();
        }
    }
    text.trim_end()
}

/// A quoted scalar at the start of `text`; returns it and the text after it.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let b = text.as_bytes();
    let q = b[0];
    let mut out = String::new();
    let mut i = 1;
    let mut start = 1;
    while i < b.len() {
        match b[i] {
            b'\'' if q == b'\'' => {
                out.push_str(&text[start..i]);
                if b.get(i + 1) == Some(&b'\'') {
                    out.push('\'');
                    i += 2;
                    start = i;
                    continue;
                }
                return Ok((out, text[i + 1..].trim()));
            }
            b'"' if q == b'"' => {
                out.push_str(&text[start..i]);
                return Ok((out, text[i + 1..].trim()));
            }
            b'\\' if q == b'"' => {
                out.push_str(&text[start..i]);
                let (c, len) = escape(&text[i + 1..])?;
                out.push(c);
                i += 1 + len;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Err("a quoted string that does not end on its line".to_string())
}

/// One double-quoted escape after its backslash: the character and its length.
fn escape(s: &str) -> Result<(char, usize), String> {
    let c = s
        .chars()
        .next()
        .ok_or("a backslash at the end of a string")?;
    let simple = match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        '0' => '\0',
        'a' => '\u{7}',
        'b' => '\u{8}',
        'e' => '\u{1b}',
        'f' => '\u{c}',
        'v' => '\u{b}',
        ' ' => ' ',
        '/' => '/',
        '"' => '"',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'x' | 'u' | 'U' => {
            let len = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = s.get(1..1 + len).ok_or("a short \\x, \\u or \\U escape")?;
            let code = u32::from_str_radix(hex, 16).map_err(|_| "a bad hex escape".to_string())?;
            let c = char::from_u32(code).ok_or("an escape that is not a character")?;
            return Ok((c, 1 + len));
        }
        _ => return Err(format!("an unknown escape \\{}", c)),
    };
    Ok((simple, c.len_utf8()))
}

/// A plain scalar resolved as YAML 1.2's core schema does: null, booleans,
/// integers and floats; everything else is a string.
fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if looks_numeric(text) {
        if let Ok(n) = text.parse::<u64>() {
            return Value::Number(n.into());
        }
        if let Ok(n) = text.parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

/// `[-+]?(digits)(.digits)?([eE][-+]?digits)?` or with a leading `.`; Rust's
/// float parser alone would also take `inf` and `NaN`.
fn looks_numeric(text: &str) -> bool {
    let t = text.strip_prefix(&['-', '+'][..]).unwrap_or(text);
    let (mantissa, exponent) = match t.find(&['e', 'E'][..]) {
        Some(e) => (&t[..e], Some(&t[e + 1..])),
        None => (t, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok =
        digits(int) && frac.map_or(true, digits) && (int.len() + frac.map_or(0, str::len)) > 0;
    let exponent_ok = exponent.map_or(true, |e| {
        let e = e.strip_prefix(&['-', '+'][..]).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// A flow collection (`[a, b]`, `{k: v}`) on one line.
struct Flow<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Flow<'a> {
    fn space(&mut self) {
        while self.i < self.s.len() && self.s[self.i] == b' ' {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.space();
        match self.s.get(self.i) {
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.space();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.separator(b']')?;
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    self.space();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(map));
                    }
                    let key = match self.value()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    self.space();
                    if self.s.get(self.i) != Some(&b':') {
                        return Err("expected `:` in a flow map".to_string());
                    }
                    self.i += 1;
                    let value = self.value()?;
                    map.insert(key, value);
                    self.separator(b'}')?;
                }
            }
            Some(b'"') | Some(b'\'') => {
                let (s, rest) = quoted(&self.text[self.i..])?;
                self.i = self.s.len() - rest.len();
                Ok(Value::String(s))
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b']' | b'}') {
                    if self.s[self.i] == b':'
                        && matches!(
                            self.s.get(self.i + 1),
                            Some(b' ') | Some(b',') | Some(b'}') | None
                        )
                    {
                        break;
                    }
                    self.i += 1;
                }
                Ok(plain(self.text[start..self.i].trim()))
            }
            None => Err("a flow collection that does not end on its line".to_string()),
        }
    }

    fn separator(&mut self, close: u8) -> Result<(), String> {
        self.space();
        match self.s.get(self.i) {
            Some(b',') => {
                self.i += 1;
                Ok(())
            }
            Some(&c) if c == close => Ok(()),
            _ => Err("expected `,` in a flow collection".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_and_scalars() {
        let doc = "message: \"lookup of 'db7.internal' failed\"\nseverity: fail\nfound:\n  host: 'db7.internal'\n  addr: ~\nwanted:\n  host: db7.internal\n  addr: '10.1.2.3'\nat:\n  file: t/lookup.c\n  line: 88\n";
        assert_eq!(
            read(doc).unwrap(),
            json!({
                "message": "lookup of 'db7.internal' failed",
                "severity": "fail",
                "found": {"host": "db7.internal", "addr": null},
                "wanted": {"host": "db7.internal", "addr": "10.1.2.3"},
                "at": {"file": "t/lookup.c", "line": 88}
            })
        );
    }

    #[test]
    fn lists_of_scalars_and_maps() {
        let doc = "got:\n  - 3\n  - 1\nexpect:\n- 1\n- 3\nrows:\n  - id: 1\n    name: ann\n  - id: 2\n    name: bob\n  -\n    id: 3\n";
        assert_eq!(
            read(doc).unwrap(),
            json!({"got": [3, 1], "expect": [1, 3], "rows": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}, {"id": 3}]})
        );
        assert_eq!(
            read("- - a\n  - b\n- c\n").unwrap(),
            json!([["a", "b"], "c"])
        );
    }

    #[test]
    fn scalar_types() {
        let doc = "a: true\nb: FALSE\nc: -12\nd: 2.5e3\ne: .5\nf: 0x1F\ng: inf\nh: null\ni: 1.2.3\nj: it's # a comment\nk: ''\nl: 'a ''q'' b'\nm: \"tab\\there \\u00e9\"\n";
        assert_eq!(
            read(doc).unwrap(),
            json!({"a": true, "b": false, "c": -12, "d": 2500.0, "e": 0.5, "f": "0x1F", "g": "inf", "h": null,
                   "i": "1.2.3", "j": "it's", "k": "", "l": "a 'q' b", "m": "tab\there é"})
        );
    }

    #[test]
    fn block_scalars_literal_and_folded() {
        let doc = "out: |\n  line one\n    indented\n\n  after blank\nfold: >\n  one\n  two\n\n  three\nstrip: |-\n  x\nkeep: |+\n  y\n\nnext: 1\n";
        assert_eq!(
            read(doc).unwrap(),
            json!({"out": "line one\n  indented\n\nafter blank\n", "fold": "one two\nthree\n", "strip": "x", "keep": "y\n\n", "next": 1})
        );
    }

    #[test]
    fn flow_collections() {
        assert_eq!(
            read("a: [1, two, 'three, 3']\nb: {x: 1, y: [ ]}\n").unwrap(),
            json!({"a": [1, "two", "three, 3"], "b": {"x": 1, "y": []}})
        );
    }

    #[test]
    fn multi_line_plain_scalar_and_document_marker() {
        assert_eq!(
            read("---\nwhy: this goes\n  on and on\n").unwrap(),
            json!({"why": "this goes on and on"})
        );
        assert_eq!(read("").unwrap(), Value::Null);
        assert_eq!(read("just words\n").unwrap(), json!("just words"));
    }

    #[test]
    fn what_it_cannot_read_is_an_error() {
        assert!(read("a: &x 1\nb: *x\n").is_err());
        assert!(read("a: 'open\n").is_err());
        assert!(read("a: 1\n   b: 2\n").is_err());
        assert!(read("a: 1\nnot a pair\n").is_err());
        assert!(read("\ta: 1\n").is_err());
        assert!(read("? complex\n: key\n").is_err());
    }

    #[test]
    fn arbitrary_text_never_panics() {
        const PIECES: &[&str] = &[
            "a", ":", ": ", "- ", "-", " ", "  ", "\n", "|", ">", "|-", "|+", "'", "\"", "\\", "[",
            "]", "{", "}", ",", "#", "~", "1", "é", "\t", "&", "---",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let mut doc = String::new();
            for _ in 0..(seed % 30) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                doc.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
            }
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let _ = read(&doc);
        }
    }
}
