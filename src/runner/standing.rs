//! Standing auditors: one per slot, each the parent and auditor of one test after
//! another, so a job costs the fork and exec of its test and not also the birth
//! and death of an auditor process.
//!
//! Each slot has a socket pair of sequenced packets, made before the launcher is
//! forked; the launcher keeps the auditors' ends, so it can fork a new auditor for
//! a slot whose auditor died. The runner sends one job at a time to an idle
//! auditor (a JSON request naming the auditor's pid, so a request left for an
//! auditor that died is not taken up by the next one) and reads back its status,
//! four bytes, as a per-job auditor's exit status would tell it. Between jobs an
//! auditor holds nothing of the last one: the test and everything it started are
//! gone, its pipes are closed, its log segment ended, its TMPDIR emptied.

use super::job::{JobSpec, Launch};
use super::launcher::Launcher;
use super::plan::{job_from_json, job_to_json};
use crate::auditor::{self, Place};
use crate::sys;
use serde_json::Value;
use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The largest request: larger ones (a job with pathologically long names) go
/// to an auditor forked for them alone.
const MAX_REQUEST: usize = 60 * 1024;

struct Slot {
    /// The runner's end of the slot's socket pair (non-blocking).
    socket: OwnedFd,
    /// The slot's auditor, once forked and while alive.
    pid: Option<libc::pid_t>,
    busy: bool,
}

/// The runner's side: the slots, and the launcher that forks their auditors.
/// A run of few jobs has none (see [`Auditors::none`]).
pub struct Auditors {
    slots: Vec<Slot>,
    launcher: Option<Launcher>,
}

impl Auditors {
    /// No standing auditors: every job's auditor is forked for it alone.
    pub fn none() -> Auditors {
        Auditors {
            slots: Vec::new(),
            launcher: None,
        }
    }

    /// `count` slots whose auditors `launch` describes, forked by a launcher
    /// started now (from this process, which should be small).
    pub fn start(launch: &Launch, lifeline: RawFd, count: usize) -> io::Result<Auditors> {
        let mut ours = Vec::with_capacity(count);
        let mut theirs = Vec::with_capacity(count);
        for _ in 0..count {
            let (runner_end, auditor_end) = sys::packet_pair()?;
            sys::set_nonblocking(runner_end.as_raw_fd())?;
            ours.push(Slot {
                socket: runner_end,
                pid: None,
                busy: false,
            });
            theirs.push(auditor_end);
        }
        let launcher = Launcher::start(launch, lifeline, &theirs)?;
        Ok(Auditors {
            slots: ours,
            launcher: Some(launcher),
        })
    }

    /// Sends a job to an idle auditor (forking one for its slot if need be)
    /// and returns that auditor's pid and where the job's log and TMPDIR are:
    /// the TMPDIR the auditor reuses (`tmp/SLOT` in `run_dir`), and `own_log`,
    /// or without one the next segment of the auditor's log
    /// (`jobs/auditor-PID.ljsonl`). None when no auditor can take it.
    pub fn send(
        &mut self,
        run_dir: &Path,
        own_log: Option<&Path>,
        retry_on_fail: bool,
        spec: &JobSpec,
    ) -> Option<(libc::pid_t, Place)> {
        let slot = self.idle(run_dir)?;
        let pid = self.slots[slot].pid?;
        let place = Place {
            log: own_log.map_or_else(
                || run_dir.join("jobs").join(format!("auditor-{}.ljsonl", pid)),
                Path::to_path_buf,
            ),
            log_segment: own_log.is_none(),
            tmp: slot_tmp(run_dir, slot),
            tmp_reused: true,
        };
        let request = request(pid, &place, retry_on_fail, spec);
        if request.len() > MAX_REQUEST {
            return None;
        }
        match sys::write(self.slots[slot].socket.as_raw_fd(), &request) {
            Ok(n) if n == request.len() => {
                self.slots[slot].busy = true;
                Some((pid, place))
            }
            _ => None,
        }
    }

