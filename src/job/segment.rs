//! A standing auditor's log: one file, `auditor-PID.ljsonl` in the run
//! directory, holding its jobs' logs one after another as segments (see
//! [`crate::ljsonl`]).

use std::path::{Path, PathBuf};

/// The log whose segments are the jobs of the auditor `pid`.
pub fn log_path(run_dir: &Path, pid: libc::pid_t) -> PathBuf {
    run_dir.join(format!("auditor-{}.ljsonl", pid))
}
