//! `autopilot bench concurrency --diagnose CASE`: one case, one of our policies, minute by
//! minute — what each plan said for the slot in force and why, what was sent (PC requests,
//! warm-up rounds), what the minute showed (calls, cold starts, warm-ups that landed cold,
//! the peak of environments busy at once) — then the run against on-demand, with the cold
//! starts the plans expected beside those that came.

use std::fmt::Write as _;

use autopilot_core::Minute;
use autopilot_core::policy::ConcurrencyPolicy;

use super::baselines::OnDemand;
use super::cases::Workload;
use super::driver::{Action, MinuteObs, Outcome, Policy, run};
use super::ours::Autopilot;
use super::report::{cost_delta_pct, reduction_pct};
use super::{capped_policy, history_of, our_policy};

/// Our policies, by their benchmark names in [`super::POLICIES`] order: what the benchmark
/// runs after on-demand, and what a diagnosis may run.
pub const DIAGNOSED: [&str; 4] = ["ours", "ours-capped", "ours-pc-only", "ours-pc-only-cap"];

/// The policy a benchmark name stands for.
pub fn policy_named(name: &str) -> Option<ConcurrencyPolicy> {
    match name {
        "ours" => Some(our_policy(true)),
        "ours-capped" => Some(capped_policy(true)),
        "ours-pc-only" => Some(our_policy(false)),
        "ours-pc-only-cap" => Some(capped_policy(false)),
        _ => None,
    }
}

/// One run of our autopilot, traced.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// One line per minute with something to say (a plan's slot, an action, calls).
    pub lines: Vec<String>,
    pub ours: Outcome,
    pub on_demand: Outcome,
    /// Cold starts the plan in force expected in each scored slot, summed.
    pub expected_cold_starts: f64,
    pub reclaim_minutes: u32,
    pub label: String,
}

impl Diagnosis {
    /// The summary lines printed after the minutes.
    pub fn summary(&self) -> String {
        let (o, od) = (&self.ours, &self.on_demand);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} at reclaim {} min: cold starts {} → {} ({:.1}% fewer; the plans expected {:.1}), cost ${:.6} → ${:.6} ({:+.1}%)",
            self.label,
            self.reclaim_minutes,
            od.cold_starts,
            o.cold_starts,
            reduction_pct(o, od),
            self.expected_cold_starts,
            od.total_cost(),
            o.total_cost(),
            cost_delta_pct(o, od),
        );
        let _ = writeln!(
            s,
            "warm-up calls {} (${:.6}; {} landed cold); {} of the callers' cold starts arrived while a round held its environments; PC {:.0} environment-minutes allocated, {:.0}% of them busy",
            o.warmups,
            o.warmup_cost,
            o.warmups_cold,
            o.cold_behind_warmups,
            o.pc_allocated_ms / 60_000.0,
            o.pc_utilisation().unwrap_or(0.0) * 100.0,
        );
        s
    }
}

/// Runs `policy` on `workload` at `reclaim_minutes`, tracing every minute.
pub fn diagnose(workload: &Workload, reclaim_minutes: u32, policy: ConcurrencyPolicy) -> Diagnosis {
    let slot = i64::from(policy.slot_minutes.max(1));
    let mut traced = Traced {
        autopilot: Autopilot::new(policy, history_of(workload), workload.start),
        slot,
        scored_from: workload.warmup_minutes,
        index: 0,
        expected: 0.0,
        lines: Vec::new(),
        pending: String::new(),
    };
    let ours = run(workload, reclaim_minutes, &mut traced);
    let on_demand = run(workload, reclaim_minutes, &mut OnDemand);
    Diagnosis {
        lines: traced.lines,
        ours,
        on_demand,
        expected_cold_starts: traced.expected,
        reclaim_minutes,
        label: workload.label(),
    }
}

struct Traced {
    autopilot: Autopilot,
    slot: i64,
    scored_from: usize,
    index: usize,
    expected: f64,
    lines: Vec<String>,
    /// What the minute's start said, completed by its observation.
    pending: String,
}

impl Policy for Traced {
    fn act(&mut self, now: Minute, index: usize) -> Action {
        self.index = index;
        let action = self.autopilot.act(now, index);
        let mut line = String::new();
        if now.0.rem_euclid(self.slot) == 0
            && let Some(s) = self.autopilot.plan().and_then(|p| p.slot_at(now, self.slot as u32))
        {
            if index >= self.scored_from {
                self.expected += s.expected_cold_starts;
            }
            let _ = write!(
                line,
                " | plan: PC {} ({:?}), warm to {} ({}), expects {:.3} cold",
                s.provisioned,
                s.reason,
                s.keep_warm,
                s.keep_warm_reason.as_ref().map_or_else(|| "no reason given".to_string(), |r| format!("{r:?}")),
                s.expected_cold_starts,
            );
        }
        if let Some(pc) = action.provisioned {
            let _ = write!(line, " | request PC {pc}");
        }
        if action.warm > 0 {
            let _ = write!(line, " | round of {} held {} ms", action.warm, action.hold_ms);
        }
        self.pending = line;
        action
    }

    fn observe(&mut self, obs: &MinuteObs) {
        let line = std::mem::take(&mut self.pending);
        if !line.is_empty() || obs.invocations > 0 || obs.warmups_cold > 0 {
            let scored = if self.index >= self.scored_from { "" } else { " (unscored)" };
            self.lines.push(format!(
                "{:>6} {}{scored}: calls {}, cold {}, warm-ups cold {}, peak busy {}{line}",
                self.index, obs.minute, obs.invocations, obs.cold_starts, obs.warmups_cold, obs.peak_busy,
            ));
        }
        self.autopilot.observe(obs);
    }
}
