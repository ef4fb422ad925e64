//! Events: the interface between the part that runs tests and the parts that show
//! them, and the schema of the logs they travel in. An event is one JSON object as
//! written in the logs; it keeps its raw bytes and decodes them only when something
//! asks for a field. It is read-only: a consumer that must change one works on a
//! clone of [`Event::value`], or on a record read back through [`read`].
//!
//! This folder owns the schema: [`mod@write`] holds the one writer of each record type
//! proctor writes, [`read`] the typed readers of those many parts read, and
//! [`JobResult`] the words of a `"result"`, [`derive`](mod@derive) what a line record leaves
//! to its line, put back on decoding. Who writes what:
//!
//! | log | writer | records |
//! |-----|--------|---------|
//! | job log | auditor | a line record per line of output (TAP types, `output`), `parse_error`, `job_start`, `test_exit`, `job_exit`, `job_end` |
//! | runner's log | runner | `job_queued`, `job_launch`, `job_requeued`, `job_done`, `job_end` (a job that never started), `runner_stop`, `stage_ready`, `stage_exit` (those of a standing auditor's own perl written by it, passed on by the runner) |
//! | event log | overlord | `run_start`, every record above (a job's with its job and try), `job_end` (a lost job; a flaky file's last try, judged again), `run_end` |

pub mod derive;
pub mod read;
mod result;
pub mod write;

pub use result::JobResult;
pub use write::LeftRunning;

use crate::json;
use serde_json::Value;

/// The event types readers tell apart; any other (the stages' records, say) is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    RunStart,
    JobQueued,
    JobLaunch,
    JobStart,
    Output,
    Version,
    Plan,
    Assert,
    Comment,
    Bail,
    ParseError,
    Yaml,
    Pragma,
    Blank,
    TestExit,
    JobExit,
    JobEnd,
    Modules,
    JobDone,
    JobRequeued,
    RunnerStop,
    RunEnd,
    Other,
}

impl Kind {
    pub fn of_type(t: &[u8]) -> Kind {
        match t {
            b"run_start" => Kind::RunStart,
            b"job_queued" => Kind::JobQueued,
            b"job_launch" => Kind::JobLaunch,
            b"job_start" => Kind::JobStart,
            b"output" => Kind::Output,
            b"version" => Kind::Version,
            b"plan" => Kind::Plan,
            b"assert" => Kind::Assert,
            b"comment" => Kind::Comment,
            b"bail" => Kind::Bail,
            b"parse_error" => Kind::ParseError,
            b"yaml" => Kind::Yaml,
            b"pragma" => Kind::Pragma,
            b"blank" => Kind::Blank,
            b"test_exit" => Kind::TestExit,
            b"job_exit" => Kind::JobExit,
            b"job_end" => Kind::JobEnd,
            b"modules" => Kind::Modules,
            b"job_done" => Kind::JobDone,
            b"job_requeued" => Kind::JobRequeued,
            b"runner_stop" => Kind::RunnerStop,
            b"run_end" => Kind::RunEnd,
            _ => Kind::Other,
        }
    }

    /// Whether records of this kind are one line of a test's output.
    pub fn is_line(self) -> bool {
        Kind::LINES.contains(&self)
    }

