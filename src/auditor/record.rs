//! The muxer's output: the job log an auditor writes, a record per line of the
//! test's output plus a few about the job itself, each as `event::write` shapes
//! it. The job and try are not written here: the overlord puts them after the
//! type when it carries a record into the event log (a segment of a standing
//! auditor's log names them once, in a first record that is the overlord's
//! alone). Nothing is written after the end marker.

use crate::event::write::{self, Counts, JobEnd, JobExit};
use crate::event::LeftRunning;
use crate::job::segment;
use crate::json;
use crate::ljsonl::Writer;
use crate::sys::Rusage;
use crate::tap::{Exit, Parser, Summary, Verdict};
use std::borrow::Cow;
use std::io;
use std::path::Path;

pub struct Times {
    pub wall: f64,
    pub startup: Option<f64>,
    pub audit: Option<f64>,
}

pub struct JobLog {
    writer: Writer,
    finished: bool,
    scratch: Vec<u8>,
    /// A segment's job and try, not yet written: the segment's first record
    /// names them (see [`crate::job::segment`]), once there is a segment at all.
    unnamed: Option<(u64, u32)>,
    /// The stamp of the last line record written: a line read in the same
    /// wake-up leaves it out (see `write::tap_line`).
    line_stamp: Vec<u8>,
}

impl JobLog {
    pub fn create(path: &Path) -> io::Result<JobLog> {
        Ok(JobLog::new(Writer::create(path)?, None))
    }

    /// The log of `job` (and try), written as the next segment of `writer`'s log.
    pub fn segment(writer: Writer, job: (u64, u32)) -> JobLog {
        JobLog::new(writer, Some(job))
    }

    fn new(writer: Writer, unnamed: Option<(u64, u32)>) -> JobLog {
        JobLog {
            writer,
            finished: false,
            scratch: Vec::with_capacity(4096),
            unnamed,
            line_stamp: Vec::new(),
        }
    }

    /// The writer, for the next job's segment once this one is finished.
    pub fn into_writer(self) -> Writer {
        self.writer
    }

    /// Writes the record `write` puts in the scratch buffer.
    fn emit(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.finished {
            return Err(io::Error::new(
                io::ErrorKind::Other,
                "the job log is already finished",
            ));
        }
        self.name_segment()?;
        self.scratch.clear();
        write(&mut self.scratch);
        self.writer.record(&self.scratch)
    }

    /// Begins a segment with the record that names its job: only when
    /// something is written, as a job given back before it started writes no
    /// segment at all.
    fn name_segment(&mut self) -> io::Result<()> {
        match self.unnamed.take() {
            Some(job) => self.writer.record(segment::Head::new(job).as_bytes()),
            None => Ok(()),
        }
    }

    /// One line of the test's output. Stdout lines go through the TAP parser
    /// (`parser`), stderr lines are plain output.
    pub fn line(
        &mut self,
        stream: &str,
        stamp: &json::Stamp,
        raw: &[u8],
        dropped: u64,
        parser: Option<&mut Parser>,
    ) -> io::Result<()> {
        let stamp = if stamp.as_bytes() == &self.line_stamp[..] {
            None
        } else {
            self.line_stamp.clear();
            self.line_stamp.extend_from_slice(stamp.as_bytes());
            Some(stamp)
        };
        match parser {
            Some(parser) => {
                self.emit(|out| {
                    write::tap_line(out, &parser.line(raw), stream, stamp, raw, dropped)
                })?;
                let errors: Vec<String> = parser.take_errors().collect();
                for message in errors {
                    self.parse_error(&message)?;
                }
                Ok(())
            }
            None => self.emit(|out| write::output(out, stream, stamp, raw, dropped)),
        }
    }

    pub fn parse_error(&mut self, message: &str) -> io::Result<()> {
        self.emit(|out| write::parse_error(out, message, crate::sys::unix_now()))
    }

    pub fn job_start(
        &mut self,
        file: &str,
        pid: libc::pid_t,
        command: &[String],
    ) -> io::Result<()> {
        self.emit(|out| write::job_start(out, file, pid, command, crate::sys::unix_now()))?;
        self.flush()
    }

    /// The test has exited (it is not reaped yet): the job is now being audited.
    pub fn test_exit(&mut self, stamp: f64) -> io::Result<()> {
        self.emit(|out| write::test_exit(out, stamp))
    }

    pub fn job_exit(&mut self, exit: &Exit, times: &Times, usage: &Rusage) -> io::Result<()> {
        let exit = JobExit {
            exit,
            wall: times.wall,
            startup: times.startup,
            audit: times.audit,
            user: usage.user,
            system: usage.system,
            max_rss_kib: usage.max_rss_kib.max(0) as u64,
            stamp: crate::sys::unix_now(),
        };
        self.emit(|out| write::job_exit(out, &exit))
    }

    pub fn modules(&mut self, loaded: &super::loaded::Loaded) -> io::Result<()> {
        self.emit(|out| write::modules(out, &loaded.modules, &loaded.project))
    }

    pub fn job_end(
        &mut self,
        file: &str,
        verdict: &Verdict,
        summary: &Summary,
        duration: f64,
        will_retry: bool,
        left_running: &[LeftRunning],
    ) -> io::Result<()> {
        let end = JobEnd {
            notes: Some(Cow::Borrowed(&verdict.notes)),
            remarks: Cow::Borrowed(&verdict.remarks),
            counts: Some(Counts {
                planned: summary.planned,
                run: summary.run,
                passed: summary.passed,
                failed: summary.failed.count,
                todo: summary.todo,
                todo_passed: summary.todo_passed.count,
                skipped: summary.skipped,
            }),
            failed_tests: Cow::Borrowed(&summary.failed.listed),
            duration,
            will_retry,
            left_running: Cow::Borrowed(left_running),
            stamp: Some(crate::sys::unix_now()),
            ..JobEnd::new(
                file,
                verdict.outcome.into(),
                Cow::Borrowed(&verdict.reasons),
            )
        };
        self.emit(|out| write::job_end(out, &end))
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Writes the end marker: the job log is complete.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        self.name_segment()?;
        self.writer.end_segment()
    }
}
