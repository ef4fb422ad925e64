//! The spine: verdicts, the event log, and the commands that read it.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

fn mixed_suite() -> Project {
    let p = Project::new();
    p.script(
        "t/pass.t",
        "#!/bin/sh\necho 1..2\necho ok 1 - one\necho ok 2 - two\n",
    )
    .script(
        "t/fail.t",
        "#!/bin/sh\necho 1..2\necho ok 1\necho 'not ok 2 - sums'\necho '# sums went wrong' >&2\n",
    )
    .script(
        "t/skipall.t",
        "#!/bin/sh\necho '1..0 # SKIP no database here'\n",
    )
    .script("t/exit.t", "#!/bin/sh\necho 1..1\necho ok 1\nexit 3\n")
    .script(
        "t/signal.t",
        "#!/bin/sh\necho 1..1\necho ok 1\nkill -SEGV $$\n",
    )
    .script("t/noplan.t", "#!/bin/sh\necho ok 1\n")
    .script(
        "t/perl.t",
        "use strict;\nprint \"1..1\\n\";\nprint \"ok 1 - perl runs .t files\\n\";\n",
    );
    p
}

#[test]
fn a_mixed_suite_gets_a_verdict_per_file() {
    let p = mixed_suite();
    let run = p.proctor(&["test", "-j", "3"]);
    run.expect_status(1);
    let events = p.events();
    assert_eq!(
        results(&events),
        pairs(&[
            ("t/exit.t", "fail"),
            ("t/fail.t", "fail"),
            ("t/noplan.t", "fail"),
            ("t/pass.t", "pass"),
            ("t/perl.t", "pass"),
            ("t/signal.t", "fail"),
            ("t/skipall.t", "skip"),
        ])
    );
    assert!(reasons(job_end(&events, "t/exit.t")).contains("exited with status 3"));
    assert!(reasons(job_end(&events, "t/signal.t")).contains("SIGSEGV"));
    assert!(reasons(job_end(&events, "t/noplan.t")).contains("no plan"));
    assert!(reasons(job_end(&events, "t/fail.t")).contains("failed 1 of 2 tests: 2"));
    assert_eq!(
        reasons(job_end(&events, "t/skipall.t")),
        "skipped: no database here"
    );

    assert_eq!(events.first().unwrap()["type"], "run_start");
    let end = events.last().unwrap();
    assert_eq!(end["type"], "run_end");
    assert_eq!(end["result"], "fail");
    assert_eq!(end["files"]["failed"], 4);

    let out = run.stdout();
    assert!(out.contains("t/pass.t ..... ok\n"), "{}", out);
    assert!(
        out.contains("t/fail.t ..... Failed 1/2 subtests\n"),
        "{}",
        out
    );
    assert!(
        out.contains("    not ok 2 - sums\n") && out.contains("    # sums went wrong\n"),
        "{}",
        out
    );
    assert!(
        out.contains("t/skipall.t .. skipped: no database here\n"),
        "{}",
        out
    );
    assert!(
        out.ends_with("Result: FAIL\nFiles: 2 passed, 4 failed, 1 skipped\n"),
        "{}",
        out
    );

    let failed = p.proctor(&["failed", "--brief"]);
    failed.expect_status(0);
    let stdout = failed.stdout();
    let mut listed: Vec<&str> = stdout.lines().collect();
    listed.sort();
    assert_eq!(listed, ["t/exit.t", "t/fail.t", "t/noplan.t", "t/signal.t"]);

    let with_reasons = p.proctor(&["failed", "-v"]).stdout();
    assert_eq!(
        p.proctor(&["failed"]).stdout(),
        p.proctor(&["failed", "--brief"]).stdout()
    );
    assert!(
        with_reasons.contains("t/exit.t\n    exited with status 3\n"),
        "{}",
        with_reasons
    );
    let json: Value = serde_json::from_str(&p.proctor(&["failed", "--json"]).stdout()).unwrap();
    let files: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 4);
    let signal = json
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "t/signal.t")
        .unwrap();
    assert!(signal["reasons"][0].as_str().unwrap().contains("SIGSEGV"));
    assert_eq!(signal["counts"]["run"], 1);
}

