//! The prove renderer: prints what prove (Test::Harness 3.44) prints when its
//! output is not a terminal, so build scripts and people reading CI logs see the
//! same lines: one block per finished file (`t/a.t .. ok`, `Failed 1/3 subtests`,
//! `Dubious, test returned 1 (wstat 256, 0x100)`), the `Test Summary Report`, the
//! `Files=N, Tests=N, ...` line and `Result: PASS|FAIL|NOTESTS`.
//!
//! It keeps prove's own per-file view (counts, failed and TODO-passed numbers,
//! wait status, parse errors in prove's words) from the events, and takes the
//! pass or fail of each file from proctor's verdict in job_end: where the two
//! disagree, proctor's reasons are shown as parse errors. A test's stderr goes to
//! our stderr as it arrives, as prove lets it through. It owns nothing but text.

use super::Renderer;
use crate::event::{read, Event, Interest, JobResult, Kind};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Write};
use std::rc::Rc;

/// prove shows the first five parse errors of a file unless asked for all.
const MAX_ERRORS: usize = 5;

/// What prove's options change in its output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Style {
    /// prove's verbosity: 1 `-v`, 0 normal, -1 `-q`, -2 `-Q`.
    pub verbosity: i8,
    /// `-f`: show failing test points.
    pub failures: bool,
    /// `-o`: show comments.
    pub comments: bool,
    /// `--directives`: show test points with a SKIP or TODO directive.
    pub directives: bool,
    /// `--timer`: a clock stamp before each file and its time after `ok`.
    pub timer: bool,
    /// `-p`: every parse error, not the first five.
    pub all_errors: bool,
    /// `--ignore-exit`: a file's exit status alone is no problem (it is still
    /// shown, and listed in the Test Summary Report, as prove does).
    pub ignore_exit: bool,
}

/// What the run came to, for the exit status: prove dies (255) after a bail-out.
#[derive(Clone, Debug, Default)]
pub struct Ending {
    pub bailed: Option<String>,
}

/// One file as prove's parser would have seen it.
#[derive(Default)]
struct File {
    planned: Option<u64>,
    skip_all: Option<String>,
    run: u64,
    passed: u64,
    failed: Vec<u64>,
    todo_passed: Vec<u64>,
    skipped: u64,
    errors: Vec<String>,
    plan_in_middle: bool,
    /// Lines shown under the file's name (`-v`, `-f`, `-o`, `--directives`).
    shown: String,
    /// The wait status, `None` when the auditor never learnt it.
    wait: Option<i64>,
    wall: f64,
    cpu: (f64, f64),
}

/// A file with something to say in the Test Summary Report.
struct Reported {
    name: String,
    wait: Option<i64>,
    run: u64,
    failed: Vec<u64>,
    todo_passed: Vec<u64>,
    errors: Vec<String>,
}

pub struct Prove {
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    style: Style,
    longest: usize,
    files: HashMap<(u64, u32), File>,
    /// Totals over shown files: files, tests run, tests passed.
    count: (u64, u64, u64),
    problems: bool,
    reported: Vec<Reported>,
    /// The job that bailed out; files ending after it are not shown, as prove
    /// stops at once.
    bailed_job: Option<(u64, u32)>,
    ending: Rc<RefCell<Ending>>,
}

impl Prove {
    pub fn new(
        out: Box<dyn Write>,
        err: Box<dyn Write>,
        style: Style,
        ending: Rc<RefCell<Ending>>,
    ) -> Prove {
        Prove {
            out,
            err,
            style,
            longest: 0,
            files: HashMap::new(),
            count: (0, 0, 0),
            problems: false,
            reported: Vec::new(),
            bailed_job: None,
            ending,
        }
    }

    /// Whether a line of this kind goes under the file's name.
    fn shows(&self, kind: Kind, not_ok: bool, directive: bool) -> bool {
        let s = &self.style;
        if s.verbosity < 0 {
            return false;
        }
        s.verbosity > 0
            || (kind == Kind::Assert && s.failures && not_ok)
            || (kind == Kind::Comment && s.comments)
            || (kind == Kind::Assert && s.directives && directive)
    }

