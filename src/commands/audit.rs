//! `proctor audit`: the auditor as a program of its own, for stages. A stage
//! forks the test, then execs this in the test's parent, handing over the test's
//! pid, the read ends of its pipes and the runner's lifeline; from there it is the
//! same auditor the runner forks for jobs without a stage. Not for people: its
//! options are the stage protocol's (proctor-stage(7)).

use crate::auditor;
use crate::error::{Error, Result};
use crate::job::audit;
use crate::job::audit::{Config, Leftovers, Test};
use crate::numbers;
use std::ffi::OsString;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub fn run(args: Vec<OsString>) -> Result<i32> {
    let mut file = None;
    let mut dir = None;
    let mut modules_dir: Option<PathBuf> = None;
    let mut pid = None;
    let mut stdout = None;
    let mut stderr = None;
    let mut lifeline = None;
    let mut runner_lifeline = None;
    let mut event_timeout = None;
    let mut keep = false;
    let mut leftovers = Leftovers::WithRun;
    let mut ignore_exit = false;
    let mut retry = audit::Retry::default();
    let mut words = args
        .into_iter()
        .map(|w| w.into_string().unwrap_or_default());
    // A pid names a process of its own (never 0, -1 or init, which a
    // signal would take as a group or everyone); a descriptor is 0 or more.
    let number = |flag: &str, v: Option<String>, least: i32| -> Result<i32> {
        numbers::whole::<i32>(v.as_deref().unwrap_or(""), least)
            .map_err(|why| Error::Usage(format!("audit: {}: {}", flag, why)))
    };
    while let Some(word) = words.next() {
        match word.as_str() {
            "--file" => file = words.next(),
            "--dir" => dir = words.next().map(PathBuf::from),
            "--modules-dir" => modules_dir = words.next().map(PathBuf::from),
            "--pid" => pid = Some(number("--pid", words.next(), 2)? as libc::pid_t),
            "--stdout-fd" => stdout = Some(number("--stdout-fd", words.next(), 0)?),
            "--stderr-fd" => stderr = Some(number("--stderr-fd", words.next(), 0)?),
            "--lifeline-fd" => lifeline = Some(number("--lifeline-fd", words.next(), 0)?),
            "--runner-lifeline" => runner_lifeline = words.next().map(PathBuf::from),
            "--event-timeout" => {
                let v = words.next().unwrap_or_default();
                event_timeout = Some(
                    numbers::seconds(&v)
                        .map_err(|why| Error::Usage(format!("audit: --event-timeout: {}", why)))?,
                );
            }
            "--keep" => keep = true,
            "--leftovers" => {
                leftovers = words
                    .next()
                    .as_deref()
                    .and_then(Leftovers::parse)
                    .ok_or_else(|| {
                        Error::Usage("audit: --leftovers needs 'test' or 'run'".into())
                    })?
            }
            "--ignore-exit" => ignore_exit = true,
            "--retry-on-fail" => retry.on_fail = true,
            "--plain-on-fail" => retry.plain_on_fail = true,
            "--plain-on-pass" => retry.plain_on_pass = true,
            other => {
                return Err(Error::Usage(format!(
                    "audit: unknown option '{}' (see proctor-stage(7))",
                    other
                )))
            }
        }
    }
    let missing = |what: &str| {
        Error::Usage(format!(
            "audit: {} is required (see proctor-stage(7))",
            what
        ))
    };
    let file = file.ok_or_else(|| missing("--file"))?;
    let dir: PathBuf = dir.ok_or_else(|| missing("--dir"))?;
    let stdout = stdout.ok_or_else(|| missing("--stdout-fd"))?;
    let lifeline = lifeline.ok_or_else(|| missing("--lifeline-fd"))?;
    // The lifeline stays open here but must not reach the test's descendants.
    let lifeline_fd = crate::sys::take_fd(lifeline)
        .map_err(|e| Error::Usage(format!("audit: --lifeline-fd: {}", e)))?;
    let runner_lifeline = match runner_lifeline {
        Some(path) => Some(open_runner_lifeline(&path).map_err(|e| {
            Error::Usage(format!(
                "audit: --runner-lifeline: unable to open it: {}",
                e
            ))
        })?),
        None => None,
    };
    let both = match &runner_lifeline {
        Some(runner) => watch_both(&lifeline_fd, runner)?,
        None => None,
    };
    let watched = both.as_ref().unwrap_or(&lifeline_fd).as_raw_fd();
    let test_pid = pid.ok_or_else(|| missing("--pid"))?;
    let config = Config {
        command: vec!["perl (preloaded)".to_string(), file.clone()],
        file,
        place: audit::Place::own(dir.join("events.ljsonl"), dir.join("tmp")),
        test: Test::Adopted {
            pid: test_pid,
            stdout,
            stderr: stderr.filter(|&fd| fd != stdout),
        },
        event_timeout: event_timeout.and_then(numbers::timeout),
        leftovers,
        keep,
        ignore_exit,
        lifeline: watched,
        retry,
        started: None,
        modules_report: modules_dir.map(|d| auditor::loaded::report_path(&d, test_pid)),
    };
    let code = auditor::run(config);
    // Watched through `both` until here: the epoll forgets a descriptor closed.
    drop((both, lifeline_fd, runner_lifeline));
    Ok(code)
}

/// The lifeline of the run's runner, when the kept stage, which holds only
/// the persistent runner's, started this auditor for a run: opened through
/// /proc from the runner's own read end. A runner already gone leaves it
/// unopened, and a pipe whose writer is gone stands in for it.
fn open_runner_lifeline(path: &Path) -> std::io::Result<OwnedFd> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    match opened {
        Ok(file) => Ok(OwnedFd::from(file)),
        Err(_) => crate::sys::pipe().map(|(read, _write)| read),
    }
}

/// One descriptor that hangs up with either lifeline, so the test ends with
/// whichever runner goes first; None where the system has no such thing
/// (the persistent runner's lifeline alone is watched then).
fn watch_both(persistent: &OwnedFd, runner: &OwnedFd) -> Result<Option<OwnedFd>> {
    match crate::sys::either_lifeline(persistent.as_raw_fd(), runner.as_raw_fd()) {
        Ok(both) => Ok(Some(both)),
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => Ok(None),
        Err(e) => Err(Error::Usage(format!(
            "audit: --runner-lifeline: unable to watch it: {}",
            e
        ))),
    }
}
