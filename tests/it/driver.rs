//! `proctor driver`: Automake's custom test driver protocol, on single scripts
//! (the .trs and .log it writes for each kind of result) and in a real Automake
//! project run by `make check`.

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// One driver run on `./NAME`, with the files it wrote.
struct Driven {
    /// What the run is for: every failure message names it.
    case: String,
    run: Run,
    trs: String,
    log: String,
}

impl Driven {
    /// The `:test-result:` values, in order.
    fn results(&self) -> Vec<&str> {
        self.trs
            .lines()
            .filter_map(|l| l.strip_prefix(":test-result: "))
            .collect()
    }

    fn field(&self, name: &str) -> &str {
        let prefix = format!(":{}: ", name);
        self.trs
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("[{}] no :{}: in\n{}", self.case, name, self.trs))
    }

    /// Checks the global result, recheck and copy-in-global-log fields.
    fn expect_global(&self, global: &str, recheck: &str, copy: &str) -> &Driven {
        assert_eq!(
            (
                self.field("global-test-result"),
                self.field("recheck"),
                self.field("copy-in-global-log")
            ),
            (global, recheck, copy),
            "[{}]\n--- trs\n{}--- log\n{}",
            self.case,
            self.trs,
            self.log
        );
        self
    }

    fn expect_results(&self, expected: &[&str]) -> &Driven {
        assert_eq!(
            self.results(),
            expected,
            "[{}]\n--- trs\n{}--- log\n{}--- stdout\n{}--- stderr\n{}",
            self.case,
            self.trs,
            self.log,
            self.run.stdout(),
            self.run.stderr()
        );
        self
    }

    fn expect_stdout(&self, line: &str) -> &Driven {
        let out = self.run.stdout();
        assert!(
            out.lines().any(|l| l == line),
            "[{}] expected the line {:?} on stdout, got\n{}",
            self.case,
            line,
            out
        );
        self
    }

    fn expect_log(&self, text: &str) -> &Driven {
        assert!(
            self.log.contains(text),
            "[{}] expected {:?} in the log, got\n{}",
            self.case,
            text,
            self.log
        );
        self
    }

    /// Checks the .trs against `trs`: its test results in order, then, after
    /// `/`, its global result, recheck and copy-in-global-log
    /// (`"PASS FAIL / FAIL yes yes"`). A part left out is not checked.
    fn expect_trs(&self, trs: &str) -> &Driven {
        let (results, global) = trs.split_once('/').unwrap_or((trs, ""));
        let results: Vec<&str> = results.split_whitespace().collect();
        if !results.is_empty() {
            self.expect_results(&results);
        }
        match global.split_whitespace().collect::<Vec<_>>()[..] {
            [] => {}
            [global, recheck, copy] => {
                self.expect_global(global, recheck, copy);
            }
            _ => panic!("[{}] {:?}: the part after / takes 3 words", self.case, trs),
        }
        self
    }

    /// Checks one thing the run must have written, told by its first words:
    /// `stdout: LINE` (a whole line of stdout), `log: TEXT` (in the .log),
    /// `log is: TEXT` (the whole .log), `nowhere: TEXT` (neither on stdout
    /// nor in the .log), `result: R` (`file`'s result in the state
    /// directory's event log).
    fn expect(&self, p: &Project, file: &str, expectation: &str) -> &Driven {
        let (what, text) = expectation
            .split_once(": ")
            .unwrap_or_else(|| panic!("[{}] {:?} says nothing", self.case, expectation));
        match what {
            "stdout" => self.expect_stdout(text),
            "log" => self.expect_log(text),
            "nowhere" => self.expect_nowhere(text),
            "log is" => {
                assert_eq!(self.log, text, "[{}] the whole .log", self.case);
                self
            }
            "result" => {
                assert_eq!(
                    results(&p.events()),
                    pairs(&[(file, text)]),
                    "[{}] the event log",
                    self.case
                );
                self
            }
            _ => panic!(
                "[{}] {:?}: unknown check {:?}",
                self.case, expectation, what
            ),
        }
    }

    /// Checks that `text` is neither on stdout nor in the log.
    fn expect_nowhere(&self, text: &str) -> &Driven {
        let out = self.run.stdout();
        assert!(
            !out.contains(text) && !self.log.contains(text),
            "[{}] expected no {:?}, got\n--- stdout\n{}--- log\n{}",
            self.case,
            text,
            out,
            self.log
        );
        self
    }
}

