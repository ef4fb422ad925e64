//! The persistent runner: start, run (twice, at once, failing), status, reload,
//! stop; its socket's directory is its user's alone, and a stale one is replaced.

use crate::common::*;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// A started persistent runner, stopped when the test ends however it ends.
struct Started<'a> {
    p: &'a Project,
}

impl<'a> Started<'a> {
    fn new(p: &'a Project, preload: bool) -> Started<'a> {
        let mut args = vec!["start"];
        if preload {
            args.extend(["--preload", "Test::More"]);
        }
        let run = p.proctor(&args);
        run.expect_status(0);
        run.expect_stdout("persistent runner started");
        Started { p }
    }
}

/// The persistent runner's pid, from its pid file.
fn runner_pid(p: &Project) -> String {
    std::fs::read_to_string(p.state().join("runner/pid"))
        .unwrap()
        .trim()
        .to_string()
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        let _ = self.p.proctor(&["stop"]);
        let pid = std::fs::read_to_string(self.p.state().join("runner/pid")).unwrap_or_default();
        let pid = pid.trim();
        if !pid.is_empty() {
            wait_until("the persistent runner to end", || gone(pid));
        }
    }
}

fn perl_suite(p: &Project) {
    for i in 1..=3 {
        p.script(
            &format!("t/{}.t", i),
            &format!("use Test::More;\nis($0, q{{t/{}.t}});\ndone_testing;\n", i),
        );
    }
}

#[test]
fn runs_share_a_preloaded_runner_that_outlives_them() {
    let p = Project::new();
    perl_suite(&p);
    let _runner = Started::new(&p, true);
    let mode = std::fs::metadata(p.state().join("runner"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o700,
        "the socket's directory is its user's alone"
    );

    p.proctor(&["run", "-j2"]).expect_status(0);
    let events = p.events();
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "job_launch" && e["staged"] == true)
            .count(),
        3
    );
    let status = p.proctor(&["status"]);
    status.expect_status(0);
    status.expect_stdout("stage: perl (pid");

    // A failing run ends only itself.
    p.script(
        "t/4-fails.t",
        "use Test::More;\nok(0, 'broken');\ndone_testing;\n",
    );
    p.proctor(&["run"]).expect_status(1);
    std::fs::remove_file(p.dir.join("t/4-fails.t")).unwrap();
    p.proctor(&["reload"]).expect_status(0);
    p.proctor(&["run"]).expect_status(0);
    assert_eq!(p.events().last().unwrap()["files"]["passed"], 3);
}

#[test]
fn two_runs_at_once_both_finish() {
    let p = Project::new();
    perl_suite(&p);
    let _runner = Started::new(&p, true);
    let a = p.spawn(&["run", "--no-log"]);
    let b = p.spawn(&["run", "--no-log"]);
    let (a, b) = (a.wait(), b.wait());
    a.expect_status(0);
    b.expect_status(0);
    assert!(a.stdout().contains("Files: 3 passed") && b.stdout().contains("Files: 3 passed"));
}

#[test]
fn without_a_runner_run_and_status_say_what_to_do() {
    let p = Project::new();
    perl_suite(&p);
    for args in [&["run"][..], &["status"][..], &["stop"][..]] {
        let run = p.proctor(args);
        run.expect_status(2)
            .expect_stderr("start one with 'proctor start'");
    }
}

#[test]
fn a_second_start_is_refused_and_a_stale_socket_replaced() {
    let p = Project::new();
    perl_suite(&p);
    {
        let _runner = Started::new(&p, false);
        let again = p.proctor(&["start"]);
        again.expect_status(2).expect_stderr("already running");
        // Killed without a word: its socket stays behind.
        kill("KILL", &runner_pid(&p));
        wait_until("the socket to go quiet", || {
            p.proctor(&["status"]).status() == 2
        });
        assert!(p.state().join("runner/control.sock").exists());
    }
    let _runner = Started::new(&p, false);
    p.proctor(&["run", "--exec", "perl"]).expect_status(0);
}

