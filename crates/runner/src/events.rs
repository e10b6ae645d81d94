//! The EventBridge events of decisions: one per decision that changes (or would change)
//! something. Source `lambda-autopilot`; detail-types from
//! [`autopilot_core::ports::detail_type`]; the detail is the [`DecisionEvent`] JSON, whose
//! own `detail` is described per kind below.
//!
//! | detail-type | `detail.detail` |
//! |---|---|
//! | `Memory Changed` | `{"decision": MemoryDecision, "verdict"?: Verdict, "changeId": …}` |
//! | `Concurrency Changed` | `{"target": "fn:alias", "from": n, "to": n, "changeId": …, "plan": ConcurrencyPlan}` |
//! | `Rolled Back` | `{"changeId": …, "ofChange": …, "restored": FunctionState, "reason": …}` |
//! | `Recommendation` | `{"kind": "memory", "decision": …, "verdict"?: …}` or `{"kind": "concurrency", "target": …, "from": n, "to": n, "plan": …}` |

use autopilot_core::policy::Mode;
use autopilot_core::ports::DecisionEvent;
use autopilot_core::{FunctionRef, Minute};

pub fn event(
    detail_type: &str,
    function: &FunctionRef,
    mode: Mode,
    at: Minute,
    detail: serde_json::Value,
) -> DecisionEvent {
    DecisionEvent { detail_type: detail_type.to_owned(), function: function.clone(), mode, at, detail }
}
