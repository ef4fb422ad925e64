//! The per-project state directory: where event logs and run directories live,
//! outside the source tree.
//!
//! `--state-dir DIR` or `PROCTOR_STATE_DIR` names it outright; otherwise it is
//! `$XDG_STATE_HOME/proctor/<project>/` (default `~/.local/state/proctor/...`),
//! or, without a HOME that can hold it, `$TMPDIR/proctor-$UID/<project>/` (see
//! place.rs), where `<project>` is the project directory's name and a hash of
//! its absolute path. Inside: `logs/<run>.jsonl` (event logs, the newest few
//! kept, see prune.rs), `last.jsonl` (a hard link to the last run's log),
//! `files.jsonl` (each file's last result and duration),
//! `fails-preloaded.jsonl` (files held back from preload, see fallback.rs)
//! and `runs/<run>/` (scratch).

mod fallback;
pub mod modules;
mod place;
mod prune;

use crate::event::JobResult;
use crate::order::Known;
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::io::OwnedFd;
use std::path::{Path, PathBuf};

pub use fallback::Fallback;
pub use place::Location;
pub use prune::LOGS_SIZE;

/// What is known of each file between runs.
const FILES: &str = "files.jsonl";

/// The state directory to use, before it is created.
pub fn locate(explicit: Option<&Path>) -> PathBuf {
    located(explicit).dir
}

/// The state directory to use, and what chose it.
pub fn located(explicit: Option<&Path>) -> Location {
    place::located(explicit, project_key)
}

/// The project: the directory proctor was started in.
pub fn project_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

/// `<name>-<hash of the absolute path>` for the current directory.
fn project_key() -> String {
    let cwd = project_dir();
    let name = cwd
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    // FNV-1a: stable across Rust versions, unlike std's hasher.
    let hash = cwd
        .as_os_str()
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{}-{:016x}", name, hash)
}

/// Where one run keeps its files.
pub struct RunPaths {
    pub id: String,
    /// Scratch: runner.ljsonl, the standing auditors' logs and TMPDIRs, and
    /// jobs/ when some job has files of its own.
    pub run_dir: PathBuf,
    /// The event log, or `None` with `--no-log`.
    pub log: Option<PathBuf>,
    pub state_dir: PathBuf,
    /// The lock on `run_dir` that says this run is live, while it is open.
    _live: Option<OwnedFd>,
}

/// Creates the directory of a new run; `keep` (`-k`) keeps it after the run.
/// A state directory that cannot be created sends the run to the private one
/// (see place.rs); the warning says so, as it does the first time a state
/// directory is made there.
pub fn new_run(
    location: Location,
    keep: bool,
    keep_log: bool,
) -> io::Result<(RunPaths, Option<String>)> {
    let id = run_id();
    let mut warning = None;
    let state_dir = match make_run_dir(&location, &id) {
        Ok(made_state_dir) => {
            if let (true, Some(why)) = (made_state_dir, &location.fallback) {
                warning = Some(format!(
                    "{}: keeping proctor's state in {}",
                    why,
                    location.dir.display()
                ));
            }
            location.dir
        }
        Err(e) if location.fallback.is_none() => {
            let why = format!(
                "cannot use state directory {}: {}",
                location.dir.display(),
                e
            );
            let private = place::private(why.clone(), &project_key());
            make_run_dir(&private, &id)?;
            warning = Some(format!(
                "{}; keeping this run in {}",
                why,
                private.dir.display()
            ));
            private.dir
        }
        Err(e) => return Err(e),
    };
    let run_dir = state_dir.join("runs").join(&id);
    let live = prune::hold_run(&run_dir, keep)?;
    let log = if keep_log {
        Some(state_dir.join("logs").join(format!("{}.jsonl", id)))
    } else {
        None
    };
    Ok((
        RunPaths {
            id,
            run_dir,
            log,
            state_dir,
            _live: live,
        },
        warning,
    ))
}

