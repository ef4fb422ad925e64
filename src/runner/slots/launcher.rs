//! The launcher: a small process that forks the auditors on the runner's behalf.
//!
//! A fork costs in proportion to the forking process's memory: every page it maps
//! is shared copy-on-write, and both sides then fault on each page they write.
//! The runner grows with its queue; the launcher is forked from it before the jobs
//! are read and stays as it was. On request it forks a standing auditor (see
//! [`crate::auditor::standing`]) for one of the runner's slots. The child is forked with
//! CLONE_PARENT, so it is the runner's child, not the launcher's: the runner reaps
//! it and hears of its end as of its own, and a launcher that dies takes no
//! auditor with it.

use crate::auditor::standing;
use crate::sys::{self, Fork};
use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd, RawFd};

/// The runner's handle on its launcher.
pub struct Launcher {
    pub pid: libc::pid_t,
    requests: OwnedFd,
    replies: OwnedFd,
}

impl Launcher {
    /// Forks the launcher from this process, which should be small now.
    /// `lifeline` is the read end of the runner's lifeline and `slots` the
    /// auditors' ends of their sockets, one per slot: the launcher keeps these
    /// and no other descriptor of the runner's.
    pub fn start(lifeline: RawFd, slots: &[OwnedFd]) -> io::Result<Launcher> {
        let (request_read, request_write) = sys::pipe()?;
        let (reply_read, reply_write) = sys::pipe()?;
        match sys::fork()? {
            Fork::Child => {
                let mut keep = vec![request_read.as_raw_fd(), reply_write.as_raw_fd(), lifeline];
                keep.extend(slots.iter().map(|s| s.as_raw_fd()));
                let code = match sys::keep_fds(&keep) {
                    Ok(fds) => serve(fds[0], fds[1], fds[2], &fds[3..]),
                    Err(_) => crate::error::EXIT_HARNESS,
                };
                sys::exit_now(code)
            }
            Fork::Parent(pid) => Ok(Launcher {
                pid,
                requests: request_write,
                replies: reply_read,
            }),
        }
    }

    /// Has the standing auditor of slot `slot` forked, and returns its pid.
    pub fn start_auditor(&mut self, slot: usize) -> io::Result<libc::pid_t> {
        let request = (slot as u32).to_ne_bytes();
        if sys::write(self.requests.as_raw_fd(), &request)? != request.len() {
            return Err(io::Error::new(io::ErrorKind::Other, "short write"));
        }
        let mut reply = [0u8; 4];
        match sys::read(self.replies.as_raw_fd(), &mut reply)? {
            4 => match i32::from_ne_bytes(reply) {
                pid if pid > 0 => Ok(pid),
                errno => Err(io::Error::from_raw_os_error(-errno)),
            },
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the launcher has ended",
            )),
        }
    }
}

/// The launcher's loop: a slot number in, a fork, a pid (or -errno) out, until
/// the runner closes its end.
fn serve(requests: RawFd, replies: RawFd, lifeline: RawFd, slots: &[RawFd]) -> i32 {
    sys::set_process_name("proctor-launch");
    // Interrupts are for the runner and the auditors; this process ends when
    // the runner closes its requests.
    sys::ignore_signals(&[
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGTSTP,
        libc::SIGQUIT,
    ]);
    let mut request = [0u8; 4];
    loop {
        match sys::read(requests, &mut request) {
            Ok(4) => {}
            _ => return 0,
        }
        let slot = u32::from_ne_bytes(request) as usize;
        let answer = match slots.get(slot) {
            None => -libc::EINVAL,
            Some(&socket) => match sys::fork_sibling() {
                Ok(Fork::Child) => sys::exit_now(standing::become_auditor(socket, lifeline)),
                Ok(Fork::Parent(pid)) => pid,
                Err(e) => -e.raw_os_error().unwrap_or(libc::EAGAIN),
            },
        };
        if sys::write(replies, &answer.to_ne_bytes()).is_err() {
            return 0;
        }
    }
}
