//! Discovery and reading of configuration.
//!
//! Opted-in functions are found with the Resource Groups Tagging API (`GetResources` with a
//! tag-key filter and resource type `lambda:function`, 100 per page), then each one is read
//! with `GetFunction` (configuration, tags and reserved concurrency in one call) and
//! `ListAliases`. For N opted-in functions in an account of F: ⌈N/100⌉ + 2N calls, against
//! ⌈F/50⌉ + F + 2N when listing every function and reading the tags of each (ListFunctions
//! returns no tags). The tagging index is eventually consistent: a newly tagged function can
//! take a few minutes to be found.

use std::collections::BTreeMap;

use autopilot_core::domain::{Architecture, Concurrency, FunctionRef, MemoryMb};
use autopilot_core::ports::{AliasConfig, AliasRouting, ErrorKind, FunctionConfig, PortResult};
use aws_sdk_lambda::types::{AliasConfiguration, FunctionConfiguration};
use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::LambdaControl;
use crate::error::{ClassifyExt, port_error};

/// Functions read concurrently while discovering a fleet.
pub const DISCOVERY_PARALLELISM: usize = 8;

/// The resource type filter of the tagging API for Lambda functions.
const LAMBDA_FUNCTION_TYPE: &str = "lambda:function";

pub(crate) fn unqualified(function: &FunctionRef) -> &str {
    function.name()
}

/// Maps Lambda's configuration (plus what GetFunction and ListAliases add).
pub(crate) fn function_config(
    c: &FunctionConfiguration,
    tags: BTreeMap<String, String>,
    reserved: Option<i32>,
    aliases: Vec<AliasConfig>,
) -> PortResult<FunctionConfig> {
    const OP: &str = "Lambda.GetFunction";
    let bad = |what: String| port_error(ErrorKind::Fatal, OP, what);
    let name = c.function_name().ok_or_else(|| bad("configuration without a function name".into()))?;
    let function = FunctionRef::new(name, None).map_err(|e| bad(e.to_string()))?;
    let architecture = match c.architectures().first() {
        Some(a) => a.as_str().parse::<Architecture>().map_err(|e| bad(e.to_string()))?,
        None => Architecture::X86_64,
    };
    let memory = c.memory_size().unwrap_or(128);
    let memory = MemoryMb::new(u64::try_from(memory).unwrap_or(0)).map_err(|e| bad(format!("{name}: {e}")))?;
    let reserved_concurrency = match reserved {
        Some(n) => Some(Concurrency::new(u64::try_from(n).unwrap_or(0)).map_err(|e| bad(e.to_string()))?),
        None => None,
    };
    Ok(FunctionConfig {
        function,
        architecture,
        memory,
        timeout_ms: u64::try_from(c.timeout().unwrap_or(3)).unwrap_or(0) * 1000,
        runtime: c.runtime().map(|r| r.as_str().to_owned()),
        reserved_concurrency,
        aliases,
        tags,
    })
}

pub(crate) fn alias_config(a: &AliasConfiguration) -> Option<AliasConfig> {
    let canary = a
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .and_then(|w| w.iter().next())
        .map(|(v, w)| (v.clone(), *w));
    Some(AliasConfig {
        name: a.name()?.to_owned(),
        routing: AliasRouting { version: a.function_version()?.to_owned(), canary },
    })
}

impl LambdaControl {
    /// Configuration, tags, reserved concurrency and aliases: `GetFunction` + `ListAliases`.
    /// A qualified reference (version or alias) reads that version's configuration (its
    /// memory, not `$LATEST`'s); the function stays unqualified in the result.
    pub(crate) async fn read_function(&self, function: &FunctionRef) -> PortResult<FunctionConfig> {
        let name = unqualified(function);
        let out = self
            .client
            .get_function()
            .function_name(name)
            .set_qualifier(function.qualifier().map(str::to_owned))
            .send()
            .await
            .classify("Lambda.GetFunction")?;
        let Some(config) = out.configuration() else {
            return Err(port_error(ErrorKind::Fatal, "Lambda.GetFunction", format!("{name}: no configuration")));
        };
        let tags: BTreeMap<String, String> =
            out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
        let reserved = out.concurrency().and_then(|c| c.reserved_concurrent_executions());
        let aliases = self.list_aliases(name).await?;
        function_config(config, tags, reserved, aliases)
    }

    async fn list_aliases(&self, name: &str) -> PortResult<Vec<AliasConfig>> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_aliases()
                .function_name(name)
                .set_marker(marker.take())
                .send()
                .await
                .classify("Lambda.ListAliases")?;
            out.extend(page.aliases().iter().filter_map(alias_config));
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Unqualified functions carrying the tag key, from the tagging API.
    pub async fn tagged_functions(&self, tag_key: &str) -> PortResult<Vec<FunctionRef>> {
        const OP: &str = "ResourceGroupsTaggingAPI.GetResources";
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .tagging
                .get_resources()
                .tag_filters(TagFilter::builder().key(tag_key).build())
                .resource_type_filters(LAMBDA_FUNCTION_TYPE)
                .set_pagination_token(token.take())
                .send()
                .await
                .classify(OP)?;
            for mapping in page.resource_tag_mapping_list() {
                let Some(arn) = mapping.resource_arn() else { continue };
                let f = FunctionRef::parse(arn).map_err(|e| port_error(ErrorKind::Fatal, OP, e.to_string()))?;
                let f =
                    FunctionRef::new(f.name(), None).map_err(|e| port_error(ErrorKind::Fatal, OP, e.to_string()))?;
                if !found.contains(&f) {
                    found.push(f);
                }
            }
            match page.pagination_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        found.sort();
        Ok(found)
    }

    /// Every opted-in function with its configuration, read [`DISCOVERY_PARALLELISM`] at a
    /// time. A function deleted between discovery and reading is left out.
    pub(crate) async fn discover(&self, tag_key: &str) -> PortResult<Vec<FunctionConfig>> {
        let names = self.tagged_functions(tag_key).await?;
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(DISCOVERY_PARALLELISM) {
            let mut tasks = tokio::task::JoinSet::new();
            for (i, f) in chunk.iter().enumerate() {
                let this = self.clone();
                let f = f.clone();
                tasks.spawn(async move { (i, this.read_function(&f).await) });
            }
            let mut results: Vec<(usize, PortResult<FunctionConfig>)> = tasks.join_all().await;
            results.sort_by_key(|(i, _)| *i);
            for (_, r) in results {
                match r {
                    Ok(c) => out.push(c),
                    Err(e) if e.kind == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }
}
