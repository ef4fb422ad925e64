//! `proctor prove`, and proctor called as `prove`: prove's options and output,
//! so a build that runs `prove -lr t` gets proctor without a change. It parses
//! prove's options (and HARNESS_OPTIONS, HARNESS_VERBOSE, HARNESS_TIMER), finds
//! the files the way prove does, and hands the run to the session with the prove
//! renderer. Options prove has and proctor does not are accepted with a one-line
//! warning, never an error, so existing command lines keep working.

use crate::cli::TestArgs;
use crate::commands::session::{self, Session};
use crate::commands::test::{job_specs, launch_for};
use crate::discover;
use crate::error::{Error, Result};
use crate::render::prove::{self as render, Ending, Prove, Style};
use lexopt::prelude::*;
use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub const USAGE: &str = "\
usage: proctor prove [OPTIONS] [FILE|DIR...] [:: TEST-ARGS...]
       prove [OPTIONS] [FILE|DIR...]      (proctor installed under the name prove)

Runs test programs like prove(1) of Test::Harness 3.44, with prove's output.
No FILE or DIR: t/ (with -r: the current directory).

  -v, --verbose       print every line of each test's output
  -q, --quiet         less output while tests run
  -Q, --QUIET         only the summary
  -f, --failures      show failing test points
  -o, --comments      show comments
      --directives    show test points with a SKIP or TODO directive
  -p, --parse         show every parse error, not the first five
  -l, --lib           add lib to PERL5LIB
  -b, --blib          add blib/lib and blib/arch to PERL5LIB
  -I DIR              add DIR to PERL5LIB (repeatable)
  -r, --recurse       search directories recursively
  -e, --exec CMD      run each file as `CMD file` ('' runs the file itself)
  -m, --merge         send each test's stderr into its TAP
  -j, --jobs N        run N tests at once (default 1, as prove)
      --timer         time each test
  -s, --shuffle       run the files in random order
      --reverse       run the files in reverse order
  -D, --dry           list the files, run nothing
      --norc          read no .proverc (proctor reads none anyway)
  -h, --help          this text
  -V, --version       proctor's version

Accepted and ignored with a warning: --state, --statefile, --rc, -c/--color,
--nocolor, --count/--nocount, --ignore-exit, --normalize, --trap, -t, -T, -w, -W,
-M, -P, -a, --ext, --harness, --formatter, --source, --rules, --tapversion, -H.
";

#[derive(Debug, Default, PartialEq)]
pub struct ProveArgs {
    pub style: Style,
    pub lib: bool,
    pub blib: bool,
    pub includes: Vec<PathBuf>,
    pub recurse: bool,
    pub exec: Option<Vec<String>>,
    pub merge: bool,
    pub jobs: Option<usize>,
    pub shuffle: bool,
    pub reverse: bool,
    pub dry: bool,
    pub paths: Vec<PathBuf>,
    /// One line each: options accepted and not acted on.
    pub ignored: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(ProveArgs),
    Help,
    Version,
}

