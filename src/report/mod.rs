//! `proctor report`'s page: a run (or several) as one self-contained HTML
//! file to look at: the summary, a timeline of the slots, the slowest files,
//! and each failing file with its reasons and output. [`model`] gathers what
//! the page needs from the log in one pass (and holds no passing file's
//! output), [`html`] writes the page, [`timeline`] its SVG picture. Nothing
//! here reads files or knows where the page goes: commands::report does.

mod html;
mod model;
mod timeline;

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
}
