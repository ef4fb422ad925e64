//! A stage, as the runner sees it: a long-lived process that got to a ready state
//! (a perl with the test modules loaded) and forks each job's test and auditor on
//! request. This side starts it, speaks the line protocol of proctor-stage(7)
//! over a socketpair, and notices when it dies. What to do about it is the
//! runner's decision.

use crate::json;
use crate::sys::{self, ExecSpec};
use serde_json::Value;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How long a stage may take to get ready before its jobs fail.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stage in sibling mode may take to answer a spawn.
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start a stage.
#[derive(Clone, Debug)]
pub struct StageSpec {
    pub name: String,
    /// The interpreter (perl).
    pub program: PathBuf,
    /// The stage program it runs, written into the run directory at start.
    pub script: &'static str,
    pub args: Vec<String>,
}

/// The Perl stage that ships inside proctor.
pub const PERL_STAGE: &str = include_str!("perl_stage.pl");

impl StageSpec {
    /// The shipped Perl stage, run by `perl`, preloading `modules`.
    pub fn perl(perl: PathBuf, modules: &[String]) -> StageSpec {
        StageSpec {
            name: "perl".into(),
            program: perl,
            script: PERL_STAGE,
            args: modules
                .iter()
                .flat_map(|m| ["--preload".to_string(), m.clone()])
                .collect(),
        }
    }

    /// Has each test report the modules it loaded, a
    /// module from under one of `project_dirs` marked as the project's
    /// (`--preload auto`, see `crate::auditor::loaded`).
    pub fn record_modules(&mut self, project_dirs: &[PathBuf]) {
        self.args.push(RECORD_MODULES.to_string());
        for dir in project_dirs {
            self.args.push(format!("--project-dir={}", dir.display()));
        }
    }

    pub fn records_modules(&self) -> bool {
        self.args.iter().any(|a| a == RECORD_MODULES)
    }
}

const RECORD_MODULES: &str = "--record-modules";

/// What a stage said.
#[derive(Debug, PartialEq)]
pub enum Message {
    Ready {
        preloaded: Vec<(PathBuf, i64)>,
    },
    Launched {
        job: (u64, u32),
        pid: libc::pid_t,
    },
    Done {
        job: (u64, u32),
        pid: libc::pid_t,
        status: Option<i32>,
        signal: Option<i32>,
    },
    /// A failure; with a job, of that job's spawn; without, of the stage.
    Error {
        job: Option<(u64, u32)>,
        message: String,
    },
}

/// A variable a spawn sets (to bytes) or, None, removes in its test.
pub type EnvChange = (String, Option<Vec<u8>>);

/// Why a stage in sibling mode did not fork a test.
#[derive(Debug)]
pub enum SpawnFailure {
    /// It answered that it could not (the job's own problem).
    Refused(String),
    /// It is gone, or as good as gone: another stage may do it.
    Gone(String),
    /// One of the descriptors to wake for had something to read before it
    /// answered: the spawn is still out.
    Woken,
}

pub struct Stage {
    pub spec: StageSpec,
    pub pid: libc::pid_t,
    socket: OwnedFd,
    inbox: Vec<u8>,
    /// When it was started (or taken over): its minute to get ready counts
    /// from here.
    started: Instant,
}

impl Stage {
    /// Starts the stage with `env` (the tests' environment), its end of the socket
    /// as descriptor 3 and the runner's lifeline as descriptor 4.
    pub fn start(
        spec: &StageSpec,
        run_dir: &Path,
        env: &Rc<Vec<CString>>,
        lifeline: RawFd,
    ) -> io::Result<Stage> {
        Stage::start_with(spec, run_dir, env, lifeline, &madvise_arguments())
    }

