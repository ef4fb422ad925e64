//! A run's timeline as inline SVG: a lane per slot, a bar per try from its
//! launch to its end, the part after the test exited (auditing) lighter, each
//! bar named in a `<title>` (hover text without script) and, for a file the
//! page tells more of, a link to its section.
//!
//! The log does not say which slot ran a try, so lanes are given greedily
//! by launch time: a try takes the first lane free when it launched.

use super::html::{escape, seconds};
use super::model::{Report, Try};
use crate::event::JobResult;
use std::io::{self, Write};

/// The drawing's width in its own units; the page scales it to fit.
const WIDTH: f64 = 1000.0;
/// Room on the left for the lanes' numbers.
const LEFT: f64 = 28.0;
/// A lane's height: on a page of usual width about 20 pixels, a bar
/// easy to point at.
const LANE: f64 = 18.0;
const GAP: f64 = 3.0;
/// Room below the lanes for the time axis.
const AXIS: f64 = 18.0;

/// One bar: a try, where it is drawn, and the file it belongs to.
struct Bar<'a> {
    file: usize,
    name: &'a str,
    attempt: &'a Try,
    launch: f64,
    lane: usize,
}

/// Writes the timeline of run `run`; `linked(file)` says whether the page has
/// a section for that file. Writes nothing for a run no try of which launched.
pub fn write(
    out: &mut dyn Write,
    report: &Report,
    run: usize,
    linked: &dyn Fn(usize) -> bool,
) -> io::Result<()> {
    let mut bars: Vec<Bar> = Vec::new();
    for (i, file) in report.files.iter().enumerate() {
        for attempt in file.tries.iter().filter(|t| t.run == run) {
            if let Some(launch) = attempt.launch {
                bars.push(Bar {
                    file: i,
                    name: &file.name,
                    attempt,
                    launch,
                    lane: 0,
                });
            }
        }
    }
    if bars.is_empty() {
        return Ok(());
    }
    let lanes = assign_lanes(&mut bars);
    let span = bars
        .iter()
        .map(|b| b.attempt.end.max(b.launch))
        .fold(0.0, f64::max)
        .max(0.001);
    let scale = (WIDTH - LEFT) / span;
    let height = lanes as f64 * (LANE + GAP) + AXIS;
    writeln!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"timeline: one lane per slot, one bar per try\">",
        WIDTH, height
    )?;
    for lane in 0..lanes {
        let y = lane as f64 * (LANE + GAP);
        writeln!(
            out,
            "<text class=\"lane\" x=\"{}\" y=\"{:.1}\">{}</text>",
            LEFT - 6.0,
            // Its number in the middle of the lane (10-unit text).
            y + LANE / 2.0 + 3.5,
            lane + 1
        )?;
    }
    for bar in &bars {
        write_bar(out, bar, scale, linked(bar.file))?;
    }
    write_axis(out, span, scale, lanes as f64 * (LANE + GAP))?;
    writeln!(out, "</svg>")
}

