//! The live renderer, for a terminal: the report of [`Plain`] scrolls above a
//! status line that always stays at the bottom, redrawn at most ten times a
//! second and only when something changed, and replaced by the summary at the
//! end. Keys show the running jobs, the failures so far, or the keys themselves.

use super::palette::Palette;
use super::plain::{Plain, Style};
use super::status::Status;
use super::Renderer;
use crate::event::{Event, Interest, JobResult, Kind};
use std::io::{self, Write};
use std::time::{Duration, Instant};
use termion::clear;

const REDRAW_EVERY: Duration = Duration::from_millis(100);

pub const KEYS_HELP: &str = "keys: s running jobs, f failures so far, v verbose on/off, p pause/resume, q stop, ? this help";

pub struct Live<W: Write> {
    report: Plain<Vec<u8>>,
    out: W,
    palette: Palette,
    status: Status,
    failures: Vec<String>,
    paused: bool,
    /// The status line is on the screen (so text must clear it first).
    shown: bool,
    dirty: bool,
    last_draw: Option<Instant>,
    last_second: u64,
    finished: bool,
    width: usize,
}

impl<W: Write> Live<W> {
    pub fn new(out: W, style: Style, palette: Palette) -> Live<W> {
        let style = Style {
            palette: Some(palette.clone()),
            ..style
        };
        Live {
            report: Plain::with_style(Vec::new(), style),
            out,
            palette,
            status: Status::default(),
            failures: Vec::new(),
            paused: false,
            shown: false,
            dirty: true,
            last_draw: None,
            last_second: 0,
            finished: false,
            width: terminal_width(),
        }
    }

    /// Writes text above the status line.
    fn text(&mut self, text: &[u8]) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.clear_status()?;
        self.out.write_all(text)?;
        self.dirty = true;
        Ok(())
    }

    fn clear_status(&mut self) -> io::Result<()> {
        if self.shown {
            write!(self.out, "\r{}", clear::CurrentLine)?;
            self.shown = false;
        }
        Ok(())
    }

    /// Moves what the report wrote to the screen.
    fn flush_report(&mut self) -> io::Result<()> {
        let text = std::mem::take(self.report.output());
        self.text(&text)?;
        *self.report.output() = text;
        self.report.output().clear();
        Ok(())
    }

    fn draw(&mut self, force: bool) -> io::Result<()> {
        if self.finished {
            return self.out.flush();
        }
        let now = crate::sys::unix_now();
        let second = now as u64;
        let due = self.last_draw.map_or(true, |t| t.elapsed() >= REDRAW_EVERY);
        if force || (due && (self.dirty || second != self.last_second)) {
            let line = self
                .status
                .line(&self.palette, now, self.paused, self.width);
            write!(self.out, "\r{}{}", clear::CurrentLine, line)?;
            self.shown = true;
            self.dirty = false;
            self.last_draw = Some(Instant::now());
            self.last_second = second;
        }
        self.out.flush()
    }

    /// The files that failed, and the running ones that have failed a test
    /// point already.
    fn failures_so_far(&self) -> String {
        let mut lines = self.failures.clone();
        for a in self.status.active.values().filter(|a| a.failed_points > 0) {
            lines.push(format!(
                "  {} (still running, {} failed so far): {}",
                a.file,
                a.failed_points,
                a.first_failure.as_deref().unwrap_or("")
            ));
        }
        if lines.is_empty() {
            "failures so far: none\n".to_string()
        } else {
            format!("failures so far:\n{}\n", lines.join("\n"))
        }
    }

    fn running_jobs(&mut self) -> String {
        let now = crate::sys::unix_now();
        let mut s = String::from("running jobs:\n");
        if self.status.active.is_empty() {
            s.push_str("  (none)\n");
        }
        for ((job, tries), a) in &self.status.active {
            let mut record = Event::new(&a.last_line);
            let last = record.str("line").unwrap_or("").to_string();
            let state = if a.exited { " (auditing)" } else { "" };
            s.push_str(&format!(
                "  {}-{} pid {} {:.1}s {}{}: {}\n",
                job,
                tries,
                a.pid,
                (now - a.started).max(0.0),
                a.file,
                state,
                last
            ));
        }
        s
    }
}

impl<W: Write> Renderer for Live<W> {
    fn interest(&self) -> Interest {
        // What the status line counts, and every line, always, undecoded
        // unless the report wants it: the `s` key shows each running job's
        // last line, and `v` turns verbose output on in the middle of a run.
        let own = Interest::of(&[
            Kind::RunStart,
            Kind::JobQueued,
            Kind::JobLaunch,
            Kind::JobStart,
            Kind::TestExit,
            Kind::JobRequeued,
            Kind::JobEnd,
            Kind::RunEnd,
        ]);
        self.report
            .interest()
            .union(own)
            .union(Interest::of(&Kind::LINES))
    }

