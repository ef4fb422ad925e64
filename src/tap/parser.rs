//! The parser proper: a state machine over lines, with a stack of levels (the
//! top document and open subtests), an open YAML block, and the scratch
//! buffers that unescaped text is handed out from.
//!
//! It owns what lines mean in context and all the counting; the grammar of a
//! single line is in `syntax`, one level's bookkeeping in `level`.

use super::level::{self, Level};
use super::line::{Directive, Kind, Line};
use super::{
    syntax, yaml, Summary, LISTED_NUMBERS, MAX_DEPTH, PENDING_ERRORS, SCRATCH_KEEP, YAML_CAP,
};
use serde_json::Value;

/// The last test point, which a YAML block may follow.
#[derive(Clone, Copy)]
struct Anchor {
    depth: usize,
    number: u64,
}

/// An open YAML block: its test point and the indentation of its `---`.
struct YamlBlock {
    anchor: Anchor,
    indent: usize,
    dropped: u64,
}

/// Where a text field of a [`Line`] lives until the line is handed out.
#[derive(Clone, Copy, Debug)]
enum Text {
    Empty,
    Raw(usize, usize),
    Description,
    Reason,
    Name,
}

/// A classified line before it borrows anything (several segments of one raw
/// line are parsed in turn, and only one becomes the [`Line`]).
#[derive(Clone, Copy, Debug)]
struct Out {
    kind: Kind,
    depth: usize,
    version: u32,
    ok: bool,
    reported_ok: bool,
    number_stated: bool,
    number: u64,
    count: u64,
    description: Text,
    directive: Option<Directive>,
    reason: Text,
    duplicate: bool,
    unplanned: bool,
    name: Text,
    closes_subtest: bool,
    opens_subtest: bool,
    subtest_error: bool,
    yaml: bool,
    yaml_truncated: u64,
    pragma: Text,
    strict: bool,
}

impl Out {
    fn new(kind: Kind, depth: usize) -> Out {
        Out {
            kind,
            depth,
            version: 0,
            ok: false,
            reported_ok: false,
            number_stated: false,
            number: 0,
            count: 0,
            description: Text::Empty,
            directive: None,
            reason: Text::Empty,
            duplicate: false,
            unplanned: false,
            name: Text::Empty,
            closes_subtest: false,
            opens_subtest: false,
            subtest_error: false,
            yaml: false,
            yaml_truncated: 0,
            pragma: Text::Empty,
            strict: false,
        }
    }
}

