//! The command line: a lexopt loop into plain structs, and every command's
//! usage text. Validation only; no syscalls, so every flag is unit-tested here
//! next to the parser.

use crate::error::{Error, Result};
use crate::numbers;
use crate::order::{Order, Share};
use crate::render::{ColorChoice, Palette, ShowOptions};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

/// The commands, a line each: the start of `proctor --help`.
const COMMANDS: &str = "\
usage: proctor test [OPTIONS] [PATH...]   run tests (no PATH: t/)
       proctor failed [-v|--brief|--json] [LOG...]   the files that failed
       proctor replay [SHOW OPTIONS] [--follow] [LOG...]   show recorded runs again
       proctor times [LOG...]            per-file durations, slowest first
       proctor report [--html FILE] [LOG...]   the run as an HTML page
       proctor modules [FILE...]         what each perl file loaded (--preload auto)
       proctor driver [AUTOMAKE OPTIONS] -- TEST   Automake's test driver
       proctor prove [PROVE OPTIONS] [PATH...]     prove's options and output
       proctor start [--preload MODULE]... [-j N] [-l] [-b] [-I DIR]   a persistent runner
       proctor run [OPTIONS] [PATH...]   like test, on the persistent runner
       proctor status | reload | stop    the persistent runner's state, restart its stage, end it
       proctor help [COMMAND]            a command's own options (or: proctor COMMAND --help)
       proctor --version [-v]            the version; with -v, where this project's runs are kept
";

const TEST_OPTIONS: &str = "\
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
      --state-size SIZE   keep at most SIZE of event logs there (default 256M; K, M, G)
      --norc              read no .proctorrc (the project's, then ~/.proctorrc)

order and repetition:
      --order ORDER       durations (default once known), given, sorted, reverse,
                          shuffle[=SEED]
  -s, --shuffle           --order=shuffle
      --failed            run only what failed in the last run
      --state WORDS       prove's: failed, passed, all, slow, fast, new, save
      --retry N           try a failing file up to N more times
      --retry-isolated    retries run last, one at a time
      --explain FILE      print FILE's settings and where each came from; run nothing
      --strict            a .proctorrc section matching no file is an error
      --flaky-fails       a file that passes only on a retry fails the run
      --partition P       slice:M/N or hash:M/N, this machine's share of the files;
                          auto: the share the CI's own variables give (GitLab,
                          CircleCI, Buildkite)

preloading:
      --preload MODULE    run perl tests in a perl that has MODULE loaded (repeatable)
      --preload auto      preload what at least half the perl files loaded in
                          earlier runs, never the project's (proctor modules)
      --preload-verify    run each preloaded file that passes again without preload
      --preload-recheck   preload again the files that failed preloaded before
";

const SHOW_OPTIONS: &str = "\
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

const STATE_DIR_OPTION: &str =
    "      --state-dir DIR     the project's state directory, where its runs are kept
                          (default: $XDG_STATE_HOME/proctor/<project>)
";

const HELP_FOOTER: &str = "
Each command's own options: proctor help COMMAND, or proctor COMMAND --help.
";

const TEST: &str = "\
usage: proctor test [OPTIONS] [PATH...]
Runs the test files named (a directory gives its *.t files; no PATH: t/), a few
at a time, and exits 0 when each passed, 1 when one failed, 2 on a usage error.

";

const RUN: &str = "\
usage: proctor run [OPTIONS] [PATH...]
As proctor test, with the same options, output and exit status, on this
project's persistent runner (see proctor help start).

";

const START: &str = "\
usage: proctor start [--preload MODULE]... [-j N] [-l] [-b] [-I DIR] [--state-dir DIR]
Starts this project's persistent runner, which keeps a perl with the MODULEs
loaded for the runs of proctor run; proctor stop ends it.

      --preload MODULE    keep a perl with MODULE loaded (repeatable)
  -j, --jobs N            tests at once for a run that does not say
  -l, --lib               add lib to the preloading perl's @INC
  -b, --blib              add blib/lib and blib/arch to it
  -I DIR                  add DIR to it (repeatable)