fn drive(p: &Project, name: &str, extra: &[&str]) -> Driven {
    let log = format!("{}.log", name);
    let trs = format!("{}.trs", name);
    let test = format!("./{}", name);
    let mut args = vec![
        "driver",
        "--test-name",
        name,
        "--log-file",
        &log,
        "--trs-file",
        &trs,
    ];
    args.extend_from_slice(extra);
    args.push("--");
    args.push(&test);
    let run = p.proctor(&args);
    run.expect_status(0);
    Driven {
        case: format!("{} {}", name, extra.join(" "))
            .trim_end()
            .to_string(),
        trs: fs::read_to_string(p.dir.join(&trs)).expect("the .trs is written"),
        log: String::from_utf8_lossy(&fs::read(p.dir.join(&log)).expect("the .log is written"))
            .into_owned(),
        run,
    }
}

fn script(p: &Project, name: &str, body: &str) {
    p.script(name, &format!("#!/bin/sh\n{}", body));
}

/// The scripts the cases below run, each after its `#!/bin/sh` line.
const SCRIPTS: &[(&str, &str)] = &[
    ("pass.t", "echo 1..2\necho ok 1 - one\necho ok 2 - two\n"),
    (
        "fail.t",
        "echo 1..2\necho ok 1\necho 'not ok 2 - sums'\necho '# sums went wrong' >&2\n",
    ),
    ("exit.t", "echo 1..1\necho 'not ok 1'\nexit 1\n"),
    ("skip.t", "echo '1..0 # SKIP no database here'\n"),
    (
        "points.t",
        "echo 1..2\necho 'ok 1 # skip no network'\necho ok 2\n",
    ),
    (
        "todo.t",
        "echo 1..3\necho 'not ok 1 - later # TODO not written'\necho 'ok 2 # TODO fixed already'\necho ok 3\n",
    ),
    ("xfail.t", "echo 1..1\necho 'not ok 1 # TODO'\n"),
    (
        "bail.t",
        "echo 1..3\necho ok 1\necho 'Bail out! disk full'\necho ok 2\nexit 255\n",
    ),
    ("few.t", "echo 1..3\necho ok 1\n"),
    ("noplan.t", "echo ok 1\n"),
    ("order.t", "echo 1..2\necho ok 2\necho ok 1\n"),
    ("segv.t", "echo 1..2\necho ok 1\nkill -SEGV $$\n"),
    (
        "yaml.t",
        "cat <<'EOF'\nTAP version 13\n1..2\nok 1 - parses\nnot ok 2 - sums\n  ---\n  message: 'got 3, wanted 4'\n  severity: fail\n  ...\nEOF\n",
    ),
    (
        "known.t",
        "echo 1..3\necho ok 1\necho 'not ok 2 - known bug'\necho 'not ok 3 # TODO'\n",
    ),
    ("bug.t", "echo 1..1\necho 'not ok 1 - known bug'\n"),
    // For the exit protocol, which judges by the status alone: TAP-looking
    // output must not matter.
    ("e0", "echo 'not ok 1'\nexit 0\n"),
    ("e77", "echo 'not ok 1'\nexit 77\n"),
    ("e99", "echo 'not ok 1'\nexit 99\n"),
    ("e1", "echo 'not ok 1'\nexit 1\n"),
    ("c.t", "echo 1..2\necho ok 1\necho not ok 2\n"),
];

/// One driver run of a script in [`SCRIPTS`]: what it shows (a failure
/// names it), the script, the driver's options, what its .trs must say (see
/// [`Driven::expect_trs`]) and what else it must write (see
/// [`Driven::expect`]).
type Case = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
);

/// Writes the script of `case`, drives it, and checks what the driver wrote.
fn check(p: &Project, &(what, file, args, trs, expected): &Case) {
    let body = SCRIPTS
        .iter()
        .find(|(name, _)| *name == file)
        .unwrap_or_else(|| panic!("[{}] no script {} in SCRIPTS", what, file))
        .1;
    script(p, file, body);
    let mut d = drive(p, file, args);
    d.case = what.to_string();
    d.expect_trs(trs);
    for expectation in expected {
        d.expect(p, file, expectation);
    }
}

