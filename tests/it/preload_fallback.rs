//! A preloaded file that fails is run again at once without preload, and
//! its verdict is that run's; the state remembers it and later runs do not
//! preload it, until it changes or `--preload-recheck`; `--preload-verify`
//! catches a file that passes only because of what was preloaded.

use crate::common::*;
use serde_json::Value;

/// Fails when Test::More was loaded before it ran: only preloaded.
const FAILS_PRELOADED: &str = "print qq{1..1\\n};\n\
    print exists $INC{'Test/More.pm'} ? qq{not ok 1 - Test::More was preloaded\\n} : qq{ok 1\\n};\n";

/// Calls Test::More's `ok` without loading it: passes only preloaded.
const PASSES_ONLY_PRELOADED: &str = "Test::More::plan(tests => 1);\nTest::More::ok(1, 'no use');\n";

const PASSES: &str = "use Test::More tests => 1;\nok(1);\n";

const FAILS: &str = "use Test::More tests => 1;\nok(0, 'always');\n";

/// Each try of `file`: whether it ran preloaded, and how its job_end says it
/// ended (result, will_retry).
fn tries(events: &[Value], file: &str) -> Vec<(bool, String, bool)> {
    let launches = events
        .iter()
        .filter(|e| e["type"] == "job_launch" && e["file"] == file);
    launches
        .map(|launch| {
            let end = events
                .iter()
                .find(|e| {
                    e["type"] == "job_end" && e["job"] == launch["job"] && e["try"] == launch["try"]
                })
                .expect("every try ends");
            (
                launch["staged"] == true,
                end["result"].as_str().unwrap().to_string(),
                end["will_retry"] == true,
            )
        })
        .collect()
}

fn tried(list: &[(bool, &str, bool)]) -> Vec<(bool, String, bool)> {
    list.iter()
        .map(|&(staged, result, again)| (staged, result.to_string(), again))
        .collect()
}

/// The final job_end of `file`.
fn last_end<'a>(events: &'a [Value], file: &str) -> &'a Value {
    events
        .iter()
        .rev()
        .find(|e| e["type"] == "job_end" && e["file"] == file)
        .unwrap_or_else(|| panic!("no job_end for {}", file))
}

#[test]
fn a_file_that_fails_only_preloaded_passes_with_a_note_and_is_not_preloaded_again() {
    let p = Project::new();
    p.script("t/fragile.t", FAILS_PRELOADED);
    p.script("t/fine.t", PASSES);
    let run = p.proctor(&["test", "--preload", "Test::More", "t"]);
    run.expect_status(0)
        .expect_stdout("fails when preloaded: failed 1 of 1 tests: 1");
    assert_eq!(
        run.stdout().matches("fails when preloaded").count(),
        1,
        "{}",
        run.stdout()
    );
    let events = p.events();
    assert_eq!(
        tries(&events, "t/fragile.t"),
        tried(&[(true, "fail", true), (false, "pass", false)])
    );
    let end = last_end(&events, "t/fragile.t");
    assert_eq!(
        (&end["fails_preloaded"], &end["flaky"]),
        (&Value::Bool(true), &Value::Null)
    );
    let run_end = events.last().unwrap();
    assert_eq!(run_end["result"], "pass");
    assert_eq!(run_end["flaky"], serde_json::json!([]));
    p.proctor(&["failed"]).expect_status(0);
    assert_eq!(p.proctor(&["failed"]).stdout(), "");

    // The next run remembers it: not preloaded, and it says so once.
    let again = p.proctor(&["test", "--preload", "Test::More", "t"]);
    again.expect_status(0).expect_stderr(
        "1 file runs without preload: it failed preloaded before (--preload-recheck preloads it)",
    );
    let events = p.events();
    assert_eq!(
        tries(&events, "t/fragile.t"),
        tried(&[(false, "pass", false)])
    );
    assert_eq!(tries(&events, "t/fine.t"), tried(&[(true, "pass", false)]));

    // --preload-recheck preloads it again (and it still fails there).
    let recheck = p.proctor(&["test", "--preload", "Test::More", "--preload-recheck", "t"]);
    recheck.expect_status(0);
    assert!(
        !recheck.stderr().contains("without preload"),
        "{}",
        recheck.stderr()
    );
    assert_eq!(
        tries(&p.events(), "t/fragile.t"),
        tried(&[(true, "fail", true), (false, "pass", false)])
    );

    // Still remembered; changed, it is preloaded again, and once it passes
    // preloaded it is forgotten.
    p.script("t/fragile.t", PASSES);
    let changed = p.proctor(&["test", "--preload", "Test::More", "t"]);
    changed.expect_status(0);
    assert!(
        !changed.stderr().contains("without preload"),
        "{}",
        changed.stderr()
    );
    assert_eq!(
        tries(&p.events(), "t/fragile.t"),
        tried(&[(true, "pass", false)])
    );
    assert!(!p.state().join("fails-preloaded.jsonl").exists());
}

