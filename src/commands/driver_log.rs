//! Where the events of one `proctor driver` call go, so that `proctor times`,
//! `failed` and `replay` show a whole `make check`, judged as make judged it.
//!
//! The make: Automake's parallel harness has one make (the one that makes
//! test-suite.log) run a driver per test, `-j` of them at once. make gives its
//! recipes a MAKELEVEL one above its own, so walking up from the driver
//! through /proc, the first process whose MAKELEVEL differs from the driver's
//! is that make; the shell between them, and any wrapper, has the driver's.
//! Its pid and start time name the run: the drivers of one `make -j` find the
//! same make, and other `make check`s, in other trees or at the same time, find
//! others. A driver without MAKELEVEL, or where /proc cannot tell, is a run of
//! its own.
//!
//! The log: each driver call writes its events to a scratch file of its own,
//! unlinked at once so that nothing is left behind. When its test is done, the
//! whole of it is appended to the run's log (the make's,
//! `logs/<date>-<time>-make<pid>.jsonl`, or one of its own) holding an flock
//! on it and with O_APPEND, so that the runs of parallel drivers follow each
//! other whole, never interleaved; then last.jsonl is pointed at that log. A
//! log that holds several runs reads as one run (see `commands::logs`).
//!
//! On the way, the test's last job_end takes the result Automake counts (its
//! `.trs`'s) when proctor's differs: an XFAIL passes, an XPASS fails, and a
//! test of `--protocol exit` is judged by its exit status, not by the TAP it
//! never printed; so `proctor failed` names the tests `make check` failed.
//! proctor's own verdict stays beside it, under `"proctor"`.

use crate::commands::session::Session;
use crate::event::write::{self, Automake};
use crate::event::{read, JobResult};
use crate::json;
use crate::state;
use crate::sys;
use serde_json::Value;
use std::borrow::Cow;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::io::IntoRawFd;
use std::path::{Path, PathBuf};

/// How far up the process tree the make is looked for.
const MAX_DEPTH: usize = 32;

/// One driver call's events, on their way to the run's log.
pub struct DriverLog {
    state_dir: PathBuf,
    /// The run's log: the make's, or this call's own.
    pub log: PathBuf,
    scratch: File,
}

impl DriverLog {
    /// The scratch file in `state_dir`, and the log it goes to.
    pub fn open(state_dir: PathBuf) -> io::Result<DriverLog> {
        let id = match make_run() {
            Some(id) => id,
            None => state::id_at(now(), &std::process::id().to_string()),
        };
        let log = state_dir.join("logs").join(format!("{}.jsonl", id));
        let scratch = scratch(&state_dir)?;
        Ok(DriverLog {
            state_dir,
            log,
            scratch,
        })
    }

    /// Sends the session's events to the scratch file rather than to a log of
    /// their own.
    pub fn take_over(&self, session: &mut Session) -> io::Result<()> {
        let copy = self.scratch.try_clone()?;
        session.keep_log = false;
        session.log_fd = Some(copy.into_raw_fd());
        Ok(())
    }

    /// Appends this call's whole log to the run's, with `automake` (the
    /// result Automake counts) and `why` in its job_end, and makes that the
    /// last run.
    pub fn finish(&mut self, automake: &str, why: &str) -> io::Result<()> {
        // A log cut short (the harness failed) gives its whole lines only, so
        // the next run's first line stays a line of its own.
        let whole = whole_lines(&mut self.scratch)?;
        if whole == 0 {
            return Ok(());
        }
        self.scratch.seek(SeekFrom::Start(0))?;
        let mut lines = BufReader::new(Read::by_ref(&mut self.scratch).take(whole));
        let mut shared = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)?;
        sys::lock_exclusive(&shared)?;
        let mut out = io::BufWriter::with_capacity(64 * 1024, &mut shared);
        let mut line = Vec::new();
        while lines.read_until(b'\n', &mut line)? > 0 {
            match with_automakes_result(&line[..line.len() - 1], automake, why) {
                Some(end) => {
                    out.write_all(&end)?;
                    out.write_all(b"\n")?;
                }
                None => out.write_all(&line)?,
            }
            line.clear();
        }
        out.flush()?;
        drop(out);
        drop(shared);
        state::mark_last(&self.state_dir, &self.log, state::LOGS_SIZE)
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The name of the log of the make that runs this driver, if one does:
/// `<date>-<time>-make<pid>`, from when it started, so no other process's and
/// sorted among the other logs by that time.
fn make_run() -> Option<String> {
    let ours = std::env::var_os("MAKELEVEL")?;
    let mut pid = sys::ProcStat::of(std::process::id() as libc::pid_t)?.ppid;
    for _ in 0..MAX_DEPTH {
        if pid <= 1 {
            return None;
        }
        let stat = sys::ProcStat::of(pid)?;
        if make_level(pid)? != Some(ours.clone()) {
            return Some(state::id_at(
                started_at(stat.start)?,
                &format!("make{}", pid),
            ));
        }
        pid = stat.ppid;
    }
    None
}

/// The MAKELEVEL a process was started with (`Some(None)` when it had none);
/// `None` when that cannot be read.
fn make_level(pid: libc::pid_t) -> Option<Option<OsString>> {
    let environ = fs::read(format!("/proc/{}/environ", pid)).ok()?;
    Some(
        environ
            .split(|&b| b == 0)
            .find_map(|entry| entry.strip_prefix(b"MAKELEVEL="))
            .map(|value| OsString::from_vec(value.to_vec())),
    )
}

/// The wall-clock second a process started `ticks` after boot.
fn started_at(ticks: u64) -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(boot + ticks / sys::clock_ticks_per_second())
}

