//! `.proctorrc` path sections: settings for the files a glob matches, their
//! precedence, `--explain`, and bad lines.

use crate::common::{job_end, reasons, Project};

const QUIET: &str = "#!/bin/sh\necho 1..1\nsleep 3\necho ok 1\n";
const QUICK: &str = "#!/bin/sh\necho 1..1\necho ok 1\n";

fn rc(p: &Project, text: &str) {
    std::fs::write(p.dir.join(".proctorrc"), text).unwrap();
}

#[test]
fn a_section_sets_an_event_timeout_that_stops_a_quiet_test() {
    let p = Project::new();
    p.script("t/slow/quiet.t", QUIET).script("t/quick.t", QUICK);
    rc(&p, "--exec ''\n[t/slow/*.t]\nevent-timeout = 0.5\n");
    p.proctor(&["test", "-r", "t"]).expect_status(1);
    let events = p.events();
    let why = reasons(job_end(&events, "t/slow/quiet.t"));
    assert!(why.contains("no output for 0.5 s"), "{}", why);
    assert_eq!(job_end(&events, "t/quick.t")["result"], "pass");
}

#[test]
fn the_command_line_event_timeout_beats_a_section() {
    let p = Project::new();
    p.script("t/quiet.t", QUIET);
    rc(&p, "--exec ''\n[t/*.t]\nevent-timeout = 0.5\n");
    p.proctor(&["test", "--event-timeout", "60", "t"])
        .expect_status(0);
    p.proctor(&["test", "--explain", "t/quiet.t", "--event-timeout", "60"])
        .expect_status(0)
        .expect_stdout("event-timeout = 60  (command line)\n");
}

#[test]
fn the_last_matching_section_wins_per_key() {
    let p = Project::new();
    p.script("t/net/dns.t", QUICK);
    rc(
        &p,
        "[t/**]\nevent-timeout = 100\nretries = 3\n[t/net/d?s.t]\nevent-timeout = 5\n",
    );
    p.proctor(&["test", "--explain", "t/net/dns.t"])
        .expect_status(0)
        .expect_stdout("event-timeout = 5  (.proctorrc:5 [t/net/d?s.t])\n")
        .expect_stdout("retries = 3  (.proctorrc:3 [t/**])\n");
}

#[test]
fn a_section_beats_the_header_which_beats_the_rc_words() {
    let p = Project::new();
    p.script(
        "t/a.t",
        "#!/bin/sh\n# HARNESS-TIMEOUT-EVENT 100\n# HARNESS-JOB-SLOTS 2\n# HARNESS-RETRY-1\necho 1..1\necho ok 1\n",
    );
    rc(
        &p,
        "--retry 4 --event-timeout 9\n[t/a.t]\nevent-timeout = 7\n",
    );
    let run = p.proctor(&["test", "--explain", "t/a.t"]);
    run.expect_status(0)
        .expect_stdout("t/a.t:\nevent-timeout = 7  (.proctorrc:3 [t/a.t])\n")
        .expect_stdout("retries = 1  (header line 4)\n")
        .expect_stdout("job-slots = 2  (header line 3)\n")
        .expect_stdout("category = general  (default)\n");
    assert!(
        !p.state().join("last.jsonl").exists(),
        "--explain ran nothing"
    );
    rc(&p, "--retry 4\n");
    p.script("t/b.t", QUICK);
    p.proctor(&["test", "--explain", "t/b.t"])
        .expect_stdout("retries = 4  (rc file words (before any section))\n");
}

#[test]
fn bad_lines_are_errors_naming_file_and_line() {
    let p = Project::new();
    p.script("t/a.t", QUICK);
    for (text, said) in [
        (
            "-j2\n[t/*.t]\nspeed = 3\n",
            ".proctorrc:3: 'speed' is not a key",
        ),
        ("[t/*.t]\njob-slots = none\n", ".proctorrc:2: 'none' is"),
        ("[t/*.t\n", ".proctorrc:1: '[t/*.t' is not a section line"),
        (
            "[t/*.t]\nisolation\n",
            ".proctorrc:2: 'isolation' is not 'key = value'",
        ),
    ] {
        rc(&p, text);
        let run = p.proctor(&["test", "--exec", "", "t"]);
        run.expect_status(2)
            .expect_stderr(&format!("proctor: unable to read {}", said));
        assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    }
}

#[test]
fn a_glob_matching_no_file_is_a_warning_naming_its_line() {
    let p = Project::new();
    p.script("t/a.t", QUICK);
    rc(
        &p,
        "--exec ''\n\n[t/*.t]\nretries = 0\n[nothing/**]\nretries = 2\n",
    );
    p.proctor(&["test", "t"]).expect_status(0).expect_stderr(
        "proctor: warning: .proctorrc:5: [nothing/**] matches no test file of this run",
    );
}

/// `proctor run` reads no .proctorrc: its `--explain` is refused, and
/// nothing runs (no persistent runner is even asked).
#[test]
fn run_refuses_explain_and_runs_nothing() {
    let p = Project::new();
    p.script("t/net/dns.t", QUICK);
    rc(&p, "[t/net/*.t]\nevent-timeout = 5\n");
    p.proctor(&["run", "--explain", "t/net/dns.t"])
        .expect_status(2)
        .expect_stderr("use proctor test --explain FILE");
}
