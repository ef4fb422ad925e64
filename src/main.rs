//! proctor: runs test programs in parallel under auditors, judges their TAP, and
//! writes a replayable event log. This file only parses, dispatches, and maps the
//! outcome to an exit status.

#![deny(unsafe_code)]
// The process starts in sys::start (C's main), skipping std's start-up.
#![cfg_attr(not(test), no_main)]

#[macro_use]
mod say;
#[cfg(test)]
mod scratch;

mod auditor;
mod cli;
mod commands;
mod daemon;
mod discover;
mod error;
mod event;
mod glob;
mod headers;
mod job;
mod json;
mod ljsonl;
mod numbers;
mod order;
mod overlord;
mod rc;
mod rc_sections;
mod render;
mod report;
mod runner;
mod stage;
mod state;
#[allow(unsafe_code)]
mod sys;
mod tap;

use cli::Command;

/// Called from C's `main` in sys::start.
fn main() {
    // A panic must not leave the terminal without echo.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        sys::terminal::restore();
        default_hook(info);
    }));
    // Installed (or linked) as `prove`, proctor is prove: every argument is prove's.
    let mut args = std::env::args_os();
    let name = args.next().map(std::path::PathBuf::from);
    let parsed = match name.as_ref().and_then(|n| n.file_name()) {
        Some(n) if n == "prove" => Ok(Command::Prove(args.collect())),
        _ => cli::parse(),
    };
    let outcome = parsed.and_then(|command| match command {
        Command::Test(args) => commands::test::run(*args),
        Command::Run(args) => commands::test::run_remote(*args),
        Command::Start(args) => commands::persist::start(args),
        Command::Status(args) => {
            commands::persist::ask(daemon::Request::Status, args.state_dir.as_deref())
        }
        Command::Reload(args) => {
            commands::persist::ask(daemon::Request::Reload, args.state_dir.as_deref())
        }
        Command::Stop(args) => commands::persist::stop(args.state_dir.as_deref()),
        Command::Failed(args) => commands::logs::failed(args),
        Command::Replay(args) => commands::logs::replay(args),
        Command::Times(args) => commands::logs::times(args),
        Command::Report(args) => commands::report::run(args),
        Command::Modules(args) => commands::modules::run(args),
        Command::Driver(args) => commands::driver::run(args),
        Command::Prove(args) => commands::prove::run(args),
        Command::Audit(args) => commands::audit::run(args),
        Command::Help(command) => {
            // The parser let through only commands that have a usage.
            say::out(cli::usage(command.as_deref()).unwrap_or_default())?;
            Ok(0)
        }
        Command::Version(args) => commands::about::version(args),
    });
    let status = match outcome {
        Ok(status) => status,
        Err(e) => {
            errln!("proctor: {}", e);
            e.exit_status()
        }
    };
    std::process::exit(status);
}
