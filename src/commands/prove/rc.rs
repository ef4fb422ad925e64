//! `.proverc`, as App::Prove reads it: the words of `~/.proverc`, then of
//! `./.proverc`, then of each `--rc FILE`, go before the command line's.
//! `--norc` forgets the files named before it (the two defaults included);
//! a `--rc` after it still counts. Files that are not there are skipped.
//! Words after `::` are the tests' own, taken out here as prove does.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// prove's command line split up: option words with the rc files' in front,
/// and the words after `::`.
#[derive(Debug, Default, PartialEq)]
pub struct Words {
    pub options: Vec<OsString>,
    pub test_args: Vec<OsString>,
}

/// Splits `args` as App::Prove does, reading the rc files `home` and the
/// current directory give (none when `home` is `None`, for tests).
pub fn split(args: Vec<OsString>, home: Option<&Path>) -> Result<Words> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(home) = home {
        files.push(home.join(".proverc"));
    }
    files.push(PathBuf::from(".proverc"));
    let mut words = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--norc" {
            files.clear();
        } else if arg == "--rc" {
            let file = args
                .next()
                .ok_or_else(|| Error::Usage("Missing argument to --rc".into()))?;
            files.push(file.into());
        } else if let Some(file) = arg.to_str().and_then(|a| a.strip_prefix("--rc=")) {
            if !file.is_empty() {
                files.push(file.into());
            } else {
                words.push(arg);
            }
        } else {
            words.push(arg);
        }
    }
    let test_args = match words.iter().position(|w| w == "::") {
        Some(at) => words.split_off(at).into_iter().skip(1).collect(),
        None => Vec::new(),
    };
    let mut options = Vec::new();
    for file in files.iter().filter(|f| f.is_file()) {
        let text = std::fs::read(file)
            .map_err(|e| Error::Usage(format!("Can't read {} ({})", file.display(), e)))?;
        options.extend(rc_words(&String::from_utf8_lossy(&text)).map(OsString::from));
    }
    options.extend(words);
    Ok(Words { options, test_args })
}

/// The words of an rc file as prove takes them: per line, '...' and "..."
/// are one word each (without the quotes), a `#` where a word would start
/// begins a comment to the end of the line, anything else splits at white
/// space. A quote with no closing one is part of a plain word.
fn rc_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().flat_map(line_words)
}

fn line_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        let first = match rest.chars().next() {
            Some(c) => c,
            None => return words,
        };
        if first == '#' {
            return words;
        }
        if first == '\'' || first == '"' {
            if let Some(end) = rest[1..].find(first) {
                let word = &rest[1..1 + end];
                // prove drops any word that starts with `#`, quoted or not.
                if !word.starts_with('#') {
                    words.push(word.to_string());
                }
                rest = &rest[end + 2..];
                continue;
            }
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        words.push(rest[..end].to_string());
        rest = &rest[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn words_quotes_and_comments_as_prove_reads_them() {
        let got: Vec<String> =
            rc_words("-j4 --exec 'perl -w'  # a comment\n-I \"my lib\" a#b\n'#x' 'open\n")
                .collect();
        assert_eq!(
            got,
            ["-j4", "--exec", "perl -w", "-I", "my lib", "a#b", "'open"]
        );
    }

    #[test]
    fn rc_and_norc_are_taken_out_and_test_args_split_off() {
        let words = split(os(&["--norc", "-v", "t", "::", "--x", "y"]), None).unwrap();
        assert_eq!(words.options, os(&["-v", "t"]));
        assert_eq!(words.test_args, os(&["--x", "y"]));
        let err = split(os(&["--rc"]), None).unwrap_err();
        assert!(err.to_string().contains("Missing argument to --rc"));
    }

    #[test]
    fn files_give_words_in_order_and_norc_forgets_those_before_it() {
        let dir = std::env::temp_dir().join(format!("proctor-proverc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "-l\n").unwrap();
        std::fs::write(&b, "-j2 # two\n").unwrap();
        let rc = |s: &Path| s.to_string_lossy().into_owned();
        let words = split(
            os(&["--rc", &rc(&a), &format!("--rc={}", rc(&b)), "-v"]),
            Some(&dir),
        )
        .unwrap();
        assert_eq!(words.options, os(&["-l", "-j2", "-v"]));
        let words = split(os(&["--rc", &rc(&a), "--norc", "--rc", &rc(&b)]), None).unwrap();
        assert_eq!(words.options, os(&["-j2"]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
