//! The earlier runs of a file, for its trend on the page of one run: its
//! duration in each earlier log of the state directory, fed here one log at a
//! time, newest first, by commands::report (which finds, bounds and reads
//! them; nothing here touches a file). Only the files the page shows a
//! duration for are kept, one number a log each, so the logs read cost no
//! memory beyond their line being read.
//!
//! A log counts as one run: a `proctor test` log holds one, a `proctor
//! driver` log (one `make check`) one per test, each file once, timed by its
//! auditor the same way, so its files' durations are the make's run.

use crate::event::{Event, JobResult, Kind};
use std::collections::HashMap;

/// What the earlier logs say of the files wanted.
pub struct History {
    /// Each wanted file's row.
    rows: HashMap<String, usize>,
    /// Per row, its duration in each earlier log counted, newest first.
    durations: Vec<Vec<Option<f64>>>,
    /// How many earlier logs gave a run.
    logs: usize,
    /// The reported run's start: runs that started since are no earlier run.
    before: f64,
    /// The log being read: each row's duration in its runs that ended.
    log: Vec<Option<f64>>,
    /// The run being read, if it is an earlier one: each row's duration.
    run: Option<Vec<Option<f64>>>,
    /// Whether a run of the log being read ended, and counts.
    log_ran: bool,
}

impl History {
    /// For the files `wanted`, of a run that started at `before`.
    pub fn new<'a>(wanted: impl IntoIterator<Item = &'a str>, before: f64) -> History {
        let mut rows = HashMap::new();
        for name in wanted {
            let next = rows.len();
            rows.entry(name.to_string()).or_insert(next);
        }
        let count = rows.len();
        History {
            rows,
            durations: vec![Vec::new(); count],
            logs: 0,
            before,
            log: vec![None; count],
            run: None,
            log_ran: false,
        }
    }

    /// Takes in one event of the earlier log being read, in order.
    pub fn add(&mut self, event: &mut Event) {
        match event.kind() {
            Kind::RunStart => {
                let earlier = event.f64("stamp").map_or(false, |s| s < self.before);
                self.run = if earlier {
                    Some(vec![None; self.rows.len()])
                } else {
                    None
                };
            }
            Kind::JobEnd if self.run.is_some() => self.job_end(event),
            Kind::RunEnd => self.run_end(event),
            _ => {}
        }
    }

    /// A try's duration, for a wanted file that ran: a later try of the same
    /// file (after a retry) takes the place of an earlier one.
    fn job_end(&mut self, event: &mut Event) {
        let end = event.job_end();
        let row = match end.file().and_then(|f| self.rows.get(f)) {
            Some(&row) => row,
            None => return,
        };
        if end.result() != JobResult::Cancelled {
            if let Some(run) = self.run.as_mut() {
                run[row] = Some(end.duration());
            }
        }
    }

    /// A run's durations count once it has ended, and not if it was stopped
    /// or lost its harness: what it cut short would read as fast.
    fn run_end(&mut self, event: &mut Event) {
        let run = match self.run.take() {
            Some(run) => run,
            None => return,
        };
        let end = event.run_end();
        if end.interrupted().is_some() || end.harness_error().is_some() {
            return;
        }
        for (kept, got) in self.log.iter_mut().zip(run) {
            if got.is_some() {
                *kept = got;
            }
        }
        self.log_ran = true;
    }

    /// The log being read is read to its end: it counts as a run if a run
    /// of it ended. `whole` false (it could not be read through) drops it.
    pub fn end_log(&mut self, whole: bool) {
        let log = std::mem::replace(&mut self.log, vec![None; self.rows.len()]);
        if whole && self.log_ran {
            for (row, duration) in self.durations.iter_mut().zip(log) {
                row.push(duration);
            }
            self.logs += 1;
        }
        self.run = None;
        self.log_ran = false;
    }

    /// How many earlier runs the trend covers.
    pub fn runs(&self) -> usize {
        self.logs
    }

    /// `file`'s duration in each earlier run, oldest first (None where it
    /// did not run); nothing for a file not wanted.
    pub fn of(&self, file: &str) -> impl Iterator<Item = Option<f64>> + '_ {
        self.rows
            .get(file)
            .map(|&row| self.durations[row].iter().rev().copied())
            .into_iter()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_log(history: &mut History, log: &str) {
        for line in log.lines() {
            history.add(&mut Event::new(line.as_bytes()));
        }
        history.end_log(true);
    }

    fn run(stamp: f64, file: &str, duration: f64, end: &str) -> String {
        format!(
            concat!(
                r#"{{"type":"run_start","id":"r","stamp":{}}}"#,
                "\n",
                r#"{{"type":"job_end","job":1,"try":1,"file":"{}","result":"pass","duration":{}}}"#,
                "\n",
                "{}\n"
            ),
            stamp, file, duration, end
        )
    }

    const ENDED: &str = r#"{"type":"run_end","result":"pass"}"#;

    #[test]
    fn logs_read_newest_first_give_durations_oldest_first() {
        let mut history = History::new(["a.t"], 100.0);
        read_log(&mut history, &run(50.0, "a.t", 0.3, ENDED));
        read_log(&mut history, &run(40.0, "b.t", 0.9, ENDED));
        read_log(&mut history, &run(30.0, "a.t", 0.1, ENDED));
        assert_eq!(history.runs(), 3);
        let got: Vec<Option<f64>> = history.of("a.t").collect();
        assert_eq!(got, [Some(0.1), None, Some(0.3)]);
        assert_eq!(history.of("b.t").count(), 0);
    }

    #[test]
    fn later_cut_short_or_interrupted_runs_do_not_count() {
        let mut history = History::new(["a.t"], 100.0);
        read_log(&mut history, &run(150.0, "a.t", 0.3, ENDED));
        read_log(&mut history, &run(50.0, "a.t", 0.3, ""));
        let stopped = r#"{"type":"run_end","result":"fail","interrupted":"SIGINT"}"#;
        read_log(&mut history, &run(40.0, "a.t", 0.01, stopped));
        assert_eq!(history.runs(), 0);
    }

    #[test]
    fn a_driver_log_is_one_run_of_its_tests() {
        let mut history = History::new(["a.t", "b.t"], 100.0);
        let log = run(10.0, "a.t", 0.2, ENDED) + &run(11.0, "b.t", 0.4, ENDED);
        read_log(&mut history, &log);
        assert_eq!(history.runs(), 1);
        assert_eq!(history.of("a.t").collect::<Vec<_>>(), [Some(0.2)]);
        assert_eq!(history.of("b.t").collect::<Vec<_>>(), [Some(0.4)]);
    }
}
