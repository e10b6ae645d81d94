use autopilot_core::observe::{LoadWindow, WindowSummary};
use autopilot_core::ports::{AliasRouting, ErrorKind, FunctionControl, PcStatus, StatsStore};
use autopilot_core::{Concurrency, FunctionRef, MemoryMb, Minute};

use super::SimControl;
use crate::fleet::{OPT_IN_TAG, demo_fleet};
use crate::{SimConfig, World, block_on};

fn world() -> World {
    let cfg = SimConfig { stats_retention_minutes: 120, ..SimConfig::default() };
    World::new(cfg, demo_fleet(12, 1))
}

fn f(s: &str) -> FunctionRef {
    FunctionRef::parse(s).unwrap()
}

#[test]
fn the_control_plane_behaves_like_lambdas() {
    let mut w = world();
    let c = SimControl::new(&mut w);
    let all = block_on(c.list_functions(OPT_IN_TAG)).unwrap();
    assert_eq!(all.len(), 12);
    assert!(block_on(c.list_functions("other-tag")).unwrap().is_empty());
    let api = block_on(c.get_function(&f("checkout-api"))).unwrap();
    assert_eq!(api.aliases[0].name, "live");
    assert_eq!(block_on(c.get_function(&f("nope"))).unwrap_err().kind, ErrorKind::NotFound);

    block_on(c.set_memory(&f("checkout-api"), MemoryMb::new(512).unwrap())).unwrap();
    assert_eq!(block_on(c.get_function(&f("checkout-api"))).unwrap().memory.get(), 512);
    assert_eq!(
        block_on(c.set_memory(&f("checkout-api:live"), MemoryMb::MIN)).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    let v = block_on(c.publish_version(&f("checkout-api"))).unwrap();
    assert_eq!(v, "2");
    let canary = AliasRouting { version: "1".into(), canary: Some((v.clone(), 0.1)) };
    block_on(c.set_alias(&f("checkout-api:live"), &canary)).unwrap();
    let bad = AliasRouting { version: "9".into(), canary: None };
    assert_eq!(block_on(c.set_alias(&f("checkout-api:live"), &bad)).unwrap_err().kind, ErrorKind::NotFound);

    let pc_err = block_on(c.put_provisioned(&f("checkout-api"), Concurrency::new(3).unwrap())).unwrap_err();
    assert_eq!(pc_err.kind, ErrorKind::InvalidInput, "not on $LATEST");
    block_on(c.put_provisioned(&f("checkout-api:live"), Concurrency::new(3).unwrap())).unwrap();
    let pc = block_on(c.get_provisioned(&f("checkout-api:live"))).unwrap().unwrap();
    assert_eq!((pc.requested.get(), pc.allocated.get(), pc.status), (3, 0, PcStatus::InProgress));
    block_on(c.delete_provisioned(&f("checkout-api:live"))).unwrap();
    assert!(block_on(c.get_provisioned(&f("checkout-api:live"))).unwrap().is_none());

    let out = block_on(c.warm(&f("audit-log"), 4, 100)).unwrap();
    assert_eq!((out.sent, out.landed_cold), (4, 4), "no environment exists yet: every warm-up is a cold start");
    let again = block_on(c.warm(&f("audit-log"), 6, 100)).unwrap();
    assert_eq!(again.landed_cold, 6, "the first four are still busy (held 100 ms): six more environments start");
    assert_eq!(w.function("checkout-api").unwrap().decisions, 4, "memory, alias, PC on, PC off");
    let audit = w.function("audit-log").unwrap();
    assert_eq!((audit.totals.invocations, audit.totals.cold_starts), (10, 10), "warm-ups are invocations");
}

#[test]
fn provisioned_concurrency_becomes_ready_after_the_allocation_delay_and_serves() {
    let mut sim =
        crate::Simulation::new(SimConfig { minutes: 10, ..SimConfig::default() }, demo_fleet(12, 1), crate::DoNothing);
    {
        let c = SimControl::new(&mut sim.world);
        block_on(c.put_provisioned(&f("checkout-api:live"), Concurrency::new(40).unwrap())).unwrap();
    }
    for _ in 0..3 {
        sim.step_minute();
    }
    let c = SimControl::new(&mut sim.world);
    let pc = block_on(c.get_provisioned(&f("checkout-api:live"))).unwrap().unwrap();
    assert_eq!((pc.allocated.get(), pc.status), (40, PcStatus::Ready));
    let report = sim.finish();
    let api = report.functions.iter().find(|r| r.name == "checkout-api").unwrap();
    assert!(api.cost.pc_allocated > 0.0 && api.cost.pc_duration > 0.0, "{:?}", api.cost);
}

#[test]
fn stats_store_reads_the_simulated_minutes() {
    let mut sim = crate::Simulation::new(
        SimConfig { minutes: 30, stats_retention_minutes: 20, ..SimConfig::default() },
        demo_fleet(12, 1),
        crate::DoNothing,
    );
    for _ in 0..30 {
        sim.step_minute();
    }
    let start = sim.world.config.start;
    let c = SimControl::new(&mut sim.world);
    let items = block_on(c.read_minutes(&f("auth-edge"), start, start.plus(30))).unwrap();
    assert_eq!(items.len(), 21, "20 minutes of retention before the last one");
    assert!(items.iter().all(|i| i.minute >= start.plus(9) && i.counters.invocations > 0));
    let total: u64 = items.iter().map(|i| i.counters.invocations).sum();
    assert_eq!(items.iter().map(|i| i.counters.duration.count()).sum::<u64>(), total);
    assert!(block_on(c.read_minutes(&f("nope"), Minute(0), Minute(1))).is_err());
    // The load and summary reads give what the core makes of the same items.
    let (from, to) = (start.plus(12), start.plus(25));
    let items = block_on(c.read_minutes(&f("auth-edge"), from, to)).unwrap();
    let load = block_on(c.read_load(&f("auth-edge"), from, to)).unwrap();
    assert_eq!(load, LoadWindow::from_minutes(&items));
    assert_eq!(load.load.len(), 13);
    let summary = block_on(c.read_summary(&f("auth-edge"), from, to)).unwrap();
    assert_eq!(summary, WindowSummary::from_minutes(f("auth-edge"), from, to, &items).0);
    let qualified = block_on(c.read_summary(&f("auth-edge:live"), from, to)).unwrap();
    assert_eq!(qualified, WindowSummary::from_minutes(f("auth-edge:live"), from, to, &items).0);
    assert!(qualified.by_memory.is_empty());
}

#[test]
fn a_qualifier_reports_the_memory_of_its_version() {
    let mut w = world();
    let c = SimControl::new(&mut w);
    // checkout-api:live points at version 1 (1,769 MB); $LATEST moves to 512 MB.
    block_on(c.set_memory(&f("checkout-api"), MemoryMb::new(512).unwrap())).unwrap();
    assert_eq!(block_on(c.get_function(&f("checkout-api"))).unwrap().memory.get(), 512);
    assert_eq!(block_on(c.get_function(&f("checkout-api:live"))).unwrap().memory.get(), 1769);
    assert_eq!(block_on(c.get_function(&f("checkout-api:1"))).unwrap().memory.get(), 1769);
    assert_eq!(block_on(c.get_function(&f("checkout-api:7"))).unwrap_err().kind, ErrorKind::NotFound);
}