/// The parser's state for one test's stdout.
pub struct Parser {
    summary: Summary,
    lines_seen: u64,
    /// `levels[0]` is the top-level document, the rest open subtests.
    levels: Vec<Level>,
    anchor: Option<Anchor>,
    yaml: Option<YamlBlock>,
    yaml_text: Vec<u8>,
    yaml_value: Value,
    yaml_error: String,
    errors: Vec<String>,
    errors_dropped: u64,
    description: Vec<u8>,
    reason: Vec<u8>,
    name: Vec<u8>,
    subtest_error: String,
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
            levels: vec![Level::new(None)],
            anchor: None,
            yaml: None,
            yaml_text: Vec::new(),
            yaml_value: Value::Null,
            yaml_error: String::new(),
            errors: Vec::new(),
            errors_dropped: 0,
            description: Vec::new(),
            reason: Vec::new(),
            name: Vec::new(),
            subtest_error: String::new(),
        }
    }

    /// Classifies one line of stdout (without its `\n`; a trailing `\r` is
    /// dropped, and a lone `\r` inside ends a line as TAP 14 says) and updates
    /// the counts. Parse errors it causes are collected for [`Parser::take_errors`].
    pub fn line<'a>(&'a mut self, raw: &'a [u8]) -> Line<'a> {
        self.lines_seen += 1;
        for buf in [&mut self.description, &mut self.reason] {
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
        }
        let mut end = raw.len();
        while end > 0 && raw[end - 1] == b'\r' {
            end -= 1;
        }
        let body = &raw[..end];
        let (out, segments) = if !body.contains(&b'\r') {
            (self.segment(raw, body), 1)
        } else {
            // Each piece is a line of its own for the parser; the record shows
            // the last piece that was TAP (later pieces never overwrite the
            // scratch buffers of an earlier TAP piece, because only TAP pieces
            // write them).
            let mut chosen: Option<Out> = None;
            let mut segments = 0;
            for piece in body.split(|&b| b == b'\r') {
                segments += 1;
                let out = self.segment(raw, piece);
                let tap = !matches!(out.kind, Kind::Unknown | Kind::Blank);
                if chosen.map_or(true, |c| {
                    tap || matches!(c.kind, Kind::Unknown | Kind::Blank)
                }) {
                    chosen = Some(out);
                }
            }
            (chosen.unwrap_or_else(|| Out::new(Kind::Blank, 0)), segments)
        };
        self.resolve(raw, out, segments)
    }

    fn resolve<'a>(&'a self, raw: &'a [u8], out: Out, segments: u32) -> Line<'a> {
        let text = |t: Text| -> &'a [u8] {
            match t {
                Text::Empty => b"",
                Text::Raw(start, len) => &raw[start..start + len],
                Text::Description => &self.description,
                Text::Reason => &self.reason,
                Text::Name => &self.name,
            }
        };
        Line {
            kind: out.kind,
            depth: out.depth as u32,
            version: out.version,
            ok: out.ok,
            reported_ok: out.reported_ok,
            number_stated: out.number_stated,
            number: out.number,
            count: out.count,
            description: text(out.description),
            directive: out.directive,
            reason: text(out.reason),
            duplicate: out.duplicate,
            unplanned: out.unplanned,
            name: text(out.name),
            closes_subtest: out.closes_subtest,
            opens_subtest: out.opens_subtest,
            subtest_error: if out.subtest_error {
                &self.subtest_error
            } else {
                ""
            },
            yaml: if out.yaml {
                Some(&self.yaml_value)
            } else {
                None
            },
            yaml_error: if out.yaml { &self.yaml_error } else { "" },
            yaml_truncated: out.yaml_truncated,
            pragma: text(out.pragma),
            strict: out.strict,
            segments,
        }
    }

    fn depth(&self) -> usize {
        self.levels.len() - 1
    }

    /// Parses one line (a segment of `raw`) and updates the state.
    fn segment(&mut self, raw: &[u8], s: &[u8]) -> Out {
        if self.yaml.is_some() {
            if let Some(out) = self.yaml_line(s) {
                return out;
            }
        }
        let indent = syntax::indentation(s);
        let text = &s[indent..];
        let depth = self.depth();
        if syntax::is_blank(text) {
            return Out::new(Kind::Blank, depth);
        }
        // A TAP line sits at a multiple of four spaces: that is its level.
        let at = if indent % 4 == 0 && indent / 4 <= MAX_DEPTH {
            Some(indent / 4)
        } else {
            None
        };
        let own = at.filter(|&k| k <= depth).unwrap_or(depth);
        if let Some(anchor) = self.anchor {
            if indent > anchor.depth * 4 && syntax::trim_end(text) == b"---" {
                self.yaml = Some(YamlBlock {
                    anchor,
                    indent,
                    dropped: 0,
                });
                self.yaml_text.clear();
                self.anchor = None;
                let mut out = Out::new(Kind::Yaml, anchor.depth);
                out.number = anchor.number;
                return out;
            }
        }
        if text[0] == b'#' {
            if let (Some(name), Some(k)) = (syntax::subtest_header(text), at) {
                if (k == depth || k == depth + 1) && depth < MAX_DEPTH {
                    return self.subtest_header(raw, name);
                }
            }
            // Comments between a test point and its YAML block are allowed.
            return Out::new(Kind::Comment, own);
        }
        self.anchor = None;
        if matches!(text[0], b'B' | b'b') {
            if let Some(reason) = syntax::bail(text) {
                return self.bail(raw, reason, own);
            }
        }
        if let Some(k) = at {
            if text[0] == b'}'
                && syntax::trim_end(text) == b"}"
                && k + 1 == depth
                && self.levels[depth].opened_by.is_some()
            {
                return self.close_buffered(k);
            }
            let parsed = match text[0] {
                b'o' | b'n' => syntax::test_point(text).map(|tp| self.test_point(raw, tp, k)),
                b'1' => syntax::plan(text).map(|plan| self.plan(raw, plan, k)),
                b'T' | b't' => syntax::version(text).map(|v| self.version(v, k)),
                b'p' => syntax::pragma(text).map(|keys| self.pragma(raw, keys, k)),
                _ => None,
            };
            if let Some(out) = parsed {
                return out;
            }
        }
        self.unknown(own)
    }

    fn unknown(&mut self, level: usize) -> Out {
        let mut out = Out::new(Kind::Unknown, level);
        if self.levels[level].strict {
            out.strict = true;
            let line = self.lines_seen;
            let msg = format!("line {}: non-TAP output while pragma +strict is on", line);
            if level == 0 {
                self.summary.strict_violations.add(line);
                self.report(msg);
            } else {
                self.error_at(level, msg);
            }
        }
        out
    }

    /// Makes `k` the current level: opens bare subtests down to it, or ends the
    /// subtests below it that no test point closed.
    fn enter(&mut self, k: usize) {
        while self.depth() < k {
            self.levels.push(Level::new(None));
        }
        while self.depth() > k {
            self.abandon();
        }
    }

    /// Drops the innermost subtest, which ended without a correlated test point;
    /// TAP 14 makes its lines non-TAP, so it is a warning, not a failure.
    fn abandon(&mut self) {
        let level = self.levels.pop().expect("a subtest level");
        let what = describe(&level, self.depth() + 1);
        self.warn(format!("{} ended without a test point closing it", what));
    }

    fn subtest_header(&mut self, raw: &[u8], name: &[u8]) -> Out {
        self.levels.push(Level::new(Some(name)));
        let mut out = Out::new(Kind::Subtest, self.depth());
        out.name = span(raw, name);
        out
    }

    fn test_point(&mut self, raw: &[u8], tp: syntax::TestPoint, k: usize) -> Out {
        // A test point above the current level closes the subtest below it,
        // unless that "subtest" is only a header with nothing under it (a
        // `# Subtest` comment in a flat stream), or a buffered one that should
        // have ended with `}`.
        let mut closed = None;
        if k < self.depth() {
            while self.depth() > k + 1 {
                self.abandon();
            }
            let child = &self.levels[k + 1];
            if child.lines == 0 && child.problem.is_none() {
                self.levels.pop();
            } else if child.opened_by.is_some() {
                self.abandon();
            } else {
                closed = self.levels.pop();
            }
        } else {
            self.enter(k);
        }
        let mut out = Out::new(Kind::Assert, k);
        out.reported_ok = tp.ok;
        out.directive = tp.directive;
        // Test2 writes a buffered subtest as `ok 3 - name {`, its lines, `}`.
        let (description, opens) = match tp.description.strip_suffix(b"{") {
            Some(d) if (d.is_empty() || d.ends_with(b" ")) && k < MAX_DEPTH => {
                (syntax::trim_end(d), true)
            }
            _ => (tp.description, false),
        };
        out.description = self.unescaped(raw, description, false);
        out.reason = self.unescaped(raw, tp.reason, true);
        let level = &mut self.levels[k];
        level.lines += 1;
        let mut c = level.count(tp.ok, tp.number, tp.directive);
        let planned = level.planned.unwrap_or(0);
        out.number = c.number;
        out.number_stated = tp.number == Some(c.number);
        out.duplicate = c.duplicate;
        out.unplanned = c.unplanned;

        if let Some(child) = closed {
            out.closes_subtest = true;
            let description = match out.description {
                Text::Raw(start, len) => &raw[start..start + len],
                Text::Description => &self.description[..],
                _ => b"",
            };
            let problem = child.end_problem();
            if let Some(named) = name_mismatch(&child, description) {
                let note = format!(
                    "test {} closes {} but names it '{}'",
                    c.number,
                    named,
                    String::from_utf8_lossy(description)
                );
                self.remark_at(k, note);
            }
            self.name.clear();
            self.name
                .extend_from_slice(child.name.as_deref().unwrap_or(b""));
            out.name = Text::Name;
            if let Some(problem) = problem {
                out.subtest_error = true;
                let fails = tp.ok && !c.failed && tp.directive != Some(Directive::Todo);
                let msg = format!("test {}: its subtest is broken: {}", c.number, problem);
                self.subtest_error = problem;
                if fails {
                    c.failed = true;
                    self.levels[k].failed += 1;
                    self.error_at(k, msg);
                }
            }
        }
        if opens {
            out.opens_subtest = true;
            let mut child = Level::new(Some(description));
            child.opened_by = Some(level::Opener {
                number: c.number,
                fail_if_broken: tp.ok && !c.failed && tp.directive != Some(Directive::Todo),
            });
            self.levels.push(child);
        }
        out.ok = tp.ok && !c.failed;
        if c.duplicate {
            self.error_at(k, format!("test {} appears more than once", c.number));
        }
        if c.unplanned {
            self.error_at(
                k,
                format!("test {} is outside the plan 1..{}", c.number, planned),
            );
        }
        if c.after_trailing_plan {
            self.error_at(
                k,
                format!(
                    "test {} comes after the plan 1..{} that ended the tests",
                    c.number, planned
                ),
            );
        }
        if self.levels[k].numbering.out_of_order && !self.levels[k].numbering.warned {
            self.levels[k].numbering.warned = true;
            if k == 0 {
                self.warn(format!(
                    "tests out of sequence: test {} came after test {}",
                    c.number, self.levels[0].numbering.max
                ));
            }
        }
        if k == 0 {
            let s = &mut self.summary;
            s.run += 1;
            if c.failed {
                s.failed.add(c.number);
            } else {
                s.passed += 1;
            }
            match tp.directive {
                Some(Directive::Todo) => {
                    s.todo += 1;
                    if tp.ok {
                        s.todo_passed.add(c.number);
                    }
                }
                Some(Directive::Skip) if !c.failed => s.skipped += 1,
                _ => {}
            }
        }
        self.anchor = Some(Anchor {
            depth: k,
            number: c.number,
        });
        out
    }

    /// The `}` that ends a buffered subtest. Its test point was counted when it
    /// opened, so a broken subtest turns that pass into a failure here.
    fn close_buffered(&mut self, k: usize) -> Out {
        let child = self.levels.pop().expect("a buffered subtest");
        let opener = child.opened_by.expect("a buffered subtest");
        let mut out = Out::new(Kind::SubtestEnd, k);
        out.number = opener.number;
        self.name.clear();
        self.name
            .extend_from_slice(child.name.as_deref().unwrap_or(b""));
        out.name = Text::Name;
        if let Some(problem) = child.end_problem() {
            out.subtest_error = true;
            let msg = format!("test {}: its subtest is broken: {}", opener.number, problem);
            self.subtest_error = problem;
            if opener.fail_if_broken {
                self.levels[k].failed += 1;
                if k == 0 {
                    self.summary.passed -= 1;
                    self.summary.failed.add(opener.number);
                }
                self.error_at(k, msg);
            }
        }
        out
    }

    fn plan(&mut self, raw: &[u8], plan: syntax::Plan, k: usize) -> Out {
        self.enter(k);
        let mut out = Out::new(Kind::Plan, k);
        out.count = plan.count;
        out.reason = self.unescaped(raw, plan.reason, true);
        if plan.has_comment && plan.count == 0 {
            out.directive = Some(Directive::Skip);
        }
        let level = &mut self.levels[k];
        level.lines += 1;
        if !level.plan(plan.count) {
            self.error_at(
                k,
                format!(
                    "more than one plan: another plan 1..{} at line {}",
                    plan.count, self.lines_seen
                ),
            );
            return out;
        }
        let max = level.numbering.max;
        if level.plan_at_end && max > plan.count && plan.count > 0 {
            self.error_at(
                k,
                format!("test {} is outside the plan 1..{}", max, plan.count),
            );
        }
        if k == 0 {
            self.summary.planned = Some(plan.count);
            if plan.count == 0 {
                let reason = match out.reason {
                    Text::Raw(start, len) => &raw[start..start + len],
                    _ => &self.reason[..],
                };
                self.summary.skip_all = Some(String::from_utf8_lossy(reason).into_owned());
            }
        }
        out
    }

    fn version(&mut self, version: u32, k: usize) -> Out {
        self.enter(k);
        let mut out = Out::new(Kind::Version, k);
        out.version = version;
        let first = if k == 0 {
            self.lines_seen == 1
        } else {
            self.levels[k].lines == 0
        };
        self.levels[k].lines += 1;
        if !first {
            self.error_at(
                k,
                format!(
                    "TAP version line at line {}: it must be the first line",
                    self.lines_seen
                ),
            );
        } else if version < 13 {
            self.error_at(
                k,
                format!(
                    "TAP version {} is not allowed: a version line must say 13 or 14",
                    version
                ),
            );
        } else if version > 14 {
            self.error_at(
                k,
                format!(
                    "TAP version {} is not known: proctor reads 12, 13 and 14",
                    version
                ),
            );
        } else if k == 0 {
            self.summary.version = version;
        }
        out
    }

    fn pragma(&mut self, raw: &[u8], keys: &[u8], k: usize) -> Out {
        self.enter(k);
        let level = &mut self.levels[k];
        level.lines += 1;
        // Unknown keys are ignored, as TAP 14 requires.
        for (on, key) in syntax::pragma_keys(keys) {
            if key == b"strict" {
                level.strict = on;
            }
        }
        let mut out = Out::new(Kind::Pragma, k);
        out.pragma = span(raw, keys);
        out
    }

    fn bail(&mut self, raw: &[u8], reason: &[u8], depth: usize) -> Out {
        let mut out = Out::new(Kind::Bail, depth);
        out.reason = self.unescaped(raw, reason, true);
        if self.summary.bail.is_none() {
            let reason = match out.reason {
                Text::Raw(start, len) => &raw[start..start + len],
                _ => &self.reason[..],
            };
            self.summary.bail = Some(String::from_utf8_lossy(reason).into_owned());
        }
        out
    }

    /// A line while a YAML block is open; `None` when the line is less indented
    /// than the block and so ends it unterminated (it is then parsed as TAP).
    fn yaml_line(&mut self, s: &[u8]) -> Option<Out> {
        let block = self.yaml.as_mut()?;
        let anchor = block.anchor;
        let mut out = Out::new(Kind::Yaml, anchor.depth);
        out.number = anchor.number;
        if syntax::is_blank(s) {
            // Blank lines are part of the document (they matter to block scalars).
            push_capped(&mut self.yaml_text, &mut block.dropped, b"");
            return Some(out);
        }
        if syntax::indentation(s) < block.indent {
            self.end_unterminated_yaml();
            return None;
        }
        let content = &s[block.indent..];
        if syntax::trim_end(content) == b"..." {
            out.yaml = true;
            out.yaml_truncated = block.dropped;
            self.close_yaml();
            return Some(out);
        }
        push_capped(&mut self.yaml_text, &mut block.dropped, content);
        Some(out)
    }

    /// Closes the open YAML block that a less indented line or the end of the
    /// stream cut short. Under a version line (TAP 13 or 14, where YAML is
    /// TAP) that is a parse error, as prove has it; before TAP 13 prove reads
    /// no YAML, so proctor only warns.
    fn end_unterminated_yaml(&mut self) {
        let anchor = match &self.yaml {
            Some(block) => block.anchor,
            None => return,
        };
        self.close_yaml();
        let message = format!(
            "the YAML block of test {} has no closing '...'",
            anchor.number
        );
        if self.summary.version >= 13 {
            self.error_at(anchor.depth, message);
        } else {
            self.warn(message);
        }
    }

    /// Reads the collected block into `yaml_value`, or keeps it as text.
    fn close_yaml(&mut self) {
        let block = match self.yaml.take() {
            Some(b) => b,
            None => return,
        };
        self.yaml_error.clear();
        let text = String::from_utf8_lossy(&self.yaml_text);
        self.yaml_value = if block.dropped > 0 {
            self.yaml_error
                .push_str("the block is too large to read; kept as text");
            Value::String(text.into_owned())
        } else if std::str::from_utf8(&self.yaml_text).is_err() {
            self.yaml_error
                .push_str("the block is not UTF-8; kept as text");
            Value::String(text.into_owned())
        } else {
            match yaml::read(&text) {
                Ok(v) => v,
                Err(e) => {
                    self.yaml_error = format!("unreadable YAML ({}); kept as text", e);
                    Value::String(text.into_owned())
                }
            }
        };
        if self.yaml_text.capacity() > SCRATCH_KEEP {
            self.yaml_text = Vec::new();
        }
    }

    /// The text of `field` with escapes undone: a span of the raw line when it
    /// has no backslash (no copy), else a scratch buffer.
    fn unescaped(&mut self, raw: &[u8], field: &[u8], reason: bool) -> Text {
        if !syntax::needs_unescape(field) {
            return span(raw, field);
        }
        if reason {
            syntax::unescape(field, &mut self.reason);
            Text::Reason
        } else {
            syntax::unescape(field, &mut self.description);
            Text::Description
        }
    }

    /// Records a parse error of level `k`: at the top it goes into the summary;
    /// in a subtest it is why that subtest is broken.
    fn error_at(&mut self, k: usize, message: String) {
        let message = if k == 0 {
            message
        } else {
            format!("{}: {}", describe(&self.levels[k], k), message)
        };
        if k == 0 {
            if self.summary.parse_errors.len() < LISTED_NUMBERS {
                self.summary.parse_errors.push(message.clone());
            } else {
                self.summary.parse_errors_unlisted += 1;
            }
        } else {
            self.levels[k].note_problem(&message);
        }
        self.report(message);
    }

    fn report(&mut self, message: String) {
        if self.errors.len() < PENDING_ERRORS {
            self.errors.push(message);
        } else {
            self.errors_dropped += 1;
        }
    }

    /// Records a remark about level `k`, which names its subtest as
    /// [`Parser::error_at`] does.
    fn remark_at(&mut self, k: usize, message: String) {
        let message = if k == 0 {
            message
        } else {
            format!("{}: {}", describe(&self.levels[k], k), message)
        };
        if self.summary.remarks.len() < LISTED_NUMBERS {
            self.summary.remarks.push(message);
        }
    }

    fn warn(&mut self, message: String) {
        if self.summary.warnings.len() < LISTED_NUMBERS {
            self.summary.warnings.push(message);
        }
    }

    /// Bytes held by the scratch buffers, for tests of flat memory.
    #[cfg(test)]
    pub(super) fn scratch_bytes(&self) -> usize {
        self.description.capacity()
            + self.reason.capacity()
            + self.name.capacity()
            + self.yaml_text.capacity()
    }

    /// The parse errors caused by the lines read since the last call, one line
    /// each, for parse_error events. Errors inside a subtest are here too; they
    /// fail the file only through the test point that closes the subtest (not
    /// at all when that point is TODO). At most 1024 wait here; the rest are
    /// counted in a final message.
    pub fn take_errors(&mut self) -> std::vec::Drain<'_, String> {
        if self.errors_dropped > 0 {
            let dropped = std::mem::replace(&mut self.errors_dropped, 0);
            self.errors
                .push(format!("{} more parse errors not shown", dropped));
        }
        self.errors.drain(..)
    }

    /// Ends the stream: closes what is open, checks the plan against what ran
    /// and returns the summary. Errors found here are also in `take_errors`.
    pub fn finish(&mut self) -> Summary {
        if self.yaml.is_some() {
            self.end_unterminated_yaml();
        }
        while self.depth() > 0 {
            self.abandon();
        }
        let s = &self.summary;
        // After a bail-out the plan is moot: the bail-out is the reason.
        let message = match s.planned {
            _ if s.bail.is_some() => None,
            None => Some("no plan found in TAP output".to_string()),
            Some(planned) if planned != s.run => {
                Some(format!("planned {} tests but ran {}", planned, s.run))
            }
            _ => None,
        };
        if let Some(message) = message {
            self.error_at(0, message);
        }
        std::mem::take(&mut self.summary)
    }
}

