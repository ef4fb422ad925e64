//! The slot protocol: what the runner and a standing auditor say to each
//! other over a slot's socket (see `runner::slots` for the runner's side and
//! `auditor::standing` for the auditor's). Each message is one packet of a
//! SOCK_SEQPACKET socket, so it needs no length of its own: a tag byte, then
//! its fields, numbers little-endian, paths and other bytes as a 4-byte length
//! and the bytes, and a message's last field, of any length, to the end of the
//! packet. A job's spec travels as the plan writes it, JSON; the rest is binary
//! so that a job costs its sender one buffer it reuses and no JSON tree.
//! An empty packet is no message: the other end has closed its socket.

use super::audit::Retry;
use super::plan::{job_from_json, job_to_json};
use super::JobSpec;
use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A job and its try.
pub type JobKey = (u64, u32);

/// What the runner says to a standing auditor. Decoded, every field is owned;
/// the runner encodes what it borrows from its queue.
#[derive(Debug, PartialEq)]
pub enum ToAuditor<'a> {
    /// The auditor's first message.
    Introduction(Introduction<'a>),
    /// A job to audit, or to start once the one it is auditing ends.
    Job(JobRequest<'a>),
    /// Do not start this job, sent ahead, if it has not started yet.
    Withdrawal(JobKey),
}

/// An auditor's own slot, and the run's settings.
#[derive(Debug, PartialEq)]
pub struct Introduction<'a> {
    pub slot: usize,
    /// It preloads a perl of its own for the staged jobs.
    pub siblings: bool,
    /// Its tests' TMPDIR.
    pub tmp: Cow<'a, Path>,
    /// The CPU it keeps to, with its perl.
    pub cpu: Option<usize>,
    /// The plan's first line (see [`super::plan::Plan::read_head`]).
    pub settings: Cow<'a, [u8]>,
}

#[derive(Debug, PartialEq)]
pub struct JobRequest<'a> {
    /// The auditor it is for: one of this slot's that has died left it unread.
    pub auditor: libc::pid_t,
    pub job: JobKey,
    /// Where its log goes.
    pub log: Cow<'a, Path>,
    /// The log is the auditor's own, shared by its jobs: this job's log is
    /// the next segment of it (see [`super::segment`]).
    pub segment: bool,
    /// When the runner will try it again.
    pub retry: Retry,
    pub spec: Cow<'a, JobSpec>,
}

/// What a standing auditor says to the runner.
#[derive(Debug, PartialEq, Eq)]
pub enum FromAuditor<'a> {
    /// How the first job it has not answered went: an auditor's exit status.
    Status(i32),
    /// A record for the runner's log (what became of its preloaded perl).
    Note(&'a [u8]),
    /// The job sent ahead with this key, withdrawn, will not be started: the
    /// answer to it, told during the job before it rather than in its turn.
    GivenBack(JobKey),
}

/// A message that is not one of the protocol's: what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a malformed slot message: {}", self.0)
    }
}

const INTRODUCTION: u8 = b'I';
const JOB: u8 = b'J';
const WITHDRAWAL: u8 = b'W';
const STATUS: u8 = b'S';
const NOTE: u8 = b'N';
const GIVEN_BACK: u8 = b'G';

/// [`JobRequest`]'s flags.
const SEGMENT: u8 = 1;
const RETRY_ON_FAIL: u8 = 2;
const PLAIN_ON_FAIL: u8 = 4;
const PLAIN_ON_PASS: u8 = 8;

/// The CPU of an auditor that keeps to none.
const NO_CPU: u32 = u32::MAX;

