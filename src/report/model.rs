//! What a report shows, gathered from the event log(s) in one pass: each run's
//! summary, each file's tries with their stamps (relative to their run's
//! start), and the output of failing tries only, capped. A passing try's
//! output is held only while it runs (at most one try a slot), so memory
//! grows with the files, not with what they printed.

use crate::event::read::RunEnd;
use crate::event::{Event, JobResult, Kind};
use std::collections::{HashMap, VecDeque};

/// The lines of a failing try's output kept: its last ones.
pub const OUTPUT_LINES: usize = 200;
/// The bytes of a failing try's output kept, at most.
pub const OUTPUT_BYTES: usize = 64 << 10;
/// How many failing files keep their output (the first ones): a run where
/// everything fails still makes a page one can open.
pub const FILES_WITH_OUTPUT: usize = 50;
/// Failed points kept per try, and diagnostic lines per point.
const POINTS: usize = 50;
const DIAGNOSTIC_LINES: usize = 20;

/// One run: a run_start, and its run_end if the log has it.
pub struct Run {
    pub id: String,
    pub version: String,
    pub cwd: String,
    /// The command line, when the log records it (logs of proctor 0.1 do not).
    pub argv: Option<Vec<String>>,
    pub slots: u64,
    pub files: u64,
    pub start: f64,
    pub end: Option<RunSummary>,
}

/// What a run_end says, as the page shows it.
pub struct RunSummary {
    pub passed: bool,
    pub tests_run: u64,
    pub tests_failed: u64,
    pub wall: f64,
    pub cpu: f64,
    pub retried: u64,
    pub interrupted: Option<String>,
    pub harness_error: Option<String>,
    pub bailed: Option<String>,
}

/// One try of a file, its stamps in seconds from its run's start.
pub struct Try {
    pub run: usize,
    pub number: u32,
    /// None: it never got an auditor (cancelled, or its stage could not run it).
    pub launch: Option<f64>,
    pub exit: Option<f64>,
    pub end: f64,
    pub result: JobResult,
    pub will_retry: bool,
    pub flaky: bool,
    pub duration: f64,
    pub reasons: Vec<String>,
    pub failed_tests: Vec<u64>,
}

/// A failed point with the diagnostics printed after it.
pub struct Point {
    pub line: String,
    pub diagnostics: Vec<String>,
}

/// The last lines of a try's output, within [`OUTPUT_LINES`] and [`OUTPUT_BYTES`].
#[derive(Default)]
pub struct Tail {
    /// Each line, and whether it came on stderr.
    pub lines: VecDeque<(bool, String)>,
    bytes: usize,
    /// How many lines were let go from the front.
    pub cut: u64,
}

impl Tail {
    fn push(&mut self, stderr: bool, mut line: String) {
        if line.len() > OUTPUT_BYTES {
            let mut at = OUTPUT_BYTES;
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            line.truncate(at);
        }
        self.bytes += line.len();
        self.lines.push_back((stderr, line));
        while self.lines.len() > OUTPUT_LINES || self.bytes > OUTPUT_BYTES {
            let (_, gone) = self.lines.pop_front().expect("over a cap, so not empty");
            self.bytes -= gone.len();
            self.cut += 1;
        }
    }
}

/// What a failing try printed, kept for the page.
pub struct Failure {
    pub run: usize,
    pub try_number: u32,
    pub points: Vec<Point>,
    pub output: Tail,
}

pub struct File {
    pub name: String,
    pub tries: Vec<Try>,
    /// Boxed: few files have one.
    pub failure: Option<Box<Failure>>,
}

impl File {
    /// The try that gave the file its result: the last that was not tried again.
    pub fn last(&self) -> &Try {
        self.tries
            .iter()
            .rev()
            .find(|t| !t.will_retry)
            .unwrap_or_else(|| self.tries.last().expect("a file has a try"))
    }
}

/// A try under way: launched, not yet ended.
struct Active {
    launch: f64,
    exit: Option<f64>,
    points: Points,
    output: Tail,
}

