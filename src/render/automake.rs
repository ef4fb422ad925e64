//! The Automake renderer, for `proctor driver`: turns the events of one test into
//! the files Automake's parallel test harness reads, with the results Automake's
//! own drivers would give.
//!
//! - the `.log`: what tap-driver.sh writes (every line the test printed, blank
//!   ones included, each result line after the TAP line it judges), then, when
//!   proctor failed the test or has notes on it, its reasons as `# proctor:`
//!   lines; with the exit protocol, test-driver's closing
//!   `RESULT NAME (exit status: N)` line;
//! - the `.trs`: `:test-result:` per test point (tap-driver.sh's mapping), then
//!   `:global-test-result:`, `:recheck:` and `:copy-in-global-log:`;
//! - `RESULT: NAME N description` lines on stdout, colored on request, the
//!   description as tap-driver.sh reads it (see `automake_line`).
//!
//! With the exit protocol the test is judged by its exit status alone, as
//! Automake's `test-driver` does. The report is shared with the driver through an
//! `Rc<RefCell<..>>` so that the driver can still write both files when the run
//! never got to the end (a harness failure before the first event).

use super::automake_line::{self as line, Directive, Point};
use super::Renderer;
use crate::event::{read, Event, Interest, JobResult, Kind};
use serde_json::Value;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::rc::Rc;

/// How a test tells its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TAP on stdout, judged point by point.
    Tap,
    /// The exit status alone: 0 pass, 77 skip, 99 hard error, anything else fail.
    Exit,
}

/// What Automake asked for (`--test-name`, `--color-tests`, ...).
#[derive(Clone, Debug)]
pub struct Options {
    pub name: String,
    pub log_file: PathBuf,
    pub trs_file: PathBuf,
    pub color: bool,
    pub expect_failure: bool,
    pub hard_errors: bool,
    pub collect_skipped_logs: bool,
    pub protocol: Protocol,
    /// tap-driver.sh's `--ignore-exit`: a non-zero exit is no error.
    pub ignore_exit: bool,
    /// tap-driver.sh's `--comments`: show the test's `#` lines on stdout too.
    pub comments: bool,
    /// tap-driver.sh's `--diagnostic-string`: what starts those lines.
    pub diagnostic: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PlanSeen {
    No,
    Early,
    Late,
}

/// The colors of Automake's parallel harness (lib/am/check.am), as SGR codes.
fn color_of(result: &str) -> &'static str {
    match result {
        "PASS" => "\x1b[0;32m",
        "FAIL" | "XPASS" => "\x1b[0;31m",
        "XFAIL" => "\x1b[1;32m",
        "SKIP" => "\x1b[1;34m",
        "ERROR" => "\x1b[0;35m",
        _ => "",
    }
}
const NO_COLOR: &str = "\x1b[m";

/// How the test process ended, from its job_exit.
#[derive(Clone, Debug, PartialEq)]
enum Ended {
    Code(u64),
    Signal {
        number: u64,
        name: String,
        core: bool,
    },
    Unknown,
}

impl Ended {
    /// The status a shell would have seen: signals as 128 + N.
    fn shell_status(&self) -> Option<u64> {
        match self {
            Ended::Code(c) => Some(*c),
            Ended::Signal { number, .. } => Some(128 + number),
            Ended::Unknown => None,
        }
    }
}

/// One test's results as they come in, and the files they go to.
pub struct Report {
    opts: Options,
    log: Option<BufWriter<File>>,
    console: Box<dyn Write>,
    results: Vec<&'static str>,
    testno: u64,
    planned: u64,
    plan_seen: PlanSeen,
    bailed: bool,
    /// Whether a result already says the test went wrong, so proctor's own
    /// reasons need not be added as errors.
    flagged: bool,
    ended: Option<Ended>,
    judged: bool,
    done: bool,
    write_error: Option<io::Error>,
}

impl Report {
    /// Creates (truncates) the `.log` at once, so it fills while the test runs.
    pub fn create(opts: Options, console: Box<dyn Write>) -> io::Result<Report> {
        let log = File::create(&opts.log_file)?;
        Ok(Report {
            opts,
            log: Some(BufWriter::new(log)),
            console,
            results: Vec::new(),
            testno: 0,
            planned: 0,
            plan_seen: PlanSeen::No,
            bailed: false,
            flagged: false,
            ended: None,
            judged: false,
            done: false,
            write_error: None,
        })
    }

