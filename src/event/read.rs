//! Typed readers of the records whose fields many parts read: job_end (the
//! overlord, every renderer, `failed`, `times`, prove's state), run_end and
//! job_exit. Each is a view of the record as [`super::Event`] decoded it, on
//! first use: it decodes nothing more, its fields are read as they are asked
//! for, and a field that is missing reads as its writers' "none" (0, false,
//! empty), as readers of older logs need.

use super::write::{
    self, Automake, Counts, FileTotals, JobId, LeftRunning, LeftWithRun, RunTotals,
};
use super::JobResult;
use serde_json::Value;
use std::borrow::Cow;

/// The strings of an array field, in order; anything else in it is passed over.
fn strings(list: &Value) -> impl Iterator<Item = &str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn owned_strings(list: &Value) -> Vec<String> {
    strings(list).map(String::from).collect()
}

fn number(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn seconds(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// A job_end.
#[derive(Clone, Copy)]
pub struct JobEnd<'a>(pub &'a Value);

impl<'a> JobEnd<'a> {
    pub fn file(self) -> Option<&'a str> {
        self.0["file"].as_str()
    }

    pub fn result(self) -> JobResult {
        JobResult::of(self.0["result"].as_str())
    }

    /// The runner tries the file again: this try is not its last word.
    pub fn will_retry(self) -> bool {
        self.0["will_retry"] == true
    }

    /// The overlord judged the file flaky (see `overlord::flaky`).
    pub fn flaky(self) -> bool {
        self.0["flaky"] == true
    }

    /// It failed preloaded and passed without (see `overlord::preload`).
    pub fn fails_preloaded(self) -> bool {
        self.0["fails_preloaded"] == true
    }

    pub fn reasons(self) -> impl Iterator<Item = &'a str> {
        strings(&self.0["reasons"])
    }

    pub fn notes(self) -> impl Iterator<Item = &'a str> {
        strings(&self.0["notes"])
    }

    /// What is worth showing under -v only (see `tap::Summary::remarks`).
    pub fn remarks(self) -> impl Iterator<Item = &'a str> {
        strings(&self.0["remarks"])
    }

    pub fn counts(self) -> Counts {
        let counts = &self.0["counts"];
        Counts {
            planned: counts["planned"].as_u64(),
            run: number(&counts["run"]),
            passed: number(&counts["passed"]),
            failed: number(&counts["failed"]),
            todo: number(&counts["todo"]),
            todo_passed: number(&counts["todo_passed"]),
            skipped: number(&counts["skipped"]),
        }
    }

    pub fn duration(self) -> f64 {
        seconds(&self.0["duration"])
    }

    pub fn stamp(self) -> Option<f64> {
        self.0["stamp"].as_f64()
    }

    /// What the test left running; an entry that does not name a process
    /// by its pid and start time is passed over.
    pub fn left_running(self) -> impl Iterator<Item = LeftRunning> + 'a {
        self.0["left_running"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(LeftRunning {
                    pid: p["pid"].as_i64()? as libc::pid_t,
                    name: p["name"].as_str().unwrap_or("").to_string(),
                    start: p["start"].as_u64()?,
                })
            })
    }

    /// The record, to be written again with some of its fields changed.
    pub fn record(self) -> write::JobEnd<'a> {
        let v = self.0;
        let job = match (v["job"].as_u64(), v["try"].as_u64()) {
            (Some(job), Some(tries)) => Some((job, tries as u32) as JobId),
            _ => None,
        };
        let automake = v["automake"].as_str().map(|word| Automake {
            word: Cow::Borrowed(word),
            proctor: JobResult::of(v["proctor"]["result"].as_str()),
            proctor_reasons: Cow::Owned(owned_strings(&v["proctor"]["reasons"])),
        });
        write::JobEnd {
            job,
            notes: v.get("notes").map(|n| Cow::Owned(owned_strings(n))),
            remarks: Cow::Owned(owned_strings(&v["remarks"])),
            counts: v.get("counts").map(|_| self.counts()),
            failed_tests: Cow::Owned(
                v["failed_tests"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .collect(),
            ),
            duration: self.duration(),
            will_retry: self.will_retry(),
            flaky: self.flaky(),
            fails_preloaded: self.fails_preloaded(),
            left_running: Cow::Owned(self.left_running().collect()),
            automake,
            stamp: self.stamp(),
            ..write::JobEnd::new(
                self.file().unwrap_or(""),
                self.result(),
                Cow::Owned(owned_strings(&v["reasons"])),
            )
        }
    }
}

/// How a test ended, as its job_exit says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit<'a> {
    Code(u64),
    Signal {
        number: u64,
        name: Option<&'a str>,
        core: bool,
    },
    /// The record says neither.
    Unknown,
}