/// Each kind of result, as tap-driver.sh and test-driver judge it.
#[rustfmt::skip]
const CASES: &[Case] = &[
    ("a passing test", "pass.t", &[], "PASS PASS / PASS no no", &[
        "stdout: PASS: pass.t 1 - one",
        "stdout: PASS: pass.t 2 - two",
        // As tap-driver.sh writes it: no closing line of test-driver's.
        "log is: 1..2\nok 1 - one\nPASS: pass.t 1 - one\nok 2 - two\nPASS: pass.t 2 - two\n",
        // The event log is kept in the state directory, as with proctor test.
        "result: pass",
    ]),
    ("a failing point", "fail.t", &[], "PASS FAIL / FAIL yes yes", &[
        "stdout: FAIL: fail.t 2 - sums",
        "log: # sums went wrong\n",
        // proctor's reasons follow the test's lines.
        "log: # proctor: failed 1 of 2 tests: 2\n",
    ]),
    // As tap-driver.sh (Test::More exits with the number of failures).
    ("a non-zero exit is an error of its own", "exit.t", &[], "FAIL ERROR / ERROR yes yes",
        &["stdout: ERROR: exit.t - exited with status 1"]),
    ("--ignore-exit lets a non-zero exit pass", "exit.t", &["--ignore-exit"], "FAIL", &[]),
    ("a skip-all", "skip.t", &[], "SKIP / SKIP no yes",
        &["stdout: SKIP: skip.t - no database here"]),
    ("a skip-all's log left out of the global log", "skip.t", &["--collect-skipped-logs", "no"],
        "/ SKIP no no", &[]),
    ("a skipped point", "points.t", &[], "SKIP PASS / PASS no yes",
        &["stdout: SKIP: points.t 1 # SKIP no network"]),
    ("TODO points are expected failures", "todo.t", &[], "XFAIL XPASS PASS / FAIL yes yes", &[
        "stdout: XFAIL: todo.t 1 - later # TODO not written",
        "stdout: XPASS: todo.t 2 # TODO fixed already",
    ]),
    ("an expected failure alone passes", "xfail.t", &[], "XFAIL / PASS no yes", &[]),
    ("a bail-out is an error and ends the judging", "bail.t", &[], "PASS ERROR / ERROR yes yes", &[
        "stdout: ERROR: bail.t - Bail out! disk full",
        // Lines after the bail-out are still logged, not judged.
        "log: ERROR: bail.t - Bail out! disk full\nok 2\n",
    ]),
    ("too few tests is an error", "few.t", &[], "PASS ERROR",
        &["stdout: ERROR: few.t - too few tests run (expected 3, got 1)"]),
    ("no plan is an error", "noplan.t", &[], "PASS ERROR",
        &["stdout: ERROR: noplan.t - missing test plan"]),
    ("points out of order are errors", "order.t", &[], "ERROR ERROR",
        &["stdout: ERROR: order.t 2 # OUT-OF-ORDER (expecting 1)"]),
    ("a signal is an error", "segv.t", &[], "PASS ERROR ERROR / ERROR yes yes", &[
        "stdout: ERROR: segv.t - terminated by signal 11 (SIGSEGV)",
        "log: # proctor: killed by signal 11 (SIGSEGV)",
        "nowhere: (exit status:",
    ]),
    ("TAP 13 with YAML", "yaml.t", &[], "PASS FAIL / FAIL yes yes", &[
        "log: not ok 2 - sums\nFAIL: yaml.t 2 - sums\n  ---\n  message: 'got 3, wanted 4'\n  \
        severity: fail\n  ...\n",
    ]),
    ("--expect-failure inverts plain points", "known.t", &["--expect-failure", "yes"],
        "XPASS XFAIL XFAIL / FAIL yes yes", &["stdout: XFAIL: known.t 2 - known bug"]),
    ("--expect-failure=yes passes a failing file", "bug.t", &["--expect-failure=yes"],
        "XFAIL / PASS no yes", &[]),
    ("--protocol exit: status 0 passes", "e0", &["--protocol", "exit"], "PASS / PASS no no",
        &["stdout: PASS: e0", "log: not ok 1\nPASS e0 (exit status: 0)\n"]),
    ("--protocol exit: status 77 skips", "e77", &["--protocol", "exit"], "SKIP / SKIP no yes", &[]),
    ("--protocol exit: status 99 is a hard error", "e99", &["--protocol", "exit"],
        "ERROR / ERROR yes yes", &[]),
    ("--protocol exit: status 99 without hard errors fails", "e99",
        &["--protocol=exit", "--enable-hard-errors=no"], "FAIL", &[]),
    ("--protocol exit: status 1 fails", "e1", &["--protocol", "exit"], "FAIL / FAIL yes yes",
        &["log: FAIL e1 (exit status: 1)\n"]),
    ("--protocol exit: status 1, expected to fail", "e1",
        &["--protocol=exit", "--expect-failure=yes"],
        "XFAIL / XFAIL no yes", &[]),
    ("--protocol exit: status 0, expected to fail", "e0",
        &["--protocol=exit", "--expect-failure=yes"],
        "XPASS / XPASS yes yes", &[]),
    ("colors are Automake's", "c.t", &["--color-tests=yes"], "", &[
        "stdout: \x1b[0;32mPASS\x1b[m: c.t 1",
        "stdout: \x1b[0;31mFAIL\x1b[m: c.t 2",
        // The log is for reading: never colored.
        "log: PASS: c.t 1\n",
    ]),
    ("--color-tests no", "c.t", &["--color-tests", "no"], "", &["nowhere: \x1b"]),
];

