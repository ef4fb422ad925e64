//! The words of a `"result"` field: how one try of a file ended (job_end), or
//! how the whole run did (run_end: pass or fail). Every reader and writer of
//! the field goes through [`JobResult`], so the words live here only.

use crate::tap::Outcome;

/// How one try of a file ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobResult {
    Pass,
    Fail,
    /// The whole file was skipped (a `1..0` plan): counted with the passes.
    Skip,
    /// It never started: the run bailed out, was interrupted, or paused and
    /// stopped first.
    Cancelled,
}

impl JobResult {
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Pass => "pass",
            JobResult::Fail => "fail",
            JobResult::Skip => "skip",
            JobResult::Cancelled => "cancelled",
        }
    }

    pub fn parse(word: &str) -> Option<JobResult> {
        match word {
            "pass" => Some(JobResult::Pass),
            "fail" => Some(JobResult::Fail),
            "skip" => Some(JobResult::Skip),
            "cancelled" => Some(JobResult::Cancelled),
            _ => None,
        }
    }

    /// The result a record gives: one that does not say it passed, skipped
    /// or never ran (no field, a word proctor does not write) failed.
    pub fn of(word: Option<&str>) -> JobResult {
        word.and_then(JobResult::parse).unwrap_or(JobResult::Fail)
    }

    /// A whole run's result: it passed, or it did not.
    pub fn of_run(passed: bool) -> JobResult {
        if passed {
            JobResult::Pass
        } else {
            JobResult::Fail
        }
    }
}

impl From<Outcome> for JobResult {
    fn from(outcome: Outcome) -> JobResult {
        match outcome {
            Outcome::Pass => JobResult::Pass,
            Outcome::Fail => JobResult::Fail,
            Outcome::Skip => JobResult::Skip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_result_reads_back_as_itself() {
        for r in [
            JobResult::Pass,
            JobResult::Fail,
            JobResult::Skip,
            JobResult::Cancelled,
        ] {
            assert_eq!(JobResult::parse(r.as_str()), Some(r));
            assert_eq!(JobResult::of(Some(r.as_str())), r);
        }
    }

    #[test]
    fn a_record_that_does_not_say_it_passed_failed() {
        assert_eq!(JobResult::parse("PASS"), None);
        assert_eq!(JobResult::of(Some("error")), JobResult::Fail);
        assert_eq!(JobResult::of(None), JobResult::Fail);
    }
}
