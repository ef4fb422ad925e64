//! `proctor driver`: Automake's custom test driver protocol (`LOG_DRIVER`). It is
//! `proctor test` on exactly one file, with the Automake renderer writing the
//! `.log` and `.trs` that `make check` reads instead of the usual summary.
//!
//! Its exit status is 0 whatever the test did (Automake reads the `.trs`, as
//! with test-driver and tap-driver.sh); 2 for a usage error; 3 when the harness
//! itself failed; 129, 130 or 143 when a SIGHUP, SIGINT or SIGTERM stopped it.
//! Unlike test-driver, which deletes both files on a signal, it still writes
//! them: `make check` removes every `.log` and `.trs` before it runs the tests,
//! and `make recheck` runs a test whose `.trs` says ERROR again, so a partial
//! result is never mistaken for a finished one, and what the test printed before
//! it was stopped is kept.

use crate::cli::DRIVER_USAGE;
use crate::commands::driver_log::DriverLog;
use crate::commands::session::{self, Session};
use crate::commands::test::job_specs;
use crate::discover::{self, How, TestFile};
use crate::error::{Error, Result, EXIT_FAIL, EXIT_PASS};
use crate::job::audit::Leftovers;
use crate::job::Launch;
use crate::render::automake::{Automake, Options, Protocol, Report};
use crate::render::Renderer;
use crate::state;
use lexopt::prelude::*;
use std::cell::RefCell;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;

/// The driver's command line.
#[derive(Debug, PartialEq)]
pub struct DriverArgs {
    pub test_name: Option<String>,
    pub log_file: Option<PathBuf>,
    pub trs_file: Option<PathBuf>,
    pub color: bool,
    pub expect_failure: bool,
    pub hard_errors: bool,
    pub collect_skipped_logs: bool,
    pub merge: bool,
    pub ignore_exit: bool,
    pub comments: bool,
    pub diagnostic: String,
    pub protocol: Protocol,
    pub event_timeout: Option<f64>,
    pub leftovers: Leftovers,
    pub log: Option<PathBuf>,
    pub no_log: bool,
    pub state_dir: Option<PathBuf>,
    /// The test command; its last word is the test file.
    pub command: Vec<OsString>,
}

impl Default for DriverArgs {
    fn default() -> DriverArgs {
        DriverArgs {
            test_name: None,
            log_file: None,
            trs_file: None,
            color: false,
            expect_failure: false,
            hard_errors: true,
            collect_skipped_logs: true,
            merge: false,
            ignore_exit: false,
            comments: false,
            diagnostic: "#".to_string(),
            protocol: Protocol::Tap,
            event_timeout: None,
            leftovers: Leftovers::Keep,
            log: None,
            no_log: false,
            state_dir: None,
            command: Vec::new(),
        }
    }
}

/// What parsing asked for: a run, or just the usage text.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(DriverArgs),
    Help,
}

fn string(value: OsString) -> Result<String> {
    value
        .into_string()
        .map_err(|v| lexopt::Error::NonUnicodeValue(v).into())
}

fn yes_no(flag: &str, value: OsString) -> Result<bool> {
    match string(value)?.as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(Error::Usage(format!(
            "driver: {}: '{}' is neither yes nor no",
            flag, other
        ))),
    }
}

