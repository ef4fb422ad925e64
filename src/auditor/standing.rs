//! A standing auditor's side of its slot: it learns its slot and the run's
//! settings, then takes job after job from its socket (starting a job sent
//! ahead before it reports the last), audits each and reports its status.
//! It hears its socket while it audits too: a job sent ahead and withdrawn
//! then is given back at once, not when the job before it ends.
//! See the module above for the runner's side and the protocol.

use super::own_perl::{NotStarted, OwnPerl};
use super::slot_tmp;
use crate::auditor::{self, Place};
use crate::job::audit;
use crate::job::plan::Plan;
use crate::job::segment;
use crate::job::slot::{FromAuditor, Introduction, JobKey, JobRequest, ToAuditor};
use crate::job::Launch;
use crate::sys;
use std::collections::VecDeque;
use std::os::unix::io::{IntoRawFd, RawFd};
use std::path::Path;

/// In a freshly forked child: names it and keeps only its socket and the
/// lifeline, then lives as a standing auditor. Returns its exit status.
pub fn become_auditor(socket: RawFd, lifeline: RawFd) -> i32 {
    sys::set_process_name("proctor-audit");
    match sys::keep_fds(&[socket, lifeline]) {
        Ok(fds) => work(fds[0], fds[1]),
        Err(_) => audit::EXIT_BROKEN,
    }
}

