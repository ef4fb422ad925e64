//! Numbers as people write them (flags, `.proctorrc`, `# HARNESS-` headers) and
//! as proctor's processes hand them on (the launch plan, the stage protocol):
//! parsed in one place, with one wording for what is wrong, and bounded so that
//! no value can make a process panic. std's `Duration::from_secs_f64` panics
//! on a value past about 1.8e19 seconds, and an `Instant` plus a `Duration`
//! panics past about 9.2e18: a timeout is kept to [`MAX_SECONDS`] wherever it
//! comes from. Parsing only; the caller names the flag or header.

use std::fmt::Display;
use std::num::{IntErrorKind, ParseIntError};
use std::str::FromStr;
use std::time::Duration;

/// The longest timeout proctor takes, about 31 years: beyond any test, and far
/// below where clock arithmetic overflows. 0 is the way to say "never".
pub const MAX_SECONDS: u64 = 1_000_000_000;

/// A number of seconds: 0 or more, at most [`MAX_SECONDS`]. The error says
/// what is wrong with `text`, for a message that names where it came from.
pub fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > MAX_SECONDS as f64 => Err(format!(
            "'{}' is more seconds than proctor waits (at most {}; 0 waits forever)",
            text, MAX_SECONDS
        )),
        Ok(s) if s >= 0.0 => Ok(s),
        _ => Err(format!("'{}' is not a number of seconds", text)),
    }
}

/// The timeout of `seconds`: none for 0 (or a value that is no number of
/// seconds at all); a value past [`MAX_SECONDS`], which only another process's
/// message can bring, is taken as the longest.
pub fn timeout(seconds: f64) -> Option<Duration> {
    if seconds > 0.0 {
        Some(Duration::from_secs_f64(seconds.min(MAX_SECONDS as f64)))
    } else {
        None
    }
}

/// A whole number no less than `least`, of a type that holds every value the
/// caller can take. The error says what is wrong with `text`.
pub fn whole<T>(text: &str, least: T) -> Result<T, String>
where
    T: FromStr<Err = ParseIntError> + PartialOrd + Display + Copy,
{
    match text.parse::<T>() {
        Ok(n) if n >= least => Ok(n),
        Ok(_) => Err(format!("'{}' is less than {}", text, least)),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => {
            Err(format!("'{}' is too big a number", text))
        }
        Err(_) => Err(format!("'{}' is not a whole number", text)),
    }
}

/// A size in bytes: a whole number, with K, M or G for KiB, MiB or GiB.
pub fn size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.char_indices().last() {
        Some((at, 'K')) | Some((at, 'k')) => (&text[..at], 10),
        Some((at, 'M')) | Some((at, 'm')) => (&text[..at], 20),
        Some((at, 'G')) | Some((at, 'g')) => (&text[..at], 30),
        _ => (text, 0),
    };
    let n = whole::<u64>(digits, 0).map_err(|_| {
        format!(
            "'{}' is not a size (a whole number of bytes, or with K, M or G)",
            text
        )
    })?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{}' is too big a size", text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_k_m_and_g() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("512"), Ok(512));
        assert_eq!(size("4K"), Ok(4096));
        assert_eq!(size("100M"), Ok(100 << 20));
        assert_eq!(size("2g"), Ok(2 << 30));
        for bad in ["", "M", "1.5G", "-1", "10T", " 1"] {
            assert!(size(bad).is_err(), "{:?}", bad);
        }
        assert!(size("99999999999G").unwrap_err().contains("too big"));
    }

    #[test]
    fn seconds_are_0_or_more_and_bounded() {
        assert_eq!(seconds("2.5"), Ok(2.5));
        assert_eq!(seconds("0"), Ok(0.0));
        assert_eq!(seconds("1e9"), Ok(1e9));
        for huge in [
            "1e300",
            "18446744073709551615",
            "1e19",
            "1000000000.5",
            "inf",
        ] {
            let err = seconds(huge).unwrap_err();
            assert!(err.contains("more seconds than proctor waits"), "{}", err);
        }
        for bad in ["-1", "NaN", "soon", "", "-inf", "1s"] {
            let err = seconds(bad).unwrap_err();
            assert!(
                err.contains("is not a number of seconds"),
                "{:?}: {}",
                bad,
                err
            );
        }
    }

    #[test]
    fn timeouts_never_panic() {
        assert_eq!(timeout(0.0), None);
        assert_eq!(timeout(-0.0), None);
        assert_eq!(timeout(-5.0), None);
        assert_eq!(timeout(f64::NAN), None);
        assert_eq!(timeout(1.5), Some(Duration::from_millis(1500)));
        let longest = Some(Duration::from_secs(MAX_SECONDS));
        for huge in [1e19, 1e300, f64::INFINITY, f64::MAX] {
            assert_eq!(timeout(huge), longest, "{}", huge);
        }
        // The longest is still one an Instant can be moved by.
        let _ = std::time::Instant::now() + Duration::from_secs(MAX_SECONDS);
    }

    #[test]
    fn whole_numbers_say_what_is_wrong() {
        assert_eq!(whole::<usize>("4", 1), Ok(4));
        assert_eq!(whole::<u32>("4294967295", 0), Ok(u32::MAX));
        assert_eq!(
            whole::<u32>("4294967296", 0),
            Err("'4294967296' is too big a number".to_string())
        );
        assert_eq!(
            whole::<usize>("0", 1),
            Err("'0' is less than 1".to_string())
        );
        for bad in ["-1", "x", "", "1.5", " 3"] {
            assert_eq!(
                whole::<u64>(bad, 0),
                Err(format!("'{}' is not a whole number", bad))
            );
        }
    }
}
