//! The persistent runner's control protocol: JSON lines on its socket.
//! A client sends one request line (`run`, `status`, `reload`, `stop`); a run
//! sends its plan next, up to an `end` line, and then reads `started` with the
//! run's runner pid, after which the connection is the run's wake channel.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Run,
    End,
    Status,
    Reload,
    Stop,
}

impl Request {
    pub fn parse(line: &str) -> Option<Request> {
        let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
        Some(match v["type"].as_str()? {
            "run" => Request::Run,
            "end" => Request::End,
            "status" => Request::Status,
            "reload" => Request::Reload,
            "stop" => Request::Stop,
            _ => return None,
        })
    }

    pub fn line(self) -> &'static str {
        match self {
            Request::Run => "{\"type\":\"run\"}\n",
            Request::End => "{\"type\":\"end\"}\n",
            Request::Status => "{\"type\":\"status\"}\n",
            Request::Reload => "{\"type\":\"reload\"}\n",
            Request::Stop => "{\"type\":\"stop\"}\n",
        }
    }
}

/// Answers with `{"type":kind,"message":...}`.
pub fn reply(stream: &mut UnixStream, kind: &str, message: &str) -> io::Result<()> {
    writeln!(
        stream,
        "{}",
        serde_json::json!({"type": kind, "message": message})
    )
}

/// Connects to the persistent runner at `socket`, with a message saying what to
/// do when there is none.
pub fn connect(socket: &Path) -> Result<UnixStream, String> {
    UnixStream::connect(socket).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            format!(
                "no persistent runner here (start one with 'proctor start'): {}",
                socket.display()
            )
        }
        _ => format!("{}: {}", socket.display(), e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_back() {
        for r in [
            Request::Run,
            Request::End,
            Request::Status,
            Request::Reload,
            Request::Stop,
        ] {
            assert_eq!(Request::parse(r.line()), Some(r));
        }
        assert_eq!(Request::parse("{\"type\":\"dance\"}"), None);
        assert_eq!(Request::parse("junk"), None);
    }
}
