//! Test support: a fake Runtime/Extensions/Telemetry API on 127.0.0.1, DynamoDB calls to
//! the local emulator, and a fake DynamoDB endpoint that fails before it recovers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autopilot_core::observe::MinuteStats;
use autopilot_core::stats_item;
use autopilot_extension::config::Credentials;
use autopilot_extension::http::{self, Url};
use autopilot_extension::sigv4;
use serde_json::{Value, json};

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// One HTTP request as a server reads it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Reads one request (Content-Length bodies only); None on EOF.
pub fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))).collect();
    let len =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body })
}

pub fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    let _ = stream.write_all(&bytes);
}

/// What the extension did against the fake Lambda APIs.
#[derive(Debug, Default)]
pub struct Seen {
    /// When the register and subscribe calls arrived (for the benchmark's init time).
    pub registered_at: Option<std::time::Instant>,
    pub subscribed_at: Option<std::time::Instant>,
    /// How long this fake's own thread had waited for a CPU when the subscription came, ns
    /// (its schedstat): the fake's share of a wall time measured on a loaded machine.
    pub api_wait_ns: u64,
    pub name: Option<String>,
    pub events: Vec<String>,
    pub destination: Option<String>,
    pub subscription: Option<Value>,
}

fn req_is_long_poll(req: &Request) -> bool {
    req.method == "GET" && req.path == "/2020-01-01/extension/event/next"
}

/// A fake of the Runtime API's extension and telemetry endpoints.
pub struct FakeLambda {
    pub addr: String,
    pub seen: Arc<Mutex<Seen>>,
    subscribed: Receiver<String>,
    shutdown: Sender<i64>,
}

impl FakeLambda {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (sub_tx, subscribed) = channel();
        let (shutdown, shutdown_rx) = channel::<i64>();
        let shutdown_rx = Arc::new(Mutex::new(shutdown_rx));
        let seen_in = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (seen, sub_tx, shutdown_rx) = (Arc::clone(&seen_in), sub_tx.clone(), Arc::clone(&shutdown_rx));
                let Some(req) = read_request(&mut stream) else { continue };
                let long_poll = req_is_long_poll(&req);
                // Answered here, as a real API would answer at once; only the long poll gets a
                // thread of its own (a thread per request would be part of the init time the
                // benchmark measures).
                let mut serve = move || match (req.method.as_str(), req.path.as_str()) {
                    ("POST", "/2020-01-01/extension/register") => {
                        let body: Value = serde_json::from_slice(&req.body).unwrap();
                        let mut s = seen.lock().unwrap();
                        s.registered_at = Some(std::time::Instant::now());
                        s.name = req.header("Lambda-Extension-Name").map(str::to_owned);
                        s.events =
                            body["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect();
                        respond(
                            &mut stream,
                            200,
                            &[("Lambda-Extension-Identifier", "ext-id-1")],
                            br#"{"functionName":"orders","functionVersion":"7","handler":"h"}"#,
                        );
                    }
                    ("PUT", "/2022-07-01/telemetry") => {
                        assert_eq!(req.header("Lambda-Extension-Identifier"), Some("ext-id-1"));
                        let body: Value = serde_json::from_slice(&req.body).unwrap();
                        let dest = body["destination"]["URI"].as_str().unwrap().to_owned();
                        let mut s = seen.lock().unwrap();
                        s.subscribed_at = Some(std::time::Instant::now());
                        s.api_wait_ns = std::fs::read_to_string("/proc/thread-self/schedstat")
                            .ok()
                            .and_then(|t| t.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
                            .unwrap_or(0);
                        s.destination = Some(dest.clone());
                        s.subscription = Some(body);
                        respond(&mut stream, 200, &[], b"OK");
                        let _ = sub_tx.send(dest);
                    }
                    ("GET", "/2020-01-01/extension/event/next") => {
                        let deadline = shutdown_rx.lock().unwrap().recv().unwrap_or_else(|_| now_ms() + 2_000);
                        let ev = json!({"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": deadline});
                        respond(&mut stream, 200, &[], ev.to_string().as_bytes());
                    }
                    _ => respond(&mut stream, 404, &[], b"{}"),
                };
                if long_poll {
                    thread::spawn(serve);
                } else {
                    serve();
                }
            }
        });
        Self { addr, seen, subscribed, shutdown }
    }

    /// The listener URI the extension subscribed, once it has.
    pub fn wait_subscribed(&self) -> String {
        self.subscribed.recv_timeout(Duration::from_secs(20)).expect("the extension subscribes to telemetry")
    }

    /// Answers the pending `/event/next` with SHUTDOWN and this deadline.
    pub fn shutdown(&self, deadline_ms: i64) {
        self.shutdown.send(deadline_ms).unwrap();
    }
}