/// Every case runs, whichever fails; each failure is told with its case.
#[test]
fn each_kind_of_result_as_automake_counts_it() {
    let p = Project::new();
    let failed: Vec<&str> = CASES
        .iter()
        .filter(|case| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&p, case))).is_err()
        })
        .map(|case| case.0)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases failed (their messages are above): {:?}",
        failed.len(),
        CASES.len(),
        failed
    );
}

#[test]
fn the_words_before_the_file_run_it() {
    let p = Project::new();
    fs::write(p.dir.join("plain.t"), "echo 1..1\necho ok 1 - via sh\n").unwrap();
    let run = p.proctor(&[
        "driver",
        "--test-name=plain.t",
        "--log-file=plain.log",
        "--trs-file=plain.trs",
        "--",
        "sh",
        "-e",
        "plain.t",
    ]);
    run.expect_status(0);
    run.expect_stdout("PASS: plain.t 1 - via sh");
    // A program that is not there is the test's error, and both files exist.
    let run = p.proctor(&[
        "driver",
        "--test-name=plain.t",
        "--log-file=gone.log",
        "--trs-file=gone.trs",
        "--",
        "no-such-program-here",
        "plain.t",
    ]);
    run.expect_status(0);
    let trs = fs::read_to_string(p.dir.join("gone.trs")).unwrap();
    assert!(trs.contains(":global-test-result: ERROR\n"), "{}", trs);
    run.expect_stdout("exited with status 127 (command not found?)");
}

/// Blank and whitespace-only lines, trailing blanks, a CRLF line and bytes that
/// are not UTF-8 all reach the .log as the test wrote them.
#[test]
fn the_log_keeps_every_line_as_written() {
    let p = Project::new();
    script(
        &p,
        "odd.t",
        "printf '1..2\\n\\n   \\n\\t\\nok 1 - crlf\\r\\nok 2 - caf\\351   \\n\\n# end  \\n'\n",
    );
    drive(&p, "odd.t", &[]).expect_results(&["PASS", "PASS"]);
    let log = fs::read(p.dir.join("odd.t.log")).unwrap();
    let expected: &[u8] = b"1..2\n\n   \n\t\nok 1 - crlf\r\nPASS: odd.t 1 - crlf\n\
        ok 2 - caf\xe9   \nPASS: odd.t 2 - caf\xe9\n\n# end  \n";
    assert_eq!(
        String::from_utf8_lossy(&log),
        String::from_utf8_lossy(expected)
    );
    assert_eq!(log, expected);
}

/// The description is what follows the number, as tap-driver.sh shows it: the
/// dash kept, an escaped `#` kept escaped, the directive upper-cased with its
/// explanation as written.
#[test]
fn result_lines_read_as_tap_drivers() {
    let p = Project::new();
    script(&p, "shapes.t", &format!("cat <<'EOF'\n{}EOF\n", SHAPES));
    let d = drive(&p, "shapes.t", &[]);
    d.expect_results(&[
        "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "SKIP", "XFAIL", "XFAIL", "SKIP",
        "SKIP", "XPASS", "FAIL",
    ]);
    for line in [
        "PASS: shapes.t 1 - foo",
        "PASS: shapes.t 2 foo",
        "PASS: shapes.t 3 -foo",
        "PASS: shapes.t 4 - foo",
        "PASS: shapes.t 5 - - foo",
        "PASS: shapes.t 6 0002 - Duplicate key",
        r"PASS: shapes.t 7 - a \# SKIP not really",
        "SKIP: shapes.t 8 - b # SKIP : why",
        "XFAIL: shapes.t 9 - c # TODO",
        "XFAIL: shapes.t 10 # TODO later on",
        "SKIP: shapes.t 11 # SKIP",
        r"SKIP: shapes.t 12 - a \\ # SKIP really",
        "XPASS: shapes.t 13 - d # TODO",
        "FAIL: shapes.t 14 - e # skipped, not a directive",
    ] {
        d.expect_stdout(line);
        d.expect_log(&format!("{}\n", line));
    }
}

