//! `proctor runner`: the runner as a program of its own, started by `test` (and
//! the commands that wrap it) with the run's plan in a file. Not for people.

use crate::error::{Error, Result};
use crate::runner::{self, Plan};
use std::ffi::OsString;

pub fn run(args: Vec<OsString>) -> Result<i32> {
    let mut plan = None;
    let mut wake = None;
    let mut words = args
        .into_iter()
        .map(|w| w.into_string().unwrap_or_default());
    while let Some(word) = words.next() {
        match word.as_str() {
            "--plan" => plan = words.next(),
            "--wake-fd" => wake = words.next().and_then(|w| w.parse::<i32>().ok()),
            other => return Err(Error::Usage(format!("runner: unknown option '{}'", other))),
        }
    }
    let path = plan.ok_or_else(|| Error::Usage("runner: --plan FILE is required".into()))?;
    let wake = wake.ok_or_else(|| Error::Usage("runner: --wake-fd N is required".into()))?;
    let bytes =
        std::fs::read(&path).map_err(|e| Error::io(format!("read the plan {}", path), e))?;
    let plan =
        Plan::from_json(&bytes).map_err(|e| Error::Usage(format!("runner: {}: {}", path, e)))?;
    drop(bytes);
    // The decoded JSON is gone; give its memory back before the first fork.
    crate::sys::release_free_memory();
    // The wake pipe must not leak into tests.
    let _ = crate::sys::set_cloexec(wake);
    Ok(runner::run(plan, wake))
}
