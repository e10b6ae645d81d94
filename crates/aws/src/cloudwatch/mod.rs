//! CloudWatch, the fallback source for functions without the extension: metrics
//! ([`CloudWatchMetrics`]) and REPORT lines from CloudWatch Logs ([`LogReports`]), both in the
//! extension's [`autopilot_core::observe::MinuteStats`] shape.

pub mod logs;
pub mod metrics;

pub use logs::LogReports;
pub use metrics::CloudWatchMetrics;
