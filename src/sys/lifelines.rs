//! One descriptor for two lifelines: an auditor waits on a single lifeline,
//! but one the kept stage starts for a run must end with either the
//! persistent runner or that run's runner. An epoll descriptor holding both
//! polls readable as soon as either hangs up.

use super::cvt;
use std::io;
use std::os::unix::io::{FromRawFd, OwnedFd, RawFd};

/// A descriptor that polls readable once `a` or `b` does (a pipe's read end
/// hangs up when its last writer is gone). Both must stay open as long as it
/// is watched.
#[cfg(target_os = "linux")]
pub fn either_lifeline(a: RawFd, b: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 takes only flags and returns a new descriptor.
    let epoll = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    // SAFETY: epoll_create1 succeeded, so the descriptor is fresh and ours alone.
    let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
    for fd in [a, b] {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: `event` is a valid epoll_event for the call to read; both
        // descriptors are the caller's, open for the call.
        cvt(unsafe {
            libc::epoll_ctl(
                std::os::unix::io::AsRawFd::as_raw_fd(&epoll),
                libc::EPOLL_CTL_ADD,
                fd,
                &mut event,
            )
        })?;
    }
    Ok(epoll)
}

/// Without epoll there is no one descriptor for two: the caller keeps to one.
#[cfg(not(target_os = "linux"))]
pub fn either_lifeline(_a: RawFd, _b: RawFd) -> io::Result<OwnedFd> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no epoll on this system",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::unix::io::AsRawFd;

    fn ready(fd: &OwnedFd) -> bool {
        let mut fds = [super::super::pollfd(fd, libc::POLLIN)];
        matches!(super::super::poll(&mut fds, 0), Ok(n) if n > 0)
    }

    #[test]
    fn either_lifeline_hangs_up_with_either_of_its_two() {
        for first in [true, false] {
            let (a_read, a_write) = super::super::pipe().unwrap();
            let (b_read, b_write) = super::super::pipe().unwrap();
            let either = either_lifeline(a_read.as_raw_fd(), b_read.as_raw_fd()).unwrap();
            assert!(!ready(&either), "both writers still there");
            drop(if first { a_write } else { b_write });
            assert!(ready(&either), "one writer gone (the first: {})", first);
        }
    }
}
