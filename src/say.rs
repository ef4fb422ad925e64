//! Lines for people on the standard output and error, written so that no write
//! can panic. std's `println!` and `eprintln!` panic when the write fails (a
//! closed pipe: `proctor 2>&1 | true`), and the release profile turns a panic
//! into an abort. Every process of proctor's (the overlord, the runner, the
//! auditors, the daemon) writes its messages through these instead.
//!
//! A closed stdout is no error: its reader went away, and the command goes on
//! to its usual end and exit status (STYLE.md). Any other failure to write
//! stdout is one, for the caller to report. A message that cannot be written
//! to stderr is dropped: there is nowhere left to say so.

use crate::error::{Error, Result};
use std::fmt;
use std::io::{self, Write};

/// `println!` that returns what went wrong instead of panicking: `outln!(...)?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::say::out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` that never panics: a message lost on a closed stderr is dropped.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::say::err(format_args!($($arg)*))
    };
}

/// Writes `text` to stdout, and flushes it; a closed stdout is not an error.
pub fn out(text: impl AsRef<[u8]>) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text.as_ref()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::io("write the output", e)),
        _ => Ok(()),
    }
}

/// Writes one line to stderr in a single write, so that lines of processes
/// sharing the terminal do not interleave; a failure is dropped.
pub fn err(message: fmt::Arguments) {
    let mut line = message.to_string();
    line.push('\n');
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// Writes what another program printed on its stderr to ours, as it is; a
/// failure is dropped.
pub fn err_bytes(bytes: &[u8]) {
    let _ = io::stderr().lock().write_all(bytes);
}

/// An output error that is a reader gone away, which is no error.
pub fn reader_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
