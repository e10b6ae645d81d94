//! Provisioned concurrency of an alias or a published version (never `$LATEST`).

use std::time::Duration;

use autopilot_core::domain::{Concurrency, FunctionRef};
use autopilot_core::ports::{ErrorKind, PcStatus, PortResult, ProvisionedConcurrency};
use aws_sdk_lambda::types::ProvisionedConcurrencyStatusEnum;

use super::LambdaControl;
use crate::error::{ClassifyExt, port_error};
use crate::retry::retry_conflicts;

/// How [`LambdaControl::wait_provisioned_ready`] polls. AWS allocates in about 1–2 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyWait {
    pub interval: Duration,
    pub max_wait: Duration,
}

impl ReadyWait {
    pub const DEFAULT: Self = Self { interval: Duration::from_secs(10), max_wait: Duration::from_secs(300) };
}

impl Default for ReadyWait {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `(name, qualifier)` of a target PC can be set on.
fn pc_target(target: &FunctionRef, operation: &'static str) -> PortResult<(String, String)> {
    match target.qualifier() {
        Some(q) if q != "$LATEST" => Ok((target.name().to_owned(), q.to_owned())),
        _ => Err(port_error(
            ErrorKind::InvalidInput,
            operation,
            format!("{target}: provisioned concurrency needs an alias or a published version"),
        )),
    }
}

fn count(n: Option<i32>) -> Concurrency {
    Concurrency::new(u64::try_from(n.unwrap_or(0)).unwrap_or(0)).unwrap_or(Concurrency::ZERO)
}

impl LambdaControl {
    pub(crate) async fn read_provisioned(&self, target: &FunctionRef) -> PortResult<Option<ProvisionedConcurrency>> {
        Ok(self.read_provisioned_detail(target).await?.map(|(pc, _)| pc))
    }

    /// The configuration and Lambda's status reason.
    async fn read_provisioned_detail(
        &self,
        target: &FunctionRef,
    ) -> PortResult<Option<(ProvisionedConcurrency, Option<String>)>> {
        const OP: &str = "Lambda.GetProvisionedConcurrencyConfig";
        let (name, qualifier) = pc_target(target, OP)?;
        let out = match self
            .client
            .get_provisioned_concurrency_config()
            .function_name(&name)
            .qualifier(&qualifier)
            .send()
            .await
            .classify(OP)
        {
            Ok(out) => out,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let status = match out.status() {
            Some(ProvisionedConcurrencyStatusEnum::Ready) => PcStatus::Ready,
            Some(ProvisionedConcurrencyStatusEnum::Failed) => PcStatus::Failed,
            _ => PcStatus::InProgress,
        };
        let pc = ProvisionedConcurrency {
            requested: count(out.requested_provisioned_concurrent_executions()),
            allocated: count(out.allocated_provisioned_concurrent_executions()),
            status,
        };
        Ok(Some((pc, out.status_reason().map(str::to_owned))))
    }

    /// Requests `concurrency` (0 removes the configuration). Returns as soon as Lambda has
    /// accepted it; see [`LambdaControl::wait_provisioned_ready`].
    pub(crate) async fn write_provisioned(&self, target: &FunctionRef, concurrency: Concurrency) -> PortResult<()> {
        const OP: &str = "Lambda.PutProvisionedConcurrencyConfig";
        if concurrency == Concurrency::ZERO {
            return self.remove_provisioned(target).await;
        }
        let (name, qualifier) = pc_target(target, OP)?;
        let n = i32::try_from(concurrency.get())
            .map_err(|_| port_error(ErrorKind::InvalidInput, OP, format!("{concurrency} is too large")))?;
        retry_conflicts(&self.retry, || async {
            self.client
                .put_provisioned_concurrency_config()
                .function_name(&name)
                .qualifier(&qualifier)
                .provisioned_concurrent_executions(n)
                .send()
                .await
                .classify(OP)
        })
        .await
        .map(|_| ())
    }

    /// Succeeds when there was no configuration.
    pub(crate) async fn remove_provisioned(&self, target: &FunctionRef) -> PortResult<()> {
        const OP: &str = "Lambda.DeleteProvisionedConcurrencyConfig";
        let (name, qualifier) = pc_target(target, OP)?;
        let result = retry_conflicts(&self.retry, || async {
            self.client
                .delete_provisioned_concurrency_config()
                .function_name(&name)
                .qualifier(&qualifier)
                .send()
                .await
                .classify(OP)
        })
        .await;
        match result {
            Err(e) if e.kind != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Polls every `wait.interval` until the configuration is READY (returned), FAILED
    /// (Fatal, with Lambda's reason) or `wait.max_wait` has passed (Retryable).
    pub async fn wait_provisioned_ready(
        &self,
        target: &FunctionRef,
        wait: ReadyWait,
    ) -> PortResult<ProvisionedConcurrency> {
        const OP: &str = "Lambda.GetProvisionedConcurrencyConfig";
        let started = tokio::time::Instant::now();
        loop {
            match self.read_provisioned_detail(target).await? {
                Some((pc, _)) if pc.status == PcStatus::Ready => return Ok(pc),
                Some((pc, reason)) if pc.status == PcStatus::Failed => {
                    let reason = reason.unwrap_or_else(|| "no reason given".to_owned());
                    return Err(port_error(
                        ErrorKind::Fatal,
                        OP,
                        format!("{target}: allocation of {} FAILED: {reason}", pc.requested),
                    ));
                }
                None => {
                    return Err(port_error(ErrorKind::NotFound, OP, format!("{target}: no provisioned concurrency")));
                }
                Some(_) => {}
            }
            if started.elapsed() + wait.interval > wait.max_wait {
                return Err(port_error(
                    ErrorKind::Retryable,
                    OP,
                    format!("{target}: provisioned concurrency not READY after {:?}", started.elapsed()),
                ));
            }
            tokio::time::sleep(wait.interval).await;
        }
    }
}
