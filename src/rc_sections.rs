//! `.proctorrc` path sections: a line `[GLOB]` starts a section, and its
//! `key = value` lines set, for the test files GLOB matches, what a file's
//! `# HARNESS-` headers can, and what runs it and with which environment
//! variables. A section beats the file's own headers (the file may be one its
//! owner cannot edit) and the run's `--exec` and `--retry`; `--event-timeout`
//! on the command line beats it; the last matching section wins per key (per
//! variable for `env`). `--explain` says where each setting of a file came from.

use crate::discover::{How, TestFile};
use crate::glob;
use crate::headers::{self, Category, DurationHint, Headers};

/// One `key = value` line of a section.
#[derive(Clone, Debug, PartialEq)]
pub enum Setting {
    EventTimeout(f64),
    Retries(u32),
    Category(Category),
    Conflicts(Vec<String>),
    JobSlots(usize),
    Duration(DurationHint),
    NoPreload(bool),
    /// The command the file is given to (`--exec`'s words); none: it runs itself.
    Exec(Vec<String>),
    /// One environment variable, `NAME=VALUE`.
    Env(String),
}

/// The keys, in the order `--explain` prints them.
pub const KEYS: [&str; 9] = [
    "exec",
    "event-timeout",
    "retries",
    "category",
    "conflicts",
    "job-slots",
    "duration",
    "no-preload",
    "env",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub glob: String,
    /// The rc file and the line of `[GLOB]`, for messages.
    pub file: String,
    pub line: usize,
    /// Each setting with its line.
    pub settings: Vec<(usize, Setting)>,
}

impl Setting {
    fn key(&self) -> &'static str {
        match self {
            Setting::Exec(_) => KEYS[0],
            Setting::EventTimeout(_) => KEYS[1],
            Setting::Retries(_) => KEYS[2],
            Setting::Category(_) => KEYS[3],
            Setting::Conflicts(_) => KEYS[4],
            Setting::JobSlots(_) => KEYS[5],
            Setting::Duration(_) => KEYS[6],
            Setting::NoPreload(_) => KEYS[7],
            Setting::Env(_) => KEYS[8],
        }
    }

    fn read(key: &str, value: &str) -> Result<Setting, String> {
        let word = |choices: &[&str]| {
            choices.iter().position(|c| *c == value).ok_or_else(|| {
                format!(
                    "{} needs one of {}, not '{}'",
                    key,
                    choices.join(", "),
                    value
                )
            })
        };
        Ok(match key {
            "event-timeout" => Setting::EventTimeout(crate::numbers::seconds(value)?),
            "retries" => Setting::Retries(crate::numbers::whole::<u32>(value, 0)?),
            "category" => Setting::Category(
                [Category::General, Category::Isolation, Category::Immiscible]
                    [word(&["general", "isolation", "immiscible"])?],
            ),
            "conflicts" => Setting::Conflicts(value.split_whitespace().map(String::from).collect()),
            "job-slots" => Setting::JobSlots(crate::numbers::whole::<usize>(value, 1)?),
            "duration" => Setting::Duration(
                [
                    DurationHint::Long,
                    DurationHint::Medium,
                    DurationHint::Short,
                ][word(&["long", "medium", "short"])?],
            ),
            "no-preload" => Setting::NoPreload(word(&["no", "yes"])? == 1),
            "exec" => Setting::Exec(value.split_whitespace().map(String::from).collect()),
            "env" => Setting::Env(variable(value)?),
            _ => {
                return Err(format!(
                    "'{}' is not a key (keys: {})",
                    key,
                    KEYS.join(", ")
                ))
            }
        })
    }

    fn apply(&self, file: &mut TestFile) {
        let headers = &mut file.headers;
        match self {
            Setting::EventTimeout(s) => headers.timeout_event = Some(*s),
            Setting::Retries(n) => headers.retries = Some(*n),
            Setting::Category(c) => headers.category = *c,
            Setting::Conflicts(names) => headers.conflicts = names.clone(),
            Setting::JobSlots(n) => headers.slots = Some(*n),
            Setting::Duration(d) => headers.duration = Some(*d),
            Setting::NoPreload(b) => headers.no_preload = *b,
            Setting::Exec(words) => file.how = how_of(words),
            Setting::Env(pair) => {
                let name = variable_name(pair);
                headers.env.retain(|p| variable_name(p) != name);
                headers.env.push(pair.clone());
            }
        }
    }
}

