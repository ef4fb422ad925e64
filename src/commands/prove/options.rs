//! prove's command line (App::Prove 3.44's option table) and the environment
//! TAP::Harness::Env reads. Each option is acted on, taken silently because
//! proctor's output already is what it asks for, or refused with a usage error
//! that says why: none is ignored. Parsing only; nothing here touches the system
//! except reading the rc files (see `rc.rs`) and the environment given to it.

use crate::error::{Error, Result};
use crate::render::prove::Style;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Default, PartialEq)]
pub struct ProveArgs {
    pub style: Style,
    /// `-v` itself (not HARNESS_VERBOSE): prove then sets TEST_VERBOSE.
    pub verbose_flag: bool,
    pub lib: bool,
    pub blib: bool,
    pub includes: Vec<PathBuf>,
    pub recurse: bool,
    /// `--ext`, as given (none: `.t`).
    pub extensions: Vec<String>,
    pub exec: Option<Vec<String>>,
    pub merge: bool,
    pub jobs: Option<usize>,
    pub shuffle: bool,
    pub reverse: bool,
    pub dry: bool,
    /// `-T`, `-t`, `-W`, `-w`: perl's taint and warnings switches.
    pub taint_fail: bool,
    pub taint_warn: bool,
    pub warnings_fail: bool,
    pub warnings_warn: bool,
    /// HARNESS_PERL_SWITCHES, less the `-I` ones (in `env_libs`).
    pub env_switches: Vec<String>,
    /// The `-I` directories of HARNESS_PERL_SWITCHES: prove's lib list when it
    /// has none of its own (`-l`, `-b`, `-I`).
    pub env_libs: Vec<PathBuf>,
    /// HARNESS_PERL: the perl that runs perl tests.
    pub perl: Option<PathBuf>,
    /// `--ignore-exit` (or HARNESS_IGNORE_EXIT).
    pub ignore_exit: bool,
    /// `-M`: modules prove would load into its own perl (see `modules.rs`).
    pub modules: Vec<String>,
    /// `--state` words, split at commas.
    pub state: Vec<String>,
    pub statefile: Option<PathBuf>,
    /// The words after `::`, given to every test.
    pub test_args: Vec<String>,
    /// proctor's own: stop a test silent this long (none: never, as prove).
    pub event_timeout: Option<f64>,
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<ProveArgs>),
    Help,
    Man,
    Version,
}

/// prove's long options, for Getopt::Long's unique abbreviations (`--rec`).
const LONG: &[&str] = &[
    "verbose",
    "failures",
    "comments",
    "lib",
    "blib",
    "shuffle",
    "color",
    "colour",
    "nocolor",
    "nocolour",
    "no-color",
    "no-colour",
    "count",
    "nocount",
    "no-count",
    "dry",
    "ext",
    "harness",
    "ignore-exit",
    "source",
    "formatter",
    "recurse",
    "reverse",
    "parse",
    "quiet",
    "QUIET",
    "exec",
    "merge",
    "state",
    "statefile",
    "directives",
    "help",
    "man",
    "version",
    "archive",
    "jobs",
    "timer",
    "normalize",
    "rules",
    "tapversion",
    "trap",
    "event-timeout",
];

/// The one formatter whose output proctor prints: prove's when its output is
/// not a terminal.
const FILE_FORMATTER: &str = "TAP::Formatter::File";

