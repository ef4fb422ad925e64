//! The runner: a single-threaded poll(2) loop that holds the queue and the job
//! slots, hands each job to an auditor (a standing one per slot, forked by its
//! launcher as the runner's own child; in small runs, one forked for the job), and
//! learns each verdict from the auditor's status (its exit status through SIGCHLD
//! and a self-pipe, or four bytes on a standing auditor's socket). It writes what
//! it does to runner.ljsonl and wakes the overlord after each batch. A busy
//! standing auditor is sent its next job ahead ([`ahead`]), so that its next
//! test starts without waiting for the runner. It never
//! kills tests itself: on a bail-out or an interrupt it asks the auditors, and
//! they stop their tests.
//! Everything it writes is a record; it never formats text for people.

mod ahead;
mod prefork;
mod schedule;
pub mod slots;
mod stages;

use crate::auditor;
use crate::event::write::{self, JobEnd, JobLaunch};
use crate::event::JobResult;
use crate::job::audit;
use crate::job::plan::Plan;
use crate::job::Launch;
use crate::ljsonl::Writer;
use crate::stage::Stage;
use crate::sys::{self, ExitInfo, Fork, PollSet, SignalPipe};
pub use prefork::Prefork;
use schedule::{Occupancy, Pending, Queue};
use slots::Heard;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Why the runner stopped starting jobs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stopping {
    No,
    Bail,
    Signal(i32),
    OverlordGone,
}

/// What the main loop waits on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watched {
    Signals,
    /// The overlord's wake-up pipe.
    Overlord,
    /// The run's stage, while there is one.
    Stage,
    /// The standing auditors, one socket each.
    Standing,
}

struct Runner {
    plan_launch: Launch,
    run_dir: PathBuf,
    /// Where the run was asked from: where its tests run.
    cwd: PathBuf,
    log: Writer,
    scratch: Vec<u8>,
    queue: Queue,
    /// The jobs running, by their auditor's pid.
    running: HashMap<libc::pid_t, Pending>,
    /// Jobs sent ahead to busy standing auditors, by their auditor's pid.
    ahead: HashMap<libc::pid_t, ahead::Ahead>,
    standing: slots::Auditors,
    occupancy: Occupancy,
    retries: u32,
    retry_isolated: bool,
    /// `--preload-verify`: a preloaded try that passes is tried again without.
    preload_verify: bool,
    slots: usize,
    stopping: Stopping,
    /// SIGUSR1 pauses starting new jobs (the `p` key), SIGUSR2 resumes.
    paused: bool,
    lifeline_read: OwnedFd,
    _lifeline_write: OwnedFd,
    stages: stages::Stages,
    /// A fork has failed in this run (said once).
    fork_failed: bool,
    /// Out of processes: look again shortly, whether or not a slot frees.
    retry_soon: bool,
    /// `jobs/` exists in the run directory: made only for the first job that
    /// has files of its own (with -k, or without a standing auditor).
    jobs_dir: bool,
}

/// What a runner sets up as soon as it exists, before its plan: the lifeline
/// its auditors hold, and a first standing auditor, waiting for the run's
/// settings, so that it is ready when the first job comes.
pub struct Early {
    lifeline_read: OwnedFd,
    lifeline_write: OwnedFd,
    first: Option<slots::Waiting>,
}

/// Sets up the lifeline and forks the first auditor (a fork that fails is not
/// an error: the jobs then get auditors forked when they start).
pub fn start_early() -> io::Result<Early> {
    let (lifeline_read, lifeline_write) = sys::pipe()?;
    let first = slots::Waiting::fork(lifeline_read.as_raw_fd()).ok();
    Ok(Early {
        lifeline_read,
        lifeline_write,
        first,
    })
}

/// What a runner has once it knows its settings, before it reads its queue.
pub struct Prepared {
    lifeline_read: OwnedFd,
    lifeline_write: OwnedFd,
    standing: slots::Auditors,
}

/// From this many jobs a launcher forks a standing auditor for every slot;
/// below, only the first auditor stands and jobs beside it get auditors forked
/// for them alone, which costs less than a launcher for a few jobs.
pub const LAUNCHER_FROM_JOBS: usize = 16;

/// Whether standing auditors can have perls of their own here: the clone(2)
/// of sibling mode, and /proc to hand a test its pipes through.
pub fn siblings_possible() -> bool {
    sys::can_fork_siblings() && std::path::Path::new("/proc/self/fd").is_dir()
}

