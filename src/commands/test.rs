//! `proctor test`: choose the files (found, or by earlier results), their order
//! and this machine's share, decide how each runs, and hand the run to the
//! session with the renderers the flags ask for.

use crate::cli::TestArgs;
use crate::commands::preload_auto;
use crate::commands::session::{self, Policy, Runner, Session};
use crate::discover::{self, How, Search, TestFile};
use crate::error::{Error, Result};
use crate::job::audit::Leftovers;
use crate::job::{perl_dirs, JobSpec, Launch};
use crate::order::{self, Known, Order, Partition, Share};
use crate::render;
use crate::render::ColorChoice;
use crate::runner::Prefork;
use crate::stage::StageSpec;
use crate::state;
use std::collections::HashMap;
use std::path::PathBuf;

/// The default event timeout, in seconds.
pub const EVENT_TIMEOUT: f64 = 60.0;

pub fn run(args: TestArgs) -> Result<i32> {
    if let Some(file) = &args.explain {
        return explain(&args, file);
    }
    // First, while this process is small: the runner forks every auditor from
    // its own copy of it.
    let runner = Prefork::start().map_err(|e| Error::io("start the runner", e))?;
    run_on(args, Runner::Local(runner))
}

/// `proctor run`: the same, on the project's persistent runner.
pub fn run_remote(mut args: TestArgs) -> Result<i32> {
    if let Some(file) = &args.explain {
        return explain(&args, file);
    }
    if !args.preload.is_empty() {
        errln!("proctor: warning: --preload is the persistent runner's (proctor start --preload); ignored here");
        args.preload.clear();
    }
    let socket = crate::daemon::socket_path(&state::locate(args.state_dir.as_deref()));
    let stream = crate::daemon::connect(&socket).map_err(Error::Usage)?;
    run_on(args, Runner::Remote(stream))
}

fn run_on(mut args: TestArgs, runner: Runner) -> Result<i32> {
    apply_harness_environment(&mut args);
    let auto = preload_auto::take_auto(&mut args.preload);
    let partition = match args.partition {
        Some(Share::Given(partition)) => Some(partition),
        Some(Share::FromCi) => {
            let (partition, from) =
                Partition::from_ci(|name| std::env::var(name).ok()).map_err(Error::Usage)?;
            // A CI log then says which share this job ran.
            errln!("proctor: partition {}", from);
            Some(partition)
        }
        None => None,
    };
    let state_dir = state::locate(args.state_dir.as_deref());
    if let (None, Runner::Remote(_)) = (args.jobs, &runner) {
        // Neither -j nor HARNESS_OPTIONS: what the runner was started with.
        args.jobs = crate::daemon::default_jobs(&state_dir);
    }
    let (known, warning) = state::load_known(&state_dir);
    if let Some(w) = warning {
        errln!("proctor: warning: {}", w);
    }
    let mut files = select(&args, &known)?;
    crate::rc_sections::put_over(
        &args.sections,
        &mut files,
        args.typed_event_timeout,
        args.strict,
    )
    .map_err(Error::Usage)?;
    if files.is_empty() {
        // Only a selection by earlier results can come up empty: the user asked.
        errln!("proctor: no test to run: nothing in the last run matches --failed or --state");
        return Ok(crate::error::EXIT_PASS);
    }
    if let Some(partition) = partition {
        files = partition.select(files);
        if files.is_empty() {
            errln!(
                "proctor: partition {}/{} has no files in it",
                partition.part,
                partition.of
            );
            return Ok(crate::error::EXIT_PASS);
        }
    }
    let order = choose_order(&args, &files, &known);
    // Each file's headers were read where it was found: they order the run
    // and go with the job.
    order::arrange(&mut files, order, &known, |f| f.headers.duration, modified);
    drop(known);
    let mut launch = launch_for(&args, &files, auto)?;
    let slots = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut jobs = job_specs(files);
    // The persistent runner preloads as it was started: its runs hold back
    // too (a file held back there is one that failed in its perl).
    let fallback = if launch.stage.is_some() || matches!(runner, Runner::Remote(_)) {
        Some(hold_back(&state_dir, &mut jobs, args.preload_recheck))
    } else {
        None
    };
    if launch.stage.is_some() {
        for job in &mut jobs {
            job.staged = job.preloadable();
        }
    }
    if !jobs.iter().any(|j| j.staged) {
        // No file would run in it: no perl preloads for nothing.
        launch.stage = None;
    }
    if let Some(stage) = launch.stage.as_mut().filter(|_| auto) {
        let project = preload_auto::project_dirs(args.lib, args.blib, &args.includes);
        preload_auto::apply(stage, &jobs, &state_dir, &args.includes, &project);
    }

    let log_on_stdout = args.log.as_deref() == Some(std::path::Path::new("-"));
    // With the event log on stdout, people read the run on stderr.
    let (renderers, live) = render::for_run(&args.show, log_on_stdout, true);
    let session = Session {
        jobs,
        launch,
        slots,
        state_dir: args.state_dir.clone(),
        keep_log: !args.no_log,
        state_size: args.state_size.unwrap_or(state::LOGS_SIZE),
        extra_log: args.log.clone(),
        log_fd: args.log_fd,
        keep: args.keep,
        keyboard: live,
        policy: Policy {
            retries: args.retry.unwrap_or(0),
            retry_isolated: args.retry_isolated,
            preload_verify: args.preload_verify,
            flaky_fails: args.flaky_fails,
        },
        fallback,
    };
    session::run_with(session, renderers, runner)
}