    /// prove's `name ..... `, with the clock in front under `--timer`.
    fn pretty(&self, name: &str) -> String {
        let dots = ".".repeat((self.longest + 2).saturating_sub(name.chars().count()));
        if self.style.timer {
            format!("{} {} {} ", clock(), name, dots)
        } else {
            format!("{} {} ", name, dots)
        }
    }

    fn line(&mut self, event: &mut Event) -> io::Result<()> {
        let job = match event.job() {
            Some(job) => job,
            None => return Ok(()),
        };
        let kind = event.kind();
        let v = event.value();
        let stream = v["stream"].as_str().unwrap_or("stdout");
        let text = v["line"].as_str().unwrap_or("");
        if stream == "stderr" {
            writeln!(self.err, "{}", text)?;
            return self.err.flush();
        }
        let nested = v["depth"].as_u64().unwrap_or(0) > 0;
        let mut not_ok = false;
        let mut directive = false;
        let mut bail = None;
        let file = self.files.entry(job).or_default();
        match kind {
            Kind::Plan if !nested => {
                let count = v["count"].as_u64().unwrap_or(0);
                if file.planned.is_none() {
                    file.planned = Some(count);
                    if count == 0 {
                        let why = v["reason"].as_str().unwrap_or("");
                        file.skip_all = Some(if why.is_empty() {
                            "(no reason given)".to_string()
                        } else {
                            why.to_string()
                        });
                    }
                }
            }
            Kind::Assert if !nested => {
                file.run += 1;
                let number = v["number"].as_u64().unwrap_or(file.run);
                let todo = v["directive"] == "todo";
                let ok = v["ok"].as_bool().unwrap_or(false);
                directive = v["directive"].is_string();
                // prove fails a point past a plan it has already seen.
                let unplanned = file.planned.map_or(false, |p| file.run > p);
                let is_ok = !unplanned && (todo || ok);
                not_ok = !is_ok;
                if is_ok {
                    file.passed += 1;
                } else {
                    file.failed.push(number);
                }
                if todo && ok {
                    file.todo_passed.push(number);
                }
                if v["directive"] == "skip" {
                    file.skipped += 1;
                }
            }
            Kind::Bail if !nested => bail = Some(v["reason"].as_str().unwrap_or("").to_string()),
            _ => {}
        }
        // prove reads TAP only at the start of a line: to it an indented
        // comment or test point (a subtest's) is an unknown line, and so is
        // the `}` that ends a Test2 buffered subtest (a comment to proctor).
        let seen_as = match kind {
            Kind::Comment if text.starts_with('#') => kind,
            Kind::Comment => Kind::Output,
            _ if nested => Kind::Output,
            _ => kind,
        };
        if self.shows(seen_as, not_ok, directive) {
            let file = self.files.entry(job).or_default();
            file.shown.push_str(text);
            file.shown.push('\n');
        }
        if let Some(reason) = bail {
            // prove prints this as the line arrives, before the file's own block.
            writeln!(
                self.out,
                "Bailout called.  Further testing stopped:  {}",
                reason
            )?;
            if self.bailed_job.is_none() {
                self.bailed_job = Some(job);
                self.ending.borrow_mut().bailed = Some(reason);
            }
        }
        Ok(())
    }

    fn parse_error(&mut self, event: &mut Event) {
        let job = match event.job() {
            Some(job) => job,
            None => return,
        };
        let message = event.str("message").unwrap_or("").to_string();
        let file = self.files.entry(job).or_default();
        if let Some(m) = prove_words(&message, file) {
            file.errors.push(m);
        }
    }

    fn job_exit(&mut self, event: &mut Event) {
        let job = match event.job() {
            Some(job) => job,
            None => return,
        };
        let exit = event.job_exit();
        // As perl's $? has it.
        let wait = match exit.exit() {
            read::Exit::Code(code) => Some((code as i64 & 0xff) << 8),
            read::Exit::Signal { number, core, .. } => {
                Some(number as i64 | if core { 0x80 } else { 0 })
            }
            read::Exit::Unknown => None,
        };
        let wall = exit.wall();
        let cpu = (exit.user(), exit.system());
        let file = self.files.entry(job).or_default();
        file.wait = wait;
        file.wall = wall;
        file.cpu = cpu;
    }

