//! Renderers: turn events into what people read. A renderer sees only events
//! (live from the overlord, or from a log in `proctor replay`: the same path), and
//! declares the kinds it needs so the overlord decodes nothing else.

pub mod automake;
mod automake_line;
mod junit;
mod live;
mod palette;
mod plain;
pub mod prove;
mod status;

pub use junit::Junit;
pub use live::Live;
pub use palette::{ColorChoice, Palette, Role};
pub use plain::{Plain, Style};

use crate::event::{read, Event, Interest};
use crate::sys::terminal;
use std::io::{self, Write};
use std::path::PathBuf;

pub trait Renderer {
    /// The event kinds this renderer wants.
    fn interest(&self) -> Interest;
    /// One event, in log order.
    fn event(&mut self, event: &mut Event) -> io::Result<()>;
    /// The log ended; `complete` is false when it had no run_end (the run is still
    /// going, or was killed).
    fn finish(&mut self, complete: bool) -> io::Result<()>;
    /// The host will replay a finished job's records from its log when asked
    /// (see `wants_replay`), so nothing need be kept for after a job ends.
    /// The overlord offers it before asking `interest`; `proctor replay`
    /// does not.
    fn replays_offered(&mut self) {}
    /// A job ended (its job_end was just handed to `event`): the kinds of its
    /// records this renderer wants again, read back from the job's log before
    /// it is deleted, each handed to `replayed`, then `replay_end`. Asked
    /// only of a renderer that was offered replays.
    fn wants_replay(&mut self, _end: &mut Event) -> Option<Interest> {
        None
    }
    /// One record of the replayed job, in log order.
    fn replayed(&mut self, _event: &mut Event) -> io::Result<()> {
        Ok(())
    }
    /// The replayed job's records are all handed over.
    fn replay_end(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Called about ten times a second while the run goes on.
    fn tick(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// A key the user pressed, after the overlord acted on it; `paused` says
    /// whether starting new jobs is paused now.
    fn key(&mut self, _key: char, _paused: bool) -> io::Result<()> {
        Ok(())
    }
    /// The terminal is being given back (Ctrl-Z): take the status line off.
    fn suspend(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The terminal changed size or came back: draw again.
    fn redraw(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a run is shown, as `test` and `replay` are told on their command line
/// (which fills it in): the renderers' own settings.
#[derive(Debug, PartialEq)]
pub struct ShowOptions {
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

impl Default for ShowOptions {
    fn default() -> ShowOptions {
        ShowOptions {
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

/// The renderers for a run, from the show flags: the live status line when the
/// output is a terminal that takes color (and `live` is allowed), else the plain
/// report; JUnit beside either. `on_stderr`: stdout carries the event log.
/// Returns them, and whether the first is live.
pub fn for_run(show: &ShowOptions, on_stderr: bool, live: bool) -> (Vec<Box<dyn Renderer>>, bool) {
    let fd = if on_stderr { 2 } else { 1 };
    let tty = terminal::isatty(fd);
    let palette = if show.color.wanted(tty) {
        Some(show.colors.clone().unwrap_or_else(Palette::default_colors))
    } else {
        None
    };
    let style = Style {
        verbose: show.verbose,
        quiet: show.quiet,
        failure_output: show.failure_output,
        really_quiet: show.really_quiet,
        timer: show.timer,
        palette: palette.clone(),
    };
    let out: Box<dyn Write> = if on_stderr {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let mut renderers: Vec<Box<dyn Renderer>> = Vec::new();
    let is_live = live && tty && palette.is_some();
    match palette {
        Some(palette) if is_live => renderers.push(Box::new(Live::new(out, style, palette))),
        _ => renderers.push(Box::new(Plain::with_style(out, style))),
    }
    if let Some(path) = &show.junit {
        renderers.push(Box::new(Junit::new(path.clone())));
    }
    (renderers, is_live)
}

/// What the run ended of what its tests had left running (or left running
/// after it), a line each, from run_end's `left_running`.
pub fn ended_with_the_run(run_end: read::RunEnd) -> Vec<String> {
    run_end
        .left_running()
        .map(|left| {
            format!(
                "left running by {}: pid {} ({}), {}",
                left.file,
                left.pid,
                left.name,
                if left.ended {
                    "ended with the run"
                } else {
                    "still running after the run"
                }
            )
        })
        .collect()
}
