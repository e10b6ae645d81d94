//! Keep-warm invocations.
//!
//! `warm(target, k)` sends `k` concurrent synchronous `Invoke`s of the payload
//! `{"autopilotWarmup": {"holdMs": N}}` ([`warmup_payload`]). A function opted in to keep-warm
//! recognises the key, waits `holdMs` and returns without doing work: the wait keeps the `k`
//! calls overlapping, so Lambda has to place them on `k` distinct environments (AWS still
//! guarantees neither placement nor retention). The adapter does not retry them (a late
//! retry would not overlap) and has the SDK retry disabled for them.
//!
//! Cold landings are counted from the response: each call asks for the log tail
//! (`LogType=Tail`, the last 4 KB of the invocation's log, base64) and parses its `REPORT`
//! line with [`autopilot_core::report::parse_log_line`]; a REPORT with an `Init Duration`
//! (or a SnapStart restore) landed on a new environment. A call whose tail has no REPORT
//! line cannot be judged and is not counted as cold. A call that failed (throttled, an
//! error, or a function error — a function that does not recognise the payload) counts
//! in `failed`.

use autopilot_core::domain::FunctionRef;
use autopilot_core::ports::{ErrorKind, PortError, PortResult, WarmupOutcome};
use autopilot_core::report::{LogEvent, parse_log_line};
use aws_config::retry::RetryConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};

use super::LambdaControl;
use crate::error::{ClassifyExt, port_error};

/// The key of a warm-up event.
pub const WARMUP_KEY: &str = "autopilotWarmup";
/// Most warm-up calls one `warm` sends (Lambda's default account concurrency).
pub const MAX_WARM_CALLS: u32 = 1_000;

/// The event a warm-up call sends: `{"autopilotWarmup":{"holdMs":N}}`.
pub fn warmup_payload(hold_ms: u64) -> Vec<u8> {
    serde_json::json!({ WARMUP_KEY: { "holdMs": hold_ms } }).to_string().into_bytes()
}

/// How one warm-up call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landing {
    Cold,
    Warm,
    Unknown,
}

/// Whether the log tail proves a cold landing.
fn landing(log_tail: Option<&str>) -> Landing {
    let Some(text) = log_tail.and_then(|b| aws_smithy_types::base64::decode(b).ok()) else { return Landing::Unknown };
    let text = String::from_utf8_lossy(&text);
    for line in text.lines().rev() {
        if let Ok(LogEvent::Report(r)) = parse_log_line(line) {
            return if r.is_cold_start() || r.is_restore() { Landing::Cold } else { Landing::Warm };
        }
    }
    Landing::Unknown
}

impl LambdaControl {
    pub(crate) async fn send_warmups(
        &self,
        target: &FunctionRef,
        count: u32,
        hold_ms: u32,
    ) -> PortResult<WarmupOutcome> {
        const OP: &str = "Lambda.Invoke";
        if count > MAX_WARM_CALLS {
            return Err(port_error(ErrorKind::InvalidInput, OP, format!("{count} warm-up calls > {MAX_WARM_CALLS}")));
        }
        let payload = warmup_payload(u64::from(hold_ms));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..count {
            let client = self.client.clone();
            let (name, qualifier) = (target.name().to_owned(), target.qualifier().map(str::to_owned));
            let payload = payload.clone();
            tasks.spawn(async move {
                let out = client
                    .invoke()
                    .function_name(name)
                    .set_qualifier(qualifier)
                    .invocation_type(InvocationType::RequestResponse)
                    .log_type(LogType::Tail)
                    .payload(Blob::new(payload))
                    .customize()
                    .config_override(aws_sdk_lambda::config::Builder::default().retry_config(RetryConfig::disabled()))
                    .send()
                    .await
                    .classify(OP)?;
                match out.function_error() {
                    Some(fe) => Err(port_error(ErrorKind::Fatal, OP, format!("function error {fe} on a warm-up call"))),
                    None => Ok(landing(out.log_result())),
                }
            });
        }
        let mut outcome = WarmupOutcome { sent: count, ..WarmupOutcome::default() };
        let mut first_error: Option<PortError> = None;
        for result in tasks.join_all().await {
            match result {
                Ok(Landing::Cold) => outcome.landed_cold += 1,
                Ok(_) => {}
                Err(e) => {
                    outcome.failed += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            // Nothing landed: the target is broken (missing, no permission, ...), say why.
            Some(e) if outcome.failed == count => Err(e),
            _ => Ok(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        aws_smithy_types::base64::encode(s)
    }

    #[test]
    fn payload_is_the_documented_event() {
        let v: serde_json::Value = serde_json::from_slice(&warmup_payload(250)).unwrap();
        assert_eq!(v, serde_json::json!({"autopilotWarmup": {"holdMs": 250}}));
    }

    #[test]
    fn cold_landings_are_read_from_the_report_line() {
        let cold = "START RequestId: a\nEND RequestId: a\nREPORT RequestId: a\tDuration: 251.00 ms\tBilled Duration: 252 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 12.50 ms\n";
        assert_eq!(landing(Some(&b64(cold))), Landing::Cold);
        let warm = cold.replace("\tInit Duration: 12.50 ms", "");
        assert_eq!(landing(Some(&b64(&warm))), Landing::Warm);
        assert_eq!(landing(Some(&b64("some output without a report"))), Landing::Unknown);
        assert_eq!(landing(Some("%%% not base64")), Landing::Unknown);
        assert_eq!(landing(None), Landing::Unknown);
    }
}