/// Parses prove's command line (without the program name), on top of what the
/// environment set (HARNESS_OPTIONS etc., see [`from_environment`]).
pub fn parse_from<I>(args: I, mut prove: ProveArgs) -> Result<Parsed>
where
    I: IntoIterator + 'static,
    I::Item: Into<OsString>,
{
    // Words after `::` are the tests' own; split them off before lexopt sees them.
    let mut words: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(at) = words.iter().position(|w| w == "::") {
        let rest = words.split_off(at).len() - 1;
        if rest > 0 {
            prove.ignored.push(format!(
                "arguments after '::' ({}) are not passed to tests; ignored",
                rest
            ));
        }
    }
    let mut parser = lexopt::Parser::from_args(words);
    let mut verbosity = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('v') | Long("verbose") => verbosity = Some(1),
            Short('q') | Long("quiet") => verbosity = Some(-1),
            Short('Q') | Long("QUIET") => verbosity = Some(-2),
            Short('f') | Long("failures") => prove.style.failures = true,
            Short('o') | Long("comments") => prove.style.comments = true,
            Long("directives") => prove.style.directives = true,
            Short('p') | Long("parse") => prove.style.all_errors = true,
            Long("timer") => prove.style.timer = true,
            Short('l') | Long("lib") => prove.lib = true,
            Short('b') | Long("blib") => prove.blib = true,
            Short('I') => prove.includes.push(parser.value()?.into()),
            Short('r') | Long("recurse") => prove.recurse = true,
            Short('e') | Long("exec") => {
                let value = string(parser.value()?)?;
                prove.exec = Some(value.split_whitespace().map(String::from).collect());
            }
            Short('m') | Long("merge") => prove.merge = true,
            Short('j') | Long("jobs") => {
                let value = string(parser.value()?)?;
                prove.jobs = Some(jobs(&value, "--jobs")?);
            }
            Short('s') | Long("shuffle") => prove.shuffle = true,
            Long("reverse") => prove.reverse = true,
            Short('D') | Long("dry") => prove.dry = true,
            Long("norc") => {}
            Short('h') | Short('?') | Long("help") => return Ok(Parsed::Help),
            Short('V') | Long("version") => return Ok(Parsed::Version),
            // prove's options that proctor does not act on: taken with their
            // values, so the rest of the command line still parses.
            Long(
                name @ ("state" | "statefile" | "rc" | "ext" | "harness" | "formatter" | "source"
                | "rules" | "tapversion" | "archive"),
            ) => {
                let name = name.to_string();
                let value = string(parser.value()?)?;
                prove
                    .ignored
                    .push(format!("--{}={} is not supported; ignored", name, value));
            }
            Short(c @ ('M' | 'P' | 'a')) => {
                let value = string(parser.value()?)?;
                prove
                    .ignored
                    .push(format!("-{}{} is not supported; ignored", c, value));
            }
            Long(
                name @ ("color" | "colour" | "nocolor" | "nocolour" | "count" | "nocount"
                | "ignore-exit" | "normalize" | "trap" | "man"),
            ) => {
                let name = name.to_string();
                prove
                    .ignored
                    .push(format!("--{} is not supported; ignored", name));
            }
            Short(c @ ('c' | 't' | 'T' | 'w' | 'W' | 'H')) => prove
                .ignored
                .push(format!("-{} is not supported; ignored", c)),
            Value(path) => prove.paths.push(path.into()),
            other => return Err(other.unexpected().into()),
        }
    }
    if let Some(v) = verbosity {
        prove.style.verbosity = v;
    }
    Ok(Parsed::Run(prove))
}

/// The defaults prove takes from its environment (TAP::Harness::Env):
/// HARNESS_OPTIONS `j<n>` (`j` alone: 9), HARNESS_VERBOSE, HARNESS_TIMER.
pub fn from_environment(get: impl Fn(&str) -> Option<String>) -> Result<ProveArgs> {
    let mut prove = ProveArgs::default();
    let set = |v: Option<String>| v.map_or(false, |v| !v.is_empty() && v != "0");
    if let Some(v) = get("HARNESS_VERBOSE").filter(|v| !v.is_empty() && v != "0") {
        prove.style.verbosity = v.parse::<i8>().unwrap_or(1).clamp(-2, 1);
    }
    prove.style.timer = set(get("HARNESS_TIMER"));
    if let Some(options) = get("HARNESS_OPTIONS") {
        for item in options.split(':').filter(|i| !i.is_empty()) {
            if let Some(n) = item.strip_prefix('j') {
                prove.jobs = Some(if n.is_empty() {
                    9
                } else {
                    jobs(n, "HARNESS_OPTIONS j")?
                });
            } else if item != "c" {
                prove.ignored.push(format!(
                    "HARNESS_OPTIONS item '{}' is not supported; ignored",
                    item
                ));
            }
        }
    }
    Ok(prove)
}

fn string(value: OsString) -> Result<String> {
    value
        .into_string()
        .map_err(|v| lexopt::Error::NonUnicodeValue(v).into())
}

fn jobs(value: &str, what: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::Usage(format!(
            "{}: '{}' is not a positive whole number",
            what, value
        ))),
    }
}

