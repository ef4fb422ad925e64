//! The order tests start in, and which of them run at all: `--order`, prove's
//! `--state` words, `--failed`, and `--partition` for CI fleets. Longest first
//! is the default once durations are known, since it shortens the run.

use crate::discover::TestFile;
use crate::headers::DurationHint;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Longest known (or hinted) first; unknown files first of all.
    Durations,
    /// As found: named files as given, directories sorted.
    Given,
    Sorted,
    Reverse,
    /// Shuffled with this seed.
    Shuffle(u64),
    /// Quickest first (prove's `--state=fast`).
    Fast,
    /// Most recently modified first (prove's `--state=new`).
    Newest,
}

impl Order {
    /// Parses `--order` values: durations, given, sorted, reverse, shuffle[=SEED].
    pub fn parse(value: &str) -> Result<Option<Order>, String> {
        let order = match value {
            "durations" => Order::Durations,
            "given" => Order::Given,
            "sorted" => Order::Sorted,
            "reverse" => Order::Reverse,
            "shuffle" => return Ok(None),
            _ => match value.strip_prefix("shuffle=").map(|s| s.parse::<u64>()) {
                Some(Ok(seed)) => Order::Shuffle(seed),
                _ => {
                    return Err(format!(
                        "--order: '{}' is not durations, given, sorted, reverse or shuffle[=SEED]",
                        value
                    ))
                }
            },
        };
        Ok(Some(order))
    }
}

/// `--partition slice:M/N` or `hash:M/N`: this machine's share of the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub by_hash: bool,
    /// 1-based.
    pub part: u64,
    pub of: u64,
}

impl Partition {
    pub fn parse(value: &str) -> Result<Partition, String> {
        let bad = || {
            format!(
                "--partition: '{}' is not slice:M/N or hash:M/N with 1 <= M <= N",
                value
            )
        };
        let (kind, share) = value.split_once(':').ok_or_else(bad)?;
        let (m, n) = share.split_once('/').ok_or_else(bad)?;
        let (part, of) = (
            m.parse::<u64>().map_err(|_| bad())?,
            n.parse::<u64>().map_err(|_| bad())?,
        );
        let by_hash = match kind {
            "slice" => false,
            "hash" => true,
            _ => return Err(bad()),
        };
        if part == 0 || of == 0 || part > of {
            return Err(bad());
        }
        Ok(Partition { by_hash, part, of })
    }

