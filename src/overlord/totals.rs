//! The run's aggregate counts, kept from job_end and job_exit events, and the
//! run_end record written from them.

use crate::event::write::{self, LeftWithRun, RunEnd, RunTotals};
use crate::event::{Event, JobResult};
use crate::state::modules::FileModules;
use crate::state::FileResult;

#[derive(Default)]
pub struct Totals {
    /// What run_end says of the files (a flaky one failed under `--flaky-fails`).
    pub run: RunTotals,
    /// Each file's final result and duration, for the project's state.
    pub results: Vec<FileResult>,
    /// What each preloaded file loaded, when its stage recorded it
    /// (`--preload auto`), for the project's state.
    pub modules: Vec<FileModules>,
}

impl Totals {
    pub fn job_end(&mut self, event: &mut Event) {
        let run = &mut self.run;
        let end = event.job_end();
        if end.will_retry() {
            // Not the file's last word: its next try will say.
            run.retried += 1;
            return;
        }
        let file = end.file().unwrap_or("").to_string();
        let result = end.result();
        // Judged already (see `flaky`): whether it fails is in its result.
        if end.flaky() {
            run.flaky.push(file.clone());
        }
        if result != JobResult::Cancelled {
            self.results.push(FileResult {
                file,
                result,
                duration: end.duration(),
                fails_preloaded: end.fails_preloaded(),
            });
        }
        run.files.total += 1;
        match result {
            JobResult::Pass => run.files.passed += 1,
            JobResult::Skip => run.files.skipped += 1,
            JobResult::Cancelled => run.files.cancelled += 1,
            JobResult::Fail => run.files.failed += 1,
        }
        let counts = end.counts();
        run.tests_run += counts.run;
        run.tests_failed += counts.failed;
    }

    pub fn modules(&mut self, file: String, event: &mut Event) {
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let v = event.value();
        self.modules.push(FileModules {
            file,
            modules: strings(&v["modules"]),
            project: strings(&v["project"]),
        });
    }

    pub fn job_exit(&mut self, event: &mut Event) {
        let exit = event.job_exit();
        self.run.user += exit.user();
        self.run.system += exit.system();
    }

    pub fn bail(&mut self, file: &str, event: &mut Event) {
        if self.run.bailed.is_none() {
            let reason = event.str("reason").unwrap_or("").to_string();
            self.run.bailed = Some((file.to_string(), reason));
        }
    }

    pub fn passed_run(&self, interrupted: bool) -> bool {
        let files = &self.run.files;
        files.total > 0
            && files.failed == 0
            && files.cancelled == 0
            && self.run.bailed.is_none()
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
            totals: &self.run,
            wall,
            interrupted,
            harness_error,
            left_running: &left_running,
            logs: None,
            stamp: Some(crate::sys::unix_now()),
        };
        let mut out = Vec::with_capacity(512);
        write::run_end(&mut out, &end);
        out
    }
}