/// Parses the words after `proctor driver`.
pub fn parse_from<I>(args: I) -> Result<Parsed>
where
    I: IntoIterator + 'static,
    I::Item: Into<OsString>,
{
    let mut a = DriverArgs::default();
    let (options, command) = split_command(args.into_iter().map(Into::into).collect())?;
    a.command = command;
    let mut parser = lexopt::Parser::from_args(options);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("help") | Short('h') => return Ok(Parsed::Help),
            Long("test-name") => a.test_name = Some(string(parser.value()?)?),
            Long("log-file") => a.log_file = Some(parser.value()?.into()),
            Long("trs-file") => a.trs_file = Some(parser.value()?.into()),
            Long("color-tests") => a.color = yes_no("--color-tests", parser.value()?)?,
            Long("expect-failure") => {
                a.expect_failure = yes_no("--expect-failure", parser.value()?)?
            }
            Long("enable-hard-errors") => {
                a.hard_errors = yes_no("--enable-hard-errors", parser.value()?)?
            }
            Long("collect-skipped-logs") => {
                a.collect_skipped_logs = yes_no("--collect-skipped-logs", parser.value()?)?
            }
            Long("merge") => a.merge = true,
            Long("no-merge") => a.merge = false,
            Long("ignore-exit") => a.ignore_exit = true,
            Long("comments") => a.comments = true,
            Long("no-comments") => a.comments = false,
            Long("diagnostic-string") => a.diagnostic = string(parser.value()?)?,
            Long("protocol") => {
                a.protocol = match string(parser.value()?)?.as_str() {
                    "tap" => Protocol::Tap,
                    "exit" => Protocol::Exit,
                    other => {
                        return Err(Error::Usage(format!(
                            "driver: --protocol: '{}' is neither tap nor exit",
                            other
                        )))
                    }
                }
            }
            Long("event-timeout") => {
                let value = string(parser.value()?)?;
                a.event_timeout =
                    Some(crate::numbers::seconds(&value).map_err(|why| {
                        Error::Usage(format!("driver: --event-timeout: {}", why))
                    })?);
            }
            Long("leftovers") => {
                let value = string(parser.value()?)?;
                a.leftovers = Leftovers::parse(&value).ok_or_else(|| {
                    Error::Usage(format!(
                        "driver: --leftovers: '{}' is none of test, run, keep",
                        value
                    ))
                })?
            }
            Long("log") => a.log = Some(parser.value()?.into()),
            Long("no-log") => a.no_log = true,
            Long("state-dir") => a.state_dir = Some(parser.value()?.into()),
            other => {
                return Err(Error::Usage(format!(
                    "driver: {} (see 'proctor driver --help')",
                    other.unexpected()
                )))
            }
        }
    }
    let missing: Vec<&str> = [
        ("--test-name", a.test_name.is_none()),
        ("--log-file", a.log_file.is_none()),
        ("--trs-file", a.trs_file.is_none()),
    ]
    .iter()
    .filter(|(_, missing)| *missing)
    .map(|(flag, _)| *flag)
    .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "driver: missing {} (see 'proctor driver --help')",
            missing.join(", ")
        )));
    }
    if a.command.is_empty() {
        return Err(Error::Usage(
            "driver: no test command after the options (... -- TEST-COMMAND)".into(),
        ));
    }
    Ok(Parsed::Run(a))
}

/// The options that take a value in the next word when written without `=`.
const TAKES_VALUE: &[&str] = &[
    "--test-name",
    "--log-file",
    "--trs-file",
    "--color-tests",
    "--expect-failure",
    "--enable-hard-errors",
    "--collect-skipped-logs",
    "--diagnostic-string",
    "--protocol",
    "--event-timeout",
    "--leftovers",
    "--log",
    "--state-dir",
];

/// Splits the words into the driver's options and the test command, which
/// starts after `--` or at the first word that is not an option (as in
/// test-driver). Done by hand because Debian's lexopt 0.2.0 has no `raw_args`,
/// and the command's own words (`perl -w`) must not be read as options.
/// A word that is not an option, followed by a `--`, is a stray value among
/// the options (`--merge yes`): run, it would be some other program.
fn split_command(words: Vec<OsString>) -> Result<(Vec<OsString>, Vec<OsString>)> {
    let mut i = 0;
    while i < words.len() {
        let word = words[i].to_string_lossy();
        if word == "--" {
            let command = words[i + 1..].to_vec();
            let mut options = words;
            options.truncate(i);
            return Ok((options, command));
        }
        if !word.starts_with('-') || word == "-" {
            if words[i + 1..].iter().any(|w| w == "--") {
                return Err(Error::Usage(format!(
                    "driver: '{}' is among the options, before the -- that starts the \
                     test command (a value for a flag that takes none?)",
                    word
                )));
            }
            break;
        }
        i += if TAKES_VALUE.contains(&word.as_ref()) {
            2
        } else {
            1
        };
    }
    let i = i.min(words.len());
    let mut options = words;
    let command = options.split_off(i);
    Ok((options, command))
}

pub fn run(args: Vec<OsString>) -> Result<i32> {
    let args = match parse_from(args)? {
        Parsed::Run(a) => a,
        Parsed::Help => {
            crate::say::out(DRIVER_USAGE)?;
            return Ok(EXIT_PASS);
        }
    };
    let opts = Options {
        name: args.test_name.clone().unwrap_or_default(),
        log_file: args.log_file.clone().unwrap_or_default(),
        trs_file: args.trs_file.clone().unwrap_or_default(),
        color: args.color,
        expect_failure: args.expect_failure,
        hard_errors: args.hard_errors,
        collect_skipped_logs: args.collect_skipped_logs,
        protocol: args.protocol,
        ignore_exit: args.ignore_exit,
        comments: args.comments,
        diagnostic: args.diagnostic.clone(),
    };
    let report = Report::create(opts, Box::new(io::stdout())).map_err(|e| {
        Error::io(
            format!("create the log file {}", args.log_file_display()),
            e,
        )
    })?;
    let report = Rc::new(RefCell::new(report));

    let mut driver_log = driver_log_for(&args);
    let outcome = session_for(&args)
        .map(|session| sent_to(session, &mut driver_log))
        .and_then(|session| {
            let renderer: Box<dyn Renderer> = Box::new(Automake::new(report.clone()));
            session::run(session, vec![renderer])
        });
    // Both files are written however the run went: a harness failure is the
    // test's ERROR, not a missing .trs that stops make with a puzzling message.
    let trouble = match &outcome {
        Ok(status) if *status > 128 => Some(format!(
            "interrupted by {}",
            crate::tap::signal_name(status - 128)
        )),
        Ok(_) => None,
        Err(e) => Some(format!("proctor could not run the test: {}", e)),
    };
    let written = report.borrow_mut().close(trouble.as_deref());
    if let Some(log) = &mut driver_log {
        add_to_run_log(log, &report.borrow());
    }
    let status = match outcome {
        Ok(EXIT_PASS) | Ok(EXIT_FAIL) => EXIT_PASS,
        Ok(other) => other,
        Err(e) => {
            errln!("proctor: {}", e);
            e.exit_status()
        }
    };
    written.map_err(|e| Error::io("write the test's results", e))?;
    Ok(status)
}

