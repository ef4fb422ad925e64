//! The collector's line splitter: turns the chunks read from one pipe into whole
//! lines, without copying a line that arrives in one piece, and with a cap on what
//! it holds of a line that never ends.
//!
//! Two pipes keep no order between them: what the test wrote to both before the
//! auditor could read either comes out of both at once. Such a pair of chunks is
//! interleaved by position ([`split_interleaved`]): each stream's bytes are taken
//! as written evenly over the same stretch of time, so a line half-way through
//! one chunk goes between the lines before and after half-way through the other.

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
            self.end_line(&rest[..at], &mut each);
            rest = &rest[at + 1..];
        }
        self.append(rest);
    }

    /// Hands over the line that `piece` (up to its newline) ends.
    fn end_line(&mut self, piece: &[u8], each: &mut impl FnMut(&[u8], u64)) {
        if self.pending.is_empty() && self.dropped == 0 {
            each(piece, 0);
        } else {
            self.append(piece);
            each(&self.pending, self.dropped);
            self.pending.clear();
            self.dropped = 0;
        }
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

/// Splits two chunks read in the same poll round (from `first` and `second`)
/// into lines, handing each to `each` with its side (0 or 1) in interleaved
/// order: by the line's middle as a fraction of its chunk, `first` on a tie.
pub fn split_interleaved(
    first: (&mut LineBuffer, &[u8]),
    second: (&mut LineBuffer, &[u8]),
    mut each: impl FnMut(usize, &[u8], u64),
) {
    let mut sides = [Side::new(first.1), Side::new(second.1)];
    let mut buffers = [first.0, second.0];
    loop {
        let side = match (sides[0].next_middle(), sides[1].next_middle()) {
            (None, None) => break,
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            // a0 / len0 <= a1 / len1, without division.
            (Some(a), Some(b)) => usize::from(a * sides[1].len() > b * sides[0].len()),
        };
        let piece = sides[side].take_line();
        buffers[side].end_line(piece, &mut |l, d| each(side, l, d));
    }
    for (buffer, side) in buffers.iter_mut().zip(sides.iter()) {
        buffer.append(side.rest());
    }
}

/// One chunk being interleaved: what of it is not yet handed out.
struct Side<'a> {
    chunk: &'a [u8],
    at: usize,
    /// The end (past its newline) of the next whole line, once looked for.
    next_end: Option<usize>,
}

impl<'a> Side<'a> {
    fn new(chunk: &'a [u8]) -> Side<'a> {
        let mut side = Side {
            chunk,
            at: 0,
            next_end: None,
        };
        side.find_next();
        side
    }

    fn len(&self) -> u64 {
        self.chunk.len() as u64
    }

    fn find_next(&mut self) {
        self.next_end = find_newline(&self.chunk[self.at..]).map(|i| self.at + i + 1);
    }

    /// Twice the middle of the next whole line, in bytes into the chunk.
    fn next_middle(&self) -> Option<u64> {
        self.next_end.map(|end| (self.at + end) as u64)
    }

    /// The next whole line, without its newline.
    fn take_line(&mut self) -> &'a [u8] {
        let end = self.next_end.unwrap_or(self.at);
        let line = &self.chunk[self.at..end.saturating_sub(1).max(self.at)];
        self.at = end;
        self.find_next();
        line
    }

    fn rest(&self) -> &'a [u8] {
        &self.chunk[self.at..]
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

    fn interleaved(first: &[u8], second: &[u8]) -> Vec<(usize, String)> {
        let (mut a, mut b) = (LineBuffer::default(), LineBuffer::default());
        a.split(b"held ", |_, _| unreachable!());
        let mut out = Vec::new();
        split_interleaved((&mut a, first), (&mut b, second), |side, l, _| {
            out.push((side, String::from_utf8_lossy(l).into_owned()))
        });
        a.finish(|l, _| out.push((0, String::from_utf8_lossy(l).into_owned())));
        b.finish(|l, _| out.push((1, String::from_utf8_lossy(l).into_owned())));
        out
    }

    #[test]
    fn chunks_read_together_interleave_by_position() {
        let got = interleaved(b"ok 1\nok 2\n", b"warn\n");
        assert_eq!(
            got,
            [
                (0, "held ok 1".into()),
                (1, "warn".into()),
                (0, "ok 2".into())
            ]
        );
        let got = interleaved(b"1..2\nok 1\nok 2\n", b"warn\n");
        let order: Vec<&str> = got.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(order, ["held 1..2", "ok 1", "warn", "ok 2"]);
        // Unfinished tails stay pending; an empty side hands out nothing.
        let got = interleaved(b"ok 1\nok", b"");
        assert_eq!(got, [(0, "held ok 1".into()), (0, "ok".into())]);
        let got = interleaved(b"", b"a\nb");
        assert_eq!(got, [(1, "a".into()), (0, "held ".into()), (1, "b".into())]);
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
