//! `.proctorrc` path sections: a line `[GLOB]` starts a section, and its
//! `key = value` lines set, for the test files GLOB matches, what a file's
//! `# HARNESS-` headers can. A section beats the file's own headers (the file may
//! be one its owner cannot edit); `--event-timeout` on the command line beats
//! both; the last matching section wins per key. `--explain` says where each
//! setting of a file came from.

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
}

/// The keys, in the order `--explain` prints them.
pub const KEYS: [&str; 7] = [
    "event-timeout",
    "retries",
    "category",
    "conflicts",
    "job-slots",
    "duration",
    "no-preload",
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
            Setting::EventTimeout(_) => KEYS[0],
            Setting::Retries(_) => KEYS[1],
            Setting::Category(_) => KEYS[2],
            Setting::Conflicts(_) => KEYS[3],
            Setting::JobSlots(_) => KEYS[4],
            Setting::Duration(_) => KEYS[5],
            Setting::NoPreload(_) => KEYS[6],
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
            _ => {
                return Err(format!(
                    "'{}' is not a key (keys: {})",
                    key,
                    KEYS.join(", ")
                ))
            }
        })
    }

    fn apply(&self, headers: &mut Headers) {
        match self {
            Setting::EventTimeout(s) => headers.timeout_event = Some(*s),
            Setting::Retries(n) => headers.retries = Some(*n),
            Setting::Category(c) => headers.category = *c,
            Setting::Conflicts(names) => headers.conflicts = names.clone(),
            Setting::JobSlots(n) => headers.slots = Some(*n),
            Setting::Duration(d) => headers.duration = Some(*d),
            Setting::NoPreload(b) => headers.no_preload = *b,
        }
    }
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

/// Puts the sections' settings over `headers` of the file `path`; the last
/// matching section wins per key. Says which sections matched it.
pub fn apply(sections: &[Section], path: &str, headers: &mut Headers) -> Vec<bool> {
    sections
        .iter()
        .map(|section| {
            let hit = glob::matches(&section.glob, path);
            if hit {
                for (_, setting) in &section.settings {
                    setting.apply(headers);
                }
            }
            hit
        })
        .collect()
}

/// Where one of a file's settings came from, for `--explain`.
pub fn origin(
    key: &str,
    sections: &[Section],
    path: &str,
    head: &[u8],
    on_command_line: bool,
    in_rc_words: bool,
) -> String {
    if on_command_line {
        return "command line".to_string();
    }
    let from_section = sections
        .iter()
        .filter(|s| glob::matches(&s.glob, path))
        .flat_map(|s| s.settings.iter().map(move |(line, set)| (s, *line, set)))
        .rfind(|(_, _, set)| set.key() == key);
    if let Some((s, line, _)) = from_section {
        return format!("{}:{} [{}]", s.file, line, s.glob);
    }
    if let Some(n) = header_line(key, head) {
        return format!("header line {}", n);
    }
    if in_rc_words {
        return "rc file words (before any section)".to_string();
    }
    "default".to_string()
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
            _ => h.no_preload != blank.no_preload,
        };
        if sets {
            found = Some(i + 1);
        }
    }
    found
}

/// `--explain FILE`: FILE's settings, one a line, each with where it came from.
/// `typed`: `--event-timeout` on the command line; `run`: the run's event
/// timeout and retries (from the rc files' words, or the command line).
pub fn explain(
    path: &str,
    head: &[u8],
    sections: &[Section],
    typed: Option<f64>,
    run: (Option<f64>, Option<u32>),
) -> String {
    let (mut settings, _) = headers::parse(head, path);
    apply(sections, path, &mut settings);
    if let Some(t) = typed {
        settings.timeout_event = Some(t);
    }
    let timeout = settings.timeout_event.or(run.0);
    let values = [
        timeout.map_or("60 (0: never)".to_string(), |t| t.to_string()),
        settings.retries.or(run.1).unwrap_or(0).to_string(),
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
        let typed_here = *key == "event-timeout" && typed.is_some();
        let in_words =
            (*key == "event-timeout" && run.0.is_some()) || (*key == "retries" && run.1.is_some());
        let from = origin(key, sections, path, head, typed_here, in_words);
        out.push_str(&format!("{} = {}  ({})\n", key, value, from));
    }
    out
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
        let mut h = Headers::default();
        let hits = apply(&sections, "t/slow/net-a.t", &mut h);
        assert_eq!(hits, [true, true]);
        assert_eq!(h.timeout_event, Some(300.0));
        assert_eq!(
            (h.category, h.retries, h.no_preload),
            (Category::Isolation, Some(2), true)
        );
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
