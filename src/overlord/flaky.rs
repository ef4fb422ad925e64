//! Flaky files: a file that failed and then passed on a retry. The overlord
//! decides here, once, what such a file is, and says it in the file's final
//! job_end before anything else sees the record: `"flaky":true`, and under
//! `--flaky-fails` a `"result":"fail"` with the tries in its reasons. The event
//! log, the renderers, the totals and run_end, and later `failed`, `times`,
//! `replay` and JUnit all read that record, so none of them judges again.
//! It owns that decision only; it must not touch anything but job_end records.

use crate::event::write;
use crate::event::{Event, JobResult};
use std::borrow::Cow;
use std::collections::HashMap;

#[derive(Default)]
pub struct Flaky {
    /// `--flaky-fails`: a flaky file fails.
    pub fails: bool,
    /// The tries of each job that failed and were tried again, with their
    /// first reason, until the job's final try ends.
    retried: HashMap<u64, Vec<(u32, String)>>,
}

impl Flaky {
    /// Looks at a job_end. Returns the record that replaces it when the file
    /// turned out flaky; None to let it through as it is. `preloaded`: the
    /// try ran in a preloaded perl, whose failure tells of preload, not of
    /// flakiness (see `preload`), and which is tried again on a pass too.
    pub fn judge(&mut self, event: &mut Event, preloaded: bool) -> Option<Vec<u8>> {
        let (job, tries) = event.job()?;
        let end = event.job_end();
        if end.will_retry() {
            if !preloaded {
                let reason = end.reasons().next().unwrap_or("failed").to_string();
                self.retried.entry(job).or_default().push((tries, reason));
            }
            return None;
        }
        let failures = self.retried.remove(&job).unwrap_or_default();
        if failures.is_empty() || end.result() != JobResult::Pass {
            return None;
        }
        let mut judged = end.record();
        judged.job = Some((job, tries));
        judged.flaky = true;
        if self.fails {
            judged.result = JobResult::Fail;
            judged.reasons = Cow::Owned(reasons(tries, &failures));
        }
        let mut out = Vec::with_capacity(512);
        write::job_end(&mut out, &judged);
        Some(out)
    }
}

/// Why a flaky file failed: the rule first (it is what a one-line report shows),
/// then what each earlier try failed of.
fn reasons(tries: u32, failures: &[(u32, String)]) -> Vec<String> {
    let mut reasons = vec![format!(
        "flaky: failed, then passed on try {}; --flaky-fails makes that a failure",
        tries
    )];
    for (n, why) in failures {
        reasons.push(format!("try {} failed: {}", n, why));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn judge(flaky: &mut Flaky, line: &str) -> Option<Value> {
        let out = flaky.judge(&mut Event::new(line.as_bytes()), false)?;
        let mut event = Event::new(&out);
        assert_eq!(
            event.job(),
            Some((3, 2)),
            "{}",
            String::from_utf8_lossy(&out)
        );
        Some(event.value().clone())
    }

    const FIRST: &str = r#"{"type":"job_end","job":3,"try":1,"file":"t/f.t","result":"fail","reasons":["failed 1 of 1 tests: 1"],"will_retry":true}"#;
    const SECOND: &str = r#"{"type":"job_end","job":3,"try":2,"file":"t/f.t","result":"pass","reasons":[],"counts":{"run":1},"will_retry":false}"#;

    #[test]
    fn a_pass_on_a_retry_is_named_flaky_and_stays_a_pass() {
        let mut flaky = Flaky::default();
        assert_eq!(judge(&mut flaky, FIRST), None);
        let end = judge(&mut flaky, SECOND).unwrap();
        assert_eq!(
            (&end["result"], &end["flaky"]),
            (&"pass".into(), &true.into())
        );
        assert_eq!(end["counts"]["run"], 1);
        assert_eq!(end["reasons"], serde_json::json!([]));
    }

    #[test]
    fn under_flaky_fails_it_fails_with_its_tries_as_reasons() {
        let mut flaky = Flaky {
            fails: true,
            ..Flaky::default()
        };
        judge(&mut flaky, FIRST);
        let end = judge(&mut flaky, SECOND).unwrap();
        assert_eq!(end["result"], "fail");
        assert_eq!(
            end["reasons"],
            serde_json::json!([
                "flaky: failed, then passed on try 2; --flaky-fails makes that a failure",
                "try 1 failed: failed 1 of 1 tests: 1"
            ])
        );
        assert!(flaky.retried.is_empty());
    }

    #[test]
    fn first_passes_and_final_failures_go_through_untouched() {
        let mut flaky = Flaky {
            fails: true,
            ..Flaky::default()
        };
        let pass = SECOND.replace("\"try\":2", "\"try\":1");
        assert!(flaky
            .judge(&mut Event::new(pass.as_bytes()), false)
            .is_none());
        judge(&mut flaky, FIRST);
        let fail = SECOND.replace("\"pass\"", "\"fail\"");
        assert!(flaky
            .judge(&mut Event::new(fail.as_bytes()), false)
            .is_none());
        assert!(flaky.retried.is_empty());
    }

    #[test]
    fn a_pass_after_a_preloaded_failure_is_not_flaky() {
        let mut flaky = Flaky::default();
        assert!(flaky
            .judge(&mut Event::new(FIRST.as_bytes()), true)
            .is_none());
        assert!(flaky
            .judge(&mut Event::new(SECOND.as_bytes()), false)
            .is_none());
        assert!(flaky.retried.is_empty());
    }
}
