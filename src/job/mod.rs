//! How a job is started: the command line and environment of each test, built
//! once per run, so that per job the runner only adds the job's TMPDIR and forks.
//! A job the runner spawns itself goes through here; a job spawned by a stage will
//! take the same [`audit::Config`] over the stage protocol.

pub mod audit;
pub mod plan;
pub mod segment;
pub mod slot;

use crate::discover::How;
use crate::headers::Headers;
use crate::sys::ExecSpec;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// One test file, as queued.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    pub display: String,
    pub path: PathBuf,
    pub how: How,
    pub headers: Headers,
    /// Run in the preloaded stage rather than started afresh.
    pub staged: bool,
}

/// What every job of the run shares.
pub struct Launch {
    /// perl, when some file runs through it.
    pub perl: Option<PathBuf>,
    /// Each command files are given to (`--exec CMD`, a `.proctorrc`
    /// section's `exec`): its program, found in PATH once, and its words.
    pub commands: Vec<(PathBuf, Vec<String>)>,
    /// The environment every test gets, less TMPDIR (shared by every job).
    pub env: Rc<Vec<CString>>,
    pub merge: bool,
    pub keep: bool,
    /// This program, for stages to exec as `proctor audit`.
    pub proctor: String,
    /// The stage for jobs marked `staged` (`--preload`).
    pub stage: Option<crate::stage::StageSpec>,
    pub event_timeout: Option<Duration>,
    /// When what a test leaves running is ended.
    pub leftovers: audit::Leftovers,
    /// Switches for perl before each perl test's name (prove's `-w`, `-T`...).
    pub perl_switches: Vec<String>,
    /// Words after each test's name (prove's `::`); not for preloaded tests.
    pub test_args: Vec<String>,
    /// A non-zero exit or a signal does not fail a test (prove's `--ignore-exit`).
    pub ignore_exit: bool,
}

impl JobSpec {
    /// Whether a preloaded perl may run it: a perl test that does not opt out
    /// with `# HARNESS-NO-PRELOAD`, ask for taint mode (which a running perl
    /// cannot turn on) or name another interpreter on its `#!` line (both
    /// read with its headers, as `no_preload`), and whose environment is the
    /// run's (the preloaded perl started with that).
    pub fn preloadable(&self) -> bool {
        self.how == How::Perl && !self.headers.no_preload && self.headers.env.is_empty()
    }
}

/// The PERL5LIB directories of `-l` (lib), `-b` (blib/lib, blib/arch) and `-I`,
/// in that order, as prove puts them: made absolute from here, as prove does,
/// so that a test that changes directory still finds its modules.
pub fn perl_dirs(lib: bool, blib: bool, includes: &[PathBuf]) -> Vec<PathBuf> {
    let here = std::env::current_dir().unwrap_or_default();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if lib {
        dirs.push("lib".into());
    }
    if blib {
        dirs.extend([PathBuf::from("blib/lib"), PathBuf::from("blib/arch")]);
    }
    dirs.extend(includes.iter().cloned());
    dirs.into_iter().map(|dir| here.join(dir)).collect()
}

