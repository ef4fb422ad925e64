//! The collector's line splitter: turns the chunks read from one pipe into whole
//! lines, without copying a line that arrives in one piece, and with a cap on what
//! it holds of a line that never ends.

/// The most bytes of one line kept in memory; the rest is counted, not stored.
pub const LINE_CAP: usize = 1 << 20;

/// The unfinished last line of one stream.
#[derive(Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
    /// Bytes of the pending line beyond [`LINE_CAP`], dropped but counted.
    dropped: u64,
}

impl LineBuffer {
    /// Splits `chunk` into lines and hands each, with the count of bytes dropped
    /// from it, to `each`. The unfinished tail is kept for the next chunk.
    pub fn split(&mut self, chunk: &[u8], mut each: impl FnMut(&[u8], u64)) {
        let mut rest = chunk;
        while let Some(at) = find_newline(rest) {
            let piece = &rest[..at];
            if self.pending.is_empty() && self.dropped == 0 {
                each(piece, 0);
            } else {
                self.append(piece);
                each(&self.pending, self.dropped);
                self.pending.clear();
                self.dropped = 0;
            }
            rest = &rest[at + 1..];
        }
        self.append(rest);
    }

    /// Hands over a last line that had no newline, at end of file.
    pub fn finish(&mut self, mut each: impl FnMut(&[u8], u64)) {
        if !self.pending.is_empty() || self.dropped > 0 {
            each(&self.pending, self.dropped);
            self.pending = Vec::new();
            self.dropped = 0;
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = LINE_CAP.saturating_sub(self.pending.len());
        let kept = bytes.len().min(room);
        self.pending.extend_from_slice(&bytes[..kept]);
        self.dropped += (bytes.len() - kept) as u64;
    }
}

/// The index of the first `\n` in `bytes`, eight bytes at a time.
pub fn find_newline(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let x = u64::from_le_bytes(word) ^ NL;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| b == b'\n').map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<(Vec<u8>, u64)> {
        let mut buf = LineBuffer::default();
        let mut out = Vec::new();
        for c in chunks {
            buf.split(c, |l, d| out.push((l.to_vec(), d)));
        }
        buf.finish(|l, d| out.push((l.to_vec(), d)));
        out
    }

    #[test]
    fn whole_and_split_lines() {
        let got = lines(&[b"ok 1\nok", b" 2\n", b"tail"]);
        assert_eq!(
            got,
            [
                (b"ok 1".to_vec(), 0),
                (b"ok 2".to_vec(), 0),
                (b"tail".to_vec(), 0)
            ]
        );
        assert_eq!(lines(&[b"\n\n"]), [(vec![], 0), (vec![], 0)]);
    }

    #[test]
    fn long_lines_are_capped_and_counted() {
        let big = vec![b'x'; LINE_CAP + 10];
        let got = lines(&[&big[..5], &big[5..], b"\nnext\n"]);
        assert_eq!(got[0].0.len(), LINE_CAP);
        assert_eq!(got[0].1, 10);
        assert_eq!(got[1], (b"next".to_vec(), 0));
    }

    #[test]
    fn newline_search_agrees_with_a_plain_scan() {
        let mut s = vec![b'a'; 40];
        for at in 0..40 {
            s[at] = b'\n';
            assert_eq!(find_newline(&s), Some(at));
            assert_eq!(find_newline(&s[at + 1..]), None);
            s[at] = 0x8a; // high bit set, must not match
            assert_eq!(find_newline(&s), None);
            s[at] = b'a';
        }
    }
}