/// Gives each bar the first lane whose last bar ended by its launch; returns
/// how many lanes that took.
fn assign_lanes(bars: &mut [Bar]) -> usize {
    bars.sort_by(|a, b| {
        a.launch
            .partial_cmp(&b.launch)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut free_at: Vec<f64> = Vec::new();
    for bar in bars.iter_mut() {
        let lane = free_at.iter().position(|&end| end <= bar.launch);
        let lane = lane.unwrap_or_else(|| {
            free_at.push(0.0);
            free_at.len() - 1
        });
        free_at[lane] = bar.attempt.end.max(bar.launch);
        bar.lane = lane;
    }
    free_at.len()
}

/// The CSS class of a try's bar: how it ended.
fn class(attempt: &Try) -> &'static str {
    match (attempt.result, attempt.will_retry) {
        (JobResult::Fail, true) => "retry",
        (JobResult::Fail, false) => "fail",
        (JobResult::Skip, _) => "skip",
        (JobResult::Cancelled, _) => "cancelled",
        (JobResult::Pass, _) => "pass",
    }
}

/// What a try's bar says on hover: file — duration — result (try N).
fn title(bar: &Bar) -> String {
    let t = bar.attempt;
    let mut result = t.result.as_str().to_string();
    if t.will_retry {
        result.push_str(", tried again");
    } else if t.flaky {
        result.push_str(", flaky");
    }
    format!(
        "{} \u{2014} {} \u{2014} {} (try {})",
        bar.name,
        seconds(t.duration),
        result,
        t.number
    )
}

fn write_bar(out: &mut dyn Write, bar: &Bar, scale: f64, linked: bool) -> io::Result<()> {
    let t = bar.attempt;
    let x = LEFT + bar.launch * scale;
    let end = LEFT + t.end.max(bar.launch) * scale;
    // The auditing part starts where the test exited.
    let exit = t.exit.map_or(end, |e| (LEFT + e * scale).min(end).max(x));
    let y = bar.lane as f64 * (LANE + GAP);
    if linked {
        write!(out, "<a href=\"#f-{}\">", bar.file)?;
    }
    write!(
        out,
        "<g class=\"{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\"/>",
        class(t),
        escape(&title(bar)),
        x,
        y,
        // A try too short to see still shows as a sliver.
        (exit - x).max(0.6),
        LANE
    )?;
    if end - exit >= 0.1 {
        write!(
            out,
            "<rect class=\"audit\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\"/>",
            exit,
            y,
            end - exit,
            LANE
        )?;
    }
    write!(out, "</g>")?;
    if linked {
        write!(out, "</a>")?;
    }
    writeln!(out)
}

/// A tick every round step (1, 2 or 5 times a power of ten), about eight in all.
fn write_axis(out: &mut dyn Write, span: f64, scale: f64, top: f64) -> io::Result<()> {
    let step = tick_step(span);
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\"/>",
        LEFT, top, WIDTH, top
    )?;
    let mut n = 0;
    loop {
        let at = step * n as f64;
        if at > span * 1.0001 {
            break;
        }
        let x = LEFT + at * scale;
        let anchor = if n == 0 { "start" } else { "middle" };
        writeln!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
            x,
            top + AXIS - 4.0,
            anchor,
            tick_label(at, step)
        )?;
        n += 1;
    }
    Ok(())
}

fn tick_step(span: f64) -> f64 {
    let rough = span / 8.0;
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * power)
}

/// A tick's time, with as many decimals as its step needs.
fn tick_label(at: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{}s", at.round())
    } else {
        let decimals = (-step.log10()).ceil() as usize;
        format!("{:.*}s", decimals, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_round_steps() {
        assert_eq!(tick_step(10.0), 2.0);
        assert_eq!(tick_step(0.008), 0.001);
        assert_eq!(tick_label(0.004, 0.001), "0.004s");
        assert_eq!(tick_label(40.0, 10.0), "40s");
    }

    fn try_at(launch: f64, end: f64) -> Try {
        Try {
            run: 0,
            number: 1,
            launch: Some(launch),
            exit: None,
            end,
            result: JobResult::Pass,
            will_retry: false,
            flaky: false,
            duration: end - launch,
            reasons: Vec::new(),
            failed_tests: Vec::new(),
        }
    }

    #[test]
    fn a_bar_is_about_twenty_pixels_high_on_a_page_of_usual_width() {
        let bar = Bar {
            file: 0,
            name: "t",
            attempt: &try_at(0.0, 1.0),
            launch: 0.0,
            lane: 0,
        };
        let mut svg = Vec::new();
        write_bar(&mut svg, &bar, 100.0, false).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        let height = svg.split("height=\"").nth(1).unwrap().split('"').next();
        let height: f64 = height.unwrap().parse().unwrap();
        // The page is about 1100 pixels wide, the drawing 1000 units.
        assert!((16.0..=20.0).contains(&height), "{}", svg);
    }

    #[test]
    fn a_try_takes_the_first_lane_free_at_its_launch() {
        let tries = [
            try_at(0.0, 2.0),
            try_at(0.0, 1.0),
            try_at(1.0, 3.0),
            try_at(2.5, 3.0),
        ];
        let mut bars: Vec<Bar> = tries
            .iter()
            .map(|t| Bar {
                file: 0,
                name: "t",
                attempt: t,
                launch: t.launch.unwrap(),
                lane: 9,
            })
            .collect();
        assert_eq!(assign_lanes(&mut bars), 2);
        let lanes: Vec<usize> = bars.iter().map(|b| b.lane).collect();
        assert_eq!(lanes, [0, 1, 1, 0]);
    }
}
