//! Finding the test files and deciding how each one runs, as prove does.
//!
//! No path means `t/`. A directory gives its files whose names end in one of
//! the extensions (`--ext`, `.t` by default; the empty extension is a name with
//! no dot that is executable), recursively with `-r`, sorted; files named on the
//! command line are taken as given, in that order. A file named twice runs once.
//! `.t` and `.pl` files run through perl; `--exec CMD` runs `CMD file`; any other
//! executable runs itself. A file that cannot be read still runs (and fails, as
//! under prove); every other problem is a usage error naming the path.

use crate::error::{Error, Result};
use crate::headers::Headers;
use crate::rc_sections::Section;
use std::collections::HashSet;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

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
            errln!("proctor: warning: {}", w);
        }
        headers.no_preload |= !preloadable(&head);
        headers.taint = taint_switch(&head);
        Ok(TestFile { path, how, headers })
    }

    /// A test file as [`TestFile::read`] gives it, or, when it cannot be read,
    /// with no headers: it still runs, and what runs it says why it fails (perl:
    /// "Can't open perl script"; exec: permission denied), as under prove.
    pub fn read_or_run_anyway(path: PathBuf, how: How) -> TestFile {
        match TestFile::read(path.clone(), how.clone()) {
            Ok(file) => file,
            Err(_) => TestFile {
                path,
                how,
                headers: Headers {
                    // Nothing was read, so nothing says a preloaded perl may run it.
                    no_preload: true,
                    ..Headers::default()
                },
            },
        }
    }
}

/// Which files a directory gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    /// Subdirectories too (`-r`).
    pub recurse: bool,
    /// The name endings that make a file a test (`--ext`). `""` is a name
    /// with no dot in it that is executable: a C project's test programs
    /// (its `Makefile` has no dot either, and is not executable).
    pub extensions: Vec<String>,
}

impl Default for Search {
    fn default() -> Search {
        Search::new(false, &[])
    }
}

impl Search {
    /// `extensions` as `--ext` gave them; none means `.t`.
    pub fn new(recurse: bool, extensions: &[String]) -> Search {
        let extensions = if extensions.is_empty() {
            vec![".t".to_string()]
        } else {
            extensions.to_vec()
        };
        Search {
            recurse,
            extensions,
        }
    }

    /// Whether a file named `name` is a test.
    fn takes(&self, name: &[u8], meta: &fs::Metadata) -> bool {
        self.extensions.iter().any(|ext| {
            if ext.is_empty() {
                !name.contains(&b'.') && meta.permissions().mode() & 0o111 != 0
            } else {
                name.ends_with(ext.as_bytes())
            }
        })
    }

    /// The files `takes` in `dir`, as prove finds them: a name starting with a
    /// dot only with -r (prove's glob skips them; its -r search does not),
    /// symbolic links followed, each directory read once, sorted by bytes.
    fn files_in(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        let mut visited = HashSet::new();
        self.collect(dir, &mut found, &mut visited)?;
        found.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
        Ok(found)
    }

    fn collect(
        &self,
        dir: &Path,
        out: &mut Vec<PathBuf>,
        visited: &mut HashSet<(u64, u64)>,
    ) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = fs::metadata(dir) {
            if !visited.insert((meta.dev(), meta.ino())) {
                return Ok(());
            }
        }
        let unlisted = |e: std::io::Error| {
            Error::Usage(format!("{}: cannot list directory: {}", dir.display(), e))
        };
        for entry in fs::read_dir(dir).map_err(unlisted)? {
            let entry = entry.map_err(unlisted)?;
            let path = entry.path();
            // A dangling link (an editor's lock file, say) is no file at all.
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                Err(_) => continue,
            };
            let name = entry.file_name();
            if meta.is_dir() {
                if self.recurse {
                    self.collect(&path, out, visited)?;
                }
            } else if meta.is_file()
                && (self.recurse || !name.as_bytes().starts_with(b"."))
                && self.takes(name.as_bytes(), &meta)
            {
                out.push(path);
            }
        }
        Ok(())
    }

    /// What the search looks for, for a message: `*.t`, `*.sh or *.test`.
    fn wanted(&self) -> String {
        let names: Vec<String> = self
            .extensions
            .iter()
            .map(|e| {
                if e.is_empty() {
                    "executables with no dot in the name".to_string()
                } else {
                    format!("*{}", e)
                }
            })
            .collect();
        names.join(" or ")
    }
}

