//! prove's `--state`: what earlier runs did, kept in `.prove` (or the
//! `--statefile`) in App::Prove::State's own format, so prove and proctor prove
//! can take turns on one project. The words select and order files (`failed`,
//! `slow:5`...), `save` writes the state back after the run. Without `--state`
//! the file is neither read nor written.

use super::yamlish::{self, Node};
use crate::error::{Error, Result};
use crate::event::{Event, Interest, JobResult, Kind};
use crate::render::Renderer;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One test's record, as the file has it: field name to value.
type Record = BTreeMap<String, Node>;

/// The file prove keeps its state in.
const STATE_FILE: &str = ".prove";

/// Which tests a state word takes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Filter {
    Any,
    LastRun,
    Failed,
    Passed,
    Todo,
    EverFailed,
    ChangedSinceRun,
}

/// What a state word orders its tests by, smallest first.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Key {
    Sequence,
    MostFailures,
    MostTodos,
    LatestFailure,
    Slowest,
    Fastest,
    Newest,
    Oldest,
}

#[derive(Clone, Debug, PartialEq)]
struct Clause {
    filter: Filter,
    order: Option<Key>,
    limit: Option<usize>,
}

/// A finished file, as the run reported it.
#[derive(Clone, Debug, PartialEq)]
struct Observed {
    name: String,
    /// prove's "result": failed tests, plus one if the file had problems.
    result: u64,
    todo: u64,
    elapsed: f64,
    ended: f64,
}

pub struct State {
    /// Where the state lives; `None`: no `--state`, nothing to do.
    file: Option<PathBuf>,
    generation: u64,
    last_run_time: Option<f64>,
    tests: BTreeMap<String, Record>,
    clauses: Vec<Clause>,
    save: bool,
    next_sequence: u64,
    observed: Rc<RefCell<Vec<Observed>>>,
}

impl State {
    /// The state for these `--state` words, read from `statefile` (default
    /// `.prove`) if it is there. Files it names that are gone are forgotten.
    pub fn open(words: &[String], statefile: Option<&Path>) -> Result<State> {
        let mut state = State {
            file: None,
            generation: 1,
            last_run_time: None,
            tests: BTreeMap::new(),
            clauses: Vec::new(),
            save: false,
            next_sequence: 1,
            observed: Rc::new(RefCell::new(Vec::new())),
        };
        if words.is_empty() {
            return Ok(state);
        }
        let file = statefile.map_or_else(|| PathBuf::from(STATE_FILE), Path::to_path_buf);
        if file.is_file() {
            state.load(&file)?;
        }
        state.file = Some(file);
        state.apply(words)?;
        Ok(state)
    }

    fn load(&mut self, file: &Path) -> Result<()> {
        let bad = |why: String| Error::Usage(format!("unable to read {}: {}", file.display(), why));
        let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
        let doc = match yamlish::read(&text).map_err(bad)? {
            Node::Map(doc) => doc,
            Node::Scalar(_) => return Err(bad("it is not a mapping".into())),
        };
        self.generation = number(doc.get("generation")).map_or(0, |g| g as u64);
        self.last_run_time = number(doc.get("last_run_time"));
        if let Some(Node::Map(tests)) = doc.get("tests") {
            for (name, record) in tests {
                if let Node::Map(record) = record {
                    self.tests.insert(name.clone(), record.clone());
                }
            }
        }
        // As prove: forget what is gone, note when the rest last changed, and
        // count this run as the next generation.
        self.tests.retain(|name, _| Path::new(name).exists());
        for (name, record) in self.tests.iter_mut() {
            if let Some(mtime) = modified(Path::new(name)) {
                record.insert("mtime".into(), scalar(mtime.to_string()));
            }
        }
        // The file may say anything: no number in it may overflow.
        self.next_sequence = (self
            .tests
            .values()
            .filter_map(|r| number(r.get("seq")))
            .fold(0.0, f64::max) as u64)
            .saturating_add(1);
        self.generation = self.generation.saturating_add(1);
        Ok(())
    }

