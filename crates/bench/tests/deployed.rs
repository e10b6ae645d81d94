//! The deployed steps (crates/runner: the same collect → forecast → apply-concurrency the
//! Lambdas run) against the simulator's ports, driven by the simulation's schedule over its
//! demo fleet, compared with doing nothing on the same fleet and seeds.

use autopilot_bench::deployed::DeployedSteps;
use autopilot_bench::slot::{simulate_policy, simulate_slot};
use autopilot_core::ports::{Change, ChangeStatus, detail_type};
use autopilot_sim::fleet::demo_fleet;
use autopilot_sim::{DoNothing, SimConfig, SimReport, Simulation};

#[test]
fn the_deployed_steps_remove_cold_starts_of_the_demo_fleet_through_the_simulators_ports() {
    let cfg = SimConfig { seed: 5, minutes: 1_440, ..SimConfig::default() };
    let baseline = Simulation::new(cfg.clone(), demo_fleet(12, 5), DoNothing).run(&mut |_, _| {});
    let mut sim = Simulation::new(cfg, demo_fleet(12, 5), DeployedSteps::new(simulate_policy()));
    sim.run_all(&mut |_, _| {});
    assert!(sim.autopilot.error.is_none(), "{:?}", sim.autopilot.error);
    let changes = sim.changes.all();
    let events = sim.events.events();
    let ours = sim.finish();
    let busy = |r: &SimReport| -> u64 {
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

/// The deployed memory runs keep what each size showed on earlier days (the tuner's
/// look-back, in the run store), so they end where the slot that keeps it in memory ends.
/// Starting every run from one day of stats, they ended elsewhere: `search-indexer` at 1,942 MB
/// against 2,176, `webhook-ingest` at 335 against 237, `thumbnail-gen` back at 256 against 320.
#[test]
fn the_deployed_memory_runs_remember_the_sizes_of_earlier_days_as_the_slot_does() {
    let names = ["thumbnail-gen", "search-indexer", "webhook-ingest"];
    let fleet = || demo_fleet(13, 1).into_iter().filter(|s| names.contains(&s.name.as_str())).collect::<Vec<_>>();
    let cfg = SimConfig { minutes: 7 * 1_440, ..SimConfig::default() };
    let mut deployed = Simulation::new(cfg.clone(), fleet(), DeployedSteps::new(simulate_policy()));
    deployed.run_all(&mut |_, _| {});
    assert!(deployed.autopilot.error.is_none(), "{:?}", deployed.autopilot.error);
    let slot = Simulation::new(cfg, fleet(), simulate_slot(true)).run(&mut |_, _| {});
    let ends = |r: &SimReport| r.functions.iter().map(|f| (f.name.clone(), f.memory_end_mb)).collect::<Vec<_>>();
    let deployed = deployed.finish();
    assert_eq!(ends(&deployed), ends(&slot));
    assert!(ends(&slot).iter().zip(&deployed.functions).all(|((_, end), f)| *end != f.memory_start_mb), "all moved");
}