#[test]
fn another_user_is_refused() {
    let p = Project::new();
    let root = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&root.stdout).trim() != "0"
        || Command::new("setpriv").arg("--version").output().is_err()
    {
        eprintln!("note: needs root and setpriv to act as another user; skipped");
        return;
    }
    perl_suite(&p);
    let _runner = Started::new(&p, false);
    // Not nobody: faults.rs runs as nobody under a process limit, which a
    // process of this test beside it would count against.
    let out = Command::new("setpriv")
        .args(["--reuid=daemon", "--regid=daemon", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_proctor"))
        .args(["status", "--state-dir"])
        .arg(p.state())
        .env("HOME", &p.dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("control.sock") && err.contains("denied"),
        "{}",
        err
    );
}

#[test]
fn a_run_runs_where_it_was_asked_from() {
    let p = Project::new();
    perl_suite(&p);
    // Started from elsewhere: the run's own directory still counts.
    p.proctor_in(Path::new("/"), &["start", "--preload", "Test::More"], &[])
        .expect_status(0);
    let runner = Started { p: &p };
    p.proctor(&["run", "t"]).expect_status(0);
    drop(runner);
}

#[test]
fn runs_use_the_perl_the_runner_preloaded() {
    let p = Project::new();
    // A module in lib/ (found through start's -l) that counts its loads.
    let loads = p.dir.join("loads");
    p.script(
        "lib/CountLoads.pm",
        &format!(
            "package CountLoads;\nopen my $f, '>>', q{{{}}} or die;\nprint $f qq{{$$\\n}};\nclose $f;\n1;\n",
            loads.display()
        ),
    );
    p.script(
        "t/1.t",
        "use Test::More;\nok($INC{'CountLoads.pm'}, 'preloaded');\ndone_testing;\n",
    );
    let started = p.proctor(&["start", "-l", "--preload", "CountLoads"]);
    started.expect_status(0);
    let runner = Started { p: &p };
    p.proctor(&["run", "t"]).expect_status(0);
    p.proctor(&["run", "t"]).expect_status(0);
    // Asked from elsewhere, a run's tests run there, in the same perl.
    let elsewhere = p.dir.join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("t")).unwrap();
    std::fs::write(
        elsewhere.join("t/2.t"),
        format!(
            "use Test::More;\nuse Cwd;\nis(getcwd(), q{{{}}}, 'runs where asked');\nok($INC{{'CountLoads.pm'}});\ndone_testing;\n",
            elsewhere.display()
        ),
    )
    .unwrap();
    p.proctor_in(&elsewhere, &["run", "t"], &[])
        .expect_status(0);
    drop(runner);
    let count = std::fs::read_to_string(&loads).unwrap().lines().count();
    assert_eq!(count, 1, "the module was loaded once, by the runner's perl");
}

#[test]
fn a_run_that_gives_no_jobs_takes_the_runners() {
    let p = Project::new();
    perl_suite(&p);
    p.proctor(&["start", "-j", "0"]).expect_status(2);
    let started = p.proctor(&["start", "-j", "3", "--preload", "Test::More"]);
    started.expect_status(0);
    let runner = Started { p: &p };
    let slots = |p: &Project| {
        let events = p.events();
        let start = events
            .iter()
            .find(|e| e["type"] == "run_start")
            .expect("a run_start record");
        start["slots"].as_u64()
    };
    p.proctor(&["run"]).expect_status(0);
    assert_eq!(slots(&p), Some(3));
    // Its own -j comes first.
    p.proctor(&["run", "-j1"]).expect_status(0);
    assert_eq!(slots(&p), Some(1));
    drop(runner);
}

