//! Finding the test files and deciding how each one runs, as prove does.
//!
//! No path means `t/`. A directory gives its `*.t` files (recursively with `-r`),
//! sorted; files named on the command line are taken as given, in that order.
//! `.t` and `.pl` files run through perl; `--exec CMD` runs `CMD file`; any other
//! executable runs itself. Every problem is a usage error naming the path.

use crate::error::{Error, Result};
use crate::headers::Headers;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How a test file is started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum How {
    /// `perl FILE`, with the run's PERL5LIB.
    Perl,
    /// The file itself.
    Itself,
    /// `CMD... FILE`.
    Command(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestFile {
    pub path: PathBuf,
    pub how: How,
    /// Its `# HARNESS-` headers, read once, where it is found.
    pub headers: Headers,
}

impl TestFile {
    /// A test file, its headers read (what is wrong with them said on stderr);
    /// an error when it cannot be read. A `#!` line a preloaded perl cannot
    /// honour counts as `# HARNESS-NO-PRELOAD`: it is in the same read, and
    /// the verdict goes with the job (to a persistent runner too).
    pub fn read(path: PathBuf, how: How) -> std::io::Result<TestFile> {
        let head = crate::headers::head(&path)?;
        let (mut headers, warnings) = crate::headers::parse(&head, &path.display().to_string());
        for w in warnings {
            eprintln!("proctor: warning: {}", w);
        }
        headers.no_preload |= !preloadable(&head);
        headers.taint = taint_switch(&head);
        Ok(TestFile { path, how, headers })
    }
}

/// The test files for `paths`, in run order, each with how it runs.
pub fn discover(
    paths: &[PathBuf],
    recurse: bool,
    exec: Option<&[String]>,
) -> Result<Vec<TestFile>> {
    let default = [PathBuf::from("t")];
    let given = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    for path in given {
        let meta = fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound if paths.is_empty() => {
                Error::Usage("no test paths given, and there is no t/ directory here".into())
            }
            std::io::ErrorKind::NotFound => {
                Error::Usage(format!("{}: no such file or directory", path.display()))
            }
            _ => Error::Usage(format!("{}: {}", path.display(), e)),
        })?;
        if meta.is_dir() {
            let before = files.len();
            let mut found = Vec::new();
            collect_dir(path, recurse, &mut found)?;
            found.sort();
            for file in found {
                files.push(classify(file, exec)?);
            }
            if files.len() == before {
                let hint = if recurse {
                    ""
                } else {
                    " (use -r to search subdirectories)"
                };
                return Err(Error::Usage(format!(
                    "{}: no *.t files in this directory{}",
                    path.display(),
                    hint
                )));
            }
        } else {
            files.push(classify(path.clone(), exec)?);
        }
    }
    Ok(files)
}

fn collect_dir(dir: &Path, recurse: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir)
        .map_err(|e| Error::Usage(format!("{}: cannot list directory: {}", dir.display(), e)))?;
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::Usage(format!("{}: cannot list directory: {}", dir.display(), e))
        })?;
        let path = entry.path();
        // The entry's type comes with it; only a symlink needs a look at its target.
        let is_dir = match entry.file_type() {
            Ok(t) if !t.is_symlink() => t.is_dir(),
            _ => fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false),
        };
        if is_dir {
            if recurse {
                collect_dir(&path, recurse, out)?;
            }
        } else if path.extension().map_or(false, |e| e == "t") {
            out.push(path);
        }
    }
    Ok(())
}

fn classify(path: PathBuf, exec: Option<&[String]>) -> Result<TestFile> {
    let meta =
        fs::metadata(&path).map_err(|e| Error::Usage(format!("{}: {}", path.display(), e)))?;
    if meta.is_dir() {
        return Err(Error::Usage(format!(
            "{}: is a directory, not a test file",
            path.display()
        )));
    }
    let how = match exec {
        Some(cmd) if !cmd.is_empty() => How::Command(cmd.to_vec()),
        Some(_) => How::Itself,
        None if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("t") | Some("pl")
        ) =>
        {
            How::Perl
        }
        None => How::Itself,
    };
    if how == How::Itself && meta.permissions().mode() & 0o111 == 0 {
        return Err(Error::Usage(format!(
            "{}: is not executable (chmod +x it, or run it through an interpreter with --exec)",
            path.display()
        )));
    }
    TestFile::read(path.clone(), how).map_err(|_| {
        Error::Usage(format!(
            "{}: cannot be read (check its permissions)",
            path.display()
        ))
    })
}

