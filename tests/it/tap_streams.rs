//! Random TAP-like streams for the differential check against prove: a seeded
//! generator builds each stream from a grammar of TAP fragments, mostly well
//! formed with a few faults mixed in, and records the kind of each notable
//! fragment it used, so that a disagreement can be matched against the kinds
//! the man page lists as known.

use std::collections::BTreeSet;

/// splitmix64: small, seedable, and the same sequence on every platform, so a
/// seed names a set of streams for good.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }
}

/// One generated test file: what it prints and how it ends.
pub struct Stream {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub ending: Ending,
    /// The notable fragments it holds, by the keys the man page's table uses.
    pub kinds: BTreeSet<&'static str>,
}

pub enum Ending {
    Exit(u8),
    Signal(&'static str),
}

/// The stream being built: its lines (without line ends) and what it used.
struct Builder<'r> {
    rng: &'r mut Rng,
    lines: Vec<Vec<u8>>,
    kinds: BTreeSet<&'static str>,
    /// The number the next test point should have.
    next: u64,
    /// The version its first line declares (12 when none).
    version: u32,
}

impl<'r> Builder<'r> {
    fn line(&mut self, text: impl Into<Vec<u8>>) {
        self.lines.push(text.into());
    }

    fn kind(&mut self, kind: &'static str) {
        self.kinds.insert(kind);
    }

    fn plan(&mut self, count: u64) {
        let plan = match self.rng.below(10) {
            0 => {
                self.kind("plan-comment");
                self.v13_plan_comment();
                format!(
                    "1..{} # {}",
                    count,
                    self.rng.pick(&["text", "skip", "todo x"])
                )
            }
            1 => {
                let (indent, tail) = (
                    self.rng.pick(&["", " "]),
                    self.rng.pick(&[" ", "\t", "x", ""]),
                );
                self.kind(if tail == "x" && count == 0 {
                    "plan-zero-junk"
                } else {
                    "plan-odd"
                });
                format!("{}1..{}{}", indent, count, tail)
            }
            2 if self.rng.chance(30) => {
                self.kind("plan-huge");
                self.rng
                    .pick(&["1..18446744073709551616", "1..99999999999"])
                    .to_string()
            }
            _ => format!("1..{}", count),
        };
        self.line(plan);
    }

    fn skip_all(&mut self) {
        self.kind("plan-skip-all");
        let plan = self.rng.pick(&[
            "1..0",
            "1..0 # skip",
            "1..0 # SKIP no db",
            "1..0 # Skipped: why",
            "1..0 # todo",
        ]);
        if plan.contains('#') {
            self.v13_plan_comment();
        }
        self.line(plan);
    }

    /// prove reads a plan's comment by another grammar when TAP 13 is declared.
    fn v13_plan_comment(&mut self) {
        if self.version == 13 {
            self.kind("v13-plan-comment");
        }
    }

    /// A test point: mostly numbered right, passing, with a description.
    fn test_point(&mut self) {
        let ok = if self.rng.chance(85) {
            "ok"
        } else {
            self.kind("not-ok");
            "not ok"
        };
        let number = self.number();
        let description = self.description();
        let directive = self.directive();
        let mut line = ok.as_bytes().to_vec();
        if let Some(n) = number {
            line.extend_from_slice(format!(" {}", n).as_bytes());
        }
        line.extend_from_slice(&description);
        line.extend_from_slice(directive.as_bytes());
        self.line(line);
        if self.rng.chance(10) {
            self.yaml();
        }
    }

    fn number(&mut self) -> Option<String> {
        let right = self.next;
        self.next += 1;
        match self.rng.below(30) {
            0 => {
                self.kind("num-missing");
                None
            }
            1 => {
                self.kind("num-wrong");
                Some((right + 1 + self.rng.below(3) as u64).to_string())
            }
            2 => {
                self.kind("num-wrong");
                Some(right.saturating_sub(1).to_string())
            }
            3 => {
                self.kind("num-huge");
                Some(
                    self.rng
                        .pick(&["99999999999", "18446744073709551616", "4294967296", "0"])
                        .to_string(),
                )
            }
            4 => {
                self.kind("num-odd");
                Some(
                    self.rng
                        .pick(&["01", "+1", "1a", "-1"])
                        .replace('1', &right.to_string()),
                )
            }
            _ => Some(right.to_string()),
        }
    }

    fn description(&mut self) -> Vec<u8> {
        match self.rng.below(12) {
            0 | 1 => Vec::new(),
            2 => {
                let text = self.rng.pick(&[
                    &b" - a \\# not skip"[..],
                    b" - back\\\\slash",
                    b" - url.html#skip",
                    b" -# SKIP",
                ]);
                self.kind(if text.ends_with(b"skip") || text.ends_with(b"SKIP") {
                    "directive-no-space"
                } else {
                    "desc-escape"
                });
                text.to_vec()
            }
            3 => {
                let bytes = self.rng.pick(&[
                    &b" - nul\0byte"[..],
                    b" - bad \xff\xfe utf8",
                    b" - \xc3\xa9t\xc3\xa9",
                    b" - cr\rin",
                ]);
                self.kind(if bytes.contains(&b'\r') {
                    "cr"
                } else {
                    "desc-bytes"
                });
                bytes.to_vec()
            }
            4 => b"- no space".to_vec(),
            _ => self
                .rng
                .pick(&[&b" - works"[..], b" fine", b" - 2 numbers 3", b" -"])
                .to_vec(),
        }
    }

