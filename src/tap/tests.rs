//! Whole-stream tests of the parser: one per rule of the TAP 12/13/14
//! specifications, with vectors modelled on the specification's examples.

use super::line::Kind;
use super::*;
use crate::json;
use serde_json::{json, Value};

/// Feeds `input` line by line; returns each line's record as a reader sees
/// it (written as the auditor writes it, read back with what the record leaves
/// to its line put back), minus stream, stamp and raw line, and the summary.
fn records(input: &[u8]) -> (Vec<Value>, Summary) {
    let mut p = Parser::new();
    let mut out = Vec::new();
    let input = input.strip_suffix(b"\n").unwrap_or(input);
    let stamp = json::Stamp::new(1.0);
    for raw in input.split(|&b| b == b'\n') {
        let mut buf = Vec::new();
        crate::event::write::tap_line(&mut buf, &p.line(raw), "stdout", Some(&stamp), raw, 0);
        let mut record = crate::event::Event::new(&buf).value().clone();
        let fields = record.as_object_mut().expect("a record is valid JSON");
        for key in ["stream", "stamp", "line", "line_hex"] {
            fields.remove(key);
        }
        out.push(record);
    }
    (out, p.finish())
}

fn summary(input: &str) -> Summary {
    records(input.as_bytes()).1
}

fn types(input: &str) -> Vec<String> {
    records(input.as_bytes())
        .0
        .iter()
        .map(|r| r["type"].as_str().unwrap().to_string())
        .collect()
}

fn assert_clean(s: &Summary) {
    assert!(
        s.parse_errors.is_empty(),
        "unexpected parse errors: {:?}",
        s.parse_errors
    );
    assert_eq!(s.failed.count, 0, "unexpected failures: {:?}", s.failed);
}

#[test]
fn a_plain_tap14_stream() {
    let s = summary("TAP version 14\n1..3\n#\n# set up a board\nok 1 - board exists\nok 2 - board is empty\nok 3 - tile placed\n");
    assert_clean(&s);
    assert_eq!((s.version, s.planned, s.run, s.passed), (14, Some(3), 3, 3));
}

#[test]
fn version_line_only_first_and_only_13_or_14() {
    assert_eq!(summary("TAP version 13\n1..1\nok\n").version, 13);
    assert_eq!(
        summary("1..1\nok\n").version,
        12,
        "no version line means TAP 12"
    );
    let s = summary("1..1\nTAP version 14\nok\n");
    assert_eq!(
        s.parse_errors,
        ["TAP version line at line 2: it must be the first line"]
    );
    let s = summary("TAP version 12\n1..1\nok\n");
    assert_eq!(s.parse_errors.len(), 1);
    assert!(s.parse_errors[0].contains("must say 13 or 14"));
    let s = summary("TAP version 15\n1..1\nok\n");
    assert!(s.parse_errors[0].contains("not known"));
    assert_eq!(types("TAP version 14\n"), ["version"]);
}

#[test]
fn plan_may_lead_or_trail() {
    assert_clean(&summary("1..2\nok 1\nok 2\n"));
    let s = summary("TAP version 14\nok 1 - fetch list\n# seven hosts\nok 2\nnot ok 3 - ping jade\nok 4\n1..4\n");
    assert_eq!(
        (s.planned, s.run, s.failed.listed.clone()),
        (Some(4), 4, vec![3])
    );
    assert!(s.parse_errors.is_empty());
}

#[test]
fn plan_comment_is_not_a_skip() {
    let (recs, s) = records(b"1..2 # two checks\nok\nok\n");
    assert_clean(&s);
    assert_eq!(s.skip_all, None);
    assert_eq!(
        recs[0],
        json!({"type": "plan", "count": 2, "reason": "two checks"})
    );
}

