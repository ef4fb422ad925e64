//! Which queued job may start now. Jobs wait in run order; a job starts when its
//! slots are free and nothing running forbids it: an isolated job runs alone, two
//! immiscible jobs never run together, two jobs naming the same conflict never run
//! together. A job that cannot start only for want of room (isolation, slots)
//! holds the jobs behind it back, so it is not starved; one that cannot start for
//! a conflict lets later jobs pass. Retries go to the end, or with
//! `--retry-isolated` run one at a time after everything else. A plain job may
//! also be sent ahead to a busy standing auditor, to start when its job ends:
//! it counts as running for isolation, so an isolated job never meets it.

use crate::headers::Category;
use crate::job::JobSpec;
use std::collections::{HashMap, VecDeque};

/// One try of one job, waiting.
#[derive(Clone, Debug)]
pub struct Pending {
    pub job: u64,
    pub tries: u32,
    pub spec: JobSpec,
    /// A retry that must run alone.
    pub alone: bool,
    /// Tries that `--retry` does not count: those without preload that
    /// follow a preloaded try.
    pub uncounted: u32,
}

impl Pending {
    fn slots(&self, total: usize) -> usize {
        self.spec.headers.slots.unwrap_or(1).clamp(1, total.max(1))
    }

    fn isolated(&self) -> bool {
        self.alone || self.spec.headers.category == Category::Isolation
    }
}

/// What is running, as far as scheduling cares.
#[derive(Default)]
pub struct Occupancy {
    slots: usize,
    jobs: usize,
    isolated: usize,
    immiscible: usize,
    conflicts: HashMap<String, usize>,
}

impl Occupancy {
    pub fn is_empty(&self) -> bool {
        self.jobs == 0
    }

    /// The slots of `total` that no running job takes.
    pub fn free(&self, total: usize) -> usize {
        total.saturating_sub(self.slots)
    }

    pub fn add(&mut self, p: &Pending, total: usize) {
        self.change(p, total, true);
    }

    pub fn remove(&mut self, p: &Pending, total: usize) {
        self.change(p, total, false);
    }

    fn change(&mut self, p: &Pending, total: usize, add: bool) {
        let step = |n: &mut usize, by: usize| *n = if add { *n + by } else { n.saturating_sub(by) };
        step(&mut self.slots, p.slots(total));
        step(&mut self.jobs, 1);
        if p.isolated() {
            step(&mut self.isolated, 1);
        }
        if p.spec.headers.category == Category::Immiscible {
            step(&mut self.immiscible, 1);
        }
        for c in &p.spec.headers.conflicts {
            step(self.conflicts.entry(c.clone()).or_insert(0), 1);
        }
    }
}

#[derive(Default)]
pub struct Queue {
    waiting: VecDeque<Pending>,
    /// `--retry-isolated` retries: after everything else, one at a time.
    last: VecDeque<Pending>,
}

