//! `proctor test`: discover the files, decide how each runs, and hand the run to
//! the session with the renderers the flags ask for.

use crate::cli::TestArgs;
use crate::commands::session::{self, Session};
use crate::discover::{self, How};
use crate::error::{Error, Result};
use crate::headers;
use crate::render;
use crate::runner::{JobSpec, Launch};
use std::path::PathBuf;
use std::time::Duration;

/// The default event timeout, in seconds.
pub const EVENT_TIMEOUT: f64 = 60.0;

pub fn run(args: TestArgs) -> Result<i32> {
    let files = discover::discover(&args.paths, args.recurse, args.exec.as_deref())?;
    let launch = launch_for(&args, &files)?;
    let slots = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let jobs = job_specs(files);

    let log_on_stdout = args.log.as_deref() == Some(std::path::Path::new("-"));
    // With the event log on stdout, people read the run on stderr.
    let (renderers, live) = render::for_run(&args.show, log_on_stdout, true);
    let session = Session {
        jobs,
        launch,
        slots,
        state_dir: args.state_dir.clone(),
        keep_log: !args.no_log,
        extra_log: args.log.clone(),
        log_fd: args.log_fd,
        keep: args.keep,
        keyboard: live,
    };
    session::run(session, renderers)
}

/// The queue entries for `files`, with each file's headers read.
pub fn job_specs(files: Vec<discover::TestFile>) -> Vec<JobSpec> {
    files
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
        .collect()
}

/// What every job shares: interpreters found once, the environment built once.
pub fn launch_for(args: &TestArgs, files: &[discover::TestFile]) -> Result<Launch> {
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
