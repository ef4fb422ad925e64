//! `.proctorrc`: default flags for `proctor test`, like prove's `.proverc`. The
//! words of `~/.proctorrc`, then of the project's `.proctorrc`, go before those on
//! the command line, so the command line has the last word. A line's `#` comment
//! is dropped; words split on white space, with '...' and "..." quoting.
//! `--norc` reads neither. From the first `[GLOB]` line on, the file is path
//! sections instead (see `rc_sections`).

use crate::rc_sections::{self, Section};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What the rc files give `proctor test`.
#[derive(Debug, Default)]
pub struct Rc {
    /// The arguments with the rc files' words put in after `test`.
    pub args: Vec<OsString>,
    /// What could not be read (the run goes on without it).
    pub warnings: Vec<String>,
    /// The path sections, `~/.proctorrc`'s first.
    pub sections: Vec<Section>,
}

/// The rc files' words and sections for `args`; a bad section line is an error.
pub fn with_rc(args: Vec<OsString>) -> Result<Rc, String> {
    let is_test = args.first().map_or(false, |a| a == "test");
    if !is_test || args.iter().any(|a| a == "--norc") {
        return Ok(Rc {
            args,
            ..Rc::default()
        });
    }
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        files.push(Path::new(&home).join(".proctorrc"));
    }
    files.push(PathBuf::from(".proctorrc"));
    let mut words = Vec::new();
    let mut warnings = Vec::new();
    let mut sections = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let (before, from) = split_at_sections(&text);
                match parse_words(&before) {
                    Ok(w) => {
                        let name = file.display().to_string();
                        sections.extend(rc_sections::parse(&name, &from, before.len() + 1)?);
                        words.extend(w)
                    }
                    Err((line, why)) => warnings.push(format!(
                        "{}:{}: {}; the file is ignored",
                        file.display(),
                        line,
                        why
                    )),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warnings.push(format!("{}: {}; the file is ignored", file.display(), e)),
        }
    }
    let mut out = Vec::with_capacity(args.len() + words.len());
    let mut args = args.into_iter();
    out.extend(args.next());
    out.extend(words.into_iter().map(OsString::from));
    out.extend(args);
    Ok(Rc {
        args: out,
        warnings,
        sections,
    })
}

/// The lines of an rc file before its first section line, and those from it on.
fn split_at_sections(text: &str) -> (Vec<&str>, Vec<&str>) {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    (lines[..first].to_vec(), lines[first..].to_vec())
}

/// The words of an rc file, or the line and reason it cannot be read.
#[cfg(test)]
fn parse(text: &str) -> Result<Vec<String>, (usize, &'static str)> {
    parse_words(&split_at_sections(text).0)
}

/// The words of an rc file's lines before its sections, or the line and
/// reason they cannot be read.
fn parse_words(lines: &[&str]) -> Result<Vec<String>, (usize, &'static str)> {
    let mut words = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let mut word: Option<String> = None;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '#' if word.is_none() => break,
                c if c.is_whitespace() => words.extend(word.take()),
                '\'' | '"' => {
                    let w = word.get_or_insert_with(String::new);
                    loop {
                        match chars.next() {
                            Some(q) if q == c => break,
                            Some(other) => w.push(other),
                            None => return Err((n + 1, "a quote is not closed")),
                        }
                    }
                }
                c => word.get_or_insert_with(String::new).push(c),
            }
        }
        words.extend(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_comments_and_quotes() {
        let text = "# defaults\n-j4 --exec 'perl -w'  # inline\n-I \"my lib\"\n\n";
        assert_eq!(
            parse(text).unwrap(),
            ["-j4", "--exec", "perl -w", "-I", "my lib"]
        );
        assert_eq!(parse("-l 'open\n"), Err((1, "a quote is not closed")));
        assert_eq!(parse("-j2\n[t/*.t]\nretries = 1\n").unwrap(), ["-j2"]);
    }

    #[test]
    fn only_test_gets_them_and_norc_stops_them() {
        let args: Vec<OsString> = vec!["failed".into()];
        assert_eq!(with_rc(args.clone()).unwrap().args, args);
        let args: Vec<OsString> = vec!["test".into(), "--norc".into()];
        assert_eq!(with_rc(args.clone()).unwrap().args, args);
    }
}