/// The test files for `paths`, in run order, each with how it runs.
/// `sections`: `.proctorrc`'s, whose `exec` says how a file runs before the
/// rest of them are put over it (`rc_sections::put_over`).
pub fn discover(
    paths: &[PathBuf],
    search: &Search,
    exec: Option<&[String]>,
    sections: &[Section],
) -> Result<Vec<TestFile>> {
    let default = [PathBuf::from("t")];
    let given = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |file: PathBuf, files: &mut Vec<TestFile>| -> Result<()> {
        if seen.insert(same_file_key(&file)) {
            files.push(classify(file, exec, sections)?);
        }
        Ok(())
    };
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
        if !meta.is_dir() {
            add(path.clone(), &mut files)?;
            continue;
        }
        let found = search.files_in(path)?;
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no test files ({}) in this directory{}",
                path.display(),
                search.wanted(),
                recurse_hint(path, search)
                    .or_else(|| ext_hint(path))
                    .unwrap_or_default()
            )));
        }
        for file in found {
            add(file, &mut files)?;
        }
    }
    Ok(files)
}

/// " (use -r ...)" when -r would find files below `dir`.
fn recurse_hint(dir: &Path, search: &Search) -> Option<String> {
    if search.recurse {
        return None;
    }
    let deeper = Search {
        recurse: true,
        ..search.clone()
    };
    match deeper.files_in(dir) {
        Ok(found) if !found.is_empty() => Some(" (use -r to search subdirectories)".into()),
        _ => None,
    }
}

/// " (its executables: --ext .sh, --ext '')" when `dir` holds executable
/// files, named as `--ext` would pick them: a C project's test programs, or
/// shell scripts.
fn ext_hint(dir: &Path) -> Option<String> {
    let mut endings: Vec<String> = Vec::new();
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let executable = entry.metadata().map_or(false, |m| {
            m.is_file() && m.permissions().mode() & 0o111 != 0
        });
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !executable || name.starts_with('.') {
            continue;
        }
        let ending = match name.rfind('.') {
            Some(dot) => name[dot..].to_string(),
            None => String::new(),
        };
        if !endings.contains(&ending) {
            endings.push(ending);
        }
    }
    if endings.is_empty() {
        return None;
    }
    endings.sort();
    let flags: Vec<String> = endings
        .iter()
        .take(3)
        .map(|e| {
            if e.is_empty() {
                "--ext ''".to_string()
            } else {
                format!("--ext {}", e)
            }
        })
        .collect();
    Some(format!(" (to run its executables: {})", flags.join(", ")))
}

/// `t/a.t` and `./t/a.t` are one file, to be run once.
fn same_file_key(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

fn classify(path: PathBuf, exec: Option<&[String]>, sections: &[Section]) -> Result<TestFile> {
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
    let how = crate::rc_sections::how_for(sections, &path.to_string_lossy()).unwrap_or(how);
    if how == How::Itself && meta.permissions().mode() & 0o111 == 0 {
        return Err(Error::Usage(format!(
            "{}: is not executable (chmod +x it, or run it through an interpreter with --exec)",
            path.display()
        )));
    }
    Ok(TestFile::read_or_run_anyway(path, how))
}

/// The taint switch (`-T` or `-t`) on a perl test's `#!` line, which perl
/// insists on seeing on its command line too, as prove passes it.
fn taint_switch(head: &[u8]) -> Option<&'static str> {
    taint_switch_of(shebang(&head[..head.len().min(SHEBANG_BYTES)])?)
}

/// How much of a file's start is searched for its `#!` line.
const SHEBANG_BYTES: usize = 256;

