//! The state directory where a run finds it: without a usable HOME, after a
//! killed run, and kept to a size.

use crate::common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// proctor in `p` with no state directory named: HOME is `home`, TMPDIR the
/// project's `tmp/`.
fn without_state_dir(p: &Project, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_proctor"));
    cmd.args(args)
        .current_dir(&p.dir)
        .env_remove("PROCTOR_STATE_DIR")
        .env_remove("XDG_STATE_HOME")
        .env_remove("MAKELEVEL")
        .env("HOME", home)
        .env("TMPDIR", p.dir.join("tmp"));
    cmd
}

/// What a package build does (sbuild: HOME=/nonexistent): two runs keep one
/// private state directory, `failed` reads it, one warning says where, and
/// HOME is not made.
#[test]
fn without_a_home_the_state_is_private_and_kept() {
    let p = Project::new();
    p.script("t/ok.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/bad.t", "#!/bin/sh\necho 1..1\necho not ok 1\n");
    fs::create_dir(p.dir.join("tmp")).unwrap();
    let home = p.dir.join("nonexistent");
    let mut warnings = 0;
    for _ in 0..2 {
        let out = without_state_dir(&p, &home, &["test", "--norc", "t"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = stderr.matches("proctor: warning:").count();
        warnings += said;
        if said > 0 {
            assert!(
                stderr.contains("does not exist: keeping proctor's state in"),
                "{}",
                stderr
            );
        }
    }
    assert_eq!(warnings, 1, "one warning, on the first run");
    assert!(!home.exists(), "HOME is never made");
    let in_tmp: Vec<PathBuf> = fs::read_dir(p.dir.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(in_tmp.len(), 1, "one directory for every run: {:?}", in_tmp);
    let private = fs::symlink_metadata(&in_tmp[0]).unwrap();
    assert!(private.is_dir());
    assert_eq!(private.mode() & 0o777, 0o700, "{:?}", in_tmp[0]);
    let failed = without_state_dir(&p, &home, &["failed"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(stdout.contains("t/bad.t"), "{}", stdout);
    assert!(!stdout.contains("t/ok.t"), "{}", stdout);
    let rerun = without_state_dir(&p, &home, &["test", "--norc", "--failed"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&rerun.stdout);
    assert!(stdout.contains("Files: 0 passed, 1 failed"), "{}", stdout);
}

/// A private directory of that name that others may enter is not used.
#[test]
fn a_private_directory_open_to_others_is_passed_over() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new();
    p.script("t/ok.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let uid = fs::metadata(&p.dir).unwrap().uid();
    let open = p.dir.join("tmp").join(format!("proctor-{}", uid));
    fs::create_dir_all(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let home = p.dir.join("nonexistent");
    let out = without_state_dir(&p, &home, &["test", "--norc", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fs::read_dir(&open).unwrap().count(), 0);
    let other = open.with_file_name(format!("proctor-{}.1", uid));
    assert!(other.join(state_name(&p)).join("last.jsonl").exists());
}

/// `<name>-<hash>` of the project's state directory in the private one.
fn state_name(p: &Project) -> String {
    let about = without_state_dir(p, &p.dir.join("nonexistent"), &["--version", "-v"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&about.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with("state directory:"))
        .unwrap_or_else(|| panic!("{}", text));
    let dir = line.split_whitespace().nth(2).unwrap();
    Path::new(dir)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Waits (generously) for `done`.
fn poll(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", what);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn runs(p: &Project) -> Vec<String> {
    fs::read_dir(p.state().join("runs"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A run killed with SIGKILL cannot clean up; the next run does.
#[test]
fn the_next_run_removes_what_a_killed_run_left() {
    let p = Project::new();
    // Running until told: so the run is surely under way when it is killed.
    p.script(
        "t/wait.t",
        "#!/bin/sh\necho 1..1\ntouch started\n\
         n=0; while [ ! -e go ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done\n\
         echo ok 1\n",
    );
    let mut killed = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["test", "--norc", "t/wait.t"])
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .env_remove("MAKELEVEL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    poll("the test starts", || p.dir.join("started").exists());
    let left = runs(&p);
    assert_eq!(left.len(), 1, "{:?}", left);
    killed.kill().unwrap();
    killed.wait().unwrap();
    fs::write(p.dir.join("go"), "").unwrap();
    // What the killed run started ends on its own (its runner sees the
    // command gone); the directory it left stays.
    std::thread::sleep(Duration::from_millis(200));
    assert!(runs(&p).contains(&left[0]));

    p.script("t/wait.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test", "--norc", "-k", "t/wait.t"])
        .expect_status(0);
    let now = runs(&p);
    assert!(!now.contains(&left[0]), "{:?}", now);
    assert_eq!(now.len(), 1, "the -k run's own stays: {:?}", now);
    // Kept on purpose (-k), a run's directory outlives the next run.
    p.proctor(&["test", "--norc", "t/wait.t"]).expect_status(0);
    assert_eq!(runs(&p), now);
}

/// The state directory keeps event logs up to a size (here from .proctorrc),
/// dropping the oldest.
#[test]
fn old_logs_go_beyond_the_size_kept() {
    let p = Project::new();
    p.script("t/ok.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test", "t"]).expect_status(0);
    let logs = p.state().join("logs");
    for old in [
        "20000101-000000-1",
        "20000102-000000-1",
        "20000103-000000-1",
    ] {
        fs::write(logs.join(format!("{}.jsonl", old)), vec![b'\n'; 5000]).unwrap();
    }
    fs::write(p.dir.join(".proctorrc"), "--state-size 4K\n").unwrap();
    p.proctor(&["test", "t"]).expect_status(0);
    let mut kept: Vec<String> = fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{:?}", kept);
    assert!(!kept.iter().any(|k| k.starts_with("2000")), "{:?}", kept);
}
