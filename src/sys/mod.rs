//! Every libc call proctor makes, behind small typed wrappers.
//!
//! This is the only module allowed `unsafe`. Each wrapper turns the C convention
//! (-1 and errno) into `io::Result` through [`cvt`], owns descriptors through
//! `OwnedFd`, and retries `EINTR` where a retry is the right answer. Nothing here
//! knows about tests, jobs or logs.

mod cpus;
mod lifelines;
mod poll;
mod process;
mod procfs;
mod signals;
mod start;
pub mod terminal;

pub use cpus::{cpu_mask, cpus_in, pin_to_cpu, set_cpu_mask};
pub use lifelines::either_lifeline;
pub use poll::{poll, pollfd, PollSet};
pub use process::{
    can_fork_siblings, children_of_self, exited_child, fork, fork_sibling, kill, kill_group, reap,
    reap_any, reap_with_rusage, set_child_subreaper, set_process_name, setpgid, spawn, spawn_with,
    stop_self, waitid_exited, ExecSpec, ExitInfo, Fork, Rusage, SIBLING_CLONE,
};
pub use procfs::{alive, family, ProcStat};
pub use signals::{ignore as ignore_signals, SignalPipe};

use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Turns a C-style `-1` return into the current `errno` as an `io::Error`.
pub fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// A pipe whose both ends are close-on-exec from birth (no window for a fork to
/// leak them), returned as (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are fresh and owned by us alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A connected pair of UNIX stream sockets, both close-on-exec.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    unix_pair(libc::SOCK_STREAM)
}

/// A connected pair of UNIX sequenced-packet sockets, both close-on-exec: each
/// write is one message, and each read returns one whole message (or as much of
/// it as fits; the rest is dropped).
pub fn packet_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    unix_pair(libc::SOCK_SEQPACKET)
}

fn unix_pair(kind: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for socketpair to fill.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            kind | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: socketpair succeeded, so both descriptors are fresh and ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A UNIX stream socket bound to `path`, not yet listening: whoever calls
/// [`listen`] on it is the process its clients see as their peer.
pub fn bind_unix(path: &std::path::Path) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: a zeroed sockaddr_un is valid; the path is copied into it only
    // when it fits with its terminating NUL.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= address.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path is too long for a socket",
        ));
    }
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (to, &from) in address.sun_path.iter_mut().zip(bytes) {
        *to = from as libc::c_char;
    }
    // SAFETY: socket returns a fresh descriptor or -1.
    let fd =
        cvt(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: socket succeeded, so the descriptor is fresh and ours alone.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let length = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: `address` is a valid sockaddr_un, and `length` within it.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&address as *const libc::sockaddr_un).cast(),
            length as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// Starts accepting connections on a bound socket.
pub fn listen(fd: RawFd) -> io::Result<()> {
    // SAFETY: listen only changes the state of the socket `fd`.
    cvt(unsafe { libc::listen(fd, 128) }).map(|_| ())
}

/// Makes reads and writes on `fd` return `WouldBlock` instead of waiting.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL only read and set the file status flags of `fd`.
    unsafe {
        let flags = cvt(libc::fcntl(fd, libc::F_GETFL))?;
        cvt(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// One `read(2)`, retried on `EINTR`. `Ok(0)` is end of file.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let ret = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match cvt_size(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The next message on a sequenced-packet socket, whole, however long; an
/// empty one at end of file. Waits for it.
pub fn recv_message(fd: RawFd) -> io::Result<Vec<u8>> {
    recv_message_flags(fd, 0).map(|m| m.unwrap_or_default())
}

/// As [`recv_message`], without waiting: None when no message is there.
pub fn recv_message_now(fd: RawFd) -> io::Result<Option<Vec<u8>>> {
    recv_message_flags(fd, libc::MSG_DONTWAIT)
}

fn recv_message_flags(fd: RawFd, flags: libc::c_int) -> io::Result<Option<Vec<u8>>> {
    loop {
        // SAFETY: a peek of zero bytes writes nothing; MSG_TRUNC makes it return
        // the length of the waiting message.
        let len = unsafe {
            libc::recv(
                fd,
                std::ptr::null_mut(),
                0,
                libc::MSG_PEEK | libc::MSG_TRUNC | flags,
            )
        };
        let len = match cvt_size(len) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            other => other?,
        };
        let mut message = vec![0u8; len];
        if len == 0 {
            return Ok(Some(message));
        }
        match read(fd, &mut message)? {
            n if n == len => return Ok(Some(message)),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "a message shorter than announced",
                ))
            }
        }
    }
}

/// One `write(2)`, retried on `EINTR`.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let ret = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        match cvt_size(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Closes every descriptor from `lowest` up, so a forked child that will not exec
/// keeps none of its parent's pipes (a stray copy of a lifeline's write end would
/// keep it from ever hanging up).
pub fn close_from(lowest: RawFd) {
    // SAFETY: close_range only closes descriptors; the caller owns none of them any
    // more (it is a fresh fork and forgets them below).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            lowest as libc::c_uint,
            libc::c_uint::MAX,
            0,
        )
    };
    if ret == 0 {
        return;
    }
    // Older kernels: close what /proc lists, or a fixed range when /proc is absent.
    let listed: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd >= lowest)
            .collect(),
        Err(_) => (lowest..1024).collect(),
    };
    for fd in listed {
        // SAFETY: as above; EBADF for the directory's own descriptor is harmless.
        unsafe { libc::close(fd) };
    }
}

