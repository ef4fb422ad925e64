//! Following job logs. A log is a job's own file, or a standing auditor's log
//! holding a segment a job (each with its own end marker, as a whole job log
//! ends), in the order the runner sent it the jobs: a job's own file is a log of
//! one segment. The runner's job_launch records say which job's segment comes
//! next in which log; a record is taken only once the job it belongs to is
//! known, so a log that runs ahead of the runner's records waits. Logs are read
//! a bounded piece at a time, so a fast one is never all in memory.

use crate::ljsonl::{Next, Tail};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

type Key = (u64, u32);

#[derive(Default)]
pub struct Segments {
    logs: HashMap<PathBuf, Log>,
}

#[derive(Default)]
struct Log {
    tail: Option<Tail>,
    /// Jobs whose segments are still to be read, oldest first.
    jobs: VecDeque<Key>,
    /// A segment in it never ended: where the next one starts is unknown, so
    /// nothing more in it is anyone's (its jobs fail as lost, never pass on
    /// another job's records).
    broken: bool,
}

impl Segments {
    /// The job's segment follows those already launched on `log`.
    pub fn launched(&mut self, log: &Path, job: Key) {
        self.logs
            .entry(log.to_path_buf())
            .or_default()
            .jobs
            .push_back(job);
    }

    /// Reads what `log` has, handing each record to `each` with its job; true
    /// once `job`'s segment has ended. Errors are said and end the reading.
    pub fn read(&mut self, log: &Path, job: Key, mut each: impl FnMut(Key, &[u8])) -> bool {
        let entry = match self.logs.get_mut(log) {
            Some(entry) => entry,
            None => return true,
        };
        if entry.broken {
            return !entry.jobs.contains(&job);
        }
        if entry.tail.is_none() {
            match Tail::open(log) {
                Ok(t) => entry.tail = Some(t),
                // Not there yet: its auditor has not started writing.
                Err(_) => return !entry.jobs.contains(&job),
            }
        }
        let tail = entry.tail.as_mut().expect("opened above");
        loop {
            let read = match tail.read_some() {
                Ok(n) => n,
                Err(e) => {
                    errln!("proctor: unable to read {}: {}", log.display(), e);
                    break;
                }
            };
            while let Some(&head) = entry.jobs.front() {
                match tail.decoder.next_record() {
                    Next::Record(r) => each(head, r),
                    Next::Pending => break,
                    Next::End => {
                        entry.jobs.pop_front();
                        tail.decoder.next_segment();
                    }
                    Next::Corrupt(why) => {
                        errln!("proctor: {} is damaged: {}", log.display(), why);
                        entry.broken = true;
                        return !entry.jobs.contains(&job);
                    }
                }
            }
            if read == 0 {
                break;
            }
        }
        !entry.jobs.contains(&job)
    }

    /// A job given back before it started: it wrote nothing, and the next
    /// segment is the next job's.
    pub fn withdraw(&mut self, log: &Path, job: Key) {
        if let Some(entry) = self.logs.get_mut(log) {
            entry.jobs.retain(|&k| k != job);
        }
    }

    /// Done with a log that was one job's own file: its reader closes.
    pub fn close(&mut self, log: &Path) {
        self.logs.remove(log);
    }

    /// The run is over and its logs read: removes the logs still followed
    /// (the standing auditors' shared logs), so the run directory empties by
    /// name, without a walk.
    pub fn remove_all(&mut self) {
        for (log, _) in self.logs.drain() {
            let _ = std::fs::remove_file(log);
        }
    }

    /// A job whose segment will never end (its auditor died or could not
    /// write): no later record of that log is anyone's.
    pub fn forget(&mut self, log: &Path, job: Key) {
        if let Some(entry) = self.logs.get_mut(log) {
            entry.jobs.retain(|&k| k != job);
            entry.broken = true;
            entry.tail = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ljsonl::Writer;

    fn collect(segments: &mut Segments, log: &Path, job: Key) -> (bool, Vec<(Key, String)>) {
        let mut seen = Vec::new();
        let done = segments.read(log, job, |k, r| {
            seen.push((k, String::from_utf8_lossy(r).into_owned()))
        });
        (done, seen)
    }

    #[test]
    fn records_go_to_the_job_whose_segment_they_are_in() {
        let dir = std::env::temp_dir().join(format!("proctor-segments-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("auditor-1.ljsonl");
        let mut w = Writer::append(&log).unwrap();
        w.record(b"{\"type\":\"a\"}").unwrap();
        w.end_segment().unwrap();
        w.record(b"{\"type\":\"b\"}").unwrap();
        w.flush().unwrap();

        let mut segments = Segments::default();
        segments.launched(&log, (1, 1));
        // The second job is not launched yet: its record waits.
        let (done, seen) = collect(&mut segments, &log, (1, 1));
        assert!(done);
        assert_eq!(seen, vec![((1, 1), "{\"type\":\"a\"}".to_string())]);

        segments.launched(&log, (2, 1));
        let (done, seen) = collect(&mut segments, &log, (2, 1));
        assert!(!done, "its segment has no end marker yet");
        assert_eq!(seen, vec![((2, 1), "{\"type\":\"b\"}".to_string())]);

        w.end_segment().unwrap();
        w.record(b"{\"type\":\"c\"}").unwrap();
        w.flush().unwrap();
        let (done, seen) = collect(&mut segments, &log, (2, 1));
        assert!(done);
        assert!(seen.is_empty(), "{:?}", seen);

        // A job given back wrote nothing: the next segment is the next job's.
        segments.launched(&log, (3, 1));
        segments.withdraw(&log, (3, 1));
        segments.launched(&log, (3, 2));
        let (done, seen) = collect(&mut segments, &log, (3, 2));
        assert!(!done);
        assert_eq!(seen, vec![((3, 2), "{\"type\":\"c\"}".to_string())]);

        // A segment that never ends: nothing after it is anyone's, so a job
        // sent after it cannot pass on another job's records.
        segments.forget(&log, (3, 2));
        segments.launched(&log, (4, 1));
        w.end_segment().unwrap();
        w.record(b"{\"type\":\"d\"}").unwrap();
        w.end_segment().unwrap();
        let (done, seen) = collect(&mut segments, &log, (4, 1));
        assert!(!done, "a job after a broken segment is never complete");
        assert!(seen.is_empty(), "{:?}", seen);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
