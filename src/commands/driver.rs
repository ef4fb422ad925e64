//! `proctor driver`: Automake's custom test driver protocol (not written yet).

use crate::error::{Error, Result};
use std::ffi::OsString;

pub fn run(_args: Vec<OsString>) -> Result<i32> {
    Err(Error::Usage("driver: not implemented yet".into()))
}
