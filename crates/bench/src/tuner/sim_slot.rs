//! The memory autopilot in the simulator's autopilot slot: once a day, for every opted-in
//! function, read yesterday's per-minute stats through `StatsStore`, judge the last change,
//! decide with the core's passive tuner, and act through `FunctionControl` — a direct
//! memory update, or, behind an alias, a canary version that receives 10% of the alias's
//! traffic first — recording every change in the change log before applying it. The same
//! read → decide → act the tune-memory Lambda does; it lives here until that function's
//! library exists.

use std::collections::HashMap;

use autopilot_core::cost::CostModel;
use autopilot_core::decision::{MemoryDecision, MemoryReason, Rollout, Verdict};
use autopilot_core::observe::Counters;
use autopilot_core::policy::Policy;
use autopilot_core::ports::{
    AliasConfig, AliasRouting, Change, ChangeLog, ChangeRecord, ChangeStatus, FunctionConfig, FunctionControl,
    FunctionState, StatsStore,
};
use autopilot_core::tuner::lookback::SizeHistory;
use autopilot_core::tuner::{Ban, Judged, PassiveInput, PendingChange, Settings, decide};
use autopilot_core::{FunctionRef, MemoryMb, Minute};
use autopilot_sim::ports::FleetPorts;
use autopilot_sim::{Autopilot, RunSummary, block_on};
use serde::Serialize;

/// One decision as the autopilot made it (for reports and tests).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryEvent {
    pub at: Minute,
    pub decision: MemoryDecision,
    pub verdict: Option<Verdict>,
}

/// What the memory autopilot did to one function over a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemorySummary {
    pub function: String,
    pub start_mb: u32,
    pub end_mb: u32,
    /// Sizes the function ran at, in order (changes only).
    pub path: Vec<u32>,
    pub explorations: usize,
    pub resizes: usize,
    pub rollbacks: usize,
    /// The metric of each rollback.
    pub rollback_reasons: Vec<String>,
}

#[derive(Debug, Default)]
struct Tracked {
    /// What each run observed per size, over the look-back.
    sizes: SizeHistory,
    /// The change under evaluation and the window before it.
    pending: Option<(PendingChange, Counters)>,
    bans: Vec<Ban>,
    start: Option<MemoryMb>,
    events: Vec<MemoryEvent>,
}

/// The passive memory tuner behind the simulator's ports.
#[derive(Debug)]
pub struct MemoryAutopilot {
    pub policy: Policy,
    pub settings: Settings,
    pub opt_in_tag: String,
    cost: CostModel,
    state: HashMap<String, Tracked>,
}

impl MemoryAutopilot {
    pub fn new(policy: Policy, opt_in_tag: &str) -> Self {
        Self {
            policy,
            settings: Settings::default(),
            opt_in_tag: opt_in_tag.to_owned(),
            cost: CostModel::default(),
            state: HashMap::new(),
        }
    }

    /// Every decision made for a function, oldest first.
    pub fn events_of(&self, function: &str) -> &[MemoryEvent] {
        self.state.get(function).map_or(&[], |t| &t.events)
    }

    /// Per function (sorted by name): sizes, changes and rollbacks.
    pub fn summaries(&self) -> Vec<MemorySummary> {
        let mut out: Vec<MemorySummary> = self
            .state
            .iter()
            .map(|(name, t)| {
                let start = t.start.map_or(0, MemoryMb::get);
                let mut path = vec![start];
                let mut s = MemorySummary {
                    function: name.clone(),
                    start_mb: start,
                    end_mb: start,
                    path: Vec::new(),
                    explorations: 0,
                    resizes: 0,
                    rollbacks: 0,
                    rollback_reasons: Vec::new(),
                };
                for e in &t.events {
                    match &e.decision {
                        MemoryDecision::Explore { .. } => s.explorations += 1,
                        MemoryDecision::Resize { .. } => s.resizes += 1,
                        MemoryDecision::Rollback { verdict, .. } => {
                            s.rollbacks += 1;
                            if let Verdict::Regressed { metric, .. } = verdict {
                                s.rollback_reasons.push(metric.to_string());
                            }
                        }
                        MemoryDecision::Keep { .. } => {}
                    }
                    let to = e.decision.target().get();
                    if path.last() != Some(&to) {
                        path.push(to);
                    }
                }
                s.end_mb = *path.last().unwrap_or(&start);
                s.path = path;
                s
            })
            .collect();
        out.sort_by(|a, b| a.function.cmp(&b.function));
        out
    }

