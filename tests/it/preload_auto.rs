//! `--preload auto`: a run records what each perl file loads, the state keeps
//! it, and the next run preloads what at least half of the files loaded,
//! never the project's own modules.

use crate::common::*;
use std::fs;

/// Each file says, before its own `use` lines run, which of the modules
/// were already loaded (so preloaded), then loads its own.
fn file_using(modules: &[&str]) -> String {
    format!(
        "BEGIN {{ print '# loaded before: ', join(' ', grep {{ $INC{{\"$_.pm\"}} }} qw(Common Rare Mine Shadow)), \"\\n\" }}\n\
         {}\nprint \"1..1\\nok 1\\n\";\n",
        modules.iter().map(|m| format!("use {};", m)).collect::<Vec<_>>().join("\n")
    )
}

/// A project in `proj/` whose tests load Common (all of them), Rare (one of
/// three), Mine (t/lib: the project's) and Shadow (from outside, but the
/// project has a lib/Shadow.pm of its own); Common, Rare and Shadow come
/// from `ext/`, outside the project, through PERL5LIB.
fn project() -> Project {
    let p = Project::new();
    for m in ["Common", "Rare", "Shadow"] {
        p.script(&format!("ext/{}.pm", m), &format!("package {};\n1;\n", m));
    }
    p.script("proj/lib/Shadow.pm", "package Shadow;\n1;\n");
    p.script("proj/t/lib/Mine.pm", "package Mine;\n1;\n");
    p.script(
        "proj/t/a.t",
        &file_using(&["Common", "Rare", "Mine", "Shadow"]),
    );
    p.script("proj/t/b.t", &file_using(&["Common", "Mine", "Shadow"]));
    p.script("proj/t/c.t", &file_using(&["Mine", "Common", "Shadow"]));
    p
}

fn auto_run(p: &Project) -> Run {
    let ext = p.dir.join("ext");
    p.proctor_in(
        &p.dir.join("proj"),
        &["test", "-j2", "-I", "t/lib", "--preload", "auto", "t"],
        &[("PERL5LIB", ext.as_os_str())],
    )
}

fn loaded_before(events: &[serde_json::Value], file: &str) -> String {
    let job = job_end(events, file)["job"].clone();
    events
        .iter()
        .filter(|e| e["job"] == job && e["type"] == "comment")
        .filter_map(|e| e["line"].as_str())
        .find_map(|l| l.strip_prefix("# loaded before: ").map(String::from))
        .unwrap_or_default()
}

#[test]
fn a_first_run_records_what_each_file_loaded_and_the_next_preloads_what_half_did() {
    let p = project();
    let first = auto_run(&p);
    first.expect_status(0).expect_stderr(
        "proctor: --preload auto: nothing known yet; this run records what each perl file loads",
    );
    let events = p.events();
    let modules: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["type"] == "modules").collect();
    assert_eq!(modules.len(), 3, "{:?}", modules);
    let a = job_end(&events, "t/a.t")["job"].clone();
    let of_a = modules
        .iter()
        .find(|m| m["job"] == a)
        .expect("a.t's record");
    assert_eq!(
        of_a["modules"],
        serde_json::json!(["Common", "Rare", "Mine", "Shadow"])
    );
    assert_eq!(of_a["project"], serde_json::json!(["Mine"]));
    for file in ["t/a.t", "t/b.t", "t/c.t"] {
        assert_eq!(loaded_before(&events, file), "", "{}", file);
    }
    let kept =
        fs::read_to_string(p.state().join("modules.jsonl")).expect("the state keeps the lists");
    assert_eq!(kept.lines().count(), 3, "{}", kept);

    let listed = p.proctor_in(&p.dir.join("proj"), &["modules", "t/a.t"], &[]);
    listed.expect_status(0);
    assert_eq!(
        listed.stdout(),
        "t/a.t:\n  Common\n  Rare\n  Mine  (project)\n  Shadow\n"
    );
    let chosen = p.proctor_in(&p.dir.join("proj"), &["modules"], &[]);
    chosen.expect_status(0).expect_stdout("      3  Common\n");
    chosen.expect_stdout("  never  Shadow  (the project has its own)\n");
    assert!(!chosen.stdout().contains("Rare"), "{}", chosen.stdout());

    let second = auto_run(&p);
    second.expect_status(0).expect_stderr(
        "proctor: --preload auto: 1 module that at least half of the 3 perl files loaded in earlier runs",
    );
    let events = p.events();
    for file in ["t/a.t", "t/b.t", "t/c.t"] {
        assert_eq!(loaded_before(&events, file), "Common", "{}", file);
    }
}

#[test]
fn the_run_s_own_stage_records_too() {
    let p = Project::new();
    p.script(
        "t/0-kills-auditor.t",
        "print \"1..1\\nok 1\\n\";\nkill 'KILL', getppid();\nsleep 5;\n",
    );
    for i in 1..=20 {
        p.script(
            &format!("t/{:02}.t", i),
            "use Data::Dumper;\nselect undef, undef, undef, 0.05;\nprint \"1..1\\nok 1\\n\";\n",
        );
    }
    p.proctor(&["test", "-j2", "--preload", "auto"])
        .expect_status(1);
    let events = p.events();
    let in_the_run_s_stage: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "job_launch" && e["dir"].is_string())
        .collect();
    assert!(
        !in_the_run_s_stage.is_empty(),
        "no job ran in the run's stage"
    );
    for launch in in_the_run_s_stage {
        let record = events
            .iter()
            .find(|e| e["type"] == "modules" && e["job"] == launch["job"]);
        let record = record.unwrap_or_else(|| panic!("no modules record for {}", launch["file"]));
        assert!(
            record["modules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "Data::Dumper"),
            "{:?}",
            record
        );
    }
}

#[test]
fn auto_without_perl_files_runs_them_plain_and_says_nothing() {
    let p = Project::new();
    p.script("t/a.t", "#!/bin/sh\necho 1..1\necho ok 1\n");
    let run = p.proctor(&[
        "test",
        "--ext",
        ".t",
        "--exec",
        "sh",
        "--preload",
        "auto",
        "t",
    ]);
    run.expect_status(0);
    assert!(!run.stderr().contains("--preload auto"), "{}", run.stderr());
    assert!(!p.state().join("modules.jsonl").exists());
}

#[test]
fn a_state_file_that_is_not_proctor_s_is_named_in_a_warning() {
    let p = project();
    fs::create_dir_all(p.state()).unwrap();
    fs::write(p.state().join("modules.jsonl"), "not json\n").unwrap();
    let run = auto_run(&p);
    run.expect_status(0)
        .expect_stderr("modules.jsonl:1: not a proctor state file");
    run.expect_stderr("nothing known yet");
}

#[test]
fn modules_of_a_file_never_recorded_is_an_error_naming_it() {
    let p = Project::new();
    p.proctor(&["modules", "t/none.t"])
        .expect_status(1)
        .expect_stderr("t/none.t: nothing known of what it loads");
}

#[test]
fn proctor_start_refuses_auto() {
    let p = Project::new();
    p.proctor(&["start", "--preload", "auto"])
        .expect_status(2)
        .expect_stderr("--preload auto");
}
