//! The DynamoDB `UpdateItem` call that merges one [`MinuteStats`] into the stats table, and
//! the classification of its answers. Pure: the I/O is in [`crate::writer`].
//!
//! One item per function per minute per memory size per flush: every counter is `ADD`ed in
//! one `UpdateExpression` and the TTL is `SET`, so any number of environments merge exactly.
//! Attribute names come from [`stats_item`] (the schema collect reads with `from_item`);
//! they go through `#n` placeholders because some (like the sort key `bucket`) are DynamoDB
//! reserved words.

use autopilot_core::observe::MinuteStats;
use autopilot_core::stats_item;
use std::fmt::Write as _;

use serde_json::Value;

/// `X-Amz-Target` of the call.
pub const TARGET: &str = "DynamoDB_20120810.UpdateItem";
/// `Content-Type` of DynamoDB's JSON protocol.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// DynamoDB's limit on an expression string; an item whose `ADD` clause would exceed it (only
/// possible with hundreds of histogram buckets) is written in several updates.
pub const MAX_EXPRESSION_BYTES: usize = 4_096;

/// The JSON bodies of the `UpdateItem` calls for one item: one body, unless the expression
/// would exceed [`MAX_EXPRESSION_BYTES`]. Empty when the item has nothing to add.
///
/// Written straight into the body (no `serde_json::Value` tree of a few hundred small maps):
/// an item is one write per minute, but its histograms make it a hundred attributes.
pub fn update_item_bodies(table: &str, item: &MinuteStats, retention_days: i64) -> Vec<Vec<u8>> {
    let adds = stats_item::increments(&item.counters);
    if adds.is_empty() {
        return Vec::new();
    }
    let head = format!(
        r#"{{"TableName":{},"Key":{{{}:{{"S":{}}},{}:{{"S":{}}}}},"UpdateExpression":"ADD "#,
        json_string(table),
        json_string(stats_item::PARTITION_KEY),
        json_string(&item.function.resource_id()),
        json_string(stats_item::SORT_KEY),
        json_string(&stats_item::sort_key(item.minute, item.memory)),
    );
    let ttl = stats_item::expires_at(item.minute, retention_days);
    let set_clause = " SET #t = :t";
    let mut bodies = Vec::new();
    let mut i = 0;
    while i < adds.len() {
        let (mut expression, mut names, mut values) = (String::new(), String::new(), String::new());
        let mut n = 0;
        while i < adds.len() {
            let term = format!("{}#{n} :{n}", if n > 0 { ", " } else { "" });
            if n > 0 && "ADD ".len() + expression.len() + term.len() + set_clause.len() > MAX_EXPRESSION_BYTES {
                break;
            }
            expression.push_str(&term);
            let (name, inc) = &adds[i];
            let _ = write!(names, r##""#{n}":{},"##, json_string(name));
            let _ = write!(values, r#"":{n}":{{"N":"{}"}},"#, inc.to_dynamo_number());
            n += 1;
            i += 1;
        }
        let mut body = String::with_capacity(head.len() + expression.len() + names.len() + values.len() + 160);
        body.push_str(&head);
        body.push_str(&expression);
        body.push_str(set_clause);
        let _ = write!(
            body,
            r##"","ExpressionAttributeNames":{{{names}"#t":{}}},"ExpressionAttributeValues":{{{values}":t":{{"N":"{ttl}"}}}}}}"##,
            json_string(stats_item::TTL_ATTRIBUTE)
        );
        bodies.push(body.into_bytes());
    }
    bodies
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    Value::from(s).to_string()
}

/// How a DynamoDB answer should be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// Throttling, 5xx, or a transport failure: try again later.
    Retryable(String),
    /// A request that will never succeed as sent (missing table, access denied, validation):
    /// counted as not written, not retried.
    Fatal(String),
}

/// Classifies an HTTP answer of the JSON protocol (`__type` names the error).
pub fn classify(status: u16, body: &[u8]) -> Answer {
    if (200..300).contains(&status) {
        return Answer::Ok;
    }
    let error_type = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("__type").and_then(Value::as_str).map(|t| t.rsplit('#').next().unwrap_or(t).to_owned()))
        .unwrap_or_else(|| format!("HTTP {status}"));
    const RETRYABLE: &[&str] = &[
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    ];
    if status >= 500 || status == 429 || RETRYABLE.contains(&error_type.as_str()) {
        Answer::Retryable(error_type)
    } else {
        Answer::Fatal(error_type)
    }
}