impl ToAuditor<'_> {
    /// Appends the message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ToAuditor::Introduction(i) => {
                out.push(INTRODUCTION);
                put_u32(out, i.slot as u32);
                out.push(i.siblings as u8);
                put_u32(out, i.cpu.map_or(NO_CPU, |cpu| cpu as u32));
                put_bytes(out, i.tmp.as_os_str().as_bytes());
                out.extend_from_slice(&i.settings);
            }
            ToAuditor::Job(j) => {
                out.push(JOB);
                out.extend_from_slice(&j.auditor.to_le_bytes());
                put_key(out, j.job);
                let mut flags = 0;
                if j.segment {
                    flags |= SEGMENT;
                }
                if j.retry.on_fail {
                    flags |= RETRY_ON_FAIL;
                }
                if j.retry.plain_on_fail {
                    flags |= PLAIN_ON_FAIL;
                }
                if j.retry.plain_on_pass {
                    flags |= PLAIN_ON_PASS;
                }
                out.push(flags);
                put_bytes(out, j.log.as_os_str().as_bytes());
                // Writing to a Vec cannot fail.
                let _ = serde_json::to_writer(out, &job_to_json(&j.spec));
            }
            ToAuditor::Withdrawal(job) => {
                out.push(WITHDRAWAL);
                put_key(out, *job);
            }
        }
    }

    /// Reads a message [`ToAuditor::encode`] wrote.
    pub fn decode(message: &[u8]) -> Result<ToAuditor<'static>, Malformed> {
        let (&tag, rest) = message
            .split_first()
            .ok_or_else(|| Malformed("an empty message".into()))?;
        let mut fields = Fields(rest);
        let decoded = match tag {
            INTRODUCTION => ToAuditor::Introduction(Introduction {
                slot: fields.u32()? as usize,
                siblings: fields.flag()?,
                cpu: match fields.u32()? {
                    NO_CPU => None,
                    cpu => Some(cpu as usize),
                },
                tmp: Cow::Owned(fields.path()?),
                settings: Cow::Owned(fields.rest().to_vec()),
            }),
            JOB => {
                let auditor = fields.i32()?;
                let job = fields.key()?;
                let flags = fields.u8()?;
                if flags & !(SEGMENT | RETRY_ON_FAIL | PLAIN_ON_FAIL | PLAIN_ON_PASS) != 0 {
                    return Err(Malformed(format!("unknown job flags {:#x}", flags)));
                }
                let log = fields.path()?;
                let spec = serde_json::from_slice(fields.rest())
                    .map_err(|e| e.to_string())
                    .and_then(|spec| job_from_json(&spec))
                    .map_err(|e| Malformed(format!("a job's spec: {}", e)))?;
                ToAuditor::Job(JobRequest {
                    auditor,
                    job,
                    log: Cow::Owned(log),
                    segment: flags & SEGMENT != 0,
                    retry: Retry {
                        on_fail: flags & RETRY_ON_FAIL != 0,
                        plain_on_fail: flags & PLAIN_ON_FAIL != 0,
                        plain_on_pass: flags & PLAIN_ON_PASS != 0,
                    },
                    spec: Cow::Owned(spec),
                })
            }
            WITHDRAWAL => ToAuditor::Withdrawal(fields.key()?),
            other => return Err(Malformed(format!("unknown tag {:#x}", other))),
        };
        fields.end()?;
        Ok(decoded)
    }
}

