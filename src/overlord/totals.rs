//! The run's aggregate counts, kept from job_end and job_exit events, and the
//! run_end record written from them.

use crate::event::{Event, JobResult};
use crate::json;

#[derive(Default)]
pub struct Totals {
    pub files: u64,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub cancelled: u64,
    pub tests_run: u64,
    pub tests_failed: u64,
    pub user: f64,
    pub system: f64,
    pub bailed: Option<(String, String)>,
    /// Tries that failed and were tried again.
    pub retried: u64,
    /// Files that passed only on a retry (failed, under `--flaky-fails`).
    pub flaky: Vec<String>,
    /// Each file's final result and duration, for the project's state.
    pub results: Vec<FileResult>,
}

/// How one file ended, for the durations and results kept between runs.
#[derive(Clone, Debug, PartialEq)]
pub struct FileResult {
    pub file: String,
    pub result: String,
    pub duration: f64,
}

impl Totals {
    pub fn job_end(&mut self, event: &mut Event) {
        let end = event.job_end();
        if end.will_retry() {
            // Not the file's last word: its next try will say.
            self.retried += 1;
            return;
        }
        let file = end.file().unwrap_or("").to_string();
        let result = end.result();
        // Judged already (see `flaky`): whether it fails is in its result.
        if end.flaky() {
            self.flaky.push(file.clone());
        }
        if result != JobResult::Cancelled {
            self.results.push(FileResult {
                file,
                result: result.as_str().to_string(),
                duration: end.duration(),
            });
        }
        self.files += 1;
        match result {
            JobResult::Pass => self.passed += 1,
            JobResult::Skip => self.skipped += 1,
            JobResult::Cancelled => self.cancelled += 1,
            JobResult::Fail => self.failed += 1,
        }
        let counts = end.counts();
        self.tests_run += counts.run;
        self.tests_failed += counts.failed;
    }

    pub fn job_exit(&mut self, event: &mut Event) {
        let v = event.value();
        self.user += v["user"].as_f64().unwrap_or(0.0);
        self.system += v["system"].as_f64().unwrap_or(0.0);
    }

    pub fn bail(&mut self, file: &str, event: &mut Event) {
        if self.bailed.is_none() {
            let reason = event.str("reason").unwrap_or("").to_string();
            self.bailed = Some((file.to_string(), reason));
        }
    }

    pub fn passed_run(&self, interrupted: bool) -> bool {
        self.files > 0
            && self.failed == 0
            && self.cancelled == 0
            && self.bailed.is_none()
            && !interrupted
    }

    pub fn run_end_record(
        &self,
        wall: f64,
        interrupted: Option<&str>,
        harness_error: Option<&str>,
        leftovers: &[super::leftovers::Left],
        ended: bool,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        json::start_record(&mut out, "run_end");
        let passed = self.passed_run(interrupted.is_some()) && harness_error.is_none();
        json::write_str_field(&mut out, "result", if passed { "pass" } else { "fail" });
        json::write_key(&mut out, "files");
        out.extend_from_slice(b"{\"total\":");
        out.extend_from_slice(self.files.to_string().as_bytes());
        json::write_u64_field(&mut out, "passed", self.passed);
        json::write_u64_field(&mut out, "failed", self.failed);
        json::write_u64_field(&mut out, "skipped", self.skipped);
        json::write_u64_field(&mut out, "cancelled", self.cancelled);
        out.push(b'}');
        json::write_key(&mut out, "tests");
        out.extend_from_slice(b"{\"run\":");
        out.extend_from_slice(self.tests_run.to_string().as_bytes());
        json::write_u64_field(&mut out, "failed", self.tests_failed);
        out.push(b'}');
        json::write_f64_field(&mut out, "wall", wall);
        json::write_f64_field(&mut out, "user", self.user);
        json::write_f64_field(&mut out, "system", self.system);
        json::write_u64_field(&mut out, "retried", self.retried);
        json::write_key(&mut out, "flaky");
        out.push(b'[');
        for (i, f) in self.flaky.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_str(&mut out, f);
        }
        out.push(b']');
        json::write_key(&mut out, "bailed");
        match &self.bailed {
            Some((file, reason)) => {
                out.extend_from_slice(b"{\"file\":");
                json::write_str(&mut out, file);
                json::write_str_field(&mut out, "reason", reason);
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        json::write_key(&mut out, "interrupted");
        match interrupted {
            Some(why) => json::write_str(&mut out, why),
            None => out.extend_from_slice(b"null"),
        }
        if let Some(e) = harness_error {
            json::write_str_field(&mut out, "harness_error", e);
        }
        if !leftovers.is_empty() {
            super::leftovers::write_field(&mut out, leftovers, ended);
        }
        json::write_f64_field(&mut out, "stamp", crate::auditor::unix_now());
        out.push(b'}');
        out
    }
}