/// Parses prove's command line (without the program name, `--rc`/`--norc`
/// and `::` already taken out, the rc files' words in front), on top of what
/// the environment set (see [`from_environment`]).
pub fn parse_from<I>(args: I, mut prove: ProveArgs) -> Result<Parsed>
where
    I: IntoIterator + 'static,
    I::Item: Into<OsString>,
{
    let words: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(bad) = words.iter().find(|w| *w == "-man" || *w == "-help") {
        return Err(Error::Usage(format!(
            "Long options should be written with two dashes: {}",
            bad.to_string_lossy()
        )));
    }
    let mut parser = lexopt::Parser::from_args(words);
    let (mut verbose, mut quiet, mut really_quiet) = (false, false, false);
    while let Some(arg) = parser.next()? {
        let long = match arg {
            Long(name) => Some(full_name(name)?),
            _ => None,
        };
        match (arg, long) {
            (Short('v'), _) | (_, Some("verbose")) => verbose = true,
            (Short('q'), _) | (_, Some("quiet")) => quiet = true,
            (Short('Q'), _) | (_, Some("QUIET")) => really_quiet = true,
            (Short('f'), _) | (_, Some("failures")) => prove.style.failures = true,
            (Short('o'), _) | (_, Some("comments")) => prove.style.comments = true,
            (_, Some("directives")) => prove.style.directives = true,
            (Short('p'), _) | (_, Some("parse")) => prove.style.all_errors = true,
            (_, Some("timer")) => prove.style.timer = true,
            (Short('l'), _) | (_, Some("lib")) => prove.lib = true,
            (Short('b'), _) | (_, Some("blib")) => prove.blib = true,
            (Short('I'), _) => prove.includes.push(parser.value()?.into()),
            (Short('r'), _) | (_, Some("recurse")) => prove.recurse = true,
            (_, Some("ext")) => prove.extensions.push(string(parser.value()?)?),
            (Short('e'), _) | (_, Some("exec")) => {
                let value = string(parser.value()?)?;
                prove.exec = Some(value.split_whitespace().map(String::from).collect());
            }
            (Short('m'), _) | (_, Some("merge")) => prove.merge = true,
            (Short('j'), _) | (_, Some("jobs")) => {
                // -j0 is no -j at all: HARNESS_OPTIONS's still counts.
                if let Some(n) = jobs(&string(parser.value()?)?, "--jobs")? {
                    prove.jobs = Some(n);
                }
            }
            (Short('s'), _) | (_, Some("shuffle")) => prove.shuffle = true,
            (_, Some("reverse")) => prove.reverse = true,
            (Short('D'), _) | (_, Some("dry")) => prove.dry = true,
            (Short('T'), _) => prove.taint_fail = true,
            (Short('t'), _) => prove.taint_warn = true,
            (Short('W'), _) => prove.warnings_fail = true,
            (Short('w'), _) => prove.warnings_warn = true,
            (_, Some("ignore-exit")) => prove.ignore_exit = true,
            (_, Some("state")) => {
                let value = string(parser.value()?)?;
                prove
                    .state
                    .extend(value.split(',').filter(|w| !w.is_empty()).map(String::from));
            }
            (_, Some("statefile")) => prove.statefile = Some(parser.value()?.into()),
            (_, Some("event-timeout")) => {
                let value = string(parser.value()?)?;
                prove.event_timeout = Some(seconds(&value)?);
            }
            // prove's output when it is not on a terminal, which is what proctor
            // prints, has no colors and no running counts, whatever these say.
            (Short('c'), _)
            | (
                _,
                Some(
                    "color" | "colour" | "nocolor" | "nocolour" | "no-color" | "no-colour"
                    | "count" | "nocount" | "no-count",
                ),
            ) => {}
            // proctor always prints the summary of an interrupted run.
            (_, Some("trap")) => {}
            (_, Some("formatter")) => formatter(&string(parser.value()?)?, "--formatter")?,
            (_, Some("tapversion")) => tap_version(&string(parser.value()?)?)?,
            (Short('M'), _) => prove.modules.push(string(parser.value()?)?),
            (Short('P'), _) => {
                return Err(refused(
                    "-P",
                    "plugins run inside prove's own perl, and proctor has none",
                ))
            }
            (Short('a'), _) | (_, Some("archive")) => {
                return Err(refused(
                    "--archive",
                    "proctor writes no TAP archive; its event log keeps the run \
                     (proctor replay, proctor failed)",
                ))
            }
            (_, Some("harness")) => {
                return Err(refused(
                    "--harness",
                    "a harness class runs inside prove's own perl, and proctor has none",
                ))
            }
            (_, Some("source")) => {
                return Err(refused(
                    "--source",
                    "source handlers run inside prove's own perl; proctor runs \
                     perl tests with perl, programs themselves, or --exec CMD",
                ))
            }
            (_, Some("rules")) => {
                return Err(refused(
                    "--rules",
                    "proctor prove takes no scheduling rules; proctor test's \
                     # HARNESS-CATEGORY-ISOLATION header runs a file alone",
                ))
            }
            (_, Some("normalize")) => {
                return Err(refused(
                    "--normalize",
                    "proctor prove shows each TAP line as the test printed it",
                ))
            }
            (Short('h'), _) | (Short('?'), _) | (_, Some("help")) => return Ok(Parsed::Help),
            (Short('H'), _) | (_, Some("man")) => return Ok(Parsed::Man),
            (Short('V'), _) | (_, Some("version")) => return Ok(Parsed::Version),
            (Value(path), _) => prove.paths.push(path.into()),
            (other, _) => return Err(other.unexpected().into()),
        }
    }
    if prove.taint_fail && prove.taint_warn {
        return Err(Error::Usage("-t and -T are mutually exclusive".into()));
    }
    if prove.warnings_fail && prove.warnings_warn {
        return Err(Error::Usage("-w and -W are mutually exclusive".into()));
    }
    match (verbose, quiet, really_quiet) {
        (false, false, false) => {}
        (true, false, false) => {
            prove.style.verbosity = 1;
            prove.verbose_flag = true;
        }
        (false, true, false) => prove.style.verbosity = -1,
        (false, false, true) => prove.style.verbosity = -2,
        _ => {
            return Err(Error::Usage(
                "Only one of verbose, quiet or really_quiet should be specified".into(),
            ))
        }
    }
    Ok(Parsed::Run(Box::new(prove)))
}