    fn apply(&mut self, words: &[String]) -> Result<()> {
        let mut words: Vec<String> = words.to_vec();
        let mut at = 0;
        while at < words.len() {
            let word = words[at].clone();
            at += 1;
            let (name, limit) = match word.split_once(':') {
                Some((name, limit)) => (name, Some(limit)),
                None => (word.as_str(), None),
            };
            let limit = match limit {
                None | Some("") => None,
                Some(n) => Some(n.parse::<usize>().map_err(|_| {
                    Error::Usage(format!(
                        "--state: '{}' is not a whole number in '{}'",
                        n, word
                    ))
                })?),
            };
            let (filter, order) = match name {
                "last" => (Filter::LastRun, Some(Key::Sequence)),
                "failed" => (Filter::Failed, Some(Key::MostFailures)),
                "passed" => (Filter::Passed, None),
                "all" => (Filter::Any, None),
                "todo" => (Filter::Todo, Some(Key::MostTodos)),
                "hot" => (Filter::EverFailed, Some(Key::LatestFailure)),
                "slow" => (Filter::Any, Some(Key::Slowest)),
                "fast" => (Filter::Any, Some(Key::Fastest)),
                "new" => (Filter::Any, Some(Key::Newest)),
                "old" => (Filter::Any, Some(Key::Oldest)),
                "fresh" => (Filter::ChangedSinceRun, None),
                "save" => {
                    self.save = true;
                    continue;
                }
                "adrian" => {
                    words.splice(at..at, ["hot", "all", "save"].iter().map(|w| w.to_string()));
                    continue;
                }
                other => {
                    return Err(Error::Usage(format!("Illegal state option: {}", other)));
                }
            };
            self.clauses.push(Clause {
                filter,
                order,
                limit,
            });
        }
        Ok(())
    }

    /// Whether a word asked to select files (then no path is no `t/`).
    pub fn selecting(&self) -> bool {
        !self.clauses.is_empty()
    }

    /// The files the words select, clause after clause (a file may come twice;
    /// the caller keeps the first).
    pub fn selected(&self) -> Vec<PathBuf> {
        if self.clauses.is_empty() {
            return Vec::new();
        }
        if self.tests.is_empty() {
            errln!("No saved state, selection will be empty");
        }
        let mut by_sequence: Vec<(&String, &Record)> = self.tests.iter().collect();
        by_sequence.sort_by(|a, b| field(a.1, "seq", 1.0).total_cmp(&field(b.1, "seq", 1.0)));
        let now = now();
        let mut out = Vec::new();
        for clause in &self.clauses {
            let mut got: Vec<(&String, Option<f64>)> = by_sequence
                .iter()
                .filter(|(name, record)| {
                    Path::new(name).is_file() && self.takes(clause.filter, record)
                })
                .map(|(name, record)| (*name, clause.order.and_then(|k| key(k, record, now))))
                .collect();
            if clause.order.is_some() {
                // Known keys first, smallest first; a stable sort, as Perl's.
                got.sort_by(|a, b| match (a.1, b.1) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                });
            }
            if let Some(limit) = clause.limit.filter(|&l| l > 0) {
                got.truncate(limit);
            }
            out.extend(got.into_iter().map(|(name, _)| PathBuf::from(name)));
        }
        out
    }

    fn takes(&self, filter: Filter, record: &Record) -> bool {
        match filter {
            Filter::Any => true,
            Filter::LastRun => field(record, "gen", 1.0) >= self.generation as f64 - 1.0,
            Filter::Failed => field(record, "last_result", 0.0) != 0.0,
            Filter::Passed => field(record, "last_result", 0.0) == 0.0,
            Filter::Todo => field(record, "last_todo", 0.0) != 0.0,
            Filter::EverFailed => number(record.get("last_fail_time")).is_some(),
            Filter::ChangedSinceRun => {
                number(record.get("mtime")).unwrap_or(0.0) >= self.last_run_time.unwrap_or(0.0)
            }
        }
    }

    /// A renderer that notes each finished file for the state.
    pub fn observer(&self) -> Box<dyn Renderer> {
        Box::new(Observer(self.observed.clone()))
    }

    /// Records what the run did, and writes the state if `save` was asked.
    pub fn commit(&mut self) -> Result<()> {
        let file = match &self.file {
            Some(file) => file.clone(),
            None => return Ok(()),
        };
        for seen in self.observed.take() {
            let record = self.tests.entry(seen.name.clone()).or_default();
            let set = |record: &mut Record, k: &str, v: String| {
                record.insert(k.to_string(), scalar(v));
            };
            set(record, "seq", self.next_sequence.to_string());
            self.next_sequence = self.next_sequence.saturating_add(1);
            set(record, "gen", self.generation.to_string());
            set(record, "last_run_time", perl_number(seen.ended));
            set(record, "last_result", seen.result.to_string());
            set(record, "last_todo", seen.todo.to_string());
            set(record, "elapsed", perl_number(seen.elapsed));
            let (total, last) = if seen.result > 0 {
                ("total_failures", "last_fail_time")
            } else {
                ("total_passes", "last_pass_time")
            };
            let count = (field(record, total, 0.0) as u64).saturating_add(1);
            set(record, total, count.to_string());
            set(record, last, perl_number(seen.ended));
        }
        if !self.save {
            return Ok(());
        }
        let mut doc = BTreeMap::new();
        doc.insert(
            "generation".to_string(),
            scalar(self.generation.to_string()),
        );
        doc.insert("last_run_time".to_string(), scalar(perl_number(now())));
        let tests = self
            .tests
            .iter()
            .map(|(name, record)| (name.clone(), Node::Map(record.clone())))
            .collect();
        doc.insert("tests".to_string(), Node::Map(tests));
        doc.insert("version".to_string(), scalar("1".to_string()));
        std::fs::write(&file, yamlish::write(&doc))
            .map_err(|e| Error::io(format!("write {}", file.display()), e))
    }
}

