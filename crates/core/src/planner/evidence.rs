//! What a function's own history says about idle environments. The level model assumes
//! Poisson arrivals and a reclaim time AWS does not document; a timer firing every 15
//! minutes is cold every time whatever a Poisson model says, and one firing every 5 minutes
//! is never cold if environments live 15. So the planner also reads the evidence: of the
//! calls that came after a whole idle minute or more (with no warm-up round and no PC in
//! between, which would have kept the environment), how many were cold starts.

use serde::{Deserialize, Serialize};

use crate::domain::Minute;
use crate::observe::MinuteLoad;

/// Post-idle calls seen, and how many of them were cold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdleEvidence {
    pub after_idle: u64,
    pub cold: u64,
}

impl IdleEvidence {
    /// From per-minute load (ascending or not) and the minutes in which the autopilot itself
    /// kept the function warm (warm-up rounds sent, PC in place), ascending.
    pub fn from_history(load: &[MinuteLoad], covered: &[Minute]) -> Self {
        let mut active: Vec<&MinuteLoad> = load.iter().filter(|l| l.invocations > 0).collect();
        active.sort_by_key(|l| l.minute);
        let mut out = Self::default();
        for w in active.windows(2) {
            let (prev, next) = (w[0].minute, w[1].minute);
            if next.0 - prev.0 < 2 {
                continue; // no whole idle minute between them
            }
            let first = covered.partition_point(|c| *c <= prev);
            if covered.get(first).is_some_and(|c| *c <= next) {
                continue; // we kept it warm in between: says nothing about AWS
            }
            out.after_idle += 1;
            out.cold += u64::from(w[1].cold_starts > 0);
        }
        out
    }

    /// Share of post-idle calls that were cold, pulled towards `prior` as if it had been
    /// seen [`PRIOR_CALLS`] times (so three observations do not overrule the model).
    pub fn cold_share(&self, prior: f64) -> f64 {
        (self.cold as f64 + prior * PRIOR_CALLS) / (self.after_idle as f64 + PRIOR_CALLS)
    }
}

/// Weight of the model's own estimate, in observed calls.
pub const PRIOR_CALLS: f64 = 4.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn call(minute: i64, cold: u64) -> MinuteLoad {
        MinuteLoad { minute: Minute(minute), invocations: 1, concurrency: 0.0, environments: 1, cold_starts: cold }
    }

    #[test]
    fn counts_calls_after_idle_minutes_unless_we_kept_the_function_warm() {
        // A 15-minute timer, always cold; then a warm-up round at minute 50 covers one gap.
        let load = [call(0, 1), call(15, 1), call(30, 1), call(45, 1), call(60, 0), call(61, 0)];
        let e = IdleEvidence::from_history(&load, &[Minute(50)]);
        assert_eq!(e, IdleEvidence { after_idle: 3, cold: 3 });
        assert!((e.cold_share(0.5) - (3.0 + 2.0) / 7.0).abs() < 1e-12);
        assert_eq!(IdleEvidence::from_history(&[], &[]).cold_share(0.3), 0.3);
    }
}
