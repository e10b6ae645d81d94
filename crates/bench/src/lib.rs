//! Engines of lambda-autopilot's benchmarks. Each module is one benchmark: it runs in-process
//! on the simulator and on the public data in `../shared/data`, returns its figures as data,
//! and leaves printing to `autopilot bench <name>` (crates/cli). Timings are figures, never
//! assertions.

pub mod concurrency;
pub mod deployed;
pub mod forecast;
pub mod scale;
pub mod slot;
pub mod tuner;
