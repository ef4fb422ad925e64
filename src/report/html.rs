//! The page: one HTML5 file with its style inline and nothing fetched from
//! anywhere, readable without script. It is written as well-formed XML too
//! (every element closed, every attribute quoted), so that any XML or HTML
//! parser reads it the same. Everything taken from the log is escaped here.

use super::model::{File, Report, Run, Try};
use super::timeline;
use super::History;
use crate::event::JobResult;
use crate::render::{Palette, Role};
use std::io::{self, Write};

/// How many of the slowest files the page lists.
const SLOWEST: usize = 15;

/// `text` made safe for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML; the log keeps the bytes.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A duration as people read it: 12 ms, 1.25 s, 12.5 s, 3m 05s.
pub fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 10.0 {
        format!("{:.2} s", s)
    } else if s < 60.0 {
        format!("{:.1} s", s)
    } else {
        let whole = s.round() as u64;
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

/// The command line as one would type it again: words quoted where the
/// shell would take them apart.
fn command_line(argv: &[String]) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    };
    argv.iter()
        .map(|w| {
            if plain(w) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the page has a section on the file: it failed, or passed only
/// on a retry.
fn has_section(file: &File) -> bool {
    let last = file.last();
    last.result == JobResult::Fail || (file.failure.is_some() && last.result == JobResult::Pass)
}

/// A run's own verdict; for several (shards, or runs over time), whether
/// no file's last result failed and every run ended without a bail-out, an
/// interruption or a harness error.
fn verdict(report: &Report) -> bool {
    match report.runs.as_slice() {
        [run] => run.end.as_ref().map_or(false, |e| e.passed),
        runs => {
            report.count(JobResult::Fail) == 0
                && runs.iter().all(|r| {
                    r.end.as_ref().map_or(false, |e| {
                        e.bailed.is_none() && e.interrupted.is_none() && e.harness_error.is_none()
                    })
                })
        }
    }
}

/// Writes the whole page.
pub fn write(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let passed = verdict(report);
    let verdict = if passed { "PASS" } else { "FAIL" };
    let ids: Vec<&str> = report.runs.iter().map(|r| r.id.as_str()).collect();
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>"
    )?;
    writeln!(
        out,
        "<title>{} \u{2014} proctor {}</title>",
        verdict,
        escape(&ids.join(", "))
    )?;
    write_style(out)?;
    writeln!(out, "</head>\n<body>")?;
    writeln!(
        out,
        "<header class=\"{}\"><h1>{}</h1><p>proctor {} {}</p></header>",
        if passed { "pass" } else { "fail" },
        verdict,
        if ids.len() == 1 { "run" } else { "runs" },
        escape(&ids.join(", "))
    )?;
    writeln!(out, "<main>")?;
    write_summary(out, report)?;
    write_timelines(out, report)?;
    write_failures(out, report)?;
    write_slowest(out, report)?;
    writeln!(out, "</main>\n</body>\n</html>")
}

fn write_style(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<style>\n:root {{ --p: {}; --f: {}; --a: {}; --r: {}; --t: {}; }}",
        Palette::css(Role::Passed),
        Palette::css(Role::Failed),
        Palette::css(Role::Auditing),
        Palette::css(Role::Running),
        Palette::css(Role::ToDo)
    )?;
    out.write_all(STYLE.as_bytes())?;
    writeln!(out, "</style>")
}

