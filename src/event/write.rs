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
use crate::sys::ExitInfo;
use crate::tap::{signal_name, Exit, Line};
use std::borrow::Cow;

/// One job's try, as the records name it.
pub type JobId = (u64, u32);

/// Starts a job's record: its type, then the job and try when they are known
/// (the auditor leaves them to the overlord, see [`super::splice_job`]).
fn start(out: &mut Vec<u8>, kind: &str, job: Option<JobId>) {
    json::start_record(out, kind);
    if let Some(job) = job {
        job_fields(out, job);
    }
}

/// `,"job":N,"try":M`, which follows the type of a job's record (the
/// overlord puts it into the auditor's, see [`super::splice_job`]).
pub fn job_fields(out: &mut Vec<u8>, (job, tries): JobId) {
    json::write_u64_field(out, "job", job);
    json::write_u64_field(out, "try", tries as u64);
}

// The job log: what an auditor writes of its job, without the job and try.

/// A line of the test's stdout, as the TAP parser classified it: its type and
/// own fields are the parser's (see the table in `tap`'s documentation), then
/// come the stream, the stamp and the line as it was.
#[inline]
pub fn tap_line(
    out: &mut Vec<u8>,
    line: &Line,
    stream: &str,
    stamp: Option<&json::Stamp>,
    raw: &[u8],
    dropped: u64,
) {
    json::start_record(out, line.kind.event_type());
    line.write_fields(out);
    write_line_fields(out, stream, stamp, raw, dropped);
}

/// A line of output no parser read (stderr).
#[inline]
pub fn output(
    out: &mut Vec<u8>,
    stream: &str,
    stamp: Option<&json::Stamp>,
    raw: &[u8],
    dropped: u64,
) {
    json::start_record(out, "output");
    write_line_fields(out, stream, stamp, raw, dropped);
}

/// Where and when a line came, and the line as it was (`truncated`: how many
/// bytes of it were dropped past the cap). Closes the record. These records
/// are most of a log, so what is usual is left out: the stream when it is
/// stdout, and the stamp when it is the previous line record's of the job
/// (the caller's to say, as `None`).
#[inline]
fn write_line_fields(
    out: &mut Vec<u8>,
    stream: &str,
    stamp: Option<&json::Stamp>,
    raw: &[u8],
    dropped: u64,
) {
    if stream != super::derive::DEFAULT_STREAM {
        json::write_str_field(out, "stream", stream);
    }
    if let Some(stamp) = stamp {
        stamp.write_field(out);
    }
    json::write_bytes_field(out, "line", raw);
    if dropped > 0 {
        json::write_u64_field(out, "truncated", dropped);
    }
    out.push(b'}');
}

pub fn parse_error(out: &mut Vec<u8>, message: &str, stamp: f64) {
    json::start_record(out, "parse_error");
    json::write_str_field(out, "message", message);
    json::write_f64_field(out, "stamp", stamp);
    out.push(b'}');
}

/// The test is started (`pid` 0: it never was, see `auditor`).
pub fn job_start(out: &mut Vec<u8>, file: &str, pid: libc::pid_t, command: &[String], stamp: f64) {
    json::start_record(out, "job_start");
    json::write_str_field(out, "file", file);
    json::write_u64_field(out, "pid", pid as u64);
    json::write_str_list_field(out, "command", command);
    json::write_f64_field(out, "stamp", stamp);
    out.push(b'}');
}

/// The modules a preloaded test loaded, in the order first required, and
/// those of them from the project (`--preload auto`).
pub fn modules(out: &mut Vec<u8>, modules: &[String], project: &[String]) {
    json::start_record(out, "modules");
    json::write_str_list_field(out, "modules", modules);
    json::write_str_list_field(out, "project", project);
    out.push(b'}');
}

/// The test has exited (it is not reaped yet): the job is now being audited.
pub fn test_exit(out: &mut Vec<u8>, stamp: f64) {
    json::start_record(out, "test_exit");
    json::write_f64_field(out, "stamp", stamp);
    out.push(b'}');
}