pub fn run(args: Vec<OsString>) -> Result<i32> {
    let env = from_environment(|k| std::env::var(k).ok())?;
    let prove = match parse_from(args, env)? {
        Parsed::Help => {
            print!("{}", USAGE);
            return Ok(0);
        }
        Parsed::Version => {
            println!(
                "proctor {} (as prove: options and output of TAP::Harness v3.44's prove)",
                env!("CARGO_PKG_VERSION")
            );
            return Ok(0);
        }
        Parsed::Run(p) => p,
    };
    for note in &prove.ignored {
        eprintln!("proctor prove: warning: {}", note);
    }
    let mut paths = expand(&prove.paths, prove.recurse)?;
    if prove.shuffle {
        shuffle(&mut paths);
    }
    if prove.reverse {
        paths.reverse();
    }
    if prove.dry {
        let mut out = io::stdout();
        for p in &paths {
            writeln!(out, "{}", p.display())?;
        }
        return Ok(0);
    }
    if paths.is_empty() {
        render::no_tests(&mut io::stdout())?;
        return Ok(0);
    }
    let files = discover::discover(&paths, false, prove.exec.as_deref())?;
    if prove.style.verbosity > 0 {
        // prove tells the tests it is verbose.
        std::env::set_var("TEST_VERBOSE", "1");
    }
    let test_args = TestArgs {
        lib: prove.lib,
        blib: prove.blib,
        includes: prove.includes.clone(),
        exec: prove.exec.clone(),
        merge: prove.merge,
        ..TestArgs::default()
    };
    let launch = launch_for(&test_args, &files)?;
    let session = Session {
        jobs: job_specs(files),
        launch,
        slots: prove.jobs.unwrap_or(1),
        state_dir: None,
        keep_log: true,
        extra_log: None,
        log_fd: None,
        keep: false,
        keyboard: false,
        policy: Default::default(),
    };
    let ending = Rc::new(RefCell::new(Ending::default()));
    let renderer = Prove::new(
        Box::new(io::stdout()),
        Box::new(io::stderr()),
        prove.style.clone(),
        ending.clone(),
    );
    let status = session::run(session, vec![Box::new(renderer)])?;
    let bailed = ending.borrow().bailed.clone();
    Ok(match bailed {
        // prove dies after a bail-out: its message on stderr, status 255.
        Some(reason) => {
            if reason.is_empty() {
                eprintln!("FAILED--Further testing stopped.");
            } else {
                eprintln!("FAILED--Further testing stopped: {}", reason);
            }
            255
        }
        None => status,
    })
}

