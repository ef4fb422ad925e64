//! The persistent runner (`proctor start`): a small process that keeps a
//! preloaded stage ready across runs and serves `proctor run`, `status`, `reload`
//! and `stop` on a UNIX socket in a directory only its user can enter.
//!
//! Each run gets a runner of its own, forked from this process (which is small)
//! with the stage handed over; runs take the stage one at a time, in the order
//! they came. A run that fails, bails out or is interrupted ends only itself.
//! The stage is started again when a preloaded file changes (by mtime), on
//! `reload`, or when it dies, always between runs.
//!
//! A run large enough to repay a preload (see [`own_perls`]) does not use the
//! kept stage: its slots' auditors preload perls of their own, with the same
//! modules, as `proctor test --preload` does, and fork its tests from them
//! (a fork a job, where the kept stage costs a fork and an exec more).

mod protocol;

pub use protocol::{connect, Request};

use crate::runner;
use crate::stage::{Stage, StageSpec};
use crate::sys::{self, Fork, SignalPipe};
use std::collections::VecDeque;
use std::ffi::CString;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What a job costs more in the kept stage than in a perl of its auditor's
/// own: the fork and exec of its auditor (measured here at about 2 ms).
const KEPT_STAGE_COST: Duration = Duration::from_millis(2);

/// The directory of a project's persistent runner, in its state directory.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("runner")
}

pub fn socket_path(state_dir: &Path) -> PathBuf {
    dir(state_dir).join("control.sock")
}

/// Where `proctor start -j N` leaves N, for the runs that do not say.
pub fn jobs_path(state_dir: &Path) -> PathBuf {
    dir(state_dir).join("jobs")
}

/// The runner's number of tests at once for runs that do not give one, if
/// it was started with one.
pub fn default_jobs(state_dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(jobs_path(state_dir)).ok()?;
    text.trim().parse().ok().filter(|&n| n > 0)
}

/// What the daemon needs to keep its stage.
pub struct Daemon {
    pub state_dir: PathBuf,
    pub stage: Option<StageSpec>,
    /// The tests' environment, which the stage runs with.
    pub env: Rc<Vec<CString>>,
    /// The directories of `env`'s PERL5LIB (`-l`, `-b`, `-I`, then the
    /// caller's), made absolute: a run's own perls, which start with the
    /// run's environment wherever the run was asked from, get them as the
    /// stage's `--include`.
    pub perl_dirs: Vec<PathBuf>,
}

/// The stage the daemon keeps, ready: what it preloaded (each file with its
/// mtime then), and how long getting ready took.
struct Kept {
    stage: Stage,
    files: Vec<(PathBuf, i64)>,
    ready_in: Duration,
}

/// A run waiting for its turn.
struct Waiting {
    stream: UnixStream,
    plan: Vec<u8>,
}

struct Running {
    pid: libc::pid_t,
}

/// Runs the daemon until `stop` (in the already detached process). Its stage
/// preloads first; `started` hears `ok`, or why it could not get ready (and
/// the daemon ends), so that `proctor start` can say which.
pub fn serve(daemon: Daemon, listener: UnixListener, started: OwnedFd) -> io::Result<()> {
    let signals = SignalPipe::install(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP])?;
    let _ = sys::set_child_subreaper();
    // The stage's auditors watch this; it closes only when the daemon ends.
    let (lifeline_read, _lifeline_write) = sys::pipe()?;
    let mut stage: Option<Kept> = None;
    if let Some(spec) = &daemon.stage {
        match restart(None, spec, &daemon, lifeline_read.as_raw_fd()) {
            Ok(ready) => stage = Some(ready),
            Err(why) => {
                errln!("proctor: runner: {}", why);
                let _ = sys::write(started.as_raw_fd(), why.as_bytes());
                return shut_down(None, &daemon.state_dir);
            }
        }
    }
    let _ = sys::write(started.as_raw_fd(), b"ok");
    drop(started);
    let mut reload = false;
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    let mut running: Option<Running> = None;
    // Connections accepted that have yet to say anything: read only once
    // they have, so that one slow to speak (a run still finding its files)
    // holds up no other.
    let mut incoming: Vec<UnixStream> = Vec::new();
    let mut runs = 0u64;
    loop {
        if running.is_none() {
            if let Some(w) = waiting.pop_front() {
                if let Some(spec) = &daemon.stage {
                    let stale = stage.as_ref().map_or(true, |k| changed(&k.files));
                    if reload || stale {
                        stage = restart(stage.take(), spec, &daemon, lifeline_read.as_raw_fd())
                            .map_err(|why| errln!("proctor: runner: {}", why))
                            .ok();
                        reload = false;
                    }
                }
                runs += 1;
                // Not the run's: its listening socket (whose clients would
                // take the run for this process), the runs still queued and
                // the connections yet to speak.
                let ours: Vec<RawFd> = std::iter::once(listener.as_raw_fd())
                    .chain(waiting.iter().map(|w| w.stream.as_raw_fd()))
                    .chain(incoming.iter().map(AsRawFd::as_raw_fd))
                    .collect();
                running = start_run(w, stage.as_ref(), &daemon, &ours)
                    .map_err(|e| errln!("proctor: runner: unable to start run {}: {}", runs, e))
                    .ok();
            }
        }
        let mut fds = vec![
            sys::pollfd(&listener, libc::POLLIN),
            sys::pollfd(&signals, libc::POLLIN),
        ];
        fds.extend(incoming.iter().map(|s| sys::pollfd(s, libc::POLLIN)));
        sys::poll(&mut fds, -1)?;
        for signal in signals.drain() {
            match signal {
                libc::SIGCHLD => {
                    while let Some((pid, _)) = sys::reap_any()? {
                        if running.as_ref().map_or(false, |r| r.pid == pid) {
                            running = None;
                        } else if stage.as_ref().map_or(false, |k| k.stage.pid == pid) {
                            // Started again before the next run.
                            stage = None;
                        }
                    }
                }
                _ => return shut_down(stage, &daemon.state_dir),
            }
        }
        let mut spoke = Vec::new();
        for (i, f) in fds[2..].iter().enumerate().rev() {
            if f.revents != 0 {
                spoke.push(incoming.remove(i));
            }
        }
        for stream in spoke.into_iter().rev() {
            match handle(stream, &daemon, &stage, &running, waiting.len()) {
                Handled::Run(w) => waiting.push_back(w),
                Handled::Reload => reload = true,
                Handled::Stop => return shut_down(stage, &daemon.state_dir),
                Handled::Done => {}
            }
        }
        if fds[0].revents != 0 {
            if let Ok((stream, _)) = listener.accept() {
                incoming.push(stream);
            }
        }
    }
}