/// Tells the first auditor the run's settings (`head`, the plan's first line,
/// read as `plan`, whose jobs are still to come) and, for a run of `jobs`
/// jobs, starts the launcher. With `preload` (the run has a stage of its
/// own), every slot's auditor stands, with a preloaded perl of its own, where
/// this system allows it.
fn prepare(early: Early, head: &[u8], plan: &Plan, jobs: usize, preload: bool) -> Prepared {
    let count = plan.slots.clamp(1, jobs.max(1));
    let siblings = preload && early.first.is_some() && siblings_possible();
    // The launcher forks each auditor as this process's child (a sibling of
    // its own): where that cannot be, every job beside the first auditor's
    // gets an auditor forked for it alone.
    let launcher = sys::can_fork_siblings() && (jobs >= LAUNCHER_FROM_JOBS || siblings);
    let standing = slots::Auditors::start(
        early.first,
        head,
        &plan.run_dir,
        early.lifeline_read.as_raw_fd(),
        count,
        launcher,
        siblings,
    );
    Prepared {
        lifeline_read: early.lifeline_read,
        lifeline_write: early.lifeline_write,
        standing,
    }
}

/// Reads a plan written by [`Plan::write_to`]: its first line, the run's
/// settings, with which `early`'s auditor is told them and the launcher starts
/// (see [`prepare`]), then its jobs, so the launcher is forked before the queue
/// fills memory. `own_stage`: a stage in the plan is this run's own, and its
/// perl may preload in every slot's auditor. `Ok(None)`: no plan came at all.
pub fn read_plan(
    early: Early,
    input: &mut dyn io::BufRead,
    own_stage: bool,
) -> Result<Option<(Plan, Prepared)>, String> {
    let mut head = Vec::new();
    input
        .read_until(b'\n', &mut head)
        .map_err(|e| format!("unable to read the plan: {}", e))?;
    let (mut plan, job_count) = match Plan::read_head(&mut &head[..])? {
        Some(read) => read,
        None => return Ok(None),
    };
    let preload = own_stage && plan.launch.stage.is_some();
    let prepared = prepare(early, &head, &plan, job_count, preload);
    drop(head);
    plan.read_jobs(input)?;
    Ok(Some((plan, prepared)))
}

/// Runs the plan to its end. `wake` is the write end of a pipe the overlord polls;
/// its hang-up means the overlord is gone. Returns the runner's exit status.
pub fn run(plan: Plan, wake: RawFd, prepared: Prepared) -> i32 {
    run_with_stage(plan, wake, None, prepared)
}

/// As [`run`], with a stage that is already ready and belongs to someone else
/// (the persistent runner's): it is used, not started or stopped, and its perl
/// jobs are marked to run in it.
pub fn run_with_stage(
    mut plan: Plan,
    wake: RawFd,
    stage: Option<(Stage, Rc<Vec<CString>>)>,
    prepared: Prepared,
) -> i32 {
    if stage.is_some() {
        for job in &mut plan.jobs {
            job.staged = job.preloadable();
        }
    }
    if std::env::current_dir().ok().as_ref() != Some(&plan.cwd) {
        if let Err(e) = std::env::set_current_dir(&plan.cwd) {
            errln!(
                "proctor: runner: unable to enter {}: {}",
                plan.cwd.display(),
                e
            );
            return crate::error::EXIT_HARNESS;
        }
    }
    match start(plan, wake, stage, prepared) {
        Ok(code) => code,
        Err(e) => {
            errln!("proctor: runner: {}", e);
            crate::error::EXIT_HARNESS
        }
    }
}

