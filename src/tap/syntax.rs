//! The grammar of one TAP line, with no state: is this text a test point, a plan,
//! a version, a bail-out, a pragma, a subtest header, and what are its parts.
//!
//! Everything here borrows the line and allocates nothing, because it runs on
//! every line of every test; the parser decides what the parts mean. Escapes
//! (`\#`, `\\`) are only recognised here; [`unescape`] writes them out.

use super::Directive;

/// The parts of a test point line (`ok 3 - name # TODO why`), still escaped.
#[derive(Debug, PartialEq, Eq)]
pub struct TestPoint<'a> {
    pub ok: bool,
    pub number: Option<u64>,
    pub description: &'a [u8],
    pub directive: Option<Directive>,
    pub reason: &'a [u8],
}

/// Reads `ok` / `not ok` followed by a word boundary, as prove's `^(not )?ok\b`.
pub fn test_point(s: &[u8]) -> Option<TestPoint<'_>> {
    let (ok, rest) = if let Some(rest) = s.strip_prefix(b"ok") {
        (true, rest)
    } else {
        (false, s.strip_prefix(b"not ok")?)
    };
    if rest.first().map_or(false, |&b| is_word(b)) {
        return None;
    }
    let after_status = trim_start(rest);
    // The number must be separated from the status (`ok1` has none).
    let digits = if after_status.len() < rest.len() {
        after_status
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    } else {
        0
    };
    let number = if digits > 0 {
        // Too many digits for u64 is still a number, and certainly out of plan.
        Some(parse_u64(&after_status[..digits]).unwrap_or(u64::MAX))
    } else {
        None
    };
    let text = trim_start(&after_status[digits..]);
    let text = match text.strip_prefix(b"-") {
        Some(r) if r.is_empty() || r[0].is_ascii_whitespace() => trim_start(r),
        _ => text,
    };
    let (description, directive, reason) = split_directive(text);
    Some(TestPoint {
        ok,
        number,
        description: trim_end(description),
        directive,
        reason,
    })
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits a test point's text into description, directive and reason.
///
/// A directive starts at the first unescaped `#` that opens the text, follows
/// whitespace, or follows an escaped backslash (TAP 14's `hello \\# todo` is a
/// TODO); any other `#` is text, so `page.html#skip` stays a description. Only
/// that first candidate counts: if it is not SKIP or TODO, the whole text is the
/// description, as TAP 14 asks for unknown directives.
pub fn split_directive(text: &[u8]) -> (&[u8], Option<Directive>, &[u8]) {
    let mut i = 0;
    let mut after_escaped_backslash = false;
    while i < text.len() {
        match text[i] {
            b'\\' => {
                after_escaped_backslash = text.get(i + 1) == Some(&b'\\');
                i += 2;
                continue;
            }
            b'#' if i == 0 || text[i - 1].is_ascii_whitespace() || after_escaped_backslash => {
                return match directive(&text[i + 1..]) {
                    Some((d, reason)) => (&text[..i], Some(d), reason),
                    None => (text, None, b""),
                };
            }
            _ => i += 1,
        }
        after_escaped_backslash = false;
    }
    (text, None, b"")
}

/// Reads `\s*(SKIP|TODO)\S*(\s+reason)?` after a `#`, case-insensitively.
fn directive(comment: &[u8]) -> Option<(Directive, &[u8])> {
    let comment = trim_start(comment);
    let d = if starts_with_ignore_case(comment, b"skip") {
        Directive::Skip
    } else if starts_with_ignore_case(comment, b"todo") {
        Directive::Todo
    } else {
        return None;
    };
    let word = comment
        .iter()
        .take_while(|b| !b.is_ascii_whitespace())
        .count();
    Some((d, trim(&comment[word..])))
}

/// A plan line: `1..N`, optionally `# reason`.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan<'a> {
    pub count: u64,
    /// The comment, with a leading `SKIP\S*` word taken off (for `1..0 # SKIP why`).
    pub reason: &'a [u8],
    pub has_comment: bool,
}

pub fn plan(s: &[u8]) -> Option<Plan<'_>> {
    let rest = s.strip_prefix(b"1..")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let count = parse_u64(&rest[..digits]).unwrap_or(u64::MAX);
    let after = trim_start(&rest[digits..]);
    if after.is_empty() {
        return Some(Plan {
            count,
            reason: b"",
            has_comment: false,
        });
    }
    // `1..3#x` is not a plan: like a directive, the comment needs space before it.
    if after.len() == rest.len() - digits || after[0] != b'#' {
        return None;
    }
    let comment = trim(&after[1..]);
    let reason = if starts_with_ignore_case(comment, b"skip") {
        let word = comment
            .iter()
            .take_while(|b| !b.is_ascii_whitespace())
            .count();
        trim(&comment[word..])
    } else {
        comment
    };
    Some(Plan {
        count,
        reason,
        has_comment: true,
    })
}

