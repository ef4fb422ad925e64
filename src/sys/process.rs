//! Processes: fork, exec with everything prepared beforehand, wait and kill.

use super::cvt;
use std::ffi::CString;
use std::io;
use std::os::unix::io::RawFd;
use std::ptr;
use std::rc::Rc;

/// Which side of a `fork` this is.
pub enum Fork {
    Child,
    Parent(libc::pid_t),
}

/// Forks. The caller must be single-threaded (proctor always is), so the child
/// may go on running Rust code without exec.
pub fn fork() -> io::Result<Fork> {
    // SAFETY: proctor never starts threads, so the child is a complete copy.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// The clone(2) system call as [`fork_sibling`] makes it, and as the Perl stage
/// makes it in sibling mode (it is handed this number): flags first, every
/// other argument zero, so their order does not matter. None where clone does
/// not take its flags first (s390x takes the new stack first): there nothing
/// forks siblings.
#[cfg(all(target_os = "linux", not(target_arch = "s390x")))]
pub const SIBLING_CLONE: Option<libc::c_long> = Some(libc::SYS_clone);
#[cfg(not(all(target_os = "linux", not(target_arch = "s390x"))))]
pub const SIBLING_CLONE: Option<libc::c_long> = None;

/// Whether this platform can fork siblings (see [`fork_sibling`]).
pub fn can_fork_siblings() -> bool {
    SIBLING_CLONE.is_some()
}

/// Forks a child whose parent is this process's parent, not this process
/// (clone with CLONE_PARENT): a small process can fork on another's behalf, and
/// the other reaps the children and hears of their exits as its own. The caller
/// must be single-threaded, as for [`fork`]. Where the platform cannot (see
/// [`SIBLING_CLONE`]), an `Unsupported` error (ENOSYS).
pub fn fork_sibling() -> io::Result<Fork> {
    let clone = SIBLING_CLONE.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSYS))?;
    // SAFETY: a raw clone with no new stack behaves as fork; glibc's fork handlers
    // are skipped, which only matters to threaded programs (proctor has none).
    let ret = unsafe {
        libc::syscall(
            clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid as libc::pid_t)),
    }
}

