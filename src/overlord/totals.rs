//! The run's aggregate counts, kept from job_end and job_exit events, and the
//! run_end record written from them.

use crate::event::write::{self, FileTotals, LeftWithRun, RunEnd};
use crate::event::{Event, JobResult};

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
        let exit = event.job_exit();
        self.user += exit.user();
        self.system += exit.system();
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
        let left_running: Vec<LeftWithRun> = leftovers
            .iter()
            .map(|l| LeftWithRun {
                pid: l.pid,
                name: &l.name,
                file: &l.file,
                ended,
            })
            .collect();
        let end = RunEnd {
            passed: self.passed_run(interrupted.is_some()) && harness_error.is_none(),
            files: FileTotals {
                total: self.files,
                passed: self.passed,
                failed: self.failed,
                skipped: self.skipped,
                cancelled: self.cancelled,
            },
            tests_run: self.tests_run,
            tests_failed: self.tests_failed,
            wall,
            user: self.user,
            system: self.system,
            retried: self.retried,
            flaky: &self.flaky,
            bailed: self
                .bailed
                .as_ref()
                .map(|(file, reason)| (file.as_str(), reason.as_str())),
            interrupted,
            harness_error,
            left_running: &left_running,
            logs: None,
            stamp: Some(crate::auditor::unix_now()),
        };
        let mut out = Vec::with_capacity(512);
        write::run_end(&mut out, &end);
        out
    }
}
