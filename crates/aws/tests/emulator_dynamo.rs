//! DynamoDB adapters against the local emulator over HTTP: the stats table as the extension
//! writes it, the change log, leases, window summaries, apply-concurrency's act records and the
//! forecaster and the memory tuner's look-back kept between runs.

mod common;

use std::collections::BTreeMap;

use autopilot_aws::dynamo::tables::{create_control_table, create_stats_table};
use autopilot_aws::{ControlTable, DynamoStatsStore};
use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
use autopilot_core::forecast::kept::{BinHistory, KeptModel};
use autopilot_core::forecast::{ModelKind, SeasonalModel};
use autopilot_core::observe::{Counters, MinuteStats, WindowSummary};
use autopilot_core::ports::{
    ActRecord, Change, ChangeLog, ChangeRecord, ChangeStatus, ErrorKind, FunctionState, Lease, Recorded, RunStore,
    StatsStore,
};
use autopilot_core::stats_item;
use autopilot_testkit::unique_name;
use aws_sdk_dynamodb::types::AttributeValue;

fn mem(mb: u64) -> MemoryMb {
    MemoryMb::new(mb).unwrap()
}

fn counters(invocations: u64, duration_ms: f64) -> Counters {
    let mut c = Counters {
        invocations,
        busy_ms: (duration_ms * invocations as f64) as u64,
        environments: 1,
        ..Counters::default()
    };
    c.duration.record_n(duration_ms, invocations);
    c.billed_ms = (duration_ms.ceil() as u64) * invocations;
    c
}

/// One `UpdateItem` with an `ADD` of every counter, as the extension flushes a bucket.
async fn add_minute(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    f: &FunctionRef,
    minute: Minute,
    memory: MemoryMb,
    c: &Counters,
) {
    let mut req = client
        .update_item()
        .table_name(table)
        .key(stats_item::PARTITION_KEY, AttributeValue::S(f.resource_id()))
        .key(stats_item::SORT_KEY, AttributeValue::S(stats_item::sort_key(minute, memory)));
    let mut clauses = Vec::new();
    for (i, (name, inc)) in stats_item::increments(c).into_iter().enumerate() {
        clauses.push(format!("#a{i} :v{i}"));
        req = req
            .expression_attribute_names(format!("#a{i}"), name)
            .expression_attribute_values(format!(":v{i}"), AttributeValue::N(inc.to_dynamo_number()));
    }
    req.update_expression(format!("ADD {}", clauses.join(", "))).send().await.expect("UpdateItem ADD");
}

async fn stats_table() -> (autopilot_aws::Clients, String) {
    let c = common::clients().await;
    let table = unique_name("stats");
    create_stats_table(&c.dynamodb, &table).await.unwrap();
    (c, table)
}

async fn control_table() -> (autopilot_aws::Clients, ControlTable) {
    let c = common::clients().await;
    let table = unique_name("control");
    create_control_table(&c.dynamodb, &table).await.unwrap();
    let control = ControlTable::new(c.dynamodb.clone(), &table);
    (c, control)
}