/// A state word's sort key for a test; `None` sorts last.
fn key(key: Key, record: &Record, now: f64) -> Option<f64> {
    match key {
        Key::Sequence => Some(field(record, "seq", 1.0)),
        Key::MostFailures => Some(-field(record, "last_result", 0.0)),
        Key::MostTodos => Some(-field(record, "last_todo", 0.0)),
        Key::LatestFailure => number(record.get("last_fail_time")).map(|t| now - t),
        Key::Slowest => Some(-field(record, "elapsed", 0.0)),
        Key::Fastest => Some(field(record, "elapsed", 0.0)),
        Key::Newest => number(record.get("mtime")).map(|t| -t),
        Key::Oldest => number(record.get("mtime")),
    }
}

/// A field's number, with prove's default for one that is missing or 0.
fn field(record: &Record, name: &str, default: f64) -> f64 {
    number(record.get(name))
        .filter(|&n| n != 0.0)
        .unwrap_or(default)
}

fn number(node: Option<&Node>) -> Option<f64> {
    match node {
        Some(Node::Scalar(Some(s))) => s.trim().parse().ok(),
        _ => None,
    }
}

fn scalar(s: String) -> Node {
    Node::Scalar(Some(s))
}

fn modified(path: &Path) -> Option<u64> {
    let time = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A number as Perl prints it: at most 15 significant digits, no trailing
/// zeros.
fn perl_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-5..15).contains(&magnitude) {
        return format!("{:e}", x);
    }
    let decimals = (14 - magnitude).max(0) as usize;
    let s = format!("{:.*}", decimals, x);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Notes each finished file from the run's job_end events.
struct Observer(Rc<RefCell<Vec<Observed>>>);

impl Renderer for Observer {
    fn interest(&self) -> Interest {
        Interest::of(&[Kind::JobEnd])
    }

