//! The auditor: one per job, the test's parent.
//!
//! Its parts: the collector reads the test's stdout and stderr pipes
//! ([`lines`]); the muxer writes their lines to the job log in arrival order,
//! stamped ([`record`]); the time tracker notes start, first output, exit and end;
//! the watcher feeds stdout to the TAP parser and judges the file. It learns of
//! the exit at once (SIGCHLD), stops the test on an event timeout, an interrupt or
//! when the runner goes away (the lifeline hangs up) ([`stop`]), and exits with a
//! status that tells the runner the verdict. It writes only in its job directory.

mod lines;
pub mod loaded;
pub mod own_perl;
mod record;
pub mod slot_tmp;
pub mod standing;
mod stop;

use crate::job::audit::{
    Config, Place, Test, EXIT_BAIL, EXIT_BROKEN, EXIT_FAIL, EXIT_GIVE_BACK, EXIT_NOT_STARTED,
    EXIT_PASS, EXIT_SKIP,
};
use crate::json;
use crate::ljsonl::Writer;
use crate::sys::{self, unix_now, ExecSpec, ExitInfo, PollSet, SignalPipe};
use crate::tap::{self, Exit, Outcome, Parser};
use lines::LineBuffer;
use record::JobLog;
use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use stop::{Stop, Stopper};

/// The most read from a pipe at once (a pipe holds 64 KiB by default).
const MAX_CHUNK: usize = 64 * 1024;
/// The first read's size: small, as most tests print little, and a forked
/// auditor pays to zero every page of it.
const FIRST_CHUNK: usize = 4096;

/// How long a standing auditor's test runs before it hears its slot socket:
/// a job ahead waits this long at most to be given back, and the thousands of
/// quick tests of a run are not each woken by the job sent ahead of them.
const SLOT_UNHEARD: Duration = Duration::from_millis(50);

/// How many of the test's last output lines a timeout reason quotes.
const LAST_LINES: usize = 3;
/// How much of each quoted line is kept.
const LAST_LINE_BYTES: usize = 160;

struct Stream {
    fd: OwnedFd,
    name: &'static str,
    lines: LineBuffer,
}

/// What the auditor waits on while its test runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watched {
    /// The test's stdout or stderr, by its place in the streams still open.
    Stream(usize),
    Signals,
    /// The runner's lifeline, until it hangs up.
    Lifeline,
    /// A standing auditor's slot socket (see [`SlotSocket`]).
    Slot,
}

/// A standing auditor's slot socket, watched while a test runs so that the
/// runner can ask back a job sent ahead without waiting for the test's end
/// (a long test would keep the job, and the run's end, waiting).
pub trait SlotSocket {
    fn fd(&self) -> RawFd;
    /// Reads what came (answering at once a withdrawal it can); false once
    /// the socket is not worth watching (the runner closed it or said
    /// something that is not the protocol's): what follows a job acts on that.
    fn readable(&mut self) -> bool;
}

fn stream(fd: OwnedFd, name: &'static str) -> Stream {
    Stream {
        fd,
        name,
        lines: LineBuffer::default(),
    }
}

/// Runs one job to its end and returns the auditor's exit status. Called in a
/// freshly forked child of the runner, or in `proctor audit`.
pub fn run(config: Config) -> i32 {
    match Process::start() {
        Ok(mut process) => process.audit(config, None),
        Err(e) => {
            errln!(
                "proctor: auditor for {}: unable to set up signals: {}",
                config.file,
                e
            );
            EXIT_BROKEN
        }
    }
}

/// The signals an auditor handles through its self-pipe.
const HANDLED: [i32; 6] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGTSTP,
    libc::SIGCONT,
];