/// Overwrites a control item with a body that is not gzip (as another release might write).
async fn put_undecodable(c: &autopilot_aws::Clients, control: &ControlTable, pk: &str, sk: &str) {
    c.dynamodb
        .put_item()
        .table_name(control.table_name())
        .item("pk", AttributeValue::S(pk.into()))
        .item("sk", AttributeValue::S(sk.into()))
        .item("body", AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(b"not gzip".to_vec())))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_window_is_one_paginated_query_over_all_memory_sizes() {
    let (c, table) = stats_table().await;
    let f = FunctionRef::parse("orders:live").unwrap();
    let other = FunctionRef::parse("orders").unwrap();
    let m0 = Minute(29_000_000);
    for i in 0..6 {
        add_minute(&c.dynamodb, &table, &f, m0.plus(i), mem(512), &counters(10, 100.0)).await;
        // Two environments flushing into the same item add up.
        add_minute(&c.dynamodb, &table, &f, m0.plus(i), mem(512), &counters(5, 100.0)).await;
    }
    add_minute(&c.dynamodb, &table, &f, m0.plus(2), mem(1024), &counters(7, 60.0)).await;
    add_minute(&c.dynamodb, &table, &f, m0.plus(6), mem(512), &counters(99, 1.0)).await; // after the window
    add_minute(&c.dynamodb, &table, &f, m0.plus(-1), mem(512), &counters(99, 1.0)).await; // before it
    add_minute(&c.dynamodb, &table, &other, m0.plus(1), mem(512), &counters(99, 1.0)).await; // another resource
    // Padding (a string attribute the reader ignores) so the window spans more than one 1-MB page.
    for i in 0..3 {
        c.dynamodb
            .update_item()
            .table_name(&table)
            .key(stats_item::PARTITION_KEY, AttributeValue::S(f.resource_id()))
            .key(stats_item::SORT_KEY, AttributeValue::S(stats_item::sort_key(m0.plus(i), mem(2048))))
            .update_expression("SET padding = :p ADD inv :one")
            .expression_attribute_values(":p", AttributeValue::S("x".repeat(390_000)))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .unwrap();
    }

    let store = DynamoStatsStore::new(c.dynamodb.clone(), &table);
    let before = c.calls.snapshot();
    let read = store.read_window(&f, m0, m0.plus(6)).await.unwrap();
    assert!(read.pages >= 2, "the padded window needs more than one page, got {}", read.pages);
    assert_eq!(c.calls.since(&before).get("DynamoDB.Query").copied(), Some(u64::from(read.pages)));
    assert!(read.rejected.is_empty());

    let items = store.read_minutes(&f, m0, m0.plus(6)).await.unwrap();
    assert_eq!(items.len(), 6 + 1 + 3);
    assert!(items.iter().all(|s| s.function == f && (m0..m0.plus(6)).contains(&s.minute)));
    let (summary, ignored) = WindowSummary::from_minutes(f.clone(), m0, m0.plus(6), &items);
    assert_eq!(ignored, 0);
    assert_eq!(summary.by_memory[&mem(512)].invocations, 6 * 15);
    assert_eq!(summary.by_memory[&mem(512)].environments, 12);
    assert_eq!(summary.by_memory[&mem(1024)].invocations, 7);
    assert_eq!(summary.by_memory[&mem(2048)].invocations, 3);
    let d = &summary.by_memory[&mem(512)].duration;
    assert_eq!(d.count(), 90);
    assert!((d.sum() - 9_000.0).abs() < 1e-6);

    assert!(store.read_minutes(&f, m0, m0).await.unwrap().is_empty(), "an empty window reads nothing");
}

#[tokio::test]
async fn an_item_that_does_not_decode_is_named() {
    let (c, table) = stats_table().await;
    let f = FunctionRef::parse("billing").unwrap();
    let m0 = Minute(29_100_000);
    add_minute(&c.dynamodb, &table, &f, m0, mem(256), &counters(3, 20.0)).await;
    let bad_key = stats_item::sort_key(m0.plus(1), mem(256));
    c.dynamodb
        .put_item()
        .table_name(&table)
        .item(stats_item::PARTITION_KEY, AttributeValue::S(f.resource_id()))
        .item(stats_item::SORT_KEY, AttributeValue::S(bad_key.clone()))
        .item(stats_item::INVOCATIONS, AttributeValue::N("2.5".into()))
        .send()
        .await
        .unwrap();
    let store = DynamoStatsStore::new(c.dynamodb.clone(), &table);
    let err = store.read_minutes(&f, m0, m0.plus(5)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains(&bad_key) && err.message.contains("inv"), "{}", err.message);
    let read = store.read_window(&f, m0, m0.plus(5)).await.unwrap();
    assert_eq!((read.items.len(), read.rejected.len()), (1, 1));
    assert_eq!(read.rejected[0].sort_key, bad_key);
}

