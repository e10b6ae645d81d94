//! Creating the two tables, for tests and the local pipeline (the deployed stack declares the
//! same schemas in its template). Both are on-demand (pay per request) with TTL on
//! `expiresAt`.

use std::time::Duration;

use autopilot_core::ports::PortResult;
use autopilot_core::stats_item;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use super::control;
use crate::error::{ClassifyExt, classify_waiter};

/// Longest wait for a new table to become ACTIVE.
pub const TABLE_ACTIVE_WAIT: Duration = Duration::from_secs(300);

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().expect("name and type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

/// The stats table of [`autopilot_core::stats_item`]: `resourceId` (S) / `bucket` (S).
pub async fn create_stats_table(client: &aws_sdk_dynamodb::Client, table: &str) -> PortResult<()> {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(stats_item::PARTITION_KEY))
        .attribute_definitions(string_attribute(stats_item::SORT_KEY))
        .key_schema(key(stats_item::PARTITION_KEY, KeyType::Hash))
        .key_schema(key(stats_item::SORT_KEY, KeyType::Range))
        .send()
        .await
        .classify("DynamoDB.CreateTable")?;
    activate(client, table, stats_item::TTL_ATTRIBUTE).await
}

/// The control table of [`control`]: `pk`/`sk`, local index `byTime` on `changeAt`.
pub async fn create_control_table(client: &aws_sdk_dynamodb::Client, table: &str) -> PortResult<()> {
    let by_time = LocalSecondaryIndex::builder()
        .index_name(control::BY_TIME_INDEX)
        .key_schema(key(control::PK, KeyType::Hash))
        .key_schema(key(control::CHANGE_AT, KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .expect("name, keys and projection are set");
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(control::PK))
        .attribute_definitions(string_attribute(control::SK))
        .attribute_definitions(string_attribute(control::CHANGE_AT))
        .key_schema(key(control::PK, KeyType::Hash))
        .key_schema(key(control::SK, KeyType::Range))
        .local_secondary_indexes(by_time)
        .send()
        .await
        .classify("DynamoDB.CreateTable")?;
    activate(client, table, control::TTL_ATTRIBUTE).await
}

async fn activate(client: &aws_sdk_dynamodb::Client, table: &str, ttl_attribute: &str) -> PortResult<()> {
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(TABLE_ACTIVE_WAIT)
        .await
        .map_err(|e| classify_waiter("DynamoDB.DescribeTable", e, &format!("table {table} active")))?;
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(ttl_attribute)
        .build()
        .expect("enabled and name are set");
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .classify("DynamoDB.UpdateTimeToLive")?;
    Ok(())
}
