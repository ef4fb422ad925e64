//! `proctor report`: the HTML page of a run, as golden files for the logs in
//! tests/data/ (PROCTOR_UPDATE_GOLDEN=1 writes them anew), read by a real
//! parser, and made from real runs.

use crate::common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The page of `logs`, from `proctor report --html -`.
fn page(p: &Project, logs: &[&Path]) -> String {
    let mut args = vec!["report", "--html", "-"];
    args.extend(logs.iter().map(|l| l.to_str().unwrap()));
    let run = p.proctor(&args);
    run.expect_status(0);
    run.stdout()
}

#[test]
fn the_page_of_the_mixed_log() {
    let p = Project::new();
    let got = page(&p, &[&data("mixed.jsonl")]);
    let golden = data("mixed.report.html");
    if std::env::var_os("PROCTOR_UPDATE_GOLDEN").is_some() {
        fs::write(&golden, &got).unwrap();
    }
    let want = fs::read_to_string(&golden).unwrap();
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} of mixed.report.html differs", i + 1);
    }
    assert_eq!(got, want, "mixed.report.html differs in its length");
}

/// Checks the page with xmllint as XML (every element closed, every
/// attribute quoted and escaped) and as HTML, where libxml2's HTML 4 parser
/// knows no HTML5 or SVG element names: it may say that of those, nothing else.
fn parses(html: &str) {
    let p = Project::new();
    let file = p.dir.join("page.html");
    fs::write(&file, html).unwrap();
    let xml = match Command::new("xmllint").arg("--noout").arg(&file).output() {
        Ok(out) => out,
        Err(_) => {
            eprintln!("note: xmllint is not installed; the page is not parsed");
            return;
        }
    };
    assert!(
        xml.status.success() && xml.stderr.is_empty(),
        "not well-formed:\n{}",
        String::from_utf8_lossy(&xml.stderr)
    );
    let html = Command::new("xmllint")
        .args(["--html", "--noout"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&html.stderr);
    let unknown_tag = |line: &str| {
        let tags = [
            "header", "main", "section", "article", "details", "summary", "svg", "g", "rect",
            "line", "polyline", "text",
        ];
        tags.iter()
            .any(|t| line.contains(&format!("Tag {} invalid", t)))
    };
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("error") && !unknown_tag(l))
        .collect();
    assert!(errors.is_empty(), "HTML errors:\n{}", stderr);
}

#[test]
fn the_page_parses_as_html_and_as_xml() {
    let p = Project::new();
    parses(&page(&p, &[&data("mixed.jsonl")]));
}

#[test]
fn a_real_run_then_its_report() {
    let p = Project::new();
    p.script(
        "t/bad.t",
        "#!/bin/sh\necho 1..2\necho ok 1\necho 'not ok 2 - <sums> & more'\necho '# got: 3' >&2\necho FAILING-OUTPUT-MARK\nexit 1\n",
    );
    p.script(
        "t/good.t",
        "#!/bin/sh\necho 1..1\necho ok 1\necho PASSING-OUTPUT-MARK\n",
    );
    p.proctor(&["test", "--exec", "", "-j2", "t"])
        .expect_status(1);
    // A page whose run's log the state directory no longer keeps goes.
    let stale = p.state().join("reports/19990101-000000-1.html");
    fs::create_dir_all(stale.parent().unwrap()).unwrap();
    fs::write(&stale, "").unwrap();
    let run = p.proctor(&["report"]);
    run.expect_status(0);
    let path = PathBuf::from(run.stdout().trim_end());
    assert!(
        path.starts_with(p.state().join("reports")) && path.extension().unwrap() == "html",
        "{}",
        path.display()
    );
    assert!(!stale.exists());
    let html = fs::read_to_string(&path).unwrap();
    assert!(html.contains("FAILING-OUTPUT-MARK"), "{}", html);
    assert!(!html.contains("PASSING-OUTPUT-MARK"), "{}", html);
    assert!(
        html.contains("not ok 2 - &lt;sums&gt; &amp; more"),
        "{}",
        html
    );
    assert!(html.contains("# got: 3"), "{}", html);
    // The command line, from run_start's argv.
    assert!(
        html.contains(" test --exec &#39;&#39; -j2 t</code>"),
        "{}",
        html
    );
    // Two lanes, a bar in each with its hover text; the failed one linked.
    assert!(html.contains("<title>t/good.t \u{2014} "), "{}", html);
    assert!(html.contains("<a href=\"#f-"), "{}", html);
    for outside in ["http://", "https://", "src=", "url("] {
        assert!(!html.contains(outside), "{} in the page", outside);
    }
    parses(&html);
}

