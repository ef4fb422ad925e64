//! `proctor report`'s page: a run (or several) as one self-contained HTML
//! file to look at: the summary, a timeline of the slots, the slowest files,
//! and each failing file with its reasons and output. [`model`] gathers what
//! the page needs from the log in one pass (and holds no passing file's
//! output), [`history`] the durations of its files in earlier runs, [`html`]
//! writes the page, [`timeline`] its SVG picture. Nothing
//! here reads files or knows where the page goes: commands::report does.

mod history;
mod html;
mod model;
mod timeline;

pub use history::History;
pub use model::Report;

use std::io::{self, Write};

impl Report {
    /// Writes the page.
    pub fn write_html(&self, out: &mut dyn Write) -> io::Result<()> {
        html::write(out, self)
    }

    /// The id of the last run read, which names the page by default.
    pub fn last_id(&self) -> Option<&str> {
        self.runs.last().map(|r| r.id.as_str())
    }

    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// The files the page gives a trend for: the slowest, and the first failing.
    pub fn timed_files(&self) -> Vec<&str> {
        html::timed_files(self)
    }

    /// When the run started (the first, of several).
    pub fn start(&self) -> Option<f64> {
        self.runs.first().map(|r| r.start)
    }

    /// The earlier runs, for the trend of each timed file.
    pub fn set_history(&mut self, history: History) {
        self.history = Some(history);
    }
}
