//! The command line: a lexopt loop into plain structs. Validation only; no
//! syscalls, so every flag is unit-tested here next to the parser.

use crate::error::{Error, Result};
use crate::order::{Order, Partition};
use crate::render::{ColorChoice, Palette};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: proctor test [OPTIONS] [PATH...]   run tests (no PATH: t/)
       proctor failed [-v|--brief|--json] [LOG...]   the files that failed
       proctor replay [SHOW OPTIONS] [--follow] [LOG...]   show recorded runs again
       proctor times [LOG...]            per-file durations, slowest first
       proctor driver [AUTOMAKE OPTIONS] -- TEST   Automake's test driver
       proctor prove [PROVE OPTIONS] [PATH...]     prove's options and output
       proctor start [--preload MODULE]... [-j N] [-l] [-b] [-I DIR]   a persistent runner
       proctor run [OPTIONS] [PATH...]   like test, on the persistent runner
       proctor status | reload | stop    the persistent runner's state, restart its stage, end it
       proctor --help | --version

test options:
  -j, --jobs N            run N tests at once (default: number of CPUs)
  -r, --recurse           search directories recursively for *.t
      --ext EXT           tests in directories are files ending in EXT, not .t
                          (repeatable; '' : executables with no dot in the name)
  -l, --lib               add lib to PERL5LIB
  -b, --blib              add blib/lib and blib/arch to PERL5LIB
  -I DIR                  add DIR to PERL5LIB (repeatable)
      --exec CMD          run each file as `CMD file` ('' runs the file itself)
  -m, --merge             send the test's stderr into its stdout pipe
      --event-timeout S   stop a test silent for S seconds (default 60, 0: never)
      --leftovers WHEN    end what a test leaves running with the run (default) or the test
      --log FILE          also write the event log to FILE (- for stdout)
      --log-fd N          also write the event log to descriptor N
      --no-log            keep no event log in the state directory
  -k, --keep              keep job directories and their logs
      --state-dir DIR     keep logs in DIR (default: $XDG_STATE_HOME/proctor/<project>)
      --norc              read no .proctorrc (the project's, then ~/.proctorrc)

order and repetition:
      --order ORDER       durations (default once known), given, sorted, reverse,
                          shuffle[=SEED]
  -s, --shuffle           --order=shuffle
      --failed            run only what failed in the last run
      --state WORDS       prove's: failed, passed, all, slow, fast, new, save
      --retry N           try a failing file up to N more times
      --retry-isolated    retries run last, one at a time
      --flaky-fails       a file that passes only on a retry fails the run
      --partition P       slice:M/N or hash:M/N, this machine's share of the files

preloading:
      --preload MODULE    run perl tests in a perl that has MODULE loaded (repeatable)

show options (test and replay):
  -v, --verbose           every line of every test, as it comes, by file
  -q, --quiet             only failures and the summary
      --qvf               quiet, but a failing file's whole output
  -Q, --QUIET             only the summary
      --timer             each file's time on its line
      --junit FILE        also write JUnit XML to FILE
      --color WHEN        auto, always or never (NO_COLOR is honoured)
      --colors LIST       status colors, e.g. P=050,F=500,A=025,R=155,T=433
";

#[derive(Debug, PartialEq)]
pub enum Command {
    Test(Box<TestArgs>),
    /// `proctor run`: test on the persistent runner.
    Run(Box<TestArgs>),
    Start(StartArgs),
    Status(LogArgs),
    Reload(LogArgs),
    Stop(LogArgs),
    Failed(LogArgs),
    Replay(LogArgs),
    Times(LogArgs),
    /// `proctor driver ...`: Automake's test driver protocol; its own options.
    Driver(Vec<OsString>),
    /// `proctor prove ...`: prove's options and output.
    Prove(Vec<OsString>),
    /// `proctor audit ...`: the auditor, exec'd by a stage (proctor-stage(7)).
    Audit(Vec<OsString>),
    Help,
    Version,
}

/// How a run is shown: shared by `test` and `replay`.
#[derive(Debug, PartialEq)]
pub struct ShowArgs {
    pub verbose: bool,
    pub quiet: bool,
    /// `--qvf`: quiet, but the whole output of a failing file.
    pub failure_output: bool,
    pub junit: Option<PathBuf>,
    /// `-Q`: only the summary.
    pub really_quiet: bool,
    /// `--timer`: each file's time on its line.
    pub timer: bool,
    pub color: ColorChoice,
    pub colors: Option<Palette>,
}

impl Default for ShowArgs {
    fn default() -> ShowArgs {
        ShowArgs {
            verbose: false,
            quiet: false,
            failure_output: false,
            junit: None,
            really_quiet: false,
            timer: false,
            color: ColorChoice::Auto,
            colors: None,
        }
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct TestArgs {
    pub jobs: Option<usize>,
    pub recurse: bool,
    /// `--ext`: the name endings of tests in directories (none: `.t`).
    pub extensions: Vec<String>,
    pub lib: bool,
    pub blib: bool,
    pub includes: Vec<PathBuf>,
    /// `Some(vec![])` for `--exec ''`: run each file itself.
    pub exec: Option<Vec<String>>,
    pub merge: bool,
    pub event_timeout: Option<f64>,
    /// `--leftovers`: when what a test leaves running is ended (None: with the run).
    pub leftovers: Option<crate::auditor::Leftovers>,
    pub log: Option<PathBuf>,
    pub log_fd: Option<i32>,
    pub no_log: bool,
    pub keep: bool,
    pub state_dir: Option<PathBuf>,
    pub show: ShowArgs,
    /// `--order`; `Some(None)` is a shuffle with a seed chosen now.
    pub order: Option<Option<Order>>,
    pub failed: bool,
    /// prove's `--state` words.
    pub state: Vec<String>,
    pub retry: Option<u32>,
    pub retry_isolated: bool,
    pub flaky_fails: bool,
    pub partition: Option<Partition>,
    /// `--preload MODULE`: run perl tests in a stage with these loaded.
    pub preload: Vec<String>,
    pub paths: Vec<PathBuf>,
}

/// `proctor start`: what the persistent runner preloads.
#[derive(Debug, Default, PartialEq)]
pub struct StartArgs {
    pub preload: Vec<String>,
    /// How many tests a run runs at once when it does not say.
    pub jobs: Option<usize>,
    pub lib: bool,
    pub blib: bool,
    pub includes: Vec<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Default, PartialEq)]
pub struct LogArgs {
    /// The event logs to read (several: the shards of one suite); none: the last run.
    pub logs: Vec<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub show: ShowArgs,
    /// replay: keep reading a log that is still growing, until its run ends.
    pub follow: bool,
    /// failed: names only, even on a terminal.
    pub brief: bool,
    /// failed: reasons too, even into a pipe.
    pub reasons: bool,
    /// failed: JSON.
    pub json: bool,
}

/// One command-line word, owned, so its value can be read from the parser next.
enum Word {
    Flag(String),
    Value(OsString),
}

fn next_word(parser: &mut lexopt::Parser) -> Result<Option<Word>> {
    Ok(match parser.next()? {
        None => None,
        Some(Short(c)) => Some(Word::Flag(format!("-{}", c))),
        Some(Long(l)) => Some(Word::Flag(format!("--{}", l))),
        Some(Value(v)) => Some(Word::Value(v)),
    })
}

fn unknown(flag: &str) -> Error {
    Error::Usage(format!("invalid option '{}' (try 'proctor --help')", flag))
}

/// Parses the process's own arguments.
pub fn parse() -> Result<Command> {
    let (args, warnings) = crate::rc::with_rc(std::env::args_os().skip(1).collect());
    for w in warnings {
        eprintln!("proctor: warning: {}", w);
    }
    parse_from(args)
}

/// Parses `args` (without the program name).
pub fn parse_from<I>(args: I) -> Result<Command>
where
    I: IntoIterator + 'static,
    I::Item: Into<OsString>,
{
    let mut args = args.into_iter().map(Into::into).peekable();
    // driver and prove have option languages of their own (Automake's, prove's),
    // so their words go through untouched. (lexopt 0.2.0, Debian's, has no
    // raw_args(), so this happens before lexopt sees them.)
    match args.peek().and_then(|a: &OsString| a.to_str()) {
        Some("driver") => return Ok(Command::Driver(args.skip(1).collect())),
        Some("prove") => return Ok(Command::Prove(args.skip(1).collect())),
        Some("audit") => return Ok(Command::Audit(args.skip(1).collect())),
        _ => {}
    }
    let mut parser = lexopt::Parser::from_args(args);
    let command = match next_word(&mut parser)? {
        None => return Err(Error::Usage(format!("no command given\n{}", USAGE))),
        Some(Word::Flag(f)) if f == "--help" || f == "-h" => return Ok(Command::Help),
        Some(Word::Flag(f)) if f == "--version" || f == "-V" => return Ok(Command::Version),
        Some(Word::Flag(f)) => return Err(unknown(&f)),
        Some(Word::Value(v)) => string(v)?,
    };
    match command.as_str() {
        "test" => parse_test(&mut parser).map(|t| Command::Test(Box::new(t))),
        "run" => parse_test(&mut parser).map(|t| Command::Run(Box::new(t))),
        "start" => parse_start(&mut parser).map(Command::Start),
        "status" => parse_log(&mut parser, "status").map(Command::Status),
        "reload" => parse_log(&mut parser, "reload").map(Command::Reload),
        "stop" => parse_log(&mut parser, "stop").map(Command::Stop),
        "failed" => parse_log(&mut parser, "failed").map(Command::Failed),
        "replay" => parse_log(&mut parser, "replay").map(Command::Replay),
        "times" => parse_log(&mut parser, "times").map(Command::Times),
        "help" => Ok(Command::Help),
        other => Err(Error::Usage(format!(
            "unknown command '{}' (try 'proctor --help')",
            other
        ))),
    }
}

fn string(value: OsString) -> Result<String> {
    value
        .into_string()
        .map_err(|v| lexopt::Error::NonUnicodeValue(v).into())
}

fn value(parser: &mut lexopt::Parser) -> Result<String> {
    string(parser.value()?)
}

/// Takes a show flag; false when `flag` is not one.
fn parse_show(flag: &str, parser: &mut lexopt::Parser, show: &mut ShowArgs) -> Result<bool> {
    match flag {
        "-v" | "--verbose" => show.verbose = true,
        "-q" | "--quiet" => show.quiet = true,
        "--qvf" => {
            show.quiet = true;
            show.failure_output = true;
        }
        "--junit" => show.junit = Some(parser.value()?.into()),
        "-Q" | "--QUIET" => {
            show.quiet = true;
            show.really_quiet = true;
        }
        "--timer" => show.timer = true,
        "--color" | "--colour" => {
            show.color = ColorChoice::parse(&value(parser)?).map_err(Error::Usage)?
        }
        "--colors" | "--colours" => {
            show.colors = Some(Palette::with_overrides(&value(parser)?).map_err(Error::Usage)?)
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn parse_test(parser: &mut lexopt::Parser) -> Result<TestArgs> {
    let mut args = TestArgs::default();
    while let Some(word) = next_word(parser)? {
        let flag = match word {
            Word::Value(path) => {
                args.paths.push(path.into());
                continue;
            }
            Word::Flag(flag) => flag,
        };
        match flag.as_str() {
            "-j" | "--jobs" => args.jobs = Some(jobs(parser)?),
            "-r" | "--recurse" => args.recurse = true,
            "--ext" => args.extensions.push(value(parser)?),
            "-l" | "--lib" => args.lib = true,
            "-b" | "--blib" => args.blib = true,
            "-I" => args.includes.push(parser.value()?.into()),
            "--exec" => {
                args.exec = Some(
                    value(parser)?
                        .split_whitespace()
                        .map(String::from)
                        .collect(),
                )
            }
            "-m" | "--merge" => args.merge = true,
            "--event-timeout" => {
                let v = value(parser)?;
                match v.parse::<f64>() {
                    Ok(s) if s >= 0.0 && s.is_finite() => args.event_timeout = Some(s),
                    _ => {
                        return Err(Error::Usage(format!(
                            "--event-timeout: '{}' is not a number of seconds",
                            v
                        )))
                    }
                }
            }
            "--leftovers" => {
                let v = value(parser)?;
                let when = crate::auditor::Leftovers::parse(&v)
                    // Nothing a test starts may outlive a run of proctor's own.
                    .filter(|l| *l != crate::auditor::Leftovers::Keep);
                args.leftovers = Some(when.ok_or_else(|| {
                    Error::Usage(format!("--leftovers: '{}' is neither 'test' nor 'run'", v))
                })?)
            }
            "--log" => args.log = Some(parser.value()?.into()),
            "--log-fd" => {
                let v = value(parser)?;
                match v.parse::<i32>() {
                    Ok(fd) if fd >= 0 => args.log_fd = Some(fd),
                    _ => {
                        return Err(Error::Usage(format!(
                            "--log-fd: '{}' is not a file descriptor number",
                            v
                        )))
                    }
                }
            }
            "--no-log" => args.no_log = true,
            "-k" | "--keep" => args.keep = true,
            "--state-dir" => args.state_dir = Some(parser.value()?.into()),
            // Read before parsing (see rc.rs); here it only has to be allowed.
            "--norc" => {}
            "--order" => args.order = Some(Order::parse(&value(parser)?).map_err(Error::Usage)?),
            "-s" | "--shuffle" => args.order = Some(None),
            "--failed" => args.failed = true,
            "--state" => {
                for word in value(parser)?.split(',').filter(|w| !w.is_empty()) {
                    match word {
                        "failed" | "passed" | "all" | "slow" | "fast" | "new" | "save" => {
                            args.state.push(word.to_string())
                        }
                        other => {
                            return Err(Error::Usage(format!(
                                "--state: '{}' is not one of failed, passed, all, slow, fast, new, save",
                                other
                            )))
                        }
                    }
                }
            }
            "--retry" => {
                let v = value(parser)?;
                match v.parse::<u32>() {
                    Ok(n) => args.retry = Some(n),
                    _ => {
                        return Err(Error::Usage(format!(
                            "--retry: '{}' is not a whole number",
                            v
                        )))
                    }
                }
            }
            "--retry-isolated" => args.retry_isolated = true,
            "--preload" => args.preload.push(value(parser)?),
            "--flaky-fails" => args.flaky_fails = true,
            "--partition" => {
                args.partition = Some(Partition::parse(&value(parser)?).map_err(Error::Usage)?)
            }
            other => {
                if !parse_show(other, parser, &mut args.show)? {
                    return Err(unknown(other));
                }
            }
        }
    }
    Ok(args)
}

fn parse_start(parser: &mut lexopt::Parser) -> Result<StartArgs> {
    let mut args = StartArgs::default();
    while let Some(word) = next_word(parser)? {
        match word {
            Word::Flag(flag) => match flag.as_str() {
                "--preload" => args.preload.push(value(parser)?),
                "-j" | "--jobs" => args.jobs = Some(jobs(parser)?),
                "-l" | "--lib" => args.lib = true,
                "-b" | "--blib" => args.blib = true,
                "-I" => args.includes.push(parser.value()?.into()),
                "--state-dir" => args.state_dir = Some(parser.value()?.into()),
                other => return Err(unknown(other)),
            },
            Word::Value(v) => {
                return Err(Error::Usage(format!(
                    "start: unexpected '{}' (it takes options only)",
                    PathBuf::from(v).display()
                )))
            }
        }
    }
    Ok(args)
}

/// The value of -j: a positive whole number.
fn jobs(parser: &mut lexopt::Parser) -> Result<usize> {
    let v = value(parser)?;
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::Usage(format!(
            "--jobs: '{}' is not a positive whole number",
            v
        ))),
    }
}

fn parse_log(parser: &mut lexopt::Parser, command: &str) -> Result<LogArgs> {
    let mut args = LogArgs::default();
    while let Some(word) = next_word(parser)? {
        let flag = match word {
            Word::Value(path) => {
                args.logs.push(path.into());
                continue;
            }
            Word::Flag(flag) => flag,
        };
        match (command, flag.as_str()) {
            (_, "--state-dir") => args.state_dir = Some(parser.value()?.into()),
            ("replay", "--follow") | ("replay", "-f") => args.follow = true,
            ("failed", "--brief") => args.brief = true,
            ("failed", "-v") | ("failed", "--verbose") => args.reasons = true,
            ("failed", "--json") => args.json = true,
            ("replay", other) if parse_show(other, parser, &mut args.show)? => {}
            (_, other) => return Err(unknown(other)),
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_args(args: &[&str]) -> Result<TestArgs> {
        let words: Vec<String> = std::iter::once("test")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        match parse_from(words)? {
            Command::Test(t) => Ok(*t),
            other => panic!("expected a test command, got {:?}", other),
        }
    }

    #[test]
    fn test_flags() {
        let t = test_args(&[
            "-j3", "-rlb", "-I", "inc", "--exec", "", "--merge", "--log", "-", "-k", "t/a.t",
        ])
        .unwrap();
        assert_eq!(t.jobs, Some(3));
        assert!(t.recurse && t.lib && t.blib && t.merge && t.keep);
        assert_eq!(t.includes, [PathBuf::from("inc")]);
        assert_eq!(t.exec, Some(vec![]));
        assert_eq!(t.log, Some(PathBuf::from("-")));
        assert_eq!(t.paths, [PathBuf::from("t/a.t")]);
        let t = test_args(&[
            "--exec",
            "sh -x",
            "--event-timeout=2.5",
            "--no-log",
            "--state-dir",
            "s",
            "--ext",
            ".sh",
            "--ext=",
        ])
        .unwrap();
        assert_eq!(t.extensions, [".sh", ""]);
        assert_eq!(t.exec, Some(vec!["sh".to_string(), "-x".to_string()]));
        assert_eq!(t.event_timeout, Some(2.5));
        assert!(t.no_log);
        assert_eq!(t.state_dir, Some(PathBuf::from("s")));
    }

    #[test]
    fn order_and_repetition_flags() {
        let t = test_args(&[
            "--order",
            "shuffle=3",
            "--retry",
            "2",
            "--retry-isolated",
            "--flaky-fails",
            "--failed",
        ])
        .unwrap();
        assert_eq!(t.order, Some(Some(Order::Shuffle(3))));
        assert_eq!(t.retry, Some(2));
        assert!(t.retry_isolated && t.flaky_fails && t.failed);
        let t = test_args(&[
            "-s",
            "--state=failed,slow",
            "--partition",
            "hash:1/2",
            "-Q",
            "--timer",
        ])
        .unwrap();
        assert_eq!(t.order, Some(None));
        assert_eq!(t.state, ["failed", "slow"]);
        assert_eq!(
            t.partition,
            Some(Partition {
                by_hash: true,
                part: 1,
                of: 2
            })
        );
        assert!(t.show.really_quiet && t.show.timer);
        for (flags, message) in [
            (&["--state", "fresh"][..], "--state: 'fresh'"),
            (&["--retry", "-1"][..], "--retry: '-1'"),
            (
                &["--partition", "slice:3/2"][..],
                "--partition: 'slice:3/2'",
            ),
            (&["--order", "random"][..], "--order: 'random'"),
        ] {
            let err = test_args(flags).unwrap_err();
            assert!(err.to_string().contains(message), "{}", err);
        }
    }

    #[test]
    fn bad_jobs_are_usage_errors() {
        for bad in ["0", "x", "-1", ""] {
            let err = test_args(&["-j", bad]).unwrap_err();
            assert_eq!(
                err.exit_status(),
                crate::error::EXIT_USAGE,
                "for -j {:?}",
                bad
            );
        }
    }

    #[test]
    fn unknown_flags_and_commands_are_usage_errors() {
        assert_eq!(test_args(&["--frobnicate"]).unwrap_err().exit_status(), 2);
        assert_eq!(parse_from(["frob"]).unwrap_err().exit_status(), 2);
        assert_eq!(
            parse_from(Vec::<String>::new()).unwrap_err().exit_status(),
            2
        );
        assert_eq!(parse_from(["replay", "-x"]).unwrap_err().exit_status(), 2);
    }

    #[test]
    fn log_commands() {
        assert_eq!(
            parse_from(["failed"]).unwrap(),
            Command::Failed(LogArgs::default())
        );
        let raw = |c: Command| match c {
            Command::Driver(a) | Command::Prove(a) => a,
            other => panic!("{:?}", other),
        };
        assert_eq!(
            raw(parse_from(["driver", "--test-name", "x", "--", "t"]).unwrap()).len(),
            4
        );
        assert_eq!(
            raw(parse_from(["prove", "-lv"]).unwrap()),
            [OsString::from("-lv")]
        );
        match parse_from(["replay", "x.jsonl"]).unwrap() {
            Command::Replay(a) => assert_eq!(a.logs, [PathBuf::from("x.jsonl")]),
            other => panic!("{:?}", other),
        }
    }

    /// Every long flag in the usage text is documented in the man page.
    #[test]
    fn every_long_flag_is_in_the_man_page() {
        let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/proctor.1"))
            .expect("man/proctor.1 is readable")
            .replace('\\', "");
        let mut checked = 0;
        for word in USAGE.split(|c: char| c.is_whitespace() || c == ',' || c == '|') {
            if let Some(flag) = word
                .trim_matches(|c| c == '[' || c == ']')
                .strip_prefix("--")
            {
                let flag = flag.split('=').next().unwrap();
                assert!(
                    man.contains(&format!("--{}", flag)),
                    "--{} is not in man/proctor.1",
                    flag
                );
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {} flags found in USAGE", checked);
    }
}