    fn run_one(&mut self, now: Minute, fleet: &FleetPorts<'_>, config: &FunctionConfig) -> Option<bool> {
        let function = &config.function;
        let alias = config.aliases.first().cloned();
        let from = now.plus(-Minute::PER_DAY);
        let window = block_on(fleet.control.read_summary(function, from, now)).ok()?;
        let t = self.state.entry(function.name().to_owned()).or_default();
        // The size callers are served at: the alias's primary version, else $LATEST.
        let serving =
            alias.as_ref().and_then(|a| version_memory(fleet, function, &a.routing.version)).unwrap_or(config.memory);
        t.start.get_or_insert(serving);
        t.sizes = std::mem::take(&mut t.sizes).with(&window, now);
        let history = t.sizes.merged();
        let empty = Counters::default();
        let judged = t.pending.as_ref().map(|(change, before)| {
            // A canary is judged against the primary in the same window; a direct change
            // against the window before it.
            let before = if matches!(change.rollout, Rollout::AliasCanary { .. }) {
                window.by_memory.get(&change.from).unwrap_or(&empty)
            } else {
                before
            };
            Judged { change, before, after: window.by_memory.get(&change.to).unwrap_or(&empty) }
        });
        let input = PassiveInput {
            arch: config.architecture,
            current: serving,
            history: &history,
            pending: judged,
            bans: &t.bans,
            via_alias: alias.is_some(),
            now,
        };
        let outcome = decide(&input, &self.policy, &self.cost, &self.settings);
        t.bans.extend(outcome.new_ban);
        t.bans.retain(|b| b.is_active(now));
        let before_window = window.by_memory.get(&serving).cloned().unwrap_or_default();
        let decision = outcome.decision.clone();
        t.events.push(MemoryEvent { at: now, decision: decision.clone(), verdict: outcome.verdict.clone() });
        let still_judging = matches!(outcome.verdict, Some(Verdict::Inconclusive { .. }));
        if !decision.changes() {
            if !still_judging {
                t.pending = None;
            }
            return Some(false);
        }
        if !self.policy.mode.applies_changes() {
            return Some(false);
        }
        let applied = apply(fleet, function, alias.as_ref(), &decision, serving, now);
        let t = self.state.get_mut(function.name())?;
        t.pending = match (&decision, applied) {
            (MemoryDecision::Explore { from, to, expected, rollout, .. }, true)
            | (MemoryDecision::Resize { from, to, expected, rollout, .. }, true)
                if !matches!(decision, MemoryDecision::Resize { reason: MemoryReason::CanaryHealthy, .. }) =>
            {
                Some((
                    PendingChange { at: now, from: *from, to: *to, rollout: *rollout, expected: Some(*expected) },
                    before_window,
                ))
            }
            _ => None,
        };
        Some(applied)
    }
}

fn version_memory(fleet: &FleetPorts<'_>, function: &FunctionRef, version: &str) -> Option<MemoryMb> {
    let q = function.with_qualifier(Some(version)).ok()?;
    block_on(fleet.control.get_function(&q)).ok().map(|c| c.memory)
}

/// Records the change, then applies it through the control plane; true when it went through.
fn apply(
    fleet: &FleetPorts<'_>,
    function: &FunctionRef,
    alias: Option<&AliasConfig>,
    decision: &MemoryDecision,
    serving: MemoryMb,
    now: Minute,
) -> bool {
    let to = decision.target();
    let id = format!("memory-{}-{}", function.name(), now.0);
    let record = ChangeRecord {
        id: id.clone(),
        function: function.clone(),
        at: now,
        change: Change::Memory { from: serving, to },
        previous: FunctionState { memory: serving, alias: alias.cloned(), provisioned: None },
        status: ChangeStatus::Intended,
        reason: serde_json::to_value(decision).unwrap_or_default(),
    };
    if block_on(fleet.changes.record(&record)).is_err() {
        return false;
    }
    let ok = match (alias, decision) {
        (None, _) => block_on(fleet.control.set_memory(function, to)).is_ok(),
        (Some(a), MemoryDecision::Explore { rollout: Rollout::AliasCanary { weight_pct }, .. })
        | (Some(a), MemoryDecision::Resize { rollout: Rollout::AliasCanary { weight_pct }, .. }) => {
            // A version at the new size takes `weight_pct` of the alias's traffic.
            canary(fleet, function, a, to, f64::from(*weight_pct) / 100.0)
        }
        (Some(a), _) => {
            // Promote a healthy canary, roll back, or move directly: the alias points at a
            // version of the target size and nothing else.
            let version = a
                .routing
                .canary
                .as_ref()
                .filter(|(v, _)| version_memory(fleet, function, v) == Some(to))
                .map(|(v, _)| v.clone())
                .or_else(|| {
                    (version_memory(fleet, function, &a.routing.version) == Some(to)).then(|| a.routing.version.clone())
                });
            let version = match version {
                Some(v) => Some(v),
                None => block_on(fleet.control.set_memory(function, to))
                    .ok()
                    .and_then(|()| block_on(fleet.control.publish_version(function)).ok()),
            };
            version.is_some_and(|v| set_alias(fleet, function, &a.name, &AliasRouting { version: v, canary: None }))
        }
    };
    let status = if ok { ChangeStatus::Applied } else { ChangeStatus::Failed };
    let _ = block_on(fleet.changes.set_status(function, &id, status));
    ok
}

