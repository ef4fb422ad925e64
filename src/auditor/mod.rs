//! The auditor: one per job, the test's parent.
//!
//! Its parts: the collector reads the test's stdout and stderr pipes
//! ([`lines`]); the muxer writes their lines to the job log in arrival order,
//! stamped; the time tracker notes start, first output, exit and end; the watcher
//! feeds stdout to the TAP parser and judges the file. It learns of the exit at
//! once (SIGCHLD), stops the test's process group on an event timeout or when the
//! runner goes away (the lifeline hangs up), and exits with a status that tells the
//! runner the verdict. It never writes anywhere but its own job directory.

mod lines;
mod record;

use crate::sys::{self, ExecSpec, ExitInfo, Fork, SignalPipe};
use crate::tap::{self, Exit, Outcome, Parser};
use lines::LineBuffer;
use record::JobLog;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
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

/// How long a test gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Everything one job needs, prepared by the runner before it forks the auditor.
pub struct Config {
    pub file: String,
    pub tries: u32,
    pub dir: PathBuf,
    pub spec: ExecSpec,
    pub command: Vec<String>,
    pub merge: bool,
    pub event_timeout: Option<Duration>,
    pub keep: bool,
    /// The read end of the runner's lifeline pipe.
    pub lifeline: RawFd,
}

/// Why the auditor stopped the test, if it did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Silent,
    Leaked,
    RunnerGone,
    Asked,
}

struct Stream {
    fd: OwnedFd,
    name: &'static str,
    lines: LineBuffer,
}

/// Runs one job to its end and returns the auditor's exit status. Called in a
/// freshly forked child of the runner.
pub fn run(config: Config) -> i32 {
    let signals = match SignalPipe::install(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("proctor: auditor for {}: unable to set up signals: {}", config.file, e);
            return EXIT_BROKEN;
        }
    };
    let log = match JobLog::create(&config.dir.join("events.ljsonl")) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("proctor: auditor for {}: unable to create its job log in {}: {}", config.file, config.dir.display(), e);
            return EXIT_BROKEN;
        }
    };
    let mut auditor = Auditor {
        log,
        parser: Parser::new(),
        started: Instant::now(),
        first_output: None,
        exited_at: None,
        exit: None,
        stop: None,
        term_sent: None,
        last_activity: Instant::now(),
        chunk: vec![0u8; 64 * 1024],
        extra_reasons: Vec::new(),
    };
    let code = auditor.audit(&config, &signals).unwrap_or_else(|e| {
        eprintln!("proctor: auditor for {}: unable to finish its job log: {}", config.file, e);
        EXIT_BROKEN
    });
    if !config.keep {
        let _ = std::fs::remove_dir_all(config.dir.join("tmp"));
    }
    code
}

struct Auditor {
    log: JobLog,
    parser: Parser,
    started: Instant,
    first_output: Option<Instant>,
    exited_at: Option<Instant>,
    exit: Option<ExitInfo>,
    stop: Option<Stop>,
    term_sent: Option<Instant>,
    last_activity: Instant,
    chunk: Vec<u8>,
    extra_reasons: Vec<String>,
}