enum Handled {
    Run(Waiting),
    Reload,
    Stop,
    Done,
}

/// Reads one request and answers what can be answered at once.
fn handle(
    stream: UnixStream,
    daemon: &Daemon,
    stage: &Option<Kept>,
    running: &Option<Running>,
    queued: usize,
) -> Handled {
    let mut stream = stream;
    // Only the user who started it may use it (the directory is 0700 too).
    match sys::peer_uid(stream.as_raw_fd()) {
        Ok(uid) if uid == sys::getuid() => {}
        _ => {
            let _ = protocol::reply(
                &mut stream,
                "refused",
                "this runner belongs to another user",
            );
            return Handled::Done;
        }
    }
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return Handled::Done,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return Handled::Done;
    }
    match Request::parse(&line) {
        Some(Request::Run) => {
            // The plan follows, up to an `end` line.
            let mut plan = Vec::new();
            loop {
                let mut l = String::new();
                match reader.read_line(&mut l) {
                    Ok(0) | Err(_) => return Handled::Done,
                    Ok(_) if Request::parse(&l) == Some(Request::End) => break,
                    Ok(_) => plan.extend_from_slice(l.as_bytes()),
                }
            }
            let _ = stream.set_read_timeout(None);
            Handled::Run(Waiting { stream, plan })
        }
        Some(Request::Status) => {
            let status = serde_json::json!({
                "type": "status",
                "pid": std::process::id(),
                "stage": stage.as_ref().map(|k| serde_json::json!({"name": k.stage.spec.name, "pid": k.stage.pid, "preloaded": k.files.len()})),
                "preload": daemon.stage.as_ref().map(|s| s.args.iter().skip(1).step_by(2).cloned().collect::<Vec<_>>()),
                "running": running.as_ref().map(|r| r.pid),
                "queued": queued,
            });
            let _ = writeln!(stream, "{}", status);
            Handled::Done
        }
        Some(Request::Reload) => {
            let _ = protocol::reply(
                &mut stream,
                "ok",
                "the stage is started again before the next run",
            );
            Handled::Reload
        }
        Some(Request::Stop) => {
            let _ = protocol::reply(&mut stream, "ok", "stopping");
            Handled::Stop
        }
        _ => {
            let _ = protocol::reply(&mut stream, "error", "unknown request");
            Handled::Done
        }
    }
}

/// Forks the run's runner: it tells the client its pid, then wakes it through
/// the same connection as the one-shot runner wakes its overlord. The child
/// closes `ours`, the daemon's descriptors that are none of the run's.
fn start_run(
    w: Waiting,
    stage: Option<&Kept>,
    daemon: &Daemon,
    ours: &[RawFd],
) -> io::Result<Running> {
    let _ = io::stdout().flush();
    match sys::fork()? {
        Fork::Child => {
            // Their handles stay behind, unused: this process never returns.
            for &fd in ours {
                drop(sys::own_fd(fd));
            }
            let code = run_child(w, stage, daemon);
            sys::exit_now(code)
        }
        Fork::Parent(pid) => Ok(Running { pid }),
    }
}

