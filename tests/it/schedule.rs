//! Order, repetition and state: retries and flaky files, isolation, durations
//! from the last run, --failed, partitions, rc files and prove's environment.

use crate::common::*;
use serde_json::Value;
use std::collections::HashMap;

fn queued_files(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "job_queued")
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect()
}

fn launched_files(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "job_launch")
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect()
}

fn flaky_suite() -> Project {
    let p = Project::new();
    p.script("t/flaky.t", FLAKY)
        .script("t/steady.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    p
}

/// The row of `proctor times` for `file` with this note, split in columns.
fn times_row(p: &Project, file: &str) -> Vec<String> {
    let times = p.proctor(&["times"]);
    times.expect_status(0);
    let stdout = times.stdout();
    let row = stdout
        .lines()
        .find(|l| l.contains(file))
        .unwrap_or_else(|| panic!("no row for {}:\n{}", file, stdout));
    row.split_whitespace().map(String::from).collect()
}

#[test]
fn a_flaky_file_passes_on_retry_and_is_reported() {
    let p = flaky_suite();
    let run = p.proctor(&["test", "--retry", "2", "--junit", "junit.xml"]);
    run.expect_status(0);
    let out = run.stdout();
    assert!(
        out.contains("t/flaky.t ... Failed 1/1 subtests (try 1; it will be tried again)"),
        "{}",
        out
    );
    assert!(
        out.contains("t/flaky.t ... ok (flaky: passed on try 2)"),
        "{}",
        out
    );
    assert!(
        out.contains("Flaky (passed only on a retry): t/flaky.t"),
        "{}",
        out
    );
    assert!(
        out.ends_with("Result: PASS\nFiles: 2 passed, 0 failed, 0 skipped\n"),
        "{}",
        out
    );
    let events = p.events();
    let ends: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "job_end" && e["file"] == "t/flaky.t")
        .collect();
    assert_eq!(ends.len(), 2);
    assert_eq!(
        (ends[0]["try"].as_u64(), ends[0]["will_retry"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(
        (&ends[1]["try"], &ends[1]["result"], &ends[1]["flaky"]),
        (&2.into(), &"pass".into(), &true.into())
    );
    let end = events.last().unwrap();
    assert_eq!(end["flaky"], serde_json::json!(["t/flaky.t"]));
    assert_eq!(
        (&end["result"], &end["files"]["failed"]),
        (&"pass".into(), &0.into())
    );

    // Everything that reads the run says the same: a pass, named flaky.
    assert_eq!(p.proctor(&["failed", "--brief"]).stdout(), "");
    assert_eq!(
        times_row(&p, "(try 2, flaky)")[4..],
        ["pass", "t/flaky.t", "(try", "2,", "flaky)"]
    );
    assert_eq!(
        times_row(&p, "(try 1, tried again)")[4..6],
        ["fail", "t/flaky.t"]
    );
    let xml = std::fs::read_to_string(p.dir.join("junit.xml")).unwrap();
    assert!(
        xml.contains("<testsuites name=\"proctor\" tests=\"2\" failures=\"0\" errors=\"0\""),
        "{}",
        xml
    );
    let replay = p.proctor(&["replay"]);
    replay.expect_status(0);
    assert_eq!(replay.stdout(), out);
}

#[test]
fn under_flaky_fails_a_flaky_file_is_a_failed_file_everywhere() {
    let p = flaky_suite();
    let run = p.proctor(&[
        "test",
        "--retry",
        "1",
        "--flaky-fails",
        "--junit",
        "junit.xml",
    ]);
    run.expect_status(1);
    let out = run.stdout();
    let rule = "flaky: failed, then passed on try 2; --flaky-fails makes that a failure";
    assert!(
        out.contains(&format!(
            "t/flaky.t ... Failed: {}\n    try 1 failed: failed 1 of 1 tests: 1\n",
            rule
        )),
        "{}",
        out
    );
    assert!(
        out.contains("\nTest Summary Report\n-------------------\nt/flaky.t "),
        "{}",
        out
    );
    assert!(
        out.ends_with("Result: FAIL\nFiles: 1 passed, 1 failed, 0 skipped\n"),
        "{}",
        out
    );

    // The event log: the final job_end and run_end say it failed.
    let events = p.events();
    let last_try = events
        .iter()
        .rfind(|e| e["type"] == "job_end" && e["file"] == "t/flaky.t")
        .unwrap();
    assert_eq!(
        (&last_try["try"], &last_try["result"], &last_try["flaky"]),
        (&2.into(), &"fail".into(), &true.into())
    );
    assert_eq!(
        reasons(last_try),
        format!("{} | try 1 failed: failed 1 of 1 tests: 1", rule)
    );
    let end = events.last().unwrap();
    assert_eq!(end["type"], "run_end");
    assert_eq!(
        (
            &end["result"],
            &end["files"]["passed"],
            &end["files"]["failed"]
        ),
        (&"fail".into(), &1.into(), &1.into())
    );
    assert_eq!(end["flaky"], serde_json::json!(["t/flaky.t"]));

    // `failed`, in each of its forms.
    assert_eq!(p.proctor(&["failed", "--brief"]).stdout(), "t/flaky.t\n");
    assert_eq!(
        p.proctor(&["failed", "-v"]).stdout(),
        format!(
            "t/flaky.t\n    {}\n    try 1 failed: failed 1 of 1 tests: 1\n",
            rule
        )
    );
    let json: Value = serde_json::from_str(&p.proctor(&["failed", "--json"]).stdout()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1, "{}", json);
    assert_eq!(
        (&json[0]["file"], &json[0]["flaky"]),
        (&"t/flaky.t".into(), &true.into())
    );
    assert_eq!(json[0]["reasons"][0], rule);

    // `times`: the failed try, and the flaky one, both failures.
    assert_eq!(times_row(&p, "(try 2, flaky)")[4..6], ["fail", "t/flaky.t"]);
    assert_eq!(times_row(&p, "t/steady.t")[4..], ["pass", "t/steady.t"]);

    // JUnit: one failure, the file's, saying why.
    let xml = std::fs::read_to_string(p.dir.join("junit.xml")).unwrap();
    assert!(
        xml.contains("<testsuites name=\"proctor\" tests=\"3\" failures=\"1\" errors=\"0\""),
        "{}",
        xml
    );
    assert!(
        xml.contains("<testsuite name=\"t/flaky.t\" tests=\"2\" failures=\"1\" errors=\"0\""),
        "{}",
        xml
    );
    assert!(
        xml.contains(&format!("<testcase classname=\"t/flaky.t\" name=\"(file)\" time=\"0.000\">\n      <failure message=\"{}\" type=\"flaky\">", rule)),
        "{}",
        xml
    );

    // The log shown again, and its JUnit made again, say the same.
    let replay = p.proctor(&["replay", "--junit", "again.xml"]);
    replay.expect_status(1);
    assert_eq!(replay.stdout(), out);
    let again = std::fs::read_to_string(p.dir.join("again.xml")).unwrap();
    assert!(again.contains("failures=\"1\" errors=\"0\""), "{}", again);

    // And the next `--failed` run takes it as a failed file.
    let rerun = p.proctor(&["test", "--failed"]);
    rerun.expect_status(0);
    rerun.expect_stdout("Files: 1 passed, 0 failed");
}

/// A log written before job_end said `flaky`: its readers still read it, and
/// still name the file flaky.
#[test]
fn a_log_from_before_flaky_was_recorded_still_reads() {
    let p = Project::new();
    let log = concat!(
        r#"{"type":"run_start","stamp":1700000000.0}"#,
        "\n",
        r#"{"type":"job_launch","job":1,"try":1,"file":"t/flaky.t","stamp":1700000000.0}"#,
        "\n",
        r#"{"type":"job_end","job":1,"try":1,"file":"t/flaky.t","result":"fail","reasons":["failed 1 of 1 tests: 1"],"counts":{"run":1,"failed":1},"duration":0.1,"will_retry":true}"#,
        "\n",
        r#"{"type":"job_launch","job":1,"try":2,"file":"t/flaky.t","stamp":1700000000.0}"#,
        "\n",
        r#"{"type":"job_end","job":1,"try":2,"file":"t/flaky.t","result":"pass","reasons":[],"counts":{"run":1,"failed":0},"duration":0.1,"will_retry":false}"#,
        "\n",
        r#"{"type":"run_end","result":"pass","files":{"total":1,"passed":1,"failed":0,"skipped":0,"cancelled":0},"tests":{"run":1,"failed":0},"wall":0.3,"user":0,"system":0,"retried":1,"flaky":["t/flaky.t"],"bailed":null,"interrupted":null}"#,
        "\n",
    );
    std::fs::write(p.dir.join("old.jsonl"), log).unwrap();
    let replay = p.proctor(&["replay", "old.jsonl"]);
    replay.expect_status(0);
    replay.expect_stdout("t/flaky.t .. ok (flaky: passed on try 2)");
    assert_eq!(p.proctor(&["failed", "old.jsonl"]).stdout(), "");
    let times = p.proctor(&["times", "old.jsonl"]);
    times.expect_stdout(" pass   t/flaky.t (try 2, flaky)\n");
}

#[test]
fn retries_stop_at_their_limit_and_headers_win() {
    let p = Project::new();
    p.script("t/broken.t", "#!/bin/sh\necho 1..1\necho not ok 1\n")
        .script(
            "t/never.t",
            "#!/bin/sh\n# HARNESS-NO-RETRY\necho 1..1\necho not ok 1\n",
        );
    p.proctor(&["test", "--retry", "2", "--retry-isolated"])
        .expect_status(1);
    let events = p.events();
    let tries = |file: &str| {
        events
            .iter()
            .filter(|e| e["type"] == "job_end" && e["file"] == file)
            .count()
    };
    assert_eq!(tries("t/broken.t"), 3);
    assert_eq!(tries("t/never.t"), 1);
    assert_eq!(events.last().unwrap()["files"]["failed"], 2);
}

/// (start, end) stamps of each job, by file.
fn spans(events: &[Value]) -> HashMap<String, (f64, f64)> {
    let mut start = HashMap::new();
    let mut spans = HashMap::new();
    for e in events {
        let key = (e["job"].as_u64(), e["try"].as_u64());
        match e["type"].as_str() {
            Some("job_launch") => {
                start.insert(key, e["stamp"].as_f64().unwrap());
            }
            Some("job_end") => {
                spans.insert(
                    e["file"].as_str().unwrap().to_string(),
                    (start[&key], e["stamp"].as_f64().unwrap()),
                );
            }
            _ => {}
        }
    }
    spans
}

#[test]
fn an_isolated_file_never_overlaps_another() {
    let p = Project::new();
    for i in 1..=6 {
        p.script(
            &format!("t/{}.t", i),
            "#!/bin/sh\necho 1..1\nsleep 0.2\necho ok 1\n",
        );
    }
    p.script(
        "t/3a-alone.t",
        "#!/bin/sh\n# HARNESS-CATEGORY-ISOLATION\necho 1..1\nsleep 0.2\necho ok 1\n",
    );
    p.proctor(&["test", "-j4"]).expect_status(0);
    let spans = spans(&p.events());
    let (a, b) = spans["t/3a-alone.t"];
    for (file, (s, e)) in &spans {
        if file != "t/3a-alone.t" {
            assert!(
                *e <= a || *s >= b,
                "{} ({}..{}) overlaps the isolated file ({}..{})",
                file,
                s,
                e,
                a,
                b
            );
        }
    }
}

/// A job sent ahead to the auditor of a long test comes back as soon as
/// the other slot has nothing left to do: it is not kept waiting for the
/// long test's end. Sixteen files and more, so every slot has a standing
/// auditor.
#[test]
fn a_job_ahead_of_a_long_test_goes_to_a_slot_gone_idle() {
    let p = Project::new();
    p.script("t/00-long.t", "#!/bin/sh\necho 1..1\nsleep 3\necho ok 1\n");
    for i in 1..=16 {
        p.script(
            &format!("t/{:02}-quick.t", i),
            "#!/bin/sh\necho 1..1\necho ok 1\n",
        );
    }
    p.proctor(&["test", "-j2", "--order", "given", "t"])
        .expect_status(0);
    assert_no_job_waited_for_the_long_one(&p.events());
}

/// As above, with the tests forked by each auditor's preloaded perl.
#[test]
fn a_job_ahead_of_a_long_preloaded_test_goes_to_a_slot_gone_idle() {
    let p = Project::new();
    p.script(
        "t/00-long.t",
        "print qq{1..1\n}; sleep 3; print qq{ok 1\n};\n",
    );
    for i in 1..=16 {
        p.script(&format!("t/{:02}-quick.t", i), "print qq{1..1\nok 1\n};\n");
    }
    p.proctor(&[
        "test",
        "-j2",
        "--preload",
        "strict",
        "--order",
        "given",
        "t",
    ])
    .expect_status(0);
    let events = p.events();
    assert!(
        events.iter().any(|e| e["type"] == "stage_ready"),
        "the auditors' perls preloaded"
    );
    assert_no_job_waited_for_the_long_one(&events);
}

/// The job ahead of a long test, given back to the idle slot, is not asked
/// back again by a pause that comes later; the run, resumed, runs every file
/// once. The long test waits for the file `go`.
#[test]
fn a_job_given_back_and_a_pause_after_it_run_every_file_once() {
    let p = Project::new();
    p.script(
        "t/00-long.t",
        "#!/bin/sh\nawk '{print $4}' /proc/$PPID/stat > runner.new && mv runner.new runner\n\
         i=0; while [ ! -e go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n\
         echo 1..1\necho ok 1\n",
    );
    for i in 1..=16 {
        p.script(
            &format!("t/{:02}-quick.t", i),
            &format!("#!/bin/sh\n: > done-{}\necho 1..1\necho ok 1\n", i),
        );
    }
    let run = p.spawn(&["test", "-j2", "--order", "given", "t"]);
    p.wait_for_file("runner");
    let runner = p.read_trimmed("runner");
    let all_done = || (1..=16).all(|i| p.dir.join(format!("done-{}", i)).exists());
    let mut waited = 0;
    while !all_done() && waited < 1000 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
    }
    // Checked once the run is over, so that a failure leaves nothing running.
    let quick_ran_beside_the_long = all_done();
    kill("USR1", &runner);
    std::thread::sleep(std::time::Duration::from_millis(200));
    kill("USR2", &runner);
    std::fs::write(p.dir.join("go"), "").unwrap();
    run.wait().expect_status(0);
    assert!(
        quick_ran_beside_the_long,
        "every quick file ran while the long one did"
    );
    let events = p.events();
    assert_each_job_ends_once_as_itself(&events);
    assert_eq!(
        results(&events).iter().filter(|(_, r)| r == "pass").count(),
        17
    );
}

fn assert_no_job_waited_for_the_long_one(events: &[Value]) {
    assert_each_job_ends_once_as_itself(events);
    let spans = spans(events);
    assert_eq!(spans.len(), 17);
    let (_, long_end) = spans["t/00-long.t"];
    for (file, (launch, _)) in &spans {
        assert!(
            file == "t/00-long.t" || *launch < long_end,
            "{} launched at {}, after the long test ended ({})",
            file,
            launch,
            long_end
        );
    }
}

#[test]
fn the_slowest_file_of_the_last_run_starts_first() {
    let p = Project::new();
    p.script("t/a-quick.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/b-quick.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/c-slow.t", "#!/bin/sh\nsleep 0.4\necho 1..1\necho ok 1\n");
    p.proctor(&["test", "-j1"]).expect_status(0);
    assert_eq!(launched_files(&p.events())[0], "t/a-quick.t");
    p.proctor(&["test", "-j1"]).expect_status(0);
    assert_eq!(launched_files(&p.events())[0], "t/c-slow.t");
    p.proctor(&["test", "-j1", "--order", "given"])
        .expect_status(0);
    assert_eq!(launched_files(&p.events())[0], "t/a-quick.t");
    p.proctor(&["test", "-j1", "--state", "fast"])
        .expect_status(0);
    assert_eq!(launched_files(&p.events())[2], "t/c-slow.t");
}

#[test]
fn a_shuffle_prints_its_seed_and_repeats_with_it() {
    let p = Project::new();
    for i in 0..8 {
        p.script(&format!("t/{}.t", i), "#!/bin/sh\necho 1..1\necho ok 1\n");
    }
    let run = p.proctor(&["test", "-j1", "--shuffle"]);
    run.expect_status(0);
    let seed = run
        .stderr()
        .split("seed ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let first = queued_files(&p.events());
    p.proctor(&["test", "-j1", &format!("--order=shuffle={}", seed)])
        .expect_status(0);
    assert_eq!(queued_files(&p.events()), first);
}

#[test]
fn failed_runs_only_what_failed_last_time() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/b.t", "#!/bin/sh\necho 1..1\necho not ok 1\n")
        .script("t/c.t", "#!/bin/sh\nexit 1\n");
    p.proctor(&["test"]).expect_status(1);
    p.proctor(&["test", "--failed"]).expect_status(1);
    let mut queued = queued_files(&p.events());
    // Longest first: the order depends on how long each took.
    queued.sort();
    assert_eq!(queued, ["t/b.t", "t/c.t"]);
    p.proctor(&["test", "--state=passed"]).expect_status(0);
    assert_eq!(queued_files(&p.events()), ["t/a.t"]);
    p.script("t/b.t", "#!/bin/sh\necho 1..1\necho ok 1\n")
        .script("t/c.t", "#!/bin/sh\necho 1..0\n");
    p.proctor(&["test", "--failed"]).expect_status(0);
    let run = p.proctor(&["test", "--failed"]);
    run.expect_status(0);
    assert!(run.stderr().contains("no test to run"), "{}", run.stderr());
}

#[test]
fn partitions_cover_the_suite_exactly_once() {
    let p = Project::new();
    for i in 0..9 {
        p.script(&format!("t/{}.t", i), "#!/bin/sh\necho 1..1\necho ok 1\n");
    }
    for kind in ["slice", "hash"] {
        let mut seen = Vec::new();
        for part in 1..=3 {
            let run = p.proctor(&["test", "--partition", &format!("{}:{}/3", kind, part)]);
            assert!(run.status() == 0, "{}", run.stderr());
            if !run.stderr().contains("has no files") {
                seen.extend(queued_files(&p.events()));
            }
        }
        seen.sort();
        let all: Vec<String> = (0..9).map(|i| format!("t/{}.t", i)).collect();
        assert_eq!(seen, all, "{} partitions", kind);
    }
}

#[test]
fn rc_files_and_prove_environment() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    std::fs::write(
        p.dir.join(".proctorrc"),
        "# defaults for this project\n--timer  # times on each line\n",
    )
    .unwrap();
    let run = p.proctor(&["test"]);
    run.expect_status(0);
    assert!(
        run.stdout().contains("t/a.t .. ok ") && run.stdout().contains(" ms\n"),
        "{}",
        run.stdout()
    );
    let run = p.proctor(&["test", "--norc"]);
    run.expect_stdout("t/a.t .. ok\n");
    std::fs::write(p.dir.join(".proctorrc"), "--exec 'open\n").unwrap();
    let run = p.proctor(&["test"]);
    run.expect_status(0);
    assert!(
        run.stderr()
            .contains(".proctorrc:1: a quote is not closed; the file is ignored"),
        "{}",
        run.stderr()
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_proctor"))
        .args(["test", "--norc"])
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .env("HARNESS_VERBOSE", "1")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("[t/a.t] ok 1\n"));
}

#[test]
fn bad_headers_and_state_warn_and_the_run_goes_on() {
    let p = Project::new();
    p.script(
        "t/a.t",
        "#!/bin/sh\n# HARNESS-JOB-SLOTS many\necho 1..1\necho ok 1\n",
    );
    std::fs::create_dir_all(p.state()).unwrap();
    std::fs::write(p.state().join("files.jsonl"), "{ not json\n").unwrap();
    let run = p.proctor(&["test"]);
    run.expect_status(0);
    assert!(
        run.stderr()
            .contains("t/a.t:2: HARNESS-JOB-SLOTS needs a positive number of slots: 'many' is not a whole number; ignored"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("files.jsonl:1: not a proctor state file"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        run.stderr().matches("HARNESS-JOB-SLOTS").count(),
        1,
        "each header is read once:\n{}",
        run.stderr()
    );
    // The run rewrote it.
    p.proctor(&["test"]).expect_status(0);
}

#[test]
fn the_logs_of_shards_merge_into_one_summary() {
    let p = Project::new();
    for i in 0..5 {
        p.script(&format!("t/{}.t", i), "#!/bin/sh\necho 1..1\necho ok 1\n");
    }
    p.script("t/9-bad.t", "#!/bin/sh\necho 1..1\necho not ok 1\n");
    p.proctor(&["test", "--partition", "slice:1/2", "--log", "one.jsonl"]);
    p.proctor(&["test", "--partition", "slice:2/2", "--log", "two.jsonl"]);
    let run = p.proctor(&["replay", "one.jsonl", "two.jsonl", "--junit", "all.xml"]);
    run.expect_status(1);
    assert!(
        run.stdout()
            .ends_with("Result: FAIL\nFiles: 5 passed, 1 failed, 0 skipped\n"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        run.stdout().matches("Files=").count(),
        1,
        "one summary:\n{}",
        run.stdout()
    );
    let xml = std::fs::read_to_string(p.dir.join("all.xml")).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 6, "{}", xml);
    let failed = p.proctor(&["failed", "--brief", "one.jsonl", "two.jsonl"]);
    assert_eq!(failed.stdout(), "t/9-bad.t\n");
    let times = p.proctor(&["times", "one.jsonl", "two.jsonl"]);
    assert_eq!(
        times.stdout().lines().count(),
        7,
        "a header and six files:\n{}",
        times.stdout()
    );
    let bad = p.proctor(&["replay", "one.jsonl", "missing.jsonl"]);
    bad.expect_status(2);
    assert!(bad.stderr().contains("missing.jsonl"), "{}", bad.stderr());
}