impl Auditor {
    fn audit(&mut self, config: &Config, signals: &SignalPipe) -> std::io::Result<i32> {
        let devnull = std::fs::File::open("/dev/null")?;
        let (out_read, out_write) = sys::pipe()?;
        let err_pipe = if config.merge { None } else { Some(sys::pipe()?) };
        let err_write_fd = err_pipe.as_ref().map_or(out_write.as_raw_fd(), |(_, w)| w.as_raw_fd());

        self.started = Instant::now();
        let pid = match sys::fork() {
            Ok(Fork::Child) => sys::exec_child(&config.spec, devnull.as_raw_fd(), out_write.as_raw_fd(), err_write_fd),
            Ok(Fork::Parent(pid)) => pid,
            Err(e) => {
                self.extra_reasons.push(format!("unable to start the test: {}", e));
                self.log.job_start(&config.file, 0, &config.command)?;
                return self.finish(config, 0, Exit::Unknown, Default::default());
            }
        };
        // Both sides set the group, so it exists before either relies on it.
        let _ = sys::setpgid(pid, pid);
        drop(out_write);
        let mut streams = vec![Stream { fd: out_read, name: "stdout", lines: LineBuffer::default() }];
        if let Some((read, write)) = err_pipe {
            drop(write);
            streams.push(Stream { fd: read, name: "stderr", lines: LineBuffer::default() });
        }
        for s in &streams {
            sys::set_nonblocking(s.fd.as_raw_fd())?;
        }
        drop(devnull);
        self.log.job_start(&config.file, pid, &config.command)?;
        self.last_activity = Instant::now();

        let mut lifeline_open = true;
        loop {
            if streams.is_empty() && self.exit.is_some() {
                break;
            }
            if self.stop.is_some() && self.exit.is_some() && self.term_sent.map_or(false, |t| t.elapsed() >= KILL_GRACE) {
                // Something in the group still holds the pipes after the kill.
                break;
            }
            let mut fds: Vec<libc::pollfd> = streams.iter().map(|s| sys::pollfd(&s.fd, libc::POLLIN)).collect();
            fds.push(sys::pollfd(signals, libc::POLLIN));
            if lifeline_open {
                fds.push(libc::pollfd { fd: config.lifeline, events: libc::POLLIN, revents: 0 });
            }
            sys::poll(&mut fds, self.poll_timeout(config))?;
            let now = Instant::now();
            let stamp = unix_now();

            let mut ended = Vec::new();
            for (i, stream) in streams.iter_mut().enumerate() {
                if fds[i].revents == 0 {
                    continue;
                }
                self.last_activity = now;
                if !self.read_stream(stream, stamp)? {
                    ended.push(i);
                }
            }
            let polled_streams = streams.len();
            for i in ended.into_iter().rev() {
                {
                    let mut s = streams.remove(i);
                    let parser = &mut self.parser;
                    let log = &mut self.log;
                    let mut result = Ok(());
                    s.lines.finish(|line, dropped| {
                        if result.is_ok() {
                            result = log.line(s.name, stamp, line, dropped, if s.name == "stdout" { Some(&mut *parser) } else { None });
                        }
                    });
                    result?;
                }
            }
            if fds[polled_streams].revents != 0 {
                for signal in signals.drain() {
                    match signal {
                        libc::SIGCHLD => self.check_exit(pid)?,
                        _ => self.begin_stop(pid, Stop::Asked),
                    }
                }
            }
            if lifeline_open && fds.last().map_or(false, |f| f.revents != 0) {
                lifeline_open = false;
                self.begin_stop(pid, Stop::RunnerGone);
            }
            self.check_timers(pid, config);
            self.log.flush()?;
        }

        // Whatever is left in the group is a leak; the leader is still a zombie,
        // so its group id cannot have been reused.
        let _ = sys::kill_group(pid, libc::SIGKILL);
        let (exit, usage) = sys::reap_with_rusage(pid)?;
        let exit = match exit {
            ExitInfo::Code(c) => Exit::Code(c),
            ExitInfo::Signal { signal, core } => Exit::Signal { signal, core },
        };
        self.finish(config, pid, exit, usage)
    }

    /// Reads what the stream has; false at end of file.
    fn read_stream(&mut self, stream: &mut Stream, stamp: f64) -> std::io::Result<bool> {
        let n = match sys::read(stream.fd.as_raw_fd(), &mut self.chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(false);
        }
        if self.first_output.is_none() {
            self.first_output = Some(Instant::now());
        }
        let parser = if stream.name == "stdout" { Some(&mut self.parser) } else { None };
        let log = &mut self.log;
        let mut result = Ok(());
        let mut parser = parser;
        stream.lines.split(&self.chunk[..n], |line, dropped| {
            if result.is_ok() {
                result = log.line(stream.name, stamp, line, dropped, parser.as_deref_mut());
            }
        });
        result.map(|_| true)
    }

    fn check_exit(&mut self, pid: libc::pid_t) -> std::io::Result<()> {
        if self.exit.is_none() {
            if let Some(exit) = sys::waitid_exited(pid)? {
                self.exit = Some(exit);
                self.exited_at = Some(Instant::now());
                self.last_activity = Instant::now();
            }
        }
        Ok(())
    }