/// An auditor process: what it sets up once, for one job or for many in turn.
pub struct Process {
    signals: SignalPipe,
    /// The log its jobs' segments go to, once opened.
    segments: Option<(PathBuf, Writer)>,
    /// A job log could not be written: no later segment could be told apart.
    log_failed: bool,
    /// A child of this process that is not a test's: a standing auditor's
    /// preloaded perl, which the clean-up after each test must leave alone.
    spared: Option<libc::pid_t>,
    /// Children that earlier tests left running until the run ends (see
    /// [`crate::job::audit::Leftovers::WithRun`]): no later test's clean-up touches them.
    left_running: Vec<libc::pid_t>,
    /// The last test left something running in its TMPDIR, which stays as it
    /// is until the run ends (see [`Process::tmp_held`]).
    tmp_held: bool,
    /// An interrupt that came while a test was being started (see
    /// [`Process::interrupted`]), for the job it was started for.
    held: Option<i32>,
    /// A test of its was stopped because the run is ending.
    stopped: bool,
    /// A pause (Ctrl-Z's SIGTSTP) came between jobs or while a test was being
    /// started, and no SIGCONT since: the next test starts paused.
    paused: bool,
    /// The CPU it keeps to, and the CPUs its tests get (see
    /// [`Process::keep_to_cpu`]).
    pinned: Option<(usize, Vec<u8>)>,
}

impl Process {
    pub fn start() -> io::Result<Process> {
        let signals = SignalPipe::install(&HANDLED)?;
        // Whatever a test leaves behind comes to this process, to be ended here.
        let _ = sys::set_child_subreaper();
        Ok(Process {
            signals,
            segments: None,
            log_failed: false,
            spared: None,
            left_running: Vec::new(),
            tmp_held: false,
            held: None,
            stopped: false,
            paused: false,
            pinned: None,
        })
    }

    /// Opens the log its jobs' segments will go to, before the first job comes
    /// (a failure is left for that job to meet).
    pub fn open_segments(&mut self, path: PathBuf) {
        if let Ok(writer) = Writer::append(&path) {
            self.segments = Some((path, writer));
        }
    }

    /// Leaves the child `pid` alone when cleaning up after a test (None: no
    /// child is spared).
    pub fn spare(&mut self, pid: Option<libc::pid_t>) {
        self.spared = pid;
    }

    /// Whether `pid` is a child an earlier test left running: its end is not a
    /// test's.
    pub fn left_running(&self, pid: libc::pid_t) -> bool {
        self.left_running.contains(&pid)
    }

    /// Reaps the children earlier tests left running that have ended since.
    pub fn reap_left_running(&mut self) {
        self.left_running
            .retain(|&pid| match sys::waitid_exited(pid) {
                Ok(Some(_)) => {
                    sys::reap(pid);
                    false
                }
                Ok(None) => true,
                Err(_) => false, // not ours any more
            });
    }

    /// Whether the last test left something running, and so its TMPDIR as it
    /// was: what runs may be using it (a socket, a pid file), so the next test
    /// needs another. True once per such test.
    pub fn tmp_held(&mut self) -> bool {
        std::mem::take(&mut self.tmp_held)
    }

    /// Every child the clean-up after the next test must leave alone.
    fn spared(&self) -> Vec<libc::pid_t> {
        self.spared
            .iter()
            .chain(self.left_running.iter())
            .copied()
            .collect()
    }

    /// The descriptor that is readable when a signal came (for a wait outside
    /// [`Process::audit`]; see [`Process::interrupted`]).
    pub fn signal_fd(&self) -> RawFd {
        self.signals.as_raw_fd()
    }

    /// Takes in the signals that came since the last job: whether the run is
    /// being interrupted. The interrupt is kept for the next audit.
    pub fn interrupted(&mut self) -> bool {
        if self.held.is_none() {
            self.held = self.drain_for_interrupt();
        }
        self.held.is_some()
    }

    /// The signals that came: an interrupt, if one did; a pause, until a
    /// SIGCONT after it, is kept for the next test (a child's end belonged to
    /// the job before).
    fn drain_for_interrupt(&mut self) -> Option<i32> {
        let mut interrupt = None;
        for signal in self.signals.drain() {
            match signal {
                libc::SIGTSTP => self.paused = true,
                libc::SIGCONT => self.paused = false,
                libc::SIGINT | libc::SIGTERM | libc::SIGHUP => {
                    interrupt = interrupt.or(Some(signal))
                }
                _ => {}
            }
        }
        interrupt
    }

    /// This process keeps to `cpu` (the caller has pinned it); the tests it
    /// starts itself run on `all`.
    pub fn keep_to_cpu(&mut self, cpu: usize, all: Vec<u8>) {
        self.pinned = Some((cpu, all));
    }

    /// Whether the run is ending: an interrupt came, now or during a job.
    pub fn told_to_stop(&mut self) -> bool {
        self.interrupted() || self.stopped
    }

