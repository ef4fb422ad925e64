//! The keyboard side of the interface: reading keys from the terminal when proctor
//! is in its foreground, and handing the terminal back and forth around Ctrl-Z.
//! What a key does to the run is the overlord's business; what it shows is the
//! renderers'.

use crate::sys::{self, terminal};
use std::os::unix::io::RawFd;

pub struct Keyboard {
    fd: RawFd,
}

impl Keyboard {
    /// The keyboard on `fd`, when it is a terminal and proctor is in its
    /// foreground; the terminal is switched to key-at-a-time input.
    pub fn open(fd: RawFd) -> Option<Keyboard> {
        if !terminal::isatty(fd) || !terminal::in_foreground(fd) {
            return None;
        }
        terminal::keys_mode(fd).ok()?;
        Some(Keyboard { fd })
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The keys waiting to be read.
    pub fn keys(&self) -> Vec<char> {
        let mut buf = [0u8; 64];
        match sys::read(self.fd, &mut buf) {
            Ok(n) => buf[..n].iter().map(|&b| b as char).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Before stopping for Ctrl-Z: the terminal as the shell expects it.
    pub fn suspend(&self) {
        terminal::restore();
    }

    /// After SIGCONT: key-at-a-time input again, if still in the foreground.
    pub fn resume(&self) {
        if terminal::in_foreground(self.fd) {
            let _ = terminal::keys_mode(self.fd);
        }
    }
}

impl Drop for Keyboard {
    fn drop(&mut self) {
        terminal::release();
    }
}
