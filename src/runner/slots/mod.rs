//! Standing auditors: one per slot, each the parent and auditor of one test after
//! another, so a job costs the fork and exec of its test and not also the birth
//! and death of an auditor process.
//!
//! Each slot has a socket pair of sequenced packets. The first slot's auditor is
//! forked as soon as the runner exists, before the plan, so it is ready (its log
//! open, its TMPDIR made) when the first job comes; the others are forked by the
//! launcher, which holds the auditors' ends of the sockets. The messages are
//! [`crate::job::slot`]'s: an auditor is first told its slot and the run's
//! settings (an introduction); then the runner sends it jobs and reads back a
//! status for each, as a per-job auditor's exit status would tell it. Between
//! jobs an auditor holds nothing of the last one: the test and
//! everything it started are gone, its pipes are closed, its log segment ended,
//! its TMPDIR emptied.
//!
//! A busy auditor may be sent one job ahead, which it starts as soon as its job
//! ends, before it tells that job's status: the next test starts without a
//! round trip through the runner. The runner can take a job sent ahead back
//! (a withdrawal); an auditor answers a job it did not start with
//! [`FromAuditor::GivenBack`] as soon as the withdrawal comes, while it audits
//! the job before it, or with [`audit::EXIT_WITHDRAWN`] in its turn when the
//! withdrawal came as that job ended. One that has bailed out or
//! been told to stop starts no other job.
//!
//! A slot whose auditor dies, or reports that it could not do its job, stays
//! empty: a message left in its socket must reach no other auditor. Its running
//! job fails as "auditor lost"; its later jobs get auditors forked for them alone.
//!
//! In a run that preloads (`--preload`), each auditor has a preloaded perl of
//! its own ([`crate::auditor::own_perl`]) that forks its perl tests; what becomes of
//! that perl comes to the runner as records, in messages before a status.
//! When such a run has one slot for each CPU it may use, each auditor and its
//! perl keep to a CPU of their own: a test is forked, audited and reaped
//! where its perl's pages are in the cache, and no two slots' processes meet
//! on one CPU while another idles. The tests themselves get all the run's
//! CPUs back as they start.

mod launcher;

use super::schedule::Pending;
use crate::auditor::slot_tmp::SlotTmp;
use crate::auditor::standing::become_auditor;
use crate::job::audit;
use crate::job::audit::Place;
use crate::job::segment;
use crate::job::slot::{FromAuditor, Introduction, JobKey, JobRequest, ToAuditor};
use crate::sys::{self, Fork};
use launcher::Launcher;
use std::borrow::Cow;
use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

struct Slot {
    /// The runner's end of the slot's socket pair (non-blocking).
    socket: OwnedFd,
    /// The TMPDIR its auditor gives its tests.
    tmp: SlotTmp,
    /// The slot's auditor, once forked and while alive.
    pid: Option<libc::pid_t>,
    /// Jobs sent to it that it has not yet answered: none (it is idle), its
    /// job, or its job and one sent ahead.
    unanswered: usize,
    /// Its auditor ended or broke: no other takes its place (a message left in
    /// its socket would reach the next one), and its jobs get auditors of their
    /// own.
    dead: bool,
}

impl Slot {
    /// Sends `message` to its auditor, encoded in `buffer`; false when it was
    /// not sent (a packet goes whole or not at all).
    fn say(&self, message: &ToAuditor, buffer: &mut Vec<u8>) -> bool {
        buffer.clear();
        message.encode(buffer);
        matches!(sys::write(self.socket.as_raw_fd(), buffer), Ok(n) if n == buffer.len())
    }
}

/// A job as the runner sends it to a standing auditor.
pub struct Sending<'a> {
    pub pending: &'a Pending,
    /// Its log file of its own (-k); None: the next segment of its auditor's.
    pub own_log: Option<&'a Path>,
    /// When the runner will try it again.
    pub retry: audit::Retry,
}

/// A standing auditor forked before the run's settings are known, waiting for
/// them on its socket.
pub struct Waiting {
    pid: libc::pid_t,
    runner_end: OwnedFd,
    /// Kept for the launcher, to fork this slot's auditor again.
    auditor_end: OwnedFd,
}

