//! The runner, forked early: before discovery, state and renderers fill this
//! process's heap, so the runner and its launcher (whose address space every
//! auditor fork copies) stay small, and without the cost of exec'ing a new
//! program. It waits for its plan on a pipe; if none comes (the command failed
//! first), it exits quietly.

use crate::job::plan::Plan;
use crate::sys::{self, Fork};
use std::io::{self, Write};
use std::os::unix::io::{AsRawFd, OwnedFd};

pub struct Prefork {
    pub pid: libc::pid_t,
    plan: Option<std::fs::File>,
    /// The read end of the pipe the runner wakes the overlord through.
    pub wake: Option<OwnedFd>,
}

impl Prefork {
    pub fn start() -> io::Result<Prefork> {
        let (plan_read, plan_write) = sys::pipe()?;
        let (wake_read, wake_write) = sys::pipe()?;
        let _ = io::stdout().flush();
        match sys::fork()? {
            Fork::Child => {
                let code = match sys::keep_fds(&[plan_read.as_raw_fd(), wake_write.as_raw_fd()]) {
                    Ok(fds) => child(fds[0], fds[1]),
                    Err(_) => crate::error::EXIT_HARNESS,
                };
                sys::exit_now(code)
            }
            Fork::Parent(pid) => Ok(Prefork {
                pid,
                plan: Some(std::fs::File::from(plan_write)),
                wake: Some(wake_read),
            }),
        }
    }

    /// Hands the runner its plan; it starts at once.
    pub fn send(&mut self, plan: &Plan) -> io::Result<()> {
        let pipe = self
            .plan
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::Other, "the plan was sent already"))?;
        // Streamed: the runner is already reading, so no copy of it all is made.
        plan.write_to(&mut io::BufWriter::with_capacity(64 * 1024, pipe))
    }
}

impl Drop for Prefork {
    fn drop(&mut self) {
        if self.plan.take().is_some() {
            // Never sent: the runner reads end of file and exits; reap it.
            sys::reap(self.pid);
        }
    }
}

/// From this many jobs, decoding the plan leaves enough free heap to give back.
const TRIM_FROM_JOBS: usize = 1000;

fn child(plan_fd: i32, wake_fd: i32) -> i32 {
    // While the session finds the tests: the first auditor gets ready.
    let early = match super::start_early() {
        Ok(early) => early,
        Err(e) => {
            errln!("proctor: runner: {}", e);
            return crate::error::EXIT_HARNESS;
        }
    };
    let mut pipe =
        io::BufReader::with_capacity(64 * 1024, std::fs::File::from(sys::own_fd(plan_fd)));
    // The launcher forks the other auditors: it starts before the queue is read.
    let (plan, prepared) = match super::read_plan(early, &mut pipe, true) {
        Ok(Some(read)) => read,
        // No plan: the command ended before it had one.
        Ok(None) => return 0,
        Err(e) => {
            errln!("proctor: runner: {}", e);
            return crate::error::EXIT_HARNESS;
        }
    };
    drop(pipe);
    if plan.jobs.len() >= TRIM_FROM_JOBS {
        // What decoding a big plan used goes back to the system.
        sys::release_free_memory();
    }
    super::run(plan, wake_fd, prepared)
}
