//! A streaming TAP parser: one line in, its classification out, and a summary at
//! the end that the auditor turns into a verdict.
//!
//! It owns the TAP grammar and the counting (plan, numbering, failures, TODO,
//! skips, bail-out). It must not know about processes, files or the job log
//! format beyond [`Line::write_fields`], which writes a line's fields as JSON.
//! Memory per parser does not grow with the number of lines read.

mod verdict;
pub use verdict::{judge, signal_name, Exit, Outcome, Verdict};

use crate::json;

/// How many failing or TODO-passing test numbers a summary lists; the rest are
/// only counted, so memory stays flat on huge outputs.
const LISTED_NUMBERS: usize = 64;

/// What kind of line the parser saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Version,
    Plan,
    Assert,
    Comment,
    Bail,
    /// Anything else: kept as plain output, never a failure by itself.
    Unknown,
}

impl Kind {
    /// The event type a record of this line carries.
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::Version => "version",
            Kind::Plan => "plan",
            Kind::Assert => "assert",
            Kind::Comment => "comment",
            Kind::Bail => "bail",
            Kind::Unknown => "output",
        }
    }
}

/// A SKIP or TODO directive on a test point or plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Skip,
    Todo,
}

/// One classified line; borrows the line it came from.
#[derive(Debug)]
pub struct Line<'a> {
    pub kind: Kind,
    pub depth: u32,
    pub version: u32,
    pub ok: bool,
    pub number: u64,
    pub count: u64,
    pub description: &'a [u8],
    pub directive: Option<Directive>,
    pub reason: &'a [u8],
}

impl<'a> Line<'a> {
    fn new(kind: Kind) -> Line<'a> {
        Line {
            kind,
            depth: 0,
            version: 0,
            ok: false,
            number: 0,
            count: 0,
            description: b"",
            directive: None,
            reason: b"",
        }
    }

    /// Appends this line's own fields as `,"key":value` pairs. For an assert the
    /// first pair is always `"ok"`, so a reader can tell a failure by its bytes.
    pub fn write_fields(&self, out: &mut Vec<u8>) {
        match self.kind {
            Kind::Assert => {
                json::write_bool_field(out, "ok", self.ok);
                json::write_u64_field(out, "number", self.number);
                json::write_bytes_field(out, "description", self.description);
                if let Some(d) = self.directive {
                    json::write_str_field(
                        out,
                        "directive",
                        if d == Directive::Skip { "skip" } else { "todo" },
                    );
                    json::write_bytes_field(out, "reason", self.reason);
                }
            }
            Kind::Plan => {
                json::write_u64_field(out, "count", self.count);
                if self.directive.is_some() || !self.reason.is_empty() {
                    json::write_bytes_field(out, "reason", self.reason);
                }
            }
            Kind::Version => json::write_u64_field(out, "version", self.version as u64),
            Kind::Bail => json::write_bytes_field(out, "reason", self.reason),
            Kind::Comment | Kind::Unknown => {}
        }
        if self.depth > 0 {
            json::write_u64_field(out, "depth", self.depth as u64);
        }
    }
}

/// Test numbers, the first few listed and all of them counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Numbers {
    pub listed: Vec<u64>,
    pub count: u64,
}

impl Numbers {
    fn add(&mut self, n: u64) {
        if self.listed.len() < LISTED_NUMBERS {
            self.listed.push(n);
        }
        self.count += 1;
    }
}

/// What the whole stream said, for the verdict.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub version: u32,
    pub planned: Option<u64>,
    /// `Some` when the plan was `1..0`: the whole file is skipped, with this reason.
    pub skip_all: Option<String>,
    pub run: u64,
    pub passed: u64,
    pub failed: Numbers,
    pub todo: u64,
    pub todo_passed: Numbers,
    pub skipped: u64,
    pub bail: Option<String>,
    pub parse_errors: Vec<String>,
}

