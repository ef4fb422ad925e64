//! A streaming TAP parser: one line in, its classification out, and a summary at
//! the end that the auditor turns into a verdict.
//!
//! It owns the TAP grammar (12, 13 and 14: version, plans, test points with
//! directives and escapes, YAML diagnostics, subtests, pragmas, bail-outs) and
//! the counting. It must not know about processes, files or the job log format
//! beyond [`Line::write_fields`], which writes a line's fields as JSON. Memory
//! per parser does not grow with the number of lines read: every buffer is
//! capped, and test numbers are listed only up to a limit.
//!
//! Every line gets exactly one record, whose type is [`line::Kind::event_type`]:
//!
//! | kind      | type      | fields written by [`Line::write_fields`] |
//! |-----------|-----------|-------------------------------------------|
//! | Version   | `version` | version |
//! | Plan      | `plan`    | count, reason (if a comment), skip_all (if `1..0`) |
//! | Assert    | `assert`  | ok (first, only when false), number (only when implied), duplicate, unplanned, subtest + subtest_error + reported_ok (a point closing a subtest), opens_subtest (`ok 3 - name {`); what the line states (number, description, directive + reason) [`stated`] reads again from it, and only a line a lone CR split writes |
//! | Yaml      | `yaml`    | number (of its test point); on the closing `...` also yaml (JSON, or the text it could not read), yaml_error, yaml_truncated |
//! | Subtest   | `comment` | subtest (the name from `# Subtest: name`) |
//! | SubtestEnd | `comment` | subtest_end (name), number, subtest_error: the `}` of a Test2 buffered subtest |
//! | Comment   | `comment` | — |
//! | Pragma    | `pragma`  | pragma (e.g. `+strict`) |
//! | Bail      | `bail`    | reason |
//! | Blank     | `blank`   | — |
//! | Unknown   | `output`  | strict (true when it breaks `pragma +strict`) |
//!
//! Any record may also carry `depth` (subtest level, absent at the top) and
//! `segments` (how many lines a lone CR split this one into). Descriptions and
//! reasons are unescaped (`\#`, `\\`); the raw line the auditor writes is not.

mod level;
mod line;
mod parser;
mod syntax;
#[cfg(test)]
mod tests;
mod verdict;
mod yaml;

pub use line::{stated, Directive, Line};
pub use parser::Parser;
pub use verdict::{judge, signal_name, Exit, Outcome, Verdict};

/// How many failing or TODO-passing test numbers (or parse errors) a summary
/// lists; the rest are only counted, so memory stays flat on huge outputs.
const LISTED_NUMBERS: usize = 64;
/// Deepest subtest level read; deeper lines are plain output.
const MAX_DEPTH: usize = 64;
/// The most YAML text kept for one diagnostic block; the rest is counted.
const YAML_CAP: usize = 1 << 20;
/// Parse errors held for [`Parser::take_errors`] if the caller never asks.
const PENDING_ERRORS: usize = 1024;
/// A scratch buffer grown past this by one huge line is released afterwards.
const SCRATCH_KEEP: usize = 1 << 16;

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

/// What the whole stream said, for the verdict. Counts are of the top level;
/// subtests show only through the test points that close them.
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
    /// The first parse errors, one line each.
    pub parse_errors: Vec<String>,
    /// Parse errors beyond those listed.
    pub parse_errors_unlisted: u64,
    /// Line numbers of non-TAP output at the top level under `pragma +strict`.
    pub strict_violations: Numbers,
    /// Worth telling, never a failure: unterminated subtests or YAML blocks,
    /// tests out of order.
    pub warnings: Vec<String>,
    /// Worth keeping in the log and showing under -v, and no more: a subtest
    /// closed under a name other than its header's.
    pub remarks: Vec<String>,
}
