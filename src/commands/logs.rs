//! The commands that read a finished (or growing) event log: `failed`, `times`
//! and `replay`. With no LOG they read the last run of this project.

use crate::cli::LogArgs;
use crate::error::{Error, Result};
use crate::event::{Event, Kind};
use crate::render::{Plain, Renderer};
use crate::state;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Opens the event log and checks that it is one.
fn open(args: &LogArgs) -> Result<(PathBuf, BufReader<File>)> {
    let path = match &args.log {
        Some(p) => p.clone(),
        None => state::last_log(&state::locate(args.state_dir.as_deref())),
    };
    let file = File::open(&path).map_err(|e| match (e.kind(), &args.log) {
        (io::ErrorKind::NotFound, None) => Error::Usage(format!(
            "{}: no last run here (run 'proctor test' first, or name a LOG)",
            path.display()
        )),
        _ => Error::Usage(format!("{}: {}", path.display(), e)),
    })?;
    let mut reader = BufReader::new(file);
    let first = reader
        .fill_buf()
        .map_err(|e| Error::Usage(format!("{}: {}", path.display(), e)))?;
    if !first.starts_with(b"{\"type\":\"run_start\"") {
        return Err(Error::Usage(format!(
            "{}: not a proctor event log (it does not start with a run_start record)",
            path.display()
        )));
    }
    Ok((path, reader))
}

/// Calls `each` for every line of the log, in order. Returns whether it ended
/// with run_end.
fn for_each_event(
    reader: BufReader<File>,
    path: &Path,
    mut each: impl FnMut(&mut Event) -> io::Result<()>,
) -> Result<bool> {
    let mut complete = false;
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        if line.is_empty() {
            continue;
        }
        let mut event = Event::new(&line);
        complete = event.kind() == Kind::RunEnd;
        match each(&mut event) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(complete),
            Err(e) => return Err(Error::io("write the output", e)),
            Ok(()) => {}
        }
    }
    Ok(complete)
}

/// `proctor failed`: the files whose last try failed, one per line.
pub fn failed(args: LogArgs) -> Result<i32> {
    let (path, reader) = open(&args)?;
    let mut order: Vec<String> = Vec::new();
    let mut last_result: HashMap<String, bool> = HashMap::new();
    for_each_event(reader, &path, |event| {
        if event.kind() == Kind::JobEnd {
            let file = event.str("file").unwrap_or("").to_string();
            let failed = event.str("result") == Some("fail");
            if !last_result.contains_key(&file) {
                order.push(file.clone());
            }
            last_result.insert(file, failed);
        }
        Ok(())
    })?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for file in order.iter().filter(|f| last_result[*f]) {
        if let Err(e) = writeln!(out, "{}", file) {
            return if e.kind() == io::ErrorKind::BrokenPipe {
                Ok(0)
            } else {
                Err(Error::io("write the output", e))
            };
        }
    }
    Ok(0)
}

/// `proctor times`: each file's duration, slowest first.
pub fn times(args: LogArgs) -> Result<i32> {
    let (path, reader) = open(&args)?;
    let mut times: Vec<(f64, String)> = Vec::new();
    for_each_event(reader, &path, |event| {
        if event.kind() == Kind::JobEnd && event.str("result") != Some("cancelled") {
            let duration = event.f64("duration").unwrap_or(0.0);
            times.push((duration, event.str("file").unwrap_or("").to_string()));
        }
        Ok(())
    })?;
    times.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for (duration, file) in times {
        if let Err(e) = writeln!(out, "{:>9.3}s  {}", duration, file) {
            return if e.kind() == io::ErrorKind::BrokenPipe {
                Ok(0)
            } else {
                Err(Error::io("write the output", e))
            };
        }
    }
    Ok(0)
}

/// `proctor replay LOG`: the run shown again, through the same renderer.
pub fn replay(args: LogArgs) -> Result<i32> {
    let (path, reader) = open(&args)?;
    let mut renderer = Plain::new(io::stdout());
    let interest = renderer.interest();
    let mut passed = None;
    let complete = for_each_event(reader, &path, |event| {
        if event.kind() == Kind::RunEnd {
            passed = Some(event.str("result") == Some("pass"));
        }
        if interest.contains(event.kind()) {
            renderer.event(event)?;
        }
        Ok(())
    })?;
    renderer
        .finish(complete)
        .map_err(|e| Error::io("write the output", e))?;
    Ok(if passed == Some(true) {
        crate::error::EXIT_PASS
    } else {
        crate::error::EXIT_FAIL
    })
}
