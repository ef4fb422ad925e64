//! The state of one TAP document: the top-level stream or one subtest. It owns
//! the plan, the numbering and the counts of its own level only, and says what
//! is wrong with its document; the parser decides what that means for the file
//! or for the parent's correlated test point.

use super::Directive;

/// Test numbers above this are not checked for duplicates, so the bitmap of
/// seen numbers stays under 128 KiB per level however long the stream.
const TRACKED_NUMBERS: u64 = 1 << 20;

/// Which test numbers have been seen. The common case, `1, 2, 3, ...`, needs no
/// memory at all; only out-of-order numbering allocates the bitmap.
#[derive(Default)]
pub struct Numbering {
    /// While `seen` is empty, numbers `1..=contiguous` are exactly the ones seen.
    contiguous: u64,
    seen: Vec<u64>,
    /// The number a test point without one gets.
    pub next: u64,
    pub max: u64,
    pub out_of_order: bool,
    /// The out-of-order warning has been given.
    pub warned: bool,
}

impl Numbering {
    fn new() -> Numbering {
        Numbering {
            next: 1,
            ..Numbering::default()
        }
    }

    /// Records `n`; returns whether it had been seen before.
    fn see(&mut self, n: u64) -> bool {
        self.next = n.saturating_add(1);
        self.max = self.max.max(n);
        if self.seen.is_empty() {
            if n == self.contiguous + 1 {
                self.contiguous = n;
                return false;
            }
            if n != 0 && n <= self.contiguous {
                return true;
            }
            self.out_of_order = true;
            self.mark(self.contiguous);
        }
        if n == 0 || n > TRACKED_NUMBERS {
            return false;
        }
        let (word, bit) = ((n / 64) as usize, 1u64 << (n % 64));
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        let before = self.seen[word] & bit != 0;
        self.seen[word] |= bit;
        before
    }

    /// Marks `1..=upto` seen in the bitmap (switching from the contiguous form).
    fn mark(&mut self, upto: u64) {
        let upto = upto.min(TRACKED_NUMBERS);
        self.seen.resize((upto / 64) as usize + 1, 0);
        for n in 1..=upto {
            self.seen[(n / 64) as usize] |= 1u64 << (n % 64);
        }
    }
}

/// What a test point did to its level's counts.
pub struct Counted {
    pub number: u64,
    pub duplicate: bool,
    /// Outside `1..planned` (TAP 14: a failure, whatever the point says).
    pub unplanned: bool,
    /// Came after a plan that followed other tests.
    pub after_trailing_plan: bool,
    /// Counts as a failure of this level.
    pub failed: bool,
}

pub struct Level {
    pub planned: Option<u64>,
    /// The plan came after test points, so no test point may follow it.
    pub plan_at_end: bool,
    pub skip_all: bool,
    pub run: u64,
    pub failed: u64,
    pub numbering: Numbering,
    pub strict: bool,
    /// The name from a `# Subtest: name` header, capped; `None` for a bare
    /// subtest or the top level.
    pub name: Option<Vec<u8>>,
    /// The first thing found wrong with this document (for a subtest, why its
    /// correlated test point fails).
    pub problem: Option<String>,
    /// Lines seen at this level, so a version line is only allowed first.
    pub lines: u64,
    /// For a Test2 buffered subtest (`ok 3 - name {` ... `}`), the test point
    /// that opened it; that point was counted before its subtest was read.
    pub opened_by: Option<Opener>,
}

#[derive(Clone, Copy)]
pub struct Opener {
    pub number: u64,
    /// The point passed and is not TODO, so a broken subtest turns it into a failure.
    pub fail_if_broken: bool,
}

/// Longest subtest name kept for matching the correlated test point.
pub const NAME_CAP: usize = 1024;