";

const STATUS: &str = "\
usage: proctor status [--state-dir DIR]
Shows this project's persistent runner: its pid, its stage and what it runs.

";

const RELOAD: &str = "\
usage: proctor reload [--state-dir DIR]
Starts the persistent runner's stage again before its next run, so that it
preloads the modules afresh.

";

const STOP: &str = "\
usage: proctor stop [--state-dir DIR]
Ends this project's persistent runner and its stage, and waits until they have.

";

const FAILED: &str = "\
usage: proctor failed [-v|--brief|--json] [--state-dir DIR] [LOG...]
The files that failed in the last run (or in the event logs LOG), one a line, so
that proctor test $(proctor failed) runs them again.

  -v, --verbose           each file's reasons under it, even into a pipe
      --brief             the names alone, even on a terminal
      --json              a JSON array of {file, reasons, counts}
";

const REPLAY: &str = "\
usage: proctor replay [SHOW OPTIONS] [-f|--follow] [--state-dir DIR] [LOG...]
Shows the last run (or the event logs LOG, as one run: the shards of a suite)
again as it was shown, and exits with its verdict.

  -f, --follow            follow a log still being written until its run ends
";

const TIMES: &str = "\
usage: proctor times [--state-dir DIR] [LOG...]
Each file's time in the last run (or in the event logs LOG), slowest first:
total, start-up (until its first output), run (until it exited) and audit
(after it exited).

";

const REPORT: &str = "\
usage: proctor report [--html FILE] [--state-dir DIR] [LOG...]
The last run (or the event logs LOG, merged) as one HTML page that needs
nothing else to be read: the summary, a timeline of the slots, the slowest
files, and each failing file with its reasons and output. Without --html it
goes into the state directory's reports/, and its path is printed.

      --html FILE         write the page to FILE (-: standard output)
";

const MODULES: &str = "\
usage: proctor modules [--state-dir DIR] [FILE...]
What --preload auto knows: the modules each FILE loaded when it last ran
preloaded under --preload auto, in the order first loaded, the project's
marked; without FILE, the modules auto would preload now for the files known
(those at least half of them loaded), with how many files loaded each.

";

const HELP: &str = "\
usage: proctor help [COMMAND]
A command's usage and options: test, run, start, status, reload, stop, failed,
replay, times, report, modules, driver, prove, help. Without COMMAND, proctor's own.
";

/// `proctor driver --help`: the driver parses its own options (Automake's
/// language, in commands::driver), but its usage is here with the others.
pub const DRIVER_USAGE: &str = "\
usage: proctor driver --test-name NAME --log-file PATH --trs-file PATH [OPTIONS]
                      [--] TEST-COMMAND...
Automake's custom test driver: in Makefile.am, LOG_DRIVER = proctor driver
(or T_LOG_DRIVER for TEST_EXTENSIONS = .t). The last word of TEST-COMMAND is
the test file; the words before it run it (LOG_COMPILER). The path sections
of ~/.proctorrc and ./.proctorrc (where make runs) apply to it.

Automake's options (each that takes a value also as --option=VALUE):
      --test-name NAME               the test's name in results
      --log-file PATH                where the test's output and results go
      --trs-file PATH                where Automake's result metadata goes
      --color-tests yes|no           color the result lines (default no)
      --expect-failure yes|no        the test is in XFAIL_TESTS (default no)
      --enable-hard-errors yes|no    exit status 99 is an ERROR (default yes)
      --collect-skipped-logs yes|no  copy skipped tests' logs into test-suite.log
                                     (default yes)
