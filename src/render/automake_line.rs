//! What a TAP line says, read as Automake's tap-driver.sh reads it: a test
//! point's number, description, directive and explanation, a skip-all plan's
//! reason, a bail-out's message, a comment's text. The Automake renderer takes
//! which line is what from proctor's parser (its kinds and depths) and what the
//! line says from here, so that its result lines read as tap-driver.sh's do:
//! `ok 1 - foo` gives `1 - foo`, `ok 1 foo` gives `1 foo`, and an escaped `\#`
//! stays as written. The rules were learnt by reading tap-driver.sh; none of
//! its code is used.
//!
//! One departure: a line's closing carriage return (a CRLF line end) is not
//! part of what it says, where tap-driver.sh would keep it in the result line.

/// A test point's directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Todo,
    Skip,
}

impl Directive {
    pub fn word(self) -> &'static str {
        match self {
            Directive::Todo => "TODO",
            Directive::Skip => "SKIP",
        }
    }
}

/// A test point, as tap-driver.sh splits it.
#[derive(Debug, PartialEq, Eq)]
pub struct Point<'a> {
    pub ok: bool,
    /// The number written on the line; `None` means the next one in turn.
    pub number: Option<u64>,
    /// What follows the number up to the directive, blanks trimmed, dashes kept.
    pub description: &'a [u8],
    pub directive: Option<Directive>,
    /// What follows the directive's word, blanks trimmed (a `:` is kept).
    pub explanation: &'a [u8],
}

/// tap-driver.sh's blanks are spaces and tabs only.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A character that continues a word, for awk's `[a-zA-Z0-9_]`.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn trim_start_blanks(s: &[u8]) -> &[u8] {
    let blanks = s.iter().take_while(|&&b| is_blank(b)).count();
    &s[blanks..]
}

fn trim_blanks(s: &[u8]) -> &[u8] {
    let s = trim_start_blanks(s);
    let blanks = s.iter().rev().take_while(|&&b| is_blank(b)).count();
    &s[..s.len() - blanks]
}

/// The line without a closing carriage return.
fn without_line_end(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads a test point line (`ok ...` or `not ok ...` at the start of the line).
pub fn point(line: &[u8]) -> Option<Point<'_>> {
    let line = without_line_end(line);
    let (ok, rest) = match line.strip_prefix(b"not ok") {
        Some(rest) => (false, rest),
        None => (true, line.strip_prefix(b"ok")?),
    };
    if rest.first().map_or(false, |&b| is_word(b)) {
        return None;
    }
    let (number, rest) = number(trim_start_blanks(rest));
    let text = trim_blanks(rest);
    let (description, directive, explanation) = match directive(text) {
        Some((start, directive, explanation)) => (&text[..start], Some(directive), explanation),
        None => (text, None, &b""[..]),
    };
    Some(Point {
        ok,
        number,
        description,
        directive,
        explanation,
    })
}

/// A leading number, when it stands as a word of its own (`1 -`, `1`, `1-`,
/// not `1a`), and what follows it.
fn number(text: &[u8]) -> (Option<u64>, &[u8]) {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let alone = !text.get(digits).map_or(false, |&b| is_word(b));
    if digits > 0 && alone {
        let n = std::str::from_utf8(&text[..digits])
            .ok()
            .and_then(|d| d.parse().ok());
        if let Some(n) = n {
            return (Some(n), &text[digits..]);
        }
    }
    (None, text)
}

/// Where the directive starts in a point's text (its blanks before the `#`
/// included), which one it is, and its explanation. tap-driver.sh looks first
/// for a directive that ends the line, then for the first one followed by a
/// character that is not part of a word; a `#` after an odd number of
/// backslashes is escaped, and then the line has no directive at all.
fn directive(text: &[u8]) -> Option<(usize, Directive, &[u8])> {
    let found = directive_at(text, true).or_else(|| directive_at(text, false))?;
    let (start, hash, directive, word_end) = found;
    if start == hash {
        let backslashes = text[..hash]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            return None;
        }
    }
    Some((start, directive, trim_blanks(&text[word_end..])))
}

/// The first `#` that introduces a directive, as (start of the blanks before
/// it, the `#`, the directive, the end of its word). With `at_end`, only one
/// that nothing but blanks follows.
fn directive_at(bytes: &[u8], at_end: bool) -> Option<(usize, usize, Directive, usize)> {
    for (hash, _) in bytes.iter().enumerate().filter(|(_, &b)| b == b'#') {
        let word = hash
            + 1
            + bytes[hash + 1..]
                .iter()
                .take_while(|&&b| is_blank(b))
                .count();
        let directive = match bytes.get(word..word + 4) {
            Some(w) if w.eq_ignore_ascii_case(b"todo") => Directive::Todo,
            Some(w) if w.eq_ignore_ascii_case(b"skip") => Directive::Skip,
            _ => continue,
        };
        let after = &bytes[word + 4..];
        let ends = if at_end {
            after.iter().all(|&b| is_blank(b))
        } else {
            after.first().map_or(false, |&b| !is_word(b))
        };
        if ends {
            let start = hash
                - bytes[..hash]
                    .iter()
                    .rev()
                    .take_while(|&&b| is_blank(b))
                    .count();
            return Some((start, hash, directive, word + 4));
        }
    }
    None
}

/// The reason of a skip-all plan (`1..0 # SKIP no database`): what follows the
/// `#`, without a leading `SKIP` and the `:` or blank after it.
pub fn skip_reason(line: &[u8]) -> &[u8] {
    let line = without_line_end(line);
    let after = match line.iter().position(|&b| b == b'#') {
        Some(at) => trim_start_blanks(&line[at + 1..]),
        None => return b"",
    };
    let reason = match after.strip_prefix(b"SKIP") {
        Some(rest) if rest.first().map_or(false, |&b| b == b':' || is_blank(b)) => {
            trim_start_blanks(&rest[1..])
        }
        _ => after,
    };
    trim_blanks(reason)
}

