//! The runner's side of stages: starting the stage before the first job, sending
//! it the jobs it runs, hearing of their auditors, and living through its death.
//! A stage that dies is started again (a few times, with a pause between) and
//! sent again the spawns it took but never confirmed; a stage that cannot get
//! ready fails its jobs with its own error, so nothing waits for it forever.

use super::schedule::Pending;
use super::stage::{Message, Stage, StageSpec};
use super::{Runner, Stopping};
use crate::json;
use crate::sys::{self, ExitInfo};
use std::collections::HashMap;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::time::Duration;

/// How often a stage that died is started again in one run.
const RESTARTS: u32 = 3;

pub struct Stages {
    spec: Option<StageSpec>,
    stage: Option<Stage>,
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
    /// Spawns sent and not yet confirmed with `launched`.
    spawning: HashMap<(u64, u32), Pending>,
}

impl Stages {
    /// A ready stage someone else started and will stop.
    pub fn external(stage: Stage) -> Stages {
        Stages {
            spec: Some(stage.spec.clone()),
            stage: Some(stage),
            external: true,
            broken: None,
            tried: true,
            restarts: 0,
            spawning: HashMap::new(),
        }
    }

    pub fn new(spec: Option<StageSpec>) -> Stages {
        Stages {
            external: false,
            spec,
            stage: None,
            broken: None,
            tried: false,
            restarts: 0,
            spawning: HashMap::new(),
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
}

impl Runner {
    /// Starts the stage, if the run has one, and waits until it is ready.
    pub(super) fn start_stage(&mut self) -> io::Result<()> {
        self.stages.tried = true;
        let spec = match &self.stages.spec {
            Some(spec) => spec.clone(),
            None => return Ok(()),
        };
        let mut stage = match Stage::start(
            &spec,
            &self.run_dir,
            &self.plan_launch.env,
            self.lifeline_read.as_raw_fd(),
        ) {
            Ok(stage) => stage,
            Err(e) => {
                self.stages.broken =
                    Some(format!("unable to start the {} stage: {}", spec.name, e));
                return Ok(());
            }
        };
        match stage.wait_ready() {
            Ok(_preloaded) => {
                let pid = stage.pid;
                self.stages.stage = Some(stage);
                self.record_stage("stage_ready", &spec.name, |out| {
                    json::write_u64_field(out, "pid", pid as u64)
                })?;
            }
            Err(why) => {
                stage.end();
                self.record_stage("stage_exit", &spec.name, |out| {
                    json::write_str_field(out, "reason", &why)
                })?;
                self.stages.broken = Some(why);
            }
        }
        Ok(())
    }

    /// Sends a job to the stage, or fails it when the stage cannot run it.
    pub(super) fn launch_staged(&mut self, p: Pending) -> io::Result<()> {
        if !self.stages.tried {
            self.start_stage()?;
        }
        if let Some(why) = self.stages.broken.clone() {
            return self.fail_unstarted(&p, &format!("not run: {}", why));
        }
        self.occupancy.add(&p, self.slots);
        self.send_spawn(&p)?;
        self.stages.spawning.insert((p.job, p.tries), p);
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
        let timeout = p
            .spec
            .headers
            .timeout_event
            .map(Duration::from_secs_f64)
            .or(self.plan_launch.event_timeout);
        if let Some(t) = timeout {
            auditor.extend(["--event-timeout".to_string(), t.as_secs_f64().to_string()]);
        }
        if self.plan_launch.keep {
            auditor.push("--keep".into());
        }
        if self.may_retry(p) {
            auditor.push("--retry-on-fail".into());
        }
        let merge = self.plan_launch.merge;
        if let Some(stage) = &mut self.stages.stage {
            // A write to a stage that just died fails; its death is handled when
            // it is reaped, and this spawn is re-sent then.
            let _ = stage.spawn((p.job, p.tries), &p.spec.display, &dir, merge, &auditor);
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
                Message::Launched { job, pid } => {
                    if let Some(p) = self.stages.spawning.remove(&job) {
                        let dir = self.job_file(&p, "");
                        self.record("job_launch", job.0, job.1, |out| {
                            json::write_str_field(out, "file", &p.spec.display);
                            json::write_u64_field(out, "pid", pid as u64);
                            json::write_str_field(out, "dir", &dir.to_string_lossy());
                            json::write_bool_field(out, "staged", true);
                            json::write_f64_field(out, "stamp", crate::auditor::unix_now());
                        })?;
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
                    if let Some(p) = self.stages.spawning.remove(&job) {
                        self.occupancy.remove(&p, self.slots);
                        self.fail_unstarted(
                            &p,
                            &format!("the stage could not start it: {}", message),
                        )?;
                    }
                }
                Message::Error { job: None, message } => {
                    eprintln!("proctor: runner: stage: {}", message)
                }
                Message::Ready { .. } => {}
            }
        }
        if !open {
            if self.stages.external {
                // Not a child of ours: its closed socket is all we will hear.
                self.stages.external = false;
                self.stage_died()?;
            } else if let Some(stage) = &self.stages.stage {
                // Its death is handled when it is reaped.
                let _ = sys::kill(stage.pid, libc::SIGKILL);
            }
        }
        Ok(())
    }

    /// The stage died: start it again and re-send what it had not confirmed, or,
    /// after too many deaths, fail what was waiting for it.
    pub(super) fn stage_died(&mut self) -> io::Result<()> {
        let name = self
            .stages
            .stage
            .take()
            .map(|s| s.spec.name)
            .unwrap_or_default();
        self.record_stage("stage_exit", &name, |_| {})?;
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
            return Ok(());
        }
        while self.stages.broken.is_none() && self.stages.stage.is_none() {
            self.stages.restarts += 1;
            if self.stages.restarts > RESTARTS {
                self.stages.broken =
                    Some(format!("the {} stage died {} times", name, RESTARTS + 1));
                break;
            }
            std::thread::sleep(Duration::from_millis(100 << self.stages.restarts));
            self.start_stage()?;
        }
        let unconfirmed: Vec<Pending> = self.stages.spawning.drain().map(|(_, p)| p).collect();
        for p in unconfirmed {
            if let Some(why) = self.stages.broken.clone() {
                self.occupancy.remove(&p, self.slots);
                self.fail_unstarted(&p, &format!("not run: {}", why))?;
            } else {
                self.send_spawn(&p)?;
                self.stages.spawning.insert((p.job, p.tries), p);
            }
        }
        Ok(())
    }

    /// At the end of the run: the stage is asked to go, then made to.
    pub(super) fn stop_stage(&mut self) {
        if self.stages.external {
            // Its owner stops it; this run only lets go of it.
            self.stages.stage = None;
            return;
        }
        if let Some(stage) = self.stages.stage.take() {
            stage.end();
        }
    }

    /// A job its stage could not start still gets its one job_end, failed.
    fn fail_unstarted(&mut self, p: &Pending, reason: &str) -> io::Result<()> {
        self.end_unstarted(p, "fail", reason)
    }

    fn record_stage(
        &mut self,
        kind: &str,
        name: &str,
        fields: impl FnOnce(&mut Vec<u8>),
    ) -> io::Result<()> {
        let out = &mut self.scratch;
        out.clear();
        json::start_record(out, kind);
        json::write_str_field(out, "stage", name);
        fields(out);
        out.push(b'}');
        self.log.record(out)
    }
}
