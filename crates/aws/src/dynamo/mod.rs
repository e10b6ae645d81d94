//! DynamoDB adapters: the stats table the extension writes, and the control table (change
//! log, leases, window summaries, forecasts).

pub mod control;
pub mod run_store;
pub mod stats;
pub mod summaries;
pub mod tables;

pub use control::ControlTable;
pub use stats::{DynamoStatsStore, RejectedItem, WindowRead};