/// The test files for prove's arguments: a directory gives its `*.t` files
/// (all below it with `-r`), each argument's files sorted as prove sorts them
/// (by bytes), duplicates dropped. No argument: `t` (with `-r`: `.`).
fn expand(paths: &[PathBuf], recurse: bool) -> Result<Vec<PathBuf>> {
    let default = [PathBuf::from(if recurse { "." } else { "t" })];
    let given = if paths.is_empty() {
        if !default[0].is_dir() {
            return Err(Error::Usage(format!(
                "No tests named and '{}' directory not found",
                default[0].display()
            )));
        }
        &default[..]
    } else {
        paths
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for path in given {
        let mut found = Vec::new();
        if path.is_dir() {
            let mut visited = HashSet::new();
            collect(path, recurse, &mut found, &mut visited)?;
            found.sort_by(|a: &PathBuf, b: &PathBuf| {
                a.as_os_str()
                    .to_string_lossy()
                    .as_bytes()
                    .cmp(b.as_os_str().to_string_lossy().as_bytes())
            });
        } else {
            found.push(path.clone());
        }
        for f in found {
            if seen.insert(f.clone()) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

fn collect(
    dir: &Path,
    recurse: bool,
    out: &mut Vec<PathBuf>,
    visited: &mut HashSet<(u64, u64)>,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // Symbolic links are followed, as prove does; each directory is read once.
    if let Ok(meta) = fs::metadata(dir) {
        if !visited.insert((meta.dev(), meta.ino())) {
            return Ok(());
        }
    }
    let entries = fs::read_dir(dir)
        .map_err(|e| Error::Usage(format!("{}: cannot list directory: {}", dir.display(), e)))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let path = dir.join(&name);
        if path.is_dir() {
            if recurse {
                collect(&path, recurse, out, visited)?;
            }
        } else if name.to_string_lossy().ends_with(".t")
            && (recurse || !name.to_string_lossy().starts_with('.'))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A Fisher-Yates shuffle seeded from the clock and the pid: enough for
/// `--shuffle`, which only has to break order dependence.
fn shuffle(paths: &mut [PathBuf]) {
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ ((std::process::id() as u64) << 32)
        | 1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in (1..paths.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        paths.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ProveArgs {
        let words: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse_from(words, ProveArgs::default()).unwrap() {
            Parsed::Run(p) => p,
            other => panic!("expected a run, got {:?}", other),
        }
    }

    #[test]
    fn bundles_and_values_in_every_form() {
        let p = parse(&["-lrv", "-j4", "-Ilib2", "-I", "inc", "t/a.t"]);
        assert!(p.lib && p.recurse && p.style.verbosity == 1);
        assert_eq!(p.jobs, Some(4));
        assert_eq!(p.includes, [PathBuf::from("lib2"), PathBuf::from("inc")]);
        assert_eq!(p.paths, [PathBuf::from("t/a.t")]);
        let p = parse(&["--jobs=3", "--exec", "sh -x", "-m", "-Q", "--timer", "-b"]);
        assert_eq!(p.jobs, Some(3));
        assert_eq!(p.exec, Some(vec!["sh".to_string(), "-x".to_string()]));
        assert!(p.merge && p.blib && p.style.timer);
        assert_eq!(p.style.verbosity, -2);
        let p = parse(&["-j", "2", "-e", "", "-q", "--shuffle", "--norc"]);
        assert_eq!(p.jobs, Some(2));
        assert_eq!(p.exec, Some(vec![]));
        assert!(p.shuffle && p.style.verbosity == -1 && p.ignored.is_empty());
    }

    #[test]
    fn unsupported_options_are_warnings() {
        let p = parse(&[
            "--state=save",
            "-c",
            "-Mstrict",
            "--ext",
            ".t",
            "t",
            "::",
            "x",
        ]);
        assert_eq!(p.ignored.len(), 5, "{:?}", p.ignored);
        assert_eq!(p.paths, [PathBuf::from("t")]);
    }

    #[test]
    fn help_version_and_errors() {
        let run = |a: &[&str]| {
            let words: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            parse_from(words, ProveArgs::default())
        };
        assert_eq!(run(&["-h"]).unwrap(), Parsed::Help);
        assert_eq!(run(&["-V"]).unwrap(), Parsed::Version);
        assert_eq!(run(&["--frob"]).unwrap_err().exit_status(), 2);
        assert_eq!(run(&["-j0"]).unwrap_err().exit_status(), 2);
    }

    /// Every long option of the usage text is in the man page's PROVE section.
    #[test]
    fn every_long_option_is_in_the_man_page() {
        let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/proctor.1"))
            .expect("man/proctor.1 is readable")
            .replace('\\', "");
        let section = &man[man.find(".SH PROVE").expect("a PROVE section")..];
        let mut checked = 0;
        for word in USAGE.split(|c: char| c.is_whitespace() || c == ',' || c == '/') {
            if let Some(flag) = word.strip_prefix("--") {
                let flag = flag.trim_end_matches(|c: char| !c.is_alphanumeric());
                assert!(
                    section.contains(&format!("--{}", flag)),
                    "--{} is not in PROVE",
                    flag
                );
                checked += 1;
            }
        }
        assert!(checked >= 30, "only {} options found in USAGE", checked);
    }

    #[test]
    fn environment_defaults_and_overrides() {
        let env = |k: &str| match k {
            "HARNESS_OPTIONS" => Some("j:c:fTAP-Formatter-X".to_string()),
            "HARNESS_VERBOSE" => Some("1".to_string()),
            _ => None,
        };
        let p = from_environment(env).unwrap();
        assert_eq!(p.jobs, Some(9));
        assert_eq!(p.style.verbosity, 1);
        assert_eq!(p.ignored.len(), 1);
        let p = match parse_from(["-j2".to_string(), "-q".to_string()], p).unwrap() {
            Parsed::Run(p) => p,
            other => panic!("{:?}", other),
        };
        assert_eq!((p.jobs, p.style.verbosity), (Some(2), -1));
    }
}