impl Waiting {
    /// Forks it, handing it `lifeline` (the read end of the runner's lifeline).
    pub fn fork(lifeline: RawFd) -> io::Result<Waiting> {
        let (runner_end, auditor_end) = sys::packet_pair()?;
        match sys::fork()? {
            Fork::Child => sys::exit_now(become_auditor(auditor_end.as_raw_fd(), lifeline)),
            Fork::Parent(pid) => {
                sys::set_nonblocking(runner_end.as_raw_fd())?;
                Ok(Waiting {
                    pid,
                    runner_end,
                    auditor_end,
                })
            }
        }
    }
}

/// The runner's side: the slots, and the launcher that forks their auditors.
/// A run with none sends every job to an auditor forked for it alone.
pub struct Auditors {
    slots: Vec<Slot>,
    launcher: Option<Launcher>,
    /// The plan's first line, which every auditor gets first.
    head: Vec<u8>,
    /// Auditors let go (they could not be told the run's settings), to reap.
    retired: Vec<libc::pid_t>,
    /// Each auditor runs the perl tests in a preloaded perl of its own.
    siblings: bool,
    /// The CPU each slot's auditor keeps to, by slot (none: they move freely).
    cpus: Vec<usize>,
    /// The message being sent: one buffer for every job.
    message: Vec<u8>,
}

/// What came from a busy auditor's socket.
pub enum Heard {
    /// The status of the job the auditor `pid` finished.
    Status(libc::pid_t, i32),
    /// A record for the runner's log (what became of its preloaded perl).
    Note(Vec<u8>),
    /// The auditor `pid` will not start this job, sent ahead and withdrawn
    /// (see [`Auditors::given_back`]).
    GivenBack(libc::pid_t, JobKey),
    Nothing,
}

impl Auditors {
    /// No standing auditors.
    pub fn none() -> Auditors {
        Auditors {
            slots: Vec::new(),
            launcher: None,
            head: Vec::new(),
            retired: Vec::new(),
            siblings: false,
            cpus: Vec::new(),
            message: Vec::new(),
        }
    }

    /// `count` slots, the first one's auditor `first` (when it could be forked),
    /// told the run's settings (`head`, the plan's first line) now. With
    /// `launcher`, a launcher is started (from this process, which should be
    /// small) to fork the other slots' auditors; without one, only `first`
    /// stands and jobs beyond it get auditors of their own. With `siblings`,
    /// each auditor starts a preloaded perl of its own for the staged jobs.
    pub fn start(
        first: Option<Waiting>,
        head: &[u8],
        run_dir: &Path,
        lifeline: RawFd,
        count: usize,
        launcher: bool,
        siblings: bool,
    ) -> Auditors {
        let mut auditors = Auditors {
            head: head.to_vec(),
            siblings,
            cpus: if siblings {
                one_cpu_each(count)
            } else {
                Vec::new()
            },
            ..Auditors::none()
        };
        let mut theirs = Vec::new();
        if let Some(first) = first {
            auditors.slots.push(Slot {
                socket: first.runner_end,
                tmp: SlotTmp::take(run_dir, 0),
                pid: Some(first.pid),
                unanswered: 0,
                dead: false,
            });
            theirs.push(first.auditor_end);
            auditors.introduce(0);
        }
        if !launcher {
            return auditors;
        }
        while auditors.slots.len() < count {
            let (runner_end, auditor_end) = match sys::packet_pair() {
                Ok(pair) => pair,
                Err(_) => break,
            };
            if sys::set_nonblocking(runner_end.as_raw_fd()).is_err() {
                break;
            }
            auditors.slots.push(Slot {
                tmp: SlotTmp::take(run_dir, auditors.slots.len()),
                socket: runner_end,
                pid: None,
                unanswered: 0,
                dead: false,
            });
            theirs.push(auditor_end);
        }
        auditors.launcher = Launcher::start(lifeline, &theirs).ok();
        auditors
    }