/// `--explain FILE`: where each of FILE's settings comes from; nothing runs.
fn explain(args: &TestArgs, file: &std::path::Path) -> Result<i32> {
    let head =
        crate::headers::head(file).map_err(|e| Error::io(format!("read {}", file.display()), e))?;
    let found = discover::discover(
        &[file.to_path_buf()],
        &Search::default(),
        args.exec.as_deref(),
        &args.sections,
    )?;
    let origin = |flag: &str| args.flag_origins.of(flag);
    let run = crate::rc_sections::RunWide {
        typed_event_timeout: args.typed_event_timeout,
        event_timeout: args.event_timeout,
        retries: args.retry,
        flag_origin: &origin,
    };
    let text = crate::rc_sections::explain(&found[0], &head, &args.sections, &run);
    crate::say::out(format!("{}:\n{}", file.to_string_lossy(), text))?;
    Ok(crate::error::EXIT_PASS)
}

/// Marks the files that failed preloaded before, and have not changed since,
/// not to be preloaded (unless `recheck`), and says once how many there are.
fn hold_back(state_dir: &std::path::Path, jobs: &mut [JobSpec], recheck: bool) -> state::Fallback {
    let (mut fallback, warning) = state::Fallback::load(state_dir);
    if let Some(w) = warning {
        errln!("proctor: warning: {}", w);
    }
    for job in jobs.iter_mut().filter(|j| j.preloadable()) {
        job.headers.no_preload = fallback.holds_back(&job.display, recheck);
    }
    match fallback.held_back() {
        0 => {}
        1 => errln!("proctor: 1 file runs without preload: it failed preloaded before (--preload-recheck preloads it)"),
        n => errln!("proctor: {} files run without preload: they failed preloaded before (--preload-recheck preloads them)", n),
    }
    fallback
}

/// prove's environment variables, where the command line said nothing:
/// HARNESS_OPTIONS (`j<n>`, `c`), HARNESS_TIMER, HARNESS_VERBOSE, TEST_VERBOSE.
fn apply_harness_environment(args: &mut TestArgs) {
    let set = |name: &str| std::env::var(name).map_or(false, |v| !v.is_empty() && v != "0");
    if let Ok(options) = std::env::var("HARNESS_OPTIONS") {
        for option in options.split(':') {
            if let Some(n) = option.strip_prefix('j') {
                if args.jobs.is_none() {
                    // prove reads a bare `j` as 9.
                    args.jobs = if n.is_empty() {
                        Some(9)
                    } else {
                        n.parse().ok().filter(|n| *n > 0)
                    };
                }
            } else if option == "c" && args.show.color == ColorChoice::Auto {
                args.show.color = ColorChoice::Always;
            }
        }
    }
    if set("HARNESS_TIMER") {
        args.show.timer = true;
    }
    if set("HARNESS_VERBOSE") || set("TEST_VERBOSE") {
        args.show.verbose = true;
    }
}