    fn directive(&mut self) -> String {
        match self.rng.below(14) {
            0 => {
                self.kind("skip");
                " # SKIP no network".into()
            }
            1 => {
                self.kind("todo");
                " # TODO not yet".into()
            }
            2 => {
                self.kind("directive-case");
                self.rng
                    .pick(&[
                        " # skip",
                        " # Skip why",
                        " # todo",
                        " # ToDo later",
                        " #SKIP",
                        " #TODO",
                    ])
                    .to_string()
            }
            3 => {
                let directive = self.rng.pick(&[
                    " # SKIPPED",
                    " # Skipped: why",
                    " # TODOS",
                    " # SKIP: x",
                    " # skipping",
                    " # TODO: x",
                    "# TODO",
                ]);
                self.kind(match directive {
                    "# TODO" => "directive-no-space",
                    " # SKIP: x" | " # TODO: x" => "directive-variant",
                    _ => "directive-suffix",
                });
                directive.to_string()
            }
            _ => String::new(),
        }
    }

    fn yaml(&mut self) {
        self.kind("yaml");
        self.line("  ---");
        self.line("  message: 'boom'");
        if self.rng.chance(50) {
            self.line("  data:");
            self.line("    - 1");
        }
        if self.rng.chance(90) {
            self.line("  ...");
        } else {
            self.kind("yaml-open");
        }
    }

    /// A `# Subtest:` header, an indented body and its closing test point.
    fn subtest(&mut self) {
        self.kind("subtest");
        let name = "inner";
        self.line(format!("    # Subtest: {}", name));
        let count = self.rng.below(3) as u64;
        let plan_first = self.rng.chance(50);
        if plan_first {
            self.line(format!("    1..{}", count));
        }
        let mut broken = false;
        for n in 1..=count {
            if self.rng.chance(15) {
                broken = true;
                self.line(format!("    not ok {} - in", n));
            } else {
                self.line(format!("    ok {} - in", n));
            }
        }
        if !plan_first {
            if self.rng.chance(85) {
                self.line(format!("    1..{}", count));
            } else {
                broken = true;
            }
        }
        if broken {
            self.kind("subtest-broken");
        }
        let number = self.next;
        self.next += 1;
        let closing = match self.rng.below(6) {
            0 => {
                self.kind("subtest-name");
                format!("ok {} - other", number)
            }
            1 => {
                self.kind("subtest-closing-fails");
                format!("not ok {} - {}", number, name)
            }
            _ => format!("ok {} - {}", number, name),
        };
        self.line(closing);
    }

    /// One of the fragments that are neither plans nor test points.
    fn oddity(&mut self) {
        match self.rng.below(12) {
            0 => {
                let bail = self.rng.pick(&[
                    "Bail out!",
                    "Bail out! no db",
                    "bail out! lower",
                    "BAIL OUT!",
                    "Bail out!no space",
                ]);
                self.kind(if bail.starts_with("Bail") {
                    "bail"
                } else {
                    "bail-case"
                });
                self.line(bail);
            }
            1 => {
                let pragma = self.rng.pick(&[
                    "pragma +strict",
                    "pragma -strict",
                    "pragma +foo",
                    "pragma +strict, -bar",
                ]);
                // prove reads pragmas only under a version line.
                let strict_v12 = pragma.contains("+strict") && self.version < 13;
                self.kind(if strict_v12 {
                    "pragma-strict-v12"
                } else {
                    "pragma"
                });
                self.line(pragma);
            }
            2 => {
                self.kind("comment");
                self.line("# a comment");
            }
            3 => {
                self.kind("junk");
                let junk = self.rng.pick(&[
                    "hello",
                    "okay",
                    "1..x",
                    "not ok-",
                    "ok1",
                    "nok 1",
                    "  ",
                    "TAP version 13",
                    "...",
                    "---",
                ]);
                self.line(junk);
            }
            4 => {
                self.kind("indent-odd");
                let number = self.next;
                self.next += 1;
                let indent = self.rng.pick(&[" ", "  ", "\t", "   ", "    "]);
                self.line(format!("{}ok {} - indented", indent, number));
            }
            5 => {
                self.kind("blank");
                self.line("");
            }
            6 => {
                self.kind("nul");
                self.line(&b"\0"[..]);
            }
            7 => {
                self.kind("yaml-stray");
                self.line("  ---");
                self.line("  a: 1");
                self.line("  ...");
            }
            8 => self.subtest(),
            9 => {
                self.kind("indent-bare");
                self.line("    ok 1 - a child with no header");
                self.line("    1..1");
            }
            10 => {
                let (line, version, kind) = self.rng.pick(&[
                    ("TAP version 13", 13, "version-13"),
                    ("TAP version 14", 14, "version-14"),
                ]);
                if self.lines.is_empty() {
                    self.version = version;
                    self.kind(kind);
                } else {
                    self.kind("version-late");
                }
                self.line(line);
            }
            _ => {
                self.kind("bad-utf8");
                self.line(&b"# \xff\xfe\xc3"[..]);
            }
        }
    }
}

