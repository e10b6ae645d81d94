//! EventBridgeSink against the local emulator: every decision arrives once, batched by 10,
//! with the documented source, detail-type and detail.

mod common;

use autopilot_aws::EventBridgeSink;
use autopilot_core::domain::{FunctionRef, Minute};
use autopilot_core::policy::Mode;
use autopilot_core::ports::{DecisionEvent, EVENT_SOURCE, EventSink, detail_type};
use autopilot_testkit::unique_name;

fn event(i: u32) -> DecisionEvent {
    DecisionEvent {
        detail_type: if i.is_multiple_of(2) { detail_type::MEMORY_CHANGED } else { detail_type::RECOMMENDATION }
            .to_owned(),
        function: FunctionRef::parse("orders:live").unwrap(),
        mode: Mode::Autopilot,
        at: Minute(29_000_000 + i64::from(i)),
        detail: serde_json::json!({ "seq": i }),
    }
}

#[tokio::test]
async fn decisions_are_published_in_batches_of_ten_and_arrive_once() {
    let c = common::clients().await;
    let bus = unique_name("bus");
    let group = format!("/autopilot/test/{}", unique_name("events"));
    c.events.create_event_bus().name(&bus).send().await.unwrap();
    c.logs.create_log_group().log_group_name(&group).send().await.unwrap();
    c.events
        .put_rule()
        .name("all-decisions")
        .event_bus_name(&bus)
        .event_pattern(serde_json::json!({ "source": [EVENT_SOURCE] }).to_string())
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("log")
        .arn(format!("arn:aws:logs:{}:{}:log-group:{group}", common::REGION, common::ACCOUNT))
        .build()
        .unwrap();
    c.events.put_targets().rule("all-decisions").event_bus_name(&bus).targets(target).send().await.unwrap();

    let events: Vec<DecisionEvent> = (0..23).map(event).collect();
    let sink = EventBridgeSink::new(c.events.clone(), &bus);
    let before = c.calls.snapshot();
    sink.publish(&events).await.unwrap();
    assert_eq!(c.calls.since(&before).get("EventBridge.PutEvents"), Some(&3));
    sink.publish(&[]).await.unwrap();

    // Read with a raw call: the emulator writes these log events with float timestamps,
    // which the SDK (rightly) refuses to parse as integers.
    let body = serde_json::json!({ "logGroupName": group }).to_string();
    let delivered =
        common::raw_post("logs", "application/x-amz-json-1.1", Some("Logs_20140328.FilterLogEvents"), &body);
    let delivered: serde_json::Value = serde_json::from_str(&delivered).unwrap();
    let mut seen: Vec<serde_json::Value> = delivered["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e["message"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(seen.len(), 23);
    seen.sort_by_key(|e| e["detail"]["detail"]["seq"].as_u64());
    for (i, e) in seen.iter().enumerate() {
        assert_eq!(e["source"], EVENT_SOURCE);
        assert_eq!(e["detail-type"], events[i].detail_type.as_str());
        let back: DecisionEvent = serde_json::from_value(e["detail"].clone()).unwrap();
        assert_eq!(back, events[i], "the detail is the DecisionEvent JSON");
    }
}
