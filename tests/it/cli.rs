//! The command line as a newcomer meets it: help for every command, what a
//! command says when there is no run yet, output into a pipe nobody reads, and
//! numbers too big for any process to take.

use crate::common::*;
use std::os::unix::io::OwnedFd;
use std::process::{Command, Stdio};

/// The write end of a pipe whose reader has already exited, as in `| true`:
/// every write to it fails with EPIPE.
fn pipe_nobody_reads() -> OwnedFd {
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let write_end = OwnedFd::from(reader.stdin.take().unwrap());
    reader.wait().unwrap();
    write_end
}

/// Runs proctor in the project with its stdout (and its stderr too when
/// `both`) into a pipe nobody reads; its exit status.
fn into_closed_pipe(p: &Project, args: &[&str], both: bool) -> i32 {
    let out = pipe_nobody_reads();
    let err = if both {
        Stdio::from(out.try_clone().unwrap())
    } else {
        Stdio::null()
    };
    let status = Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(args)
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .env_remove("MAKELEVEL")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(err)
        .status()
        .unwrap();
    status
        .code()
        .unwrap_or_else(|| panic!("{:?} was killed: {:?}", args, status))
}

/// `proctor ARGS | head -c1`, by the shell: the reader takes a byte and goes.
fn into_head(p: &Project, args: &[&str]) -> i32 {
    let status = Command::new("bash")
        .args([
            "-c",
            "\"$0\" \"$@\" 2>&1 | head -c1 >/dev/null; exit ${PIPESTATUS[0]}",
        ])
        .arg(env!("CARGO_BIN_EXE_proctor"))
        .args(args)
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .env_remove("MAKELEVEL")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    status.code().unwrap()
}

/// Writing to a closed stdout or stderr ends no process early, and panics
/// none (status 101, or 134 where a panic aborts): every command ends as it
/// would have with someone reading, with its usual status.
#[test]
fn output_nobody_reads_changes_no_exit_status() {
    let p = Project::new();
    let marker = marker("closed-pipe");
    let test = format!("t/{}.t", marker);
    p.script(
        &test,
        "#!/bin/sh\necho 1..3\necho ok 1\necho '# a comment' >&2\necho ok 2\necho 'not ok 3'\n",
    )
    .script(
        "t/ok.t",
        "#!/bin/sh\necho 1..1\necho ok 1\necho warning >&2\n",
    );
    let cases: &[(&[&str], i32)] = &[
        (&[], 2),
        (&["test", "--frob"], 2),
        (&["bogus"], 2),
        (&["--help"], 0),
        (&["test", "--help"], 0),
        (&["help", "times"], 0),
        (&["--version", "-v"], 0),
        (&["--version"], 0),
        (&["test", "--exec", "", &test, "t/ok.t"], 1),
        (&["test", "-v", "--exec", "", &test, "t/ok.t"], 1),
        (&["test", "--log", "-", "--exec", "", &test, "t/ok.t"], 1),
        (&["test", "--exec", "", "t/ok.t"], 0),
        (&["replay"], 0),
        (&["replay", "-v"], 0),
        (&["failed", "-v"], 0),
        (&["times"], 0),
        (&["prove", "--exec", "", "t/ok.t"], 0),
        (&["prove", "-D", "t"], 0),
        (&["driver", "--help"], 0),
    ];
    for &(args, usual) in cases {
        for both in [false, true] {
            assert_eq!(
                into_closed_pipe(&p, args, both),
                usual,
                "proctor {:?} into a closed pipe (stderr too: {})",
                args,
                both
            );
        }
        assert_eq!(into_head(&p, args), usual, "proctor {:?} | head -c1", args);
    }
    assert!(!running(&marker), "a test or auditor is left running");
}

const COMMANDS: &[&str] = &[
    "test", "run", "start", "status", "reload", "stop", "failed", "replay", "times", "driver",
    "prove", "help",
];