    fn job_end(&mut self, event: &mut Event) -> io::Result<()> {
        let job = event.job();
        let mut file = job.and_then(|j| self.files.remove(&j)).unwrap_or_default();
        let end = event.job_end();
        let result = end.result();
        // Files never started (after a bail-out or an interrupt) are not shown;
        // nor are those ending after a bail-out, which prove never waits for.
        if result == JobResult::Cancelled || (self.bailed_job.is_some() && self.bailed_job != job) {
            return Ok(());
        }
        let name = end.file().unwrap_or("?").to_string();
        let exit = file.wait.unwrap_or(0) >> 8;
        let mut problems = !file.failed.is_empty()
            || !file.errors.is_empty()
            || (file.wait.unwrap_or(0) != 0 && !self.style.ignore_exit);
        let planned = end.counts().planned;
        let bailed_here = self.bailed_job.is_some() && self.bailed_job == job;
        let failed = result == JobResult::Fail;
        if failed && !problems && bailed_here && planned.map_or(false, |p| p != file.run) {
            // prove still checks the plan of the file that bailed out.
            file.errors.push(format!(
                "Bad plan.  You planned {} tests but ran {}.",
                planned.unwrap_or(0),
                file.run
            ));
            problems = true;
        }
        if failed && !problems {
            // proctor failed the file for a reason prove has no words for
            // (auditor lost, a bail-out after a complete plan...).
            file.errors.extend(end.reasons().map(String::from));
            if file.errors.is_empty() {
                file.errors.push("failed".to_string());
            }
            problems = true;
        }
        self.count.0 += 1;
        self.count.1 += file.run;
        self.count.2 += file.passed;
        self.problems |= problems;

        if self.style.verbosity > -2 {
            let pretty = self.pretty(&name);
            let shown = if file.shown.is_empty() {
                String::new()
            } else {
                format!("\n{}", file.shown)
            };
            if let Some(why) = &file.skip_all {
                writeln!(self.out, "{}skipped: {}", pretty, why)?;
            } else if problems {
                write!(self.out, "{}", pretty)?;
                if shown.is_empty() {
                    writeln!(self.out)?;
                } else {
                    write!(self.out, "{}", shown)?;
                }
                self.failure(&file, exit)?;
            } else {
                let time = if self.style.timer {
                    let (u, s) = file.cpu;
                    format!(
                        " {:8} ms ({:5.2} usr {:5.2} sys + {:5.2} cusr {:5.2} csys = {:5.2} CPU)",
                        (file.wall * 1000.0) as u64,
                        0.0,
                        0.0,
                        u,
                        s,
                        u + s
                    )
                } else {
                    String::new()
                };
                writeln!(self.out, "{}{}ok{}", pretty, shown, time)?;
            }
        }
        if !file.failed.is_empty()
            || !file.todo_passed.is_empty()
            || file.wait != Some(0)
            || !file.errors.is_empty()
        {
            self.reported.push(Reported {
                name,
                wait: file.wait,
                run: file.run,
                failed: file.failed,
                todo_passed: file.todo_passed,
                errors: file.errors,
            });
        }
        self.out.flush()
    }

    /// prove's lines under a file that has problems.
    fn failure(&mut self, file: &File, exit: i64) -> io::Result<()> {
        let out = &mut self.out;
        let run = file.run as i64;
        let total = file.planned.map_or(run, |p| p as i64);
        let failed = file.failed.len() as i64 + total - run;
        if exit != 0 {
            let wait = file.wait.unwrap_or(0);
            writeln!(
                out,
                "Dubious, test returned {} (wstat {}, 0x{:x})",
                exit, wait, wait
            )?;
        }
        if failed == 0 {
            if total != 0 {
                write!(out, "All {} subtests passed ", total)?;
            } else {
                write!(out, "No subtests run ")?;
            }
        } else {
            write!(out, "Failed {}/{} subtests ", failed, total)?;
            if total == 0 {
                write!(out, "\nNo tests run!")?;
            }
        }
        if file.skipped > 0 {
            let okay = file.passed as i64 - file.skipped as i64;
            write!(
                out,
                "\n\t(less {} skipped subtest{}: {} okay)",
                file.skipped,
                if file.skipped != 1 { "s" } else { "" },
                okay
            )?;
        }
        if !file.todo_passed.is_empty() {
            let n = file.todo_passed.len();
            write!(
                out,
                "\n\t({} TODO test{} unexpectedly succeeded)",
                n,
                if n > 1 { "s" } else { "" }
            )?;
        }
        writeln!(out)
    }

