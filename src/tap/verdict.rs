//! The verdict of one test file: its TAP summary and how its process ended, turned
//! into pass, fail or skip with one line a person can act on per reason.
//!
//! proctor judges a file as prove (Test::Harness 3.44) does wherever prove and the
//! TAP 14 specification agree. Where they differ:
//!
//! - `TAP version 14` is read; prove 3.44 refuses such a stream outright.
//! - Test points may come in any order, as TAP 14 allows, as long as each number
//!   is used once and lies inside the plan; prove reports "tests out of
//!   sequence" and fails the file. proctor only notes it.
//! - Subtests (four spaces per level, bare or after `# Subtest: name`) are read;
//!   prove sees indented lines as plain output and judges only the test point
//!   that closes a subtest. proctor also fails that test point when the subtest
//!   itself is broken (no plan, a count that differs from its plan, a failure,
//!   a numbering error), unless it is TODO; TAP 14 allows this. A closing
//!   test point that does not repeat the name of its `# Subtest:` header is
//!   only a remark, shown under -v (TAP 14 says producers SHOULD repeat it;
//!   Test2 writes `Subtest: name`, a skipped subtest often no description). A
//!   subtest no test point closes is output, not a failure, as TAP 14 says.
//! - A directive starts only at a `#` after whitespace (or after an escaped
//!   backslash), so `page.html#skip` is a description; prove takes any
//!   unescaped `#`. `\#` and `\\` are unescaped in descriptions and reasons.
//! - `# SKIPPED` and `# Skipped: why` are directives (TAP 14's `SKIP\S*`); prove needs
//!   the bare word, so it counts such a point as a plain pass or failure.
//! - `1..5 # five checks` is a plan with a comment; prove sees an unknown line
//!   there, and so no plan.
//! - `Bail out!` is read in any letter case; prove needs that exact case.
//! - `pragma +strict` works in any TAP version and per subtest; prove reads
//!   pragmas only after `TAP version 13`.
//! - YAML diagnostics are read whatever the version line says; prove reads them
//!   only after `TAP version 13`.
//!
//! One deliberate exception follows prove against TAP 14: a `not ok # SKIP`
//! fails the file. TAP 14 says a failing SKIP must not count, but a test that
//! was skipped has no business saying `not ok`, and prove has always failed it.

use super::Summary;

/// How the test process ended, as the auditor saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal { signal: i32, core: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

#[derive(Clone, Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Why it failed (or, for a skip, why it was skipped), one line each.
    pub reasons: Vec<String>,
    /// Things worth telling that do not fail the file ("TODO passed: 3, 7").
    pub notes: Vec<String>,
    /// Things only worth showing under -v (see [`Summary::remarks`]).
    pub remarks: Vec<String>,
}

/// Judges a file as prove would, and as TAP 14 says where they differ (see the
/// module documentation).
pub fn judge(summary: &Summary, exit: &Exit) -> Verdict {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    if let Some(bail) = &summary.bail {
        reasons.push(if bail.is_empty() {
            "bailed out".to_string()
        } else {
            format!("bailed out: {}", bail)
        });
    }
    if summary.failed.count > 0 {
        reasons.push(format!(
            "failed {} of {} tests: {}",
            summary.failed.count,
            summary.run,
            list(&summary.failed)
        ));
    }
    reasons.extend(summary.parse_errors.iter().cloned());
    if summary.parse_errors_unlisted > 0 {
        reasons.push(format!(
            "and {} more parse errors",
            summary.parse_errors_unlisted
        ));
    }
    if summary.strict_violations.count > 0 {
        reasons.push(format!(
            "non-TAP output while pragma +strict is on, at line{} {}",
            if summary.strict_violations.count == 1 {
                ""
            } else {
                "s"
            },
            list(&summary.strict_violations)
        ));
    }
    match exit {
        Exit::Code(0) => {}
        Exit::Code(code) => reasons.push(format!("exited with status {}", code)),
        Exit::Signal { signal, core } => reasons.push(format!(
            "killed by signal {} ({}){}",
            signal,
            signal_name(*signal),
            if *core { ", core dumped" } else { "" }
        )),
    }
    if summary.todo_passed.count > 0 {
        notes.push(format!("TODO passed: {}", list(&summary.todo_passed)));
    }
    notes.extend(summary.warnings.iter().cloned());
    let outcome = if !reasons.is_empty() {
        Outcome::Fail
    } else if let Some(why) = &summary.skip_all {
        reasons.push(if why.is_empty() {
            "skipped: no reason given".to_string()
        } else {
            format!("skipped: {}", why)
        });
        Outcome::Skip
    } else {
        Outcome::Pass
    };
    Verdict {
        outcome,
        reasons,
        notes,
        remarks: summary.remarks.clone(),
    }
}

