//! Each handler with in-memory fakes, fed from the samples in `events/`: what it changes,
//! records and publishes in each mode; a second identical run changes nothing; a regression
//! is rolled back inline; rollback restores what the change log recorded.

mod support;

use autopilot_core::policy::Mode;
use autopilot_core::ports::{Change, ChangeLog, ChangeStatus, detail_type, error_name};
use autopilot_core::{FunctionRef, MemoryMb, Minute};
use autopilot_runner::contract::{BatchInput, CollectInput, Outcome, RollbackInput, RunKind, SkipReason};
use autopilot_runner::fakes::{FakeFunction, Steady};
use support::{World, block_on, collect_input_for, f, sample};

fn mb(v: u64) -> MemoryMb {
    MemoryMb::new(v).unwrap()
}

/// A day of traffic before `to` for `resource` (`name:version`).
fn day(w: &World, resource: &str, to: Minute, traffic: Steady) {
    w.fleet.add_stats(traffic.minutes(&f(resource), to.plus(-Minute::PER_DAY), Minute::PER_DAY));
}

#[test]
fn collect_summarises_the_opted_in_fleet_and_batches_it() {
    let input: CollectInput = sample("collect-input.json");
    let now = input.now.0;
    let w = World::default();
    w.add("orders-api", FakeFunction::new(1024));
    w.add("thumbnailer", FakeFunction::new(512).with_alias("live"));
    w.add("quiet", FakeFunction::new(256));
    let mut hidden = FakeFunction::new(256);
    hidden.tags.clear();
    w.add("not-opted-in", hidden);
    day(&w, "orders-api:$LATEST", now, Steady::new(1024, 20, 120.0));
    day(&w, "thumbnailer:1", now, Steady::new(512, 5, 800.0));
    day(&w, "not-opted-in:$LATEST", now, Steady::new(256, 5, 10.0));
    // `quiet` has no extension: CloudWatch has 3 hours of it.
    w.metrics.minutes.lock().unwrap().extend(Steady::new(256, 2, 30.0).minutes(&f("quiet"), now.plus(-180), 180));

    let out = w.collect(input.clone()).unwrap();
    assert_eq!(out.batches, vec![vec![f("orders-api"), f("quiet"), f("thumbnailer")]]);
    assert_eq!((out.collected.functions, out.collected.from_stats, out.collected.from_metrics), (3, 2, 1));
    assert_eq!((out.window.from.0, out.window.to.0), (now.plus(-1_440), now));
    let summary = |name: &str| {
        block_on(autopilot_core::ports::RunStore::get_summary(&w.store, &f(name), now.plus(-1_440), now))
            .unwrap()
            .unwrap()
    };
    assert_eq!(summary("orders-api").total().invocations, 20 * 1_440);
    assert_eq!(summary("thumbnailer").total().invocations, 5 * 1_440, "read under the alias's version");
    assert_eq!(summary("quiet").total().invocations, 2 * 180);
    assert_eq!(w.store.summary_count(), 3);

    // Small batches; a concurrency run with a list skips what does not exist and never reads CloudWatch.
    let out = w.collect(CollectInput { batch_size: Some(2), ..input.clone() }).unwrap();
    assert_eq!(out.batches.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    let listed: CollectInput = sample("collect-input-functions.json");
    w.add("payments-webhook", FakeFunction::new(128));
    let out = w
        .collect(CollectInput { run: RunKind::Concurrency, functions: Some(vec![f("quiet"), f("gone")]), ..listed })
        .unwrap();
    assert_eq!((out.batches.len(), out.collected.from_metrics, out.collected.without_data), (1, 0, 1));

    let err = w.collect(CollectInput { batch_size: Some(0), ..input }).unwrap_err();
    assert_eq!(err.error_name(), error_name::INVALID_INPUT);
}

#[test]
fn forecast_stores_a_forecast_per_function() {
    let input: BatchInput = sample("forecast-input.json");
    let now = input.now.0;
    let w = World::default();
    w.add("orders-api", FakeFunction::new(1024).with_alias("live"));
    w.add("payments-webhook", FakeFunction::new(256));
    day(&w, "orders-api:1", now, Steady::new(1024, 300, 1_000.0));
    w.collect(collect_input_for(&input)).unwrap();
    let out = w.forecast(input.clone()).unwrap();
    assert_eq!(out.forecasts, 2);
    // A window without items is a day without traffic (the extension writes nothing when
    // idle), not a function without history: it is forecast idle.
    assert!(out.without_history.is_empty());
    let origin = autopilot_runner::forecast::forecast_origin(now, input.policy.concurrency.slot_minutes);
    let idle = block_on(autopilot_core::ports::RunStore::get_forecast(&w.store, &f("payments-webhook"), origin))
        .unwrap()
        .unwrap();
    assert!(idle.forecast.slots.iter().all(|s| s.invocations_per_minute.p99() == 0.0), "{:?}", idle.forecast.slots[0]);
    let stored =
        block_on(autopilot_core::ports::RunStore::get_forecast(&w.store, &f("orders-api"), origin)).unwrap().unwrap();
    assert_eq!(stored.forecast.slots.len(), 12);
    let p50 = stored.forecast.slots[0].invocations_per_minute.p50();
    assert!((250.0..350.0).contains(&p50), "300 a minute forecast as {p50}");
    assert!(stored.init_ms.is_some_and(|ms| (ms - 150.0).abs() < 5.0));

    let mut wrong = input.clone();
    wrong.run = RunKind::Memory;
    assert_eq!(w.forecast(wrong).unwrap_err().error_name(), error_name::INVALID_INPUT);
    let mut missing = input;
    missing.functions = vec![f("never-collected")];
    assert_eq!(w.forecast(missing).unwrap().skipped[0].reason, SkipReason::NoSummary);
}

/// orders-api (no alias) runs out of memory headroom at 256 MB; thumbnailer (alias `live`)
/// too: the tuner moves both up, directly and through a canary.
fn tight_fleet(input: &BatchInput) -> World {
    let now = input.now.0;
    let w = World::default();
    w.add("orders-api", FakeFunction::new(256));
    w.add("thumbnailer", FakeFunction::new(256).with_alias("live"));
    let tight = Steady { memory_used_mb: 240.0, ..Steady::new(256, 30, 200.0) };
    day(&w, "orders-api:$LATEST", now, tight);
    day(&w, "thumbnailer:1", now, tight);
    w
}

#[test]
fn tune_memory_applies_once_and_a_second_run_changes_nothing() {
    let input: BatchInput = sample("tune-memory-input.json");
    let w = tight_fleet(&input);
    w.collect(collect_input_for(&input)).unwrap();
    let out = w.tune(input.clone()).unwrap();
    assert_eq!((out.mode, out.evaluated, out.results.len()), (Mode::Autopilot, 2, 2), "{out:?}");
    let orders = out.results.iter().find(|r| r.function == f("orders-api")).unwrap();
    assert_eq!((orders.outcome, orders.from), (Outcome::Applied, mb(256)));
    assert!(orders.to > mb(256));
    assert_eq!(w.fleet.function("orders-api").unwrap().latest_memory, orders.to);
    let thumb = out.results.iter().find(|r| r.function == f("thumbnailer")).unwrap();
    let live = w.fleet.function("thumbnailer").unwrap().aliases["live"].clone();
    assert_eq!(live.version, "1", "the primary keeps its version");
    let (canary, weight) = live.canary.clone().expect("a canary version takes part of the traffic");
    assert_eq!((canary.as_str(), weight), ("2", 0.1));
    assert_eq!(w.fleet.function("thumbnailer").unwrap().versions[1], thumb.to);
    // Recorded before applied, marked applied; one event per change.
    for name in ["orders-api", "thumbnailer"] {
        let h = block_on(w.changes.history(&f(name), 10)).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(
            (h[0].id.as_str(), h[0].status),
            (format!("{}#{name}#memory", input.execution_id).as_str(), ChangeStatus::Applied)
        );
        assert!(matches!(h[0].change, Change::Memory { from, .. } if from == mb(256)));
    }
    let events = w.events.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.detail_type == detail_type::MEMORY_CHANGED && e.at == input.now.0));

    // A retried step: nothing written, nothing published.
    let writes = w.fleet.writes();
    let again = w.tune(input).unwrap();
    assert!(again.results.iter().all(|r| r.outcome == Outcome::AlreadyThere), "{again:?}");
    assert_eq!(w.fleet.writes(), writes);
    assert_eq!(w.events.len(), 2);
}

