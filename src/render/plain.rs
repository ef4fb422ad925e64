//! The report renderer: close to prove's. One line per finished file, the details
//! of each failure under it, and a summary ending with
//! `Files: N passed, N failed, N skipped`. Its styles: `-v` streams every line of
//! every test as it arrives, prefixed by its file; `-q` shows only failures and
//! the summary; `--qvf` is quiet but shows a failing file's whole output when it
//! ends. A passing file's stderr (a warning, say) is shown under its line, as
//! prove lets it through, unless quiet. It is used as it is when output is not
//! a terminal, and inside the live renderer when it is.

use super::palette::{Palette, Role};
use super::Renderer;
use crate::event::{read, Event, Interest, JobResult, Kind, STOPPED_BY_KEY};
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// How many lines of a failing job's diagnostics are kept; the rest are counted.
const DETAIL_LINES: usize = 40;
/// How much of a job's output `--qvf` keeps for when it fails, when it cannot
/// be replayed from the job's log (`proctor replay`).
const QVF_BYTES: usize = 1 << 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub verbose: bool,
    pub quiet: bool,
    /// `--qvf`: quiet, but a failing job's whole output.
    pub failure_output: bool,
    /// `-Q`: the summary alone.
    pub really_quiet: bool,
    /// `--timer`: each file's time on its line.
    pub timer: bool,
    pub palette: Option<Palette>,
}

/// Lines kept for a job, to show if it fails.
#[derive(Default)]
struct Kept {
    lines: Vec<String>,
    bytes: usize,
    dropped: u64,
}

impl Kept {
    fn push(&mut self, line: String, max_lines: usize, max_bytes: usize) {
        if self.lines.len() < max_lines && self.bytes + line.len() <= max_bytes {
            self.bytes += line.len();
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }
}

#[derive(Default)]
struct Job {
    file: String,
    /// Diagnostics: failed points, what follows them, stderr.
    detail: Kept,
    /// Its stderr alone, shown even when it passes.
    stderr: Kept,
    /// Everything, for `--qvf` when it cannot be replayed.
    output: Kept,
    /// The last point failed: its YAML and comments are its diagnostics.
    after_failure: bool,
    exit: String,
    /// A preloaded perl ran it: tried again, it runs without.
    preloaded: bool,
}

struct Failure {
    file: String,
    counts: String,
    reasons: Vec<String>,
}

pub struct Plain<W: Write> {
    out: W,
    style: Style,
    width: usize,
    jobs: HashMap<(u64, u32), Job>,
    /// Jobs an earlier try of which ran preloaded and was tried again
    /// without: a later pass is not flaky (see `overlord::preload`).
    preloaded_before: HashSet<u64>,
    failures: Vec<Failure>,
    stopped: Option<String>,
    /// Finished jobs can be replayed from their logs (see
    /// [`Renderer::replays_offered`]): `--qvf` keeps nothing.
    replays: bool,
    /// A failed file whose output `--qvf` is having replayed, and how many of
    /// its reasons are already on its line: the rest follow the output.
    replaying: Option<(Failure, usize)>,
}

impl<W: Write> Plain<W> {
    pub fn with_style(out: W, style: Style) -> Plain<W> {
        Plain {
            out,
            style,
            width: 0,
            jobs: HashMap::new(),
            preloaded_before: HashSet::new(),
            failures: Vec::new(),
            stopped: None,
            replays: false,
            replaying: None,
        }
    }

    /// `--qvf` keeps each job's output, having no way to read it back.
    fn keeps_output(&self) -> bool {
        self.style.failure_output && !self.replays
    }

    /// The writer, e.g. to take what was rendered into a buffer.
    pub fn output(&mut self) -> &mut W {
        &mut self.out
    }

    pub fn style_mut(&mut self) -> &mut Style {
        &mut self.style
    }

    fn paint(&self, role: Role, text: &str) -> String {
        match &self.style.palette {
            Some(p) => p.paint(role, text),
            None => text.to_string(),
        }
    }