fn run_child(mut w: Waiting, kept: Option<&Kept>, daemon: &Daemon) -> i32 {
    let spec = &daemon.stage;
    let mut plan_text = std::mem::take(&mut w.plan);
    // A large run preloads in each slot instead (see own_perls).
    let own = match own_perls(&plan_text, kept, daemon) {
        Some(rewritten) => {
            plan_text = rewritten;
            true
        }
        None => false,
    };
    // The auditors start before the queue is read.
    let read = runner::start_early()
        .map_err(|e| e.to_string())
        .and_then(|early| runner::read_plan(early, &mut &plan_text[..], own));
    let (mut plan, prepared) = match read {
        Ok(Some(read)) => read,
        Ok(None) | Err(_) => {
            let _ = protocol::reply(&mut w.stream, "error", "the plan could not be read");
            return crate::error::EXIT_USAGE;
        }
    };
    drop(plan_text);
    if writeln!(
        w.stream,
        "{}",
        serde_json::json!({"type": "started", "pid": std::process::id()})
    )
    .is_err()
    {
        return 0;
    }
    let wake: OwnedFd = w.stream.into();
    if own {
        for job in &mut plan.jobs {
            job.staged = job.preloadable();
        }
        sys::release_free_memory();
        return runner::run_with_stage(plan, wake.as_raw_fd(), None, prepared);
    }
    // The stage's socket is this process's now, for this run: a copy of the
    // daemon's, which does not read it while a run goes on.
    let stage = kept.and_then(|k| {
        let fd = k.stage.fd();
        sys::dup(fd).ok().map(|own| {
            let stage = Stage::adopt(spec.clone().expect("a stage has a spec"), k.stage.pid, own);
            // Its perl has the environment it was started with; each test
            // gets the run's.
            (stage, daemon.env.clone())
        })
    });
    sys::release_free_memory();
    runner::run_with_stage(plan, wake.as_raw_fd(), stage, prepared)
}

/// The plan of a run that should preload in each of its slots, rewritten to
/// say so; None for a run that should use the kept stage. A run preloads for
/// itself when it is large enough for standing auditors in every slot and
/// its jobs save more, at [`KEPT_STAGE_COST`] each, than the kept stage took
/// to get ready; and only where auditors can have perls of their own. Its
/// perls preload what the kept one did, from its directories too, but start
/// with the run's environment (the kept one gives it to each test instead).
fn own_perls(plan: &[u8], kept: Option<&Kept>, daemon: &Daemon) -> Option<Vec<u8>> {
    let kept = kept?;
    let spec = daemon.stage.as_ref()?;
    if !runner::siblings_possible() {
        return None;
    }
    let end = plan.iter().position(|&b| b == b'\n')?;
    let mut head: serde_json::Value = serde_json::from_slice(&plan[..end]).ok()?;
    let jobs = head["job_count"].as_u64()? as usize;
    if jobs < runner::LAUNCHER_FROM_JOBS
        || KEPT_STAGE_COST * (jobs.min(u32::MAX as usize) as u32) < kept.ready_in
    {
        return None;
    }
    let mut own = spec.clone();
    own.args.extend(
        daemon
            .perl_dirs
            .iter()
            .map(|d| format!("--include={}", d.to_string_lossy())),
    );
    head["launch"]["stage"] = crate::job::plan::stage_to_json(&own);
    let mut rewritten = serde_json::to_vec(&head).ok()?;
    rewritten.extend_from_slice(&plan[end..]);
    Some(rewritten)
}

/// Starts the stage (again), waiting until it is ready.
fn restart(
    old: Option<Kept>,
    spec: &StageSpec,
    daemon: &Daemon,
    lifeline: i32,
) -> Result<Kept, String> {
    if let Some(k) = old {
        k.stage.end();
    }
    let run_dir = dir(&daemon.state_dir);
    let started = Instant::now();
    let mut stage = Stage::start(spec, &run_dir, &daemon.env, lifeline)
        .map_err(|e| format!("unable to start the {} stage: {}", spec.name, e))?;
    match stage.wait_ready() {
        Ok(files) => Ok(Kept {
            stage,
            files,
            ready_in: started.elapsed(),
        }),
        Err(why) => {
            stage.end();
            Err(why)
        }
    }
}

/// Whether any preloaded file changed since the stage loaded it.
fn changed(files: &[(PathBuf, i64)]) -> bool {
    files.iter().any(|(path, mtime)| {
        let now = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        now != *mtime
    })
}

fn shut_down(stage: Option<Kept>, state_dir: &Path) -> io::Result<()> {
    if let Some(k) = stage {
        k.stage.end();
    }
    let _ = std::fs::remove_file(socket_path(state_dir));
    let _ = std::fs::remove_file(dir(state_dir).join("pid"));
    Ok(())
}