    /// A slot that is free, with its auditor forked and its TMPDIR made.
    fn idle(&mut self, run_dir: &Path) -> Option<usize> {
        if let Some(i) = self.slots.iter().position(|s| !s.busy && s.pid.is_some()) {
            return Some(i);
        }
        let i = self.slots.iter().position(|s| s.pid.is_none())?;
        // Made afresh: an auditor that died may have left its last test's files.
        let tmp = slot_tmp(run_dir, i);
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).ok()?;
        let pid = self.launcher.as_mut()?.start_auditor(i).ok()?;
        self.slots[i].pid = Some(pid);
        Some(i)
    }

    /// The sockets of busy auditors, whose statuses the runner waits for.
    pub fn poll_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.slots
            .iter()
            .filter(|s| s.busy)
            .map(|s| s.socket.as_raw_fd())
    }

    /// The auditor that finished a job on `fd`, and the job's status, if one has.
    pub fn status_on(&mut self, fd: RawFd) -> Option<(libc::pid_t, i32)> {
        let slot = self.slots.iter_mut().find(|s| s.socket.as_raw_fd() == fd)?;
        let mut status = [0u8; 4];
        match sys::read(fd, &mut status) {
            Ok(4) if slot.busy => {
                slot.busy = false;
                Some((slot.pid?, i32::from_ne_bytes(status)))
            }
            _ => None,
        }
    }

    /// Whether `pid` is the launcher.
    pub fn is_launcher(&self, pid: libc::pid_t) -> bool {
        self.launcher.as_ref().map(|l| l.pid) == Some(pid)
    }

    /// The launcher is gone: slots whose auditor dies stay empty from now on.
    pub fn launcher_ended(&mut self) {
        self.launcher = None;
    }

    /// A standing auditor ended: the status of a job it finished first, if it
    /// sent one; its slot is empty now, for a new auditor when next needed.
    /// None when `pid` was not a standing auditor.
    pub fn ended(&mut self, pid: libc::pid_t) -> Option<Option<i32>> {
        let i = self.slots.iter().position(|s| s.pid == Some(pid))?;
        let fd = self.slots[i].socket.as_raw_fd();
        let status = self.status_on(fd).map(|(_, status)| status);
        let slot = &mut self.slots[i];
        slot.pid = None;
        slot.busy = false;
        Some(status)
    }

    /// Closes the slots, so their auditors end, and reaps them and the launcher.
    pub fn finish(&mut self) {
        let pids: Vec<libc::pid_t> = self.slots.drain(..).filter_map(|s| s.pid).collect();
        let launcher = self.launcher.take().map(|l| l.pid);
        for pid in pids.into_iter().chain(launcher) {
            sys::reap(pid);
        }
    }
}

/// The TMPDIR the auditor of `slot` gives each of its tests.
fn slot_tmp(run_dir: &Path, slot: usize) -> PathBuf {
    run_dir.join("tmp").join(slot.to_string())
}

/// A job for the auditor `pid`, as it goes over the socket.
fn request(pid: libc::pid_t, place: &Place, retry_on_fail: bool, spec: &JobSpec) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "auditor": pid,
        "log": place.log.to_string_lossy(),
        "segment": place.log_segment,
        "tmp": place.tmp.to_string_lossy(),
        "retry": retry_on_fail,
        "spec": job_to_json(spec),
    }))
    .unwrap_or_default()
}

/// A standing auditor's life: a job in, audited, its status out, until the
/// runner closes its end of the socket.
pub fn work(launch: &Launch, socket: RawFd, lifeline: RawFd) -> i32 {
    let mut process = match auditor::Process::start() {
        Ok(process) => process,
        Err(e) => {
            eprintln!("proctor: auditor: unable to set up signals: {}", e);
            return auditor::EXIT_BROKEN;
        }
    };
    let me = std::process::id() as i64;
    let mut buf = vec![0u8; MAX_REQUEST];
    loop {
        let n = match sys::read(socket, &mut buf) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => n,
        };
        let request: Value = serde_json::from_slice(&buf[..n]).unwrap_or(Value::Null);
        if request["auditor"].as_i64() != Some(me) {
            // Left for an auditor of this slot that has died.
            continue;
        }
        let status = match job_from_json(&request["spec"]) {
            Ok(spec) => {
                let path = |key: &str| PathBuf::from(request[key].as_str().unwrap_or_default());
                let place = Place {
                    log: path("log"),
                    log_segment: request["segment"] == true,
                    tmp: path("tmp"),
                    tmp_reused: true,
                };
                let mut config = launch.auditor_config(&spec, place, lifeline);
                config.retry_on_fail = request["retry"] == true;
                process.audit(config)
            }
            Err(e) => {
                eprintln!("proctor: auditor: {}", e);
                auditor::EXIT_BROKEN
            }
        };
        if sys::write(socket, &status.to_ne_bytes()).is_err() || !process.can_go_on() {
            return 0;
        }
    }
}
