//! The control table: the autopilot's own state, one table (single-table design).
//!
//! | item | `pk` (S, partition) | `sk` (S, sort) | other attributes |
//! |---|---|---|---|
//! | change record | `FN#<resourceId>` | `CHANGE#<id>` | `id` S, `at` N (minute), `status` S, `record` S (the [`ChangeRecord`] as JSON, status as first written), `changeAt` S (`MMMMMMMMMM#<id>`, sort key of the `byTime` index) |
//! | lease | `FN#<resourceId>` | `LEASE` | `owner` S, `until` N (minute), `expiresAt` N (TTL, Unix s) |
//! | window summary part | `FN#<resourceId>` | `SUMMARY#<to>#<from>#<part>` | `body` B (gzip of JSON), `parts` N, `writeId` S, `expiresAt` N (TTL) |
//! | forecast, act record, kept model, bin history | see [`super::run_store`] | `FORECAST#<origin>`, `ACT#<minute>`, `MODEL`, `HISTORY` | |
//!
//! Local secondary index `byTime` (`pk`, `changeAt`), projection ALL: only change items carry
//! `changeAt`, so the index is sparse and leases, summaries, forecasts, act records and the
//! kept forecasters cost no index writes. Minutes
//! in keys are 10-digit zero-padded. TTL is enabled on `expiresAt`; change records carry
//! none (the change log is the audit trail).
//!
//! A change record's key holds only its id, so a retried step that writes the same id
//! (even with another `at`) is found by the `attribute_not_exists` condition and never
//! duplicated; `set_status` needs only the id; `history` reads the index newest first.

use std::collections::HashMap;

use autopilot_core::domain::{FunctionRef, Minute};
use autopilot_core::ports::{ChangeLog, ChangeRecord, ChangeStatus, ErrorKind, Lease, PortResult, Recorded};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::error::{ClassifyExt, port_error};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Local secondary index of change records by time.
pub const BY_TIME_INDEX: &str = "byTime";
pub const CHANGE_AT: &str = "changeAt";
pub const TTL_ATTRIBUTE: &str = "expiresAt";
pub const ID: &str = "id";
pub const AT: &str = "at";
pub const STATUS: &str = "status";
pub const RECORD: &str = "record";
pub const OWNER: &str = "owner";
pub const UNTIL: &str = "until";
pub const BODY: &str = "body";
pub const PARTS: &str = "parts";
pub const WRITE_ID: &str = "writeId";

pub const CHANGE_PREFIX: &str = "CHANGE#";
pub const LEASE_SK: &str = "LEASE";
pub const SUMMARY_PREFIX: &str = "SUMMARY#";

/// How long an expired lease item stays before TTL removes it.
const LEASE_TTL_GRACE_MINUTES: i64 = Minute::PER_DAY;

/// Partition key of everything about one function (or alias).
pub fn function_key(function: &FunctionRef) -> String {
    format!("FN#{}", function.resource_id())
}

/// Which sort keys of a partition a query reads.
pub(crate) enum SortKeys<'a> {
    /// Those that start with the prefix.
    Prefix(&'a str),
    /// From the first to the last, both included.
    Between(String, String),
}

pub fn change_key(id: &str) -> String {
    format!("{CHANGE_PREFIX}{id}")
}

pub fn change_at(at: Minute, id: &str) -> String {
    format!("{:010}#{id}", at.0)
}

/// The control table's adapters: [`ChangeLog`], [`Lease`] and window summaries.
#[derive(Debug, Clone)]
pub struct ControlTable {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
}

impl ControlTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The items of `function`'s partition whose sort keys `sk` selects, in sort-key order
    /// (`forward`) or the reverse, all pages or the first `limit` items.
    pub(crate) async fn query_function(
        &self,
        function: &FunctionRef,
        sk: SortKeys<'_>,
        (forward, limit): (bool, Option<i32>),
        consistent: bool,
    ) -> PortResult<Vec<HashMap<String, AttributeValue>>> {
        const OP: &str = "DynamoDB.Query";
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", AttributeValue::S(function_key(function)));
            let query = match &sk {
                SortKeys::Prefix(prefix) => query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S((*prefix).to_owned())),
                SortKeys::Between(first, last) => query
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
                    .expression_attribute_values(":first", AttributeValue::S(first.clone()))
                    .expression_attribute_values(":last", AttributeValue::S(last.clone())),
            };
            let page = query
                .scan_index_forward(forward)
                .set_limit(limit)
                .consistent_read(consistent)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .classify(OP)?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() && limit.is_none() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    pub(crate) fn key(pk: String, sk: String) -> HashMap<String, AttributeValue> {
        HashMap::from([(PK.to_owned(), AttributeValue::S(pk)), (SK.to_owned(), AttributeValue::S(sk))])
    }
}

