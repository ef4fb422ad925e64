//! Files that a preloaded perl judges otherwise than a fresh one. A preloaded
//! try that fails is tried again at once without preload (the runner's rule),
//! and under `--preload-verify` so is one that passes; the tries without
//! preload give the file its verdict. The overlord decides here, once, what the
//! disagreement means, and says it in the file's final job_end before anything
//! else sees the record: a file that failed preloaded and passed without
//! passes, with a note ("fails when preloaded: ...") and `"fails_preloaded":true`
//! (which the state remembers, see `state::fallback`); one that passed
//! preloaded and failed without fails, its first reason "passes only when
//! preloaded: ...". It knows which tries ran preloaded from their job_launch.
//! It owns that decision only; it must not touch anything but job_end records.

use crate::event::write;
use crate::event::{Event, JobResult};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub struct Preload {
    /// The tries launched in a preloaded perl, until their job_end.
    staged: HashSet<(u64, u32)>,
    /// What the earlier tries of each job showed, while it has a preloaded
    /// one among them, until its final try ends.
    shown: HashMap<u64, Shown>,
}

/// What a job's tries showed before its final one.
#[derive(Default)]
struct Shown {
    /// The first reason of its first preloaded try that failed.
    failed_preloaded: Option<String>,
    /// A preloaded try passed (`--preload-verify`).
    passed_preloaded: bool,
    /// A try without preload failed: a pass after it is flaky, not this.
    failed_plain: bool,
}

impl Preload {
    /// A try was launched; `staged`: in a preloaded perl.
    pub fn launched(&mut self, job: (u64, u32), staged: bool) {
        if staged {
            self.staged.insert(job);
        }
    }

