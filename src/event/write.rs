//! The writers of the records proctor writes: one function a record type, each
//! appending one whole record (its `"type"` first, then, for a job's records
//! in the runner's and the event log, its `"job"` and `"try"`) to a buffer the
//! caller reuses. They never allocate of their own: the auditor writes a
//! record per line of a test's output through them.
//!
//! Field order is part of the format: readers classify a record by its first
//! bytes (see [`super::Event::new`], [`super::job_of`]) and an assert's
//! `"ok"` comes first so a failure can be seen without decoding (see
//! `render::plain::failed_assert`).

use super::JobResult;
use crate::json;
use std::borrow::Cow;

/// One job's try, as the records name it.
pub type JobId = (u64, u32);

/// Starts a job's record: its type, then the job and try when they are known
/// (the auditor leaves them to the overlord, see [`super::splice_job`]).
fn start(out: &mut Vec<u8>, kind: &str, job: Option<JobId>) {
    json::start_record(out, kind);
    if let Some((job, tries)) = job {
        json::write_u64_field(out, "job", job);
        json::write_u64_field(out, "try", tries as u64);
    }
}

/// The TAP counts of a job_end: what the auditor's parser saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub planned: Option<u64>,
    pub run: u64,
    pub passed: u64,
    pub failed: u64,
    pub todo: u64,
    pub todo_passed: u64,
    pub skipped: u64,
}

/// A process a test left running, named so that it cannot be mistaken for
/// another that later gets its pid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftRunning {
    pub pid: libc::pid_t,
    pub name: String,
    pub start: u64,
}

/// What Automake counts a test as when that differs from proctor's verdict
/// (see `commands::driver_log`): its word, and proctor's own result beside.
#[derive(Clone, Debug, PartialEq)]
pub struct Automake<'a> {
    pub word: Cow<'a, str>,
    pub proctor: JobResult,
    pub proctor_reasons: Cow<'a, [String]>,
}

/// A job_end: how one try of a file ended. Its three writers fill what they
/// know: the auditor all but `job`, the runner (a job that never started) and
/// the overlord (a job whose auditor or runner was lost) the job, file,
/// result and reasons; the overlord also rewrites the last try of a flaky
/// file, and the Automake driver one Automake judged otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct JobEnd<'a> {
    pub job: Option<JobId>,
    pub file: Cow<'a, str>,
    pub result: JobResult,
    pub reasons: Cow<'a, [String]>,
    /// The auditor's, written even when empty; others have none.
    pub notes: Option<Cow<'a, [String]>>,
    pub remarks: Cow<'a, [String]>,
    pub counts: Option<Counts>,
    /// The first failed test numbers.
    pub failed_tests: Cow<'a, [u64]>,
    pub duration: f64,
    /// The runner tries this file again: this is not its last word.
    pub will_retry: bool,
    /// It passed only on a retry (see `overlord::flaky`).
    pub flaky: bool,
    pub left_running: Cow<'a, [LeftRunning]>,
    pub automake: Option<Automake<'a>>,
    pub stamp: Option<f64>,
}

impl<'a> JobEnd<'a> {
    /// A job_end with nothing beyond its file, result and reasons.
    pub fn new(file: &'a str, result: JobResult, reasons: Cow<'a, [String]>) -> JobEnd<'a> {
        JobEnd {
            job: None,
            file: Cow::Borrowed(file),
            result,
            reasons,
            notes: None,
            remarks: Cow::Borrowed(&[]),
            counts: None,
            failed_tests: Cow::Borrowed(&[]),
            duration: 0.0,
            will_retry: false,
            flaky: false,
            left_running: Cow::Borrowed(&[]),
            automake: None,
            stamp: None,
        }
    }
}

/// The one writer of job_end records.
pub fn job_end(out: &mut Vec<u8>, end: &JobEnd) {
    start(out, "job_end", end.job);
    json::write_str_field(out, "file", &end.file);
    json::write_str_field(out, "result", end.result.as_str());
    json::write_str_list_field(out, "reasons", &end.reasons);
    if let Some(notes) = &end.notes {
        json::write_str_list_field(out, "notes", notes);
    }
    if !end.remarks.is_empty() {
        json::write_str_list_field(out, "remarks", &end.remarks);
    }
    if let Some(counts) = &end.counts {
        write_counts(out, counts);
    }
    if !end.failed_tests.is_empty() {
        json::write_key(out, "failed_tests");
        write_u64_list(out, &end.failed_tests);
    }
    json::write_f64_field(out, "duration", end.duration);
    json::write_bool_field(out, "will_retry", end.will_retry);
    if end.flaky {
        json::write_bool_field(out, "flaky", true);
    }
    if !end.left_running.is_empty() {
        json::write_object_list_field(out, "left_running", &end.left_running, |out, p| {
            json::write_u64_field(out, "pid", p.pid as u64);
            json::write_str_field(out, "name", &p.name);
            json::write_u64_field(out, "start", p.start);
        });
    }
    if let Some(automake) = &end.automake {
        json::write_str_field(out, "automake", &automake.word);
        json::write_key(out, "proctor");
        out.extend_from_slice(b"{\"result\":");
        json::write_str(out, automake.proctor.as_str());
        json::write_str_list_field(out, "reasons", &automake.proctor_reasons);
        out.push(b'}');
    }
    if let Some(stamp) = end.stamp {
        json::write_f64_field(out, "stamp", stamp);
    }
    out.push(b'}');
}