/// Test points of every shape tap-driver.sh reads in its own way.
const SHAPES: &str = r"1..14
ok 1 - foo
ok 2 foo
ok 3 -foo
ok - foo
ok 5 - - foo
ok 6 0002 - Duplicate key
ok 7 - a \# SKIP not really
ok 8 - b # skip: why
not ok 9 - c # TODO
not ok 10 # TODO later on
ok 11 # SKIP
ok 12 - a \\ # SKIP really
ok 13 - d #todo
not ok 14 - e # skipped, not a directive
";

/// Automake's tap-driver.sh, when automake is installed.
fn tap_driver() -> Option<std::path::PathBuf> {
    let mut found: Vec<std::path::PathBuf> = fs::read_dir("/usr/share")
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("automake-"))
        .map(|e| e.path().join("tap-driver.sh"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// The test's lines and the results, without the `# proctor:` lines that
/// follow them when proctor has more to say than tap-driver.sh.
fn without_proctors_lines(log: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
    while lines
        .last()
        .map_or(false, |l| l.starts_with(b"# proctor: "))
    {
        lines.pop();
    }
    lines.concat()
}

/// The same tests, once through tap-driver.sh and once through proctor driver:
/// the same stdout, the same .trs, and the same .log but for proctor's reasons
/// at its end.
#[test]
fn the_same_files_as_tap_driver() {
    let tap_driver = match tap_driver() {
        Some(path) => path,
        None => {
            println!("note: no /usr/share/automake-*/tap-driver.sh; skipping the comparison");
            return;
        }
    };
    let p = Project::new();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "blank.t",
            "printf '1..3\\n\\n   \\n\\t\\nok 1 - foo   \\nok 2 0002 - Duplicate key\\nok 3 -bar\\n\\n'\n",
            &[],
        ),
        ("shapes.t", &format!("cat <<'EOF'\n{}EOF\n", SHAPES), &[]),
        ("xfail.t", &format!("cat <<'EOF'\n{}EOF\n", SHAPES), &["--expect-failure", "yes"]),
        (
            "yaml.t",
            "cat <<'EOF'\nTAP version 13\n1..2\nok 1 - parses\nnot ok 2 - sums\n  ---\n  message: 'got 3'\n\n  severity: fail\n  ...\n# a comment\n## two\n#   \nEOF\n",
            &["--comments"],
        ),
        (
            "subtest.t",
            "cat <<'EOF'\nTAP version 14\n1..2\n# Subtest: inner\n    1..1\n    ok 1 - deep\n\n    # deep comment\nok 1 - inner\nok 2 - after # TODO fixme\nEOF\n",
            &["--comments"],
        ),
        (
            "merged.t",
            "echo 1..2\necho '# to stderr' >&2\necho 'ok 1 - one'\necho 'warning: x' >&2\necho 'not ok 2 - two'\necho 'ok 3' >&2\nexit 1\n",
            &["--merge", "--comments"],
        ),
        (
            "bail.t",
            "echo 1..3\necho ok 1\necho 'Bail out!   disk full  '\necho ok 2\necho\nexit 3\n",
            &[],
        ),
        ("skipall.t", "echo '1..0 # SKIP: no database '\n", &[]),
        (
            "diag.t",
            "echo 1..1\necho '%% mine  '\necho '# not mine'\necho '%%'\necho ok 1\n",
            &["--comments", "--diagnostic-string", "%%"],
        ),
        ("late.t", "echo ok 1\necho 1..1\necho ok 2\n", &[]),
        ("order.t", "echo 1..3\necho ok 2\necho ok 1\necho ok 3\necho ok 4\n", &[]),
        ("noplan.t", "echo ok 1 - alone\n", &["--ignore-exit"]),
    ];
    for (name, body, extra) in cases {
        script(&p, name, body);
        let ours = drive(&p, name, extra);
        let (log, trs) = (format!("{}.td.log", name), format!("{}.td.trs", name));
        let theirs = Command::new("sh")
            .arg(&tap_driver)
            .args(["--test-name", name, "--log-file", &log, "--trs-file", &trs])
            .args(extra.iter())
            .arg("--")
            .arg(format!("./{}", name))
            .current_dir(&p.dir)
            .output()
            .unwrap();
        assert!(
            theirs.status.success(),
            "tap-driver.sh on {}\n{}",
            name,
            text(&theirs)
        );
        assert_eq!(
            ours.run.stdout(),
            String::from_utf8_lossy(&theirs.stdout),
            "stdout of {}",
            name
        );
        assert_eq!(
            ours.trs,
            fs::read_to_string(p.dir.join(&trs)).unwrap(),
            ".trs of {}",
            name
        );
        let their_log = fs::read(p.dir.join(&log)).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&without_proctors_lines(ours.log.as_bytes())),
            String::from_utf8_lossy(&their_log),
            ".log of {}",
            name
        );
    }
}