fn canary(fleet: &FleetPorts<'_>, function: &FunctionRef, alias: &AliasConfig, to: MemoryMb, weight: f64) -> bool {
    let Ok(()) = block_on(fleet.control.set_memory(function, to)) else { return false };
    let Ok(version) = block_on(fleet.control.publish_version(function)) else { return false };
    let routing = AliasRouting { version: alias.routing.version.clone(), canary: Some((version, weight)) };
    set_alias(fleet, function, &alias.name, &routing)
}

fn set_alias(fleet: &FleetPorts<'_>, function: &FunctionRef, alias: &str, routing: &AliasRouting) -> bool {
    function.with_qualifier(Some(alias)).is_ok_and(|a| block_on(fleet.control.set_alias(&a, routing)).is_ok())
}

impl Autopilot for MemoryAutopilot {
    fn name(&self) -> &str {
        "memory-tuner"
    }

    fn stats_retention_minutes(&self) -> usize {
        Minute::PER_DAY as usize + 60
    }

    /// Each function's windows, pending change and bans are its own; changes are recorded per
    /// function.
    fn decides_per_function(&self) -> bool {
        true
    }

    fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        let mut summary = RunSummary::default();
        let Ok(functions) = block_on(fleet.control.list_functions(&self.opt_in_tag)) else { return summary };
        for config in functions {
            summary.evaluated += 1;
            if self.run_one(now, fleet, &config) == Some(true) {
                summary.changed += 1;
            }
        }
        summary
    }

    fn concurrency_run(&mut self, _now: Minute, _fleet: &FleetPorts<'_>) -> RunSummary {
        RunSummary::default()
    }
}

#[cfg(test)]
mod tests {
    use autopilot_core::policy::Mode;
    use autopilot_sim::fleet::{OPT_IN_TAG, demo_fleet};
    use autopilot_sim::{DoNothing, SimConfig, Simulation};

    use super::*;

    #[test]
    fn the_tuner_in_the_slot_saves_money_and_its_guardrail_catches_the_p99_cliff() {
        let cfg = SimConfig { seed: 1, minutes: 4 * 1_440, ..SimConfig::default() };
        let baseline = Simulation::new(cfg.clone(), demo_fleet(13, 1), DoNothing).run(&mut |_, _| {});
        let policy = Policy { mode: Mode::Autopilot, ..Policy::default() };
        let mut sim = Simulation::new(cfg, demo_fleet(13, 1), MemoryAutopilot::new(policy.clone(), OPT_IN_TAG));
        while sim.world.elapsed_minutes() < sim.world.config.minutes {
            sim.step_minute();
        }
        let summaries = sim.autopilot.summaries();
        let records = sim.changes.all();
        let feed = summaries.iter().find(|s| s.function == "feed-ranker").unwrap();
        let events = sim.autopilot.events_of("feed-ranker").to_vec();
        let report = sim.finish();

        // The trap: halving feed-ranker from 1 GB to 512 MB looks cheaper on the mean, but
        // 4% of its requests then take 12× longer. The guardrail rolls it back and bans it.
        assert!(feed.rollbacks >= 1 && feed.rollback_reasons.iter().all(|r| r == "p99 duration"), "{feed:?}");
        assert!(feed.end_mb >= 1024, "ends above the cliff: {feed:?}");
        assert!(
            events.iter().any(|e| matches!(e.decision, MemoryDecision::Rollback { from, .. } if from.get() < 1024))
        );
        // Every step within the policy's factor, every change recorded before it was applied.
        for s in &summaries {
            for w in s.path.windows(2) {
                let r = f64::from(w[1]) / f64::from(w[0]);
                assert!(
                    (1.0 / policy.constraints.max_step_factor..=policy.constraints.max_step_factor).contains(&r),
                    "{s:?}"
                );
            }
        }
        let applied = records.iter().filter(|r| r.status == ChangeStatus::Applied).count();
        let moves: usize = summaries.iter().map(|s| s.explorations + s.resizes + s.rollbacks).sum();
        assert_eq!(applied, moves, "one applied change-log record per change");
        // It pays: the fleet costs less, and the function near its OOM floor is moved away.
        assert!(
            report.total.cost_usd < 0.9 * baseline.total.cost_usd,
            "{} vs {}",
            report.total.cost_usd,
            baseline.total.cost_usd
        );
        let oom =
            |r: &autopilot_sim::SimReport| r.functions.iter().find(|f| f.name == "pdf-render").unwrap().out_of_memory;
        assert!(oom(&report) * 2 < oom(&baseline), "pdf-render OOM {} → {}", oom(&baseline), oom(&report));
    }
}