#[test]
fn a_preloaded_test_has_its_runs_environment() {
    let p = Project::new();
    p.script(
        "t/env.t",
        "use Test::More;\nis($ENV{FOR_THIS_RUN}, 'yes', 'set for the run');\n\
         ok(!exists $ENV{ONLY_AT_START}, 'gone since the runner started');\n\
         ok($INC{'Test/More.pm'}, 'in the runner\\'s perl');\ndone_testing;\n",
    );
    let started = p.proctor_with_env(
        &["start", "--preload", "Test::More"],
        &[("ONLY_AT_START", "1")],
    );
    started.expect_status(0);
    let runner = Started { p: &p };
    p.proctor_with_env(&["run"], &[("FOR_THIS_RUN", "yes")])
        .expect_status(0);
    assert_eq!(
        p.events()
            .iter()
            .filter(|e| e["type"] == "job_launch" && e["staged"] == true)
            .count(),
        1
    );
    drop(runner);
}

#[test]
fn start_preloads_and_says_when_it_cannot() {
    let p = Project::new();
    let failed = p.proctor(&["start", "--preload", "No::Such::Module"]);
    failed.expect_status(2);
    assert!(
        failed.stderr().contains("could not preload")
            && failed.stderr().contains("No/Such/Module.pm"),
        "{}",
        failed.stderr()
    );
    assert_eq!(failed.stderr().lines().count(), 1, "{}", failed.stderr());
    // Nothing is left running.
    let status = p.proctor(&["status"]);
    status
        .expect_status(2)
        .expect_stderr("no persistent runner");

    // A perl that can preload is ready before start returns.
    let runner = Started::new(&p, true);
    let status = p.proctor(&["status"]);
    status.expect_status(0);
    status.expect_stdout("stage: perl (pid");
    // Stopped, it is gone: a start right after finds no runner in the way.
    p.proctor(&["stop"]).expect_status(0);
    let again = Started::new(&p, false);
    drop(again);
    drop(runner);
}

/// The pid of the runner's perl, as `proctor status` tells it.
fn stage_pid(p: &Project) -> String {
    let status = p.proctor(&["status"]);
    status.expect_status(0);
    let out = status.stdout();
    out.split("stage: perl (pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no stage pid in {}", out))
        .to_string()
}

#[test]
fn a_run_ends_when_the_runners_perl_dies_under_its_test() {
    let p = Project::new();
    p.script(
        "t/slow.t",
        "use Test::More;\nopen my $f, '>', 'started' or die;\nclose $f;\nsleep 2;\nok(1, 'outlived its perl');\ndone_testing;\n",
    );
    let runner = Started::new(&p, true);
    let mut run = p.spawn(&["run"]);
    p.wait_for_file("started");
    // Its test's auditor is no child of the run's runner: with the perl that
    // forked it gone, the run hears of its end some other way.
    kill("KILL", &stage_pid(&p));
    wait_until("the run to end", || run.child.try_wait().unwrap().is_some());
    let run = run.wait();
    run.expect_status(0);
    run.expect_stdout("Files: 1 passed");
    drop(runner);
}

#[test]
fn a_preloaded_test_has_its_runs_variables_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let p = Project::new();
    p.script(
        "t/raw.t",
        "use Test::More;\nis($ENV{RAW}, qq{a\\xffb}, 'the run\\'s bytes');\n\
         is($ENV{RAW_NEW}, qq{\\xfe}, 'set for the run alone');\ndone_testing;\n",
    );
    let started = p.proctor_with_env(&["start", "--preload", "Test::More"], &[("RAW", "x")]);
    started.expect_status(0);
    let runner = Started { p: &p };
    p.proctor_in(
        &p.dir,
        &["run"],
        &[
            ("RAW", OsStr::from_bytes(b"a\xffb")),
            ("RAW_NEW", OsStr::from_bytes(b"\xfe")),
        ],
    )
    .expect_status(0);
    drop(runner);
}

