//! What the state directory lets go of: the oldest event logs, beyond a count
//! and a total size, and the run directories of runs that were killed.
//!
//! A live run holds a lock (flock) on its own `runs/<id>/`, which goes with its
//! process however it ends; a run directory nobody holds, whose run's process
//! (the id's last part) is gone too, was left by a killed run. Kept on purpose
//! (`-k`) it says so with a `kept` file and stays.

use crate::sys;
use std::fs;
use std::io;
use std::os::unix::io::OwnedFd;
use std::path::Path;

/// How many event logs a state directory keeps.
pub const LOGS_KEPT: usize = 20;

/// How many bytes of event logs a state directory keeps, unless told
/// (`--state-size`).
pub const LOGS_SIZE: u64 = 256 << 20;

/// The name, in a run directory, that keeps it from being swept.
const KEPT: &str = "kept";

/// Drops the oldest logs in `logs` until at most [`LOGS_KEPT`] are left and
/// they come to at most `size` bytes. `newest` (this run's) always stays.
pub fn prune_logs(logs: &Path, newest: &Path, size: u64) -> io::Result<()> {
    let mut found: Vec<(std::path::PathBuf, u64)> = fs::read_dir(logs)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().map_or(false, |x| x == "jsonl"))
        .map(|e| {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            (e.path(), len)
        })
        .collect();
    // Names sort as their runs started: newest first.
    found.sort_by(|a, b| b.0.cmp(&a.0));
    let (mut count, mut total) = (0, 0u64);
    for (path, len) in found {
        let fits = count < LOGS_KEPT && total.saturating_add(len) <= size;
        if fits || path == newest {
            count += 1;
            total = total.saturating_add(len);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Takes the lock that says run directory `run_dir` is live; `keep` (`-k`)
/// marks it to stay after the run too.
pub fn hold_run(run_dir: &Path, keep: bool) -> io::Result<Option<OwnedFd>> {
    if keep {
        fs::File::create(run_dir.join(KEPT))?;
    }
    sys::lock_dir(run_dir)
}

/// Removes what killed runs left in `runs`, all but run `own`'s.
pub fn sweep_runs(runs: &Path, own: &str) {
    let entries = match fs::read_dir(runs) {
        Ok(entries) => entries,
        Err(_) => return,
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name != own && process_gone(&name) {
            let dir = entry.path();
            // Held, it is a live run (in another pid namespace, say): let be.
            if let Ok(Some(_lock)) = sys::lock_dir(&dir) {
                if !dir.join(KEPT).exists() {
                    let _ = fs::remove_dir_all(&dir);
                }
            }
        }
    }
}

/// Whether the process named by a run id's last part (`<date>-<time>-<pid>`)
/// is gone. A name that is not a run's is never taken for one.
fn process_gone(id: &str) -> bool {
    let pid = match id
        .rsplit('-')
        .next()
        .and_then(|p| p.parse::<libc::pid_t>().ok())
    {
        Some(pid) if pid > 1 && id.contains('-') => pid,
        _ => return false,
    };
    match sys::kill(pid, 0) {
        Err(e) => e.raw_os_error() == Some(libc::ESRCH),
        Ok(()) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn logs_are_kept_by_count_and_by_size() {
        let dir = ScratchDir::new("prune-logs");
        let logs = dir.path();
        for i in 0..25 {
            fs::write(logs.join(format!("2026010{:02}.jsonl", i)), vec![b'x'; 100]).unwrap();
        }
        let newest = logs.join("202601024.jsonl");
        prune_logs(logs, &newest, 1 << 20).unwrap();
        assert_eq!(names(logs).len(), LOGS_KEPT);
        assert_eq!(names(logs)[0], "202601005.jsonl");
        prune_logs(logs, &newest, 350).unwrap();
        assert_eq!(
            names(logs),
            ["202601022.jsonl", "202601023.jsonl", "202601024.jsonl"]
        );
        prune_logs(logs, &newest, 10).unwrap();
        assert_eq!(names(logs), ["202601024.jsonl"], "this run's log stays");
    }

    #[test]
    fn only_runs_whose_process_is_gone_and_unheld_are_swept() {
        let dir = ScratchDir::new("sweep-runs");
        let runs = dir.path();
        // pid_max is below 2^22: no process has this pid.
        let gone = "20260101-000000-4999999";
        let own = format!("20260101-000000-{}", std::process::id());
        for name in [gone, own.as_str(), "20260101-000001-4999998", "notes"] {
            fs::create_dir(runs.join(name)).unwrap();
        }
        hold_run(&runs.join("20260101-000001-4999998"), true).unwrap();
        let _held = hold_run(&runs.join(&own), false).unwrap();
        sweep_runs(runs, "none of these");
        assert_eq!(
            names(runs),
            [own.as_str(), "20260101-000001-4999998", "notes"],
            "the gone run's directory goes; a live, a kept and a stranger stay"
        );
    }
}
