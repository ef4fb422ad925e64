//! The launcher: a small process that forks the auditors on the runner's behalf.
//!
//! A fork costs in proportion to the forking process's memory: every page it maps
//! is shared copy-on-write, and both sides then fault on each page they write.
//! The runner grows with its queue; the launcher is forked from it before the jobs
//! are read and stays as it was. It reads one request a line (a job, its try, its
//! directory), forks a child that becomes that job's auditor, and answers with the
//! child's pid. The child is forked with CLONE_PARENT, so it is the runner's child,
//! not the launcher's: the runner reaps its auditors and hears of their exits as
//! before, and a launcher that dies takes no auditor with it.

use super::job::{JobSpec, Launch};
use super::plan::{job_from_json, job_to_json};
use crate::auditor;
use crate::sys::{self, Fork};
use serde_json::Value;
use std::ffi::CStr;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The runner's handle on its launcher.
pub struct Launcher {
    pub pid: libc::pid_t,
    requests: std::fs::File,
    replies: OwnedFd,
}

/// The launcher's answer to one request. Requests are answered one at a time,
/// in the order they were made, so a reply needs no name.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// The job's auditor runs as this pid.
    Started(libc::pid_t),
    /// It could not be forked (this errno: out of processes or memory).
    Refused(i32),
}

/// A reply on the wire: the pid, or the errno negated, in native byte order.
const REPLY_LEN: usize = 4;

impl Launcher {
    /// Forks the launcher from this process, which should be small now. `lifeline`
    /// is the read end of the runner's lifeline, handed to every auditor; the
    /// launcher keeps no other descriptor of the runner's.
    pub fn start(launch: &Launch, lifeline: RawFd) -> io::Result<Launcher> {
        let (request_read, request_write) = sys::pipe()?;
        let (reply_read, reply_write) = sys::pipe()?;
        match sys::fork()? {
            Fork::Child => {
                let code = match sys::keep_fds(&[
                    request_read.as_raw_fd(),
                    reply_write.as_raw_fd(),
                    lifeline,
                ]) {
                    Ok(fds) => serve(launch, fds[0], fds[1], fds[2]),
                    Err(_) => crate::error::EXIT_HARNESS,
                };
                sys::exit_now(code)
            }
            Fork::Parent(pid) => {
                sys::set_nonblocking(reply_read.as_raw_fd())?;
                Ok(Launcher {
                    pid,
                    requests: std::fs::File::from(request_write),
                    replies: reply_read,
                })
            }
        }
    }

    /// The descriptor replies arrive on, for poll(2).
    pub fn fd(&self) -> RawFd {
        self.replies.as_raw_fd()
    }

    /// Asks for one try of one job to be started.
    pub fn request(&mut self, dir: &Path, retry_on_fail: bool, spec: &JobSpec) -> io::Result<()> {
        let mut line = serde_json::to_vec(&serde_json::json!({
            "dir": dir.to_string_lossy(),
            "retry": retry_on_fail,
            "spec": job_to_json(spec),
        }))?;
        line.push(b'\n');
        self.requests.write_all(&line)
    }

    /// The replies that have arrived; `Ok(None)` once the launcher is gone.
    pub fn replies(&mut self) -> io::Result<Option<Vec<Reply>>> {
        let mut buf = [0u8; REPLY_LEN * 64];
        let mut replies = Vec::new();
        loop {
            match sys::read(self.replies.as_raw_fd(), &mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => replies.extend(buf[..n].chunks_exact(REPLY_LEN).map(decode)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Some(replies)),
                Err(e) => return Err(e),
            }
        }
    }
}

fn decode(bytes: &[u8]) -> Reply {
    let mut word = [0u8; REPLY_LEN];
    word.copy_from_slice(bytes);
    match i32::from_ne_bytes(word) {
        pid if pid > 0 => Reply::Started(pid),
        errno => Reply::Refused(-errno),
    }
}

/// The launcher's loop: a request in, a fork, a reply out, until the runner
/// closes its end.
fn serve(launch: &Launch, requests: RawFd, replies: RawFd, lifeline: RawFd) -> i32 {
    name_this_process(b"proctor-launch\0");
    // Interrupts are for the runner and the auditors; this process ends when
    // the runner closes its requests.
    sys::ignore_signals(&[
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGTSTP,
        libc::SIGQUIT,
    ]);
    let mut input = BufReader::with_capacity(16 * 1024, std::fs::File::from(sys::own_fd(requests)));
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return 0,
            Ok(_) => {}
        }
        // The child reads the request: this process writes as little as it can,
        // since every page it writes after a fork is a page copied.
        let answer = match sys::fork_sibling() {
            Ok(Fork::Child) => sys::exit_now(audit(launch, &line, lifeline)),
            Ok(Fork::Parent(pid)) => pid,
            Err(e) => -e.raw_os_error().unwrap_or(libc::EAGAIN),
        };
        if sys::write(replies, &answer.to_ne_bytes()).is_err() {
            return 0;
        }
    }
}

/// The forked child: becomes the job's auditor.
fn audit(launch: &Launch, line: &[u8], lifeline: RawFd) -> i32 {
    name_this_process(b"proctor-audit\0");
    let request: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("proctor: launcher: a request is not JSON: {}", e);
            return auditor::EXIT_BROKEN;
        }
    };
    let spec = match job_from_json(&request["spec"]) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("proctor: launcher: {}", e);
            return auditor::EXIT_BROKEN;
        }
    };
    let dir = PathBuf::from(request["dir"].as_str().unwrap_or_default());
    let lifeline = match sys::keep_only_fd(lifeline) {
        Ok(fd) => fd,
        Err(_) => return auditor::EXIT_BROKEN,
    };
    let mut config = launch.auditor_config(&spec, dir, lifeline);
    config.retry_on_fail = request["retry"] == true;
    auditor::run(config)
}

/// Names this process for ps and top.
fn name_this_process(name: &[u8]) {
    if let Ok(name) = CStr::from_bytes_with_nul(name) {
        sys::set_process_name(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_survive_the_trip() {
        assert_eq!(decode(&4321i32.to_ne_bytes()), Reply::Started(4321));
        assert_eq!(
            decode(&(-libc::EAGAIN).to_ne_bytes()),
            Reply::Refused(libc::EAGAIN)
        );
    }
}
