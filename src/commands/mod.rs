//! One module per command: each turns parsed arguments into work and an exit status.

pub mod logs;
pub mod test;