/// Everything `execve` needs, built before the fork: between fork and exec the child
/// may only make async-signal-safe calls, so no allocation happens there. The
/// environment common to every job is shared, not copied per job.
pub struct ExecSpec {
    program: CString,
    _argv: Vec<CString>,
    _env: Rc<Vec<CString>>,
    _extra_env: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

impl ExecSpec {
    /// `program` must be a path (already looked up in PATH); `argv[0]` is what the
    /// program sees as its name; the environment is `env` and then `extra_env`,
    /// each entry `KEY=VALUE`; a name in both takes `extra_env`'s value.
    pub fn new(
        program: CString,
        argv: Vec<CString>,
        env: Rc<Vec<CString>>,
        extra_env: Vec<CString>,
    ) -> ExecSpec {
        let mut argv_ptrs: Vec<_> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(ptr::null());
        let overridden = |e: &&CString| {
            // Beyond TMPDIR (never in `env`), extra variables are rare.
            extra_env.len() > 1 && extra_env.iter().any(|x| same_name(x, e))
        };
        let mut envp_ptrs: Vec<_> = env
            .iter()
            .filter(|e| !overridden(e))
            .chain(extra_env.iter())
            .map(|e| e.as_ptr())
            .collect();
        envp_ptrs.push(ptr::null());
        ExecSpec {
            program,
            _argv: argv,
            _env: env,
            _extra_env: extra_env,
            argv_ptrs,
            envp_ptrs,
        }
    }
}

/// Whether two `KEY=VALUE` entries are of one KEY.
fn same_name(a: &CString, b: &CString) -> bool {
    fn name(e: &CString) -> &[u8] {
        let bytes = e.as_bytes();
        &bytes[..bytes.iter().position(|&c| c == b'=').unwrap_or(bytes.len())]
    }
    name(a) == name(b)
}

/// Starts `spec` as a new process in a process group of its own, with the given
/// standard descriptors, default signal handling and an empty signal mask
/// (posix_spawn: the child shares memory until it execs, so nothing is copied).
/// An error means it could not be started at all (no such program, say).
pub fn spawn(
    spec: &ExecSpec,
    stdin: RawFd,
    stdout: RawFd,
    stderr: RawFd,
) -> io::Result<libc::pid_t> {
    spawn_with(spec, &[(stdin, 0), (stdout, 1), (stderr, 2)], true)
}

/// Starts `spec` with each `(from, to)` descriptor duplicated onto `to` (and so
/// kept across exec), in a process group of its own when `own_group`.
pub fn spawn_with(
    spec: &ExecSpec,
    fds: &[(RawFd, RawFd)],
    own_group: bool,
) -> io::Result<libc::pid_t> {
    // SAFETY: the attribute and file-action objects are initialised before use and
    // destroyed after; every pointer handed over stays valid during the call.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        libc::posix_spawn_file_actions_init(&mut actions);
        libc::posix_spawnattr_init(&mut attr);
        for &(from, to) in fds {
            libc::posix_spawn_file_actions_adddup2(&mut actions, from, to);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        let mut all: libc::sigset_t = std::mem::zeroed();
        // Ignored signals stay ignored across exec (Rust ignores SIGPIPE): every
        // signal goes back to its default, as under a shell.
        libc::sigfillset(&mut all);
        libc::posix_spawnattr_setsigmask(&mut attr, &none);
        libc::posix_spawnattr_setsigdefault(&mut attr, &all);
        let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        if own_group {
            libc::posix_spawnattr_setpgroup(&mut attr, 0);
            flags |= libc::POSIX_SPAWN_SETPGROUP;
        }
        libc::posix_spawnattr_setflags(&mut attr, flags as libc::c_short);
        let mut pid: libc::pid_t = 0;
        let ret = libc::posix_spawn(
            &mut pid,
            spec.program.as_ptr(),
            &actions,
            &attr,
            spec.argv_ptrs.as_ptr() as *const *mut libc::c_char,
            spec.envp_ptrs.as_ptr() as *const *mut libc::c_char,
        );
        libc::posix_spawn_file_actions_destroy(&mut actions);
        libc::posix_spawnattr_destroy(&mut attr);
        if ret == 0 {
            Ok(pid)
        } else {
            Err(io::Error::from_raw_os_error(ret))
        }
    }
}

/// Puts `pid` into process group `pgid` (0: its own). Called from both sides of a
/// fork so the group exists before either side relies on it.
pub fn setpgid(pid: libc::pid_t, pgid: libc::pid_t) -> io::Result<()> {
    // SAFETY: setpgid only changes process group membership.
    cvt(unsafe { libc::setpgid(pid, pgid) }).map(|_| ())
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitInfo {
    Code(i32),
    Signal { signal: i32, core: bool },
}

impl ExitInfo {
    fn from_status(status: libc::c_int) -> ExitInfo {
        if libc::WIFSIGNALED(status) {
            ExitInfo::Signal {
                signal: libc::WTERMSIG(status),
                core: libc::WCOREDUMP(status),
            }
        } else {
            ExitInfo::Code(libc::WEXITSTATUS(status))
        }
    }
}

/// Resources a reaped child used, in seconds and KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rusage {
    pub user: f64,
    pub system: f64,
    pub max_rss_kib: i64,
}

/// A child that has exited, not reaped: its pid, or None while all still run.
pub fn exited_child() -> io::Result<Option<libc::pid_t>> {
    let info = waitid_nowait(libc::P_ALL, 0)?;
    // SAFETY: waitid filled in (or left zeroed) the siginfo of an exited child.
    Ok(Some(unsafe { info.si_pid() }).filter(|&pid| pid != 0))
}

/// waitid for an exited child among `idtype`/`id`, without waiting or reaping:
/// a zeroed siginfo when there is none.
fn waitid_nowait(idtype: libc::idtype_t, id: libc::id_t) -> io::Result<libc::siginfo_t> {
    // SAFETY: waitid fills the zeroed siginfo it is given.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        loop {
            let ret = libc::waitid(
                idtype,
                id,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            match cvt(ret) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(_) => return Ok(info),
            }
        }
    }
}