const STYLE: &str = "\
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, \"Segoe UI\", \"DejaVu Sans\", sans-serif; color: #1d1f23; background: #f6f7f9; }
header { padding: 14px 32px; color: #fff; background: #2d7a2d; }
header.fail { background: #b3261e; }
header h1 { display: inline; margin: 0 16px 0 0; font-size: 26px; letter-spacing: .04em; }
header p { display: inline; margin: 0; opacity: .9; }
main { max-width: 1200px; margin: 0 auto; padding: 8px 32px 40px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 4px 20px 16px; margin: 18px 0; }
h2 { font-size: 18px; margin: 14px 0 10px; }
h3 { font-size: 15px; margin: 16px 0 6px; font-family: \"DejaVu Sans Mono\", monospace; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 3px 14px 3px 0; vertical-align: top; }
th { font-weight: 600; color: #555; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, pre, .mono { font-family: \"DejaVu Sans Mono\", Menlo, Consolas, monospace; font-size: 13px; }
pre { background: #f3f4f6; border: 1px solid #e3e5e8; border-radius: 4px; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: 6px 0; }
pre .err { color: #9c1c1c; }
.counts { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0 14px; }
.count { border-left: 10px solid; padding: 4px 12px; background: #f3f4f6; border-radius: 3px; }
.count b { font-size: 18px; margin-right: 4px; }
.count.P { border-color: var(--p); } .count.F { border-color: var(--f); }
.count.S { border-color: #b0b4ba; } .count.T { border-color: var(--t); }
.result { font-weight: 600; } .result.fail { color: #b3261e; } .result.pass { color: #2d7a2d; }
.note { color: #666; font-size: 13px; }
svg.timeline { width: 100%; height: auto; display: block; margin: 6px 0; }
svg.timeline .pass rect { fill: var(--p); } svg.timeline .fail rect { fill: var(--f); }
svg.timeline .retry rect { fill: var(--f); fill-opacity: .45; }
svg.timeline .skip rect { fill: #b0b4ba; } svg.timeline .cancelled rect { fill: var(--t); }
svg.timeline rect.audit { fill: var(--a); fill-opacity: .35; }
svg.timeline rect { stroke: #fff; stroke-width: .25; }
svg.timeline g:hover rect { stroke: #1d1f23; stroke-width: 1; }
svg.timeline text { font-size: 10px; fill: #666; }
svg.timeline text.lane { text-anchor: end; }
svg.timeline line.axis { stroke: #b0b4ba; stroke-width: .6; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 13px; color: #555; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
.legend .pass { background: var(--p); } .legend .fail { background: var(--f); }
.legend .retry { background: var(--f); opacity: .45; } .legend .skip { background: #b0b4ba; }
.legend .audit { background: var(--a); opacity: .35; }
article.file { border-top: 1px solid #e3e5e8; padding-top: 4px; }
article.file ul { margin: 4px 0; padding-left: 20px; }
svg.trend { width: 64px; height: 16px; vertical-align: middle; }
svg.trend polyline { fill: none; stroke: var(--a); stroke-width: 1.5; }
a { color: #1a5fb4; }
";

fn write_summary(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    writeln!(out, "<section id=\"summary\">\n<h2>Summary</h2>")?;
    write_counts(out, report)?;
    match report.runs.as_slice() {
        [run] => write_run_facts(out, run)?,
        runs => write_runs_table(out, runs)?,
    }
    writeln!(out, "</section>")
}

/// The files by result, in the status line's colors.
fn write_counts(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let counts = [
        ("P", "passed", report.count(JobResult::Pass)),
        ("F", "failed", report.count(JobResult::Fail)),
        ("S", "skipped", report.count(JobResult::Skip)),
        ("T", "not run", report.count(JobResult::Cancelled)),
    ];
    write!(out, "<div class=\"counts\">")?;
    write!(
        out,
        "<span class=\"count\"><b>{}</b>files</span>",
        report.files.len()
    )?;
    for (class, word, n) in counts.iter().filter(|(c, _, n)| *n > 0 || *c == "F") {
        write!(
            out,
            "<span class=\"count {}\"><b>{}</b>{}</span>",
            class, n, word
        )?;
    }
    writeln!(out, "</div>")
}

fn write_run_facts(out: &mut dyn Write, run: &Run) -> io::Result<()> {
    let mut rows: Vec<(&str, String)> = Vec::new();
    match &run.end {
        Some(end) => {
            rows.push(("Wall time", seconds(end.wall)));
            rows.push((
                "Tests",
                format!("{} run, {} failed", end.tests_run, end.tests_failed),
            ));
            rows.push(("CPU (tests)", seconds(end.cpu)));
            if end.retried > 0 {
                rows.push(("Retried", format!("{} tries", end.retried)));
            }
            for (what, text) in [
                ("Interrupted", &end.interrupted),
                ("Bailed out", &end.bailed),
                ("Harness error", &end.harness_error),
            ] {
                if let Some(text) = text {
                    rows.push((what, escape(text)));
                }
            }
        }
        None => rows.push((
            "Run end",
            "the log ends before its run did (cut short, or still running)".to_string(),
        )),
    }
    rows.push(("Slots", format!("{} (-j{})", run.slots, run.slots)));
    rows.push(("proctor", escape(&run.version)));
    rows.push(("Directory", format!("<code>{}</code>", escape(&run.cwd))));
    if let Some(argv) = &run.argv {
        rows.push((
            "Command",
            format!("<code>{}</code>", escape(&command_line(argv))),
        ));
    }
    writeln!(out, "<table class=\"facts\">")?;
    for (what, value) in rows {
        writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", what, value)?;
    }
    writeln!(out, "</table>")
}

/// Several runs: a line each.
fn write_runs_table(out: &mut dyn Write, runs: &[Run]) -> io::Result<()> {
    writeln!(
        out,
        "<table class=\"runs\">\n<tr><th>run</th><th>result</th><th>files</th><th>tests</th><th>wall</th><th>slots</th><th>command</th></tr>"
    )?;
    for run in runs {
        let (result, tests, wall) = match &run.end {
            Some(end) => (
                if end.passed { "pass" } else { "fail" },
                format!("{} run, {} failed", end.tests_run, end.tests_failed),
                seconds(end.wall),
            ),
            None => ("cut short", String::new(), String::new()),
        };
        let command = run.argv.as_deref().map(command_line).unwrap_or_default();
        writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td class=\"result {}\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            escape(&run.id),
            result,
            result,
            run.files,
            tests,
            wall,
            run.slots,
            escape(&command)
        )?;
    }
    writeln!(out, "</table>")
}

fn write_timelines(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    writeln!(out, "<section id=\"timeline\">\n<h2>Timeline</h2>")?;
    writeln!(
        out,
        "<p class=\"note\">One lane per slot, one bar per try from its launch to its end; hover over a bar for its file, click a failed one for its output.</p>"
    )?;
    let linked = |i: usize| has_section(&report.files[i]);
    for (i, run) in report.runs.iter().enumerate() {
        if report.runs.len() > 1 {
            writeln!(out, "<h3>{}</h3>", escape(&run.id))?;
        }
        timeline::write(out, report, i, &linked)?;
    }
    writeln!(
        out,
        "<div class=\"legend\"><span><i class=\"pass\"></i>passed</span><span><i class=\"fail\"></i>failed</span><span><i class=\"retry\"></i>failed, tried again</span><span><i class=\"skip\"></i>skipped</span><span><i class=\"audit\"></i>auditing (after the test exited)</span></div>"
    )?;
    writeln!(out, "</section>")
}

fn write_failures(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let sections = |result: JobResult| {
        report
            .files
            .iter()
            .enumerate()
            .filter(move |(_, f)| has_section(f) && f.last().result == result)
    };
    let failed: Vec<(usize, &File)> = sections(JobResult::Fail).collect();
    let flaky: Vec<(usize, &File)> = sections(JobResult::Pass).collect();
    for (title, id, files) in [
        ("Failed files", "failed", &failed),
        ("Passed only on a retry", "flaky", &flaky),
    ] {
        if files.is_empty() {
            continue;
        }
        writeln!(
            out,
            "<section id=\"{}\">\n<h2>{} ({})</h2>",
            id,
            title,
            files.len()
        )?;
        for (i, file) in files.iter() {
            write_file(out, report, *i, file)?;
        }
        writeln!(out, "</section>")?;
    }
    Ok(())
}

/// A failing (or flaky) file: why, which points, what they said, its output.
fn write_file(out: &mut dyn Write, report: &Report, index: usize, file: &File) -> io::Result<()> {
    let last = file.last();
    writeln!(
        out,
        "<article class=\"file\" id=\"f-{}\">\n<h3>{}</h3>",
        index,
        escape(&file.name)
    )?;
    let shown = match &file.failure {
        Some(f) => file
            .tries
            .iter()
            .find(|t| t.run == f.run && t.number == f.try_number)
            .unwrap_or(last),
        None => last,
    };
    let trend = match history(report) {
        Some(_) => format!(" {}", trend(report, file, shown.duration)),
        None => String::new(),
    };
    writeln!(out, "<p>{}{}</p>", try_line(report, shown), trend)?;
    if !shown.reasons.is_empty() {
        writeln!(out, "<ul class=\"reasons\">")?;
        for reason in &shown.reasons {
            writeln!(out, "<li>{}</li>", escape(reason))?;
        }
        writeln!(out, "</ul>")?;
    }
    if !shown.failed_tests.is_empty() {
        let numbers: Vec<String> = shown.failed_tests.iter().map(u64::to_string).collect();
        writeln!(out, "<p>Failed tests: {}</p>", numbers.join(", "))?;
    }
    match &file.failure {
        Some(failure) => {
            if !failure.points.is_empty() {
                write!(out, "<pre class=\"points\">")?;
                for point in &failure.points {
                    writeln!(out, "{}", escape(&point.line))?;
                    for line in &point.diagnostics {
                        writeln!(out, "{}", escape(line))?;
                    }
                }
                writeln!(out, "</pre>")?;
            }
            write_output(out, &failure.output)?;
        }
        None if shown.launch.is_some() => writeln!(
            out,
            "<p class=\"note\">Its output is not in this page: only the first {} failing files' is.</p>",
            super::model::FILES_WITH_OUTPUT
        )?,
        None => {}
    }
    writeln!(out, "</article>")
}

/// "fail · try 2 · 1.25 s", with the run when there are several.
fn try_line(report: &Report, t: &Try) -> String {
    let mut line = format!(
        "<span class=\"result {}\">{}</span> \u{b7} try {} \u{b7} {}",
        t.result.as_str(),
        t.result.as_str(),
        t.number,
        seconds(t.duration)
    );
    if report.runs.len() > 1 {
        line.push_str(&format!(
            " \u{b7} run <span class=\"mono\">{}</span>",
            escape(&report.runs[t.run].id)
        ));
    }
    line
}

fn write_output(out: &mut dyn Write, output: &super::model::Tail) -> io::Result<()> {
    let cut = if output.cut > 0 {
        format!(
            " \u{2014} its last {} lines; {} lines cut",
            output.lines.len(),
            output.cut
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "<details open=\"open\"><summary>Output{}</summary>",
        cut
    )?;
    write!(out, "<pre class=\"output\">")?;
    for (stderr, line) in &output.lines {
        if *stderr {
            writeln!(out, "<span class=\"err\">{}</span>", escape(line))?;
        } else {
            writeln!(out, "{}", escape(line))?;
        }
    }
    writeln!(out, "</pre>\n</details>")
}

/// The files that ran, slowest first, as many as the page lists.
fn slowest(report: &Report) -> Vec<(usize, &File)> {
    let mut ran: Vec<(usize, &File)> = report
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.last().launch.is_some())
        .collect();
    ran.sort_by(|a, b| {
        b.1.last()
            .duration
            .partial_cmp(&a.1.last().duration)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    ran.truncate(SLOWEST);
    ran
}

/// The files the page gives a trend for: the slowest, and the first of
/// those with a section (a run where all fail has as many as files).
pub fn timed_files(report: &Report) -> Vec<&str> {
    let sections = report.files.iter().filter(|f| has_section(f));
    let sections = sections.take(super::model::FILES_WITH_OUTPUT);
    slowest(report)
        .into_iter()
        .map(|(_, f)| f)
        .chain(sections)
        .map(|f| f.name.as_str())
        .collect()
}

/// The earlier runs the trends cover, if any do.
fn history(report: &Report) -> Option<&History> {
    report.history.as_ref().filter(|h| h.runs() > 0)
}

fn write_slowest(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let ran = slowest(report);
    if ran.is_empty() {
        return Ok(());
    }
    let trends = history(report).is_some() || report.runs.len() > 1;
    writeln!(out, "<section id=\"slowest\">\n<h2>Slowest files</h2>")?;
    if let Some(history) = history(report) {
        writeln!(
            out,
            "<p class=\"note\">The trend is over the last {} runs: each file's duration in the earlier runs the state directory keeps, oldest to newest, then in this one.</p>",
            history.runs() + 1
        )?;
    }
    writeln!(
        out,
        "<table>\n<tr><th>duration</th><th>result</th>{}<th>file</th></tr>",
        if trends { "<th>trend</th>" } else { "" }
    )?;
    for (i, file) in ran {
        let last = file.last();
        let name = if has_section(file) {
            format!("<a href=\"#f-{}\">{}</a>", i, escape(&file.name))
        } else {
            escape(&file.name)
        };
        let trend = if trends {
            format!("<td>{}</td>", trend(report, file, last.duration))
        } else {
            String::new()
        };
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"result {}\">{}</td>{}<td class=\"mono\">{}</td></tr>",
            seconds(last.duration),
            last.result.as_str(),
            last.result.as_str(),
            trend,
            name
        )?;
    }
    writeln!(out, "</table>\n</section>")
}

/// A file's duration over the runs, as a small line: over the state
/// directory's earlier runs and this one's `duration`, or, for a page of
/// several logs, over their runs.
fn trend(report: &Report, file: &File, duration: f64) -> String {
    match history(report) {
        Some(history) => {
            let mut durations: Vec<(usize, f64)> = history
                .of(&file.name)
                .enumerate()
                .filter_map(|(run, d)| d.map(|d| (run, d)))
                .collect();
            durations.push((history.runs(), duration));
            let mut title: Vec<String> = durations.iter().map(|d| seconds(d.1)).collect();
            if let Some(this) = title.last_mut() {
                this.push_str(" (this run)");
            }
            sparkline(&durations, history.runs() + 1, &title)
        }
        None => {
            let durations: Vec<(usize, f64)> = (0..report.runs.len())
                .filter_map(|run| {
                    file.tries
                        .iter()
                        .rev()
                        .find(|t| t.run == run && t.launch.is_some())
                        .map(|t| (run, t.duration))
                })
                .collect();
            let title: Vec<String> = durations.iter().map(|d| seconds(d.1)).collect();
            sparkline(&durations, report.runs.len(), &title)
        }
    }
}

/// Durations at their runs' places among `runs`, as a line 64 by 16 with
/// `title` as its hover text; nothing for fewer than two.
fn sparkline(durations: &[(usize, f64)], runs: usize, title: &[String]) -> String {
    if durations.len() < 2 {
        return String::new();
    }
    let most = durations.iter().map(|d| d.1).fold(0.0, f64::max).max(1e-6);
    let step = 60.0 / (runs - 1).max(1) as f64;
    let points: Vec<String> = durations
        .iter()
        .map(|(run, d)| {
            format!(
                "{:.1},{:.1}",
                2.0 + *run as f64 * step,
                14.0 - d / most * 12.0
            )
        })
        .collect();
    format!(
        "<svg class=\"trend\" viewBox=\"0 0 64 16\"><title>{}</title><polyline points=\"{}\"/></svg>",
        escape(&title.join(", ")),
        points.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{1b}[31m"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;\u{fffd}[31m"
        );
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(seconds(0.0123), "12 ms");
        assert_eq!(seconds(1.254), "1.25 s");
        assert_eq!(seconds(12.54), "12.5 s");
        assert_eq!(seconds(185.0), "3m 05s");
    }

    #[test]
    fn a_command_line_is_quoted_where_the_shell_needs_it() {
        let argv: Vec<String> = ["proctor", "test", "--exec", "perl -w", "it's.t"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            command_line(&argv),
            "proctor test --exec 'perl -w' 'it'\\''s.t'"
        );
    }
}
