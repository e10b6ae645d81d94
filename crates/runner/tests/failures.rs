//! A resource that is missing is not always the function: only a function that no longer
//! exists is skipped. A change applied and then a missing event bus (or table) fails the
//! batch, so the state machine undoes the change instead of reporting the function as gone.

use std::future::{Future, ready};

use autopilot_core::policy::{Mode, Policy};
use autopilot_core::ports::{ChangeLog, ChangeStatus, DecisionEvent, ErrorKind, EventSink, PortError, PortResult};
use autopilot_core::{FunctionRef, MemoryMb, Minute};
use autopilot_runner::contract::{At, BatchInput, CollectInput, RunKind, SkipReason};
use autopilot_runner::fakes::{FakeFunction, InMemoryFleet, InMemoryRunStore, NoMetrics, Steady};
use autopilot_runner::{CollectPorts, MemoryPorts, RunError, collect, tune_memory_batch};
use autopilot_sim::block_on;
use autopilot_sim::fakes::{InMemoryChangeLog, InMemoryLease};

/// 2026-11-27T03:00Z.
const NOW: Minute = Minute(29_929_140);

/// An event bus that does not exist.
#[derive(Debug)]
struct MissingBus;

impl EventSink for MissingBus {
    fn publish(&self, _: &[DecisionEvent]) -> impl Future<Output = PortResult<()>> + Send {
        ready(Err(PortError::new(ErrorKind::NotFound, "EventBridge.PutEvents", "Event bus no-such-bus does not exist")))
    }
}

fn f(name: &str) -> FunctionRef {
    FunctionRef::parse(name).unwrap()
}

/// A fleet with `orders` and `gone` out of memory headroom at 256 MB, summarised for a
/// memory run; then `gone` is deleted.
fn fleet(store: &InMemoryRunStore) -> (InMemoryFleet, BatchInput) {
    let fleet = InMemoryFleet::default();
    let tight = Steady { memory_used_mb: 240.0, ..Steady::new(256, 30, 200.0) };
    for name in ["orders", "gone"] {
        fleet.add(name, FakeFunction::new(256));
        fleet.add_stats(tight.minutes(&f(&format!("{name}:$LATEST")), NOW.plus(-1_440), 1_440));
    }
    let input = CollectInput {
        run: RunKind::Memory,
        policy: Policy { mode: Mode::Autopilot, ..Policy::default() },
        functions: Some(vec![f("orders"), f("gone")]),
        execution_id: "memory-1".to_owned(),
        now: At(NOW),
        batch_size: None,
        window_minutes: None,
    };
    let ports = CollectPorts { control: &fleet, stats: &fleet, metrics: &NoMetrics, store, opt_in_tag: "autopilot" };
    let out = block_on(collect(&ports, &input)).unwrap();
    // Deleted after collect summarised it.
    fleet.functions.lock().unwrap().remove("gone");
    let batch = BatchInput {
        run: out.run,
        policy: out.policy,
        execution_id: out.execution_id,
        now: out.now,
        window: out.window,
        functions: vec![f("orders"), f("gone")],
        batch: None,
    };
    (fleet, batch)
}

#[test]
fn a_missing_bus_after_a_change_fails_the_batch_and_a_missing_function_is_skipped() {
    let store = InMemoryRunStore::default();
    let (fleet, batch) = fleet(&store);
    let (changes, lease) = (InMemoryChangeLog::default(), InMemoryLease::default());
    let ports = MemoryPorts { control: &fleet, changes: &changes, events: &MissingBus, lease: &lease, store: &store };

    let err = block_on(tune_memory_batch(&ports, &batch)).unwrap_err();
    let RunError::Functions { failures, .. } = &err else { panic!("{err}") };
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!((failures[0].0.name(), failures[0].1.operation), ("orders", "EventBridge.PutEvents"));
    // The change was applied and is recorded as such: the undo branch finds it.
    let to = fleet.function("orders").unwrap().latest_memory;
    assert!(to > MemoryMb::new(256).unwrap());
    let history = block_on(changes.history(&f("orders"), 5)).unwrap();
    assert_eq!((history.len(), history[0].status), (1, ChangeStatus::Applied));

    // The function that does not exist, alone: skipped, not failed.
    let gone = BatchInput { functions: vec![f("gone")], ..batch };
    let out = block_on(tune_memory_batch(&ports, &gone)).unwrap();
    assert_eq!(out.skipped.len(), 1);
    assert_eq!(out.skipped[0].reason, SkipReason::NotFound);
}
