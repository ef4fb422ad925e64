//! Helpers for the integration tests: a scratch project per test, the binary run
//! in it, its event log read back.

use serde_json::Value;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A scratch project: files under it, proctor run in it.
pub struct Project {
    pub dir: PathBuf,
}

impl Project {
    pub fn new() -> Project {
        Project::under(&std::env::temp_dir())
    }

    fn under(base: &Path) -> Project {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = base.join(format!("proctor-it-{}-{}", std::process::id(), n));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Project { dir }
    }

    /// A project another user can enter and run proctor in, and the copy of
    /// proctor in it they can run. Under /tmp itself, not TMPDIR, which may be
    /// private; the build's own binary may sit in a checkout others cannot enter.
    pub fn open_to_anyone() -> (Project, PathBuf) {
        let p = Project::under(Path::new("/tmp"));
        fs::set_permissions(&p.dir, fs::Permissions::from_mode(0o777)).unwrap();
        let bin = p.dir.join("bin");
        fs::create_dir(&bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let proctor = bin.join("proctor");
        copy_in_a_child(Path::new(env!("CARGO_BIN_EXE_proctor")), &proctor);
        fs::set_permissions(&proctor, fs::Permissions::from_mode(0o755)).unwrap();
        (p, proctor)
    }

    /// Writes an executable file (its final copy by a child process, see
    /// [`copy_in_a_child`]).
    pub fn script(&self, name: &str, body: &str) -> &Project {
        let path = self.dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let draft = path.with_extension("draft");
        fs::write(&draft, body).unwrap();
        copy_in_a_child(&draft, &path);
        fs::remove_file(&draft).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// As [`Project::script`] for many files at once: one `cp` for them all
    /// (a child per file costs a large test seconds).
    pub fn scripts<'a>(&self, files: impl IntoIterator<Item = (String, &'a str)>) -> &Project {
        let drafts = self.dir.join(".drafts");
        for (name, body) in files {
            let draft = drafts.join(&name);
            fs::create_dir_all(draft.parent().unwrap()).unwrap();
            fs::write(&draft, body).unwrap();
            fs::set_permissions(&draft, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let copied = Command::new("cp")
            .arg("-R")
            .arg(drafts.join("."))
            .arg(&self.dir)
            .status()
            .expect("cp runs");
        assert!(copied.success(), "cp -R {}", drafts.display());
        fs::remove_dir_all(&drafts).unwrap();
        self
    }

    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn proctor(&self, args: &[&str]) -> Run {
        self.proctor_with_env(args, &[])
    }

    /// Runs proctor with `env` added to its environment.
    pub fn proctor_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let env: Vec<(&str, &OsStr)> = env.iter().map(|&(k, v)| (k, OsStr::new(v))).collect();
        self.proctor_in(&self.dir, args, &env)
    }

    /// Runs proctor in `dir` (with this project's state directory), with `env`
    /// added to its environment.
    pub fn proctor_in(&self, dir: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_proctor"))
            .args(args)
            .current_dir(dir)
            .env("PROCTOR_STATE_DIR", self.state())
            // Not the user's: their ~/.proctorrc would change every run.
            .env("HOME", self.dir.join("home"))
            .env_remove("NO_COLOR")
            // A make above the tests (proctor's own make check) is not one
            // that `proctor driver` should take its runs to belong to.
            .env_remove("MAKELEVEL")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        Run { output }
    }

    pub fn events(&self) -> Vec<Value> {
        events_of(
            &fs::read(self.state().join("last.jsonl")).expect("the last run has an event log"),
        )
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub fn events_of(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l).unwrap_or_else(|e| {
                panic!("bad event line {:?}: {}", String::from_utf8_lossy(l), e)
            })
        })
        .collect()
}

pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn status(&self) -> i32 {
        self.output
            .status
            .code()
            .expect("proctor exited by a signal")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn expect_status(&self, expected: i32) -> &Run {
        assert_eq!(
            self.status(),
            expected,
            "expected exit status {}, got {}\n--- stdout\n{}--- stderr\n{}",
            expected,
            self.status(),
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Asserts that its stdout says `what`.
    pub fn expect_stdout(&self, what: &str) -> &Run {
        assert!(self.stdout().contains(what), "{}", self.stdout());
        self
    }

    /// Asserts that its stderr says `what`.
    pub fn expect_stderr(&self, what: &str) -> &Run {
        assert!(self.stderr().contains(what), "{}", self.stderr());
        self
    }
}

/// job_end events by file.
pub fn results(events: &[Value]) -> Vec<(String, String)> {
    let mut r: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["type"] == "job_end")
        .map(|e| {
            (
                e["file"].as_str().unwrap().to_string(),
                e["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    r.sort();
    r
}

pub fn job_end<'a>(events: &'a [Value], file: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == "job_end" && e["file"] == file)
        .unwrap_or_else(|| panic!("no job_end for {}", file))
}

pub fn reasons(end: &Value) -> String {
    end["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" | ")
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// A proctor started in a session of its own (so a signal can go to its whole
/// process group, as a terminal's Ctrl-C does), left running.
pub struct Running {
    pub child: std::process::Child,
}

impl Project {
    pub fn spawn(&self, args: &[&str]) -> Running {
        let child = Command::new("setsid")
            .arg(env!("CARGO_BIN_EXE_proctor"))
            .args(args)
            .current_dir(&self.dir)
            .env("PROCTOR_STATE_DIR", self.state())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        Running { child }
    }

    /// Waits (generously) until the file `name` exists in the project.
    pub fn wait_for_file(&self, name: &str) {
        let path = self.dir.join(name);
        wait_until(&format!("{} to appear", name), || path.exists());
    }

    /// What a test left in the file `name` (a pid, say), trimmed.
    pub fn read_trimmed(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap()
            .trim()
            .to_string()
    }
}

/// Sends `signal` (a name such as STOP) to `pid`, which must be there.
pub fn kill(signal: &str, pid: &str) {
    let status = Command::new("kill")
        .arg(format!("-{}", signal))
        .arg(pid)
        .status()
        .unwrap();
    assert!(status.success(), "kill -{} {}", signal, pid);
}

/// Whether `pid` is gone, or a zombie its new parent has yet to reap.
pub fn gone(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid)).unwrap_or_default();
    stat.is_empty()
        || stat
            .rsplit_once(") ")
            .map_or(false, |(_, rest)| rest.starts_with('Z'))
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a name such as INT) to the whole process group.
    pub fn signal_group(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{}", signal))
            .arg("--")
            .arg(format!("-{}", self.pid()))
            .status()
            .unwrap();
        assert!(status.success(), "kill -{} failed", signal);
    }

    /// Sends `signal` to proctor alone.
    pub fn signal(&self, signal: &str) {
        kill(signal, &self.pid().to_string());
    }

    pub fn wait(self) -> Run {
        Run {
            output: self.child.wait_with_output().unwrap(),
        }
    }
}

/// Polls `done` every 20 ms for up to 20 s; panics naming what it waited for.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("gave up waiting for {}", what);
}

/// Whether any process has `marker` in its command line.
pub fn running(marker: &str) -> bool {
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .any(|l| l.contains(marker))
}

/// A string unique to this test process and `name`, to find its processes by.
pub fn marker(name: &str) -> String {
    format!("proctor-it-{}-{}", std::process::id(), name)
}

/// The state letter of the first process whose command line has `marker`.
pub fn process_state(marker: &str) -> Option<char> {
    let ps = Command::new("ps")
        .args(["-eo", "stat=,args="])
        .output()
        .unwrap();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .find(|l| l.contains(marker))
        .and_then(|l| l.trim_start().chars().next())
}

/// Each queued job ends once, as itself.
pub fn assert_each_job_ends_once_as_itself(events: &[serde_json::Value]) {
    let of_type = |kind: &str| {
        let mut jobs: Vec<((u64, u64), String)> = events
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| {
                (
                    (e["job"].as_u64().unwrap(), e["try"].as_u64().unwrap()),
                    e["file"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        jobs.sort();
        jobs
    };
    assert_eq!(
        of_type("job_end"),
        of_type("job_queued"),
        "every job ends once, as itself"
    );
}

/// A file that fails its first try and passes its second: it counts its tries
/// in a file beside itself.
pub const FLAKY: &str = "#!/bin/sh\necho 1..1\ncounter=\"$(dirname \"$0\")/tries\"\n\
    echo x >> \"$counter\"\nif [ $(wc -l < \"$counter\") -gt 1 ]; then echo ok 1; else echo not ok 1; fi\n";

/// The pids of `pid`'s children named `name` (their comm).
pub fn children_named(pid: &str, name: &str) -> Vec<String> {
    let path = format!("/proc/{0}/task/{0}/children", pid);
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter(|c| {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", c));
            comm.map_or(false, |comm| comm.trim() == name)
        })
        .map(String::from)
        .collect()
}

/// Copies a file that will be run, in a child process: had this process
/// opened the copy for writing, a child another test thread forks at that
/// moment could hold it open until its exec, and running the copy would fail
/// with "Text file busy".
pub fn copy_in_a_child(from: &Path, to: &Path) {
    let copied = Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(copied.success(), "cp {} {}", from.display(), to.display());
}