    /// Looks at a job_end. Returns whether its try ran preloaded, and the
    /// record that replaces it when preload changed the file's verdict; None
    /// to let it through as it is.
    pub fn judge(&mut self, event: &mut Event) -> (bool, Option<Vec<u8>>) {
        let (job, tries) = match event.job() {
            Some(key) => key,
            None => return (false, None),
        };
        let preloaded = self.staged.remove(&(job, tries));
        let end = event.job_end();
        if end.will_retry() {
            let failed = end.result() == JobResult::Fail;
            if preloaded {
                let shown = self.shown.entry(job).or_default();
                if failed {
                    let reason = end.reasons().next().unwrap_or("failed");
                    shown
                        .failed_preloaded
                        .get_or_insert_with(|| reason.to_string());
                } else {
                    shown.passed_preloaded = true;
                }
            } else if let Some(shown) = self.shown.get_mut(&job) {
                shown.failed_plain |= failed;
            }
            return (preloaded, None);
        }
        let shown = match self.shown.remove(&job) {
            // A final try that ran preloaded was stopped or bailed out: what
            // it says stands.
            Some(shown) if !preloaded => shown,
            _ => return (preloaded, None),
        };
        let mut judged = end.record();
        match (end.result(), shown) {
            (
                JobResult::Pass,
                Shown {
                    failed_preloaded: Some(reason),
                    failed_plain: false,
                    ..
                },
            ) => {
                let mut notes = judged.notes.map(Cow::into_owned).unwrap_or_default();
                notes.push(format!("fails when preloaded: {}", reason));
                judged.notes = Some(Cow::Owned(notes));
                judged.fails_preloaded = true;
            }
            (
                JobResult::Fail,
                Shown {
                    passed_preloaded: true,
                    ..
                },
            ) => {
                let mut reasons = judged.reasons.into_owned();
                let first = reasons.first().map_or("failed", String::as_str);
                let rule = format!("passes only when preloaded: {}", first);
                match reasons.first_mut() {
                    Some(first) => *first = rule,
                    None => reasons.push(rule),
                }
                judged.reasons = Cow::Owned(reasons);
            }
            _ => return (false, None),
        }
        judged.job = Some((job, tries));
        let mut out = Vec::with_capacity(512);
        write::job_end(&mut out, &judged);
        (false, Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const PRELOADED_FAIL: &str = r#"{"type":"job_end","job":3,"try":1,"file":"t/f.t","result":"fail","reasons":["failed 1 of 1 tests: 1"],"notes":[],"will_retry":true}"#;
    const PRELOADED_PASS: &str = r#"{"type":"job_end","job":3,"try":1,"file":"t/f.t","result":"pass","reasons":[],"notes":[],"will_retry":true}"#;
    const PLAIN_PASS: &str = r#"{"type":"job_end","job":3,"try":2,"file":"t/f.t","result":"pass","reasons":[],"notes":["TODO passed: 2"],"counts":{"run":1},"will_retry":false}"#;
    const PLAIN_FAIL: &str = r#"{"type":"job_end","job":3,"try":2,"file":"t/f.t","result":"fail","reasons":["failed 1 of 1 tests: 1","exited with status 1"],"notes":[],"will_retry":false}"#;

    /// Feeds the preloaded try 1, then `last` (try 2, plain): the record that
    /// replaces it, if any.
    fn judged(first: &str, last: &str) -> Option<Value> {
        let mut preload = Preload::default();
        preload.launched((3, 1), true);
        preload.launched((3, 2), false);
        assert_eq!(
            preload.judge(&mut Event::new(first.as_bytes())),
            (true, None)
        );
        let (preloaded, out) = preload.judge(&mut Event::new(last.as_bytes()));
        assert!(!preloaded && preload.shown.is_empty() && preload.staged.is_empty());
        let out = out?;
        let mut event = Event::new(&out);
        assert_eq!(event.job(), Some((3, 2)));
        Some(event.value().clone())
    }

    #[test]
    fn a_file_that_fails_preloaded_and_passes_plain_passes_with_a_note() {
        let end = judged(PRELOADED_FAIL, PLAIN_PASS).unwrap();
        assert_eq!(
            (&end["result"], &end["fails_preloaded"], &end["flaky"]),
            (&"pass".into(), &true.into(), &Value::Null)
        );
        assert_eq!(
            end["notes"],
            serde_json::json!([
                "TODO passed: 2",
                "fails when preloaded: failed 1 of 1 tests: 1"
            ])
        );
        assert_eq!(end["counts"]["run"], 1);
    }

    #[test]
    fn a_file_that_passes_only_preloaded_fails_naming_the_plain_reason() {
        let end = judged(PRELOADED_PASS, PLAIN_FAIL).unwrap();
        assert_eq!(end["result"], "fail");
        assert_eq!(
            end["reasons"],
            serde_json::json!([
                "passes only when preloaded: failed 1 of 1 tests: 1",
                "exited with status 1"
            ])
        );
        assert_eq!(end["fails_preloaded"], Value::Null);
    }

    #[test]
    fn agreeing_tries_go_through_untouched() {
        assert_eq!(judged(PRELOADED_FAIL, PLAIN_FAIL), None);
        assert_eq!(judged(PRELOADED_PASS, PLAIN_PASS), None);
    }

    #[test]
    fn a_plain_failure_before_the_pass_leaves_it_to_flaky() {
        let mut preload = Preload::default();
        preload.launched((3, 1), true);
        preload.judge(&mut Event::new(PRELOADED_FAIL.as_bytes()));
        let plain_fail = PLAIN_FAIL.replace("\"will_retry\":false", "\"will_retry\":true");
        assert_eq!(
            preload.judge(&mut Event::new(plain_fail.as_bytes())),
            (false, None)
        );
        let last = PLAIN_PASS.replace("\"try\":2", "\"try\":3");
        assert_eq!(
            preload.judge(&mut Event::new(last.as_bytes())),
            (false, None)
        );
        assert!(preload.shown.is_empty());
    }

    #[test]
    fn files_never_preloaded_go_through_untouched() {
        let mut preload = Preload::default();
        preload.launched((3, 2), false);
        assert_eq!(
            preload.judge(&mut Event::new(PLAIN_PASS.as_bytes())),
            (false, None)
        );
        assert!(preload.staged.is_empty() && preload.shown.is_empty());
    }
}