tap-driver.sh's options:
      --merge, --no-merge            parse stderr as TAP too (default no)
      --ignore-exit                  a non-zero exit status is no error
      --comments, --no-comments      show the test's # lines (default no)
      --diagnostic-string STRING     what starts those lines (default #)
proctor's options:
      --protocol tap|exit            judge TAP (default), or the exit status
                                     alone: 0 pass, 77 skip, 99 error, else fail
      --event-timeout S              stop a test silent for S seconds (default: never)
      --leftovers test|run|keep      what the test leaves running once it lets
                                     go of its output: ended with the test, at
                                     the driver's end, or left running (default,
                                     as tap-driver.sh)
      --log FILE                     also write the event log to FILE
      --no-log                       keep no event log in the state directory
      --state-dir DIR                keep logs in DIR
";

/// `proctor prove --help` (and `prove --help`): prove's options, parsed in
/// commands::prove, told here with the others.
pub const PROVE_USAGE: &str = "\
usage: proctor prove [OPTIONS] [FILE|DIR...] [:: TEST-ARGS...]
       prove [OPTIONS] [FILE|DIR...]      (proctor installed under the name prove)

Runs test programs like prove(1) of Test::Harness 3.44, with prove's output.
No FILE or DIR: t/ (with -r: the current directory). A FILE of - reads names
from standard input. Options come from ~/.proverc and ./.proverc first;
the path sections of ~/.proctorrc and ./.proctorrc apply to the files.

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
      --ext EXT       files in directories ending in EXT, not .t (repeatable)
  -e, --exec CMD      run each file as `CMD file` ('' runs the file itself)
  -m, --merge         send each test's stderr into its TAP
  -w, -W              perl tests run with warnings (-W: all of them)
  -t, -T              perl tests run in taint mode (-t: warnings only)
      --ignore-exit   a test's exit status does not fail it
  -j, --jobs N        run N tests at once (default 1, as prove)
      --timer         time each test
  -s, --shuffle       run the files in random order
      --reverse       run the files in reverse order
      --state WORDS   select and order files by earlier runs, kept in .prove:
                      last, failed, passed, all, hot, todo, slow, fast, new,
                      old, fresh, save (WORD:N takes the first N)
      --statefile F   keep that state in F, not .prove
  -D, --dry           list the files, run nothing
      --rc FILE       read options from FILE too
      --norc          read no .proverc (nor the --rc files before it)
      --trap          print the summary when interrupted (proctor always does)
  -c, --color, --nocolor, --count, --nocount
                      accepted: the output has no colors and no running counts
      --formatter TAP::Formatter::File, --tapversion 12|13
                      accepted: that is what proctor does
      --event-timeout S  proctor's own: stop a test silent for S seconds
                      (default: never, as prove)
  -h, --help          this text
  -H, --man           the manual page
  -V, --version       proctor's version

  -M MODULE[=ARGS]    load MODULE as prove would; the tests get the environment
                      it leaves (a module with a load method is refused)

Refused, with the reason: -P, -a/--archive, --harness, --source, --rules,
--normalize, other --formatter classes.
";

/// The commands `proctor help` knows, as they are typed.
pub const TOPICS: &[&str] = &[
    "test", "run", "start", "status", "reload", "stop", "failed", "replay", "times", "report",
    "modules", "driver", "prove", "help",
];

