//! Error paths and paging of the data adapters the emulator cannot produce
//! (aws-smithy-mocks, and a connection that never answers for timeouts).

mod mocking;

use autopilot_aws::{CloudWatchMetrics, ControlTable, DynamoStatsStore, EventBridgeSink, LambdaControl};
use autopilot_core::domain::{FunctionRef, MemoryMb, Minute};
use autopilot_core::policy::Mode;
use autopilot_core::ports::{
    Change, ChangeLog, ChangeRecord, ChangeStatus, DecisionEvent, ErrorKind, EventSink, FunctionControl, FunctionState,
    MetricsSource, Recorded, StatsStore, detail_type,
};
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::list_aliases::ListAliasesOutput;
use aws_sdk_lambda::types::FunctionConfiguration;
use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_sdk_resourcegroupstagging::types::ResourceTagMapping;
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;
use mocking::{OPTIONS, dynamodb_error, lambda_error};

fn record() -> ChangeRecord {
    let m = MemoryMb::new(512).unwrap();
    ChangeRecord {
        id: "exec-1/orders".into(),
        function: FunctionRef::parse("orders").unwrap(),
        at: Minute(10),
        change: Change::Memory { from: m, to: MemoryMb::new(768).unwrap() },
        previous: FunctionState { memory: m, alias: None, provisioned: None },
        status: ChangeStatus::Intended,
        reason: serde_json::json!({}),
    }
}

#[tokio::test]
async fn dynamodb_conditions_throttling_and_timeouts_are_classified() {
    use aws_sdk_dynamodb::Client;
    let put = mock!(Client::put_item).then_http_response(|| dynamodb_error(400, "ConditionalCheckFailedException"));
    let c = mocking::clients(&[&put]);
    let log = ControlTable::new(c.dynamodb.clone(), "control");
    assert_eq!(log.record(&record()).await.unwrap(), Recorded::AlreadyThere);
    assert_eq!(c.calls.get("DynamoDB.PutItem"), 1);

    let put = mock!(Client::put_item)
        .sequence()
        .http_response(|| dynamodb_error(400, "ProvisionedThroughputExceededException"))
        .repeatedly()
        .build();
    let c = mocking::clients(&[&put]);
    let err = ControlTable::new(c.dynamodb.clone(), "control").record(&record()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
    assert_eq!(c.calls.get("DynamoDB.PutItem"), u64::from(OPTIONS.max_attempts), "the SDK's attempts, no more");

    let update = mock!(Client::update_item).then_http_response(|| dynamodb_error(400, "AccessDeniedException"));
    let c = mocking::clients(&[&update]);
    let err = ControlTable::new(c.dynamodb.clone(), "control")
        .set_status(&record().function, "exec-1/orders", ChangeStatus::Applied)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied);

    let query = mock!(Client::query).then_http_response(|| dynamodb_error(500, "InternalServerError"));
    let c = mocking::clients(&[&query]);
    let store = DynamoStatsStore::new(c.dynamodb.clone(), "stats");
    let err = store.read_minutes(&record().function, Minute(1), Minute(5)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
    assert_eq!(c.calls.get("DynamoDB.Query"), u64::from(OPTIONS.max_attempts), "5xx: the SDK's attempts");

    let c = mocking::hanging_clients();
    let store = DynamoStatsStore::new(c.dynamodb.clone(), "stats");
    let err = store.read_minutes(&record().function, Minute(1), Minute(5)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable, "{err}");
    assert!(err.message.contains("timed out"), "{}", err.message);
    assert_eq!(c.calls.get("DynamoDB.Query"), u64::from(OPTIONS.max_attempts), "each attempt timed out");
}

fn event(i: i64) -> DecisionEvent {
    DecisionEvent {
        detail_type: detail_type::CONCURRENCY_CHANGED.into(),
        function: FunctionRef::parse("orders:live").unwrap(),
        mode: Mode::Autopilot,
        at: Minute(100 + i),
        detail: serde_json::json!({ "seq": i }),
    }
}

fn seq(entry: &aws_sdk_eventbridge::types::PutEventsRequestEntry) -> i64 {
    let v: serde_json::Value = serde_json::from_str(entry.detail().unwrap()).unwrap();
    v["detail"]["seq"].as_i64().unwrap()
}

fn ok_entry() -> PutEventsResultEntry {
    PutEventsResultEntry::builder().event_id("id").build()
}

fn failed_entry(code: &str) -> PutEventsResultEntry {
    PutEventsResultEntry::builder().error_code(code).error_message("from the mock").build()
}

#[tokio::test]
async fn partly_failed_event_batches_resend_only_the_failed_entries() {
    use aws_sdk_eventbridge::Client;
    let first = mock!(Client::put_events).match_requests(|r| r.entries().len() == 10).then_output(|| {
        let mut out = PutEventsOutput::builder().failed_entry_count(2);
        for i in 0..10 {
            out = out.entries(match i {
                3 => failed_entry("ThrottlingException"),
                7 => failed_entry("InternalFailure"),
                _ => ok_entry(),
            });
        }
        out.build()
    });
    let resend = mock!(Client::put_events)
        .match_requests(|r| r.entries().iter().map(seq).collect::<Vec<_>>() == [3, 7])
        .then_output(|| {
            PutEventsOutput::builder().failed_entry_count(0).entries(ok_entry()).entries(ok_entry()).build()
        });
    let last = mock!(Client::put_events)
        .match_requests(|r| r.entries().len() == 1 && seq(&r.entries()[0]) == 10)
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).entries(ok_entry()).build());
    let c = mocking::clients(&[&first, &resend, &last]);
    let sink = EventBridgeSink::new(c.events.clone(), "default").with_backoff(mocking::CONFLICT_RETRY);
    let events: Vec<DecisionEvent> = (0..11).map(event).collect();
    sink.publish(&events).await.unwrap();
    assert_eq!((first.num_calls(), resend.num_calls(), last.num_calls()), (1, 1, 1));

    // A failure that resending cannot fix is reported, naming each entry, and not resent.
    let bad = mock!(Client::put_events).then_output(|| {
        PutEventsOutput::builder()
            .failed_entry_count(1)
            .entries(ok_entry())
            .entries(failed_entry("MalformedDetail"))
            .build()
    });
    let c = mocking::clients(&[&bad]);
    let err = EventBridgeSink::new(c.events.clone(), "default").publish(&events[..2]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Fatal);
    assert!(err.message.contains("MalformedDetail") && err.message.contains("1 of a batch of 2"), "{}", err.message);
    assert_eq!(bad.num_calls(), 1);

    // Transient failures that persist are retried within the bound, then reported retryable.
    let throttled = mock!(Client::put_events)
        .sequence()
        .output(|| {
            PutEventsOutput::builder().failed_entry_count(1).entries(failed_entry("ThrottlingException")).build()
        })
        .repeatedly()
        .build();
    let c = mocking::clients(&[&throttled]);
    let sink = EventBridgeSink::new(c.events.clone(), "default").with_backoff(mocking::CONFLICT_RETRY);
    let err = sink.publish(&events[..1]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
    assert_eq!(c.calls.get("EventBridge.PutEvents"), u64::from(mocking::CONFLICT_RETRY.max_attempts));
}

