//! The warm-up event: what a keep-warm invocation sends, and how a function recognises it.
//!
//! Payload: `{"autopilotWarmup":{"holdMs":50}}`. The function answers it without running its
//! logic, after holding the environment `holdMs` milliseconds so that the calls of one round
//! overlap and each lands on its own environment. A one-line check per runtime is in the
//! README; Rust functions can call [`parse_warmup`].

use serde::{Deserialize, Serialize};

use crate::domain::Minute;

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

/// When each concurrency level was last in use, from the per-minute peak of environments busy
/// at once (callers' and warm-up calls alike).
///
/// Lambda reuses the most recently used idle environment, so after `n` environments were busy
/// at once the `n` on top of that order have all served since: level `k` (the k-th environment
/// in that order) was touched in the last minute whose peak reached `k`. A keep-warm round of
/// `k` calls is due only when level `k` has idled a keep-warm period ([`Self::round_due`]):
/// traffic that keeps its own environments busy needs no warm-up calls, and a round sent
/// then would be paid for nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelTouches {
    /// `last[j]`: the last minute in which at least `j + 1` environments were busy.
    last: Vec<i64>,
}

impl LevelTouches {
    /// Records that `busy` environments were in use at once during `minute`.
    pub fn touch(&mut self, minute: Minute, busy: u64) {
        let busy = usize::try_from(busy).unwrap_or(usize::MAX).min(MAX_TRACKED_LEVELS);
        if self.last.len() < busy {
            self.last.resize(busy, minute.0);
        }
        for t in &mut self.last[..busy] {
            *t = (*t).max(minute.0);
        }
    }

    /// Whole minutes since level `level` was last in use at `now` (`None`: never seen).
    pub fn idle_minutes(&self, level: u32, now: Minute) -> Option<i64> {
        let i = usize::try_from(level.max(1) - 1).ok()?;
        self.last.get(i).map(|&t| now.0 - t)
    }

    /// A round keeping levels up to `top` warm is due at `now`, when the sender gets its next
    /// chance in `interval_minutes`: unless level `top` was in use so recently that it will
    /// still have idled less than `period_minutes` then (the lower levels were in use at least
    /// as recently). A sender that runs every minute skips every round its callers made
    /// unnecessary; one that runs less often than the period never skips.
    pub fn round_due(&self, top: u32, now: Minute, period_minutes: u32, interval_minutes: u32) -> bool {
        top > 0
            && self
                .idle_minutes(top, now)
                .is_none_or(|idle| idle + i64::from(interval_minutes) > i64::from(period_minutes))
    }
}

/// Levels [`LevelTouches`] follows at most (far above any plan's warm-up top).
const MAX_TRACKED_LEVELS: usize = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_due_only_when_its_top_level_idled_a_period() {
        let mut t = LevelTouches::default();
        // Never seen: due at once.
        assert!(t.round_due(1, Minute(0), 4, 1));
        assert!(!t.round_due(0, Minute(0), 4, 1));
        // Three environments busy at minute 10; one at minute 13.
        t.touch(Minute(10), 3);
        t.touch(Minute(13), 1);
        assert_eq!(t.idle_minutes(1, Minute(14)), Some(1));
        assert_eq!(t.idle_minutes(3, Minute(14)), Some(4));
        assert_eq!(t.idle_minutes(4, Minute(14)), None);
        // Level 1 kept busy by traffic: no round of one; level 3 idled 4 minutes: a round of 3.
        assert!(!t.round_due(1, Minute(14), 4, 1));
        assert!(t.round_due(3, Minute(14), 4, 1));
        assert!(!t.round_due(3, Minute(13), 4, 1));
        // A sender with its next chance 5 minutes away cannot wait: level 1, idle 1 minute,
        // would have idled 6 by then.
        assert!(t.round_due(1, Minute(14), 4, 5));
        assert!(!t.round_due(1, Minute(14), 4, 3));
        // A quiet minute records nothing; an older peak never moves a level back.
        t.touch(Minute(15), 0);
        t.touch(Minute(12), 2);
        assert_eq!(t.idle_minutes(1, Minute(15)), Some(2));
        assert_eq!(t.idle_minutes(2, Minute(15)), Some(3));
    }

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
