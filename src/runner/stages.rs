//! The runner's side of stages: starting the stage before the first job, sending
//! it the jobs it runs, hearing of their auditors, and living through its death.
//! None of it waits: the main loop polls the stage's socket with the rest, and
//! jobs given to the stage before it is ready wait, in order, for its `ready`.
//! A stage that dies is started again (a few times, after a pause the main
//! loop's poll keeps) and sent again the spawns it took but never confirmed; a
//! stage that cannot get ready fails its jobs with its own error, so nothing
//! waits for it forever.

use super::schedule::Pending;
use super::{Runner, Stopping};
use crate::event::write::{self, JobLaunch};
use crate::event::JobResult;
use crate::stage::{EnvChange, Message, Stage, StageSpec};
use crate::sys::{self, ExitInfo};
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// How often a stage that died is started again in one run.
const RESTARTS: u32 = 3;

/// How often the runner looks whether an auditor it cannot reap has ended
/// (see [`Stages::orphans`]).
const ORPHAN_CHECK: Duration = Duration::from_millis(100);

pub struct Stages {
    spec: Option<StageSpec>,
    stage: Option<Stage>,
    /// The stage has said `ready`: spawns go to it as they come.
    ready: bool,
    /// The stage is not this process's child (the persistent runner's): its
    /// death shows as its socket closing, and it is not stopped at the end.
    external: bool,
    /// Why the stage cannot run jobs, once it cannot.
    broken: Option<String>,
    /// It was started (or could not be): when standing auditors run the
    /// staged jobs in perls of their own, it starts only for a job none of
    /// them can take.
    tried: bool,
    restarts: u32,
    /// When a stage that died is started again.
    restart_at: Option<Instant>,
    /// The jobs given to the stage and not yet confirmed with `launched`, in
    /// the order given: sent already if it is ready, sent when it is if not.
    spawning: Vec<Pending>,
    /// What each spawn's `env` sets (or, None, removes) so that a test of
    /// this run has the run's environment in a stage started with another:
    /// the persistent runner's.
    env: Vec<EnvChange>,
    /// Auditors an external stage started that outlived it: they are the
    /// stage owner's children now (it is their subreaper), so this process
    /// never reaps them and looks, every [`ORPHAN_CHECK`], whether they are
    /// gone.
    orphans: Vec<libc::pid_t>,
}

impl Stages {
    /// A ready stage someone else started and will stop, started with the
    /// environment `started_with`, for a run whose tests get `wanted`.
    pub fn external(stage: Stage, started_with: &[CString], wanted: &[CString]) -> Stages {
        Stages {
            spec: Some(stage.spec.clone()),
            stage: Some(stage),
            ready: true,
            external: true,
            tried: true,
            env: env_difference(started_with, wanted),
            ..Stages::new(None)
        }
    }

    pub fn new(spec: Option<StageSpec>) -> Stages {
        Stages {
            spec,
            stage: None,
            ready: false,
            external: false,
            broken: None,
            tried: false,
            restarts: 0,
            restart_at: None,
            spawning: Vec::new(),
            env: Vec::new(),
            orphans: Vec::new(),
        }
    }

    pub fn fd(&self) -> Option<RawFd> {
        self.stage.as_ref().map(|s| s.fd())
    }

    pub fn is_stage(&self, pid: libc::pid_t) -> bool {
        self.stage.as_ref().map_or(false, |s| s.pid == pid)
    }

    /// Whether jobs are on their way to the stage.
    pub fn spawning(&self) -> bool {
        !self.spawning.is_empty()
    }

    /// When the runner must act for the stage if nothing else happens: at
    /// the end of its minute to get ready, when one that died is due to
    /// start again, or to look for the end of its orphans.
    pub fn due(&self) -> Option<Instant> {
        let orphans = Some(Instant::now() + ORPHAN_CHECK).filter(|_| !self.orphans.is_empty());
        self.stage_due().into_iter().chain(orphans).min()
    }

    /// [`Stages::due`] for the stage itself.
    fn stage_due(&self) -> Option<Instant> {
        match &self.stage {
            Some(stage) if !self.ready => Some(stage.ready_by()),
            _ => self.restart_at,
        }
    }

    /// Lets go of the stage.
    fn take(&mut self) -> Option<Stage> {
        self.ready = false;
        self.stage.take()
    }

    /// The job whose spawn the stage answered, no longer on its way.
    fn answered(&mut self, job: (u64, u32)) -> Option<Pending> {
        let at = self.spawning.iter().position(|p| (p.job, p.tries) == job)?;
        Some(self.spawning.remove(at))
    }

    fn name(&self) -> String {
        self.spec
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }
}

