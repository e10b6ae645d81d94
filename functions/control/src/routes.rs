//! The routes of the control endpoint, each a read → act → answer over the ports.
//!
//! | route | answer |
//! |---|---|
//! | `GET /status[?limit=n]` | `200 {"memoryRuns": [run], "rollbacks": [run]}`, newest first, `n` each (default 5, at most 20) |
//! | `GET /changes?function=name[:alias][&limit=n]` | `200 {"function", "changes": [change record + "time"]}`, newest first (default 20, at most 50) |
//! | `POST /rollback` with `{"function", "target", "reason"}` | `202 {"executionArn", "name", "input"}`: the rollback state machine was started |
//!
//! Errors answer `{"error": message}`: 400 (bad parameter or body), 404 (no such route), 405
//! (wrong method), 503 (throttled or busy: retry), 502 (anything else).

use autopilot_core::FunctionRef;
use autopilot_core::ports::{ChangeLog, ErrorKind, PortError, Workflows};
use autopilot_runner::contract::ManualRollbackInput;
use serde_json::json;

use crate::Deps;
use crate::url::{UrlRequest, UrlResponse};

pub const STATUS: &str = "/status";
pub const CHANGES: &str = "/changes";
pub const ROLLBACK: &str = "/rollback";

/// Runs of each state machine `GET /status` lists by default, and at most.
pub const STATUS_LIMIT: (usize, usize) = (5, 20);
/// Change records `GET /changes` lists by default, and at most.
pub const CHANGES_LIMIT: (usize, usize) = (20, 50);
/// Longest Step Functions execution name.
const MAX_EXECUTION_NAME: usize = 80;

/// The answer to one request.
pub async fn route<C: ChangeLog, W: Workflows>(req: &UrlRequest, deps: &Deps<C, W>) -> UrlResponse {
    let path = match req.raw_path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    match (req.request_context.http.method.as_str(), path) {
        ("GET", STATUS) => status(req, deps).await.unwrap_or_else(|e| e),
        ("GET", CHANGES) => changes(req, deps).await.unwrap_or_else(|e| e),
        ("POST", ROLLBACK) => rollback(req, deps).await.unwrap_or_else(|e| e),
        (method, STATUS | CHANGES) => UrlResponse::error(405, format!("{method} {path}: use GET")),
        (method, ROLLBACK) => UrlResponse::error(405, format!("{method} {path}: use POST")),
        (method, _) => UrlResponse::error(
            404,
            format!("{method} {path}: no such route (GET {STATUS}, GET {CHANGES}?function=name, POST {ROLLBACK})"),
        ),
    }
}

fn failed(e: &PortError) -> UrlResponse {
    let status = match e.kind {
        ErrorKind::Retryable | ErrorKind::Conflict => 503,
        ErrorKind::InvalidInput => 400,
        ErrorKind::NotFound | ErrorKind::AccessDenied | ErrorKind::Fatal => 502,
    };
    UrlResponse::error(status, e.to_string())
}

fn limit(req: &UrlRequest, (default, max): (usize, usize)) -> Result<usize, UrlResponse> {
    match req.query("limit") {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(UrlResponse::error(400, format!("limit={s:?}: expected a whole number from 1 to {max}"))),
        },
    }
}

async fn status<C: ChangeLog, W: Workflows>(req: &UrlRequest, deps: &Deps<C, W>) -> Result<UrlResponse, UrlResponse> {
    let n = limit(req, STATUS_LIMIT)?;
    let memory = deps.workflows.recent_runs(&deps.state_machines.memory_run, n).await.map_err(|e| failed(&e))?;
    let rollbacks = deps.workflows.recent_runs(&deps.state_machines.rollback, n).await.map_err(|e| failed(&e))?;
    Ok(UrlResponse::json(200, &json!({ "memoryRuns": memory, "rollbacks": rollbacks })))
}

async fn changes<C: ChangeLog, W: Workflows>(req: &UrlRequest, deps: &Deps<C, W>) -> Result<UrlResponse, UrlResponse> {
    let n = limit(req, CHANGES_LIMIT)?;
    let name =
        req.query("function").ok_or_else(|| UrlResponse::error(400, "function=<name or name:alias> is required"))?;
    let function = FunctionRef::parse(name).map_err(|e| UrlResponse::error(400, format!("function={name:?}: {e}")))?;
    let history = deps.changes.history(&function, n).await.map_err(|e| failed(&e))?;
    // Each record as the change log holds it, plus its minute as a time a person reads.
    let changes: Vec<serde_json::Value> = history
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["time"] = json!(r.at.to_string());
            v
        })
        .collect();
    Ok(UrlResponse::json(200, &json!({ "function": function, "changes": changes })))
}

/// `manual-<request id>`: one execution per request (a client's retry is a new request; the
/// rollback itself is idempotent).
pub fn execution_name(request_id: &str) -> String {
    let mut name: String = format!("manual-{request_id}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    name.truncate(MAX_EXECUTION_NAME);
    name
}

async fn rollback<C: ChangeLog, W: Workflows>(req: &UrlRequest, deps: &Deps<C, W>) -> Result<UrlResponse, UrlResponse> {
    if req.is_base64_encoded {
        return Err(UrlResponse::error(400, "send the body as JSON with Content-Type: application/json"));
    }
    let body = req.body.as_deref().unwrap_or_default();
    let mut input: ManualRollbackInput = serde_json::from_str(body).map_err(|e| {
        UrlResponse::error(400, format!("body: {e}; expected {{\"function\", \"target\", \"reason\"}}"))
    })?;
    if input.reason.trim().is_empty() {
        return Err(UrlResponse::error(400, "reason must say why (it is recorded in the change log)"));
    }
    if let Some(caller) = req.caller() {
        input.reason = format!("{} (requested by {caller} through the control endpoint)", input.reason);
    }
    let input = serde_json::to_value(&input).map_err(|e| UrlResponse::error(400, e.to_string()))?;
    let name = execution_name(&req.request_context.request_id);
    let arn = deps.workflows.start(&deps.state_machines.rollback, &name, &input).await.map_err(|e| failed(&e))?;
    Ok(UrlResponse::json(202, &json!({ "executionArn": arn, "name": name, "input": input })))
}
