//! `proctor --version [-v]`: the version; with `-v`, where this project's runs
//! are kept and what is there, for the user who wonders where proctor put
//! things. It only reads: nothing is created or changed.

use crate::cli::VersionArgs;
use crate::error::Result;
use crate::event::{read, JobResult};
use crate::state;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How much of the end of the last log is read to find its run_end.
const TAIL_BYTES: u64 = 64 * 1024;

pub fn version(args: VersionArgs) -> Result<i32> {
    let mut text = format!("proctor {}\n", env!("CARGO_PKG_VERSION"));
    if args.verbose {
        text.push_str(&state_report(args.state_dir.as_deref()));
    }
    crate::say::out(text)?;
    Ok(0)
}

/// Where the state directory is, why there, and what it holds.
fn state_report(explicit: Option<&Path>) -> String {
    let state::Location { dir, why, fallback } = state::located(explicit);
    let because = fallback.map(|f| format!(": {}", f)).unwrap_or_default();
    let mut lines = vec![
        format!("project:          {}", state::project_dir().display()),
        format!("state directory:  {} ({}{})", dir.display(), why, because),
    ];
    if !dir.is_dir() {
        lines.push("                  not made yet: no run recorded yet".to_string());
        return lines.join("\n") + "\n";
    }
    let last = state::last_log(&dir);
    lines.push(format!("last run:         {}", last_run(&last)));
    let kept = std::fs::read_dir(dir.join("logs"))
        .map(|entries| entries.filter(|e| e.is_ok()).count())
        .unwrap_or(0);
    lines.push(format!(
        "event logs:       {} kept in {}",
        kept,
        dir.join("logs").display()
    ));
    if daemon_dir_has_socket(&dir) {
        lines.push(format!(
            "persistent runner: {} (proctor status tells more)",
            crate::daemon::dir(&dir).display()
        ));
    }
    lines.join("\n") + "\n"
}

fn daemon_dir_has_socket(state_dir: &Path) -> bool {
    crate::daemon::socket_path(state_dir).exists()
}

/// The last run's log, and what its summary said.
fn last_run(log: &Path) -> String {
    let summary = match File::open(log) {
        Ok(file) => summary(file),
        Err(_) => return "none recorded yet (proctor test records one)".to_string(),
    };
    format!("{}, {}", log.display(), summary)
}

/// The result of the last run_end in the log (its end is enough), or what
/// is missing.
fn summary(mut file: File) -> String {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut tail = Vec::new();
    let read = file
        .seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
        .and_then(|_| file.take(TAIL_BYTES).read_to_end(&mut tail));
    if read.is_err() {
        return "unreadable".to_string();
    }
    let end = tail
        .split(|&b| b == b'\n')
        .rev()
        .find(|line| line.starts_with(b"{\"type\":\"run_end\""))
        .and_then(|line| serde_json::from_slice::<serde_json::Value>(line).ok());
    match end {
        Some(end) => {
            let end = read::RunEnd(&end);
            let files = end.files();
            format!(
                "which ended {}: {} file{}, {} passed, {} failed, {} skipped",
                match end.result() {
                    JobResult::Pass => "passing",
                    _ => "failing",
                },
                files.total,
                if files.total == 1 { "" } else { "s" },
                files.passed,
                files.failed,
                files.skipped
            )
        }
        None => "with no summary at its end (still running, or stopped before it)".to_string(),
    }
}