    /// Keeps this partition's files. Slices count over the files sorted by path,
    /// so every machine agrees; hashes depend on the path alone, so adding a file
    /// moves no other.
    pub fn select(&self, files: Vec<TestFile>) -> Vec<TestFile> {
        let mut sorted: Vec<String> = files
            .iter()
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect();
        sorted.sort();
        let keep = |path: &str| -> bool {
            let index = if self.by_hash {
                fnv1a(path.as_bytes())
            } else {
                sorted
                    .binary_search_by(|p| p.as_str().cmp(path))
                    .unwrap_or(0) as u64
            };
            index % self.of == self.part - 1
        };
        files
            .into_iter()
            .filter(|f| keep(&f.path.to_string_lossy()))
            .collect()
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What is known of each file from earlier runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Known {
    pub duration: Option<f64>,
    pub failed: Option<bool>,
}

/// Puts `files` in `order`. `known` holds earlier durations; `hints` the
/// duration headers; `mtime` the files' modification times (for Newest).
pub fn arrange(
    files: &mut [TestFile],
    order: Order,
    known: &HashMap<String, Known>,
    hint: impl Fn(&TestFile) -> Option<DurationHint>,
    mtime: impl Fn(&TestFile) -> u64,
) {
    let estimate = |f: &TestFile| -> f64 {
        match known
            .get(&*f.path.to_string_lossy())
            .and_then(|k| k.duration)
        {
            Some(d) => d,
            None => match hint(f) {
                Some(DurationHint::Long) => 1e9,
                Some(DurationHint::Medium) => 5.0,
                Some(DurationHint::Short) => 0.0,
                // Unknown: it may be long, so it goes early.
                None => 1e6,
            },
        }
    };
    match order {
        Order::Given => {}
        Order::Sorted => files.sort_by(|a, b| a.path.cmp(&b.path)),
        Order::Reverse => files.reverse(),
        Order::Durations => files.sort_by(|a, b| {
            estimate(b)
                .partial_cmp(&estimate(a))
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        Order::Fast => files.sort_by(|a, b| {
            estimate(a)
                .partial_cmp(&estimate(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        Order::Newest => files.sort_by_key(|f| std::cmp::Reverse(mtime(f))),
        Order::Shuffle(seed) => {
            // Fisher-Yates with xorshift64*: the same seed gives the same order.
            let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
            for i in (1..files.len()).rev() {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                files.swap(i, (r % (i as u64 + 1)) as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::How;

    fn files(names: &[&str]) -> Vec<TestFile> {
        names
            .iter()
            .map(|n| TestFile {
                path: n.into(),
                how: How::Itself,
                headers: Default::default(),
            })
            .collect()
    }

    fn names(files: &[TestFile]) -> Vec<String> {
        files
            .iter()
            .map(|f| f.path.to_string_lossy().into_owned())
            .collect()
    }

    fn known(pairs: &[(&str, f64)]) -> HashMap<String, Known> {
        pairs
            .iter()
            .map(|(f, d)| {
                (
                    f.to_string(),
                    Known {
                        duration: Some(*d),
                        failed: None,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn longest_first_with_unknown_files_early() {
        let mut f = files(&["a", "b", "c", "d"]);
        let k = known(&[("a", 1.0), ("b", 9.0), ("d", 3.0)]);
        arrange(&mut f, Order::Durations, &k, |_| None, |_| 0);
        assert_eq!(names(&f), ["c", "b", "d", "a"]);
        arrange(&mut f, Order::Fast, &k, |_| None, |_| 0);
        assert_eq!(names(&f), ["a", "d", "b", "c"]);
    }

    #[test]
    fn hints_stand_in_for_durations() {
        let mut f = files(&["short", "long", "medium"]);
        let hint = |f: &TestFile| match &*f.path.to_string_lossy() {
            "short" => Some(DurationHint::Short),
            "long" => Some(DurationHint::Long),
            _ => Some(DurationHint::Medium),
        };
        arrange(&mut f, Order::Durations, &HashMap::new(), hint, |_| 0);
        assert_eq!(names(&f), ["long", "medium", "short"]);
    }

    #[test]
    fn shuffles_repeat_with_their_seed() {
        let base = files(&["a", "b", "c", "d", "e", "f", "g", "h"]);
        let (mut x, mut y, mut z) = (base.clone(), base.clone(), base.clone());
        arrange(&mut x, Order::Shuffle(7), &HashMap::new(), |_| None, |_| 0);
        arrange(&mut y, Order::Shuffle(7), &HashMap::new(), |_| None, |_| 0);
        arrange(&mut z, Order::Shuffle(8), &HashMap::new(), |_| None, |_| 0);
        assert_eq!(names(&x), names(&y));
        assert_ne!(names(&x), names(&z));
        let mut sorted = names(&x);
        sorted.sort();
        assert_eq!(sorted, names(&base));
    }

    #[test]
    fn order_words() {
        assert_eq!(Order::parse("sorted"), Ok(Some(Order::Sorted)));
        assert_eq!(Order::parse("shuffle"), Ok(None));
        assert_eq!(Order::parse("shuffle=42"), Ok(Some(Order::Shuffle(42))));
        assert!(Order::parse("random").unwrap_err().contains("'random'"));
    }

    #[test]
    fn partitions_cover_everything_once() {
        let all = files(&[
            "t/a.t", "t/b.t", "t/c.t", "t/d.t", "t/e.t", "t/f.t", "t/g.t",
        ]);
        for by_hash in [false, true] {
            let mut seen = Vec::new();
            for part in 1..=3 {
                seen.extend(names(
                    &Partition {
                        by_hash,
                        part,
                        of: 3,
                    }
                    .select(all.clone()),
                ));
            }
            seen.sort();
            assert_eq!(seen, names(&all), "by_hash {}", by_hash);
        }
        let slices = Partition::parse("slice:1/3").unwrap().select(all.clone());
        assert_eq!(names(&slices), ["t/a.t", "t/d.t", "t/g.t"]);
    }

    #[test]
    fn bad_partitions() {
        for bad in [
            "slice:0/3",
            "slice:4/3",
            "hash:1/0",
            "slice",
            "mod:1/2",
            "slice:a/b",
        ] {
            assert!(Partition::parse(bad).is_err(), "{}", bad);
        }
        assert_eq!(
            Partition::parse("hash:2/5"),
            Ok(Partition {
                by_hash: true,
                part: 2,
                of: 5
            })
        );
    }
}