    fn event(&mut self, event: &mut Event) -> io::Result<()> {
        let kind = event.kind();
        if self.status.event(event) {
            self.dirty = true;
        }
        if kind == Kind::JobEnd {
            let end = event.job_end();
            // A try that will be retried is not a failure yet (it is back in T).
            if end.result() == JobResult::Fail && !end.will_retry() {
                let reasons: Vec<&str> = end.reasons().collect();
                let file = end.file().unwrap_or("?");
                self.failures
                    .push(format!("  {}: {}", file, reasons.join("; ")));
            }
        }
        if self.report.interest().contains(kind) {
            self.report.event(event)?;
        }
        if kind == Kind::RunEnd {
            // The summary replaces the status line for good.
            self.clear_status()?;
            self.finished = true;
        }
        self.flush_report()?;
        self.draw(false)
    }

    fn replays_offered(&mut self) {
        self.report.replays_offered();
    }

    fn wants_replay(&mut self, end: &mut Event) -> Option<Interest> {
        self.report.wants_replay(end)
    }

    fn replayed(&mut self, event: &mut Event) -> io::Result<()> {
        self.report.replayed(event)?;
        self.flush_report()
    }

    fn replay_end(&mut self) -> io::Result<()> {
        self.report.replay_end()?;
        self.flush_report()?;
        self.draw(false)
    }

    fn finish(&mut self, complete: bool) -> io::Result<()> {
        self.report.finish(complete)?;
        self.clear_status()?;
        self.finished = true;
        self.flush_report()?;
        self.out.flush()
    }

    fn tick(&mut self) -> io::Result<()> {
        self.draw(false)
    }

    fn key(&mut self, key: char, paused: bool) -> io::Result<()> {
        self.paused = paused;
        let text = match key {
            's' => self.running_jobs(),
            'f' => self.failures_so_far(),
            'v' => {
                let style = self.report.style_mut();
                style.verbose = !style.verbose;
                format!("verbose {}\n", if style.verbose { "on" } else { "off" })
            }
            'q' => "stopping: no new tests start; running ones are stopped\n".to_string(),
            '?' => format!("{}\n", KEYS_HELP),
            // Ctrl-L: a clean screen with the status line on it.
            '\u{c}' => {
                write!(self.out, "{}{}", clear::All, termion::cursor::Goto(1, 1))?;
                self.shown = false;
                String::new()
            }
            _ => String::new(),
        };
        self.text(text.as_bytes())?;
        self.draw(true)
    }

    fn suspend(&mut self) -> io::Result<()> {
        self.clear_status()?;
        self.out.flush()
    }

    fn redraw(&mut self) -> io::Result<()> {
        self.width = terminal_width();
        self.draw(true)
    }
}

fn terminal_width() -> usize {
    termion::terminal_size()
        .map(|(cols, _)| cols as usize)
        .unwrap_or(80)
        .max(20)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands `live` each record, and says which of them it decoded.
    fn decoded_of(live: &mut Live<Vec<u8>>, records: &[&str]) -> Vec<String> {
        let mut decoded = Vec::new();
        for record in records {
            let mut event = Event::new(record.as_bytes());
            if live.interest().contains(event.kind()) {
                live.event(&mut event).unwrap();
            }
            if event.decoded() {
                decoded.push(record.to_string());
            }
        }
        decoded
    }

    const LAUNCH: &str = r##"{"type":"job_launch","job":1,"try":1,"file":"t/a.t","stamp":1.0}"##;
    /// Lines that change no count and are no failure's diagnostics.
    const CHATTER: [&str; 7] = [
        r##"{"type":"version","job":1,"try":1,"line":"TAP version 14","version":14}"##,
        r##"{"type":"plan","job":1,"try":1,"line":"1..2","start":1,"end":2}"##,
        r##"{"type":"comment","job":1,"try":1,"line":"# hello"}"##,
        r##"{"type":"output","job":1,"try":1,"line":"some text"}"##,
        r##"{"type":"assert","job":1,"try":1,"ok":true,"number":1,"line":"ok 1"}"##,
        r##"{"type":"yaml","job":1,"try":1,"line":"  ---"}"##,
        r##"{"type":"blank","job":1,"try":1,"line":""}"##,
    ];

    #[test]
    fn the_status_line_alone_decodes_no_line() {
        let style = Style {
            really_quiet: true,
            ..Style::default()
        };
        let mut live = Live::new(Vec::new(), style, Palette::default_colors());
        let mut records = vec![LAUNCH];
        records.extend_from_slice(&CHATTER);
        records.push(r##"{"type":"output","job":1,"try":1,"stream":"stderr","line":"oops"}"##);
        let decoded = decoded_of(&mut live, &records);
        assert_eq!(decoded, [LAUNCH], "only the launch (its file and start)");
    }

    #[test]
    fn the_report_decodes_comments_and_yaml_only_after_a_failure() {
        let mut live = Live::new(Vec::new(), Style::default(), Palette::default_colors());
        let mut records = vec![LAUNCH];
        records.extend_from_slice(&CHATTER);
        let decoded = decoded_of(&mut live, &records);
        // Its output may be stderr, which a passing file shows.
        assert_eq!(decoded, [LAUNCH, CHATTER[3]]);
        let failed =
            r##"{"type":"assert","job":1,"try":1,"ok":false,"number":2,"line":"not ok 2"}"##;
        let diagnostic = r##"{"type":"comment","job":1,"try":1,"line":"#   Failed test"}"##;
        assert_eq!(
            decoded_of(&mut live, &[failed, diagnostic]),
            [failed, diagnostic]
        );
    }
}