/// The files to run: those found under the paths, or with `--failed` / `--state`
/// those the last run says failed (or passed).
fn select(args: &TestArgs, known: &HashMap<String, Known>) -> Result<Vec<TestFile>> {
    let search = Search::new(args.recurse, &args.extensions);
    let by_result = if args.failed || args.state.iter().any(|w| w == "failed") {
        Some(true)
    } else if args.state.iter().any(|w| w == "passed") {
        Some(false)
    } else {
        None
    };
    let wanted = match by_result {
        None => {
            return discover::discover(&args.paths, &search, args.exec.as_deref(), &args.sections)
        }
        Some(failed) => failed,
    };
    let matches = |path: &str| known.get(path).and_then(|k| k.failed) == Some(wanted);
    if !args.paths.is_empty() {
        let found = discover::discover(&args.paths, &search, args.exec.as_deref(), &args.sections)?;
        return Ok(found
            .into_iter()
            .filter(|f| matches(&f.path.to_string_lossy()))
            .collect());
    }
    let mut paths: Vec<PathBuf> = known
        .keys()
        .filter(|p| matches(p) && std::path::Path::new(p).is_file())
        .map(PathBuf::from)
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    discover::discover(
        &paths,
        &Search::default(),
        args.exec.as_deref(),
        &args.sections,
    )
}

/// `--order`, prove's ordering `--state` words, or longest first once durations
/// are known (as found, before that).
fn choose_order(args: &TestArgs, files: &[TestFile], known: &HashMap<String, Known>) -> Order {
    match args.order {
        Some(Some(order)) => return order,
        Some(None) => {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 ^ std::process::id() as u64)
                .unwrap_or(1);
            errln!(
                "proctor: shuffled with seed {} (--order=shuffle={} repeats it)",
                seed,
                seed
            );
            return Order::Shuffle(seed);
        }
        None => {}
    }
    for word in &args.state {
        match word.as_str() {
            "slow" => return Order::Durations,
            "fast" => return Order::Fast,
            "new" => return Order::Newest,
            _ => {}
        }
    }
    let durations_known = files.iter().any(|f| {
        known
            .get(&*f.path.to_string_lossy())
            .map_or(false, |k| k.duration.is_some())
    });
    if durations_known {
        Order::Durations
    } else {
        Order::Given
    }
}

fn modified(f: &TestFile) -> u64 {
    std::fs::metadata(&f.path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The queue entries for `files`.
pub fn job_specs(files: Vec<discover::TestFile>) -> Vec<JobSpec> {
    files
        .into_iter()
        .map(|f| JobSpec {
            staged: false,
            display: f.path.to_string_lossy().into_owned(),
            path: f.path,
            how: f.how,
            headers: f.headers,
        })
        .collect()
}

/// What every job shares: interpreters found once, the environment built once.
/// `auto`: `--preload auto` was given, so a perl stage runs even with no
/// module named (see `preload_auto`).
pub fn launch_for(args: &TestArgs, files: &[discover::TestFile], auto: bool) -> Result<Launch> {
    let perl = if files.iter().any(|f| f.how == How::Perl) {
        Some(discover::find_program("perl").ok_or_else(|| {
            Error::Usage(format!(
                "perl is not in PATH, and {} needs it (or use --exec)",
                files[0].path.display()
            ))
        })?)
    } else {
        None
    };
    // --exec's program must be there even when sections give every file
    // another; theirs were checked with the sections.
    let exec = args.exec.as_ref().map(|words| How::Command(words.clone()));
    let commands = Launch::commands_of(exec.iter().chain(files.iter().map(|f| &f.how))).map_err(
        |program| Error::Usage(format!("--exec: '{}' is not a program in PATH", program)),
    )?;
    let perl_dirs = perl_dirs(args.lib, args.blib, &args.includes);
    let event_timeout = args.event_timeout.unwrap_or(EVENT_TIMEOUT);
    let stage = if args.preload.is_empty() && !auto {
        None
    } else {
        let perl = match &perl {
            Some(perl) => perl.clone(),
            None => discover::find_program("perl")
                .ok_or_else(|| Error::Usage("--preload: perl is not in PATH".to_string()))?,
        };
        Some(StageSpec::perl(perl, &args.preload))
    };
    Ok(Launch {
        perl,
        commands,
        proctor: Launch::this_program(),
        stage,
        env: Launch::environment(&perl_dirs, args.show.verbose),
        merge: args.merge,
        keep: args.keep,
        event_timeout: crate::numbers::timeout(event_timeout),
        leftovers: args.leftovers.unwrap_or(Leftovers::WithRun),
        perl_switches: Vec::new(),
        test_args: Vec::new(),
        ignore_exit: false,
    })
}
