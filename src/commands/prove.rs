//! `proctor prove`: prove's options and output (not written yet).

use crate::error::{Error, Result};
use std::ffi::OsString;

pub fn run(_args: Vec<OsString>) -> Result<i32> {
    Err(Error::Usage("prove: not implemented yet".into()))
}
