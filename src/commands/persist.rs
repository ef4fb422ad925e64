//! `proctor start`, `status`, `reload` and `stop`: the persistent runner's life,
//! seen from the command line. (`proctor run` is `test` on it: see test.rs.)

use crate::cli::StartArgs;
use crate::daemon::{self, Daemon, Request};
use crate::discover;
use crate::error::{Error, Result};
use crate::job::{perl_dirs, Launch};
use crate::stage::StageSpec;
use crate::state;
use crate::sys::{self, Fork};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

pub fn start(args: StartArgs) -> Result<i32> {
    if args.preload.iter().any(|m| m == super::preload_auto::AUTO) {
        return Err(Error::Usage(
            "--preload auto: only proctor test chooses modules; give proctor start the modules by name".into(),
        ));
    }
    let state_dir = state::locate(args.state_dir.as_deref());
    let dir = daemon::dir(&state_dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    // Only its user may reach the socket at all.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(format!("restrict {}", dir.display()), e))?;
    let socket = daemon::socket_path(&state_dir);
    if socket.exists() {
        if daemon::connect(&socket).is_ok() {
            return Err(Error::Usage(format!(
                "a persistent runner is already running here ({})",
                socket.display()
            )));
        }
        // Left by a runner that died: never trusted, removed.
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(dir.join("pid"));
    }
    // Read by each `proctor run` that gives no -j (and by nothing else);
    // written before the socket exists, so no run can read an older one.
    let jobs = daemon::jobs_path(&state_dir);
    match args.jobs {
        Some(n) => std::fs::write(&jobs, format!("{}\n", n))
            .map_err(|e| Error::io(format!("write {}", jobs.display()), e))?,
        None => {
            let _ = std::fs::remove_file(&jobs);
        }
    }
    // Bound here, so that an error is said here; listened on in the runner, so
    // that its clients see the runner as their peer (`proctor stop` ends a
    // hung one by that pid).
    let bound = sys::bind_unix(&socket)
        .map_err(|e| Error::io(format!("listen on {}", socket.display()), e))?;
    let perl_dirs = perl_dirs(args.lib, args.blib, &args.includes);
    let stage = if args.preload.is_empty() {
        None
    } else {
        let perl = discover::find_program("perl")
            .ok_or_else(|| Error::Usage("--preload: perl is not in PATH".into()))?;
        Some(StageSpec::perl(perl, &args.preload))
    };
    let daemon = Daemon {
        state_dir: state_dir.clone(),
        stage,
        env: Launch::environment(&perl_dirs, false),
        perl_dirs: where_the_perl_looks(perl_dirs),
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("runner.log"))
        .map_err(|e| Error::io(format!("open {}", dir.join("runner.log").display()), e))?;
    // The runner says here whether its perl got ready: `ok`, or why not.
    let (started_read, started_write) =
        sys::pipe().map_err(|e| Error::io("start the persistent runner", e))?;
    let _ = std::io::stdout().flush();
    match sys::fork().map_err(|e| Error::io("start the persistent runner", e))? {
        Fork::Child => {
            // Away from the terminal: its own session, and a second fork so that
            // nobody but init (or a subreaper) is left to reap it.
            let _ = sys::setsid();
            match sys::fork() {
                Ok(Fork::Child) => {}
                Ok(Fork::Parent(daemon_pid)) => {
                    let _ = std::fs::write(dir.join("pid"), format!("{}\n", daemon_pid));
                    sys::exit_now(0)
                }
                Err(_) => sys::exit_now(crate::error::EXIT_HARNESS),
            }
            let devnull = std::fs::File::open("/dev/null").ok();
            if let Some(d) = &devnull {
                let _ = sys::dup2(d.as_raw_fd(), 0);
            }
            let _ = sys::dup2(log.as_raw_fd(), 1);
            let _ = sys::dup2(log.as_raw_fd(), 2);
            drop(started_read);
            let listening = sys::listen(bound.as_raw_fd()).map(|_| UnixListener::from(bound));
            let code = match listening.and_then(|l| daemon::serve(daemon, l, started_write)) {
                Ok(()) => 0,
                Err(e) => {
                    errln!("proctor: persistent runner: {}", e);
                    crate::error::EXIT_HARNESS
                }
            };
            sys::exit_now(code)
        }
        Fork::Parent(child) => {
            drop(started_write);
            sys::reap(child);
            let pid = std::fs::read_to_string(dir.join("pid")).unwrap_or_default();
            let mut word = String::new();
            let _ = std::fs::File::from(started_read).read_to_string(&mut word);
            match word.as_str() {
                "ok" => {
                    outln!(
                        "proctor: persistent runner started (pid {}); 'proctor run' uses it, 'proctor stop' ends it",
                        pid.trim()
                    )?;
                    Ok(0)
                }
                // It ended without a word: its log says why.
                "" => Err(Error::Usage(format!(
                    "the persistent runner ended as it started; see {}",
                    dir.join("runner.log").display()
                ))),
                why => Err(Error::Usage(format!(
                    "the persistent runner's perl could not preload: {}",
                    why.trim_end()
                ))),
            }
        }
    }
}

/// The directories the runner's perl finds its modules in besides its own,
/// in order: `perl_dirs`, then this PERL5LIB's, as its PERL5LIB has them; each
/// from here, where it preloads, for perls that start elsewhere without them.
fn where_the_perl_looks(perl_dirs: Vec<std::path::PathBuf>) -> Vec<std::path::PathBuf> {
    let here = std::env::current_dir().unwrap_or_default();
    let perl5lib = std::env::var_os("PERL5LIB").unwrap_or_default();
    perl_dirs
        .into_iter()
        .chain(std::env::split_paths(&perl5lib))
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| here.join(dir))
        .collect()
}