#[test]
fn bad_options_are_usage_errors() {
    let p = Project::new();
    script(&p, "ok.t", "echo 1..1\necho ok 1\n");
    let named = "--test-name=x --log-file=x.log --trs-file=x.trs";
    for (what, words) in [
        (
            "no --test-name",
            "--log-file x.log --trs-file x.trs -- ./ok.t".to_string(),
        ),
        (
            "no test command",
            "--test-name x --log-file x.log --trs-file x.trs".to_string(),
        ),
        (
            "a bad --color-tests",
            format!("{} --color-tests=maybe -- ./ok.t", named),
        ),
        (
            "an unknown protocol",
            format!("{} --protocol junit -- ./ok.t", named),
        ),
        ("an unknown option", format!("{} --bogus -- ./ok.t", named)),
    ] {
        let mut args = vec!["driver"];
        args.extend(words.split(' '));
        let run = p.proctor(&args);
        assert_eq!(
            run.status(),
            2,
            "[{}] the status; stderr:\n{}",
            what,
            run.stderr()
        );
        assert_eq!(
            run.stderr().lines().count(),
            1,
            "[{}] one line: {}",
            what,
            run.stderr()
        );
        assert!(
            run.stderr().starts_with("proctor: driver: "),
            "[{}] {}",
            what,
            run.stderr()
        );
    }
    assert!(!p.dir.join("x.trs").exists() && !p.dir.join("x.log").exists());
    let help = p.proctor(&["driver", "--help"]);
    help.expect_status(0);
    help.expect_stdout("--trs-file");
}

#[test]
fn a_terminated_driver_still_writes_both_files() {
    let p = Project::new();
    let m = marker("driver-term");
    p.script(
        "slow.t",
        &format!(
            "#!/bin/sh\necho 1..2\necho ok 1 - before\nexec perl -e 'sleep 30' {}\n",
            m
        ),
    );
    let driver = p.spawn(&[
        "driver",
        "--test-name=slow.t",
        "--log-file=slow.log",
        "--trs-file=slow.trs",
        "--",
        "./slow.t",
    ]);
    wait_until("the test to start", || running(&m));
    driver.signal("TERM");
    let run = driver.wait();
    run.expect_status(143);
    let trs = fs::read_to_string(p.dir.join("slow.trs")).unwrap();
    assert!(trs.contains(":test-result: PASS\n"), "{}", trs);
    assert!(trs.contains(":global-test-result: ERROR\n"), "{}", trs);
    let log = fs::read_to_string(p.dir.join("slow.log")).unwrap();
    assert!(log.contains("ok 1 - before\n"), "{}", log);
    assert!(log.contains("interrupted"), "{}", log);
    wait_until("the test to be gone", || !running(&m));
}