    /// Starts the stage in sibling mode, as a child of this process, whose
    /// children its tests will be: it forks them with clone(2) as
    /// [`sys::fork_sibling`] does, so only where that can.
    /// With `cpu_mask`, this process is kept to one CPU, and each test is
    /// given that mask back, the CPUs the run was given.
    pub fn start_siblings(
        spec: &StageSpec,
        run_dir: &Path,
        env: &Rc<Vec<CString>>,
        lifeline: RawFd,
        cpu_mask: Option<&[u8]>,
    ) -> io::Result<Stage> {
        let clone = format!(
            "--clone-syscall={}",
            sys::SIBLING_CLONE.ok_or(io::ErrorKind::Unsupported)?
        );
        let mut args = madvise_arguments();
        args.push(clone);
        if let Some(mask) = cpu_mask {
            args.push(format!(
                "--cpu-mask={}:{}",
                libc::SYS_sched_setaffinity,
                crate::json::hex(mask)
            ));
        }
        Stage::start_with(spec, run_dir, env, lifeline, &args)
    }

    fn start_with(
        spec: &StageSpec,
        run_dir: &Path,
        env: &Rc<Vec<CString>>,
        lifeline: RawFd,
        extra_args: &[String],
    ) -> io::Result<Stage> {
        let script = write_script(spec, run_dir)?;
        let (ours, theirs) = sys::socketpair()?;
        let devnull = std::fs::File::open("/dev/null")?;
        let mut argv = vec![
            cstring(spec.program.as_os_str().as_bytes()),
            cstring(script.as_os_str().as_bytes()),
        ];
        let mut extra = vec![
            cstring(b"PROCTOR_STAGE_FD=3"),
            cstring(b"PROCTOR_LIFELINE_FD=4"),
        ];
        let mut dropped = Vec::new();
        for &(name, value) in LOADER_SETTINGS {
            let set = env.iter().any(|v| {
                let v = v.as_bytes();
                v.starts_with(name.as_bytes()) && v.get(name.len()) == Some(&b'=')
            });
            if !set {
                extra.push(cstring(format!("{}={}", name, value).as_bytes()));
                dropped.push(format!("--drop-env={}", name));
            }
        }
        argv.extend(
            spec.args
                .iter()
                .chain(extra_args)
                .chain(&dropped)
                .map(|a| cstring(a.as_bytes())),
        );
        let exec = ExecSpec::new(
            cstring(spec.program.as_os_str().as_bytes()),
            argv,
            env.clone(),
            extra,
        );
        // Its stdout goes to stderr: stdout carries the report.
        let fds = [
            (devnull.as_raw_fd(), 0),
            (2, 1),
            (theirs.as_raw_fd(), 3),
            (lifeline, 4),
        ];
        let pid = sys::spawn_with(&exec, &fds, false)?;
        Ok(Stage {
            spec: spec.clone(),
            pid,
            socket: ours,
            inbox: Vec::new(),
            started: Instant::now(),
        })
    }

    /// Takes over a stage that is already running, from its pid and socket.
    pub fn adopt(spec: StageSpec, pid: libc::pid_t, socket: OwnedFd) -> Stage {
        Stage {
            spec,
            pid,
            socket,
            inbox: Vec::new(),
            started: Instant::now(),
        }
    }

    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// When it must have said `ready` by: a minute from its start.
    pub fn ready_by(&self) -> Instant {
        self.started + READY_TIMEOUT
    }

    /// Why it is not ready, at [`Stage::ready_by`].
    pub fn too_slow(&self) -> String {
        format!(
            "the {} stage was not ready after {} s",
            self.spec.name,
            READY_TIMEOUT.as_secs()
        )
    }

    /// Why it is not ready, gone without a word.
    pub fn exited_early(&self) -> String {
        format!("the {} stage exited before it was ready", self.spec.name)
    }

    /// Waits for `ready` (or an error, or the stage's end), for at most a minute.
    pub fn wait_ready(&mut self) -> Result<Vec<(PathBuf, i64)>, String> {
        self.wait_ready_or(&[])
            .map(|ready| ready.unwrap_or_default())
    }

