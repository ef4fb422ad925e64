//! The plan of a run, as JSON lines. The runner is forked before discovery, while
//! the process is small (every auditor it forks copies it, so its size is paid
//! once per test), and reads its plan from a pipe once the session has made it.

use super::{JobSpec, Launch};
use crate::discover::How;
use crate::headers::{Category, DurationHint, Headers};
use crate::job::audit::Leftovers;
use crate::stage::{StageSpec, PERL_STAGE};
use serde_json::{json, Value};
use std::ffi::CString;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::rc::Rc;

/// What one run is made of, decided before the runner starts.
pub struct Plan {
    pub jobs: Vec<JobSpec>,
    pub slots: usize,
    pub run_dir: PathBuf,
    pub launch: Launch,
    /// `--retry N`: how often a failing file is tried again (headers may say otherwise).
    pub retries: u32,
    /// `--retry-isolated`: retries run last, one at a time.
    pub retry_isolated: bool,
    /// `--preload-verify`: preloaded files that pass are run again without.
    pub preload_verify: bool,
    /// Where the tests run (the persistent runner's run is elsewhere).
    pub cwd: PathBuf,
}

impl Plan {
    /// The plan as JSON lines: the run's settings, then one line per job, so
    /// neither side ever holds a large JSON tree.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let l = &self.launch;
        let env: Vec<Value> = l.env.iter().map(|e| bytes_to_json(e.as_bytes())).collect();
        let head = json!({
            "slots": self.slots,
            "job_count": self.jobs.len(),
            "run_dir": self.run_dir.to_string_lossy(),
            "retries": self.retries,
            "retry_isolated": self.retry_isolated,
            "preload_verify": self.preload_verify,
            "cwd": self.cwd.to_string_lossy(),
            "launch": {
                "perl": l.perl.as_ref().map(|p| p.to_string_lossy().into_owned()),
                "commands": l.commands.iter().map(|(p, args)| json!({"program": p.to_string_lossy(), "args": args})).collect::<Vec<_>>(),
                "merge": l.merge,
                "keep": l.keep,
                "proctor": l.proctor,
                "stage": l.stage.as_ref().map(stage_to_json),
                "event_timeout": l.event_timeout.map(|d| d.as_secs_f64()),
                "leftovers": l.leftovers.as_str(),
                "perl_switches": l.perl_switches,
                "test_args": l.test_args,
                "ignore_exit": l.ignore_exit,
                "env": env,
            },
        });
        writeln!(out, "{}", head)?;
        for job in &self.jobs {
            writeln!(out, "{}", job_to_json(job))?;
        }
        out.flush()
    }

    /// Reads a plan written by [`Plan::write_to`], a line at a time. `Ok(None)`:
    /// there was no plan at all.
    #[cfg(test)]
    pub fn read_from(input: &mut dyn BufRead) -> Result<Option<Plan>, String> {
        let mut plan = match Plan::read_head(input)? {
            Some((plan, _)) => plan,
            None => return Ok(None),
        };
        plan.read_jobs(input)?;
        Ok(Some(plan))
    }

    /// Reads the run's settings, the plan's first line, and how many jobs
    /// follow; the jobs are left to [`Plan::read_jobs`], so that what needs only
    /// the settings (the launcher) can start before the queue fills memory.
    pub fn read_head(input: &mut dyn BufRead) -> Result<Option<(Plan, usize)>, String> {
        let mut head = String::new();
        match input.read_line(&mut head) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(format!("unable to read the plan: {}", e)),
        }
        let v: Value =
            serde_json::from_str(&head).map_err(|e| format!("the plan is not JSON: {}", e))?;
        let l = &v["launch"];
        let path = |v: &Value| v.as_str().map(PathBuf::from);
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        };
        let env = l["env"]
            .as_array()
            .ok_or("the plan has no environment")?
            .iter()
            .map(|e| CString::new(json_to_bytes(e)).unwrap_or_default())
            .collect();
        let launch = Launch {
            perl: path(&l["perl"]),
            commands: l["commands"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| path(&c["program"]).map(|p| (p, strings(&c["args"]))))
                .collect(),
            env: Rc::new(env),
            merge: l["merge"] == true,
            keep: l["keep"] == true,
            proctor: l["proctor"].as_str().unwrap_or("proctor").to_string(),
            stage: path(&l["stage"]["program"]).map(|program| StageSpec {
                name: l["stage"]["name"].as_str().unwrap_or("perl").to_string(),
                program,
                script: PERL_STAGE,
                args: strings(&l["stage"]["args"]),
            }),
            event_timeout: l["event_timeout"]
                .as_f64()
                .and_then(crate::numbers::timeout),
            leftovers: l["leftovers"]
                .as_str()
                .and_then(Leftovers::parse)
                .unwrap_or(Leftovers::WithRun),
            perl_switches: strings(&l["perl_switches"]),
            test_args: strings(&l["test_args"]),
            ignore_exit: l["ignore_exit"] == true,
        };
        let job_count = v["job_count"].as_u64().unwrap_or(0) as usize;
        let plan = Plan {
            jobs: Vec::with_capacity(job_count.min(1 << 20)),
            slots: v["slots"].as_u64().unwrap_or(1) as usize,
            run_dir: path(&v["run_dir"]).ok_or("the plan has no run directory")?,
            launch,
            retries: u32::try_from(v["retries"].as_u64().unwrap_or(0)).unwrap_or(u32::MAX),
            retry_isolated: v["retry_isolated"] == true,
            preload_verify: v["preload_verify"] == true,
            cwd: path(&v["cwd"]).ok_or("the plan has no directory to run in")?,
        };
        Ok(Some((plan, job_count)))
    }

    /// Reads the rest of the plan: one job a line.
    pub fn read_jobs(&mut self, input: &mut dyn BufRead) -> Result<(), String> {
        for line in input.lines() {
            let line = line.map_err(|e| format!("unable to read the plan: {}", e))?;
            let v: Value =
                serde_json::from_str(&line).map_err(|e| format!("a job is not JSON: {}", e))?;
            self.jobs.push(job_from_json(&v)?);
        }
        Ok(())
    }
}