/// How the test ended, and what it cost.
pub struct JobExit<'a> {
    pub exit: &'a Exit,
    /// From its start to its exit (or to the end of the audit).
    pub wall: f64,
    /// From its start to its first output.
    pub startup: Option<f64>,
    /// From its exit to the end of the audit.
    pub audit: Option<f64>,
    pub user: f64,
    pub system: f64,
    pub max_rss_kib: u64,
    pub stamp: f64,
}

pub fn job_exit(out: &mut Vec<u8>, exit: &JobExit) {
    json::start_record(out, "job_exit");
    match exit.exit {
        Exit::Code(code) => json::write_u64_field(out, "status", *code as u64),
        Exit::Signal { signal, core } => {
            json::write_u64_field(out, "signal", *signal as u64);
            json::write_str_field(out, "signal_name", signal_name(*signal));
            json::write_bool_field(out, "core", *core);
        }
    }
    json::write_f64_field(out, "wall", exit.wall);
    if let Some(s) = exit.startup {
        json::write_f64_field(out, "startup", s);
    }
    if let Some(a) = exit.audit {
        json::write_f64_field(out, "audit", a);
    }
    json::write_f64_field(out, "user", exit.user);
    json::write_f64_field(out, "system", exit.system);
    json::write_u64_field(out, "max_rss_kib", exit.max_rss_kib);
    json::write_f64_field(out, "stamp", exit.stamp);
    out.push(b'}');
}

// The runner's log: each job's way through the queue, and the stages.

pub fn job_queued(out: &mut Vec<u8>, job: JobId, file: &str) {
    start(out, "job_queued", Some(job));
    json::write_str_field(out, "file", file);
    out.push(b'}');
}

/// A job's auditor is running: where its log is, and what it has of its own.
pub struct JobLaunch<'a> {
    pub job: JobId,
    pub file: &'a str,
    /// The auditor's.
    pub pid: libc::pid_t,
    /// Its job log, unless it is `dir`'s `events.ljsonl`.
    pub log: Option<&'a str>,
    /// The log is a segment of a standing auditor's log.
    pub segment: bool,
    /// The job's own directory (a job a persistent runner's stage started).
    pub dir: Option<&'a str>,
    /// The test's TMPDIR.
    pub tmp: Option<&'a str>,
    /// The test runs in a preloaded perl.
    pub staged: bool,
    pub stamp: f64,
}

pub fn job_launch(out: &mut Vec<u8>, launch: &JobLaunch) {
    start(out, "job_launch", Some(launch.job));
    json::write_str_field(out, "file", launch.file);
    json::write_u64_field(out, "pid", launch.pid as u64);
    if let Some(log) = launch.log {
        json::write_str_field(out, "log", log);
    }
    if launch.segment {
        json::write_bool_field(out, "segment", true);
    }
    if let Some(dir) = launch.dir {
        json::write_str_field(out, "dir", dir);
    }
    if let Some(tmp) = launch.tmp {
        json::write_str_field(out, "tmp", tmp);
    }
    if launch.staged {
        json::write_bool_field(out, "staged", true);
    }
    json::write_f64_field(out, "stamp", launch.stamp);
    out.push(b'}');
}

/// The job goes back in the queue before its test started.
pub fn job_requeued(out: &mut Vec<u8>, job: JobId, reason: &str) {
    start(out, "job_requeued", Some(job));
    json::write_str_field(out, "reason", reason);
    out.push(b'}');
}

/// The job's auditor has ended: how, when it is known.
pub fn job_done(out: &mut Vec<u8>, job: JobId, auditor: Option<&ExitInfo>) {
    start(out, "job_done", Some(job));
    match auditor {
        Some(ExitInfo::Code(c)) => json::write_u64_field(out, "auditor_status", *c as u64),
        Some(ExitInfo::Signal { signal, .. }) => {
            json::write_u64_field(out, "auditor_signal", *signal as u64)
        }
        None => json::write_str_field(out, "auditor_status", "unknown"),
    }
    out.push(b'}');
}

