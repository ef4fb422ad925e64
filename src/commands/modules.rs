//! `proctor modules`: what `--preload auto` knows (src/state/modules.rs):
//! each named file's modules, in the order it first loaded them, the
//! project's marked; without files, what auto would preload for every known
//! file that still exists, and how many files loaded each.

use crate::cli::LogArgs;
use crate::error::Result;
use crate::state;
use crate::state::modules::{self, FileModules};
use std::path::Path;

pub fn run(args: LogArgs) -> Result<i32> {
    let state_dir = state::locate(args.state_dir.as_deref());
    let (known, warning) = modules::load(&state_dir);
    if let Some(w) = warning {
        errln!("proctor: warning: {}", w);
    }
    if args.logs.is_empty() {
        let lists: Vec<&FileModules> = known
            .iter()
            .filter(|m| Path::new(&m.file).exists())
            .collect();
        return say_choice(&lists);
    }
    let mut missing = false;
    for file in &args.logs {
        let name = file.to_string_lossy();
        match known.iter().find(|m| m.file == name) {
            Some(list) => say_list(list)?,
            None => {
                errln!(
                    "proctor: {}: nothing known of what it loads (run it with --preload auto)",
                    name
                );
                missing = true;
            }
        }
    }
    Ok(if missing {
        crate::error::EXIT_FAIL
    } else {
        crate::error::EXIT_PASS
    })
}

fn say_list(list: &FileModules) -> Result<()> {
    outln!("{}:", list.file)?;
    for module in &list.modules {
        let project = if list.is_project(module) {
            "  (project)"
        } else {
            ""
        };
        outln!("  {}{}", module, project)?;
    }
    Ok(())
}

fn say_choice(lists: &[&FileModules]) -> Result<i32> {
    if lists.is_empty() {
        outln!("nothing known yet: run proctor test --preload auto")?;
        return Ok(crate::error::EXIT_PASS);
    }
    let includes: Vec<std::path::PathBuf> = Vec::new();
    let choice = super::preload_auto::choose_from(lists, &includes);
    outln!(
        "--preload auto would preload {} of the modules loaded by the {} perl files known (files loading each):",
        choice.modules.len(),
        choice.files
    )
    ?;
    for (module, count) in &choice.modules {
        outln!("  {:5}  {}", count, module)?;
    }
    for module in &choice.provided {
        outln!("  never  {}  (the project has its own)", module)?;
    }
    Ok(crate::error::EXIT_PASS)
}
