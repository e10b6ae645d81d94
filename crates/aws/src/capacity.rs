//! DynamoDB request units: what our own DynamoDB bill is made of, counted on every call the
//! DynamoDB client makes, from the items it writes and reads.
//!
//! The local emulator reports fixed consumed capacity, whatever the item, so the units are
//! worked out here from AWS's documented rules (Amazon DynamoDB Developer Guide, "DynamoDB
//! item sizes and formats" and "DynamoDB read and write operations"):
//! - an item's size is the sum of its attribute names' UTF-8 bytes and its values' sizes: a
//!   string its UTF-8 bytes, a binary its raw bytes, a number 1 byte plus 1 per two
//!   significant digits, a boolean or null 1 byte, a list or map 3 bytes plus its elements
//!   and 1 byte per element;
//! - a write costs 1 write request unit per KB of the item, rounded up (at least 1);
//! - a `GetItem` costs 1 read request unit per 4 KB of the item, rounded up (at least 1, an
//!   item not found included); a `Query` or `Scan` page the same per 4 KB of all the items it
//!   returned together; eventually consistent reads cost half.
//!
//! What the caller cannot see is counted at its lower bound, and says so: a write is billed
//! on the larger of the item before and after it, and an `UpdateItem` or `DeleteItem` does not
//! carry the item, so those count the key and the values they set (at least 1 unit). The
//! autopilot's own updates and deletes (leases, change-record status) touch items under 1 KB.
//!
//! Read units are kept in halves ([`DYNAMODB_READ_HALF_UNITS`]) so that counts stay whole.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::scan::{ScanInput, ScanOutput};
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::calls::ApiCalls;

/// Unit key: DynamoDB write request units.
pub const DYNAMODB_WRITE_UNITS: &str = "units:DynamoDB.writeRequestUnits";
/// Unit key: DynamoDB read request units, in halves (an eventually consistent 4 KB is one).
pub const DYNAMODB_READ_HALF_UNITS: &str = "units:DynamoDB.readRequestUnits.halves";

/// Bytes per write request unit.
pub const WRITE_UNIT_BYTES: usize = 1_024;
/// Bytes per read request unit.
pub const READ_UNIT_BYTES: usize = 4_096;

/// Size of an item in bytes, by the documented rules.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// Size of one attribute value (its name not included).
pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() + value_size(e)).sum::<usize>(),
        // A type this SDK does not know: count its tag, at least.
        _ => 1,
    }
}

/// Size of a number: 1 byte plus 1 per two significant digits (leading and trailing zeroes
/// trimmed; sign, point and exponent are not digits).
pub fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or("");
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let first = digits.iter().position(|&d| d != b'0');
    let significant = match (first, digits.iter().rposition(|&d| d != b'0')) {
        (Some(a), Some(b)) => b - a + 1,
        _ => 1, // zero
    };
    1 + significant.div_ceil(2)
}

/// Write request units of writing an item of `bytes`.
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as u64
}

/// Read request units, in halves, of reading `bytes` in one item or one page.
pub fn read_half_units(bytes: usize, consistent: bool) -> u64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as u64;
    if consistent { 2 * units } else { units }
}

/// Counts the request units of every call of the DynamoDB client it is installed on, into
/// the same [`ApiCalls`] as the calls themselves. Writes are counted once per operation (a
/// retried attempt that was throttled is not billed), reads on the response that returned
/// the items.
#[derive(Debug, Clone)]
pub struct DynamoUnits {
    calls: ApiCalls,
}

impl DynamoUnits {
    pub fn new(calls: ApiCalls) -> Self {
        Self { calls }
    }
}

/// The read consistency of the operation in flight, from its input to its output.
#[derive(Debug, Clone, Copy)]
struct Consistent(bool);

impl Storable for Consistent {
    type Storer = StoreReplace<Self>;
}

/// Write units of an operation's input; `None` for a read.
fn input_write_units(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> Option<u64> {
    if let Some(put) = input.downcast_ref::<PutItemInput>() {
        return Some(write_units(put.item().map_or(0, item_size)));
    }
    if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
        let values = update.expression_attribute_values().map_or(0, |v| v.values().map(value_size).sum());
        return Some(write_units(update.key().map_or(0, item_size) + values));
    }
    if input.downcast_ref::<DeleteItemInput>().is_some() {
        return Some(1);
    }
    if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
        let requests = batch.request_items().into_iter().flat_map(|m| m.values()).flatten();
        return Some(requests.map(|r| r.put_request().map_or(1, |p| write_units(item_size(p.item())))).sum());
    }
    None
}

/// Whether a read's input asks for a strongly consistent read; `None` for a write.
fn input_consistency(input: &aws_smithy_runtime_api::client::interceptors::context::Input) -> Option<bool> {
    if let Some(get) = input.downcast_ref::<GetItemInput>() {
        return Some(get.consistent_read().unwrap_or(false));
    }
    if let Some(query) = input.downcast_ref::<QueryInput>() {
        return Some(query.consistent_read().unwrap_or(false));
    }
    if let Some(scan) = input.downcast_ref::<ScanInput>() {
        return Some(scan.consistent_read().unwrap_or(false));
    }
    None
}

