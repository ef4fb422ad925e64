//! One run, start to end: the path `test` shares with the commands that wrap it.
//! It makes the run directory and the event log sinks, hands the runner its plan,
//! follows it as the overlord with the given renderers, and returns the exit status.

use crate::daemon::Request;
use crate::error::{Error, Result};
use crate::event::write::RunStart;
use crate::job::plan::Plan;
use crate::job::{JobSpec, Launch};
use crate::overlord::{Keyboard, Overlord, Sink};
use crate::render::Renderer;
use crate::runner::Prefork;
use crate::state;
use crate::sys::{self, SignalPipe};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::io::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Retries and how to judge what they show.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// `--retry N`: tries after the first for a failing file.
    pub retries: u32,
    /// `--retry-isolated`: retries run last, one at a time.
    pub retry_isolated: bool,
    /// `--preload-verify`: a preloaded file that passes is run again without.
    pub preload_verify: bool,
    /// `--flaky-fails`: a file that passed only on a retry fails the run.
    pub flaky_fails: bool,
}

/// What a run needs beyond its renderers.
pub struct Session {
    pub jobs: Vec<JobSpec>,
    pub launch: Launch,
    pub slots: usize,
    /// `--state-dir`, when given.
    pub state_dir: Option<PathBuf>,
    /// Whether the state directory gets an event log (not with `--no-log`).
    pub keep_log: bool,
    /// `--state-size`: how many bytes of event logs the state directory keeps.
    pub state_size: u64,
    /// `--log FILE`: another copy of the event log (`-` for stdout).
    pub extra_log: Option<PathBuf>,
    /// `--log-fd N`: another copy of the event log, to a descriptor.
    pub log_fd: Option<i32>,
    /// `-k`: keep the run directory and job logs.
    pub keep: bool,
    /// Read keys from the terminal (the live renderer is showing the run).
    pub keyboard: bool,
    pub policy: Policy,
    /// The files held back from preload, when the run may preload: it
    /// learns from this run's results.
    pub fallback: Option<state::Fallback>,
}

impl Session {
    /// Whether the event log goes to stdout, so people must read the run elsewhere.
    pub fn log_on_stdout(&self) -> bool {
        self.extra_log.as_deref() == Some(Path::new("-"))
    }
}

pub fn run(session: Session, renderers: Vec<Box<dyn Renderer>>) -> Result<i32> {
    let prefork = Prefork::start().map_err(|e| Error::io("start the runner", e))?;
    run_with(session, renderers, Runner::Local(prefork))
}

/// Who runs the jobs.
pub enum Runner {
    /// A runner forked earlier, while this process was small.
    Local(Prefork),
    /// A persistent runner (`proctor start`), reached through its socket.
    Remote(UnixStream),
}

