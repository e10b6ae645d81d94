//! The handlers over the AWS adapters against the local emulator: clients, tables, functions,
//! stats written as the extension writes them, and each handler's `Deps`.
#![allow(dead_code)] // each test file uses part of this module

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use autopilot_aws::dynamo::tables::{create_control_table, create_stats_table};
use autopilot_aws::{
    Clients, CloudWatchMetrics, ControlTable, DynamoStatsStore, EventBridgeSink, LambdaControl, RetryPolicy,
};
use autopilot_core::observe::MinuteStats;
use autopilot_core::policy::Policy;
use autopilot_core::stats_item::{self, expires_at, increments, sort_key};
use autopilot_core::{FunctionRef, Minute};
use autopilot_runner::contract::{At, CollectInput, RunKind};
use autopilot_testkit::unique_name;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Context, LambdaEvent};

#[path = "../../../aws/tests/common/mod.rs"]
pub mod aws_common;

pub use aws_common::{clients, create_function};

/// Tables and adapters of one test.
pub struct Env {
    pub clients: Clients,
    pub stats_table: String,
    pub control_table: String,
    pub opt_in_tag: String,
}

impl Env {
    pub async fn new() -> Self {
        let clients = clients().await;
        let (stats_table, control_table) = (unique_name("stats"), unique_name("control"));
        create_stats_table(&clients.dynamodb, &stats_table).await.unwrap();
        create_control_table(&clients.dynamodb, &control_table).await.unwrap();
        Self { clients, stats_table, control_table, opt_in_tag: unique_name("optin") }
    }

    pub fn control(&self) -> LambdaControl {
        LambdaControl::new(&self.clients)
            .with_retry(RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            })
            .with_update_wait(Duration::from_secs(30))
    }

    pub fn table(&self) -> ControlTable {
        ControlTable::new(self.clients.dynamodb.clone(), self.control_table.clone())
    }

    pub fn events(&self) -> EventBridgeSink {
        EventBridgeSink::new(self.clients.events.clone(), "default")
    }

    pub fn collect_deps(
        &self,
    ) -> autopilot_collect::Deps<LambdaControl, DynamoStatsStore, CloudWatchMetrics, ControlTable> {
        autopilot_collect::Deps {
            control: self.control(),
            stats: DynamoStatsStore::new(self.clients.dynamodb.clone(), self.stats_table.clone()),
            metrics: CloudWatchMetrics::new(&self.clients),
            store: self.table(),
            opt_in_tag: self.opt_in_tag.clone(),
        }
    }

    pub fn forecast_deps(&self) -> autopilot_forecast::Deps<ControlTable> {
        autopilot_forecast::Deps { store: self.table() }
    }

    pub fn tune_deps(
        &self,
    ) -> autopilot_tune_memory::Deps<LambdaControl, ControlTable, EventBridgeSink, ControlTable, ControlTable> {
        autopilot_tune_memory::Deps {
            control: self.control(),
            changes: self.table(),
            events: self.events(),
            lease: self.table(),
            store: self.table(),
        }
    }

    pub fn apply_deps(
        &self,
    ) -> autopilot_apply_concurrency::Deps<LambdaControl, ControlTable, EventBridgeSink, ControlTable, ControlTable>
    {
        autopilot_apply_concurrency::Deps {
            control: self.control(),
            changes: self.table(),
            events: self.events(),
            lease: self.table(),
            store: self.table(),
        }
    }

    pub fn rollback_deps(
        &self,
    ) -> autopilot_rollback::Deps<LambdaControl, ControlTable, EventBridgeSink, ControlTable> {
        autopilot_rollback::Deps {
            control: self.control(),
            changes: self.table(),
            events: self.events(),
            lease: self.table(),
        }
    }

    /// Writes minute items as the extension does: one `UpdateItem` per item that `ADD`s every
    /// counter ([`increments`]) and sets the TTL.
    pub async fn write_stats(&self, items: &[MinuteStats]) {
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in items.chunks(items.len().div_ceil(8).max(1)) {
            let (db, table, chunk) = (self.clients.dynamodb.clone(), self.stats_table.clone(), chunk.to_vec());
            tasks.spawn(async move {
                for item in chunk {
                    write_item(&db, &table, &item).await;
                }
            });
        }
        tasks.join_all().await;
    }

    /// Stores minute items whole, 25 to a `BatchWriteItem`: the items the extension's updates
    /// leave, loaded in far fewer calls (for a day of a fleet; [`Env::write_stats`] writes
    /// them as the extension does).
    pub async fn load_stats(&self, items: &[MinuteStats]) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in items.chunks(25) {
            let requests = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder().set_item(Some(stats_attributes(item))).build().unwrap();
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            let out = self
                .clients
                .dynamodb
                .batch_write_item()
                .request_items(&self.stats_table, requests)
                .send()
                .await
                .unwrap();
            assert!(out.unprocessed_items().is_none_or(HashMap::is_empty), "the emulator leaves nothing unprocessed");
        }
    }

    /// Creates a function (opted in with this test's tag) with an alias `live` on version 1.
    pub async fn function_with_alias(&self, prefix: &str, memory: i32) -> FunctionRef {
        let f = create_function(&self.clients, prefix, memory, &[(&self.opt_in_tag, "true")], None).await;
        let v = self.clients.lambda.publish_version().function_name(f.name()).send().await.unwrap();
        self.clients
            .lambda
            .create_alias()
            .function_name(f.name())
            .name("live")
            .function_version(v.version().unwrap())
            .send()
            .await
            .unwrap();
        f
    }

    /// Runs collect and then the run's steps on every batch at `now`, as the state machine
    /// does; the API calls and units of each step, the functions changed and collected.
    pub async fn run_steps(
        &self,
        run: RunKind,
        policy: Policy,
        id: &str,
        now: Minute,
        window_minutes: Option<u32>,
    ) -> (BTreeMap<&'static str, BTreeMap<String, u64>>, usize, usize) {
        let input = CollectInput {
            run,
            policy,
            functions: None,
            execution_id: id.to_owned(),
            now: At(now),
            batch_size: None,
            window_minutes,
        };
        let calls = &self.clients.calls;
        let mut steps = BTreeMap::new();
        let before = calls.snapshot();
        let collected = autopilot_collect::handler(event(input), &self.collect_deps()).await.unwrap();
        steps.insert("collect", calls.since(&before));
        let mut changed = 0;
        for batch in collected.batch_inputs() {
            match run {
                RunKind::Memory => {
                    let before = calls.snapshot();
                    let out = autopilot_tune_memory::handler(event(batch), &self.tune_deps()).await.unwrap();
                    changed += out.results.len();
                    merge(steps.entry("tune-memory").or_default(), calls.since(&before));
                }
                RunKind::Concurrency => {
                    let before = calls.snapshot();
                    autopilot_forecast::handler(event(batch.clone()), &self.forecast_deps()).await.unwrap();
                    merge(steps.entry("forecast").or_default(), calls.since(&before));
                    let before = calls.snapshot();
                    let out = autopilot_apply_concurrency::handler(event(batch), &self.apply_deps()).await.unwrap();
                    changed += out.results.len();
                    merge(steps.entry("apply-concurrency").or_default(), calls.since(&before));
                }
            }
        }
        (steps, changed, collected.collected.functions)
    }

    pub async fn memory_of(&self, function: &FunctionRef, qualifier: Option<&str>) -> i32 {
        let c = self
            .clients
            .lambda
            .get_function_configuration()
            .function_name(function.name())
            .set_qualifier(qualifier.map(str::to_owned))
            .send()
            .await
            .unwrap();
        c.memory_size().unwrap()
    }
}