#[test]
fn a_passing_suite_exits_zero() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/b.t", "#!/bin/sh\necho 1..0\n");
    let run = p.proctor(&["test"]);
    run.expect_status(0);
    assert!(
        run.stdout()
            .ends_with("Result: PASS\nFiles: 1 passed, 0 failed, 1 skipped\n"),
        "{}",
        run.stdout()
    );
    assert_eq!(p.events().last().unwrap()["result"], "pass");
}

#[test]
fn every_job_record_carries_its_job_and_the_log_is_in_order() {
    let p = mixed_suite();
    p.proctor(&["test", "-j2"]).expect_status(1);
    let events = p.events();
    let queued = events.iter().filter(|e| e["type"] == "job_queued").count();
    let ended = events.iter().filter(|e| e["type"] == "job_end").count();
    assert_eq!((queued, ended), (7, 7));
    for e in &events {
        let t = e["type"].as_str().unwrap();
        if !matches!(t, "run_start" | "run_end" | "runner_stop") {
            assert!(e["job"].is_u64() && e["try"].is_u64(), "no job id on {}", e);
        }
    }
    // Within a job: launch, start, lines, exit, end.
    let job_of_pass = job_end(&events, "t/pass.t")["job"].clone();
    let all: Vec<&str> = events
        .iter()
        .filter(|e| e["job"] == job_of_pass)
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // The test's exit is noted when SIGCHLD comes, which may be before its last
    // lines are read; it comes once, and before job_exit.
    let exit_at = all
        .iter()
        .position(|k| *k == "test_exit")
        .expect("a test_exit record");
    assert!(exit_at < all.iter().position(|k| *k == "job_exit").unwrap());
    let kinds: Vec<&str> = all.into_iter().filter(|k| *k != "test_exit").collect();
    assert_eq!(
        kinds,
        [
            "job_queued",
            "job_launch",
            "job_start",
            "plan",
            "assert",
            "assert",
            "job_exit",
            "job_end",
            "job_done"
        ]
    );
}

/// A test's TAP is most of a big log: a record per line must stay near the
/// line's own size (the 1M-line case of bench/run measures the same ratio).
#[test]
fn the_event_log_is_at_most_twice_the_tests_output() {
    let p = Project::new();
    p.script(
        "t/big.t",
        "#!/usr/bin/perl\nprint \"1..20000\\n\";\nprintf \"ok %d - a description of test point %07d\\n\", $_, $_ for 1..20000;\n",
    );
    let output = Command::new(p.dir.join("t/big.t")).output().unwrap().stdout;
    assert_eq!(output.iter().filter(|&&b| b == b'\n').count(), 20_001);
    let log = p.dir.join("big.jsonl");
    p.proctor(&["test", "--exec", "", "--log", log.to_str().unwrap()])
        .expect_status(0);
    let size = fs::metadata(&log).unwrap().len();
    assert!(
        size <= 2 * output.len() as u64,
        "a log of {} bytes for {} bytes of output",
        size,
        output.len()
    );
    let asserts = events_of(&fs::read(&log).unwrap())
        .into_iter()
        .filter(|e| e["type"] == "assert")
        .count();
    assert_eq!(asserts, 20_000);
}

/// proctor starts without std's start-up (sys/start.rs), so what it took from
/// it is checked here: closed standard descriptors are reopened on /dev/null
/// (or the run's own files would become stdout and stderr), and a stdout
/// nobody reads is an error, not a SIGPIPE death. (Without the first, the
/// run hangs: hence the timeout.)
#[test]
fn closed_standard_descriptors_and_a_closed_pipe_are_survived() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let closed = Command::new("sh")
        .args(["-c", "exec timeout 120 \"$0\" test <&- >&- 2>&-"])
        .arg(env!("CARGO_BIN_EXE_proctor"))
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .status()
        .unwrap();
    assert_eq!(closed.code(), Some(0));
    let events = p.events();
    assert_eq!(events.first().unwrap()["type"], "run_start");
    assert_eq!(events.last().unwrap()["type"], "run_end");

    let mut child = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["test", "-v"])
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(
        status.code().is_some(),
        "killed by a signal writing to a closed pipe: {:?}",
        status
    );
}

