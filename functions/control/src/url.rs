//! The Lambda Function URL payload (format 2.0), the parts this endpoint reads, and its
//! response. AWS adds fields over time (headers, cookies, `routeKey`, ...): unknown fields
//! are ignored here, unlike the Step Functions payloads, which are ours.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An HTTP request as a Function URL delivers it.
///
/// ```json
/// {"version": "2.0", "rawPath": "/changes", "rawQueryString": "function=orders&limit=5",
///  "queryStringParameters": {"function": "orders", "limit": "5"},
///  "requestContext": {"requestId": "c1f2...", "http": {"method": "GET", "path": "/changes"},
///                     "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/ops"}}},
///  "isBase64Encoded": false}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlRequest {
    pub raw_path: String,
    /// Decoded query parameters (a repeated name arrives comma-joined).
    #[serde(default)]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
    pub request_context: RequestContext,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    pub request_id: String,
    pub http: Http,
    /// With `AuthType: AWS_IAM`, who signed the request.
    #[serde(default)]
    pub authorizer: Option<Authorizer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorizer {
    #[serde(default)]
    pub iam: Option<IamIdentity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IamIdentity {
    #[serde(default)]
    pub user_arn: Option<String>,
}

impl UrlRequest {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_string_parameters.as_ref()?.get(name).map(String::as_str)
    }

    /// The IAM principal that signed the request, when the URL passed one on.
    pub fn caller(&self) -> Option<&str> {
        self.request_context.authorizer.as_ref()?.iam.as_ref()?.user_arn.as_deref()
    }
}

/// The HTTP response the Function URL returns: JSON, never base64.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

impl UrlResponse {
    pub fn json(status_code: u16, body: &serde_json::Value) -> Self {
        Self {
            status_code,
            headers: BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]),
            body: body.to_string(),
            is_base64_encoded: false,
        }
    }

    /// `{"error": message}` with `status_code`.
    pub fn error(status_code: u16, message: impl Into<String>) -> Self {
        Self::json(status_code, &serde_json::json!({ "error": message.into() }))
    }

    /// The body as JSON (tests and the local run read responses this way).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}
