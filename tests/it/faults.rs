//! Tests and harness under faults: every way a job can go wrong ends in a clear
//! verdict, with no process left behind and no job_end lost.

use crate::common::*;
use serde_json::Value;

/// Every queued job has exactly one job_end, and run_end is last.
fn assert_complete(events: &[Value]) {
    let queued = events.iter().filter(|e| e["type"] == "job_queued").count();
    let ended = events.iter().filter(|e| e["type"] == "job_end").count();
    assert_eq!(queued, ended, "one job_end per queued job");
    assert_eq!(events.last().unwrap()["type"], "run_end", "run_end is last");
}

fn notes(end: &Value) -> String {
    end["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

#[test]
fn a_leak_that_ends_by_itself_is_noted_not_failed() {
    let p = Project::new();
    p.script(
        "t/leak.t",
        "#!/bin/sh\necho 1..1\necho ok 1\n(sleep 0.6; echo '# late') &\n",
    );
    p.proctor(&["test", "--exec", ""]).expect_status(0);
    let events = p.events();
    let end = job_end(&events, "t/leak.t");
    assert!(
        notes(end).contains("a child kept the test's output open after it exited (pid "),
        "{}",
        end
    );
}

#[test]
fn a_leak_past_the_event_timeout_fails_and_is_killed() {
    let p = Project::new();
    let m = marker("leak");
    p.script(
        "t/leak.t",
        &format!(
            "#!/bin/sh\necho 1..1\necho ok 1\nperl -e 'sleep 30' {} &\n",
            m
        ),
    );
    p.proctor(&["test", "--exec", "", "--event-timeout", "0.5"])
        .expect_status(1);
    let events = p.events();
    let why = reasons(job_end(&events, "t/leak.t"));
    assert!(
        why.contains("exited, but a child kept its output open for 0.5 s (pid "),
        "{}",
        why
    );
    assert!(!running(&m), "the leaked child is still running");
}

#[test]
fn a_process_that_escapes_with_setsid_is_still_ended() {
    let p = Project::new();
    let m = marker("setsid");
    p.script("t/escape.t", &format!("#!/bin/sh\necho 1..1\nsetsid perl -e 'sleep 30' {} >/dev/null 2>&1 </dev/null &\nsleep 0.2\necho ok 1\n", m));
    p.proctor(&["test", "--exec", "", "--leftovers", "test"])
        .expect_status(0);
    let events = p.events();
    assert!(
        notes(job_end(&events, "t/escape.t"))
            .contains("killed 1 process(es) the test left running"),
        "{}",
        job_end(&events, "t/escape.t")
    );
    assert!(!running(&m), "the escaped process is still running");
}

#[test]
fn odd_but_honest_tests_pass() {
    let p = Project::new();
    p.script("t/closes-stdout.t", "#!/bin/sh\necho 1..1\necho ok 1\nexec >&-\nsleep 0.2\n")
        .script("t/reads-stdin.t", "#!/bin/sh\necho 1..1\nif read line; then echo 'not ok 1 - read something'; else echo 'ok 1 - stdin is at EOF'; fi\n")
        .script("t/many-children.t", "#!/bin/sh\necho 1..1\nfor i in $(seq 40); do (sleep 0.05) & done\nwait\necho ok 1\n")
        .script("t/long-line.t", "#!/bin/sh\nperl -e 'print \"#\", \"x\" x 3_000_000, \"\\n\"'\necho 1..1\necho ok 1\n")
        .script("t/binary.t", "#!/bin/sh\nprintf '1..1\\n\\377\\376 binary\\nok 1\\n'\n");
    p.proctor(&["test", "--exec", ""]).expect_status(0);
    let events = p.events();
    let long = events
        .iter()
        .find(|e| e["type"] == "comment" && e["truncated"].is_u64())
        .expect("the long line is recorded");
    assert_eq!(
        long["truncated"].as_u64().unwrap() + long["line"].as_str().unwrap().len() as u64,
        3_000_001
    );
    let binary = events
        .iter()
        .find(|e| e["line_hex"].is_string())
        .expect("the binary line keeps its bytes");
    assert_eq!(binary["line_hex"], "fffe2062696e617279");
}

#[test]
fn dishonest_tests_fail_with_their_reason() {
    let p = Project::new();
    p.script(
        "t/abort.t",
        "#!/bin/sh\necho 1..1\necho ok 1\nkill -ABRT $$\n",
    )
    .script("t/silent.t", "#!/bin/sh\nexit 0\n")
    .script(
        "t/not-ok-exit-0.t",
        "#!/bin/sh\necho 1..1\necho not ok 1\nexit 0\n",
    );
    p.proctor(&["test", "--exec", ""]).expect_status(1);
    let events = p.events();
    assert!(reasons(job_end(&events, "t/abort.t")).contains("killed by signal 6 (SIGABRT)"));
    assert!(reasons(job_end(&events, "t/silent.t")).contains("no plan"));
    assert!(reasons(job_end(&events, "t/not-ok-exit-0.t")).contains("failed 1 of 1 tests: 1"));
    assert_complete(&events);
}

#[test]
fn the_event_timeout_header_applies_to_its_file() {
    let p = Project::new();
    p.script(
        "t/slow.t",
        "#!/bin/sh\n# HARNESS-TIMEOUT-EVENT 0.5\necho 1..1\nsleep 20\necho ok 1\n",
    );
    p.proctor(&["test", "--exec", ""]).expect_status(1);
    let events = p.events();
    let why = reasons(job_end(&events, "t/slow.t"));
    assert!(
        why.contains(
            "no output for 0.5 s: stopped by the event timeout (raise it with \
             --event-timeout SECS or a '# HARNESS-TIMEOUT-EVENT SECS' header); \
             last output: \"1..1\""
        ),
        "{}",
        why
    );
}

/// `count` tests that each say they started, then sleep: 4 run on auditors forked
/// per job, 20 on standing auditors.
fn sleepy_suite(p: &Project, m: &str, count: usize) {
    for i in 1..=count {
        p.script(&format!("t/{:02}.t", i), &format!("#!/bin/sh\necho 1..1\n: > started{}\nexec perl -e 'sleep 30; print qq(ok 1\\n)' {}\n", i, m));
    }
}

#[test]
fn ctrl_c_stops_the_run_and_keeps_the_log_whole() {
    for count in [4, 20] {
        let p = Project::new();
        let m = marker(&format!("ctrl-c-{}", count));
        sleepy_suite(&p, &m, count);
        let run = p.spawn(&["test", "--exec", "", "-j2"]);
        p.wait_for_file("started1");
        p.wait_for_file("started2");
        run.signal_group("INT");
        let run = run.wait();
        run.expect_status(130);
        let events = p.events();
        assert_complete(&events);
        assert_eq!(events.last().unwrap()["interrupted"], "SIGINT");
        assert_eq!(
            results(&events)
                .iter()
                .filter(|(_, r)| r == "cancelled")
                .count(),
            count - 2
        );
        assert!(reasons(job_end(&events, "t/01.t")).contains("interrupted"));
        run.expect_stdout("Interrupted by SIGINT");
        assert!(!running(&m), "a test is still running");
    }
}

#[test]
fn sigterm_and_sighup_to_proctor_alone_stop_the_run() {
    for (signal, status, count) in [("TERM", 143, 4), ("HUP", 129, 4), ("TERM", 143, 20)] {
        let p = Project::new();
        let m = marker(&format!("sig{}-{}", signal, count));
        sleepy_suite(&p, &m, count);
        let run = p.spawn(&["test", "--exec", "", "-j2"]);
        p.wait_for_file("started1");
        p.wait_for_file("started2");
        run.signal(signal);
        run.wait().expect_status(status);
        assert_complete(&p.events());
        wait_until("the tests to end", || !running(&m));
    }
}

#[test]
fn killing_proctor_leaves_no_test_running() {
    let p = Project::new();
    let m = marker("kill9");
    sleepy_suite(&p, &m, 20);
    let run = p.spawn(&["test", "--exec", "", "-j2"]);
    p.wait_for_file("started1");
    p.wait_for_file("started2");
    run.signal("KILL");
    let _ = run.wait();
    wait_until("the tests to end after proctor was killed", || !running(&m));
    let events = p.events();
    assert!(
        events.iter().all(|e| e["type"] != "run_end"),
        "a killed run has no run_end"
    );
}

#[test]
fn ctrl_z_pauses_the_tests_and_their_timers() {
    let p = Project::new();
    let m = marker("ctrl-z");
    p.script(
        "t/pause.t",
        &format!(
            "#!/bin/sh\necho 1..1\n: > started1\nperl -e 'sleep 1' {}\necho ok 1\n",
            m
        ),
    );
    let run = p.spawn(&["test", "--exec", "", "--event-timeout", "2"]);
    p.wait_for_file("started1");
    wait_until("the test to start", || running(&m));
    run.signal_group("TSTP");
    wait_until("the test to be stopped", || process_state(&m) == Some('T'));
    // Paused longer than the event timeout: it must not fire.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(process_state(&m), Some('T'), "the test ran on while paused");
    run.signal_group("CONT");
    run.wait().expect_status(0);
}

#[test]
fn an_event_log_that_cannot_be_written_is_a_harness_failure() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let run = p.proctor(&["test", "--exec", "", "--log", "/dev/full"]);
    run.expect_status(3);
    assert!(
        run.stderr()
            .contains("unable to write the event log to /dev/full"),
        "{}",
        run.stderr()
    );
}

#[test]
fn out_of_processes_jobs_wait_instead_of_failing() {
    let root = std::process::Command::new("id").arg("-u").output().unwrap();
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok();
    if String::from_utf8_lossy(&root.stdout).trim() != "0" || !setpriv {
        eprintln!("note: needs root and setpriv to run as a user with a process limit; skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (p, proctor) = Project::open_to_anyone();
    // Shell builtins only: each job needs its auditor and its test, no more.
    for i in 1..=12 {
        p.script(&format!("t/{}.t", i), "#!/bin/sh\necho 1..1\necho ok 1\n");
    }
    std::fs::create_dir_all(p.state()).unwrap();
    std::fs::set_permissions(p.state(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "prlimit",
            "--nproc=8",
        ])
        .arg(&proctor)
        .args(["test", "-j8", "--exec", "", "--norc"])
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .env("HOME", &p.dir)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout, stderr);
    assert!(
        stdout.contains("Files: 12 passed, 0 failed, 0 skipped"),
        "{}",
        stdout
    );
    let events = p.events();
    assert_eq!(
        events.iter().filter(|e| e["type"] == "job_end").count(),
        12,
        "every job ends once"
    );
}

/// A project of 21 jobs (enough for standing auditors): t/05-lost.t kills its
/// own auditor, and with `kill_launcher` t/00-kill.t first kills the launcher.
fn run_with_a_lost_auditor(kill_launcher: bool) {
    let p = Project::new();
    if kill_launcher {
        // Its auditor's parent is the runner, whose child named proctor-launch
        // is the launcher.
        p.script(
            "t/00-kill.t",
            "#!/bin/sh\n\
             runner=$(awk '{print $4}' /proc/$PPID/stat)\n\
             for c in $(cat /proc/$runner/task/$runner/children); do\n\
               [ \"$(cat /proc/$c/comm)\" = proctor-launch ] && kill -9 $c && echo '# killed'\n\
             done\n\
             echo 1..1\necho ok 1\n",
        );
    } else {
        p.script("t/00-kill.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    }
    p.script(
        "t/05-lost.t",
        "#!/bin/sh\necho 1..2\necho ok 1\nkill -9 $PPID\nsleep 0.2\necho ok 2\n",
    );
    for i in (1..=20).filter(|&i| i != 5) {
        p.script(
            &format!("t/{:02}.t", i),
            "#!/bin/sh\nsleep 0.05\necho 1..1\necho ok 1\n",
        );
    }
    let run = p.proctor(&["test", "-j2", "--exec", "", "-v"]);
    run.expect_status(1);
    if kill_launcher {
        run.expect_stdout("# killed");
    }
    let events = p.events();
    assert_complete(&events);
    let lost = job_end(&events, "t/05-lost.t");
    assert_eq!(lost["result"], "fail", "{}", lost);
    assert!(
        reasons(lost).contains("auditor lost") && reasons(lost).contains("SIGKILL"),
        "{}",
        lost
    );
    let mut files: Vec<String> = vec!["t/00-kill.t".into()];
    files.extend(
        (1..=20)
            .filter(|&i| i != 5)
            .map(|i| format!("t/{:02}.t", i)),
    );
    for file in files {
        let ends: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == "job_end" && e["file"] == file.as_str())
            .collect();
        assert_eq!(ends.len(), 1, "{}: {:?}", file, ends);
        assert_eq!(ends[0]["result"], "pass", "{}", ends[0]);
    }
}

#[test]
fn a_killed_auditor_loses_only_its_job() {
    run_with_a_lost_auditor(false);
}

#[test]
fn a_killed_launcher_and_auditor_lose_only_the_auditors_job() {
    run_with_a_lost_auditor(true);
}

#[test]
fn a_standing_auditor_that_cannot_write_its_log_loses_only_that_job() {
    let p = Project::new();
    // Each test's log is about 10 KiB: a standing auditor's shared log passes
    // the file size limit (24 KiB) at the third job, whose log cannot be
    // written; the runner's own log stays well under it.
    for i in 1..=20 {
        p.script(
            &format!("t/{:02}.t", i),
            "#!/bin/sh\necho 1..1\ni=0; while [ $i -lt 40 ]; do echo \"# diagnostic line $i, padded out to some length\"; i=$((i+1)); done\necho ok 1\n",
        );
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "trap '' XFSZ; ulimit -f 24; exec \"$0\" test -j1 --exec '' --no-log -Q --log - --norc",
        )
        .arg(env!("CARGO_BIN_EXE_proctor"))
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .output()
        .unwrap();
    let events = events_of(&out.stdout);
    assert_complete(&events);
    assert_each_job_ends_once_as_itself(&events);
    let ends: Vec<&Value> = events.iter().filter(|e| e["type"] == "job_end").collect();
    assert_eq!(ends.len(), 20);
    let lost: Vec<&&Value> = ends.iter().filter(|e| e["result"] != "pass").collect();
    assert!(
        !lost.is_empty() && lost.iter().all(|e| reasons(e).contains("auditor lost")),
        "{:?}\n{}",
        lost,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lost.len() <= 2, "only the job whose log failed: {:?}", lost);
}
