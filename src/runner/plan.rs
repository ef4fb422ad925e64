//! The plan of a run as a file: the runner is a program of its own (`proctor
//! runner`), started fresh by the session with the plan written into the run
//! directory. A fresh process is small, and every auditor the runner forks
//! copies the runner's address space, so its size is paid once per test (the
//! session's heap after discovery would otherwise come along into every fork).
//! The tests' environment travels as the runner's own environment.

use super::job::{JobSpec, Launch};
use super::stage::{StageSpec, PERL_STAGE};
use super::Plan;
use crate::discover::How;
use crate::headers::{Category, DurationHint, Headers};
use serde_json::{json, Value};
use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

impl Plan {
    pub fn to_json(&self) -> Vec<u8> {
        let l = &self.launch;
        let jobs: Vec<Value> = self.jobs.iter().map(job_to_json).collect();
        let plan = json!({
            "slots": self.slots,
            "run_dir": self.run_dir.to_string_lossy(),
            "retries": self.retries,
            "retry_isolated": self.retry_isolated,
            "launch": {
                "perl": l.perl.as_ref().map(|p| p.to_string_lossy().into_owned()),
                "exec": l.exec.as_ref().map(|(p, args)| json!({"program": p.to_string_lossy(), "args": args})),
                "merge": l.merge,
                "keep": l.keep,
                "proctor": l.proctor,
                "stage": l.stage.as_ref().map(|s| json!({"name": s.name, "program": s.program.to_string_lossy(), "args": s.args})),
                "event_timeout": l.event_timeout.map(|d| d.as_secs_f64()),
            },
            "jobs": jobs,
        });
        serde_json::to_vec(&plan).unwrap_or_default()
    }

    /// Reads a plan; the tests' environment is this process's own.
    pub fn from_json(bytes: &[u8]) -> Result<Plan, String> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("the plan is not JSON: {}", e))?;
        let l = &v["launch"];
        let path = |v: &Value| v.as_str().map(PathBuf::from);
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        };
        let launch = Launch {
            perl: path(&l["perl"]),
            exec: path(&l["exec"]["program"]).map(|p| (p, strings(&l["exec"]["args"]))),
            env: Rc::new(
                std::env::vars_os()
                    .map(|(k, v)| {
                        let mut pair = k.into_vec();
                        pair.push(b'=');
                        pair.extend(v.into_vec());
                        CString::new(pair).unwrap_or_default()
                    })
                    .collect(),
            ),
            merge: l["merge"] == true,
            keep: l["keep"] == true,
            proctor: l["proctor"].as_str().unwrap_or("proctor").to_string(),
            stage: path(&l["stage"]["program"]).map(|program| StageSpec {
                name: l["stage"]["name"].as_str().unwrap_or("perl").to_string(),
                program,
                script: PERL_STAGE,
                args: strings(&l["stage"]["args"]),
            }),
            event_timeout: l["event_timeout"].as_f64().map(Duration::from_secs_f64),
        };
        let jobs = v["jobs"]
            .as_array()
            .ok_or("the plan has no jobs")?
            .iter()
            .map(job_from_json)
            .collect::<Result<_, _>>()?;
        Ok(Plan {
            jobs,
            slots: v["slots"].as_u64().unwrap_or(1) as usize,
            run_dir: path(&v["run_dir"]).ok_or("the plan has no run directory")?,
            launch,
            retries: v["retries"].as_u64().unwrap_or(0) as u32,
            retry_isolated: v["retry_isolated"] == true,
        })
    }
}

fn job_to_json(j: &JobSpec) -> Value {
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
    })
}

fn job_from_json(v: &Value) -> Result<JobSpec, String> {
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
        retries: v["retries"].as_u64().map(|n| n as u32),
        slots: v["slots"].as_u64().map(|n| n as usize),
        no_preload: v["no_preload"] == true,
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
                exec: Some(("/bin/sh".into(), vec!["sh".into(), "-x".into()])),
                env: Rc::new(Vec::new()),
                merge: true,
                keep: false,
                proctor: "/bin/proctor".into(),
                stage: Some(StageSpec {
                    name: "perl".into(),
                    program: "/usr/bin/perl".into(),
                    script: PERL_STAGE,
                    args: vec!["--preload".into(), "Test::More".into()],
                }),
                event_timeout: Some(Duration::from_secs(60)),
            },
            retries: 2,
            retry_isolated: true,
        };
        let back = Plan::from_json(&plan.to_json()).unwrap();
        assert_eq!(back.jobs[0].headers, headers);
        assert_eq!(
            (back.jobs[0].staged, &back.jobs[1].how),
            (true, &How::Command(vec!["sh".into(), "-x".into()]))
        );
        assert_eq!(
            (back.slots, back.retries, back.retry_isolated),
            (3, 2, true)
        );
        assert_eq!(back.launch.exec, plan.launch.exec);
        assert_eq!(back.launch.stage.unwrap().args, ["--preload", "Test::More"]);
        assert_eq!(back.launch.event_timeout, Some(Duration::from_secs(60)));
        assert!(Plan::from_json(b"{}").is_err());
    }
}
