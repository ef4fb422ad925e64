//! One module per command: each turns parsed arguments into work and an exit status.

pub mod about;
pub mod audit;
pub mod driver;
pub mod driver_log;
pub mod logs;
pub mod modules;
pub mod persist;
pub mod preload_auto;
pub mod prove;
pub mod report;
pub mod session;
pub mod test;