/// Every command answers --help, -h and `proctor help COMMAND` alike: its
/// own usage on stdout, nothing on stderr, status 0, and nothing run.
#[test]
fn every_command_has_its_own_help() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    for command in COMMANDS {
        let asked = p.proctor(&["help", command]);
        asked.expect_status(0);
        let usage = asked.stdout();
        assert!(
            usage.starts_with(&format!("usage: proctor {}", command)),
            "proctor help {}: {}",
            command,
            usage
        );
        assert_eq!(asked.stderr(), "", "proctor help {}", command);
        for flag in ["--help", "-h"] {
            let run = p.proctor(&[command, flag]);
            run.expect_status(0);
            assert_eq!(run.stdout(), usage, "proctor {} {}", command, flag);
            assert_eq!(run.stderr(), "", "proctor {} {}", command, flag);
        }
    }
    assert!(
        !p.state().join("last.jsonl").exists(),
        "asking for help ran the tests"
    );
    let general = p.proctor(&["help"]);
    general.expect_status(0);
    assert_eq!(general.stdout(), p.proctor(&["--help"]).stdout());
    assert!(general.stdout().contains("proctor help COMMAND"));

    let run = p.proctor(&["help", "nosuch"]);
    run.expect_status(2);
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    run.expect_stderr("no command 'nosuch'");
    p.proctor(&["times", "--frob"])
        .expect_status(2)
        .expect_stderr("try 'proctor times --help'");
}

/// failed, times and replay with no run yet say so in one line, naming the
/// project and where its runs would be; `--version -v` says where they are.
#[test]
fn where_the_runs_are_kept_and_when_there_is_none() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let project = p.dir.canonicalize().unwrap();
    for command in ["failed", "times", "replay"] {
        let run = p.proctor(&[command]);
        run.expect_status(2);
        let err = run.stderr();
        assert_eq!(err.lines().count(), 1, "proctor {}: {}", command, err);
        let said = format!(
            "no run recorded yet for {} (state directory {}); run proctor test first",
            project.display(),
            p.state().display()
        );
        assert!(err.contains(&said), "proctor {}: {}", command, err);
    }
    let before = p.proctor(&["--version", "-v"]);
    before.expect_status(0);
    before.expect_stdout(&format!(
        "state directory:  {} (PROCTOR_STATE_DIR)",
        p.state().display()
    ));
    before.expect_stdout("no run recorded yet");

    p.proctor(&["test"]).expect_status(0);
    let after = p.proctor(&["--version", "-v"]).stdout();
    assert!(
        after.contains(&format!(
            "last run:         {}, which ended passing: 1 file, 1 passed, 0 failed",
            p.state().join("last.jsonl").display()
        )),
        "{}",
        after
    );
    let plain = p.proctor(&["--version"]).stdout();
    assert_eq!(plain.lines().count(), 1, "{}", plain);
}

/// A one-line usage error (status 2) that names `what`.
fn refused(p: &Project, args: &[&str], what: &str) {
    let run = p.proctor(args);
    run.expect_status(2);
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "proctor {:?}: {}", args, err);
    assert!(
        err.contains(what),
        "proctor {:?}: expected {:?} in {}",
        args,
        what,
        err
    );
}

