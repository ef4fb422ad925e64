//! `proctor test`: discover the files, fork the runner, follow the run as the
//! overlord with the renderers, and exit with the verdict.

use crate::cli::TestArgs;
use crate::discover::{self, How};
use crate::error::{Error, Result};
use crate::headers;
use crate::json;
use crate::overlord::{Overlord, Sink};
use crate::render::{Plain, Renderer};
use crate::runner::{self, JobSpec, Launch, Plan};
use crate::state;
use crate::sys::{self, Fork, SignalPipe};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

/// The default event timeout, in seconds.
const EVENT_TIMEOUT: f64 = 60.0;

pub fn run(args: TestArgs) -> Result<i32> {
    let files = discover::discover(&args.paths, args.recurse, args.exec.as_deref())?;
    let launch = launch_for(&args, &files)?;
    let slots = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let jobs: Vec<JobSpec> = files
        .into_iter()
        .map(|f| {
            let (headers, warnings) = headers::read(&f.path);
            for w in warnings {
                eprintln!("proctor: warning: {}", w);
            }
            JobSpec {
                display: f.path.to_string_lossy().into_owned(),
                path: f.path,
                how: f.how,
                headers,
            }
        })
        .collect();

    let state_dir = state::locate(args.state_dir.as_deref());
    let (paths, warning) = state::new_run(state_dir.clone(), !args.no_log).map_err(|e| {
        Error::io(
            format!("create a run directory under {}", state_dir.display()),
            e,
        )
    })?;
    if let Some(w) = warning {
        eprintln!("proctor: warning: {}", w);
    }
    let mut sinks = Vec::new();
    if let Some(log) = &paths.log {
        let file = File::create(log)
            .map_err(|e| Error::io(format!("create the event log {}", log.display()), e))?;
        sinks.push(Sink {
            name: log.display().to_string(),
            out: Box::new(BufWriter::with_capacity(64 * 1024, file)),
        });
        if let Err(e) = state::mark_last(&paths.state_dir, log) {
            eprintln!(
                "proctor: warning: unable to mark {} as the last run: {}",
                log.display(),
                e
            );
        }
    }
    let log_to_stdout = args.log.as_deref() == Some(std::path::Path::new("-"));
    if let Some(extra) = &args.log {
        let out: Box<dyn Write> = if log_to_stdout {
            Box::new(BufWriter::new(io::stdout()))
        } else {
            Box::new(BufWriter::new(File::create(extra).map_err(|e| {
                Error::io(format!("create the event log {}", extra.display()), e)
            })?))
        };
        sinks.push(Sink {
            name: extra.display().to_string(),
            out,
        });
    }
    // With the event log on stdout, people read the run on stderr.
    let renderer: Box<dyn Renderer> = if log_to_stdout {
        Box::new(Plain::new(io::stderr()))
    } else {
        Box::new(Plain::new(io::stdout()))
    };

    // Handlers go in before the first fork, so no signal is missed in between.
    let signals = SignalPipe::install(&[libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
        .map_err(|e| Error::io("set up signal handling", e))?;
    let (wake_read, wake_write) = sys::pipe().map_err(|e| Error::io("create a pipe", e))?;
    let _ = io::stdout().flush();
    let job_count = jobs.len();
    let plan = Plan {
        jobs,
        slots,
        run_dir: paths.run_dir.clone(),
        launch,
    };
    let runner_pid = match sys::fork().map_err(|e| Error::io("start the runner", e))? {
        Fork::Child => {
            signals.uninstall();
            let code = match sys::keep_only_fd(wake_write.as_raw_fd()) {
                Ok(wake) => runner::run(plan, wake),
                Err(_) => crate::error::EXIT_HARNESS,
            };
            sys::exit_now(code)
        }
        Fork::Parent(pid) => pid,
    };
    drop(wake_write);
    drop(plan);

    let mut overlord = Overlord::new(
        sinks,
        vec![renderer],
        paths.run_dir.clone(),
        runner_pid,
        wake_read,
        args.keep,
    );
    let cwd = std::env::current_dir().unwrap_or_default();
    overlord.start(|out| {
        json::write_str_field(out, "version", env!("CARGO_PKG_VERSION"));
        json::write_str_field(out, "id", &paths.id);
        json::write_str_field(out, "cwd", &cwd.to_string_lossy());
        json::write_u64_field(out, "files", job_count as u64);
        json::write_u64_field(out, "slots", slots as u64);
        json::write_str_field(out, "run_dir", &paths.run_dir.to_string_lossy());
    });
    let outcome = overlord
        .follow(&signals)
        .map_err(|e| Error::io("follow the run", e))?;
    if !args.keep {
        let _ = std::fs::remove_dir_all(&paths.run_dir);
    }
    Ok(outcome.exit_status)
}

/// What every job shares: interpreters found once, the environment built once.
fn launch_for(args: &TestArgs, files: &[discover::TestFile]) -> Result<Launch> {
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
    let exec = match &args.exec {
        Some(cmd) if !cmd.is_empty() => {
            let program = discover::find_program(&cmd[0]).ok_or_else(|| {
                Error::Usage(format!("--exec: '{}' is not a program in PATH", cmd[0]))
            })?;
            Some((program, cmd.clone()))
        }
        _ => None,
    };
    let mut perl_dirs: Vec<PathBuf> = Vec::new();
    if args.lib {
        perl_dirs.push("lib".into());
    }
    if args.blib {
        perl_dirs.push("blib/lib".into());
        perl_dirs.push("blib/arch".into());
    }
    perl_dirs.extend(args.includes.iter().cloned());
    let event_timeout = args.event_timeout.unwrap_or(EVENT_TIMEOUT);
    Ok(Launch {
        perl,
        exec,
        env: Launch::environment(&perl_dirs),
        merge: args.merge,
        keep: args.keep,
        event_timeout: if event_timeout > 0.0 {
            Some(Duration::from_secs_f64(event_timeout))
        } else {
            None
        },
    })
}
