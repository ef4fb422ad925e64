//! The overlord: in the `proctor test` process, it follows runner.ljsonl and every
//! job log as raw bytes, writes the event log (job records carried through byte for
//! byte, with the job id put after the type), hands events to the renderers, keeps
//! the totals, and removes each job's directory once its log is read (unless -k).
//! A job whose log ends without the end marker fails as "auditor lost"; a runner
//! that dies leaves every unfinished job failed as "runner lost". It decodes only
//! job_end, job_exit and what renderers ask for. The one record it does not carry
//! through as written is the final job_end of a flaky file (see [`flaky`]) or
//! of one that preload judged otherwise (see [`preload`]).

mod flaky;
mod leftovers;
mod preload;
mod replay;
mod segments;
mod terminal;
mod totals;

pub use terminal::Keyboard;

use crate::event::write::{self, JobEnd};
use crate::event::{splice_job, Event, Interest, JobResult, Kind, STOPPED_BY_KEY};
use crate::ljsonl::{Next, Tail};
use crate::render::Renderer;
use crate::state::modules::FileModules;
use crate::state::FileResult;
use crate::sys::{self, PollSet, SignalPipe};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::os::unix::io::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Instant;
use totals::Totals;

/// How often live job logs are read when nothing else wakes the overlord.
const TAIL_INTERVAL_MS: i32 = 100;

/// What the overlord waits on between its reads of the logs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watched {
    /// The runner's wake-up channel, which closes when the runner ends.
    Runner,
    Signals,
    /// The terminal's keys, when they are read.
    Keyboard,
}

/// Where the event log goes: each sink gets every line.
pub struct Sink {
    pub name: String,
    pub out: Box<dyn Write>,
}

impl Sink {
    /// What a write to this sink came to: the error that ends the run, if
    /// any. A reader that went away (`--log - | head`, a named pipe's reader
    /// ended) is no error: the sink is dropped and the run goes on, its log
    /// still whole in the state directory.
    fn failed(&mut self, result: io::Result<()>) -> Option<String> {
        match result {
            Err(e) if crate::say::reader_gone(&e) => {
                self.out = Box::new(io::sink());
                None
            }
            Err(e) => Some(format!(
                "unable to write the event log to {}: {}",
                self.name, e
            )),
            Ok(()) => None,
        }
    }
}

struct LiveJob {
    file: String,
    /// Its log, which the auditor writes.
    log: PathBuf,
    /// Its log is a segment of its auditor's log, not a file of its own.
    segment: bool,
    /// Its own directory, when it has one (a staged job), to remove at its end.
    dir: Option<PathBuf>,
    /// `,"job":N,"try":M`, put after the type of each of its records.
    prefix: Vec<u8>,
}

/// Everything that receives events: the event log sinks, the renderers, the totals.
struct Output {
    sinks: Vec<Sink>,
    renderers: Vec<Box<dyn Renderer>>,
    /// What each renderer wants (asked once: it is fixed for a run).
    interests: Vec<Interest>,
    /// What any of them wants.
    interest: Interest,
    /// The renderers that asked for a replay of the job that just ended, with
    /// what they want of it.
    replays: Vec<(usize, Interest)>,
    totals: Totals,
    /// Says which files are flaky, and whether that fails them.
    flaky: flaky::Flaky,
    /// Says which files preload judged otherwise than a fresh perl.
    preload: preload::Preload,
    /// What the tests left running, to end with the run.
    leftovers: leftovers::Leftovers,
    scratch: Vec<u8>,
    sink_error: Option<String>,
    /// Jobs queued that have no job_end yet, with their file.
    open_jobs: BTreeMap<(u64, u32), String>,
    /// Jobs whose test left something running, which may use its TMPDIR:
    /// their directories stay until the run's is removed.
    left_running: HashSet<(u64, u32)>,
}

impl Output {
    /// Writes one event-log line and hands it to whoever wants it.
    fn emit(&mut self, line: &[u8]) {
        self.emit_from(line, None);
    }

