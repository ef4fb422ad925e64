//! Differential check of verdicts: random TAP streams (tap_streams.rs) run
//! under prove's harness (tests/differential/prove-verdicts.pl) and under
//! proctor, file by file. A disagreement passes only when the man page's table
//! of known ones (TAP AND VERDICTS) lists a kind of fragment the stream holds,
//! with the same two verdicts. Every proctor run must end by itself, without a
//! panic, with exactly one final job_end per file.
//!
//! PROCTOR_DIFF_SEED and PROCTOR_DIFF_COUNT choose another set (`make
//! differential SEED=.. COUNT=..`).

use super::common::{events_of, Project};
use super::tap_streams::{self, Rng, Stream};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SEED: u64 = 21;
const COUNT: usize = 300;

#[test]
fn verdicts_agree_with_prove_on_random_tap() {
    if !prove_is_installed() {
        eprintln!("differential check skipped: perl's TAP::Harness (prove) is not installed");
        return;
    }
    let seed = setting("PROCTOR_DIFF_SEED", SEED as usize) as u64;
    let count = setting("PROCTOR_DIFF_COUNT", COUNT);
    let p = Project::new();
    let streams = write_streams(&p, seed, count);
    let prove = prove_verdicts(&p, &streams);
    let proctor = proctor_verdicts(&p, &streams);
    let known = known_disagreements();
    let mut unexplained = Vec::new();
    let mut listed = 0;
    for (file, stream) in &streams {
        let by_prove = &prove[file];
        let (by_proctor, reasons) = &proctor[file];
        if by_prove == by_proctor {
            continue;
        }
        if explained(&known, stream, by_prove, by_proctor) {
            listed += 1;
        } else {
            unexplained.push(format!(
                "{}: prove {}, proctor {} ({}); kinds: {}\n{}",
                file,
                by_prove,
                by_proctor,
                reasons,
                stream.kinds.iter().copied().collect::<Vec<_>>().join(" "),
                stream.shown()
            ));
        }
    }
    eprintln!(
        "differential check: seed {}, {} streams, {} disagreements the man page lists, {} it does not",
        seed,
        count,
        listed,
        unexplained.len()
    );
    assert!(
        unexplained.is_empty(),
        "{} of {} streams (seed {}) judged otherwise than prove, and man/proctor.1 lists none of their kinds:\n\n{}",
        unexplained.len(),
        count,
        seed,
        unexplained.join("\n")
    );
}

fn setting(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{} is no number: {}", name, v)),
        Err(_) => default,
    }
}

fn prove_is_installed() -> bool {
    Command::new("perl")
        .args(["-MTAP::Harness", "-e1"])
        .stderr(Stdio::null())
        .status()
        .map_or(false, |s| s.success())
}

/// Writes each stream as a .t file, under bail/ when it may bail out (a
/// bail-out stops the rest of a proctor run, so those run one by one) and
/// under t/ otherwise. The files are run by perl, never exec'd, so a plain
/// write is enough.
fn write_streams(p: &Project, seed: u64, count: usize) -> BTreeMap<String, Stream> {
    let mut rng = Rng::new(seed);
    let mut streams = BTreeMap::new();
    fs::create_dir_all(p.dir.join("t")).unwrap();
    fs::create_dir_all(p.dir.join("bail")).unwrap();
    for n in 0..count {
        let stream = tap_streams::stream(&mut rng);
        let dir = if may_bail(&stream) { "bail" } else { "t" };
        let file = format!("{}/s{:05}.t", dir, n);
        fs::write(p.dir.join(&file), stream.program()).unwrap();
        streams.insert(file, stream);
    }
    streams
}

fn may_bail(stream: &Stream) -> bool {
    stream
        .stdout
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"bail"))
}

/// prove's verdict (pass, fail or skip) by file.
fn prove_verdicts(p: &Project, streams: &BTreeMap<String, Stream>) -> BTreeMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/prove-verdicts.pl");
    let mut cmd = in_own_group("perl");
    cmd.arg(script).arg("prove.out").args(streams.keys());
    let (status, _, stderr) = run_bounded(p, cmd, "prove", streams.len());
    assert_eq!(status, Some(0), "prove-verdicts.pl failed:\n{}", stderr);
    fs::read_to_string(p.dir.join("prove.out"))
        .unwrap()
        .lines()
        .map(|l| {
            let (file, verdict) = l.rsplit_once(' ').unwrap();
            (file.to_string(), verdict.to_string())
        })
        .collect()
}

/// proctor's verdict and reasons by file: one run over t/, one per file of
/// bail/.
fn proctor_verdicts(
    p: &Project,
    streams: &BTreeMap<String, Stream>,
) -> BTreeMap<String, (String, String)> {
    let mut verdicts = BTreeMap::new();
    let mut runs: Vec<Vec<&str>> = vec![streams
        .keys()
        .filter(|f| f.starts_with("t/"))
        .map(|f| f.as_str())
        .collect()];
    runs.extend(
        streams
            .keys()
            .filter(|f| f.starts_with("bail/"))
            .map(|f| vec![f.as_str()]),
    );
    for files in runs.iter().filter(|files| !files.is_empty()) {
        verdicts.extend(proctor_run(p, files));
    }
    verdicts
}