impl ProveArgs {
    /// The switches perl tests get, in prove's order: taint, warnings, then
    /// HARNESS_PERL_SWITCHES.
    pub fn perl_switches(&self) -> Vec<String> {
        let taint = if self.taint_fail {
            Some("-T")
        } else if self.taint_warn {
            Some("-t")
        } else {
            None
        };
        let warnings = if self.warnings_fail {
            Some("-W")
        } else if self.warnings_warn {
            Some("-w")
        } else {
            None
        };
        taint
            .into_iter()
            .chain(warnings)
            .map(String::from)
            .chain(self.env_switches.iter().cloned())
            .collect()
    }
}

/// The full name of a long option Getopt::Long would take for `name`: the
/// name itself, or the one option it is the start of.
fn full_name(name: &str) -> Result<&'static str> {
    if let Some(exact) = LONG.iter().find(|l| **l == name) {
        return Ok(exact);
    }
    let starts: Vec<&'static str> = LONG
        .iter()
        .copied()
        .filter(|l| l.starts_with(name))
        .collect();
    match starts.len() {
        1 => Ok(starts[0]),
        0 => Err(Error::Usage(format!(
            "Unknown option: {} (try 'proctor prove --help')",
            name
        ))),
        _ => Err(Error::Usage(format!(
            "Option {} is ambiguous ({})",
            name,
            starts.join(", ")
        ))),
    }
}

fn refused(option: &str, why: &str) -> Error {
    Error::Usage(format!("{} is not supported: {}", option, why))
}

/// `--formatter`: only the one proctor prints is taken.
fn formatter(class: &str, what: &str) -> Result<()> {
    if class == FILE_FORMATTER {
        return Ok(());
    }
    Err(refused(
        &format!("{} {}", what, class),
        "proctor prove prints TAP::Formatter::File's output (prove's when not on a terminal)",
    ))
}

/// `--tapversion`: prove 3.44 knows 12 and 13. proctor reads a stream's
/// version line itself, and YAML and pragmas without one, which is what
/// prove does given 13 (and 12 is prove's default): either is taken.
fn tap_version(version: &str) -> Result<()> {
    match version {
        "12" | "13" => Ok(()),
        other => Err(Error::Usage(format!(
            "--tapversion: Unsupported syntax version: {}",
            other
        ))),
    }
}