    fn summary(&mut self, event: &mut Event) -> io::Result<()> {
        let end = event.run_end();
        // Not prove's own words: on stderr, beside the tests' stderr.
        for line in super::ended_with_the_run(end) {
            writeln!(self.err, "proctor: {}", line)?;
        }
        let (files, total, passed) = self.count;
        if self.style.timer {
            writeln!(self.out, "{}", clock())?;
        }
        if end.interrupted().is_some() {
            writeln!(self.out, "Test run interrupted!")?;
        }
        if total > 0 && total == passed && !self.problems {
            writeln!(self.out, "All tests successful.")?;
        }
        // A TODO test that passed is no error, but prove still reports it.
        let todo_passed = self.reported.iter().any(|r| !r.todo_passed.is_empty());
        if total != passed || self.problems || todo_passed {
            write!(self.out, "\nTest Summary Report\n-------------------\n")?;
            let reported = std::mem::take(&mut self.reported);
            for r in &reported {
                self.report(r)?;
            }
        }
        let wall = end.wall().max(0.0) as u64;
        let (usr, sys) = crate::sys::self_cpu_times();
        let (cusr, csys) = (end.user(), end.system());
        writeln!(
            self.out,
            "Files={}, Tests={}, {}",
            files,
            total,
            timestr(wall, usr, sys, cusr, csys)
        )?;
        let result = if self.problems || total != passed {
            "FAIL"
        } else if total > 0 {
            "PASS"
        } else {
            "NOTESTS"
        };
        writeln!(self.out, "Result: {}", result)?;
        self.out.flush()
    }