    /// Every kind of output line.
    pub const LINES: [Kind; 9] = [
        Kind::Output,
        Kind::Version,
        Kind::Plan,
        Kind::Assert,
        Kind::Comment,
        Kind::Bail,
        Kind::Yaml,
        Kind::Pragma,
        Kind::Blank,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of event kinds: what a renderer wants to see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest(u32);

impl Interest {
    pub const NONE: Interest = Interest(0);

    pub fn of(kinds: &[Kind]) -> Interest {
        Interest(kinds.iter().fold(0, |bits, k| bits | k.bit()))
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn union(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }
}

/// run_end's `interrupted` when the user pressed `q`: written by the overlord,
/// read by the renderers, which say "Stopped" for it, not "Interrupted".
pub const STOPPED_BY_KEY: &str = "the q key";

/// One event, borrowed from a log line or a record buffer.
pub struct Event<'a> {
    raw: &'a [u8],
    kind: Kind,
    value: Option<Value>,
}

impl<'a> Event<'a> {
    /// Wraps a record. Its kind is read from its first bytes, nothing is decoded.
    pub fn new(raw: &'a [u8]) -> Event<'a> {
        let kind = json::record_type(raw).map_or(Kind::Other, Kind::of_type);
        Event {
            raw,
            kind,
            value: None,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The job and try a job event belongs to, read from the bytes right after the
    /// type, where the writers always put them.
    pub fn job(&self) -> Option<(u64, u32)> {
        job_of(self.raw)
    }

    /// The whole event, decoded on first use, with the fields a line record
    /// leaves to its line put back (see [`derive`](mod@derive)). A record that does not
    /// decode reads as `null`.
    pub fn value(&mut self) -> &Value {
        let (raw, kind) = (self.raw, self.kind);
        self.value.get_or_insert_with(|| {
            let mut value = serde_json::from_slice(raw).unwrap_or(Value::Null);
            if kind.is_line() {
                derive::fill(kind, &mut value);
            }
            value
        })
    }

    /// Whether anything has decoded it yet.
    #[cfg(test)]
    pub fn decoded(&self) -> bool {
        self.value.is_some()
    }

    /// The event as a job_end (its kind is the caller's to check).
    pub fn job_end(&mut self) -> read::JobEnd<'_> {
        read::JobEnd(self.value())
    }

    /// The event as a job_exit (its kind is the caller's to check).
    pub fn job_exit(&mut self) -> read::JobExit<'_> {
        read::JobExit(self.value())
    }

    /// The event as a run_end (its kind is the caller's to check).
    pub fn run_end(&mut self) -> read::RunEnd<'_> {
        read::RunEnd(self.value())
    }

    pub fn str(&mut self, key: &str) -> Option<&str> {
        self.value().get(key)?.as_str()
    }

    pub fn u64(&mut self, key: &str) -> Option<u64> {
        self.value().get(key)?.as_u64()
    }

    pub fn f64(&mut self, key: &str) -> Option<f64> {
        self.value().get(key)?.as_f64()
    }
}

/// Reads `,"job":N,"try":M` following the type of a record.
pub fn job_of(raw: &[u8]) -> Option<(u64, u32)> {
    let t = json::record_type(raw)?;
    let rest = &raw[b"{\"type\":\"".len() + t.len() + 1..];
    let rest = rest.strip_prefix(b",\"job\":")?;
    let (job, rest) = leading_number(rest)?;
    let rest = rest.strip_prefix(b",\"try\":")?;
    let (tries, _) = leading_number(rest)?;
    Some((job, tries as u32))
}

fn leading_number(s: &[u8]) -> Option<(u64, &[u8])> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    Some((value, &s[n..]))
}

/// Writes `record` (which starts with its type) with `prefix` (the job's
/// `,"job":N,"try":M`) put right after the type, leaving every other byte as it
/// was.
pub fn splice_job(out: &mut Vec<u8>, record: &[u8], prefix: &[u8]) {
    let type_end = json::record_type(record).map_or(0, |t| b"{\"type\":\"".len() + t.len() + 1);
    if type_end == 0 {
        // Not a record proctor wrote; carry it through untouched.
        out.extend_from_slice(record);
        return;
    }
    out.extend_from_slice(&record[..type_end]);
    out.extend_from_slice(prefix);
    out.extend_from_slice(&record[type_end..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_then_read_back() {
        let mut out = Vec::new();
        splice_job(
            &mut out,
            b"{\"type\":\"assert\",\"ok\":true}",
            b",\"job\":12,\"try\":2",
        );
        assert_eq!(
            out,
            b"{\"type\":\"assert\",\"job\":12,\"try\":2,\"ok\":true}"
        );
        let mut e = Event::new(&out);
        assert_eq!(e.kind(), Kind::Assert);
        assert_eq!(e.job(), Some((12, 2)));
        assert_eq!(e.value()["ok"], true);
    }

    #[test]
    fn decoding_is_lazy_and_tolerant() {
        let mut e = Event::new(b"{\"type\":\"output\",broken");
        assert_eq!(e.kind(), Kind::Output);
        assert!(e.value.is_none());
        assert_eq!(*e.value(), Value::Null);
        assert_eq!(Event::new(b"[1]").kind(), Kind::Other);
    }

    #[test]
    fn every_type_a_reader_looks_for_has_its_kind() {
        for t in [
            "run_start",
            "job_queued",
            "job_launch",
            "job_start",
            "output",
            "version",
            "plan",
            "assert",
            "comment",
            "bail",
            "parse_error",
            "yaml",
            "pragma",
            "blank",
            "test_exit",
            "job_exit",
            "job_end",
            "job_done",
            "job_requeued",
            "runner_stop",
            "run_end",
        ] {
            assert_ne!(Kind::of_type(t.as_bytes()), Kind::Other, "{}", t);
        }
    }

    #[test]
    fn interest_sets() {
        let i = Interest::of(&[Kind::JobEnd, Kind::Assert]);
        assert!(i.contains(Kind::JobEnd) && !i.contains(Kind::Output));
    }
}