#[tokio::test]
async fn get_metric_data_pages_are_followed() {
    use aws_sdk_cloudwatch::Client;
    let t = |minute: i64| DateTime::from_millis(Minute(minute).epoch_ms());
    let page1 = mock!(Client::get_metric_data).match_requests(|r| r.next_token().is_none()).then_output(move || {
        GetMetricDataOutput::builder()
            .metric_data_results(MetricDataResult::builder().id("f0_0").timestamps(t(100)).values(4.0).build())
            .next_token("page-2")
            .build()
    });
    let page2 =
        mock!(Client::get_metric_data).match_requests(|r| r.next_token() == Some("page-2")).then_output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(MetricDataResult::builder().id("f0_0").timestamps(t(101)).values(6.0).build())
                .metric_data_results(MetricDataResult::builder().id("f0_1").timestamps(t(101)).values(25.0).build())
                .build()
        });
    let c = mocking::clients(&[&page1, &page2]);
    let metrics = CloudWatchMetrics::new(&c);
    let f = FunctionRef::parse("orders").unwrap();
    metrics.remember_memory(&f, MemoryMb::new(256).unwrap());
    let stats = metrics.read_minutes(&f, Minute(100), Minute(105)).await.unwrap();
    assert_eq!(stats.iter().map(|s| s.counters.invocations).collect::<Vec<_>>(), [4, 6]);
    assert!((stats[1].counters.duration.sum() - 150.0).abs() < 1e-9);
    assert_eq!(c.calls.get("CloudWatch.GetMetricData"), 2);
    assert_eq!(
        c.calls.get(autopilot_aws::calls::CLOUDWATCH_METRICS_REQUESTED),
        6,
        "billed once per metric, not per page"
    );
}

#[tokio::test]
async fn discovery_follows_tag_pages_and_skips_functions_deleted_meanwhile() {
    use aws_sdk_lambda::Client as Lambda;
    use aws_sdk_resourcegroupstagging::Client as Tagging;
    let arn = |n: &str| format!("arn:aws:lambda:us-east-1:123456789012:function:{n}");
    let mapping = move |n: &str| ResourceTagMapping::builder().resource_arn(arn(n)).build();
    let page1 =
        mock!(Tagging::get_resources).match_requests(|r| r.pagination_token().is_none()).then_output(move || {
            GetResourcesOutput::builder().resource_tag_mapping_list(mapping("a")).pagination_token("p2").build()
        });
    let page2 =
        mock!(Tagging::get_resources).match_requests(|r| r.pagination_token() == Some("p2")).then_output(move || {
            GetResourcesOutput::builder()
                .resource_tag_mapping_list(mapping("b"))
                .resource_tag_mapping_list(mapping("gone"))
                .pagination_token("")
                .build()
        });
    let get =
        mock!(Lambda::get_function).match_requests(|r| r.function_name() != Some("gone")).then_compute_output(|r| {
            let name = r.function_name().unwrap().to_owned();
            GetFunctionOutput::builder()
                .configuration(FunctionConfiguration::builder().function_name(name).memory_size(256).build())
                .build()
        });
    let gone = mock!(Lambda::get_function)
        .match_requests(|r| r.function_name() == Some("gone"))
        .then_http_response(|| lambda_error(404, "ResourceNotFoundException"));
    let aliases = mock!(Lambda::list_aliases).then_output(|| ListAliasesOutput::builder().build());
    let c = mocking::clients(&[&page1, &page2, &get, &gone, &aliases]);
    let found = LambdaControl::new(&c).list_functions("autopilot").await.unwrap();
    assert_eq!(found.iter().map(|f| f.function.name()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(c.calls.get("ResourceGroupsTaggingAPI.GetResources"), 2);
    assert_eq!(c.calls.get("Lambda.GetFunction"), 3);
}
