//! What each perl file loaded when it last ran preloaded under
//! `--preload auto`, kept in `modules.jsonl` in the state directory (a line
//! per file: `{"file":..,"modules":[..],"project":[..]}`), and what `auto`
//! preloads from it: the modules not from the project that at least half of
//! a run's preloaded files loaded, in the order they were first loaded. The
//! lists come from each job's `modules` record (see `crate::auditor::loaded`),
//! gathered by the overlord's totals; written once a run, at its end.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

pub const MODULES: &str = "modules.jsonl";

/// The modules one file loaded, in order, and those of them from the project.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileModules {
    pub file: String,
    pub modules: Vec<String>,
    pub project: Vec<String>,
}

impl FileModules {
    pub fn is_project(&self, module: &str) -> bool {
        self.project.iter().any(|p| p == module)
    }
}

fn strings(v: &serde_json::Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(String::from))
        .collect()
}

fn parse(line: &str) -> Option<FileModules> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(FileModules {
        file: v["file"].as_str()?.to_string(),
        modules: strings(&v["modules"])?,
        project: strings(&v["project"])?,
    })
}

/// The lists kept, in the order written; a warning naming the file when it
/// could not be read (then nothing is known).
pub fn load(state_dir: &Path) -> (Vec<FileModules>, Option<String>) {
    let path = state_dir.join(MODULES);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (Vec::new(), None),
        Err(e) => return (Vec::new(), Some(format!("{}: {}", path.display(), e))),
    };
    let mut kept = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        match parse(line) {
            Some(m) => kept.push(m),
            None => {
                let why = format!(
                    "{}:{}: not a proctor state file; it is ignored and will be rewritten",
                    path.display(),
                    n + 1
                );
                return (Vec::new(), Some(why));
            }
        }
    }
    (kept, None)
}

/// Replaces the lists of the files in `fresh` (this run's; a file's last
/// list wins), keeps the others, and writes the file anew.
pub fn save(state_dir: &Path, fresh: &[FileModules]) -> io::Result<()> {
    if fresh.is_empty() {
        return Ok(());
    }
    let path = state_dir.join(MODULES);
    let (mut kept, _) = load(state_dir);
    let newest: HashMap<&str, &FileModules> = fresh.iter().map(|m| (m.file.as_str(), m)).collect();
    kept.retain(|m| !newest.contains_key(m.file.as_str()));
    let mut written = std::collections::HashSet::new();
    let fresh_once = fresh
        .iter()
        .rev()
        .filter(|m| written.insert(m.file.as_str()))
        .collect::<Vec<_>>();
    let tmp = state_dir.join(format!(".{}.{}", MODULES, std::process::id()));
    let mut out = io::BufWriter::new(fs::File::create(&tmp)?);
    let mut line = Vec::with_capacity(1024);
    for m in kept.iter().chain(fresh_once.into_iter().rev()) {
        line.clear();
        line.extend_from_slice(b"{\"file\":");
        crate::json::write_str(&mut line, &m.file);
        crate::json::write_str_list_field(&mut line, "modules", &m.modules);
        crate::json::write_str_list_field(&mut line, "project", &m.project);
        line.extend_from_slice(b"}\n");
        io::Write::write_all(&mut out, &line)?;
    }
    io::Write::flush(&mut out)?;
    drop(out);
    fs::rename(&tmp, &path)
}

/// What `--preload auto` chooses from the lists of a run's preloaded files
/// (in run order): each module not from the project, and not one the project
/// provides (`provided`), that at least half of them loaded, with how many
/// did, in the order of first appearance.
pub struct Choice {
    pub files: usize,
    pub modules: Vec<(String, usize)>,
    /// Modules as often loaded left out because the project provides them.
    pub provided: Vec<String>,
}

pub fn choose(lists: &[&FileModules], provided: impl Fn(&str) -> bool) -> Choice {
    let mut order: Vec<&str> = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for list in lists {
        for module in list.modules.iter().filter(|m| !list.is_project(m)) {
            let count = counts.entry(module).or_insert(0);
            if *count == 0 {
                order.push(module);
            }
            *count += 1;
        }
    }
    let files = lists.len();
    let mut choice = Choice {
        files,
        modules: Vec::new(),
        provided: Vec::new(),
    };
    // A module any file took from the project is never the stage's to load.
    let from_project = |m: &str| lists.iter().any(|l| l.is_project(m));
    for module in order {
        let count = counts[module];
        if count * 2 < files || from_project(module) {
            continue;
        }
        if provided(module) {
            choice.provided.push(module.to_string());
        } else {
            choice.modules.push((module.to_string(), count));
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(file: &str, modules: &[&str], project: &[&str]) -> FileModules {
        FileModules {
            file: file.into(),
            modules: modules.iter().map(|s| s.to_string()).collect(),
            project: project.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn auto_takes_what_half_the_files_loaded_in_first_order() {
        let a = list("a.t", &["Test::More", "My", "Carp", "Rare"], &["My"]);
        let b = list("b.t", &["Moo", "Test::More", "My"], &["My"]);
        let c = list("c.t", &["Test::More", "Moo", "Other"], &[]);
        let d = list("d.t", &["Carp", "Moo"], &[]);
        let choice = choose(&[&a, &b, &c, &d], |_| false);
        assert_eq!(choice.files, 4);
        let names: Vec<(&str, usize)> = choice
            .modules
            .iter()
            .map(|(m, n)| (m.as_str(), *n))
            .collect();
        assert_eq!(names, [("Test::More", 3), ("Carp", 2), ("Moo", 3)]);
    }

    #[test]
    fn auto_leaves_out_what_the_project_provides_or_any_file_took_from_it() {
        let a = list("a.t", &["Test::More", "Lib", "Mixed"], &["Mixed"]);
        let b = list("b.t", &["Test::More", "Lib", "Mixed"], &[]);
        let choice = choose(&[&a, &b], |m| m == "Lib");
        assert_eq!(choice.modules, [("Test::More".to_string(), 2)]);
        assert_eq!(choice.provided, ["Lib"]);
    }

    #[test]
    fn nothing_known_chooses_nothing() {
        let choice = choose(&[], |_| false);
        assert_eq!(choice.files, 0);
        assert!(choice.modules.is_empty());
    }

    #[test]
    fn a_run_replaces_only_its_own_files_lists() {
        let scratch = crate::scratch::ScratchDir::new("modules-state");
        let dir = scratch.path();
        save(dir, &[list("a.t", &["A"], &[]), list("b.t", &["B"], &[])]).unwrap();
        save(
            dir,
            &[list("b.t", &["C"], &["C"]), list("b.t", &["D"], &[])],
        )
        .unwrap();
        let (kept, warning) = load(dir);
        assert!(warning.is_none());
        assert_eq!(kept, [list("a.t", &["A"], &[]), list("b.t", &["D"], &[])]);
    }
}