#[test]
fn keep_leaves_the_job_logs_and_the_default_removes_them() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test"]).expect_status(0);
    assert_eq!(
        fs::read_dir(p.state().join("runs")).unwrap().count(),
        0,
        "the run directory should be gone"
    );

    p.proctor(&["test", "-k"]).expect_status(0);
    let runs: Vec<PathBuf> = fs::read_dir(p.state().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    let job_log = fs::read(runs[0].join("jobs/1-1.ljsonl")).unwrap();
    assert!(
        job_log.ends_with(b"0\nnull\n"),
        "the job log has its end marker"
    );
    assert!(runs[0].join("runner.ljsonl").exists());
}

/// Enough jobs for standing auditors, each reusing one TMPDIR: every test must
/// still find it empty, and with -k what each left is kept beside its log.
#[test]
fn a_reused_tmpdir_is_empty_for_every_test_and_kept_per_job() {
    let p = Project::new();
    for i in 1..=20 {
        p.script(
            &format!("t/{:02}.t", i),
            "#!/bin/sh\n\
             echo 1..2\n\
             [ -d \"$TMPDIR\" ] && [ -z \"$(ls -A \"$TMPDIR\")\" ] && echo ok 1 || echo not ok 1 - $TMPDIR not empty\n\
             echo \"$0\" > \"$TMPDIR/left-behind\" && echo ok 2\n",
        );
    }
    p.proctor(&["test", "-j2", "--exec", ""]).expect_status(0);
    assert_eq!(fs::read_dir(p.state().join("runs")).unwrap().count(), 0);
    // The slots' TMPDIRs stay in the state directory for the next run, empty.
    for slot in ["0", "1"] {
        let tmp = p.state().join(format!("tmp-{}", slot));
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "{}", tmp.display());
    }

    p.proctor(&["test", "-j2", "--exec", "", "-k"])
        .expect_status(0);
    let run: PathBuf = fs::read_dir(p.state().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // Job numbers follow the run's order (longest first): each kept TMPDIR
    // holds one test's file, and every test's file is kept once.
    let mut kept: Vec<String> = (1..=20)
        .map(|job| {
            assert!(run.join(format!("jobs/{}-1.ljsonl", job)).exists());
            fs::read_to_string(run.join(format!("jobs/{}-1.tmp/left-behind", job)))
                .unwrap_or_else(|e| panic!("job {}: {}", job, e))
        })
        .collect();
    kept.sort();
    let all: Vec<String> = (1..=20).map(|i| format!("./t/{:02}.t\n", i)).collect();
    assert_eq!(kept, all);
}

#[test]
fn log_to_stdout_moves_the_report_to_stderr() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let run = p.proctor(&["test", "--log", "-", "--no-log"]);
    run.expect_status(0);
    let events = events_of(&run.output.stdout);
    assert_eq!(events.first().unwrap()["type"], "run_start");
    assert_eq!(events.last().unwrap()["type"], "run_end");
    assert!(
        run.stderr()
            .contains("Files: 1 passed, 0 failed, 0 skipped"),
        "{}",
        run.stderr()
    );
    assert!(
        !p.state().join("last.jsonl").exists(),
        "--no-log keeps no log in the state directory"
    );
}

#[test]
fn log_to_a_file_is_the_same_log() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test", "--log", "copy.jsonl"]).expect_status(0);
    assert_eq!(
        fs::read(p.dir.join("copy.jsonl")).unwrap(),
        fs::read(p.state().join("last.jsonl")).unwrap()
    );
}

#[test]
fn replay_shows_what_the_run_showed() {
    let p = mixed_suite();
    let live = p.proctor(&["test", "-j1"]);
    let replay = p.proctor(&["replay", p.state().join("last.jsonl").to_str().unwrap()]);
    replay.expect_status(1);
    assert_eq!(live.stdout(), replay.stdout());
}

#[test]
fn times_lists_every_file_slowest_first() {
    let p = Project::new();
    p.script("t/slow.t", "#!/bin/sh\nsleep 0.3\necho 1..1\necho ok 1\n")
        .script("t/quick.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test"]).expect_status(0);
    let run = p.proctor(&["times"]);
    run.expect_status(0);
    let stdout = run.stdout();
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["total", "start-up", "run", "audit", "result", "file"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let files: Vec<&[&str]> = rows.iter().map(|r| &r[4..]).collect();
    assert_eq!(files, [["pass", "t/slow.t"], ["pass", "t/quick.t"]]);
    // It slept before its first line: that is start-up time.
    let startup: f64 = rows[0][1].trim_end_matches('s').parse().unwrap();
    assert!(startup >= 0.3, "{}", stdout);
}