#[test]
fn recommend_mode_publishes_recommendations_and_changes_nothing() {
    let mut input: BatchInput = sample("tune-memory-input.json");
    input.policy.mode = Mode::Recommend;
    let w = tight_fleet(&input);
    w.collect(collect_input_for(&input)).unwrap();
    let out = w.tune(input.clone()).unwrap();
    assert_eq!(out.results.len(), 2);
    assert!(out.results.iter().all(|r| r.outcome == Outcome::Recommended));
    assert_eq!(w.fleet.writes(), Default::default());
    assert!(w.changes.all().is_empty());
    assert!(
        w.events.events().iter().all(|e| e.detail_type == detail_type::RECOMMENDATION && e.mode == Mode::Recommend)
    );
    assert_eq!(w.events.len(), 2);
    // Observe: not even a decision.
    input.policy.mode = Mode::Observe;
    assert_eq!(w.tune(input).unwrap().evaluated, 0);
    assert_eq!(w.events.len(), 2);
}

#[test]
fn a_regression_is_rolled_back_inline_and_rollback_finds_it_done() {
    let day1: BatchInput = sample("tune-memory-input.json");
    let w = tight_fleet(&day1);
    w.collect(collect_input_for(&day1)).unwrap();
    let first = w.tune(day1.clone()).unwrap();
    let to = first.results.iter().find(|r| r.function == f("orders-api")).unwrap().to;
    // The next day at the new size: 5% of invocations fail.
    let mut day2 = day1.clone();
    day2.execution_id = "memory-2026-11-28T03-00".into();
    day2.now = autopilot_runner::contract::At(day1.now.0.plus(Minute::PER_DAY));
    day2.window = autopilot_runner::contract::Window { from: day1.window.to, to: day2.now };
    day2.functions = vec![f("orders-api")];
    day(
        &w,
        "orders-api:$LATEST",
        day2.now.0,
        Steady { errors: 2, memory_used_mb: 200.0, ..Steady::new(to.get(), 40, 150.0) },
    );
    w.collect(collect_input_for(&day2)).unwrap();
    let out = w.tune(day2.clone()).unwrap();
    assert_eq!(out.rolled_back, vec![f("orders-api")], "{out:?}");
    assert_eq!(w.fleet.function("orders-api").unwrap().latest_memory, mb(256));
    let h = block_on(w.changes.history(&f("orders-api"), 10)).unwrap();
    assert!(matches!(&h[0].change, Change::Rollback { of_change } if of_change == &h[1].id));
    assert_eq!((h[0].status, h[1].status), (ChangeStatus::Applied, ChangeStatus::RolledBack));
    assert!(h[0].reason["ban"].is_object(), "the rollback leaves a ban behind: {}", h[0].reason);
    assert!(w.events.events().iter().any(|e| e.detail_type == detail_type::ROLLED_BACK));

    // A manual rollback to the last known good configuration afterwards: already there.
    let manual: RollbackInput = sample("rollback-input.json");
    let out = w.rollback(manual).unwrap();
    assert_eq!((out.outcome, out.restored.memory), (Outcome::AlreadyThere, mb(256)));
}