#[tokio::test]
async fn a_missing_table_is_not_found() {
    let c = common::clients().await;
    let store = DynamoStatsStore::new(c.dynamodb.clone(), unique_name("absent"));
    let err = store.read_minutes(&FunctionRef::parse("f").unwrap(), Minute(1), Minute(2)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(std::error::Error::source(&err).is_some(), "the SDK error is kept");
}

fn change(id: &str, f: &FunctionRef, at: i64, from: u64, to: u64) -> ChangeRecord {
    ChangeRecord {
        id: id.to_owned(),
        function: f.clone(),
        at: Minute(at),
        change: Change::Memory { from: mem(from), to: mem(to) },
        previous: FunctionState { memory: mem(from), alias: None, provisioned: None },
        status: ChangeStatus::Intended,
        reason: serde_json::json!({"code": "test", "at": at}),
    }
}

#[tokio::test]
async fn the_change_log_never_duplicates_a_retried_step_and_reads_newest_first() {
    let (c, log) = control_table().await;
    let f = FunctionRef::parse("orders").unwrap();
    let first = change("exec-1/orders/memory", &f, 100, 512, 768);
    assert_eq!(log.record(&first).await.unwrap(), Recorded::New);
    // The same step retried (even computing another minute) finds its own record.
    let retried = ChangeRecord { at: Minute(101), ..first.clone() };
    assert_eq!(log.record(&retried).await.unwrap(), Recorded::AlreadyThere);
    log.set_status(&f, &first.id, ChangeStatus::Applied).await.unwrap();
    for (i, at) in [(2, 300), (3, 200)] {
        log.record(&change(&format!("exec-{i}/orders/memory"), &f, at, 768, 1024)).await.unwrap();
    }
    // Another function's history is separate.
    log.record(&change("exec-9/other", &FunctionRef::parse("other").unwrap(), 999, 128, 256)).await.unwrap();

    let before = c.calls.snapshot();
    let history = log.history(&f, 10).await.unwrap();
    assert_eq!(c.calls.since(&before).get("DynamoDB.Query"), Some(&1));
    let ids: Vec<&str> = history.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["exec-2/orders/memory", "exec-3/orders/memory", "exec-1/orders/memory"]);
    assert_eq!(history[2].status, ChangeStatus::Applied);
    assert_eq!(history[2].at, Minute(100), "the first write wins");
    assert_eq!(history[2].reason, first.reason);
    assert_eq!(history[0].status, ChangeStatus::Intended);

    let newest = log.history(&f, 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].id, "exec-2/orders/memory");

    let err = log.set_status(&f, "never-recorded", ChangeStatus::Failed).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(log.history(&FunctionRef::parse("nobody").unwrap(), 5).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_lease_excludes_other_owners_until_it_expires() {
    let (_c, lease) = control_table().await;
    let f = FunctionRef::parse("orders:live").unwrap();
    assert!(lease.acquire(&f, "exec-a", Minute(100), Minute(110)).await.unwrap());
    assert!(!lease.acquire(&f, "exec-b", Minute(105), Minute(115)).await.unwrap());
    assert!(lease.acquire(&f, "exec-a", Minute(105), Minute(120)).await.unwrap(), "the owner extends it");
    assert!(!lease.acquire(&f, "exec-b", Minute(119), Minute(125)).await.unwrap());
    assert!(lease.acquire(&f, "exec-b", Minute(120), Minute(130)).await.unwrap(), "expired: taken over");
    // The old owner's release must not free the new owner's lease.
    lease.release(&f, "exec-a").await.unwrap();
    assert!(!lease.acquire(&f, "exec-c", Minute(121), Minute(131)).await.unwrap());
    lease.release(&f, "exec-b").await.unwrap();
    assert!(lease.acquire(&f, "exec-c", Minute(121), Minute(131)).await.unwrap());
    lease.release(&f, "exec-c").await.unwrap();
    lease.release(&f, "exec-c").await.unwrap(); // already gone: still fine
    assert!(lease.acquire(&FunctionRef::parse("other").unwrap(), "exec-b", Minute(1), Minute(2)).await.unwrap());
    let err = lease.acquire(&f, "exec-d", Minute(10), Minute(10)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
}

fn summary(f: &FunctionRef, from: i64, minutes: i64, seed: u64) -> WindowSummary {
    let mut rng = fastrand::Rng::with_seed(seed);
    let items: Vec<MinuteStats> = (0..minutes)
        .map(|i| {
            let mut c = counters(rng.u64(1..500), rng.f64() * 300.0 + 1.0);
            c.busy_ms = rng.u64(0..600_000);
            MinuteStats { function: f.clone(), minute: Minute(from + i), memory: mem(512), counters: c }
        })
        .collect();
    WindowSummary::from_minutes(f.clone(), Minute(from), Minute(from + minutes), &items).0
}

fn same_summary(a: &WindowSummary, b: &WindowSummary) -> bool {
    a.function == b.function
        && (a.from, a.to) == (b.from, b.to)
        && a.by_memory.keys().eq(b.by_memory.keys())
        && a.by_memory.values().zip(b.by_memory.values()).all(|(x, y)| x.invocations == y.invocations)
        && a.load.len() == b.load.len()
        && a.load.iter().zip(&b.load).all(|(x, y)| x.minute == y.minute && x.invocations == y.invocations)
}

#[tokio::test]
async fn window_summaries_round_trip_and_the_latest_is_found() {
    let (_c, control) = control_table().await;
    let f = FunctionRef::parse("orders").unwrap();
    assert!(control.latest_summary(&f).await.unwrap().is_none());
    let day = summary(&f, 29_000_000, 1_440, 1);
    let next = summary(&f, 29_001_440, 1_440, 2);
    let bytes = control.put_summary(&next, Some(1_900_000_000)).await.unwrap();
    control.put_summary(&day, None).await.unwrap();
    assert!(bytes < 120_000, "a day of load stores in {bytes} bytes");

    let got = control.get_summary(&f, Minute(29_000_000), Minute(29_001_440)).await.unwrap().unwrap();
    assert!(same_summary(&got, &day));
    let latest = control.latest_summary(&f).await.unwrap().unwrap();
    assert!(same_summary(&latest, &next));
    assert!(control.get_summary(&f, Minute(1), Minute(2)).await.unwrap().is_none());

    // A rewrite of the same window replaces it.
    let rewritten = summary(&f, 29_000_000, 1_440, 3);
    control.put_summary(&rewritten, None).await.unwrap();
    let got = control.get_summary(&f, Minute(29_000_000), Minute(29_001_440)).await.unwrap().unwrap();
    assert!(same_summary(&got, &rewritten));
}

#[tokio::test]
async fn a_summary_larger_than_an_item_is_split_into_parts() {
    let (c, control) = control_table().await;
    let f = FunctionRef::parse("big").unwrap();
    // 60 days of noisy minutes: far above one 400-KB item even compressed.
    let big = summary(&f, 29_000_000, 60 * 1_440, 4);
    let before = c.calls.snapshot();
    let bytes = control.put_summary(&big, None).await.unwrap();
    let parts = bytes.div_ceil(autopilot_aws::dynamo::summaries::PART_BYTES);
    assert!(parts >= 2, "{bytes} bytes fit one part: make the test summary bigger");
    assert_eq!(c.calls.since(&before).get("DynamoDB.PutItem"), Some(&(parts as u64)));
    let got = control.latest_summary(&f).await.unwrap().unwrap();
    assert!(same_summary(&got, &big));
    let by_memory: BTreeMap<_, _> = got.by_memory.iter().map(|(m, c)| (*m, c.invocations)).collect();
    assert_eq!(by_memory.len(), 1);
}

fn act(f: &FunctionRef, minute: i64, provisioned: u32, sent: u32) -> ActRecord {
    ActRecord {
        function: f.clone(),
        minute: Minute(minute),
        provisioned,
        warm_sent: sent,
        warm_cold: sent / 2,
        warm_failed: 0,
        warm_hold_ms: 50,
    }
}

#[tokio::test]
async fn act_records_are_one_write_each_and_read_back_by_window_in_order() {
    let (c, control) = control_table().await;
    let f = FunctionRef::parse("orders").unwrap();
    let other = FunctionRef::parse("orders-archive").unwrap();
    // Written out of order; one run retried (same minute, written again with what it did then).
    let before = c.calls.snapshot();
    for a in
        [act(&f, 29_000_010, 0, 3), act(&f, 29_000_000, 2, 0), act(&f, 29_000_005, 2, 1), act(&f, 29_000_020, 0, 1)]
    {
        control.put_act(&a).await.unwrap();
    }
    control.put_act(&act(&f, 29_000_005, 3, 2)).await.unwrap();
    control.put_act(&act(&other, 29_000_005, 9, 9)).await.unwrap();
    assert_eq!(c.calls.since(&before).get("DynamoDB.PutItem"), Some(&6));

    let got = control.get_acts(&f, Minute(29_000_000), Minute(29_000_020)).await.unwrap();
    assert_eq!(got, vec![act(&f, 29_000_000, 2, 0), act(&f, 29_000_005, 3, 2), act(&f, 29_000_010, 0, 3)]);
    // The window's end is exclusive, its start inclusive; other functions' records stay theirs.
    let tail = control.get_acts(&f, Minute(29_000_010), Minute(29_000_021)).await.unwrap();
    assert_eq!(tail.iter().map(|a| a.minute.0).collect::<Vec<_>>(), vec![29_000_010, 29_000_020]);
    assert!(control.get_acts(&f, Minute(29_000_021), Minute(29_001_000)).await.unwrap().is_empty());
    assert!(control.get_acts(&f, Minute(29_000_010), Minute(29_000_010)).await.unwrap().is_empty());
    assert_eq!(
        control.get_acts(&other, Minute(0), Minute(30_000_000)).await.unwrap(),
        vec![act(&other, 29_000_005, 9, 9)]
    );
}

#[tokio::test]
async fn the_kept_forecaster_round_trips_and_a_model_of_another_release_is_refitted() {
    let (c, control) = control_table().await;
    let f = FunctionRef::parse("checkout").unwrap();
    // 28 days of 5-minute bins with a daily and a weekly rhythm, and a gap.
    let values: Vec<f64> = (0..28 * 288)
        .map(|i| if (1000..1012).contains(&i) { f64::NAN } else { f64::from(10 + i % 288 / 10 + i % 2016 / 500) })
        .collect();
    let history = BinHistory { start: Minute(29_000_000), step_minutes: 5, values };
    let model = SeasonalModel::fit(&history.series(), 28);
    assert_eq!(model.kind, ModelKind::Weekly);
    let kept = KeptModel { fitted_at: model.origin, model };
    assert_eq!((control.get_model(&f).await.unwrap(), control.get_history(&f).await.unwrap()), (None, None));
    control.put_history(&f, &history).await.unwrap();
    control.put_model(&f, &kept).await.unwrap();

    let back = control.get_model(&f).await.unwrap().expect("kept");
    assert_eq!(
        (back.fitted_at, back.model.kind, back.model.origin),
        (kept.fitted_at, kept.model.kind, kept.model.origin)
    );
    for (a, b) in kept.model.forecast(288).iter().zip(back.model.forecast(288)) {
        for (x, y) in a.0.iter().zip(b.0) {
            assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{x} vs {y}");
        }
    }
    let h = control.get_history(&f).await.unwrap().expect("kept");
    assert_eq!((h.start, h.step_minutes, h.values.len()), (history.start, 5, history.values.len()));
    assert!(h.values[1000..1012].iter().all(|v| v.is_nan()) && h.values[999] == history.values[999]);

    // What the two items cost: each is read or written whole.
    let size = |sk: &'static str| {
        let c = c.dynamodb.clone();
        let table = control.table_name().to_owned();
        async move {
            let out = c.get_item().table_name(table).key("pk", AttributeValue::S("FN#checkout".into()));
            let item = out.key("sk", AttributeValue::S(sk.into())).send().await.unwrap();
            match item.item().and_then(|i| i.get("body")) {
                Some(AttributeValue::B(b)) => b.as_ref().len(),
                other => panic!("{other:?}"),
            }
        }
    };
    let (model_bytes, history_bytes) = (size("MODEL").await, size("HISTORY").await);
    assert!(model_bytes < 64 * 1024 && history_bytes < 64 * 1024, "{model_bytes} / {history_bytes}");

    // A body that does not decode: a model is refitted (None), a history is an error that
    // names the item.
    for sk in ["MODEL", "HISTORY"] {
        put_undecodable(&c, &control, "FN#checkout", sk).await;
    }
    assert_eq!(control.get_model(&f).await.unwrap(), None);
    let err = control.get_history(&f).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("FN#checkout") && err.message.contains("HISTORY"), "{}", err.message);
}

