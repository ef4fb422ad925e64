//! `.proctorrc`: default flags for `proctor test`, like prove's `.proverc`. The
//! words of `~/.proctorrc`, then of the project's `.proctorrc`, go before those on
//! the command line, so the command line has the last word. A line's `#` comment
//! is dropped; words split on white space, with '...' and "..." quoting.
//! `--norc` reads neither. From the first `[GLOB]` line on, the file is path
//! sections instead (see `rc_sections`).

use crate::rc_sections::{self, Section};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What the rc files give `proctor test` and `proctor run`.
#[derive(Debug, Default)]
pub struct Rc {
    /// The arguments with the rc files' words put in after the command.
    pub args: Vec<OsString>,
    /// The rc files that could not be read, and why (the run goes on
    /// without them: see [`warn`]).
    pub warnings: Vec<String>,
    /// The path sections, `~/.proctorrc`'s first.
    pub sections: Vec<Section>,
    /// Each rc file's words, by file, for `--explain`.
    pub words: Vec<(String, Vec<String>)>,
}

/// The rc files' words and sections for `args`; a bad section line is an
/// error, and so, under `--strict`, is an rc file that cannot be read.
pub fn with_rc(args: Vec<OsString>) -> Result<Rc, String> {
    let command = args.first().and_then(|a| a.to_str()).unwrap_or("");
    let reads_rc = command == "test" || command == "run";
    if !reads_rc || args.iter().any(|a| a == "--norc") {
        return Ok(Rc {
            args,
            ..Rc::default()
        });
    }
    let mut rc = read(&rc_files())?;
    if let Some(w) = rc
        .warnings
        .first()
        .filter(|_| args.iter().any(|a| a == "--strict"))
    {
        return Err(format!("{} (--strict)", w));
    }
    let mut words: Vec<String> = rc.words.iter().flat_map(|(_, w)| w.clone()).collect();
    if command == "run" {
        // The persistent runner preloads as `proctor start` said; a default
        // meant for `proctor test` is no mistake here.
        without_preload(&mut words);
    }
    let mut out = Vec::with_capacity(args.len() + words.len());
    let mut args = args.into_iter();
    out.extend(args.next());
    out.extend(words.into_iter().map(OsString::from));
    out.extend(args);
    rc.args = out;
    Ok(rc)
}

/// Only the rc files' sections (and what could not be read), for the
/// commands whose options are another program's: `proctor driver`
/// (Automake's), `proctor prove` (prove's).
pub fn sections_only() -> Result<(Vec<Section>, Vec<String>), String> {
    let rc = read(&rc_files())?;
    Ok((rc.sections, rc.warnings))
}

/// Says on stderr which rc files are ignored, and why.
pub fn warn(unread: &[String]) {
    for why in unread {
        errln!("proctor: warning: {}; the file is ignored", why);
    }
}

/// `~/.proctorrc`, then the project's: the one in the current directory.
fn rc_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        files.push(Path::new(&home).join(".proctorrc"));
    }
    files.push(PathBuf::from(".proctorrc"));
    files
}

/// The words and sections of `files`, those that are there.
fn read(files: &[PathBuf]) -> Result<Rc, String> {
    let mut rc = Rc::default();
    for file in files {
        let name = file.display().to_string();
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let (before, from) = split_at_sections(&text);
                match parse_words(&before) {
                    Ok(w) => {
                        rc.sections
                            .extend(rc_sections::parse(&name, &from, before.len() + 1)?);
                        rc.words.push((name, w));
                    }
                    Err((line, why)) => rc.warnings.push(format!("{}:{}: {}", name, line, why)),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => rc.warnings.push(format!("{}: {}", name, e)),
        }
    }
    Ok(rc)
}

/// `words` less `--preload MODULE` and `--preload=MODULE`.
fn without_preload(words: &mut Vec<String>) {
    let mut kept = Vec::with_capacity(words.len());
    let mut skip_next = false;
    for word in words.drain(..) {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if word == "--preload" {
            skip_next = true;
        } else if !word.starts_with("--preload=") {
            kept.push(word);
        }
    }
    *words = kept;
}

/// Where the rc files' words give `flag` (`--retry`, ...): the last file
/// whose words hold it, as `FILE words`.
pub fn word_origin(words: &[(String, Vec<String>)], flag: &str) -> Option<String> {
    let given = |w: &String| w == flag || w.starts_with(&format!("{}=", flag));
    words
        .iter()
        .rfind(|(_, w)| w.iter().any(given))
        .map(|(file, _)| format!("{} words", file))
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
    fn only_test_and_run_get_them_and_norc_stops_them() {
        let args: Vec<OsString> = vec!["failed".into()];
        assert_eq!(with_rc(args.clone()).unwrap().args, args);
        let args: Vec<OsString> = vec!["test".into(), "--norc".into()];
        assert_eq!(with_rc(args.clone()).unwrap().args, args);
    }

    #[test]
    fn run_takes_no_preload_from_them() {
        let mut words: Vec<String> = ["-j2", "--preload", "Moo", "--preload=X", "--preload-verify"]
            .map(String::from)
            .to_vec();
        without_preload(&mut words);
        assert_eq!(words, ["-j2", "--preload-verify"]);
    }

    #[test]
    fn a_flag_comes_from_the_last_file_whose_words_give_it() {
        let words = vec![
            (
                "/home/u/.proctorrc".to_string(),
                vec!["--retry=2".to_string()],
            ),
            (
                ".proctorrc".to_string(),
                vec!["--retry".to_string(), "1".to_string()],
            ),
        ];
        assert_eq!(word_origin(&words, "--retry").unwrap(), ".proctorrc words");
        assert_eq!(
            word_origin(&words[..1], "--retry").unwrap(),
            "/home/u/.proctorrc words"
        );
        assert_eq!(word_origin(&words, "--exec"), None);
    }
}