#[test]
fn several_logs_make_one_page_with_a_file_last_result() {
    let p = Project::new();
    p.script(
        "t/a.t",
        "#!/bin/sh\necho 1..1\n[ -e flag ] && echo ok 1 || echo not ok 1\n",
    );
    p.proctor(&["test", "--exec", "", "--log", "one.jsonl", "t"])
        .expect_status(1);
    fs::write(p.dir.join("flag"), "").unwrap();
    p.proctor(&["test", "--exec", "", "--log", "two.jsonl", "t"])
        .expect_status(0);
    let html = page(&p, &[&p.dir.join("one.jsonl"), &p.dir.join("two.jsonl")]);
    assert!(html.contains("<table class=\"runs\">"), "{}", html);
    assert_eq!(
        html.matches("<svg class=\"timeline\"").count(),
        2,
        "{}",
        html
    );
    assert!(!html.contains("id=\"failed\""), "{}", html);
    // What failed once and passes now is no failure of the merged view.
    assert!(html.contains("<h1>PASS</h1>"), "{}", html);
    assert!(html.contains("<svg class=\"trend\""), "{}", html);
}

/// A log of `files` passing files, each with `lines` lines of output, as
/// the overlord writes one.
fn passing_log(files: usize, lines: usize) -> String {
    let mut log = String::from(
        "{\"type\":\"run_start\",\"version\":\"0.1.0\",\"id\":\"big\",\"cwd\":\"/x\",\"files\":1000,\"slots\":8,\"run_dir\":\"/r\",\"stamp\":100.0}\n",
    );
    for job in 1..=files {
        let (start, file) = (100.0 + job as f64 * 0.01, format!("t/file-{:04}.t", job));
        log.push_str(&format!(
            "{{\"type\":\"job_launch\",\"job\":{},\"try\":1,\"file\":\"{}\",\"pid\":1,\"stamp\":{:.6}}}\n",
            job, file, start
        ));
        for n in 1..=lines {
            log.push_str(&format!(
                "{{\"type\":\"assert\",\"job\":{},\"try\":1,\"line\":\"ok {} - PASSING-{}\"}}\n",
                job, n, job
            ));
        }
        log.push_str(&format!(
            "{{\"type\":\"test_exit\",\"job\":{},\"try\":1,\"stamp\":{:.6}}}\n",
            job,
            start + 0.07
        ));
        log.push_str(&format!(
            "{{\"type\":\"job_end\",\"job\":{},\"try\":1,\"file\":\"{}\",\"result\":\"pass\",\"reasons\":[],\"duration\":0.07,\"will_retry\":false,\"stamp\":{:.6}}}\n",
            job,
            file,
            start + 0.08
        ));
    }
    log.push_str("{\"type\":\"run_end\",\"result\":\"pass\",\"files\":{\"total\":1000,\"passed\":1000},\"wall\":10.1,\"stamp\":110.1}\n");
    log
}

#[test]
fn a_thousand_passing_files_make_a_small_page() {
    let p = Project::new();
    let log = p.dir.join("big.jsonl");
    fs::write(&log, passing_log(1000, 20)).unwrap();
    let html = page(&p, &[&log]);
    assert_eq!(html.matches("<g class=\"pass\">").count(), 1000);
    assert!(
        !html.contains("PASSING-"),
        "a passing file's output is in the page"
    );
    assert!(html.len() < 400 << 10, "{} bytes", html.len());
}

#[test]
fn a_bad_log_is_named_in_one_line() {
    let p = Project::new();
    fs::write(p.dir.join("notes.txt"), "hello\n").unwrap();
    for (log, why) in [
        ("notes.txt", "not a proctor event log"),
        ("absent.jsonl", "No such file"),
    ] {
        let run = p.proctor(&["report", "--html", "-", log]);
        run.expect_status(2);
        let stderr = run.stderr();
        assert_eq!(stderr.lines().count(), 1, "{}", stderr);
        assert!(stderr.contains(log) && stderr.contains(why), "{}", stderr);
        assert!(run.stdout().is_empty());
    }
}

/// A screenshot of `page` by headless chromium, 1200x900; the bytes of the PNG.
fn screenshot(p: &Project, name: &str, page: &str, profile: &Path) -> Vec<u8> {
    let html = p.dir.join(format!("{}.html", name));
    let png = p.dir.join(format!("{}.png", name));
    fs::write(&html, page).unwrap();
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args([
            "--disable-crash-reporter",
            "--disable-breakpad",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,900")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read(&png).unwrap()
}

/// The processes whose command line has `marker`.
fn pids_running(marker: &str) -> Vec<String> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if name.bytes().all(|b| b.is_ascii_digit())
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            pids.push(name);
        }
    }
    pids
}

/// The width and height a PNG's header gives.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR");
    let number = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (number(16), number(20))
}