    /// One line of a test's output.
    fn line(&mut self, event: &mut Event) -> io::Result<()> {
        let kind = event.kind();
        let job_id = match event.job() {
            Some(j) => j,
            None => return Ok(()),
        };
        // Passing points are told by their bytes, without decoding.
        let failed_point = kind == Kind::Assert && failed_assert(event.raw());
        let shows_all = self.style.verbose || self.keeps_output();
        let wants_text = shows_all || failed_point || kind != Kind::Assert;
        if !wants_text {
            if let Some(job) = self.jobs.get_mut(&job_id) {
                job.after_failure = false;
            }
            return Ok(());
        }
        // YAML and comments matter only as a failure's diagnostics.
        let after_failure = self.jobs.get(&job_id).map_or(false, |j| j.after_failure);
        if !shows_all && matches!(kind, Kind::Yaml | Kind::Comment) && !after_failure {
            return Ok(());
        }
        let line = line_text(event);
        let stderr = kind == Kind::Output && event.str("stream") == Some("stderr");
        let todo = failed_point && event.str("directive") == Some("todo");
        // A `# Subtest:` header opens the next subtest: it says nothing of
        // the failure before it.
        let opens_subtest = kind == Kind::Comment && event.str("subtest").is_some();
        let keeps_output = self.keeps_output();
        let job = self.jobs.entry(job_id).or_default();
        if self.style.verbose {
            writeln!(self.out, "[{}] {}", job.file, line)?;
        }
        if keeps_output {
            job.output.push(line.clone(), usize::MAX, QVF_BYTES);
        }
        let diagnostic = match kind {
            Kind::Assert => {
                job.after_failure = failed_point && !todo;
                job.after_failure
            }
            Kind::Comment if opens_subtest => {
                job.after_failure = false;
                false
            }
            Kind::Yaml | Kind::Comment => job.after_failure,
            Kind::Bail => true,
            Kind::Output => stderr,
            _ => false,
        };
        if stderr && !self.style.verbose && !self.style.quiet && !self.style.really_quiet {
            job.stderr.push(line.clone(), DETAIL_LINES, usize::MAX);
        }
        if diagnostic && !line.trim().is_empty() {
            job.detail.push(line, DETAIL_LINES, usize::MAX);
        }
        Ok(())
    }

    fn job_end(&mut self, event: &mut Event) -> io::Result<()> {
        let job_id = event.job();
        let end = event.job_end();
        let file = end.file().unwrap_or("?").to_string();
        let result = end.result();
        let reasons: Vec<String> = end.reasons().map(String::from).collect();
        let counts = end.counts();
        let (run, failed) = (counts.run, counts.failed);
        let job = job_id
            .and_then(|j| self.jobs.remove(&j))
            .unwrap_or_default();
        let will_retry = end.will_retry();
        let tries = job_id.map_or(1, |(_, t)| t);
        let duration = end.duration();
        // A try that will be retried is not the file's failure yet.
        let failing = result == JobResult::Fail && !will_retry;
        if self.style.really_quiet || (self.style.quiet && !failing) {
            return Ok(());
        }
        let status = match result {
            JobResult::Pass => self.paint(Role::Passed, "ok"),
            JobResult::Skip => self.paint(
                Role::ToDo,
                reasons.first().map_or("skipped", |r| r.as_str()),
            ),
            JobResult::Cancelled => format!(
                "not run ({})",
                reasons
                    .first()
                    .map_or("", |r| r.trim_start_matches("not run: "))
            ),
            JobResult::Fail if failed > 0 => {
                self.paint(Role::Failed, &format!("Failed {}/{} subtests", failed, run))
            }
            JobResult::Fail => self.paint(
                Role::Failed,
                &format!("Failed: {}", reasons.first().map_or("", |r| r.as_str())),
            ),
        };
        let mut status = status;
        let job_number = job_id.map_or(0, |(j, _)| j);
        if will_retry {
            let how = if job.preloaded { ", preloaded" } else { "" };
            status.push_str(&format!(" (try {}{}; it will be tried again)", tries, how));
            if job.preloaded {
                self.preloaded_before.insert(job_number);
            }
        } else if self.preloaded_before.remove(&job_number) && !end.flaky() {
            // Tried again without preload: not a retry.
        } else if result == JobResult::Pass && tries > 1 {
            status.push_str(&format!(" (flaky: passed on try {})", tries));
        }
        if self.style.timer {
            status.push_str(&format!(" {:>6} ms", (duration * 1000.0).round() as u64));
        }
        let dots = ".".repeat(2 + self.width.saturating_sub(file.chars().count()));
        writeln!(self.out, "{} {} {}", file, dots, status)?;
        for note in end.notes() {
            writeln!(self.out, "    {}", note)?;
        }
        if self.style.verbose {
            for remark in end.remarks() {
                writeln!(self.out, "    {}", remark)?;
            }
        }
        if !failing {
            // What it said on stderr, as prove would have let it through.
            return self.quote(&job.stderr);
        }
        let shown = if self.style.failure_output {
            &job.output
        } else {
            &job.detail
        };
        // The first reason is already on the file's line when no point failed.
        let skip = if failed == 0 { 1 } else { 0 };
        let failure = Failure {
            file,
            counts: format!("Tests: {} Failed: {}{}", run, failed, job.exit),
            reasons,
        };
        // With -v the lines were just shown as they came.
        if !self.style.verbose {
            if self.style.failure_output && self.replays {
                // Its output comes back from its log (`replayed`), then the rest.
                self.replaying = Some((failure, skip));
                return Ok(());
            }
            self.quote(shown)?;
        }
        self.failed_file(failure, skip)
    }