/// `env`'s value, checked: `NAME=VALUE`, NAME a shell variable's name.
fn variable(value: &str) -> Result<String, String> {
    let name = value.split('=').next().unwrap_or("");
    let good = value.contains('=')
        && name.chars().next().map_or(false, |c| !c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if good {
        Ok(value.to_string())
    } else {
        Err(format!(
            "env needs NAME=VALUE, as in env = LC_ALL=C, not '{}'",
            value
        ))
    }
}

fn variable_name(pair: &str) -> &str {
    pair.split('=').next().unwrap_or(pair)
}

/// The sections in `lines` (numbered from `first_line`) of the rc file `file`,
/// or a one-line error naming the file and line.
pub fn parse(file: &str, lines: &[&str], first_line: usize) -> Result<Vec<Section>, String> {
    let mut sections: Vec<Section> = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let line = first_line + i;
        let at = |why: String| format!("unable to read {}:{}: {}", file, line, why);
        let text = raw.split(" #").next().unwrap_or("").trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Some(open) = text.strip_prefix('[') {
            let glob = open
                .strip_suffix(']')
                .filter(|g| !g.trim().is_empty())
                .ok_or_else(|| {
                    at(format!(
                        "'{}' is not a section line, as in [t/slow/*.t]",
                        text
                    ))
                })?;
            sections.push(Section {
                glob: glob.trim().to_string(),
                file: file.to_string(),
                line,
                settings: Vec::new(),
            });
            continue;
        }
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| at(format!("'{}' is not 'key = value'", text)))?;
        let setting = Setting::read(key.trim(), value.trim()).map_err(at)?;
        match sections.last_mut() {
            Some(section) => section.settings.push((line, setting)),
            None => return Err(at("a setting before any [GLOB] line".to_string())),
        }
    }
    Ok(sections)
}

/// Puts the sections' settings over the file's own (its headers, how it
/// runs); the last matching section wins per key. Says which sections matched.
pub fn apply(sections: &[Section], file: &mut TestFile) -> Vec<bool> {
    let path = file.path.to_string_lossy().into_owned();
    sections
        .iter()
        .map(|section| {
            let hit = glob::matches(&section.glob, &path);
            if hit {
                for (_, setting) in &section.settings {
                    setting.apply(file);
                }
            }
            hit
        })
        .collect()
}

/// How the last matching section's `exec` runs the file `path`, if one has it.
pub fn how_for(sections: &[Section], path: &str) -> Option<How> {
    sections
        .iter()
        .filter(|s| glob::matches(&s.glob, path))
        .flat_map(|s| s.settings.iter())
        .rev()
        .find_map(|(_, setting)| match setting {
            Setting::Exec(words) => Some(how_of(words)),
            _ => None,
        })
}

/// How `exec`'s words run a file, as `--exec`'s do: none, as itself.
fn how_of(words: &[String]) -> How {
    if words.is_empty() {
        How::Itself
    } else {
        How::Command(words.to_vec())
    }
}

/// The sections over every file of a run, and a typed `--event-timeout` over
/// both. A section that matches no file is a warning, or under `strict` an
/// error; so is a command of a matching section that is not in PATH, always.
pub fn put_over(
    sections: &[Section],
    files: &mut [TestFile],
    typed_event_timeout: Option<f64>,
    strict: bool,
) -> Result<(), String> {
    let mut matched = vec![false; sections.len()];
    for file in files.iter_mut() {
        for (m, hit) in matched.iter_mut().zip(apply(sections, file)) {
            *m |= hit;
        }
        if let Some(t) = typed_event_timeout {
            file.headers.timeout_event = Some(t);
        }
    }
    for (section, hit) in sections.iter().zip(matched) {
        if hit {
            check_commands(section)?;
            continue;
        }
        let unmatched = format!(
            "{}:{}: [{}] matches no test file of this run",
            section.file, section.line, section.glob
        );
        if strict {
            return Err(format!("{} (--strict)", unmatched));
        }
        errln!("proctor: warning: {}", unmatched);
    }
    Ok(())
}

