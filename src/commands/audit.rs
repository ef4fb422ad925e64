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
use std::path::PathBuf;

pub fn run(args: Vec<OsString>) -> Result<i32> {
    let mut file = None;
    let mut dir = None;
    let mut pid = None;
    let mut stdout = None;
    let mut stderr = None;
    let mut lifeline = None;
    let mut event_timeout = None;
    let mut keep = false;
    let mut leftovers = Leftovers::WithRun;
    let mut ignore_exit = false;
    let mut retry_on_fail = false;
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
            "--pid" => pid = Some(number("--pid", words.next(), 2)? as libc::pid_t),
            "--stdout-fd" => stdout = Some(number("--stdout-fd", words.next(), 0)?),
            "--stderr-fd" => stderr = Some(number("--stderr-fd", words.next(), 0)?),
            "--lifeline-fd" => lifeline = Some(number("--lifeline-fd", words.next(), 0)?),
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
            "--retry-on-fail" => retry_on_fail = true,
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
    let config = Config {
        command: vec!["perl (preloaded)".to_string(), file.clone()],
        file,
        place: audit::Place::own(dir.join("events.ljsonl"), dir.join("tmp")),
        test: Test::Adopted {
            pid: pid.ok_or_else(|| missing("--pid"))?,
            stdout,
            stderr: stderr.filter(|&fd| fd != stdout),
        },
        event_timeout: event_timeout.and_then(numbers::timeout),
        leftovers,
        keep,
        ignore_exit,
        lifeline: std::os::unix::io::AsRawFd::as_raw_fd(&lifeline_fd),
        retry_on_fail,
        started: None,
    };
    let code = auditor::run(config);
    drop(lifeline_fd);
    Ok(code)
}