#[test]
fn bail_out_stops_the_run() {
    // Five files: one standing auditor. Twenty: one per slot, with a launcher.
    // Either way the next file is sent ahead to the auditor while the first
    // runs, and must not start after its bail-out.
    for count in [5, 20] {
        bail_out_stops_a_run_of(count);
    }
}

fn bail_out_stops_a_run_of(count: usize) {
    let p = Project::new();
    p.script(
        "t/01-bail.t",
        "#!/bin/sh\necho 1..2\necho ok 1\necho 'Bail out! no database'\n",
    );
    for i in 2..=count {
        p.script(
            &format!("t/{:02}-later.t", i),
            "#!/bin/sh\ntouch \"$0.ran\"\necho 1..1\necho ok 1\n",
        );
    }
    let run = p.proctor(&["test", "-j1"]);
    run.expect_status(1);
    let events = p.events();
    assert_eq!(job_end(&events, "t/01-bail.t")["result"], "fail");
    assert!(reasons(job_end(&events, "t/01-bail.t")).contains("bailed out: no database"));
    for i in 2..=count {
        let file = format!("t/{:02}-later.t", i);
        assert_eq!(job_end(&events, &file)["result"], "cancelled", "{}", file);
        assert!(
            !p.dir.join(format!("{}.ran", file)).exists(),
            "{} ran",
            file
        );
    }
    assert_eq!(
        events.iter().filter(|e| e["type"] == "job_end").count(),
        count,
        "every queued job ends once"
    );
    assert_eq!(events.last().unwrap()["bailed"]["file"], "t/01-bail.t");
    run.expect_stdout("Bailed out in t/01-bail.t: no database");
}

#[test]
fn exec_runs_files_through_a_command_or_as_themselves() {
    let p = Project::new();
    p.script("t/a.sh", "echo 1..1\necho ok 1 - through sh\n");
    fs::set_permissions(p.dir.join("t/a.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    p.proctor(&["test", "--exec", "sh", "t/a.sh"])
        .expect_status(0);
    p.script("t/b.bin", "#!/bin/sh\necho 1..1\necho ok 1 - itself\n");
    p.proctor(&["test", "--exec", "", "t/b.bin"])
        .expect_status(0);
    p.proctor(&["test", "t/b.bin"]).expect_status(0);
}

#[test]
fn tests_get_perl5lib_a_private_tmpdir_and_harness_variables() {
    let p = Project::new();
    p.script(
        "t/env.t",
        r#"print "1..4\n";
use Cwd; my $here = getcwd;
print(($ENV{PERL5LIB} =~ m{^\Q$here\E/lib:\Q$here\E/blib/lib:\Q$here\E/blib/arch:\Q$here\E/inc:/abs(:|$)} ? "ok" : "not ok"), " 1 - PERL5LIB is $ENV{PERL5LIB}\n");
print(($ENV{TMPDIR} eq "$ENV{PROCTOR_STATE_DIR}/tmp-0" && -d $ENV{TMPDIR} ? "ok" : "not ok"), " 2 - TMPDIR is $ENV{TMPDIR}\n");
print(($ENV{HARNESS_ACTIVE} eq "1" ? "ok" : "not ok"), " 3 - HARNESS_ACTIVE\n");
print((defined(<STDIN>) ? "not ok" : "ok"), " 4 - stdin is empty\n");
"#,
    );
    let run = p.proctor(&["test", "-l", "-b", "-I", "inc", "-I", "/abs"]);
    run.expect_status(0);
}

#[test]
fn an_auditor_killed_mid_job_fails_its_job_and_the_run_goes_on() {
    let p = Project::new();
    p.script(
        "t/a-kills-auditor.t",
        "#!/bin/sh\necho 1..1\nkill -KILL $PPID\nsleep 0.2\necho ok 1\n",
    )
    .script("t/b-fine.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test", "--exec", "", "-j1"]).expect_status(1);
    let events = p.events();
    assert!(
        reasons(job_end(&events, "t/a-kills-auditor.t")).starts_with("auditor lost"),
        "{}",
        job_end(&events, "t/a-kills-auditor.t")
    );
    assert_eq!(job_end(&events, "t/b-fine.t")["result"], "pass");
}

#[test]
fn a_silent_test_is_stopped_by_the_event_timeout() {
    let p = Project::new();
    let marker = format!("proctor-it-silent-{}", std::process::id());
    p.script(
        "t/silent.t",
        &format!("#!/bin/sh\necho 1..1\nexec perl -e 'sleep 30' {}\n", marker),
    );
    p.proctor(&["test", "--exec", "", "--event-timeout", "0.5"])
        .expect_status(1);
    let events = p.events();
    assert!(
        reasons(job_end(&events, "t/silent.t")).contains(
            "no output for 0.5 s: stopped by the event timeout (raise it with \
             --event-timeout SECS or a '# HARNESS-TIMEOUT-EVENT SECS' header)"
        ),
        "{}",
        job_end(&events, "t/silent.t")
    );
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains(&marker),
        "the silent test is still running"
    );
}