/// A job_exit.
#[derive(Clone, Copy)]
pub struct JobExit<'a>(pub &'a Value);

impl<'a> JobExit<'a> {
    pub fn exit(self) -> Exit<'a> {
        let v = self.0;
        match (v["status"].as_u64(), v["signal"].as_u64()) {
            (Some(code), _) => Exit::Code(code),
            (_, Some(number)) => Exit::Signal {
                number,
                name: v["signal_name"].as_str(),
                core: v["core"] == true,
            },
            _ => Exit::Unknown,
        }
    }

    /// From the test's start to its exit.
    pub fn wall(self) -> f64 {
        seconds(&self.0["wall"])
    }

    /// From the test's start to its first output.
    pub fn startup(self) -> f64 {
        seconds(&self.0["startup"])
    }

    /// From the test's exit to the end of its audit.
    pub fn audit(self) -> f64 {
        seconds(&self.0["audit"])
    }

    pub fn user(self) -> f64 {
        seconds(&self.0["user"])
    }

    pub fn system(self) -> f64 {
        seconds(&self.0["system"])
    }
}

/// A run_end.
#[derive(Clone, Copy)]
pub struct RunEnd<'a>(pub &'a Value);

impl<'a> RunEnd<'a> {
    /// Pass or fail.
    pub fn result(self) -> JobResult {
        JobResult::of(self.0["result"].as_str())
    }

    pub fn files(self) -> FileTotals {
        let files = &self.0["files"];
        FileTotals {
            total: number(&files["total"]),
            passed: number(&files["passed"]),
            failed: number(&files["failed"]),
            skipped: number(&files["skipped"]),
            cancelled: number(&files["cancelled"]),
        }
    }

    pub fn tests_run(self) -> u64 {
        number(&self.0["tests"]["run"])
    }

    pub fn tests_failed(self) -> u64 {
        number(&self.0["tests"]["failed"])
    }

    pub fn wall(self) -> f64 {
        seconds(&self.0["wall"])
    }

    pub fn user(self) -> f64 {
        seconds(&self.0["user"])
    }

    pub fn system(self) -> f64 {
        seconds(&self.0["system"])
    }

    pub fn retried(self) -> u64 {
        number(&self.0["retried"])
    }

