//! Stopping a test: the event timeout, interrupts, the runner going away, pauses,
//! and the clean-up of whatever the test leaves behind.
//!
//! The test leads its own process group, and the auditor is a subreaper, so
//! descendants that leave the group (setsid) still end up as the auditor's
//! children once their parents die. Stopping is SIGTERM to the group, then SIGKILL
//! to the group and every child after a grace period. The leader is not reaped
//! until the end: while it is a zombie its process group id cannot be reused, so
//! signalling the group stays safe.
//!
//! A process that outlives a test which ended by itself, and no longer holds its
//! output, is the suite's business (a server one test starts for the next ones):
//! with [`Leftovers::WithRun`] it is left running and named in the job's end, for
//! the overlord to end with the run. Zombies are reaped, never counted.

use crate::event::LeftRunning;
use crate::job::audit::Leftovers;
use crate::sys::{self, ExitInfo, Rusage};
use std::io;
use std::time::{Duration, Instant};

/// Between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// After SIGKILL, how long to wait for the pipes to close before giving up on them.
const GIVE_UP: Duration = Duration::from_secs(1);
/// How long after the exit the pipes may stay open before it counts as a leak.
const LEAK_GRACE: Duration = Duration::from_millis(250);
/// Rounds of killing adopted descendants before giving up on a fork bomb.
const CLEANUP_ROUNDS: usize = 100;

/// Why the auditor stopped the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Silent,
    Leaked,
    RunnerGone,
    Asked,
}

pub struct Stopper {
    pid: libc::pid_t,
    event_timeout: Option<Duration>,
    last_activity: Instant,
    exit: Option<ExitInfo>,
    exited_at: Option<Instant>,
    stop: Option<Stop>,
    term_sent: Option<Instant>,
    kill_sent: Option<Instant>,
    sigints: u32,
    leak_seen: bool,
    leaked: Vec<libc::pid_t>,
    leftovers: Vec<libc::pid_t>,
    /// Children of the auditor that are none of this test's (see
    /// [`super::Process::spare`]).
    spared: Vec<libc::pid_t>,
    leftover_policy: Leftovers,
    left_running: Vec<LeftRunning>,
}

impl Stopper {
    pub fn new(
        event_timeout: Option<Duration>,
        spared: Vec<libc::pid_t>,
        leftover_policy: Leftovers,
    ) -> Stopper {
        Stopper {
            pid: 0,
            event_timeout,
            last_activity: Instant::now(),
            exit: None,
            exited_at: None,
            stop: None,
            term_sent: None,
            kill_sent: None,
            sigints: 0,
            leak_seen: false,
            leaked: Vec::new(),
            leftovers: Vec::new(),
            spared,
            leftover_policy,
            left_running: Vec::new(),
        }
    }

    pub fn started(&mut self, pid: libc::pid_t) {
        self.pid = pid;
        self.last_activity = Instant::now();
        if let Some(why) = self.stop {
            // Asked to stop before there was a test to stop.
            self.stop(why);
        }
    }

    /// The test printed something (or closed a stream): the event timer restarts.
    pub fn activity(&mut self) {
        self.last_activity = Instant::now();
    }

    pub fn exited_at(&self) -> Option<Instant> {
        self.exited_at
    }

