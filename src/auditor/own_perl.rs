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

use super::Process;
use crate::event::write;
use crate::job::Launch;
use crate::stage::{SpawnFailure, Stage, StageSpec, SPAWN_TIMEOUT};
use crate::sys;
use std::ffi::CString;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often one slot's perl is started again in one run.
const RESTARTS: u32 = 3;

/// A test it forked: its pid and the read ends of its pipes (no stderr when
/// merged into stdout).
pub struct Started {
    pub pid: libc::pid_t,
    pub stdout: OwnedFd,
    pub stderr: Option<OwnedFd>,
    /// When it was asked for: the test's time counts from here.
    pub at: Instant,
}

/// Why a test was not started.
pub enum NotStarted {
    /// The run is being interrupted (or the runner is gone): no test is to
    /// start, whatever the stage is doing.
    Interrupted,
    /// The stage cannot run it: why.
    Failed(String),
}

pub struct OwnPerl {
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
    /// The CPUs each test is given back: this auditor and its perl keep to
    /// one of them (see [`crate::auditor::standing`]).
    cpu_mask: Option<Vec<u8>>,
}

impl OwnPerl {
    /// Where its test `pid` reports what it loaded, when this perl records that.
    pub fn modules_report(&self, pid: libc::pid_t) -> Option<PathBuf> {
        if self.spec.records_modules() {
            Some(super::loaded::report_path(&self.run_dir, pid))
        } else {
            None
        }
    }

    /// The perl of the auditor of `slot`, for a run whose settings are
    /// `launch`; started now, not waited for.
    pub fn start(
        launch: &Launch,
        run_dir: &Path,
        lifeline: RawFd,
        slot: usize,
        cpu_mask: Option<Vec<u8>>,
    ) -> Option<OwnPerl> {
        let mut own = OwnPerl {
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
            cpu_mask,
        };
        own.launch();
        Some(own)
    }

    /// Its process, while it has one.
    pub fn pid(&self) -> Option<libc::pid_t> {
        self.stage.as_ref().map(|s| s.pid)
    }