/// The parser's state for one test's stdout.
pub struct Parser {
    summary: Summary,
    lines_seen: u64,
    plan_line: Option<u64>,
    plan_at_end: bool,
    next_number: u64,
    errors: Vec<String>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            summary: Summary {
                version: 12,
                ..Summary::default()
            },
            lines_seen: 0,
            plan_line: None,
            plan_at_end: false,
            next_number: 1,
            errors: Vec::new(),
        }
    }

    /// Classifies one line of stdout (without its line ending) and updates the
    /// counts. Parse errors it causes are collected for [`Parser::take_errors`].
    pub fn line<'a>(&mut self, raw: &'a [u8]) -> Line<'a> {
        self.lines_seen += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(line) = self.test_point(raw) {
            return line;
        }
        if let Some(line) = self.plan(raw) {
            return line;
        }
        if let Some(rest) = raw.strip_prefix(b"#") {
            let _ = rest;
            return Line::new(Kind::Comment);
        }
        if let Some(rest) = strip_prefix_ignore_case(raw, b"bail out!") {
            let reason = trim(rest);
            self.summary.bail = Some(String::from_utf8_lossy(reason).into_owned());
            let mut line = Line::new(Kind::Bail);
            line.reason = reason;
            return line;
        }
        if let Some(rest) = strip_prefix_ignore_case(raw, b"tap version ") {
            let version = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok());
            if let Some(version) = version {
                if self.lines_seen != 1 {
                    self.error(format!(
                        "TAP version line {} is not the first line",
                        self.lines_seen
                    ));
                } else if version < 13 {
                    self.error(format!(
                        "TAP version {} is not allowed; versions below 13 have no version line",
                        version
                    ));
                } else {
                    self.summary.version = version;
                }
                let mut line = Line::new(Kind::Version);
                line.version = version;
                return line;
            }
        }
        Line::new(Kind::Unknown)
    }

    fn test_point<'a>(&mut self, raw: &'a [u8]) -> Option<Line<'a>> {
        let (ok, rest) = if let Some(rest) = raw.strip_prefix(b"ok") {
            (true, rest)
        } else {
            (false, raw.strip_prefix(b"not ok")?)
        };
        if rest.first().map_or(false, |&b| !b.is_ascii_whitespace()) {
            return None;
        }
        let rest = trim_start(rest);
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let number = if digits > 0 {
            std::str::from_utf8(&rest[..digits])
                .ok()?
                .parse::<u64>()
                .ok()?
        } else {
            self.next_number
        };
        let rest = trim_start(&rest[digits..]);
        let rest = rest
            .strip_prefix(b"- ")
            .or_else(|| if rest == b"-" { Some(b"") } else { None })
            .unwrap_or(rest);
        let (description, directive, reason) = split_directive(rest);

        let mut line = Line::new(Kind::Assert);
        line.ok = ok;
        line.number = number;
        line.description = trim_end(description);
        line.directive = directive;
        line.reason = reason;
        self.count_assert(&line);
        Some(line)
    }

    fn count_assert(&mut self, line: &Line) {
        if self.plan_at_end {
            self.error(format!(
                "test {} comes after the plan at the end",
                line.number
            ));
        }
        if line.number != self.next_number {
            self.error(format!(
                "tests out of sequence: found test {} but expected {}",
                line.number, self.next_number
            ));
        }
        self.next_number = line.number + 1;
        let s = &mut self.summary;
        s.run += 1;
        match line.directive {
            Some(Directive::Todo) => {
                s.todo += 1;
                if line.ok {
                    s.todo_passed.add(line.number);
                }
                s.passed += 1;
            }
            Some(Directive::Skip) if line.ok => {
                s.skipped += 1;
                s.passed += 1;
            }
            _ if line.ok => s.passed += 1,
            _ => s.failed.add(line.number),
        }
    }

    fn plan<'a>(&mut self, raw: &'a [u8]) -> Option<Line<'a>> {
        let rest = raw.strip_prefix(b"1..")?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let count = std::str::from_utf8(&rest[..digits])
            .ok()?
            .parse::<u64>()
            .ok()?;
        let after = &rest[digits..];
        let after_trimmed = trim_start(after);
        let comment = match after_trimmed.strip_prefix(b"#") {
            Some(c) => trim(c),
            None if after_trimmed.is_empty() => b"",
            None => return None,
        };
        let (directive, reason) = match strip_prefix_ignore_case(comment, b"skip") {
            Some(r) => (Some(Directive::Skip), trim(skip_word(r))),
            None => (None, comment),
        };
        if self.plan_line.is_some() {
            self.error("more than one plan".to_string());
        } else {
            self.plan_line = Some(self.lines_seen);
            self.summary.planned = Some(count);
            self.plan_at_end = self.summary.run > 0;
            if count == 0 {
                let why = if directive.is_some() || !reason.is_empty() {
                    reason
                } else {
                    b""
                };
                self.summary.skip_all = Some(String::from_utf8_lossy(why).into_owned());
            }
        }
        let mut line = Line::new(Kind::Plan);
        line.count = count;
        line.directive = directive;
        line.reason = reason;
        Some(line)
    }

    fn error(&mut self, message: String) {
        if self.summary.parse_errors.len() < LISTED_NUMBERS {
            self.summary.parse_errors.push(message.clone());
        }
        self.errors.push(message);
    }

    /// The parse errors caused by the lines read since the last call.
    pub fn take_errors(&mut self) -> std::vec::Drain<'_, String> {
        self.errors.drain(..)
    }

    /// Ends the stream: checks the plan against what ran and returns the summary.
    /// Errors found here are also in `take_errors` afterwards.
    pub fn finish(&mut self) -> Summary {
        match self.summary.planned {
            None if self.summary.bail.is_none() => {
                self.error("no plan found in TAP output".to_string())
            }
            Some(planned) if self.summary.skip_all.is_none() && planned != self.summary.run => self
                .error(format!(
                    "planned {} tests but ran {}",
                    planned, self.summary.run
                )),
            Some(_) if self.summary.skip_all.is_some() && self.summary.run > 0 => {
                self.error(format!(
                    "plan 1..0 skips the file, but {} tests ran",
                    self.summary.run
                ))
            }
            _ => {}
        }
        std::mem::take(&mut self.summary)
    }
}