    /// One line of the `.log`, its bytes as they are (a test's output need
    /// not be UTF-8).
    fn log_line(&mut self, line: impl AsRef<[u8]>) {
        if let Some(log) = &mut self.log {
            let written = log
                .write_all(line.as_ref())
                .and_then(|_| log.write_all(b"\n"));
            if let Err(e) = written {
                self.write_error.get_or_insert(e);
                self.log = None;
            }
        }
    }

    /// One result: kept for the `.trs`, shown on stdout and in the `.log`.
    fn report(&mut self, result: &'static str, details: impl AsRef<[u8]>) {
        self.results.push(result);
        let details = details.as_ref();
        let mut msg = format!(": {}", self.opts.name).into_bytes();
        if !details.is_empty() {
            msg.push(b' ');
            msg.extend_from_slice(details);
        }
        // test-driver's log has only its closing line; no result line twice.
        let to_log = self.opts.protocol == Protocol::Tap;
        self.show(result, &msg, to_log);
    }

    fn show(&mut self, result: &str, msg: &[u8], to_log: bool) {
        let mut shown = Vec::with_capacity(result.len() + msg.len() + 16);
        if self.opts.color && !color_of(result).is_empty() {
            shown.extend_from_slice(color_of(result).as_bytes());
            shown.extend_from_slice(result.as_bytes());
            shown.extend_from_slice(NO_COLOR.as_bytes());
        } else {
            shown.extend_from_slice(result.as_bytes());
        }
        shown.extend_from_slice(msg);
        shown.push(b'\n');
        // stdout is only for people; a closed stdout must not lose the files.
        let _ = self
            .console
            .write_all(&shown)
            .and_then(|_| self.console.flush());
        if to_log {
            let mut line = result.as_bytes().to_vec();
            line.extend_from_slice(msg);
            self.log_line(line);
        }
    }

    fn error(&mut self, message: impl AsRef<[u8]>) {
        self.flagged = true;
        let mut details = b"- ".to_vec();
        details.extend_from_slice(message.as_ref());
        self.report("ERROR", details);
    }

