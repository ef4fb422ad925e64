//! What an auditor is given and what it answers: a job's test, its place
//! (log and TMPDIR), its settings, and the exit statuses that carry its
//! verdict. The runner, the stage protocol, a standing auditor's slot and
//! `proctor audit` all speak in these terms; the auditor (`crate::auditor`)
//! acts on them.

use crate::sys::ExecSpec;
use std::os::unix::io::RawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Auditor exit statuses: how the runner learns the verdict.
pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_SKIP: i32 = 2;
pub const EXIT_BAIL: i32 = 3;
/// The auditor could not do its job (no log, no fork); the job log says why if
/// it could be written at all.
pub const EXIT_BROKEN: i32 = 4;
/// The system had no process to start the test with: the auditor gives the job
/// back untouched (its log removed), for the runner to start again later.
pub const EXIT_GIVE_BACK: i32 = 5;
/// A standing auditor's answer for a job sent ahead that it did not start: the
/// runner withdrew it, or the auditor takes no more jobs.
pub const EXIT_WITHDRAWN: i32 = 6;
/// A failure of the preloaded perl, not of the test: it could not start the
/// test (a module it cannot load, a perl given up). Tried again only as
/// `--retry` allows, never without preload: that would pass every file of a
/// run that preloads a module that does not exist.
pub const EXIT_NOT_STARTED: i32 = 7;

/// How the test comes to be.
pub enum Test {
    /// The auditor starts it (forked by the runner: no stage).
    Spawn { spec: ExecSpec, merge: bool },
    /// A stage already forked it as this auditor's child, on these pipes
    /// (`proctor audit`); `stderr` is None when merged into stdout.
    Adopted {
        pid: libc::pid_t,
        stdout: RawFd,
        stderr: Option<RawFd>,
    },
    /// Whatever was to start it could not (a preloaded perl that is not
    /// ready): the job fails for this reason alone.
    NotStarted { reason: String },
}

/// Where a job's log and its test's TMPDIR are.
#[derive(Clone, Debug)]
pub struct Place {
    pub log: PathBuf,
    /// The log is this auditor's, shared by its jobs: the job's log is the
    /// next segment of it, which names the job and try given here (see
    /// [`crate::job::segment`]).
    pub segment: Option<(u64, u32)>,
    /// The test's TMPDIR, which exists.
    pub tmp: PathBuf,
    /// The TMPDIR is this auditor's, for one test after another: it is emptied
    /// after each (with `keep`, moved next to the log first), not removed.
    pub tmp_reused: bool,
}

impl Place {
    /// A log and a TMPDIR of the job's own.
    pub fn own(log: PathBuf, tmp: PathBuf) -> Place {
        Place {
            log,
            segment: None,
            tmp,
            tmp_reused: false,
        }
    }
}

/// Everything one job needs, prepared by the runner before it forks the auditor.
pub struct Config {
    pub file: String,
    pub place: Place,
    pub test: Test,
    pub command: Vec<String>,
    pub event_timeout: Option<Duration>,
    /// When what the test leaves running is ended.
    pub leftovers: Leftovers,
    pub keep: bool,
    /// Judge the test without its exit status (prove's `--ignore-exit`).
    pub ignore_exit: bool,
    /// The read end of the runner's lifeline pipe.
    pub lifeline: RawFd,
    /// Whether the runner will try this job again, as this try ends.
    pub retry: Retry,
    /// When the test was started, if before the auditor took it (a stage
    /// forked it); its wall time counts from there.
    pub started: Option<Instant>,
    /// Where its test reports the modules it loaded, if it does
    /// (`crate::auditor::loaded`).
    pub modules_report: Option<PathBuf>,
}

/// When the processes a test leaves running, once they let go of its output,
/// are ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftovers {
    /// When the test's audit ends, with a note naming them.
    WithTest,
    /// When the run ends: until then they are the suite's own business.
    WithRun,
    /// Never: they outlive the run, as tap-driver.sh leaves them (the
    /// driver's run is one test of a `make check`, whose end it cannot see).
    Keep,
}

impl Leftovers {
    /// The word of `--leftovers`.
    pub fn parse(word: &str) -> Option<Leftovers> {
        match word {
            "test" => Some(Leftovers::WithTest),
            "run" => Some(Leftovers::WithRun),
            "keep" => Some(Leftovers::Keep),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Leftovers::WithTest => "test",
            Leftovers::WithRun => "run",
            Leftovers::Keep => "keep",
        }
    }
}

/// When the runner tries a job again, as its auditor must say in the try's
/// `job_end` (`will_retry`). Never after a bail-out or an interrupt, which
/// stop the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retry {
    /// On a failure: `--retry` allows another try.
    pub on_fail: bool,
    /// On a failure of its test (not [`EXIT_NOT_STARTED`]): a preloaded try
    /// is tried again without preload.
    pub plain_on_fail: bool,
    /// On a pass: a preloaded try under `--preload-verify`.
    pub plain_on_pass: bool,
}
