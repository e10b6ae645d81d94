//! API call accounting: what the autopilot's own AWS bill and rate limits depend on.
//!
//! [`ApiCalls`] is installed as an interceptor on every client [`crate::Clients`] builds, so
//! every HTTP attempt — retries included, since each one is billed and throttled — is
//! counted under `Service.Operation` (e.g. `Lambda.UpdateFunctionConfiguration`, the SDK's
//! service name without spaces: `CloudWatchLogs.FilterLogEvents`). Adapters add
//! billed units that are not calls under their own keys (e.g.
//! [`CLOUDWATCH_METRICS_REQUESTED`]: GetMetricData is billed per metric, not per call).
//!
//! To count the calls of one step, take a [`ApiCalls::snapshot`] before and
//! [`ApiCalls::since`] after.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Unit key: metrics requested from CloudWatch GetMetricData (the billed unit).
pub const CLOUDWATCH_METRICS_REQUESTED: &str = "units:CloudWatch.GetMetricData.metrics";

/// Counts per key; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct ApiCalls {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl ApiCalls {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, key: &str, n: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(key.to_owned()).or_default() += n;
    }

    /// Count of one key (`Service.Operation` or a unit key).
    pub fn get(&self, key: &str) -> u64 {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).get(key).copied().unwrap_or(0)
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// What was counted since `before` (a snapshot); keys with no new counts are left out.
    pub fn since(&self, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        self.snapshot()
            .into_iter()
            .filter_map(|(k, n)| {
                let d = n - before.get(&k).copied().unwrap_or(0);
                (d > 0).then_some((k, d))
            })
            .collect()
    }

    /// HTTP attempts of all operations (unit keys excluded).
    pub fn total_calls(&self) -> u64 {
        total_calls(&self.snapshot())
    }
}

/// HTTP attempts in a snapshot or delta (unit keys excluded).
pub fn total_calls(counts: &BTreeMap<String, u64>) -> u64 {
    counts.iter().filter(|(k, _)| !k.starts_with("units:")).map(|(_, n)| n).sum()
}

impl Intercept for ApiCalls {
    fn name(&self) -> &'static str {
        "ApiCalls"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key = match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", m.service().replace(' ', ""), m.name()),
            None => "unknown".to_owned(),
        };
        self.add(&key, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_and_totals() {
        let calls = ApiCalls::new();
        calls.add("Lambda.GetFunction", 2);
        let before = calls.snapshot();
        calls.add("Lambda.GetFunction", 1);
        calls.add("DynamoDB.Query", 3);
        calls.add(CLOUDWATCH_METRICS_REQUESTED, 6);
        let delta = calls.since(&before);
        assert_eq!(delta.get("Lambda.GetFunction"), Some(&1));
        assert_eq!(total_calls(&delta), 4, "unit keys are not calls");
        assert_eq!(calls.total_calls(), 6);
        assert_eq!(calls.get(CLOUDWATCH_METRICS_REQUESTED), 6);
    }
}