impl Launch {
    /// Each command of `hows` once, its program found in PATH; an error names
    /// the first program that is not there.
    pub fn commands_of<'a>(
        hows: impl Iterator<Item = &'a How>,
    ) -> Result<Vec<(PathBuf, Vec<String>)>, String> {
        let mut commands: Vec<(PathBuf, Vec<String>)> = Vec::new();
        for how in hows {
            if let How::Command(words) = how {
                if words.is_empty() || commands.iter().any(|(_, w)| w == words) {
                    continue;
                }
                let program =
                    crate::discover::find_program(&words[0]).ok_or_else(|| words[0].clone())?;
                commands.push((program, words.clone()));
            }
        }
        Ok(commands)
    }

    /// A job's event timeout: its file's header's (0: none), else the run's.
    pub fn event_timeout_of(&self, spec: &JobSpec) -> Option<Duration> {
        match spec.headers.timeout_event {
            Some(seconds) => crate::numbers::timeout(seconds),
            None => self.event_timeout,
        }
    }

    /// The environment: the caller's, with PERL5LIB extended by `perl_dirs` and
    /// the variables prove exports.
    /// `verbose` adds HARNESS_IS_VERBOSE=1, as prove -v does.
    pub fn environment(perl_dirs: &[PathBuf], verbose: bool) -> Rc<Vec<CString>> {
        let mut env = Vec::new();
        let mut perl5lib: Vec<OsString> = perl_dirs
            .iter()
            .map(|d| d.as_os_str().to_os_string())
            .collect();
        for (key, value) in std::env::vars_os() {
            match key.as_bytes() {
                b"TMPDIR" | b"HARNESS_ACTIVE" | b"HARNESS_VERSION" | b"HARNESS_IS_VERBOSE" => {}
                b"PERL5LIB" => perl5lib.push(value),
                _ => env.push(pair(key.as_bytes(), value.as_bytes())),
            }
        }
        let mut joined = Vec::new();
        for dir in perl5lib.iter().filter(|p| !p.is_empty()) {
            if !joined.is_empty() {
                joined.push(b':');
            }
            joined.extend_from_slice(dir.as_bytes());
        }
        if !joined.is_empty() {
            env.push(pair(b"PERL5LIB", &joined));
        }
        env.push(pair(b"HARNESS_ACTIVE", b"1"));
        env.push(pair(
            b"HARNESS_VERSION",
            concat!("proctor-", env!("CARGO_PKG_VERSION")).as_bytes(),
        ));
        if verbose {
            env.push(pair(b"HARNESS_IS_VERBOSE", b"1"));
        }
        Rc::new(env)
    }

    /// What perl in taint mode, which ignores PERL5LIB and PERL5OPT, must be
    /// given on its command line instead (as prove gives it): `-I` for each
    /// PERL5LIB directory, then PERL5OPT's words.
    fn taint_switches(&self) -> Vec<OsString> {
        let value = |key: &[u8]| {
            self.env
                .iter()
                .find_map(|e| e.as_bytes().strip_prefix(key).map(<[u8]>::to_vec))
                .unwrap_or_default()
        };
        let mut switches: Vec<OsString> = value(b"PERL5LIB=")
            .split(|&b| b == b':')
            .filter(|dir| !dir.is_empty())
            .map(|dir| OsString::from_vec([&b"-I"[..], dir].concat()))
            .collect();
        switches.extend(
            value(b"PERL5OPT=")
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .map(|w| OsString::from_vec(w.to_vec())),
        );
        switches
    }

    /// This program's own path, for a stage to exec as the auditor.
    pub fn this_program() -> String {
        std::env::current_exe()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "proctor".into())
    }

    /// The auditor's whole configuration for one try of one job, with its log
    /// and TMPDIR where `place` says.
    pub fn auditor_config(
        &self,
        spec: &JobSpec,
        place: audit::Place,
        lifeline: i32,
        retry: audit::Retry,
    ) -> audit::Config {
        // Only a file run as itself needs `./`; perl gets the path as given, as
        // under prove, so diagnostics name it the same way.
        let file = if spec.how == How::Itself {
            runnable_path(&spec.path)
        } else {
            spec.path.clone()
        };
        let (program, mut command) = match &spec.how {
            How::Perl => {
                let perl = self
                    .perl
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("/usr/bin/perl"));
                let mut command = vec![perl.clone().into_os_string()];
                command.extend(self.perl_switches.iter().map(OsString::from));
                command.extend(spec.headers.taint.map(OsString::from));
                if command.iter().any(|w| w == "-T" || w == "-t") {
                    command.extend(self.taint_switches());
                }
                (perl, command)
            }
            How::Itself => (file.clone(), vec![]),
            How::Command(words) => {
                let program = self
                    .commands
                    .iter()
                    .find(|(_, w)| w == words)
                    .map_or_else(|| PathBuf::from(&words[0]), |(p, _)| p.clone());
                let mut command = vec![program.clone().into_os_string()];
                command.extend(words.iter().skip(1).map(OsString::from));
                (program, command)
            }
        };
        command.push(file.into_os_string());
        command.extend(self.test_args.iter().map(OsString::from));
        let mut extra_env = vec![pair(b"TMPDIR", place.tmp.as_os_str().as_bytes())];
        extra_env.extend(spec.headers.env.iter().map(|p| cstring(p.into())));
        let spec_exec = ExecSpec::new(
            cstring(program.into_os_string()),
            command.iter().cloned().map(cstring).collect(),
            self.env.clone(),
            extra_env,
        );
        let test = audit::Test::Spawn {
            spec: spec_exec,
            merge: self.merge,
        };
        let command = command
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        self.config(spec, place, (lifeline, retry), test, command)
    }

    /// The configuration of a job whose test a preloaded perl started: `test`
    /// says where it is.
    pub fn preloaded_config(
        &self,
        spec: &JobSpec,
        place: audit::Place,
        lifeline: i32,
        retry: audit::Retry,
        test: audit::Test,
    ) -> audit::Config {
        let command = vec!["perl (preloaded)".to_string(), spec.display.clone()];
        self.config(spec, place, (lifeline, retry), test, command)
    }

    /// With the lifeline, when the runner tries the job again (which
    /// every caller must say: a default would quietly lose a retry).
    fn config(
        &self,
        spec: &JobSpec,
        place: audit::Place,
        (lifeline, retry): (i32, audit::Retry),
        test: audit::Test,
        command: Vec<String>,
    ) -> audit::Config {
        audit::Config {
            file: spec.display.clone(),
            place,
            test,
            command,
            event_timeout: self.event_timeout_of(spec),
            leftovers: self.leftovers,
            keep: self.keep,
            ignore_exit: self.ignore_exit,
            lifeline,
            retry,
            started: None,
            modules_report: None,
        }
    }
}

/// A path exec will not look up in PATH: `foo.t` becomes `./foo.t`.
fn runnable_path(path: &Path) -> PathBuf {
    if path.is_absolute() || path.starts_with(".") || path.starts_with("..") {
        path.to_path_buf()
    } else {
        Path::new(".").join(path)
    }
}

fn pair(key: &[u8], value: &[u8]) -> CString {
    let mut bytes = Vec::with_capacity(key.len() + 1 + value.len());
    bytes.extend_from_slice(key);
    bytes.push(b'=');
    bytes.extend_from_slice(value);
    cstring(OsString::from_vec(bytes))
}

/// Paths and arguments come from the OS or the command line and cannot hold NUL;
/// if one somehow does, it is cut there rather than panicking.
fn cstring(s: OsString) -> CString {
    let mut bytes = s.into_vec();
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
    CString::new(bytes).unwrap_or_default()
}
