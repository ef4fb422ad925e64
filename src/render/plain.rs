//! The plain renderer, for when output is not a terminal (CI, pipes): close to
//! prove's. One line per finished file, the details of each failure under it, and
//! a summary ending with `Files: N passed, N failed, N skipped`.

use super::Renderer;
use crate::event::{Event, Interest, Kind};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, Write};

/// How many lines of detail are kept per failing job; the rest are counted.
const DETAIL_LINES: usize = 40;

#[derive(Default)]
struct Detail {
    lines: Vec<String>,
    dropped: u64,
}

impl Detail {
    fn push(&mut self, line: String) {
        if self.lines.len() < DETAIL_LINES {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }
}

struct Failure {
    file: String,
    counts: String,
    reasons: Vec<String>,
}

pub struct Plain<W: Write> {
    out: W,
    width: usize,
    details: HashMap<(u64, u32), Detail>,
    failures: Vec<Failure>,
    exits: HashMap<(u64, u32), String>,
    stopped: Option<String>,
}

impl<W: Write> Plain<W> {
    pub fn new(out: W) -> Plain<W> {
        Plain {
            out,
            width: 0,
            details: HashMap::new(),
            failures: Vec::new(),
            exits: HashMap::new(),
            stopped: None,
        }
    }

    /// Keeps a line of a job's output to show if the job fails.
    fn keep_line(&mut self, event: &mut Event) {
        let line = event.str("line").unwrap_or("");
        if line.trim().is_empty() {
            return;
        }
        let line = line.to_string();
        if let Some(job) = event.job() {
            self.details.entry(job).or_default().push(line);
        }
    }

    fn job_end(&mut self, event: &mut Event) -> io::Result<()> {
        let job = event.job();
        let value = event.value();
        let file = value["file"].as_str().unwrap_or("?").to_string();
        let result = value["result"].as_str().unwrap_or("fail");
        let reasons: Vec<String> = value["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let notes: Vec<String> = value["notes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let counts = &value["counts"];
        let run = counts["run"].as_u64().unwrap_or(0);
        let failed = counts["failed"].as_u64().unwrap_or(0);
        let status = match result {
            "pass" => "ok".to_string(),
            "skip" => reasons.first().cloned().unwrap_or_else(|| "skipped".to_string()),
            "cancelled" => format!(
                "not run ({})",
                reasons
                    .first()
                    .map_or("", |r| r.trim_start_matches("not run: "))
            ),
            _ if failed > 0 => format!("Failed {}/{} subtests", failed, run),
            _ => format!("Failed: {}", reasons.first().map_or("", |r| r.as_str())),
        };
        let dots = ".".repeat(2 + self.width.saturating_sub(file.chars().count()));
        writeln!(self.out, "{} {} {}", file, dots, status)?;
        for note in &notes {
            writeln!(self.out, "    {}", note)?;
        }
        let detail = job.and_then(|j| self.details.remove(&j));
        if result == "fail" {
            if let Some(detail) = detail {
                for line in &detail.lines {
                    writeln!(self.out, "    {}", line)?;
                }
                if detail.dropped > 0 {
                    writeln!(
                        self.out,
                        "    ... {} more lines (see the event log)",
                        detail.dropped
                    )?;
                }
            }
            // The first reason is already on the file's line when nothing failed.
            let shown = if failed == 0 { 1 } else { 0 };
            for reason in reasons.iter().skip(shown) {
                writeln!(self.out, "    {}", reason)?;
            }
            let exit = job.and_then(|j| self.exits.remove(&j)).unwrap_or_default();
            let counts = format!("Tests: {} Failed: {}{}", run, failed, exit);
            self.failures.push(Failure {
                file,
                counts,
                reasons,
            });
        } else if let Some(j) = job {
            self.exits.remove(&j);
        }
        Ok(())
    }

    fn summary(&mut self, event: &mut Event) -> io::Result<()> {
        let v = event.value().clone();
        if !self.failures.is_empty() {
            writeln!(self.out, "\nTest Summary Report\n-------------------")?;
            for f in &self.failures {
                writeln!(self.out, "{} ({})", f.file, f.counts)?;
                for r in &f.reasons {
                    writeln!(self.out, "  {}", r)?;
                }
            }
        }
        if let Some(bail) = v.get("bailed").filter(|b| !b.is_null()) {
            writeln!(
                self.out,
                "Bailed out in {}: {}",
                bail["file"].as_str().unwrap_or("?"),
                bail["reason"].as_str().unwrap_or("")
            )?;
        }
        if let Some(why) = v["interrupted"].as_str() {
            writeln!(self.out, "Interrupted by {}", why)?;
        } else if let Some(why) = &self.stopped {
            if v.get("bailed").map_or(true, |b| b.is_null()) {
                writeln!(self.out, "Stopped: {}", why)?;
            }
        }
        let files = &v["files"];
        let n = |x: &Value| x.as_u64().unwrap_or(0);
        let user = v["user"].as_f64().unwrap_or(0.0);
        let system = v["system"].as_f64().unwrap_or(0.0);
        writeln!(
            self.out,
            "Files={}, Tests={}, {:.2} wallclock secs ({:.2} cusr {:.2} csys = {:.2} CPU)",
            n(&files["total"]),
            n(&v["tests"]["run"]),
            v["wall"].as_f64().unwrap_or(0.0),
            user,
            system,
            user + system
        )?;
        if n(&files["cancelled"]) > 0 {
            writeln!(self.out, "Not run: {} files", n(&files["cancelled"]))?;
        }
        let result = if n(&files["total"]) == 0 {
            "NOTESTS"
        } else if v["result"] == "pass" {
            "PASS"
        } else {
            "FAIL"
        };
        writeln!(self.out, "Result: {}", result)?;
        writeln!(
            self.out,
            "Files: {} passed, {} failed, {} skipped",
            n(&files["passed"]),
            n(&files["failed"]),
            n(&files["skipped"])
        )?;
        self.out.flush()
    }
}

impl<W: Write> Renderer for Plain<W> {
    fn interest(&self) -> Interest {
        Interest::of(&[
            Kind::JobQueued,
            Kind::Assert,
            Kind::Output,
            Kind::Bail,
            Kind::JobExit,
            Kind::JobEnd,
            Kind::RunEnd,
            Kind::Other,
        ])
    }

