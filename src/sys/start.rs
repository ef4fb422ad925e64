//! Where the process starts: C's `main`, called by libc, instead of std's
//! `lang_start`. A one-test run is mostly process start-up, and std's own
//! set-up costs about 90 us of it on a small VM (a signal stack mapped with a
//! guard page, /proc/self/maps read to find the main thread's stack, a poll
//! of the standard descriptors), more than the rest of proctor's start. What
//! of it proctor relies on is done here: the standard descriptors are made
//! to exist and SIGPIPE is ignored (a closed stdout is an error to handle,
//! not a death). What is left out: the stack overflow message (an overflow is
//! a plain SIGSEGV) and the main thread's name in panic messages.
//!
//! Arguments still come through `std::env::args`: glibc hands them to std
//! before `main`. Test builds keep std's start, for the test harness.

/// The process's entry point.
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    standard_fds();
    super::ignore_signals(&[libc::SIGPIPE]);
    // A panic must not unwind into libc (only the release profile aborts at
    // once): it ends the process with std's status for one, 101.
    match std::panic::catch_unwind(crate::main) {
        Ok(()) => 0,
        Err(_) => 101,
    }
}

/// Opens /dev/null on any of descriptors 0, 1 and 2 that is closed, so no file
/// proctor opens later becomes someone's stdout.
#[cfg(not(test))]
fn standard_fds() {
    let mut fds: [libc::pollfd; 3] = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfds; a zero timeout never blocks.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    if polled < 0 {
        return;
    }
    for f in &fds {
        if f.revents & libc::POLLNVAL != 0 {
            // SAFETY: a constant NUL-terminated path; the lowest free descriptor,
            // which is the closed one, is the one opened.
            unsafe { libc::open(b"/dev/null\0".as_ptr().cast(), libc::O_RDWR) };
        }
    }
}