    /// The reasons a file failed, after what it printed, and the file kept for
    /// the summary.
    fn failed_file(&mut self, failure: Failure, skip: usize) -> io::Result<()> {
        for reason in failure.reasons.iter().skip(skip) {
            writeln!(self.out, "    {}", reason)?;
        }
        self.failures.push(failure);
        Ok(())
    }

    /// Lines kept of a job, under its file's line.
    fn quote(&mut self, kept: &Kept) -> io::Result<()> {
        for line in &kept.lines {
            writeln!(self.out, "    {}", line)?;
        }
        if kept.dropped > 0 {
            writeln!(
                self.out,
                "    ... {} more lines (see the event log)",
                kept.dropped
            )?;
        }
        Ok(())
    }

    fn summary(&mut self, event: &mut Event) -> io::Result<()> {
        let end = event.run_end();
        if !self.failures.is_empty() {
            writeln!(self.out, "\nTest Summary Report\n-------------------")?;
            for f in &self.failures {
                writeln!(self.out, "{} ({})", f.file, f.counts)?;
                for r in &f.reasons {
                    writeln!(self.out, "  {}", r)?;
                }
            }
        }
        let flaky: Vec<&str> = end.flaky().collect();
        if !flaky.is_empty() {
            writeln!(
                self.out,
                "Flaky (passed only on a retry): {}",
                flaky.join(", ")
            )?;
        }
        for line in super::ended_with_the_run(end) {
            writeln!(self.out, "{}", line)?;
        }
        let bailed = end.bailed();
        if let Some((file, reason)) = bailed {
            writeln!(
                self.out,
                "Bailed out in {}: {}",
                file.unwrap_or("?"),
                reason
            )?;
        }
        if let Some(why) = end.interrupted() {
            let verb = if why == STOPPED_BY_KEY {
                "Stopped"
            } else {
                "Interrupted"
            };
            writeln!(self.out, "{} by {}", verb, why)?;
        } else if let (Some(why), None) = (&self.stopped, bailed) {
            writeln!(self.out, "Stopped: {}", why)?;
        }
        if let Some(error) = end.harness_error() {
            writeln!(self.out, "Harness error: {}", error)?;
        }
        let files = end.files();
        let (user, system) = (end.user(), end.system());
        writeln!(
            self.out,
            "Files={}, Tests={}, {:.2} wallclock secs ({:.2} cusr {:.2} csys = {:.2} CPU)",
            files.total,
            end.tests_run(),
            end.wall(),
            user,
            system,
            user + system
        )?;
        if files.cancelled > 0 {
            writeln!(self.out, "Not run: {} files", files.cancelled)?;
        }
        let result = if files.total == 0 {
            "NOTESTS".to_string()
        } else if end.result() == JobResult::Pass {
            self.paint(Role::Passed, "PASS")
        } else {
            self.paint(Role::Failed, "FAIL")
        };
        writeln!(self.out, "Result: {}", result)?;
        writeln!(
            self.out,
            "Files: {} passed, {} failed, {} skipped",
            files.passed, files.failed, files.skipped
        )?;
        self.out.flush()
    }
}

impl<W: Write> Renderer for Plain<W> {
    fn interest(&self) -> Interest {
        const QUIETLY: [Kind; 2] = [Kind::RunEnd, Kind::RunnerStop];
        const ALWAYS: [Kind; 11] = [
            Kind::JobQueued,
            Kind::JobLaunch,
            Kind::Assert,
            Kind::Output,
            Kind::Bail,
            Kind::Yaml,
            Kind::Comment,
            Kind::JobExit,
            Kind::JobEnd,
            Kind::RunEnd,
            Kind::RunnerStop,
        ];
        let always = Interest::of(&ALWAYS);
        if self.style.verbose || self.keeps_output() {
            always.union(Interest::of(&Kind::LINES))
        } else if self.style.really_quiet {
            // The summary alone: it is all in run_end.
            Interest::of(&QUIETLY)
        } else {
            always
        }
    }