fn status_str(status: ChangeStatus) -> String {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{status:?}"),
    }
}

fn decode_change(item: &HashMap<String, AttributeValue>) -> PortResult<ChangeRecord> {
    const OP: &str = "DynamoDB.Query";
    let bad = |what: &str| port_error(ErrorKind::Fatal, OP, format!("change item {:?}: {what}", item.get(SK)));
    let Some(AttributeValue::S(json)) = item.get(RECORD) else { return Err(bad("no record attribute")) };
    let mut record: ChangeRecord = serde_json::from_str(json).map_err(|e| bad(&format!("record is not valid: {e}")))?;
    if let Some(AttributeValue::S(s)) = item.get(STATUS) {
        record.status = serde_json::from_value(serde_json::Value::String(s.clone()))
            .map_err(|e| bad(&format!("status {s:?} is not valid: {e}")))?;
    }
    Ok(record)
}

impl ChangeLog for ControlTable {
    async fn record(&self, record: &ChangeRecord) -> PortResult<Recorded> {
        const OP: &str = "DynamoDB.PutItem";
        let json = serde_json::to_string(record)
            .map_err(|e| port_error(ErrorKind::InvalidInput, OP, format!("change record not serializable: {e}")))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::key(function_key(&record.function), change_key(&record.id))))
            .item(ID, AttributeValue::S(record.id.clone()))
            .item(AT, AttributeValue::N(record.at.0.to_string()))
            .item(STATUS, AttributeValue::S(status_str(record.status)))
            .item(RECORD, AttributeValue::S(json))
            .item(CHANGE_AT, AttributeValue::S(change_at(record.at, &record.id)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .classify(OP);
        match result {
            Ok(_) => Ok(Recorded::New),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(Recorded::AlreadyThere),
            Err(e) => Err(e),
        }
    }

    async fn set_status(&self, function: &FunctionRef, id: &str, status: ChangeStatus) -> PortResult<()> {
        const OP: &str = "DynamoDB.UpdateItem";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(function_key(function), change_key(id))))
            .update_expression("SET #status = :status")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":status", AttributeValue::S(status_str(status)))
            .return_values(ReturnValue::None)
            .send()
            .await
            .classify(OP);
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::Conflict => Err(port_error(
                ErrorKind::NotFound,
                OP,
                format!("no change {id:?} recorded for {function} (status not set)"),
            )
            .with_source(e)),
            Err(e) => Err(e),
        }
    }

    async fn history(&self, function: &FunctionRef, limit: usize) -> PortResult<Vec<ChangeRecord>> {
        const OP: &str = "DynamoDB.Query";
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_TIME_INDEX)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", AttributeValue::S(function_key(function)))
                .scan_index_forward(false)
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .classify(OP)?;
            for item in page.items() {
                out.push(decode_change(item)?);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

impl Lease for ControlTable {
    /// Conditional put: succeeds when no lease exists, the holder's lease has expired
    /// (`until <= now`), or `owner` already holds it (re-acquiring extends it).
    async fn acquire(&self, function: &FunctionRef, owner: &str, now: Minute, until: Minute) -> PortResult<bool> {
        const OP: &str = "DynamoDB.PutItem";
        if until <= now {
            return Err(port_error(ErrorKind::InvalidInput, OP, format!("lease until {until} is not after now {now}")));
        }
        let expires = until.plus(LEASE_TTL_GRACE_MINUTES).epoch_ms() / 1000;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::key(function_key(function), LEASE_SK.to_owned())))
            .item(OWNER, AttributeValue::S(owner.to_owned()))
            .item(UNTIL, AttributeValue::N(until.0.to_string()))
            .item(TTL_ATTRIBUTE, AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(#pk) OR #until <= :now OR #owner = :owner")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#until", UNTIL)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":now", AttributeValue::N(now.0.to_string()))
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
            .send()
            .await
            .classify(OP);
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the lease only if `owner` holds it; otherwise (expired and taken by another
    /// owner, or already gone) does nothing and succeeds.
    async fn release(&self, function: &FunctionRef, owner: &str) -> PortResult<()> {
        const OP: &str = "DynamoDB.DeleteItem";
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(function_key(function), LEASE_SK.to_owned())))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
            .send()
            .await
            .classify(OP);
        match result {
            Err(e) if e.kind != ErrorKind::Conflict => Err(e),
            _ => Ok(()),
        }
    }
}
