//! What a test leaves running once it has exited: a server that later tests
//! use lives until the run ends (or, with `--leftovers test`, ends with its
//! test), is named in the log and the report, and never outlives the run; a
//! child that merely exited first is reaped, not reported.

use crate::common::*;

/// A suite whose first test starts a server in a session of its own (its pid
/// in `server.pid`), waits until it is up (has exec'd perl, so that the
/// report names it as perl), and whose `uses` later tests check that it
/// still runs.
/// `perl`: the tests are perl files (so `--preload` forks them), else sh.
fn server_suite(p: &Project, m: &str, uses: usize, perl: bool) {
    let pid_file = p.dir.join("server.pid");
    if perl {
        p.script(
            "t/00-start.t",
            &format!(
                "print \"1..1\\n\";\nsystem(q{{setsid perl -e 'sleep 300' {} >/dev/null 2>&1 </dev/null & echo $! > {}; while [ \"$(cat /proc/$!/comm)\" != perl ]; do sleep 0.01; done}});\nprint \"ok 1 - started\\n\";\n",
                m,
                pid_file.display()
            ),
        );
    } else {
        p.script(
            "t/00-start.t",
            &format!(
                "#!/bin/sh\necho 1..1\nsetsid perl -e 'sleep 300' {} >/dev/null 2>&1 </dev/null &\necho $! > {}\nwhile [ \"$(cat /proc/$!/comm)\" != perl ]; do sleep 0.01; done\necho ok 1 - started\n",
                m,
                pid_file.display()
            ),
        );
    }
    for i in 0..uses {
        let name = format!("t/{:02}-use.t", 10 + i);
        if perl {
            p.script(
                &name,
                &format!(
                    "print \"1..1\\n\";\nopen my $f, '<', '{}' or die;\nchomp(my $pid = <$f>);\nprint kill(0, $pid) ? \"ok 1 - the server runs\\n\" : \"not ok 1 - the server is gone\\n\";\n",
                    pid_file.display()
                ),
            );
        } else {
            p.script(
                &name,
                &format!(
                    "#!/bin/sh\necho 1..1\nif kill -0 \"$(cat {})\"; then echo ok 1 - the server runs; else echo not ok 1 - the server is gone; fi\n",
                    pid_file.display()
                ),
            );
        }
    }
}

/// Runs the suite with `args` and checks that the server served every later
/// test, was named in the log and the report, and ended with the run.
fn expect_served_and_ended(p: &Project, m: &str, args: &[&str]) {
    let run = p.proctor(args);
    run.expect_status(0);
    let pid = p.read_trimmed("server.pid");
    assert!(gone(&pid), "the server outlived the run");
    assert!(!running(m), "the server outlived the run");
    let events = p.events();
    let start = job_end(&events, "t/00-start.t");
    assert_eq!(
        start["left_running"][0]["pid"].to_string(),
        pid,
        "the job's end names what it left running: {}",
        start
    );
    let run_end = events.iter().find(|e| e["type"] == "run_end").unwrap();
    assert_eq!(
        run_end["left_running"][0]["file"], "t/00-start.t",
        "{}",
        run_end
    );
    assert_eq!(run_end["left_running"][0]["pid"].to_string(), pid);
    let said = format!(
        "left running by t/00-start.t: pid {} (perl), ended with the run",
        pid
    );
    run.expect_stdout(&said);
}

#[test]
fn a_server_one_test_starts_serves_the_later_ones_and_ends_with_the_run() {
    let p = Project::new();
    let m = marker("server-sh");
    server_suite(&p, &m, 2, false);
    expect_served_and_ended(&p, &m, &["test", "-j1", "--exec", ""]);
}

#[test]
fn standing_auditors_leave_the_server_to_their_later_tests() {
    // 20 files: standing auditors, each auditing test after test.
    let p = Project::new();
    let m = marker("server-standing");
    server_suite(&p, &m, 19, false);
    expect_served_and_ended(&p, &m, &["test", "-j1", "--exec", ""]);
}

#[test]
fn a_server_a_preloaded_test_starts_does_not_hold_its_output() {
    // The preloaded perl gives a test copies of its output (Test2's) that a
    // fresh perl would have made close-on-exec: the server must not get them,
    // or the test would not end until the server does.
    let p = Project::new();
    let m = marker("server-preload");
    server_suite(&p, &m, 19, true);
    expect_served_and_ended(
        &p,
        &m,
        &[
            "test",
            "-j1",
            "--event-timeout",
            "5",
            "--preload",
            "Test::More",
        ],
    );
}

#[test]
fn with_leftovers_test_the_server_ends_with_its_test() {
    let p = Project::new();
    let m = marker("server-test");
    server_suite(&p, &m, 1, false);
    p.proctor(&["test", "-j1", "--exec", "", "--leftovers", "test"])
        .expect_status(1);
    let events = p.events();
    assert_eq!(job_end(&events, "t/10-use.t")["result"], "fail");
    let notes = job_end(&events, "t/00-start.t")["notes"].to_string();
    assert!(
        notes.contains("killed 1 process(es) the test left running"),
        "{}",
        notes
    );
    assert!(!running(&m), "the server outlived its test");
}

#[test]
fn a_bad_leftovers_word_is_a_usage_error() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test", "--leftovers", "never"])
        .expect_status(2)
        .expect_stderr("--leftovers: 'never' is neither 'test' nor 'run'");
}