#[test]
fn skip_all_plans() {
    let (recs, s) = records(b"TAP version 14\n1..0 # skip: the frobnicator is not installed\n");
    assert_eq!(
        s.skip_all.as_deref(),
        Some("the frobnicator is not installed")
    );
    assert!(s.parse_errors.is_empty());
    assert_eq!(recs[1]["skip_all"], true);
    assert_eq!(summary("1..0\n").skip_all.as_deref(), Some(""));
    assert_eq!(
        summary("1..0 # no tty here\n").skip_all.as_deref(),
        Some("no tty here")
    );
    let s = summary("ok 1\n1..0\n");
    assert_eq!(s.parse_errors, ["planned 0 tests but ran 1"]);
}

#[test]
fn plan_errors() {
    assert_eq!(
        summary("ok 1\nok 2\n").parse_errors,
        ["no plan found in TAP output"]
    );
    let s = summary("1..2\nok 1\n1..2\nok 2\n");
    assert_eq!(
        s.parse_errors,
        ["more than one plan: another plan 1..2 at line 3"]
    );
    // Five points where six were planned, two of them failing (the spec's own
    // counter-example of implied numbering).
    let s = summary("TAP version 13\n1..6\nnot ok\nok\nnot ok\nok\nok\n");
    assert_eq!(s.failed.listed, [1, 3]);
    assert_eq!(s.parse_errors, ["planned 6 tests but ran 5"]);
    let s = summary("ok 1\n1..2\nok 2\n");
    assert_eq!(
        s.parse_errors,
        ["test 2 comes after the plan 1..2 that ended the tests"]
    );
}

#[test]
fn implied_numbers_follow_the_last_one() {
    let (recs, s) = records(b"1..5\nok\nok 2\nok\nok 4\nok\n");
    assert_clean(&s);
    let numbers: Vec<_> = recs[1..]
        .iter()
        .map(|r| r["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
}

#[test]
fn any_order_is_fine_but_not_outside_the_plan() {
    let s = summary("TAP version 14\n1..3\nok 2\nok 3\nok 1\n");
    assert_clean(&s);
    assert_eq!(
        s.warnings.len(),
        1,
        "out of order is worth a note: {:?}",
        s.warnings
    );
    let (recs, s) = records(b"TAP version 14\n1..3\nok 2\nok 4\nok 1\n");
    assert_eq!(s.failed.listed, [4]);
    assert_eq!(s.parse_errors, ["test 4 is outside the plan 1..3"]);
    assert_eq!(recs[3]["ok"], false);
    assert_eq!(recs[3]["unplanned"], true);
    let s = summary("ok 2\nok 5\nok 1\n1..3\n");
    assert_eq!(s.parse_errors, ["test 5 is outside the plan 1..3"]);
}

#[test]
fn duplicate_numbers_are_errors() {
    let (recs, s) = records(b"1..3\nok 1\nok 2\nok 2\n");
    assert_eq!(s.parse_errors, ["test 2 appears more than once"]);
    assert_eq!(recs[3]["duplicate"], true);
    let s = summary("1..3\nok 3\nok 1\nok 3\n");
    assert_eq!(s.parse_errors, ["test 3 appears more than once"]);
}

#[test]
fn directives_count_as_prove_counts_them() {
    let s = summary("TAP version 14\n1..5\nok 1 - os check\nok 2 - # SKIP no /proc\nnot ok 3 - loop # TODO halting problem\nok 4 - leak # todo fixed already?\nnot ok 5 # skip but failed\n");
    assert_eq!((s.run, s.skipped, s.todo), (5, 1, 2));
    assert_eq!(s.todo_passed.listed, [4]);
    assert_eq!(s.failed.listed, [5], "a failing SKIP fails, as under prove");
    assert!(s.parse_errors.is_empty());
}

#[test]
fn assert_fields_and_escapes() {
    let (recs, _) = records(
        b"not ok 3 - hello \\# world \\\\ # TODO fix \\# this\nok 4 - a#b # SkIpPeD: later\n",
    );
    assert_eq!(
        recs[0],
        json!({"type": "assert", "ok": false, "number": 3, "description": "hello # world \\", "directive": "todo", "reason": "fix # this"})
    );
    assert_eq!(recs[1]["description"], "a#b");
    assert_eq!(recs[1]["directive"], "skip");
    assert_eq!(recs[1]["reason"], "later");
    // A failed assert's first key is "ok", so readers can find failures by
    // bytes; a passing one, and the parts its line states, are left out.
    let mut p = Parser::new();
    let mut buf = Vec::new();
    p.line(b"not ok 1 - a").write_fields(&mut buf);
    assert_eq!(buf, b",\"ok\":false");
    buf.clear();
    p.line(b"ok - b # skip c").write_fields(&mut buf);
    assert_eq!(buf, b",\"number\":2");
}

#[test]
fn yaml_block_becomes_json_on_its_closing_line() {
    let tap = b"TAP version 14\n1..2\nnot ok 1 - resolve host\n  ---\n  message: \"no such host 'kiwi.test'\"\n  severity: fail\n  found:\n    addr: ~\n\n  wanted:\n    addr: '10.9.8.7'\n  at:\n    line: 142\n  ...\nok 2\n";
    let (recs, s) = records(tap);
    assert_eq!(s.failed.listed, [1]);
    assert!(s.parse_errors.is_empty());
    let kinds: Vec<_> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "version", "plan", "assert", "yaml", "yaml", "yaml", "yaml", "yaml", "yaml", "yaml",
            "yaml", "yaml", "yaml", "yaml", "assert"
        ]
    );
    assert_eq!(recs[3], json!({"type": "yaml", "number": 1}));
    assert_eq!(
        recs[13],
        json!({"type": "yaml", "number": 1, "yaml": {
            "message": "no such host 'kiwi.test'", "severity": "fail",
            "found": {"addr": null}, "wanted": {"addr": "10.9.8.7"}, "at": {"line": 142}}})
    );
}