/// `TAP version N`, case-insensitive, as prove reads it.
pub fn version(s: &[u8]) -> Option<u32> {
    let rest = strip_prefix_ignore_case(s, b"tap")?;
    let rest = trim_start(rest);
    let rest = strip_prefix_ignore_case(rest, b"version")?;
    let n = trim(rest);
    if n.is_empty() || n.len() == rest.len() || !n.iter().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(parse_u64(n).map_or(u32::MAX, |v| v.min(u32::MAX as u64) as u32))
}

/// `Bail out!` in any case; returns the reason (still escaped).
pub fn bail(s: &[u8]) -> Option<&[u8]> {
    strip_prefix_ignore_case(s, b"bail out!").map(trim)
}

/// `pragma +key` / `pragma -key` (a comma-separated list is accepted, as prove
/// does); returns the keys part, e.g. `+strict`.
pub fn pragma(s: &[u8]) -> Option<&[u8]> {
    let rest = s.strip_prefix(b"pragma")?;
    let keys = trim(rest);
    if keys.len() == rest.len() || keys.is_empty() {
        return None;
    }
    let valid = keys.split(|&b| b == b',').all(|k| {
        let k = trim(k);
        k.len() > 1
            && (k[0] == b'+' || k[0] == b'-')
            && k[1..]
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if valid {
        Some(keys)
    } else {
        None
    }
}

/// The keys a pragma line sets, each with its sign: `(true, b"strict")`.
pub fn pragma_keys(keys: &[u8]) -> impl Iterator<Item = (bool, &[u8])> {
    keys.split(|&b| b == b',')
        .map(trim)
        .map(|k| (k[0] == b'+', &k[1..]))
}

/// A `# Subtest` or `# Subtest: name` header (the text after any indentation);
/// returns the name, empty when there is none.
pub fn subtest_header(s: &[u8]) -> Option<&[u8]> {
    let rest = s.strip_prefix(b"#")?;
    let rest = trim_start(rest).strip_prefix(b"Subtest")?;
    if rest.is_empty() {
        return Some(b"");
    }
    rest.strip_prefix(b":").map(trim)
}

/// Writes `s` with TAP 14's escapes undone: `\\` is `\`, `\#` is `#`, and any
/// other backslash is itself.
pub fn unescape(s: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && matches!(s.get(i + 1), Some(b'\\') | Some(b'#')) {
            out.push(s[i + 1]);
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
}

/// Whether [`unescape`] would change `s` (the common case is no backslash at all).
pub fn needs_unescape(s: &[u8]) -> bool {
    s.contains(&b'\\')
}

pub fn is_blank(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b' ' || b == b'\t')
}

/// The number of leading spaces (tabs are not indentation in TAP).
pub fn indentation(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| b == b' ').count()
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(n)
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if starts_with_ignore_case(s, prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

pub fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

pub fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    &s[..s.len() - n]
}

pub fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(s: &str) -> TestPoint<'_> {
        test_point(s.as_bytes()).unwrap()
    }

    fn unesc(s: &[u8]) -> String {
        let mut out = Vec::new();
        unescape(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_needs_a_word_boundary() {
        assert!(test_point(b"ok").is_some());
        assert!(test_point(b"not ok").is_some());
        assert!(test_point(b"ok, fine").is_some());
        assert!(test_point(b"okapi 1").is_none());
        assert!(test_point(b"not okay").is_none());
        assert!(test_point(b"ok_1").is_none());
        assert!(test_point(b"Ok 1").is_none(), "status is case-sensitive");
        assert!(test_point(b"not  ok 1").is_none());
    }

    #[test]
    fn number_is_optional() {
        assert_eq!(point("not ok").number, None);
        assert_eq!(point("ok 17").number, Some(17));
        assert_eq!(point("ok 17 - x").description, b"x");
        assert_eq!(point("ok 99999999999999999999999").number, Some(u64::MAX));
    }

    #[test]
    fn dash_separator_is_not_part_of_the_description() {
        assert_eq!(
            point("ok 4 the frobnicator spins").description,
            b"the frobnicator spins"
        );
        assert_eq!(
            point("ok 4 - the frobnicator spins").description,
            b"the frobnicator spins"
        );
        assert_eq!(point("ok - only text").description, b"only text");
        assert_eq!(point("ok 4 -").description, b"");
        assert_eq!(point("ok 4 -5 degrees").description, b"-5 degrees");
    }

    #[test]
    fn directives_are_case_insensitive_with_optional_reason() {
        let p = point("not ok 9 # tOdO teach it to fly");
        assert_eq!(
            (p.directive, p.reason, p.description),
            (Some(Directive::Todo), &b"teach it to fly"[..], &b""[..])
        );
        let p = point("ok 2 - net # SkIp");
        assert_eq!(
            (p.directive, p.reason, p.description),
            (Some(Directive::Skip), &b""[..], &b"net"[..])
        );
        let p = point("ok 3 - later # Skipped: needs a printer");
        assert_eq!(
            (p.directive, p.reason),
            (Some(Directive::Skip), &b"needs a printer"[..])
        );
        let p = point("ok 4 - later # TODO: wait");
        assert_eq!(
            (p.directive, p.reason),
            (Some(Directive::Todo), &b"wait"[..])
        );
        let p = point("ok 5 - #skip no space after the hash");
        assert_eq!(
            (p.directive, p.description),
            (Some(Directive::Skip), &b""[..])
        );
        let p = point("ok 6 - # SKIP no /dev/kvm");
        assert_eq!(
            (p.directive, p.reason, p.description),
            (Some(Directive::Skip), &b"no /dev/kvm"[..], &b""[..])
        );
    }

    #[test]
    fn hash_without_whitespace_before_is_text() {
        let p = point("ok 2 see http://example.org/a#todo for details");
        assert_eq!(p.directive, None);
        assert_eq!(p.description, b"see http://example.org/a#todo for details");
    }

    #[test]
    fn only_the_first_candidate_hash_counts() {
        let p = point("ok 7 - hi # what # todo");
        assert_eq!(
            (p.directive, p.description),
            (None, &b"hi # what # todo"[..])
        );
        let p = point("ok 4 - hi # todo a # b");
        assert_eq!(
            (p.directive, p.reason),
            (Some(Directive::Todo), &b"a # b"[..])
        );
    }

    #[test]
    fn escapes_hide_a_hash_from_the_directive_rule() {
        let p = point("ok 2 - hi \\# todo");
        assert_eq!(p.directive, None);
        assert_eq!(unesc(p.description), "hi # todo");
        // An escaped backslash does not escape the hash after it.
        let p = point("ok 5 - hi \\\\# todo mark \\# here");
        assert_eq!(p.directive, Some(Directive::Todo));
        assert_eq!(unesc(p.description), "hi \\");
        assert_eq!(unesc(p.reason), "mark # here");
        // Three escaped backslashes then an escaped hash.
        let p = point("ok 8 - hi \\\\\\\\\\\\\\# todo");
        assert_eq!(p.directive, None);
        assert_eq!(unesc(p.description), "hi \\\\\\# todo");
        assert_eq!(unesc(b"a\\b\\"), "a\\b\\", "other backslashes stay");
    }

    #[test]
    fn plans() {
        assert_eq!(
            plan(b"1..12"),
            Some(Plan {
                count: 12,
                reason: b"",
                has_comment: false
            })
        );
        assert_eq!(
            plan(b"1..0 # SKIP no compiler"),
            Some(Plan {
                count: 0,
                reason: b"no compiler",
                has_comment: true
            })
        );
        assert_eq!(
            plan(b"1..0 # needs a tty"),
            Some(Plan {
                count: 0,
                reason: b"needs a tty",
                has_comment: true
            })
        );
        assert_eq!(plan(b"1..5 # five of them").map(|p| p.count), Some(5));
        assert_eq!(
            plan(b"1..5 "),
            Some(Plan {
                count: 5,
                reason: b"",
                has_comment: false
            })
        );
        assert!(plan(b"1..").is_none());
        assert!(plan(b"1..5 tests").is_none());
        assert!(plan(b"1..5#x").is_none());
        assert!(plan(b"2..5").is_none());
    }

    #[test]
    fn versions() {
        assert_eq!(version(b"TAP version 14"), Some(14));
        assert_eq!(version(b"tap VERSION 13 "), Some(13));
        assert_eq!(version(b"TAP version 12"), Some(12));
        assert_eq!(version(b"TAP version"), None);
        assert_eq!(version(b"TAP version fourteen"), None);
        assert_eq!(version(b"TAP version14"), None);
    }

    #[test]
    fn bail_and_pragma_and_header() {
        assert_eq!(bail(b"bail OUT!  no disk "), Some(&b"no disk"[..]));
        assert_eq!(bail(b"Bail out"), None);
        assert_eq!(pragma(b"pragma +strict"), Some(&b"+strict"[..]));
        assert_eq!(
            pragma(b"pragma -strict, +bail"),
            Some(&b"-strict, +bail"[..])
        );
        assert_eq!(pragma(b"pragma strict"), None);
        assert_eq!(pragma(b"pragma +strict # on"), None);
        assert_eq!(
            pragma_keys(b"-strict, +bail").collect::<Vec<_>>(),
            [(false, &b"strict"[..]), (true, &b"bail"[..])]
        );
        assert_eq!(
            subtest_header(b"# Subtest: parse dates"),
            Some(&b"parse dates"[..])
        );
        assert_eq!(subtest_header(b"# Subtest"), Some(&b""[..]));
        assert_eq!(subtest_header(b"# Subtests are nice"), None);
    }
}