    fn begin_stop(&mut self, pid: libc::pid_t, why: Stop) {
        if self.stop.is_none() {
            self.stop = Some(why);
        }
        if self.term_sent.is_none() {
            let _ = sys::kill_group(pid, libc::SIGTERM);
            // A stopped test must be continued to act on SIGTERM.
            let _ = sys::kill_group(pid, libc::SIGCONT);
            self.term_sent = Some(Instant::now());
        }
    }

    fn check_timers(&mut self, pid: libc::pid_t, config: &Config) {
        if let Some(sent) = self.term_sent {
            if sent.elapsed() >= KILL_GRACE {
                let _ = sys::kill_group(pid, libc::SIGKILL);
            }
        }
        if let Some(limit) = config.event_timeout {
            if self.stop.is_none() && self.last_activity.elapsed() >= limit {
                let why = if self.exit.is_some() { Stop::Leaked } else { Stop::Silent };
                self.begin_stop(pid, why);
                if why == Stop::Leaked {
                    let _ = sys::kill_group(pid, libc::SIGKILL);
                }
            }
        }
    }

    fn poll_timeout(&self, config: &Config) -> i32 {
        let mut wait: Option<Duration> = None;
        if let Some(sent) = self.term_sent {
            wait = Some(KILL_GRACE.saturating_sub(sent.elapsed()));
        } else if let Some(limit) = config.event_timeout {
            wait = Some(limit.saturating_sub(self.last_activity.elapsed()));
        }
        // Rounded up, so a timer never fires a millisecond early and spins.
        wait.map_or(-1, |d| (d.as_micros() as u64 + 999).div_euclid(1000).min(i32::MAX as u64) as i32)
    }

    fn finish(&mut self, config: &Config, _pid: libc::pid_t, exit: Exit, usage: sys::Rusage) -> std::io::Result<i32> {
        let ended = Instant::now();
        let summary = self.parser.finish();
        let stamp = unix_now();
        for message in self.parser.take_errors() {
            self.log.parse_error(stamp, &message)?;
        }
        let mut verdict = tap::judge(&summary, &exit);
        let timeout_s = config.event_timeout.map_or(0.0, |d| d.as_secs_f64());
        let stop_reason = match self.stop {
            Some(Stop::Silent) => Some(format!("no output for {} s: stopped by the event timeout", trim_float(timeout_s))),
            Some(Stop::Leaked) => Some(format!(
                "exited, but a child kept its output open for {} s",
                trim_float(timeout_s)
            )),
            Some(Stop::RunnerGone) => Some("the runner went away; the test was stopped".to_string()),
            Some(Stop::Asked) => Some("stopped before it finished: the run was interrupted".to_string()),
            None => None,
        };
        if let Some(reason) = stop_reason {
            verdict.reasons.insert(0, reason);
            verdict.outcome = Outcome::Fail;
        }
        for reason in self.extra_reasons.drain(..) {
            verdict.reasons.push(reason);
            verdict.outcome = Outcome::Fail;
        }
        let seconds = |a: Instant, b: Option<Instant>| b.map(|b| b.saturating_duration_since(a).as_secs_f64());
        let times = record::Times {
            wall: seconds(self.started, self.exited_at.or(Some(ended))).unwrap_or(0.0),
            startup: seconds(self.started, self.first_output),
            audit: self.exited_at.map(|e| ended.saturating_duration_since(e).as_secs_f64()),
        };
        self.log.job_exit(&exit, &times, &usage)?;
        self.log.job_end(&config.file, &verdict, &summary, times.wall)?;
        let bailed = summary.bail.is_some();
        self.log.finish()?;
        Ok(match verdict.outcome {
            _ if bailed => EXIT_BAIL,
            Outcome::Pass => EXIT_PASS,
            Outcome::Skip => EXIT_SKIP,
            Outcome::Fail => EXIT_FAIL,
        })
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{:.3}", x);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Seconds since the epoch, for stamps that line up across processes.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