    /// Writes one event-log line and hands it to whoever wants it; a job_end
    /// also to whoever asks for a replay of its job, from `log`.
    fn emit_from(&mut self, line: &[u8], log: Option<&replay::JobLog>) {
        let (judged_by_preload, judged_flaky): (Vec<u8>, Vec<u8>);
        let mut event = Event::new(line);
        if event.kind() == Kind::JobEnd {
            let (preloaded, rewritten) = self.preload.judge(&mut event);
            if let Some(rewritten) = rewritten {
                judged_by_preload = rewritten;
                event = Event::new(&judged_by_preload);
            }
            if let Some(rewritten) = self.flaky.judge(&mut event, preloaded) {
                judged_flaky = rewritten;
                event = Event::new(&judged_flaky);
            }
        }
        let line = event.raw();
        for sink in &mut self.sinks {
            if self.sink_error.is_none() {
                let result = sink
                    .out
                    .write_all(line)
                    .and_then(|_| sink.out.write_all(b"\n"));
                self.sink_error = sink.failed(result);
            }
        }
        let kind = event.kind();
        match kind {
            Kind::JobEnd => {
                if let Some(job) = event.job() {
                    self.open_jobs.remove(&job);
                }
                self.totals.job_end(&mut event);
                if self.leftovers.job_end(&mut event) {
                    self.left_running.extend(event.job());
                }
            }
            Kind::JobExit => self.totals.job_exit(&mut event),
            Kind::Modules => {
                if let Some(file) = event.job().and_then(|job| self.open_jobs.get(&job)) {
                    let file = file.clone();
                    self.totals.modules(file, &mut event);
                }
            }
            Kind::JobQueued => {
                if let (Some(job), Some(file)) = (event.job(), event.str("file").map(String::from))
                {
                    self.open_jobs.insert(job, file);
                }
            }
            Kind::Bail => {
                if let Some(job) = event.job() {
                    let file = self.open_jobs.get(&job).cloned().unwrap_or_default();
                    self.totals.bail(&file, &mut event);
                }
            }
            _ => {}
        }
        if self.interest.contains(kind) {
            for (r, interest) in self.renderers.iter_mut().zip(&self.interests) {
                if interest.contains(kind) {
                    report(r.event(&mut event));
                }
            }
        }
        if kind == Kind::JobEnd {
            self.replay(&mut event, log);
        }
    }

    /// Asks the renderers whether they want the ended job replayed, and
    /// replays it to those that do, before its log can be deleted.
    fn replay(&mut self, end: &mut Event, log: Option<&replay::JobLog>) {
        self.replays.clear();
        for (i, r) in self.renderers.iter_mut().enumerate() {
            if let Some(wanted) = r.wants_replay(end) {
                self.replays.push((i, wanted));
            }
        }
        if !self.replays.is_empty() {
            replay::replay(&mut self.renderers, &self.replays, log);
        }
    }

    /// Emits a job record from a job log, with its job's `prefix` (the job and
    /// try) put after the type.
    fn emit_job_record(&mut self, record: &[u8], log: &replay::JobLog) {
        let mut line = std::mem::take(&mut self.scratch);
        line.clear();
        splice_job(&mut line, record, log.prefix);
        self.emit_from(&line, Some(log));
        self.scratch = line;
    }

    /// A job_end the job could not write itself; `log` is what it wrote.
    fn synthesize_end(
        &mut self,
        job: (u64, u32),
        file: &str,
        reason: &str,
        log: Option<&replay::JobLog>,
    ) {
        let end = JobEnd {
            job: Some(job),
            ..JobEnd::new(file, JobResult::Fail, Cow::Owned(vec![reason.to_string()]))
        };
        let mut out = Vec::new();
        write::job_end(&mut out, &end);
        self.emit_from(&out, log);
    }

    /// Calls `f` on every renderer; a renderer that cannot write is reported once
    /// per failure and the run goes on.
    fn each_renderer(&mut self, mut f: impl FnMut(&mut dyn Renderer) -> io::Result<()>) {
        for r in &mut self.renderers {
            report(f(r.as_mut()));
        }
    }

    fn flush(&mut self) {
        for sink in &mut self.sinks {
            if self.sink_error.is_none() {
                let result = sink.out.flush();
                self.sink_error = sink.failed(result);
            }
        }
    }
}

