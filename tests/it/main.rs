//! Integration tests: the real binary on real test programs, each in a fresh
//! temporary directory with its own state directory.

mod cli;
mod common;
mod core;
mod differential;
mod driver;
mod faults;
mod leftovers;
mod lost;
mod order;
mod persist;
mod preload_auto;
mod preload_fallback;
mod prove;
mod qvf;
mod rc_sections;
mod render;
mod report;
mod schedule;
mod stage;
mod state;
mod subtests;
mod tap_streams;
mod terminal;
