//! Preloading: the Perl stage's own protocol driver, and stages through the
//! binary: isolation, a dying test, a stage that cannot start, a stage killed
//! mid-run.

use crate::common::*;
use std::process::Command;

#[test]
fn the_perl_stage_speaks_its_protocol() {
    let out = Command::new("perl")
        .arg("tests/stage/drive.pl")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.trim_end().ends_with(" 0 failed"), "{}", stdout);
}

fn perl_suite(p: &Project) {
    for i in 1..=4 {
        p.script(
            &format!("t/{}.t", i),
            &format!(
                "use Test::More;\nis($0, q{{t/{i}.t}}, q{{$0 is the file}});\nok(!defined $ENV{{LEAK}}, q{{no leak from earlier tests}});\n\
                 $ENV{{LEAK}} = {i};\nok(!defined $main::seen, q{{globals start clean}});\n$main::seen = 1;\n\
                 like($ENV{{TMPDIR}}, qr{{/jobs/{i}-1/tmp$}}, q{{TMPDIR is the job's}});\nis(getpgrp(), $$, q{{own process group}});\ndone_testing;\n",
                i = i
            ),
        );
    }
}

#[test]
fn preloaded_tests_pass_and_stay_apart() {
    let p = Project::new();
    perl_suite(&p);
    p.script(
        "t/5-dies.t",
        "use Test::More;\nok(1);\ndie 'broken on purpose';\n",
    );
    let run = p.proctor(&["test", "-j2", "--preload", "Test::More"]);
    run.expect_status(1);
    let events = p.events();
    assert_eq!(
        results(&events),
        pairs(&[
            ("t/1.t", "pass"),
            ("t/2.t", "pass"),
            ("t/3.t", "pass"),
            ("t/4.t", "pass"),
            ("t/5-dies.t", "fail")
        ])
    );
    assert!(reasons(job_end(&events, "t/5-dies.t")).contains("exited with status 255"));
    assert!(
        run.stdout().contains("broken on purpose"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "job_launch" && e["staged"] == true)
            .count(),
        5
    );
    assert!(events.iter().any(|e| e["type"] == "stage_ready"));
}

#[test]
fn files_that_must_not_be_preloaded_run_as_plain_perl() {
    let p = Project::new();
    p.script("t/taint.t", "#!perl -T\nuse Test::More tests => 1;\nok(${^TAINT}, 'taint mode is on');\n")
        .script("t/plain.t", "# HARNESS-NO-PRELOAD\nuse Test::More tests => 1;\nok(!$INC{'Test/Builder.pm'} || 1, 'runs');\n");
    p.proctor(&["test", "--preload", "Test::More"])
        .expect_status(0);
    let events = p.events();
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "job_launch" && e["staged"] == true)
            .count(),
        0
    );
}

#[test]
fn a_stage_that_cannot_start_fails_its_jobs_with_its_error() {
    let p = Project::new();
    p.script("t/a.t", "use Test::More tests => 1;\nok(1);\n")
        .script("t/b.sh.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let run = p.proctor(&["test", "--preload", "No::Such::Module"]);
    run.expect_status(1);
    let events = p.events();
    let why = reasons(job_end(&events, "t/a.t"));
    assert!(
        why.contains("No::Such::Module") || why.contains("No/Such/Module"),
        "{}",
        why
    );
}

/// A test file that SIGKILLs an ancestor: its parent is its auditor, the
/// auditor's parent the Perl stage's forker, the forker's parent the stage
/// itself (the process that speaks the protocol). `up` counts from the
/// auditor's parent.
fn stage_killer(up: usize) -> String {
    format!(
        "use Test::More;\nmy $pid = getppid();\nfor (0 .. {up}) {{\n    open my $s, '<', \"/proc/$pid/stat\" or die;\n    \
         $pid = (split ' ', (split /\\) /, <$s>)[1])[1];\n}}\nkill 'KILL', $pid;\nok(1, 'killed the stage');\ndone_testing;\n",
        up = up
    )
}

#[test]
fn a_stage_killed_mid_run_is_started_again_and_nothing_is_lost() {
    for up in [0, 1] {
        a_stage_killed_mid_run(up);
    }
}

/// Killing the forker ends the stage; killing the stage leaves the forker
/// alone with running auditors, which must still reach the runner.
fn a_stage_killed_mid_run(up: usize) {
    let p = Project::new();
    p.script("t/0-kills-stage.t", &stage_killer(up));
    for i in 1..=6 {
        p.script(
            &format!("t/{}.t", i),
            "use Test::More;\nselect undef, undef, undef, 0.1;\nok(1);\ndone_testing;\n",
        );
    }
    p.proctor(&["test", "-j2", "--preload", "Test::More"])
        .expect_status(0);
    let events = p.events();
    assert_eq!(
        events.iter().filter(|e| e["type"] == "job_end").count(),
        7,
        "every job ends once"
    );
    assert!(
        events.iter().filter(|e| e["type"] == "stage_ready").count() >= 2,
        "the stage was started again"
    );
    assert_eq!(events.last().unwrap()["files"]["passed"], 7);
}