/// The runner starts no more jobs, and stops those running.
pub fn runner_stop(out: &mut Vec<u8>, reason: &str) {
    json::start_record(out, "runner_stop");
    json::write_str_field(out, "reason", reason);
    out.push(b'}');
}

/// A stage is ready to start jobs. A standing auditor's own perl names its
/// slot; the runner's stage does not.
pub fn stage_ready(out: &mut Vec<u8>, stage: &str, pid: libc::pid_t, slot: Option<usize>) {
    json::start_record(out, "stage_ready");
    json::write_str_field(out, "stage", stage);
    json::write_u64_field(out, "pid", pid as u64);
    if let Some(slot) = slot {
        json::write_u64_field(out, "slot", slot as u64);
    }
    out.push(b'}');
}

/// A stage is gone. A standing auditor's own perl names its pid and slot;
/// the runner's stage neither.
pub fn stage_exit(
    out: &mut Vec<u8>,
    stage: &str,
    own: Option<(libc::pid_t, usize)>,
    reason: Option<&str>,
) {
    json::start_record(out, "stage_exit");
    json::write_str_field(out, "stage", stage);
    if let Some((pid, slot)) = own {
        json::write_u64_field(out, "pid", pid as u64);
        json::write_u64_field(out, "slot", slot as u64);
    }
    if let Some(reason) = reason {
        json::write_str_field(out, "reason", reason);
    }
    out.push(b'}');
}

// The event log: the overlord's own records, beside those it carries through.

/// What the run is: the overlord's first record.
pub struct RunStart<'a> {
    pub version: &'a str,
    pub id: &'a str,
    pub cwd: &'a str,
    /// The command line proctor was started with, its own name first: what
    /// a report shows, to run the same again.
    pub argv: &'a [String],
    /// How many jobs it has to run.
    pub files: u64,
    pub slots: u64,
    pub run_dir: &'a str,
}

pub fn run_start(out: &mut Vec<u8>, run: &RunStart, stamp: f64) {
    json::start_record(out, "run_start");
    json::write_str_field(out, "version", run.version);
    json::write_str_field(out, "id", run.id);
    json::write_str_field(out, "cwd", run.cwd);
    json::write_str_list_field(out, "argv", run.argv);
    json::write_u64_field(out, "files", run.files);
    json::write_u64_field(out, "slots", run.slots);
    json::write_str_field(out, "run_dir", run.run_dir);
    json::write_f64_field(out, "stamp", stamp);
    out.push(b'}');
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
    /// It failed preloaded and passed without (see `overlord::preload`).
    pub fails_preloaded: bool,
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
            fails_preloaded: false,
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
    if end.fails_preloaded {
        json::write_bool_field(out, "fails_preloaded", true);
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

/// What a run_end adds up over the run's files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunTotals {
    pub files: FileTotals,
    pub tests_run: u64,
    pub tests_failed: u64,
    /// The tests' CPU seconds.
    pub user: f64,
    pub system: f64,
    /// Tries that failed and were tried again.
    pub retried: u64,
    /// Files that passed only on a retry.
    pub flaky: Vec<String>,
    /// The first file that bailed out, and why.
    pub bailed: Option<(String, String)>,
}

impl RunTotals {
    /// Adds another run's totals to these (its bail-out counts only when
    /// none came before).
    pub fn add(&mut self, other: RunTotals) {
        self.files.total += other.files.total;
        self.files.passed += other.files.passed;
        self.files.failed += other.files.failed;
        self.files.skipped += other.files.skipped;
        self.files.cancelled += other.files.cancelled;
        self.tests_run += other.tests_run;
        self.tests_failed += other.tests_failed;
        self.user += other.user;
        self.system += other.system;
        self.retried += other.retried;
        self.flaky.extend(other.flaky);
        if self.bailed.is_none() {
            self.bailed = other.bailed;
        }
    }
}

/// A run_end: the run's totals and how it ended. The overlord writes one a
/// run; `replay` one for several logs shown as one run (with `logs`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunEnd<'a> {
    pub passed: bool,
    pub totals: &'a RunTotals,
    pub wall: f64,
    /// The signal (or key) that stopped the run.
    pub interrupted: Option<&'a str>,
    pub harness_error: Option<&'a str>,
    pub left_running: &'a [LeftWithRun<'a>],
    /// How many runs were added up into this one.
    pub logs: Option<u64>,
    pub stamp: Option<f64>,
}