    /// The files that passed only on a retry.
    pub fn flaky(self) -> impl Iterator<Item = &'a str> {
        strings(&self.0["flaky"])
    }

    /// What it adds up.
    pub fn totals(self) -> RunTotals {
        RunTotals {
            files: self.files(),
            tests_run: self.tests_run(),
            tests_failed: self.tests_failed(),
            user: self.user(),
            system: self.system(),
            retried: self.retried(),
            flaky: self.flaky().map(String::from).collect(),
            bailed: self
                .bailed()
                .map(|(file, reason)| (file.unwrap_or("").to_string(), reason.to_string())),
        }
    }

    /// The file that bailed out (when the record names it), and why.
    pub fn bailed(self) -> Option<(Option<&'a str>, &'a str)> {
        let bail = self.0.get("bailed").filter(|b| !b.is_null())?;
        Some((bail["file"].as_str(), bail["reason"].as_str().unwrap_or("")))
    }

    /// What stopped the run: a signal's name, or [`super::STOPPED_BY_KEY`].
    pub fn interrupted(self) -> Option<&'a str> {
        self.0["interrupted"].as_str()
    }

    /// What went wrong with the harness itself (the runner lost, the log
    /// unwritable), which failed the run whatever its tests did.
    pub fn harness_error(self) -> Option<&'a str> {
        self.0["harness_error"].as_str()
    }

    /// What the tests left running; one not named by its pid is passed over,
    /// and one not said to be left running was ended with the run.
    pub fn left_running(self) -> impl Iterator<Item = LeftWithRun<'a>> {
        self.0["left_running"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|left| {
                Some(LeftWithRun {
                    pid: left["pid"].as_i64()? as libc::pid_t,
                    name: left["name"].as_str().unwrap_or("?"),
                    file: left["file"].as_str().unwrap_or("?"),
                    ended: left["ended"] != false,
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each producer's job_end reads back into the record it was written from.
    #[test]
    fn a_job_end_reads_back_as_written() {
        let records = [
            r#"{"type":"job_end","job":1,"try":1,"file":"t/fail.t","result":"fail","reasons":["failed 1 of 3 tests: 2","exited with status 1"],"notes":[],"counts":{"planned":3,"run":3,"passed":2,"failed":1,"todo":0,"todo_passed":0,"skipped":0},"failed_tests":[2],"duration":0.001262,"will_retry":false,"stamp":1795757575.221908}"#,
            r#"{"type":"job_end","job":2,"try":1,"file":"bail/b.t","result":"cancelled","reasons":["not run: an earlier test bailed out"],"duration":0.000000,"will_retry":false}"#,
            r#"{"type":"job_end","job":3,"try":2,"file":"t/x.t","result":"pass","reasons":[],"notes":["TODO passed: 2"],"remarks":["r"],"counts":{"planned":null,"run":1,"passed":1,"failed":0,"todo":1,"todo_passed":1,"skipped":0},"duration":0.500000,"will_retry":false,"flaky":true,"left_running":[{"pid":7,"name":"sleep","start":99}],"automake":"XFAIL","proctor":{"result":"fail","reasons":["no plan"]},"stamp":1.500000}"#,
        ];
        for record in records {
            let v: Value = serde_json::from_str(record).unwrap();
            let mut out = Vec::new();
            write::job_end(&mut out, &JobEnd(&v).record());
            assert_eq!(String::from_utf8(out).unwrap(), record);
        }
    }

    #[test]
    fn a_job_exit_reads_back_as_written() {
        for (exit, read) in [
            (crate::tap::Exit::Code(3), Exit::Code(3)),
            (
                crate::tap::Exit::Signal {
                    signal: 9,
                    core: true,
                },
                Exit::Signal {
                    number: 9,
                    name: Some("SIGKILL"),
                    core: true,
                },
            ),
        ] {
            let written = write::JobExit {
                exit: &exit,
                wall: 1.5,
                startup: Some(0.25),
                audit: Some(0.125),
                user: 0.5,
                system: 0.0625,
                max_rss_kib: 10,
                stamp: 7.0,
            };
            let mut out = Vec::new();
            write::job_exit(&mut out, &written);
            let v: Value = serde_json::from_slice(&out).unwrap();
            let job_exit = JobExit(&v);
            assert_eq!(job_exit.exit(), read);
            assert_eq!(
                (job_exit.wall(), job_exit.startup(), job_exit.audit()),
                (1.5, 0.25, 0.125)
            );
            assert_eq!((job_exit.user(), job_exit.system()), (0.5, 0.0625));
        }
        let v: Value = serde_json::from_str(r#"{"type":"job_exit"}"#).unwrap();
        assert_eq!(JobExit(&v).exit(), Exit::Unknown);
        assert_eq!(JobExit(&v).startup(), 0.0);
    }

    #[test]
    fn a_run_end_reads_back_as_written() {
        let left = [LeftWithRun {
            pid: 9,
            name: "sleep",
            file: "t/h.t",
            ended: false,
        }];
        let totals = RunTotals {
            files: FileTotals {
                total: 5,
                passed: 1,
                failed: 2,
                skipped: 1,
                cancelled: 1,
            },
            tests_run: 7,
            tests_failed: 3,
            user: 0.25,
            system: 0.125,
            retried: 2,
            flaky: vec!["t/f.t".to_string()],
            bailed: Some(("t/b.t".to_string(), "db down".to_string())),
        };
        let written = write::RunEnd {
            passed: true,
            totals: &totals,
            wall: 1.5,
            interrupted: Some("SIGTERM"),
            harness_error: Some("runner lost"),
            left_running: &left,
            logs: None,
            stamp: None,
        };
        let mut out = Vec::new();
        write::run_end(&mut out, &written);
        let v: Value = serde_json::from_slice(&out).unwrap();
        let end = RunEnd(&v);
        assert_eq!(end.result(), JobResult::Pass);
        assert_eq!(end.totals(), totals);
        assert_eq!(end.wall(), 1.5);
        assert_eq!(end.interrupted(), Some("SIGTERM"));
        assert_eq!(end.harness_error(), Some("runner lost"));
        assert_eq!(end.left_running().collect::<Vec<_>>(), left);
    }

    #[test]
    fn a_run_end_without_its_fields_reads_as_nothing_happened() {
        let v: Value = serde_json::from_str(r#"{"type":"run_end","bailed":null}"#).unwrap();
        let end = RunEnd(&v);
        assert_eq!(end.result(), JobResult::Fail);
        assert_eq!(end.files(), FileTotals::default());
        assert_eq!((end.bailed(), end.interrupted()), (None, None));
        assert_eq!(end.left_running().count(), 0);
    }

    #[test]
    fn a_job_end_without_its_fields_reads_as_a_failure_of_nothing() {
        let v: Value = serde_json::from_str(r#"{"type":"job_end"}"#).unwrap();
        let end = JobEnd(&v);
        assert_eq!(end.result(), JobResult::Fail);
        assert_eq!(
            (end.file(), end.will_retry(), end.flaky()),
            (None, false, false)
        );
        assert_eq!(end.reasons().count(), 0);
        assert_eq!(end.counts(), Counts::default());
        assert_eq!(end.duration(), 0.0);
    }
}
