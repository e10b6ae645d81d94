//! Configuration changes: memory (idempotent, waited for), versions and aliases.

use std::collections::HashMap;

use autopilot_core::domain::{FunctionRef, MemoryMb};
use autopilot_core::ports::{AliasRouting, ErrorKind, PortResult};
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, LastUpdateStatus};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;

use super::LambdaControl;
use crate::error::{ClassifyExt, classify_waiter, port_error};
use crate::retry::retry_conflicts;

/// Memory and versions belong to `$LATEST`: the reference must be unqualified (or `$LATEST`).
pub(crate) fn latest_name(function: &FunctionRef, operation: &'static str) -> PortResult<String> {
    match function.qualifier() {
        None | Some("$LATEST") => Ok(function.name().to_owned()),
        Some(q) => Err(port_error(
            ErrorKind::InvalidInput,
            operation,
            format!("{function}: configuration is changed on the unqualified function, not on {q:?}"),
        )),
    }
}

impl LambdaControl {
    /// Sets memory and returns once Lambda reports the update `Successful`.
    ///
    /// Reads the configuration first (1 call): already at `memory` with no update in
    /// progress is success with no write. An update in progress is waited for before
    /// writing. `UpdateFunctionConfiguration` is retried on `ResourceConflictException`
    /// within [`crate::RetryPolicy`]; then the SDK's function-updated waiter polls until
    /// the update is done (bounded by `update_wait`).
    pub(crate) async fn update_memory(&self, function: &FunctionRef, memory: MemoryMb) -> PortResult<()> {
        const OP: &str = "Lambda.UpdateFunctionConfiguration";
        let name = latest_name(function, OP)?;
        let current = self
            .client
            .get_function_configuration()
            .function_name(&name)
            .send()
            .await
            .classify("Lambda.GetFunctionConfiguration")?;
        let current = match current.last_update_status() {
            Some(LastUpdateStatus::InProgress) => self.wait_updated(&name).await?,
            _ => current,
        };
        if current.memory_size() == Some(memory.get() as i32)
            && current.last_update_status() != Some(&LastUpdateStatus::Failed)
        {
            return Ok(());
        }
        retry_conflicts(&self.retry, || async {
            self.client
                .update_function_configuration()
                .function_name(&name)
                .memory_size(memory.get() as i32)
                .send()
                .await
                .classify(OP)
        })
        .await?;
        let done = self.wait_updated(&name).await?;
        match done.memory_size() {
            Some(m) if m == memory.get() as i32 => Ok(()),
            other => Err(port_error(
                ErrorKind::Conflict,
                OP,
                format!("{name}: memory is {other:?} MB after the update to {memory}: changed by someone else?"),
            )),
        }
    }

    /// Polls with the SDK's function-updated waiter until `LastUpdateStatus` is
    /// `Successful`; `Failed` is a Fatal error carrying Lambda's reason.
    async fn wait_updated(&self, name: &str) -> PortResult<GetFunctionConfigurationOutput> {
        const OP: &str = "Lambda.GetFunctionConfiguration";
        match self.client.wait_until_function_updated().function_name(name).wait(self.update_wait).await {
            Ok(poll) => poll.into_result().classify(OP),
            Err(WaiterError::FailureState(f)) => {
                let reason = match f.final_poll().as_result() {
                    Ok(c) => format!(
                        "{:?}: {}",
                        c.last_update_status_reason_code(),
                        c.last_update_status_reason().unwrap_or("no reason given")
                    ),
                    Err(e) => e.to_string(),
                };
                Err(port_error(ErrorKind::Fatal, OP, format!("{name}: update failed: {reason}")))
            }
            Err(e) => Err(classify_waiter(OP, e, &format!("{name}: update"))),
        }
    }

    /// Publishes `$LATEST` as a version (Lambda returns the existing latest version when
    /// nothing changed since it was published). Retried on conflicts: publishing during an
    /// update in progress is refused.
    pub(crate) async fn publish(&self, function: &FunctionRef) -> PortResult<String> {
        const OP: &str = "Lambda.PublishVersion";
        let name = latest_name(function, OP)?;
        let out = retry_conflicts(&self.retry, || async {
            self.client.publish_version().function_name(&name).send().await.classify(OP)
        })
        .await?;
        out.version()
            .map(str::to_owned)
            .ok_or_else(|| port_error(ErrorKind::Fatal, OP, format!("{name}: no version in the response")))
    }

    /// Creates or updates an alias: `UpdateAlias` first (the usual case, one call), then
    /// `CreateAlias` if it does not exist, then `UpdateAlias` again if another writer created
    /// it in between. A canary weight of 0 (or none) clears the routing.
    pub(crate) async fn put_alias(&self, alias: &FunctionRef, routing: &AliasRouting) -> PortResult<()> {
        const UPDATE: &str = "Lambda.UpdateAlias";
        const CREATE: &str = "Lambda.CreateAlias";
        let Some(alias_name) = alias.qualifier().filter(|_| alias.is_alias()) else {
            return Err(port_error(ErrorKind::InvalidInput, UPDATE, format!("{alias} is not qualified by an alias")));
        };
        let weights: HashMap<String, f64> = match &routing.canary {
            Some((version, weight)) if !(0.0..1.0).contains(weight) || version == &routing.version => {
                return Err(port_error(
                    ErrorKind::InvalidInput,
                    UPDATE,
                    format!("{alias}: canary {version} at weight {weight} (needs another version, 0 <= weight < 1)"),
                ));
            }
            Some((version, weight)) if *weight > 0.0 => HashMap::from([(version.clone(), *weight)]),
            _ => HashMap::new(),
        };
        let config =
            || AliasRoutingConfiguration::builder().set_additional_version_weights(Some(weights.clone())).build();
        let update = || async {
            retry_conflicts(&self.retry, || async {
                self.client
                    .update_alias()
                    .function_name(alias.name())
                    .name(alias_name)
                    .function_version(&routing.version)
                    .routing_config(config())
                    .send()
                    .await
                    .classify(UPDATE)
            })
            .await
        };
        match update().await {
            Err(e) if e.kind == ErrorKind::NotFound => {}
            other => return other.map(|_| ()),
        }
        let created = self
            .client
            .create_alias()
            .function_name(alias.name())
            .name(alias_name)
            .function_version(&routing.version)
            .routing_config(config())
            .send()
            .await
            .classify(CREATE);
        match created {
            Err(e) if e.kind == ErrorKind::Conflict => update().await.map(|_| ()),
            other => other.map(|_| ()),
        }
    }
}
