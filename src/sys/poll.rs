//! poll(2), and poll sets whose entries are named: a loop says what it waits
//! on by name (an enum of its own), not by where the descriptor stands in the
//! array, so it reads top to bottom, and an entry that is there only some
//! rounds moves nothing else.

use super::cvt;
use std::io;
use std::os::unix::io::{AsRawFd, RawFd};

/// Waits for events on `fds`; `timeout_ms` < 0 waits forever. A signal that
/// interrupts the wait is not an error: it returns 0 so the caller re-examines its
/// self-pipe at once.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: the slice is valid for `fds.len()` pollfd entries for the call.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    match cvt(ret) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// The descriptor of `fd`, for poll sets.
pub fn pollfd(fd: &impl AsRawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

/// A poll set whose entries are named by `N`; several entries may share a
/// name (a loop's many sockets of one kind). Filled anew each round after
/// [`PollSet::clear`], which keeps its room: once it has grown to its size, a
/// round allocates nothing.
pub struct PollSet<N> {
    fds: Vec<libc::pollfd>,
    names: Vec<N>,
}

impl<N> Default for PollSet<N> {
    fn default() -> PollSet<N> {
        PollSet {
            fds: Vec::new(),
            names: Vec::new(),
        }
    }
}

impl<N: Copy + PartialEq> PollSet<N> {
    /// Empties the set for the next round.
    pub fn clear(&mut self) {
        self.fds.clear();
        self.names.clear();
    }

    /// Waits on `fd` for `events` (0: only for its errors and hang-up), as `name`.
    pub fn add(&mut self, name: N, fd: &impl AsRawFd, events: libc::c_short) {
        self.fds.push(pollfd(fd, events));
        self.names.push(name);
    }

    /// Waits as [`poll`] does.
    pub fn poll(&mut self, timeout_ms: i32) -> io::Result<usize> {
        poll(&mut self.fds, timeout_ms)
    }

    /// What the last poll found on the entries named `name` (0: nothing, or no
    /// such entry this round).
    pub fn revents(&self, name: N) -> libc::c_short {
        self.named(name).fold(0, |all, f| all | f.revents)
    }

    /// Whether the last poll found anything on an entry named `name`.
    pub fn ready(&self, name: N) -> bool {
        self.revents(name) != 0
    }

    /// The descriptors named `name` on which the last poll found something,
    /// in the order they were added.
    pub fn ready_fds(&self, name: N) -> impl Iterator<Item = RawFd> + '_ {
        self.named(name).filter(|f| f.revents != 0).map(|f| f.fd)
    }

    fn named(&self, name: N) -> impl Iterator<Item = &libc::pollfd> + '_ {
        self.fds
            .iter()
            .zip(&self.names)
            .filter(move |(_, n)| **n == name)
            .map(|(f, _)| f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Name {
        Quiet,
        Spoken,
        Many,
        Absent,
    }

    #[test]
    fn entries_are_found_by_name_wherever_they_stand() {
        let (quiet, _quiet_write) = crate::sys::pipe().unwrap();
        let (spoken, spoken_write) = crate::sys::pipe().unwrap();
        crate::sys::write(spoken_write.as_raw_fd(), b"x").unwrap();
        let mut set = PollSet::default();
        set.add(Name::Quiet, &quiet, libc::POLLIN);
        set.add(Name::Spoken, &spoken, libc::POLLIN);
        assert_eq!(set.poll(0).unwrap(), 1);
        assert!(set.ready(Name::Spoken) && !set.ready(Name::Quiet));
        assert!(!set.ready(Name::Absent));
        // The same descriptors the other way round: still told apart by name.
        set.clear();
        set.add(Name::Spoken, &spoken, libc::POLLIN);
        set.add(Name::Quiet, &quiet, libc::POLLIN);
        set.poll(0).unwrap();
        assert_eq!(set.revents(Name::Spoken), libc::POLLIN);
        assert_eq!(set.revents(Name::Quiet), 0);
    }

    #[test]
    fn a_shared_name_yields_each_ready_descriptor_in_order() {
        let pipes: Vec<_> = (0..3).map(|_| crate::sys::pipe().unwrap()).collect();
        for (_, write) in [&pipes[0], &pipes[2]] {
            crate::sys::write(write.as_raw_fd(), b"x").unwrap();
        }
        let mut set = PollSet::default();
        for (read, _) in &pipes {
            set.add(Name::Many, read, libc::POLLIN);
        }
        set.poll(0).unwrap();
        let ready: Vec<RawFd> = set.ready_fds(Name::Many).collect();
        assert_eq!(ready, [pipes[0].0.as_raw_fd(), pipes[2].0.as_raw_fd()]);
    }

    #[test]
    fn a_hang_up_is_seen_without_asking_for_input() {
        let (read, write) = crate::sys::pipe().unwrap();
        drop(read);
        let mut set = PollSet::default();
        set.add(Name::Quiet, &write, 0);
        set.poll(0).unwrap();
        assert_ne!(set.revents(Name::Quiet) & libc::POLLERR, 0);
    }

    #[test]
    fn a_new_round_keeps_the_room_of_the_last() {
        let (read, _write) = crate::sys::pipe().unwrap();
        let mut set = PollSet::default();
        for _ in 0..4 {
            set.add(Name::Many, &read, libc::POLLIN);
        }
        let room = (set.fds.capacity(), set.names.capacity());
        set.clear();
        for _ in 0..4 {
            set.add(Name::Many, &read, libc::POLLIN);
        }
        assert_eq!((set.fds.capacity(), set.names.capacity()), room);
    }
}
