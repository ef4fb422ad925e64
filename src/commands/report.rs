//! `proctor report`: the run(s) of the event logs as one HTML page (see
//! `report`), written where `--html` says, or into the state directory's
//! `reports/`, where a page stays as long as its run's log does.

use super::logs::each_event;
use crate::cli::LogArgs;
use crate::error::{Error, Result};
use crate::report::Report;
use crate::state;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub fn run(args: LogArgs) -> Result<i32> {
    let mut report = Report::default();
    each_event(&args, |event| {
        report.add(event);
        Ok(())
    })?;
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
