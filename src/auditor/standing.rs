//! A standing auditor's side of its slot: it learns its slot and the run's
//! settings, then takes job after job from its socket (starting a job sent
//! ahead before it reports the last), audits each and reports its status.
//! See the module above for the runner's side and the protocol.

use super::own_perl::{NotStarted, OwnPerl};
use super::slot_tmp;
use crate::auditor::{self, Place};
use crate::job::plan::{job_from_json, Plan};
use crate::job::slot::{segment_log, withdrawal};
use crate::job::Launch;
use crate::sys;
use serde_json::Value;
use std::collections::VecDeque;
use std::os::unix::io::{IntoRawFd, RawFd};
use std::path::{Path, PathBuf};

/// In a freshly forked child: names it and keeps only its socket and the
/// lifeline, then lives as a standing auditor. Returns its exit status.
pub fn become_auditor(socket: RawFd, lifeline: RawFd) -> i32 {
    sys::set_process_name("proctor-audit");
    match sys::keep_fds(&[socket, lifeline]) {
        Ok(fds) => work(fds[0], fds[1]),
        Err(_) => auditor::EXIT_BROKEN,
    }
}

/// A standing auditor's life: its slot and the run's settings, then a job in,
/// audited, its status out, until the runner closes its end of the socket.
fn work(socket: RawFd, lifeline: RawFd) -> i32 {
    let mut process = match auditor::Process::start() {
        Ok(process) => process,
        Err(e) => {
            errln!("proctor: auditor: unable to set up signals: {}", e);
            return auditor::EXIT_BROKEN;
        }
    };
    let me = std::process::id() as libc::pid_t;
    let (first, plan) = match sys::recv_message(socket).map(|m| settings(&m)) {
        Ok(Some(settings)) => settings,
        // The run ended before it began, or the runner is gone.
        _ => return 0,
    };
    // Where the run was asked from: a runner forked by the persistent runner
    // forks its first auditors before it goes there itself.
    if std::env::current_dir().ok().as_ref() != Some(&plan.cwd) {
        let _ = std::env::set_current_dir(&plan.cwd);
    }
    // Its perl preloads while the first job is on its way, on this auditor's
    // CPU if it has one; its tests get the run's CPUs back.
    let mut own_perl = if first.siblings {
        let cpu_mask = first.cpu.and_then(|cpu| {
            let mask = sys::cpu_mask().ok()?;
            sys::pin_to_cpu(cpu).ok()?;
            // Its tests that do not go through its perl are spawned free too.
            process.keep_to_cpu(cpu, mask.clone());
            Some(mask)
        });
        OwnPerl::start(&plan.launch, &plan.run_dir, lifeline, first.slot, cpu_mask)
    } else {
        None
    };
    // Ready before the first job comes: its TMPDIR, empty (an auditor of this
    // slot that died, or a run that was killed, may have left files), and its
    // log.
    let slot_dir = first.tmp;
    let mut tmp = slot_dir.clone();
    let _ = slot_tmp::make_ready(&tmp);
    let mut tmps_held = 0;
    if !plan.launch.keep {
        process.open_segments(segment_log(&plan.run_dir, me));
    }
    let mut inbox = Inbox {
        socket,
        me,
        read: VecDeque::new(),
        untold: None,
    };
    // It bailed out: the run ends, and it starts no other job.
    let mut bailed = false;
    while let Some(request) = inbox.next(&mut own_perl) {
        if inbox.withdrawn(&request) || bailed || process.told_to_stop() {
            if !inbox.tell(&mut own_perl) {
                break;
            }
            inbox.untold = Some(auditor::EXIT_WITHDRAWN);
            continue;
        }
        // A perl that must get ready first (started again, or still
        // preloading) may take a while: the runner hears of the last job
        // before that wait.
        let config = {
            let inbox = &mut inbox;
            audit(
                &plan.launch,
                &request,
                &tmp,
                lifeline,
                own_perl.as_mut().map(|own| (own, &mut process)),
                &mut || {
                    inbox.tell_status();
                },
            )
        };
        // The test has started (in its perl) or is about to: now the runner
        // hears how the last one ended.
        if !inbox.tell(&mut own_perl) {
            break;
        }
        let status = match config {
            Some(config) => {
                process.spare(own_perl.as_ref().and_then(OwnPerl::pid));
                process.audit(config)
            }
            None => auditor::EXIT_BROKEN,
        };
        if process.tmp_held() {
            // What the test left running keeps its TMPDIR: the next gets another.
            tmps_held += 1;
            tmp = slot_tmp::another(&plan.run_dir, me, tmps_held).unwrap_or_else(|| {
                let _ = auditor::empty_dir(&tmp);
                tmp
            });
        }
        bailed |= status == auditor::EXIT_BAIL;
        inbox.untold = Some(status);
        if !process.can_go_on() {
            inbox.tell(&mut own_perl);
            break;
        }
    }
    if inbox.tell(&mut own_perl) && process.can_go_on() {
        // The run is over: its TMPDIR is empty, as every job left it.
        slot_tmp::release(&tmp, &plan.run_dir);
    }
    if tmps_held > 0 {
        // What was left running in it ends with the run: the next run to
        // take the slot's TMPDIR would empty it, but need not.
        let _ = auditor::empty_dir(&slot_dir);
    }
    if let Some(own_perl) = own_perl {
        own_perl.end();
    }
    0
}

/// A standing auditor's end of its socket: what it has read and not yet
/// taken, and the status of the job it finished last, told only once the next
/// job has started (or none is there to start).
struct Inbox {
    socket: RawFd,
    me: libc::pid_t,
    read: VecDeque<Vec<u8>>,
    untold: Option<i32>,
}