/// Asks the persistent runner to stop, and waits until it has (its stage
/// ended, its socket gone), so that a `proctor start` right after finds none.
/// How long the persistent runner has to answer a request: its loop never
/// blocks, so one that takes longer is hung.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a hung runner has to end after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

pub fn stop(state_dir: Option<&std::path::Path>) -> Result<i32> {
    let (stream, pid) = connect(state_dir)?;
    let code = match tell(stream, Request::Stop) {
        Ok(line) => answer(&line),
        // In another PID namespace, where this process cannot name it.
        Err(e) if timed_out(&e) && pid <= 0 => Err(Error::Usage(format!(
            "the persistent runner did not answer for {} s: it is hung, and it \
             runs in another PID namespace: end it from there",
            ANSWER_TIMEOUT.as_secs()
        ))),
        Err(e) if timed_out(&e) => {
            // Hung (stopped, say): it cannot stop itself, so it is ended.
            let how = end_hung(pid);
            errln!(
                "proctor: the persistent runner (pid {}) did not answer for {} s: ended it with {}",
                pid,
                ANSWER_TIMEOUT.as_secs(),
                how
            );
            Ok(0)
        }
        Err(e) => Err(Error::io("hear the persistent runner", e)),
    }?;
    wait_gone(pid, Duration::from_secs(10));
    Ok(code)
}

/// SIGTERM, then SIGKILL if it is still there after the grace: which ended it.
fn end_hung(pid: libc::pid_t) -> &'static str {
    let _ = sys::kill(pid, libc::SIGTERM);
    let _ = sys::kill(pid, libc::SIGCONT);
    if wait_gone(pid, TERM_GRACE) {
        return "SIGTERM";
    }
    let _ = sys::kill(pid, libc::SIGKILL);
    wait_gone(pid, TERM_GRACE);
    "SIGKILL"
}

/// Waits, up to `limit`, until `pid` is gone (or a zombie its new parent has
/// yet to reap); whether it is.
fn wait_gone(pid: libc::pid_t, limit: Duration) -> bool {
    let stat = format!("/proc/{}/stat", pid);
    let until = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        let zombie = text
            .rsplit_once(')')
            .map_or(false, |(_, s)| s.trim_start().starts_with('Z'));
        if text.is_empty() || zombie {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends one request and prints the answer.
pub fn ask(request: Request, state_dir: Option<&std::path::Path>) -> Result<i32> {
    let (stream, pid) = connect(state_dir)?;
    let line = tell(stream, request).map_err(|e| {
        if timed_out(&e) {
            Error::Usage(format!(
                "the persistent runner (pid {}) did not answer for {} s: it is hung; \
                 'proctor stop' ends it",
                pid,
                ANSWER_TIMEOUT.as_secs()
            ))
        } else {
            Error::io("hear the persistent runner", e)
        }
    })?;
    answer(&line)
}

/// A connection to the persistent runner, and its pid (from the socket, not
/// a file that may be stale).
fn connect(state_dir: Option<&std::path::Path>) -> Result<(UnixStream, libc::pid_t)> {
    let socket = daemon::socket_path(&state::locate(state_dir));
    let stream = daemon::connect(&socket).map_err(Error::Usage)?;
    let pid = sys::peer_pid(stream.as_raw_fd())
        .map_err(|e| Error::io("identify the persistent runner", e))?;
    Ok((stream, pid))
}

/// Sends `request` and reads the one-line answer, waiting at most
/// [`ANSWER_TIMEOUT`] for it.
fn tell(mut stream: UnixStream, request: Request) -> std::io::Result<String> {
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.write_all(request.line().as_bytes())?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    Ok(line)
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Prints the persistent runner's answer; the exit status it means.
fn answer(line: &str) -> Result<i32> {
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
    match v["type"].as_str() {
        Some("status") => {
            outln!("persistent runner: pid {}", v["pid"])?;
            match v["stage"].as_object() {
                Some(stage) => outln!(
                    "stage: {} (pid {}), {} files preloaded",
                    stage["name"].as_str().unwrap_or("?"),
                    stage["pid"],
                    stage["preloaded"]
                )?,
                None if v["preload"].is_array() => {
                    outln!("stage: not started yet (it starts with the next run)")?
                }
                None => outln!("stage: none (started without --preload)")?,
            }
            match v["running"].as_i64() {
                Some(pid) => outln!(
                    "running: a run (runner pid {}), {} waiting",
                    pid,
                    v["queued"]
                )?,
                None => outln!("running: nothing, {} waiting", v["queued"])?,
            }
            Ok(0)
        }
        Some("ok") => {
            outln!("proctor: {}", v["message"].as_str().unwrap_or("done"))?;
            Ok(0)
        }
        _ => Err(Error::Usage(format!(
            "the persistent runner said: {}",
            v["message"]
                .as_str()
                .unwrap_or("nothing (see its runner.log)")
        ))),
    }
}
