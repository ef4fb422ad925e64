//! The files that fail when preloaded, remembered between runs in
//! `fails-preloaded.jsonl` (one `{"file":..,"mtime":..,"size":..}` a line).
//! A file that failed in a preloaded perl and passed in a fresh one (see
//! `overlord::preload`) is held back from preload in the next runs, which then
//! spend no preloaded try on it, until the file changes (its mtime or size) or
//! `--preload-recheck` is given; a run that preloads it again and sees it pass
//! forgets it. It owns that file only: which files the run holds back is the
//! command's to apply (as `headers.no_preload`), the verdicts the overlord's.
//! The file is a cache: one that cannot be read is a warning, and rewritten.

use super::FileResult;
use crate::event::JobResult;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

const FILE: &str = "fails-preloaded.jsonl";

/// What a remembered file looked like when it failed preloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    /// Modification time, in nanoseconds since the epoch.
    mtime: u64,
    size: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(Stamp {
            mtime: u64::try_from(mtime.as_nanos()).unwrap_or(u64::MAX),
            size: meta.len(),
        })
    }
}

/// The remembered files, and which of them this run holds back.
pub struct Fallback {
    path: PathBuf,
    remembered: HashMap<String, Stamp>,
    held_back: HashSet<String>,
}

impl Fallback {
    /// Reads what earlier runs remembered in `state_dir`; with a warning
    /// naming the file when it is not one proctor wrote.
    pub fn load(state_dir: &Path) -> (Fallback, Option<String>) {
        let path = state_dir.join(FILE);
        let read = fs::read_to_string(&path).map(|text| parse(&text));
        let (remembered, warning) = super::read_or_warn(
            &path,
            read,
            "files that failed preloaded are preloaded again",
        );
        let fallback = Fallback {
            path,
            remembered,
            held_back: HashSet::new(),
        };
        (fallback, warning)
    }

    /// Whether `file` (as the run names it) is held back from preload: it
    /// failed preloaded, and has not changed since. Unless `recheck`, it is
    /// noted as held back, so that this run's pass without preload does not
    /// make it forgotten.
    pub fn holds_back(&mut self, file: &str, recheck: bool) -> bool {
        let unchanged = self
            .remembered
            .get(file)
            .map_or(false, |&stamp| Stamp::of(Path::new(file)) == Some(stamp));
        if unchanged && !recheck {
            self.held_back.insert(file.to_string());
            return true;
        }
        false
    }

    /// How many files this run holds back.
    pub fn held_back(&self) -> usize {
        self.held_back.len()
    }

    /// Learns from this run's results: a file that failed preloaded and
    /// passed without is remembered as it is now; one that ran preloaded and
    /// passed is forgotten. Written only when that changed anything.
    pub fn save(mut self, results: &[FileResult]) -> io::Result<()> {
        let mut changed = false;
        for r in results {
            if r.fails_preloaded {
                if let Some(stamp) = Stamp::of(Path::new(&r.file)) {
                    changed |= self.remembered.insert(r.file.clone(), stamp) != Some(stamp);
                }
            } else if r.result != JobResult::Fail && !self.held_back.contains(&r.file) {
                changed |= self.remembered.remove(&r.file).is_some();
            }
        }
        if !changed {
            return Ok(());
        }
        if self.remembered.is_empty() {
            return fs::remove_file(&self.path).or_else(|e| match e.kind() {
                io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            });
        }
        let mut files: Vec<(&String, &Stamp)> = self.remembered.iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        let mut text = Vec::with_capacity(files.len() * 64);
        for (file, stamp) in files {
            text.extend_from_slice(b"{\"file\":");
            crate::json::write_str(&mut text, file);
            crate::json::write_u64_field(&mut text, "mtime", stamp.mtime);
            crate::json::write_u64_field(&mut text, "size", stamp.size);
            text.extend_from_slice(b"}\n");
        }
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self
            .path
            .with_file_name(format!(".{}.{}", name, std::process::id()));
        fs::File::create(&tmp)?.write_all(&text)?;
        fs::rename(&tmp, &self.path)
    }
}

/// The remembered files, or the number of the first line that is not one.
fn parse(text: &str) -> Result<HashMap<String, Stamp>, usize> {
    let mut remembered = HashMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let entry = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| {
                let stamp = Stamp {
                    mtime: v["mtime"].as_u64()?,
                    size: v["size"].as_u64()?,
                };
                Some((v["file"].as_str()?.to_string(), stamp))
            });
        match entry {
            Some((file, stamp)) => remembered.insert(file, stamp),
            None => return Err(n + 1),
        };
    }
    Ok(remembered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(file: &Path, result: JobResult, fails_preloaded: bool) -> FileResult {
        FileResult {
            file: file.to_string_lossy().into_owned(),
            result,
            duration: 0.1,
            fails_preloaded,
        }
    }

    #[test]
    fn a_file_is_held_back_until_it_changes_or_passes_preloaded() {
        let scratch = crate::scratch::ScratchDir::new("fallback");
        let dir = scratch.path();
        let t = dir.join("a.t");
        fs::write(&t, "ok 1\n").unwrap();
        let name = t.to_string_lossy().into_owned();
        let (fallback, warning) = Fallback::load(dir);
        assert_eq!(warning, None);
        fallback.save(&[result(&t, JobResult::Pass, true)]).unwrap();
        let (mut fallback, _) = Fallback::load(dir);
        assert!(fallback.holds_back(&name, false));
        assert_eq!(fallback.held_back(), 1);
        // Held back and passing without preload: still remembered.
        fallback
            .save(&[result(&t, JobResult::Pass, false)])
            .unwrap();
        let (mut fallback, _) = Fallback::load(dir);
        assert!(!fallback.holds_back(&name, true), "a recheck preloads it");
        fallback
            .save(&[result(&t, JobResult::Pass, false)])
            .unwrap();
        let (mut fallback, _) = Fallback::load(dir);
        assert!(
            !fallback.holds_back(&name, false),
            "forgotten once it passed preloaded"
        );
        assert!(!dir.join(FILE).exists());
        fallback.save(&[result(&t, JobResult::Pass, true)]).unwrap();
        fs::write(&t, "ok 1\nok 2\n").unwrap();
        let (mut fallback, _) = Fallback::load(dir);
        assert!(
            !fallback.holds_back(&name, false),
            "changed: preloaded again"
        );
    }

    #[test]
    fn a_file_that_is_not_ours_is_a_warning_naming_it() {
        let scratch = crate::scratch::ScratchDir::new("fallback-bad");
        let dir = scratch.path();
        fs::write(
            dir.join(FILE),
            "{\"file\":\"a.t\",\"mtime\":1,\"size\":2}\nnonsense\n",
        )
        .unwrap();
        let (mut fallback, warning) = Fallback::load(dir);
        let warning = warning.unwrap();
        assert!(
            warning.contains(&format!(
                "{}:2: not a proctor state file",
                dir.join(FILE).display()
            )),
            "{}",
            warning
        );
        assert!(!fallback.holds_back("a.t", false));
    }
}
