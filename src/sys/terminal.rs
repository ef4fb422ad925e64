//! The terminal: whether a descriptor is one, whether proctor is in its
//! foreground, and a key-at-a-time input mode that is always put back.
//!
//! The mode keeps ISIG and output processing as they were, so Ctrl-C and Ctrl-Z
//! still raise their signals and `\n` still ends a line; it only stops the line
//! discipline from waiting for Enter and echoing keys. The original settings are
//! kept in one place so a panic hook or a signal path can restore them.

use super::cvt;
use std::io;
use std::os::unix::io::RawFd;
use std::sync::Mutex;

static SAVED: Mutex<Option<(RawFd, libc::termios)>> = Mutex::new(None);

/// Whether `fd` is a terminal.
pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Whether this process's group is the terminal's foreground group (so it may
/// read keys and change the terminal's settings without being stopped).
pub fn in_foreground(fd: RawFd) -> bool {
    // SAFETY: both calls only read process and terminal state.
    unsafe {
        let foreground = libc::tcgetpgrp(fd);
        foreground != -1 && foreground == libc::getpgrp()
    }
}

/// Switches `fd` to key-at-a-time input without echo, saving the settings to put
/// back. Calling it again (after SIGCONT) re-applies the mode.
pub fn keys_mode(fd: RawFd) -> io::Result<()> {
    let mut saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: tcgetattr fills the zeroed termios; tcsetattr reads a valid one.
    unsafe {
        let mut current: libc::termios = std::mem::zeroed();
        cvt(libc::tcgetattr(fd, &mut current))?;
        if saved.is_none() {
            *saved = Some((fd, current));
        }
        let mut keys = saved.map_or(current, |(_, t)| t);
        keys.c_lflag &= !(libc::ICANON | libc::ECHO);
        keys.c_cc[libc::VMIN] = 1;
        keys.c_cc[libc::VTIME] = 0;
        cvt(libc::tcsetattr(fd, libc::TCSANOW, &keys))?;
    }
    Ok(())
}

/// Puts the terminal back as it was before [`keys_mode`]. Safe to call any number
/// of times, from anywhere (a panic hook included).
pub fn restore() {
    let saved = SAVED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((fd, original)) = *saved {
        // SAFETY: `original` is the termios read from this descriptor earlier.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
    }
}

/// Forgets the saved settings once they are restored for good.
pub fn release() {
    restore();
    *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = None;
}