/// The usage text of `command`, or proctor's own for `None`: each put
/// together from the one copy of each part, so no two say different things.
pub fn usage(command: Option<&str>) -> Option<String> {
    let parts: &[&str] = match command {
        None => &[
            COMMANDS,
            "\n",
            TEST_OPTIONS,
            "\n",
            SHOW_OPTIONS,
            HELP_FOOTER,
        ],
        Some("test") => &[TEST, TEST_OPTIONS, "\n", SHOW_OPTIONS],
        Some("run") => &[RUN, TEST_OPTIONS, "\n", SHOW_OPTIONS],
        Some("start") => &[START, STATE_DIR_OPTION],
        Some("status") => &[STATUS, STATE_DIR_OPTION],
        Some("reload") => &[RELOAD, STATE_DIR_OPTION],
        Some("stop") => &[STOP, STATE_DIR_OPTION],
        Some("failed") => &[FAILED, STATE_DIR_OPTION],
        Some("replay") => &[REPLAY, STATE_DIR_OPTION, "\n", SHOW_OPTIONS],
        Some("times") => &[TIMES, STATE_DIR_OPTION],
        Some("report") => &[REPORT, STATE_DIR_OPTION],
        Some("modules") => &[MODULES, STATE_DIR_OPTION],
        Some("driver") => &[DRIVER_USAGE],
        Some("prove") => &[PROVE_USAGE],
        Some("help") => &[HELP],
        Some(_) => return None,
    };
    Some(parts.concat())
}

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
    Report(LogArgs),
    /// `proctor modules [FILE...]`: what --preload auto knows (FILEs in `logs`).
    Modules(LogArgs),
    /// `proctor driver ...`: Automake's test driver protocol; its own options.
    Driver(Vec<OsString>),
    /// `proctor prove ...`: prove's options and output.
    Prove(Vec<OsString>),
    /// `proctor audit ...`: the auditor, exec'd by a stage (proctor-stage(7)).
    Audit(Vec<OsString>),
    /// `--help`, `help`, `COMMAND --help`: the usage of the command, or
    /// proctor's own (None).
    Help(Option<String>),
    Version(VersionArgs),
}

/// `proctor --version [-v]`.
#[derive(Debug, Default, PartialEq)]
pub struct VersionArgs {
    /// Also where this project's state directory is, and what it holds.
    pub verbose: bool,
    pub state_dir: Option<PathBuf>,
}

/// Where the run-wide flags that a path section or header may overrule were
/// given: typed, or in which rc file's words.
#[derive(Debug, Default, PartialEq)]
pub struct FlagOrigins {
    pub typed: Vec<&'static str>,
    pub rc_words: Vec<(String, Vec<String>)>,
}