    /// Tells the auditor of `slot` its slot and the run's settings; one that
    /// cannot be told is let go.
    fn introduce(&mut self, slot: usize) {
        let introduction = ToAuditor::Introduction(Introduction {
            slot,
            siblings: self.siblings,
            tmp: Cow::Borrowed(&self.slots[slot].tmp.path),
            cpu: self.cpus.get(slot).copied(),
            settings: Cow::Borrowed(&self.head),
        });
        if !self.slots[slot].say(&introduction, &mut self.message) {
            // Too long for one message (a huge environment): it ends when its
            // socket closes, at the end of the run.
            self.retire(slot);
        }
    }

    /// Sends a job to an idle auditor (forking one for its slot if need be)
    /// and returns that auditor's pid and where the job's log and TMPDIR are:
    /// the TMPDIR the auditor reuses (see [`crate::auditor::slot_tmp`]), and `own_log`,
    /// or without one the next segment of the auditor's log. None when no
    /// auditor can take it.
    pub fn send(&mut self, run_dir: &Path, job: &Sending) -> Option<(libc::pid_t, Place)> {
        let slot = self.idle()?;
        self.send_to(slot, run_dir, job)
    }

    /// Sends a job ahead to a busy auditor that has none ahead yet, to start
    /// when its job ends; returns as [`Auditors::send`] does. `has_ahead`:
    /// whether an auditor still has a job ahead (one withdrawn, which it may
    /// have started before the withdrawal came, is its one unanswered job
    /// once the job before it ends).
    pub fn send_ahead(
        &mut self,
        run_dir: &Path,
        job: &Sending,
        has_ahead: impl Fn(libc::pid_t) -> bool,
    ) -> Option<(libc::pid_t, Place)> {
        let slot = self.slots.iter().position(|s| {
            s.unanswered == 1 && !s.dead && s.pid.map_or(false, |pid| !has_ahead(pid))
        })?;
        self.send_to(slot, run_dir, job)
    }

    fn send_to(
        &mut self,
        slot: usize,
        run_dir: &Path,
        job: &Sending,
    ) -> Option<(libc::pid_t, Place)> {
        let pid = self.slots[slot].pid?;
        let key = (job.pending.job, job.pending.tries);
        let place = Place {
            log: job
                .own_log
                .map_or_else(|| segment::log_path(run_dir, pid), Path::to_path_buf),
            segment: job.own_log.is_none().then_some(key),
            tmp: self.slots[slot].tmp.path.clone(),
            tmp_reused: true,
        };
        let request = ToAuditor::Job(JobRequest {
            auditor: pid,
            job: key,
            log: Cow::Borrowed(&place.log),
            segment: place.segment.is_some(),
            retry: job.retry,
            spec: Cow::Borrowed(&job.pending.spec),
        });
        if !self.slots[slot].say(&request, &mut self.message) {
            return None;
        }
        self.slots[slot].unanswered += 1;
        Some((pid, place))
    }

    /// Asks the auditor `pid` not to start `job`, sent ahead, if it has not
    /// yet: it answers that job either way, with its status or withdrawn.
    pub fn withdraw(&mut self, pid: libc::pid_t, job: JobKey) {
        if let Some(slot) = self.slots.iter().find(|s| s.pid == Some(pid)) {
            slot.say(&ToAuditor::Withdrawal(job), &mut self.message);
        }
    }