/// Posts one batch to the extension's listener; returns the HTTP status.
pub fn post_batch(destination: &str, records: &[Value]) -> u16 {
    let url = Url::parse(destination).unwrap();
    let body = serde_json::to_vec(records).unwrap();
    http::request_once(&url, "POST", "/", &[("Content-Type", "application/json")], &body, Some(Duration::from_secs(5)))
        .unwrap()
        .status
}

pub fn test_credentials() -> Credentials {
    Credentials { access_key_id: "test".into(), secret_access_key: "test".into(), session_token: None }
}

/// One signed DynamoDB JSON-protocol call to `endpoint`.
pub fn dynamo_call(endpoint: &str, operation: &str, body: &Value) -> (u16, Value) {
    let url = Url::parse(endpoint).unwrap();
    let bytes = body.to_string().into_bytes();
    let host = url.host_header();
    let target = format!("DynamoDB_20120810.{operation}");
    let base =
        [("host", host.as_str()), ("content-type", "application/x-amz-json-1.0"), ("x-amz-target", target.as_str())];
    let full_url = format!("{url}/");
    let request = sigv4::Signable { method: "POST", url: &full_url, headers: &base, body: &bytes };
    let signed = sigv4::sign_headers(&test_credentials(), "us-east-1", "dynamodb", request, SystemTime::now()).unwrap();
    let mut headers: Vec<(&str, &str)> =
        vec![("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", &target)];
    headers.extend(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let resp = http::request_once(&url, "POST", "/", &headers, &bytes, Some(Duration::from_secs(10))).unwrap();
    (resp.status, serde_json::from_slice(&resp.body).unwrap_or(Value::Null))
}

/// Creates the stats table (pk `resourceId`, sk `bucket`, on demand).
pub fn create_stats_table(endpoint: &str, table: &str) {
    let (status, body) = dynamo_call(
        endpoint,
        "CreateTable",
        &json!({
            "TableName": table,
            "AttributeDefinitions": [
                {"AttributeName": stats_item::PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": stats_item::SORT_KEY, "AttributeType": "S"}
            ],
            "KeySchema": [
                {"AttributeName": stats_item::PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": stats_item::SORT_KEY, "KeyType": "RANGE"}
            ],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    );
    assert_eq!(status, 200, "CreateTable: {body}");
}

/// Every item of a function, read back with the core's `from_item`, keyed by sort key.
pub fn read_items(endpoint: &str, table: &str, resource_id: &str) -> BTreeMap<String, MinuteStats> {
    let (status, body) = dynamo_call(
        endpoint,
        "Query",
        &json!({
            "TableName": table,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": stats_item::PARTITION_KEY},
            "ExpressionAttributeValues": {":p": {"S": resource_id}},
            "ConsistentRead": true
        }),
    );
    assert_eq!(status, 200, "Query: {body}");
    let mut out = BTreeMap::new();
    for item in body["Items"].as_array().unwrap() {
        let sk = item[stats_item::SORT_KEY]["S"].as_str().unwrap().to_owned();
        let numbers: Vec<(String, String)> = item
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| v.get("N").and_then(Value::as_str).map(|n| (k.clone(), n.to_owned())))
            .collect();
        let stats =
            stats_item::from_item(resource_id, &sk, numbers.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert!(item.get(stats_item::TTL_ATTRIBUTE).is_some(), "every item carries the TTL");
        out.insert(sk, stats);
    }
    out
}

/// A DynamoDB endpoint that fails its first `failures` calls (alternating HTTP 500 and a
/// ThrottlingException), then forwards every call to `upstream` (the emulator).
pub struct FlakyDynamo {
    pub endpoint: String,
    pub failed: Arc<AtomicU64>,
    pub forwarded: Arc<AtomicU64>,
}

impl FlakyDynamo {
    pub fn start(upstream: &str, failures: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = Url::parse(upstream).unwrap();
        let (failed, forwarded) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (failed_in, forwarded_in) = (Arc::clone(&failed), Arc::clone(&forwarded));
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else { continue };
                let n = failed_in.load(Ordering::SeqCst);
                if n < failures {
                    failed_in.fetch_add(1, Ordering::SeqCst);
                    if n % 2 == 0 {
                        respond(
                            &mut stream,
                            500,
                            &[],
                            br#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}"#,
                        );
                    } else {
                        respond(&mut stream, 400, &[], br#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#);
                    }
                    continue;
                }
                let headers: Vec<(&str, &str)> = req
                    .headers
                    .iter()
                    .filter(|(n, _)| {
                        !["host", "content-length", "connection"].contains(&n.to_ascii_lowercase().as_str())
                    })
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let resp = http::request_once(
                    &upstream,
                    &req.method,
                    &req.path,
                    &headers,
                    &req.body,
                    Some(Duration::from_secs(10)),
                )
                .unwrap();
                forwarded_in.fetch_add(1, Ordering::SeqCst);
                respond(&mut stream, resp.status, &[("Content-Type", "application/x-amz-json-1.0")], &resp.body);
            }
        });
        Self { endpoint, failed, forwarded }
    }
}