/// `runs/<id>` in the state directory, with `runs/` and `logs/` made first
/// when the run directory's parent is missing (a new state directory, made in
/// the private directory after checking it). Whether it made the state
/// directory.
fn make_run_dir(location: &Location, id: &str) -> io::Result<bool> {
    let state_dir = &location.dir;
    let run_dir = state_dir.join("runs").join(id);
    // One mkdir once the state directory exists: every file-system operation
    // counts in a short run (see bench/README.md, case d).
    match fs::create_dir(&run_dir) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && run_dir.is_dir() => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let made = !state_dir.is_dir();
            if let (Some(_), Some(private)) = (&location.fallback, state_dir.parent()) {
                place::make_private(private)?;
            }
            fs::create_dir_all(state_dir.join("runs"))?;
            fs::create_dir_all(state_dir.join("logs"))?;
            fs::create_dir_all(&run_dir)?;
            Ok(made)
        }
        Err(e) => Err(e),
    }
}

/// Removes what killed runs left in the state directory's `runs/`.
pub fn sweep_runs(paths: &RunPaths) {
    prune::sweep_runs(&paths.state_dir.join("runs"), &paths.id);
}

/// Creates a run's event log in `logs/`, making `logs/` again when it was
/// removed since the state directory was made.
pub fn create_log(log: &Path) -> io::Result<fs::File> {
    match fs::File::create(log) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = log.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::File::create(log)
        }
        other => other,
    }
}

/// Removes a run's scratch directory: usually just the runner's log and the
/// emptied directory (the overlord removes the job logs it read, auditors their
/// TMPDIRs).
pub fn remove_run(run_dir: &Path) {
    remove_dir_holding(run_dir, &run_dir.join("runner.ljsonl"));
}

/// Removes `dir`, which usually holds only `file` by now: that file and the
/// emptied directory by name, anything else left in it with a directory walk.
pub fn remove_dir_holding(dir: &Path, file: &Path) {
    let _ = fs::remove_file(file);
    if fs::remove_dir(dir).is_err() {
        let _ = fs::remove_dir_all(dir);
    }
}

fn run_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    id_at(secs, &std::process::id().to_string())
}

/// A log's name: the UTC date and time its run started, then `tail`, so that
/// names sort as the runs started (the oldest logs are pruned by name).
pub fn id_at(secs: u64, tail: &str) -> String {
    let (days, rest) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        y,
        m,
        d,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        tail
    )
}

/// Days since 1970-01-01 to a (year, month, day) date in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The last run's event log in a state directory.
pub fn last_log(state_dir: &Path) -> PathBuf {
    state_dir.join("last.jsonl")
}

/// Points `last.jsonl` at `log` and drops the oldest logs beyond the few kept
/// and beyond `size` bytes in all. Failures here lose no result, so they are
/// only reported.
pub fn mark_last(state_dir: &Path, log: &Path, size: u64) -> io::Result<()> {
    let link = last_log(state_dir);
    let tmp = state_dir.join(format!(".last.{}", std::process::id()));
    // A hard link allocates no inode (a symlink does, and frees the last
    // one's), which on ext4 costs more than the rest of a short run's
    // bookkeeping; a symlink where hard links cannot be had.
    if fs::hard_link(log, &tmp).is_err() {
        let _ = fs::remove_file(&tmp);
        if fs::hard_link(log, &tmp).is_err() {
            let target = log.strip_prefix(state_dir).unwrap_or(log);
            std::os::unix::fs::symlink(target, &tmp)?;
        }
    }
    fs::rename(&tmp, &link)?;
    // A rename between two links to one file does nothing and leaves the
    // temporary name: so it goes when a make check's drivers mark its log again.
    let _ = fs::remove_file(&tmp);
    prune::prune_logs(&state_dir.join("logs"), log, size)
}

/// One file's record in `files.jsonl`: `{"file":..,"result":..,"duration":..}`.
/// A line each, so a big suite is never one big JSON tree in memory.
struct Record {
    file: String,
    result: JobResult,
    duration: f64,
}

fn parse_record(line: &str) -> Option<Record> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(Record {
        file: v["file"].as_str()?.to_string(),
        // A word proctor never writes: not its file.
        result: JobResult::parse(v["result"].as_str()?)?,
        duration: v["duration"].as_f64()?,
    })
}