// ---- a real Automake project ----

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn sh(dir: &Path, command: &str) -> std::process::Output {
    // A make above this test (make check of proctor itself) must not leak its
    // flags into the project's make.
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn make_check_in_a_real_automake_project() {
    if !have("autoreconf") || !have("make") {
        println!("note: autoreconf or make is not installed; skipping the Automake project test");
        return;
    }
    let p = Project::new();
    fs::write(
        p.dir.join("configure.ac"),
        "AC_INIT([demo], [1.0])\n\
         AM_INIT_AUTOMAKE([foreign -Wall -Werror])\n\
         AC_PATH_PROG([PROCTOR], [proctor])\n\
         AC_CONFIG_FILES([Makefile])\n\
         AC_OUTPUT\n",
    )
    .unwrap();
    fs::write(
        p.dir.join("Makefile.am"),
        "TEST_EXTENSIONS = .t\n\
         T_LOG_DRIVER = $(PROCTOR) driver\n\
         TESTS = pass.t fail.t skip.t xfail.t yaml.t\n\
         XFAIL_TESTS = xfail.t\n\
         EXTRA_DIST = $(TESTS)\n",
    )
    .unwrap();
    script(
        &p,
        "pass.t",
        "echo 1..2\necho ok 1 - one\necho ok 2 - two\n",
    );
    script(
        &p,
        "fail.t",
        "echo 1..2\necho ok 1\necho 'not ok 2 - broken'\n",
    );
    script(&p, "skip.t", "echo '1..0 # SKIP not here'\n");
    script(&p, "xfail.t", "echo 1..1\necho 'not ok 1 - known bug'\n");
    script(
        &p,
        "yaml.t",
        "cat <<'EOF'\nTAP version 13\n1..1\nok 1 - with yaml\n  ---\n  took: 3ms\n  ...\nEOF\n",
    );

    let out = sh(&p.dir, "autoreconf -fi");
    assert!(out.status.success(), "autoreconf failed\n{}", text(&out));
    let configure = format!(
        "./configure PROCTOR={} >/dev/null",
        env!("CARGO_BIN_EXE_proctor")
    );
    let out = sh(&p.dir, &configure);
    assert!(out.status.success(), "configure failed\n{}", text(&out));

    let state = format!("PROCTOR_STATE_DIR={} ", p.state().display());
    let out = sh(&p.dir, &format!("{}make -j2 check", state));
    assert!(
        !out.status.success(),
        "make check should fail\n{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in [
        "PASS: pass.t 1 - one",
        "FAIL: fail.t 2 - broken",
        "SKIP: skip.t - not here",
        "XFAIL: xfail.t 1 - known bug",
        "PASS: yaml.t 1 - with yaml",
        "# TOTAL: 7",
        "# PASS:  4",
        "# SKIP:  1",
        "# XFAIL: 1",
        "# FAIL:  1",
        "# XPASS: 0",
        "# ERROR: 0",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {:?} in make check's output\n{}",
            line,
            text(&out)
        );
    }
    let trs = |name: &str| fs::read_to_string(p.dir.join(name)).unwrap();
    assert_eq!(
        trs("fail.trs"),
        ":global-test-result: FAIL\n:recheck: yes\n:copy-in-global-log: yes\n\
         :test-result: PASS\n:test-result: FAIL\n"
    );
    assert_eq!(
        trs("xfail.trs"),
        ":global-test-result: PASS\n:recheck: no\n:copy-in-global-log: yes\n\
         :test-result: XFAIL\n"
    );
    assert_eq!(
        trs("skip.trs"),
        ":global-test-result: SKIP\n:recheck: no\n:copy-in-global-log: yes\n\
         :test-result: SKIP\n"
    );
    assert!(
        trs("yaml.log").contains("  took: 3ms\n"),
        "{}",
        trs("yaml.log")
    );
    let suite = trs("test-suite.log");
    assert!(suite.contains("# FAIL:  1\n"), "{}", suite);
    // The failing test's log is copied in; the passing one's is not.
    assert!(suite.contains("FAIL: fail.t 2 - broken"), "{}", suite);
    assert!(suite.contains("not ok 2 - broken"), "{}", suite);
    assert!(!suite.contains("ok 1 - one"), "{}", suite);
    // The drivers of one make check are one run to proctor's log readers.
    let all = ["fail.t", "pass.t", "skip.t", "xfail.t", "yaml.t"];
    assert_eq!(files_timed(&p), all);
    p.proctor(&["failed"]).expect_status(0);
    assert_eq!(p.proctor(&["failed"]).stdout(), "fail.t\n");
    // Replayed, followed or not: every test, and one summary of them all.
    for follow in [&[][..], &["--follow"][..]] {
        let mut args = vec!["replay", "--color=never"];
        args.extend_from_slice(follow);
        let replay = p.proctor(&args);
        replay.expect_status(1);
        let out = replay.stdout();
        for name in all {
            assert!(out.contains(name), "{}", out);
        }
        assert_eq!(out.matches("Result: FAIL").count(), 1, "{}", out);
        assert!(out.contains("Files=5,"), "{}", out);
    }

    // Fixed, the same suite passes.
    script(&p, "fail.t", "echo 1..2\necho ok 1\necho 'ok 2 - mended'\n");
    let out = sh(&p.dir, &format!("{}make check", state));
    assert!(
        out.status.success(),
        "make check should pass\n{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for line in ["# TOTAL: 7", "# PASS:  5", "# FAIL:  0", "# XFAIL: 1"] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {:?} in make check's output\n{}",
            line,
            text(&out)
        );
    }
    assert!(trs("fail.trs").contains(":global-test-result: PASS\n"));
    // The last run is this make check, all of it, and only it.
    assert_eq!(files_timed(&p), all);
    assert_eq!(p.proctor(&["failed"]).stdout(), "");
}