impl Inbox {
    /// The next request for this auditor; None once the runner has closed the
    /// socket (or is gone). With a status untold, it waits only after telling
    /// it.
    fn next(&mut self, own_perl: &mut Option<OwnPerl>) -> Option<Value> {
        loop {
            let message = match self.read.pop_front() {
                Some(message) => message,
                None if self.untold.is_some() => match sys::recv_message_now(self.socket) {
                    Ok(Some(message)) => message,
                    Ok(None) => {
                        if !self.tell(own_perl) {
                            return None;
                        }
                        continue;
                    }
                    Err(_) => return None,
                },
                None => sys::recv_message(self.socket).ok()?,
            };
            if message.is_empty() {
                return None;
            }
            let request: Value = serde_json::from_slice(&message).unwrap_or(Value::Null);
            // Not a withdrawal (of a job already answered), nor a request
            // left for an auditor of this slot that has died.
            if request["auditor"].as_i64() == Some(self.me as i64) {
                return Some(request);
            }
        }
    }

    /// Whether the runner has withdrawn `request` since sending it: looks
    /// through what has come meanwhile, keeping the rest for later.
    fn withdrawn(&mut self, request: &Value) -> bool {
        while let Ok(Some(message)) = sys::recv_message_now(self.socket) {
            if message.is_empty() {
                break; // the end: read again when the queue is done
            }
            self.read.push_back(message);
        }
        if self.read.is_empty() {
            return false; // as after nearly every job
        }
        let withdrawal = withdrawal((
            request["job"].as_u64().unwrap_or(0),
            request["try"].as_u64().unwrap_or(0) as u32,
        ));
        match self.read.iter().position(|m| m == withdrawal.as_bytes()) {
            Some(at) => self.read.remove(at).is_some(),
            None => false,
        }
    }

    /// Tells the runner the untold status, after its perl's records; false
    /// when the runner is gone.
    fn tell(&mut self, own_perl: &mut Option<OwnPerl>) -> bool {
        if self.untold.is_none() {
            return true;
        }
        for note in own_perl
            .as_mut()
            .map(OwnPerl::take_notes)
            .unwrap_or_default()
        {
            let _ = sys::write(self.socket, &note);
        }
        self.tell_status()
    }

    /// Tells the untold status alone (its perl's records follow later).
    fn tell_status(&mut self) -> bool {
        match self.untold.take() {
            Some(status) => sys::write(self.socket, &status.to_ne_bytes()).is_ok(),
            None => true,
        }
    }
}

/// What an auditor's first message says of its own slot.
struct FirstWord {
    slot: usize,
    /// It preloads a perl of its own.
    siblings: bool,
    /// Its tests' TMPDIR.
    tmp: PathBuf,
    /// The CPU it keeps to, with its perl.
    cpu: Option<usize>,
}

/// The auditor's slot and the run's settings, from its first message: a JSON
/// line for the slot, then the plan's first line.
fn settings(message: &[u8]) -> Option<(FirstWord, Plan)> {
    let newline = message.iter().position(|&b| b == b'\n')?;
    let first: Value = serde_json::from_slice(&message[..newline]).ok()?;
    let first = FirstWord {
        slot: first["slot"].as_u64()? as usize,
        siblings: first["siblings"] == true,
        tmp: PathBuf::from(first["tmp"].as_str()?),
        cpu: first["cpu"].as_u64().map(|cpu| cpu as usize),
    };
    match Plan::read_head(&mut &message[newline + 1..]) {
        Ok(Some((plan, _))) => Some((first, plan)),
        Ok(None) => None,
        Err(e) => {
            errln!("proctor: auditor: {}", e);
            None
        }
    }
}

/// The auditor's configuration for one request, its test's TMPDIR `tmp` (the
/// slot's); a staged job's test is forked here, by the auditor's own perl.
fn audit(
    launch: &Launch,
    request: &Value,
    tmp: &Path,
    lifeline: RawFd,
    own_perl: Option<(&mut OwnPerl, &mut auditor::Process)>,
    before_waiting: &mut dyn FnMut(),
) -> Option<auditor::Config> {
    let spec = match job_from_json(&request["spec"]) {
        Ok(spec) => spec,
        Err(e) => {
            errln!("proctor: auditor: {}", e);
            return None;
        }
    };
    let path = |key: &str| PathBuf::from(request[key].as_str().unwrap_or_default());
    let place = Place {
        log: path("log"),
        log_segment: request["segment"] == true,
        tmp: tmp.to_path_buf(),
        tmp_reused: true,
    };
    let mut config = match (spec.staged, own_perl) {
        (true, Some((own_perl, process))) => {
            let job = (
                request["job"].as_u64().unwrap_or(0),
                request["try"].as_u64().unwrap_or(0) as u32,
            );
            let mut started_at = None;
            let test = match own_perl.start_test(job, &spec.display, tmp, process, before_waiting) {
                Ok(started) => {
                    started_at = Some(started.at);
                    auditor::Test::Adopted {
                        pid: started.pid,
                        stdout: started.stdout.into_raw_fd(),
                        stderr: started.stderr.map(IntoRawFd::into_raw_fd),
                    }
                }
                Err(NotStarted::Interrupted) => auditor::Test::NotStarted {
                    reason: "not run: the run was interrupted".to_string(),
                },
                Err(NotStarted::Failed(why)) => auditor::Test::NotStarted {
                    reason: format!("not run: {}", why),
                },
            };
            let mut config = launch.preloaded_config(&spec, place, lifeline, test);
            config.started = started_at;
            config
        }
        _ => launch.auditor_config(&spec, place, lifeline),
    };
    config.retry_on_fail = request["retry"] == true;
    Some(config)
}