impl Level {
    pub fn new(name: Option<&[u8]>) -> Level {
        Level {
            planned: None,
            plan_at_end: false,
            skip_all: false,
            run: 0,
            failed: 0,
            numbering: Numbering::new(),
            strict: false,
            name: name.map(|n| n[..n.len().min(NAME_CAP)].to_vec()),
            problem: None,
            lines: 0,
            opened_by: None,
        }
    }

    /// Counts a test point. A `not ok` fails unless it is TODO (so a failing
    /// SKIP fails, as under prove); so does a number outside the plan.
    pub fn count(
        &mut self,
        ok: bool,
        number: Option<u64>,
        directive: Option<Directive>,
    ) -> Counted {
        let number = number.unwrap_or(self.numbering.next);
        let duplicate = self.numbering.see(number);
        let unplanned = number == 0 || self.planned.map_or(false, |p| number > p);
        let after_trailing_plan = self.plan_at_end;
        self.run += 1;
        let failed = unplanned || (!ok && directive != Some(Directive::Todo));
        if failed {
            self.failed += 1;
        }
        Counted {
            number,
            duplicate,
            unplanned,
            after_trailing_plan,
            failed,
        }
    }

    /// Sets the plan; returns false when there already was one.
    pub fn plan(&mut self, count: u64) -> bool {
        if self.planned.is_some() {
            return false;
        }
        self.planned = Some(count);
        self.plan_at_end = self.run > 0;
        self.skip_all = count == 0;
        true
    }

    pub fn note_problem(&mut self, problem: &str) {
        if self.problem.is_none() {
            self.problem = Some(problem.to_string());
        }
    }

    /// What is wrong with this document as a whole once it has ended, in
    /// prove's order: its own problems, the plan, then failures.
    pub fn end_problem(&self) -> Option<String> {
        if let Some(p) = &self.problem {
            return Some(p.clone());
        }
        match self.planned {
            None => return Some("no plan".to_string()),
            Some(p) if p != self.run => {
                return Some(format!("planned {} tests but ran {}", p, self.run))
            }
            _ => {}
        }
        if self.numbering.max > self.planned.unwrap_or(0) {
            return Some(format!(
                "test {} is outside the plan 1..{}",
                self.numbering.max,
                self.planned.unwrap_or(0)
            ));
        }
        if self.failed > 0 {
            return Some(format!("{} of {} tests failed", self.failed, self.run));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_numbers_need_no_bitmap() {
        let mut n = Numbering::new();
        for i in 1..=1000 {
            assert!(!n.see(i));
        }
        assert!(n.seen.is_empty());
        assert!(n.see(7), "a repeat of an earlier number is a duplicate");
    }

    #[test]
    fn out_of_order_numbers_are_fine_once_each() {
        let mut n = Numbering::new();
        assert!(!n.see(2));
        assert!(!n.see(3));
        assert!(!n.see(1));
        assert!(n.see(3));
        assert!(n.out_of_order);
        assert_eq!((n.max, n.next), (3, 4));
    }

    #[test]
    fn huge_numbers_are_not_tracked() {
        let mut n = Numbering::new();
        assert!(!n.see(u64::MAX));
        assert!(!n.see(u64::MAX));
        assert!(n.seen.len() <= 1);
    }

    #[test]
    fn failing_skip_fails_and_failing_todo_does_not() {
        let mut l = Level::new(None);
        assert!(l.count(false, None, Some(Directive::Skip)).failed);
        assert!(!l.count(false, None, Some(Directive::Todo)).failed);
        assert!(!l.count(true, None, None).failed);
        assert_eq!((l.run, l.failed), (3, 1));
    }

    #[test]
    fn end_problems() {
        let mut l = Level::new(None);
        l.count(true, None, None);
        assert_eq!(l.end_problem().as_deref(), Some("no plan"));
        l.plan(2);
        assert_eq!(
            l.end_problem().as_deref(),
            Some("planned 2 tests but ran 1")
        );
        l.count(false, None, None);
        assert_eq!(l.end_problem().as_deref(), Some("1 of 2 tests failed"));
    }
}
