//! The runner against the simulator's ports: the same collect → forecast → apply-concurrency
//! (and collect → tune-memory) the Lambdas run, driven by the simulation's schedule over its
//! demo fleet, compared with doing nothing on the same fleet and seeds.

use autopilot_core::Minute;
use autopilot_core::policy::{ConcurrencyPolicy, Mode, Policy};
use autopilot_core::ports::{Change, ChangeStatus, detail_type};
use autopilot_runner::contract::{At, BatchInput, CollectInput, RunKind};
use autopilot_runner::fakes::{InMemoryRunStore, NoMetrics};
use autopilot_runner::{
    CollectPorts, ConcurrencyPorts, MemoryPorts, apply_concurrency_batch, collect, forecast_batch, tune_memory_batch,
};
use autopilot_sim::fleet::{OPT_IN_TAG, demo_fleet};
use autopilot_sim::ports::FleetPorts;
use autopilot_sim::{Autopilot, DoNothing, RunSummary, SimConfig, Simulation, block_on};

/// Look-back of the simulated concurrency runs (minutes): short, so a day of 5-minute runs
/// stays fast in a debug build.
const CONCURRENCY_WINDOW: u32 = 1_440;

#[derive(Debug)]
struct Runner {
    policy: Policy,
    store: InMemoryRunStore,
}

impl Runner {
    fn run(&mut self, run: RunKind, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        let window_minutes = match run {
            RunKind::Memory => 1_440,
            RunKind::Concurrency => CONCURRENCY_WINDOW,
        };
        let input = CollectInput {
            run,
            policy: self.policy.clone(),
            functions: None,
            execution_id: format!("{run}-{}", now.0),
            now: At(now),
            batch_size: Some(5),
            window_minutes: Some(window_minutes),
        };
        let ports = CollectPorts {
            control: &fleet.control,
            stats: &fleet.control,
            metrics: &NoMetrics,
            store: &self.store,
            opt_in_tag: OPT_IN_TAG,
        };
        let collected = block_on(collect(&ports, &input)).expect("collect");
        let mut summary = RunSummary::default();
        for functions in collected.batches {
            let batch = BatchInput {
                run,
                policy: collected.policy.clone(),
                execution_id: collected.execution_id.clone(),
                now: collected.now,
                window: collected.window,
                functions,
                batch: None,
            };
            match run {
                RunKind::Concurrency => {
                    block_on(forecast_batch(&self.store, &batch)).expect("forecast");
                    let ports = ConcurrencyPorts {
                        control: &fleet.control,
                        changes: fleet.changes,
                        events: fleet.events,
                        lease: fleet.lease,
                        store: &self.store,
                    };
                    let out = block_on(apply_concurrency_batch(&ports, &batch)).expect("apply-concurrency");
                    summary.evaluated += out.evaluated as u64;
                    summary.changed += out.results.len() as u64;
                }
                RunKind::Memory => {
                    let ports = MemoryPorts {
                        control: &fleet.control,
                        changes: fleet.changes,
                        events: fleet.events,
                        lease: fleet.lease,
                        store: &self.store,
                    };
                    let out = block_on(tune_memory_batch(&ports, &batch)).expect("tune-memory");
                    summary.evaluated += out.evaluated as u64;
                    summary.changed += out.results.len() as u64;
                }
            }
        }
        summary
    }
}

impl Autopilot for Runner {
    fn name(&self) -> &str {
        "runner"
    }

    fn stats_retention_minutes(&self) -> usize {
        Minute::PER_DAY as usize + 60
    }

    fn memory_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.run(RunKind::Memory, now, fleet)
    }

    fn concurrency_run(&mut self, now: Minute, fleet: &FleetPorts<'_>) -> RunSummary {
        self.run(RunKind::Concurrency, now, fleet)
    }
}

#[test]
fn the_runner_removes_cold_starts_of_the_demo_fleet_through_the_simulators_ports() {
    let cfg = SimConfig { seed: 5, minutes: 1_440, ..SimConfig::default() };
    let baseline = Simulation::new(cfg.clone(), demo_fleet(12, 5), DoNothing).run(&mut |_, _| {});
    let policy = Policy {
        mode: Mode::Autopilot,
        concurrency: ConcurrencyPolicy { keep_warm: true, ..ConcurrencyPolicy::default() },
        ..Policy::default()
    };
    let runner = Runner { policy, store: InMemoryRunStore::default() };
    let mut sim = Simulation::new(cfg, demo_fleet(12, 5), runner);
    for _ in 0..1_440 {
        sim.step_minute();
    }
    let changes = sim.changes.all();
    let events = sim.events.events();
    let ours = sim.finish();
    let busy = |r: &autopilot_sim::SimReport| -> u64 {
        r.functions.iter().filter(|f| f.traffic == "daily+weekly").map(|f| f.cold_starts).sum()
    };
    assert!(busy(&ours) * 10 < busy(&baseline) * 7, "busy APIs: cold starts {} → {}", busy(&baseline), busy(&ours));
    assert!(
        ours.total.cold_starts < baseline.total.cold_starts,
        "cold starts {} → {}",
        baseline.total.cold_starts,
        ours.total.cold_starts
    );
    assert!(ours.total.warmups.sent > 0, "keep-warm rounds went out");
    // A forecast whose mean was one replayed jump (the calls after the empty stretch before
    // the simulation) once bought checkout-api PC for ten times its traffic: $7.74 → $18.26.
    assert!(
        ours.total.cost_usd < baseline.total.cost_usd,
        "cost ${:.2} → ${:.2}",
        baseline.total.cost_usd,
        ours.total.cost_usd
    );
    let pc: Vec<_> = changes.iter().filter(|r| matches!(r.change, Change::Provisioned { .. })).collect();
    assert!(!pc.is_empty(), "PC was set on the busy aliases");
    assert!(changes.iter().all(|r| r.status == ChangeStatus::Applied), "every recorded change was applied");
    let pc_events = events.iter().filter(|e| e.detail_type == detail_type::CONCURRENCY_CHANGED).count();
    assert_eq!(pc_events, pc.len(), "one event per change");
}
