//! The slot protocol: what the runner and a standing auditor say to each
//! other over a slot's socket (see `runner::slots` for the runner's side and
//! `auditor::standing` for the auditor's).

use super::plan::job_to_json;
use crate::auditor::Place;
use crate::runner::slots::Sending;
use std::path::{Path, PathBuf};

/// The message that withdraws `job`, sent ahead, as it goes over the socket.
pub fn withdrawal(job: (u64, u32)) -> String {
    format!(r#"{{"withdraw":{},"try":{}}}"#, job.0, job.1)
}

/// The log whose segments are the jobs of the auditor `pid`.
pub fn segment_log(run_dir: &Path, pid: libc::pid_t) -> PathBuf {
    run_dir.join(format!("auditor-{}.ljsonl", pid))
}

/// A job for the auditor `pid`, as it goes over the socket.
pub fn request(pid: libc::pid_t, place: &Place, job: &Sending) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "auditor": pid,
        "job": job.pending.job,
        "try": job.pending.tries,
        "log": place.log.to_string_lossy(),
        "segment": place.log_segment,
        "retry": job.retry_on_fail,
        "spec": job_to_json(&job.pending.spec),
    }))
    .unwrap_or_default()
}