/// A minute item as the extension's updates leave it: keys, every counter, the TTL.
pub fn stats_attributes(item: &MinuteStats) -> HashMap<String, AttributeValue> {
    let mut attributes: HashMap<String, AttributeValue> = increments(&item.counters)
        .into_iter()
        .map(|(name, n)| (name, AttributeValue::N(n.to_dynamo_number())))
        .collect();
    attributes.insert(stats_item::PARTITION_KEY.to_owned(), AttributeValue::S(item.function.resource_id()));
    attributes.insert(stats_item::SORT_KEY.to_owned(), AttributeValue::S(sort_key(item.minute, item.memory)));
    attributes.insert(
        stats_item::TTL_ATTRIBUTE.to_owned(),
        AttributeValue::N(expires_at(item.minute, stats_item::DEFAULT_RETENTION_DAYS).to_string()),
    );
    attributes
}

/// A handler's event.
pub fn event<T>(payload: T) -> LambdaEvent<T> {
    LambdaEvent::new(payload, Context::default())
}

/// Adds the counts of `delta` into `into`.
pub fn merge(into: &mut BTreeMap<String, u64>, delta: BTreeMap<String, u64>) {
    for (k, n) in delta {
        *into.entry(k).or_default() += n;
    }
}

async fn write_item(db: &aws_sdk_dynamodb::Client, table: &str, item: &MinuteStats) {
    let adds = increments(&item.counters);
    let mut req = db
        .update_item()
        .table_name(table)
        .key(stats_item::PARTITION_KEY, AttributeValue::S(item.function.resource_id()))
        .key(stats_item::SORT_KEY, AttributeValue::S(sort_key(item.minute, item.memory)));
    let mut clauses = Vec::with_capacity(adds.len());
    for (i, (name, inc)) in adds.iter().enumerate() {
        clauses.push(format!("#a{i} :v{i}"));
        req = req
            .expression_attribute_names(format!("#a{i}"), name)
            .expression_attribute_values(format!(":v{i}"), AttributeValue::N(inc.to_dynamo_number()));
    }
    req.update_expression(format!("ADD {} SET #ttl = :ttl", clauses.join(", ")))
        .expression_attribute_names("#ttl", stats_item::TTL_ATTRIBUTE)
        .expression_attribute_values(
            ":ttl",
            AttributeValue::N(expires_at(item.minute, stats_item::DEFAULT_RETENTION_DAYS).to_string()),
        )
        .send()
        .await
        .unwrap();
}

/// The configuration writes in an `ApiCalls` delta.
pub fn lambda_writes(delta: &BTreeMap<String, u64>) -> u64 {
    const WRITES: [&str; 6] = [
        "Lambda.UpdateFunctionConfiguration",
        "Lambda.PublishVersion",
        "Lambda.UpdateAlias",
        "Lambda.CreateAlias",
        "Lambda.PutProvisionedConcurrencyConfig",
        "Lambda.DeleteProvisionedConcurrencyConfig",
    ];
    delta.iter().filter(|(k, _)| WRITES.contains(&k.as_str())).map(|(_, n)| n).sum()
}