/// Splits a test point's text into description, directive and reason: the first
/// `#` preceded by whitespace (or at the start) starts the directive; `\#` does not.
fn split_directive(text: &[u8]) -> (&[u8], Option<Directive>, &[u8]) {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'#' if i == 0 || text[i - 1].is_ascii_whitespace() => {
                let comment = trim(&text[i + 1..]);
                let directive = if let Some(r) = strip_prefix_ignore_case(comment, b"skip") {
                    Some((Directive::Skip, r))
                } else {
                    strip_prefix_ignore_case(comment, b"todo").map(|r| (Directive::Todo, r))
                };
                return match directive {
                    Some((d, r)) => (&text[..i], Some(d), trim(skip_word(r))),
                    None => (text, None, b""),
                };
            }
            _ => i += 1,
        }
    }
    (text, None, b"")
}

/// Skips the rest of a directive word (`SKIPPED`, `TODO:`), leaving its reason.
fn skip_word(rest: &[u8]) -> &[u8] {
    let n = rest.iter().take_while(|b| !b.is_ascii_whitespace()).count();
    &rest[n..]
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    &s[..s.len() - n]
}

fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> (Vec<Kind>, Summary) {
        let mut p = Parser::new();
        let kinds = input.lines().map(|l| p.line(l.as_bytes()).kind).collect();
        (kinds, p.finish())
    }

    #[test]
    fn a_passing_stream() {
        let (kinds, s) = parse("1..2\nok 1 - a\nok 2 b\n");
        assert_eq!(kinds, [Kind::Plan, Kind::Assert, Kind::Assert]);
        assert_eq!(
            (s.planned, s.run, s.passed, s.failed.count),
            (Some(2), 2, 2, 0)
        );
        assert!(s.parse_errors.is_empty());
    }

    #[test]
    fn directives_and_escapes() {
        let mut p = Parser::new();
        let l = p.line(b"not ok 1 - a \\# b # TODO later");
        assert_eq!(
            (l.directive, l.reason, l.description),
            (Some(Directive::Todo), &b"later"[..], &b"a \\# b"[..])
        );
        let l = p.line(b"ok 2 # skipped: no network");
        assert_eq!(
            (l.directive, l.reason),
            (Some(Directive::Skip), &b"no network"[..])
        );
        let l = p.line(b"ok 3 - c#not a directive");
        assert_eq!(l.directive, None);
    }

    #[test]
    fn skip_all_and_missing_plan() {
        let (_, s) = parse("1..0 # SKIP no database\n");
        assert_eq!(s.skip_all.as_deref(), Some("no database"));
        let (_, s) = parse("ok 1\n");
        assert_eq!(s.parse_errors, ["no plan found in TAP output"]);
    }

    #[test]
    fn bail_out_is_case_insensitive() {
        let (kinds, s) = parse("1..3\nok 1\nBAIL OUT! disk full\n");
        assert_eq!(kinds[2], Kind::Bail);
        assert_eq!(s.bail.as_deref(), Some("disk full"));
    }

    #[test]
    fn okay_is_not_a_test_point() {
        let (kinds, _) = parse("okay\nnot okay\n");
        assert_eq!(kinds, [Kind::Unknown, Kind::Unknown]);
    }
}
