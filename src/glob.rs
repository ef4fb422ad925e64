//! Globs on the paths proctor names test files by, for `.proctorrc` sections:
//! `*` is any run of characters within one directory, `?` one such character,
//! `**` any run across directories (`**/` also none at all). No character
//! classes: a path section needs no more, and a small matcher is easy to trust.

/// Whether `glob` matches all of `path`; a leading `./` on either is ignored.
pub fn matches(glob: &str, path: &str) -> bool {
    let glob = glob.strip_prefix("./").unwrap_or(glob);
    let path = path.strip_prefix("./").unwrap_or(path);
    match_bytes(glob.as_bytes(), path.as_bytes())
}

fn match_bytes(glob: &[u8], path: &[u8]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        Some((b'*', rest)) if rest.first() == Some(&b'*') => {
            let rest = &rest[1..];
            if let Some(after) = rest.strip_prefix(b"/") {
                if match_bytes(after, path) {
                    return true;
                }
            }
            (0..=path.len()).any(|i| match_bytes(rest, &path[i..]))
        }
        Some((b'*', rest)) => {
            let within = path.iter().position(|&c| c == b'/').unwrap_or(path.len());
            (0..=within).any(|i| match_bytes(rest, &path[i..]))
        }
        Some((b'?', rest)) => match path.split_first() {
            Some((c, more)) => *c != b'/' && match_bytes(rest, more),
            None => false,
        },
        Some((c, rest)) => path.first() == Some(c) && match_bytes(rest, &path[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_stays_in_one_directory() {
        assert!(matches("t/slow/*.t", "t/slow/net.t"));
        assert!(matches("t/slow/*.t", "./t/slow/.t"));
        assert!(!matches("t/slow/*.t", "t/slow/deep/net.t"));
        assert!(!matches("t/*.t", "t/a.tt"));
        assert!(matches("*", "prog"));
        assert!(!matches("*", "tests/prog"));
    }

    #[test]
    fn question_mark_is_one_character_not_a_slash() {
        assert!(matches("t/0?-a.t", "t/01-a.t"));
        assert!(!matches("t/0?-a.t", "t/0-a.t"));
        assert!(!matches("t?a.t", "t/a.t"));
    }

    #[test]
    fn double_star_is_any_depth_even_none() {
        assert!(matches("tests/**/net-*", "tests/net-dns"));
        assert!(matches("tests/**/net-*", "tests/a/b/net-dns"));
        assert!(!matches("tests/**/net-*", "tests/a/b/net/dns"));
        assert!(matches("**", "a/b/c.t"));
        assert!(matches("t/**.t", "t/x/y.t"));
        assert!(!matches("t/**", "u/x.t"));
    }
}