/// A section's `exec` names a program that is there, as `--exec`'s must.
fn check_commands(section: &Section) -> Result<(), String> {
    for (line, setting) in &section.settings {
        if let Setting::Exec(words) = setting {
            let missing = words
                .first()
                .filter(|program| crate::discover::find_program(program).is_none());
            if let Some(program) = missing {
                return Err(format!(
                    "{}:{}: exec: '{}' is not a program in PATH",
                    section.file, line, program
                ));
            }
        }
    }
    Ok(())
}

/// The last setting of the sections matching `path` that `wanted` picks, and
/// where it is: `FILE:LINE [GLOB]`.
fn last_in_sections(
    sections: &[Section],
    path: &str,
    wanted: impl Fn(&Setting) -> bool,
) -> Option<String> {
    sections
        .iter()
        .filter(|s| glob::matches(&s.glob, path))
        .flat_map(|s| s.settings.iter().map(move |(line, set)| (s, *line, set)))
        .rfind(|(_, _, set)| wanted(set))
        .map(|(s, line, _)| format!("{}:{} [{}]", s.file, line, s.glob))
}

/// The last header line of `head` that sets `key`: each line is parsed alone.
fn header_line(key: &str, head: &[u8]) -> Option<usize> {
    let blank = Headers::default();
    let mut found = None;
    for (i, line) in String::from_utf8_lossy(head).lines().enumerate() {
        if !line.contains("HARNESS-") {
            continue;
        }
        let (h, _) = headers::parse(line.as_bytes(), "");
        let sets = match key {
            "event-timeout" => h.timeout_event != blank.timeout_event,
            "retries" => h.retries != blank.retries,
            "category" => h.category != blank.category,
            "conflicts" => h.conflicts != blank.conflicts,
            "job-slots" => h.slots != blank.slots,
            "duration" => h.duration != blank.duration,
            "no-preload" => h.no_preload != blank.no_preload,
            _ => false,
        };
        if sets {
            found = Some(i + 1);
        }
    }
    found
}

/// What `--explain` knows beyond the file and the sections: the run's own
/// settings, and where a run-wide flag was given.
pub struct RunWide<'a> {
    /// `--event-timeout` as typed on the command line.
    pub typed_event_timeout: Option<f64>,
    /// `--event-timeout` and `--retry`, typed or from the rc files' words.
    pub event_timeout: Option<f64>,
    pub retries: Option<u32>,
    /// Where a flag was given (`command line`, `.proctorrc words`), if at all.
    pub flag_origin: &'a dyn Fn(&str) -> Option<String>,
}

/// `--explain FILE`: FILE's settings, one a line, each with where it came
/// from. `file` is as found (how it runs by `--exec` or its name), before
/// the sections; `head` is its start, where its headers are.
pub fn explain(file: &TestFile, head: &[u8], sections: &[Section], run: &RunWide) -> String {
    let path = file.path.to_string_lossy().into_owned();
    let mut settled = file.clone();
    apply(sections, &mut settled);
    let settings = &mut settled.headers;
    if let Some(t) = run.typed_event_timeout {
        settings.timeout_event = Some(t);
    }
    let timeout = settings.timeout_event.or(run.event_timeout);
    let values = [
        match &settled.how {
            How::Perl => "perl".to_string(),
            How::Itself => "itself".to_string(),
            How::Command(words) => words.join(" "),
        },
        timeout.map_or("60 (0: never)".to_string(), |t| t.to_string()),
        settings.retries.or(run.retries).unwrap_or(0).to_string(),
        format!("{:?}", settings.category).to_lowercase(),
        settings.conflicts.join(" "),
        settings.slots.unwrap_or(1).to_string(),
        settings
            .duration
            .map_or("unknown".to_string(), |d| format!("{:?}", d).to_lowercase()),
        if settings.no_preload { "yes" } else { "no" }.to_string(),
    ];
    let mut out = String::new();
    for (key, value) in KEYS.iter().zip(values.iter()) {
        let mut from = origin(key, sections, &path, head, run);
        if *key == "no-preload" && settings.no_preload && from == "default" {
            // Another interpreter, or a switch a preloaded perl cannot honour.
            from = "its #! line".to_string();
        }
        out.push_str(&format!("{} = {}  ({})\n", key, value, from));
    }
    for pair in &settings.env {
        let name = variable_name(pair);
        let from = last_in_sections(
            sections,
            &path,
            |set| matches!(set, Setting::Env(p) if variable_name(p) == name),
        );
        out.push_str(&format!("env = {}  ({})\n", pair, from.unwrap_or_default()));
    }
    out
}