    fn event(&mut self, event: &mut Event) -> io::Result<()> {
        let kind = event.kind();
        match kind {
            Kind::JobQueued => {
                // Only the width: a job's state is kept from its launch to its end.
                let width = event.str("file").map_or(0, |f| f.chars().count());
                self.width = self.width.max(width);
            }
            Kind::JobLaunch => {
                let file = event.str("file").unwrap_or("").to_string();
                self.width = self.width.max(file.chars().count());
                let preloaded = event.value()["staged"] == true;
                if let Some(job) = event.job() {
                    let entry = self.jobs.entry(job).or_default();
                    entry.file = file;
                    entry.preloaded = preloaded;
                }
            }
            _ if kind.is_line() => self.line(event)?,
            Kind::JobExit => {
                if let Some(job) = event.job() {
                    let exit = match event.job_exit().exit() {
                        read::Exit::Code(s) if s != 0 => format!(" Exit: {}", s),
                        read::Exit::Signal {
                            name: Some(name), ..
                        } => format!(" Signal: {}", name),
                        _ => String::new(),
                    };
                    self.jobs.entry(job).or_default().exit = exit;
                }
            }
            Kind::JobEnd => self.job_end(event)?,
            Kind::RunEnd => self.summary(event)?,
            Kind::RunnerStop => {
                self.stopped = event.str("reason").map(String::from);
            }
            _ => {}
        }
        Ok(())
    }

    fn replays_offered(&mut self) {
        self.replays = true;
    }

    fn wants_replay(&mut self, _end: &mut Event) -> Option<Interest> {
        self.replaying.as_ref().map(|_| Interest::of(&Kind::LINES))
    }

    fn replayed(&mut self, event: &mut Event) -> io::Result<()> {
        writeln!(self.out, "    {}", line_text(event))
    }

    fn replay_end(&mut self) -> io::Result<()> {
        match self.replaying.take() {
            Some((failure, skip)) => self.failed_file(failure, skip),
            None => Ok(()),
        }
    }

    fn finish(&mut self, complete: bool) -> io::Result<()> {
        if !complete {
            writeln!(
                self.out,
                "(the log ends without run_end: the run is still going, or was killed)"
            )?;
        }
        self.out.flush()
    }
}

/// A line record's text, as the test printed it.
fn line_text(event: &mut Event) -> String {
    let mut line = event.str("line").unwrap_or("").to_string();
    if let Some(cut) = event.u64("truncated") {
        // The auditor keeps the first MiB of a line: say what is missing.
        line.push_str(&format!(" [line cut: {} more bytes not kept]", cut));
    }
    line
}

/// Whether an assert record is a failure, from its bytes: the `"ok"` field comes
/// right after the type and the job ids.
pub(super) fn failed_assert(raw: &[u8]) -> bool {
    // `{"type":"assert","job":N,"try":M,"ok":`: the value follows the first
    // "ok" key, found from its one distinctive byte pattern.
    let head = &raw[..raw.len().min(64)];
    match head
        .iter()
        .position(|&b| b == b'k')
        .filter(|&k| k >= 2 && head[k - 2..].starts_with(b"\"ok\":"))
    {
        Some(k) => head[k + 3..].starts_with(b"false"),
        None => head.windows(11).any(|w| w == b",\"ok\":false"),
    }
}

#[cfg(test)]
mod tests {
    use super::failed_assert;

    #[test]
    fn failures_are_told_by_their_bytes() {
        assert!(failed_assert(
            br#"{"type":"assert","job":1,"try":1,"ok":false,"number":2}"#
        ));
        assert!(!failed_assert(
            br#"{"type":"assert","job":1,"try":1,"ok":true,"number":1}"#
        ));
        assert!(failed_assert(br#"{"type":"assert","ok":false}"#));
        assert!(!failed_assert(
            br#"{"type":"assert","ok":true,"description":"ok false"}"#
        ));
    }
}
