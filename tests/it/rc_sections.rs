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
        .expect_stdout(
            "t/a.t:\nexec = perl  (default)\nevent-timeout = 7  (.proctorrc:3 [t/a.t])\n",
        )
        .expect_stdout("no-preload = yes  (its #! line)\n")
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
        .expect_stdout("retries = 4  (.proctorrc words)\n");
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

/// A data-driven suite: files that are no programs, each given to a script
/// by its section, beside perl tests and a shell test in the same run.
#[test]
fn a_section_says_what_runs_its_files() {
    let p = Project::new();
    p.script(
        "t/run-case.sh",
        "#!/bin/sh\necho 1..1\nread want < \"$1\"\n[ \"$want\" = yes ] && echo ok 1 || echo not ok 1\n",
    );
    std::fs::create_dir_all(p.dir.join("t/cases")).unwrap();
    std::fs::write(p.dir.join("t/cases/one.case"), "yes\n").unwrap();
    std::fs::write(p.dir.join("t/cases/two.case"), "no\n").unwrap();
    p.script("t/plain.t", "print qq{1..1\nok 1\n};\n")
        .script("t/shell.sh", "echo 1..1; echo ok 1\n");
    std::fs::set_permissions(
        p.dir.join("t/shell.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    rc(
        &p,
        "-r --ext .t --ext .case --ext .sh\n[t/cases/*.case]\nexec = sh t/run-case.sh\n[*/*.sh]\nexec = sh\n",
    );
    p.proctor(&["test", "t"]).expect_status(1);
    let events = p.events();
    let command = |file: &str| {
        let start = events
            .iter()
            .find(|e| e["type"] == "job_start" && e["file"] == file)
            .unwrap();
        start["command"].as_array().unwrap().len()
    };
    assert_eq!(job_end(&events, "t/cases/one.case")["result"], "pass");
    assert_eq!(job_end(&events, "t/cases/two.case")["result"], "fail");
    assert_eq!(job_end(&events, "t/plain.t")["result"], "pass");
    assert_eq!(job_end(&events, "t/shell.sh")["result"], "pass");
    assert_eq!(command("t/cases/one.case"), 3, "sh, its script, the file");
    p.proctor(&["test", "--explain", "t/cases/two.case"])
        .expect_stdout("exec = sh t/run-case.sh  (.proctorrc:3 [t/cases/*.case])\n");
    p.proctor(&["test", "--explain", "t/plain.t"])
        .expect_stdout("exec = perl  (default)\n");
}

#[test]
fn a_section_sets_environment_variables_over_the_callers() {
    let p = Project::new();
    let shows = "#!/bin/sh\necho 1..1\necho \"ok 1 - [$GREETING] [$MOOD]\"\n";
    p.script("t/a.t", shows).script("t/b.t", shows);
    rc(
        &p,
        "--exec ''\n[t/*]\nenv = MOOD=calm\nenv = GREETING=hi\n[t/b.t]\nenv = MOOD=gone=away\n",
    );
    p.proctor_with_env(&["test", "-v", "t"], &[("MOOD", "outer"), ("GREETING", "")])
        .expect_status(0)
        .expect_stdout("ok 1 - [hi] [calm]")
        .expect_stdout("ok 1 - [hi] [gone=away]");
    p.proctor(&["test", "--explain", "t/b.t"])
        .expect_stdout("env = GREETING=hi  (.proctorrc:4 [t/*])\n")
        .expect_stdout("env = MOOD=gone=away  (.proctorrc:6 [t/b.t])\n");
    rc(&p, "[t/*]\nenv = 9LIVES=1\n");
    p.proctor(&["test", "--exec", "", "t"])
        .expect_status(2)
        .expect_stderr("proctor: unable to read .proctorrc:2: env needs NAME=VALUE");
}

/// A preloaded perl started with the run's environment, so a file given
/// variables of its own runs plain.
#[test]
fn a_file_with_its_own_environment_is_not_preloaded() {
    let p = Project::new();
    let body = "use Test::More;\nis($ENV{WHO}, $ARGV[0] // q{me});\ndone_testing;\n";
    p.script("t/a.t", body)
        .script("t/b.t", "use Test::More; ok(1); done_testing;\n");
    rc(&p, "[t/a.t]\nenv = WHO=me\n");
    p.proctor(&["test", "--preload", "Test::More", "t"])
        .expect_status(0);
    let staged = |file: &str| {
        p.events()
            .iter()
            .any(|e| e["type"] == "job_launch" && e["file"] == file && e["staged"] == true)
    };
    assert!(!staged("t/a.t"), "t/a.t has variables of its own");
    assert!(staged("t/b.t"), "t/b.t is preloaded");
}

#[test]
fn an_exec_that_is_not_there_is_an_error_naming_its_line() {
    let p = Project::new();
    p.script("t/a.t", QUICK);
    rc(&p, "[t/*.t]\n\nexec = no-such-interpreter -x\n");
    let run = p.proctor(&["test", "t"]);
    run.expect_status(2).expect_stderr(
        "proctor: .proctorrc:3: exec: 'no-such-interpreter' is not a program in PATH",
    );
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
}

#[test]
fn strict_makes_a_glob_that_matches_nothing_an_error() {
    let p = Project::new();
    p.script("t/a.t", QUICK);
    rc(
        &p,
        "--exec ''\n[t/*.t]\nretries = 0\n[nothing/**]\nretries = 2\n",
    );
    p.proctor(&["test", "--strict", "t"])
        .expect_status(2)
        .expect_stderr(
            "proctor: .proctorrc:4: [nothing/**] matches no test file of this run (--strict)",
        );
    assert!(!p.state().join("last.jsonl").exists(), "nothing ran");
    rc(&p, "--exec 'sh\n");
    p.proctor(&["test", "--strict", "t"])
        .expect_status(2)
        .expect_stderr("proctor: .proctorrc:1: a quote is not closed (--strict)");
}

#[test]
fn explain_names_the_rc_file_whose_words_gave_a_setting() {
    let p = Project::new();
    p.script("t/a.t", QUICK);
    std::fs::create_dir_all(p.dir.join("home")).unwrap();
    std::fs::write(p.dir.join("home/.proctorrc"), "--retry 3 --exec sh\n").unwrap();
    rc(&p, "--event-timeout 9\n");
    let home = p.dir.join("home/.proctorrc");
    p.proctor(&["test", "--explain", "t/a.t"])
        .expect_stdout(&format!("retries = 3  ({} words)\n", home.display()))
        .expect_stdout(&format!("exec = sh  ({} words)\n", home.display()))
        .expect_stdout("event-timeout = 9  (.proctorrc words)\n");
    p.proctor(&["test", "--explain", "t/a.t", "--retry", "1"])
        .expect_stdout("retries = 1  (command line)\n");
}

/// Automake runs the driver where `make check` runs: that directory's
/// .proctorrc has its say, where the driver's own flags do not.
#[test]
fn the_driver_takes_the_sections_of_the_directory_make_runs_in() {
    let p = Project::new();
    p.script("t/quiet.test", QUIET).script(
        "t/env.test",
        "#!/bin/sh\necho 1..1\necho \"ok 1 - [$MODE]\"\n",
    );
    rc(
        &p,
        "-j9 --no-such-flag\n[t/quiet.test]\nevent-timeout = 0.5\n[**/env.test]\nenv = MODE=fast\n",
    );
    let driver = |test: &str| {
        p.proctor(&[
            "driver",
            "--test-name",
            test,
            "--log-file",
            "x.log",
            "--trs-file",
            "x.trs",
            "--",
            test,
        ])
    };
    driver("./t/quiet.test").expect_status(0);
    let trs = std::fs::read_to_string(p.dir.join("x.trs")).unwrap();
    assert!(trs.contains(":global-test-result: ERROR"), "{}", trs);
    let log = std::fs::read_to_string(p.dir.join("x.log")).unwrap();
    assert!(log.contains("no output for 0.5 s"), "{}", log);
    driver("t/env.test").expect_status(0);
    let log = std::fs::read_to_string(p.dir.join("x.log")).unwrap();
    assert!(log.contains("ok 1 - [fast]"), "{}", log);
}

#[test]
fn proctor_prove_takes_sections_and_is_prove_without_them() {
    let p = Project::new();
    p.script("t/a.t", "print qq{1..1\nok 1 - [$ENV{MODE}]\n};\n");
    p.proctor(&["prove", "-v", "t"])
        .expect_status(0)
        .expect_stdout("ok 1 - []");
    rc(&p, "--retry 7\n[t/a.t]\nenv = MODE=fast\n");
    p.proctor(&["prove", "-v", "t"])
        .expect_status(0)
        .expect_stdout("ok 1 - [fast]");
}
