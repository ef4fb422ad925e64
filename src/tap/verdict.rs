//! The verdict of one test file: its TAP summary and how its process ended, turned
//! into pass, fail or skip with one line a person can act on per reason.

use super::Summary;

/// How the test process ended, as the auditor saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal {
        signal: i32,
        core: bool,
    },
    /// The auditor could not learn the status (it was stopped first).
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    /// Why it failed (or, for a skip, why it was skipped), one line each.
    pub reasons: Vec<String>,
    /// Things worth telling that do not fail the file ("TODO passed: 3, 7").
    pub notes: Vec<String>,
}

/// Judges a file as prove would, and as TAP 14 says where they differ.
pub fn judge(summary: &Summary, exit: &Exit) -> Verdict {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    if summary.failed.count > 0 {
        reasons.push(format!(
            "failed {} of {} tests: {}",
            summary.failed.count,
            summary.run,
            list(&summary.failed)
        ));
    }
    if let Some(bail) = &summary.bail {
        reasons.push(if bail.is_empty() {
            "bailed out".to_string()
        } else {
            format!("bailed out: {}", bail)
        });
    }
    reasons.extend(summary.parse_errors.iter().cloned());
    match exit {
        Exit::Code(0) => {}
        Exit::Code(code) => reasons.push(format!("exited with status {}", code)),
        Exit::Signal { signal, core } => reasons.push(format!(
            "killed by signal {} ({}){}",
            signal,
            signal_name(*signal),
            if *core { ", core dumped" } else { "" }
        )),
        Exit::Unknown => reasons.push("exit status unknown".to_string()),
    }
    if summary.todo_passed.count > 0 {
        notes.push(format!("TODO passed: {}", list(&summary.todo_passed)));
    }
    let outcome = if !reasons.is_empty() {
        Outcome::Fail
    } else if let Some(why) = &summary.skip_all {
        reasons.push(if why.is_empty() {
            "skipped".to_string()
        } else {
            why.clone()
        });
        Outcome::Skip
    } else {
        Outcome::Pass
    };
    Verdict {
        outcome,
        reasons,
        notes,
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

/// The conventional name of a signal number, e.g. "SIGSEGV".
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => "signal",
    }
}