fn list(numbers: &super::Numbers) -> String {
    let mut s = numbers
        .listed
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if numbers.count > numbers.listed.len() as u64 {
        s.push_str(&format!(
            " and {} more",
            numbers.count - numbers.listed.len() as u64
        ));
    }
    s
}

/// The conventional name of a signal number, e.g. "SIGSEGV" (from libc, so the
/// numbers are right on every platform).
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGSYS => "SIGSYS",
        _ => "unknown signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tap::Parser;

    fn verdict(tap: &str, exit: Exit) -> Verdict {
        let mut p = Parser::new();
        for line in tap.lines() {
            p.line(line.as_bytes());
        }
        judge(&p.finish(), &exit)
    }

    fn pass(tap: &str) -> Verdict {
        verdict(tap, Exit::Code(0))
    }

    #[test]
    fn a_clean_file_passes() {
        let v = pass("TAP version 14\n1..2\nok 1\nok 2 # SKIP no network\n");
        assert_eq!(
            (v.outcome, v.reasons.len(), v.notes.len()),
            (Outcome::Pass, 0, 0)
        );
    }

    #[test]
    fn not_ok_fails_unless_todo() {
        let v = pass("1..3\nok 1\nnot ok 2\nnot ok 3 # SKIP but failed\n");
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(v.reasons, ["failed 2 of 3 tests: 2, 3"]);
        let v = pass("1..2\nnot ok 1 # TODO later\nok 2 # TODO done early\n");
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.notes, ["TODO passed: 2"]);
    }

    #[test]
    fn plan_problems_fail() {
        assert_eq!(pass("ok 1\n").reasons, ["no plan found in TAP output"]);
        assert_eq!(
            pass("1..3\nok 1\nok 2\n").reasons,
            ["planned 3 tests but ran 2"]
        );
        assert_eq!(
            pass("1..2\nok 1\nok 1\n").reasons,
            ["test 1 appears more than once"]
        );
    }

    #[test]
    fn skip_all_is_its_own_outcome() {
        let v = pass("1..0 # SKIP needs root\n");
        assert_eq!(
            (v.outcome, v.reasons.clone()),
            (Outcome::Skip, vec!["skipped: needs root".to_string()])
        );
        assert_eq!(pass("1..0\n").reasons, ["skipped: no reason given"]);
        assert_eq!(verdict("1..0\n", Exit::Code(1)).outcome, Outcome::Fail);
    }

    #[test]
    fn exit_status_and_signals() {
        let v = verdict("1..1\nok 1\n", Exit::Code(3));
        assert_eq!(v.reasons, ["exited with status 3"]);
        let v = verdict(
            "1..1\nok 1\n",
            Exit::Signal {
                signal: libc::SIGSEGV,
                core: true,
            },
        );
        assert_eq!(
            v.reasons,
            [format!(
                "killed by signal {} (SIGSEGV), core dumped",
                libc::SIGSEGV
            )]
        );
        let v = verdict(
            "1..1\nok 1\n",
            Exit::Signal {
                signal: libc::SIGKILL,
                core: false,
            },
        );
        assert_eq!(
            v.reasons,
            [format!("killed by signal {} (SIGKILL)", libc::SIGKILL)]
        );
    }

    #[test]
    fn bail_out_fails_with_its_reason() {
        let v = verdict("1..9\nok 1\nBail out! no database\n", Exit::Code(255));
        assert_eq!(
            v.reasons,
            ["bailed out: no database", "exited with status 255"]
        );
    }

    #[test]
    fn strict_violations_fail() {
        let v = pass("pragma +strict\n1..1\nstray\nok 1\nstray again\n");
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(
            v.reasons,
            ["non-TAP output while pragma +strict is on, at lines 3, 5"]
        );
    }

    #[test]
    fn tap14_answers_where_prove_differs() {
        assert_eq!(
            pass("TAP version 14\n1..3\nok 2\nok 3\nok 1\n").outcome,
            Outcome::Pass
        );
        let v = pass("1..1\n# Subtest: inner\n    1..2\n    ok 1\nok 1 - inner\n");
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(
            v.reasons[1],
            "test 1: its subtest is broken: planned 2 tests but ran 1"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let mut tap = String::from("1..100\n");
        for n in 1..=100 {
            tap.push_str(&format!("not ok {}\n", n));
        }
        let v = pass(&tap);
        assert!(v.reasons[0].starts_with("failed 100 of 100 tests: 1, 2, 3"));
        assert!(v.reasons[0].ends_with("and 36 more"));
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGABRT), "SIGABRT");
        assert_eq!(signal_name(1000), "unknown signal");
    }
}