impl Runner {
    /// Starts the stage, if the run has one, without waiting for it: its
    /// `ready` comes through [`Runner::stage_messages`].
    pub(super) fn start_stage(&mut self) -> io::Result<()> {
        self.stages.tried = true;
        self.stages.restart_at = None;
        let spec = match &self.stages.spec {
            Some(spec) => spec.clone(),
            None => return Ok(()),
        };
        match Stage::start(
            &spec,
            &self.run_dir,
            &self.plan_launch.env,
            self.lifeline_read.as_raw_fd(),
        ) {
            Ok(stage) => {
                self.stages.stage = Some(stage);
                self.stages.ready = false;
                // This process's child, whoever's stage it replaces: reaped
                // and ended here.
                self.stages.external = false;
                Ok(())
            }
            Err(e) => self.stage_broken(format!("unable to start the {} stage: {}", spec.name, e)),
        }
    }

    /// Acts on the stage's deadline (see [`Stages::due`]) once it has passed.
    pub(super) fn stage_due(&mut self) -> io::Result<()> {
        if !self.stages.orphans.is_empty() {
            self.orphans_gone()?;
        }
        if !self
            .stages
            .stage_due()
            .map_or(false, |at| at <= Instant::now())
        {
            return Ok(());
        }
        match &self.stages.stage {
            Some(stage) => {
                let why = stage.too_slow();
                self.not_ready(why)
            }
            None => self.start_stage(),
        }
    }

    /// Gives a job to the stage, or fails it when the stage cannot run it.
    pub(super) fn launch_staged(&mut self, p: Pending) -> io::Result<()> {
        if !self.stages.tried {
            self.start_stage()?;
        }
        if let Some(why) = self.stages.broken.clone() {
            return self.fail_unstarted(&p, &format!("not run: {}", why));
        }
        self.occupancy.add(&p, self.slots);
        // Otherwise it is sent when the stage is ready.
        if self.stages.ready {
            self.send_spawn(&p)?;
        }
        self.stages.spawning.push(p);
        Ok(())
    }

    fn send_spawn(&mut self, p: &Pending) -> io::Result<()> {
        self.make_jobs_dir()?;
        let dir = self.job_file(p, "");
        // Already there when the spawn is re-sent after the stage died.
        if std::fs::create_dir(&dir)
            .and_then(|_| std::fs::create_dir(dir.join("tmp")))
            .is_err()
        {
            std::fs::create_dir_all(dir.join("tmp"))?;
        }
        let dir = dir.to_string_lossy().into_owned();
        let mut auditor = vec![
            self.plan_launch.proctor.clone(),
            "audit".into(),
            "--file".into(),
            p.spec.display.clone(),
        ];
        auditor.extend(["--dir".to_string(), dir.clone()]);
        if self
            .plan_launch
            .stage
            .as_ref()
            .map_or(false, |s| s.records_modules())
        {
            let run_dir = self.run_dir.to_string_lossy().into_owned();
            auditor.extend(["--modules-dir".to_string(), run_dir]);
        }
        if let Some(t) = self.plan_launch.event_timeout_of(&p.spec) {
            auditor.extend(["--event-timeout".to_string(), t.as_secs_f64().to_string()]);
        }
        if self.plan_launch.keep {
            auditor.push("--keep".into());
        }
        auditor.extend([
            "--leftovers".to_string(),
            self.plan_launch.leftovers.as_str().to_string(),
        ]);
        if self.plan_launch.ignore_exit {
            auditor.push("--ignore-exit".into());
        }
        let retry = self.retry_of(p);
        if retry.on_fail {
            auditor.push("--retry-on-fail".into());
        }
        if retry.plain_on_fail {
            auditor.push("--plain-on-fail".into());
        }
        if retry.plain_on_pass {
            auditor.push("--plain-on-pass".into());
        }
        if self.stages.external {
            // The kept stage hands its auditors the persistent runner's
            // lifeline; this run's is theirs to watch as well.
            auditor.extend([
                "--runner-lifeline".to_string(),
                format!(
                    "/proc/{}/fd/{}",
                    std::process::id(),
                    self.lifeline_read.as_raw_fd()
                ),
            ]);
        }
        let merge = self.plan_launch.merge;
        if let Some(stage) = &mut self.stages.stage {
            // A write to a stage that just died fails; its death is handled when
            // it is reaped, and this spawn goes to the stage after it.
            let _ = stage.spawn(
                (p.job, p.tries),
                (&p.spec.display, &self.cwd),
                (&dir, &self.stages.env),
                merge,
                &auditor,
            );
        }
        Ok(())
    }