/// The failed points of a try under way, each with the diagnostics that go
/// with it: the comments after it on stdout, and those on stderr. stderr is
/// read apart from stdout, so its diagnostics may come after later points
/// (they go with the last failed one) or before their own (those that come
/// before any failed point go with the first).
#[derive(Default)]
struct Points {
    points: Vec<Point>,
    /// Whether the stdout lines now coming follow a failed point.
    in_point: bool,
    early: Vec<String>,
}

impl Points {
    fn failed(&mut self, line: &str) {
        if self.points.len() < POINTS {
            self.points.push(Point {
                line: line.to_string(),
                diagnostics: std::mem::take(&mut self.early),
            });
            self.in_point = true;
        }
    }

    fn diagnostic(&mut self, stderr: bool, line: &str) {
        let goes_to = match self.points.last_mut() {
            Some(point) if stderr || self.in_point => &mut point.diagnostics,
            None if stderr => &mut self.early,
            _ => return,
        };
        if goes_to.len() < DIAGNOSTIC_LINES {
            goes_to.push(line.to_string());
        }
    }

    /// Any other line: one on stdout ends the diagnostics of a point.
    fn other(&mut self, stderr: bool) {
        if !stderr {
            self.in_point = false;
        }
    }
}

/// Everything the page needs.
#[derive(Default)]
pub struct Report {
    pub runs: Vec<Run>,
    pub files: Vec<File>,
    /// Failing files whose output was not kept, past [`FILES_WITH_OUTPUT`].
    pub outputs_left_out: usize,
    /// The state directory's earlier runs, for a page of one run.
    pub history: Option<super::History>,
    by_name: HashMap<String, usize>,
    active: HashMap<(u64, u32), Active>,
    failures_kept: usize,
}

impl Report {
    /// Takes in one event of the log(s), in order.
    pub fn add(&mut self, event: &mut Event) {
        match event.kind() {
            Kind::RunStart => self.run_start(event),
            Kind::RunEnd => self.run_end(event),
            _ if self.runs.is_empty() => {}
            Kind::JobLaunch => self.launch(event),
            Kind::TestExit => self.test_exit(event),
            Kind::JobEnd => self.job_end(event),
            kind if kind.is_line() => self.line(event),
            _ => {}
        }
    }

    fn run_start(&mut self, event: &mut Event) {
        let v = event.value();
        let argv = v["argv"].as_array().map(|words| {
            words
                .iter()
                .map(|w| w.as_str().unwrap_or("").to_string())
                .collect()
        });
        self.runs.push(Run {
            id: v["id"].as_str().unwrap_or("").to_string(),
            version: v["version"].as_str().unwrap_or("").to_string(),
            cwd: v["cwd"].as_str().unwrap_or("").to_string(),
            argv,
            slots: v["slots"].as_u64().unwrap_or(1),
            files: v["files"].as_u64().unwrap_or(0),
            start: v["stamp"].as_f64().unwrap_or(0.0),
            end: None,
        });
        // Job numbers start again with each run.
        self.active.clear();
    }

    fn run_end(&mut self, event: &mut Event) {
        let end = event.run_end();
        let summary = RunSummary {
            passed: end.result() == JobResult::Pass,
            tests_run: end.tests_run(),
            tests_failed: end.tests_failed(),
            wall: end.wall(),
            cpu: end.user() + end.system(),
            retried: end.retried(),
            interrupted: end.interrupted().map(String::from),
            harness_error: end.harness_error().map(String::from),
            bailed: bail_text(end),
        };
        if let Some(run) = self.runs.last_mut() {
            run.end = Some(summary);
        }
    }

    /// Seconds from the current run's start to the event's stamp.
    fn since_start(&self, event: &mut Event) -> Option<f64> {
        let start = self.runs.last()?.start;
        event.f64("stamp").map(|s| (s - start).max(0.0))
    }

    fn launch(&mut self, event: &mut Event) {
        if let (Some(job), Some(at)) = (event.job(), self.since_start(event)) {
            self.active.insert(
                job,
                Active {
                    launch: at,
                    exit: None,
                    points: Points::default(),
                    output: Tail::default(),
                },
            );
        }
    }

    fn test_exit(&mut self, event: &mut Event) {
        let at = self.since_start(event);
        if let Some(active) = event.job().and_then(|j| self.active.get_mut(&j)) {
            active.exit = at;
        }
    }

