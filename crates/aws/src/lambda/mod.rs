//! [`FunctionControl`] over the Lambda control plane (and the tagging API for discovery).
//!
//! | port method | API calls |
//! |---|---|
//! | `list_functions(tag)` | `ResourceGroupsTaggingAPI.GetResources` per 100 functions, then per function `GetFunction` + `ListAliases` |
//! | `get_function` | `GetFunction` + `ListAliases` |
//! | `set_memory` | `GetFunctionConfiguration`; if not at target: `UpdateFunctionConfiguration` (+ conflict retries) + waiter polls (`GetFunctionConfiguration`, ≥ 1) |
//! | `publish_version` | `PublishVersion` (+ conflict retries) |
//! | `set_alias` | `UpdateAlias`; `CreateAlias` when it does not exist yet |
//! | `get/put/delete_provisioned` | one `Get/Put/DeleteProvisionedConcurrencyConfig` |
//! | `warm(target, k)` | `k` × `Invoke` |

mod discover;
mod provisioned;
mod update;
mod warm;

use std::time::Duration;

use autopilot_core::domain::{Concurrency, FunctionRef, MemoryMb};
use autopilot_core::ports::{
    AliasRouting, FunctionConfig, FunctionControl, PortResult, ProvisionedConcurrency, WarmupOutcome,
};

pub use discover::DISCOVERY_PARALLELISM;
pub use provisioned::ReadyWait;
pub use warm::{MAX_WARM_CALLS, WARMUP_KEY, warmup_payload};

use crate::clients::Clients;
use crate::retry::RetryPolicy;

#[derive(Debug, Clone)]
pub struct LambdaControl {
    client: aws_sdk_lambda::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
    retry: RetryPolicy,
    update_wait: Duration,
}

impl LambdaControl {
    /// Longest wait for a configuration update to complete.
    pub const DEFAULT_UPDATE_WAIT: Duration = Duration::from_secs(300);

    pub fn new(clients: &Clients) -> Self {
        Self {
            client: clients.lambda.clone(),
            tagging: clients.tagging.clone(),
            retry: RetryPolicy::DEFAULT,
            update_wait: Self::DEFAULT_UPDATE_WAIT,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_update_wait(mut self, wait: Duration) -> Self {
        self.update_wait = wait;
        self
    }
}

impl FunctionControl for LambdaControl {
    async fn list_functions(&self, opt_in_tag: &str) -> PortResult<Vec<FunctionConfig>> {
        self.discover(opt_in_tag).await
    }

    async fn get_function(&self, function: &FunctionRef) -> PortResult<FunctionConfig> {
        self.read_function(function).await
    }

    async fn set_memory(&self, function: &FunctionRef, memory: MemoryMb) -> PortResult<()> {
        self.update_memory(function, memory).await
    }

    async fn publish_version(&self, function: &FunctionRef) -> PortResult<String> {
        self.publish(function).await
    }

    async fn set_alias(&self, alias: &FunctionRef, routing: &AliasRouting) -> PortResult<()> {
        self.put_alias(alias, routing).await
    }

    async fn get_provisioned(&self, target: &FunctionRef) -> PortResult<Option<ProvisionedConcurrency>> {
        self.read_provisioned(target).await
    }

    async fn put_provisioned(&self, target: &FunctionRef, concurrency: Concurrency) -> PortResult<()> {
        self.write_provisioned(target, concurrency).await
    }

    async fn delete_provisioned(&self, target: &FunctionRef) -> PortResult<()> {
        self.remove_provisioned(target).await
    }

    async fn warm(&self, target: &FunctionRef, count: u32, hold_ms: u32) -> PortResult<WarmupOutcome> {
        self.send_warmups(target, count, hold_ms).await
    }
}