/// The memory tuner's look-back round-trips (counters and histograms per size and window);
/// a body that does not decode is an error that names the item.
#[tokio::test]
async fn the_tuners_look_back_round_trips_and_an_undecodable_one_is_named() {
    use autopilot_core::tuner::lookback::SizeHistory;
    let (c, control) = control_table().await;
    let f = FunctionRef::parse("resizer").unwrap();
    assert_eq!(control.get_sizes(&f).await.unwrap(), None);
    let day = |from: i64, memory: u64, n: u64| WindowSummary {
        function: f.clone(),
        from: Minute(from),
        to: Minute(from + 1_440),
        by_memory: BTreeMap::from([(mem(memory), counters(n, 120.0 + memory as f64 / 100.0))]),
        load: Vec::new(),
    };
    let sizes = SizeHistory::default()
        .with(&day(29_000_000, 1024, 5_000), Minute(29_001_440))
        .with(&day(29_001_440, 512, 4_000), Minute(29_002_880));
    control.put_sizes(&f, &sizes).await.unwrap();
    let back = control.get_sizes(&f).await.unwrap().expect("kept");
    assert_eq!(back.windows.len(), 2);
    let merged = back.merged();
    assert_eq!((merged[&mem(1024)].invocations, merged[&mem(512)].invocations), (5_000, 4_000));
    assert_eq!(merged[&mem(512)].duration.count(), 4_000);
    put_undecodable(&c, &control, "FN#resizer", "SIZES").await;
    let err = control.get_sizes(&f).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("FN#resizer") && err.message.contains("SIZES"), "{}", err.message);
}