/// Builds one stream from `rng`.
pub fn stream(rng: &mut Rng) -> Stream {
    let mut b = Builder {
        rng,
        lines: Vec::new(),
        kinds: BTreeSet::new(),
        next: 1,
        version: 12,
    };
    version(&mut b);
    let tests = b.rng.below(6) as u64;
    let plan_where = b.rng.below(20);
    // The plan says the number of test points most of the time, a number off by
    // one now and then.
    let count = if b.rng.chance(90) {
        tests
    } else {
        b.kind("plan-count");
        tests + 1
    };
    match plan_where {
        0 => b.skip_all(),
        1..=9 => b.plan(count),
        _ => {}
    }
    for _ in 0..tests {
        if b.rng.chance(12) {
            b.oddity();
        }
        b.test_point();
    }
    if b.rng.chance(20) {
        b.oddity();
    }
    match plan_where {
        10..=17 => b.plan(count),
        18 => {
            b.kind("plan-none");
        }
        _ => {}
    }
    if b.rng.chance(5) {
        b.kind("plan-twice");
        if b.rng.chance(50) {
            b.skip_all()
        } else {
            b.plan(count)
        }
    }
    if b.rng.chance(4) {
        b.kind("after-plan");
        b.test_point();
    }
    let Builder { lines, kinds, .. } = b;
    finish(rng, lines, kinds)
}

fn version(b: &mut Builder) {
    let line = match b.rng.below(10) {
        0 => "TAP version 13",
        1 => "TAP version 14",
        2 => b.rng.pick(&[
            "TAP version 12",
            "TAP version 15",
            "TAP version 13 ",
            "tap version 13",
            "TAP Version 13",
        ]),
        _ => return,
    };
    let (version, kind) = match line {
        "TAP version 12" => (12, "version-12"),
        "TAP version 14" => (14, "version-14"),
        "TAP version 15" => (15, "version-15"),
        "TAP version 13" => (13, "version-13"),
        _ => (13, "version-odd"),
    };
    b.version = version;
    b.kind(kind);
    b.line(line);
}

/// Joins the lines with the stream's line ends and picks how it ends.
fn finish(rng: &mut Rng, lines: Vec<Vec<u8>>, mut kinds: BTreeSet<&'static str>) -> Stream {
    let end: &[u8] = match rng.below(20) {
        0 => {
            kinds.insert("crlf");
            b"\r\n"
        }
        1 => {
            kinds.insert("cr");
            b"\r"
        }
        _ => b"\n",
    };
    let mut stdout = Vec::new();
    for line in &lines {
        stdout.extend_from_slice(line);
        stdout.extend_from_slice(end);
    }
    if rng.chance(5) && !stdout.is_empty() {
        kinds.insert("no-final-newline");
        stdout.truncate(stdout.len() - end.len());
    }
    let stderr = if rng.chance(15) {
        kinds.insert("stderr");
        b"not ok 9 - on stderr\n# diag\n".to_vec()
    } else {
        Vec::new()
    };
    let ending = match rng.below(25) {
        0 => {
            kinds.insert("exit-nonzero");
            Ending::Exit(rng.pick(&[1, 2, 255]))
        }
        1 => {
            kinds.insert("signal");
            Ending::Signal(rng.pick(&["TERM", "KILL"]))
        }
        _ => Ending::Exit(0),
    };
    Stream {
        stdout,
        stderr,
        ending,
        kinds,
    }
}

impl Stream {
    /// A perl program that prints the stream byte for byte (stderr between two
    /// halves of stdout, so their order varies too) and ends as it should.
    pub fn program(&self) -> String {
        let half = self.stdout.len() / 2;
        let mut p = String::from("#!/usr/bin/perl\nbinmode STDOUT; binmode STDERR; $| = 1;\n");
        p += &format!("print STDOUT \"{}\";\n", perl_string(&self.stdout[..half]));
        if !self.stderr.is_empty() {
            p += &format!("print STDERR \"{}\";\n", perl_string(&self.stderr));
        }
        p += &format!("print STDOUT \"{}\";\n", perl_string(&self.stdout[half..]));
        match self.ending {
            Ending::Exit(code) => p += &format!("exit {};\n", code),
            Ending::Signal(name) => p += &format!("kill '{}', $$; sleep 10; exit 0;\n", name),
        }
        p
    }

    /// The stream as text for a report: escapes for line ends and odd bytes.
    pub fn shown(&self) -> String {
        let mut s = String::new();
        for &byte in &self.stdout {
            match byte {
                b'\n' => s += "\\n\n",
                b'\r' => s += "\\r",
                b' '..=b'~' => s.push(byte as char),
                _ => s += &format!("\\x{:02x}", byte),
            }
        }
        s
    }
}

fn perl_string(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b == b' ' {
                (b as char).to_string()
            } else {
                format!("\\x{:02x}", b)
            }
        })
        .collect()
}
