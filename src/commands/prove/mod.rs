//! `proctor prove`, and proctor called as `prove`: prove's options and output,
//! so a build that runs `prove -lr t` gets proctor without a change. It reads
//! prove's rc files and options (`rc.rs`, `options.rs`), keeps prove's state
//! file (`state.rs`), finds the files and how each runs as prove does
//! (`files.rs`), and hands the run to the session with the prove renderer.

mod files;
mod modules;
mod options;
mod rc;
mod state;
mod yamlish;

use crate::cli::{TestArgs, PROVE_USAGE};
use crate::commands::session::{self, Session};
use crate::commands::test::{job_specs, launch_for};
use crate::error::{Error, Result};
use crate::job::Launch;
use crate::render::prove::{self as render, Ending, Prove};
use options::{Parsed, ProveArgs};
use std::cell::RefCell;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub fn run(args: Vec<OsString>) -> Result<i32> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    let words = rc::split(args, home.as_deref().map(Path::new))?;
    let mut prove = match parse(&words.options)? {
        Parsed::Help => {
            crate::say::out(PROVE_USAGE)?;
            return Ok(0);
        }
        Parsed::Man => return show_manual(),
        Parsed::Version => {
            outln!(
                "proctor {} (as prove: options and output of TAP::Harness v3.44's prove)",
                env!("CARGO_PKG_VERSION")
            )?;
            return Ok(0);
        }
        Parsed::Run(p) => *p,
    };
    prove.test_args = words
        .test_args
        .into_iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    let mut state = state::State::open(&prove.state, prove.statefile.as_deref())?;
    let search = files::Search {
        recurse: prove.recurse,
        extensions: &prove.extensions,
    };
    let selected = state.selected();
    let mut names = files::names(
        &prove.paths,
        selected,
        state.selecting(),
        &search,
        &mut io::stdin().lock(),
    )?;
    if prove.shuffle {
        shuffle(&mut names);
    }
    if prove.reverse {
        names.reverse();
    }
    if prove.dry {
        let mut list = String::new();
        for name in &names {
            list.push_str(&format!("{}\n", name.display()));
        }
        crate::say::out(list)?;
        return Ok(0);
    }
    if !prove.modules.is_empty() {
        let perl = crate::discover::find_program("perl")
            .ok_or_else(|| Error::Usage("-M: perl is not in PATH".into()))?;
        modules::load(&perl, &prove.modules)?;
        // prove reads the HARNESS_ variables after loading them: they may
        // have set some.
        if let Parsed::Run(again) = parse(&words.options)? {
            prove = ProveArgs {
                test_args: std::mem::take(&mut prove.test_args),
                ..*again
            };
        }
    }
    if names.is_empty() {
        let mut summary = Vec::new();
        render::no_tests(&mut summary)?;
        crate::say::out(summary)?;
        // A run of nothing is a run: prove saves its state all the same.
        state.commit()?;
        return Ok(0);
    }
    let mut files = names
        .into_iter()
        .map(|name| files::test_file(name, prove.exec.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    // prove has no such file: without a .proctorrc, this is prove's run.
    let (sections, warnings) = crate::rc::sections_only().map_err(Error::Usage)?;
    crate::rc::warn(&warnings);
    crate::rc_sections::put_over(&sections, &mut files, prove.event_timeout, false)
        .map_err(Error::Usage)?;
    if prove.verbose_flag {
        // prove tells the tests it is verbose.
        std::env::set_var("TEST_VERBOSE", "1");
    }
    let launch = launch(&prove, &files)?;
    let session = Session {
        jobs: job_specs(files),
        launch,
        slots: prove.jobs.unwrap_or(1),
        state_dir: None,
        keep_log: true,
        state_size: crate::state::LOGS_SIZE,
        extra_log: None,
        log_fd: None,
        keep: false,
        keyboard: false,
        policy: Default::default(),
        fallback: None,
    };
    let ending = Rc::new(RefCell::new(Ending::default()));
    let mut style = prove.style.clone();
    style.ignore_exit = prove.ignore_exit;
    let renderer = Prove::new(
        Box::new(io::stdout()),
        Box::new(io::stderr()),
        style,
        ending.clone(),
    );
    let status = session::run(session, vec![Box::new(renderer), state.observer()])?;
    state.commit()?;
    let bailed = ending.borrow().bailed.clone();
    Ok(match bailed {
        // prove dies after a bail-out: its message on stderr, status 255.
        Some(reason) => {
            if reason.is_empty() {
                errln!("FAILED--Further testing stopped.");
            } else {
                errln!("FAILED--Further testing stopped: {}", reason);
            }
            255
        }
        None => status,
    })
}

/// prove's options over its environment.
fn parse(options: &[OsString]) -> Result<Parsed> {
    let env = options::from_environment(|k| std::env::var(k).ok())?;
    options::parse_from(options.to_vec(), env)
}

/// How every job starts, as prove would start it: its libraries made
/// absolute (prove's rel2abs, so a test that changes directory still finds
/// them), its perl switches, the words after `::`, and no event timeout
/// unless asked for one (prove waits for a silent test forever).
fn launch(prove: &ProveArgs, files: &[crate::discover::TestFile]) -> Result<Launch> {
    let test_args = test_args(prove);
    let mut launch = launch_for(&test_args, files, false)?;
    if let (Some(perl), Some(_)) = (&prove.perl, &launch.perl) {
        // HARNESS_PERL: the perl prove runs perl tests with.
        let found = crate::discover::find_program(&perl.to_string_lossy());
        launch.perl = Some(found.unwrap_or_else(|| perl.clone()));
    }
    launch.perl_switches = prove.perl_switches();
    launch.test_args = prove.test_args.clone();
    launch.ignore_exit = prove.ignore_exit;
    Ok(launch)
}

/// The settings `proctor test` would take for this prove command line.
fn test_args(prove: &ProveArgs) -> TestArgs {
    let mut dirs: Vec<PathBuf> = crate::job::perl_dirs(prove.lib, prove.blib, &prove.includes);
    if dirs.is_empty() {
        // HARNESS_PERL_SWITCHES's -I count only when prove has no libraries.
        dirs = prove.env_libs.clone();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut args = TestArgs {
        includes: dirs.iter().map(|d| cwd.join(d)).collect(),
        exec: prove.exec.clone(),
        merge: prove.merge,
        event_timeout: Some(prove.event_timeout.unwrap_or(0.0)),
        ..TestArgs::default()
    };
    args.show.verbose = prove.style.verbosity > 0;
    args
}

/// prove's `-H`: the manual page (proctor's, whose PROVE section is this
/// command's), or the usage text where there is no `man`.
fn show_manual() -> Result<i32> {
    match std::process::Command::new("man").arg("proctor").status() {
        Ok(status) if status.success() => Ok(0),
        _ => {
            crate::say::out(PROVE_USAGE)?;
            Ok(0)
        }
    }
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

    fn prove(args: &[&str]) -> ProveArgs {
        let words: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match options::parse_from(words, ProveArgs::default()).unwrap() {
            Parsed::Run(p) => *p,
            other => panic!("expected a run, got {:?}", other),
        }
    }

    /// prove waits for a silent test as long as it takes: so does proctor
    /// prove, unless given --event-timeout.
    #[test]
    fn no_event_timeout_unless_asked() {
        let launch = launch(&prove(&["-l"]), &[]).unwrap();
        assert_eq!(launch.event_timeout, None);
        let launch = launch_of(&["--event-timeout", "7"]);
        assert_eq!(
            launch.event_timeout,
            Some(std::time::Duration::from_secs(7))
        );
    }

    fn launch_of(args: &[&str]) -> Launch {
        launch(&prove(args), &[]).unwrap()
    }

    #[test]
    fn libraries_are_absolute_switches_and_test_args_go_to_the_launch() {
        let mut p = prove(&["-l", "-I", "inc", "-w", "--ignore-exit"]);
        p.test_args = vec!["x".into()];
        let args = test_args(&p);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(args.includes, [cwd.join("lib"), cwd.join("inc")]);
        let launch = launch(&p, &[]).unwrap();
        assert_eq!(launch.perl_switches, ["-w"]);
        assert_eq!(launch.test_args, ["x"]);
        assert!(launch.ignore_exit);
    }

    /// Every long option of the usage text is in the man page's PROVE section.
    #[test]
    fn every_long_option_is_in_the_man_page() {
        let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/proctor.1"))
            .expect("man/proctor.1 is readable")
            .replace('\\', "");
        let section = &man[man.find(".SH PROVE").expect("a PROVE section")..];
        let mut checked = 0;
        for word in PROVE_USAGE.split(|c: char| c.is_whitespace() || c == ',' || c == '/') {
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
}
