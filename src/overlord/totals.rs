//! The run's aggregate counts, kept from job_end and job_exit events, and the
//! run_end record written from them.

use crate::event::Event;
use crate::json;
use crate::state::FileResult;

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

impl Totals {
    pub fn job_end(&mut self, event: &mut Event) {
        let v = event.value();
        if v["will_retry"] == true {
            // Not the file's last word: its next try will say.
            self.retried += 1;
            return;
        }
        let file = v["file"].as_str().unwrap_or("").to_string();
        let result = v["result"].as_str().unwrap_or("fail").to_string();
        // Judged already (see `flaky`): whether it fails is in its result.
        if v["flaky"] == true {
            self.flaky.push(file.clone());
        }
        if result != "cancelled" {
            let duration = v["duration"].as_f64().unwrap_or(0.0);
            self.results.push(FileResult {
                file,
                result,
                duration,
            });
        }
        self.files += 1;
        match v["result"].as_str() {
            Some("pass") => self.passed += 1,
            Some("skip") => self.skipped += 1,
            Some("cancelled") => self.cancelled += 1,
            _ => self.failed += 1,
        }
        self.tests_run += v["counts"]["run"].as_u64().unwrap_or(0);
        self.tests_failed += v["counts"]["failed"].as_u64().unwrap_or(0);
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
        json::write_f64_field(&mut out, "stamp", crate::sys::unix_now());
        out.push(b'}');
        out
    }
}
