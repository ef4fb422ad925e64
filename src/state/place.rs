//! Where the state directory is, before anything is made there.
//!
//! Named outright (`--state-dir`, `PROCTOR_STATE_DIR`), or under
//! `$XDG_STATE_HOME`, or `~/.local/state`. A HOME that cannot hold it (a
//! packager's build runs with HOME=/nonexistent) is never created: the state
//! goes to one private directory per user instead, `$TMPDIR/proctor-$UID/`,
//! trusted only while it is this user's and closed to everyone else; another
//! thing at that name is passed over for `proctor-$UID.1`, and so on. Every
//! command finds the same one, so `failed` works there too.

use crate::sys;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How many names the private directory may try before giving up.
const PRIVATE_NAMES: u32 = 10;

/// A state directory, and what chose it.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    pub dir: PathBuf,
    /// For people: a flag, a variable, a default.
    pub why: &'static str,
    /// Why HOME could not hold the state, when `dir` is in the private
    /// directory; `dir`'s parent is then that directory.
    pub fallback: Option<String>,
}

/// `project` names the project's state directory; asked only when the
/// directory is not named outright (it costs a getcwd).
pub fn located(explicit: Option<&Path>, project: impl Fn() -> String) -> Location {
    let named = |dir: PathBuf, why| Location {
        dir,
        why,
        fallback: None,
    };
    if let Some(dir) = explicit {
        return named(dir.to_path_buf(), "--state-dir");
    }
    if let Some(dir) = std::env::var_os("PROCTOR_STATE_DIR").filter(|d| !d.is_empty()) {
        return named(PathBuf::from(dir), "PROCTOR_STATE_DIR");
    }
    if let Some(base) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return named(
            Path::new(&base).join("proctor").join(project()),
            "$XDG_STATE_HOME/proctor/<project>",
        );
    }
    let in_home = match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => in_home(Path::new(&home), &project()),
        None => Err("HOME is not set".to_string()),
    };
    match in_home {
        Ok(dir) => named(dir, "~/.local/state/proctor/<project>"),
        Err(why) => private(why, &project()),
    }
}

/// The state directory in the private directory, for `why` HOME would not do.
/// The private directory is made here, so that whatever makes the state
/// directory next (a run, a driver's log, a persistent runner) finds it closed.
pub fn private(why: String, project: &str) -> Location {
    let private = private_dir();
    // Not made, it is refused when a run makes its state directory there.
    let _ = make_private(&private);
    Location {
        dir: private.join(project),
        why: "no usable HOME: $TMPDIR/proctor-$UID/<project>",
        fallback: Some(why),
    }
}

/// `~/.local/state/proctor/<project>`, when HOME is a directory this user can
/// make it in (or it is there already).
fn in_home(home: &Path, project: &str) -> Result<PathBuf, String> {
    let dir = home.join(".local/state/proctor").join(project);
    // Nearly every run: made by an earlier one, and one stat says so.
    if dir.is_dir() {
        return Ok(dir);
    }
    match fs::metadata(home) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("HOME ({}) is not a directory", home.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!("HOME ({}) does not exist", home.display()))
        }
        Err(e) => return Err(format!("HOME ({}): {}", home.display(), e)),
    }
    let nearest = dir.ancestors().find(|d| d.is_dir()).unwrap_or(home);
    if sys::writable_dir(nearest) {
        Ok(dir)
    } else {
        Err(format!("HOME ({}) is not writable", nearest.display()))
    }
}

/// The first of `$TMPDIR/proctor-$UID`, `proctor-$UID.1`, ... that is not
/// there yet or is this user's private directory.
fn private_dir() -> PathBuf {
    let uid = sys::getuid();
    let base = std::env::temp_dir();
    let name = |n: u32| match n {
        0 => format!("proctor-{}", uid),
        n => format!("proctor-{}.{}", uid, n),
    };
    (0..PRIVATE_NAMES)
        .map(|n| base.join(name(n)))
        .find(|dir| match fs::symlink_metadata(dir) {
            Ok(m) => is_private(&m),
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        })
        // None will do: the first, which make_private then refuses.
        .unwrap_or_else(|| base.join(name(0)))
}

/// A real directory (not a link to one) of this user's that no one else may
/// enter.
fn is_private(m: &fs::Metadata) -> bool {
    m.file_type().is_dir() && m.uid() == sys::getuid() && m.mode() & 0o077 == 0
}

/// Makes the private directory `dir`, mode 0700, or checks that the one there
/// is still private.
pub fn make_private(dir: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if is_private(&fs::symlink_metadata(dir)?) {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} is not a directory of this user's alone, and neither are the {} names after it",
                        dir.display(),
                        PRIVATE_NAMES - 1
                    ),
                ))
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_used_only_where_it_can_hold_the_state() {
        let missing = in_home(Path::new("/nonexistent-proctor-home"), "p-1").unwrap_err();
        assert!(missing.contains("does not exist"), "{}", missing);
        assert!(!Path::new("/nonexistent-proctor-home").exists());
        let file = in_home(Path::new("/dev/null"), "p-1").unwrap_err();
        assert!(file.contains("not a directory"), "{}", file);
    }

    #[test]
    fn the_private_directory_is_made_closed_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::scratch::ScratchDir::new("private");
        let private = dir.path().join("p");
        make_private(&private).unwrap();
        let m = fs::symlink_metadata(&private).unwrap();
        assert_eq!(m.mode() & 0o777, 0o700);
        make_private(&private).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o755)).unwrap();
        let refused = make_private(&private).unwrap_err();
        assert!(refused
            .to_string()
            .contains("not a directory of this user's alone"));
        let link = dir.path().join("link");
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&private, &link).unwrap();
        assert!(make_private(&link).is_err(), "a link is not the directory");
    }
}