/// The files `proctor times` lists for the last run, sorted.
fn files_timed(p: &Project) -> Vec<String> {
    let times = p.proctor(&["times"]);
    times.expect_status(0);
    let mut files: Vec<String> = times
        .stdout()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().last().map(String::from))
        .collect();
    files.sort();
    files
}

/// A Makefile that runs the driver on each of `tests`, as Automake's does.
fn makefile(p: &Project, dir: &Path, tests: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    let logs: Vec<String> = tests
        .iter()
        .map(|(name, _)| format!("{}.log", name.split('.').next().unwrap()))
        .collect();
    let driver = format!(
        "@{} driver --test-name $< --log-file $@ --trs-file $*.trs",
        env!("CARGO_BIN_EXE_proctor")
    );
    // *.sh tests tell their result by their exit status alone.
    fs::write(
        dir.join("Makefile"),
        format!(
            "all: {}\n%.log: %.t\n\t{} -- ./$<\n%.log: %.sh\n\t{} --protocol exit -- ./$<\n",
            logs.join(" "),
            driver,
            driver
        ),
    )
    .unwrap();
    for (name, body) in tests {
        let path = dir.strip_prefix(&p.dir).unwrap().join(name);
        script(p, path.to_str().unwrap(), body);
    }
}

/// make -j2 runs drivers side by side; the runs of one make are one run in the
/// state directory, and two makes at once (other trees, the same state
/// directory) keep theirs apart.
#[test]
fn the_drivers_of_one_make_are_one_run() {
    if !have("make") {
        println!("note: make is not installed; skipping the make -j2 test");
        return;
    }
    let p = Project::new();
    let tests = |bad: &'static str| {
        vec![
            ("a.t", "echo 1..1\necho ok 1\n"),
            ("b.t", bad),
            ("c.t", "echo 1..2\necho ok 1\necho ok 2\n"),
            ("d.t", "echo '1..0 # SKIP none'\n"),
            ("e.sh", "echo no TAP here\nexit 77\n"),
        ]
    };
    makefile(
        &p,
        &p.dir.join("one"),
        &tests("echo 1..1\necho 'not ok 1'\n"),
    );
    makefile(&p, &p.dir.join("two"), &tests("echo 1..1\necho ok 1\n"));
    let make = |tree: &str| {
        Command::new("make")
            .args(["-j2", "-s"])
            .current_dir(p.dir.join(tree))
            .env("PROCTOR_STATE_DIR", p.state())
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut one, mut two) = (make("one"), make("two"));
    assert!(one.wait().unwrap().success() && two.wait().unwrap().success());

    let logs: Vec<std::path::PathBuf> = fs::read_dir(p.state().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 2, "one log a make: {:?}", logs);
    let mut failed = Vec::new();
    for log in &logs {
        let events = events_of(&fs::read(log).unwrap());
        let mut files: Vec<String> = results(&events).into_iter().map(|(f, _)| f).collect();
        files.sort();
        assert_eq!(
            files,
            ["a.t", "b.t", "c.t", "d.t", "e.sh"],
            "{}",
            log.display()
        );
        let log = log.to_str().unwrap();
        failed.push(p.proctor(&["failed", log]).stdout());
    }
    // e.sh exited 77, a SKIP by its protocol, however little TAP it printed.
    failed.sort();
    assert_eq!(failed, ["", "b.t\n"]);
    // The last run is one of the two makes, whole.
    assert_eq!(files_timed(&p), ["a.t", "b.t", "c.t", "d.t", "e.sh"]);
    let left: Vec<String> = fs::read_dir(p.state())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left in the state directory: {:?}", left);
}

#[test]
fn a_server_a_test_starts_outlives_the_driver_as_under_tap_driver() {
    // tap-driver.sh leaves it to the make check: a later test may use it.
    let p = Project::new();
    let m = marker("driver-server");
    let body = format!(
        "echo 1..1\nsetsid perl -e 'sleep 300' {} >/dev/null 2>&1 </dev/null &\necho $! > server.pid\necho ok 1\n",
        m
    );
    script(&p, "start.t", &body);
    let driven = drive(&p, "start.t", &[]);
    let pid = p.read_trimmed("server.pid");
    assert!(!gone(&pid), "the server was ended with the driver");
    driven.expect_log(&format!("# proctor: left running: pid {} (", pid));
    kill("KILL", &pid);
    wait_until("the server to end", || gone(&pid));

    drive(&p, "start.t", &["--leftovers", "run"]);
    let pid = p.read_trimmed("server.pid");
    assert!(
        gone(&pid),
        "--leftovers run: the server outlived the driver"
    );
}