impl FlagOrigins {
    /// `command line`, `FILE words`, or None: `flag` was not given.
    pub fn of(&self, flag: &str) -> Option<String> {
        if self.typed.contains(&flag) {
            return Some("command line".to_string());
        }
        crate::rc::word_origin(&self.rc_words, flag)
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
    /// `--event-timeout` as typed, not from an rc file: it beats path sections.
    pub typed_event_timeout: Option<f64>,
    /// `.proctorrc`'s path sections.
    pub sections: Vec<crate::rc_sections::Section>,
    /// `--strict`: a path section that matches no file is an error.
    pub strict: bool,
    /// Where `--exec`, `--retry` and `--event-timeout` were given, for `--explain`.
    pub flag_origins: FlagOrigins,
    /// `--explain FILE`: say where FILE's settings come from; run nothing.
    pub explain: Option<PathBuf>,
    /// `--leftovers`: when what a test leaves running is ended (None: with the run).
    pub leftovers: Option<crate::job::audit::Leftovers>,
    pub log: Option<PathBuf>,
    pub log_fd: Option<i32>,
    pub no_log: bool,
    pub keep: bool,
    pub state_dir: Option<PathBuf>,
    /// `--state-size`: bytes of event logs the state directory keeps.
    pub state_size: Option<u64>,
    pub show: ShowOptions,
    /// `--order`; `Some(None)` is a shuffle with a seed chosen now.
    pub order: Option<Option<Order>>,
    pub failed: bool,
    /// prove's `--state` words.
    pub state: Vec<String>,
    pub retry: Option<u32>,
    pub retry_isolated: bool,
    pub flaky_fails: bool,
    pub partition: Option<Share>,
    /// `--preload MODULE`: run perl tests in a stage with these loaded.
    pub preload: Vec<String>,
    /// `--preload-verify`: a preloaded pass is checked without preload.
    pub preload_verify: bool,
    /// `--preload-recheck`: files remembered as failing preloaded are preloaded.
    pub preload_recheck: bool,
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
    /// `--state-size`: bytes of event logs the state directory keeps.
    pub state_size: Option<u64>,
    pub show: ShowOptions,
    /// replay: keep reading a log that is still growing, until its run ends.
    pub follow: bool,
    /// failed: names only, even on a terminal.
    pub brief: bool,
    /// failed: reasons too, even into a pipe.
    pub reasons: bool,
    /// failed: JSON.
    pub json: bool,
    /// report: where the page goes (`-`: stdout); none: the state directory.
    pub html: Option<PathBuf>,
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

/// An option `command` does not take ("": proctor's own, before a command).
fn unknown(command: &str, flag: &str) -> Error {
    let help = if command.is_empty() {
        "proctor --help".to_string()
    } else {
        format!("proctor {} --help", command)
    };
    Error::Usage(format!("invalid option '{}' (try '{}')", flag, help))
}

/// Whether `flag` asks for the command's usage.
fn is_help(flag: &str) -> bool {
    flag == "-h" || flag == "--help"
}

/// Parses the process's own arguments.
pub fn parse() -> Result<Command> {
    let given: Vec<OsString> = std::env::args_os().skip(1).collect();
    let rc = crate::rc::with_rc(given.clone()).map_err(Error::Usage)?;
    crate::rc::warn(&rc.warnings);
    let args = rc.args;
    let from_rc = args.len() != given.len();
    let typed = parse_from(given.clone());
    let parsed = parse_from(args).map_err(|e| {
        // A word the user did not type: say where it came from.
        if from_rc && parse_from(given).is_ok() {
            Error::Usage(format!(
                "{} (in .proctorrc or ~/.proctorrc; --norc reads neither)",
                e
            ))
        } else {
            e
        }
    });
    let with_rc = |mut t: Box<TestArgs>, typed: Box<TestArgs>| {
        t.sections = rc.sections;
        t.typed_event_timeout = typed.event_timeout;
        let given = [
            ("--exec", typed.exec.is_some()),
            ("--retry", typed.retry.is_some()),
            ("--event-timeout", typed.event_timeout.is_some()),
        ];
        t.flag_origins = FlagOrigins {
            typed: given.iter().filter(|(_, g)| *g).map(|(f, _)| *f).collect(),
            rc_words: rc.words,
        };
        t
    };
    match (parsed, typed) {
        (Ok(Command::Test(t)), Ok(Command::Test(typed))) => Ok(Command::Test(with_rc(t, typed))),
        (Ok(Command::Run(t)), Ok(Command::Run(typed))) => Ok(Command::Run(with_rc(t, typed))),
        (parsed, _) => parsed,
    }
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
        None => {
            return Err(Error::Usage(format!(
                "no command given\n{}{}",
                COMMANDS, HELP_FOOTER
            )))
        }
        Some(Word::Flag(f)) if is_help(&f) => return Ok(Command::Help(None)),
        Some(Word::Flag(f)) if f == "--version" || f == "-V" => {
            return parse_version(&mut parser).map(Command::Version)
        }
        Some(Word::Flag(f)) => return Err(unknown("", &f)),
        Some(Word::Value(v)) => string(v)?,
    };
    // None from a command's parser: it was asked for its usage.
    let parsed = match command.as_str() {
        "test" => parse_test(&mut parser, "test")?.map(|t| Command::Test(Box::new(t))),
        "run" => parse_test(&mut parser, "run")?.map(|t| Command::Run(Box::new(t))),
        "start" => parse_start(&mut parser)?.map(Command::Start),
        "status" => parse_log(&mut parser, "status")?.map(Command::Status),
        "reload" => parse_log(&mut parser, "reload")?.map(Command::Reload),
        "stop" => parse_log(&mut parser, "stop")?.map(Command::Stop),
        "failed" => parse_log(&mut parser, "failed")?.map(Command::Failed),
        "replay" => parse_log(&mut parser, "replay")?.map(Command::Replay),
        "times" => parse_log(&mut parser, "times")?.map(Command::Times),
        "report" => parse_log(&mut parser, "report")?.map(Command::Report),
        "modules" => parse_log(&mut parser, "modules")?.map(Command::Modules),
        "help" => return parse_help(&mut parser).map(Command::Help),
        other => {
            return Err(Error::Usage(format!(
                "unknown command '{}' (try 'proctor --help')",
                other
            )))
        }
    };
    Ok(parsed.unwrap_or(Command::Help(Some(command))))
}

/// `proctor help [COMMAND]`.
fn parse_help(parser: &mut lexopt::Parser) -> Result<Option<String>> {
    let mut topic = None;
    while let Some(word) = next_word(parser)? {
        match word {
            Word::Flag(f) if is_help(&f) => return Ok(Some("help".to_string())),
            Word::Flag(f) => return Err(unknown("help", &f)),
            Word::Value(v) if topic.is_none() => topic = Some(string(v)?),
            Word::Value(v) => {
                return Err(Error::Usage(format!(
                    "help: one command at a time ('{}' is one too many)",
                    PathBuf::from(v).display()
                )))
            }
        }
    }
    match topic {
        Some(t) if !TOPICS.contains(&t.as_str()) => Err(Error::Usage(format!(
            "help: there is no command '{}' (the commands: {})",
            t,
            TOPICS.join(", ")
        ))),
        other => Ok(other),
    }
}

/// `proctor --version [-v] [--state-dir DIR]`.
fn parse_version(parser: &mut lexopt::Parser) -> Result<VersionArgs> {
    let mut args = VersionArgs::default();
    while let Some(word) = next_word(parser)? {
        match word {
            Word::Flag(f) if f == "-v" || f == "--verbose" => args.verbose = true,
            Word::Flag(f) if f == "--state-dir" => args.state_dir = Some(parser.value()?.into()),
            Word::Flag(f) => return Err(unknown("", &f)),
            Word::Value(v) => {
                return Err(Error::Usage(format!(
                    "--version: unexpected '{}' (it takes -v and --state-dir DIR)",
                    PathBuf::from(v).display()
                )))
            }
        }
    }
    Ok(args)
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
fn parse_show(flag: &str, parser: &mut lexopt::Parser, show: &mut ShowOptions) -> Result<bool> {
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

/// `test` and `run`'s options; None when asked for its usage.
fn parse_test(parser: &mut lexopt::Parser, command: &str) -> Result<Option<TestArgs>> {
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
            help if is_help(help) => return Ok(None),
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
                args.event_timeout = Some(
                    numbers::seconds(&v)
                        .map_err(|why| Error::Usage(format!("--event-timeout: {}", why)))?,
                );
            }
            "--leftovers" => {
                let v = value(parser)?;
                let when = crate::job::audit::Leftovers::parse(&v)
                    // Nothing a test starts may outlive a run of proctor's own.
                    .filter(|l| *l != crate::job::audit::Leftovers::Keep);
                args.leftovers = Some(when.ok_or_else(|| {
                    Error::Usage(format!("--leftovers: '{}' is neither 'test' nor 'run'", v))
                })?)
            }
            "--log" => args.log = Some(parser.value()?.into()),
            "--log-fd" => {
                let v = value(parser)?;
                args.log_fd = Some(numbers::whole::<i32>(&v, 0).map_err(|why| {
                    Error::Usage(format!("--log-fd: {} (a file descriptor number)", why))
                })?);
            }
            "--no-log" => args.no_log = true,
            "-k" | "--keep" => args.keep = true,
            "--state-dir" => args.state_dir = Some(parser.value()?.into()),
            "--state-size" => {
                let v = value(parser)?;
                args.state_size = Some(
                    numbers::size(&v)
                        .map_err(|why| Error::Usage(format!("--state-size: {}", why)))?,
                );
            }
            // Read before parsing (see rc.rs); here it only has to be allowed.
            "--norc" => {}
            "--strict" => args.strict = true,
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
                args.retry = Some(
                    numbers::whole::<u32>(&v, 0)
                        .map_err(|why| Error::Usage(format!("--retry: {}", why)))?,
                );
            }
            "--retry-isolated" => args.retry_isolated = true,
            "--explain" => args.explain = Some(PathBuf::from(value(parser)?)),
            "--preload" => args.preload.push(value(parser)?),
            "--preload-verify" => args.preload_verify = true,
            "--preload-recheck" => args.preload_recheck = true,
            "--flaky-fails" => args.flaky_fails = true,
            "--partition" => {
                args.partition = Some(Share::parse(&value(parser)?).map_err(Error::Usage)?)
            }
            other => {
                if !parse_show(other, parser, &mut args.show)? {
                    return Err(unknown(command, other));
                }
            }
        }
    }
    Ok(Some(args))
}

