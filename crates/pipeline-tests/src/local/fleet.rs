//! The monitored fleet of a local stack: functions opted in with the stack's tag (no code of
//! theirs runs: the autopilot only changes their configuration), their stats written exactly
//! as the extension writes them, and their memory and provisioned concurrency read back.

use autopilot_core::observe::{Counters, MinuteStats};
use autopilot_core::{FunctionRef, MemoryMb, Minute, stats_item};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};

use super::deploy::{Stack, empty_zip};
use super::{Emulator, aws};
use crate::PipelineError;

/// Creates a monitored function opted in with the stack's tag; with an alias on version 1
/// if asked.
pub async fn add_monitored(
    em: &Emulator,
    stack: &Stack,
    name: &str,
    memory: i32,
    alias: Option<&str>,
) -> Result<(), PipelineError> {
    let lambda = &em.clients.lambda;
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&stack.role)
        .memory_size(memory)
        .code(FunctionCode::builder().zip_file(Blob::new(empty_zip())).build())
        .tags(&stack.opt_in_tag, "true")
        .send()
        .await
        .map_err(|e| aws(&format!("CreateFunction {name}"), aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    if let Some(alias) = alias {
        let v = lambda.publish_version().function_name(name).send().await.map_err(|e| aws("PublishVersion", e))?;
        lambda
            .create_alias()
            .function_name(name)
            .name(alias)
            .function_version(v.version().unwrap_or("1"))
            .send()
            .await
            .map_err(|e| aws("CreateAlias", e))?;
    }
    Ok(())
}

/// Writes minutes to the stats table exactly as the extension does: one `UpdateItem` per item
/// that `ADD`s every counter of [`stats_item::increments`] and sets the TTL.
pub async fn seed_stats(em: &Emulator, table: &str, items: &[MinuteStats]) -> Result<(), PipelineError> {
    for item in items {
        let adds = stats_item::increments(&item.counters);
        let mut update = em
            .clients
            .dynamodb
            .update_item()
            .table_name(table)
            .key(stats_item::PARTITION_KEY, AttributeValue::S(item.function.resource_id()))
            .key(stats_item::SORT_KEY, AttributeValue::S(stats_item::sort_key(item.minute, item.memory)))
            .expression_attribute_names("#ttl", stats_item::TTL_ATTRIBUTE)
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N(stats_item::expires_at(item.minute, stats_item::DEFAULT_RETENTION_DAYS).to_string()),
            );
        let mut clause = Vec::new();
        for (i, (name, inc)) in adds.iter().enumerate() {
            clause.push(format!("#a{i} :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), name)
                .expression_attribute_values(format!(":a{i}"), AttributeValue::N(inc.to_dynamo_number()));
        }
        update
            .update_expression(format!("SET #ttl = :ttl ADD {}", clause.join(", ")))
            .send()
            .await
            .map_err(|e| aws("UpdateItem (stats)", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// Steady traffic of one function version, as minutes of the stats table.
#[derive(Debug, Clone, Copy)]
pub struct Traffic {
    /// The memory size the invocations ran at.
    pub memory_mb: u64,
    pub per_minute: u64,
    pub duration_ms: f64,
    pub used_mb: f64,
    /// Failed invocations per minute.
    pub errors: u64,
}

/// Minutes `[now - span.0, now - span.1)` of `traffic` under `resource` (`name:$LATEST` for
/// unaliased code, `name:<version>` behind an alias: what the extension writes).
pub fn steady_minutes(resource: &str, traffic: Traffic, span: (i64, i64)) -> Result<Vec<MinuteStats>, PipelineError> {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| aws("clock", e))?.as_millis();
    let now = Minute::from_epoch_ms(i64::try_from(now_ms).unwrap_or(i64::MAX));
    let function = FunctionRef::parse(resource).map_err(|e| aws("function", e))?;
    let memory = MemoryMb::new(traffic.memory_mb).map_err(|e| aws("memory", e))?;
    let n = traffic.per_minute;
    let busy = traffic.duration_ms * n as f64;
    let mut out = Vec::new();
    for ago in (span.1..span.0).rev() {
        let mut c = Counters {
            invocations: n,
            errors: traffic.errors,
            billed_ms: (traffic.duration_ms.ceil() as u64) * n,
            busy_ms: busy as u64,
            environments: 1 + (busy / 60_000.0) as u64,
            ..Counters::default()
        };
        c.duration.record_n(traffic.duration_ms, n);
        c.memory_used.record_n(traffic.used_mb, n);
        out.push(MinuteStats { function: function.clone(), minute: Minute(now.0 - ago), memory, counters: c });
    }
    Ok(out)
}

/// The memory of a function (or of one of its versions) now.
pub async fn memory_of(em: &Emulator, name: &str, qualifier: Option<&str>) -> Result<i32, PipelineError> {
    let c = em
        .clients
        .lambda
        .get_function_configuration()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_owned))
        .send()
        .await
        .map_err(|e| aws("GetFunctionConfiguration", e))?;
    Ok(c.memory_size().unwrap_or(0))
}

/// The provisioned concurrency requested on `name:qualifier`, `None` when there is none.
pub async fn provisioned_of(em: &Emulator, name: &str, qualifier: &str) -> Result<Option<i32>, PipelineError> {
    match em.clients.lambda.get_provisioned_concurrency_config().function_name(name).qualifier(qualifier).send().await {
        Ok(pc) => Ok(pc.requested_provisioned_concurrent_executions()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_provisioned_concurrency_config_not_found_exception()) => {
            Ok(None)
        }
        Err(e) => Err(aws("GetProvisionedConcurrencyConfig", aws_sdk_lambda::error::DisplayErrorContext(e))),
    }
}