    /// Reads what the stage said and acts on it.
    pub(super) fn stage_messages(&mut self) -> io::Result<()> {
        let (messages, open) = match &mut self.stages.stage {
            Some(stage) => stage.read(),
            None => return Ok(()),
        };
        for message in messages {
            match message {
                Message::Ready { .. } if !self.stages.ready => self.stage_ready()?,
                // Any error before `ready` is the stage's own: it will not be.
                Message::Error { message, .. } if !self.stages.ready => {
                    return self.not_ready(message)
                }
                Message::Launched { job, pid } => {
                    if let Some(p) = self.stages.answered(job) {
                        let dir = self.job_file(&p, "");
                        let dir = dir.to_string_lossy();
                        let launch = JobLaunch {
                            job,
                            file: &p.spec.display,
                            pid,
                            log: None,
                            segment: false,
                            dir: Some(&dir),
                            tmp: None,
                            staged: true,
                            stamp: crate::sys::unix_now(),
                        };
                        self.record(|out| write::job_launch(out, &launch))?;
                        self.running.insert(pid, p);
                    }
                }
                Message::Done {
                    pid,
                    status,
                    signal,
                    ..
                } => {
                    let exit = match (status, signal) {
                        (_, Some(signal)) => Some(ExitInfo::Signal {
                            signal,
                            core: false,
                        }),
                        (Some(code), _) => Some(ExitInfo::Code(code)),
                        _ => None,
                    };
                    self.auditor_done(pid, exit)?;
                }
                Message::Error {
                    job: Some(job),
                    message,
                } => {
                    if let Some(p) = self.stages.answered(job) {
                        self.occupancy.remove(&p, self.slots);
                        self.fail_unstarted(
                            &p,
                            &format!("the stage could not start it: {}", message),
                        )?;
                    }
                }
                Message::Error { job: None, message } => {
                    errln!("proctor: runner: stage: {}", message)
                }
                Message::Ready { .. } => {}
            }
        }
        if !open {
            if self.stages.external {
                // Not a child of ours: its closed socket is all we will hear,
                // and its auditors will not be ours to reap either.
                self.stages.external = false;
                let auditors: Vec<libc::pid_t> = self
                    .running
                    .iter()
                    .filter(|(_, p)| p.spec.staged)
                    .map(|(pid, _)| *pid)
                    .collect();
                self.stages.orphans.extend(auditors);
                self.stage_died()?;
            } else if let Some(stage) = &self.stages.stage {
                // Its death is handled when it is reaped.
                let _ = sys::kill(stage.pid, libc::SIGKILL);
            }
        }
        Ok(())
    }

    /// The stage is ready: the jobs given to it meanwhile go to it, in order.
    fn stage_ready(&mut self) -> io::Result<()> {
        let pid = match &self.stages.stage {
            Some(stage) => stage.pid,
            None => return Ok(()),
        };
        self.stages.ready = true;
        let name = self.stages.name();
        self.record(|out| write::stage_ready(out, &name, pid, None))?;
        let waiting = std::mem::take(&mut self.stages.spawning);
        for p in &waiting {
            self.send_spawn(p)?;
        }
        self.stages.spawning = waiting;
        Ok(())
    }

    /// The stage will not get ready (it said why, exited, or took too long):
    /// it goes, and its jobs fail with `why`.
    fn not_ready(&mut self, why: String) -> io::Result<()> {
        if let Some(stage) = self.stages.take() {
            // It has forked nothing: there is nothing to let finish.
            stage.kill();
        }
        let name = self.stages.name();
        self.record(|out| write::stage_exit(out, &name, None, Some(&why)))?;
        self.stage_broken(why)
    }

    /// The stage cannot run jobs: those given to it fail with `why`, and so
    /// will those given to it from now on.
    fn stage_broken(&mut self, why: String) -> io::Result<()> {
        let reason = format!("not run: {}", why);
        self.stages.broken = Some(why);
        for p in std::mem::take(&mut self.stages.spawning) {
            self.occupancy.remove(&p, self.slots);
            self.fail_unstarted(&p, &reason)?;
        }
        Ok(())
    }

    /// The stage died: another is started after a pause and gets what it had
    /// not confirmed, or, after too many deaths, what was waiting for it
    /// fails. One that was not ready yet is not going to be.
    pub(super) fn stage_died(&mut self) -> io::Result<()> {
        let ready = self.stages.ready;
        // Reaped already, or not ours to reap (external).
        let stage = match self.stages.take() {
            Some(stage) => stage,
            None => return Ok(()),
        };
        if !ready {
            return self.not_ready(stage.exited_early());
        }
        let name = stage.spec.name.clone();
        self.record(|out| write::stage_exit(out, &name, None, None))?;
        // Auditors it started live on as this process's children (it is a
        // subreaper); one it reaped without telling has left no process.
        let gone: Vec<libc::pid_t> = self
            .running
            .iter()
            .filter(|(pid, p)| p.spec.staged && sys::kill(**pid, 0).is_err())
            .map(|(pid, _)| *pid)
            .collect();
        for pid in gone {
            self.auditor_done(pid, None)?;
        }
        if self.stopping != Stopping::No {
            return self.stage_not_awaited();
        }
        self.stages.restarts += 1;
        if self.stages.restarts > RESTARTS {
            return self.stage_broken(format!("the {} stage died {} times", name, RESTARTS + 1));
        }
        // Longer each time, for whatever killed it to pass.
        let pause = Duration::from_millis(100 << self.stages.restarts);
        self.stages.restart_at = Some(Instant::now() + pause);
        Ok(())
    }