    fn line(&mut self, event: &mut Event) {
        let active = match event.job().and_then(|j| self.active.get_mut(&j)) {
            Some(active) => active,
            None => return,
        };
        let kind = event.kind();
        let v = event.value();
        let text = v["line"].as_str().unwrap_or("").to_string();
        let stderr = v["stream"] == "stderr";
        let failed = kind == Kind::Assert && v["ok"] == false && v["directive"] != "todo";
        let diagnostic = kind == Kind::Comment || (stderr && text.trim_start().starts_with('#'));
        if failed {
            active.points.failed(&text);
        } else if diagnostic {
            active.points.diagnostic(stderr, &text);
        } else {
            active.points.other(stderr);
        }
        active.output.push(stderr, text);
    }

    fn job_end(&mut self, event: &mut Event) {
        let job = event.job();
        let active = job.and_then(|j| self.active.remove(&j));
        let at = self.since_start(event);
        let run = self.runs.len() - 1;
        let end = event.job_end();
        let name = end.file().unwrap_or("").to_string();
        let last_stamp = active.as_ref().map_or(0.0, |a| a.exit.unwrap_or(a.launch));
        let attempt = Try {
            run,
            number: job.map_or(1, |(_, t)| t),
            launch: active.as_ref().map(|a| a.launch),
            exit: active.as_ref().and_then(|a| a.exit),
            // A job_end the overlord made up for a lost job may have no stamp.
            end: at.unwrap_or(last_stamp),
            result: end.result(),
            will_retry: end.will_retry(),
            flaky: end.flaky(),
            duration: end.duration(),
            reasons: end.reasons().map(String::from).collect(),
            failed_tests: end.0["failed_tests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_u64())
                .collect(),
        };
        let index = self.file_index(name);
        let failed = attempt.result == JobResult::Fail;
        let final_pass = !failed && !attempt.will_retry;
        let number = attempt.number;
        self.files[index].tries.push(attempt);
        if failed {
            if let Some(active) = active {
                self.keep_failure(index, run, number, active);
            }
        } else if final_pass {
            self.forget_older_failure(index, run);
        }
    }

    fn file_index(&mut self, name: String) -> usize {
        if let Some(&i) = self.by_name.get(&name) {
            return i;
        }
        self.files.push(File {
            name: name.clone(),
            // Most files are tried once; a Vec would start with room for four.
            tries: Vec::with_capacity(1),
            failure: None,
        });
        self.by_name.insert(name, self.files.len() - 1);
        self.files.len() - 1
    }

    fn keep_failure(&mut self, index: usize, run: usize, try_number: u32, active: Active) {
        let file = &mut self.files[index];
        if file.failure.is_none() {
            if self.failures_kept == FILES_WITH_OUTPUT {
                self.outputs_left_out += 1;
                return;
            }
            self.failures_kept += 1;
        }
        file.failure = Some(Box::new(Failure {
            run,
            try_number,
            points: active.points.points,
            output: active.output,
        }));
    }

    /// A file that failed in an earlier run and passes now is no failure of
    /// the merged view; one that failed earlier in this run is flaky, and its
    /// failure stays to be shown.
    fn forget_older_failure(&mut self, index: usize, run: usize) {
        let file = &mut self.files[index];
        if file.failure.as_ref().map_or(false, |f| f.run != run) {
            file.failure = None;
            self.failures_kept -= 1;
        }
    }

    /// Files by how their last try ended.
    pub fn count(&self, result: JobResult) -> usize {
        self.files
            .iter()
            .filter(|f| f.last().result == result)
            .count()
    }
}

fn bail_text(end: RunEnd) -> Option<String> {
    end.bailed().map(|(file, reason)| match file {
        Some(file) => format!("{}: {}", file, reason),
        None => reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_the_last_lines_and_counts_the_rest() {
        let mut tail = Tail::default();
        for n in 0..OUTPUT_LINES + 5 {
            tail.push(false, format!("line {}", n));
        }
        assert_eq!(tail.lines.len(), OUTPUT_LINES);
        assert_eq!(tail.cut, 5);
        assert_eq!(tail.lines[0].1, "line 5");
    }

    #[test]
    fn a_tail_keeps_within_its_bytes() {
        let mut tail = Tail::default();
        for _ in 0..3 {
            tail.push(true, "é".repeat(OUTPUT_BYTES));
        }
        assert_eq!(tail.lines.len(), 1);
        assert_eq!(tail.cut, 2);
        assert!(tail.lines[0].1.len() <= OUTPUT_BYTES);
    }

    fn report_of(log: &str) -> Report {
        let mut report = Report::default();
        for line in log.lines() {
            report.add(&mut Event::new(line.as_bytes()));
        }
        report
    }

    #[test]
    fn only_a_failing_try_keeps_its_output() {
        let report = report_of(concat!(
            r#"{"type":"run_start","id":"r","slots":2,"stamp":100.0}"#,
            "\n",
            r#"{"type":"job_launch","job":1,"try":1,"file":"a.t","stamp":100.5}"#,
            "\n",
            r#"{"type":"job_launch","job":2,"try":1,"file":"b.t","stamp":100.5}"#,
            "\n",
            r#"{"type":"assert","job":1,"try":1,"line":"ok 1"}"#,
            "\n",
            r#"{"type":"assert","job":2,"try":1,"ok":false,"line":"not ok 1 - x"}"#,
            "\n",
            r##"{"type":"output","job":2,"try":1,"stream":"stderr","line":"#   Failed test 'x'"}"##,
            "\n",
            r#"{"type":"test_exit","job":2,"try":1,"stamp":101.0}"#,
            "\n",
            r#"{"type":"job_end","job":1,"try":1,"file":"a.t","result":"pass","duration":1,"stamp":101.5}"#,
            "\n",
            r#"{"type":"job_end","job":2,"try":1,"file":"b.t","result":"fail","reasons":["failed 1 of 1 tests: 1"],"failed_tests":[1],"duration":1,"stamp":102.0}"#,
            "\n",
        ));
        assert_eq!(report.files.len(), 2);
        assert!(report.files[0].failure.is_none());
        let b = &report.files[1];
        let failure = b.failure.as_ref().unwrap();
        assert_eq!(failure.output.lines.len(), 2);
        assert_eq!(failure.points[0].line, "not ok 1 - x");
        assert_eq!(failure.points[0].diagnostics, ["#   Failed test 'x'"]);
        let t = b.last();
        assert_eq!((t.launch, t.exit, t.end), (Some(0.5), Some(1.0), 2.0));
        assert_eq!(t.failed_tests, [1]);
    }

    #[test]
    fn diagnostics_on_stderr_go_with_their_point_whichever_came_first() {
        let mut points = Points::default();
        points.diagnostic(true, "#   Failed test 'a'");
        points.other(false);
        points.failed("not ok 2 - a");
        points.other(false);
        points.diagnostic(false, "# a stdout comment after an ok");
        points.diagnostic(true, "#   got: 3");
        let point = &points.points[0];
        assert_eq!(point.diagnostics, ["#   Failed test 'a'", "#   got: 3"]);
    }

    #[test]
    fn a_file_that_passes_in_a_later_run_is_no_failure() {
        let report = report_of(concat!(
            r#"{"type":"run_start","id":"r1","stamp":1.0}"#,
            "\n",
            r#"{"type":"job_launch","job":1,"try":1,"file":"a.t","stamp":1.0}"#,
            "\n",
            r#"{"type":"job_end","job":1,"try":1,"file":"a.t","result":"fail","stamp":2.0}"#,
            "\n",
            r#"{"type":"run_start","id":"r2","stamp":10.0}"#,
            "\n",
            r#"{"type":"job_launch","job":1,"try":1,"file":"a.t","stamp":10.0}"#,
            "\n",
            r#"{"type":"job_end","job":1,"try":1,"file":"a.t","result":"pass","stamp":11.0}"#,
            "\n",
        ));
        assert_eq!(report.runs.len(), 2);
        assert_eq!(report.files[0].tries.len(), 2);
        assert!(report.files[0].failure.is_none());
        assert_eq!(report.count(JobResult::Pass), 1);
    }
}