/// `start`'s options; None when asked for its usage.
fn parse_start(parser: &mut lexopt::Parser) -> Result<Option<StartArgs>> {
    let mut args = StartArgs::default();
    while let Some(word) = next_word(parser)? {
        match word {
            Word::Flag(flag) => match flag.as_str() {
                help if is_help(help) => return Ok(None),
                "--preload" => args.preload.push(value(parser)?),
                "-j" | "--jobs" => args.jobs = Some(jobs(parser)?),
                "-l" | "--lib" => args.lib = true,
                "-b" | "--blib" => args.blib = true,
                "-I" => args.includes.push(parser.value()?.into()),
                "--state-dir" => args.state_dir = Some(parser.value()?.into()),
                other => return Err(unknown("start", other)),
            },
            Word::Value(v) => {
                return Err(Error::Usage(format!(
                    "start: unexpected '{}' (it takes options only)",
                    PathBuf::from(v).display()
                )))
            }
        }
    }
    Ok(Some(args))
}

/// The value of -j: a positive whole number.
fn jobs(parser: &mut lexopt::Parser) -> Result<usize> {
    numbers::whole::<usize>(&value(parser)?, 1)
        .map_err(|why| Error::Usage(format!("--jobs: {}", why)))
}

/// The options of the commands that read logs or ask the persistent runner;
/// None when asked for its usage.
fn parse_log(parser: &mut lexopt::Parser, command: &str) -> Result<Option<LogArgs>> {
    let mut args = LogArgs::default();
    while let Some(word) = next_word(parser)? {
        let flag = match word {
            // The persistent runner's commands take no LOG.
            Word::Value(word) if matches!(command, "status" | "reload" | "stop") => {
                return Err(Error::Usage(format!(
                    "{}: unexpected '{}' (it takes --state-dir DIR only)",
                    command,
                    PathBuf::from(word).display()
                )))
            }
            Word::Value(path) => {
                args.logs.push(path.into());
                continue;
            }
            Word::Flag(flag) => flag,
        };
        match (command, flag.as_str()) {
            (_, help) if is_help(help) => return Ok(None),
            (_, "--state-dir") => args.state_dir = Some(parser.value()?.into()),
            ("replay", "--follow") | ("replay", "-f") => args.follow = true,
            ("failed", "--brief") => args.brief = true,
            ("failed", "-v") | ("failed", "--verbose") => args.reasons = true,
            ("failed", "--json") => args.json = true,
            ("report", "--html") => args.html = Some(parser.value()?.into()),
            ("replay", other) if parse_show(other, parser, &mut args.show)? => {}
            (_, other) => return Err(unknown(command, other)),
        }
    }
    Ok(Some(args))
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
            Some(Share::Given(crate::order::Partition {
                by_hash: true,
                part: 1,
                of: 2
            }))
        );
        assert_eq!(
            test_args(&["--partition", "auto"]).unwrap().partition,
            Some(Share::FromCi)
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
        for command in ["status", "reload", "stop"] {
            let err = parse_from([command, "now"]).unwrap_err();
            assert!(err.to_string().contains("unexpected 'now'"), "{}", err);
        }
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
        match parse_from(["report", "--html=-", "a.jsonl", "b.jsonl"]).unwrap() {
            Command::Report(a) => {
                assert_eq!(a.html, Some(PathBuf::from("-")));
                assert_eq!(a.logs.len(), 2);
            }
            other => panic!("{:?}", other),
        }
        assert!(parse_from(["times", "--html", "x"]).is_err());
        match parse_from(["replay", "x.jsonl"]).unwrap() {
            Command::Replay(a) => assert_eq!(a.logs, [PathBuf::from("x.jsonl")]),
            other => panic!("{:?}", other),
        }
    }

    /// Every long flag in every command's usage is documented in the man page.
    #[test]
    fn every_long_flag_is_in_the_man_page() {
        let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/proctor.1"))
            .expect("man/proctor.1 is readable")
            .replace('\\', "");
        let topics = std::iter::once(None).chain(TOPICS.iter().map(|t| Some(*t)));
        for topic in topics {
            let usage = usage(topic).expect("every topic has a usage");
            let mut checked = 0;
            for word in usage.split(|c: char| c.is_whitespace() || c == ',' || c == '|') {
                let word = word.trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')');
                if let Some(flag) = word.strip_prefix("--").filter(|f| !f.is_empty()) {
                    // The name alone: not its `=VALUE`, nor the end of a sentence.
                    let flag = flag
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .next()
                        .unwrap();
                    // The driver's "--option=VALUE" names no option.
                    if flag == "option" {
                        continue;
                    }
                    assert!(
                        man.contains(&format!("--{}", flag)),
                        "--{} (proctor help {}) is not in man/proctor.1",
                        flag,
                        topic.unwrap_or("")
                    );
                    checked += 1;
                }
            }
            if topic != Some("help") {
                assert!(checked >= 1, "no flags found in {:?}'s usage", topic);
            }
        }
    }

    #[test]
    fn every_command_has_help() {
        for topic in TOPICS {
            for ask in [&[*topic, "--help"][..], &[*topic, "-h"], &["help", *topic]] {
                let want = match *topic {
                    // Their words go to them untouched; they answer --help themselves.
                    "driver" | "prove" if ask[0] != "help" => continue,
                    _ => Command::Help(Some(topic.to_string())),
                };
                assert_eq!(parse_from(ask.to_vec()).unwrap(), want, "{:?}", ask);
            }
            assert!(usage(Some(topic))
                .unwrap()
                .contains(&format!("proctor {}", topic)));
        }
        assert_eq!(parse_from(["--help"]).unwrap(), Command::Help(None));
        assert_eq!(parse_from(["help"]).unwrap(), Command::Help(None));
        assert_eq!(
            parse_from(["test", "-lh", "t/a.t"]).unwrap(),
            Command::Help(Some("test".to_string()))
        );
        let err = parse_from(["help", "nosuch"]).unwrap_err();
        assert_eq!(err.exit_status(), crate::error::EXIT_USAGE);
        assert!(err.to_string().contains("'nosuch'"), "{}", err);
        assert!(parse_from(["help", "test", "run"]).is_err());
    }

    #[test]
    fn version_and_where_the_state_is() {
        assert_eq!(
            parse_from(["--version"]).unwrap(),
            Command::Version(VersionArgs::default())
        );
        assert_eq!(
            parse_from(["-V", "-v", "--state-dir", "s"]).unwrap(),
            Command::Version(VersionArgs {
                verbose: true,
                state_dir: Some(PathBuf::from("s"))
            })
        );
        assert!(parse_from(["--version", "-x"]).is_err());
    }
}