/// `external`: a stage that outlives the run (the persistent runner's), with
/// the environment it was started with.
fn start(
    plan: Plan,
    wake: RawFd,
    external: Option<(Stage, Rc<Vec<CString>>)>,
    prepared: Prepared,
) -> io::Result<i32> {
    let signals = SignalPipe::install(&[
        libc::SIGCHLD,
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ])?;
    // Orphaned descendants of tests come here, not to init, and get reaped.
    let _ = sys::set_child_subreaper();
    let log = Writer::create(&plan.run_dir.join("runner.ljsonl"))?;
    // Started only when some job will run in it.
    let stage = plan
        .launch
        .stage
        .clone()
        .filter(|_| plan.jobs.iter().any(|j| j.staged));
    // The persistent runner's stage, ready already: the run starts none.
    let own_stage = external.is_none();
    let stages = match external {
        Some((stage, env)) => stages::Stages::external(stage, &env, &plan.launch.env),
        None => stages::Stages::new(stage),
    };
    let mut runner = Runner {
        plan_launch: plan.launch,
        run_dir: plan.run_dir,
        cwd: plan.cwd,
        log,
        scratch: Vec::with_capacity(1024),
        queue: Queue::default(),
        running: HashMap::new(),
        ahead: HashMap::new(),
        standing: prepared.standing,
        occupancy: Occupancy::default(),
        retries: plan.retries,
        retry_isolated: plan.retry_isolated,
        preload_verify: plan.preload_verify,
        slots: plan.slots.max(1),
        stopping: Stopping::No,
        paused: false,
        lifeline_read: prepared.lifeline_read,
        _lifeline_write: prepared.lifeline_write,
        stages,
        fork_failed: false,
        retry_soon: false,
        jobs_dir: false,
    };
    if own_stage && !runner.standing.siblings() {
        runner.start_stage()?;
    }
    for (i, spec) in plan.jobs.into_iter().enumerate() {
        runner.enqueue(Pending {
            job: i as u64 + 1,
            tries: 1,
            spec,
            alone: false,
            uncounted: 0,
        })?;
    }
    runner.main_loop(&signals, wake)?;
    runner.cancel_the_rest()?;
    runner.stop_stage();
    runner.log.finish()?;
    wake_overlord(wake);
    // The overlord has the whole run now; the auditors end while it reports.
    runner.standing.finish();
    Ok(0)
}

impl Runner {
    /// Queues one try of a job, and says so in the log.
    fn enqueue(&mut self, p: Pending) -> io::Result<()> {
        self.record(|out| write::job_queued(out, (p.job, p.tries), &p.spec.display))?;
        self.queue.push(p);
        Ok(())
    }

    /// Whether `--retry` (or the file's header) allows another try after
    /// the one it is on.
    fn may_retry(&self, p: &Pending) -> bool {
        let allowed = p.spec.headers.retries.unwrap_or(self.retries);
        p.tries - p.uncounted <= allowed
    }

    /// When this try is tried again: a preloaded try whose test fails is, at
    /// once and without preload, so that a file's verdict is the one it has
    /// without; under `--preload-verify` one that passes is as well.
    fn retry_of(&self, p: &Pending) -> audit::Retry {
        audit::Retry {
            on_fail: self.may_retry(p),
            plain_on_fail: p.spec.staged,
            plain_on_pass: p.spec.staged && self.preload_verify,
        }
    }

    /// The next try of a job whose try ended with `status`, if it has one:
    /// as [`Runner::retry_of`] said to its auditor.
    fn next_try(&self, done: Pending, status: i32) -> Option<Pending> {
        if self.stopping != Stopping::No {
            return None;
        }
        let retry = self.retry_of(&done);
        let plain = match status {
            audit::EXIT_FAIL if retry.plain_on_fail => true,
            audit::EXIT_PASS if retry.plain_on_pass => true,
            audit::EXIT_FAIL | audit::EXIT_NOT_STARTED if retry.on_fail => false,
            _ => return None,
        };
        let mut next = Pending {
            tries: done.tries.saturating_add(1),
            ..done
        };
        if plain {
            // Not a retry: the same try again, without preload, at once.
            next.spec.staged = false;
            next.uncounted += 1;
        } else {
            next.alone = self.retry_isolated;
        }
        Some(next)
    }