    fn cooked(&self, ok: bool) -> &'static str {
        match (ok, self.opts.expect_failure) {
            (true, false) => "PASS",
            (true, true) => "XPASS",
            (false, false) => "FAIL",
            (false, true) => "XFAIL",
        }
    }

    fn assert(&mut self, v: &Value) {
        self.testno += 1;
        let raw = line_of(v);
        let point = match line::point(&raw) {
            Some(point) => point,
            // proctor's parser saw a point where tap-driver.sh would see none
            // (it never does today): its own reading of the line stands in.
            None => Point {
                ok: v["ok"].as_bool().unwrap_or(false),
                number: v["number"].as_u64(),
                description: v["description"].as_str().unwrap_or("").as_bytes(),
                directive: match v["directive"].as_str() {
                    Some("todo") => Some(Directive::Todo),
                    Some("skip") => Some(Directive::Skip),
                    _ => None,
                },
                explanation: v["reason"].as_str().unwrap_or("").as_bytes(),
            },
        };
        let number = point.number.unwrap_or(self.testno);
        let mut details = number.to_string().into_bytes();
        if !point.description.is_empty() {
            details.push(b' ');
            details.extend_from_slice(point.description);
        }
        let unplanned = self.plan_seen == PlanSeen::Late
            || (self.plan_seen == PlanSeen::Early && self.testno > self.planned);
        let result = if self.plan_seen == PlanSeen::Late {
            details.extend_from_slice(b" # AFTER LATE PLAN");
            "ERROR"
        } else if unplanned {
            details.extend_from_slice(b" # UNPLANNED");
            "ERROR"
        } else if number != self.testno {
            details.extend_from_slice(
                format!(" # OUT-OF-ORDER (expecting {})", self.testno).as_bytes(),
            );
            "ERROR"
        } else {
            if let Some(d) = point.directive {
                details.extend_from_slice(b" # ");
                details.extend_from_slice(d.word().as_bytes());
                if !point.explanation.is_empty() {
                    details.push(b' ');
                    details.extend_from_slice(point.explanation);
                }
            }
            match point.directive {
                Some(Directive::Todo) if point.ok => "XPASS",
                Some(Directive::Todo) => "XFAIL",
                Some(Directive::Skip) if point.ok => "SKIP",
                _ => self.cooked(point.ok),
            }
        };
        if result == "ERROR" || (!point.ok && point.directive != Some(Directive::Todo)) {
            self.flagged = true;
        }
        self.report(result, details);
    }

    fn plan(&mut self, v: &Value) {
        if self.plan_seen != PlanSeen::No {
            self.error("multiple test plans");
            return;
        }
        self.planned = v["count"].as_u64().unwrap_or(0);
        self.plan_seen = if self.testno >= 1 {
            PlanSeen::Late
        } else {
            PlanSeen::Early
        };
        if self.planned == 0 && self.testno == 0 {
            let raw = line_of(v);
            let reason = line::skip_reason(&raw);
            let mut details = Vec::new();
            if !reason.is_empty() {
                details.extend_from_slice(b"- ");
                details.extend_from_slice(reason);
            }
            self.report("SKIP", details);
        }
    }

    /// The test is over: the checks tap-driver.sh makes at the end of the
    /// stream, or the exit-status verdict.
    fn judge(&mut self, end: read::JobEnd) {
        if self.judged {
            return;
        }
        self.judged = true;
        match self.opts.protocol {
            Protocol::Exit => self.judge_exit(),
            Protocol::Tap => self.judge_tap(end),
        }
        // By the exit status alone, proctor's TAP reasons ("no plan found") would
        // mislead; they are kept only to say why a test that did not exit
        // (a signal, the event timeout) was stopped. A skip's reason is on its
        // SKIP line already.
        let exited = matches!(self.ended, Some(Ended::Code(_)));
        let quiet = match self.opts.protocol {
            Protocol::Exit => exited,
            Protocol::Tap => end.result() == JobResult::Skip,
        };
        let reasons = end.reasons().filter(|_| !quiet);
        for line in reasons.chain(end.notes()) {
            self.log_line(format!("# proctor: {}", line));
        }
        for left in end.left_running() {
            self.log_line(format!(
                "# proctor: left running: pid {} ({})",
                left.pid, left.name
            ));
        }
    }

    fn judge_exit(&mut self) {
        let status = self.ended.as_ref().and_then(Ended::shell_status);
        let tweaked = match status {
            Some(99) if !self.opts.hard_errors => Some(1),
            other => other,
        };
        let result = match (tweaked, self.opts.expect_failure) {
            (None, _) => "ERROR",
            (Some(0), true) => "XPASS",
            (Some(0), false) => "PASS",
            (Some(77), _) => "SKIP",
            (Some(99), _) => "ERROR",
            (Some(_), true) => "XFAIL",
            (Some(_), false) => "FAIL",
        };
        self.report(result, "");
    }

    fn judge_tap(&mut self, end: read::JobEnd) {
        if !self.bailed {
            if self.plan_seen == PlanSeen::No {
                self.error("missing test plan");
            } else if self.planned != self.testno {
                let amount = if self.testno > self.planned {
                    "many"
                } else {
                    "few"
                };
                self.error(format!(
                    "too {} tests run (expected {}, got {})",
                    amount, self.planned, self.testno
                ));
            }
            if !self.opts.ignore_exit {
                if let Some(message) = self.ended.as_ref().and_then(exit_message) {
                    self.error(message);
                }
            }
        }
        // What proctor found wrong that tap-driver.sh would not see (a lost
        // auditor, a TAP error it does not check) must not read as a pass.
        if end.result() == JobResult::Fail && !self.flagged {
            for reason in end.reasons() {
                let about_exit =
                    reason.starts_with("exited with status") || reason.starts_with("killed by");
                if !(self.opts.ignore_exit && about_exit) {
                    self.error(reason);
                }
            }
        }
    }

    /// Writes the closing line of the `.log` and the `.trs`, once. `trouble`
    /// says why the run ended early, when it did.
    pub fn close(&mut self, trouble: Option<&str>) -> io::Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        if !self.judged {
            self.judged = true;
            let why = trouble.unwrap_or("proctor stopped before the test finished");
            self.error(why);
            if self.opts.protocol == Protocol::Exit {
                self.log_line(format!("# proctor: {}", why));
            }
        } else if let Some(why) = trouble {
            self.log_line(format!("# proctor: {}", why));
        }
        let global = self.global_result();
        // test-driver's closing line; tap-driver.sh writes none.
        if self.opts.protocol == Protocol::Exit {
            let status = match self.ended.as_ref().and_then(Ended::shell_status) {
                Some(s) => s.to_string(),
                None => "unknown".to_string(),
            };
            let closing = format!("{} {} (exit status: {})", global, self.opts.name, status);
            self.log_line(closing);
        }
        if let Some(mut log) = self.log.take() {
            if let Err(e) = log.flush() {
                self.write_error.get_or_insert(e);
            }
        }
        self.write_trs(global)?;
        match self.write_error.take() {
            Some(e) => Err(io::Error::new(
                e.kind(),
                format!("{}: {}", self.opts.log_file.display(), e),
            )),
            None => Ok(()),
        }
    }

    fn write_trs(&self, global: &str) -> io::Result<()> {
        let yn = |b: bool| if b { "yes" } else { "no" };
        let mut trs = String::new();
        trs.push_str(&format!(":global-test-result: {}\n", global));
        trs.push_str(&format!(":recheck: {}\n", yn(self.must_recheck())));
        trs.push_str(&format!(
            ":copy-in-global-log: {}\n",
            yn(self.copy_in_global_log())
        ));
        for r in &self.results {
            trs.push_str(&format!(":test-result: {}\n", r));
        }
        std::fs::write(&self.opts.trs_file, trs).map_err(|e| {
            io::Error::new(e.kind(), format!("{}: {}", self.opts.trs_file.display(), e))
        })
    }

    /// The test's result as Automake counts it (the `.trs`'s global result),
    /// and what made it so: the results other than PASS, or the exit status
    /// by the exit protocol.
    pub fn verdict(&self) -> (&'static str, String) {
        let why = if self.opts.protocol == Protocol::Exit {
            match self.ended.as_ref().and_then(Ended::shell_status) {
                Some(status) => format!("exit status {}", status),
                None => "no exit status".to_string(),
            }
        } else {
            let counts: Vec<String> = ["ERROR", "FAIL", "XPASS", "XFAIL", "SKIP"]
                .iter()
                .map(|kind| (kind, self.results.iter().filter(|r| *r == kind).count()))
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| format!("{} {}", n, kind))
                .collect();
            counts.join(", ")
        };
        (self.global_result(), why)
    }

    fn seen(&self, result: &str) -> bool {
        self.results.contains(&result)
    }

    /// tap-driver.sh's rule: any ERROR is an ERROR; any FAIL or XPASS a FAIL;
    /// only SKIPs (or nothing) a SKIP; else PASS. test-driver's one result is
    /// itself (an XFAIL stays an XFAIL).
    fn global_result(&self) -> &'static str {
        if self.opts.protocol == Protocol::Exit && self.results.len() == 1 {
            self.results[0]
        } else if self.seen("ERROR") {
            "ERROR"
        } else if self.seen("FAIL") || self.seen("XPASS") {
            "FAIL"
        } else if self.results.iter().all(|r| *r == "SKIP") {
            "SKIP"
        } else {
            "PASS"
        }
    }

    /// Whether `make recheck` runs the test again.
    fn must_recheck(&self) -> bool {
        self.results
            .iter()
            .any(|r| !matches!(*r, "PASS" | "XFAIL" | "SKIP"))
    }

    /// Whether test-suite.log gets this test's `.log`.
    fn copy_in_global_log(&self) -> bool {
        self.results.iter().any(|r| match *r {
            "PASS" => false,
            "SKIP" => self.opts.collect_skipped_logs,
            _ => true,
        })
    }

    fn event(&mut self, event: &mut Event) {
        let kind = event.kind();
        if event.job().is_none() {
            return;
        }
        let v = event.value().clone();
        if kind.is_line() {
            self.log_line(line_of(&v));
        }
        let top = v["depth"].as_u64().unwrap_or(0) == 0;
        let tap = self.opts.protocol == Protocol::Tap && !self.bailed && top;
        match kind {
            Kind::Assert if tap => self.assert(&v),
            Kind::Plan if tap => self.plan(&v),
            Kind::Bail if tap => {
                self.bailed = true;
                let raw = line_of(&v);
                let mut message = b"Bail out!".to_vec();
                let said = line::bail_message(&raw);
                if !said.is_empty() {
                    message.push(b' ');
                    message.extend_from_slice(said);
                }
                self.error(message);
            }
            Kind::JobExit => self.ended = Some(ended_of(read::JobExit(&v))),
            Kind::JobEnd if read::JobEnd(&v).will_retry() => self.retry(),
            Kind::JobEnd => self.judge(read::JobEnd(&v)),
            kind if kind.is_line() => self.comment(&v),
            _ => {}
        }
    }

    /// With `--comments`, a line that starts with `#` (the diagnostic string)
    /// is shown as tap-driver.sh shows it: whatever proctor's parser made of it
    /// (a subtest's `# Subtest:` header is one too), from the stream
    /// tap-driver.sh reads, until a bail-out.
    fn comment(&mut self, v: &Value) {
        let read = self.opts.protocol == Protocol::Tap
            && self.opts.comments
            && !self.bailed
            && v["stream"] != "stderr";
        if !read {
            return;
        }
        let raw = line_of(v);
        if let Some(text) = line::comment(&raw, self.opts.diagnostic.as_bytes()) {
            let mut msg = format!(" {}: ", self.opts.name).into_bytes();
            msg.extend_from_slice(text);
            self.show("#", &msg, true);
        }
    }

    /// The try failed and another comes: only the last try's results count.
    fn retry(&mut self) {
        self.log_line("# proctor: this try failed; trying again");
        self.results.clear();
        self.testno = 0;
        self.planned = 0;
        self.plan_seen = PlanSeen::No;
        self.bailed = false;
        self.flagged = false;
        self.ended = None;
    }
}

