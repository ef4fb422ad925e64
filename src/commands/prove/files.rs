//! Which files prove runs and how, as Test::Harness 3.44 decides: the names as
//! App::Prove::State finds them (a directory gives its files ending in an
//! `--ext` extension, `.t` by default, sorted by bytes; `-r` searches below it;
//! `-` reads more names from standard input; a name given twice runs once),
//! and for each, the way TAP::Parser's source handlers would run it (a program
//! that is executable and binary runs itself; anything else goes to perl, which
//! hands a `#!` line naming another interpreter to that interpreter).

use crate::discover::{How, TestFile};
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How prove searches directories.
pub struct Search<'a> {
    pub recurse: bool,
    /// `--ext` as given; none: `.t`. Each is the end of a name, dot or not.
    pub extensions: &'a [String],
}

/// The test names prove runs for `args`, after `selected` (those `--state`
/// chose; `selecting` says whether it chose at all): with neither, `t` (with
/// `-r`, `.`). A name comes once, where it first appears.
pub fn names(
    args: &[PathBuf],
    selected: Vec<PathBuf>,
    selecting: bool,
    search: &Search,
    stdin: &mut dyn BufRead,
) -> Result<Vec<PathBuf>> {
    let mut args = args.to_vec();
    if args.is_empty() && !selecting {
        let default = PathBuf::from(if search.recurse { "." } else { "t" });
        if !default.is_dir() {
            return Err(Error::Usage(format!(
                "No tests named and '{}' directory not found",
                default.display()
            )));
        }
        args.push(default);
    }
    let mut names = selected;
    let mut at = 0;
    // `-` adds the lines of standard input to the arguments, after the others.
    while at < args.len() {
        let arg = args[at].clone();
        at += 1;
        if arg.as_os_str() == "-" {
            for line in stdin.split(b'\n') {
                let line = line.map_err(|e| Error::io("read test names from standard input", e))?;
                args.push(PathBuf::from(OsString::from_vec(line)));
            }
        } else if arg.is_dir() {
            let mut found = if search.recurse {
                below(&arg, search)?
            } else {
                within(&arg, search)?
            };
            found.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
            names.extend(found);
        } else {
            names.push(arg);
        }
    }
    let mut seen = HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    Ok(names)
}

fn extensions<'a>(search: &'a Search) -> Vec<&'a [u8]> {
    if search.extensions.is_empty() {
        vec![b".t"]
    } else {
        search.extensions.iter().map(|e| e.as_bytes()).collect()
    }
}

/// prove's glob of `DIR/*EXT` for each extension in turn: entries of any kind
/// whose names end in it and do not start with a dot, named below the
/// directory's canonical form.
fn within(dir: &Path, search: &Search) -> Result<Vec<PathBuf>> {
    let top = canonical(dir);
    let mut entries: Vec<OsString> = fs::read_dir(dir)
        .map_err(|e| listing(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|name| !name.as_bytes().starts_with(b"."))
        .collect();
    entries.sort();
    let mut found = Vec::new();
    for ext in extensions(search) {
        for name in entries.iter().filter(|n| n.as_bytes().ends_with(ext)) {
            found.push(top.join(name));
        }
    }
    Ok(found)
}

/// prove's File::Find search below `dir`: every file (symbolic links
/// followed, each directory once) whose name ends in an extension, named from
/// `dir` as given, less one trailing slash.
fn below(dir: &Path, search: &Search) -> Result<Vec<PathBuf>> {
    let mut given = dir.as_os_str().as_bytes();
    if given.len() > 1 && given.ends_with(b"/") {
        given = &given[..given.len() - 1];
    }
    let top = PathBuf::from(OsString::from_vec(given.to_vec()));
    let mut found = Vec::new();
    let mut visited = HashSet::new();
    walk(&top, &extensions(search), &mut found, &mut visited)?;
    Ok(found)
}

fn walk(
    dir: &Path,
    extensions: &[&[u8]],
    found: &mut Vec<PathBuf>,
    visited: &mut HashSet<(u64, u64)>,
) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = fs::metadata(dir) {
        if !visited.insert((meta.dev(), meta.ino())) {
            return Ok(());
        }
    }
    for entry in fs::read_dir(dir).map_err(|e| listing(dir, e))?.flatten() {
        let name = entry.file_name();
        let path = join(dir, &name);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, extensions, found, visited)?,
            Ok(meta)
                if meta.is_file() && extensions.iter().any(|e| name.as_bytes().ends_with(e)) =>
            {
                found.push(path)
            }
            _ => {}
        }
    }
    Ok(())
}

