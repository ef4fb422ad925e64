//! `--preload auto`: what the run's stage preloads, chosen from what each
//! perl file of this run loaded when it last ran (`crate::state::modules`),
//! said once on stderr; and the stage set to record what each loads now.

use crate::job::{perl_dirs, JobSpec};
use crate::stage::StageSpec;
use crate::state::modules::{self, Choice, FileModules};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The word of `--preload` that asks for this.
pub const AUTO: &str = "auto";

/// Takes `auto` out of the `--preload` modules; whether it was there.
pub fn take_auto(preload: &mut Vec<String>) -> bool {
    let before = preload.len();
    preload.retain(|m| m != AUTO);
    preload.len() != before
}

/// The directories whose modules are the project's: where the run is, and
/// its -I, -l and -b directories.
pub fn project_dirs(lib: bool, blib: bool, includes: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = vec![std::env::current_dir().unwrap_or_default()];
    dirs.extend(perl_dirs(lib, blib, includes));
    dirs
}

/// Whether the project has a module of this name of its own: in lib,
/// blib/lib, blib/arch or an -I directory, whether or not the run uses them.
fn provided_by_project(module: &str, includes: &[PathBuf]) -> bool {
    let file = format!("{}.pm", module.replace("::", "/"));
    ["lib", "blib/lib", "blib/arch"]
        .iter()
        .map(Path::new)
        .chain(includes.iter().map(PathBuf::as_path))
        .any(|dir| dir.join(&file).is_file())
}

/// Adds to `stage` the modules auto chooses for the staged `jobs` (after
/// those given by name) and has it record what each test loads; says what
/// it chose, and why, on stderr.
pub fn apply(
    stage: &mut StageSpec,
    jobs: &[JobSpec],
    state_dir: &Path,
    includes: &[PathBuf],
    project: &[PathBuf],
) {
    let (known, warning) = modules::load(state_dir);
    if let Some(w) = warning {
        errln!("proctor: warning: {}", w);
    }
    let choice = choose_for(jobs, &known, includes);
    errln!("proctor: --preload auto: {}", explain(&choice));
    for (module, _) in &choice.modules {
        if !stage.args.iter().any(|a| a == module) {
            stage.args.extend(["--preload".to_string(), module.clone()]);
        }
    }
    stage.record_modules(project);
}

/// What auto preloads for the staged `jobs`, from what is known.
pub fn choose_for(jobs: &[JobSpec], known: &[FileModules], includes: &[PathBuf]) -> Choice {
    let by_file: HashMap<&str, &FileModules> = known.iter().map(|m| (m.file.as_str(), m)).collect();
    let lists: Vec<&FileModules> = jobs
        .iter()
        .filter(|j| j.staged)
        .filter_map(|j| by_file.get(j.display.as_str()).copied())
        .collect();
    choose_from(&lists, includes)
}

/// What auto preloads for files whose lists are `lists`, in run order, the
/// run's -I directories being `includes`.
pub fn choose_from(lists: &[&FileModules], includes: &[PathBuf]) -> Choice {
    modules::choose(lists, |m| provided_by_project(m, includes))
}

fn explain(choice: &Choice) -> String {
    if choice.files == 0 {
        return "nothing known yet; this run records what each perl file loads".to_string();
    }
    let chosen = choice.modules.len();
    let files = if choice.files == 1 { "file" } else { "files" };
    if chosen == 0 {
        return format!(
            "no module that at least half of the {} perl {} loaded in earlier runs; nothing preloaded",
            choice.files, files
        );
    }
    format!(
        "{} {} that at least half of the {} perl {} loaded in earlier runs (proctor modules lists them)",
        chosen,
        if chosen == 1 { "module" } else { "modules" },
        choice.files,
        files,
    )
}