    fn event(&mut self, event: &mut Event) -> io::Result<()> {
        let end = event.job_end();
        let result = end.result();
        if result == JobResult::Cancelled {
            // Never run (after a bail-out or an interrupt): nothing to note.
            return Ok(());
        }
        let counts = end.counts();
        self.0.borrow_mut().push(Observed {
            name: end.file().unwrap_or("").to_string(),
            result: counts
                .failed
                .saturating_add(u64::from(result == JobResult::Fail)),
            todo: counts.todo,
            elapsed: end.duration(),
            ended: end.stamp().unwrap_or_else(now),
        });
        Ok(())
    }

    fn finish(&mut self, _complete: bool) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    /// A state over real files, in a directory of its own: selection looks
    /// at whether each file is there.
    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str, files: &[&str]) -> Scratch {
        let d = std::env::temp_dir().join(format!(
            "proctor-provestate-{}-{}",
            name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for f in files {
            std::fs::write(d.join(f), "").unwrap();
        }
        Scratch(d)
    }

    fn observe(state: &State, name: &Path, result: u64, elapsed: f64) {
        state.observed.borrow_mut().push(Observed {
            name: name.to_string_lossy().into_owned(),
            result,
            todo: 0,
            elapsed,
            ended: 1000.0,
        });
    }

    #[test]
    fn saved_runs_select_and_order_the_next() {
        let d = scratch("select", &["a.t", "b.t", "c.t"]);
        let (a, b, c) = (d.0.join("a.t"), d.0.join("b.t"), d.0.join("c.t"));
        let file = d.0.join("state");
        let mut state = State::open(&words(&["save"]), Some(&file)).unwrap();
        assert!(!state.selecting());
        observe(&state, &a, 0, 0.5);
        observe(&state, &b, 2, 0.1);
        observe(&state, &c, 1, 2.0);
        state.commit().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("---\ngeneration: 1\n"), "{}", text);

        let pick = |w: &[&str]| State::open(&words(w), Some(&file)).unwrap().selected();
        assert_eq!(
            pick(&["failed"]),
            [b.clone(), c.clone()],
            "most failures first"
        );
        assert_eq!(pick(&["passed"]), std::slice::from_ref(&a));
        assert_eq!(pick(&["slow"]), [c.clone(), a.clone(), b.clone()]);
        assert_eq!(pick(&["fast:1"]), std::slice::from_ref(&b));
        assert_eq!(pick(&["last"]), [a.clone(), b.clone(), c.clone()]);
        assert_eq!(
            pick(&["hot", "all"]).len(),
            5,
            "clauses add up; the caller drops repeats"
        );
        std::fs::remove_file(&c).unwrap();
        assert_eq!(pick(&["failed"]), [b], "a file that is gone is forgotten");
    }

    #[test]
    fn a_second_save_counts_on_from_the_first() {
        let d = scratch("again", &["a.t"]);
        let a = d.0.join("a.t");
        let file = d.0.join("state");
        for _ in 0..2 {
            let mut state = State::open(&words(&["save"]), Some(&file)).unwrap();
            observe(&state, &a, 0, 0.25);
            state.commit().unwrap();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("generation: 2\n"), "{}", text);
        assert!(
            text.contains("    seq: 2\n") && text.contains("    total_passes: 2\n"),
            "{}",
            text
        );
        assert!(text.contains("    elapsed: 0.25\n"), "{}", text);
    }

    #[test]
    fn without_state_words_nothing_is_read_or_written() {
        let d = scratch("none", &[]);
        let file = d.0.join("state");
        std::fs::write(&file, "not yaml").unwrap();
        let mut state = State::open(&[], Some(&file)).unwrap();
        state.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "not yaml");
        let err = State::open(&words(&["failed"]), Some(&file)).err().unwrap();
        assert!(err.to_string().contains("unable to read"), "{}", err);
        let err = State::open(&words(&["fresher"]), None).err().unwrap();
        assert_eq!(err.to_string(), "Illegal state option: fresher");
    }

    #[test]
    fn numbers_print_as_perl_prints_them() {
        assert_eq!(perl_number(1796666793.89978), "1796666793.89978");
        assert_eq!(perl_number(0.000818014144897461), "0.000818014144897461");
        assert_eq!(perl_number(0.25), "0.25");
        assert_eq!(perl_number(3.0), "3");
    }
}
