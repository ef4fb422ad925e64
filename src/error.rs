//! The one error type, worded in the `unable to <do what>: <why>` voice, and the
//! exit status each kind of error maps to.

use std::fmt;
use std::io;

/// Exit status: every test passed or was skipped.
pub const EXIT_PASS: i32 = 0;
/// Exit status: a test failed, or the run bailed out.
pub const EXIT_FAIL: i32 = 1;
/// Exit status: the command line or an input file was wrong.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: the harness itself failed (could not write, could not fork).
pub const EXIT_HARNESS: i32 = 3;

#[derive(Debug)]
pub enum Error {
    /// The user asked for something that cannot be done as asked.
    Usage(String),
    /// A flag or argument did not parse.
    Args(lexopt::Error),
    /// The system refused something proctor needed to do.
    Io { doing: String, source: io::Error },
    /// A JSON document that should have been valid was not.
    Json {
        doing: String,
        source: serde_json::Error,
    },
}

impl Error {
    /// Wraps an I/O error with what proctor was trying to do.
    pub fn io(doing: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            doing: doing.into(),
            source,
        }
    }

    /// The exit status this error ends the process with.
    pub fn exit_status(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Args(_) => EXIT_USAGE,
            Error::Io { .. } | Error::Json { .. } => EXIT_HARNESS,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Usage(msg) => f.write_str(msg),
            Error::Args(e) => write!(f, "{}", e),
            Error::Io { doing, source } => write!(f, "unable to {}: {}", doing, source),
            Error::Json { doing, source } => write!(f, "unable to {}: {}", doing, source),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(_) => None,
            Error::Args(e) => Some(e),
            Error::Io { source, .. } => Some(source),
            Error::Json { source, .. } => Some(source),
        }
    }
}

impl From<lexopt::Error> for Error {
    fn from(e: lexopt::Error) -> Error {
        Error::Args(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io {
            doing: "do input or output".into(),
            source: e,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Json {
            doing: "decode JSON".into(),
            source: e,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