fn write_counts(out: &mut Vec<u8>, counts: &Counts) {
    json::write_key(out, "counts");
    out.extend_from_slice(b"{\"planned\":");
    match counts.planned {
        Some(n) => json::write_u64(out, n),
        None => out.extend_from_slice(b"null"),
    }
    json::write_u64_field(out, "run", counts.run);
    json::write_u64_field(out, "passed", counts.passed);
    json::write_u64_field(out, "failed", counts.failed);
    json::write_u64_field(out, "todo", counts.todo);
    json::write_u64_field(out, "todo_passed", counts.todo_passed);
    json::write_u64_field(out, "skipped", counts.skipped);
    out.push(b'}');
}

/// `[1,2,3]`.
fn write_u64_list(out: &mut Vec<u8>, numbers: &[u64]) {
    out.push(b'[');
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::write_u64(out, *n);
    }
    out.push(b']');
}

/// How many files a run_end counts, by their result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileTotals {
    pub total: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub cancelled: u64,
}

/// What a run's tests left running, as its run_end names it: ended with the
/// run, or (`ended` false) left running after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftWithRun<'a> {
    pub pid: libc::pid_t,
    pub name: &'a str,
    pub file: &'a str,
    pub ended: bool,
}

/// A run_end: the run's totals and how it ended. The overlord writes one a
/// run; `replay` one for several logs shown as one run (with `logs`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunEnd<'a> {
    pub passed: bool,
    pub files: FileTotals,
    pub tests_run: u64,
    pub tests_failed: u64,
    pub wall: f64,
    pub user: f64,
    pub system: f64,
    /// Tries that failed and were tried again.
    pub retried: u64,
    /// Files that passed only on a retry.
    pub flaky: &'a [String],
    /// The file that bailed out, and why.
    pub bailed: Option<(&'a str, &'a str)>,
    /// The signal (or key) that stopped the run.
    pub interrupted: Option<&'a str>,
    pub harness_error: Option<&'a str>,
    pub left_running: &'a [LeftWithRun<'a>],
    /// How many runs were added up into this one.
    pub logs: Option<u64>,
    pub stamp: Option<f64>,
}

