//! Jobs sent ahead: while a standing auditor runs a job, the runner sends it
//! the next one, which it starts as soon as that job ends, before it tells the
//! runner how that job went. The runner's round trip (its wake-up, its
//! records, its choice of the next job) is then off the path from one test to
//! the next.
//!
//! Only a plain job goes ahead (see [`Queue::next_ahead`]), and only one to
//! each auditor. It counts as running once the job before it has ended: then
//! its `job_launch` is recorded, as if the runner had sent it that moment. A
//! pause or a stop withdraws the jobs ahead that have not become running, and
//! so does a queue gone empty while a slot stands idle: behind a long test
//! the job ahead would keep the run's end waiting ([`Runner::reclaim_ahead`]).
//! An auditor answers each job it was sent once: a job ahead withdrawn while
//! the job before it runs is given back at once, out of turn, with its key
//! ([`Runner::given_back`]); one withdrawn as that job ends is answered in
//! turn, as withdrawn, or with its status if it had started. One withdrawn,
//! or never answered, goes back to the queue without a `job_requeued`: it
//! was never running.
//!
//! [`Queue::next_ahead`]: super::schedule::Queue::next_ahead

use super::schedule::Pending;
use super::slots::Sending;
use super::{Runner, Stopping};
use crate::job::audit;
use crate::job::audit::Place;
use crate::job::slot::JobKey;
use crate::sys::ExitInfo;
use std::io;

/// A job sent ahead to a standing auditor.
pub struct Ahead {
    p: Pending,
    place: Place,
    /// The runner has asked for it back: it does not become running when the
    /// job before it ends, but waits for the auditor's answer.
    withdrawn: bool,
}

impl Runner {
    /// Sends the next jobs ahead to busy standing auditors, one each, while
    /// the run goes on and the next job in line is plain.
    pub(super) fn send_ahead(&mut self) -> io::Result<()> {
        while self.stopping == Stopping::No && !self.paused && !self.retry_soon {
            let p = match self.queue.next_ahead(&self.occupancy, self.slots) {
                Some(p) => p,
                None => return Ok(()),
            };
            // A staged job without perls of the auditors' own goes to the stage.
            let sent = if p.spec.staged && !self.standing.siblings() {
                None
            } else {
                let own_log = self.own_log(&p)?;
                let sending = Sending {
                    pending: &p,
                    own_log: own_log.as_deref(),
                    retry: self.retry_of(&p),
                };
                let ahead = &self.ahead;
                self.standing
                    .send_ahead(&self.run_dir, &sending, |pid| ahead.contains_key(&pid))
            };
            match sent {
                Some((pid, place)) => {
                    self.ahead.insert(
                        pid,
                        Ahead {
                            p,
                            place,
                            withdrawn: false,
                        },
                    );
                }
                None => {
                    self.queue.put_back(p);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The standing auditor `pid` answered the first job it had not: the job
    /// it runs, or one sent ahead that was withdrawn before it could become
    /// running.
    pub(super) fn answered(&mut self, pid: libc::pid_t, status: i32) -> io::Result<()> {
        if !self.running.contains_key(&pid) {
            return match self.ahead.remove(&pid) {
                Some(a) if status == audit::EXIT_WITHDRAWN => {
                    self.queue.put_back(a.p);
                    Ok(())
                }
                // It had started it before the withdrawal came.
                Some(a) => {
                    self.becomes_running(pid, a)?;
                    self.auditor_done(pid, Some(ExitInfo::Code(status)))
                }
                None => Ok(()),
            };
        }
        self.auditor_done(pid, Some(ExitInfo::Code(status)))?;
        if matches!(status, audit::EXIT_BAIL | audit::EXIT_BROKEN) {
            // It starts no other job.
            self.take_back_ahead(pid);
            return Ok(());
        }
        match self.ahead.remove(&pid) {
            Some(a) if !a.withdrawn => self.becomes_running(pid, a),
            Some(a) => {
                self.ahead.insert(pid, a);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The auditor `pid` will not start `job`, sent ahead to it and
    /// withdrawn: it goes back to the queue, never having been running. Any
    /// other job is not its job ahead, and its word on it is ignored.
    pub(super) fn given_back(&mut self, pid: libc::pid_t, job: JobKey) {
        let is_ahead = |a: &Ahead| (a.p.job, a.p.tries) == job && a.withdrawn;
        if self.ahead.get(&pid).map_or(false, is_ahead) {
            self.standing.given_back(pid);
            self.take_back_ahead(pid);
        }
    }

    /// The job ahead of the auditor `pid`, if any, back to the queue: the
    /// auditor will not start it.
    pub(super) fn take_back_ahead(&mut self, pid: libc::pid_t) {
        if let Some(a) = self.ahead.remove(&pid) {
            self.queue.put_back(a.p);
        }
    }

    /// Once the queue is empty, asks back a job ahead for each idle slot (less
    /// those already asked back): the job before it may run for minutes while
    /// that slot has nothing to do. An answered withdrawal puts it back in the
    /// queue, and the idle slot takes it.
    pub(super) fn reclaim_ahead(&mut self) {
        if self.stopping != Stopping::No || self.paused || self.retry_soon {
            return;
        }
        if !self.queue.is_empty() || self.ahead.is_empty() {
            return;
        }
        let asked = self.ahead.values().filter(|a| a.withdrawn).count();
        let wanted = self.occupancy.free(self.slots).saturating_sub(asked);
        let waiting = self.ahead.iter_mut().filter(|(_, a)| !a.withdrawn);
        for (&pid, a) in waiting.take(wanted) {
            self.standing.withdraw(pid, (a.p.job, a.p.tries));
            a.withdrawn = true;
        }
    }

    /// Asks for every job ahead back (the run pauses or stops).
    pub(super) fn withdraw_ahead(&mut self) {
        for (&pid, a) in self.ahead.iter_mut().filter(|(_, a)| !a.withdrawn) {
            self.standing.withdraw(pid, (a.p.job, a.p.tries));
            a.withdrawn = true;
        }
    }

    fn becomes_running(&mut self, pid: libc::pid_t, a: Ahead) -> io::Result<()> {
        self.occupancy.add(&a.p, self.slots);
        self.started(pid, a.p, &a.place)
    }
}
