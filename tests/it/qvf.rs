//! `--qvf` shows a failing file's whole output, however long: the overlord
//! replays it from the job's log on disk when the file ends, before the log is
//! deleted, so none of it is held in memory while the test runs.

use crate::common::*;

/// A test printing about 5 MB of comments before its failing point.
const CHATTY: &str = r##"print "1..1\n";
print "# filler line $_ ", "x" x 40, "\n" for 1 .. 100_000;
print "not ok 1 - the last point\n";
print "# the very last line\n";
"##;

fn assert_whole_output_shown(run: &Run) {
    let out = run.stdout();
    let quoted = out
        .lines()
        .filter(|l| l.starts_with("    # filler line "))
        .count();
    assert_eq!(
        quoted,
        100_000,
        "{}",
        &out[out.len().saturating_sub(2000)..]
    );
    assert!(out.contains("    # filler line 100000 xxx"));
    assert!(out.contains("    not ok 1 - the last point\n"));
    assert!(out.contains("    # the very last line\n"));
    assert!(!out.contains("more lines (see the event log)"));
}

#[test]
fn a_failing_files_whole_output_however_long() {
    let p = Project::new();
    p.script("t/chatty.t", CHATTY);
    let run = p.proctor(&["test", "--qvf", "t"]);
    run.expect_status(1);
    assert_whole_output_shown(&run);
}

#[test]
fn a_failing_files_whole_output_from_a_standing_auditors_log() {
    // Enough files for standing auditors, whose logs hold a segment a job.
    let p = Project::new();
    for i in 0..20 {
        p.script(
            &format!("t/pass{:02}.t", i),
            "print \"1..1\\nok 1\\n# chatter\\n\";\n",
        );
    }
    p.script("t/pass10.t", CHATTY);
    let run = p.proctor(&["test", "-j2", "--qvf", "t"]);
    run.expect_status(1);
    assert_whole_output_shown(&run);
    let events = p.events();
    let launch = events
        .iter()
        .find(|e| e["type"] == "job_launch" && e["file"] == "t/pass10.t")
        .expect("its launch");
    assert_eq!(launch["segment"], true, "{}", launch);
    // Nothing of the passing files is quoted.
    assert!(!run.stdout().contains("# chatter"), "{}", run.stdout());
}