/// Read units, in halves, of an operation's output; `None` for a write.
fn output_read_half_units(
    output: &aws_smithy_runtime_api::client::interceptors::context::Output,
    consistent: bool,
) -> Option<u64> {
    let page =
        |items: &[HashMap<String, AttributeValue>]| read_half_units(items.iter().map(item_size).sum(), consistent);
    if let Some(get) = output.downcast_ref::<GetItemOutput>() {
        return Some(read_half_units(get.item().map_or(0, item_size), consistent));
    }
    if let Some(query) = output.downcast_ref::<QueryOutput>() {
        return Some(page(query.items()));
    }
    if let Some(scan) = output.downcast_ref::<ScanOutput>() {
        return Some(page(scan.items()));
    }
    if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
        let items = batch.responses().into_iter().flat_map(|m| m.values()).flatten();
        return Some(items.map(|i| read_half_units(item_size(i), consistent)).sum());
    }
    None
}

impl Intercept for DynamoUnits {
    fn name(&self) -> &'static str {
        "DynamoUnits"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        if let Some(units) = input_write_units(input) {
            self.calls.add(DYNAMODB_WRITE_UNITS, units);
        } else if let Some(consistent) = input_consistency(input) {
            cfg.interceptor_state().store_put(Consistent(consistent));
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let consistent = cfg.load::<Consistent>().is_some_and(|c| c.0);
        if let Ok(output) = context.output_or_error()
            && let Some(halves) = output_read_half_units(output, consistent)
        {
            self.calls.add(DYNAMODB_READ_HALF_UNITS, halves);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::primitives::Blob;

    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn numbers_count_one_byte_per_two_significant_digits_plus_one() {
        assert_eq!(number_size("7"), 2);
        assert_eq!(number_size("12"), 2);
        assert_eq!(number_size("123"), 3);
        // leading and trailing zeroes are trimmed; sign, point and exponent are not digits
        assert_eq!(number_size("1000000"), 2);
        assert_eq!(number_size("-0.00123"), 3);
        assert_eq!(number_size("1.5E+10"), 2);
        assert_eq!(number_size("0"), 2);
        // 38 significant digits, the most a number has
        assert_eq!(number_size("12345678901234567890123456789012345678"), 20);
    }

    #[test]
    fn an_item_is_its_names_and_values() {
        // 2 + 6 ("pk" + "FN#abc"), 4 + 3 ("body" + 3 raw bytes, not base64), 5 + 2
        // ("parts" + 1 digit), 4 + 1 ("flag" + a boolean)
        let i = item(&[
            ("pk", AttributeValue::S("FN#abc".into())),
            ("body", AttributeValue::B(Blob::new(vec![1, 2, 3]))),
            ("parts", AttributeValue::N("1".into())),
            ("flag", AttributeValue::Bool(true)),
        ]);
        assert_eq!(item_size(&i), 8 + 7 + 7 + 5);
        // a list: 3 bytes, and each element 1 byte plus its size; a map's elements add their names
        assert_eq!(
            value_size(&AttributeValue::L(vec![AttributeValue::S("ab".into()), AttributeValue::Null(true)])),
            3 + 3 + 2
        );
        let m = AttributeValue::M(item(&[("k", AttributeValue::N("42".into()))]));
        assert_eq!(value_size(&m), 3 + 1 + 1 + 2);
        assert_eq!(value_size(&AttributeValue::M(HashMap::new())), 3);
        // strings count UTF-8 bytes, not characters
        assert_eq!(value_size(&AttributeValue::S("é".into())), 2);
    }

    #[test]
    fn units_round_up_per_kb_written_and_per_4_kb_read() {
        // The developer guide's and the on-demand pricing page's examples.
        assert_eq!(write_units(1_024), 1, "a write unit writes an item up to 1 KB");
        assert_eq!(write_units(1_025), 2);
        assert_eq!(write_units(0), 1);
        assert_eq!(read_half_units(3_500, true), 2, "3,500 bytes read as 4 KB");
        assert_eq!(read_half_units(8 * 1_024, true), 4, "8 KB: 2 units strongly consistent");
        assert_eq!(read_half_units(8 * 1_024, false), 2, "... and 1 eventually consistent");
        assert_eq!(read_half_units(10 * 1_024, true), 6, "10 KB is rounded up to 12 KB");
        // BatchGetItem rounds each item: 1.5 KB and 6.5 KB are read as 4 + 8 KB, not 8 KB
        let batch = read_half_units(1_536, true) + read_half_units(6_656, true);
        assert_eq!(batch, 6);
        assert_eq!(read_half_units(0, false), 1, "an item not found still costs half a unit");
    }
}
