//! Colors: the status line's five, as levels 0–5 of the 256-color cube, which a
//! user may override with `--colors P=050,F=500,A=025,R=155,T=433`, and whether to
//! use them at all (`--color`, `NO_COLOR`, a terminal or not).

use termion::color::{AnsiValue, Fg, Reset};

/// The five things the status line counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Passed,
    Failed,
    Auditing,
    Running,
    ToDo,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Palette {
    /// None: no color at all.
    levels: Option<[(u8, u8, u8); 5]>,
}

const DEFAULT: [(u8, u8, u8); 5] = [(0, 5, 0), (5, 0, 0), (0, 2, 5), (1, 5, 5), (4, 3, 3)];

impl Palette {
    #[cfg(test)]
    pub fn none() -> Palette {
        Palette { levels: None }
    }

    pub fn default_colors() -> Palette {
        Palette {
            levels: Some(DEFAULT),
        }
    }

    /// Parses `--colors`: comma-separated `X=rgb` with X one of P F A R T and each of
    /// r, g, b a digit 0–5.
    pub fn with_overrides(spec: &str) -> Result<Palette, String> {
        let mut levels = DEFAULT;
        for item in spec.split(',').filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("--colors: '{}' is not X=rgb (e.g. P=050)", item))?;
            let slot = match key.trim() {
                "P" => 0,
                "F" => 1,
                "A" => 2,
                "R" => 3,
                "T" => 4,
                other => return Err(format!("--colors: '{}' is not one of P, F, A, R, T", other)),
            };
            let digits: Vec<u8> = value.trim().bytes().map(|b| b.wrapping_sub(b'0')).collect();
            if digits.len() != 3 || digits.iter().any(|&d| d > 5) {
                return Err(format!(
                    "--colors: '{}' is not three digits 0 to 5 (e.g. 050)",
                    value
                ));
            }
            levels[slot] = (digits[0], digits[1], digits[2]);
        }
        Ok(Palette {
            levels: Some(levels),
        })
    }

    /// The role's default color as CSS `#rrggbb`: the RGB a terminal gives
    /// that cube level, so a page shows what the status line shows.
    pub fn css(role: Role) -> String {
        let (r, g, b) = DEFAULT[role as usize];
        let level = |n: u8| if n == 0 { 0 } else { 55 + 40 * n };
        format!("#{:02x}{:02x}{:02x}", level(r), level(g), level(b))
    }

    /// `text` in the role's color, or as it is when colors are off.
    pub fn paint(&self, role: Role, text: &str) -> String {
        match self.levels {
            None => text.to_string(),
            Some(levels) => {
                let (r, g, b) = levels[role as usize];
                format!("{}{}{}", Fg(AnsiValue::rgb(r, g, b)), text, Fg(Reset))
            }
        }
    }
}

/// `--color` as given: auto, always or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn parse(value: &str) -> Result<ColorChoice, String> {
        match value {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            other => Err(format!("--color: '{}' is not auto, always or never", other)),
        }
    }

    /// Whether to color output going to a terminal (`tty`) or not, given NO_COLOR.
    pub fn wanted(self, tty: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_colors_are_the_cube_levels() {
        let p = Palette::default_colors();
        // 16 + 36 r + 6 g + b
        assert_eq!(p.paint(Role::Passed, "P"), "\x1b[38;5;46mP\x1b[39m");
        assert_eq!(p.paint(Role::Failed, "F"), "\x1b[38;5;196mF\x1b[39m");
        assert_eq!(p.paint(Role::ToDo, "T"), "\x1b[38;5;181mT\x1b[39m");
        assert_eq!(Palette::none().paint(Role::Passed, "P"), "P");
        assert_eq!(Palette::css(Role::ToDo), "#d7afaf");
        assert_eq!(Palette::css(Role::Auditing), "#0087ff");
    }

    #[test]
    fn overrides() {
        let p = Palette::with_overrides("P=005,T=000").unwrap();
        assert_eq!(p.paint(Role::Passed, "x"), "\x1b[38;5;21mx\x1b[39m");
        assert!(Palette::with_overrides("X=000")
            .unwrap_err()
            .contains("'X'"));
        assert!(Palette::with_overrides("P=060")
            .unwrap_err()
            .contains("'060'"));
        assert!(Palette::with_overrides("P").unwrap_err().contains("X=rgb"));
    }

    #[test]
    fn color_choice() {
        assert!(ColorChoice::Always.wanted(false));
        assert!(!ColorChoice::Never.wanted(true));
        assert!(!ColorChoice::Auto.wanted(false));
        assert!(ColorChoice::parse("sometimes").is_err());
    }
}
