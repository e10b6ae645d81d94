//! The lean SDK setup works end to end: clients built without the SDK's default HTTPS
//! client make real calls, and `from_env` honours `AWS_ENDPOINT_URL`.

mod common;

use autopilot_aws::{ClientOptions, Clients};
use autopilot_testkit::emulator_endpoint;

#[tokio::test]
async fn clients_built_with_the_explicit_http_client_reach_the_emulator() {
    let c = common::clients().await;
    c.dynamodb.list_tables().send().await.expect("DynamoDB over the explicit HTTP client");
    c.lambda.list_functions().send().await.expect("Lambda");
    c.events.list_event_buses().send().await.expect("EventBridge");
    c.logs.describe_log_groups().send().await.expect("CloudWatch Logs");
    c.cloudwatch.list_metrics().send().await.expect("CloudWatch (CBOR)");
    c.tagging.get_resources().send().await.expect("Tagging");
    assert_eq!(autopilot_aws::calls::total_calls(&c.calls.snapshot()), 6);
}

#[tokio::test]
async fn from_env_honours_aws_endpoint_url() {
    let Ok(url) = std::env::var("AWS_ENDPOINT_URL") else {
        panic!(
            "run with the emulator's environment: eval \"$(bash scripts/local-aws.sh start)\" (scripts/test.sh sets it)"
        );
    };
    assert_eq!(url.trim(), emulator_endpoint());
    let c = Clients::from_env(&ClientOptions::default()).await;
    c.dynamodb.list_tables().send().await.expect("the call went to AWS_ENDPOINT_URL");
    assert_eq!(c.calls.get("DynamoDB.ListTables"), 1);
}
