//! `autopilot bench deployed`: the steps the deployed Lambdas run (crates/runner: collect →
//! forecast → apply-concurrency every 5 minutes, collect → tune-memory daily), driven by the
//! simulation's schedule over its ports, against doing nothing and against the simulator's own
//! slot (what `autopilot simulate` runs) on the same fleet and seeds.
//!
//! The slot and the deployed steps share the engines but not their state: the slot lives for
//! the whole simulation (it reads only new minutes and keeps each function's forecaster), the
//! steps start from the stats of their window at every run, as a Lambda does. What the
//! benchmark shows is what that costs, and any way in which the deployed path does worse than
//! the one the other benchmarks measure.

use autopilot_core::Minute;
use autopilot_core::policy::Policy;
use autopilot_runner::contract::{At, CollectInput, RunKind};
use autopilot_runner::fakes::{InMemoryRunStore, NoMetrics};
use autopilot_runner::{
    CollectPorts, ConcurrencyPorts, MemoryPorts, RunError, apply_concurrency_batch, collect, forecast_batch,
    tune_memory_batch,
};
use autopilot_sim::fleet::{OPT_IN_TAG, demo_fleet};
use autopilot_sim::ports::FleetPorts;
use autopilot_sim::{Autopilot, DoNothing, RunSummary, SimConfig, SimReport, Simulation, block_on};

use crate::slot::{simulate_policy, simulate_slot};

/// The deployed steps in the simulator's autopilot slot, with the windows and batch size the
/// state machines give them by default.
#[derive(Debug)]
pub struct DeployedSteps {
    pub policy: Policy,
    pub store: InMemoryRunStore,
    /// Warm-up calls sent (all runs).
    pub warm_sent: u64,
    /// A step that failed: the run stops acting (the state machine would fail the execution).
    pub error: Option<RunError>,
}

impl DeployedSteps {
    pub fn new(policy: Policy) -> Self {
        Self { policy, store: InMemoryRunStore::default(), warm_sent: 0, error: None }
    }

    fn run(&mut self, run: RunKind, now: Minute, fleet: &FleetPorts<'_>) -> Result<RunSummary, RunError> {
        let input = CollectInput {
            run,
            policy: self.policy.clone(),
            functions: None,
            execution_id: format!("{run}-{}", now.0),
            now: At(now),
            batch_size: None,
            window_minutes: None,
        };
        let ports = CollectPorts {
            control: &fleet.control,
            stats: &fleet.control,
            metrics: &NoMetrics,
            store: &self.store,
            opt_in_tag: OPT_IN_TAG,
        };
        let collected = block_on(collect(&ports, &input))?;
        let mut summary = RunSummary::default();
        for batch in collected.batch_inputs() {
            let (evaluated, changed) = match run {
                RunKind::Concurrency => {
                    block_on(forecast_batch(&self.store, &batch))?;
                    let ports = ConcurrencyPorts {
                        control: &fleet.control,
                        changes: fleet.changes,
                        events: fleet.events,
                        lease: fleet.lease,
                        store: &self.store,
                    };
                    let out = block_on(apply_concurrency_batch(&ports, &batch))?;
                    self.warm_sent += out.warmed.iter().map(|w| u64::from(w.sent)).sum::<u64>();
                    (out.evaluated, out.results.len())
                }
                RunKind::Memory => {
                    let ports = MemoryPorts {
                        control: &fleet.control,
                        changes: fleet.changes,
                        events: fleet.events,
                        lease: fleet.lease,
                        store: &self.store,
                    };
                    let out = block_on(tune_memory_batch(&ports, &batch))?;
                    (out.evaluated, out.results.len())
                }
            };
            summary.evaluated += evaluated as u64;
            summary.changed += changed as u64;
        }
        Ok(summary)
    }

    fn run_or_stop(&mut self, run: RunKind, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        if self.error.is_some() {
            return RunSummary::default();
        }
        self.run(run, now, fleet).unwrap_or_else(|e| {
            self.error = Some(e);
            RunSummary::default()
        })
    }
}

impl Autopilot for DeployedSteps {
    fn name(&self) -> &str {
        "deployed steps"
    }

    /// A day of stats (the windows' default) and a little more.
    fn stats_retention_minutes(&self) -> usize {
        Minute::PER_DAY as usize + 60
    }

    fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.run_or_stop(RunKind::Memory, now, fleet)
    }

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.run_or_stop(RunKind::Concurrency, now, fleet)
    }
}

/// The three runs of one fleet.
#[derive(Debug)]
pub struct DeployedFigures {
    pub baseline: SimReport,
    pub slot: SimReport,
    pub deployed: SimReport,
    /// Warm-up calls the deployed steps sent.
    pub deployed_warm_sent: u64,
    /// Models the forecast step fitted and kept (each a read of the history and two writes).
    pub deployed_refits: u64,
}

/// Runs the demo fleet of `functions` for `days` with nothing, the simulator's slot and the
/// deployed steps (the same policy: autopilot mode, keep-warm opted in).
pub fn run_deployed(functions: usize, days: f64, seed: u64) -> Result<DeployedFigures, RunError> {
    let config = SimConfig { seed, minutes: (days * Minute::PER_DAY as f64).round() as u64, ..SimConfig::default() };
    let fleet = || demo_fleet(functions, seed);
    let baseline = Simulation::new(config.clone(), fleet(), DoNothing).run(&mut |_, _| {});
    let slot = Simulation::new(config.clone(), fleet(), simulate_slot(true)).run(&mut |_, _| {});
    let mut sim = Simulation::new(config, fleet(), DeployedSteps::new(simulate_policy()));
    sim.run_all(&mut |_, _| {});
    if let Some(e) = sim.autopilot.error.take() {
        return Err(e);
    }
    let deployed_warm_sent = sim.autopilot.warm_sent;
    let deployed_refits = sim.autopilot.store.model_writes();
    Ok(DeployedFigures { baseline, slot, deployed: sim.finish(), deployed_warm_sent, deployed_refits })
}
