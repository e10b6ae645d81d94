//! The PC part of a plan as Application Auto Scaling scheduled actions, for users who let
//! AWS apply the schedule (`aws application-autoscaling put-scheduled-action`). Field names
//! are the API's.

use serde::{Deserialize, Serialize};

use crate::decision::ConcurrencyPlan;
use crate::domain::Minute;

pub const SERVICE_NAMESPACE: &str = "lambda";
pub const SCALABLE_DIMENSION: &str = "lambda:function:ProvisionedConcurrency";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalableTargetAction {
    pub min_capacity: u32,
    pub max_capacity: u32,
}

/// One `PutScheduledAction` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduledAction {
    pub scheduled_action_name: String,
    pub service_namespace: String,
    /// `function:NAME:ALIAS`.
    pub resource_id: String,
    pub scalable_dimension: String,
    /// `at(yyyy-mm-ddThh:mm:ss)`, UTC.
    pub schedule: String,
    pub scalable_target_action: ScalableTargetAction,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function}: provisioned concurrency is set on an alias or a version, never on $LATEST or an unqualified name")]
pub struct NoQualifier {
    pub function: String,
}

/// One action per change of the PC level: raises `lead_minutes` early so PC is READY when
/// the slot starts, lowerings when it starts.
pub fn scheduled_actions(plan: &ConcurrencyPlan, lead_minutes: u32) -> Result<Vec<ScheduledAction>, NoQualifier> {
    let qualifier = plan
        .function
        .qualifier()
        .filter(|q| *q != "$LATEST")
        .ok_or_else(|| NoQualifier { function: plan.function.to_string() })?;
    let resource_id = format!("function:{}:{qualifier}", plan.function.name());
    let mut out = Vec::new();
    let mut current: Option<u32> = None;
    for slot in &plan.slots {
        if current == Some(slot.provisioned) {
            continue;
        }
        let at = if current.is_some_and(|c| c > slot.provisioned) {
            slot.start
        } else {
            slot.start.plus(-i64::from(lead_minutes))
        };
        out.push(ScheduledAction {
            scheduled_action_name: format!("autopilot-{}-{}", plan.function.name(), at.0),
            service_namespace: SERVICE_NAMESPACE.to_owned(),
            resource_id: resource_id.clone(),
            scalable_dimension: SCALABLE_DIMENSION.to_owned(),
            schedule: at_expression(at),
            scalable_target_action: ScalableTargetAction {
                min_capacity: slot.provisioned,
                max_capacity: slot.provisioned,
            },
        });
        current = Some(slot.provisioned);
    }
    Ok(out)
}

fn at_expression(m: Minute) -> String {
    let text = m.to_string(); // YYYY-MM-DDTHH:MMZ
    format!("at({}:00)", text.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{ConcurrencyReason, PlannedSlot};
    use crate::domain::FunctionRef;

    fn plan(function: &str, levels: &[u32]) -> ConcurrencyPlan {
        let slots = levels
            .iter()
            .enumerate()
            .map(|(i, &p)| PlannedSlot {
                start: Minute(29_763_240 + 5 * i as i64),
                provisioned: p,
                keep_warm: 0,
                reason: ConcurrencyReason::Idle,
                keep_warm_reason: None,
                forecast_p99_per_minute: 0.0,
                expected_cold_starts: 0.0,
            })
            .collect();
        ConcurrencyPlan {
            function: FunctionRef::parse(function).unwrap(),
            made_at: Minute(29_763_240),
            slots,
            expected_cost_usd: 0.0,
            baseline_cost_usd: 0.0,
            expected_cold_starts: 0.0,
            baseline_cold_starts: 0.0,
            keep_warm_period_minutes: 0,
            keep_warm_hold_ms: 0,
        }
    }

    #[test]
    fn one_action_per_change_raises_early_lowers_on_time() {
        let actions = scheduled_actions(&plan("orders:live", &[0, 3, 3, 5, 1]), 2).unwrap();
        let view: Vec<(String, u32)> =
            actions.iter().map(|a| (a.schedule.clone(), a.scalable_target_action.min_capacity)).collect();
        assert_eq!(
            view,
            [
                ("at(2026-08-03T21:58:00)".to_owned(), 0),
                ("at(2026-08-03T22:03:00)".to_owned(), 3),
                ("at(2026-08-03T22:13:00)".to_owned(), 5),
                ("at(2026-08-03T22:20:00)".to_owned(), 1),
            ]
        );
        assert_eq!(actions[1].resource_id, "function:orders:live");
        let json = serde_json::to_value(&actions[1]).unwrap();
        assert_eq!(json["ScalableTargetAction"]["MaxCapacity"], 3);
        assert_eq!(json["ScalableDimension"], "lambda:function:ProvisionedConcurrency");
    }

    #[test]
    fn unqualified_functions_cannot_have_pc() {
        assert!(scheduled_actions(&plan("orders", &[1]), 2).is_err());
        assert!(scheduled_actions(&plan("orders:$LATEST", &[1]), 2).is_err());
    }
}