/// The message of a `Bail out!` line, blanks trimmed.
pub fn bail_message(line: &[u8]) -> &[u8] {
    let line = trim_start_blanks(without_line_end(line));
    trim_blanks(line.strip_prefix(b"Bail out!").unwrap_or(b""))
}

/// The text of a comment shown with `--comments`: what follows the diagnostic
/// string (`#`), blanks trimmed; `None` for other lines and empty comments.
pub fn comment<'a>(line: &'a [u8], diagnostic: &[u8]) -> Option<&'a [u8]> {
    if diagnostic.is_empty() {
        return None;
    }
    let text = trim_blanks(without_line_end(line).strip_prefix(diagnostic)?);
    if text.is_empty() {
        None
    } else {
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(
        ok: bool,
        number: Option<u64>,
        description: &'static str,
        directive: Option<Directive>,
        explanation: &'static str,
    ) -> Option<Point<'static>> {
        Some(Point {
            ok,
            number,
            description: description.as_bytes(),
            directive,
            explanation: explanation.as_bytes(),
        })
    }

    #[test]
    fn the_dash_and_what_follows_it_are_the_description() {
        assert_eq!(point(b"ok 1 - foo"), p(true, Some(1), "- foo", None, ""));
        assert_eq!(point(b"ok 1 foo"), p(true, Some(1), "foo", None, ""));
        assert_eq!(point(b"ok 1 -foo"), p(true, Some(1), "-foo", None, ""));
        assert_eq!(point(b"ok - foo"), p(true, None, "- foo", None, ""));
        assert_eq!(
            point(b"ok 1 - - foo"),
            p(true, Some(1), "- - foo", None, "")
        );
        assert_eq!(
            point(b"ok 1 0002 - Duplicate key"),
            p(true, Some(1), "0002 - Duplicate key", None, "")
        );
        assert_eq!(point(b"not ok 007\t"), p(false, Some(7), "", None, ""));
        assert_eq!(point(b"ok"), p(true, None, "", None, ""));
        assert_eq!(point(b"ok 12abc"), p(true, None, "12abc", None, ""));
        assert_eq!(point(b"ok 3-x"), p(true, Some(3), "-x", None, ""));
        assert_eq!(
            point(b"ok 1 - trailing  \r"),
            p(true, Some(1), "- trailing", None, "")
        );
        assert_eq!(point(b"okay 1"), None);
        assert_eq!(point(b"# ok 1"), None);
        // Bytes that are not UTF-8 are kept as they are.
        assert_eq!(point(b"ok 1 caf\xe9").unwrap().description, b"caf\xe9");
    }

    #[test]
    fn directives_and_their_explanations() {
        use Directive::*;
        assert_eq!(point(b"ok 1 # SKIP"), p(true, Some(1), "", Some(Skip), ""));
        assert_eq!(
            point(b"ok 2 - net # skip no network "),
            p(true, Some(2), "- net", Some(Skip), "no network")
        );
        assert_eq!(
            point(b"not ok 3 - later # TODO: not yet"),
            p(false, Some(3), "- later", Some(Todo), ": not yet")
        );
        assert_eq!(point(b"ok 4 #todo"), p(true, Some(4), "", Some(Todo), ""));
        // A word that only starts like a directive is none.
        assert_eq!(
            point(b"ok 5 - # skipped it"),
            p(true, Some(5), "- # skipped it", None, "")
        );
        // One that ends the line wins over an earlier one.
        assert_eq!(
            point(b"ok 6 a # skip b # todo"),
            p(true, Some(6), "a # skip b", Some(Todo), "")
        );
    }

    #[test]
    fn an_escaped_hash_is_no_directive_and_stays_escaped() {
        use Directive::*;
        assert_eq!(
            point(br"ok 1 - a \# SKIP not really"),
            p(true, Some(1), r"- a \# SKIP not really", None, "")
        );
        assert_eq!(
            point(br"ok 2 - a \\# SKIP really"),
            p(true, Some(2), r"- a \\", Some(Skip), "really")
        );
        // A blank between the backslash and the # leaves it unescaped.
        assert_eq!(
            point(br"ok 3 - a \ # SKIP yes"),
            p(true, Some(3), r"- a \", Some(Skip), "yes")
        );
    }

    #[test]
    fn plans_bail_outs_and_comments() {
        assert_eq!(skip_reason(b"1..0 # SKIP no database"), b"no database");
        assert_eq!(skip_reason(b"1..0 # SKIP: no database "), b"no database");
        assert_eq!(skip_reason(b"1..0 # skip no database"), b"skip no database");
        assert_eq!(skip_reason(b"1..0 # SKIP"), b"SKIP");
        assert_eq!(skip_reason(b"1..0"), b"");
        assert_eq!(bail_message(b"Bail out!  disk full \r"), b"disk full");
        assert_eq!(bail_message(b"  Bail out!"), b"");
        assert_eq!(comment(b"## double", b"#"), Some(&b"# double"[..]));
        assert_eq!(comment(b"#\ttabbed  ", b"#"), Some(&b"tabbed"[..]));
        assert_eq!(comment(b"#   ", b"#"), None);
        assert_eq!(comment(b"    # indented", b"#"), None);
        assert_eq!(comment(b"%% mine", b"%%"), Some(&b"mine"[..]));
    }
}