/// A runner that does not answer (stopped here, as a hung one would be):
/// `status` says so instead of waiting for ever, and `stop` ends it.
#[test]
fn a_hung_runner_is_reported_and_stop_ends_it() {
    let p = Project::new();
    let _runner = Started::new(&p, false);
    let pid = runner_pid(&p);
    kill("STOP", &pid);
    let status = p.proctor(&["status"]);
    status.expect_status(2);
    assert!(
        status
            .stderr()
            .contains(&format!("(pid {}) did not answer", pid)),
        "{}",
        status.stderr()
    );
    let stop = p.proctor(&["stop"]);
    stop.expect_status(0).expect_stderr("ended it with SIG");
    assert!(gone(&pid), "still there: {}", pid);
}

/// A large run repays a preload in each slot: its tests are forked from
/// perls of the slots' own (with what the runner preloads, from its -l
/// directory too), where a small run uses the runner's perl. The rule is
/// 2 ms a file against the time the runner's perl took to get ready: 1000
/// files allow it 2 s, which a preload of Test::More takes only on a machine
/// far busier than any test run (200 files' 0.4 s it took under load).
#[test]
fn a_large_run_preloads_in_each_slot_a_small_one_uses_the_runners_perl() {
    const FILES: usize = 1000;
    let p = Project::new();
    p.script(
        "lib/Marked.pm",
        "package Marked;\nour $loaded_in = $$;\n1;\n",
    );
    let body = "use Test::More;\nok(defined $Marked::loaded_in, 'preloaded');\nisnt($Marked::loaded_in, $$, 'in another process');\ndone_testing;\n";
    p.scripts((1..=FILES).map(|i| (format!("t/{:04}.t", i), body)));
    let started = p.proctor(&[
        "start",
        "-l",
        "--preload",
        "Test::More",
        "--preload",
        "Marked",
    ]);
    started.expect_status(0);
    let _runner = Started { p: &p };
    let launches = |events: &[serde_json::Value]| -> (usize, usize) {
        let staged = events
            .iter()
            .filter(|e| e["type"] == "job_launch" && e["staged"] == true);
        // A slot's own perl's test runs in its auditor's log; the runner's
        // perl's in a directory of its own.
        staged.fold((0, 0), |(own, kept), e| {
            if e["dir"].is_string() {
                (own, kept + 1)
            } else {
                (own + 1, kept)
            }
        })
    };
    p.proctor(&["run", "-j2", "t"]).expect_status(0);
    let events = p.events();
    assert_eq!(launches(&events), (FILES, 0));
    assert_eq!(
        events.iter().filter(|e| e["type"] == "stage_ready").count(),
        2,
        "a perl for each slot"
    );
    p.proctor(&["run", "-j2", "t/0001.t", "t/0002.t"])
        .expect_status(0);
    assert_eq!(launches(&p.events()), (0, 2));
}

/// A run's runner, forked from the persistent runner, keeps none of its
/// listening socket: once the persistent runner is gone (killed), nobody
/// answers there, even while a run goes on, and `status` says so instead of
/// taking the dead runner's pid for a hung runner's (which `stop` would kill,
/// whatever process had it by then).
#[test]
fn a_killed_runner_leaves_no_one_listening_while_its_run_goes_on() {
    let p = Project::new();
    p.script(
        "t/wait.t",
        "use Test::More;\nopen my $f, '>', 'started' or die;\nclose $f;\n\
         select undef, undef, undef, 0.05 until -e 'go';\nok(1);\ndone_testing;\n",
    );
    p.proctor(&["start"]).expect_status(0);
    let pid = runner_pid(&p);
    let run = p.spawn(&["run", "t"]);
    p.wait_for_file("started");
    kill("KILL", &pid);
    wait_until("the persistent runner to die", || gone(&pid));
    let status = p.proctor(&["status"]);
    std::fs::write(p.dir.join("go"), "").unwrap();
    run.wait().expect_status(0);
    status
        .expect_status(2)
        .expect_stderr("no persistent runner here");
}

