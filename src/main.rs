//! proctor: runs test programs in parallel under auditors, judges their TAP, and
//! writes a replayable event log. This file only parses, dispatches, and maps the
//! outcome to an exit status.

#![deny(unsafe_code)]

mod error;
mod json;
#[allow(unsafe_code)]
mod sys;
mod tap;

fn main() {
    std::process::exit(0);
}
