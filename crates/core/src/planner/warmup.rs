//! The warm-up event: what a keep-warm invocation sends, and how a function recognises it.
//!
//! Payload: `{"autopilotWarmup":{"holdMs":50}}`. The function answers it without running its
//! logic, after holding the environment `holdMs` milliseconds so that the calls of one round
//! overlap and each lands on its own environment. A one-line check per runtime is in the
//! README; Rust functions can call [`parse_warmup`].

use serde::{Deserialize, Serialize};

/// The top-level key that marks a warm-up event.
pub const WARMUP_KEY: &str = "autopilotWarmup";

/// Body of a warm-up event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmupRequest {
    /// How long to hold the environment before answering (ms).
    pub hold_ms: u32,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(rename = "autopilotWarmup")]
    warmup: WarmupRequest,
}

/// How long each call of a round of `count` holds its environment: the policy's hold when
/// several calls must overlap to land on distinct environments; nothing for a round of one,
/// which needs no overlap and so crowds out no caller arriving meanwhile (the planner prices
/// rounds this way).
pub fn round_hold_ms(count: u32, hold_ms: u32) -> u32 {
    if count <= 1 { 0 } else { hold_ms }
}

/// The JSON payload of a warm-up call.
pub fn warmup_payload(hold_ms: u32) -> String {
    serde_json::to_string(&Envelope { warmup: WarmupRequest { hold_ms } }).unwrap_or_default()
}

/// `Some` when the event is a warm-up; any other event (including one that merely has more
/// fields next to the key) is the function's business.
pub fn parse_warmup(event: &[u8]) -> Option<WarmupRequest> {
    serde_json::from_slice::<serde_json::Value>(event)
        .ok()
        .and_then(|v| match v {
            serde_json::Value::Object(map) if map.len() == 1 => map.get(WARMUP_KEY).cloned(),
            _ => None,
        })
        .and_then(|body| serde_json::from_value(body).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_other_events_are_not_warmups() {
        let payload = warmup_payload(50);
        assert_eq!(payload, r#"{"autopilotWarmup":{"holdMs":50}}"#);
        assert_eq!(parse_warmup(payload.as_bytes()), Some(WarmupRequest { hold_ms: 50 }));
        assert_eq!(parse_warmup(br#"{"orderId":7}"#), None);
        assert_eq!(parse_warmup(br#"{"autopilotWarmup":{"holdMs":50},"orderId":7}"#), None);
        assert_eq!(parse_warmup(b"not json"), None);
        assert_eq!(parse_warmup(br#"{"autopilotWarmup":{"holdMs":-1}}"#), None);
        assert_eq!((round_hold_ms(1, 50), round_hold_ms(2, 50)), (0, 50));
    }
}