/// A renderer that cannot write is reported, and the run goes on; a reader that
/// went away (a closed pipe) is not worth a word.
fn report(result: io::Result<()>) {
    if let Err(e) = result {
        if e.kind() != io::ErrorKind::BrokenPipe {
            errln!("proctor: unable to show the run: {}", e);
        }
    }
}

pub struct Overlord {
    out: Output,
    runner_log: Option<Tail>,
    runner_log_path: PathBuf,
    runner_pid: libc::pid_t,
    runner_exited: bool,
    /// How the local runner ended, once reaped: said when it died too soon.
    runner_end: Option<sys::ExitInfo>,
    /// The runner died before its log ended: what run_end says went wrong.
    runner_lost: Option<String>,
    wake: OwnedFd,
    jobs: HashMap<(u64, u32), LiveJob>,
    segments: segments::Segments,
    keep: bool,
    started: Instant,
    interrupted: Option<String>,
    keyboard: Option<Keyboard>,
    remote: bool,
    /// Starting new jobs is paused (the `p` key).
    paused: bool,
    /// What the tests left running is ended with the run (see
    /// `audit::Leftovers`).
    end_leftovers: bool,
}

impl Overlord {
    pub fn new(
        sinks: Vec<Sink>,
        renderers: Vec<Box<dyn Renderer>>,
        run_dir: PathBuf,
        runner_pid: libc::pid_t,
        wake: OwnedFd,
        keep: bool,
    ) -> Overlord {
        let mut renderers = renderers;
        for r in &mut renderers {
            r.replays_offered();
        }
        let interests: Vec<Interest> = renderers.iter().map(|r| r.interest()).collect();
        let interest = interests
            .iter()
            .fold(Interest::NONE, |all, i| all.union(*i));
        Overlord {
            out: Output {
                sinks,
                renderers,
                interests,
                interest,
                replays: Vec::new(),
                totals: Totals::default(),
                flaky: flaky::Flaky::default(),
                preload: preload::Preload::default(),
                leftovers: Default::default(),
                scratch: Vec::with_capacity(4096),
                sink_error: None,
                open_jobs: BTreeMap::new(),
                left_running: HashSet::new(),
            },
            runner_log: None,
            runner_log_path: run_dir.join("runner.ljsonl"),
            runner_pid,
            runner_exited: false,
            runner_end: None,
            runner_lost: None,
            wake,
            jobs: HashMap::new(),
            segments: segments::Segments::default(),
            keep,
            started: Instant::now(),
            interrupted: None,
            keyboard: None,
            remote: false,
            paused: false,
            end_leftovers: true,
        }
    }

    /// `--flaky-fails`: files that pass only on a retry fail the run.
    pub fn flaky_fails(mut self, yes: bool) -> Overlord {
        self.out.flaky.fails = yes;
        self
    }

    /// The runner is not this process's child (a persistent runner's): its end
    /// shows as its wake channel closing.
    pub fn remote(mut self, yes: bool) -> Overlord {
        self.remote = yes;
        self
    }

    /// Whether what the tests left running is ended with the run, or left
    /// running (and named in run_end all the same).
    pub fn end_leftovers(mut self, yes: bool) -> Overlord {
        self.end_leftovers = yes;
        self
    }

    /// Reads keys from this keyboard while the run goes on.
    pub fn with_keyboard(mut self, keyboard: Option<Keyboard>) -> Overlord {
        self.keyboard = keyboard;
        self
    }

    /// Writes the run_start record.
    pub fn start(&mut self, run: &write::RunStart) {
        let mut out = Vec::new();
        write::run_start(&mut out, run, crate::sys::unix_now());
        self.out.emit(&out);
        self.out.flush();
    }