#[test]
fn apply_concurrency_sets_pc_on_the_alias_once() {
    let input: BatchInput = sample("apply-concurrency-input.json");
    let now = input.now.0;
    let w = World::default();
    w.add("orders-api", FakeFunction::new(1024).with_alias("live"));
    w.add("payments-webhook", FakeFunction::new(256));
    // Ten busy environments all day: the levels busy above break-even pay for PC.
    day(&w, "orders-api:1", now, Steady::new(1024, 600, 1_000.0));
    day(&w, "payments-webhook:$LATEST", now, Steady::new(256, 1, 50.0));
    w.collect(collect_input_for(&input)).unwrap();
    w.forecast(input.clone()).unwrap();
    let out = w.apply(input.clone()).unwrap();
    let live = f("orders-api:live");
    let r = out.results.iter().find(|r| r.target == live).expect("PC planned on the alias");
    assert_eq!((r.from, r.outcome), (0, Outcome::Applied));
    assert!((5..=20).contains(&r.to), "PC {} for ten busy environments, capped at 20", r.to);
    assert_eq!(w.fleet.function("orders-api").unwrap().provisioned["live"], r.to);
    assert!(w.fleet.function("payments-webhook").unwrap().provisioned.is_empty(), "no alias, no PC");
    let h = block_on(w.changes.history(&live, 5)).unwrap();
    assert_eq!(h[0].id, format!("{}#orders-api:live#provisioned", input.execution_id));
    assert_eq!((h[0].status, &h[0].change), (ChangeStatus::Applied, &Change::Provisioned { from: 0, to: r.to }));
    assert!(w.events.events().iter().any(|e| e.detail_type == detail_type::CONCURRENCY_CHANGED && e.function == live));

    let pc_writes = |w: &World| (w.fleet.writes().put_provisioned, w.fleet.writes().delete_provisioned);
    let before = pc_writes(&w);
    let again = w.apply(input.clone()).unwrap();
    assert!(again.results.iter().all(|r| r.outcome == Outcome::AlreadyThere), "{again:?}");
    assert_eq!(pc_writes(&w), before);

    // The manual rollback sample undoes exactly this change (its id names this execution).
    let undo: RollbackInput = sample("rollback-input-change.json");
    assert_eq!(undo.function, live);
    let out = w.rollback(undo.clone()).unwrap();
    assert_eq!((out.outcome, out.change_id.as_str()), (Outcome::Applied, h[0].id.as_str()));
    assert!(w.fleet.function("orders-api").unwrap().provisioned.is_empty());
    assert_eq!(w.rollback(undo).unwrap().outcome, Outcome::AlreadyThere);
    let h = block_on(w.changes.history(&live, 5)).unwrap();
    assert_eq!(h.iter().find(|r| r.id == out.change_id).unwrap().status, ChangeStatus::RolledBack);
}

