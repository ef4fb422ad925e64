//! prove's `-M MODULE[=ARGS]`: prove loads the module into its own perl and
//! imports it, and what that does reaches the tests through the environment
//! they inherit (Moo's `.proverc` has `-MTestEnv=MOO_FATAL_WARNINGS`, which
//! sets variables and PERL5OPT for every test). proctor has no perl of its
//! own, so it loads the modules in a perl started for that, as prove would,
//! and takes on the environment that perl is left with. A module with a
//! `load` method, which prove calls with itself to change its own settings,
//! is refused: there is no prove object to give it.

use crate::error::{Error, Result};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::{Command, Stdio};

/// Marks where the environment starts in the helper's output; what a module
/// printed before it is the module's own.
const MARK: &[u8] = b"\0proctor-environment\0";

/// Loads each module as App::Prove does (`NAME=A,B` imports A and B), then
/// prints the environment after the mark, as NUL-ended `KEY=VALUE` pairs.
const LOADER: &str = r#"
use strict;
use warnings;
for my $spec (@ARGV) {
    my ($name, @args) = ($spec);
    if ($spec =~ /^(.*?)=(.*)/) {
        $name = $1;
        @args = split /,/, $2;
    }
    die "Bad module name $name\n" unless $name =~ /^ \w+ (?: :: \w+ ) *$/x;
    unless (eval "require $name; 1") {
        my ($why) = split /\n/, $@;
        die "Can't load module $name ($why)\n";
    }
    $name->import(@args);
    die "$name has a load method, which prove calls to change its own settings\n"
        if $name->can('load');
}
binmode STDOUT;
print "\0proctor-environment\0";
print "$_=$ENV{$_}\0" for sort keys %ENV;
"#;

/// Loads `modules` in `perl` and makes this process's environment the one
/// the loading left, so that every test inherits it as under prove.
pub fn load(perl: &Path, modules: &[String]) -> Result<()> {
    if modules.is_empty() {
        return Ok(());
    }
    let output = Command::new(perl)
        .arg("-e")
        .arg(LOADER)
        .args(modules)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("run {} to load -M modules", perl.display()), e))?;
    let at = find(&output.stdout, MARK);
    let (printed, environment) = match (output.status.success(), at) {
        (true, Some(at)) => (&output.stdout[..at], &output.stdout[at + MARK.len()..]),
        _ => {
            let why = String::from_utf8_lossy(&output.stderr);
            return Err(Error::Usage(format!(
                "-M: {}",
                why.lines()
                    .last()
                    .unwrap_or("perl failed to load the modules")
            )));
        }
    };
    crate::say::out(printed)?;
    crate::say::err_bytes(&output.stderr);
    take_on(&pairs(environment));
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn pairs(bytes: &[u8]) -> Vec<(OsString, OsString)> {
    bytes
        .split(|&b| b == 0)
        .filter_map(|pair| {
            let eq = pair.iter().position(|&b| b == b'=')?;
            Some((
                OsString::from_vec(pair[..eq].to_vec()),
                OsString::from_vec(pair[eq + 1..].to_vec()),
            ))
        })
        .collect()
}

/// Makes the environment `wanted`: what is not in it goes, the rest is set.
fn take_on(wanted: &[(OsString, OsString)]) {
    let keep: Vec<&OsStr> = wanted.iter().map(|(k, _)| k.as_os_str()).collect();
    for (key, _) in std::env::vars_os() {
        if !keep.contains(&key.as_os_str()) {
            std::env::remove_var(&key);
        }
    }
    for (key, value) in wanted {
        if !key.is_empty()
            && !key.as_bytes().contains(&b'=')
            && std::env::var_os(key).as_ref() != Some(value)
        {
            std::env::set_var(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(
            pairs(b"A=1\0PERL5OPT=-Ix -MY=z\0"),
            [
                (OsString::from("A"), OsString::from("1")),
                (OsString::from("PERL5OPT"), OsString::from("-Ix -MY=z")),
            ]
        );
    }

    #[test]
    fn a_module_that_is_not_there_is_a_usage_error() {
        let perl = match crate::discover::find_program("perl") {
            Some(perl) => perl,
            None => return,
        };
        let err = load(&perl, &["No::Such::Module::Here".to_string()]).unwrap_err();
        assert_eq!(err.exit_status(), 2);
        assert!(
            err.to_string()
                .contains("-M: Can't load module No::Such::Module::Here"),
            "{}",
            err
        );
        let err = load(&perl, &["bad-name".to_string()]).unwrap_err();
        assert!(
            err.to_string().contains("Bad module name bad-name"),
            "{}",
            err
        );
    }
}
