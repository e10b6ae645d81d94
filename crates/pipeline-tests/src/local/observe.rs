//! What a run left behind, read from the outside: the decision events an EventBridge rule
//! delivered to a log group, the control table's items, the control endpoint's answers.

use autopilot_aws::dynamo::control;
use autopilot_core::ports::EVENT_SOURCE;
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

use super::deploy::Stack;
use super::{ACCOUNT, Emulator, REGION, aws};
use crate::PipelineError;

/// An EventBridge rule on the default bus that sends the decision events about the stack's
/// functions (by name prefix: tests share the bus) to a CloudWatch Logs group, the way a user
/// would watch them.
#[derive(Debug, Clone)]
pub struct EventCapture {
    pub rule: String,
    pub log_group: String,
}

impl EventCapture {
    pub async fn create(em: &Emulator, stack: &Stack) -> Result<Self, PipelineError> {
        let rule = format!("{}-decisions", stack.prefix);
        let log_group = format!("/aws/events/{}", stack.prefix);
        em.clients
            .logs
            .create_log_group()
            .log_group_name(&log_group)
            .send()
            .await
            .map_err(|e| aws("CreateLogGroup", e))?;
        let pattern = json!({
            "source": [EVENT_SOURCE],
            "detail": {"function": [{"prefix": format!("{}-", stack.prefix)}]},
        });
        let events = &em.clients.events;
        events
            .put_rule()
            .name(&rule)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .map_err(|e| aws("PutRule", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("log-group")
            .arn(format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}"))
            .build()
            .map_err(|e| aws("Target", e))?;
        events
            .put_targets()
            .rule(&rule)
            .targets(target)
            .send()
            .await
            .map_err(|e| aws("PutTargets", aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        Ok(Self { rule, log_group })
    }

    /// Every event delivered so far, as EventBridge delivered it (`source`, `detail-type`,
    /// `detail`, ...), in delivery order.
    pub async fn delivered(&self, em: &Emulator) -> Result<Vec<Value>, PipelineError> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = json!({"logGroupName": self.log_group});
            if let Some(t) = token.take() {
                request["nextToken"] = json!(t);
            }
            let page = em.json_call("logs", "Logs_20140328.FilterLogEvents", &request)?;
            events.extend(page["events"].as_array().cloned().unwrap_or_default());
            match page["nextToken"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        events
            .sort_by(|a, b| a["timestamp"].as_f64().unwrap_or(0.0).total_cmp(&b["timestamp"].as_f64().unwrap_or(0.0)));
        events
            .iter()
            .map(|e| {
                serde_json::from_str(e["message"].as_str().unwrap_or("null")).map_err(|err| aws("delivered event", err))
            })
            .collect()
    }

    /// The `detail-type` of each delivered event about `function` (`name` or `name:alias`).
    pub async fn kinds_for(&self, em: &Emulator, function: &str) -> Result<Vec<String>, PipelineError> {
        Ok(self
            .delivered(em)
            .await?
            .iter()
            .filter(|e| e["detail"]["function"] == function)
            .map(|e| e["detail-type"].as_str().unwrap_or_default().to_owned())
            .collect())
    }
}

/// The sort keys of every item of the control table under `function`'s partition
/// (`CHANGE#…`, `LEASE`, `SUMMARY#…`, `FORECAST#…`).
pub async fn control_table_keys(em: &Emulator, stack: &Stack, function: &str) -> Result<Vec<String>, PipelineError> {
    let pk = control::function_key(&autopilot_core::FunctionRef::parse(function).map_err(|e| aws("function", e))?);
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = em
            .clients
            .dynamodb
            .query()
            .table_name(&stack.control_table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", control::PK)
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| aws("Query (control)", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        for item in page.items() {
            if let Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) = item.get(control::SK) {
                out.push(sk.clone());
            }
        }
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    Ok(out)
}

/// Calls the control endpoint as its Function URL would: invokes the control function with a
/// Function URL request (payload 2.0) and returns the HTTP status and the JSON body.
pub async fn invoke_control(
    em: &Emulator,
    stack: &Stack,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<(u16, Value), PipelineError> {
    let request_id = autopilot_testkit::unique_name("req");
    let raw_query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut request = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query.join("&"),
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": ACCOUNT,
            "requestId": request_id,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "authorizer": {"iam": {"userArn": format!("arn:aws:iam::{ACCOUNT}:user/local")}},
        },
        "isBase64Encoded": false,
    });
    if !query.is_empty() {
        request["queryStringParameters"] = query.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    }
    if let Some(b) = body {
        request["body"] = json!(b.to_string());
    }
    let out = em
        .clients
        .lambda
        .invoke()
        .function_name(stack.function("ControlFunction"))
        .payload(Blob::new(request.to_string()))
        .send()
        .await
        .map_err(|e| aws("Invoke (control)", aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    let payload = out.payload().map(|p| p.as_ref().to_vec()).unwrap_or_default();
    let response: Value = serde_json::from_slice(&payload).map_err(|e| aws("control response", e))?;
    if let Some(error) = out.function_error() {
        return Err(aws("control endpoint", format!("{error}: {response}")));
    }
    let status = response["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0);
    let body = serde_json::from_str(response["body"].as_str().unwrap_or("null")).map_err(|e| aws("control body", e))?;
    Ok((status, body))
}
