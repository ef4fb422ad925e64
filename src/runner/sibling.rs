//! A standing auditor's own preloaded perl: the Perl stage in sibling mode
//! (proctor-stage(7)), the auditor's child, forking each test with
//! clone(CLONE_PARENT) so that the test is the auditor's child too. A job then
//! costs one fork of the preloaded perl: no auditor-to-be, no exec of
//! `proctor audit`, no round trip through the runner's stage.
//!
//! It is started when the auditor learns the run's settings and waited for at
//! its first job. One that dies is started again (a few times, with a pause
//! between); one that cannot get ready fails its jobs with its own error.
//! What becomes of it is told to the runner as `stage_ready` and `stage_exit`
//! records, for the event log.

use super::job::Launch;
use super::stage::{SpawnFailure, Stage, StageSpec};
use crate::json;
use crate::sys;
use std::ffi::CString;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// How often one slot's perl is started again in one run.
const RESTARTS: u32 = 3;

/// A test it forked: its pid and the read ends of its pipes (no stderr when
/// merged into stdout).
pub struct Started {
    pub pid: libc::pid_t,
    pub stdout: OwnedFd,
    pub stderr: Option<OwnedFd>,
}

pub struct OwnStage {
    spec: StageSpec,
    run_dir: PathBuf,
    env: Rc<Vec<CString>>,
    lifeline: RawFd,
    merge: bool,
    slot: usize,
    stage: Option<Stage>,
    /// The stage has said `ready`.
    ready: bool,
    /// Why it cannot run tests, once it cannot.
    broken: Option<String>,
    restarts: u32,
    /// Records for the runner's log, not yet sent.
    notes: Vec<Vec<u8>>,
}

impl OwnStage {
    /// The perl of the auditor of `slot`, for a run whose settings are
    /// `launch`; started now, not waited for.
    pub fn start(
        launch: &Launch,
        run_dir: &Path,
        lifeline: RawFd,
        slot: usize,
    ) -> Option<OwnStage> {
        let mut own = OwnStage {
            spec: launch.stage.clone()?,
            run_dir: run_dir.to_path_buf(),
            env: launch.env.clone(),
            lifeline,
            merge: launch.merge,
            slot,
            stage: None,
            ready: false,
            broken: None,
            restarts: 0,
            notes: Vec::new(),
        };
        own.launch();
        Some(own)
    }

    /// Its process, while it has one.
    pub fn pid(&self) -> Option<libc::pid_t> {
        self.stage.as_ref().map(|s| s.pid)
    }

    /// Forks the test of `file`, job `job`, with `tmp` as its TMPDIR, on fresh
    /// pipes; the error says why it could not.
    pub fn start_test(
        &mut self,
        job: (u64, u32),
        file: &str,
        tmp: &Path,
    ) -> Result<Started, String> {
        loop {
            self.get_ready()?;
            let (stdout, stdout_write) =
                sys::pipe().map_err(|e| format!("unable to make a pipe: {}", e))?;
            let stderr = if self.merge {
                None
            } else {
                Some(sys::pipe().map_err(|e| format!("unable to make a pipe: {}", e))?)
            };
            let stage = self.stage.as_mut().expect("a ready stage");
            let asked = stage.spawn_sibling(
                job,
                file,
                tmp,
                stdout_write.as_raw_fd(),
                stderr.as_ref().map(|(_, w)| w.as_raw_fd()),
            );
            // The write ends are the test's alone from here.
            drop(stdout_write);
            match asked {
                Ok(pid) => {
                    // The test does this too: whichever runs first, the group
                    // exists before the auditor signals it.
                    let _ = sys::setpgid(pid, pid);
                    return Ok(Started {
                        pid,
                        stdout,
                        stderr: stderr.map(|(read, _)| read),
                    });
                }
                Err(SpawnFailure::Refused(why)) => return Err(why),
                // Gone before it forked the test: a new one gets the spawn.
                Err(SpawnFailure::Gone(why)) => self.lost(&why),
            }
        }
    }

    /// Records for the runner's log, since the last call.
    pub fn take_notes(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.notes)
    }

    /// Stops it (at the end of the run): its tests are the auditor's, so
    /// there is nothing to wait for.
    pub fn end(mut self) {
        if let Some(stage) = self.stage.take() {
            stage.kill();
        }
    }

    /// Makes sure a ready stage stands: the one started, or a new one in place
    /// of one that died.
    fn get_ready(&mut self) -> Result<(), String> {
        loop {
            if let Some(why) = &self.broken {
                return Err(why.clone());
            }
            let pid = match &self.stage {
                Some(stage) => stage.pid,
                None => {
                    self.launch();
                    continue;
                }
            };
            if matches!(sys::waitid_exited(pid), Ok(Some(_)) | Err(_)) {
                self.lost("it exited");
                continue;
            }
            if self.ready {
                return Ok(());
            }
            let waited = self.stage.as_mut().map(|s| s.wait_ready());
            match waited {
                Some(Ok(_)) => {
                    self.ready = true;
                    self.note("stage_ready", pid, None);
                }
                Some(Err(why)) => {
                    // Not ready is not going to be: its jobs fail with its word.
                    if let Some(stage) = self.stage.take() {
                        stage.kill();
                    }
                    self.note("stage_exit", pid, Some(&why));
                    self.broken = Some(why);
                }
                None => {}
            }
        }
    }

    /// Starts the stage (or says why it cannot).
    fn launch(&mut self) {
        self.ready = false;
        match Stage::start_siblings(&self.spec, &self.run_dir, &self.env, self.lifeline) {
            Ok(stage) => self.stage = Some(stage),
            Err(e) => {
                self.broken = Some(format!(
                    "unable to start the {} stage: {}",
                    self.spec.name, e
                ))
            }
        }
    }

    /// The stage died, or stopped answering: it goes, and another takes its
    /// place after a pause, unless it has died too often.
    fn lost(&mut self, why: &str) {
        if let Some(stage) = self.stage.take() {
            let pid = stage.pid;
            stage.kill();
            self.note("stage_exit", pid, Some(why));
        }
        self.ready = false;
        self.restarts += 1;
        if self.restarts > RESTARTS {
            self.broken = Some(format!(
                "the {} stage died {} times",
                self.spec.name,
                RESTARTS + 1
            ));
            return;
        }
        std::thread::sleep(Duration::from_millis(100 << self.restarts));
    }

    fn note(&mut self, kind: &str, pid: libc::pid_t, reason: Option<&str>) {
        let mut out = Vec::with_capacity(128);
        json::start_record(&mut out, kind);
        json::write_str_field(&mut out, "stage", &self.spec.name);
        json::write_u64_field(&mut out, "pid", pid as u64);
        json::write_u64_field(&mut out, "slot", self.slot as u64);
        if let Some(reason) = reason {
            json::write_str_field(&mut out, "reason", reason);
        }
        out.push(b'}');
        self.notes.push(out);
    }
}