    fn event(&mut self, event: &mut Event) -> io::Result<()> {
        match event.kind() {
            Kind::JobQueued => {
                let len = event.str("file").map_or(0, |f| f.chars().count());
                self.width = self.width.max(len);
            }
            // Passing points are told by their bytes, without decoding.
            Kind::Assert
                if failed_assert(event.raw()) && event.str("directive") != Some("todo") =>
            {
                self.keep_line(event)
            }
            Kind::Output if event.str("stream") == Some("stderr") => self.keep_line(event),
            Kind::Bail => self.keep_line(event),
            Kind::JobExit => {
                if let Some(job) = event.job() {
                    let v = event.value();
                    let exit = match (v["status"].as_u64(), v["signal_name"].as_str()) {
                        (Some(s), _) if s != 0 => format!(" Exit: {}", s),
                        (_, Some(sig)) => format!(" Signal: {}", sig),
                        _ => String::new(),
                    };
                    self.exits.insert(job, exit);
                }
            }
            Kind::JobEnd => self.job_end(event)?,
            Kind::RunEnd => self.summary(event)?,
            Kind::Other if event.raw().starts_with(b"{\"type\":\"runner_stop\"") => {
                self.stopped = event.str("reason").map(String::from);
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, complete: bool) -> io::Result<()> {
        if !complete {
            writeln!(
                self.out,
                "(the log ends without run_end: the run is still going, or was killed)"
            )?;
        }
        self.out.flush()
    }
}

/// Whether an assert record is a failure, from its bytes: the `"ok"` field comes
/// right after the type and the job ids.
fn failed_assert(raw: &[u8]) -> bool {
    let head = &raw[..raw.len().min(64)];
    head.windows(11).any(|w| w == b",\"ok\":false")
}