    fn main_loop(&mut self, signals: &SignalPipe, wake: RawFd) -> io::Result<()> {
        let mut overlord = Waker::new(wake);
        let mut watched = PollSet::default();
        loop {
            self.retry_soon = false;
            while self.stopping == Stopping::No && !self.paused && !self.retry_soon {
                match self
                    .queue
                    .next(&self.occupancy, self.ahead.len(), self.slots)
                {
                    // A job that could not be started waits for a slot to free.
                    Some(p) => self.launch(p)?,
                    None => break,
                }
            }
            self.send_ahead()?;
            self.reclaim_ahead();
            self.log.flush()?;
            overlord.wake_soon();
            let busy = !self.running.is_empty() || !self.ahead.is_empty() || self.stages.spawning();
            if !busy && (self.queue.is_empty() || self.stopping != Stopping::No) {
                return Ok(());
            }
            watched.clear();
            watched.add(Watched::Signals, signals, libc::POLLIN);
            // Nothing is read from it: only its hang-up is heard.
            watched.add(Watched::Overlord, &wake, 0);
            if let Some(fd) = self.stages.fd() {
                watched.add(Watched::Stage, &fd, libc::POLLIN);
            }
            for fd in self.standing.poll_fds() {
                watched.add(Watched::Standing, &fd, libc::POLLIN);
            }
            let due = self.stages.due().into_iter().chain(overlord.due()).min();
            watched.poll(poll_timeout(self.retry_soon, due))?;
            if watched.ready(Watched::Stage) {
                self.stage_messages()?;
            }
            for fd in watched.ready_fds(Watched::Standing) {
                match self.standing.heard_on(fd) {
                    Heard::Status(pid, status) => self.answered(pid, status)?,
                    Heard::GivenBack(pid, job) => self.given_back(pid, job),
                    Heard::Note(record) => self.log.record(&record)?,
                    Heard::Nothing => {}
                }
            }
            if watched.revents(Watched::Overlord) & (libc::POLLERR | libc::POLLHUP) != 0
                && self.stopping != Stopping::OverlordGone
            {
                // Nobody is left to read what we write: stop the tests and go.
                self.stop(Stopping::OverlordGone)?;
            }
            for signal in signals.drain() {
                match signal {
                    libc::SIGCHLD => self.reap()?,
                    libc::SIGUSR1 => {
                        self.paused = true;
                        self.withdraw_ahead();
                    }
                    libc::SIGUSR2 => self.paused = false,
                    _ => self.stop(Stopping::Signal(signal))?,
                }
            }
            self.stage_due()?;
        }
    }

    /// Starts a job: asks the launcher for its auditor, or forks it here. A job
    /// that cannot start for want of processes is put back (`retry_soon`).
    fn launch(&mut self, p: Pending) -> io::Result<()> {
        if p.spec.staged && !self.standing.siblings() {
            return self.launch_staged(p);
        }
        let retry = self.retry_of(&p);
        let own_log = self.own_log(&p)?;
        let sending = slots::Sending {
            pending: &p,
            own_log: own_log.as_deref(),
            retry,
        };
        if let Some((pid, place)) = self.standing.send(&self.run_dir, &sending) {
            self.occupancy.add(&p, self.slots);
            return self.started(pid, p, &place);
        }
        if p.spec.staged {
            // No standing auditor to take it: the run's own stage does.
            return self.launch_staged(p);
        }
        // An auditor of its own, with a log and a TMPDIR of its own.
        self.make_jobs_dir()?;
        let log = own_log.unwrap_or_else(|| self.job_file(&p, ".ljsonl"));
        let tmp = self.job_file(&p, ".tmp");
        if std::fs::create_dir(&tmp).is_err() {
            std::fs::create_dir_all(&tmp)?;
        }
        self.fork_auditor(p, audit::Place::own(log, tmp), retry)
    }

    /// With -k every job keeps a log file of its own; otherwise a standing
    /// auditor's jobs are segments of its one log (a file made per job costs
    /// more than the rest of a trivial job), and no path is built for it.
    fn own_log(&mut self, p: &Pending) -> io::Result<Option<PathBuf>> {
        if !self.plan_launch.keep {
            return Ok(None);
        }
        self.make_jobs_dir()?;
        Ok(Some(self.job_file(p, ".ljsonl")))
    }

    /// Makes `jobs/` in the run directory, once.
    fn make_jobs_dir(&mut self) -> io::Result<()> {
        if !self.jobs_dir {
            std::fs::create_dir_all(self.run_dir.join("jobs"))?;
            self.jobs_dir = true;
        }
        Ok(())
    }

    /// `jobs/N-T<suffix>` in the run directory: a job's log (`.ljsonl`), its
    /// own TMPDIR (`.tmp`), or a staged job's directory (no suffix).
    fn job_file(&self, p: &Pending, suffix: &str) -> PathBuf {
        self.run_dir
            .join("jobs")
            .join(format!("{}-{}{}", p.job, p.tries, suffix))
    }

