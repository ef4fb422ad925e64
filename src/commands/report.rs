//! `proctor report`: the run(s) of the event logs as one HTML page (see
//! `report`), written where `--html` says, or into the state directory's
//! `reports/`, where a page stays as long as its run's log does.

use super::logs::{self, each_event};
use crate::cli::LogArgs;
use crate::error::{Error, Result};
use crate::event::{Event, Kind};
use crate::report::{History, Report};
use crate::state;
use std::fs;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// How many earlier logs a page's trends read at most, newest first, and
/// how many bytes of them: a page of one run costs at most that much more.
const TREND_LOGS: usize = 20;
const TREND_BYTES: u64 = 256 << 20;

pub fn run(args: LogArgs) -> Result<i32> {
    let mut report = Report::default();
    each_event(&args, |event| {
        report.add(event);
        Ok(())
    })?;
    if let Some(history) = history(&args, &report) {
        report.set_history(history);
    }
    match args.html.as_deref() {
        Some(path) if path == Path::new("-") => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let written = report.write_html(&mut out).and_then(|()| out.flush());
            match written {
                Err(e) if !crate::say::reader_gone(&e) => Err(Error::io("write the report", e)),
                _ => Ok(0),
            }
        }
        Some(path) => write_file(&report, path).map(|()| 0),
        None => {
            let state_dir = state::locate(args.state_dir.as_deref());
            let path = default_path(&state_dir, &report);
            write_file(&report, &path)?;
            prune(&state_dir, &path);
            crate::say::out(format!("{}\n", path.display())).map(|()| 0)
        }
    }
}

/// For a page of one run of the state directory (the last, or a log of its
/// `logs/`), the durations of the files it shows in the runs of the earlier
/// logs there, all of them this project's. A log that cannot be read, or is
/// none, is passed over: the trend is a nicety, never a reason to fail.
fn history(args: &LogArgs, report: &Report) -> Option<History> {
    let state_dir = state::locate(args.state_dir.as_deref());
    let logs_dir = state_dir.join("logs");
    match args.logs.as_slice() {
        [] => {}
        [log] if is_in(log, &logs_dir) => {}
        _ => return None,
    }
    let before = report.start()?;
    let mut history = History::new(report.timed_files(), before);
    let mut budget = TREND_BYTES;
    for (path, len) in earlier_logs(&logs_dir, before).into_iter().take(TREND_LOGS) {
        if len > budget {
            break;
        }
        budget -= len;
        let whole = logs::open(&path, true, false).map_or(false, |reader| {
            let each = |event: &mut Event| {
                history.add(event);
                Ok(())
            };
            logs::for_each_event(reader, &path, false, each).is_ok()
        });
        history.end_log(whole);
    }
    Some(history)
}

fn is_in(log: &Path, dir: &Path) -> bool {
    let parent = log
        .canonicalize()
        .ok()
        .and_then(|l| l.parent().map(Path::to_path_buf));
    parent.is_some() && parent == dir.canonicalize().ok()
}

/// The logs in `logs_dir` whose run started before `before`, with their
/// sizes, newest first. Names sort by the second a run started, which runs
/// in a row share: the order is their run_start's stamp.
fn earlier_logs(logs_dir: &Path, before: f64) -> Vec<(PathBuf, u64)> {
    let entries = match fs::read_dir(logs_dir) {
        Ok(entries) => entries,
        Err(_) => return Vec::new(),
    };
    let mut found: Vec<(f64, PathBuf, u64)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|path| path.extension().map_or(false, |x| x == "jsonl"))
        .filter_map(|path| {
            let len = fs::metadata(&path).ok()?.len();
            let started = started(&path).filter(|&s| s < before)?;
            Some((started, path, len))
        })
        .collect();
    found.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    found
        .into_iter()
        .map(|(_, path, len)| (path, len))
        .collect()
}

/// The stamp of the run_start a log begins with; None for what is no log.
fn started(log: &Path) -> Option<f64> {
    let file = fs::File::open(log).ok()?;
    let mut line = Vec::new();
    // A run_start is a few hundred bytes, its argv aside.
    io::BufReader::new(file.take(1 << 20))
        .read_until(b'\n', &mut line)
        .ok()?;
    let mut event = Event::new(&line);
    match event.kind() {
        Kind::RunStart => event.f64("stamp"),
        _ => None,
    }
}

/// `STATE/reports/ID.html` for a run, `ID-merged.html` for several (ID: the last).
fn default_path(state_dir: &Path, report: &Report) -> PathBuf {
    let id = report.last_id().unwrap_or("run");
    let name = if report.run_count() > 1 {
        format!("{}-merged.html", id)
    } else {
        format!("{}.html", id)
    };
    state_dir.join("reports").join(name)
}

/// Writes the page beside `path` and renames it there, so that no half
/// page is ever found under its name.
fn write_file(report: &Report, path: &Path) -> Result<()> {
    let unable = |e| Error::io(format!("write the report {}", path.display()), e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(unable)?;
    }
    let mut draft = path.as_os_str().to_owned();
    draft.push(format!(".{}.tmp", std::process::id()));
    let draft = PathBuf::from(draft);
    let written = fs::File::create(&draft).and_then(|file| {
        let mut out = BufWriter::new(file);
        report.write_html(&mut out)?;
        out.flush()
    });
    match written.and_then(|()| fs::rename(&draft, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&draft);
            Err(unable(e))
        }
    }
}

/// Drops the pages in `reports/` whose run's log the state directory has let
/// go of (see state::prune), but never the one just written.
fn prune(state_dir: &Path, written: &Path) {
    let entries = match fs::read_dir(state_dir.join("reports")) {
        Ok(entries) => entries,
        Err(_) => return,
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let id = match name.strip_suffix(".html") {
            Some(stem) => stem.strip_suffix("-merged").unwrap_or(stem).to_string(),
            None => continue,
        };
        let log = state_dir.join("logs").join(format!("{}.jsonl", id));
        if path != written && !log.exists() {
            let _ = fs::remove_file(&path);
        }
    }
}
