//! Following job logs. A log is a job's own file, or a standing auditor's log
//! holding a segment a job (each with its own end marker, as a whole job log
//! ends): a job's own file is a log of one segment, its job's from the start,
//! and each segment of an auditor's log names its job in its first record (see
//! [`crate::job::segment`]), so the segments are taken by the jobs they name, in
//! whatever order they come. A record is taken only once the runner's
//! job_launch of its job has been read, so a log that runs ahead of the
//! runner's records waits. Logs are read a bounded piece at a time, so a fast
//! one is never all in memory.

use crate::job::segment;
use crate::ljsonl::{Next, Tail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

type Key = (u64, u32);

#[derive(Default)]
pub struct Segments {
    logs: HashMap<PathBuf, Log>,
}

#[derive(Default)]
struct Log {
    tail: Option<Tail>,
    /// Jobs launched on it whose segments have not ended.
    open: Vec<Key>,
    /// The job whose segment is being read, as its first record names it;
    /// None between segments.
    reading: Option<Key>,
    /// Where the records of the segment being read start, to replay them from.
    reading_from: u64,
    /// A segment in it never ended: where the next one starts is unknown, so
    /// nothing more in it is anyone's (its jobs fail as lost, never pass on
    /// another job's records).
    broken: bool,
}

impl Segments {
    /// The job's log is `log`: its own file, or (`shared`) a segment in its
    /// auditor's log.
    pub fn launched(&mut self, log: &Path, job: Key, shared: bool) {
        let entry = self.logs.entry(log.to_path_buf()).or_default();
        entry.open.push(job);
        if !shared {
            entry.reading = Some(job);
        }
    }

    /// Reads what `log` has, handing each record to `each` with its job and
    /// where that job's records start in the log; true once `job`'s segment
    /// has ended. Errors are said and end the reading.
    pub fn read(&mut self, log: &Path, job: Key, mut each: impl FnMut(Key, u64, &[u8])) -> bool {
        let entry = match self.logs.get_mut(log) {
            Some(entry) => entry,
            None => return true,
        };
        if !entry.broken {
            entry.follow(log, &mut each);
        }
        !entry.open.contains(&job)
    }

    /// Where `job`'s records start in `log`, once they have begun there.
    pub fn start_of(&self, log: &Path, job: Key) -> Option<u64> {
        let entry = self.logs.get(log)?;
        if entry.reading == Some(job) {
            Some(entry.reading_from)
        } else {
            None
        }
    }

    /// A job given back before it started: it wrote nothing, and no segment
    /// will name it.
    pub fn withdraw(&mut self, log: &Path, job: Key) {
        if let Some(entry) = self.logs.get_mut(log) {
            entry.open.retain(|&k| k != job);
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
            entry.open.retain(|&k| k != job);
            entry.broken = true;
            entry.tail = None;
        }
    }
}

impl Log {
    /// Reads on in the log at `path`, handing each record to `each` with the
    /// job whose segment it is in, until it has nothing more or its next
    /// record is of a job not launched yet.
    fn follow(&mut self, path: &Path, each: &mut impl FnMut(Key, u64, &[u8])) {
        if self.tail.is_none() {
            match Tail::open(path) {
                Ok(t) => self.tail = Some(t),
                // Not there yet: its auditor has not started writing.
                Err(_) => return,
            }
        }
        let tail = self.tail.as_mut().expect("opened above");
        loop {
            let read = match tail.read_some() {
                Ok(n) => n,
                Err(e) => {
                    errln!("proctor: unable to read {}: {}", path.display(), e);
                    return;
                }
            };
            loop {
                if let Some(job) = self.reading {
                    if !self.open.contains(&job) {
                        // Its job_launch is still to come: read no more of
                        // this log until then.
                        return;
                    }
                }
                let damage = match (tail.decoder.next_record(), self.reading) {
                    (Next::Record(r), Some(job)) => {
                        each(job, self.reading_from, r);
                        continue;
                    }
                    (Next::Record(r), None) => match segment::job_named(r) {
                        Some(job) => {
                            self.reading = Some(job);
                            self.reading_from = tail.decoder.offset();
                            continue;
                        }
                        None => "a segment that does not name its job".to_string(),
                    },
                    (Next::Pending, _) => break,
                    (Next::End, Some(job)) => {
                        self.open.retain(|&k| k != job);
                        self.reading = None;
                        tail.decoder.next_segment();
                        continue;
                    }
                    (Next::End, None) => "a segment with no records".to_string(),
                    (Next::Corrupt(why), _) => why,
                };
                errln!("proctor: {} is damaged: {}", path.display(), damage);
                self.broken = true;
                return;
            }
            if read == 0 {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ljsonl::Writer;

    /// A standing auditor's log in a directory of its own.
    struct Fixture {
        dir: PathBuf,
        log: PathBuf,
        writer: Writer,
    }

    impl Fixture {
        fn new(name: &str) -> Fixture {
            let dir = std::env::temp_dir().join(format!(
                "proctor-segments-{}-{}",
                name,
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let log = dir.join("auditor-1.ljsonl");
            let writer = Writer::append(&log).unwrap();
            Fixture { dir, log, writer }
        }

        /// Begins `job`'s segment, as its auditor does, with one record.
        fn begin(&mut self, job: Key, record: &str) {
            let head = segment::Head::new(job);
            self.writer.record(head.as_bytes()).unwrap();
            self.record(record);
        }

        fn record(&mut self, record: &str) {
            self.writer.record(record.as_bytes()).unwrap();
            self.writer.flush().unwrap();
        }

        fn end(&mut self) {
            self.writer.end_segment().unwrap();
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn collect(segments: &mut Segments, log: &Path, job: Key) -> (bool, Vec<(Key, String)>) {
        let mut seen = Vec::new();
        let done = segments.read(log, job, |k, _, r| {
            seen.push((k, String::from_utf8_lossy(r).into_owned()))
        });
        (done, seen)
    }

    fn seen(job: Key, record: &str) -> Vec<(Key, String)> {
        vec![(job, record.to_string())]
    }

    #[test]
    fn records_go_to_the_job_whose_segment_they_are_in() {
        let mut f = Fixture::new("records");
        let log = f.log.clone();
        f.begin((1, 1), "{\"type\":\"a\"}");
        f.end();
        f.begin((2, 1), "{\"type\":\"b\"}");

        let mut segments = Segments::default();
        segments.launched(&log, (1, 1), true);
        // The second job is not launched yet: its record waits.
        let (done, got) = collect(&mut segments, &log, (1, 1));
        assert!(done);
        assert_eq!(got, seen((1, 1), "{\"type\":\"a\"}"));

        segments.launched(&log, (2, 1), true);
        let (done, got) = collect(&mut segments, &log, (2, 1));
        assert!(!done, "its segment has no end marker yet");
        assert_eq!(got, seen((2, 1), "{\"type\":\"b\"}"));

        f.end();
        let (done, got) = collect(&mut segments, &log, (2, 1));
        assert!(done);
        assert!(got.is_empty(), "{:?}", got);
    }

    #[test]
    fn segments_go_to_the_jobs_they_name_whatever_the_launch_order() {
        let mut f = Fixture::new("order");
        let log = f.log.clone();
        f.begin((2, 1), "{\"type\":\"b\"}");
        f.end();
        f.begin((1, 1), "{\"type\":\"a\"}");
        f.end();

        let mut segments = Segments::default();
        segments.launched(&log, (1, 1), true);
        segments.launched(&log, (2, 1), true);
        let (done, got) = collect(&mut segments, &log, (1, 1));
        assert!(done);
        assert_eq!(
            got,
            [
                seen((2, 1), "{\"type\":\"b\"}"),
                seen((1, 1), "{\"type\":\"a\"}")
            ]
            .concat()
        );
        assert!(collect(&mut segments, &log, (2, 1)).0);
    }

    #[test]
    fn a_job_given_back_has_no_segment_and_the_next_is_not_its() {
        let mut f = Fixture::new("given-back");
        let log = f.log.clone();
        let mut segments = Segments::default();
        segments.launched(&log, (3, 1), true);
        segments.withdraw(&log, (3, 1));
        assert!(collect(&mut segments, &log, (3, 1)).0);
        segments.launched(&log, (4, 1), true);
        f.begin((4, 1), "{\"type\":\"d\"}");
        let (done, got) = collect(&mut segments, &log, (4, 1));
        assert!(!done);
        assert_eq!(got, seen((4, 1), "{\"type\":\"d\"}"));
    }

    #[test]
    fn a_log_ahead_of_the_runner_waits_for_the_launch() {
        let mut f = Fixture::new("ahead");
        let log = f.log.clone();
        f.begin((1, 1), "{\"type\":\"a\"}");
        f.end();
        f.begin((2, 1), "{\"type\":\"b\"}");
        f.end();
        let mut segments = Segments::default();
        segments.launched(&log, (1, 1), true);
        let (done, got) = collect(&mut segments, &log, (1, 1));
        assert!(done);
        assert_eq!(got, seen((1, 1), "{\"type\":\"a\"}"));
        // Nothing of (2, 1) is anyone's until it is launched.
        assert!(collect(&mut segments, &log, (1, 1)).1.is_empty());
        segments.launched(&log, (2, 1), true);
        let (done, got) = collect(&mut segments, &log, (2, 1));
        assert!(done);
        assert_eq!(got, seen((2, 1), "{\"type\":\"b\"}"));
    }

    #[test]
    fn after_a_segment_that_never_ended_nothing_is_anyones() {
        let mut f = Fixture::new("broken");
        let log = f.log.clone();
        let mut segments = Segments::default();
        segments.launched(&log, (3, 2), true);
        f.begin((3, 2), "{\"type\":\"c\"}");
        assert!(!collect(&mut segments, &log, (3, 2)).0);
        // Its auditor died: a job sent after it cannot pass on another
        // job's records, even a segment that names it.
        segments.forget(&log, (3, 2));
        segments.launched(&log, (4, 1), true);
        f.end();
        f.begin((4, 1), "{\"type\":\"d\"}");
        f.end();
        let (done, got) = collect(&mut segments, &log, (4, 1));
        assert!(!done, "a job after a broken segment is never complete");
        assert!(got.is_empty(), "{:?}", got);
    }

    #[test]
    fn a_segment_that_names_no_job_breaks_the_log() {
        let mut f = Fixture::new("unnamed");
        let log = f.log.clone();
        f.record("{\"type\":\"job_start\"}");
        f.end();
        let mut segments = Segments::default();
        segments.launched(&log, (1, 1), true);
        let (done, got) = collect(&mut segments, &log, (1, 1));
        assert!(!done);
        assert!(got.is_empty(), "{:?}", got);
    }

    #[test]
    fn each_record_comes_with_where_its_jobs_records_start() {
        let mut f = Fixture::new("start");
        let log = f.log.clone();
        f.begin((1, 1), "{\"type\":\"a\"}");
        f.end();
        f.begin((2, 1), "{\"type\":\"b\"}");
        f.record("{\"type\":\"c\"}");
        f.end();
        let mut segments = Segments::default();
        segments.launched(&log, (1, 1), true);
        segments.launched(&log, (2, 1), true);
        let mut starts = Vec::new();
        segments.read(&log, (2, 1), |k, start, _| starts.push((k, start)));
        assert_eq!(starts.len(), 3);
        assert_eq!(starts[1], starts[2], "one start a segment");
        // Read back from there: the second job's records, and only them.
        let mut tail = Tail::open_at(&log, starts[1].1).unwrap();
        tail.read_some().unwrap();
        assert_eq!(
            tail.decoder.next_record(),
            Next::Record(b"{\"type\":\"b\"}")
        );
        assert_eq!(
            tail.decoder.next_record(),
            Next::Record(b"{\"type\":\"c\"}")
        );
        assert_eq!(tail.decoder.next_record(), Next::End);
    }

    #[test]
    fn a_jobs_own_file_is_its_one_segment() {
        let f = Fixture::new("own");
        let own = f.dir.join("1-1.ljsonl");
        let mut w = Writer::create(&own).unwrap();
        w.record(b"{\"type\":\"a\"}").unwrap();
        w.finish().unwrap();
        let mut segments = Segments::default();
        segments.launched(&own, (1, 1), false);
        let (done, got) = collect(&mut segments, &own, (1, 1));
        assert!(done);
        assert_eq!(got, seen((1, 1), "{\"type\":\"a\"}"));
    }
}
