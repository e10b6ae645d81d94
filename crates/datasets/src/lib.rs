//! Loaders of the public data that lambda-autopilot's simulator and benchmarks run on.
//!
//! - [`traces`]: request-arrival traces in the three layouts the project reads (two-column
//!   `timestamp,count` CSVs, the Azure Functions 2019 wide per-minute format, one-row-per-request
//!   logs), as rate series with explicit gaps;
//! - [`cebert`]: the markdown tables of the cebert AWS Lambda performance benchmarks, as one
//!   duration/cost curve per runtime × architecture × workload;
//! - [`maxday`]: maxday/lambda-perf's daily cold-start measurements, as init-duration samples;
//! - [`data_dir`]: where the data lives (`../shared/data`) and a clear error when it is absent.
//!
//! Every error names the file, the line (1-based) and the problem. Pure parsing: the only I/O
//! is reading the file named by the caller.

pub mod cebert;
pub mod data_dir;
pub mod maxday;
pub mod traces;

pub use data_dir::{MissingData, default_data_dir, require_data_dir};