    /// Follows the run until the runner is done, then writes run_end, and
    /// returns the run's exit status. `at_end` gets the files' results as soon
    /// as they are final, while the runner still winds down.
    pub fn follow(
        mut self,
        signals: &SignalPipe,
        at_end: impl FnOnce(&[FileResult], &[FileModules]),
    ) -> io::Result<i32> {
        sys::set_nonblocking(self.wake.as_raw_fd())?;
        let mut runner_done = false;
        let mut watched = PollSet::default();
        while !runner_done {
            watched.clear();
            watched.add(Watched::Runner, &self.wake, libc::POLLIN);
            watched.add(Watched::Signals, signals, libc::POLLIN);
            if let Some(k) = &self.keyboard {
                watched.add(Watched::Keyboard, &k.fd(), libc::POLLIN);
            }
            let live = !self.jobs.is_empty() || self.keyboard.is_some();
            watched.poll(if live { TAIL_INTERVAL_MS } else { -1 })?;
            if watched.ready(Watched::Keyboard) {
                self.keys();
            }
            if watched.ready(Watched::Runner) {
                let mut buf = [0u8; 256];
                loop {
                    match sys::read(self.wake.as_raw_fd(), &mut buf) {
                        Ok(0) => {
                            // The runner is gone: a persistent runner's run
                            // has ended (or died); a local runner is reaped
                            // here too, in case it ended before its SIGCHLD
                            // could be heard (else the hang-up would wake
                            // this loop for ever).
                            if self.remote {
                                self.runner_exited = true;
                            } else {
                                self.reap_runner()?;
                            }
                            break;
                        }
                        Ok(n) if n > 0 => {}
                        _ => break,
                    }
                }
            }
            for signal in signals.drain() {
                match signal {
                    libc::SIGCHLD => self.reap_runner()?,
                    libc::SIGTSTP => self.suspend(),
                    libc::SIGCONT | libc::SIGWINCH => self.redraw(),
                    other => self.interrupt(other),
                }
            }
            runner_done = self.read_runner_log()?;
            self.read_live_jobs();
            if self.runner_exited && !runner_done {
                // The runner is gone, but its log did not end: read what is left.
                runner_done = self.read_runner_log()? || {
                    self.runner_lost();
                    true
                };
            }
            self.out.flush();
            self.out.each_renderer(|r| r.tick());
            if self.out.sink_error.is_some() && !self.runner_exited {
                let _ = sys::kill(self.runner_pid, libc::SIGTERM);
            }
        }
        at_end(&self.out.totals.results, &self.out.totals.modules);
        if !self.keep {
            self.segments.remove_all();
        }
        if !self.runner_exited {
            let _ = sys::reap_with_rusage(self.runner_pid);
        }
        Ok(self.finish())
    }

    /// Acts on the keys the user pressed, then lets the renderers show them.
    fn keys(&mut self) {
        let keys = match &self.keyboard {
            Some(k) => k.keys(),
            None => return,
        };
        for key in keys {
            match key {
                'p' => {
                    self.paused = !self.paused;
                    let signal = if self.paused {
                        libc::SIGUSR1
                    } else {
                        libc::SIGUSR2
                    };
                    let _ = sys::kill(self.runner_pid, signal);
                }
                'q' => {
                    // Said as what it was, not as the SIGINT it is sent as.
                    if self.interrupted.is_none() {
                        self.interrupted = Some(STOPPED_BY_KEY.to_string());
                    }
                    self.interrupt(libc::SIGINT);
                }
                _ => {}
            }
            let paused = self.paused;
            self.out.each_renderer(|r| r.key(key, paused));
        }
    }

    /// Ctrl-Z: give the terminal back, stop, and take it again when continued.
    fn suspend(&mut self) {
        self.out.each_renderer(|r| r.suspend());
        if let Some(k) = &self.keyboard {
            k.suspend();
        }
        sys::stop_self();
        self.redraw();
    }

    fn redraw(&mut self) {
        if let Some(k) = &self.keyboard {
            k.resume();
        }
        self.out.each_renderer(|r| r.redraw());
    }

    fn interrupt(&mut self, signal: i32) {
        if self.interrupted.is_none() {
            self.interrupted = Some(crate::tap::signal_name(signal).to_string());
        }
        // Ctrl-C reaches the runner through the terminal too; SIGTERM and SIGHUP
        // sent to this process alone are passed on.
        let _ = sys::kill(self.runner_pid, signal);
    }

    fn reap_runner(&mut self) -> io::Result<()> {
        while let Some((pid, how)) = sys::reap_any()? {
            if pid == self.runner_pid {
                self.runner_exited = true;
                self.runner_end = Some(how);
            }
        }
        Ok(())
    }

