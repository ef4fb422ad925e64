//! The record of one classified line: its kind, the event type that kind is
//! written as, and its fields as JSON (see the table in the module above).
//!
//! It owns the record's shape only; what a line means is the parser's business.

use super::syntax;
use crate::json;
use serde_json::Value;

/// What kind of line the parser saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Version,
    Plan,
    Assert,
    Comment,
    Bail,
    /// Anything else: kept as plain output, a failure only under `pragma +strict`.
    Unknown,
    /// A line of a YAML diagnostic block, its `---` and `...` included.
    Yaml,
    Pragma,
    /// A `# Subtest: name` header.
    Subtest,
    /// The `}` that ends a Test2 buffered subtest.
    SubtestEnd,
    Blank,
}

impl Kind {
    /// The event type a record of this line carries.
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::Version => "version",
            Kind::Plan => "plan",
            Kind::Assert => "assert",
            Kind::Comment | Kind::Subtest | Kind::SubtestEnd => "comment",
            Kind::Bail => "bail",
            Kind::Unknown => "output",
            Kind::Yaml => "yaml",
            Kind::Pragma => "pragma",
            Kind::Blank => "blank",
        }
    }
}

/// A SKIP or TODO directive on a test point or plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Skip,
    Todo,
}

/// One classified line; borrows the line it came from and the parser.
#[derive(Debug)]
pub struct Line<'a> {
    pub kind: Kind,
    pub depth: u32,
    pub version: u32,
    /// For an assert, whether it passed: false also when its number is outside
    /// the plan or the subtest it closes is broken (see `reported_ok`).
    pub ok: bool,
    /// What the line itself said (`ok` or `not ok`).
    pub reported_ok: bool,
    /// The test number (given or implied); for YAML, that of its test point.
    pub number: u64,
    /// An assert's number is the one its line states (not implied).
    pub number_stated: bool,
    /// A plan's count.
    pub count: u64,
    pub description: &'a [u8],
    pub directive: Option<Directive>,
    /// The directive's reason, a plan's comment or a bail-out's reason.
    pub reason: &'a [u8],
    pub duplicate: bool,
    pub unplanned: bool,
    /// The subtest name of a `# Subtest` header, or of the subtest an assert closes.
    pub name: &'a [u8],
    /// The assert closes a subtest (bare or named).
    pub closes_subtest: bool,
    /// The assert opens a Test2 buffered subtest (`ok 3 - name {`); its
    /// description is the name without the brace.
    pub opens_subtest: bool,
    /// Why the subtest this assert closes is broken; empty when it is sound.
    pub subtest_error: &'a str,
    /// The diagnostic of a YAML block, on its closing `...` line.
    pub yaml: Option<&'a Value>,
    /// Why the block is kept as text (`yaml` is then a string).
    pub yaml_error: &'a str,
    /// YAML bytes beyond the cap, counted but not kept.
    pub yaml_truncated: u64,
    /// A pragma's keys, e.g. `+strict`.
    pub pragma: &'a [u8],
    /// Non-TAP output while `pragma +strict` is on.
    pub strict: bool,
    /// How many lines a lone CR split this raw line into (1 normally).
    pub segments: u32,
}