/// Where the setting `key` of the file `path` came from, by precedence: a
/// typed `--event-timeout`, the last matching section, the file's header,
/// the run's flag (typed or an rc file's words), the default.
fn origin(key: &str, sections: &[Section], path: &str, head: &[u8], run: &RunWide) -> String {
    let flag = match key {
        "exec" => Some("--exec"),
        "event-timeout" => Some("--event-timeout"),
        "retries" => Some("--retry"),
        _ => None,
    };
    if key == "event-timeout" && run.typed_event_timeout.is_some() {
        return "command line".to_string();
    }
    if let Some(place) = last_in_sections(sections, path, |set| set.key() == key) {
        return place;
    }
    if let Some(n) = header_line(key, head) {
        return format!("header line {}", n);
    }
    flag.and_then(run.flag_origin)
        .unwrap_or_else(|| "default".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_their_settings() {
        let lines = [
            "[t/slow/*.t]   # the network ones",
            "event-timeout = 300",
            "category = isolation",
            "",
            "[**/net-*]",
            "retries = 2",
            "no-preload = yes",
        ];
        let sections = parse(".proctorrc", &lines, 3).unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(
            (sections[0].glob.as_str(), sections[0].line),
            ("t/slow/*.t", 3)
        );
        assert_eq!(sections[1].settings[0], (8, Setting::Retries(2)));
        let mut file = TestFile {
            path: "t/slow/net-a.t".into(),
            how: How::Perl,
            headers: Headers::default(),
        };
        let hits = apply(&sections, &mut file);
        assert_eq!(hits, [true, true]);
        let h = file.headers;
        assert_eq!(h.timeout_event, Some(300.0));
        assert_eq!(
            (h.category, h.retries, h.no_preload),
            (Category::Isolation, Some(2), true)
        );
    }

    #[test]
    fn exec_and_env_per_path_the_last_section_winning_per_variable() {
        let lines = [
            "[data/*.test]",
            "exec = python3 -u run.py",
            "env = LC_ALL=C",
            "env = DATA=a=b",
            "[data/net-*]",
            "exec =",
            "env = LC_ALL=POSIX",
        ];
        let sections = parse("rc", &lines, 1).unwrap();
        let mut file = TestFile {
            path: "data/one.test".into(),
            how: How::Itself,
            headers: Headers::default(),
        };
        apply(&sections, &mut file);
        let words = ["python3", "-u", "run.py"].map(String::from).to_vec();
        assert_eq!(file.how, How::Command(words));
        assert_eq!(file.headers.env, ["LC_ALL=C", "DATA=a=b"]);
        file.path = "data/net-dns.test".into();
        apply(&sections, &mut file);
        assert_eq!(file.how, How::Itself);
        assert_eq!(file.headers.env, ["DATA=a=b", "LC_ALL=POSIX"]);
        let err = parse("rc", &["[a]", "env = 1X=2"], 1).unwrap_err();
        assert!(err.contains("env needs NAME=VALUE"), "{}", err);
        assert!(parse("rc", &["[a]", "env = PATH"], 1).is_err());
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let err = |lines: &[&str]| parse("rc", lines, 1).unwrap_err();
        assert_eq!(
            err(&["[t/*.t", ""]),
            "unable to read rc:1: '[t/*.t' is not a section line, as in [t/slow/*.t]"
        );
        assert!(err(&["[a]", "speed = 3"]).starts_with("unable to read rc:2: 'speed' is not a key"));
        assert!(err(&["[a]", "job-slots = 0"]).starts_with("unable to read rc:2: "));
        assert!(err(&["[a]", "category = lonely"]).contains("general, isolation, immiscible"));
        assert_eq!(
            err(&["retries = 1"]),
            "unable to read rc:1: a setting before any [GLOB] line"
        );
    }
}