    /// One file's lines in the Test Summary Report.
    fn report(&mut self, r: &Reported) -> io::Result<()> {
        let mut lines = Vec::new();
        if !r.failed.is_empty() {
            let label = if r.failed.len() == 1 {
                "  Failed test:  "
            } else {
                "  Failed tests:  "
            };
            number_lines(&mut lines, label, &r.failed);
        }
        if !r.todo_passed.is_empty() {
            number_lines(&mut lines, "  TODO passed:   ", &r.todo_passed);
        }
        let exit = r.wait.unwrap_or(0) >> 8;
        if exit != 0 {
            lines.push(format!("  Non-zero exit status: {}", exit));
        } else if let Some(wait) = r.wait.filter(|&w| w != 0) {
            lines.push(format!("  Non-zero wait status: {}", wait));
        }
        if !r.errors.is_empty() {
            let shown = if r.errors.len() > MAX_ERRORS && !self.style.all_errors {
                MAX_ERRORS
            } else {
                r.errors.len()
            };
            lines.push(format!("  Parse errors: {}", r.errors[0]));
            for e in &r.errors[1..shown] {
                lines.push(format!("{}{}", " ".repeat(16), e));
            }
            if shown < r.errors.len() {
                lines.push(format!(
                    "Displayed the first {} of {} TAP syntax errors.",
                    MAX_ERRORS,
                    r.errors.len()
                ));
                lines.push("Re-run prove with the -p option to see them all.".to_string());
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        let pad = self.longest.saturating_sub(r.name.chars().count()).max(1);
        let wait = match r.wait {
            None => "(none)".to_string(),
            Some(0) => "0".to_string(),
            Some(w) if w & 0x7f != 0 => format!(
                "{} (Signal: {}{})",
                w,
                perl_signal_name(w & 0x7f),
                if w & 0x80 != 0 { ", dumped core" } else { "" }
            ),
            Some(w) => format!("{} (exited {})", w, w >> 8),
        };
        writeln!(
            self.out,
            "{}{}(Wstat: {} Tests: {} Failed: {})",
            r.name,
            " ".repeat(pad),
            wait,
            r.run,
            r.failed.len()
        )?;
        for line in lines {
            writeln!(self.out, "{}", line)?;
        }
        Ok(())
    }
}

impl Renderer for Prove {
    fn interest(&self) -> Interest {
        let always = Interest::of(&[
            Kind::JobQueued,
            Kind::Output,
            Kind::Version,
            Kind::Plan,
            Kind::Assert,
            Kind::Comment,
            Kind::Bail,
            Kind::ParseError,
            Kind::JobExit,
            Kind::JobEnd,
            Kind::RunEnd,
        ]);
        // Lines that count for nothing, which only -v shows.
        if self.style.verbosity > 0 {
            always.union(Interest::of(&[Kind::Yaml, Kind::Pragma, Kind::Blank]))
        } else {
            always
        }
    }

    fn event(&mut self, event: &mut Event) -> io::Result<()> {
        match event.kind() {
            Kind::JobQueued => {
                let len = event.str("file").map_or(0, |f| f.chars().count());
                self.longest = self.longest.max(len);
            }
            kind if kind.is_line() => self.line(event)?,
            Kind::ParseError => self.parse_error(event),
            Kind::JobExit => self.job_exit(event),
            Kind::JobEnd => self.job_end(event)?,
            Kind::RunEnd => self.summary(event)?,
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, _complete: bool) -> io::Result<()> {
        self.err.flush()?;
        self.out.flush()
    }
}

/// The summary with no files at all (prove's `Result: NOTESTS`), for when
/// there is nothing to start a run for.
pub fn no_tests(out: &mut dyn Write) -> io::Result<()> {
    let (usr, sys) = crate::sys::self_cpu_times();
    writeln!(
        out,
        "Files=0, Tests=0, {}\nResult: NOTESTS",
        timestr(0, usr, sys, 0.0, 0.0)
    )?;
    out.flush()
}

/// Benchmark's `timestr`, as prove prints it: the children's part only when
/// they used any CPU.
fn timestr(wall: u64, usr: f64, sys: f64, cusr: f64, csys: f64) -> String {
    if cusr + csys > 0.0 {
        format!(
            "{:2} wallclock secs ({:5.2} usr {:5.2} sys + {:5.2} cusr {:5.2} csys = {:5.2} CPU)",
            wall,
            usr,
            sys,
            cusr,
            csys,
            usr + sys + cusr + csys
        )
    } else {
        format!(
            "{:2} wallclock secs ({:5.2} usr + {:5.2} sys = {:5.2} CPU)",
            wall,
            usr,
            sys,
            usr + sys
        )
    }
}

/// `[HH:MM:SS]` in local time, as `--timer` prints it.
fn clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (h, m, s) = crate::sys::local_time_of_day(now);
    format!("[{:02}:{:02}:{:02}]", h, m, s)
}

/// proctor's parse error messages in prove's words; `None` for one prove gives
/// only once per file.
fn prove_words(message: &str, file: &mut File) -> Option<String> {
    let number = |s: &str| -> Option<u64> { s.trim().parse().ok() };
    if message == "no plan found in TAP output" {
        return Some("No plan found in TAP output".to_string());
    }
    if message == "more than one plan" {
        return Some("More than one plan found in TAP output".to_string());
    }
    if let Some(rest) = message.strip_prefix("planned ") {
        if let Some((planned, ran)) = rest.split_once(" tests but ran ") {
            return Some(format!(
                "Bad plan.  You planned {} tests but ran {}.",
                planned, ran
            ));
        }
    }
    if let Some(rest) = message.strip_prefix("plan 1..0 skips the file, but ") {
        if let Some(ran) = rest.strip_suffix(" tests ran") {
            return Some(format!("Bad plan.  You planned 0 tests but ran {}.", ran));
        }
    }
    if let Some(rest) = message.strip_prefix("tests out of sequence: found test ") {
        if let Some((found, _)) = rest.split_once(" but expected ") {
            // prove expects the count of tests run so far, not the last number + 1.
            return Some(format!(
                "Tests out of sequence.  Found ({}) but expected ({})",
                found, file.run
            ));
        }
    }
    if message.starts_with("test ") && message.ends_with(" comes after the plan at the end") {
        if file.plan_in_middle {
            return None;
        }
        file.plan_in_middle = true;
        return Some(format!(
            "Plan (1..{}) must be at the beginning or end of the TAP output",
            file.planned.unwrap_or(0)
        ));
    }
    if message.starts_with("TAP version line ") && message.ends_with(" is not the first line") {
        return Some("If TAP version is present it must be the first line of output".to_string());
    }
    if let Some(rest) = message.strip_prefix("TAP version ") {
        if let Some(v) = rest.split(' ').next().and_then(number) {
            if rest.contains("is not allowed") {
                return Some(format!(
                    "Explicit TAP version must be at least 13. Got version {}",
                    v
                ));
            }
        }
    }
    Some(message.to_string())
}

/// prove's `Failed tests:` lines: numbers folded into ranges, about 40
/// characters a line, later lines indented by 16 spaces.
fn number_lines(lines: &mut Vec<String>, label: &str, numbers: &[u64]) {
    let ranges = ranges(numbers);
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut i = 0;
    while i < ranges.len() {
        if row.len() < 40 {
            row.push_str(&ranges[i]);
            row.push_str(", ");
            i += 1;
        } else {
            rows.push(row.trim_end_matches(", ").to_string());
            row.clear();
        }
    }
    if !row.is_empty() {
        rows.push(row.trim_end_matches(", ").to_string());
    }
    for (n, r) in rows.into_iter().enumerate() {
        if n == 0 {
            lines.push(format!("{}{}", label, r));
        } else {
            lines.push(format!("{}{}", " ".repeat(16), r));
        }
    }
}

/// Sorted numbers with runs of consecutive ones as `a-b`.
fn ranges(numbers: &[u64]) -> Vec<String> {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut start: Option<u64> = None;
    for (i, &n) in sorted.iter().enumerate() {
        let next = sorted.get(i + 1).copied();
        if next.is_some() && next == n.checked_add(1) {
            if start.is_none() {
                start = Some(n);
            }
        } else if let Some(s) = start.take() {
            out.push(format!("{}-{}", s, n));
        } else {
            out.push(n.to_string());
        }
    }
    out
}

/// Perl's name for a signal number on Linux (`$Config{sig_name}`).
fn perl_signal_name(signal: i64) -> String {
    const NAMES: [&str; 32] = [
        "ZERO", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    match signal {
        0..=31 => NAMES[signal as usize].to_string(),
        34 => "RTMIN".to_string(),
        64 => "RTMAX".to_string(),
        _ => format!("NUM{}", signal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_fold_consecutive_numbers() {
        assert_eq!(ranges(&[5, 1, 2, 3, 7, 8]), ["1-3", "5", "7-8"]);
        assert_eq!(ranges(&[2, 2, 3]), ["2", "2-3"]);
    }

    #[test]
    fn long_lists_wrap_like_prove() {
        let numbers: Vec<u64> = (1..=40).map(|n| n * 2).collect();
        let mut lines = Vec::new();
        number_lines(&mut lines, "  Failed tests:  ", &numbers);
        assert_eq!(
            lines[0],
            "  Failed tests:  2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22"
        );
        assert!(
            lines[1].starts_with("                24, 26"),
            "{:?}",
            lines
        );
    }

    #[test]
    fn timestr_has_children_only_when_they_ran() {
        assert_eq!(
            timestr(0, 0.01, 0.0, 0.0, 0.0),
            " 0 wallclock secs ( 0.01 usr +  0.00 sys =  0.01 CPU)"
        );
        assert_eq!(
            timestr(3, 0.01, 0.0, 0.5, 0.25),
            " 3 wallclock secs ( 0.01 usr  0.00 sys +  0.50 cusr  0.25 csys =  0.76 CPU)"
        );
    }

    #[test]
    fn parse_errors_in_prove_words() {
        let mut f = File {
            run: 2,
            planned: Some(1),
            ..File::default()
        };
        assert_eq!(
            prove_words("planned 2 tests but ran 1", &mut f).unwrap(),
            "Bad plan.  You planned 2 tests but ran 1."
        );
        assert_eq!(
            prove_words("tests out of sequence: found test 5 but expected 3", &mut f).unwrap(),
            "Tests out of sequence.  Found (5) but expected (2)"
        );
        assert!(prove_words("test 3 comes after the plan at the end", &mut f).is_some());
        assert!(prove_words("test 4 comes after the plan at the end", &mut f).is_none());
        assert_eq!(prove_words("odd", &mut f).unwrap(), "odd");
    }

    #[test]
    fn signal_names_are_perls() {
        assert_eq!(perl_signal_name(11), "SEGV");
        assert_eq!(perl_signal_name(34), "RTMIN");
        assert_eq!(perl_signal_name(40), "NUM40");
    }
}