/// The records of `files.jsonl`, or why it was not read.
fn read_records(path: &Path) -> io::Result<Result<Vec<Record>, usize>> {
    let text = fs::read_to_string(path)?;
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        match parse_record(line) {
            Some(r) => records.push(r),
            None => return Ok(Err(n + 1)),
        }
    }
    Ok(Ok(records))
}

/// What earlier runs learned of each file: its last result and duration, kept in
/// `files.jsonl` in the state directory.
pub fn load_known(state_dir: &Path) -> (HashMap<String, Known>, Option<String>) {
    let path = state_dir.join(FILES);
    let read = read_records(&path).map(|records| {
        records.map(|records| {
            records
                .into_iter()
                .map(|r| {
                    (
                        r.file,
                        Known {
                            duration: Some(r.duration),
                            failed: Some(r.result == JobResult::Fail),
                        },
                    )
                })
                .collect()
        })
    });
    read_or_warn(&path, read, "earlier durations are not used")
}

/// What was read of the state file `path`, or nothing and a warning naming
/// it (and what is `lost`); nothing and no warning when it is not there yet.
/// `read`: its contents, or the number of its first line proctor did not write.
fn read_or_warn<T: Default>(
    path: &Path,
    read: io::Result<Result<T, usize>>,
    lost: &str,
) -> (T, Option<String>) {
    match read {
        Ok(Ok(contents)) => (contents, None),
        Ok(Err(line)) => (
            T::default(),
            Some(format!(
                "{}:{}: not a proctor state file; it is ignored and will be rewritten",
                path.display(),
                line
            )),
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (T::default(), None),
        Err(e) => (
            T::default(),
            Some(format!("{}: {}; {}", path.display(), e, lost)),
        ),
    }
}

/// Whether a duration that moved from `known` to `now` may be left as it was:
/// within a fifth or 10 ms, the order it gives the next run is as good, and
/// a rewrite (a new file renamed over the old) costs a short run dearly.
fn close_enough(known: f64, now: f64) -> bool {
    (now - known).abs() <= (known * 0.2).max(0.01)
}

/// How one file ended, for the durations and results kept between runs.
#[derive(Clone, Debug, PartialEq)]
pub struct FileResult {
    pub file: String,
    pub result: JobResult,
    pub duration: f64,
    /// It failed preloaded and passed without (see `Fallback`).
    pub fails_preloaded: bool,
}

/// Adds this run's results to `files.jsonl`. A file that did not run keeps what
/// was known of it. The file is left alone when it already says what this run
/// found: the same result for every file, durations close enough.
pub fn save_results(state_dir: &Path, results: &[FileResult]) -> io::Result<()> {
    let path = state_dir.join(FILES);
    let mut records = match read_records(&path) {
        Ok(Ok(records)) => {
            let known: HashMap<&str, &Record> =
                records.iter().map(|r| (r.file.as_str(), r)).collect();
            let same = results.iter().all(|r| {
                known.get(r.file.as_str()).map_or(false, |k| {
                    k.result == r.result && close_enough(k.duration, r.duration)
                })
            });
            if same {
                return Ok(());
            }
            drop(known);
            records
        }
        _ => Vec::new(),
    };
    let fresh: HashMap<&str, &FileResult> = results.iter().map(|r| (r.file.as_str(), r)).collect();
    records.retain(|r| !fresh.contains_key(r.file.as_str()));
    let tmp = state_dir.join(format!(".{}.{}", FILES, std::process::id()));
    let mut out = io::BufWriter::new(fs::File::create(&tmp)?);
    let mut line = Vec::with_capacity(256);
    let old = records
        .iter()
        .map(|r| (r.file.as_str(), r.result, r.duration));
    let new = results
        .iter()
        .map(|r| (r.file.as_str(), r.result, r.duration));
    for (file, result, duration) in old.chain(new) {
        line.clear();
        line.extend_from_slice(b"{\"file\":");
        crate::json::write_str(&mut line, file);
        crate::json::write_str_field(&mut line, "result", result.as_str());
        crate::json::write_f64_field(&mut line, "duration", duration);
        line.extend_from_slice(b"}\n");
        io::Write::write_all(&mut out, &line)?;
    }
    io::Write::flush(&mut out)?;
    drop(out);
    fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(id_at(86_400 + 3_723, "make9"), "19700102-010203-make9");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn results_are_kept_between_runs() {
        let dir = std::env::temp_dir().join(format!("proctor-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let r = |file: &str, result: JobResult, duration: f64| FileResult {
            file: file.into(),
            result,
            duration,
            fails_preloaded: false,
        };
        save_results(
            &dir,
            &[
                r("t/a.t", JobResult::Pass, 1.5),
                r("t/b.t", JobResult::Fail, 0.5),
            ],
        )
        .unwrap();
        save_results(&dir, &[r("t/b.t", JobResult::Pass, 0.25)]).unwrap();
        let (known, warning) = load_known(&dir);
        assert_eq!(warning, None);
        assert_eq!(
            known["t/a.t"],
            Known {
                duration: Some(1.5),
                failed: Some(false)
            }
        );
        assert_eq!(
            known["t/b.t"],
            Known {
                duration: Some(0.25),
                failed: Some(false)
            }
        );
        fs::write(
            dir.join(FILES),
            "{\"file\":\"t/a.t\",\"result\":\"pass\",\"duration\":1}\njunk\n",
        )
        .unwrap();
        let (known, warning) = load_known(&dir);
        assert!(known.is_empty());
        assert!(warning.unwrap().contains("not a proctor state file"));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A run that finds what files.jsonl says leaves the file alone (the same
    /// inode, never renamed over); a changed result or a duration that moved
    /// far rewrites it.
    #[test]
    fn results_are_rewritten_only_when_they_change() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("proctor-rewrite-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let r = |result: JobResult, duration: f64| FileResult {
            file: "t/a.t".into(),
            result,
            duration,
            fails_preloaded: false,
        };
        let inode = || fs::metadata(dir.join(FILES)).unwrap().ino();
        save_results(&dir, &[r(JobResult::Pass, 1.0)]).unwrap();
        let first = inode();
        save_results(&dir, &[r(JobResult::Pass, 1.1)]).unwrap();
        save_results(&dir, &[r(JobResult::Pass, 0.85)]).unwrap();
        assert_eq!(inode(), first, "a duration within a fifth keeps the file");
        let (known, _) = load_known(&dir);
        assert_eq!(known["t/a.t"].duration, Some(1.0));

        save_results(&dir, &[r(JobResult::Fail, 1.0)]).unwrap();
        let second = inode();
        assert_ne!(second, first, "a changed result rewrites the file");
        assert_eq!(load_known(&dir).0["t/a.t"].failed, Some(true));
        save_results(&dir, &[r(JobResult::Fail, 1.5)]).unwrap();
        assert_ne!(inode(), second, "a duration half as long again rewrites it");
        assert_eq!(load_known(&dir).0["t/a.t"].duration, Some(1.5));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn small_durations_move_by_10_ms() {
        assert!(close_enough(0.001, 0.009));
        assert!(!close_enough(0.001, 0.012));
        assert!(close_enough(10.0, 11.9));
        assert!(!close_enough(10.0, 12.1));
    }

    /// last.jsonl is the last run's log itself, under a second name.
    #[test]
    fn the_last_log_is_a_link_to_the_log() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("proctor-last-{}", std::process::id()));
        let (paths, warning) = new_run(located(Some(&dir)), false, true).unwrap();
        assert_eq!(warning, None);
        let log = paths.log.unwrap();
        create_log(&log).unwrap();
        mark_last(&dir, &log, LOGS_SIZE).unwrap();
        assert_eq!(
            fs::metadata(last_log(&dir)).unwrap().ino(),
            fs::metadata(&log).unwrap().ino()
        );
        // Marked again, it leaves no temporary name behind.
        mark_last(&dir, &log, LOGS_SIZE).unwrap();
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".last"))
            .collect();
        assert!(names.is_empty(), "{:?}", names);
        remove_run(&paths.run_dir);
        assert!(!paths.run_dir.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn explicit_dir_wins() {
        assert_eq!(locate(Some(Path::new("/x/y"))), PathBuf::from("/x/y"));
    }

    #[test]
    fn project_key_names_the_directory() {
        let key = project_key();
        let name = std::env::current_dir()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(key.starts_with(&name), "{} should start with {}", key, name);
        assert_eq!(key.len(), name.len() + 17);
    }
}