    /// Waits for `ready` as [`Stage::wait_ready`] does, or until one of `wake`
    /// has something to read (None; the wait can be taken up again). The
    /// minute counts from the stage's start.
    pub fn wait_ready_or(&mut self, wake: &[RawFd]) -> Result<Option<Vec<(PathBuf, i64)>>, String> {
        let deadline = self.ready_by();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.too_slow());
            }
            let (answer, woken) = self.wait(deadline, wake).map_err(|e| e.to_string())?;
            if woken {
                return Ok(None);
            }
            if !answer {
                continue;
            }
            let (messages, open) = self.read();
            for m in messages {
                match m {
                    Message::Ready { preloaded } => return Ok(Some(preloaded)),
                    Message::Error { message, .. } => return Err(message),
                    _ => {}
                }
            }
            if !open {
                return Err(self.exited_early());
            }
        }
    }

    /// Reads what the stage sent; false once it has closed its end.
    pub fn read(&mut self) -> (Vec<Message>, bool) {
        let mut buf = [0u8; 8192];
        let open = match sys::read(self.socket.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.inbox.extend_from_slice(&buf[..n]);
                true
            }
        };
        let mut messages = Vec::new();
        while let Some(end) = self.inbox.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.inbox.drain(..=end).collect();
            if let Some(m) = parse(&line[..line.len() - 1]) {
                messages.push(m);
            }
        }
        (messages, open)
    }

    /// Asks the stage to start one job: its test, run in `cwd`, and `auditor`
    /// as the test's parent.
    /// `env` holds what to set (or, None, remove) besides the test's TMPDIR;
    /// a value that is not UTF-8 goes as `{"hex": ...}`.
    pub fn spawn(
        &mut self,
        job: (u64, u32),
        (file, cwd): (&str, &Path),
        (dir, env): (&str, &[EnvChange]),
        merge: bool,
        auditor: &[String],
    ) -> io::Result<()> {
        let mut out = Vec::with_capacity(512);
        json::start_record(&mut out, "spawn");
        json::write_u64_field(&mut out, "job", job.0);
        json::write_u64_field(&mut out, "try", job.1 as u64);
        json::write_str_field(&mut out, "file", file);
        json::write_str_field(&mut out, "cwd", &cwd.to_string_lossy());
        json::write_str_field(&mut out, "dir", dir);
        json::write_bool_field(&mut out, "merge", merge);
        json::write_key(&mut out, "env");
        out.extend_from_slice(b"{\"TMPDIR\":");
        json::write_str(&mut out, &format!("{}/tmp", dir));
        for (name, value) in env {
            out.push(b',');
            json::write_str(&mut out, name);
            out.push(b':');
            match value {
                Some(value) => json::write_bytes_or_hex(&mut out, value),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        json::write_str_list_field(&mut out, "auditor", auditor);
        out.extend_from_slice(b"}\n");
        self.send(&out)
    }

    /// Asks a stage in sibling mode to fork one job's test as this process's
    /// child, writing to the pipes whose write ends are this process's
    /// descriptors `stdout` and `stderr` (None: merged into stdout), and waits
    /// for its answer: the test's pid, or why it could not. It stops waiting
    /// when one of `wake` has something to read.
    pub fn spawn_sibling(
        &mut self,
        job: (u64, u32),
        file: &str,
        tmp: &Path,
        (stdout, stderr): (RawFd, Option<RawFd>),
        wake: &[RawFd],
    ) -> Result<libc::pid_t, SpawnFailure> {
        let mut out = Vec::with_capacity(256);
        json::start_record(&mut out, "spawn");
        json::write_u64_field(&mut out, "job", job.0);
        json::write_u64_field(&mut out, "try", job.1 as u64);
        json::write_str_field(&mut out, "file", file);
        json::write_bool_field(&mut out, "merge", stderr.is_none());
        json::write_key(&mut out, "env");
        out.extend_from_slice(b"{\"TMPDIR\":");
        json::write_str(&mut out, &tmp.to_string_lossy());
        out.push(b'}');
        json::write_u64_field(&mut out, "stdout_fd", stdout as u64);
        if let Some(fd) = stderr {
            json::write_u64_field(&mut out, "stderr_fd", fd as u64);
        }
        out.extend_from_slice(b"}\n");
        if let Err(e) = self.send(&out) {
            return Err(SpawnFailure::Gone(format!("it could not be told: {}", e)));
        }
        self.wait_launched(job, Instant::now() + SPAWN_TIMEOUT, wake)
    }

    /// Waits for the answer to the spawn of `job` (see
    /// [`Stage::spawn_sibling`]) until `deadline`, or until one of `wake` has
    /// something to read; after [`SpawnFailure::Woken`], the wait can be
    /// taken up again.
    pub fn wait_launched(
        &mut self,
        job: (u64, u32),
        deadline: Instant,
        wake: &[RawFd],
    ) -> Result<libc::pid_t, SpawnFailure> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SpawnFailure::Gone(format!(
                    "it did not answer for {} s",
                    SPAWN_TIMEOUT.as_secs()
                )));
            }
            let (answer, woken) = match self.wait(deadline, wake) {
                Ok(heard) => heard,
                Err(e) => return Err(SpawnFailure::Gone(e.to_string())),
            };
            // An answer that came counts, whatever else did.
            if !answer {
                if woken {
                    return Err(SpawnFailure::Woken);
                }
                continue;
            }
            let (messages, open) = self.read();
            for m in messages {
                match m {
                    Message::Launched { job: j, pid } if j == job => return Ok(pid),
                    Message::Error {
                        job: Some(j),
                        message,
                    } if j == job => return Err(SpawnFailure::Refused(message)),
                    Message::Error { job: None, message } => {
                        return Err(SpawnFailure::Refused(message))
                    }
                    _ => {}
                }
            }
            if !open {
                return Err(SpawnFailure::Gone("it exited".into()));
            }
        }
    }

    /// Ends the stage: asks it to finish, gives it a second, then kills it, and
    /// reaps it (it must be this process's child).
    pub fn end(mut self) {
        let _ = self.send(b"{\"type\":\"stop\"}\n");
        for _ in 0..50 {
            if sys::waitid_exited(self.pid).map_or(true, |e| e.is_some()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = sys::kill(self.pid, libc::SIGKILL);
        sys::reap(self.pid);
    }

    /// Waits until the stage's socket or one of `wake` has something to read,
    /// or until `deadline`: whether the socket has, and whether one of `wake`.
    fn wait(&self, deadline: Instant, wake: &[RawFd]) -> io::Result<(bool, bool)> {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = vec![sys::pollfd(&self.socket, libc::POLLIN)];
        fds.extend(wake.iter().map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }));
        sys::poll(&mut fds, left.as_millis().min(i32::MAX as u128) as i32)?;
        Ok((fds[0].revents != 0, fds[1..].iter().any(|f| f.revents != 0)))
    }

    /// Ends the stage at once and reaps it (it must be this process's
    /// child): for a stage in sibling mode, which holds nothing of its
    /// tests, or one not ready yet, which has none.
    pub fn kill(self) {
        let _ = sys::kill(self.pid, libc::SIGKILL);
        sys::reap(self.pid);
    }

    fn send(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = sys::write(self.socket.as_raw_fd(), bytes)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

/// What the stage's perl is started with, unless the tests' environment says
/// otherwise: malloc's heap on huge pages from the first byte (glibc 2.35 and
/// later), so it need not be collapsed into them before `ready`. The stage
/// takes it out of the environment its tests get (`--drop-env`): it was read
/// at its start. (Not LD_BIND_NOW, though it would spare each test binding
/// the symbols it calls first: it would also make every later dlopen bind
/// all at once, and an XS module with a symbol it never calls unresolved
/// would fail to load where a fresh perl loads it.)
const LOADER_SETTINGS: &[(&str, &str)] = &[("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")];

/// Tells the stage the madvise(2) system call (on Linux), to back its heap with huge
/// pages, and fcntl(2), to keep the descriptors it gives a test close-on-exec as
/// perl would have made them (proctor-stage(7)).
#[cfg(target_os = "linux")]
fn madvise_arguments() -> Vec<String> {
    vec![
        format!("--madvise-syscall={}", libc::SYS_madvise),
        format!("--fcntl-syscall={}", libc::SYS_fcntl),
    ]
}

#[cfg(not(target_os = "linux"))]
fn madvise_arguments() -> Vec<String> {
    Vec::new()
}

/// Writes the stage program into the run directory, whole or not at all: the
/// auditors of a run each start a stage of their own, at about the same time.
fn write_script(spec: &StageSpec, run_dir: &Path) -> io::Result<PathBuf> {
    let script = run_dir.join(format!("stage-{}", spec.name));
    if std::fs::metadata(&script).map_or(false, |m| m.len() == spec.script.len() as u64) {
        return Ok(script);
    }
    let partial = run_dir.join(format!("stage-{}.{}", spec.name, std::process::id()));
    std::fs::write(&partial, spec.script)?;
    std::fs::rename(&partial, &script)?;
    Ok(script)
}

fn parse(line: &[u8]) -> Option<Message> {
    let v: Value = serde_json::from_slice(line).ok()?;
    let job = match (v["job"].as_u64(), v["try"].as_u64()) {
        (Some(j), Some(t)) => Some((j, u32::try_from(t).ok()?)),
        _ => None,
    };
    // A process of its own: 0, -1 or 1 would have a signal reach a whole
    // group, everyone, or init.
    let pid = v["pid"]
        .as_i64()
        .and_then(|p| libc::pid_t::try_from(p).ok())
        .filter(|&p| p > 1);
    Some(match v["type"].as_str()? {
        "ready" => Message::Ready {
            preloaded: v["preloaded"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        PathBuf::from(p["file"].as_str()?),
                        p["mtime"].as_i64().unwrap_or(0),
                    ))
                })
                .collect(),
        },
        "launched" => match pid {
            Some(pid) => Message::Launched { job: job?, pid },
            None => Message::Error {
                job: Some(job?),
                message: format!("it said it launched the test as pid {}", v["pid"]),
            },
        },
        "done" => Message::Done {
            job: job?,
            pid: pid?,
            status: v["status"].as_i64().map(|s| s as i32),
            signal: v["signal"].as_i64().map(|s| s as i32),
        },
        "error" => Message::Error {
            job,
            message: v["message"].as_str().unwrap_or("unknown error").to_string(),
        },
        _ => return None,
    })
}