/// `dir/name`, with exactly the slash File::Find puts between them (a top
/// directory `t//` stays `t//`, so its files are `t//a.t`, as under prove).
fn join(dir: &Path, name: &OsString) -> PathBuf {
    let mut bytes = dir.as_os_str().as_bytes().to_vec();
    bytes.push(b'/');
    bytes.extend_from_slice(name.as_bytes());
    PathBuf::from(OsString::from_vec(bytes))
}

fn listing(dir: &Path, e: std::io::Error) -> Error {
    Error::Usage(format!("{}: cannot list directory: {}", dir.display(), e))
}

/// File::Spec's canonical form of a directory, as prove's glob names files
/// under it: `t//` and `./t/` are `t`, `.` stays `.`.
fn canonical(dir: &Path) -> PathBuf {
    let bytes = dir.as_os_str().as_bytes();
    let absolute = bytes.starts_with(b"/");
    let parts: Vec<&[u8]> = bytes
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    let mut out = Vec::new();
    if absolute {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    PathBuf::from(OsString::from_vec(out))
}

/// How prove would run `path`: `--exec CMD` runs `CMD path` (`''`: the file
/// itself); otherwise an executable binary runs itself and anything else
/// goes to perl (TAP::Parser's Perl handler votes for every file, above the
/// Executable handler's vote for a script). A file that cannot be read goes
/// to perl too, which fails it, as under prove. A name that is not there, a
/// directory, or a file `--exec ''` cannot run is a usage error (prove dies
/// on each, though only when it reaches it).
pub fn test_file(path: PathBuf, exec: Option<&[String]>) -> Result<TestFile> {
    let meta = fs::metadata(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::Usage(format!("{}: no such file or directory", path.display()))
        }
        _ => Error::Usage(format!("{}: {}", path.display(), e)),
    })?;
    if meta.is_dir() {
        return Err(Error::Usage(format!(
            "{}: is a directory, not a test file",
            path.display()
        )));
    }
    let executable = meta.permissions().mode() & 0o111 != 0;
    let how = match exec {
        Some(cmd) if !cmd.is_empty() => How::Command(cmd.to_vec()),
        Some(_) if !executable => {
            return Err(Error::Usage(format!(
                "{}: is not executable, and --exec '' runs each file itself",
                path.display()
            )))
        }
        Some(_) => How::Itself,
        None if executable && binary(&path) => How::Itself,
        None => How::Perl,
    };
    Ok(TestFile::read_or_run_anyway(path, how))
}