    /// Whether it can take another job: a shared log it failed to write may
    /// hold half a segment, so its jobs must go to an auditor with a new log.
    pub fn can_go_on(&self) -> bool {
        !self.log_failed
    }

    /// The job's log: a file of its own, or the next segment of the shared one.
    fn job_log(&mut self, config: &Config) -> io::Result<JobLog> {
        let job = match config.place.segment {
            Some(job) => job,
            None => return JobLog::create(&config.place.log),
        };
        let writer = match self.segments.take() {
            Some((path, writer)) if path == config.place.log => writer,
            _ => Writer::append(&config.place.log)?,
        };
        Ok(JobLog::segment(writer, job))
    }

    /// Audits one job to its end and returns its status (the `EXIT_` codes),
    /// hearing `slot` meanwhile. Every process the test started is gone when
    /// it returns.
    pub fn audit(&mut self, config: Config, slot: Option<&mut dyn SlotSocket>) -> i32 {
        // Signals that came between jobs: an interrupt still counts (the run is
        // ending). With one held, what came since belonged to the wait before.
        let fresh = self.drain_for_interrupt();
        let interrupted = self.held.take().or(fresh);
        self.reap_left_running();
        let log = match self.job_log(&config) {
            Ok(log) => log,
            Err(e) => {
                self.log_failed = true;
                errln!(
                    "proctor: auditor for {}: unable to create its job log {}: {}",
                    config.file,
                    config.place.log.display(),
                    e
                );
                return EXIT_BROKEN;
            }
        };
        let mut auditor = Auditor {
            log,
            parser: Parser::new(),
            started: Instant::now(),
            first_output: None,
            stopper: Stopper::new(config.event_timeout, self.spared(), config.leftovers),
            chunk: vec![0u8; FIRST_CHUNK],
            err_chunk: Vec::new(),
            last_lines: Default::default(),
            extra_reasons: Vec::new(),
            not_started: false,
            pinned: self.pinned.clone(),
            pause_at_start: std::mem::take(&mut self.paused),
        };
        if let Some(signal) = interrupted {
            auditor.stopper.interrupt(signal == libc::SIGINT);
        }
        let code = auditor
            .audit(&config, &self.signals, slot)
            .unwrap_or_else(|e| {
                errln!(
                    "proctor: auditor for {}: {}; its test was stopped",
                    config.file,
                    e
                );
                auditor.stopper.kill_everything();
                EXIT_BROKEN
            });
        if auditor.stopper.interrupted() {
            self.stopped = true;
        }
        self.left_running
            .extend(auditor.stopper.left_running().iter().map(|p| p.pid));
        if code == EXIT_BROKEN {
            self.log_failed = true;
        } else if config.place.segment.is_some() {
            self.segments = Some((config.place.log.clone(), auditor.log.into_writer()));
        }
        if code == EXIT_GIVE_BACK && config.place.segment.is_none() {
            // Nothing happened: the job starts again from scratch later. (As a
            // segment it wrote nothing: the shared log goes on as it was.)
            let _ = std::fs::remove_file(&config.place.log);
        }
        if auditor.stopper.left_running().is_empty() {
            tidy_tmp(&config);
        } else {
            // Left for what still runs; it goes with the run directory, or
            // (a standing auditor's, in the state directory) is emptied by
            // the next run to take it.
            self.tmp_held = true;
        }
        code
    }
}

/// Leaves the test's TMPDIR as the next test should find it: a TMPDIR of its
/// own is removed (kept with `keep`); a reused one is left empty (with `keep`,
/// what the test left is moved next to its log, as `N-T.tmp`).
fn tidy_tmp(config: &Config) {
    if !config.place.tmp_reused {
        if !config.keep && std::fs::remove_dir(&config.place.tmp).is_err() {
            let _ = std::fs::remove_dir_all(&config.place.tmp);
        }
        return;
    }
    // Most tests leave it empty: a look, not a rebuild.
    let empty = std::fs::read_dir(&config.place.tmp).map(|mut entries| entries.next().is_none());
    if let Ok(true) = empty {
        return;
    }
    // Its contents go, not the directory: the runner's lock is on it.
    if config.keep {
        let kept = config.place.log.with_extension("tmp");
        if std::fs::create_dir(&kept).is_ok() {
            for entry in std::fs::read_dir(&config.place.tmp)
                .into_iter()
                .flatten()
                .flatten()
            {
                let _ = std::fs::rename(entry.path(), kept.join(entry.file_name()));
            }
        }
    }
    let _ = empty_dir(&config.place.tmp);
}

