//! The order of a test's stdout and stderr lines, in the event log and under -v:
//! what proctor promises (see ORDER OF OUTPUT in the man page) and no more.

use crate::common::*;

/// A perl test that prints `ok 1`, a warning to stderr and `ok 2`; `between`
/// runs after each of the three.
fn warning_between(between: &str) -> String {
    format!(
        r#"#!/usr/bin/perl
use strict;
$| = 1; select STDERR; $| = 1; select STDOUT;
# How much of what was written to the pipe behind $fh proctor has not read yet.
sub unread {{ my $fh = shift; my $n = pack "L", 0; ioctl($fh, 0x541B, $n) or die "FIONREAD: $!"; unpack "L", $n }}
sub drained {{ my $fh = shift; for (1 .. 60000) {{ return if !unread($fh); select undef, undef, undef, 0.001 }} die "never read" }}
# Stops proctor (the auditor, this test's parent) and waits until it is stopped:
# kill returns before the signal has taken the process off its CPU.
sub stop_parent {{ my $p = getppid; kill 'STOP', $p; for (1 .. 60000) {{ open my $f, '<', "/proc/$p/stat" or die; my $st = <$f>; return if $st =~ /\) T /; select undef, undef, undef, 0.001 }} die "never stopped" }}
print "1..2\n";
drained(\*STDOUT);
print "ok 1\n"; {between}
print STDERR "warning\n"; {between}
print "ok 2\n"; {between}
"#,
        between = between
    )
}

/// The lines of the one test's output, as the event log has them, each with
/// its stream (a record without one is stdout's).
fn logged_lines(project: &Project) -> Vec<String> {
    project
        .events()
        .iter()
        .filter(|e| e["line"].is_string())
        .map(|e| {
            format!(
                "{} {}",
                e["stream"].as_str().unwrap_or("stdout"),
                e["line"].as_str().unwrap()
            )
        })
        .filter(|l| !l.ends_with("1..2"))
        .collect()
}

/// The same lines as -v shows them.
fn verbose_lines(run: &Run) -> Vec<String> {
    run.stdout()
        .lines()
        .filter_map(|l| l.strip_prefix("[t.t] "))
        .filter(|l| *l != "1..2")
        .map(str::to_string)
        .collect()
}

fn run_with(script: &str, flags: &[&str]) -> (Vec<String>, Vec<String>) {
    let project = Project::new();
    project.script("t.t", script);
    let mut args = vec!["test", "-v", "--exec", ""];
    args.extend_from_slice(flags);
    args.push("t.t");
    let run = project.proctor(&args);
    run.expect_status(0);
    (logged_lines(&project), verbose_lines(&run))
}

const IN_ORDER: [&str; 3] = ["stdout ok 1", "stderr warning", "stdout ok 2"];

fn assert_in_order(logged: &[String], shown: &[String], stream_of_warning: &str) {
    let expected: Vec<String> = IN_ORDER
        .iter()
        .map(|l| l.replace("stderr", stream_of_warning))
        .collect();
    assert_eq!(logged, expected);
    assert_eq!(shown, ["ok 1", "warning", "ok 2"]);
}

#[test]
fn lines_written_after_proctor_read_the_last_ones_keep_their_order() {
    // Each line waits until proctor has read the one before: the most a test
    // can do to be sure, and what any spacing in time comes down to.
    let (logged, shown) = run_with(
        &warning_between("drained(\\*STDOUT); drained(\\*STDERR);"),
        &[],
    );
    assert_in_order(&logged, &shown, "stderr");
}

#[test]
fn lines_on_both_pipes_at_once_are_interleaved_by_position() {
    // proctor is stopped while all three are written, so it finds them on both
    // pipes at once: the warning, half-way through stderr's bytes, goes
    // half-way through stdout's.
    let (logged, shown) = run_with(
        &warning_between("")
            .replace("print \"ok 1", "stop_parent(); print \"ok 1")
            .replace(
                "print \"ok 2\\n\"; ",
                "print \"ok 2\\n\"; kill 'CONT', getppid;",
            ),
        &[],
    );
    assert_in_order(&logged, &shown, "stderr");
}

#[test]
fn one_pipe_keeps_the_exact_order() {
    let (logged, shown) = run_with(&warning_between(""), &["--merge"]);
    assert_in_order(&logged, &shown, "stdout");
}

#[test]
fn each_pipe_keeps_its_own_order_however_fast() {
    // Written with nothing between: only each stream's own order is promised.
    for _ in 0..5 {
        let (logged, _) = run_with(&warning_between(""), &[]);
        let mut sorted = logged.clone();
        sorted.sort();
        assert_eq!(sorted, ["stderr warning", "stdout ok 1", "stdout ok 2"]);
        let stdout: Vec<&String> = logged.iter().filter(|l| l.starts_with("stdout")).collect();
        assert_eq!(stdout, ["stdout ok 1", "stdout ok 2"]);
    }
}