/// The bytes of a line of output: exact from `line_hex` when the test wrote
/// something that is not UTF-8.
fn line_of(v: &Value) -> Vec<u8> {
    match v["line_hex"].as_str().and_then(crate::json::unhex) {
        Some(bytes) => bytes,
        None => v["line"].as_str().unwrap_or("").as_bytes().to_vec(),
    }
}

fn ended_of(exit: read::JobExit) -> Ended {
    match exit.exit() {
        read::Exit::Code(code) => Ended::Code(code),
        read::Exit::Signal { number, name, core } => Ended::Signal {
            number,
            name: name.unwrap_or("signal").to_string(),
            core,
        },
        read::Exit::Unknown => Ended::Unknown,
    }
}

/// tap-driver.sh's words for a bad exit; a signal is named, as proctor knows it.
fn exit_message(ended: &Ended) -> Option<String> {
    match ended {
        Ended::Code(0) => None,
        Ended::Code(127) => Some("exited with status 127 (command not found?)".into()),
        Ended::Code(c) => Some(format!("exited with status {}", c)),
        Ended::Signal { number, name, core } => Some(format!(
            "terminated by signal {} ({}){}",
            number,
            name,
            if *core { ", core dumped" } else { "" }
        )),
        Ended::Unknown => Some("exit status unknown".into()),
    }
}