impl<'a> Line<'a> {
    /// Appends this line's own fields as `,"key":value` pairs. A failed assert's
    /// first pair is `"ok":false`, so a reader can tell a failure by its bytes;
    /// a passing one has no `"ok"`. An assert's number (when the line states
    /// it), description, directive and reason are left out: they are the
    /// line's own, and `event::derive` reads them from it again when asked.
    /// Only a line a lone CR split keeps them, as its record's line is not the
    /// piece they were read from.
    pub fn write_fields(&self, out: &mut Vec<u8>) {
        match self.kind {
            Kind::Assert => {
                if !self.ok {
                    json::write_bool_field(out, "ok", false);
                }
                if self.segments > 1 {
                    self.write_parts(out);
                } else if !self.number_stated {
                    json::write_u64_field(out, "number", self.number);
                }
                if self.duplicate {
                    json::write_bool_field(out, "duplicate", true);
                }
                if self.unplanned {
                    json::write_bool_field(out, "unplanned", true);
                }
                if self.closes_subtest {
                    json::write_bytes_field(out, "subtest", self.name);
                    if !self.subtest_error.is_empty() {
                        json::write_str_field(out, "subtest_error", self.subtest_error);
                    }
                }
                if self.opens_subtest {
                    json::write_bool_field(out, "opens_subtest", true);
                }
                if self.reported_ok != self.ok {
                    json::write_bool_field(out, "reported_ok", self.reported_ok);
                }
            }
            Kind::Plan => {
                json::write_u64_field(out, "count", self.count);
                if self.directive.is_some() || !self.reason.is_empty() {
                    json::write_bytes_field(out, "reason", self.reason);
                }
                if self.count == 0 {
                    json::write_bool_field(out, "skip_all", true);
                }
            }
            Kind::Version => json::write_u64_field(out, "version", self.version as u64),
            Kind::Bail => json::write_bytes_field(out, "reason", self.reason),
            Kind::Yaml => {
                json::write_u64_field(out, "number", self.number);
                if let Some(v) = self.yaml {
                    json::write_key(out, "yaml");
                    // Writing a Value into a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut *out, v);
                    if !self.yaml_error.is_empty() {
                        json::write_str_field(out, "yaml_error", self.yaml_error);
                    }
                    if self.yaml_truncated > 0 {
                        json::write_u64_field(out, "yaml_truncated", self.yaml_truncated);
                    }
                }
            }
            Kind::Pragma => json::write_bytes_field(out, "pragma", self.pragma),
            Kind::Subtest => json::write_bytes_field(out, "subtest", self.name),
            Kind::SubtestEnd => {
                json::write_bytes_field(out, "subtest_end", self.name);
                json::write_u64_field(out, "number", self.number);
                if !self.subtest_error.is_empty() {
                    json::write_str_field(out, "subtest_error", self.subtest_error);
                }
            }
            Kind::Unknown => {
                if self.strict {
                    json::write_bool_field(out, "strict", true);
                }
            }
            Kind::Comment | Kind::Blank => {}
        }
        if self.depth > 0 {
            json::write_u64_field(out, "depth", self.depth as u64);
        }
        if self.segments > 1 {
            json::write_u64_field(out, "segments", self.segments as u64);
        }
    }

    /// An assert's parts as read, for a record whose line cannot give them back.
    fn write_parts(&self, out: &mut Vec<u8>) {
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
}

/// What an assert's line says of itself, read again from the line alone: its
/// parts as [`Line`] had them when its record was written (see
/// [`Line::write_fields`]), for a line no lone CR split.
#[derive(Debug, PartialEq, Eq)]
pub struct Stated {
    pub ok: bool,
    pub number: Option<u64>,
    pub description: Vec<u8>,
    pub directive: Option<Directive>,
    pub reason: Vec<u8>,
}

/// Reads an assert's `raw` line (as written in its record) the way the parser
/// read it: trailing CRs and indentation off, a Test2 opening brace off when
/// the record says the point opens a subtest, escapes undone.
pub fn stated(raw: &[u8], opens_subtest: bool) -> Option<Stated> {
    let mut end = raw.len();
    while end > 0 && raw[end - 1] == b'\r' {
        end -= 1;
    }
    let body = &raw[..end];
    let tp = syntax::test_point(&body[syntax::indentation(body)..])?;
    let description = match tp.description.strip_suffix(b"{") {
        Some(d) if opens_subtest => syntax::trim_end(d),
        _ => tp.description,
    };
    Some(Stated {
        ok: tp.ok,
        number: tp.number,
        description: unescaped(description),
        directive: tp.directive,
        reason: unescaped(tp.reason),
    })
}

fn unescaped(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    syntax::unescape(field, &mut out);
    out
}
