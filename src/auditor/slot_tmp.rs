//! The TMPDIR a standing auditor gives each of its tests. It lives in the
//! state directory, `tmp-SLOT`, and outlasts the run: a directory made and
//! removed every run is, on a file system that skips recently freed inodes,
//! the dearest part of a one-test run's file work. The runner locks it for
//! the run (flock on the directory, held through the runner's descriptor), so
//! runs side by side in one state directory never share one; a run that finds
//! it locked, or has no state directory above its run directory, uses
//! `tmp-SLOT` in its run directory instead, as it would without this.
//!
//! Between tests the auditor leaves it empty; a run that was killed may have
//! left files in it, which the next auditor to take it removes first.

use crate::sys;
use std::io;
use std::os::unix::io::OwnedFd;
use std::path::{Path, PathBuf};

pub struct SlotTmp {
    pub path: PathBuf,
    /// The lock on a TMPDIR kept in the state directory.
    _lock: Option<OwnedFd>,
}

impl SlotTmp {
    /// The TMPDIR of `slot` for the run in `run_dir`, locked when it is the
    /// state directory's.
    pub fn take(run_dir: &Path, slot: usize) -> SlotTmp {
        // Directly in the state directory: in a new one, a directory less to make.
        let kept = state_dir(run_dir).map(|state| state.join(format!("tmp-{}", slot)));
        if let Some(path) = kept {
            let lock = std::fs::create_dir_all(&path).and_then(|_| sys::lock_dir(&path));
            if let Ok(Some(lock)) = lock {
                return SlotTmp {
                    path,
                    _lock: Some(lock),
                };
            }
        }
        SlotTmp {
            path: run_dir.join(format!("tmp-{}", slot)),
            _lock: None,
        }
    }
}

/// The state directory of a run directory `<state>/runs/<id>`.
fn state_dir(run_dir: &Path) -> Option<&Path> {
    let runs = run_dir.parent()?;
    if runs.file_name()? != "runs" {
        return None;
    }
    runs.parent()
}

/// In the auditor, before its first test: the TMPDIR exists and is empty.
pub fn make_ready(tmp: &Path) -> io::Result<()> {
    // Its contents, not the directory itself: the runner's lock is on it.
    match crate::auditor::empty_dir(tmp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(tmp),
        done => done,
    }
}

/// In the auditor whose test left something running in its TMPDIR (see
/// `auditor::Process::tmp_held`): an empty TMPDIR for its next tests, in the
/// run directory, so that it goes with the run. None when none can be made.
pub fn another(run_dir: &Path, auditor: libc::pid_t, count: u32) -> Option<PathBuf> {
    let path = run_dir.join(format!("tmp-{}-{}", auditor, count));
    std::fs::create_dir_all(&path).ok()?;
    make_ready(&path).ok()?;
    Some(path)
}

/// In the auditor, after its last test: a TMPDIR in the run directory goes
/// with the run; the state directory's stays, empty, for the next run.
pub fn release(tmp: &Path, run_dir: &Path) {
    if tmp.starts_with(run_dir) {
        let _ = std::fs::remove_dir(tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_in_a_state_directory_keeps_its_tmp_there_and_locks_it() {
        let root = std::env::temp_dir().join(format!("proctor-slot-tmp-{}", std::process::id()));
        let run_dir = root.join("runs").join("20261127-1");
        std::fs::create_dir_all(&run_dir).unwrap();
        let first = SlotTmp::take(&run_dir, 0);
        assert_eq!(first.path, root.join("tmp-0"));
        // A run beside it finds slot 0 locked and uses its own run directory.
        let beside = SlotTmp::take(&root.join("runs").join("20261127-2"), 0);
        assert_eq!(
            beside.path,
            root.join("runs").join("20261127-2").join("tmp-0")
        );
        drop(first);
        assert_eq!(SlotTmp::take(&run_dir, 0).path, root.join("tmp-0"));
        // Outside a state directory: the run directory's.
        assert_eq!(
            SlotTmp::take(&root.join("elsewhere"), 1).path,
            root.join("elsewhere/tmp-1")
        );

        std::fs::write(root.join("tmp-0/left"), "x").unwrap();
        std::fs::create_dir_all(root.join("tmp-0/deep/er")).unwrap();
        make_ready(&root.join("tmp-0")).unwrap();
        assert_eq!(std::fs::read_dir(root.join("tmp-0")).unwrap().count(), 0);
        release(&root.join("tmp-0"), &run_dir);
        assert!(root.join("tmp-0").is_dir(), "the state directory's stays");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
