//! Renderers: turn events into what people read. A renderer sees only events
//! (live from the overlord, or from a log in `proctor replay`: the same path), and
//! declares the kinds it needs so the overlord decodes nothing else.

mod plain;

pub use plain::Plain;

use crate::event::{Event, Interest};
use std::io;

pub trait Renderer {
    /// The event kinds this renderer wants.
    fn interest(&self) -> Interest;
    /// One event, in log order.
    fn event(&mut self, event: &mut Event) -> io::Result<()>;
    /// The log ended; `complete` is false when it had no run_end (the run is still
    /// going, or was killed).
    fn finish(&mut self, complete: bool) -> io::Result<()>;
}

mod junit;
pub use junit::Junit;