/// Whether `pid` has exited, without reaping it: while it stays a zombie its pid and
/// process group id cannot be reused, so killing the group afterwards stays safe.
pub fn waitid_exited(pid: libc::pid_t) -> io::Result<Option<ExitInfo>> {
    let info = waitid_nowait(libc::P_PID, pid as libc::id_t)?;
    // SAFETY: waitid filled in (or left zeroed) the siginfo of an exited child.
    unsafe {
        if info.si_pid() == 0 {
            return Ok(None);
        }
        let status = info.si_status();
        Ok(Some(match info.si_code {
            libc::CLD_EXITED => ExitInfo::Code(status),
            libc::CLD_DUMPED => ExitInfo::Signal {
                signal: status,
                core: true,
            },
            _ => ExitInfo::Signal {
                signal: status,
                core: false,
            },
        }))
    }
}

/// Reaps `pid`, waiting for it, and returns how it ended and what it used.
pub fn reap_with_rusage(pid: libc::pid_t) -> io::Result<(ExitInfo, Rusage)> {
    // SAFETY: wait4 fills the zeroed status and rusage it is given.
    unsafe {
        let mut status = 0;
        let mut ru: libc::rusage = std::mem::zeroed();
        loop {
            match cvt(libc::wait4(pid, &mut status, 0, &mut ru)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        let usage = Rusage {
            user: secs(ru.ru_utime),
            system: secs(ru.ru_stime),
            max_rss_kib: ru.ru_maxrss as i64,
        };
        Ok((ExitInfo::from_status(status), usage))
    }
}

/// Reaps any one exited child without waiting: `Ok(None)` when none is left to reap
/// right now (or there are no children at all).
pub fn reap_any() -> io::Result<Option<(libc::pid_t, ExitInfo)>> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid fills the status int it is given.
        let ret = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        match cvt(ret) {
            Ok(0) => return Ok(None),
            Ok(pid) => return Ok(Some((pid, ExitInfo::from_status(status)))),
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends `signal` to one process.
pub fn kill(pid: libc::pid_t, signal: i32) -> io::Result<()> {
    // A pid read from a log or a message may be anything; these would signal
    // a whole group, everyone, or init.
    if pid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal pid 0, -1 or 1",
        ));
    }
    // SAFETY: kill only sends a signal.
    cvt(unsafe { libc::kill(pid, signal) }).map(|_| ())
}

/// Sends `signal` to every process in group `pgid`. A group that is already empty
/// is not an error.
pub fn kill_group(pgid: libc::pid_t, signal: i32) -> io::Result<()> {
    if pgid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal process group 0 or 1",
        ));
    }
    // SAFETY: kill with a negative pid signals the group.
    match cvt(unsafe { libc::kill(-pgid, signal) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Makes this process adopt orphaned descendants (Linux), so a test that escapes
/// its process group is still reaped and found here rather than by init.
pub fn set_child_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) })?;
    Ok(())
}

/// The live children of this process (Linux's /proc), used by an auditor that is
/// a subreaper to find what a test left behind. Falls back to scanning every
/// process's parent when the kernel has no `children` file.
pub fn children_of_self() -> Vec<libc::pid_t> {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    if let Ok(list) = std::fs::read_to_string(format!("/proc/{}/task/{}/children", me, me)) {
        return list
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
    }
    let mut children = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let pid: libc::pid_t = match entry.file_name().to_str().and_then(|s| s.parse().ok()) {
                Some(pid) => pid,
                None => continue,
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pid)) {
                // The fields after the command name, which may itself hold spaces.
                let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                if after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(me) {
                    children.push(pid);
                }
            }
        }
    }
    children
}

/// Reaps one specific child, waiting for it, and discards its status.
pub fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid fills the status int it is given.
    while unsafe { libc::waitpid(pid, &mut status, 0) } == -1
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
}

/// Sets this process's name as ps and top show it (Linux; 15 bytes at most).
pub fn set_process_name(name: &str) {
    let name = match std::ffi::CString::new(name) {
        Ok(name) => name,
        Err(_) => return,
    };
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_NAME reads a NUL-terminated string.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
    }
}

/// Stops this process as SIGSTOP does; returns once it is continued.
pub fn stop_self() {
    // SAFETY: raise only sends a signal to this process.
    unsafe { libc::raise(libc::SIGSTOP) };
}