    /// Forks the test of `file`, job `job`, with `tmp` as its TMPDIR, on fresh
    /// pipes. While it waits for its perl, it heeds `process`'s signals and the
    /// lifeline: an interrupt or the runner's end starts no test.
    pub fn start_test(
        &mut self,
        job: (u64, u32),
        file: &str,
        tmp: &Path,
        process: &mut Process,
        before_waiting: &mut dyn FnMut(),
    ) -> Result<Started, NotStarted> {
        let failed =
            |e: std::io::Error| NotStarted::Failed(format!("unable to make a pipe: {}", e));
        loop {
            self.get_ready(process, before_waiting)?;
            let (stdout, stdout_write) = sys::pipe().map_err(failed)?;
            let stderr = if self.merge {
                None
            } else {
                Some(sys::pipe().map_err(failed)?)
            };
            let wake = [process.signal_fd(), self.lifeline];
            let stage = self.stage.as_mut().expect("a ready stage");
            let at = Instant::now();
            let mut asked = stage.spawn_sibling(
                job,
                file,
                tmp,
                (
                    stdout_write.as_raw_fd(),
                    stderr.as_ref().map(|(_, w)| w.as_raw_fd()),
                ),
                &wake,
            );
            while let Err(SpawnFailure::Woken) = asked {
                if self.stopping(process) {
                    self.abandon();
                    return Err(NotStarted::Interrupted);
                }
                // A test that died before it could say `launched` (between
                // jobs the perl is this process's only child): audited as it
                // is, an exit with no output, not a perl that stopped answering.
                let stage_pid = self.stage.as_ref().map(|s| s.pid);
                if let Some(pid) = exited_test(process, stage_pid) {
                    if Some(pid) != stage_pid {
                        return Ok(Started {
                            pid,
                            stdout,
                            stderr: stderr.map(|(read, _)| read),
                            at,
                        });
                    }
                }
                // A signal that stops nothing (a pause, a child's end): the
                // answer is still to come.
                let stage = self.stage.as_mut().expect("a ready stage");
                asked = stage.wait_launched(job, at + SPAWN_TIMEOUT, &wake);
            }
            // The test has opened the write ends (or never will): they are its
            // alone. (Closed before, while a signal woke the wait, they were
            // gone from /proc by the time the test looked for them.)
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
                        at,
                    });
                }
                Err(SpawnFailure::Refused(why)) => return Err(NotStarted::Failed(why)),
                // Gone before it forked the test: a new one gets the spawn,
                // unless the run is ending (a Ctrl-C reaches the perl too).
                Err(SpawnFailure::Gone(why)) => {
                    if self.stopping(process) {
                        self.abandon();
                        return Err(NotStarted::Interrupted);
                    }
                    before_waiting();
                    self.lost(&why)
                }
                Err(SpawnFailure::Woken) => unreachable!("waited for above"),
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
    /// `before_waiting` is called before anything that takes time: a new
    /// perl, or the wait for one to get ready.
    fn get_ready(
        &mut self,
        process: &mut Process,
        before_waiting: &mut dyn FnMut(),
    ) -> Result<(), NotStarted> {
        loop {
            if let Some(why) = &self.broken {
                return Err(NotStarted::Failed(why.clone()));
            }
            let pid = match &self.stage {
                Some(stage) => stage.pid,
                None => {
                    before_waiting();
                    self.launch();
                    continue;
                }
            };
            let exited = sys::waitid_exited(pid);
            if !matches!(exited, Ok(None)) || !self.ready {
                before_waiting();
            }
            match exited {
                Ok(None) => {}
                Ok(Some(_)) | Err(_) if self.stopping(process) => {
                    return Err(NotStarted::Interrupted)
                }
                Ok(Some(exit)) => {
                    self.lost(&describe(&exit));
                    continue;
                }
                Err(_) => {
                    self.lost("it exited");
                    continue;
                }
            }
            if self.ready {
                return Ok(());
            }
            let wake = [process.signal_fd(), self.lifeline];
            let waited = self.stage.as_mut().map(|s| s.wait_ready_or(&wake));
            match waited {
                Some(Ok(Some(_))) => {
                    self.ready = true;
                    self.note_ready(pid);
                }
                // A signal, or the lifeline: the run is ending.
                Some(Ok(None)) if self.stopping(process) => return Err(NotStarted::Interrupted),
                // A signal that stops nothing: the perl preloads on.
                Some(Ok(None)) => {}
                Some(Err(why)) => {
                    // A Ctrl-C ends the preloading perl too: not its fault.
                    if self.stopping(process) {
                        return Err(NotStarted::Interrupted);
                    }
                    // Killed from outside (a stray kill, the OOM killer): a
                    // new one may well get ready.
                    if let Some(signal) = killed(pid) {
                        self.lost(&format!("{}: {}", why, signal));
                        continue;
                    }
                    // Not ready is not going to be: its jobs fail with its word.
                    if let Some(stage) = self.stage.take() {
                        stage.kill();
                    }
                    self.note_exit(pid, &why);
                    self.broken = Some(why);
                }
                None => {}
            }
        }
    }

    /// Whether the run is being interrupted, or the runner is gone: no test
    /// is to start.
    fn stopping(&self, process: &mut Process) -> bool {
        let mut lifeline = [libc::pollfd {
            fd: self.lifeline,
            events: libc::POLLIN,
            revents: 0,
        }];
        let hung_up = matches!(sys::poll(&mut lifeline, 0), Ok(n) if n > 0);
        process.interrupted() || hung_up
    }

    /// Gives up on the stage while a spawn is out (the run is ending): it is
    /// killed, and so is a test it may have forked already, which no one
    /// would audit.
    fn abandon(&mut self) {
        if let Some(stage) = self.stage.take() {
            let pid = stage.pid;
            stage.kill();
            self.note_exit(pid, "the run was interrupted");
        }
        self.ready = false;
        for child in sys::children_of_self() {
            let _ = sys::kill_group(child, libc::SIGKILL);
            let _ = sys::kill(child, libc::SIGKILL);
            sys::reap(child);
        }
    }

    /// Starts the stage (or says why it cannot).
    fn launch(&mut self) {
        self.ready = false;
        let mask = self.cpu_mask.as_deref();
        match Stage::start_siblings(&self.spec, &self.run_dir, &self.env, self.lifeline, mask) {
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
        let pid = self.stage.as_ref().map(|s| s.pid);
        if let Some(stage) = self.stage.take() {
            stage.kill();
        }
        if let Some(pid) = pid {
            self.note_exit(pid, why);
        }
        self.ready = false;
        self.restarts += 1;
        let again = self.restarts <= RESTARTS;
        // Not the test's doing, and nothing else on the screen says it.
        errln!(
            "proctor: the {} stage of slot {}{} was lost ({}){}",
            self.spec.name,
            self.slot,
            pid.map(|p| format!(" (pid {})", p)).unwrap_or_default(),
            why,
            if again {
                "; starting it again"
            } else {
                "; its preloaded tests fail from here"
            }
        );
        if !again {
            self.broken = Some(format!(
                "the {} stage died {} times",
                self.spec.name,
                RESTARTS + 1
            ));
            return;
        }
        std::thread::sleep(Duration::from_millis(100 << self.restarts));
    }

    /// Keeps a record for the runner's log: the perl is ready.
    fn note_ready(&mut self, pid: libc::pid_t) {
        let mut out = Vec::with_capacity(128);
        write::stage_ready(&mut out, &self.spec.name, pid, Some(self.slot));
        self.notes.push(out);
    }

    /// Keeps a record for the runner's log: the perl is gone, and why.
    fn note_exit(&mut self, pid: libc::pid_t, why: &str) {
        let mut out = Vec::with_capacity(128);
        write::stage_exit(&mut out, &self.spec.name, Some((pid, self.slot)), Some(why));
        self.notes.push(out);
    }
}

