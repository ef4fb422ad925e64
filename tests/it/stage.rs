//! Preloading: the Perl stage's own protocol driver, and stages through the
//! binary: isolation, a dying test, a stage that cannot start, a preloaded
//! perl killed mid-run, an auditor killed under a preloaded test, and the
//! runner's own stage standing in for it: interrupted, failing or killed
//! while the run goes on.

use crate::common::*;
use serde_json::Value;
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

/// How many jobs were launched to run preloaded.
fn staged_launches(events: &[serde_json::Value]) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == "job_launch" && e["staged"] == true)
        .count()
}

fn perl_suite(p: &Project) {
    for i in 1..=4 {
        p.script(
            &format!("t/{}.t", i),
            &format!(
                "use Test::More;\nis($0, q{{t/{i}.t}}, q{{$0 is the file}});\nok(!defined $ENV{{LEAK}}, q{{no leak from earlier tests}});\n\
                 $ENV{{LEAK}} = {i};\nok(!defined $main::seen, q{{globals start clean}});\n$main::seen = 1;\n\
                 ok(grep({{ $ENV{{TMPDIR}} eq qq{{$ENV{{PROCTOR_STATE_DIR}}/tmp-$_}} }} 0, 1), q{{TMPDIR is the slot's}});\nopendir my $d, $ENV{{TMPDIR}} or die;\nis(scalar(grep {{ $_ ne q{{.}} && $_ ne q{{..}} }} readdir $d), 0, q{{and empty}});\nopen my $f, '>', qq{{$ENV{{TMPDIR}}/left-{i}}} or die;\nopen my $c, '<', '/proc/' . getppid() . '/comm' or die;\nis(scalar <$c>, qq{{proctor-audit\n}}, q{{the parent is an auditor}});\nis(getpgrp(), $$, q{{own process group}});\ndone_testing;\n",
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
    // The file that dies preloaded is tried again without, and dies there too.
    let finals: Vec<Value> = events
        .iter()
        .filter(|e| e["will_retry"] != true)
        .cloned()
        .collect();
    assert_eq!(
        results(&finals),
        pairs(&[
            ("t/1.t", "pass"),
            ("t/2.t", "pass"),
            ("t/3.t", "pass"),
            ("t/4.t", "pass"),
            ("t/5-dies.t", "fail")
        ])
    );
    assert!(reasons(job_end(&events, "t/5-dies.t")).contains("exited with status 255"));
    run.expect_stdout("broken on purpose");
    assert_eq!(staged_launches(&events), 5);
    assert!(events.iter().any(|e| e["type"] == "stage_ready"));
}

#[test]
fn files_that_must_not_be_preloaded_run_as_plain_perl() {
    let p = Project::new();
    p.script("t/taint.t", "#!perl -T\nuse Test::More tests => 1;\nok(${^TAINT}, 'taint mode is on');\n")
        .script("t/plain.t", "# HARNESS-NO-PRELOAD\nuse Test::More tests => 1;\nok(!$INC{'Test/Builder.pm'} || 1, 'runs');\n")
        // perl honours every switch on the #! line; the stage only -w.
        .script("t/switches.t", "#!perl -l\nprint '1..1';\nprint 'ok 1 - -l ends each print';\n");
    p.proctor(&["test", "--preload", "Test::More"])
        .expect_status(0);
    let events = p.events();
    assert_eq!(staged_launches(&events), 0);
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

/// A test file that SIGKILLs its slot's preloaded perl: its sibling, the
/// other child of its auditor running the stage program.
const SIBLING_KILLER: &str = r#"use Test::More;
sub read_proc { open my $f, '<', "/proc/$_[0]" or return ''; local $/; scalar <$f> }
my $auditor = getppid();
my ($perl) = grep {
    (split ' ', (split /\) /, read_proc("$_/stat"))[1] // '')[1] == $auditor
        && read_proc("$_/cmdline") =~ /stage-perl/
} grep { /^[0-9]+$/ } map { (split m{/})[-1] } glob '/proc/*';
ok($perl, 'found the preloaded perl');
kill 'KILL', $perl;
open my $f, '>', 't/killed' or die;
print $f "$perl\n";
close $f;
done_testing;
"#;

#[test]
fn a_preloaded_perl_killed_mid_run_is_started_again_and_nothing_is_lost() {
    let p = Project::new();
    p.script("t/0-kills-stage.t", SIBLING_KILLER);
    for i in 1..=20 {
        p.script(
            &format!("t/{:02}.t", i),
            "use Test::More;\nselect undef, undef, undef, 0.02;\nok(1);\ndone_testing;\n",
        );
    }
    let run = p.proctor(&["test", "-j2", "--preload", "Test::More"]);
    run.expect_status(0);
    assert!(
        run.stderr().contains("stage of slot") && run.stderr().contains("starting it again"),
        "the user is told: {}",
        run.stderr()
    );
    let events = p.events();
    assert_eq!(
        events.iter().filter(|e| e["type"] == "job_end").count(),
        21,
        "every job ends once"
    );
    assert_eq!(events.last().unwrap()["files"]["passed"], 21);
    let killed: u64 = std::fs::read_to_string(p.dir.join("t/killed"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let exit = events
        .iter()
        .find(|e| e["type"] == "stage_exit" && e["pid"] == killed)
        .unwrap_or_else(|| panic!("no stage_exit for {}: {:?}", killed, events));
    let slot = &exit["slot"];
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "stage_ready" && e["slot"] == *slot && e["pid"] != killed),
        "slot {} got a new perl",
        slot
    );
    assert_eq!(staged_launches(&events), 21);
}

/// A test file that SIGKILLs its own auditor.
const AUDITOR_KILLER: &str =
    "use Test::More;\nok(1);\nkill 'KILL', getppid();\nsleep 5;\ndone_testing;\n";

/// A slot whose auditor died stays empty; its share of the preloaded jobs
/// runs in the run's own stage instead, and none is lost.
#[test]
fn preloaded_jobs_outlive_their_auditor() {
    let p = Project::new();
    p.script("t/0-kills-auditor.t", AUDITOR_KILLER);
    for i in 1..=20 {
        p.script(
            &format!("t/{:02}.t", i),
            "use Test::More;\nselect undef, undef, undef, 0.02;\nok(1);\ndone_testing;\n",
        );
    }
    let run = p.proctor(&["test", "-j2", "--preload", "Test::More"]);
    run.expect_status(1);
    let events = p.events();
    assert!(
        reasons(job_end(&events, "t/0-kills-auditor.t")).contains("auditor lost"),
        "{}",
        reasons(job_end(&events, "t/0-kills-auditor.t"))
    );
    let passed: Vec<_> = results(&events)
        .into_iter()
        .filter(|(file, result)| file != "t/0-kills-auditor.t" && result == "pass")
        .collect();
    assert_eq!(passed.len(), 20, "{:?}", results(&events));
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "job_launch" && e["staged"] == true && e["dir"].is_string()),
        "the run's own stage took the empty slot's jobs"
    );
    assert_eq!(staged_launches(&events), 21);
}

/// A module that loads at once in an auditor's own perl, and in the runner's
/// own stage (whose parent is the runner, not an auditor) says it has begun
/// by writing its pid to `preloading`, then waits for the file `go` (or a
/// minute) and does `$then`.
fn fallback_only_module(name: &str, then: &str) -> String {
    format!(
        r#"package {name};
open my $c, '<', '/proc/' . getppid() . '/comm' or die;
if (<$c> ne "proctor-audit\n") {{
    open my $f, '>', 'preloading.new' or die;
    print $f "$$\n";
    close $f;
    rename 'preloading.new', 'preloading' or die;
    for (1 .. 1200) {{ last if -e 'go'; select undef, undef, undef, 0.05 }}
    {then}
}}
1;
"#,
        name = name,
        then = then
    )
}

/// A suite whose first file kills its auditor, so that the runner's own
/// stage (preloading `module`) takes that slot's share of the other 20;
/// each of those runs `each` first.
fn fallback_project(module: &str, body: &str, each: &str) -> Project {
    let p = Project::new();
    p.script(&format!("lib/{}.pm", module), body);
    p.script("t/0-kills-auditor.t", AUDITOR_KILLER);
    for i in 1..=20 {
        p.script(
            &format!("t/{:02}.t", i),
            &format!(
                "use Test::More;\n{}select undef, undef, undef, 0.02;\nok(1);\ndone_testing;\n",
                each
            ),
        );
    }
    p
}

/// SIGTERM while the runner's own stage, standing in for a dead auditor,
/// preloads: the run ends now, not when the stage is ready, the job waiting
/// for it ends as not run, and the stage is not left behind.
#[test]
fn sigterm_while_the_fallback_stage_preloads_ends_the_run_at_once() {
    let p = fallback_project(
        "SlowFallback",
        &fallback_only_module("SlowFallback", ""),
        "",
    );
    let run = p.spawn(&["test", "-j2", "-I", "lib", "--preload", "SlowFallback", "t"]);
    p.wait_for_file("preloading");
    let stage: u32 = std::fs::read_to_string(p.dir.join("preloading"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    run.signal("TERM");
    let run = wait_or_release(&p, run, "SIGTERM");
    assert_eq!(run.status(), 143, "{}", run.stdout());
    let events = p.events();
    let ends = results(&events);
    assert_eq!(ends.len(), 21, "every job ends once: {:?}", ends);
    let mut not_run = 0;
    for (file, result) in ends {
        let why = reasons(job_end(&events, &file));
        if file == "t/0-kills-auditor.t" {
            assert!(why.contains("auditor lost"), "{}", why);
        } else if result != "pass" {
            assert!(why.contains("interrupted"), "{}: {}", file, why);
            assert!(!why.contains("stage"), "{}: {}", file, why);
            not_run += why.contains("not run") as usize;
        }
    }
    assert!(not_run > 0, "the job waiting for the stage ends as not run");
    assert!(!p.dir.join("go").exists());
    wait_until("the preloading stage to be gone", || {
        !std::path::Path::new(&format!("/proc/{}", stage)).exists()
    });
}

/// The runner's own stage, standing in for a dead auditor, cannot get
/// ready, and says so only once two more jobs started beside it: the run
/// goes on meanwhile, and the jobs given to the stage fail with its error.
#[test]
fn a_fallback_stage_that_cannot_get_ready_fails_its_jobs_while_the_run_goes_on() {
    let p = fallback_project(
        "FailsLate",
        &fallback_only_module("FailsLate", "die qq{FailsLate will not load here\\n};"),
        // Each job waits for the stage to begin preloading (so the jobs do
        // not all end before it does); only the second to see it lets it go
        // on: at most one was on its way before the runner got to the stage.
        "for (1 .. 400) { last if -e 'preloading'; select undef, undef, undef, 0.05 }\n\
         open my $s, '>>', 'seen' or die;\nprint $s \"$0\\n\";\nclose $s;\n\
         open $s, '<', 'seen' or die;\nmy @seen = <$s>;\n\
         if (@seen == 2) { open my $g, '>', 'go' or die; close $g }\n",
    );
    let run = p.spawn(&["test", "-j2", "-I", "lib", "--preload", "FailsLate", "t"]);
    let run = wait_or_release(&p, run, "a stage that cannot get ready");
    assert_eq!(run.status(), 1, "{}", run.stdout());
    let events = p.events();
    let ends = results(&events);
    assert_eq!(ends.len(), 21, "every job ends once: {:?}", ends);
    let failed: Vec<String> = ends
        .iter()
        .filter(|(file, result)| file != "t/0-kills-auditor.t" && result != "pass")
        .map(|(file, _)| reasons(job_end(&events, file)))
        .collect();
    assert!(!failed.is_empty(), "{:?}", ends);
    for why in &failed {
        assert!(
            why.starts_with("not run: ") && why.contains("FailsLate will not load here"),
            "{}",
            why
        );
    }
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "stage_exit"
                && reasons_of(e).contains("FailsLate will not load here")),
        "{:?}",
        events
            .iter()
            .filter(|e| e["type"] == "stage_exit")
            .collect::<Vec<_>>()
    );
}

/// What each file runs first: the first one the runner's own stage runs
/// (its auditor is no standing one) SIGKILLs that stage, the perls among
/// the auditor's forebears, and notes their pids in `stage-killed/pids`.
const FALLBACK_KILLER: &str = r#"sub read_proc { open my $f, '<', "/proc/$_[0]" or return ''; local $/; scalar <$f> }
sub parent_of { (split ' ', (split /\) /, read_proc("$_[0]/stat"))[1] // '')[1] }
if (read_proc(getppid() . '/comm') ne "proctor-audit\n" && mkdir 'stage-killed') {
    my @up = (parent_of(getppid()));
    push @up, parent_of($up[-1]) for 1 .. 2;
    my @perls = grep { read_proc("$_/cmdline") =~ /stage-perl/ } @up;
    kill 'KILL', @perls;
    open my $f, '>', 'stage-killed/pids' or die;
    print $f map { "$_\n" } @perls;
    close $f;
}
"#;

/// The runner's own stage, standing in for a dead auditor, killed mid-run:
/// another takes its place, and the jobs given to it still run, once each.
#[test]
fn a_fallback_stage_killed_mid_run_is_started_again() {
    let p = fallback_project("Nothing", "package Nothing;\n1;\n", FALLBACK_KILLER);
    let run = p.proctor(&["test", "-j2", "-I", "lib", "--preload", "Nothing", "t"]);
    run.expect_status(1);
    let events = p.events();
    let ends = results(&events);
    assert_eq!(ends.len(), 21, "every job ends once: {:?}", ends);
    let passed = ends.iter().filter(|(_, result)| result == "pass").count();
    assert_eq!(passed, 20, "{:?}", ends);
    let killed: Vec<u64> = std::fs::read_to_string(p.dir.join("stage-killed/pids"))
        .expect("the runner's own stage ran a test")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    // The runner's own stage's records (an auditor's perl's name its slot).
    let own: Vec<(&str, u64)> = events
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("stage_") && e["slot"].is_null())
        .map(|e| (e["type"].as_str().unwrap(), e["pid"].as_u64().unwrap_or(0)))
        .collect();
    assert!(
        matches!(own[..], [("stage_ready", first), ("stage_exit", _), ("stage_ready", second)]
            if killed.contains(&first) && !killed.contains(&second)),
        "killed {:?}: {:?}",
        killed,
        own
    );
    assert_eq!(staged_launches(&events), 21);
}

/// Files that lean on Test::More's set-up (the stage sets Test2 up once and
/// each test takes it over): each ends as it does under a fresh perl, with
/// the same reasons, and each line on the stream it was written to.
#[test]
fn preloaded_tests_end_as_under_a_fresh_perl() {
    let p = Project::new();
    p.script("t/fail.t", "use Test::More tests => 2;\nok(1);\nok(0, 'no');\n")
        .script("t/raw.t", "print \"1..1\\nok 1\\n\";\n")
        .script(
            "t/ipc.t",
            "use Test::More;\nuse Test2::IPC;\nmy $pid = fork;\nif (!$pid) { ok(1, 'child'); exit 0 }\n\
             waitpid $pid, 0;\nok(1, 'parent');\ndone_testing;\n",
        )
        .script("t/skip.t", "use Test::More skip_all => 'nothing here';\n")
        .script(
            "t/streams.t",
            "use Test::More;\ndiag 'to stderr';\nnote 'to stdout';\nok(1);\ndone_testing;\n",
        )
        .script("t/exit.t", "use Test::More;\nok(1);\ndone_testing;\nexit 3;\n")
        .script(
            "t/signals.t",
            "use Test::More;\nopen my $f, '<', '/proc/self/status' or die;\n\
             note map { /^(SigIgn|SigBlk):/ ? $_ : () } <$f>;\nis($SIG{FPE}, 'IGNORE', 'FPE as perl leaves it');\n\
             ok(!defined $SIG{PIPE}, 'PIPE at its default');\ndone_testing;\n",
        );
    let ends = |preload: bool| {
        let mut args = vec!["test", "-j2"];
        if preload {
            args.extend(["--preload", "Test::More"]);
        }
        p.proctor(&args).expect_status(1);
        let events = p.events();
        // The first tries: a preloaded one that fails is tried again without.
        let mut ends: Vec<(String, String, String)> = events
            .iter()
            .filter(|e| e["type"] == "job_end" && e["try"] == 1)
            .map(|e| {
                (
                    e["file"].as_str().unwrap().to_string(),
                    e["result"].as_str().unwrap().to_string(),
                    reasons(e),
                )
            })
            .collect();
        ends.sort();
        // Two pipes: which line comes first is up to the scheduler.
        let mut streams: Vec<String> = events
            .iter()
            .filter(|e| {
                e["line"] == "# to stderr"
                    || e["line"] == "# to stdout"
                    || e["line"].as_str().map_or(false, |l| l.starts_with("# Sig"))
            })
            .map(|e| format!("{} {}", e["line"], e["stream"]))
            .collect();
        streams.sort();
        let staged = staged_launches(&events);
        (ends, streams, staged)
    };
    let (fresh, fresh_streams, _) = ends(false);
    let (preloaded, preloaded_streams, staged) = ends(true);
    assert_eq!(staged, 7, "every file ran preloaded");
    assert_eq!(preloaded, fresh);
    assert_eq!(preloaded_streams, fresh_streams);
    assert_eq!(fresh_streams.len(), 4, "{:?}", fresh_streams);
    assert!(fresh.iter().any(|(f, r, _)| f == "t/skip.t" && r == "skip"));
    assert!(fresh
        .iter()
        .any(|(f, _, why)| f == "t/exit.t" && why.contains("exited with status 3")));
}

/// A module that preloads until the file `go` appears (or a minute passes),
/// and says it has begun by writing `preloading`.
const SLOW_MODULE: &str = r#"package Slow;
open my $f, '>', 'preloading' or die;
close $f;
for (1 .. 1200) { last if -e 'go'; select undef, undef, undef, 0.05 }
1;
"#;

fn slow_preload_project() -> Project {
    let p = Project::new();
    p.script("lib/Slow.pm", SLOW_MODULE);
    three_tests(&p);
    p
}

/// t/a.t, t/b.t and t/c.t: one passing Test::More assertion each.
fn three_tests(p: &Project) {
    for name in ["a", "b", "c"] {
        p.script(
            &format!("t/{}.t", name),
            "use Test::More;\nok(1);\ndone_testing;\n",
        );
    }
}

/// Waits for proctor to end, generously; if it does not, lets the preload
/// finish (so nothing is left behind) and fails.
fn wait_or_release(p: &Project, mut run: Running, what: &str) -> Run {
    for _ in 0..1000 {
        if run.child.try_wait().unwrap().is_some() {
            return run.wait();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::write(p.dir.join("go"), "").unwrap();
    let run = run.wait();
    panic!(
        "{}: proctor went on until its perls were ready: {}",
        what,
        run.stdout()
    );
}

/// A run whose perls preload slowly, interrupted by `send` (`what`) once
/// they have begun: the project, and how the run ended.
fn interrupted_while_preloading(send: impl FnOnce(&Running), what: &str) -> (Project, Run) {
    let p = slow_preload_project();
    let run = p.spawn(&["test", "-j2", "-I", "lib", "--preload", "Slow", "t"]);
    p.wait_for_file("preloading");
    send(&run);
    let run = wait_or_release(&p, run, what);
    (p, run)
}

/// Ctrl-C while the auditors' perls preload: the jobs that were on their
/// way end as interrupted, not as the fault of a perl the Ctrl-C killed.
#[test]
fn ctrl_c_while_preloading_interrupts_the_jobs() {
    let (p, run) = interrupted_while_preloading(|run| run.signal_group("INT"), "Ctrl-C");
    assert_eq!(run.status(), 130, "{}", run.stdout());
    let events = p.events();
    for (file, _) in results(&events) {
        let why = reasons(job_end(&events, &file));
        assert!(why.contains("interrupted"), "{}: {}", file, why);
        assert!(!why.contains("stage"), "{}: {}", file, why);
    }
}

/// SIGTERM to proctor alone while the perls preload: the run ends now, not
/// when they are ready.
#[test]
fn sigterm_while_preloading_ends_the_run_at_once() {
    let (p, run) = interrupted_while_preloading(|run| run.signal("TERM"), "SIGTERM");
    assert_eq!(run.status(), 143, "{}", run.stdout());
    let events = p.events();
    for (file, _) in results(&events) {
        let why = reasons(job_end(&events, &file));
        assert!(why.contains("interrupted"), "{}: {}", file, why);
        assert!(!why.contains("SIGTERM"), "{}: {}", file, why);
    }
    assert!(!p.dir.join("go").exists());
}

/// A module that kills the first perl that loads it (as the OOM killer or a
/// careless `pkill` might), and loads in any other.
const KILLED_ONCE: &str = r#"package KilledOnce;
if (!-e 'killed') {
    open my $f, '>', 'killed' or die;
    close $f;
    kill 'KILL', $$;
}
1;
"#;

/// A perl killed while it preloads is started again, like one killed later:
/// a signal from outside is no reason to fail the slot's jobs.
#[test]
fn a_perl_killed_while_preloading_is_started_again() {
    let p = Project::new();
    p.script("lib/KilledOnce.pm", KILLED_ONCE);
    three_tests(&p);
    let run = p.proctor(&["test", "-j1", "-I", "lib", "--preload", "KilledOnce", "t"]);
    assert!(p.dir.join("killed").exists());
    run.expect_status(0);
    let events = p.events();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "stage_exit" && reasons_of(e).contains("SIGKILL")),
        "{:?}",
        events
            .iter()
            .filter(|e| e["type"] == "stage_exit")
            .collect::<Vec<_>>()
    );
}

fn reasons_of(event: &serde_json::Value) -> String {
    event["reason"].as_str().unwrap_or_default().to_string()
}

/// perl runs a file whose `#!` line names another interpreter with that
/// interpreter: so must proctor, preloading or not.
#[test]
fn a_t_file_for_another_interpreter_is_not_preloaded() {
    let p = Project::new();
    p.script("t/shell.t", "#!/bin/sh\necho 1..1\necho ok 1 - from sh\n");
    p.script(
        "t/perl.t",
        "#!/usr/bin/env perl\nuse Test::More;\nok(1);\ndone_testing;\n",
    );
    p.proctor(&["test", "-j2", "--preload", "Test::More", "t"])
        .expect_status(0);
    let events = p.events();
    let staged = |file: &str| {
        events
            .iter()
            .find(|e| e["type"] == "job_launch" && e["file"] == file)
            .map(|e| e["staged"] == true)
    };
    assert_eq!(staged("t/shell.t"), Some(false));
    assert_eq!(staged("t/perl.t"), Some(true));
}

#[test]
fn the_loader_settings_of_the_preloaded_perl_stay_its_own() {
    let p = Project::new();
    p.script(
        "t/env.t",
        "use Test::More;\nis($ENV{LD_BIND_NOW}, undef, q{the stage's LD_BIND_NOW is not the test's});\n\
         is($ENV{GLIBC_TUNABLES}, $ENV{EXPECT_TUNABLES}, q{GLIBC_TUNABLES is the user's});\ndone_testing;\n",
    );
    let run = p.proctor(&["test", "--preload", "Test::More"]);
    run.expect_status(0);
    assert_eq!(staged_launches(&p.events()), 1);
    // The stage compiles and runs without a word of its own.
    assert_eq!(run.stderr(), "");
    // A user's own setting is left alone, for the stage and its tests.
    let tunables = "glibc.malloc.check=0";
    p.proctor_with_env(
        &["test", "--preload", "Test::More"],
        &[("GLIBC_TUNABLES", tunables), ("EXPECT_TUNABLES", tunables)],
    )
    .expect_status(0);
}

#[test]
fn an_end_block_older_than_the_stage_still_runs_in_a_preloaded_test() {
    let p = Project::new();
    p.script(
        "lib/EndMark.pm",
        "package EndMark;\nEND { print qq{# EndMark's END block ran\\n} }\n1;\n",
    );
    p.script("t/end.t", "use Test::More;\nok(1);\ndone_testing;\n");
    let lib = p.dir.join("lib");
    let run = p.proctor_with_env(
        &["test", "-v", "--preload", "Test::More"],
        &[
            ("PERL5OPT", "-MEndMark"),
            ("PERL5LIB", lib.to_str().unwrap()),
        ],
    );
    run.expect_status(0);
    assert_eq!(staged_launches(&p.events()), 1);
    run.expect_stdout("EndMark's END block ran");
}

#[test]
fn what_a_preloaded_module_makes_in_tmpdir_outlives_each_test() {
    let p = Project::new();
    // Made once, as the module loads in the preloaded perl: the slot's
    // TMPDIR, emptied after every test, is no place for it.
    p.script(
        "lib/TmpAtLoad.pm",
        "package TmpAtLoad;\nuse File::Temp ();\nour $DIR = File::Temp::tempdir(CLEANUP => 1);\n\
         open my $f, '>', \"$DIR/made\" or die $!;\nclose $f;\n1;\n",
    );
    for i in 1..=3 {
        p.script(
            &format!("t/{}.t", i),
            "use Test::More;\nok(-e \"$TmpAtLoad::DIR/made\", 'the module\\'s file is there');\ndone_testing;\n",
        );
    }
    p.proctor(&[
        "test",
        "-j1",
        "-l",
        "--preload",
        "TmpAtLoad",
        "--preload",
        "Test::More",
    ])
    .expect_status(0);
    assert_eq!(staged_launches(&p.events()), 3);
}

/// A module under which the first test forked dies of SIGKILL before it can
/// say `launched` (its first act is to open its pipes), as the OOM killer
/// might kill it; the perl that forked it lives on.
const FIRST_TEST_DIES_EARLY: &str = r#"package DiesEarly;
require POSIX;
my $stage = $$;
my $open = \&POSIX::open;
no warnings 'redefine';
*POSIX::open = sub {
    if ($$ != $stage && !-e 'died') {
        open my $f, '>', 'died' or die;
        close $f;
        kill 'KILL', $$;
    }
    goto &$open;
};
1;
"#;

/// The auditor is such a test's parent: it audits the death at once, as a
/// test's, instead of waiting for an answer that cannot come and then taking
/// its perl for lost. (Its file, tried again without preload, passes.)
#[test]
fn a_test_killed_before_it_says_launched_fails_alone() {
    let p = Project::new();
    p.script("lib/DiesEarly.pm", FIRST_TEST_DIES_EARLY);
    three_tests(&p);
    let run = p.proctor(&["test", "-j1", "-I", "lib", "--preload", "DiesEarly", "t"]);
    assert!(p.dir.join("died").exists());
    run.expect_status(0);
    let events = p.events();
    let failed: Vec<(String, String)> = results(&events)
        .into_iter()
        .filter(|(_, result)| result != "pass")
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", results(&events));
    let end = job_end(&events, &failed[0].0);
    let reason = reasons(end);
    assert!(reason.contains("SIGKILL"), "{}", reason);
    assert_eq!(end["will_retry"], true);
    assert!(
        events.iter().all(|e| e["type"] != "stage_exit"),
        "its perl was not lost: {:?}",
        events
            .iter()
            .filter(|e| e["type"] == "stage_exit")
            .collect::<Vec<_>>()
    );
}

/// A test file that SIGSTOPs its slot's preloaded perl, so that the next
/// test, sent ahead, is held at its start, and writes the runner's pid to
/// `runner` (its auditor is the first, the runner's child) and the perl's
/// to `perl`.
const SIBLING_STOPPER: &str = r#"use Test::More;
sub read_proc { open my $f, '<', "/proc/$_[0]" or return ''; local $/; scalar <$f> }
sub parent_of { (split ' ', (split /\) /, read_proc("$_[0]/stat"))[1] // '')[1] // 0 }
sub put { open my $f, '>', "$_[0].new" or die; print $f "$_[1]\n"; close $f; rename "$_[0].new", $_[0] or die }
my $auditor = getppid();
my ($perl) = grep {
    parent_of($_) == $auditor && read_proc("$_/cmdline") =~ /stage-perl/
} grep { /^[0-9]+$/ } map { (split m{/})[-1] } glob '/proc/*';
ok($perl, 'found the preloaded perl');
kill 'STOP', $perl;
put('runner', parent_of($auditor));
put('auditor', $auditor);
put('perl', $perl);
done_testing;
"#;

/// A run of one slot whose second job, sent ahead, is held at its start
/// (its perl stopped) until the run is paused, so that its withdrawal comes
/// too late: the job has started. Returns the run, once that job runs (it
/// waits for the file `go`), and the runner's pid.
fn a_job_started_after_its_withdrawal() -> (Project, Running, String) {
    let p = Project::new();
    p.script("t/01-stops-perl.t", SIBLING_STOPPER);
    p.script(
        "t/02-held.t",
        "use Test::More;\nopen my $f, '>', 'held' or die;\nclose $f;\n\
         for (1 .. 200) { last if -e 'go'; select undef, undef, undef, 0.05 }\n\
         ok(-e 'go', 'let go');\ndone_testing;\n",
    );
    for i in 3..=6 {
        p.script(
            &format!("t/{:02}.t", i),
            "use Test::More;\nok(1);\ndone_testing;\n",
        );
    }
    let run = p.spawn(&["test", "-j1", "--preload", "Test::More"]);
    p.wait_for_file("perl");
    let (runner, perl) = (p.read_trimmed("runner"), p.read_trimmed("perl"));
    // The first test ends and its auditor takes the second, sent ahead,
    // whose start waits for the stopped perl; then the run pauses.
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill("USR1", &runner);
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill("CONT", &perl);
    p.wait_for_file("held");
    (p, run, runner)
}

/// A job withdrawn by a pause after it had started runs to its end, and the
/// next job goes to its auditor only after it: once the run resumes, no
/// other job is sent ahead in its place.
#[test]
fn a_job_that_started_before_its_withdrawal_keeps_its_auditor() {
    let (p, run, runner) = a_job_started_after_its_withdrawal();
    kill("USR2", &runner);
    // The runner resumes (and would send a job ahead) before the held test ends.
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(p.dir.join("go"), "").unwrap();
    let run = run.wait();
    let events = p.events();
    assert_each_job_ends_once_as_itself(&events);
    assert_eq!(
        results(&events)
            .iter()
            .filter(|(_, result)| result == "pass")
            .count(),
        6,
        "{:?}\n{}",
        results(&events),
        run.stderr()
    );
}

/// A job withdrawn by a pause after it had started is stopped with the run.
#[test]
fn a_job_that_started_before_its_withdrawal_stops_with_the_run() {
    let (p, run, runner) = a_job_started_after_its_withdrawal();
    kill("TERM", &runner);
    let _ = run.wait();
    std::fs::write(p.dir.join("go"), "").unwrap();
    let events = p.events();
    assert_each_job_ends_once_as_itself(&events);
    let held = reasons(job_end(&events, "t/02-held.t"));
    assert!(held.contains("interrupted"), "{}", held);
}

/// A slot's perl killed under its test, with the next test sent ahead: the
/// auditor waits for a new perl before that test can start, and the runner
/// hears first that the last one ended, so that the next counts as running
/// (a pause meanwhile does not take it back, and starts nothing new).
#[test]
fn a_job_ahead_that_waits_for_a_new_perl_runs_as_launched() {
    let p = Project::new();
    p.script("t/01-kills-perl.t", SIBLING_KILLER);
    p.script(
        "t/02-held.t",
        "use Test::More;\nopen my $f, '>', 'held' or die;\nclose $f;\n\
         for (1 .. 200) { last if -e 'go2'; select undef, undef, undef, 0.05 }\n\
         ok(-e 'go2', 'let go');\ndone_testing;\n",
    );
    p.script("t/03.t", "use Test::More;\nok(1);\ndone_testing;\n");
    // The perl started in place of the killed one says so, with the
    // runner's pid (its auditor is the first, the runner's child), and
    // gets ready only once the file `go` is there.
    p.script(
        "lib/Restarts.pm",
        r#"package Restarts;
sub read_proc { open my $f, '<', "/proc/$_[0]" or return ''; local $/; scalar <$f> }
sub parent_of { (split ' ', (split /\) /, read_proc("$_[0]/stat"))[1] // '')[1] // 0 }
if (-e 't/killed') {
    open my $f, '>', 'restarting.new' or die;
    print $f parent_of(getppid()), "\n";
    close $f;
    rename 'restarting.new', 'restarting' or die;
    for (1 .. 400) { last if -e 'go'; select undef, undef, undef, 0.05 }
}
1;
"#,
    );
    let run = p.spawn(&["test", "-j1", "-I", "lib", "--preload", "Restarts"]);
    p.wait_for_file("restarting");
    let runner = p.read_trimmed("restarting");
    kill("USR1", &runner);
    std::fs::write(p.dir.join("go"), "").unwrap();
    p.wait_for_file("held");
    // The runner's own log, as it is while the held test runs.
    let runner_log = std::fs::read_dir(p.state().join("runs"))
        .unwrap()
        .map(|d| d.unwrap().path().join("runner.ljsonl"))
        .find(|log| log.exists())
        .map(|log| std::fs::read(log).unwrap())
        .unwrap_or_default();
    let launched = String::from_utf8_lossy(&runner_log)
        .lines()
        .any(|l| l.contains(r#""type":"job_launch""#) && l.contains("t/02-held.t"));
    std::fs::write(p.dir.join("go2"), "").unwrap();
    kill("USR2", &runner);
    let run = run.wait();
    assert!(
        launched,
        "a test runs that the runner does not count as running"
    );
    let events = p.events();
    assert_each_job_ends_once_as_itself(&events);
    assert_eq!(
        events.last().unwrap()["files"]["passed"],
        3,
        "{}",
        run.stdout()
    );
}

/// The CPUs a process may run on, from its /proc status: "0-1", "0,2-3".
fn cpus_allowed(status: &str) -> Vec<usize> {
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_default()
        .trim();
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (from, to) = part.split_once('-').unwrap_or((part, part));
        cpus.extend(from.parse::<usize>().unwrap()..=to.parse::<usize>().unwrap());
    }
    cpus
}

/// A run with one slot per CPU keeps each slot's auditor (and its perl) on
/// a CPU of its own, and gives its tests all the CPUs back; a run with more
/// slots than CPUs keeps nobody anywhere.
#[test]
fn a_run_with_a_slot_per_cpu_keeps_auditors_not_tests_on_one_cpu() {
    let ours = cpus_allowed(&std::fs::read_to_string("/proc/self/status").unwrap());
    for (slots, pinned) in [(ours.len(), true), (ours.len() + 1, false)] {
        let p = Project::new();
        // The fifth runs as plain perl: its auditor starts it, not its perl.
        for i in 1..=5 {
            p.script(
                &format!("t/{}.t", i),
                &format!(
                    "{plain}use Test::More;\nsub put {{ open my $f, '>', $_[0] or die; print $f $_[1] }}\n\
                     sub status {{ open my $f, '<', qq{{/proc/$_[0]/status}} or die; local $/; <$f> }}\n\
                     put(q{{test-{i}}}, status($$));\nput(q{{auditor-{i}}}, status(getppid()));\nok(1);\ndone_testing;\n",
                    i = i,
                    plain = if i == 5 { "# HARNESS-NO-PRELOAD\n" } else { "" }
                ),
            );
        }
        let slots = slots.to_string();
        p.proctor(&["test", "-j", &slots, "--preload", "Test::More"])
            .expect_status(0);
        for i in 1..=5 {
            let read = |what: &str| {
                cpus_allowed(
                    &std::fs::read_to_string(p.dir.join(format!("{}-{}", what, i))).unwrap(),
                )
            };
            assert_eq!(read("test"), ours, "test {} with {} slots", i, slots);
            let auditor = read("auditor");
            if pinned {
                assert_eq!(auditor.len(), 1, "auditor of test {}: {:?}", i, auditor);
                assert!(ours.contains(&auditor[0]));
            } else {
                assert_eq!(auditor, ours, "auditor of test {} with {} slots", i, slots);
            }
        }
    }
}

/// A pause (SIGTSTP) that reaches an auditor while it waits for its perl to
/// start a test is not lost: the test starts paused, and goes on with the
/// auditor's SIGCONT.
#[test]
fn a_pause_while_a_test_is_being_started_holds_that_test() {
    let p = Project::new();
    p.script("t/01-stops-perl.t", SIBLING_STOPPER);
    p.script(
        "t/02-late.t",
        "use Test::More;\nselect undef, undef, undef, 1;\nopen my $f, '>', 'ran' or die;\nclose $f;\nok(1);\ndone_testing;\n",
    );
    let run = p.spawn(&["test", "-j1", "--preload", "Test::More"]);
    p.wait_for_file("perl");
    let (auditor, perl) = (p.read_trimmed("auditor"), p.read_trimmed("perl"));
    // The first test ends, and its auditor asks the stopped perl for the
    // second; the pause comes while it waits.
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill("TSTP", &auditor);
    std::thread::sleep(std::time::Duration::from_millis(300));
    kill("CONT", &perl);
    // Running, the test would leave its mark after a second.
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let ran_while_paused = p.dir.join("ran").exists();
    // (Gone already if the pause was lost and the run ended.)
    let _ = Command::new("kill").args(["-CONT", &auditor]).status();
    let run = run.wait();
    assert!(
        !ran_while_paused,
        "the test ran while its auditor was paused"
    );
    run.expect_status(0);
    assert!(p.dir.join("ran").exists());
}

/// The lines each file wrote to stdout, by file, as the event log has them.
fn stdout_lines_by_file(events: &[serde_json::Value]) -> Vec<(String, Vec<String>)> {
    let mut files: Vec<(u64, String, Vec<String>)> = events
        .iter()
        .filter(|e| e["type"] == "job_launch")
        .map(|e| {
            (
                e["job"].as_u64().unwrap(),
                e["file"].as_str().unwrap().to_string(),
                vec![],
            )
        })
        .collect();
    for e in events
        .iter()
        .filter(|e| e["line"].is_string() && e["stream"] != "stderr")
    {
        let job = e["job"].as_u64();
        if let Some(file) = files.iter_mut().find(|f| Some(f.0) == job) {
            file.2.push(e["line"].as_str().unwrap().to_string());
        }
    }
    let mut by_file: Vec<(String, Vec<String>)> =
        files.into_iter().map(|(_, f, l)| (f, l)).collect();
    by_file.sort();
    by_file
}

/// Runs each (name, body) as t/NAME.t under `perl FILE` and preloaded, and
/// checks that each wrote the same lines to stdout both ways.
fn assert_preloaded_output_is_perls(cases: &[(&str, &str)]) -> Project {
    let p = Project::new();
    for (name, body) in cases {
        p.script(&format!("t/{}.t", name), body);
    }
    let mut expected: Vec<(String, Vec<String>)> = cases
        .iter()
        .map(|(name, _)| {
            let file = format!("t/{}.t", name);
            let out = Command::new("perl")
                .arg(&file)
                .current_dir(&p.dir)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let lines = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect();
            (file, lines)
        })
        .collect();
    expected.sort();
    p.proctor(&["test", "-j2", "--preload", "Test::More", "t"]);
    let events = p.events();
    assert_eq!(
        staged_launches(&events),
        cases.len(),
        "every file ran preloaded"
    );
    let got: Vec<(String, Vec<String>)> = stdout_lines_by_file(&events)
        .into_iter()
        .map(|(f, lines)| {
            (
                f,
                lines
                    .iter()
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .collect(),
            )
        })
        .collect();
    for ((file, want), (_, have)) in expected.iter().zip(&got) {
        assert_eq!(have, want, "{}", file);
    }
    assert_eq!(got.len(), expected.len());
    p
}

/// A top-level file's `__END__` opens main::DATA under `perl FILE`, where
/// the lexer meets it as a token (not in POD or a heredoc), whatever the
/// package; `__DATA__` opens the package's own.
#[test]
fn a_preloaded_test_reads_main_data_after_end_as_perl_file_does() {
    let p = assert_preloaded_output_is_perls(&[
        (
            "package",
            "print \"1..1\\n\";\npackage Foo;\nmy @l = <main::DATA>;\nprint \"ok 1 - \", scalar(@l), \" lines, first $l[0]\";\n__END__\ndata one\ndata two\n",
        ),
        (
            "data",
            "print \"1..2\\n\";\nprint \"ok 1 - main::DATA \", (defined fileno(main::DATA) ? 'open' : 'closed'), \"\\n\";\n\
             package Foo;\nprint \"ok 2 - \", scalar <Foo::DATA>;\n__DATA__\nFoo's own\n",
        ),
        (
            "pod_heredoc",
            "print \"1..1\\n\";\n\n=pod\n\n__END__\n\n=cut\n\nmy $x = <<'E';\n__END__\nE\nprint \"ok 1 - \", scalar <DATA>;\n__END__\nafter the real one\n",
        ),
        (
            "crlf",
            "print \"1..1\\n\";\r\nmy $l = <DATA>;\r\n$l =~ s/\\r/CR/;\r\nprint \"ok 1 - $l\";\r\n__END__\r\ncrlf data\r\n",
        ),
        (
            "tell_seek",
            "print \"1..3\\n\";\nprint \"ok 1 - tell \", tell(DATA), \"\\n\";\nmy $first = <DATA>;\nprint \"ok 2 - $. $first\";\n\
             seek DATA, 0, 0;\nprint \"ok 3 - again \", scalar <DATA>;\n__END__\nthe data\n",
        ),
        (
            "utf8",
            "use utf8;\nprint \"1..1\\n\";\nmy $l = <DATA>;\nprint \"ok 1 - length \", length($l), \"\\n\";\n__END__\n\u{e9}t\u{e9}\n",
        ),
        (
            "mid_line",
            "print \"1..1\\n\"; print \"ok 1 - \", scalar <DATA>; __END__ rest of the line\nnext line\n",
        ),
        (
            "in_a_string",
            "print \"1..1\\n\";\nmy $s = '__END__';\nprint \"ok 1 - DATA \", (defined fileno(DATA) ? 'open' : 'closed'), \"\\n\";\n",
        ),
        (
            "pod_at_the_end",
            "print \"1..1\\n\";\nprint \"ok 1 - DATA \", (defined fileno(DATA) ? 'open' : 'closed'), \"\\n\";\n\n=pod\n\n__END__\n",
        ),
        (
            "begin",
            "BEGIN { print \"1..2\\nok 1 - in BEGIN DATA \", (defined fileno(DATA) ? 'open' : 'closed'), \"\\n\" }\n\
             print \"ok 2 - \", scalar <DATA>;\n__END__\nlate\n",
        ),
        (
            "test_more",
            "use Test::More;\nmy @l = <DATA>;\nis(scalar @l, 2, 'two lines');\nis($l[1], \"two\\n\", 'the second');\ndone_testing;\n__END__\none\ntwo\n",
        ),
    ]);
    // A name perl's `do` would not look up in @INC.
    let file = p.dir.join("t/test_more.t");
    p.proctor(&["test", "--preload", "Test::More", file.to_str().unwrap()])
        .expect_status(0);
    assert_eq!(staged_launches(&p.events()), 1);
}

/// The yath headers hold for a preloaded file as for any other.
#[test]
fn a_preloaded_file_keeps_its_harness_headers() {
    let p = Project::new();
    p.script(
        "t/silent.t",
        "# HARNESS-TIMEOUT-EVENT 1\n# HARNESS-NO-RETRY\nuse Test::More;\nok(1);\nsleep 60;\ndone_testing;\n",
    );
    p.proctor(&["test", "--preload", "Test::More", "--retry", "2"])
        .expect_status(1);
    let events = p.events();
    assert_eq!(staged_launches(&events), 1, "it ran preloaded, once");
    let why = reasons(job_end(&events, "t/silent.t"));
    assert!(why.contains("no output for 1 s"), "{}", why);
}