/// Numbers past what a process can take (Duration and Instant arithmetic
/// panic past about 1.8e19 seconds) are refused where they are given, naming
/// the flag; none reaches a process to abort it.
#[test]
fn numbers_too_big_are_usage_errors_naming_the_flag() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    for seconds in ["1e300", "18446744073709551615", "1e19", "inf"] {
        let said = format!(
            "--event-timeout: '{}' is more seconds than proctor waits",
            seconds
        );
        refused(&p, &["test", "--event-timeout", seconds], &said);
        refused(&p, &["run", "--event-timeout", seconds], &said);
        refused(&p, &["prove", "--event-timeout", seconds, "t"], &said);
        refused(
            &p,
            &[
                "driver",
                "--event-timeout",
                seconds,
                "--test-name",
                "a",
                "--log-file",
                "a.log",
                "--trs-file",
                "a.trs",
                "--",
                "t/a.t",
            ],
            &format!("driver: {}", said),
        );
    }
    refused(
        &p,
        &["test", "-j", "99999999999999999999"],
        "--jobs: '99999999999999999999' is too big",
    );
    refused(
        &p,
        &["start", "-j", "99999999999999999999"],
        "--jobs: '99999999999999999999' is too big",
    );
    refused(
        &p,
        &["test", "--retry", "4294967296"],
        "--retry: '4294967296' is too big",
    );
    refused(
        &p,
        &["test", "--log-fd", "99999999999"],
        "--log-fd: '99999999999' is too big",
    );
    refused(
        &p,
        &["prove", "-j", "99999999999999999999", "t"],
        "'99999999999999999999' is too big",
    );
    // The longest timeout there is still runs the test.
    p.proctor(&["test", "--event-timeout", "1e9", "--exec", ""])
        .expect_status(0);

    std::fs::write(p.dir.join(".proctorrc"), "--event-timeout 1e300\n").unwrap();
    refused(
        &p,
        &["test"],
        "(in .proctorrc or ~/.proctorrc; --norc reads neither)",
    );
    p.proctor(&["test", "--norc", "--exec", ""])
        .expect_status(0);
}

/// The same in a header is a warning naming the file, the line and the
/// header; the header is ignored and the file runs (and passes), where it was
/// an abort, or a passing test failed as "auditor lost".
#[test]
fn a_header_number_too_big_is_a_warning_and_the_test_runs() {
    let p = Project::new();
    for (i, seconds) in ["1e300", "18446744073709551615", "1e19"].iter().enumerate() {
        p.script(
            &format!("t/big{}.t", i),
            &format!(
                "#!/bin/sh\n# HARNESS-TIMEOUT-EVENT {}\necho 1..1\necho ok 1\n",
                seconds
            ),
        );
    }
    p.script(
        "t/slots.t",
        "#!/bin/sh\n# HARNESS-JOB-SLOTS 99999999999999999999\n# HARNESS-RETRY-99999999999\necho 1..1\necho ok 1\n",
    );
    let run = p.proctor(&["test", "--exec", ""]);
    run.expect_status(0);
    for (i, seconds) in ["1e300", "18446744073709551615", "1e19"].iter().enumerate() {
        run.expect_stderr(&format!(
            "proctor: warning: t/big{}.t:2: HARNESS-TIMEOUT-EVENT '{}' is more seconds than proctor waits",
            i, seconds
        ));
    }
    run.expect_stderr("t/slots.t:2: HARNESS-JOB-SLOTS needs a positive number of slots");
    run.expect_stderr("t/slots.t:3: HARNESS-RETRY-99999999999 needs a number of retries");
    assert_eq!(
        results(&p.events()),
        pairs(&[
            ("t/big0.t", "pass"),
            ("t/big1.t", "pass"),
            ("t/big2.t", "pass"),
            ("t/slots.t", "pass")
        ])
    );
}

/// The longest timeout a header may give goes whole through a preloaded
/// stage to the auditor it starts (`proctor audit --event-timeout`).
#[test]
fn the_longest_header_timeout_reaches_a_preloaded_test() {
    let p = Project::new();
    p.script(
        "t/long.t",
        "# HARNESS-TIMEOUT-EVENT 1000000000\nprint \"1..1\\nok 1\\n\";\n",
    );
    let run = p.proctor(&["test", "--preload", "strict"]);
    run.expect_status(0);
    assert_eq!(run.stderr(), "", "{}", run.stderr());
    let events = p.events();
    assert_eq!(results(&events), pairs(&[("t/long.t", "pass")]));
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "job_launch" && e["staged"] == true),
        "the test did not run in the preloaded stage"
    );
}