/// What ended a stage, as a reason.
fn describe(exit: &sys::ExitInfo) -> String {
    match exit {
        sys::ExitInfo::Code(code) => format!("it exited with status {}", code),
        sys::ExitInfo::Signal { signal, .. } => format!(
            "it was killed by signal {} ({})",
            signal,
            crate::tap::signal_name(*signal)
        ),
    }
}

/// How the stage `pid`, which closed its socket, was killed, if a signal
/// ended it. It may still be on its way out: it is given a second.
fn killed(pid: libc::pid_t) -> Option<String> {
    for _ in 0..100 {
        match sys::waitid_exited(pid) {
            Ok(Some(exit @ sys::ExitInfo::Signal { .. })) => return Some(describe(&exit)),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Ok(Some(_)) | Err(_) => return None,
        }
    }
    None
}

/// A child that has exited and may be the test the perl was forking (or the
/// perl itself). The test dies in the perl's process group: it leaves it only
/// after it has said `launched`. Any other child is what earlier tests left
/// running, or what that left in turn: orphans come to this process, as
/// subreaper, and may exit at any time; they are reaped here, never taken
/// for the test.
fn exited_test(process: &mut Process, stage_pid: Option<libc::pid_t>) -> Option<libc::pid_t> {
    let stage_group = stage_pid.and_then(sys::ProcStat::of).map(|s| s.pgrp);
    loop {
        let pid = match sys::exited_child() {
            Ok(Some(pid)) => pid,
            Ok(None) | Err(_) => return None,
        };
        if Some(pid) == stage_pid {
            return Some(pid);
        }
        if process.left_running(pid) {
            process.reap_left_running();
            continue;
        }
        let group = sys::ProcStat::of(pid).map(|s| s.pgrp);
        if group.is_some() && group == stage_group {
            return Some(pid);
        }
        sys::reap(pid);
    }
}