/// Takes ownership of a raw descriptor this process already owns.
pub fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass a descriptor they own and hold no other handle to.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Duplicates `from` onto `to` (clearing close-on-exec on `to`).
pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 only manipulates the descriptor table.
    cvt(unsafe { libc::dup2(from, to) }).map(|_| ())
}

/// Ends the process at once, without running destructors or flushing stdio: the
/// only right way out of a forked child whose parent still owns those buffers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no shared state.
    unsafe { libc::_exit(code) }
}

/// Marks `fd` close-on-exec (`FD_CLOEXEC` through `F_SETFD`).
pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD only read and set the descriptor flags of `fd`.
    unsafe {
        let flags = cvt(libc::fcntl(fd, libc::F_GETFD))?;
        cvt(libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC))?;
    }
    Ok(())
}

/// In a forked child that will not exec: keeps the standard descriptors and
/// `keep` (moved to descriptor 3, close-on-exec), closes everything else, and
/// returns 3.
pub fn keep_only_fd(keep: RawFd) -> io::Result<RawFd> {
    keep_fds(&[keep]).map(|fds| fds[0])
}

/// The same for several descriptors: moved to 3, 4, ... in order (through spare
/// numbers first, so no move overwrites a descriptor still to be moved).
pub fn keep_fds(keep: &[RawFd]) -> io::Result<Vec<RawFd>> {
    let spare = 3 + keep.len() as RawFd + keep.iter().copied().max().unwrap_or(0) + 1;
    for (i, &fd) in keep.iter().enumerate() {
        dup2(fd, spare + i as RawFd)?;
    }
    let mut kept = Vec::with_capacity(keep.len());
    for i in 0..keep.len() as RawFd {
        dup2(spare + i, 3 + i)?;
        set_cloexec(3 + i)?;
        kept.push(3 + i);
    }
    close_from(3 + keep.len() as RawFd);
    Ok(kept)
}

/// Takes ownership of descriptor `fd` that this process inherited (e.g. for
/// `--log-fd`), after checking that it is open.
pub fn take_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    set_cloexec(fd)?;
    // SAFETY: the descriptor is open, and proctor holds no other handle to it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// This process's own CPU time so far, user and system, in seconds.
pub fn self_cpu_times() -> (f64, f64) {
    // SAFETY: getrusage fills the zeroed rusage it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return (0.0, 0.0);
        }
        ru
    };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

/// Seconds since the epoch: the clock of every stamp in the logs, so that the
/// stamps of different processes line up.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The local wall-clock time of day of `unix_secs`, as (hour, minute, second).
pub fn local_time_of_day(unix_secs: i64) -> (u32, u32, u32) {
    let t = unix_secs as libc::time_t;
    // SAFETY: localtime_r fills the zeroed tm it is given and keeps no pointer.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            let s = unix_secs.rem_euclid(86_400) as u32;
            return (s / 3600, s / 60 % 60, s % 60);
        }
        (tm.tm_hour as u32, tm.tm_min as u32, tm.tm_sec as u32)
    }
}

/// Gives the heap's free memory back to the system, so that a process about to
/// fork many children copies no more address space than it uses (glibc only;
/// elsewhere it does nothing).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The user id of the process at the other end of a UNIX socket (SO_PEERCRED).
pub fn peer_uid(fd: RawFd) -> io::Result<libc::uid_t> {
    peer_credentials(fd).map(|cred| cred.uid)
}

/// The process at the other end of a connected UNIX socket: for a client, the
/// one that listens (SO_PEERCRED).
pub fn peer_pid(fd: RawFd) -> io::Result<libc::pid_t> {
    peer_credentials(fd).map(|cred| cred.pid)
}

fn peer_credentials(fd: RawFd) -> io::Result<libc::ucred> {
    // SAFETY: getsockopt fills the zeroed ucred of the size it is told.
    unsafe {
        let mut cred: libc::ucred = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        cvt(libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        ))?;
        Ok(cred)
    }
}

/// This process's real user id.
pub fn getuid() -> libc::uid_t {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// Makes this process the leader of a new session, away from the terminal.
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid only changes this process's session.
    cvt(unsafe { libc::setsid() }).map(|_| ())
}

/// A new descriptor for the same open file, close-on-exec.
pub fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC makes a fresh descriptor that only we own.
    let new = cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })?;
    Ok(own_fd(new))
}

/// Takes an exclusive lock on an open file (flock(2)), waiting for it; held
/// until the descriptor is closed.
pub fn lock_exclusive(fd: &impl AsRawFd) -> io::Result<()> {
    loop {
        // SAFETY: flock only acts on the open descriptor it is given.
        match cvt(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other.map(|_| ()),
        }
    }
}

/// Whether this process may make entries in directory `path` (access(2)).
pub fn writable_dir(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let path = match std::ffi::CString::new(path.as_os_str().as_bytes()) {
        Ok(p) => p,
        Err(_) => return false,
    };
    // SAFETY: access only reads the NUL-terminated path it is given.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// How many clock ticks make a second, the unit of the start times in /proc.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a system setting.
    match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        ticks if ticks > 0 => ticks as u64,
        _ => 100,
    }
}

/// Opens directory `path` and takes an exclusive lock on it (flock(2)), held
/// while the returned descriptor (or a copy of it, across fork) stays open.
/// None when another process holds it.
pub fn lock_dir(path: &Path) -> io::Result<Option<OwnedFd>> {
    let dir = std::fs::File::open(path)?;
    // SAFETY: flock only acts on the open descriptor it is given.
    match cvt(unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(Some(dir.into())),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}
