//! The order tests start in, and which of them run at all: `--order`, prove's
//! `--state` words, `--failed`, and `--partition` for CI fleets. Longest first
//! is the default once durations are known, since it shortens the run.

use crate::discover::TestFile;
use crate::headers::DurationHint;
use crate::numbers;
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

/// What `--partition` asked for: a share given outright, or `auto`, the share
/// the CI's own variables give (read when the run starts, not when parsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    Given(Partition),
    FromCi,
}

impl Share {
    pub fn parse(value: &str) -> Result<Share, String> {
        if value == "auto" {
            Ok(Share::FromCi)
        } else {
            Partition::parse(value).map(Share::Given)
        }
    }
}

/// One CI's variables for the jobs of a parallel job: the job's index, the
/// first index it counts from, and how many jobs there are.
struct CiShare {
    ci: &'static str,
    index: &'static str,
    first: u64,
    total: &'static str,
}

/// The CIs `--partition auto` knows, in the order they are looked for.
/// GitLab counts its jobs from 1; CircleCI and Buildkite from 0 (each one's
/// documentation of these variables).
const CI_SHARES: &[CiShare] = &[
    CiShare {
        ci: "GitLab",
        index: "CI_NODE_INDEX",
        first: 1,
        total: "CI_NODE_TOTAL",
    },
    CiShare {
        ci: "CircleCI",
        index: "CIRCLE_NODE_INDEX",
        first: 0,
        total: "CIRCLE_NODE_TOTAL",
    },
    CiShare {
        ci: "Buildkite",
        index: "BUILDKITE_PARALLEL_JOB",
        first: 0,
        total: "BUILDKITE_PARALLEL_JOB_COUNT",
    },
];

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

    /// `--partition auto`: the slice of the files that is this job's in its
    /// CI's parallel job, from the CI's variables (`var` reads one), and a
    /// line saying which variables gave it. A variable set without its pair,
    /// or out of range, is an error that names it; so is none at all.
    pub fn from_ci(var: impl Fn(&str) -> Option<String>) -> Result<(Partition, String), String> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        for ci in CI_SHARES {
            let (index, total) = match (var(ci.index), var(ci.total)) {
                (None, None) => continue,
                // GitLab sets its total, 1, on a job that is not parallel.
                (None, Some(total)) if ci.first == 1 && total == "1" => {
                    let whole = Partition {
                        by_hash: false,
                        part: 1,
                        of: 1,
                    };
                    let from = format!(
                        "all of it: {}=1 and no {}, not a parallel job",
                        ci.total, ci.index
                    );
                    return Ok((whole, from));
                }
                (Some(_), None) => {
                    return Err(format!(
                        "--partition auto: {} is set but {} is not",
                        ci.index, ci.total
                    ))
                }
                (None, Some(_)) => {
                    return Err(format!(
                        "--partition auto: {} is set but {} is not",
                        ci.total, ci.index
                    ))
                }
                (Some(index), Some(total)) => (index, total),
            };
            let of = numbers::whole::<u64>(&total, 1)
                .map_err(|why| format!("--partition auto: {}: {}", ci.total, why))?;
            let at = numbers::whole::<u64>(&index, 0)
                .map_err(|why| format!("--partition auto: {}: {}", ci.index, why))?;
            let last = of - 1 + ci.first;
            if at < ci.first || at > last {
                return Err(format!(
                    "--partition auto: {} is {}, not between {} and {} ({} counts from {}, and {} is {})",
                    ci.index, at, ci.first, last, ci.ci, ci.first, ci.total, of
                ));
            }
            let share = Partition {
                by_hash: false,
                part: at - ci.first + 1,
                of,
            };
            let from = format!(
                "slice:{}/{}, from {}'s {}={} and {}={}",
                share.part, share.of, ci.ci, ci.index, at, ci.total, of
            );
            return Ok((share, from));
        }
        Err(format!(
            "--partition auto: no CI parallel-job variables are set ({}); give slice:M/N instead",
            CI_SHARES
                .iter()
                .map(|c| format!("{}'s {} and {}", c.ci, c.index, c.total))
                .collect::<Vec<_>>()
                .join(", ")
        ))
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

    fn ci(vars: &[(&str, &str)]) -> Result<(Partition, String), String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Partition::from_ci(|name| vars.get(name).cloned())
    }

    fn slice(part: u64, of: u64) -> Partition {
        Partition {
            by_hash: false,
            part,
            of,
        }
    }

    #[test]
    fn auto_takes_each_cis_share_counting_as_it_counts() {
        let gitlab = ci(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "4")]).unwrap();
        assert_eq!(gitlab.0, slice(1, 4));
        assert_eq!(
            gitlab.1,
            "slice:1/4, from GitLab's CI_NODE_INDEX=1 and CI_NODE_TOTAL=4"
        );
        let circle = ci(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "4")]).unwrap();
        assert_eq!(circle.0, slice(1, 4));
        let buildkite = ci(&[
            ("BUILDKITE_PARALLEL_JOB", "3"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
        ])
        .unwrap();
        assert_eq!(buildkite.0, slice(4, 4));
        // A GitLab job that is not parallel has a total of 1 and no index.
        assert_eq!(ci(&[("CI_NODE_TOTAL", "1")]).unwrap().0, slice(1, 1));
        assert_eq!(Share::parse("auto"), Ok(Share::FromCi));
        assert_eq!(Share::parse("slice:2/3"), Ok(Share::Given(slice(2, 3))));
    }

    #[test]
    fn auto_says_what_is_wrong_with_the_cis_variables() {
        for (vars, said) in [
            (
                &[][..],
                "no CI parallel-job variables are set (GitLab's CI_NODE_INDEX",
            ),
            (
                &[("CI_NODE_INDEX", "")][..],
                "no CI parallel-job variables are set",
            ),
            (
                &[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "4")][..],
                "CI_NODE_INDEX is 0, not between 1 and 4 (GitLab counts from 1",
            ),
            (
                &[("CIRCLE_NODE_INDEX", "4"), ("CIRCLE_NODE_TOTAL", "4")][..],
                "CIRCLE_NODE_INDEX is 4, not between 0 and 3 (CircleCI counts from 0",
            ),
            (
                &[("CI_NODE_INDEX", "2")][..],
                "CI_NODE_INDEX is set but CI_NODE_TOTAL is not",
            ),
            (
                &[("CI_NODE_TOTAL", "3")][..],
                "CI_NODE_TOTAL is set but CI_NODE_INDEX is not",
            ),
            (
                &[
                    ("BUILDKITE_PARALLEL_JOB", "x"),
                    ("BUILDKITE_PARALLEL_JOB_COUNT", "2"),
                ][..],
                "BUILDKITE_PARALLEL_JOB: 'x' is not a whole number",
            ),
            (
                &[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "0")][..],
                "CIRCLE_NODE_TOTAL: '0' is less than 1",
            ),
            (
                &[
                    ("CI_NODE_INDEX", "1"),
                    ("CI_NODE_TOTAL", "99999999999999999999"),
                ][..],
                "CI_NODE_TOTAL: '99999999999999999999' is too big",
            ),
        ] {
            let err = ci(vars).unwrap_err();
            assert!(err.starts_with("--partition auto: "), "{}", err);
            assert!(err.contains(said), "{:?}: {}", vars, err);
        }
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
