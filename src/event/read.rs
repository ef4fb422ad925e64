//! Typed readers of the records whose fields many parts read: job_end (the
//! overlord, every renderer, `failed`, `times`, prove's state), run_end and
//! job_exit. Each is a view of the record as decoded by [`super::Event`]: it
//! copies nothing, and a field that is missing reads as its writers' "none"
//! (0, false, empty), as readers of older logs need.

use super::write::{self, Automake, Counts, JobId, LeftRunning};
use super::JobResult;
use serde_json::Value;
use std::borrow::Cow;

/// The strings of an array field, in order; anything else in it is passed over.
pub fn strings(list: &Value) -> impl Iterator<Item = &str> {
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