/// The request units of our own DynamoDB bill are counted on the client, from the items:
/// one write per KB, one read per 4 KB (half when eventually consistent), a query page by the
/// total of the items it returned.
#[tokio::test]
async fn request_units_are_counted_from_the_items_written_and_read() {
    use autopilot_aws::capacity::{DYNAMODB_READ_HALF_UNITS, DYNAMODB_WRITE_UNITS};
    use aws_sdk_dynamodb::primitives::Blob;
    let (c, control) = control_table().await;
    let table = control.table_name().to_owned();
    // "pk" + "FN#u" (6 bytes), "sk" + "B#0".."B#2" (5), "body" + 5,000 raw bytes (5,004):
    // 5,015 bytes, 5 write units each
    let put = |sk: String| {
        c.dynamodb
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("FN#u".into()))
            .item("sk", AttributeValue::S(sk))
            .item("body", AttributeValue::B(Blob::new(vec![7u8; 5_000])))
            .send()
    };
    let before = c.calls.snapshot();
    for i in 0..3 {
        put(format!("B#{i}")).await.unwrap();
    }
    let get = |consistent: bool| {
        c.dynamodb
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("FN#u".into()))
            .key("sk", AttributeValue::S("B#0".into()))
            .consistent_read(consistent)
            .send()
    };
    get(false).await.unwrap();
    get(true).await.unwrap();
    let writes = c.calls.since(&before);
    assert_eq!(writes.get(DYNAMODB_WRITE_UNITS), Some(&15));
    // 5,015 bytes read as 8 KB: 1 unit eventually consistent, 2 strongly
    assert_eq!(writes.get(DYNAMODB_READ_HALF_UNITS), Some(&(2 + 4)));
    let before = c.calls.snapshot();
    let page = c
        .dynamodb
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("FN#u".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.items().len(), 3);
    // 15,045 bytes in one page: 16 KB, 2 units eventually consistent
    assert_eq!(c.calls.since(&before).get(DYNAMODB_READ_HALF_UNITS), Some(&4));
    let before = c.calls.snapshot();
    let missing = c
        .dynamodb
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("FN#none".into()))
        .key("sk", AttributeValue::S("B#0".into()))
        .send()
        .await
        .unwrap();
    assert!(missing.item().is_none());
    assert_eq!(c.calls.since(&before).get(DYNAMODB_READ_HALF_UNITS), Some(&1), "a miss costs half a unit");
}
