//! Renderers on a recorded event log, as golden text: `proctor replay` feeds the
//! same events through the same renderers as the live run.

use crate::common::*;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Replays tests/data/mixed.jsonl with `flags` and compares with the golden file.
fn golden(flags: &[&str], expected: &str) {
    let p = Project::new();
    let log = data("mixed.jsonl");
    let mut args = vec!["replay"];
    args.extend_from_slice(flags);
    args.push(log.to_str().unwrap());
    let run = p.proctor(&args);
    run.expect_status(1);
    let want = std::fs::read_to_string(data(expected)).unwrap();
    let got = run.stdout();
    if got != want {
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "line {} of {} differs", i + 1, expected);
        }
        assert_eq!(
            got.lines().count(),
            want.lines().count(),
            "{} has a different number of lines",
            expected
        );
        assert_eq!(got, want);
    }
}

#[test]
fn the_plain_report() {
    golden(&["--color=never"], "mixed.plain.txt");
}

#[test]
fn no_color_is_the_default_off_a_terminal() {
    golden(&[], "mixed.plain.txt");
}

#[test]
fn the_report_in_color() {
    golden(&["--color=always"], "mixed.color.txt");
}

#[test]
fn custom_colors() {
    let p = Project::new();
    let run = p.proctor(&[
        "replay",
        "--color=always",
        "--colors",
        "P=005",
        data("mixed.jsonl").to_str().unwrap(),
    ]);
    assert!(
        run.stdout().contains("t/pass.t .. \x1b[38;5;21mok\x1b[39m"),
        "{}",
        run.stdout()
    );
}

#[test]
fn quiet() {
    golden(&["-q"], "mixed.quiet.txt");
}

#[test]
fn verbose() {
    golden(&["-v"], "mixed.verbose.txt");
}

#[test]
fn quiet_with_failing_output() {
    golden(&["--qvf"], "mixed.qvf.txt");
}

#[test]
fn bad_show_flags_are_usage_errors() {
    let p = Project::new();
    let log = data("mixed.jsonl");
    for (flag, value, expected) in [
        (
            "--color",
            "sometimes",
            "--color: 'sometimes' is not auto, always or never",
        ),
        (
            "--colors",
            "Q=000",
            "--colors: 'Q' is not one of P, F, A, R, T",
        ),
        (
            "--colors",
            "P=9",
            "--colors: '9' is not three digits 0 to 5",
        ),
    ] {
        let run = p.proctor(&["replay", flag, value, log.to_str().unwrap()]);
        run.expect_status(2);
        assert!(run.stderr().contains(expected), "{}", run.stderr());
    }
}

#[test]
fn replay_follows_a_growing_log() {
    let p = Project::new();
    let whole = std::fs::read_to_string(data("mixed.jsonl")).unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    let log = p.dir.join("growing.jsonl");
    std::fs::write(&log, lines[..20].join("\n") + "\n").unwrap();
    let follower = p.spawn(&["replay", "--follow", "--color=never", log.to_str().unwrap()]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The rest arrives later, the last line in two pieces.
    let rest = lines[20..].join("\n") + "\n";
    let (a, b) = rest.split_at(rest.len() - 10);
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    use std::io::Write;
    f.write_all(a.as_bytes()).unwrap();
    f.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    f.write_all(b.as_bytes()).unwrap();
    let run = follower.wait();
    run.expect_status(1);
    assert_eq!(
        run.stdout(),
        std::fs::read_to_string(data("mixed.plain.txt")).unwrap()
    );
}

#[test]
fn the_event_log_on_a_descriptor() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' test --no-log --log-fd 3 3>fd.jsonl",
            env!("CARGO_BIN_EXE_proctor")
        ))
        .current_dir(&p.dir)
        .env("PROCTOR_STATE_DIR", p.state())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events_of(&std::fs::read(p.dir.join("fd.jsonl")).unwrap());
    assert_eq!(events.last().unwrap()["type"], "run_end");
    let run = p.proctor(&["test", "--log-fd", "9"]);
    run.expect_status(2);
    assert!(
        run.stderr().contains("--log-fd 9: Bad file descriptor"),
        "{}",
        run.stderr()
    );
}

#[test]
fn junit_beside_the_report() {
    let p = Project::new();
    p.script(
        "t/a.t",
        "#!/bin/sh\necho 1..2\necho ok 1 - fine\necho 'not ok 2 - broken <&>'\n",
    );
    let run = p.proctor(&["test", "--junit", "out/junit.xml"]);
    run.expect_status(3);
    assert!(
        run.stderr().contains("junit.xml"),
        "a JUnit file that cannot be written is named: {}",
        run.stderr()
    );
    std::fs::create_dir_all(p.dir.join("out")).unwrap();
    p.proctor(&["test", "--junit", "out/junit.xml"])
        .expect_status(1);
    let xml = std::fs::read_to_string(p.dir.join("out/junit.xml")).unwrap();
    assert!(
        xml.contains("<testcase classname=\"t/a.t\" name=\"2 - broken &lt;&amp;&gt;\""),
        "{}",
        xml
    );
    assert!(xml.contains("<failure "), "{}", xml);
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/render/junit.xsd");
    match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(p.dir.join("out/junit.xml"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("note: xmllint is not installed; the schema check is skipped"),
    }
}

/// A run its runner stopped (a signal sent to the runner alone) says why,
/// from the runner_stop record, when nothing else does.
#[test]
fn replay_says_why_the_runner_stopped() {
    let p = Project::new();
    let log = p.dir.join("stopped.jsonl");
    std::fs::write(
        &log,
        [
            r#"{"type":"run_start","version":"0.1.0","id":"x","cwd":"/tmp","files":1,"slots":1,"run_dir":"/tmp/run","stamp":1.0}"#,
            r#"{"type":"job_queued","job":1,"try":1,"file":"t/a.t"}"#,
            r#"{"type":"runner_stop","reason":"signal SIGTERM"}"#,
            r#"{"type":"job_end","job":1,"try":1,"file":"t/a.t","result":"cancelled","reasons":["not run: the run was interrupted"],"duration":0.000000,"will_retry":false}"#,
            r#"{"type":"run_end","result":"fail","files":{"total":1,"passed":0,"failed":0,"skipped":0,"cancelled":1},"tests":{"run":0,"failed":0},"wall":0.1,"user":0,"system":0,"retried":0,"flaky":[],"bailed":null,"interrupted":null,"stamp":2.0}"#,
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let run = p.proctor(&["replay", "--color=never", log.to_str().unwrap()]);
    run.expect_status(1);
    assert!(
        run.stdout()
            .contains("t/a.t .. not run (the run was interrupted)\n")
            && run.stdout().contains("\nStopped: signal SIGTERM\n"),
        "{}",
        run.stdout()
    );
}