impl<'a> FromAuditor<'a> {
    /// Appends the message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FromAuditor::Status(status) => {
                out.push(STATUS);
                out.extend_from_slice(&status.to_le_bytes());
            }
            FromAuditor::Note(record) => {
                out.push(NOTE);
                out.extend_from_slice(record);
            }
            FromAuditor::GivenBack(job) => {
                out.push(GIVEN_BACK);
                put_key(out, *job);
            }
        }
    }

    /// Reads a message [`FromAuditor::encode`] wrote; a note is borrowed
    /// from it.
    pub fn decode(message: &'a [u8]) -> Result<FromAuditor<'a>, Malformed> {
        let (&tag, rest) = message
            .split_first()
            .ok_or_else(|| Malformed("an empty message".into()))?;
        let mut fields = Fields(rest);
        let decoded = match tag {
            STATUS => FromAuditor::Status(fields.i32()?),
            NOTE => FromAuditor::Note(fields.rest()),
            GIVEN_BACK => FromAuditor::GivenBack(fields.key()?),
            other => return Err(Malformed(format!("unknown tag {:#x}", other))),
        };
        fields.end()?;
        Ok(decoded)
    }
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_key(out: &mut Vec<u8>, (job, tries): JobKey) {
    out.extend_from_slice(&job.to_le_bytes());
    put_u32(out, tries);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// The fields of a message not read yet.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let bytes = self.bytes(N)?;
        Ok(bytes.try_into().expect("took N bytes"))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed("cut short".into()));
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        self.take::<1>().map(|[b]| b)
    }

    fn flag(&mut self) -> Result<bool, Malformed> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(Malformed(format!("{} is not a yes or no", other))),
        }
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        self.take().map(u32::from_le_bytes)
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        self.take().map(i32::from_le_bytes)
    }

    fn key(&mut self) -> Result<JobKey, Malformed> {
        let job = self.take().map(u64::from_le_bytes)?;
        Ok((job, self.u32()?))
    }

    fn path(&mut self) -> Result<std::path::PathBuf, Malformed> {
        let len = self.u32()? as usize;
        Ok(Path::new(OsStr::from_bytes(self.bytes(len)?)).to_path_buf())
    }

    /// The message's last field, which runs to its end.
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn end(&self) -> Result<(), Malformed> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(Malformed(format!("{} bytes too many", n))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::How;
    use crate::headers::Headers;
    use std::path::PathBuf;

    fn spec() -> JobSpec {
        JobSpec {
            display: "t/a.t".into(),
            path: "t/a.t".into(),
            how: How::Perl,
            headers: Headers {
                retries: Some(2),
                ..Headers::default()
            },
            staged: true,
        }
    }

    fn request() -> ToAuditor<'static> {
        ToAuditor::Job(JobRequest {
            auditor: 4242,
            job: (7, 2),
            log: Cow::Owned(PathBuf::from("/run/auditor-4242.ljsonl")),
            segment: true,
            retry: Retry {
                on_fail: true,
                plain_on_fail: false,
                plain_on_pass: true,
            },
            spec: Cow::Owned(spec()),
        })
    }

    fn introduction(cpu: Option<usize>) -> ToAuditor<'static> {
        ToAuditor::Introduction(Introduction {
            slot: 3,
            siblings: true,
            tmp: Cow::Owned(PathBuf::from("/state/slots/3")),
            cpu,
            settings: Cow::Owned(b"{\"slots\":4}\n".to_vec()),
        })
    }

    fn to_auditor(message: &ToAuditor) -> Vec<u8> {
        let mut out = Vec::new();
        message.encode(&mut out);
        out
    }

    fn from_auditor(message: &FromAuditor) -> Vec<u8> {
        let mut out = Vec::new();
        message.encode(&mut out);
        out
    }

    #[test]
    fn an_introduction_survives_the_trip() {
        for message in [introduction(Some(1)), introduction(None)] {
            assert_eq!(ToAuditor::decode(&to_auditor(&message)), Ok(message));
        }
    }

    #[test]
    fn a_job_request_survives_the_trip() {
        let message = request();
        assert_eq!(ToAuditor::decode(&to_auditor(&message)), Ok(message));
    }

    #[test]
    fn a_request_encoded_from_borrowed_fields_decodes_to_the_same() {
        let (spec, log) = (spec(), PathBuf::from("/run/jobs/7-2.ljsonl"));
        let message = ToAuditor::Job(JobRequest {
            auditor: 1,
            job: (7, 2),
            log: Cow::Borrowed(&log),
            segment: false,
            retry: Retry::default(),
            spec: Cow::Borrowed(&spec),
        });
        assert_eq!(ToAuditor::decode(&to_auditor(&message)), Ok(message));
    }

    #[test]
    fn a_path_that_is_not_utf8_survives_the_trip() {
        let tmp = PathBuf::from(OsStr::from_bytes(b"/tmp/\xff"));
        let message = ToAuditor::Introduction(Introduction {
            slot: 0,
            siblings: false,
            tmp: Cow::Owned(tmp),
            cpu: None,
            settings: Cow::Owned(Vec::new()),
        });
        assert_eq!(ToAuditor::decode(&to_auditor(&message)), Ok(message));
    }

    #[test]
    fn a_withdrawal_survives_the_trip() {
        let message = ToAuditor::Withdrawal((u64::MAX, 9));
        assert_eq!(ToAuditor::decode(&to_auditor(&message)), Ok(message));
    }

    #[test]
    fn a_status_survives_the_trip() {
        for status in [0, 1, crate::job::audit::EXIT_WITHDRAWN, -1] {
            let message = FromAuditor::Status(status);
            assert_eq!(FromAuditor::decode(&from_auditor(&message)), Ok(message));
        }
    }

    #[test]
    fn a_note_survives_the_trip() {
        let message = FromAuditor::Note(b"{\"type\":\"stage_exit\"}");
        assert_eq!(FromAuditor::decode(&from_auditor(&message)), Ok(message));
    }

    #[test]
    fn a_job_given_back_survives_the_trip() {
        let message = FromAuditor::GivenBack((u64::MAX, 3));
        assert_eq!(FromAuditor::decode(&from_auditor(&message)), Ok(message));
    }

    /// Every message the runner sends, cut at every length, and with a byte
    /// too many: each is an error, never a panic, and never another message.
    #[test]
    fn a_cut_or_padded_message_to_an_auditor_is_malformed() {
        for message in [
            introduction(Some(0)),
            request(),
            ToAuditor::Withdrawal((1, 1)),
        ] {
            let bytes = to_auditor(&message);
            // An introduction's settings and a request's spec run to the end:
            // only cuts before that last field are short.
            let last_field = match message {
                ToAuditor::Introduction(_) => bytes.len() - b"{\"slots\":4}\n".len(),
                _ => bytes.len(),
            };
            for cut in 0..last_field {
                assert!(ToAuditor::decode(&bytes[..cut]).is_err(), "cut at {}", cut);
            }
            if !matches!(message, ToAuditor::Introduction(_)) {
                let mut padded = bytes.clone();
                padded.push(b'}');
                assert!(ToAuditor::decode(&padded).is_err());
            }
        }
    }

    #[test]
    fn a_cut_or_padded_message_from_an_auditor_is_malformed() {
        for message in [FromAuditor::Status(3), FromAuditor::GivenBack((7, 1))] {
            let bytes = from_auditor(&message);
            for cut in 0..bytes.len() {
                assert!(
                    FromAuditor::decode(&bytes[..cut]).is_err(),
                    "cut at {}",
                    cut
                );
            }
            assert!(FromAuditor::decode(&[&bytes[..], b"x"].concat()).is_err());
        }
        assert!(FromAuditor::decode(b"").is_err());
    }

    #[test]
    fn junk_is_malformed() {
        for junk in [
            &b"{\"withdraw\":1,\"try\":1}"[..],
            b"\x00\x00\x00\x00",
            b"X",
            b"\xff\xff\xff\xff\xff",
        ] {
            assert!(ToAuditor::decode(junk).is_err(), "{:?}", junk);
            assert!(FromAuditor::decode(junk).is_err(), "{:?}", junk);
        }
        // A job whose path claims more bytes than the message has.
        let mut bytes = to_auditor(&request());
        bytes[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ToAuditor::decode(&bytes).is_err());
        // A job with flags it does not know, or a spec that is not one.
        let mut bytes = to_auditor(&request());
        bytes[17] = 0x80;
        assert!(ToAuditor::decode(&bytes).is_err());
        let mut bytes = to_auditor(&request());
        bytes.truncate(bytes.len() - 1);
        assert!(ToAuditor::decode(&bytes).is_err());
        let mut bytes = to_auditor(&introduction(None));
        bytes[5] = 2;
        assert!(ToAuditor::decode(&bytes).is_err(), "siblings is yes or no");
    }
}