    /// Forks the job's auditor from the runner itself (no standing auditor).
    fn fork_auditor(
        &mut self,
        p: Pending,
        place: audit::Place,
        retry: audit::Retry,
    ) -> io::Result<()> {
        let config = self.plan_launch.auditor_config(
            &p.spec,
            place.clone(),
            self.lifeline_read.as_raw_fd(),
            retry,
        );
        match sys::fork() {
            Ok(Fork::Child) => {
                let code = match sys::keep_only_fd(config.lifeline) {
                    Ok(lifeline) => auditor::run(audit::Config { lifeline, ..config }),
                    Err(_) => audit::EXIT_BROKEN,
                };
                sys::exit_now(code)
            }
            Ok(Fork::Parent(pid)) => {
                self.occupancy.add(&p, self.slots);
                self.started(pid, p, &place)
            }
            Err(e) => self.unable_to_start(p, e),
        }
    }

    /// The job's auditor runs as `pid`: its slot is taken already.
    fn started(&mut self, pid: libc::pid_t, p: Pending, place: &audit::Place) -> io::Result<()> {
        let (log, tmp) = (place.log.to_string_lossy(), place.tmp.to_string_lossy());
        let launch = JobLaunch {
            job: (p.job, p.tries),
            file: &p.spec.display,
            pid,
            log: Some(&log),
            segment: place.segment.is_some(),
            dir: None,
            tmp: Some(&tmp),
            staged: p.spec.staged,
            stamp: sys::unix_now(),
        };
        self.record(|out| write::job_launch(out, &launch))?;
        self.running.insert(pid, p);
        Ok(())
    }

    /// No process for the job's auditor: it goes back in the queue, to be tried
    /// again shortly (said once a run, not at every try).
    fn unable_to_start(&mut self, p: Pending, e: io::Error) -> io::Result<()> {
        if !self.fork_failed {
            self.fork_failed = true;
            errln!(
                "proctor: runner: unable to start an auditor ({}); jobs wait and are tried again",
                e
            );
        }
        // What runs now is all the system lets run: no more at once from
        // here on, so the tests themselves can still fork.
        if !self.running.is_empty() && self.running.len() < self.slots {
            self.slots = self.running.len();
            errln!(
                "proctor: runner: running at most {} jobs at once from now on",
                self.slots
            );
        }
        self.queue.put_back(p);
        self.retry_soon = true;
        Ok(())
    }

    fn reap(&mut self) -> io::Result<()> {
        while let Some((pid, exit)) = sys::reap_any()? {
            if self.stages.is_stage(pid) {
                self.stage_died()?;
                continue;
            }
            if self.standing.is_launcher(pid) {
                self.standing.launcher_ended();
                continue;
            }
            if let Some((statuses, notes)) = self.standing.ended(pid) {
                // A standing auditor: statuses it sent before it died still
                // count; a job it never answered ends with its exit, and one
                // sent ahead of that was never started.
                for record in notes {
                    self.log.record(&record)?;
                }
                for status in statuses {
                    self.answered(pid, status)?;
                }
                self.auditor_done(pid, Some(exit))?;
                self.take_back_ahead(pid);
                continue;
            }
            self.auditor_done(pid, Some(exit))?;
        }
        Ok(())
    }