/// The taint switch (`-T` or `-t`) on a perl test's `#!` line, which perl
/// insists on seeing on its command line too, as prove passes it.
fn taint_switch(head: &[u8]) -> Option<&'static str> {
    taint_switch_of(shebang(&head[..head.len().min(SHEBANG_BYTES)])?)
}

/// How much of a file's start is searched for its `#!` line.
const SHEBANG_BYTES: usize = 256;

/// Whether a perl test whose file starts with `head` may run in a preloaded
/// perl: no taint switch, and no `#!` line naming another interpreter (perl,
/// given such a file, execs that interpreter on it, as prove relies on).
fn preloadable(head: &[u8]) -> bool {
    match shebang(&head[..head.len().min(SHEBANG_BYTES)]) {
        None => true,
        Some(line) => taint_switch_of(line).is_none() && line.windows(4).any(|w| w == b"perl"),
    }
}

/// The first line of `head`, if it is a `#!` line.
fn shebang(head: &[u8]) -> Option<&[u8]> {
    let first = head.split(|&b| b == b'\n').next().unwrap_or(b"");
    if !first.starts_with(b"#!") {
        return None;
    }
    Some(first)
}

fn taint_switch_of(first: &[u8]) -> Option<&'static str> {
    let words = first[2..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| w.starts_with(b"-"));
    for word in words {
        if word.contains(&b'T') {
            return Some("-T");
        }
        if word.contains(&b't') {
            return Some("-t");
        }
    }
    None
}

/// Looks `program` up in PATH (a name with a slash is taken as a path).
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> Dir {
        let d =
            std::env::temp_dir().join(format!("proctor-discover-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("t/sub")).unwrap();
        for f in ["t/b.t", "t/a.t", "t/sub/c.t", "t/notes.txt"] {
            fs::write(d.join(f), "").unwrap();
        }
        Dir(d)
    }

    #[test]
    fn directories_give_sorted_t_files() {
        let d = scratch("sorted");
        let t = d.0.join("t");
        let names = |files: Vec<TestFile>| {
            files
                .into_iter()
                .map(|f| f.path.strip_prefix(&t).unwrap().to_path_buf())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(discover(std::slice::from_ref(&t), false, None).unwrap()),
            [PathBuf::from("a.t"), PathBuf::from("b.t")]
        );
        assert_eq!(
            names(discover(std::slice::from_ref(&t), true, None).unwrap()).len(),
            3
        );
    }

    #[test]
    fn files_keep_the_given_order_and_choose_perl() {
        let d = scratch("order");
        let files = discover(&[d.0.join("t/b.t"), d.0.join("t/a.t")], false, None).unwrap();
        assert_eq!(files[0].path, d.0.join("t/b.t"));
        assert_eq!(files[0].how, How::Perl);
    }

    #[test]
    fn taint_switches() {
        let d = scratch("taint");
        let f = d.0.join("t/a.t");
        for (line, want) in [
            ("#!perl -T", Some("-T")),
            ("#!/usr/bin/perl -wt", Some("-t")),
            ("#!perl -w", None),
            ("use strict; # -T", None),
        ] {
            fs::write(&f, format!("{}\nprint 1;\n", line)).unwrap();
            let file = TestFile::read(f.clone(), How::Perl).unwrap();
            assert_eq!(file.headers.taint, want, "{}", line);
        }
    }

    /// What the `#!` line says of preloading is read with the headers.
    #[test]
    fn a_shebang_a_preloaded_perl_cannot_honour_is_no_preload() {
        let d = scratch("preload");
        let f = d.0.join("t/a.t");
        for (head, no_preload) in [
            ("#!perl -T\n", true),
            ("#!/bin/sh\n", true),
            ("#!/usr/bin/env perl -w\n", false),
            ("use strict;\n", false),
            ("#!perl\n# HARNESS-NO-PRELOAD\n", true),
        ] {
            fs::write(&f, head).unwrap();
            let file = TestFile::read(f.clone(), How::Perl).unwrap();
            assert_eq!(file.headers.no_preload, no_preload, "{}", head);
        }
    }

    #[test]
    fn bad_paths_are_usage_errors() {
        let d = scratch("bad");
        let err = discover(&[d.0.join("nope.t")], false, None).unwrap_err();
        assert!(err.to_string().contains("nope.t: no such file"), "{}", err);
        let err = discover(&[d.0.join("t/notes.txt")], false, None).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{}", err);
        fs::create_dir_all(d.0.join("empty")).unwrap();
        let err = discover(&[d.0.join("empty")], false, None).unwrap_err();
        assert!(err.to_string().contains("no *.t files"), "{}", err);
    }
}
