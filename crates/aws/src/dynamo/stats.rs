//! [`StatsStore`] over the stats table the extension writes (schema:
//! [`autopilot_core::stats_item`]).
//!
//! One `Query` per function and window: `resourceId = :id AND bucket BETWEEN :lo AND :hi`,
//! followed page by page (1 MB each), eventually consistent (half the read price; a minute
//! item still being written is read again by the next run anyway).
//!
//! Items that do not decode are an error naming the item (strict, the port's behaviour):
//! decisions that change production configuration must not be made silently on part of
//! the data. [`DynamoStatsStore::read_window`] is the lenient form for callers that prefer
//! to go on and report what was rejected.

use std::collections::HashMap;

use autopilot_core::domain::{FunctionRef, Minute};
use autopilot_core::observe::MinuteStats;
use autopilot_core::ports::{ErrorKind, PortResult, StatsStore};
use autopilot_core::stats_item::{self, ItemError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{ClassifyExt, port_error};

const QUERY: &str = "DynamoDB.Query";

/// An item of the window that could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedItem {
    pub resource_id: String,
    pub sort_key: String,
    pub error: ItemError,
}

/// A window as read: decoded items, rejected items, and the pages it took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowRead {
    pub items: Vec<MinuteStats>,
    pub rejected: Vec<RejectedItem>,
    pub pages: u32,
}

#[derive(Debug, Clone)]
pub struct DynamoStatsStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStatsStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Every item of minutes `[from, to)`, decoded or rejected.
    pub async fn read_window(&self, function: &FunctionRef, from: Minute, to: Minute) -> PortResult<WindowRead> {
        let mut read = WindowRead::default();
        if to <= from {
            return Ok(read);
        }
        let (lo, hi) = stats_item::sort_key_range(from, to);
        let resource_id = function.resource_id();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :id AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", stats_item::PARTITION_KEY)
                .expression_attribute_names("#sk", stats_item::SORT_KEY)
                .expression_attribute_values(":id", AttributeValue::S(resource_id.clone()))
                .expression_attribute_values(":lo", AttributeValue::S(lo.clone()))
                .expression_attribute_values(":hi", AttributeValue::S(hi.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .classify(QUERY)?;
            read.pages += 1;
            for item in page.items() {
                decode_into(item, &mut read)?;
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(read),
            }
        }
    }
}

fn decode_into(item: &HashMap<String, AttributeValue>, read: &mut WindowRead) -> PortResult<()> {
    let string = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.as_str()),
        _ => Err(port_error(ErrorKind::Fatal, QUERY, format!("stats item without a string {name} attribute"))),
    };
    let (resource_id, sort_key) = (string(stats_item::PARTITION_KEY)?, string(stats_item::SORT_KEY)?);
    let numbers = item.iter().filter_map(|(name, v)| match v {
        AttributeValue::N(n) => Some((name.as_str(), n.as_str())),
        _ => None,
    });
    match stats_item::from_item(resource_id, sort_key, numbers) {
        Ok(stats) => read.items.push(stats),
        Err(error) => read.rejected.push(RejectedItem {
            resource_id: resource_id.to_owned(),
            sort_key: sort_key.to_owned(),
            error,
        }),
    }
    Ok(())
}

impl StatsStore for DynamoStatsStore {
    async fn read_minutes(&self, function: &FunctionRef, from: Minute, to: Minute) -> PortResult<Vec<MinuteStats>> {
        let read = self.read_window(function, from, to).await?;
        match read.rejected.first() {
            None => Ok(read.items),
            Some(first) => Err(port_error(
                ErrorKind::Fatal,
                QUERY,
                format!(
                    "{} of {} stats items of {function} in the window do not decode; first: {}/{}: {}",
                    read.rejected.len(),
                    read.rejected.len() + read.items.len(),
                    first.resource_id,
                    first.sort_key,
                    first.error
                ),
            )),
        }
    }
}