impl Queue {
    pub fn push(&mut self, p: Pending) {
        if p.alone {
            self.last.push_back(p);
        } else {
            self.waiting.push_back(p);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.last.is_empty()
    }

    /// Everything still waiting, in order, emptying the queue.
    pub fn drain(&mut self) -> Vec<Pending> {
        self.waiting.drain(..).chain(self.last.drain(..)).collect()
    }

    /// Puts back a job that could not be started after all.
    pub fn put_back(&mut self, p: Pending) {
        if p.alone {
            self.last.push_front(p);
        } else {
            self.waiting.push_front(p);
        }
    }

    /// The next job, if it may be sent ahead: it is first in line and plain
    /// (one slot, and neither isolated, immiscible nor in a conflict), and
    /// nothing isolated runs. It then runs beside whatever else may.
    pub fn next_ahead(&mut self, running: &Occupancy, total: usize) -> Option<Pending> {
        if running.isolated > 0 {
            return None;
        }
        let p = self.waiting.front()?;
        let plain = p.slots(total) == 1
            && !p.isolated()
            && p.spec.headers.category == Category::General
            && p.spec.headers.conflicts.is_empty();
        if plain {
            self.waiting.pop_front()
        } else {
            None
        }
    }

    /// The next job that may start beside what is running, out of `total`
    /// slots; `ahead` jobs sent ahead will run too (an isolated job waits for
    /// them as for the running ones).
    pub fn next(&mut self, running: &Occupancy, ahead: usize, total: usize) -> Option<Pending> {
        if running.isolated > 0 {
            return None;
        }
        let empty = running.is_empty() && ahead == 0;
        let free = total.saturating_sub(running.slots);
        for i in 0..self.waiting.len() {
            let p = &self.waiting[i];
            let needs_room = p.isolated() && !empty || p.slots(total) > free;
            if needs_room {
                // Wait for room rather than let later jobs take it.
                return None;
            }
            let clashes = p.spec.headers.category == Category::Immiscible && running.immiscible > 0
                || p.spec
                    .headers
                    .conflicts
                    .iter()
                    .any(|c| running.conflicts.get(c).map_or(false, |n| *n > 0));
            if !clashes {
                return self.waiting.remove(i);
            }
        }
        if self.waiting.is_empty() && empty {
            return self.last.pop_front();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::How;
    use crate::headers::Headers;

    fn job(n: u64, headers: Headers) -> Pending {
        let spec = JobSpec {
            display: format!("t/{}.t", n),
            path: format!("t/{}.t", n).into(),
            how: How::Itself,
            headers,
            staged: false,
        };
        Pending {
            job: n,
            tries: 1,
            spec,
            alone: false,
            uncounted: 0,
        }
    }

    fn with(f: impl FnOnce(&mut Headers)) -> Headers {
        let mut h = Headers::default();
        f(&mut h);
        h
    }

    /// Starts what it can, returns the jobs started.
    fn start(q: &mut Queue, running: &mut Occupancy, total: usize) -> Vec<u64> {
        let mut started = Vec::new();
        while let Some(p) = q.next(running, 0, total) {
            running.add(&p, total);
            started.push(p.job);
        }
        started
    }

    #[test]
    fn plain_jobs_fill_the_slots_in_order() {
        let mut q = Queue::default();
        for n in 1..=4 {
            q.push(job(n, Headers::default()));
        }
        let mut running = Occupancy::default();
        assert_eq!(start(&mut q, &mut running, 2), [1, 2]);
    }

    #[test]
    fn an_isolated_job_waits_for_an_empty_machine_and_holds_the_rest() {
        let mut q = Queue::default();
        q.push(job(1, Headers::default()));
        q.push(job(2, with(|h| h.category = Category::Isolation)));
        q.push(job(3, Headers::default()));
        let mut running = Occupancy::default();
        assert_eq!(start(&mut q, &mut running, 4), [1]);
        running.remove(&job(1, Headers::default()), 4);
        assert_eq!(start(&mut q, &mut running, 4), [2]);
        let two = job(2, with(|h| h.category = Category::Isolation));
        running.remove(&two, 4);
        assert_eq!(start(&mut q, &mut running, 4), [3]);
    }

    #[test]
    fn immiscible_and_conflicting_jobs_never_meet_but_others_pass() {
        let mut q = Queue::default();
        q.push(job(1, with(|h| h.category = Category::Immiscible)));
        q.push(job(2, with(|h| h.category = Category::Immiscible)));
        q.push(job(3, with(|h| h.conflicts = vec!["db".into()])));
        q.push(job(4, with(|h| h.conflicts = vec!["db".into()])));
        q.push(job(5, Headers::default()));
        let mut running = Occupancy::default();
        assert_eq!(start(&mut q, &mut running, 8), [1, 3, 5]);
    }

    #[test]
    fn a_job_takes_its_slots() {
        let mut q = Queue::default();
        q.push(job(1, Headers::default()));
        q.push(job(2, with(|h| h.slots = Some(2))));
        q.push(job(3, Headers::default()));
        let mut running = Occupancy::default();
        assert_eq!(start(&mut q, &mut running, 2), [1]);
        running.remove(&job(1, Headers::default()), 2);
        assert_eq!(start(&mut q, &mut running, 2), [2]);
        // More slots than there are: it takes them all, and still runs.
        let mut q = Queue::default();
        q.push(job(9, with(|h| h.slots = Some(8))));
        assert_eq!(start(&mut q, &mut Occupancy::default(), 2), [9]);
    }

    #[test]
    fn isolated_retries_run_last_and_alone() {
        let mut q = Queue::default();
        let mut retry = job(1, Headers::default());
        retry.alone = true;
        retry.tries = 2;
        q.push(retry);
        q.push(job(2, Headers::default()));
        let mut running = Occupancy::default();
        assert_eq!(start(&mut q, &mut running, 4), [2]);
        running.remove(&job(2, Headers::default()), 4);
        assert_eq!(start(&mut q, &mut running, 4), [1]);
    }

    #[test]
    fn only_a_plain_job_first_in_line_goes_ahead() {
        let mut q = Queue::default();
        q.push(job(1, Headers::default()));
        q.push(job(2, with(|h| h.conflicts = vec!["db".into()])));
        q.push(job(3, Headers::default()));
        let mut running = Occupancy::default();
        assert_eq!(q.next_ahead(&running, 2).map(|p| p.job), Some(1));
        // The conflicting job is first now: nothing passes it by going ahead.
        assert!(q.next_ahead(&running, 2).is_none());
        for headers in [
            with(|h| h.category = Category::Isolation),
            with(|h| h.category = Category::Immiscible),
            with(|h| h.slots = Some(2)),
        ] {
            let mut q = Queue::default();
            q.push(job(4, headers));
            assert!(q.next_ahead(&running, 2).is_none());
        }
        // Nothing goes ahead of an isolated job that runs.
        let isolated = job(5, with(|h| h.category = Category::Isolation));
        running.add(&isolated, 2);
        let mut q = Queue::default();
        q.push(job(6, Headers::default()));
        assert!(q.next_ahead(&running, 2).is_none());
    }

    #[test]
    fn an_isolated_job_waits_for_the_jobs_sent_ahead() {
        let mut q = Queue::default();
        q.push(job(1, with(|h| h.category = Category::Isolation)));
        let running = Occupancy::default();
        assert!(q.next(&running, 1, 4).is_none());
        assert_eq!(q.next(&running, 0, 4).map(|p| p.job), Some(1));
    }
}