/// Where chromium is installed (CI installs it), a screenshot of a page is
/// not blank, and differs from one of the same page with its timeline hidden.
#[test]
fn a_browser_draws_the_page_and_its_timeline() {
    if Command::new("chromium").arg("--version").output().is_err() {
        eprintln!("note: chromium is not installed; the screenshot check is skipped");
        return;
    }
    let p = Project::new();
    let profile = p.dir.join(marker("chromium-profile"));
    let html = page(&p, &[&data("mixed.jsonl")]);
    let hidden = html.replacen(
        "<style>\n",
        "<style>\nsvg.timeline { visibility: hidden; }\n",
        1,
    );
    assert_ne!(hidden, html);
    let shown = screenshot(&p, "shown", &html, &profile);
    let without = screenshot(&p, "hidden", &hidden, &profile);
    // Whatever chromium left behind (a crash handler, say) goes with the test.
    let marker = profile.to_str().unwrap().to_string();
    for _ in 0..250 {
        if pids_running(&marker).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for pid in pids_running(&marker) {
        // It may have ended since: no check.
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    assert_eq!(png_size(&shown), (1200, 900));
    // A blank page of that size compresses to a few KB.
    assert!(shown.len() > 20_000, "{} bytes", shown.len());
    assert_ne!(shown, without, "the timeline is not drawn");
}

/// The `<title>` of the trend of `file` in the slowest files, if it has one.
fn trend_of<'a>(html: &'a str, file: &str) -> Option<&'a str> {
    let slowest = &html[html.find("id=\"slowest\"")?..];
    let row = slowest
        .lines()
        .find(|l| l.contains(&format!(">{}<", file)))?;
    let title = &row[row.find("<svg class=\"trend\"")?..];
    let title = &title[title.find("<title>")? + 7..];
    Some(&title[..title.find("</title>")?])
}

/// A file that runs a little longer each time, and, beside it, one that
/// fails; `runs` runs of them.
fn slower_each_run(p: &Project, runs: usize) {
    p.script(
        "t/slower.t",
        "#!/bin/sh\nn=$(cat count 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > count\nsleep 0.$n\necho 1..1\necho ok 1\n",
    );
    p.script("t/bad.t", "#!/bin/sh\necho 1..1\necho not ok 1\n");
    for _ in 0..runs {
        p.proctor(&["test", "--exec", "", "t"]).expect_status(1);
    }
}

#[test]
fn a_run_shows_each_file_trend_over_the_earlier_runs_kept() {
    let p = Project::new();
    slower_each_run(&p, 3);
    let html = page(&p, &[]);
    assert!(html.contains("<th>trend</th>"), "{}", html);
    assert!(
        html.contains("The trend is over the last 3 runs"),
        "{}",
        html
    );
    let title = trend_of(&html, "t/slower.t").unwrap_or_else(|| panic!("no trend: {}", html));
    assert_eq!(values_in_trend(&html, "t/slower.t"), 3, "{}", title);
    assert!(title.ends_with(" (this run)"), "{}", title);
    // The failing file has its trend beside its duration.
    let failed = &html[html.find("id=\"failed\"").unwrap()..];
    assert!(failed.contains("<svg class=\"trend\""), "{}", failed);
    parses(&html);
}

/// How many values the trend of `file` has on the page.
fn values_in_trend(html: &str, file: &str) -> usize {
    trend_of(html, file).map_or(0, |title| title.split(", ").count())
}

#[test]
fn a_log_of_the_state_directory_shows_the_trend_of_the_runs_before_it() {
    let p = Project::new();
    slower_each_run(&p, 3);
    let logs = fs::read_dir(p.state().join("logs")).unwrap();
    let mut counts: Vec<usize> = logs
        .map(|log| values_in_trend(&page(&p, &[&log.unwrap().path()]), "t/slower.t"))
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [0, 2, 3]);
}

#[test]
fn a_run_with_no_earlier_logs_has_no_trend() {
    let p = Project::new();
    slower_each_run(&p, 1);
    let html = page(&p, &[]);
    assert!(html.contains("t/slower.t"), "{}", html);
    assert!(!html.contains("<th>trend</th>"), "{}", html);
    assert!(!html.contains("<svg class=\"trend\""), "{}", html);
}

#[test]
fn an_earlier_log_that_is_garbage_is_passed_over() {
    let p = Project::new();
    slower_each_run(&p, 1);
    let logs = p.state().join("logs");
    // Named as the oldest, and as a newer one; one starts as a log would.
    fs::write(logs.join("19990101-000000-1.jsonl"), "\u{0}\u{1}garbage\n").unwrap();
    fs::write(
        logs.join("19990101-000000-2.jsonl"),
        "{\"type\":\"run_start\",\"stamp\":1.0}\n{\"type\":\"job_end\",\"file\":\"t/slower.t\"",
    )
    .unwrap();
    fs::write(logs.join("29990101-000000-3.jsonl"), "not a log at all\n").unwrap();
    slower_each_run(&p, 1);
    let html = page(&p, &[]);
    assert!(
        html.contains("The trend is over the last 2 runs"),
        "{}",
        html
    );
    assert_eq!(values_in_trend(&html, "t/slower.t"), 2, "{}", html);
}