/// Removes what is in `dir`, and not `dir` itself.
pub fn empty_dir(dir: &std::path::Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The last few lines the test printed, in buffers reused line after line.
#[derive(Default)]
struct LastLines {
    lines: [Vec<u8>; LAST_LINES],
    next: usize,
    count: usize,
}

impl LastLines {
    fn push(&mut self, line: &[u8]) {
        let slot = &mut self.lines[self.next];
        slot.clear();
        slot.extend_from_slice(&line[..line.len().min(LAST_LINE_BYTES)]);
        self.next = (self.next + 1) % LAST_LINES;
        self.count = (self.count + 1).min(LAST_LINES);
    }

    fn quoted(&self) -> String {
        let first = (self.next + LAST_LINES - self.count) % LAST_LINES;
        (0..self.count)
            .map(|i| {
                format!(
                    "{:?}",
                    String::from_utf8_lossy(&self.lines[(first + i) % LAST_LINES])
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct Auditor {
    log: JobLog,
    parser: Parser,
    started: Instant,
    first_output: Option<Instant>,
    stopper: Stopper,
    chunk: Vec<u8>,
    /// Where stderr is read when stdout is read in the same round (allocated
    /// the first time that happens).
    err_chunk: Vec<u8>,
    last_lines: LastLines,
    extra_reasons: Vec<String>,
    /// The test never started (see [`Test::NotStarted`]).
    not_started: bool,
    /// See [`Process::keep_to_cpu`].
    pinned: Option<(usize, Vec<u8>)>,
    /// The run was paused as the test was being started: it starts paused.
    pause_at_start: bool,
}

impl Auditor {
    fn audit(
        &mut self,
        config: &Config,
        signals: &SignalPipe,
        slot: Option<&mut dyn SlotSocket>,
    ) -> io::Result<i32> {
        self.started = config.started.unwrap_or_else(Instant::now);
        let (pid, streams) = match &config.test {
            Test::Spawn { spec, merge } => match self.spawn(spec, *merge)? {
                Ok(started) => started,
                Err(e) if temporary(&e) => return Ok(EXIT_GIVE_BACK),
                Err(e) => {
                    self.extra_reasons
                        .push(format!("unable to start the test: {}", e));
                    self.log.job_start(&config.file, 0, &config.command)?;
                    // As a shell reports it: 127 for a program that is not there,
                    // 126 for one that cannot be run.
                    let code = if e.raw_os_error() == Some(libc::ENOENT) {
                        127
                    } else {
                        126
                    };
                    return self.finish(config, Exit::Code(code), Default::default());
                }
            },
            Test::NotStarted { reason } => {
                // Only its end: a job that never started has no start or exit
                // to report (as when the runner cannot start one).
                self.not_started = true;
                self.extra_reasons.push(reason.clone());
                return self.finish(config, Exit::Code(255), Default::default());
            }
            Test::Adopted {
                pid,
                stdout,
                stderr,
            } => {
                let mut streams = vec![stream(sys::take_fd(*stdout)?, "stdout")];
                if let Some(fd) = stderr {
                    streams.push(stream(sys::take_fd(*fd)?, "stderr"));
                }
                (*pid, streams)
            }
        };
        self.stopper.started(pid);
        if self.pause_at_start {
            self.stopper.pause();
        }
        self.watch(config, signals, pid, streams, slot)
    }

    /// Starts the test on fresh pipes; the inner error is the test's (it could
    /// not be started), the outer one the auditor's.
    fn spawn(
        &mut self,
        spec: &ExecSpec,
        merge: bool,
    ) -> io::Result<io::Result<(libc::pid_t, Vec<Stream>)>> {
        let devnull = patiently(|| std::fs::File::open("/dev/null"))?;
        let (out_read, out_write) = patiently(sys::pipe)?;
        let err_pipe = if merge {
            None
        } else {
            Some(patiently(sys::pipe)?)
        };
        let err_write_fd = err_pipe
            .as_ref()
            .map_or(out_write.as_raw_fd(), |(_, w)| w.as_raw_fd());
        // Briefly: an auditor that waits holds a process slot itself, so past a
        // second it gives the job back instead (see EXIT_GIVE_BACK).
        // The test runs on all the run's CPUs, not the one this auditor keeps
        // to: the spawn inherits this process's set while it is widened.
        if let Some((_, all)) = &self.pinned {
            let _ = sys::set_cpu_mask(all);
        }
        let spawned = patiently_for(Duration::from_secs(1), || {
            sys::spawn(
                spec,
                devnull.as_raw_fd(),
                out_write.as_raw_fd(),
                err_write_fd,
            )
        });
        if let Some((cpu, _)) = &self.pinned {
            let _ = sys::pin_to_cpu(*cpu);
        }
        let pid = match spawned {
            Ok(pid) => pid,
            Err(e) => return Ok(Err(e)),
        };
        // Both sides set the group, so it exists before either relies on it.
        let _ = sys::setpgid(pid, pid);
        let mut streams = vec![stream(out_read, "stdout")];
        if let Some((read, _write)) = err_pipe {
            streams.push(stream(read, "stderr"));
        }
        // The write ends close here: only the test holds them now.
        Ok(Ok((pid, streams)))
    }

    fn watch(
        &mut self,
        config: &Config,
        signals: &SignalPipe,
        pid: libc::pid_t,
        mut streams: Vec<Stream>,
        mut slot: Option<&mut dyn SlotSocket>,
    ) -> io::Result<i32> {
        for s in &streams {
            sys::set_nonblocking(s.fd.as_raw_fd())?;
        }
        self.log.job_start(&config.file, pid, &config.command)?;
        // A test handed over by a stage may have ended before this process could
        // hear its SIGCHLD.
        if self.stopper.check_exit()? {
            self.log.test_exit(unix_now())?;
        }

        let mut lifeline_open = true;
        let hear_slot_from = self.started + SLOT_UNHEARD;
        let mut hearing_slot = false;
        let mut watched = PollSet::default();
        while !self.stopper.done(streams.is_empty()) {
            watched.clear();
            for (i, s) in streams.iter().enumerate() {
                watched.add(Watched::Stream(i), &s.fd, libc::POLLIN);
            }
            watched.add(Watched::Signals, signals, libc::POLLIN);
            if lifeline_open {
                watched.add(Watched::Lifeline, &config.lifeline, libc::POLLIN);
            }
            let mut timeout = self.stopper.poll_timeout(streams.is_empty());
            if let Some(slot) = &slot {
                hearing_slot = hearing_slot || Instant::now() >= hear_slot_from;
                if hearing_slot {
                    watched.add(Watched::Slot, &slot.fd(), libc::POLLIN);
                } else {
                    timeout = no_later_than(timeout, hear_slot_from);
                }
            }
            watched.poll(timeout)?;
            let now_unix = unix_now();
            let stamp = json::Stamp::new(now_unix);

            let mut ended = Vec::new();
            // At most two streams (stdout, stderr): which are ready, without
            // a list made each round.
            let ready = |i: usize| i < streams.len() && watched.ready(Watched::Stream(i));
            let (first, second) = (ready(0), ready(1));
            if first || second {
                self.stopper.activity();
            }
            if first && second {
                // Both at once: which came first is lost, so they are read
                // together and interleaved (see lines::split_interleaved).
                let (out, err) = streams.split_at_mut(1);
                let open = self.read_both(&mut out[0], &mut err[0], &stamp)?;
                ended.extend((0..2).filter(|&i| !open[i]));
            } else if let Some(i) = [first, second].iter().position(|&r| r) {
                if !self.read_stream(&mut streams[i], &stamp)? {
                    ended.push(i);
                }
            }
            for i in ended.into_iter().rev() {
                let mut stream = streams.remove(i);
                self.end_stream(&mut stream, &stamp)?;
            }
            if watched.ready(Watched::Signals) {
                let signals = signals.drain();
                // A pause whose SIGCONT came in the same batch is over: pausing
                // now would wait for a SIGCONT that has come and gone.
                let paused = signals
                    .iter()
                    .rev()
                    .find(|s| matches!(**s, libc::SIGTSTP | libc::SIGCONT))
                    == Some(&libc::SIGTSTP);
                for signal in signals {
                    match signal {
                        libc::SIGCHLD => {
                            if self.stopper.check_exit()? {
                                // The test is done; what is left is auditing.
                                self.log.test_exit(now_unix)?;
                            }
                        }
                        libc::SIGTSTP | libc::SIGCONT => {}
                        libc::SIGINT => self.stopper.interrupt(true),
                        _ => self.stopper.interrupt(false),
                    }
                }
                if paused {
                    self.stopper.pause();
                }
            }
            if watched.ready(Watched::Lifeline) {
                lifeline_open = false;
                self.stopper.stop(Stop::RunnerGone);
            }
            if watched.ready(Watched::Slot) && !slot.as_mut().map_or(true, |s| s.readable()) {
                slot = None;
            }
            self.stopper.check_timers(!streams.is_empty());
            self.log.flush()?;
        }
        let (exit, usage) = self.stopper.reap()?;
        let exit = match exit {
            ExitInfo::Code(c) => Exit::Code(c),
            ExitInfo::Signal { signal, core } => Exit::Signal { signal, core },
        };
        self.finish(config, exit, usage)
    }

    /// Reads what the stream has; false at end of file.
    fn read_stream(&mut self, stream: &mut Stream, stamp: &json::Stamp) -> io::Result<bool> {
        let n = match fill(stream, &mut self.chunk)? {
            Some(0) => return Ok(false),
            Some(n) => n,
            None => return Ok(true),
        };
        self.output_came();
        let mut parser = if stream.name == "stdout" {
            Some(&mut self.parser)
        } else {
            None
        };
        let log = &mut self.log;
        let last_lines = &mut self.last_lines;
        let mut result = Ok(());
        stream.lines.split(&self.chunk[..n], |line, dropped| {
            if result.is_ok() {
                last_lines.push(line);
                result = log.line(stream.name, stamp, line, dropped, parser.as_deref_mut());
            }
        });
        grow_if_filled(&mut self.chunk, n);
        result.map(|_| true)
    }

    /// Reads what stdout (`out`) and stderr (`err`) have, both ready in the
    /// same round, and logs their lines interleaved; whether each is still open.
    fn read_both(
        &mut self,
        out: &mut Stream,
        err: &mut Stream,
        stamp: &json::Stamp,
    ) -> io::Result<[bool; 2]> {
        let out_n = fill(out, &mut self.chunk)?;
        let err_n = fill(err, &mut self.err_chunk)?;
        let (out_len, err_len) = (out_n.unwrap_or(0), err_n.unwrap_or(0));
        if out_len + err_len > 0 {
            self.output_came();
        }
        let parser = &mut self.parser;
        let log = &mut self.log;
        let last_lines = &mut self.last_lines;
        let names = [out.name, err.name];
        let mut result = Ok(());
        lines::split_interleaved(
            (&mut out.lines, &self.chunk[..out_len]),
            (&mut err.lines, &self.err_chunk[..err_len]),
            |side, line, dropped| {
                if result.is_ok() {
                    last_lines.push(line);
                    let parser = if names[side] == "stdout" {
                        Some(&mut *parser)
                    } else {
                        None
                    };
                    result = log.line(names[side], stamp, line, dropped, parser);
                }
            },
        );
        grow_if_filled(&mut self.chunk, out_len);
        grow_if_filled(&mut self.err_chunk, err_len);
        result.map(|_| [out_n != Some(0), err_n != Some(0)])
    }

    fn output_came(&mut self) {
        if self.first_output.is_none() {
            self.first_output = Some(Instant::now());
        }
    }

    /// A stream hit end of file: its last line may have had no newline.
    fn end_stream(&mut self, stream: &mut Stream, stamp: &json::Stamp) -> io::Result<()> {
        let mut parser = if stream.name == "stdout" {
            Some(&mut self.parser)
        } else {
            None
        };
        let log = &mut self.log;
        let mut result = Ok(());
        stream.lines.finish(|line, dropped| {
            if result.is_ok() {
                result = log.line(stream.name, stamp, line, dropped, parser.as_deref_mut());
            }
        });
        result
    }

    fn finish(&mut self, config: &Config, exit: Exit, usage: sys::Rusage) -> io::Result<i32> {
        let ended = Instant::now();
        let summary = self.parser.finish();
        let errors: Vec<String> = self.parser.take_errors().collect();
        for message in errors {
            self.log.parse_error(&message)?;
        }
        let judged = if config.ignore_exit {
            Exit::Code(0)
        } else {
            exit.clone()
        };
        let mut verdict = tap::judge(&summary, &judged);
        let last = self.last_lines.quoted();
        if let Some(reason) = self.stopper.reason(&last) {
            verdict.reasons.insert(0, reason);
            verdict.outcome = Outcome::Fail;
        }
        if let Some(note) = self.stopper.leak_note() {
            verdict.notes.push(note);
        }
        if self.not_started {
            // No test ran: what its exit and missing plan would say is not so.
            verdict.reasons.clear();
        }
        for reason in self.extra_reasons.drain(..) {
            verdict.reasons.push(reason);
            verdict.outcome = Outcome::Fail;
        }
        let exited_at = self.stopper.exited_at();
        let seconds = |a: Instant, b: Option<Instant>| {
            b.map(|b| b.saturating_duration_since(a).as_secs_f64())
        };
        let times = record::Times {
            wall: seconds(self.started, exited_at.or(Some(ended))).unwrap_or(0.0),
            startup: seconds(self.started, self.first_output),
            audit: exited_at.map(|e| ended.saturating_duration_since(e).as_secs_f64()),
        };
        if !self.not_started {
            self.log.job_exit(&exit, &times, &usage)?;
        }
        let retry = config.retry;
        let will_retry = match verdict.outcome {
            Outcome::Fail => retry.on_fail || (retry.plain_on_fail && !self.not_started),
            Outcome::Pass => retry.plain_on_pass,
            Outcome::Skip => false,
        } && summary.bail.is_none()
            && !self.stopper.interrupted();
        if let Some(loaded) = config.modules_report.as_deref().and_then(loaded::take) {
            self.log.modules(&loaded)?;
        }
        self.log.job_end(
            &config.file,
            &verdict,
            &summary,
            times.wall,
            will_retry,
            self.stopper.left_running(),
        )?;
        self.log.finish()?;
        Ok(match verdict.outcome {
            _ if summary.bail.is_some() => EXIT_BAIL,
            Outcome::Pass => EXIT_PASS,
            Outcome::Skip => EXIT_SKIP,
            Outcome::Fail if self.not_started => EXIT_NOT_STARTED,
            Outcome::Fail => EXIT_FAIL,
        })
    }
}

/// A poll's timeout in milliseconds (-1: none), shortened to end at `at`.
fn no_later_than(timeout_ms: i32, at: Instant) -> i32 {
    let until = stop::ms_until(at);
    if timeout_ms < 0 {
        until
    } else {
        timeout_ms.min(until)
    }
}

/// Reads what `stream` has into `buffer`: None when it had nothing after all,
/// Some(0) at end of file.
fn fill(stream: &Stream, buffer: &mut Vec<u8>) -> io::Result<Option<usize>> {
    if buffer.is_empty() {
        buffer.resize(FIRST_CHUNK, 0);
    }
    match sys::read(stream.fd.as_raw_fd(), buffer) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// A read that filled `buffer` says the test is chatty: the next reads are
/// bigger, up to [`MAX_CHUNK`].
fn grow_if_filled(buffer: &mut Vec<u8>, read: usize) {
    if read == buffer.len() && buffer.len() < MAX_CHUNK {
        let bigger = buffer.len() * 4;
        buffer.resize(bigger, 0);
    }
}

/// Whether `e` is a lack of processes or memory that passes by itself.
fn temporary(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::ENOMEM))
}

/// Runs `f`, waiting out a temporary lack of processes, memory or descriptors
/// (for up to half a minute) rather than failing the job for it.
fn patiently<T>(f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    patiently_for(Duration::from_secs(30), f)
}

/// The same, for at most `patience`.
fn patiently_for<T>(patience: Duration, mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut delay = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    loop {
        match f() {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EAGAIN)
                        | Some(libc::ENOMEM)
                        | Some(libc::EMFILE)
                        | Some(libc::ENFILE)
                ) =>
            {
                if waited >= patience {
                    return Err(e);
                }
                std::thread::sleep(delay);
                waited += delay;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}