pub fn run_end(out: &mut Vec<u8>, end: &RunEnd) {
    let totals = end.totals;
    json::start_record(out, "run_end");
    json::write_str_field(out, "result", JobResult::of_run(end.passed).as_str());
    json::write_key(out, "files");
    out.extend_from_slice(b"{\"total\":");
    json::write_u64(out, totals.files.total);
    json::write_u64_field(out, "passed", totals.files.passed);
    json::write_u64_field(out, "failed", totals.files.failed);
    json::write_u64_field(out, "skipped", totals.files.skipped);
    json::write_u64_field(out, "cancelled", totals.files.cancelled);
    out.push(b'}');
    json::write_key(out, "tests");
    out.extend_from_slice(b"{\"run\":");
    json::write_u64(out, totals.tests_run);
    json::write_u64_field(out, "failed", totals.tests_failed);
    out.push(b'}');
    json::write_f64_field(out, "wall", end.wall);
    json::write_f64_field(out, "user", totals.user);
    json::write_f64_field(out, "system", totals.system);
    json::write_u64_field(out, "retried", totals.retried);
    json::write_str_list_field(out, "flaky", &totals.flaky);
    json::write_key(out, "bailed");
    match &totals.bailed {
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

    /// Each writer's record, exactly.
    fn check(write: impl FnOnce(&mut Vec<u8>), expected: &str) {
        let mut out = Vec::new();
        write(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        serde_json::from_str::<serde_json::Value>(expected).expect("a record is JSON");
    }

    #[test]
    fn the_job_log_records() {
        let stamp = json::Stamp::new(2.5);
        let mut parser = crate::tap::Parser::new();
        let raw = b"not ok 2 - sums";
        check(
            |out| tap_line(out, &parser.line(raw), "stdout", Some(&stamp), raw, 0),
            r#"{"type":"assert","ok":false,"stamp":2.500000,"line":"not ok 2 - sums"}"#,
        );
        let raw = b"ok - more # TODO";
        check(
            |out| tap_line(out, &parser.line(raw), "stdout", None, raw, 0),
            r#"{"type":"assert","number":3,"line":"ok - more # TODO"}"#,
        );
        check(
            |out| output(out, "stderr", Some(&stamp), b"oo\xffps", 10),
            r#"{"type":"output","stream":"stderr","stamp":2.500000,"line":"oo�ps","line_hex":"6f6fff7073","truncated":10}"#,
        );
        check(
            |out| parse_error(out, "test 4 is outside the plan 1..3", 1.0),
            r#"{"type":"parse_error","message":"test 4 is outside the plan 1..3","stamp":1.000000}"#,
        );
        check(
            |out| job_start(out, "t/a.t", 42, &["./t/a.t".to_string()], 1.0),
            r#"{"type":"job_start","file":"t/a.t","pid":42,"command":["./t/a.t"],"stamp":1.000000}"#,
        );
        check(
            |out| test_exit(out, 1.0),
            r#"{"type":"test_exit","stamp":1.000000}"#,
        );
        let exited = JobExit {
            exit: &Exit::Code(1),
            wall: 0.5,
            startup: Some(0.25),
            audit: Some(0.125),
            user: 0.0,
            system: 0.0,
            max_rss_kib: 1556,
            stamp: 1.0,
        };
        check(
            |out| job_exit(out, &exited),
            r#"{"type":"job_exit","status":1,"wall":0.500000,"startup":0.250000,"audit":0.125000,"user":0.000000,"system":0.000000,"max_rss_kib":1556,"stamp":1.000000}"#,
        );
        let killed = JobExit {
            exit: &Exit::Signal {
                signal: 9,
                core: false,
            },
            startup: None,
            audit: None,
            ..exited
        };
        check(
            |out| job_exit(out, &killed),
            r#"{"type":"job_exit","signal":9,"signal_name":"SIGKILL","core":false,"wall":0.500000,"user":0.000000,"system":0.000000,"max_rss_kib":1556,"stamp":1.000000}"#,
        );
    }

    #[test]
    fn the_runners_records() {
        check(
            |out| job_queued(out, (1, 2), "t/a.t"),
            r#"{"type":"job_queued","job":1,"try":2,"file":"t/a.t"}"#,
        );
        let launched = JobLaunch {
            job: (1, 1),
            file: "t/a.t",
            pid: 7,
            log: Some("/run/auditor-6.ljsonl"),
            segment: true,
            dir: None,
            tmp: Some("/s/tmp-0"),
            staged: true,
            stamp: 1.0,
        };
        check(
            |out| job_launch(out, &launched),
            r#"{"type":"job_launch","job":1,"try":1,"file":"t/a.t","pid":7,"log":"/run/auditor-6.ljsonl","segment":true,"tmp":"/s/tmp-0","staged":true,"stamp":1.000000}"#,
        );
        let staged = JobLaunch {
            log: None,
            segment: false,
            dir: Some("/run/jobs/1-1"),
            tmp: None,
            ..launched
        };
        check(
            |out| job_launch(out, &staged),
            r#"{"type":"job_launch","job":1,"try":1,"file":"t/a.t","pid":7,"dir":"/run/jobs/1-1","staged":true,"stamp":1.000000}"#,
        );
        check(
            |out| job_requeued(out, (3, 1), "not run yet: the run was paused"),
            r#"{"type":"job_requeued","job":3,"try":1,"reason":"not run yet: the run was paused"}"#,
        );
        check(
            |out| job_done(out, (1, 1), Some(&ExitInfo::Code(0))),
            r#"{"type":"job_done","job":1,"try":1,"auditor_status":0}"#,
        );
        let killed = ExitInfo::Signal {
            signal: 9,
            core: false,
        };
        check(
            |out| job_done(out, (1, 1), Some(&killed)),
            r#"{"type":"job_done","job":1,"try":1,"auditor_signal":9}"#,
        );
        check(
            |out| job_done(out, (1, 1), None),
            r#"{"type":"job_done","job":1,"try":1,"auditor_status":"unknown"}"#,
        );
        check(
            |out| runner_stop(out, "bail"),
            r#"{"type":"runner_stop","reason":"bail"}"#,
        );
        check(
            |out| stage_ready(out, "perl", 5, None),
            r#"{"type":"stage_ready","stage":"perl","pid":5}"#,
        );
        check(
            |out| stage_ready(out, "perl", 5, Some(0)),
            r#"{"type":"stage_ready","stage":"perl","pid":5,"slot":0}"#,
        );
        check(
            |out| stage_exit(out, "perl", None, None),
            r#"{"type":"stage_exit","stage":"perl"}"#,
        );
        check(
            |out| stage_exit(out, "perl", Some((5, 1)), Some("it exited")),
            r#"{"type":"stage_exit","stage":"perl","pid":5,"slot":1,"reason":"it exited"}"#,
        );
    }

    #[test]
    fn the_run_start() {
        let run = RunStart {
            version: "0.1.0",
            id: "20261127-000000-1",
            cwd: "/tmp/gold",
            argv: &["proctor".to_string(), "test".to_string(), "-j1".to_string()],
            files: 5,
            slots: 1,
            run_dir: "/tmp/run",
        };
        check(
            |out| run_start(out, &run, 1.5),
            r#"{"type":"run_start","version":"0.1.0","id":"20261127-000000-1","cwd":"/tmp/gold","argv":["proctor","test","-j1"],"files":5,"slots":1,"run_dir":"/tmp/run","stamp":1.500000}"#,
        );
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
        let left = [LeftWithRun {
            pid: 9,
            name: "sleep",
            file: "t/h.t",
            ended: true,
        }];
        let totals = RunTotals {
            files: FileTotals {
                total: 8,
                passed: 3,
                failed: 4,
                skipped: 1,
                cancelled: 0,
            },
            tests_run: 12,
            tests_failed: 2,
            user: 0.25,
            system: 0.0,
            retried: 1,
            flaky: strings(&["t/f.t"]),
            bailed: Some(("bail/a.t".into(), "broken db".into())),
        };
        let end = RunEnd {
            passed: false,
            totals: &totals,
            wall: 0.5,
            interrupted: None,
            harness_error: None,
            left_running: &left,
            logs: None,
            stamp: Some(1.5),
        };
        check(
            |out| run_end(out, &end),
            r#"{"type":"run_end","result":"fail","files":{"total":8,"passed":3,"failed":4,"skipped":1,"cancelled":0},"tests":{"run":12,"failed":2},"wall":0.500000,"user":0.250000,"system":0.000000,"retried":1,"flaky":["t/f.t"],"bailed":{"file":"bail/a.t","reason":"broken db"},"interrupted":null,"left_running":[{"pid":9,"name":"sleep","file":"t/h.t","ended":true}],"stamp":1.500000}"#,
        );
        let totals = RunTotals {
            flaky: Vec::new(),
            bailed: None,
            ..totals
        };
        let end = RunEnd {
            passed: true,
            totals: &totals,
            interrupted: Some("SIGINT"),
            harness_error: Some("the runner died"),
            left_running: &[],
            logs: Some(2),
            stamp: None,
            ..end
        };
        check(
            |out| run_end(out, &end),
            r#"{"type":"run_end","result":"pass","files":{"total":8,"passed":3,"failed":4,"skipped":1,"cancelled":0},"tests":{"run":12,"failed":2},"wall":0.500000,"user":0.250000,"system":0.000000,"retried":1,"flaky":[],"bailed":null,"interrupted":"SIGINT","harness_error":"the runner died","logs":2}"#,
        );
    }

    #[test]
    fn runs_add_up_and_the_first_bail_out_stays() {
        let run = |n: u64, bailed: &str| RunTotals {
            files: FileTotals {
                total: n,
                passed: n,
                failed: n,
                skipped: n,
                cancelled: n,
            },
            tests_run: n,
            tests_failed: n,
            user: n as f64,
            system: n as f64,
            retried: n,
            flaky: vec![bailed.to_string()],
            bailed: Some((bailed.to_string(), "why".to_string())),
        };
        let mut sum = RunTotals::default();
        sum.add(run(1, "a.t"));
        sum.add(run(2, "b.t"));
        let mut three = run(3, "a.t");
        three.flaky = strings(&["a.t", "b.t"]);
        assert_eq!(sum, three);
    }

    #[test]
    fn a_job_end_judged_again() {
        let end = JobEnd {
            job: Some((1, 2)),
            notes: Some(Cow::Owned(strings(&["TODO passed: 2"]))),
            remarks: Cow::Owned(strings(&["a remark"])),
            counts: Some(Counts::default()),
            flaky: true,
            fails_preloaded: true,
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
            r#"{"type":"job_end","job":1,"try":2,"file":"x.t","result":"pass","reasons":[],"notes":["TODO passed: 2"],"remarks":["a remark"],"counts":{"planned":null,"run":0,"passed":0,"failed":0,"todo":0,"todo_passed":0,"skipped":0},"duration":0.000000,"will_retry":false,"flaky":true,"fails_preloaded":true,"automake":"XFAIL","proctor":{"result":"fail","reasons":["no plan"]},"stamp":1.500000}"#
        );
    }
}
