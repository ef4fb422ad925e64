//! Whole-stream tests of the parser: one per rule of the TAP 12/13/14
//! specifications, with vectors modelled on the specification's examples.

use super::*;
