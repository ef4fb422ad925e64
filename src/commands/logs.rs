//! The commands that read a finished (or growing) event log: `failed`, `times`
//! and `replay` (and, through [`each_event`], `report`). With no LOG they read
//! the last run of this project.

use crate::cli::LogArgs;
use crate::error::{Error, Result};
use crate::event::write::{self, RunTotals};
use crate::event::{read, Event, Interest, JobResult, Kind};
use crate::json;
use crate::render;
use crate::state;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often `replay --follow` looks for more of a growing log.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);

/// The logs to read: those named, or the last run's.
fn paths(args: &LogArgs) -> Vec<PathBuf> {
    if args.logs.is_empty() {
        vec![state::last_log(&state::locate(args.state_dir.as_deref()))]
    } else {
        args.logs.clone()
    }
}

/// Opens an event log and checks that it is one.
pub(super) fn open(path: &Path, named: bool, follow: bool) -> Result<BufReader<File>> {
    let file = File::open(path).map_err(|e| match (e.kind(), named) {
        (io::ErrorKind::NotFound, false) => Error::Usage(format!(
            "no run recorded yet for {} (state directory {}); run proctor test first, or name a LOG",
            state::project_dir().display(),
            path.parent().unwrap_or(path).display()
        )),
        _ => Error::Usage(format!("{}: {}", path.display(), e)),
    })?;
    let mut reader = BufReader::new(file);
    let first = reader
        .fill_buf()
        .map_err(|e| Error::Usage(format!("{}: {}", path.display(), e)))?;
    // A log being followed may not have its first line yet.
    let awaited = follow && first.is_empty();
    if !awaited && !first.starts_with(b"{\"type\":\"run_start\"") {
        return Err(Error::Usage(format!(
            "{}: not a proctor event log (it does not start with a run_start record)",
            path.display()
        )));
    }
    Ok(reader)
}

/// Every event of every log, in order. Returns whether each ended with run_end.
pub(super) fn each_event(
    args: &LogArgs,
    mut each: impl FnMut(&mut Event) -> io::Result<()>,
) -> Result<bool> {
    let paths = paths(args);
    // All are checked before any is read, so a bad one fails the command at once.
    let readers = paths
        .iter()
        .map(|p| open(p, !args.logs.is_empty(), args.follow))
        .collect::<Result<Vec<_>>>()?;
    let mut complete = true;
    for (path, reader) in paths.iter().zip(readers) {
        complete &= for_each_event(reader, path, args.follow, &mut each)?;
    }
    Ok(complete)
}