/// A standing auditor's life: its slot and the run's settings, then a job in,
/// audited, its status out, until the runner closes its end of the socket.
fn work(socket: RawFd, lifeline: RawFd) -> i32 {
    let mut process = match auditor::Process::start() {
        Ok(process) => process,
        Err(e) => {
            errln!("proctor: auditor: unable to set up signals: {}", e);
            return audit::EXIT_BROKEN;
        }
    };
    let me = std::process::id() as libc::pid_t;
    let (first, plan) = match sys::recv_message(socket).map(|m| introduced(&m)) {
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
    let slot_dir = first.tmp.into_owned();
    let mut tmp = slot_dir.clone();
    let _ = slot_tmp::make_ready(&tmp);
    let mut tmps_held = 0;
    if !plan.launch.keep {
        process.open_segments(segment::log_path(&plan.run_dir, me));
    }
    let mut inbox = Inbox {
        socket,
        me,
        read: VecDeque::new(),
        untold: None,
        out: Vec::new(),
        garbled: false,
    };
    // It bailed out: the run ends, and it starts no other job.
    let mut bailed = false;
    while let Some(request) = inbox.next(&mut own_perl) {
        if inbox.withdrawn(request.job) || bailed || process.told_to_stop() {
            if !inbox.tell(&mut own_perl) {
                break;
            }
            inbox.untold = Some(audit::EXIT_WITHDRAWN);
            continue;
        }
        // A perl that must get ready first (started again, or still
        // preloading) may take a while: the runner hears of the last job
        // before that wait.
        let config = {
            let inbox = &mut inbox;
            audit(
                &plan.launch,
                request,
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
        process.spare(own_perl.as_ref().and_then(OwnPerl::pid));
        let status = process.audit(config, Some(&mut inbox));
        if process.tmp_held() {
            // What the test left running keeps its TMPDIR: the next gets another.
            tmps_held += 1;
            tmp = slot_tmp::another(&plan.run_dir, me, tmps_held).unwrap_or_else(|| {
                let _ = auditor::empty_dir(&tmp);
                tmp
            });
        }
        bailed |= status == audit::EXIT_BAIL;
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
    if inbox.garbled {
        audit::EXIT_BROKEN
    } else {
        0
    }
}

/// A standing auditor's end of its socket: what it has read and not yet
/// taken, and the status of the job it finished last, told only once the next
/// job has started (or none is there to start).
struct Inbox {
    socket: RawFd,
    me: libc::pid_t,
    read: VecDeque<ToAuditor<'static>>,
    untold: Option<i32>,
    /// The message being sent: one buffer for every job.
    out: Vec<u8>,
    /// The runner said something that is not the protocol's: nothing after it
    /// can be trusted (it may have been a job, or a withdrawal), so this
    /// auditor ends, and its jobs go as a lost auditor's do.
    garbled: bool,
}

/// What came on the socket.
// A message is moved once, from the socket to the inbox: boxing it would
// cost an allocation a job to save a copy.
#[allow(clippy::large_enum_variant)]
enum Incoming {
    Message(ToAuditor<'static>),
    /// Nothing yet (when not waiting).
    Nothing,
    /// The runner has closed its end, is gone, or is not to be trusted.
    End,
}

impl Inbox {
    /// The next request for this auditor; None once the runner has closed the
    /// socket (or is gone). With a status untold, it waits only after telling
    /// it.
    fn next(&mut self, own_perl: &mut Option<OwnPerl>) -> Option<JobRequest<'static>> {
        loop {
            let message = match self.read.pop_front() {
                Some(message) => message,
                None => match self.receive(self.untold.is_none()) {
                    Incoming::Message(message) => message,
                    Incoming::Nothing => {
                        if !self.tell(own_perl) {
                            return None;
                        }
                        continue;
                    }
                    Incoming::End => return None,
                },
            };
            match message {
                ToAuditor::Job(request) if request.auditor == self.me => return Some(request),
                // A withdrawal of a job already answered, or a request left
                // for an auditor of this slot that has died.
                _ => {}
            }
        }
    }

    /// Whether the runner has withdrawn `job` since sending it: looks through
    /// what has come meanwhile, keeping the rest for later.
    fn withdrawn(&mut self, job: JobKey) -> bool {
        // At the end, the loop stops: read again when the queue is done.
        while let Incoming::Message(message) = self.receive(false) {
            self.read.push_back(message);
        }
        // Nearly every job finds nothing read.
        let withdrawal = self
            .read
            .iter()
            .position(|m| *m == ToAuditor::Withdrawal(job));
        match withdrawal {
            Some(at) => self.read.remove(at).is_some(),
            None => false,
        }
    }

    /// The next message on the socket, waiting for it or not.
    fn receive(&mut self, wait: bool) -> Incoming {
        if self.garbled {
            return Incoming::End;
        }
        let message = if wait {
            sys::recv_message(self.socket).map(Some)
        } else {
            sys::recv_message_now(self.socket)
        };
        match message {
            // An empty message is the end: the runner closed its end.
            Ok(Some(message)) if message.is_empty() => Incoming::End,
            Ok(Some(message)) => match ToAuditor::decode(&message) {
                Ok(message) => Incoming::Message(message),
                Err(e) => {
                    errln!("proctor: auditor: {}", e);
                    self.garbled = true;
                    Incoming::End
                }
            },
            Ok(None) => Incoming::Nothing,
            Err(_) => Incoming::End,
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
            self.say(&FromAuditor::Note(&note));
        }
        self.tell_status()
    }

    /// Tells the untold status alone (its perl's records follow later).
    fn tell_status(&mut self) -> bool {
        match self.untold.take() {
            Some(status) => self.say(&FromAuditor::Status(status)),
            None => true,
        }
    }

    /// Sends `message` to the runner; false when the runner is gone.
    fn say(&mut self, message: &FromAuditor) -> bool {
        self.out.clear();
        message.encode(&mut self.out);
        sys::write(self.socket, &self.out).is_ok()
    }
}

impl auditor::SlotSocket for Inbox {
    fn fd(&self) -> RawFd {
        self.socket
    }

    /// One message a wake-up: nearly always the job sent ahead, and the
    /// poll comes back at once for any other.
    fn readable(&mut self) -> bool {
        match self.receive(false) {
            Incoming::Message(ToAuditor::Withdrawal(job)) if self.give_back(job) => true,
            Incoming::Message(message) => {
                self.read.push_back(message);
                true
            }
            Incoming::Nothing => true,
            Incoming::End => false,
        }
    }
}

impl Inbox {
    /// Drops the request for `job` if it holds it, not started, and tells
    /// the runner so now; false when it holds none (the job has started, or
    /// has been answered).
    fn give_back(&mut self, job: JobKey) -> bool {
        let me = self.me;
        let held = self
            .read
            .iter()
            .position(|m| matches!(m, ToAuditor::Job(r) if r.job == job && r.auditor == me));
        match held {
            Some(at) => {
                self.read.remove(at);
                self.say(&FromAuditor::GivenBack(job));
                true
            }
            None => false,
        }
    }
}

/// The auditor's slot and the run's settings, from its first message (none
/// when the run ended before it began).
fn introduced(message: &[u8]) -> Option<(Introduction<'static>, Plan)> {
    if message.is_empty() {
        return None;
    }
    let introduction = match ToAuditor::decode(message) {
        Ok(ToAuditor::Introduction(introduction)) => introduction,
        Ok(_) => {
            errln!("proctor: auditor: unable to start: its first message is not its introduction");
            return None;
        }
        Err(e) => {
            errln!("proctor: auditor: unable to start: {}", e);
            return None;
        }
    };
    match Plan::read_head(&mut &introduction.settings[..]) {
        Ok(Some((plan, _))) => Some((introduction, plan)),
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
    request: JobRequest,
    tmp: &Path,
    lifeline: RawFd,
    own_perl: Option<(&mut OwnPerl, &mut auditor::Process)>,
    before_waiting: &mut dyn FnMut(),
) -> audit::Config {
    let spec = &request.spec;
    let place = Place {
        log: request.log.into_owned(),
        segment: request.segment.then_some(request.job),
        tmp: tmp.to_path_buf(),
        tmp_reused: true,
    };
    let retry = request.retry;
    match (spec.staged, own_perl) {
        (true, Some((own_perl, process))) => {
            let job = request.job;
            let mut started_at = None;
            let test = match own_perl.start_test(job, &spec.display, tmp, process, before_waiting) {
                Ok(started) => {
                    started_at = Some(started.at);
                    audit::Test::Adopted {
                        pid: started.pid,
                        stdout: started.stdout.into_raw_fd(),
                        stderr: started.stderr.map(IntoRawFd::into_raw_fd),
                    }
                }
                Err(NotStarted::Interrupted) => audit::Test::NotStarted {
                    reason: "not run: the run was interrupted".to_string(),
                },
                Err(NotStarted::Failed(why)) => audit::Test::NotStarted {
                    reason: format!("not run: {}", why),
                },
            };
            let reported = match &test {
                audit::Test::Adopted { pid, .. } => own_perl.modules_report(*pid),
                _ => None,
            };
            let mut config = launch.preloaded_config(spec, place, lifeline, retry, test);
            config.started = started_at;
            config.modules_report = reported;
            config
        }
        _ => launch.auditor_config(spec, place, lifeline, retry),
    }
}
