//! What Linux's /proc tells of a process: its state, parent, group, name and
//! start time. No unsafe here; it lives in `sys` because it is the system's
//! view of processes, like the wrappers beside it.

use std::collections::HashMap;

/// One line of `/proc/PID/stat`, the fields proctor uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: libc::pid_t,
    /// The command name, as ps shows it (at most 15 bytes).
    pub name: String,
    /// `R`, `S`, `D`, `T`, `Z`, ...
    pub state: char,
    pub ppid: libc::pid_t,
    pub pgrp: libc::pid_t,
    pub session: libc::pid_t,
    /// Clock ticks after boot when it started: with the pid, it names one
    /// process for good (a pid alone may be reused once it is reaped).
    pub start: u64,
}

impl ProcStat {
    /// Reads `/proc/PID/stat`; None when there is no such process (or no /proc).
    pub fn of(pid: libc::pid_t) -> Option<ProcStat> {
        let text = std::fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
        ProcStat::parse(&text)
    }

    /// Parses the text of a stat file. The name sits in parentheses and may
    /// itself hold spaces and parentheses, so the fields are counted from the
    /// last `)`.
    pub fn parse(text: &str) -> Option<ProcStat> {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let pid = text[..open].trim().parse().ok()?;
        let name = text.get(open + 1..close)?.to_string();
        let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
        // After the name: state(3) ppid(4) pgrp(5) session(6) ... starttime(22).
        Some(ProcStat {
            pid,
            name,
            state: fields.first()?.chars().next()?,
            ppid: fields.get(1)?.parse().ok()?,
            pgrp: fields.get(2)?.parse().ok()?,
            session: fields.get(3)?.parse().ok()?,
            start: fields.get(19)?.parse().ok()?,
        })
    }

    /// A zombie: it has exited and waits to be reaped; it holds nothing and
    /// cannot be killed.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }
}

/// Whether the process that started at `start` is still there as `pid` and has
/// not exited (a zombie has).
pub fn alive(pid: libc::pid_t, start: u64) -> bool {
    ProcStat::of(pid).map_or(false, |s| s.start == start && !s.is_zombie())
}

/// The processes below `roots` (their children, theirs, and so on) and those
/// in a process group or session whose id is one of `leaders`, roots
/// included, from one look at /proc: the living (zombies aside), as they are
/// now.
pub fn family(roots: &[libc::pid_t], leaders: &[libc::pid_t]) -> Vec<ProcStat> {
    let all: Vec<ProcStat> = every_process().filter(|s| !s.is_zombie()).collect();
    let mut children: HashMap<libc::pid_t, Vec<libc::pid_t>> = HashMap::new();
    for stat in &all {
        children.entry(stat.ppid).or_default().push(stat.pid);
    }
    let mut below: Vec<libc::pid_t> = roots.to_vec();
    let mut todo = below.clone();
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map_or(&[][..], |c| &c[..]) {
            if !below.contains(&child) {
                below.push(child);
                todo.push(child);
            }
        }
    }
    all.into_iter()
        .filter(|s| {
            below.contains(&s.pid) || leaders.contains(&s.pgrp) || leaders.contains(&s.session)
        })
        .collect()
}

/// Every process /proc shows now.
fn every_process() -> impl Iterator<Item = ProcStat> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|s| s.parse().ok()))
        .filter_map(ProcStat::of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_spaces_and_parentheses_is_read_whole() {
        let line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let stat = ProcStat::parse(line).expect("parsed");
        assert_eq!(stat.pid, 4242);
        assert_eq!(stat.name, "a (weird) name");
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.pgrp, 4242);
        assert_eq!(stat.session, 4242);
        assert_eq!(stat.start, 987654);
        assert!(!stat.is_zombie());
    }

    #[test]
    fn a_cut_line_is_not_a_process() {
        assert_eq!(ProcStat::parse("12 (sh) Z 1"), None);
    }

    #[test]
    fn this_process_is_alive_and_in_its_own_family() {
        let me = std::process::id() as libc::pid_t;
        let stat = ProcStat::of(me).expect("our own stat");
        assert!(alive(me, stat.start));
        assert!(
            !alive(me, stat.start + 1),
            "another start time is another process"
        );
        let pids = |f: Vec<ProcStat>| f.into_iter().map(|s| s.pid).collect::<Vec<_>>();
        assert!(pids(family(&[me], &[])).contains(&me));
        assert!(pids(family(&[], &[stat.pgrp])).contains(&me));
        assert!(pids(family(&[], &[stat.session])).contains(&me));
        assert!(!pids(family(&[], &[])).contains(&me));
    }
}