#[test]
fn apply_concurrency_recommends_without_acting() {
    let mut input: BatchInput = sample("apply-concurrency-input.json");
    input.policy.mode = Mode::Recommend;
    let w = World::default();
    w.add("orders-api", FakeFunction::new(1024).with_alias("live"));
    day(&w, "orders-api:1", input.now.0, Steady::new(1024, 600, 1_000.0));
    input.functions = vec![f("orders-api")];
    w.collect(collect_input_for(&input)).unwrap();
    w.forecast(input.clone()).unwrap();
    let out = w.apply(input).unwrap();
    assert_eq!(out.results.len(), 1);
    assert_eq!(out.results[0].outcome, Outcome::Recommended);
    assert_eq!(w.fleet.writes(), Default::default());
    assert_eq!(w.events.events()[0].detail_type, detail_type::RECOMMENDATION);
}

#[test]
fn rollback_without_a_recorded_change_is_invalid_input() {
    let w = World::default();
    w.add("orders-api", FakeFunction::new(1024));
    let err = w.rollback(sample("rollback-input.json")).unwrap_err();
    assert_eq!(err.error_name(), error_name::INVALID_INPUT);
    let _: FunctionRef = f("orders-api");
}

/// Each function reads exactly its `VARS`: with all of them set it starts, without any
/// required one it names it, and a malformed value is refused.
#[test]
fn each_function_reads_exactly_its_variables() {
    use std::collections::HashMap;

    use autopilot_lambda::config::{CONTROL_TABLE, EVENT_BUS, LOG_LEVEL, OPT_IN_TAG, STATS_TABLE};

    fn check<C: std::fmt::Debug, E: std::fmt::Display>(
        vars: &[&str],
        required: &[&str],
        build: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<C, E>,
    ) {
        let all: HashMap<&str, &str> = vars.iter().map(|v| (*v, if *v == LOG_LEVEL { "debug" } else { "x" })).collect();
        let seen = std::cell::RefCell::new(Vec::new());
        let lookup = |k: &str| {
            seen.borrow_mut().push(k.to_owned());
            all.get(k).map(|v| (*v).to_owned())
        };
        build(&lookup).unwrap_or_else(|e| panic!("{vars:?}: {e}"));
        let mut read = seen.borrow().clone();
        read.sort();
        read.dedup();
        let mut expected: Vec<String> = vars.iter().map(|v| (*v).to_owned()).collect();
        expected.sort();
        assert_eq!(read, expected, "reads exactly VARS");
        for r in required {
            let without = |k: &str| if k == *r { None } else { all.get(k).map(|v| (*v).to_owned()) };
            let e = build(&without).unwrap_err().to_string();
            assert!(e.contains(r), "{e}");
        }
        let bad_level =
            |k: &str| if k == LOG_LEVEL { Some("loud".to_owned()) } else { all.get(k).map(|v| (*v).to_owned()) };
        assert!(build(&bad_level).unwrap_err().to_string().contains(LOG_LEVEL));
    }
    check(autopilot_collect::Config::VARS, &[STATS_TABLE, CONTROL_TABLE], |l| {
        autopilot_collect::Config::from_lookup(l)
    });
    check(autopilot_forecast::Config::VARS, &[CONTROL_TABLE], |l| autopilot_forecast::Config::from_lookup(l));
    check(autopilot_tune_memory::Config::VARS, &[CONTROL_TABLE], |l| autopilot_tune_memory::Config::from_lookup(l));
    check(autopilot_apply_concurrency::Config::VARS, &[CONTROL_TABLE], |l| {
        autopilot_apply_concurrency::Config::from_lookup(l)
    });
    check(autopilot_rollback::Config::VARS, &[CONTROL_TABLE], |l| autopilot_rollback::Config::from_lookup(l));
    assert!(autopilot_collect::Config::VARS.contains(&OPT_IN_TAG));
    assert!(autopilot_rollback::Config::VARS.contains(&EVENT_BUS));
    // Defaults.
    let c = autopilot_collect::Config::from_lookup(|k: &str| {
        [STATS_TABLE, CONTROL_TABLE].contains(&k).then(|| "t".to_owned())
    })
    .unwrap();
    assert_eq!((c.opt_in_tag.as_str(), c.log_level), ("autopilot", autopilot_lambda::LogLevel::Info));
    let r = autopilot_rollback::Config::from_lookup(|k: &str| (k == CONTROL_TABLE).then(|| "t".to_owned())).unwrap();
    assert_eq!(r.event_bus, "default");
}