/// The environment prove reads (TAP::Harness::Env): HARNESS_OPTIONS (`j<n>`,
/// `j` alone 9, `c`, `f<formatter>`, `a<archive>`), HARNESS_VERBOSE,
/// HARNESS_TIMER, HARNESS_PERL_SWITCHES, HARNESS_PERL, HARNESS_IGNORE_EXIT,
/// HARNESS_SUBCLASS. Color variables change nothing proctor prints.
pub fn from_environment(get: impl Fn(&str) -> Option<String>) -> Result<ProveArgs> {
    let mut prove = ProveArgs::default();
    let set = |v: Option<String>| v.map_or(false, |v| !v.is_empty() && v != "0");
    if let Some(v) = get("HARNESS_VERBOSE").filter(|v| !v.is_empty() && v != "0") {
        // A value that is not a number means 1.
        prove.style.verbosity = v.parse::<i8>().unwrap_or(1).clamp(-2, 1);
    }
    prove.style.timer = set(get("HARNESS_TIMER"));
    prove.ignore_exit = set(get("HARNESS_IGNORE_EXIT"));
    prove.perl = get("HARNESS_PERL")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    if let Some(class) = get("HARNESS_SUBCLASS").filter(|c| !c.is_empty()) {
        return Err(refused(
            &format!("HARNESS_SUBCLASS={}", class),
            "a harness class runs inside prove's own perl, and proctor has none",
        ));
    }
    let switches = get("HARNESS_PERL_SWITCHES").unwrap_or_default();
    let mut words = switches.split_whitespace();
    while let Some(word) = words.next() {
        match word.strip_prefix("-I") {
            Some("") => prove.env_libs.extend(words.next().map(PathBuf::from)),
            Some(dir) => prove.env_libs.push(dir.into()),
            None => prove.env_switches.push(word.to_string()),
        }
    }
    if let Some(options) = get("HARNESS_OPTIONS") {
        for item in options.split(':').filter(|i| !i.is_empty()) {
            if let Some(n) = item
                .strip_prefix('j')
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            {
                prove.jobs = if n.is_empty() {
                    Some(9)
                } else {
                    jobs(n, "HARNESS_OPTIONS j")?
                };
            } else if item == "c" {
                // Color: nothing proctor prints has any.
            } else if let Some(class) = item.strip_prefix('f') {
                formatter(&class.replace('-', "::"), "HARNESS_OPTIONS f")?;
            } else if item.starts_with('a') {
                return Err(refused(
                    "HARNESS_OPTIONS a",
                    "proctor writes no TAP archive; its event log keeps the run",
                ));
            } else {
                return Err(Error::Usage(format!(
                    "Unknown HARNESS_OPTIONS item: {}",
                    item
                )));
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

/// prove's `-j N`: 0 is prove's default of one job.
fn jobs(value: &str, what: &str) -> Result<Option<usize>> {
    match crate::numbers::whole::<usize>(value, 0) {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(why) => Err(Error::Usage(format!("{}: {}", what, why))),
    }
}

fn seconds(value: &str) -> Result<f64> {
    crate::numbers::seconds(value).map_err(|why| Error::Usage(format!("--event-timeout: {}", why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ProveArgs {
        match try_parse(args).unwrap() {
            Parsed::Run(p) => *p,
            other => panic!("expected a run, got {:?}", other),
        }
    }

    fn try_parse(args: &[&str]) -> Result<Parsed> {
        let words: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_from(words, ProveArgs::default())
    }

    fn refusal(args: &[&str]) -> String {
        let err = try_parse(args).unwrap_err();
        assert_eq!(err.exit_status(), 2, "{}", err);
        err.to_string()
    }

    #[test]
    fn bundles_and_values_in_every_form() {
        let p = parse(&["-lrv", "-j4", "-Ilib2", "-I", "inc", "-Mlib=x", "t/a.t"]);
        assert_eq!(p.modules, ["lib=x"]);
        assert!(p.lib && p.recurse && p.style.verbosity == 1 && p.verbose_flag);
        assert_eq!(p.jobs, Some(4));
        assert_eq!(p.includes, [PathBuf::from("lib2"), PathBuf::from("inc")]);
        assert_eq!(p.paths, [PathBuf::from("t/a.t")]);
        let p = parse(&["--jobs=3", "--exec", "sh -x", "-m", "-Q", "--timer", "-b"]);
        assert_eq!(p.jobs, Some(3));
        assert_eq!(p.exec, Some(vec!["sh".to_string(), "-x".to_string()]));
        assert!(p.merge && p.blib && p.style.timer);
        assert_eq!(p.style.verbosity, -2);
        let p = parse(&["-j", "2", "-e", "", "-q", "--shuffle"]);
        assert_eq!(p.jobs, Some(2));
        assert_eq!(p.exec, Some(vec![]));
        assert!(p.shuffle && p.style.verbosity == -1);
        assert_eq!(parse(&["-j0"]).jobs, None, "prove reads -j0 as one job");
    }

    #[test]
    fn long_options_may_be_abbreviated_as_getopt_long_allows() {
        let p = parse(&["--rec", "--verb", "--ext=.sh", "--ext", "test"]);
        assert!(p.recurse && p.style.verbosity == 1);
        assert_eq!(p.extensions, [".sh", "test"]);
        assert!(refusal(&["--co"]).contains("ambiguous"));
        assert!(refusal(&["--frob"]).contains("Unknown option: frob"));
    }

    #[test]
    fn perl_switches_in_prove_order_and_pairs_refused() {
        let p = parse(&["-w", "-T"]);
        assert_eq!(p.perl_switches(), ["-T", "-w"]);
        assert!(refusal(&["-t", "-T"]).contains("-t and -T are mutually exclusive"));
        assert!(refusal(&["-W", "-w"]).contains("-w and -W are mutually exclusive"));
        let env = from_environment(|k| {
            (k == "HARNESS_PERL_SWITCHES").then(|| "-MDevel::Cover -I inc -Iblib".to_string())
        })
        .unwrap();
        assert_eq!(env.env_switches, ["-MDevel::Cover"]);
        assert_eq!(env.env_libs, [PathBuf::from("inc"), PathBuf::from("blib")]);
    }

    #[test]
    fn cosmetic_options_are_taken_silently() {
        let p = parse(&[
            "-c",
            "--nocolor",
            "--no-colour",
            "--count",
            "--nocount",
            "--trap",
            "--formatter",
            "TAP::Formatter::File",
            "--tapversion=13",
        ]);
        assert_eq!(p, ProveArgs::default());
    }

    #[test]
    fn options_proctor_cannot_honour_are_refused_saying_why() {
        for (args, says) in [
            (&["-P", "Foo"][..], "-P is not supported"),
            (&["-a", "x.tgz"][..], "--archive is not supported"),
            (&["--harness", "X"][..], "--harness is not supported"),
            (
                &["--formatter=TAP::Formatter::JUnit"][..],
                "--formatter TAP::Formatter::JUnit",
            ),
            (&["--source", "Perl"][..], "--source is not supported"),
            (&["--rules", "seq=*"][..], "--rules is not supported"),
            (&["--normalize"][..], "--normalize is not supported"),
            (
                &["--tapversion", "14"][..],
                "Unsupported syntax version: 14",
            ),
            (
                &["-v", "-q"][..],
                "Only one of verbose, quiet or really_quiet",
            ),
            (&["-help"][..], "two dashes: -help"),
        ] {
            let message = refusal(args);
            assert!(message.contains(says), "{:?}: {}", args, message);
            assert!(!message.contains('\n'), "{:?}: {}", args, message);
        }
    }

    #[test]
    fn state_ignore_exit_and_event_timeout() {
        let p = parse(&[
            "--state=failed,save",
            "--state",
            "slow:3",
            "--statefile",
            "x",
            "--ignore-exit",
            "--event-timeout",
            "5",
        ]);
        assert_eq!(p.state, ["failed", "save", "slow:3"]);
        assert_eq!(p.statefile, Some(PathBuf::from("x")));
        assert!(p.ignore_exit);
        assert_eq!(p.event_timeout, Some(5.0));
        assert_eq!(parse(&[]).event_timeout, None);
    }

    #[test]
    fn help_man_version_and_errors() {
        assert_eq!(try_parse(&["-h"]).unwrap(), Parsed::Help);
        assert_eq!(try_parse(&["-H"]).unwrap(), Parsed::Man);
        assert_eq!(try_parse(&["--man"]).unwrap(), Parsed::Man);
        assert_eq!(try_parse(&["-V"]).unwrap(), Parsed::Version);
        assert_eq!(try_parse(&["-jx"]).unwrap_err().exit_status(), 2);
    }

    #[test]
    fn environment_defaults_and_overrides() {
        let env = |k: &str| match k {
            "HARNESS_OPTIONS" => Some("j:c:fTAP-Formatter-File".to_string()),
            "HARNESS_VERBOSE" => Some("yes".to_string()),
            "HARNESS_IGNORE_EXIT" => Some("1".to_string()),
            _ => None,
        };
        let p = from_environment(env).unwrap();
        assert_eq!(p.jobs, Some(9));
        assert_eq!(p.style.verbosity, 1);
        assert!(p.ignore_exit && !p.verbose_flag);
        let p = match parse_from(["-j2".to_string(), "-q".to_string()], p).unwrap() {
            Parsed::Run(p) => p,
            other => panic!("{:?}", other),
        };
        assert_eq!((p.jobs, p.style.verbosity), (Some(2), -1));
        for (options, says) in [
            ("fTAP-Formatter-JUnit", "TAP::Formatter::JUnit"),
            ("afoo.tgz", "HARNESS_OPTIONS a"),
            ("x", "Unknown HARNESS_OPTIONS item: x"),
        ] {
            let err = from_environment(|k| (k == "HARNESS_OPTIONS").then(|| options.to_string()))
                .unwrap_err();
            assert!(err.to_string().contains(says), "{}", err);
        }
    }
}
