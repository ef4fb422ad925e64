//! Signals as bytes on a self-pipe, so a poll(2) loop sees them like any other input.
//!
//! The handler does the least it can: save errno, write the signal number as one
//! byte to the pipe, restore errno (skalibs' selfpipe). The write end is
//! non-blocking: when the pipe is full the loop has plenty to wake up for anyway.

use super::{cvt, pipe, set_nonblocking};
use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: only async-signal-safe calls; errno is restored for the interrupted code.
    unsafe {
        let errno = *libc::__errno_location();
        let fd = WRITE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            let byte = signal as u8;
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

/// Ignores `signals` in this process (and, until they set their own, in its
/// children).
pub fn ignore(signals: &[i32]) {
    for &sig in signals {
        // SAFETY: SIG_IGN is a valid disposition for any catchable signal.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
}

/// The read end of a self-pipe that receives the signals it was installed for.
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Creates the pipe and routes `signals` into it. Installing again (in a forked
    /// child) replaces the previous pipe for the whole process.
    pub fn install(signals: &[i32]) -> io::Result<SignalPipe> {
        let (read, write) = pipe()?;
        set_nonblocking(read.as_raw_fd())?;
        set_nonblocking(write.as_raw_fd())?;
        WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        for &sig in signals {
            // SAFETY: the sigaction struct is zeroed, then filled with a valid handler.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                action.sa_flags = libc::SA_RESTART
                    | if sig == libc::SIGCHLD {
                        libc::SA_NOCLDSTOP
                    } else {
                        0
                    };
                libc::sigemptyset(&mut action.sa_mask);
                cvt(libc::sigaction(sig, &action, std::ptr::null_mut()))?;
            }
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// Reads every pending signal byte and reports the distinct signals seen,
    /// each where it was last seen: of a pause and a resume, the later says
    /// which holds.
    pub fn drain(&self) -> Vec<i32> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(n) = super::read(self.read.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                seen.retain(|&s| s != b as i32);
                seen.push(b as i32);
            }
        }
        seen
    }
}

impl AsRawFd for SignalPipe {
    fn as_raw_fd(&self) -> i32 {
        self.read.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_counts_where_it_was_last_seen() {
        let pipe = SignalPipe::install(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
        // A pause, a resume, a pause again (the runner's p key): paused.
        for signal in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGUSR1] {
            // SAFETY: the signal is caught by the handler installed above.
            unsafe { libc::raise(signal) };
        }
        assert_eq!(pipe.drain(), [libc::SIGUSR2, libc::SIGUSR1]);
    }
}