/// prove's `.prove` is a file people and other tools edit: numbers in it too
/// big for a counter are carried, not overflowed.
#[test]
fn a_prove_state_file_with_huge_numbers_is_read() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    std::fs::write(
        p.dir.join(".prove"),
        "---\ngeneration: 18446744073709551615\ntests:\n  t/a.t:\n    gen: 1\n    last_result: 0\n    \
         seq: 1e300\n    total_passes: 1e300\nversion: 1\n...\n",
    )
    .unwrap();
    let run = p.proctor(&["prove", "--state=save", "-e", "", "t"]);
    run.expect_status(0);
    let saved = std::fs::read_to_string(p.dir.join(".prove")).unwrap();
    assert!(
        saved.contains("total_passes: 18446744073709551615"),
        "{}",
        saved
    );
}

const CI_VARIABLES: &[&str] = &[
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
];

/// proctor in the project with only these CI variables set of those
/// `--partition auto` reads (the tests may run in a CI of their own).
fn in_ci(p: &Project, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_proctor"));
    command
        .args(args)
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .env_remove("MAKELEVEL");
    for var in CI_VARIABLES {
        command.env_remove(var);
    }
    Run {
        output: command.envs(vars.iter().copied()).output().unwrap(),
    }
}

/// `--partition auto` in a GitLab `parallel: 2` job: each job runs its half,
/// says which, and the two logs merge into one run again.
#[test]
fn partition_auto_takes_the_share_the_ci_gives() {
    let p = Project::new();
    for name in ["a", "b", "c", "d"] {
        p.script(
            &format!("t/{}.t", name),
            &format!(
                "#!/bin/sh\necho 1..1\necho '{}ok 1'\n",
                if name == "c" { "not " } else { "" }
            ),
        );
    }
    let mut ran = Vec::new();
    for (index, status) in [("1", 1), ("2", 0)] {
        let log = format!("shard-{}.jsonl", index);
        let run = in_ci(
            &p,
            &["test", "--partition", "auto", "--log", &log],
            &[("CI_NODE_INDEX", index), ("CI_NODE_TOTAL", "2")],
        );
        run.expect_status(status);
        run.expect_stderr(&format!(
            "proctor: partition slice:{}/2, from GitLab's CI_NODE_INDEX={} and CI_NODE_TOTAL=2",
            index, index
        ));
        ran.extend(results(&p.events()));
    }
    ran.sort();
    assert_eq!(
        ran,
        pairs(&[
            ("t/a.t", "pass"),
            ("t/b.t", "pass"),
            ("t/c.t", "fail"),
            ("t/d.t", "pass")
        ])
    );
    // CircleCI counts from 0: its job 1 of 2 is GitLab's 2 of 2.
    let circle = in_ci(
        &p,
        &["test", "--partition", "auto"],
        &[("CIRCLE_NODE_INDEX", "1"), ("CIRCLE_NODE_TOTAL", "2")],
    );
    circle.expect_status(0).expect_stderr("slice:2/2");

    let merged = p.proctor(&["replay", "shard-1.jsonl", "shard-2.jsonl"]);
    merged.expect_status(1);
    merged.expect_stdout("Files: 3 passed, 1 failed");
    let failed = p.proctor(&["failed", "shard-1.jsonl", "shard-2.jsonl"]);
    assert_eq!(failed.stdout(), "t/c.t\n");
}

#[test]
fn partition_auto_without_a_ci_is_a_usage_error() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    for (vars, said) in [
        (&[][..], "--partition auto: no CI parallel-job variables are set"),
        (
            &[("CIRCLE_NODE_INDEX", "2"), ("CIRCLE_NODE_TOTAL", "2")][..],
            "--partition auto: CIRCLE_NODE_INDEX is 2, not between 0 and 1",
        ),
        (
            &[("BUILDKITE_PARALLEL_JOB", "0")][..],
            "--partition auto: BUILDKITE_PARALLEL_JOB is set but BUILDKITE_PARALLEL_JOB_COUNT is not",
        ),
    ] {
        let run = in_ci(&p, &["test", "--partition", "auto"], vars);
        run.expect_status(2);
        assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
        run.expect_stderr(said);
    }
    assert!(!p.state().join("last.jsonl").exists(), "a test ran");
}
