//! A runner that dies: killed mid-run, its run's log still ends with a
//! run_end that says so, and every job ends.

use crate::common::*;
use serde_json::Value;

#[test]
fn a_killed_runner_leaves_a_log_that_ends_saying_so() {
    let p = Project::new();
    let m = marker("lost-runner");
    p.script("t/1-quick.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    for name in ["t/2-slow.t", "t/3-slow.t"] {
        p.script(
            name,
            &format!(
                "#!/bin/sh\necho 1..1\ntouch started-$$\nexec perl -e 'sleep 300' {}\n",
                m
            ),
        );
    }
    let run = p.spawn(&["test", "-j3", "--exec", ""]);
    wait_until("both slow tests to start", || {
        std::fs::read_dir(&p.dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("started-")
            })
            .count()
            == 2
    });
    // The runner is the command process's child named proctor.
    let runner = children_named(&run.pid().to_string(), "proctor");
    assert_eq!(runner.len(), 1, "{:?}", runner);
    kill("KILL", &runner[0]);
    let run = run.wait();
    run.expect_status(3).expect_stderr("runner lost");
    wait_until("the slow tests to end", || !running(&m));

    let events = p.events();
    let last = events.last().unwrap();
    assert_eq!(last["type"], "run_end", "{}", last);
    assert_eq!(last["result"], "fail", "{}", last);
    let error = last["harness_error"].as_str().unwrap_or("");
    assert!(
        error.contains("runner lost") && error.contains("SIGKILL"),
        "{}",
        last
    );
    let ended = |kind: &str| -> Vec<(Value, Value)> {
        let mut jobs: Vec<(Value, Value)> = events
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| (e["job"].clone(), e["try"].clone()))
            .collect();
        jobs.sort_by_key(|(j, t)| (j.as_u64(), t.as_u64()));
        jobs
    };
    assert_eq!(ended("job_queued"), ended("job_end"), "every job ends");
    for slow in ["t/2-slow.t", "t/3-slow.t"] {
        let end = job_end(&events, slow);
        assert_eq!(end["result"], "fail", "{}", end);
    }

    let replay = p.proctor(&["replay"]);
    replay
        .expect_status(1)
        .expect_stdout("Harness error: runner lost");
    let failed = p.proctor(&["failed", "-v"]);
    failed.expect_status(0).expect_stdout("t/2-slow.t");
    failed.expect_stderr("runner lost");
    let times = p.proctor(&["times"]);
    times.expect_status(0).expect_stdout("t/3-slow.t");
    times.expect_stderr("runner lost");
}
