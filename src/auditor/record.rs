//! The muxer's output: the job log records an auditor writes, one per line of the
//! test's output plus a few about the job itself. Every record starts with its
//! type; a classified TAP line puts its own fields next (an assert's `"ok"`
//! first), then stream, stamp and the line as it was. The job and try are not
//! written here: the overlord puts them after the type when it carries a record
//! into the event log.

use crate::event::write::{self, Counts, JobEnd};
use crate::event::LeftRunning;
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
}

impl JobLog {
    pub fn create(path: &Path) -> io::Result<JobLog> {
        Ok(JobLog::segment(Writer::create(path)?))
    }

    /// A job log written as the next segment of `writer`'s log.
    pub fn segment(writer: Writer) -> JobLog {
        JobLog {
            writer,
            finished: false,
            scratch: Vec::with_capacity(4096),
        }
    }

    /// The writer, for the next job's segment once this one is finished.
    pub fn into_writer(self) -> Writer {
        self.writer
    }

    fn emit(&mut self) -> io::Result<()> {
        self.scratch.push(b'}');
        self.write_scratch()
    }

    /// Writes the record in `scratch`, whole.
    fn write_scratch(&mut self) -> io::Result<()> {
        if self.finished {
            return Err(io::Error::new(
                io::ErrorKind::Other,
                "the job log is already finished",
            ));
        }
        self.writer.record(&self.scratch)
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
        let out = &mut self.scratch;
        out.clear();
        match parser {
            Some(parser) => {
                {
                    let line = parser.line(raw);
                    json::start_record(out, line.kind.event_type());
                    line.write_fields(out);
                }
                write_line_fields(out, stream, stamp, raw, dropped);
                self.emit()?;
                let errors: Vec<String> = parser.take_errors().collect();
                for message in errors {
                    self.parse_error(&message)?;
                }
                Ok(())
            }
            None => {
                json::start_record(out, "output");
                write_line_fields(out, stream, stamp, raw, dropped);
                self.emit()
            }
        }
    }

    pub fn parse_error(&mut self, message: &str) -> io::Result<()> {
        let out = &mut self.scratch;
        out.clear();
        json::start_record(out, "parse_error");
        json::write_str_field(out, "message", message);
        json::write_f64_field(out, "stamp", super::unix_now());
        self.emit()
    }

    pub fn job_start(
        &mut self,
        file: &str,
        pid: libc::pid_t,
        command: &[String],
    ) -> io::Result<()> {
        let out = &mut self.scratch;
        out.clear();
        json::start_record(out, "job_start");
        json::write_str_field(out, "file", file);
        json::write_u64_field(out, "pid", pid as u64);
        json::write_str_list_field(out, "command", command);
        json::write_f64_field(out, "stamp", super::unix_now());
        self.emit()?;
        self.flush()
    }

    /// The test has exited (it is not reaped yet): the job is now being audited.
    pub fn test_exit(&mut self, stamp: f64) -> io::Result<()> {
        let out = &mut self.scratch;
        out.clear();
        json::start_record(out, "test_exit");
        json::write_f64_field(out, "stamp", stamp);
        self.emit()
    }

    pub fn job_exit(&mut self, exit: &Exit, times: &Times, usage: &Rusage) -> io::Result<()> {
        let out = &mut self.scratch;
        out.clear();
        json::start_record(out, "job_exit");
        match exit {
            Exit::Code(code) => json::write_u64_field(out, "status", *code as u64),
            Exit::Signal { signal, core } => {
                json::write_u64_field(out, "signal", *signal as u64);
                json::write_str_field(out, "signal_name", crate::tap::signal_name(*signal));
                json::write_bool_field(out, "core", *core);
            }
        }
        json::write_f64_field(out, "wall", times.wall);
        if let Some(s) = times.startup {
            json::write_f64_field(out, "startup", s);
        }
        if let Some(a) = times.audit {
            json::write_f64_field(out, "audit", a);
        }
        json::write_f64_field(out, "user", usage.user);
        json::write_f64_field(out, "system", usage.system);
        json::write_u64_field(out, "max_rss_kib", usage.max_rss_kib.max(0) as u64);
        json::write_f64_field(out, "stamp", super::unix_now());
        self.emit()
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
            stamp: Some(super::unix_now()),
            ..JobEnd::new(
                file,
                verdict.outcome.into(),
                Cow::Borrowed(&verdict.reasons),
            )
        };
        self.scratch.clear();
        write::job_end(&mut self.scratch, &end);
        self.write_scratch()
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
        self.writer.end_segment()
    }
}

fn write_line_fields(
    out: &mut Vec<u8>,
    stream: &str,
    stamp: &json::Stamp,
    raw: &[u8],
    dropped: u64,
) {
    json::write_str_field(out, "stream", stream);
    stamp.write_field(out);
    json::write_bytes_field(out, "line", raw);
    if dropped > 0 {
        json::write_u64_field(out, "truncated", dropped);
    }
}