    /// A slot that is free, with its auditor forked and told the settings.
    fn idle(&mut self) -> Option<usize> {
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.unanswered == 0 && s.pid.is_some())
        {
            return Some(i);
        }
        let i = self.slots.iter().position(|s| s.pid.is_none() && !s.dead)?;
        let pid = self.launcher.as_mut()?.start_auditor(i).ok()?;
        self.slots[i].pid = Some(pid);
        self.introduce(i);
        self.slots[i].pid.map(|_| i)
    }

    /// Whether the auditors run staged jobs in preloaded perls of their own.
    pub fn siblings(&self) -> bool {
        self.siblings
    }

    /// The sockets of busy auditors, whose statuses the runner waits for.
    pub fn poll_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.slots
            .iter()
            .filter(|s| s.unanswered > 0 && s.pid.is_some())
            .map(|s| s.socket.as_raw_fd())
    }

    /// One message from the auditor on `fd`: the status of the job it was
    /// sent first of those it has not answered, or a record for the log.
    pub fn heard_on(&mut self, fd: RawFd) -> Heard {
        let i = match self.slots.iter().position(|s| s.socket.as_raw_fd() == fd) {
            Some(i) => i,
            None => return Heard::Nothing,
        };
        let message = match sys::recv_message(fd) {
            Ok(message) => message,
            Err(_) => return Heard::Nothing,
        };
        // An empty message is no message: the auditor has closed its end.
        match (FromAuditor::decode(&message), self.slots[i].pid) {
            (Ok(FromAuditor::Note(record)), _) => Heard::Note(record.to_vec()),
            // Counted as an answer only once the runner knows it is the job
            // ahead's (see [`Auditors::given_back`]).
            (Ok(FromAuditor::GivenBack(job)), Some(pid)) => Heard::GivenBack(pid, job),
            (Ok(FromAuditor::Status(status)), Some(pid)) if self.slots[i].unanswered > 0 => {
                self.slots[i].unanswered -= 1;
                if status == audit::EXIT_BROKEN {
                    // It could not do its job (its log, say): it takes no other.
                    self.retire(i);
                }
                Heard::Status(pid, status)
            }
            _ => Heard::Nothing,
        }
    }

    /// The auditor `pid` has answered its job ahead by giving it back (out
    /// of turn: the job before it may still run).
    pub fn given_back(&mut self, pid: libc::pid_t) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.pid == Some(pid)) {
            slot.unanswered = slot.unanswered.saturating_sub(1);
        }
    }

    /// Lets the slot's auditor go, and the slot with it (see [`Slot::dead`]).
    fn retire(&mut self, slot: usize) {
        self.retired.extend(self.slots[slot].pid.take());
        self.slots[slot].dead = true;
    }

    /// Whether `pid` is the launcher.
    pub fn is_launcher(&self, pid: libc::pid_t) -> bool {
        self.launcher.as_ref().map(|l| l.pid) == Some(pid)
    }

    /// The launcher is gone: slots whose auditor dies stay empty from now on.
    pub fn launcher_ended(&mut self) {
        self.launcher = None;
    }

    /// A standing auditor ended: the statuses it sent before, in order, and
    /// its records; its slot is dead from now on. None when `pid` was not a
    /// standing auditor.
    pub fn ended(&mut self, pid: libc::pid_t) -> Option<(Vec<i32>, Vec<Vec<u8>>)> {
        if let Some(at) = self.retired.iter().position(|&p| p == pid) {
            self.retired.swap_remove(at);
            return Some((Vec::new(), Vec::new()));
        }
        let i = self.slots.iter().position(|s| s.pid == Some(pid))?;
        let fd = self.slots[i].socket.as_raw_fd();
        let (mut statuses, mut notes) = (Vec::new(), Vec::new());
        loop {
            match self.heard_on(fd) {
                Heard::Note(note) => notes.push(note),
                Heard::Status(_, status) => statuses.push(status),
                // Its job ahead goes back to the queue with the auditor.
                Heard::GivenBack(..) => {}
                Heard::Nothing => break,
            }
        }
        // Reaped already, whether or not that status retired it.
        self.retired.retain(|&p| p != pid);
        let slot = &mut self.slots[i];
        slot.pid = None;
        slot.unanswered = 0;
        slot.dead = true;
        Some((statuses, notes))
    }

    /// Closes the slots, so their auditors end, and reaps them and the launcher.
    pub fn finish(&mut self) {
        let pids: Vec<libc::pid_t> = self.slots.drain(..).filter_map(|s| s.pid).collect();
        let launcher = self.launcher.take().map(|l| l.pid);
        let retired = std::mem::take(&mut self.retired);
        for pid in pids.into_iter().chain(retired).chain(launcher) {
            sys::reap(pid);
        }
    }
}

/// A CPU for each of `slots` slots: the CPUs this process may use, when there
/// are exactly that many (a run that fills them all); else none.
fn one_cpu_each(slots: usize) -> Vec<usize> {
    match sys::cpu_mask().map(|mask| sys::cpus_in(&mask)) {
        Ok(cpus) if cpus.len() == slots => cpus,
        _ => Vec::new(),
    }
}
