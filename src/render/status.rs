//! The status line's model: the five counts and the running jobs, kept from
//! events, and the line drawn from them, cut to the terminal's width.
//!
//! P passed (skips included), F failed, A auditing (the test exited, its auditor
//! is still finishing), R running, T to do (queued, or waiting for a retry).

use super::palette::{Palette, Role};
use crate::event::{Event, JobResult, Kind};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub auditing: u64,
    pub running: u64,
    pub todo: u64,
}

/// A job that has been launched and has not ended.
pub struct Active {
    pub file: String,
    pub started: f64,
    pub pid: u64,
    pub exited: bool,
    /// The raw record of the last line it printed, decoded only when shown.
    pub last_line: Vec<u8>,
    /// Test points that failed so far (TODO ones aside), and the first of them.
    pub failed_points: u64,
    pub first_failure: Option<String>,
}

#[derive(Default)]
pub struct Status {
    pub counts: Counts,
    pub active: BTreeMap<(u64, u32), Active>,
    pub run_started: Option<f64>,
}

impl Status {
    /// Updates the model; true when the line would look different.
    pub fn event(&mut self, event: &mut Event) -> bool {
        let job = event.job();
        match (event.kind(), job) {
            (Kind::RunStart, _) => {
                self.run_started = event.f64("stamp");
                false
            }
            (Kind::JobQueued, _) => {
                self.counts.todo += 1;
                true
            }
            (Kind::JobLaunch, Some(job)) => {
                self.counts.todo = self.counts.todo.saturating_sub(1);
                self.counts.running += 1;
                let file = event.str("file").unwrap_or("").to_string();
                let started = event.f64("stamp").unwrap_or(0.0);
                self.active.insert(
                    job,
                    Active {
                        file,
                        started,
                        pid: 0,
                        exited: false,
                        last_line: Vec::new(),
                        failed_points: 0,
                        first_failure: None,
                    },
                );
                true
            }
            (Kind::JobStart, Some(job)) => {
                let pid = event.u64("pid").unwrap_or(0);
                if let Some(a) = self.active.get_mut(&job) {
                    a.pid = pid;
                }
                false
            }
            (Kind::JobRequeued, Some(job)) => {
                if self.active.remove(&job).is_some() {
                    self.counts.running = self.counts.running.saturating_sub(1);
                    self.counts.todo += 1;
                }
                true
            }
            (Kind::TestExit, Some(job)) => match self.active.get_mut(&job) {
                Some(a) if !a.exited => {
                    a.exited = true;
                    self.counts.running = self.counts.running.saturating_sub(1);
                    self.counts.auditing += 1;
                    true
                }
                _ => false,
            },
            (Kind::JobEnd, job) => {
                let end = event.job_end();
                match end.result() {
                    // Back to T when the runner queues its next try.
                    _ if end.will_retry() => {}
                    JobResult::Pass | JobResult::Skip => self.counts.passed += 1,
                    JobResult::Cancelled => self.counts.todo = self.counts.todo.saturating_sub(1),
                    JobResult::Fail => self.counts.failed += 1,
                }
                if let Some(a) = job.and_then(|j| self.active.remove(&j)) {
                    if a.exited {
                        self.counts.auditing = self.counts.auditing.saturating_sub(1);
                    } else {
                        self.counts.running = self.counts.running.saturating_sub(1);
                    }
                }
                true
            }
            (kind, Some(job)) if kind.is_line() => {
                if let Some(a) = self.active.get_mut(&job) {
                    a.last_line.clear();
                    a.last_line.extend_from_slice(event.raw());
                    // Passing points are told by their bytes, without decoding.
                    if kind == Kind::Assert
                        && super::plain::failed_assert(event.raw())
                        && event.str("directive") != Some("todo")
                    {
                        a.failed_points += 1;
                        if a.first_failure.is_none() {
                            a.first_failure = event.str("line").map(String::from);
                        }
                    }
                }
                false
            }
            _ => false,
        }
    }