    /// Reads the runner's new records; true once its end marker is read.
    fn read_runner_log(&mut self) -> io::Result<bool> {
        if self.runner_log.is_none() {
            match Tail::open(&self.runner_log_path) {
                Ok(t) => self.runner_log = Some(t),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        loop {
            let read = self
                .runner_log
                .as_mut()
                .expect("opened above")
                .read_some()?;
            loop {
                let tail = self.runner_log.as_mut().expect("opened above");
                let record = match tail.decoder.next_record() {
                    Next::Record(r) => r.to_vec(),
                    Next::Pending => break,
                    Next::End => return Ok(true),
                    Next::Corrupt(why) => {
                        errln!("proctor: {}: {}", self.runner_log_path.display(), why);
                        return Ok(false);
                    }
                };
                self.runner_record(&record);
            }
            if read == 0 {
                return Ok(false);
            }
        }
    }

    fn runner_record(&mut self, record: &[u8]) {
        let mut event = Event::new(record);
        match (event.kind(), event.job()) {
            (Kind::JobLaunch, Some(job)) => {
                let file = event.str("file").unwrap_or("").to_string();
                // A staged job has a directory of its own; others a log (a
                // standing auditor's, or their own in jobs/) and a TMPDIR,
                // which their auditors tidy.
                let dir = event.str("dir").map(PathBuf::from);
                let log = match (event.str("log"), &dir) {
                    (Some(log), _) => PathBuf::from(log),
                    (None, Some(dir)) => dir.join("events.ljsonl"),
                    (None, None) => PathBuf::new(),
                };
                let segment = event.value()["segment"] == true;
                let staged = event.value()["staged"] == true;
                self.out.preload.launched(job, staged);
                self.segments.launched(&log, job, segment);
                self.out.emit(record);
                let mut prefix = Vec::with_capacity(24);
                write::job_fields(&mut prefix, job);
                self.jobs.insert(
                    job,
                    LiveJob {
                        file,
                        log,
                        segment,
                        dir,
                        prefix,
                    },
                );
            }
            (Kind::JobDone, Some(job)) => {
                self.job_done(job, record);
                self.out.emit(record);
            }
            (Kind::JobRequeued, Some(job)) => {
                // Given back before it started: its next launch is followed afresh,
                // and it has no segment in its auditor's log.
                if let Some(live) = self.jobs.remove(&job) {
                    if live.segment {
                        self.segments.withdraw(&live.log, job);
                    } else {
                        self.segments.close(&live.log);
                    }
                }
                self.out.emit(record);
            }
            _ => self.out.emit(record),
        }
    }

    fn read_live_jobs(&mut self) {
        let keys: Vec<(u64, u32)> = self.jobs.keys().copied().collect();
        for key in keys {
            self.read_job(key);
        }
    }

    /// Reads a job's new records, a bounded piece at a time so a fast log is
    /// never all in memory; true once its end marker is read.
    fn read_job(&mut self, key: (u64, u32)) -> bool {
        let (jobs, out) = (&self.jobs, &mut self.out);
        let log = match jobs.get(&key) {
            Some(j) => &j.log,
            None => return false,
        };
        self.segments.read(log, key, |of, start, record| {
            if let Some(j) = jobs.get(&of) {
                let log = replay::JobLog {
                    path: &j.log,
                    start,
                    prefix: &j.prefix,
                };
                out.emit_job_record(record, &log);
            }
        })
    }

    /// The auditor has exited: its log is complete, or it never will be.
    fn job_done(&mut self, key: (u64, u32), record: &[u8]) {
        let complete = self.read_job(key);
        let job = match self.jobs.remove(&key) {
            Some(j) => j,
            None => return,
        };
        if !complete && self.out.open_jobs.contains_key(&key) {
            let mut event = Event::new(record);
            let how = match (event.u64("auditor_status"), event.u64("auditor_signal")) {
                (_, Some(sig)) => format!("killed by {}", crate::tap::signal_name(sig as i32)),
                (Some(code), _) => format!("exit status {}", code),
                _ => "unknown".to_string(),
            };
            let reason = format!(
                "auditor lost: its log ends without the end marker (auditor {})",
                how
            );
            let log = self
                .segments
                .start_of(&job.log, key)
                .map(|start| replay::JobLog {
                    path: &job.log,
                    start,
                    prefix: &job.prefix,
                });
            self.out
                .synthesize_end(key, &job.file, &reason, log.as_ref());
        }
        if job.segment {
            // Shared with the auditor's other jobs: removed at the end.
            if !complete {
                self.segments.forget(&job.log, key);
            }
            return;
        }
        self.segments.close(&job.log);
        if !self.keep {
            match &job.dir {
                // The log is in it, as is whatever a kept TMPDIR still holds.
                Some(dir) if !self.out.left_running.contains(&key) => {
                    crate::state::remove_dir_holding(dir, &job.log)
                }
                _ => {
                    let _ = std::fs::remove_file(&job.log);
                }
            }
        }
    }

    fn runner_lost(&mut self) {
        let open: Vec<((u64, u32), String)> = self
            .out
            .open_jobs
            .iter()
            .map(|(k, f)| (*k, f.clone()))
            .collect();
        for (key, file) in open {
            if self.jobs.contains_key(&key) {
                // Its auditor may have finished its log before the runner died.
                if self.read_job(key) {
                    self.jobs.remove(&key);
                    continue;
                }
            }
            if self.out.open_jobs.contains_key(&key) {
                let segments = &self.segments;
                let log = self.jobs.get(&key).and_then(|live| {
                    segments
                        .start_of(&live.log, key)
                        .map(|start| replay::JobLog {
                            path: &live.log,
                            start,
                            prefix: &live.prefix,
                        })
                });
                self.out.synthesize_end(
                    key,
                    &file,
                    "runner lost: the runner died before this job finished",
                    log.as_ref(),
                );
            }
        }
        // Not a sink's failure: the log can still be written, and its
        // run_end says why the run ended here.
        self.runner_lost = Some(match self.runner_end.as_ref().and_then(lost_how) {
            Some(how) => format!(
                "runner lost: the runner died ({}) before finishing its log",
                how
            ),
            None => "runner lost: the runner died before finishing its log".to_string(),
        });
    }

    /// Writes run_end, ends the renderers, and returns the exit status.
    fn finish(mut self) -> i32 {
        let wall = self.started.elapsed().as_secs_f64();
        let harness_error = self
            .out
            .sink_error
            .clone()
            .or_else(|| self.runner_lost.clone());
        // Every job has ended: what they left running ends with the run.
        let ended = if self.end_leftovers {
            self.out.leftovers.end_all()
        } else {
            self.out.leftovers.still_running()
        };
        let record = self.out.totals.run_end_record(
            wall,
            self.interrupted.as_deref(),
            harness_error.as_deref(),
            &ended,
            self.end_leftovers,
        );
        self.out.emit(&record);
        self.out.flush();
        let mut harness_error = harness_error;
        for r in &mut self.out.renderers {
            // A report that could not be written (a JUnit file, say) is a
            // harness failure, not a silent pass.
            match r.finish(true) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe && harness_error.is_none() => {
                    harness_error = Some(e.to_string());
                }
                _ => {}
            }
        }
        if let Some(e) = &harness_error {
            errln!("proctor: {}", e);
            crate::error::EXIT_HARNESS
        } else if let Some(sig) = &self.interrupted {
            128 + signal_number(sig)
        } else if self.out.totals.passed_run(false) {
            crate::error::EXIT_PASS
        } else {
            crate::error::EXIT_FAIL
        }
    }
}

/// How a runner that died too soon ended, in words; an exit status 0 says nothing.
fn lost_how(end: &sys::ExitInfo) -> Option<String> {
    match *end {
        sys::ExitInfo::Signal { signal, .. } => {
            Some(format!("killed by {}", crate::tap::signal_name(signal)))
        }
        sys::ExitInfo::Code(0) => None,
        sys::ExitInfo::Code(code) => Some(format!("exit status {}", code)),
    }
}

fn signal_number(name: &str) -> i32 {
    match name {
        "SIGHUP" => libc::SIGHUP,
        "SIGINT" => libc::SIGINT,
        "SIGTERM" => libc::SIGTERM,
        STOPPED_BY_KEY => libc::SIGINT,
        _ => 0,
    }
}
