//! What the tests left running for the rest of the run (a server one test
//! starts for the next ones; see `job::audit::Leftovers::WithRun`), gathered from
//! their job_end records and ended when the run ends, so that nothing a test
//! started outlives the run.
//!
//! Each was named by its auditor with its pid and start time, so a pid the
//! system has since given to another process is never signalled. Ending one
//! ends what it started too: its descendants, and the group or session it
//! leads, whose members may have been reparented away from it.

use crate::event::Event;
use crate::sys::{self, ProcStat};
use std::time::{Duration, Instant};

/// Between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(2);
/// How often the grace looks whether all are gone.
const LOOK_EVERY: Duration = Duration::from_millis(10);
/// Rounds of SIGKILL to what is found still running, before giving up on a
/// fork bomb.
const KILL_ROUNDS: usize = 10;

/// One process a test left running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Left {
    pub file: String,
    pub pid: libc::pid_t,
    pub name: String,
    start: u64,
}

#[derive(Default)]
pub struct Leftovers {
    left: Vec<Left>,
}

impl Leftovers {
    /// Takes note of what a job_end names as left running; true if anything.
    pub fn job_end(&mut self, event: &mut Event) -> bool {
        let end = event.job_end();
        let file = end.file().unwrap_or("");
        let before = self.left.len();
        self.left.extend(end.left_running().map(|p| Left {
            file: file.to_string(),
            pid: p.pid,
            name: p.name,
            start: p.start,
        }));
        self.left.len() > before
    }

    /// Those still running now (the others ended by themselves), named as
    /// they are now: one may have exec'd since its test ended (setsid, then
    /// the server).
    pub fn still_running(&mut self) -> Vec<Left> {
        self.left
            .drain(..)
            .filter_map(|mut l| {
                let now = ProcStat::of(l.pid).filter(|s| s.start == l.start && !s.is_zombie())?;
                l.name = now.name;
                Some(l)
            })
            .collect()
    }

    /// Ends every one that is still running, and what it started: SIGTERM,
    /// then SIGKILL to whatever is left after a grace. Returns those it ended
    /// (the others had ended by themselves).
    pub fn end_all(&mut self) -> Vec<Left> {
        let running = self.still_running();
        if running.is_empty() {
            return running;
        }
        let roots: Vec<libc::pid_t> = running.iter().map(|l| l.pid).collect();
        // Whoever of them leads a group or session, now or once it has got
        // that far (a `setsid` still on its way to exec its server), has
        // members that may have been reparented away from it.
        let mut leaders = roots.clone();
        let mut targets = targets(&roots, &mut leaders);
        signal_all(&targets, libc::SIGTERM);
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline && targets.iter().any(|t| sys::alive(t.pid, t.start)) {
            std::thread::sleep(LOOK_EVERY);
        }
        // What they started as they ended (a server's last act on SIGTERM) is
        // theirs too: looked for again from those still alive and in the
        // groups and sessions any of them led, until no one new is found.
        for _ in 0..KILL_ROUNDS {
            let living: Vec<libc::pid_t> = targets
                .iter()
                .filter(|t| sys::alive(t.pid, t.start))
                .map(|t| t.pid)
                .collect();
            targets = self::targets(&living, &mut leaders);
            if targets.is_empty() {
                break;
            }
            signal_all(&targets, libc::SIGKILL);
        }
        running
    }
}

/// The roots, what descends from them, and the members of the groups and
/// sessions `leaders` lead, as they are now: the living, this process aside.
/// Every one found is added to `leaders`: a group or session whose id is the
/// pid of a living process is that process's own.
fn targets(roots: &[libc::pid_t], leaders: &mut Vec<libc::pid_t>) -> Vec<ProcStat> {
    let me = std::process::id() as libc::pid_t;
    let mut family = sys::family(roots, leaders);
    family.retain(|s| s.pid != me);
    for s in &family {
        if !leaders.contains(&s.pid) {
            leaders.push(s.pid);
        }
    }
    family
}

fn signal_all(targets: &[ProcStat], signal: i32) {
    for t in targets {
        if sys::alive(t.pid, t.start) {
            let _ = sys::kill(t.pid, signal);
        }
    }
}
