//! Per-file settings from `# HARNESS-...` comment lines at the top of a test file,
//! with the names yath uses. Only the first few KiB are read; a header that does
//! not parse is a warning naming the file and line, and the file still runs.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// How much of a file's start is searched for headers.
const HEAD_BYTES: usize = 4096;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headers {
    /// `# HARNESS-TIMEOUT-EVENT N`: this file's event timeout, in seconds.
    pub timeout_event: Option<f64>,
}

/// Reads the headers of `path`; warnings say what was ignored and where.
pub fn read(path: &Path) -> (Headers, Vec<String>) {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    if let Ok(file) = File::open(path) {
        let _ = file.take(HEAD_BYTES as u64).read_to_end(&mut head);
    }
    parse(&head, &path.display().to_string())
}

fn parse(head: &[u8], name: &str) -> (Headers, Vec<String>) {
    let mut headers = Headers::default();
    let mut warnings = Vec::new();
    // Cheap rejection: most files have no headers at all.
    if !head.windows(8).any(|w| w == b"HARNESS-") {
        return (headers, warnings);
    }
    for (i, line) in String::from_utf8_lossy(head).lines().enumerate() {
        let rest = match line
            .trim_start()
            .strip_prefix('#')
            .map(str::trim_start)
            .and_then(|l| l.strip_prefix("HARNESS-"))
        {
            Some(rest) => rest,
            None => continue,
        };
        let mut words = rest.split_whitespace();
        let key = words.next().unwrap_or("");
        if key == "TIMEOUT-EVENT" {
            match words
                .next()
                .and_then(|w| w.parse::<f64>().ok())
                .filter(|s| *s >= 0.0 && s.is_finite())
            {
                Some(seconds) => headers.timeout_event = Some(seconds),
                None => warnings.push(format!(
                    "{}:{}: HARNESS-TIMEOUT-EVENT needs a number of seconds; ignored",
                    name,
                    i + 1
                )),
            }
        }
    }
    (headers, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_event() {
        let (h, w) = parse(
            b"#!/bin/sh\n# HARNESS-TIMEOUT-EVENT 5\necho 1..1\n",
            "t/a.t",
        );
        assert_eq!(h.timeout_event, Some(5.0));
        assert!(w.is_empty());
    }

    #[test]
    fn a_bad_header_is_a_warning_with_file_and_line() {
        let (h, w) = parse(b"use strict;\n#HARNESS-TIMEOUT-EVENT soon\n", "t/b.t");
        assert_eq!(h, Headers::default());
        assert_eq!(
            w,
            ["t/b.t:2: HARNESS-TIMEOUT-EVENT needs a number of seconds; ignored"]
        );
    }

    #[test]
    fn no_headers() {
        assert_eq!(parse(b"print 1\n", "x").0, Headers::default());
    }
}
