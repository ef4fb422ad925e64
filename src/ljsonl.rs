//! Length-prefixed JSON lines (`.ljsonl`): the job logs and the runner's log.
//!
//! Each record is `<decimal length>\n<JSON>\n`; a writer that finishes cleanly ends
//! with the marker `0\nnull\n`. A standing auditor's log is a series of such
//! logs, one a job, each with its own end marker (a segment) and a first
//! record naming its job (see [`crate::job::segment`]). A reader takes a
//! record only once all of its bytes are there, skips records without parsing
//! them, and so tells a log still being written (no marker yet) from a
//! finished one. It never decodes JSON itself.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

const END_MARKER: &[u8] = b"0\nnull\n";

/// The longest length prefix accepted: records are capped far below this, so a
/// longer one means the file is not a log.
const MAX_RECORD: usize = 1 << 30;

/// Appends records to a log file.
pub struct Writer {
    out: BufWriter<File>,
}

impl Writer {
    pub fn create(path: &Path) -> io::Result<Writer> {
        Ok(Writer {
            out: BufWriter::with_capacity(64 * 1024, File::create(path)?),
        })
    }

    /// Opens a log to append segments to, creating it if need be.
    pub fn append(path: &Path) -> io::Result<Writer> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Writer {
            out: BufWriter::with_capacity(64 * 1024, file),
        })
    }

    /// Appends one record. `json` must be one line of JSON.
    pub fn record(&mut self, json: &[u8]) -> io::Result<()> {
        debug_assert!(!json.contains(&b'\n'));
        let mut len = [0u8; 20];
        let digits = format_usize(json.len(), &mut len);
        self.out.write_all(digits)?;
        self.out.write_all(b"\n")?;
        self.out.write_all(json)?;
        self.out.write_all(b"\n")
    }

    /// Makes what was written so far visible to readers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes the end marker and flushes: the log is complete.
    pub fn finish(mut self) -> io::Result<()> {
        self.end_segment()
    }

    /// Writes the end marker and flushes, and stays open for the next segment.
    pub fn end_segment(&mut self) -> io::Result<()> {
        self.out.write_all(END_MARKER)?;
        self.out.flush()
    }
}

fn format_usize(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// What the next record of a log is.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    Record(&'a [u8]),
    /// Not all of the next record has been written yet (or nothing more has).
    Pending,
    /// The end marker: the writer finished cleanly.
    End,
    /// The bytes are not a log; the message says where.
    Corrupt(String),
}

/// Splits records off the front of a growing buffer.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    ended: bool,
    /// Bytes of the log dropped from the front of `buf`.
    dropped: u64,
}