/// Where this call's events go (see `driver_log`): `None` with `--no-log`, or
/// when the state directory cannot take them (the run then keeps its events
/// as `proctor test` does, in a temporary directory if need be).
fn driver_log_for(args: &DriverArgs) -> Option<DriverLog> {
    if args.no_log {
        return None;
    }
    DriverLog::open(state::locate(args.state_dir.as_deref())).ok()
}

/// The session, its events sent to `driver_log` when it can take them (else
/// the run keeps an event log of its own, as `proctor test`'s).
fn sent_to(mut session: Session, driver_log: &mut Option<DriverLog>) -> Session {
    if let Some(log) = driver_log {
        if log.take_over(&mut session).is_err() {
            *driver_log = None;
        }
    }
    session
}

/// Adds this call's events, judged as the `.trs` says, to its run's log; a
/// failure loses no result, so it is only reported.
fn add_to_run_log(log: &mut DriverLog, report: &Report) {
    let (automake, why) = report.verdict();
    if let Err(e) = log.finish(automake, &why) {
        errln!(
            "proctor: warning: unable to add this test's events to {}: {}",
            log.log.display(),
            e
        );
    }
}

impl DriverArgs {
    fn log_file_display(&self) -> String {
        self.log_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

/// The one job, and how it runs: the command's last word is the file, the
/// words before it (Automake's LOG_COMPILER and flags) the program that runs it.
fn session_for(args: &DriverArgs) -> Result<Session> {
    let words: Vec<String> = args
        .command
        .iter()
        .cloned()
        .map(string)
        .collect::<Result<_>>()?;
    let (file, prefix) = words.split_last().expect("parse_from checked it");
    let how = if prefix.is_empty() {
        How::Itself
    } else {
        How::Command(prefix.to_vec())
    };
    let mut test = TestFile::read(PathBuf::from(file), how)
        .map_err(|e| Error::Usage(format!("{}: cannot be read: {}", file, e)))?;
    // The project's .proctorrc is the one where make runs, Automake's
    // current directory; its sections say what the file's headers may.
    let (sections, warnings) = crate::rc::sections_only().map_err(Error::Usage)?;
    crate::rc::warn(&warnings);
    let matching: Vec<_> = sections
        .into_iter()
        .filter(|s| crate::glob::matches(&s.glob, file))
        .collect();
    crate::rc_sections::put_over(
        &matching,
        std::slice::from_mut(&mut test),
        args.event_timeout,
        false,
    )
    .map_err(Error::Usage)?;
    // A program that is not there fails as the test's exit status 127, as it
    // would under Automake's own drivers, rather than as a usage error.
    let commands = match &test.how {
        How::Command(words) => {
            let program =
                discover::find_program(&words[0]).unwrap_or_else(|| words[0].clone().into());
            vec![(program, words.clone())]
        }
        _ => Vec::new(),
    };
    let mut jobs = job_specs(vec![test]);
    if let Some(name) = &args.test_name {
        jobs[0].display = name.clone();
    }
    // tap-driver.sh waits for a silent test as long as it takes; so does this,
    // unless asked.
    let event_timeout = args.event_timeout.unwrap_or(0.0);
    let launch = Launch {
        perl: None,
        commands,
        proctor: Launch::this_program(),
        stage: None,
        env: Launch::environment(&[], false),
        merge: args.merge,
        keep: false,
        event_timeout: crate::numbers::timeout(event_timeout),
        leftovers: args.leftovers,
        perl_switches: Vec::new(),
        test_args: Vec::new(),
        ignore_exit: false,
    };
    Ok(Session {
        jobs,
        launch,
        slots: 1,
        state_dir: args.state_dir.clone(),
        keep_log: !args.no_log,
        state_size: crate::state::LOGS_SIZE,
        extra_log: args.log.clone(),
        log_fd: None,
        keep: false,
        keyboard: false,
        policy: Default::default(),
        fallback: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Parsed> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        parse_from(words)
    }

    fn args(words: &[&str]) -> DriverArgs {
        match parse(words).unwrap() {
            Parsed::Run(a) => a,
            Parsed::Help => panic!("help"),
        }
    }

    #[test]
    fn both_option_forms_and_the_command() {
        let a = args(&[
            "--test-name",
            "t/a.t",
            "--log-file=t/a.log",
            "--trs-file",
            "t/a.trs",
            "--color-tests=yes",
            "--expect-failure",
            "no",
            "--enable-hard-errors=no",
            "--collect-skipped-logs",
            "no",
            "--protocol=exit",
            "--event-timeout",
            "5",
            "--",
            "perl",
            "-w",
            "--not-ours",
            "t/a.t",
        ]);
        assert_eq!(a.test_name.as_deref(), Some("t/a.t"));
        assert_eq!(a.log_file, Some(PathBuf::from("t/a.log")));
        assert_eq!(a.trs_file, Some(PathBuf::from("t/a.trs")));
        assert!(a.color && !a.expect_failure && !a.hard_errors && !a.collect_skipped_logs);
        assert_eq!(a.protocol, Protocol::Exit);
        assert_eq!(a.event_timeout, Some(5.0));
        assert_eq!(a.command, ["perl", "-w", "--not-ours", "t/a.t"]);
    }

    #[test]
    fn the_diagnostic_string_takes_the_next_word() {
        let a = args(&[
            "--test-name=x",
            "--log-file=x.log",
            "--trs-file=x.trs",
            "--diagnostic-string",
            "%%",
            "./x",
        ]);
        assert_eq!(a.diagnostic, "%%");
        assert_eq!(a.command, ["./x"]);
    }

    #[test]
    fn the_command_may_start_without_a_double_dash() {
        let a = args(&[
            "--test-name=x",
            "--log-file=x.log",
            "--trs-file=x.trs",
            "./x",
            "-v",
        ]);
        assert_eq!(a.command, ["./x", "-v"]);
        assert!(a.hard_errors && a.collect_skipped_logs && !a.color);
    }

    /// A word among the options, before the `--` that starts the command (a
    /// value given to a flag that takes none: `--merge yes`), is not run as
    /// the test: tap-driver.sh would run the command after `--`.
    #[test]
    fn a_stray_word_before_the_double_dash_is_a_usage_error() {
        let err = parse(&[
            "--test-name=x",
            "--log-file=x.log",
            "--trs-file=x.trs",
            "--merge",
            "yes",
            "--",
            "./x",
        ])
        .unwrap_err();
        assert_eq!(err.exit_status(), crate::error::EXIT_USAGE, "{}", err);
        assert_eq!(
            err.to_string(),
            "driver: 'yes' is among the options, before the -- that starts the test command (a value for a flag that takes none?)"
        );
    }

    #[test]
    fn bad_words_are_usage_errors() {
        let base = ["--test-name=x", "--log-file=x.log", "--trs-file=x.trs"];
        let with = |extra: &[&str]| {
            let mut w: Vec<&str> = base.to_vec();
            w.extend_from_slice(extra);
            parse(&w).unwrap_err()
        };
        for bad in [
            with(&[]),
            with(&["--color-tests", "maybe", "--", "x"]),
            with(&["--protocol", "junit", "--", "x"]),
            with(&["--frobnicate", "--", "x"]),
            with(&["--event-timeout", "-1", "--", "x"]),
            parse(&["--log-file=x.log", "--", "x"]).unwrap_err(),
        ] {
            assert_eq!(bad.exit_status(), crate::error::EXIT_USAGE, "{}", bad);
            assert!(!bad.to_string().contains('\n'), "one line: {}", bad);
        }
        let missing = parse(&["--log-file=x.log", "--", "x"]).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "driver: missing --test-name, --trs-file (see 'proctor driver --help')"
        );
    }

    /// Every long flag in the driver's usage is in the man page.
    #[test]
    fn every_driver_flag_is_in_the_man_page() {
        let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/proctor.1"))
            .unwrap()
            .replace('\\', "");
        for word in DRIVER_USAGE.split(|c: char| c.is_whitespace() || c == ',' || c == '|') {
            if let Some(flag) = word.strip_prefix("--") {
                let flag = flag.split('=').next().unwrap();
                if !flag.is_empty() && flag != "option" {
                    assert!(
                        man.contains(&format!("--{}", flag)),
                        "--{} is not in man/proctor.1",
                        flag
                    );
                }
            }
        }
    }
}
