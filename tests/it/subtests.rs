//! Subtests as real producers print them: verdicts where a strict reading of
//! the specification would fail a file that prove passes, and what is quoted
//! when one fails.

use crate::common::*;
use crate::prove::{have_prove, same_as_prove};

/// Test::More and Test2 subtests whose closing test point does not repeat the
/// name in the `# Subtest:` header: `Subtest: name` (Test2's streamed
/// subtests), no description (a skipped subtest), the file's name (a subtest
/// after `Test::Builder->reset`), nested.
fn subtests_named_otherwise() -> Project {
    let p = Project::new();
    p.script(
        "t/names.t",
        "#!/bin/sh\ncat <<'TAP'\n\
ok 1\n\
# Subtest: user says yes\n    ok 1\n    1..1\nok 2 - Subtest: user says yes\n\
# Subtest: skip all\n    1..0 # SKIP subtest with skip_all\nok 3 # skip subtest with skip_all\n\
# Subtest: subtest\n    # Subtest: subtest\n        ok 1\n        1..1\n    ok 1 - t/names.t\n    1..1\nok 4 - t/names.t\n\
1..4\nTAP\n",
    );
    p
}

#[test]
fn a_subtest_closed_under_another_name_passes_with_a_remark_under_v() {
    let p = subtests_named_otherwise();
    let quiet = p.proctor(&["test"]);
    quiet.expect_status(0);
    assert!(
        !quiet.stdout().contains("closes subtest"),
        "{}",
        quiet.stdout()
    );
    let run = p.proctor(&["test", "-v"]);
    run.expect_status(0);
    let events = p.events();
    let end = job_end(&events, "t/names.t");
    assert_eq!(end["result"], "pass", "{}", reasons(end));
    assert_eq!(end["notes"].as_array().unwrap().len(), 0, "{}", end);
    let notes = end["remarks"].to_string();
    let outer = "test 4 closes subtest 'subtest' but names it 't/names.t'";
    let inner = "subtest 'subtest': test 1 closes subtest 'subtest' but names it 't/names.t'";
    assert!(notes.contains(outer), "{}", notes);
    assert!(notes.contains(inner), "{}", notes);
    assert!(!notes.contains("user says yes"), "{}", notes);
    assert!(!notes.contains("skip all"), "{}", notes);
    run.expect_stdout(outer);
    if have_prove() {
        same_as_prove(&p, &[]).expect_status(0);
    }
}

#[test]
fn a_failing_subtest_is_quoted_without_the_next_subtests_header() {
    let p = Project::new();
    p.script(
        "t/two.t",
        "#!/bin/sh\ncat <<'TAP'\n\
# Subtest: first\n    ok 1 - one\n    not ok 2 - two\n    # two went wrong\n    1..2\n\
not ok 1 - first\n# first went wrong\n\
# Subtest: second\n    # a note of the second\n    ok 1 - three\n    1..1\n\
ok 2 - second\n1..2\nTAP\n",
    );
    let run = p.proctor(&["test"]);
    run.expect_status(1);
    let out = run.stdout();
    let quoted = "\
t/two.t .. Failed 1/2 subtests
        not ok 2 - two
        # two went wrong
    not ok 1 - first
    # first went wrong
    failed 1 of 2 tests: 1
";
    assert!(out.starts_with(quoted), "{}", out);
}
