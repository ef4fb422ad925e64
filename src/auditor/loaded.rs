//! What a preloaded test said it loaded (`--preload auto`): the Perl stage,
//! started with `--record-modules`, has each test write, at its end, the
//! modules it loaded to `modules-PID` in the run directory (see
//! `report_modules` in src/stage/perl_stage.pl); its auditor takes the file
//! once the test has exited and writes it to the job's log as a `modules`
//! record, before `job_end`.

use std::path::{Path, PathBuf};

/// Where the test `pid` of a stage started in `run_dir` reports.
pub fn report_path(run_dir: &Path, pid: libc::pid_t) -> PathBuf {
    run_dir.join(format!("modules-{}", pid))
}

/// The modules a test loaded, in the order it first required them, and those
/// of them that came from the project.
#[derive(Debug, Default, PartialEq)]
pub struct Loaded {
    pub modules: Vec<String>,
    pub project: Vec<String>,
}

/// Reads and removes the report at `path`; None when the test wrote none (it
/// never reached its end, or it was not recorded).
pub fn take(path: &Path) -> Option<Loaded> {
    let text = std::fs::read_to_string(path).ok()?;
    let _ = std::fs::remove_file(path);
    Some(parse(&text))
}

/// A line per module: `p NAME` from the project, `- NAME` from elsewhere.
fn parse(text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    for line in text.lines() {
        let (mark, module) = match line.split_once(' ') {
            Some(parts) => parts,
            None => continue,
        };
        if mark == "p" {
            loaded.project.push(module.to_string());
        }
        loaded.modules.push(module.to_string());
    }
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_modules_in_order_and_marks_the_project_s() {
        let loaded = parse("- Test::More\np My::Lib\n- Carp\nbroken\n");
        assert_eq!(loaded.modules, ["Test::More", "My::Lib", "Carp"]);
        assert_eq!(loaded.project, ["My::Lib"]);
    }
}