/// A run asked from another directory than the runner's runs there in
/// every slot: its standing auditors, forked before its runner enters that
/// directory, go there too (with them, a large run's perls and their tests).
#[test]
fn every_slot_of_a_large_run_runs_where_it_was_asked_from() {
    let p = Project::new();
    let elsewhere = p.dir.join("elsewhere");
    for i in 1..=400 {
        p.script(
            &format!("elsewhere/t/{:03}.t", i),
            &format!(
                "use Test::More;\nok(-e 't/{:03}.t', 'in the directory asked from');\ndone_testing;\n",
                i
            ),
        );
    }
    p.proctor(&["start"]).expect_status(0);
    let runner = Started { p: &p };
    p.proctor_in(&elsewhere, &["run", "-j2", "t"], &[])
        .expect_status(0);
    p.proctor_in(&elsewhere, &["run", "-j2", "t/001.t", "t/002.t"], &[])
        .expect_status(0);
    drop(runner);
    p.proctor(&["start", "--preload", "Test::More"])
        .expect_status(0);
    let _runner = Started { p: &p };
    p.proctor_in(&elsewhere, &["run", "-j2", "t"], &[])
        .expect_status(0);
}

/// A large run's perls preload what the runner's perl did, found where it
/// found it: in its -l directory, relative to where the runner was started,
/// and in the PERL5LIB it was started with, whichever directory the run is
/// asked from and whatever its own PERL5LIB. (Large enough that its jobs
/// save more than the kept perl took to get ready even on a busy machine,
/// where that perl is slow to start: 400 jobs at 2 ms, 800 ms.)
#[test]
fn a_large_run_asked_from_elsewhere_preloads_what_the_runner_did() {
    let p = Project::new();
    p.script(
        "lib/Marked.pm",
        "package Marked;\nour $loaded_in = $$;\n1;\n",
    );
    p.script(
        "extra/Extra.pm",
        "package Extra;\nour $loaded_in = $$;\n1;\n",
    );
    let elsewhere = p.dir.join("elsewhere");
    for i in 1..=400 {
        p.script(
            &format!("elsewhere/t/{:03}.t", i),
            "use Test::More;\nok(defined $Marked::loaded_in, 'preloaded');\n\
             ok(defined $Extra::loaded_in, 'preloaded too');\ndone_testing;\n",
        );
    }
    let extra = p.dir.join("extra");
    let started = p.proctor_with_env(
        &["start", "-l", "--preload", "Marked", "--preload", "Extra"],
        &[("PERL5LIB", extra.to_str().unwrap())],
    );
    started.expect_status(0);
    let _runner = Started { p: &p };
    p.proctor_in(&elsewhere, &["run", "-j2", "t"], &[])
        .expect_status(0);
    let events = p.events();
    assert_eq!(
        events.iter().filter(|e| e["type"] == "stage_ready").count(),
        2,
        "a perl for each slot"
    );
}

/// Seen from another PID namespace (a container sharing the project), the
/// runner has no pid (SO_PEERCRED says 0): `stop` cannot end a hung one from
/// there, and says so, rather than signal pid 0, its own process group, and
/// report the runner ended. (Skipped where no PID namespace can be made.)
#[test]
fn stop_from_another_pid_namespace_signals_nobody() {
    let in_namespace = |p: &Project, args: &[&str]| {
        Command::new("setsid")
            .args(["unshare", "--pid", "--fork"])
            .arg(env!("CARGO_BIN_EXE_proctor"))
            .args(args)
            .current_dir(&p.dir)
            .env("PROCTOR_STATE_DIR", p.state())
            .output()
            .unwrap()
    };
    let p = Project::new();
    if !in_namespace(&p, &["--version"]).status.success() {
        eprintln!("skipped: no PID namespace here");
        return;
    }
    let runner = Started::new(&p, false);
    let pid = runner_pid(&p);
    kill("STOP", &pid);
    let stop = in_namespace(&p, &["stop"]);
    let state = process_state_of(&pid);
    kill("CONT", &pid);
    let stderr = String::from_utf8_lossy(&stop.stderr);
    assert_eq!(stop.status.code(), Some(2), "{}", stderr);
    assert!(!stderr.contains("ended it"), "{}", stderr);
    assert_eq!(state, Some('T'), "the runner is as it was");
    drop(runner);
}