    /// An auditor ended (its status unknown when its stage reaped it and died
    /// before saying): free its slot, and retry or stop as its verdict says.
    fn auditor_done(&mut self, pid: libc::pid_t, exit: Option<ExitInfo>) -> io::Result<()> {
        let done = match self.running.remove(&pid) {
            Some(done) => done,
            None => return Ok(()), // an orphan adopted as subreaper, or an idle auditor
        };
        self.occupancy.remove(&done, self.slots);
        if exit == Some(ExitInfo::Code(audit::EXIT_WITHDRAWN)) {
            // Sent ahead, and not started after all: the run paused or stopped.
            let reason = self.not_run();
            self.record(|out| write::job_requeued(out, (done.job, done.tries), reason))?;
            self.queue.put_back(done);
            return Ok(());
        }
        if exit == Some(ExitInfo::Code(audit::EXIT_GIVE_BACK)) {
            // Out of processes before the test could start: again later, with no
            // more jobs at once than are running now.
            let reason = "no process to start the test with";
            self.record(|out| write::job_requeued(out, (done.job, done.tries), reason))?;
            self.slots = self.running.len().max(1).min(self.slots);
            self.queue.put_back(done);
            return Ok(());
        }
        self.record(|out| write::job_done(out, (done.job, done.tries), exit.as_ref()))?;
        match exit {
            Some(ExitInfo::Code(audit::EXIT_BAIL)) => self.stop(Stopping::Bail)?,
            // The auditor wrote will_retry on this try's job_end for the same reasons.
            Some(ExitInfo::Code(status)) => {
                if let Some(next) = self.next_try(done, status) {
                    self.enqueue(next)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Stops starting jobs and asks every running auditor to stop its test.
    fn stop(&mut self, why: Stopping) -> io::Result<()> {
        if self.stopping != Stopping::No && why != Stopping::OverlordGone {
            return Ok(());
        }
        self.stopping = why;
        let reason = match why {
            Stopping::Bail => "bail".to_string(),
            Stopping::Signal(s) => format!("signal {}", crate::tap::signal_name(s)),
            Stopping::OverlordGone => "overlord gone".to_string(),
            Stopping::No => return Ok(()),
        };
        self.record(|out| write::runner_stop(out, &reason))?;
        // And the auditors of jobs ahead: one withdrawn by a pause may have
        // started before the withdrawal came, and runs unbeknown.
        let ahead = self.ahead.keys().filter(|p| !self.running.contains_key(p));
        for &pid in self.running.keys().chain(ahead) {
            let _ = sys::kill(pid, libc::SIGTERM);
        }
        self.withdraw_ahead();
        self.stage_not_awaited()
    }

    /// Why the jobs that never started did not, once the run stops (or, not
    /// stopping, pauses).
    fn not_run(&self) -> &'static str {
        match self.stopping {
            Stopping::Bail => "not run: an earlier test bailed out",
            Stopping::No => "not run yet: the run was paused",
            _ => "not run: the run was interrupted",
        }
    }

    /// Every job that never started still gets its one job_end.
    fn cancel_the_rest(&mut self) -> io::Result<()> {
        let reason = self.not_run();
        for p in self.queue.drain() {
            self.end_unstarted(&p, JobResult::Cancelled, reason)?;
        }
        Ok(())
    }

    /// The one job_end of a job that never started (its auditor never ran).
    fn end_unstarted(&mut self, p: &Pending, result: JobResult, reason: &str) -> io::Result<()> {
        let end = JobEnd {
            job: Some((p.job, p.tries)),
            ..JobEnd::new(
                &p.spec.display,
                result,
                Cow::Owned(vec![reason.to_string()]),
            )
        };
        self.record(|out| write::job_end(out, &end))
    }

    /// Writes the record `write` puts in the scratch buffer to the log.
    fn record(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.scratch.clear();
        write(&mut self.scratch);
        self.log.record(&self.scratch)
    }
}

/// The main loop's poll timeout, in ms (-1: none): shortly when out of
/// processes (to look again whether or not a slot frees), and no later than
/// `due`: the stage's next deadline, or a wake-up of the overlord held back.
fn poll_timeout(retry_soon: bool, due: Option<Instant>) -> i32 {
    let soon = Some(Duration::from_millis(100)).filter(|_| retry_soon);
    let left = due.map(|at| at.saturating_duration_since(Instant::now()));
    match soon.into_iter().chain(left).min() {
        // Rounded up: a poll that ends just short of the deadline would
        // only be followed by another.
        Some(left) => ((left.as_micros() + 999) / 1000).min(i32::MAX as u128) as i32,
        None => -1,
    }
}

/// The overlord is woken at most this often while the run goes on: it reads
/// the records that came meanwhile at once, and each wake-up costs both sides
/// a context switch (two jobs a millisecond come to a wake-up a job).
const WAKE_INTERVAL: Duration = Duration::from_millis(10);

/// Wakes the overlord, no more often than [`WAKE_INTERVAL`].
struct Waker {
    wake: RawFd,
    last: Option<Instant>,
    /// Records were written since the last wake-up.
    pending: bool,
}

impl Waker {
    fn new(wake: RawFd) -> Waker {
        Waker {
            wake,
            last: None,
            pending: false,
        }
    }

    /// Wakes the overlord now if it was not woken lately, else when
    /// [`Waker::due`] says.
    fn wake_soon(&mut self) {
        let now = Instant::now();
        if self.last.map_or(true, |at| at + WAKE_INTERVAL <= now) {
            wake_overlord(self.wake);
            self.last = Some(now);
            self.pending = false;
        } else {
            self.pending = true;
        }
    }

    /// When a wake-up held back is due.
    fn due(&self) -> Option<Instant> {
        self.last
            .filter(|_| self.pending)
            .map(|at| at + WAKE_INTERVAL)
    }
}

fn wake_overlord(wake: RawFd) {
    // Non-blocking: a full pipe already means the overlord has a wake-up pending.
    let _ = sys::write(wake, b"!");
}