/// A file for one driver call's events, in `state_dir`'s `logs/` (the file
/// system of the log it goes to), already unlinked.
fn scratch(state_dir: &Path) -> io::Result<File> {
    let dir = state_dir.join("logs");
    fs::create_dir_all(&dir)?;
    let path = dir.join(format!(".driver-{}.part", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    fs::remove_file(&path)?;
    Ok(file)
}

/// The length of `file` up to and with its last newline.
fn whole_lines(file: &mut File) -> io::Result<u64> {
    let mut end = file.metadata()?.len();
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let piece = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(piece)?;
        if let Some(at) = piece.iter().rposition(|&b| b == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// proctor's word for what Automake counts a test as.
fn outcome_of(automake: &str) -> JobResult {
    match automake {
        "PASS" | "XFAIL" => JobResult::Pass,
        "SKIP" => JobResult::Skip,
        _ => JobResult::Fail,
    }
}

/// A last job_end whose result is not the one Automake counts, with that
/// result instead (and proctor's own under `"proctor"`); `None` for every
/// other line, which goes into the log as it is.
fn with_automakes_result(line: &[u8], automake: &str, why: &str) -> Option<Vec<u8>> {
    if json::record_type(line) != Some(&b"job_end"[..]) {
        return None;
    }
    let v: Value = serde_json::from_slice(line).ok().filter(Value::is_object)?;
    let end = read::JobEnd(&v);
    let outcome = outcome_of(automake);
    if end.will_retry() || end.result() == outcome {
        return None;
    }
    let mut judged = end.record();
    let reasons = if outcome == JobResult::Pass {
        Vec::new()
    } else {
        vec![format!("Automake's result: {} ({})", automake, why)]
    };
    judged.automake = Some(Automake {
        word: Cow::Borrowed(automake),
        proctor: judged.result,
        proctor_reasons: std::mem::replace(&mut judged.reasons, Cow::Owned(reasons)),
    });
    judged.result = outcome;
    let mut out = Vec::with_capacity(line.len() + 128);
    write::job_end(&mut out, &judged);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("proctor-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn this_process_started_after_boot() {
        let me = sys::ProcStat::of(std::process::id() as libc::pid_t).unwrap();
        assert!(started_at(me.start).unwrap() > 1_600_000_000);
    }

    #[test]
    fn the_scratch_file_leaves_nothing_behind() {
        let state = dir("scratch");
        let mut file = scratch(&state).unwrap();
        file.write_all(b"{}\n").unwrap();
        assert_eq!(fs::read_dir(state.join("logs")).unwrap().count(), 0);
        fs::remove_dir_all(&state).unwrap();
    }

    /// Runs follow each other whole; a run cut short gives its whole lines.
    #[test]
    fn runs_are_appended_whole_and_marked_last() {
        let state = dir("join");
        let log = state.join("logs").join("19700101-000000-make1.jsonl");
        for text in [
            &b"{\"a\":1}\n{\"a\":2}\n"[..],
            b"{\"b\":1}\n{\"b\":",
            b"",
            b"{\"c",
        ] {
            let mut driver = DriverLog {
                state_dir: state.clone(),
                log: log.clone(),
                scratch: scratch(&state).unwrap(),
            };
            driver.scratch.write_all(text).unwrap();
            driver.finish("PASS", "").unwrap();
        }
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n"
        );
        assert_eq!(
            fs::read_to_string(state::last_log(&state)).unwrap(),
            fs::read_to_string(&log).unwrap()
        );
        fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn the_last_newline_is_found_across_chunks() {
        let state = dir("lines");
        let mut file = scratch(&state).unwrap();
        let mut text = b"x\n".to_vec();
        text.extend(std::iter::repeat(b'y').take(200 * 1024));
        file.write_all(&text).unwrap();
        assert_eq!(whole_lines(&mut file).unwrap(), 2);
        fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn the_job_end_takes_automakes_result() {
        let failed = br#"{"type":"job_end","job":1,"try":1,"file":"x.t","result":"fail","reasons":["no plan found in TAP output"],"duration":0.5,"will_retry":false}"#;
        // The same word: left as it is.
        assert_eq!(with_automakes_result(failed, "ERROR", "1 ERROR"), None);
        // An expected failure passes, proctor's verdict kept beside it.
        let xfail = with_automakes_result(failed, "XFAIL", "1 XFAIL").unwrap();
        assert!(xfail.starts_with(br#"{"type":"job_end","job":1,"try":1,"#));
        let v: Value = serde_json::from_slice(&xfail).unwrap();
        assert_eq!(v["result"], "pass");
        assert_eq!(v["reasons"], json!([]));
        assert_eq!(v["automake"], "XFAIL");
        assert_eq!(v["proctor"]["result"], "fail");
        assert_eq!(v["proctor"]["reasons"][0], "no plan found in TAP output");
        assert_eq!(v["file"], "x.t");
        let passed = br#"{"type":"job_end","job":2,"try":1,"file":"y.t","result":"pass","reasons":[],"will_retry":false}"#;
        let v: Value =
            serde_json::from_slice(&with_automakes_result(passed, "FAIL", "1 XPASS").unwrap())
                .unwrap();
        assert_eq!(v["result"], "fail");
        assert_eq!(v["reasons"], json!(["Automake's result: FAIL (1 XPASS)"]));
        // A try that is retried, and other records, are not touched.
        let retried = br#"{"type":"job_end","job":1,"try":1,"result":"fail","will_retry":true}"#;
        assert_eq!(with_automakes_result(retried, "PASS", ""), None);
        assert_eq!(
            with_automakes_result(br#"{"type":"job_exit","job":1}"#, "PASS", ""),
            None
        );
    }
}