/// Whether a perl test whose file starts with `head` may run in a preloaded
/// perl: no `#!` line naming another interpreter (perl, given such a file,
/// execs that interpreter on it, as prove relies on), and no switch on a
/// perl `#!` line but `-w`, the one the stage honours (perl honours them
/// all: `-l`, `-0`, `-W`, `-X`, `-s`, ... and fails a file with `-C`).
fn preloadable(head: &[u8]) -> bool {
    match shebang(&head[..head.len().min(SHEBANG_BYTES)]) {
        None => true,
        Some(line) => {
            let mut words = line[2..].split(|b| b.is_ascii_whitespace());
            words.any(|w| w.windows(4).any(|p| p == b"perl"))
                && words.all(|w| !w.starts_with(b"-") || w[1..].iter().all(|&b| b == b'w'))
        }
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
    use crate::scratch::ScratchDir;

    fn scratch(name: &str) -> ScratchDir {
        ScratchDir::with_files(
            &format!("discover-{}", name),
            &["t/b.t", "t/a.t", "t/sub/c.t", "t/notes.txt"],
        )
    }

    #[test]
    fn directories_give_sorted_t_files() {
        let d = scratch("sorted");
        let t = d.path().join("t");
        let names = |files: Vec<TestFile>| {
            files
                .into_iter()
                .map(|f| f.path.strip_prefix(&t).unwrap().to_path_buf())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(discover(std::slice::from_ref(&t), &Search::default(), None, &[]).unwrap()),
            [PathBuf::from("a.t"), PathBuf::from("b.t")]
        );
        assert_eq!(
            names(discover(std::slice::from_ref(&t), &Search::new(true, &[]), None, &[]).unwrap())
                .len(),
            3
        );
    }

    #[test]
    fn files_keep_the_given_order_and_choose_perl() {
        let d = scratch("order");
        let files = discover(
            &[d.path().join("t/b.t"), d.path().join("t/a.t")],
            &Search::default(),
            None,
            &[],
        )
        .unwrap();
        assert_eq!(files[0].path, d.path().join("t/b.t"));
        assert_eq!(files[0].how, How::Perl);
    }

    #[test]
    fn taint_switches() {
        let d = scratch("taint");
        let f = d.path().join("t/a.t");
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
        let f = d.path().join("t/a.t");
        for (head, no_preload) in [
            ("#!perl -T\n", true),
            ("#!/bin/sh\n", true),
            ("#!/usr/bin/env perl -w\n", false),
            ("use strict;\n", false),
            ("#!perl\n# HARNESS-NO-PRELOAD\n", true),
            ("#!perl -w\n", false),
            ("#!/usr/bin/perl -l\n", true),
            ("#!perl -w -0777\n", true),
            ("#!perl -CS\n", true),
            ("#!perl -W\n", true),
            ("#!perl -X\n", true),
            ("#!perl -s\n", true),
            ("#!perl -wT\n", true),
        ] {
            fs::write(&f, head).unwrap();
            let file = TestFile::read(f.clone(), How::Perl).unwrap();
            assert_eq!(file.headers.no_preload, no_preload, "{}", head);
        }
    }

    #[test]
    fn bad_paths_are_usage_errors() {
        let d = scratch("bad");
        let err = discover(&[d.path().join("nope.t")], &Search::default(), None, &[]).unwrap_err();
        assert!(err.to_string().contains("nope.t: no such file"), "{}", err);
        let err = discover(
            &[d.path().join("t/notes.txt")],
            &Search::default(),
            None,
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("not executable"), "{}", err);
        fs::create_dir_all(d.path().join("empty")).unwrap();
        let err = discover(&[d.path().join("empty")], &Search::default(), None, &[]).unwrap_err();
        assert!(err.to_string().contains("no test files (*.t)"), "{}", err);
        assert!(!err.to_string().contains("--ext"), "{}", err);
    }

    #[test]
    fn a_directory_of_executables_names_the_ext_that_would_run_them() {
        let d = scratch("exe");
        let dir = d.path().join("tests");
        fs::create_dir_all(&dir).unwrap();
        for (name, mode) in [("basic", 0o755), ("io.sh", 0o755), ("Makefile", 0o644)] {
            fs::write(dir.join(name), "").unwrap();
            fs::set_permissions(dir.join(name), fs::Permissions::from_mode(mode)).unwrap();
        }
        let err = discover(&[dir], &Search::default(), None, &[]).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("no test files (*.t) in this directory (to run its executables: --ext '', --ext .sh)"),
            "{}",
            err
        );
    }

    #[test]
    fn extensions_choose_the_files_and_empty_means_executables_without_a_dot() {
        let d = scratch("ext");
        let t = d.path().join("t");
        for (name, mode) in [
            ("x.sh", 0o755),
            ("y.test", 0o644),
            ("prog", 0o755),
            ("Makefile", 0o644),
        ] {
            fs::write(t.join(name), "").unwrap();
            fs::set_permissions(t.join(name), fs::Permissions::from_mode(mode)).unwrap();
        }
        let found = |exts: &[&str]| -> Vec<String> {
            let exts: Vec<String> = exts.iter().map(|e| e.to_string()).collect();
            discover(
                std::slice::from_ref(&t),
                &Search::new(false, &exts),
                Some(&["sh".to_string()]),
                &[],
            )
            .unwrap()
            .into_iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
        };
        assert_eq!(found(&[".sh"]), ["x.sh"]);
        assert_eq!(found(&["sh", ".test"]), ["x.sh", "y.test"]);
        assert_eq!(found(&[""]), ["prog"]);
        assert_eq!(found(&["", ".t"]), ["a.t", "b.t", "prog"]);
    }

    #[test]
    fn the_recurse_hint_only_when_recursing_would_find_something() {
        let d = scratch("hint");
        let t = d.path().join("t");
        let err = discover(
            std::slice::from_ref(&t),
            &Search::new(false, &[".sh".into()]),
            None,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no test files (*.sh)") && !err.contains("-r"),
            "{}",
            err
        );
        fs::remove_file(t.join("a.t")).unwrap();
        fs::remove_file(t.join("b.t")).unwrap();
        let err = discover(std::slice::from_ref(&t), &Search::default(), None, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("(use -r to search subdirectories)"), "{}", err);
    }

    #[test]
    fn a_file_named_twice_runs_once() {
        let d = scratch("twice");
        let t = d.path().join("t");
        let files = discover(
            &[t.join("b.t"), t.clone(), t.join(".").join("b.t")],
            &Search::default(),
            None,
            &[],
        )
        .unwrap();
        let names: Vec<PathBuf> = files.into_iter().map(|f| f.path).collect();
        assert_eq!(names, [t.join("b.t"), t.join("a.t")]);
    }
}