/// perl's `-B`: the file's first block holds a NUL, or more than a third of
/// it is neither text nor UTF-8; an empty file counts as binary. A file that
/// cannot be read is not.
fn binary(path: &Path) -> bool {
    let mut block = Vec::with_capacity(512);
    let read = fs::File::open(path).and_then(|f| f.take(512).read_to_end(&mut block));
    if read.is_err() {
        return false;
    }
    if block.is_empty() || block.contains(&0) {
        return true;
    }
    if std::str::from_utf8(&block).is_ok() {
        return false;
    }
    let odd = block
        .iter()
        .filter(|&&b| (b < 32 && !b"\n\r\t\x08\x0c\x1b".contains(&b)) || b > 127)
        .count();
    odd * 3 > block.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    /// A tree of empty files, with a current directory of its own: the names
    /// prove gives are relative, so each case runs there.
    fn tree(name: &str, files: &[&str]) -> ScratchDir {
        ScratchDir::with_files(&format!("provefiles-{}", name), files)
    }

    fn found(d: &ScratchDir, args: &[&str], recurse: bool, ext: &[&str]) -> Vec<String> {
        let ext: Vec<String> = ext.iter().map(|e| e.to_string()).collect();
        let args: Vec<PathBuf> = args.iter().map(|a| d.path().join(a)).collect();
        let search = Search {
            recurse,
            extensions: &ext,
        };
        let prefix = format!("{}/", d.path().display());
        names(&args, Vec::new(), false, &search, &mut io_empty())
            .unwrap()
            .into_iter()
            .map(|p| p.to_string_lossy().replacen(&prefix, "", 1))
            .collect()
    }

    fn io_empty() -> std::io::Cursor<Vec<u8>> {
        std::io::Cursor::new(Vec::new())
    }

    #[test]
    fn extensions_with_or_without_a_dot_and_several_sorted_together() {
        let d = tree(
            "ext",
            &[
                "t/a.t", "t/b.sh", "t/c.test", "t/dash", "t/.h.sh", "t/s/d.sh",
            ],
        );
        assert_eq!(found(&d, &["t"], false, &[]), ["t/a.t"]);
        assert_eq!(found(&d, &["t"], false, &[".sh"]), ["t/b.sh"]);
        assert_eq!(found(&d, &["t"], false, &["sh"]), ["t/b.sh", "t/dash"]);
        assert_eq!(
            found(&d, &["t"], false, &[".test", ".t"]),
            ["t/a.t", "t/c.test"]
        );
        assert_eq!(
            found(&d, &["t"], true, &[".sh"]),
            ["t/.h.sh", "t/b.sh", "t/s/d.sh"],
            "-r takes dot files, as File::Find does"
        );
        assert_eq!(
            found(&d, &["t"], false, &[""]).len(),
            5,
            "'' is every entry, a directory too, as prove's glob"
        );
    }

    #[test]
    fn named_files_run_once_and_as_given() {
        let d = tree("dups", &["t/a.t", "t/b.t"]);
        assert_eq!(
            found(&d, &["t/b.t", "t", "t/b.t"], false, &[]),
            ["t/b.t", "t/a.t"]
        );
        assert_eq!(
            found(&d, &["t/x.sh"], false, &[]),
            ["t/x.sh"],
            "a name given is taken even if missing"
        );
    }

    #[test]
    fn directories_named_as_prove_names_them() {
        assert_eq!(canonical(Path::new("t//")), PathBuf::from("t"));
        assert_eq!(canonical(Path::new("./t/./x/")), PathBuf::from("t/x"));
        assert_eq!(canonical(Path::new(".")), PathBuf::from("."));
        assert_eq!(canonical(Path::new("/")), PathBuf::from("/"));
        let d = tree("slash", &["t/a.t"]);
        let top = format!("{}/t//", d.path().display());
        let names = below(
            Path::new(&top),
            &Search {
                recurse: true,
                extensions: &[],
            },
        )
        .unwrap();
        assert_eq!(names, [PathBuf::from(format!("{}a.t", top))]);
    }

    #[test]
    fn a_dash_reads_names_from_stdin_after_the_rest() {
        let d = tree("stdin", &["t/a.t"]);
        let search = Search {
            recurse: false,
            extensions: &[],
        };
        let mut input = std::io::Cursor::new(b"t/z.t\nt/a.t\n".to_vec());
        let got = names(
            &[PathBuf::from("-"), d.path().join("t/a.t")],
            Vec::new(),
            false,
            &search,
            &mut input,
        )
        .unwrap();
        assert_eq!(
            got,
            [
                d.path().join("t/a.t"),
                PathBuf::from("t/z.t"),
                PathBuf::from("t/a.t")
            ]
        );
    }

    #[test]
    fn perl_runs_all_but_executable_binaries() {
        let d = tree("how", &[]);
        fs::create_dir_all(d.path()).unwrap();
        let file = |name: &str, body: &[u8], mode: u32| {
            let p = d.path().join(name);
            fs::write(&p, body).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let how = |p: PathBuf, exec: Option<&[String]>| test_file(p, exec).map(|f| f.how);
        assert_eq!(
            how(file("a.sh", b"#!/bin/sh\necho 1..0\n", 0o755), None).unwrap(),
            How::Perl
        );
        assert_eq!(
            how(file("b", b"\x7fELF\0\0\x01", 0o755), None).unwrap(),
            How::Itself
        );
        assert_eq!(
            how(file("c", b"\x7fELF\0\0\x01", 0o644), None).unwrap(),
            How::Perl
        );
        assert_eq!(
            how(file("d.t", b"print 1", 0o644), Some(&["sh".to_string()])).unwrap(),
            How::Command(vec!["sh".to_string()])
        );
        let err = how(d.path().join("d.t"), Some(&[])).unwrap_err();
        assert!(err.to_string().contains("is not executable"), "{}", err);
        let err = how(d.path().join("nope.t"), None).unwrap_err();
        assert!(err.to_string().contains("nope.t: no such file"), "{}", err);
    }
}
