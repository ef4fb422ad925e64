//! A standing auditor's log: one file, `auditor-PID.ljsonl` in the run
//! directory, holding its jobs' logs one after another as segments (see
//! [`crate::ljsonl`]). A segment's first record names its job and try,
//! `{"type":"segment","job":N,"try":M}`, so a reader takes each segment by the
//! job it names, whatever order the runner's records come in. That record is
//! the reader's alone: it is not carried into the event log. A job that wrote
//! nothing (given back, or withdrawn before it started) has no segment at all.

use super::slot::JobKey;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The log whose segments are the jobs of the auditor `pid`.
pub fn log_path(run_dir: &Path, pid: libc::pid_t) -> PathBuf {
    run_dir.join(format!("auditor-{}.ljsonl", pid))
}

const HEAD_START: &[u8] = b"{\"type\":\"segment\",\"job\":";
const HEAD_TRY: &[u8] = b",\"try\":";

/// A segment's first record, built on the stack: a job costs its auditor no
/// allocation for it.
pub struct Head {
    bytes: [u8; 64],
    len: usize,
}

impl Head {
    pub fn new((job, tries): JobKey) -> Head {
        let mut bytes = [0u8; 64];
        let mut rest = &mut bytes[..];
        // Cannot fail: it is at most 62 bytes, with the longest u64 and u32.
        let _ = write_head(&mut rest, job, tries);
        let len = 64 - rest.len();
        Head { bytes, len }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn write_head(out: &mut impl Write, job: u64, tries: u32) -> std::io::Result<()> {
    out.write_all(HEAD_START)?;
    write!(out, "{}", job)?;
    out.write_all(HEAD_TRY)?;
    write!(out, "{}}}", tries)
}

/// The job a segment's first record names; None when `record` is not a
/// segment's first record.
pub fn job_named(record: &[u8]) -> Option<JobKey> {
    let rest = record.strip_prefix(HEAD_START)?;
    let (job, rest) = leading_number(rest)?;
    let (tries, rest) = leading_number(rest.strip_prefix(HEAD_TRY)?)?;
    match rest {
        b"}" => Some((job, u32::try_from(tries).ok()?)),
        _ => None,
    }
}

fn leading_number(s: &[u8]) -> Option<(u64, &[u8])> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    Some((n, &s[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_names_its_job() {
        for job in [(1, 1), (u64::MAX, u32::MAX), (0, 0)] {
            assert_eq!(job_named(Head::new(job).as_bytes()), Some(job));
        }
        assert_eq!(
            Head::new((12, 3)).as_bytes(),
            b"{\"type\":\"segment\",\"job\":12,\"try\":3}"
        );
        let head: serde_json::Value =
            serde_json::from_slice(Head::new((12, 3)).as_bytes()).unwrap();
        assert_eq!(
            (head["job"].as_u64(), head["try"].as_u64()),
            (Some(12), Some(3))
        );
    }

    #[test]
    fn other_records_name_no_job() {
        for record in [
            &b"{\"type\":\"job_start\",\"file\":\"t/a.t\"}"[..],
            b"{\"type\":\"segment\",\"job\":1}",
            b"{\"type\":\"segment\",\"job\":1,\"try\":2,\"x\":3}",
            b"{\"type\":\"segment\",\"job\":,\"try\":2}",
            b"{\"type\":\"segment\",\"job\":1,\"try\":4294967296}",
            b"{\"type\":\"segment\",\"job\":99999999999999999999,\"try\":1}",
            b"",
        ] {
            assert_eq!(
                job_named(record),
                None,
                "{}",
                String::from_utf8_lossy(record)
            );
        }
    }
}
