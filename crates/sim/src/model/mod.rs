//! What a simulated function is: how long it runs at each memory size, how long it takes to
//! start, how much memory it needs, and everything else Lambda knows about it.

pub mod curve;
pub mod duration;
pub mod function;
pub mod runtime;

pub use curve::{Interpolation, MeasuredCurve};
pub use duration::{DurationModel, SlowPath, Workload};
pub use function::FunctionSpec;
pub use runtime::{InitModel, Runtime};