#[test]
fn yaml_may_follow_comments_and_keeps_blank_lines() {
    let (recs, _) =
        records(b"1..1\nok 1\n# between\n  ---\n  text: |\n    one\n\n    two\n  ...\n");
    assert_eq!(recs[8]["yaml"], json!({"text": "one\n\ntwo\n"}));
}

#[test]
fn unreadable_yaml_is_kept_as_text() {
    let (recs, _) = records(b"1..1\nnot ok 1\n  ---\n  a: &x 1\n  b: *x\n  ...\n");
    assert_eq!(recs[5]["yaml"], "a: &x 1\nb: *x\n");
    assert!(recs[5]["yaml_error"]
        .as_str()
        .unwrap()
        .contains("kept as text"));
}

#[test]
fn unterminated_yaml_ends_at_a_less_indented_line() {
    let (recs, s) = records(b"1..2\nnot ok 1\n  ---\n  a: 1\nok 2\n");
    assert_eq!(
        recs[4]["type"], "assert",
        "the line that ended the block is still TAP"
    );
    assert_eq!(s.run, 2);
    assert_eq!(
        s.warnings,
        ["the YAML block of test 1 has no closing '...'"]
    );
}

#[test]
fn unterminated_yaml_is_an_error_once_tap_13_is_declared() {
    // prove reads YAML only under a version line, and then a block without its
    // `...` is a parse error, whether a less indented line or the end cuts it.
    let s = summary("TAP version 13\n1..2\nnot ok 1\n  ---\n  a: 1\nok 2\n");
    assert_eq!(
        s.parse_errors,
        ["the YAML block of test 1 has no closing '...'"]
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let s = summary("TAP version 14\n1..1\nok 1\n  ---\n  a: 1\n");
    assert_eq!(
        s.parse_errors,
        ["the YAML block of test 1 has no closing '...'"]
    );
}

#[test]
fn two_skip_all_plans_are_two_plans() {
    let s = summary("1..0 # skip\n1..0 # skip\n");
    assert_eq!(
        s.parse_errors,
        ["more than one plan: another plan 1..0 at line 2"]
    );
}

#[test]
fn yaml_needs_a_test_point_before_it() {
    assert_eq!(
        types("1..1\n  ---\n  ...\nok\n"),
        ["plan", "output", "output", "assert"]
    );
}

#[test]
fn huge_yaml_is_capped_and_kept_as_text() {
    let mut tap = b"1..1\nok 1\n  ---\n".to_vec();
    let line = format!("  k: {}\n", "x".repeat(1000));
    for _ in 0..(YAML_CAP / 1000 + 10) {
        tap.extend_from_slice(line.as_bytes());
    }
    tap.extend_from_slice(b"  ...\n");
    let (recs, _) = records(&tap);
    let last = recs.last().unwrap();
    assert!(last["yaml_truncated"].as_u64().unwrap() > 0);
    assert!(last["yaml"].as_str().unwrap().len() <= YAML_CAP);
}

#[test]
fn commented_subtests_at_the_parent_indentation() {
    let tap = "TAP version 14\n1..2\n\n# Subtest: first.tap\n    1..2\n    ok 1\n    ok 2 - passes\nok 1 - first.tap\n\n# Subtest: second.tap\n    ok 1 - is a Widget\n    not ok 2 - widget spins\n      ---\n      wanted: true\n      ...\n    ok 3 - widget hums # TODO\n    1..3\nnot ok 2 - second.tap\n";
    let (recs, s) = records(tap.as_bytes());
    assert_eq!(
        (s.planned, s.run, s.passed),
        (Some(2), 2, 1),
        "subtest points do not count at the top"
    );
    assert_eq!(s.failed.listed, [2]);
    assert!(s.parse_errors.is_empty(), "{:?}", s.parse_errors);
    assert_eq!(
        recs[3],
        json!({"type": "comment", "subtest": "first.tap", "depth": 1})
    );
    assert_eq!(recs[5]["depth"], 1);
    assert_eq!(
        recs[7],
        json!({"type": "assert", "ok": true, "number": 1, "description": "first.tap", "subtest": "first.tap"})
    );
    assert_eq!(recs[14]["yaml"], json!({"wanted": true}));
    assert_eq!(recs[14]["depth"], 1);
    assert_eq!(recs[17]["subtest_error"], "1 of 3 tests failed");
}

#[test]
fn test_more_subtests_with_the_header_indented() {
    let tap = "1..2\n    # Subtest: inner\n    ok 1 - a\n    1..1\nok 1 - inner\nok 2\n";
    let s = summary(tap);
    assert_clean(&s);
    assert_eq!(s.run, 2);
}

#[test]
fn bare_and_nested_subtests() {
    let s = summary(
        "TAP version 14\n    ok 1 - subtest point\n    1..1\nok 1 - subtest passing\n1..1\n",
    );
    assert_clean(&s);
    let (recs, s) = records(b"TAP version 14\n        ok 1 - twice nested\n        1..1\n    ok 1 - nested parent\n    1..1\nok 1 - double nest passing\n1..1\n");
    assert_clean(&s);
    assert_eq!(recs[1]["depth"], 2);
    assert_eq!(recs[3]["depth"], 1);
    assert_eq!(recs[3]["subtest"], "");
}

#[test]
fn a_broken_subtest_fails_its_ok_parent() {
    // A failure the parent does not reflect.
    let (recs, s) =
        records(b"1..1\n# Subtest: math\n    ok 1\n    not ok 2\n    1..2\nok 1 - math\n");
    assert_eq!(s.failed.listed, [1]);
    assert_eq!(
        s.parse_errors,
        ["test 1: its subtest is broken: 1 of 2 tests failed"]
    );
    assert_eq!(recs[5]["ok"], false);
    assert_eq!(recs[5]["reported_ok"], true);
    // No plan, and a plan that does not match.
    assert_eq!(summary("1..1\n    ok 1\nok 1\n").failed.listed, [1]);
    let s = summary("1..1\n    1..3\n    ok 1\nok 1\n");
    assert_eq!(
        s.parse_errors,
        ["test 1: its subtest is broken: planned 3 tests but ran 1"]
    );
    // A problem found inside the subtest.
    let s = summary("1..1\n    1..2\n    ok 1\n    ok 1\nok 1\n");
    assert_eq!(
        s.parse_errors,
        ["test 1: its subtest is broken: subtest at depth 1: test 1 appears more than once"]
    );
    // A TODO parent may have a broken subtest.
    assert_clean(&summary(
        "1..1\n    not ok 1\n    1..1\nnot ok 1 - later # TODO\n",
    ));
    // An empty skipped subtest is sound.
    assert_clean(&summary(
        "1..1\n# Subtest: empty\n    1..0 # SKIP nothing here\nok 1 - empty\n",
    ));
}

#[test]
fn a_closing_point_with_another_name_is_a_note_not_a_failure() {
    let (recs, s) = records(b"1..1\n# Subtest: alpha\n    1..1\n    ok 1\nok 1 - beta\n");
    assert_clean(&s);
    assert_eq!(recs[4]["ok"], true);
    assert_eq!(recs[4]["subtest"], "alpha");
    assert_eq!(recs[4].get("subtest_error"), None);
    assert_eq!(
        s.remarks,
        ["test 1 closes subtest 'alpha' but names it 'beta'"]
    );
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    // Still a failure when the subtest itself is broken.
    let s = summary("1..1\n# Subtest: alpha\n    1..1\n    not ok 1\nok 1 - beta\n");
    assert_eq!(s.failed.listed, [1]);
}

#[test]
fn test2_closes_a_streamed_subtest_with_subtest_and_its_name() {
    let s = summary(
        "ok 1\n# Subtest: user says yes\n    ok 1\n    1..1\nok 2 - Subtest: user says yes\n1..2\n",
    );
    assert_clean(&s);
    assert!(s.remarks.is_empty(), "{:?}", s.remarks);
}

#[test]
fn a_skipped_subtest_may_close_with_no_description() {
    let s = summary("1..2\nok 1\n# Subtest: skip all\n    1..0 # SKIP subtest with skip_all\nok 2 # skip subtest with skip_all\n");
    assert_clean(&s);
    assert_eq!((s.passed, s.skipped), (2, 1));
    assert!(s.remarks.is_empty(), "{:?}", s.remarks);
}

#[test]
fn nested_subtests_closed_under_other_names_are_notes() {
    // Test::Builder->reset inside a subtest, as in Test-More's
    // t/regression/757-reset_in_subtest.t: every closing point names the file.
    let tap = "# Subtest: subtest\n    ok 1\n    1..1\nok 1 - t/757.t\n# Subtest: subtest\n    # Subtest: subtest\n        ok 1\n        1..1\n    ok 1 - t/757.t\n    ok 2\n    1..2\nok 2 - t/757.t\n1..2\n";
    let s = summary(tap);
    assert_clean(&s);
    assert_eq!((s.run, s.passed), (2, 2));
    assert_eq!(
        s.remarks,
        [
            "test 1 closes subtest 'subtest' but names it 't/757.t'",
            "subtest 'subtest': test 1 closes subtest 'subtest' but names it 't/757.t'",
            "test 2 closes subtest 'subtest' but names it 't/757.t'",
        ]
    );
}

#[test]
fn unterminated_subtests_are_output_not_failures() {
    let s = summary("1..1\nok 1\n# Subtest: lost\n    ok 1\n");
    assert_clean(&s);
    assert_eq!(
        s.warnings,
        ["subtest 'lost' ended without a test point closing it"]
    );
}

#[test]
fn strict_pragma_makes_non_tap_fail() {
    let (recs, s) = records(b"TAP version 14\n1..2\npragma +strict\nok 1\nthis is not TAP\npragma -strict\nnor is this\nok 2\n");
    assert_eq!(s.strict_violations.listed, [5]);
    assert_eq!(recs[2], json!({"type": "pragma", "pragma": "+strict"}));
    assert_eq!(recs[4]["strict"], true);
    assert_eq!(recs[6].get("strict"), None);
    assert!(s.parse_errors.is_empty());
    // Unknown pragma keys are ignored.
    assert_clean(&summary("pragma +bail\n1..1\nok\nnoise\n"));
}

#[test]
fn strict_in_a_subtest_stays_in_the_subtest() {
    let s = summary("TAP version 14\npragma -strict\n# Subtest: child\n    1..1\n    pragma +strict\n    ok 1\nok 1 - child\n!!not TAP at the top!!\n1..1\n");
    assert_clean(&s);
    assert_eq!(s.strict_violations.count, 0);
    let s = summary("1..1\n# Subtest: child\n    pragma +strict\n    1..1\n    ok 1\n    garbage\nok 1 - child\n");
    assert_eq!(s.failed.listed, [1]);
}

#[test]
fn bail_out_any_case_any_depth() {
    let (recs, s) = records(
        b"TAP version 14\n1..573\nnot ok 1 - database handle\nBAIL out! cannot reach \\#db\n",
    );
    assert_eq!(s.bail.as_deref(), Some("cannot reach #db"));
    assert_eq!(
        recs[3],
        json!({"type": "bail", "reason": "cannot reach #db"})
    );
    assert!(
        s.parse_errors.is_empty(),
        "the bail-out, not the plan, is the reason"
    );
    let s = summary("1..2\n    1..1\n    bail out!  disk full\n");
    assert_eq!(s.bail.as_deref(), Some("disk full"));
}

#[test]
fn comments_blanks_and_unknown_lines_never_fail() {
    assert_eq!(
        types("1..1\n# note\n   \n\nrandom words\nok\n"),
        ["plan", "comment", "blank", "blank", "output", "assert"]
    );
    assert_clean(&summary(
        "1..1\n# note\n   \n\nrandom words\n  indented 2\nok\n",
    ));
}

#[test]
fn tap_at_an_indentation_not_a_multiple_of_four_is_output() {
    assert_eq!(types("1..1\n  ok 1\nok 1\n"), ["plan", "output", "assert"]);
}

#[test]
fn crlf_and_lone_cr() {
    let (recs, s) = records(b"1..2\r\nok 1 - dos\r\nok 2\r\n");
    assert_clean(&s);
    assert_eq!(recs[1]["description"], "dos");
    let (recs, s) = records(b"1..3\nok 1\rok 2\rok 3\n");
    assert_clean(&s);
    assert_eq!(s.run, 3);
    assert_eq!(recs[1]["segments"], 3);
    assert_eq!(recs[1]["number"], 3);
    let (recs, _) = records(b"1..1\rok 1\rprogress 50%\n");
    assert_eq!(
        recs[0]["type"], "assert",
        "the record shows the last TAP piece"
    );
}

#[test]
fn invalid_utf8_is_kept_in_hex() {
    let (recs, s) = records(b"1..1\nok 1 - caf\xe9\n\xff\xfe\n");
    assert_clean(&s);
    assert_eq!(recs[1]["description"], "caf\u{fffd}");
    assert_eq!(recs[1]["description_hex"], "636166e9");
    assert_eq!(recs[2]["type"], "output");
}

#[test]
fn a_multi_megabyte_line_is_still_classified() {
    let mut line = b"not ok 1 - ".to_vec();
    line.extend(std::iter::repeat(b'x').take(8 << 20));
    line.extend_from_slice(b" # TODO big");
    let mut p = Parser::new();
    let l = p.line(&line);
    assert_eq!(
        (l.kind, l.directive, l.reason),
        (Kind::Assert, Some(Directive::Todo), &b"big"[..])
    );
    assert_eq!(l.description.len(), 8 << 20);
}

#[test]
fn errors_are_taken_per_line() {
    let mut p = Parser::new();
    p.line(b"ok 1");
    assert_eq!(p.take_errors().count(), 0);
    p.line(b"ok 1");
    assert_eq!(
        p.take_errors().collect::<Vec<_>>(),
        ["test 1 appears more than once"]
    );
    assert_eq!(p.take_errors().count(), 0);
    p.finish();
    assert_eq!(
        p.take_errors().collect::<Vec<_>>(),
        ["no plan found in TAP output"]
    );
}

#[test]
fn memory_stays_flat_over_a_million_lines() {
    let mut p = Parser::new();
    let mut line = Vec::new();
    for n in (1..=1_000_000u64).rev() {
        line.clear();
        line.extend_from_slice(format!("not ok {} - a \\# b", n).as_bytes());
        p.line(&line);
        p.take_errors().for_each(drop);
    }
    p.line(b"1..1000000");
    assert!(
        p.scratch_bytes() <= 4 * SCRATCH_KEEP,
        "{} bytes held",
        p.scratch_bytes()
    );
    let s = p.finish();
    assert_eq!((s.run, s.failed.count), (1_000_000, 1_000_000));
    assert_eq!(s.failed.listed.len(), LISTED_NUMBERS);
    assert!(s.parse_errors.is_empty(), "{:?}", s.parse_errors);
}

#[test]
fn a_subtest_header_with_nothing_under_it_is_a_comment() {
    let (recs, s) = records(b"1..2\n# Subtest: flat\nok 1 - a\nok 2 - b\n");
    assert_clean(&s);
    assert_eq!(recs[2].get("subtest"), None);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

#[test]
fn test2_buffered_subtests() {
    let tap = b"1..2\nok 1 - outer {\n    ok 1 - inner\n    1..1\n}\nnot ok 2 - other { # TODO later\n    not ok 1\n    1..1\n}\n";
    let (recs, s) = records(tap);
    assert_clean(&s);
    assert_eq!((s.run, s.passed, s.todo), (2, 2, 1));
    assert_eq!(
        recs[1],
        json!({"type": "assert", "ok": true, "number": 1, "description": "outer", "opens_subtest": true})
    );
    assert_eq!(recs[2]["depth"], 1);
    assert_eq!(
        recs[4],
        json!({"type": "comment", "subtest_end": "outer", "number": 1})
    );
    // A broken buffered subtest fails the point that opened it.
    let (recs, s) = records(b"1..1\nok 1 - outer {\n    not ok 1\n    1..1\n}\n");
    assert_eq!((s.passed, s.failed.listed.clone()), (0, vec![1]));
    assert_eq!(
        s.parse_errors,
        ["test 1: its subtest is broken: 1 of 1 tests failed"]
    );
    assert_eq!(recs[4]["subtest_error"], "1 of 1 tests failed");
    // A description that merely ends in a brace, with no subtest, stays quiet.
    let s = summary("1..2\nok 1 - {\nok 2\n");
    assert_clean(&s);
    assert!(s.warnings.is_empty());
}

#[test]
fn arbitrary_input_never_panics_and_counts_agree() {
    // Lines built from TAP's own pieces, in random order and indentation, so the
    // odd corners (subtests, YAML, braces, CRs, escapes) meet each other.
    const PIECES: &[&[u8]] = &[
        b"ok",
        b"not ok",
        b" 3",
        b" -",
        b" desc",
        b" # TODO",
        b" # skip x",
        b" \\#",
        b"\\\\",
        b" {",
        b"}",
        b"1..2",
        b"1..0",
        b"# Subtest: s",
        b"---",
        b"...",
        b"  a: 1",
        b"- x",
        b"  |",
        b"Bail out!",
        b"pragma +strict",
        b"TAP version 14",
        b"\r",
        b"\xff",
        b"    ",
        b"  ",
        b" ",
        b"#",
        b"\t",
        b"'",
        b"\"",
        b"[",
        b"{",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..(next() % 40) {
            for _ in 0..(next() % 4) {
                input.extend_from_slice(b"    ");
            }
            for _ in 0..(1 + next() % 4) {
                input.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            input.push(b'\n');
        }
        let (recs, s) = records(&input);
        let top_asserts = recs
            .iter()
            .filter(|r| r["type"] == "assert" && r.get("depth").is_none())
            .count() as u64;
        let segmented = recs.iter().any(|r| r.get("segments").is_some());
        if !segmented {
            assert_eq!(
                top_asserts,
                s.run,
                "input: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        assert_eq!(s.passed + s.failed.count, s.run);
    }
}