fn cstring(bytes: &[u8]) -> CString {
    CString::new(
        bytes
            .iter()
            .copied()
            .filter(|&b| b != 0)
            .collect::<Vec<u8>>(),
    )
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            parse(br#"{"type":"launched","job":3,"try":1,"pid":77}"#),
            Some(Message::Launched {
                job: (3, 1),
                pid: 77
            })
        );
        assert_eq!(
            parse(br#"{"type":"done","job":3,"try":2,"pid":77,"status":1}"#),
            Some(Message::Done {
                job: (3, 2),
                pid: 77,
                status: Some(1),
                signal: None
            })
        );
        assert_eq!(
            parse(br#"{"type":"error","message":"no Foo"}"#),
            Some(Message::Error {
                job: None,
                message: "no Foo".into()
            })
        );
        match parse(
            br#"{"type":"ready","pid":5,"preloaded":[{"module":"A","file":"/x/A.pm","mtime":9}]}"#,
        ) {
            Some(Message::Ready { preloaded }) => {
                assert_eq!(preloaded, [(PathBuf::from("/x/A.pm"), 9)])
            }
            other => panic!("{:?}", other),
        }
        assert_eq!(parse(b"junk"), None);
        for pid in ["0", "-1", "1", "4294967296", "\"77\"", "null"] {
            let launched = format!(r#"{{"type":"launched","job":3,"try":1,"pid":{}}}"#, pid);
            match parse(launched.as_bytes()) {
                Some(Message::Error {
                    job: Some((3, 1)),
                    message,
                }) => assert!(message.contains("pid"), "{}", message),
                other => panic!("launched as pid {}: {:?}", pid, other),
            }
            let done = format!(r#"{{"type":"done","job":3,"try":1,"pid":{}}}"#, pid);
            assert_eq!(parse(done.as_bytes()), None, "done as pid {}", pid);
        }
        assert_eq!(
            parse(br#"{"type":"launched","job":3,"try":4294967296,"pid":77}"#),
            None
        );
    }
}