#[cfg(test)]
mod tests {
    use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
    use autopilot_core::observe::Counters;

    use super::*;

    fn item(buckets: usize) -> MinuteStats {
        let mut counters =
            Counters { invocations: 3, cold_starts: 1, busy_ms: 300, environments: 1, ..Counters::default() };
        for b in 0..buckets {
            counters.duration.record(autopilot_core::histogram::bucket_value(b as u16 + 1));
        }
        MinuteStats {
            function: FunctionRef::parse("orders:$LATEST").unwrap(),
            minute: Minute(29_929_901),
            memory: MemoryMb::new(512).unwrap(),
            counters,
        }
    }

    /// Applies the bodies' ADD clauses the way DynamoDB would, then reads the item back with
    /// the core's `from_item`.
    fn apply(bodies: &[Vec<u8>]) -> MinuteStats {
        let mut numbers: std::collections::BTreeMap<String, f64> = Default::default();
        let mut key = (String::new(), String::new());
        for body in bodies {
            let v: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(v["TableName"], "stats");
            key = (
                v["Key"]["resourceId"]["S"].as_str().unwrap().to_owned(),
                v["Key"]["bucket"]["S"].as_str().unwrap().to_owned(),
            );
            let expr = v["UpdateExpression"].as_str().unwrap();
            assert!(expr.len() <= MAX_EXPRESSION_BYTES);
            let (add, set) = expr.strip_prefix("ADD ").unwrap().split_once(" SET ").unwrap();
            assert_eq!(set, "#t = :t");
            assert_eq!(v["ExpressionAttributeNames"]["#t"], "expiresAt");
            for term in add.split(", ") {
                let (n, val) = term.split_once(' ').unwrap();
                let name = v["ExpressionAttributeNames"][n].as_str().unwrap();
                let num: f64 = v["ExpressionAttributeValues"][val]["N"].as_str().unwrap().parse().unwrap();
                *numbers.entry(name.to_owned()).or_default() += num;
            }
        }
        let strings: Vec<(String, String)> = numbers
            .into_iter()
            .map(|(n, v)| (n.clone(), if n.ends_with("Sum") { format!("{v:.3}") } else { format!("{}", v as u64) }))
            .collect();
        stats_item::from_item(&key.0, &key.1, strings.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap()
    }

    #[test]
    fn one_body_adds_every_counter_and_sets_the_ttl() {
        let it = item(5);
        let bodies = update_item_bodies("stats", &it, 35);
        assert_eq!(bodies.len(), 1);
        let v: Value = serde_json::from_slice(&bodies[0]).unwrap();
        assert_eq!(v["Key"]["resourceId"]["S"], "orders:$LATEST");
        assert_eq!(v["Key"]["bucket"]["S"], "0029929901#00512");
        assert_eq!(v["ExpressionAttributeValues"][":t"]["N"], stats_item::expires_at(it.minute, 35).to_string());
        let back = apply(&bodies);
        assert_eq!(back.counters.invocations, 3);
        assert_eq!(
            back.counters.duration.buckets().collect::<Vec<_>>(),
            it.counters.duration.buckets().collect::<Vec<_>>()
        );
    }

    #[test]
    fn wide_histograms_split_into_several_updates_that_add_up() {
        let it = item(450);
        let bodies = update_item_bodies("stats", &it, 35);
        assert!(bodies.len() > 1, "450 buckets exceed one 4 KB expression");
        let back = apply(&bodies);
        assert_eq!(back.counters.cold_starts, 1);
        assert_eq!(
            back.counters.duration.buckets().collect::<Vec<_>>(),
            it.counters.duration.buckets().collect::<Vec<_>>()
        );
    }

    #[test]
    fn idle_items_produce_no_call() {
        let mut it = item(0);
        it.counters = Counters::default();
        assert!(update_item_bodies("stats", &it, 35).is_empty());
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(200, b"{}"), Answer::Ok);
        let throttled = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;
        assert_eq!(classify(400, throttled), Answer::Retryable("ThrottlingException".into()));
        let pte = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"}"#;
        assert!(matches!(classify(400, pte), Answer::Retryable(_)));
        assert_eq!(classify(500, b"oops"), Answer::Retryable("HTTP 500".into()));
        let missing = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"}"#;
        assert_eq!(classify(400, missing), Answer::Fatal("ResourceNotFoundException".into()));
        assert!(matches!(classify(403, br#"{"__type":"AccessDeniedException"}"#), Answer::Fatal(_)));
    }
}