/// The subtest, named for a note, when its closing test point does not repeat
/// the name in its `# Subtest:` header. TAP 14 only says producers SHOULD
/// repeat it, so this is never a problem. Two common shapes are not even worth
/// a note: no description at all (Test::More's skipped subtest, `ok 3 # skip
/// why`), and the name after `Subtest: ` (Test2's streamed subtests,
/// `ok 3 - Subtest: name`).
fn name_mismatch(child: &Level, description: &[u8]) -> Option<String> {
    let name = child.name.as_deref().filter(|n| !n.is_empty())?;
    let repeated = description.is_empty()
        || same_name(name, description)
        || description
            .strip_prefix(b"Subtest: ")
            .map_or(false, |rest| same_name(name, rest));
    if repeated {
        return None;
    }
    Some(format!("subtest '{}'", String::from_utf8_lossy(name)))
}

/// Whether a correlated test point's description matches its subtest's name
/// (a name cut at the cap matches by its start).
fn same_name(name: &[u8], description: &[u8]) -> bool {
    if name.len() < level::NAME_CAP {
        name == description
    } else {
        description.starts_with(name)
    }
}

/// Names a subtest level for messages: `subtest 'name'` or `subtest at depth 2`.
fn describe(level: &Level, depth: usize) -> String {
    match &level.name {
        Some(name) if !name.is_empty() => format!("subtest '{}'", String::from_utf8_lossy(name)),
        _ => format!("subtest at depth {}", depth),
    }
}

/// Where `sub`, a slice of `raw`, sits in it.
fn span(raw: &[u8], sub: &[u8]) -> Text {
    if sub.is_empty() {
        return Text::Empty;
    }
    let start = sub.as_ptr() as usize - raw.as_ptr() as usize;
    debug_assert!(start + sub.len() <= raw.len());
    Text::Raw(start, sub.len())
}

/// Appends a line to a YAML buffer unless that would pass the cap; what does
/// not fit is counted, and the block is then kept as text.
fn push_capped(buf: &mut Vec<u8>, dropped: &mut u64, line: &[u8]) {
    if *dropped > 0 || buf.len() + line.len() + 1 > YAML_CAP {
        *dropped += line.len() as u64 + 1;
        return;
    }
    buf.extend_from_slice(line);
    buf.push(b'\n');
}