#[test]
fn a_child_that_exited_first_is_reaped_not_reported() {
    // The child exits at once; its parent never waits for it, and exits later.
    let p = Project::new();
    p.script(
        "t/zombie.t",
        "#!/usr/bin/perl\nprint \"1..1\\n\";\nexit 0 unless fork;\nselect undef, undef, undef, 0.3;\nprint \"ok 1\\n\";\n",
    );
    for policy in ["run", "test"] {
        p.proctor(&["test", "--exec", "", "--leftovers", policy])
            .expect_status(0);
        let events = p.events();
        let end = job_end(&events, "t/zombie.t");
        assert_eq!(end["notes"].as_array().unwrap().len(), 0, "{}", end);
        assert!(end["left_running"].is_null(), "{}", end);
    }
}

/// A suite whose first test starts a server that keeps a file in the test's
/// TMPDIR (a socket, a pid file: File::Temp's tempdir is there) and names it
/// in `where`; each later test checks that the file is still there.
fn server_with_files(p: &Project, m: &str, uses: usize) {
    let where_file = p.dir.join("where");
    p.script(
        "t/00-start.t",
        &format!(
            "#!/bin/sh\necho 1..1\nmkdir \"$TMPDIR/srv\"\necho \"$TMPDIR/srv/sock\" > {}\n\
             setsid sh -c 'echo up > \"$TMPDIR/srv/sock\"; exec perl -e \"sleep 300\" {}' >/dev/null 2>&1 </dev/null &\n\
             while ! test -s \"$TMPDIR/srv/sock\"; do sleep 0.01; done\necho ok 1 - started\n",
            where_file.display(),
            m
        ),
    );
    for i in 0..uses {
        p.script(
            &format!("t/{:02}-use.t", 10 + i),
            &format!(
                "#!/bin/sh\necho 1..1\nif test -s \"$(cat {})\"; then echo ok 1 - its files are there; else echo not ok 1 - its files are gone; fi\n",
                where_file.display()
            ),
        );
    }
}

#[test]
fn what_a_server_keeps_in_its_tests_tmpdir_stays_while_it_runs() {
    // 2 files: the first auditor stands, and its TMPDIR is reused test after
    // test; 20: a launcher's standing auditors.
    for uses in [1, 19] {
        let p = Project::new();
        let m = marker("server-tmpdir");
        server_with_files(&p, &m, uses);
        let run = p.proctor(&["test", "-j1", "--exec", ""]);
        let events = p.events();
        for i in 0..uses {
            let file = format!("t/{:02}-use.t", 10 + i);
            assert_eq!(
                job_end(&events, &file)["result"],
                "pass",
                "{} of {}: {}",
                file,
                uses + 1,
                run.stdout()
            );
        }
        run.expect_status(0);
        assert!(!running(&m), "the server outlived the run");
    }
}

#[test]
fn what_a_server_forks_and_leaves_is_never_taken_for_a_preloaded_test() {
    // A server that keeps forking a child that forks a grandchild and exits:
    // each grandchild comes to the auditor that took the server on, and exits
    // there (status 3). While that auditor waits for its perl to start the
    // next test, such an exit is no test's.
    let p = Project::new();
    let m = marker("server-orphans");
    p.script(
        "t/00-start.t",
        &format!(
            "print \"1..1\\n\";\nsystem(q{{setsid perl -e 'while (1) {{ my $c = fork; if (!$c) {{ if (!fork) {{ select undef, undef, undef, 0.002; exit 3 }} exit 0 }} waitpid $c, 0; select undef, undef, undef, 0.001 }}' {} >/dev/null 2>&1 </dev/null &}});\nprint \"ok 1 - started\\n\";\n",
            m
        ),
    );
    for i in 0..31 {
        p.script(
            &format!("t/{:02}-use.t", 10 + i),
            "print \"1..1\\n\";\nselect undef, undef, undef, 0.02;\nprint \"ok 1\\n\";\n",
        );
    }
    let run = p.proctor(&["test", "-j1", "--preload", "Test::More"]);
    let failed: Vec<(String, String)> = results(&p.events())
        .into_iter()
        .filter(|(_, result)| result != "pass")
        .collect();
    assert!(failed.is_empty(), "{:?}\n{}", failed, run.stdout());
    run.expect_status(0);
    assert!(!running(&m), "the server outlived the run");
}

#[test]
fn what_a_server_starts_as_it_is_ended_ends_with_the_run_too() {
    // On SIGTERM the server starts one more process and exits: that one is
    // in the server's session, and the run ends it too.
    let p = Project::new();
    let m = marker("server-last-gasp");
    p.script(
        "t/00-start.t",
        &format!(
            "#!/bin/sh\necho 1..1\nsetsid sh -c 'trap \"perl -e \\\"sleep 300\\\" {} & exit 0\" TERM; while :; do sleep 0.05; done' >/dev/null 2>&1 </dev/null &\necho ok 1 - started\n",
            m
        ),
    );
    p.proctor(&["test", "-j1", "--exec", ""]).expect_status(0);
    let events = p.events();
    let run_end = events.iter().find(|e| e["type"] == "run_end").unwrap();
    assert_eq!(
        run_end["left_running"][0]["file"], "t/00-start.t",
        "{}",
        run_end
    );
    wait_until("what the server started as it ended is gone", || {
        !running(&m)
    });
}