impl Decoder {
    /// Drops the records already taken, when that frees enough to be worth it.
    fn compact(&mut self) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
        } else if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
        } else {
            return;
        }
        self.dropped += self.start as u64;
        self.start = 0;
    }

    /// Where in the log the next record starts: the bytes taken so far.
    pub fn offset(&self) -> u64 {
        self.dropped + self.start as u64
    }

    /// Adds bytes read from the log.
    #[cfg(test)]
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Reads up to `want` bytes from `from` straight into the buffer.
    pub fn fill_from(&mut self, from: &mut impl Read, want: usize) -> io::Result<usize> {
        self.compact();
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let result = loop {
            match from.read(&mut self.buf[old..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(old + n);
        result
    }

    /// After an end marker: reads on, into the next segment.
    pub fn next_segment(&mut self) {
        self.ended = false;
    }

    /// Takes the next complete record, if there is one.
    pub fn next_record(&mut self) -> Next<'_> {
        if self.ended {
            return Next::End;
        }
        let rest = &self.buf[self.start..];
        let newline = match rest.iter().take(21).position(|&b| b == b'\n') {
            Some(i) => i,
            None if rest.len() > 20 => {
                return Next::Corrupt("a length prefix longer than 20 bytes".into())
            }
            None => return Next::Pending,
        };
        let len = match std::str::from_utf8(&rest[..newline])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        {
            Some(len) if len <= MAX_RECORD && (newline == 1 || rest[0] != b'0') => len,
            _ => {
                return Next::Corrupt(format!(
                    "'{}' is not a record length",
                    String::from_utf8_lossy(&rest[..newline])
                ))
            }
        };
        if len == 0 {
            if rest.len() < END_MARKER.len() {
                return if END_MARKER.starts_with(rest) {
                    Next::Pending
                } else {
                    Next::Corrupt("a bad end marker".into())
                };
            }
            if &rest[..END_MARKER.len()] != END_MARKER {
                return Next::Corrupt("a bad end marker".into());
            }
            self.start += END_MARKER.len();
            self.ended = true;
            return Next::End;
        }
        let total = newline + 1 + len + 1;
        if rest.len() < total {
            return Next::Pending;
        }
        if rest[total - 1] != b'\n' {
            return Next::Corrupt(format!(
                "a record of {} bytes not followed by a newline",
                len
            ));
        }
        let at = self.start + newline + 1;
        self.start += total;
        Next::Record(&self.buf[at..at + len])
    }
}

/// Follows one log file as it grows.
pub struct Tail {
    file: File,
    pub decoder: Decoder,
    want: usize,
}

/// The first read of a log, small since most job logs are.
const FIRST_READ: usize = 4096;
/// The largest single read.
const MAX_READ: usize = 256 * 1024;

impl Tail {
    pub fn open(path: &Path) -> io::Result<Tail> {
        Tail::open_at(path, 0)
    }

    /// Opens a log to read from `offset`, where a record (or a segment) starts.
    pub fn open_at(path: &Path, offset: u64) -> io::Result<Tail> {
        let mut file = File::open(path)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))?;
        }
        Ok(Tail {
            file,
            decoder: Decoder {
                dropped: offset,
                ..Decoder::default()
            },
            want: FIRST_READ,
        })
    }

    /// Reads the next piece of what has been appended: at most a bounded chunk,
    /// so a reader that decodes between reads holds little of a fast log in
    /// memory. Returns the bytes read; 0 means nothing more for now.
    pub fn read_some(&mut self) -> io::Result<usize> {
        let n = self.decoder.fill_from(&mut self.file, self.want)?;
        if n == self.want && self.want < MAX_READ {
            // A busy log: read bigger pieces.
            self.want *= 2;
        } else if n < self.want / 4 && self.want > FIRST_READ {
            // Quiet again: every read clears `want` bytes, so keep it small.
            self.want /= 2;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(bytes: &[u8]) -> (Vec<Vec<u8>>, Next<'static>) {
        let mut d = Decoder::default();
        d.push(bytes);
        let mut out = Vec::new();
        loop {
            match d.next_record() {
                Next::Record(r) => out.push(r.to_vec()),
                Next::Pending => return (out, Next::Pending),
                Next::End => return (out, Next::End),
                Next::Corrupt(m) => return (out, Next::Corrupt(m)),
            }
        }
    }

    #[test]
    fn complete_log() {
        let (r, end) = records(b"2\n{}\n7\n{\"a\":1}\n0\nnull\n");
        assert_eq!(r, [b"{}".to_vec(), b"{\"a\":1}".to_vec()]);
        assert_eq!(end, Next::End);
    }

    #[test]
    fn partial_records_wait() {
        for cut in 0..b"7\n{\"a\":1}\n0\nnull\n".len() {
            let whole = b"7\n{\"a\":1}\n0\nnull\n";
            let mut d = Decoder::default();
            d.push(&whole[..cut]);
            let first = d.next_record();
            assert!(
                matches!(first, Next::Pending | Next::Record(_)),
                "cut at {}: {:?}",
                cut,
                first
            );
            let got_record = matches!(first, Next::Record(_));
            d.push(&whole[cut..]);
            if !got_record {
                assert_eq!(d.next_record(), Next::Record(b"{\"a\":1}"));
            }
            assert_eq!(d.next_record(), Next::End);
        }
    }

    #[test]
    fn missing_end_marker_is_pending_not_end() {
        let (r, end) = records(b"2\n{}\n");
        assert_eq!(r.len(), 1);
        assert_eq!(end, Next::Pending);
    }

    #[test]
    fn junk_is_corrupt() {
        assert!(matches!(records(b"hello world\n").1, Next::Corrupt(_)));
        assert!(matches!(records(b"2\n{}}\n").1, Next::Corrupt(_)));
        assert!(matches!(records(b"012\n").1, Next::Corrupt(_)));
        assert!(matches!(records(b"0\nnope\n").1, Next::Corrupt(_)));
        assert!(matches!(records(&[b'9'; 40]).1, Next::Corrupt(_)));
    }

    #[test]
    fn writer_output_reads_back() {
        let dir = std::env::temp_dir().join(format!("proctor-ljsonl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.ljsonl");
        let mut w = Writer::create(&path).unwrap();
        w.record(b"{\"type\":\"a\"}").unwrap();
        w.finish().unwrap();
        let mut t = Tail::open(&path).unwrap();
        t.read_some().unwrap();
        assert_eq!(t.decoder.next_record(), Next::Record(b"{\"type\":\"a\"}"));
        assert_eq!(t.decoder.next_record(), Next::End);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