/// The state letter of the process `pid`, from its /proc stat.
fn process_state_of(pid: &str) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// A small run in the runner's perl finds its modules where its own -I
/// (its PERL5LIB) says, as a large run's perls, started with it, do.
#[test]
fn a_run_in_the_runners_perl_finds_modules_in_its_own_include_dirs() {
    let p = Project::new();
    p.script("t/lib/Helper.pm", "package Helper;\n1;\n");
    p.script(
        "t/1.t",
        "use Test::More;\nuse Helper;\nok($INC{'Test/More.pm'});\ndone_testing;\n",
    );
    let _runner = Started::new(&p, true);
    p.proctor(&["run", "-I", "t/lib", "t/1.t"]).expect_status(0);
    assert_eq!(
        p.events()
            .iter()
            .filter(|e| e["type"] == "job_launch" && e["staged"] == true)
            .count(),
        1
    );
}

/// A client that connects and says nothing yet (a `proctor run` still
/// finding its files, say) holds up no other: `status` is answered at once,
/// not taken for a hung runner's silence (which `stop` would end).
#[test]
fn a_client_that_says_nothing_yet_holds_up_no_other() {
    let p = Project::new();
    let _runner = Started::new(&p, false);
    let socket = p.state().join("runner/control.sock");
    let idle = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    let status = p.proctor(&["status"]);
    status.expect_status(0);
    status.expect_stdout("persistent runner: pid");
    drop(idle);
}

/// The kept stage's auditors hold the persistent runner's lifeline; one
/// started for a run ends its test when that run's runner dies too.
#[test]
fn a_killed_runs_runner_takes_its_preloaded_tests_with_it() {
    let p = Project::new();
    p.script(
        "t/slow.t",
        "use Test::More;\nok(1);\nopen my $f, '>', 'pid' or die;\nprint $f $$;\n\
         close $f;\nsleep 300;\ndone_testing;\n",
    );
    let _runner = Started::new(&p, true);
    let run = p.spawn(&["run", "t"]);
    p.wait_for_file("pid");
    wait_until("the test to write its pid", || {
        !p.read_trimmed("pid").is_empty()
    });
    let test = p.read_trimmed("pid");
    let daemon = runner_pid(&p);
    // The run's runner is the daemon's child named proctor (its stage is perl).
    let runs_runner = children_named(&daemon, "proctor");
    assert_eq!(runs_runner.len(), 1, "{:?}", runs_runner);
    kill("KILL", &runs_runner[0]);
    wait_until("the preloaded test to end with its run's runner", || {
        gone(&test)
    });
    run.wait().expect_status(3);
}

/// `proctor run` reads .proctorrc as `proctor test` does, but for a
/// `--preload` meant for `proctor test` (its runner preloads as started).
#[test]
fn a_run_reads_the_proctorrc_as_test_does() {
    let p = Project::new();
    p.script("t/a.t", "print qq{1..1\\nok 1 - [$ENV{MODE}]\\n};\n")
        .script("t/quiet.t", "sleep 3; print qq{1..1\\nok 1\\n};\n");
    std::fs::write(
        p.dir.join(".proctorrc"),
        "--preload Test::More -v\n[t/a.t]\nenv = MODE=fast\n[t/quiet.t]\nevent-timeout = 0.5\n",
    )
    .unwrap();
    let runner = Started::new(&p, false);
    let run = p.proctor(&["run"]);
    run.expect_status(1).expect_stdout("ok 1 - [fast]");
    assert!(!run.stderr().contains("--preload"), "{}", run.stderr());
    let why = reasons(job_end(&p.events(), "t/quiet.t"));
    assert!(why.contains("no output for 0.5 s"), "{}", why);
    p.proctor(&["run", "--explain", "t/a.t"])
        .expect_status(0)
        .expect_stdout("env = MODE=fast  (.proctorrc:3 [t/a.t])\n");
    drop(runner);
}