/// Calls `each` for every line of the log, in order; with `follow`, waits for
/// more until the run ends: until the log stops at a run_end (a `make check`'s
/// log holds a run for each test, one after another, and may go on after one
/// ends). Returns whether the log ended with run_end.
pub(super) fn for_each_event(
    mut reader: BufReader<File>,
    path: &Path,
    follow: bool,
    mut each: impl FnMut(&mut Event) -> io::Result<()>,
) -> Result<bool> {
    let mut complete = false;
    let mut line = Vec::new();
    loop {
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        if n == 0 || !line.ends_with(b"\n") {
            // End of what is there so far (a partial line stays in `line`).
            if !follow || complete {
                break;
            }
            std::thread::sleep(FOLLOW_EVERY);
            continue;
        }
        line.pop();
        if !line.is_empty() {
            let mut event = Event::new(&line);
            complete = event.kind() == Kind::RunEnd;
            match each(&mut event) {
                // Nobody reads the output any more: a finished log is still
                // read to its end, for the verdict; a growing one is left.
                Err(e) if crate::say::reader_gone(&e) => {
                    if follow {
                        return Ok(complete);
                    }
                }
                Err(e) => return Err(Error::io("write the output", e)),
                Ok(()) => {}
            }
        }
        line.clear();
    }
    Ok(complete)
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<i32> {
    crate::say::out(text).map(|()| 0)
}

/// `proctor failed`: the files whose last try failed, with their reasons.
pub fn failed(args: LogArgs) -> Result<i32> {
    let mut order: Vec<String> = Vec::new();
    let mut last: HashMap<String, Option<serde_json::Value>> = HashMap::new();
    each_event(&args, |event| {
        say_harness_error(event);
        if event.kind() == Kind::JobEnd {
            let end = event.job_end();
            let file = end.file().unwrap_or("").to_string();
            if !last.contains_key(&file) {
                order.push(file.clone());
            }
            let failed = if end.result() == JobResult::Fail {
                Some(end.0.clone())
            } else {
                None
            };
            last.insert(file, failed);
        }
        Ok(())
    })?;
    let failures: Vec<(&String, &serde_json::Value)> = order
        .iter()
        .filter_map(|f| last[f].as_ref().map(|v| (f, v)))
        .collect();
    let mut text = String::new();
    if args.json {
        let mut out = Vec::new();
        out.push(b'[');
        for (i, (file, end)) in failures.iter().enumerate() {
            out.extend_from_slice(if i == 0 {
                b"\n  {\"file\":"
            } else {
                b",\n  {\"file\":"
            });
            json::write_str(&mut out, file);
            out.extend_from_slice(
                format!(
                    ",\"reasons\":{},\"counts\":{},\"flaky\":{}}}",
                    end["reasons"],
                    end["counts"],
                    read::JobEnd(end).flaky()
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(if failures.is_empty() {
            b"]\n"
        } else {
            b"\n]\n"
        });
        text = String::from_utf8_lossy(&out).into_owned();
    } else {
        for (file, end) in failures {
            text.push_str(file);
            text.push('\n');
            // Reasons for people (a terminal, or -v); names alone for scripts.
            let reasons = args.reasons || (!args.brief && crate::sys::terminal::isatty(1));
            if reasons {
                for reason in read::JobEnd(end).reasons() {
                    text.push_str(&format!("    {}\n", reason));
                }
            }
        }
    }
    print(&text)
}

/// A run that failed for the harness's sake (its runner lost, say) is said
/// on stderr: its jobs' results are not all its tests would have given.
fn say_harness_error(event: &mut Event) {
    if event.kind() == Kind::RunEnd {
        if let Some(error) = event.run_end().harness_error() {
            errln!("proctor: the run ended in a harness error: {}", error);
        }
    }
}

/// A try's start-up, run and audit times, in seconds.
type Phases = (f64, f64, f64);

/// `proctor times`: each try of each file, slowest first, its duration split into
/// start-up (to its first output), run (to its exit) and audit (after its exit),
/// with its result.
pub fn times(args: LogArgs) -> Result<i32> {
    let mut exits: HashMap<(u64, u32), Phases> = HashMap::new();
    let mut rows: Vec<(f64, Phases, JobResult, String)> = Vec::new();
    // The tries that ran preloaded, and the jobs one of whose tries did.
    let mut preloaded: HashSet<(u64, u32)> = HashSet::new();
    let mut preloaded_jobs: HashSet<u64> = HashSet::new();
    each_event(&args, |event| {
        say_harness_error(event);
        match event.kind() {
            Kind::JobLaunch if event.value()["staged"] == true => {
                if let Some(job) = event.job() {
                    preloaded.insert(job);
                    preloaded_jobs.insert(job.0);
                }
            }
            Kind::JobExit => {
                if let Some(job) = event.job() {
                    let exit = event.job_exit();
                    let startup = exit.startup();
                    let run = (exit.wall() - startup).max(0.0);
                    exits.insert(job, (startup, run, exit.audit()));
                }
            }
            Kind::JobEnd if event.job_end().result() != JobResult::Cancelled => {
                let split = event
                    .job()
                    .and_then(|j| exits.remove(&j))
                    .unwrap_or_default();
                let end = event.job_end();
                let (duration, result) = (end.duration(), end.result());
                let job = event.job().unwrap_or_default();
                let how = Preloaded {
                    this_try: preloaded.remove(&job),
                    a_try: preloaded_jobs.contains(&job.0),
                };
                rows.push((duration + split.2, split, result, which_try(event, how)));
            }
            _ => {}
        }
        Ok(())
    })?;
    rows.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut text = format!(
        "{:>9} {:>9} {:>9} {:>9}  {:<6} {}\n",
        "total", "start-up", "run", "audit", "result", "file"
    );
    for (total, (startup, run, audit), result, file) in rows {
        text.push_str(&format!(
            "{:>8.3}s {:>8.3}s {:>8.3}s {:>8.3}s  {:<6} {}\n",
            total,
            startup,
            run,
            audit,
            result.as_str(),
            file
        ));
    }
    print(&text)
}

/// Whether a try ran preloaded, and whether one of its file's did.
struct Preloaded {
    this_try: bool,
    a_try: bool,
}

/// A job_end's file, and which try it was when the file was tried more than
/// once: `t/a.t (try 1, tried again)`, `t/a.t (try 2, flaky)`,
/// `t/a.t (try 1, preloaded, tried again)`.
fn which_try(event: &mut Event, preloaded: Preloaded) -> String {
    let tries = event.job().map_or(1, |(_, t)| t);
    let end = event.job_end();
    let file = end.file().unwrap_or("");
    // A pass after a preloaded try is flaky only when the overlord says so.
    let flaky = end.flaky() || (!preloaded.a_try && is_flaky(end, tries));
    match (tries, end.will_retry(), flaky) {
        (1, false, _) => file.to_string(),
        (_, true, _) if preloaded.this_try => {
            format!("{} (try {}, preloaded, tried again)", file, tries)
        }
        (_, true, _) => format!("{} (try {}, tried again)", file, tries),
        (_, false, true) => format!("{} (try {}, flaky)", file, tries),
        (_, false, false) => format!("{} (try {})", file, tries),
    }
}

/// Whether a final job_end is of a file that passed only on a retry: the
/// overlord says so in the record; a log written before it did shows it as a
/// pass on a later try.
fn is_flaky(end: read::JobEnd, tries: u32) -> bool {
    end.flaky() || (end.result() == JobResult::Pass && tries > 1 && !end.will_retry())
}

/// `proctor replay LOG...`: the run shown again, through the same renderers.
/// Several runs (the shards of one suite, in several logs; the tests of one
/// `make check`, one after another in one log) are shown as one run: one
/// run_start, their jobs in turn, and one run_end that adds theirs up.
pub fn replay(args: LogArgs) -> Result<i32> {
    let (mut renderers, _) = render::for_run(&args.show, false, args.follow);
    let interests: Vec<Interest> = renderers.iter().map(|r| r.interest()).collect();
    let mut merged = MergedEnd::default();
    // The run_end of a log of one run is shown as it is.
    let mut only_end: Option<Vec<u8>> = None;
    let mut started = false;
    let complete = each_event(&args, |event| {
        match event.kind() {
            Kind::RunStart if started => return Ok(()),
            Kind::RunStart => started = true,
            Kind::RunEnd => {
                merged.add(event.run_end());
                only_end = Some(event.raw().to_vec());
                return Ok(());
            }
            _ => {}
        }
        show(&mut renderers, &interests, event)
    })?;
    let end = match (merged.logs, only_end) {
        (1, Some(line)) => Some(line),
        (0, _) => None,
        _ => Some(merged.record()),
    };
    if let Some(line) = end {
        shown(show(&mut renderers, &interests, &mut Event::new(&line)))?;
    }
    for r in renderers.iter_mut() {
        shown(r.finish(complete))?;
    }
    Ok(if merged.logs > 0 && merged.passed {
        crate::error::EXIT_PASS
    } else {
        crate::error::EXIT_FAIL
    })
}

/// What writing the replay came to: a reader gone away (`| head`) is no
/// error, the replay still ends with the run's verdict.
fn shown(written: io::Result<()>) -> Result<()> {
    match written {
        Err(e) if !crate::say::reader_gone(&e) => Err(Error::io("write the output", e)),
        _ => Ok(()),
    }
}

/// Hands `event` to the renderers that want it; `interests` are theirs, asked once.
fn show(
    renderers: &mut [Box<dyn render::Renderer>],
    interests: &[Interest],
    event: &mut Event,
) -> io::Result<()> {
    for (r, interest) in renderers.iter_mut().zip(interests) {
        if interest.contains(event.kind()) {
            r.event(event)?;
        }
    }
    Ok(())
}

/// The run_end of several runs: counts and times added up.
struct MergedEnd {
    /// How many runs; `"logs"` in the record, as for the shards it was made for.
    logs: u64,
    passed: bool,
    totals: RunTotals,
    wall: f64,
    interrupted: Option<String>,
}

impl Default for MergedEnd {
    fn default() -> MergedEnd {
        MergedEnd {
            logs: 0,
            passed: true,
            totals: RunTotals::default(),
            wall: 0.0,
            interrupted: None,
        }
    }
}

impl MergedEnd {
    fn add(&mut self, end: read::RunEnd) {
        self.logs += 1;
        self.passed &= end.result() == JobResult::Pass;
        self.totals.add(end.totals());
        self.wall += end.wall();
        if self.interrupted.is_none() {
            self.interrupted = end.interrupted().map(String::from);
        }
    }

    /// The merged run_end as a record line.
    fn record(&self) -> Vec<u8> {
        let end = write::RunEnd {
            passed: self.passed,
            totals: &self.totals,
            wall: self.wall,
            interrupted: self.interrupted.as_deref(),
            harness_error: None,
            left_running: &[],
            logs: Some(self.logs),
            stamp: None,
        };
        let mut line = Vec::with_capacity(512);
        write::run_end(&mut line, &end);
        line
    }
}