fn usage_error(p: &Project, args: &[&str], expected: &str) {
    let run = p.proctor(args);
    run.expect_status(2);
    let err = run.stderr();
    assert_eq!(
        err.lines().count(),
        1,
        "one line on stderr for {:?}: {}",
        args,
        err
    );
    assert!(
        err.contains(expected),
        "for {:?} expected {:?} in: {}",
        args,
        expected,
        err
    );
}

#[test]
fn bad_input_is_a_one_line_usage_error() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    fs::write(p.dir.join("plain.txt"), "1..1\nok 1\n").unwrap();
    fs::create_dir_all(p.dir.join("empty")).unwrap();
    fs::write(p.dir.join("junk.jsonl"), "hello\n").unwrap();
    usage_error(&p, &["test", "--frobnicate"], "--frobnicate");
    usage_error(&p, &["test", "t/missing.t"], "t/missing.t: no such file");
    usage_error(&p, &["test", "plain.txt"], "plain.txt: is not executable");
    usage_error(
        &p,
        &["test", "empty"],
        "empty: no test files (*.t) in this directory",
    );
    usage_error(&p, &["test", "-j", "0"], "--jobs: '0'");
    usage_error(&p, &["test", "-j", "many"], "--jobs: 'many'");
    usage_error(
        &p,
        &["test", "--exec", "no-such-program-here"],
        "no-such-program-here",
    );
    usage_error(
        &p,
        &["replay", "junk.jsonl"],
        "junk.jsonl: not a proctor event log",
    );
    usage_error(&p, &["failed", "nope.jsonl"], "nope.jsonl");
    usage_error(&p, &["bogus"], "unknown command 'bogus'");
    let root = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        // Not a usage error: it runs, and perl fails it (prove's way).
        fs::set_permissions(p.dir.join("t/a.t"), fs::Permissions::from_mode(0o000)).unwrap();
        let run = p.proctor(&["test", "t/a.t"]);
        run.expect_status(1);
        run.expect_stdout("Can't open perl script");
    }
}