    /// The orphans (see [`Stages::orphans`]) that are gone end as those of a
    /// stage that died do: their status unknown.
    fn orphans_gone(&mut self) -> io::Result<()> {
        let running = &self.running;
        let mut gone = Vec::new();
        self.stages.orphans.retain(|&pid| {
            let alive = running.contains_key(&pid) && sys::kill(pid, 0).is_ok();
            if !alive {
                gone.push(pid);
            }
            alive
        });
        for pid in gone {
            self.auditor_done(pid, None)?;
        }
        Ok(())
    }

    /// The run is stopping: a stage still getting ready is not waited for,
    /// none is started again, and the jobs waiting for it end as not run. (A
    /// ready stage has their spawns; their auditors end as the others do.)
    pub(super) fn stage_not_awaited(&mut self) -> io::Result<()> {
        self.stages.restart_at = None;
        if self.stages.ready {
            return Ok(());
        }
        if let Some(stage) = self.stages.take() {
            stage.kill();
            let name = self.stages.name();
            let reason = "not ready when the run stopped";
            self.record(|out| write::stage_exit(out, &name, None, Some(reason)))?;
        }
        let reason = self.not_run();
        for p in std::mem::take(&mut self.stages.spawning) {
            self.occupancy.remove(&p, self.slots);
            self.end_unstarted(&p, JobResult::Cancelled, reason)?;
        }
        Ok(())
    }

    /// At the end of the run: the stage is asked to go, then made to.
    pub(super) fn stop_stage(&mut self) {
        if self.stages.external {
            // Its owner stops it; this run only lets go of it.
            self.stages.take();
            return;
        }
        let ready = self.stages.ready;
        match self.stages.take() {
            Some(stage) if ready => stage.end(),
            // Still preloading: it has nothing to finish.
            Some(stage) => stage.kill(),
            None => {}
        }
    }

    /// A job its stage could not start still gets its one job_end, failed.
    fn fail_unstarted(&mut self, p: &Pending, reason: &str) -> io::Result<()> {
        self.end_unstarted(p, JobResult::Fail, reason)
    }
}

/// What turns the environment `from` into `to`: each variable to set, and
/// (None) each to remove. TMPDIR is every spawn's own; a variable whose name
/// is not UTF-8 cannot go in a spawn and is left as it is (its value need
/// not be UTF-8: it goes as hex).
fn env_difference(from: &[CString], to: &[CString]) -> Vec<EnvChange> {
    fn split(entry: &CString) -> Option<(&str, &[u8])> {
        let bytes = entry.as_bytes();
        let at = bytes.iter().position(|&b| b == b'=')?;
        Some((std::str::from_utf8(&bytes[..at]).ok()?, &bytes[at + 1..]))
    }
    let before: HashMap<&str, &[u8]> = from.iter().filter_map(split).collect();
    let after: HashMap<&str, &[u8]> = to.iter().filter_map(split).collect();
    let mut difference: Vec<EnvChange> = after
        .iter()
        .filter(|(name, value)| before.get(*name) != Some(*value))
        .map(|(name, value)| (name.to_string(), Some(value.to_vec())))
        .chain(
            before
                .keys()
                .filter(|name| !after.contains_key(*name))
                .map(|name| (name.to_string(), None)),
        )
        .filter(|(name, _)| name != "TMPDIR")
        .collect();
    difference.sort();
    difference
}

#[cfg(test)]
mod tests {
    use super::env_difference;
    use std::ffi::CString;

    fn env(list: &[&str]) -> Vec<CString> {
        list.iter().map(|e| CString::new(*e).unwrap()).collect()
    }

    #[test]
    fn the_difference_sets_what_changed_and_removes_what_went() {
        let from = env(&["A=1", "B=2", "GONE=x", "TMPDIR=/a"]);
        let to = env(&["A=1", "B=3", "NEW=y=z", "TMPDIR=/b"]);
        assert_eq!(
            env_difference(&from, &to),
            vec![
                ("B".to_string(), Some(b"3".to_vec())),
                ("GONE".to_string(), None),
                ("NEW".to_string(), Some(b"y=z".to_vec())),
            ]
        );
        assert!(env_difference(&to, &to).is_empty());
    }
}