    /// The status line for a terminal `width` columns wide at time `now`.
    pub fn line(&self, palette: &Palette, now: f64, paused: bool, width: usize) -> String {
        let c = &self.counts;
        let cells = [
            (Role::Passed, 'P', c.passed),
            (Role::Failed, 'F', c.failed),
            (Role::Auditing, 'A', c.auditing),
            (Role::Running, 'R', c.running),
            (Role::ToDo, 'T', c.todo),
        ];
        let mut visible = String::from("[");
        let mut painted = String::from("[");
        for (i, (role, letter, n)) in cells.iter().enumerate() {
            let cell = format!("{}:{}", letter, n);
            if i > 0 {
                visible.push('|');
                painted.push('|');
            }
            visible.push_str(&cell);
            painted.push_str(&palette.paint(*role, &cell));
        }
        visible.push(']');
        painted.push(']');
        let elapsed = self.run_started.map_or(0.0, |s| (now - s).max(0.0));
        let mut tail = format!(" {}", clock(elapsed));
        if paused {
            tail.push_str(" paused");
        }
        let mut longest: Vec<&Active> = self.active.values().filter(|a| !a.exited).collect();
        longest.sort_by(|a, b| {
            a.started
                .partial_cmp(&b.started)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for a in longest.iter().take(3) {
            tail.push_str(&format!(
                "  {} {}s",
                a.file,
                (now - a.started).max(0.0) as u64
            ));
        }
        // Cut to the width: the counts first, then as much of the tail as fits.
        let room = width.saturating_sub(1);
        let counts_len = visible.chars().count();
        if counts_len >= room {
            return visible.chars().take(room).collect();
        }
        let tail: String = tail.chars().take(room - counts_len).collect();
        painted + &tail
    }
}

/// `m:ss`, or `h:mm:ss` past an hour.
pub fn clock(seconds: f64) -> String {
    let s = seconds as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(status: &mut Status, lines: &[&str]) {
        for l in lines {
            status.event(&mut Event::new(l.as_bytes()));
        }
    }

    fn sample() -> Status {
        let mut s = Status::default();
        feed(
            &mut s,
            &[
                r#"{"type":"run_start","stamp":100.0}"#,
                r#"{"type":"job_queued","job":1,"try":1,"file":"t/a.t"}"#,
                r#"{"type":"job_queued","job":2,"try":1,"file":"t/b.t"}"#,
                r#"{"type":"job_queued","job":3,"try":1,"file":"t/c.t"}"#,
                r#"{"type":"job_launch","job":1,"try":1,"file":"t/a.t","stamp":101.0}"#,
                r#"{"type":"job_launch","job":2,"try":1,"file":"t/b.t","stamp":102.0}"#,
                r#"{"type":"test_exit","job":1,"try":1,"stamp":103.0}"#,
            ],
        );
        s
    }

    #[test]
    fn counts_follow_the_jobs() {
        let mut s = sample();
        assert_eq!(
            s.counts,
            Counts {
                passed: 0,
                failed: 0,
                auditing: 1,
                running: 1,
                todo: 1
            }
        );
        feed(
            &mut s,
            &[r#"{"type":"job_end","job":1,"try":1,"result":"fail"}"#],
        );
        assert_eq!(
            s.counts,
            Counts {
                passed: 0,
                failed: 1,
                auditing: 0,
                running: 1,
                todo: 1
            }
        );
    }

    #[test]
    fn the_line_without_color_and_cut_to_width() {
        let s = sample();
        let line = s.line(&Palette::none(), 110.0, false, 80);
        assert_eq!(line, "[P:0|F:0|A:1|R:1|T:1] 0:10  t/b.t 8s");
        assert_eq!(
            s.line(&Palette::none(), 110.0, true, 30),
            "[P:0|F:0|A:1|R:1|T:1] 0:10 pa"
        );
        assert_eq!(s.line(&Palette::none(), 110.0, false, 10), "[P:0|F:0|");
    }

    #[test]
    fn the_line_in_color() {
        let s = sample();
        let line = s.line(&Palette::default_colors(), 110.0, false, 80);
        assert!(
            line.starts_with("[\x1b[38;5;46mP:0\x1b[39m|\x1b[38;5;196mF:0\x1b[39m|"),
            "{:?}",
            line
        );
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(5.5), "0:05");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