/// `--ext` names the tests a directory gives, as prove's does; `''` is a C
/// project's test programs: executables with no dot in the name.
#[test]
fn ext_chooses_which_files_a_directory_gives() {
    let p = Project::new();
    p.script("t/a.sh", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/b.test", "#!/bin/sh\necho 1..1\necho 'not ok 1'\n")
        .script("t/prog", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/sub/c.sh", "#!/bin/sh\necho 1..1\necho ok 1\n");
    fs::write(p.dir.join("t/Makefile"), "all:\n").unwrap();
    p.proctor(&["test", "--ext", ".sh"]).expect_status(0);
    assert_eq!(results(&p.events()), pairs(&[("t/a.sh", "pass")]));
    p.proctor(&["test", "-r", "--ext", "sh", "--ext=.test"])
        .expect_status(1);
    assert_eq!(
        results(&p.events()),
        pairs(&[
            ("t/a.sh", "pass"),
            ("t/b.test", "fail"),
            ("t/sub/c.sh", "pass")
        ])
    );
    p.proctor(&["test", "--ext", ""]).expect_status(0);
    assert_eq!(results(&p.events()), pairs(&[("t/prog", "pass")]));
}

/// A file named twice, or named and found in a directory also named, runs
/// once: never twice at the same time.
#[test]
fn a_file_named_twice_runs_once() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/b.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p.proctor(&["test", "t/a.t", "t/a.t", "./t/a.t", "t"])
        .expect_status(0);
    assert_eq!(
        results(&p.events()),
        pairs(&[("t/a.t", "pass"), ("t/b.t", "pass")])
    );
}

/// "use -r" only where -r would find something.
#[test]
fn the_recurse_hint_is_given_only_when_it_helps() {
    let p = Project::new();
    p.script("t/sub/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("u/a.sh", "#!/bin/sh\necho 1..1\necho ok 1\n");
    usage_error(
        &p,
        &["test", "t"],
        "t: no test files (*.t) in this directory (use -r",
    );
    let run = p.proctor(&["test", "u"]);
    run.expect_status(2);
    assert!(!run.stderr().contains("-r"), "{}", run.stderr());
    usage_error(&p, &["test", "--ext", ".sh", "t"], "(*.sh)");
}

#[test]
fn no_tests_is_an_error_not_a_pass() {
    let p = Project::new();
    usage_error(&p, &["test"], "no t/ directory");
    usage_error(&p, &["failed"], "no run recorded yet");
}

#[test]
fn help_and_version() {
    let p = Project::new();
    let run = p.proctor(&["--help"]);
    run.expect_status(0);
    assert!(run.stdout().contains("usage: proctor test"));
    assert!(p.proctor(&["--version"]).stdout().starts_with("proctor "));
}

#[test]
fn merge_reads_tap_from_stderr_too() {
    let p = Project::new();
    p.script(
        "t/a.t",
        "#!/bin/sh\necho 1..2\necho ok 1\necho 'ok 2 - from stderr' >&2\n",
    );
    p.proctor(&["test", "--exec", ""]).expect_status(1);
    let events = p.events();
    assert!(reasons(job_end(&events, "t/a.t")).contains("planned 2 tests but ran 1"));
    assert!(events
        .iter()
        .any(|e| e["type"] == "output" && e["stream"] == "stderr"));
    p.proctor(&["test", "--exec", "", "--merge"])
        .expect_status(0);
    let events = p.events();
    assert!(events
        .iter()
        .any(|e| e["type"] == "assert" && e["line"] == "ok 2 - from stderr"));
}

#[test]
fn a_passing_tests_stderr_is_shown_under_its_line_unless_quiet() {
    let p = Project::new();
    p.script(
        "t/warns.t",
        "#!/bin/sh\necho 1..1\necho 'Use of uninitialized value in concatenation' >&2\necho ok 1\n",
    );
    let shown = p.proctor(&["test", "--exec", ""]);
    shown.expect_status(0);
    shown.expect_stdout("t/warns.t .. ok\n    Use of uninitialized value in concatenation\n");
    for quiet in ["-q", "-Q"] {
        let hidden = p.proctor(&["test", "--exec", "", quiet]);
        hidden.expect_status(0);
        assert!(
            !hidden.stdout().contains("uninitialized"),
            "{}: {}",
            quiet,
            hidden.stdout()
        );
    }
}

#[test]
fn verbose_says_how_much_of_a_long_line_was_cut() {
    let p = Project::new();
    p.script(
        "t/long.t",
        "#!/bin/sh\necho 1..1\nperl -e 'print \"#\", \"x\" x 2_000_000, \"\\n\"'\necho ok 1\n",
    );
    let run = p.proctor(&["test", "--exec", "", "-v"]);
    run.expect_status(0);
    let events = p.events();
    let cut = events
        .iter()
        .find_map(|e| e["truncated"].as_u64())
        .expect("the event log says the line was cut");
    let said = format!("x [line cut: {} more bytes not kept]\n", cut);
    assert!(
        run.stdout().contains(&said),
        "{}",
        &run.stdout()[run.stdout().len().saturating_sub(300)..]
    );
}