/// Runs `proctor test` on `files` and reads each file's one final job_end.
fn proctor_run(p: &Project, files: &[&str]) -> BTreeMap<String, (String, String)> {
    let mut cmd = in_own_group(env!("CARGO_BIN_EXE_proctor"));
    cmd.args(["test", "-j2"])
        .args(files)
        .env("PROCTOR_STATE_DIR", p.state())
        .env("HOME", p.dir.join("home"));
    let (status, stdout, stderr) = run_bounded(p, cmd, "proctor", files.len());
    let said = format!("--- stdout\n{}--- stderr\n{}", stdout, stderr);
    assert!(!stderr.contains("panicked"), "proctor panicked:\n{}", said);
    assert!(
        matches!(status, Some(0) | Some(1) | Some(255)),
        "proctor exited with {:?}:\n{}",
        status,
        said
    );
    let events = events_of(&fs::read(p.state().join("last.jsonl")).unwrap());
    let mut ends: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["type"] == "job_end") {
        ends.entry(e["file"].as_str().unwrap().to_string())
            .or_default()
            .push(e);
    }
    let mut verdicts = BTreeMap::new();
    for file in files {
        let these = ends.get(*file).map_or(&[][..], |v| &v[..]);
        assert_eq!(
            these.len(),
            1,
            "{} has {} job_end records, not one:\n{}",
            file,
            these.len(),
            said
        );
        let end = these[0];
        assert_eq!(end["will_retry"], false, "{}: {}", file, end);
        let reasons = end["reasons"].as_array().map_or(String::new(), |r| {
            r.iter()
                .filter_map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        });
        verdicts.insert(
            file.to_string(),
            (end["result"].as_str().unwrap().to_string(), reasons),
        );
    }
    verdicts
}

/// A command for `program` in a session (so a process group) of its own,
/// which a hang's clean-up can end whole.
fn in_own_group(program: &str) -> Command {
    let mut cmd = Command::new("setsid");
    cmd.arg(program);
    cmd
}

/// Runs `cmd` in the project with its output in files, ended (its whole
/// process group) if it runs past a generous bound: a hang fails the check.
/// Gives the exit status (None for a signal), stdout and stderr.
fn run_bounded(
    p: &Project,
    mut cmd: Command,
    name: &str,
    files: usize,
) -> (Option<i32>, String, String) {
    use std::os::unix::process::ExitStatusExt;
    let out = p.dir.join(format!("{}.stdout", name));
    let err = p.dir.join(format!("{}.stderr", name));
    let mut child = cmd
        .current_dir(&p.dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    // A minute, and a tenth of a second a file: ten times what a loaded
    // machine needs, and still a bound a hang reaches in minutes.
    let bound = Duration::from_millis(60_000 + 100 * files as u64);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > bound {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("{} still running after {:?}: a hang", name, bound);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path| String::from_utf8_lossy(&fs::read(path).unwrap()).into_owned();
    assert!(
        status.signal().is_none(),
        "{} was killed by signal {:?}:\n{}",
        name,
        status.signal(),
        read(&err)
    );
    (status.code(), read(&out), read(&err))
}

/// A row of the man page's table: a kind of fragment, and the verdicts prove
/// and proctor give a stream holding it.
struct Known {
    kind: String,
    prove: String,
    proctor: String,
}

fn explained(known: &[Known], stream: &Stream, prove: &str, proctor: &str) -> bool {
    known.iter().any(|k| {
        stream.kinds.contains(k.kind.as_str())
            && matches(&k.prove, prove)
            && matches(&k.proctor, proctor)
    })
}

/// Whether a verdict of the table (`any` for any of them) says `verdict`.
fn matches(listed: &str, verdict: &str) -> bool {
    listed == "any" || listed == verdict
}

/// The rows of the tbl table in man/proctor.1's TAP AND VERDICTS section,
/// after its header line (`_`): kind, prove, proctor, why, tab-separated; a
/// verdict may be `any`.
fn known_disagreements() -> Vec<Known> {
    let page =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/proctor.1")).unwrap();
    let section = page
        .split("\n.SH ")
        .find(|s| s.starts_with("TAP AND VERDICTS"))
        .expect("man/proctor.1 has a TAP AND VERDICTS section");
    let table = section
        .split("\n.TS\n")
        .nth(1)
        .and_then(|t| t.split("\n.TE").next())
        .expect("TAP AND VERDICTS has a table (.TS ... .TE)");
    let body = table
        .split("\n_\n")
        .nth(1)
        .expect("the table's header ends with a _ line");
    // A T{ ... T} text block (the reason, wrapped) is part of the row above.
    let mut in_block = false;
    let rows: Vec<Known> = body
        .lines()
        .filter(|line| {
            let row = !in_block;
            if line.ends_with("T{") {
                in_block = true;
            } else if *line == "T}" {
                in_block = false;
            }
            row
        })
        .map(|row| {
            let cells: Vec<String> = row.split('\t').map(|c| c.replace("\\-", "-")).collect();
            assert!(
                cells.len() >= 4,
                "a row of the table of known disagreements has too few cells: {}",
                row
            );
            Known {
                kind: cells[0].clone(),
                prove: cells[1].clone(),
                proctor: cells[2].clone(),
            }
        })
        .collect();
    let verdicts: BTreeSet<&str> = ["pass", "fail", "skip", "any"].into_iter().collect();
    for k in &rows {
        assert!(
            verdicts.contains(k.prove.as_str()) && verdicts.contains(k.proctor.as_str()),
            "the table's row for {} has a verdict that is not pass, fail, skip or any",
            k.kind
        );
    }
    rows
}
