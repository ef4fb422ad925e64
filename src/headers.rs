//! Per-file settings from `# HARNESS-...` comment lines at the top of a test file,
//! with the names yath uses. Only the first few KiB are read; a header that does
//! not parse is a warning naming the file and line, and the file still runs.

use crate::numbers;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// How much of a file's start is searched for headers.
const HEAD_BYTES: usize = 4096;

/// How a file may share the machine with others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Category {
    #[default]
    General,
    /// Runs alone: nothing else runs beside it.
    Isolation,
    /// Never beside another immiscible file.
    Immiscible,
}

/// A hint for ordering when no duration is known yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationHint {
    Long,
    Medium,
    Short,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headers {
    /// `# HARNESS-TIMEOUT-EVENT N`: this file's event timeout, in seconds.
    pub timeout_event: Option<f64>,
    /// `# HARNESS-CATEGORY-ISOLATION` / `-IMMISCIBLE`.
    pub category: Category,
    /// `# HARNESS-CONFLICTS-NAME`: never beside another file naming it.
    pub conflicts: Vec<String>,
    /// `# HARNESS-DURATION-LONG|MEDIUM|SHORT`.
    pub duration: Option<DurationHint>,
    /// `# HARNESS-NO-RETRY` (Some(0)) or `# HARNESS-RETRY-n`.
    pub retries: Option<u32>,
    /// `# HARNESS-JOB-SLOTS n`: how many of the -j slots it takes.
    pub slots: Option<usize>,
    /// `# HARNESS-NO-PRELOAD`, or a `#!` line a preloaded perl cannot honour
    /// (see [`crate::discover::TestFile::read`]).
    pub no_preload: bool,
    /// `-T` or `-t` on the `#!` line, for perl's command line (read with
    /// the headers, so the file is not read again to start it).
    pub taint: Option<&'static str>,
    /// `NAME=VALUE` for the test's environment, from `.proctorrc` sections
    /// (no header sets them): over the caller's, and the file is not preloaded.
    pub env: Vec<String>,
}

/// The start of `path`, where its headers are (and its `#!` line).
pub fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    File::open(path)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The headers in `head`, the start of the file `name`; warnings say what
/// was ignored and where.
pub fn parse(head: &[u8], name: &str) -> (Headers, Vec<String>) {
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
        let arg = words.next();
        let mut bad = |what: &str| {
            warnings.push(format!(
                "{}:{}: HARNESS-{} {}; ignored",
                name,
                i + 1,
                key,
                what
            ))
        };
        match key {
            "TIMEOUT-EVENT" => match arg.map(numbers::seconds) {
                Some(Ok(seconds)) => headers.timeout_event = Some(seconds),
                Some(Err(why)) => bad(&why),
                None => bad("needs a number of seconds"),
            },
            "CATEGORY-ISOLATION" => headers.category = Category::Isolation,
            "CATEGORY-IMMISCIBLE" => headers.category = Category::Immiscible,
            "CATEGORY-GENERAL" => headers.category = Category::General,
            "DURATION-LONG" => headers.duration = Some(DurationHint::Long),
            "DURATION-MEDIUM" => headers.duration = Some(DurationHint::Medium),
            "DURATION-SHORT" => headers.duration = Some(DurationHint::Short),
            "NO-RETRY" => headers.retries = Some(0),
            "NO-PRELOAD" => headers.no_preload = true,
            "JOB-SLOTS" => match arg.map(|w| numbers::whole::<usize>(w, 1)) {
                Some(Ok(n)) => headers.slots = Some(n),
                Some(Err(why)) => bad(&format!("needs a positive number of slots: {}", why)),
                None => bad("needs a positive number of slots"),
            },
            _ if key.starts_with("CONFLICTS-") => {
                let conflict = &key["CONFLICTS-".len()..];
                if conflict.is_empty() {
                    bad("needs a name after CONFLICTS-");
                } else {
                    headers.conflicts.push(conflict.to_string());
                }
            }
            _ if key.starts_with("RETRY-") => {
                match numbers::whole::<u32>(&key["RETRY-".len()..], 0) {
                    Ok(n) => headers.retries = Some(n),
                    Err(why) => bad(&format!(
                        "needs a number of retries, as in HARNESS-RETRY-2: {}",
                        why
                    )),
                }
            }
            // Other names belong to yath features proctor does not have.
            _ => {}
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
            ["t/b.t:2: HARNESS-TIMEOUT-EVENT 'soon' is not a number of seconds; ignored"]
        );
        let (_, w) = parse(b"# HARNESS-RETRY-x\n# HARNESS-JOB-SLOTS 0\n", "t/c.t");
        assert_eq!(w.len(), 2, "{:?}", w);
    }

    /// A number too big for any timeout, count or slot is a warning naming the
    /// file, the line and the value, never a panic later.
    #[test]
    fn numbers_out_of_range_are_warnings() {
        for value in ["1e300", "18446744073709551615", "1e19", "inf", "NaN", "-1"] {
            let text = format!("# HARNESS-TIMEOUT-EVENT {}\n", value);
            let (h, w) = parse(text.as_bytes(), "t/big.t");
            assert_eq!(h.timeout_event, None, "{}", value);
            assert_eq!(w.len(), 1, "{}: {:?}", value, w);
            assert!(
                w[0].starts_with(&format!("t/big.t:1: HARNESS-TIMEOUT-EVENT '{}' is ", value))
                    && w[0].ends_with("; ignored"),
                "{}",
                w[0]
            );
        }
        let (h, w) = parse(
            b"# HARNESS-RETRY-99999999999\n# HARNESS-JOB-SLOTS 99999999999999999999999\n",
            "t/many.t",
        );
        assert_eq!((h.retries, h.slots), (None, None));
        assert_eq!(w.len(), 2, "{:?}", w);
        assert!(w.iter().all(|w| w.contains("too big a number")), "{:?}", w);
        let (h, w) = parse(b"# HARNESS-TIMEOUT-EVENT 1e9\n", "t/long.t");
        assert_eq!((h.timeout_event, w.len()), (Some(1e9), 0));
    }

    #[test]
    fn scheduling_headers() {
        let text = b"# HARNESS-CATEGORY-ISOLATION\n# HARNESS-CONFLICTS-DATABASE\n# HARNESS-CONFLICTS-PORT\n\
            # HARNESS-DURATION-LONG\n# HARNESS-RETRY-3\n# HARNESS-JOB-SLOTS 2\n";
        let (h, w) = parse(text, "t/d.t");
        assert!(w.is_empty(), "{:?}", w);
        assert_eq!(h.category, Category::Isolation);
        assert_eq!(h.conflicts, ["DATABASE", "PORT"]);
        assert_eq!(h.duration, Some(DurationHint::Long));
        assert_eq!(h.retries, Some(3));
        assert_eq!(h.slots, Some(2));
        let (h, _) = parse(
            b"# HARNESS-NO-RETRY\n# HARNESS-CATEGORY-IMMISCIBLE\n",
            "t/e.t",
        );
        assert_eq!((h.retries, h.category), (Some(0), Category::Immiscible));
    }

    #[test]
    fn no_headers() {
        assert_eq!(parse(b"print 1\n", "x").0, Headers::default());
    }
}