#[test]
fn a_file_that_fails_either_way_fails_after_its_retries_without_preload() {
    let p = Project::new();
    p.script("t/broken.t", FAILS);
    let run = p.proctor(&["test", "--preload", "Test::More", "--retry", "2", "t"]);
    run.expect_status(1);
    let events = p.events();
    assert_eq!(
        tries(&events, "t/broken.t"),
        tried(&[
            (true, "fail", true),
            (false, "fail", true),
            (false, "fail", true),
            (false, "fail", false),
        ])
    );
    let end = last_end(&events, "t/broken.t");
    assert_eq!(
        reasons(end),
        "failed 1 of 1 tests: 1 | exited with status 1"
    );
    assert_eq!(end["fails_preloaded"], Value::Null);
    assert_eq!(p.proctor(&["failed"]).stdout(), "t/broken.t\n");
    assert!(!p.state().join("fails-preloaded.jsonl").exists());
}

#[test]
fn preload_verify_fails_a_file_that_passes_only_preloaded() {
    let p = Project::new();
    p.script("t/lazy.t", PASSES_ONLY_PRELOADED);
    p.script("t/fine.t", PASSES);
    p.proctor(&["test", "--preload", "Test::More", "t"])
        .expect_status(0);
    let run = p.proctor(&["test", "--preload", "Test::More", "--preload-verify", "t"]);
    run.expect_status(1)
        .expect_stdout("passes only when preloaded: ");
    let events = p.events();
    assert_eq!(
        tries(&events, "t/lazy.t"),
        tried(&[(true, "pass", true), (false, "fail", false)])
    );
    assert!(
        reasons(last_end(&events, "t/lazy.t")).starts_with("passes only when preloaded: "),
        "{}",
        reasons(last_end(&events, "t/lazy.t"))
    );
    // A file that passes both ways passes, and is not flaky.
    assert_eq!(
        tries(&events, "t/fine.t"),
        tried(&[(true, "pass", true), (false, "pass", false)])
    );
    assert_eq!(last_end(&events, "t/fine.t")["flaky"], Value::Null);
    let times = p.proctor(&["times"]).stdout();
    assert!(
        times.contains("t/fine.t (try 1, preloaded, tried again)") && !times.contains("flaky"),
        "{}",
        times
    );
    assert_eq!(p.proctor(&["failed"]).stdout(), "t/lazy.t\n");
    let run_end = events.last().unwrap();
    assert_eq!(
        (&run_end["files"]["passed"], &run_end["files"]["failed"]),
        (&Value::from(1), &Value::from(1))
    );
}

#[test]
fn a_corrupted_memory_is_a_warning_naming_it() {
    let p = Project::new();
    p.script("t/fine.t", PASSES);
    std::fs::create_dir_all(p.state()).unwrap();
    let memory = p.state().join("fails-preloaded.jsonl");
    std::fs::write(&memory, "garbage\n").unwrap();
    p.proctor(&["test", "--preload", "Test::More", "t"])
        .expect_status(0)
        .expect_stderr(&format!(
            "proctor: warning: {}:1: not a proctor state file",
            memory.display()
        ));
}

/// Stops the persistent runner when the test ends, however it ends.
struct Daemon<'a>(&'a Project);

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        self.0.proctor(&["stop"]);
    }
}

#[test]
fn the_persistent_runner_falls_back_and_remembers_too() {
    let p = Project::new();
    p.script("t/fragile.t", FAILS_PRELOADED);
    p.script("t/lazy.t", PASSES_ONLY_PRELOADED);
    p.proctor(&["start", "--preload", "Test::More"])
        .expect_status(0);
    let _daemon = Daemon(&p);
    let run = p.proctor(&["run", "--preload-verify", "t"]);
    run.expect_status(1);
    let events = p.events();
    assert_eq!(
        tries(&events, "t/fragile.t"),
        tried(&[(true, "fail", true), (false, "pass", false)])
    );
    assert_eq!(
        tries(&events, "t/lazy.t"),
        tried(&[(true, "pass", true), (false, "fail", false)])
    );
    p.proctor(&["run", "t/fragile.t"])
        .expect_status(0)
        .expect_stderr("1 file runs without preload");
    assert_eq!(
        tries(&p.events(), "t/fragile.t"),
        tried(&[(false, "pass", false)])
    );
}