/// The renderer half: hands events to the shared report.
pub struct Automake {
    report: Rc<RefCell<Report>>,
}

impl Automake {
    pub fn new(report: Rc<RefCell<Report>>) -> Automake {
        Automake { report }
    }
}

impl Renderer for Automake {
    fn interest(&self) -> Interest {
        // Every line the test printed, blank ones too: the .log keeps them all.
        Interest::of(&Kind::LINES).union(Interest::of(&[Kind::JobExit, Kind::JobEnd, Kind::Other]))
    }

    fn event(&mut self, event: &mut Event) -> io::Result<()> {
        self.report.borrow_mut().event(event);
        Ok(())
    }

    /// The driver closes the report itself, once it knows how the run ended.
    fn finish(&mut self, _complete: bool) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(protocol: Protocol, expect_failure: bool) -> (Report, PathBuf) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "proctor-automake-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let opts = Options {
            name: "t/x.t".into(),
            log_file: dir.join("x.log"),
            trs_file: dir.join("x.trs"),
            color: false,
            expect_failure,
            hard_errors: true,
            collect_skipped_logs: true,
            protocol,
            ignore_exit: false,
            comments: false,
            diagnostic: "#".into(),
        };
        (Report::create(opts, Box::new(io::sink())).unwrap(), dir)
    }

    fn feed(r: &mut Report, lines: &[&str]) {
        for l in lines {
            r.event(&mut Event::new(l.as_bytes()));
        }
    }

    #[test]
    fn tap_mapping_and_global_rules() {
        let (mut r, dir) = report(Protocol::Tap, false);
        feed(
            &mut r,
            &[
                r#"{"type":"plan","job":1,"try":1,"count":5,"line":"1..5"}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":true,"number":1,"description":"a","line":"ok 1 - a"}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":false,"number":2,"description":"b","directive":"todo","reason":"later","line":"not ok 2 - b # TODO later"}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":true,"number":3,"description":"","directive":"todo","reason":"","line":"ok 3 # TODO"}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":true,"number":4,"description":"","directive":"skip","reason":"no net","line":"ok 4 # skip no net"}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":true,"number":6,"description":"f","line":"ok 6 - f"}"#,
                r#"{"type":"job_exit","job":1,"try":1,"status":0}"#,
                r#"{"type":"job_end","job":1,"try":1,"result":"fail","reasons":[]}"#,
            ],
        );
        assert_eq!(r.results, ["PASS", "XFAIL", "XPASS", "SKIP", "ERROR"]);
        assert_eq!(r.global_result(), "ERROR");
        r.close(None).unwrap();
        let trs = std::fs::read_to_string(dir.join("x.trs")).unwrap();
        assert!(
            trs.starts_with(
                ":global-test-result: ERROR\n:recheck: yes\n:copy-in-global-log: yes\n"
            ),
            "{}",
            trs
        );
        let log = std::fs::read_to_string(dir.join("x.log")).unwrap();
        assert!(
            log.contains("ERROR: t/x.t 6 - f # OUT-OF-ORDER (expecting 5)\n"),
            "{}",
            log
        );
        assert!(log.contains("XFAIL: t/x.t 2 - b # TODO later\n"), "{}", log);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn expected_failures_invert_plain_points_only() {
        let (mut r, dir) = report(Protocol::Tap, true);
        feed(
            &mut r,
            &[
                r#"{"type":"plan","job":1,"try":1,"count":3}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":true,"number":1}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":false,"number":2}"#,
                r#"{"type":"assert","job":1,"try":1,"ok":false,"number":3,"directive":"skip"}"#,
                r#"{"type":"job_exit","job":1,"try":1,"status":0}"#,
                r#"{"type":"job_end","job":1,"try":1,"result":"fail","reasons":["failed 2 of 3 tests: 2, 3"]}"#,
            ],
        );
        assert_eq!(r.results, ["XPASS", "XFAIL", "XFAIL"]);
        assert_eq!(r.global_result(), "FAIL");
        assert!(r.must_recheck());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn exit_protocol_follows_test_driver() {
        for (status, expect, hard, want) in [
            (0, false, true, "PASS"),
            (0, true, true, "XPASS"),
            (77, false, true, "SKIP"),
            (77, true, true, "SKIP"),
            (99, false, true, "ERROR"),
            (99, false, false, "FAIL"),
            (99, true, false, "XFAIL"),
            (1, false, true, "FAIL"),
            (1, true, true, "XFAIL"),
        ] {
            let (mut r, dir) = report(Protocol::Exit, expect);
            r.opts.hard_errors = hard;
            let exit = format!(
                r#"{{"type":"job_exit","job":1,"try":1,"status":{}}}"#,
                status
            );
            feed(
                &mut r,
                &[
                    &exit,
                    r#"{"type":"job_end","job":1,"try":1,"result":"fail"}"#,
                ],
            );
            assert_eq!(
                r.results,
                [want],
                "status {} expect {} hard {}",
                status,
                expect,
                hard
            );
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn a_run_that_never_ends_is_an_error() {
        let (mut r, dir) = report(Protocol::Tap, false);
        r.close(Some("unable to start the runner")).unwrap();
        let trs = std::fs::read_to_string(dir.join("x.trs")).unwrap();
        assert!(trs.contains(":test-result: ERROR\n"), "{}", trs);
        let log = std::fs::read_to_string(dir.join("x.log")).unwrap();
        assert!(
            log.contains("ERROR: t/x.t - unable to start the runner\n"),
            "{}",
            log
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