pub fn run_end(out: &mut Vec<u8>, end: &RunEnd) {
    json::start_record(out, "run_end");
    json::write_str_field(out, "result", JobResult::of_run(end.passed).as_str());
    json::write_key(out, "files");
    out.extend_from_slice(b"{\"total\":");
    json::write_u64(out, end.files.total);
    json::write_u64_field(out, "passed", end.files.passed);
    json::write_u64_field(out, "failed", end.files.failed);
    json::write_u64_field(out, "skipped", end.files.skipped);
    json::write_u64_field(out, "cancelled", end.files.cancelled);
    out.push(b'}');
    json::write_key(out, "tests");
    out.extend_from_slice(b"{\"run\":");
    json::write_u64(out, end.tests_run);
    json::write_u64_field(out, "failed", end.tests_failed);
    out.push(b'}');
    json::write_f64_field(out, "wall", end.wall);
    json::write_f64_field(out, "user", end.user);
    json::write_f64_field(out, "system", end.system);
    json::write_u64_field(out, "retried", end.retried);
    json::write_str_list_field(out, "flaky", end.flaky);
    json::write_key(out, "bailed");
    match end.bailed {
        Some((file, reason)) => {
            out.extend_from_slice(b"{\"file\":");
            json::write_str(out, file);
            json::write_str_field(out, "reason", reason);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    json::write_key(out, "interrupted");
    match end.interrupted {
        Some(why) => json::write_str(out, why),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(e) = end.harness_error {
        json::write_str_field(out, "harness_error", e);
    }
    if !end.left_running.is_empty() {
        json::write_object_list_field(out, "left_running", end.left_running, |out, l| {
            json::write_u64_field(out, "pid", l.pid as u64);
            json::write_str_field(out, "name", l.name);
            json::write_str_field(out, "file", l.file);
            json::write_bool_field(out, "ended", l.ended);
        });
    }
    if let Some(logs) = end.logs {
        json::write_u64_field(out, "logs", logs);
    }
    if let Some(stamp) = end.stamp {
        json::write_f64_field(out, "stamp", stamp);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(end: &JobEnd) -> String {
        let mut out = Vec::new();
        job_end(&mut out, end);
        String::from_utf8(out).unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_auditors_job_end() {
        let reasons = strings(&["failed 1 of 3 tests: 2", "exited with status 1"]);
        let end = JobEnd {
            notes: Some(Cow::Owned(Vec::new())),
            counts: Some(Counts {
                planned: Some(3),
                run: 3,
                passed: 2,
                failed: 1,
                ..Counts::default()
            }),
            failed_tests: Cow::Owned(vec![2, 10]),
            duration: 0.001262,
            left_running: Cow::Owned(vec![LeftRunning {
                pid: 7,
                name: "sleep".into(),
                start: 99,
            }]),
            stamp: Some(1795757575.221908),
            ..JobEnd::new("t/fail.t", JobResult::Fail, Cow::Owned(reasons))
        };
        assert_eq!(
            written(&end),
            r#"{"type":"job_end","file":"t/fail.t","result":"fail","reasons":["failed 1 of 3 tests: 2","exited with status 1"],"notes":[],"counts":{"planned":3,"run":3,"passed":2,"failed":1,"todo":0,"todo_passed":0,"skipped":0},"failed_tests":[2,10],"duration":0.001262,"will_retry":false,"left_running":[{"pid":7,"name":"sleep","start":99}],"stamp":1795757575.221908}"#
        );
    }

    #[test]
    fn the_job_end_of_a_job_that_never_ran() {
        let reasons = strings(&["not run: an earlier test bailed out"]);
        let end = JobEnd {
            job: Some((2, 1)),
            ..JobEnd::new("bail/b.t", JobResult::Cancelled, Cow::Owned(reasons))
        };
        assert_eq!(
            written(&end),
            r#"{"type":"job_end","job":2,"try":1,"file":"bail/b.t","result":"cancelled","reasons":["not run: an earlier test bailed out"],"duration":0.000000,"will_retry":false}"#
        );
    }

    #[test]
    fn the_run_end() {
        let flaky = strings(&["t/f.t"]);
        let left = [LeftWithRun {
            pid: 9,
            name: "sleep",
            file: "t/h.t",
            ended: true,
        }];
        let mut end = RunEnd {
            passed: false,
            files: FileTotals {
                total: 8,
                passed: 3,
                failed: 4,
                skipped: 1,
                cancelled: 0,
            },
            tests_run: 12,
            tests_failed: 2,
            wall: 0.5,
            user: 0.25,
            system: 0.0,
            retried: 1,
            flaky: &flaky,
            bailed: Some(("bail/a.t", "broken db")),
            interrupted: None,
            harness_error: None,
            left_running: &left,
            logs: None,
            stamp: Some(1.5),
        };
        let mut out = Vec::new();
        run_end(&mut out, &end);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"type":"run_end","result":"fail","files":{"total":8,"passed":3,"failed":4,"skipped":1,"cancelled":0},"tests":{"run":12,"failed":2},"wall":0.500000,"user":0.250000,"system":0.000000,"retried":1,"flaky":["t/f.t"],"bailed":{"file":"bail/a.t","reason":"broken db"},"interrupted":null,"left_running":[{"pid":9,"name":"sleep","file":"t/h.t","ended":true}],"stamp":1.500000}"#
        );
        end = RunEnd {
            passed: true,
            flaky: &[],
            bailed: None,
            interrupted: Some("SIGINT"),
            harness_error: Some("the runner died"),
            left_running: &[],
            logs: Some(2),
            stamp: None,
            ..end
        };
        let mut out = Vec::new();
        run_end(&mut out, &end);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"type":"run_end","result":"pass","files":{"total":8,"passed":3,"failed":4,"skipped":1,"cancelled":0},"tests":{"run":12,"failed":2},"wall":0.500000,"user":0.250000,"system":0.000000,"retried":1,"flaky":[],"bailed":null,"interrupted":"SIGINT","harness_error":"the runner died","logs":2}"#
        );
    }

    #[test]
    fn a_job_end_judged_again() {
        let end = JobEnd {
            job: Some((1, 2)),
            notes: Some(Cow::Owned(strings(&["TODO passed: 2"]))),
            remarks: Cow::Owned(strings(&["a remark"])),
            counts: Some(Counts::default()),
            flaky: true,
            automake: Some(Automake {
                word: Cow::Borrowed("XFAIL"),
                proctor: JobResult::Fail,
                proctor_reasons: Cow::Owned(strings(&["no plan"])),
            }),
            stamp: Some(1.5),
            ..JobEnd::new("x.t", JobResult::Pass, Cow::Owned(Vec::new()))
        };
        assert_eq!(
            written(&end),
            r#"{"type":"job_end","job":1,"try":2,"file":"x.t","result":"pass","reasons":[],"notes":["TODO passed: 2"],"remarks":["a remark"],"counts":{"planned":null,"run":0,"passed":0,"failed":0,"todo":0,"todo_passed":0,"skipped":0},"duration":0.000000,"will_retry":false,"flaky":true,"automake":"XFAIL","proctor":{"result":"fail","reasons":["no plan"]},"stamp":1.500000}"#
        );
    }
}