/// As [`run`], with the runner given.
pub fn run_with(
    session: Session,
    renderers: Vec<Box<dyn Renderer>>,
    runner: Runner,
) -> Result<i32> {
    let location = state::located(session.state_dir.as_deref());
    let state_dir = location.dir.clone();
    let (paths, warning) =
        state::new_run(location, session.keep, session.keep_log).map_err(|e| {
            Error::io(
                format!("create a run directory under {}", state_dir.display()),
                e,
            )
        })?;
    if let Some(w) = warning {
        errln!("proctor: warning: {}", w);
    }
    let sinks = sinks(&session, &paths)?;

    // Handlers go in before the first fork, so no signal is missed in between.
    let signals = SignalPipe::install(&[
        libc::SIGCHLD,
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGTSTP,
        libc::SIGCONT,
        libc::SIGWINCH,
    ])
    .map_err(|e| Error::io("set up signal handling", e))?;
    let job_count = session.jobs.len();
    let slots = session.slots;
    let end_leftovers = session.launch.leftovers != crate::job::audit::Leftovers::Keep;
    let cwd = std::env::current_dir().map_err(|e| Error::io("find the current directory", e))?;
    let plan = Plan {
        jobs: session.jobs,
        slots,
        run_dir: paths.run_dir.clone(),
        launch: session.launch,
        retries: session.policy.retries,
        retry_isolated: session.policy.retry_isolated,
        preload_verify: session.policy.preload_verify,
        cwd: cwd.clone(),
    };
    let remote = matches!(runner, Runner::Remote(_));
    let (runner_pid, wake_read) = match runner {
        Runner::Local(mut prefork) => {
            prefork
                .send(&plan)
                .map_err(|e| Error::io("hand the runner its plan", e))?;
            (
                prefork.pid,
                prefork
                    .wake
                    .take()
                    .expect("a fresh runner has its wake pipe"),
            )
        }
        Runner::Remote(stream) => send_remote(stream, &plan)?,
    };
    drop(plan);
    // While the runner starts the first jobs: the link to this run's log, the
    // oldest logs pruned, and what killed runs left removed.
    state::sweep_runs(&paths);
    if let Some(log) = &paths.log {
        if let Err(e) = state::mark_last(&paths.state_dir, log, session.state_size) {
            errln!(
                "proctor: warning: unable to mark {} as the last run: {}",
                log.display(),
                e
            );
        }
    }

    let keyboard = if session.keyboard {
        Keyboard::open(0)
    } else {
        None
    };
    let mut overlord = Overlord::new(
        sinks,
        renderers,
        paths.run_dir.clone(),
        runner_pid,
        wake_read,
        session.keep,
    )
    .with_keyboard(keyboard)
    .remote(remote)
    .flaky_fails(session.policy.flaky_fails)
    .end_leftovers(end_leftovers);
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    overlord.start(&RunStart {
        version: env!("CARGO_PKG_VERSION"),
        id: &paths.id,
        cwd: &cwd.to_string_lossy(),
        argv: &argv,
        files: job_count as u64,
        slots: slots as u64,
        run_dir: &paths.run_dir.to_string_lossy(),
    });
    let fallback = session.fallback;
    let exit_status = overlord
        .follow(&signals, |results, modules| {
            // Durations and results for the next run's order and --failed,
            // what failed preloaded, and what each file loaded for --preload
            // auto; a state directory that cannot be written only loses that.
            let _ = state::save_results(&paths.state_dir, results);
            if let Some(fallback) = fallback {
                let _ = fallback.save(results);
            }
            let _ = state::modules::save(&paths.state_dir, modules);
        })
        .map_err(|e| Error::io("follow the run", e))?;
    if !session.keep {
        state::remove_run(&paths.run_dir);
    }
    Ok(exit_status)
}

/// Sends the plan to the persistent runner and learns the pid of the runner it
/// started for this run; the connection then carries its wake-ups.
fn send_remote(mut stream: UnixStream, plan: &Plan) -> Result<(libc::pid_t, OwnedFd)> {
    let lost = |e: io::Error| Error::io("hand the persistent runner the plan", e);
    stream
        .write_all(Request::Run.line().as_bytes())
        .map_err(lost)?;
    plan.write_to(&mut io::BufWriter::new(&mut stream))
        .map_err(lost)?;
    stream
        .write_all(Request::End.line().as_bytes())
        .map_err(lost)?;
    // One byte at a time: what follows the line is the runner's, not ours.
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while byte[0] != b'\n' {
        match io::Read::read(&mut stream, &mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => {
                return Err(Error::Usage(
                    "the persistent runner closed the connection (see its runner.log)".into(),
                ))
            }
        }
    }
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap_or_default();
    match (v["type"].as_str(), v["pid"].as_i64()) {
        (Some("started"), Some(pid)) => Ok((pid as libc::pid_t, stream.into())),
        _ => Err(Error::Usage(format!(
            "the persistent runner said: {}",
            v["message"].as_str().unwrap_or("something unexpected")
        ))),
    }
}

/// The event log in the state directory, and `--log FILE` beside it.
fn sinks(session: &Session, paths: &state::RunPaths) -> Result<Vec<Sink>> {
    let mut sinks = Vec::new();
    if let Some(log) = &paths.log {
        let file = state::create_log(log)
            .map_err(|e| Error::io(format!("create the event log {}", log.display()), e))?;
        sinks.push(Sink {
            name: log.display().to_string(),
            out: Box::new(BufWriter::with_capacity(64 * 1024, file)),
        });
    }
    if let Some(extra) = &session.extra_log {
        let out: Box<dyn Write> = if session.log_on_stdout() {
            Box::new(BufWriter::new(io::stdout()))
        } else {
            let file = File::create(extra)
                .map_err(|e| Error::io(format!("create the event log {}", extra.display()), e))?;
            Box::new(BufWriter::new(file))
        };
        sinks.push(Sink {
            name: extra.display().to_string(),
            out,
        });
    }
    if let Some(fd) = session.log_fd {
        let file = File::from(
            sys::take_fd(fd).map_err(|e| Error::Usage(format!("--log-fd {}: {}", fd, e)))?,
        );
        sinks.push(Sink {
            name: format!("descriptor {}", fd),
            out: Box::new(BufWriter::new(file)),
        });
    }
    Ok(sinks)
}