/// A stage's settings as the plan carries them (its script is the binary's).
pub fn stage_to_json(s: &StageSpec) -> Value {
    json!({"name": s.name, "program": s.program.to_string_lossy(), "args": s.args})
}

/// An environment entry: a string, or `{"hex": ...}` when it is not UTF-8.
fn bytes_to_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => json!(s),
        Err(_) => json!({"hex": crate::json::hex(bytes)}),
    }
}

fn json_to_bytes(v: &Value) -> Vec<u8> {
    match (v.as_str(), v["hex"].as_str()) {
        (Some(s), _) => s.as_bytes().to_vec(),
        (None, Some(hex)) => (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect(),
        _ => Vec::new(),
    }
}

pub fn job_to_json(j: &JobSpec) -> Value {
    let h = &j.headers;
    json!({
        "display": j.display,
        "path": j.path.to_string_lossy(),
        "how": match &j.how { How::Perl => json!("perl"), How::Itself => json!("itself"), How::Command(c) => json!(c) },
        "staged": j.staged,
        "timeout_event": h.timeout_event,
        "category": match h.category { Category::General => "general", Category::Isolation => "isolation", Category::Immiscible => "immiscible" },
        "conflicts": h.conflicts,
        "duration": h.duration.map(|d| match d { DurationHint::Long => "long", DurationHint::Medium => "medium", DurationHint::Short => "short" }),
        "retries": h.retries,
        "slots": h.slots,
        "no_preload": h.no_preload,
        "taint": h.taint,
        "env": h.env,
    })
}

pub fn job_from_json(v: &Value) -> Result<JobSpec, String> {
    let how = match &v["how"] {
        Value::String(s) if s == "perl" => How::Perl,
        Value::String(s) if s == "itself" => How::Itself,
        Value::Array(words) => How::Command(
            words
                .iter()
                .filter_map(|w| w.as_str().map(String::from))
                .collect(),
        ),
        other => return Err(format!("a job runs in an unknown way: {}", other)),
    };
    let headers = Headers {
        timeout_event: v["timeout_event"].as_f64(),
        category: match v["category"].as_str() {
            Some("isolation") => Category::Isolation,
            Some("immiscible") => Category::Immiscible,
            _ => Category::General,
        },
        conflicts: v["conflicts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from))
            .collect(),
        duration: match v["duration"].as_str() {
            Some("long") => Some(DurationHint::Long),
            Some("medium") => Some(DurationHint::Medium),
            Some("short") => Some(DurationHint::Short),
            _ => None,
        },
        retries: v["retries"]
            .as_u64()
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        slots: v["slots"].as_u64().map(|n| n as usize),
        no_preload: v["no_preload"] == true,
        env: v["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(String::from))
            .collect(),
        taint: match v["taint"].as_str() {
            Some("-T") => Some("-T"),
            Some("-t") => Some("-t"),
            _ => None,
        },
    };
    Ok(JobSpec {
        display: v["display"]
            .as_str()
            .ok_or("a job has no name")?
            .to_string(),
        path: PathBuf::from(v["path"].as_str().ok_or("a job has no path")?),
        how,
        headers,
        staged: v["staged"] == true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_survives_the_trip() {
        let headers = Headers {
            timeout_event: Some(2.5),
            category: Category::Immiscible,
            conflicts: vec!["db".into()],
            duration: Some(DurationHint::Long),
            retries: Some(3),
            slots: Some(2),
            no_preload: true,
            taint: Some("-T"),
            env: vec!["LC_ALL=C".into()],
        };
        let plan = Plan {
            jobs: vec![
                JobSpec {
                    display: "t/a.t".into(),
                    path: "t/a.t".into(),
                    how: How::Perl,
                    headers: headers.clone(),
                    staged: true,
                },
                JobSpec {
                    display: "t/b".into(),
                    path: "t/b".into(),
                    how: How::Command(vec!["sh".into(), "-x".into()]),
                    headers: Headers::default(),
                    staged: false,
                },
            ],
            slots: 3,
            run_dir: "/tmp/run".into(),
            launch: Launch {
                perl: Some("/usr/bin/perl".into()),
                commands: vec![("/bin/sh".into(), vec!["sh".into(), "-x".into()])],
                env: Rc::new(vec![
                    CString::new("A=1").unwrap(),
                    CString::new(b"B=\xff".to_vec()).unwrap(),
                ]),
                merge: true,
                keep: false,
                proctor: "/bin/proctor".into(),
                stage: Some(StageSpec {
                    name: "perl".into(),
                    program: "/usr/bin/perl".into(),
                    script: PERL_STAGE,
                    args: vec!["--preload".into(), "Test::More".into()],
                }),
                event_timeout: Some(std::time::Duration::from_secs(60)),
                leftovers: Leftovers::WithTest,
                perl_switches: vec!["-w".into()],
                test_args: vec!["--fast".into()],
                ignore_exit: true,
            },
            retries: 2,
            retry_isolated: true,
            preload_verify: true,
            cwd: "/tmp/project".into(),
        };
        let mut bytes = Vec::new();
        plan.write_to(&mut bytes).unwrap();
        let back = Plan::read_from(&mut &bytes[..]).unwrap().unwrap();
        assert_eq!(back.jobs[0].headers, headers);
        assert_eq!(
            (back.jobs[0].staged, &back.jobs[1].how),
            (true, &How::Command(vec!["sh".into(), "-x".into()]))
        );
        assert_eq!(
            (
                back.slots,
                back.retries,
                back.retry_isolated,
                back.preload_verify
            ),
            (3, 2, true, true)
        );
        assert_eq!(back.cwd, PathBuf::from("/tmp/project"));
        assert_eq!(back.launch.commands, plan.launch.commands);
        assert_eq!(back.launch.stage.unwrap().args, ["--preload", "Test::More"]);
        assert_eq!(
            back.launch.event_timeout,
            Some(std::time::Duration::from_secs(60))
        );
        assert_eq!(back.launch.leftovers, Leftovers::WithTest);
        assert_eq!(
            (
                back.launch.perl_switches,
                back.launch.test_args,
                back.launch.ignore_exit
            ),
            (vec!["-w".to_string()], vec!["--fast".to_string()], true)
        );
        assert_eq!(back.launch.env, plan.launch.env);
        assert!(Plan::read_from(&mut &b"{}\n"[..]).is_err());
        assert!(Plan::read_from(&mut &b""[..]).unwrap().is_none());
    }
}