    /// After SIGCHLD: has the test exited? (Checked without reaping it.) True the
    /// first time the exit is seen.
    pub fn check_exit(&mut self) -> io::Result<bool> {
        if self.exit.is_none() && self.pid > 0 {
            if let Some(exit) = sys::waitid_exited(self.pid)? {
                self.exit = Some(exit);
                self.exited_at = Some(Instant::now());
                // From here the same timer measures how long its output stays open.
                self.last_activity = Instant::now();
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the audit is over: the test has exited and its pipes are closed,
    /// or it was killed and something unkillable still holds them.
    pub fn done(&self, streams_closed: bool) -> bool {
        // After SIGKILL and the grace, the end is certain: reaping will not wait.
        let gave_up = self.kill_sent.map_or(false, |k| k.elapsed() >= GIVE_UP);
        gave_up || (self.exit.is_some() && streams_closed)
    }

    /// SIGINT, SIGTERM or SIGHUP reached the auditor. A second Ctrl-C kills at once.
    pub fn interrupt(&mut self, sigint: bool) {
        if sigint {
            self.sigints += 1;
        }
        self.stop(Stop::Asked);
        if self.sigints >= 2 {
            self.kill_now();
        }
    }

    /// Starts stopping the test: SIGTERM to its group now, SIGKILL after the grace.
    pub fn stop(&mut self, why: Stop) {
        if self.stop.is_none() {
            self.stop = Some(why);
        }
        if self.term_sent.is_none() && self.pid > 0 {
            let _ = sys::kill_group(self.pid, libc::SIGTERM);
            // A stopped test must be continued to act on SIGTERM.
            let _ = sys::kill_group(self.pid, libc::SIGCONT);
            self.term_sent = Some(Instant::now());
        }
    }

    /// SIGKILL to the test's group and to every process the auditor has adopted.
    pub fn kill_now(&mut self) {
        if self.pid > 0 {
            let _ = sys::kill_group(self.pid, libc::SIGKILL);
            for child in self.adopted() {
                if child != self.pid {
                    let _ = sys::kill(child, libc::SIGKILL);
                }
            }
        }
        if self.kill_sent.is_none() {
            self.kill_sent = Some(Instant::now());
        }
    }

    /// On a fatal error in the auditor: nothing of the test may outlive it.
    pub fn kill_everything(&mut self) {
        self.kill_now();
    }

    /// Ctrl-Z: stop the test's group and this auditor; on SIGCONT resume both,
    /// with the timers moved on by the time spent stopped.
    pub fn pause(&mut self) {
        if self.pid > 0 {
            let _ = sys::kill_group(self.pid, libc::SIGSTOP);
        }
        let paused = Instant::now();
        sys::stop_self();
        if self.pid > 0 {
            let _ = sys::kill_group(self.pid, libc::SIGCONT);
        }
        let d = paused.elapsed();
        self.last_activity += d;
        for t in [
            &mut self.term_sent,
            &mut self.kill_sent,
            &mut self.exited_at,
        ]
        .into_iter()
        .flatten()
        {
            *t += d;
        }
    }

    /// Fires whichever timer is due.
    pub fn check_timers(&mut self, streams_open: bool) {
        if let (Some(term), None) = (self.term_sent, self.kill_sent) {
            if term.elapsed() >= KILL_GRACE {
                self.kill_now();
            }
        }
        if let Some(exited) = self.exited_at {
            if streams_open && !self.leak_seen && exited.elapsed() >= LEAK_GRACE {
                self.leak_seen = true;
                // A zombie holds nothing open: only the living can be the leak.
                self.leaked = self
                    .adopted()
                    .into_iter()
                    .filter(|&p| p != self.pid && !zombie(p))
                    .collect();
            }
        }
        if let Some(limit) = self.event_timeout {
            if self.stop.is_none() && self.last_activity.elapsed() >= limit {
                if self.exit.is_some() {
                    self.stop = Some(Stop::Leaked);
                    self.kill_now();
                } else {
                    self.stop(Stop::Silent);
                }
            }
        }
    }

    /// Milliseconds until the next timer, or -1 for none.
    pub fn poll_timeout(&self, streams_closed: bool) -> i32 {
        let mut next: Option<Instant> = None;
        let mut consider = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        match (self.term_sent, self.kill_sent) {
            (_, Some(kill)) => consider(kill + GIVE_UP),
            (Some(term), None) => consider(term + KILL_GRACE),
            (None, None) => {}
        }
        if let (Some(limit), None) = (self.event_timeout, self.stop) {
            consider(self.last_activity + limit);
        }
        if let Some(exited) = self.exited_at {
            if !streams_closed && !self.leak_seen {
                consider(exited + LEAK_GRACE);
            }
        }
        match next {
            None => -1,
            Some(at) => ms_until(at),
        }
    }

    /// The auditor's children that are the test's or its leftovers: all but
    /// the spared ones.
    fn adopted(&self) -> Vec<libc::pid_t> {
        let mut children = sys::children_of_self();
        children.retain(|c| !self.spared.contains(c));
        children
    }

    /// Reaps the test (with its resource use), then reaps what exited of what
    /// it left behind and either ends the rest or, when the test ended by
    /// itself and leftovers live until the run ends, leaves it running.
    pub fn reap(&mut self) -> io::Result<(ExitInfo, Rusage)> {
        let leave = self.leftover_policy != Leftovers::WithTest && self.stop.is_none();
        if !leave {
            // Those still alive now die with the group or just after it.
            for child in self.adopted() {
                if child != self.pid && !zombie(child) {
                    self.killed(child);
                }
            }
            let _ = sys::kill_group(self.pid, libc::SIGKILL);
        }
        let reaped = sys::reap_with_rusage(self.pid)?;
        if leave {
            // One look at what is left: nothing is killed, so nothing more
            // can come of it.
            self.leave_running();
            return Ok(reaped);
        }
        for _ in 0..CLEANUP_ROUNDS {
            let children = self.adopted();
            if children.is_empty() {
                break;
            }
            for &child in &children {
                // Only a process that was still there to kill was left running:
                // one that had exited unreaped is not worth a word.
                if !zombie(child) && sys::kill(child, libc::SIGKILL).is_ok() {
                    self.killed(child);
                }
            }
            for &child in &children {
                sys::reap(child);
            }
        }
        Ok(reaped)
    }

    /// Notes `pid` as a process the test left running that had to be killed.
    fn killed(&mut self, pid: libc::pid_t) {
        if !self.leftovers.contains(&pid) && self.leftovers.len() < 16 {
            self.leftovers.push(pid);
        }
    }

    /// Takes the living children the test left (none of them holds its output,
    /// or the audit would not be over) as left running, to be spared from here
    /// on, and reaps the rest, zombies.
    fn leave_running(&mut self) {
        for child in self.adopted() {
            let stat = match sys::ProcStat::of(child) {
                Some(stat) if !stat.is_zombie() => stat,
                Some(_) => {
                    sys::reap(child);
                    continue;
                }
                None => continue, // reaped already
            };
            self.spared.push(child);
            self.left_running.push(LeftRunning {
                pid: child,
                name: stat.name,
                start: stat.start,
            });
        }
    }

    /// What the test left running (see [`Leftovers::WithRun`]).
    pub fn left_running(&self) -> &[LeftRunning] {
        &self.left_running
    }

    /// Whether the test was stopped because the run is ending (not for its own
    /// sake): such a try is not worth retrying.
    pub fn interrupted(&self) -> bool {
        matches!(self.stop, Some(Stop::Asked) | Some(Stop::RunnerGone))
    }

    /// Why the auditor stopped the test, if it did, as a failure reason.
    pub fn reason(&self, last_output: &str) -> Option<String> {
        let timeout = self
            .event_timeout
            .map_or(String::new(), |d| seconds(d.as_secs_f64()));
        let last = if last_output.is_empty() {
            " (it printed nothing)".to_string()
        } else {
            format!("; last output: {}", last_output)
        };
        Some(match self.stop? {
            Stop::Silent => format!(
                "no output for {} s: stopped by the event timeout (raise it with \
                 --event-timeout SECS or a '# HARNESS-TIMEOUT-EVENT SECS' header){}",
                timeout, last
            ),
            Stop::Leaked => format!(
                "exited, but a child kept its output open for {} s{}",
                timeout,
                pids(&self.leaked)
            ),
            Stop::RunnerGone => "the runner went away; the test was stopped".to_string(),
            Stop::Asked => "stopped before it finished: the run was interrupted".to_string(),
        })
    }

    /// A leak that ended by itself, or processes killed at the end: worth telling,
    /// not a failure. (What is left running is only named in the job's end:
    /// most of it ends by itself a moment later; the run's end names what it
    /// had to end.)
    pub fn leak_note(&self) -> Option<String> {
        let mut notes = Vec::new();
        if self.leak_seen && self.stop != Some(Stop::Leaked) {
            notes.push(format!(
                "a child kept the test's output open after it exited{}",
                pids(&self.leaked)
            ));
        }
        let left: Vec<libc::pid_t> = self
            .leftovers
            .iter()
            .copied()
            .filter(|p| !self.leaked.contains(p))
            .collect();
        if !left.is_empty() {
            notes.push(format!(
                "killed {} process(es) the test left running{}",
                left.len(),
                pids(&left)
            ));
        }
        if notes.is_empty() {
            None
        } else {
            Some(notes.join("; "))
        }
    }
}

/// Whether `pid` has exited and waits to be reaped (or is gone already).
fn zombie(pid: libc::pid_t) -> bool {
    sys::ProcStat::of(pid).map_or(true, |s| s.is_zombie())
}

fn pids(list: &[libc::pid_t]) -> String {
    if list.is_empty() {
        return String::new();
    }
    format!(
        " (pid {})",
        list.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn seconds(x: f64) -> String {
    let s = format!("{:.3}", x);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A poll's timeout in milliseconds to wait until `at`.
pub(super) fn ms_until(at: Instant) -> i32 {
    let wait = at.saturating_duration_since(Instant::now());
    // Rounded up, so a timer never fires a millisecond early and spins.
    ((wait.as_micros() + 999) / 1000).min(i32::MAX as u128) as i32
}
