//! The extension counts the autopilot's warm-up calls like any other invocation: the
//! concurrency steps record the rounds they send, and the forecast takes them back out of the
//! stats (`autopilot_core::planner::acts`).

use std::collections::BTreeMap;

use autopilot_core::forecast::{Forecast, ModelKind, Quantiles, SlotForecast};
use autopilot_core::observe::{MinuteLoad, WindowSummary};
use autopilot_core::policy::{ConcurrencyPolicy, Mode, Policy};
use autopilot_core::ports::{ActRecord, RunStore, StoredForecast};
use autopilot_core::{FunctionRef, Minute};
use autopilot_runner::contract::{At, BatchInput, RunKind, Window};
use autopilot_runner::fakes::{FakeFunction, InMemoryFleet, InMemoryRunStore};
use autopilot_runner::forecast::forecast_origin;
use autopilot_runner::{ConcurrencyPorts, apply_concurrency_batch, forecast_batch};
use autopilot_sim::block_on;
use autopilot_sim::fakes::{InMemoryChangeLog, InMemoryEventSink, InMemoryLease};

/// 2026-11-27T03:02Z: a concurrency run's minute.
const NOW: Minute = Minute(29_929_142);

fn f(name: &str) -> FunctionRef {
    FunctionRef::parse(name).unwrap()
}

fn batch(functions: Vec<FunctionRef>) -> BatchInput {
    BatchInput {
        run: RunKind::Concurrency,
        policy: Policy {
            mode: Mode::Autopilot,
            concurrency: ConcurrencyPolicy { keep_warm: true, ..ConcurrencyPolicy::default() },
            ..Policy::default()
        },
        execution_id: format!("concurrency-{}", NOW.0),
        now: At(NOW),
        window: Window { from: At(NOW.plus(-1_440)), to: At(NOW) },
        functions,
        batch: None,
    }
}

/// A day of a function called once an hour, kept warm by one warm-up call every 5 minutes:
/// the stats hold both (one call a minute at most, so a minute is either).
fn stats_of_an_hourly_function_kept_warm(function: &FunctionRef, to: Minute) -> (WindowSummary, Vec<ActRecord>) {
    let from = to.plus(-1_440);
    let mut load = Vec::new();
    let mut acts = Vec::new();
    for m in from.0..to.0 {
        let caller = m % 60 == 0;
        let round = m % 5 == 2;
        if caller || round {
            load.push(MinuteLoad {
                minute: Minute(m),
                invocations: 1,
                concurrency: 0.2 / 60.0,
                environments: 1,
                cold_starts: 0,
            });
        }
        if round {
            acts.push(ActRecord {
                function: function.clone(),
                minute: Minute(m),
                provisioned: 0,
                warm_sent: 1,
                warm_cold: 0,
                warm_failed: 0,
                warm_hold_ms: 0,
            });
        }
    }
    (WindowSummary { function: function.clone(), from, to, by_memory: BTreeMap::new(), load }, acts)
}

#[test]
fn the_forecast_does_not_take_the_autopilots_own_warm_up_calls_for_traffic() {
    let store = InMemoryRunStore::default();
    // `recorded` has the rounds on record; `unrecorded` the same stats without them.
    let (recorded, unrecorded) = (f("hourly"), f("hourly-unrecorded"));
    for function in [&recorded, &unrecorded] {
        let (summary, acts) = stats_of_an_hourly_function_kept_warm(function, NOW);
        block_on(store.put_summary(&summary)).unwrap();
        if function == &recorded {
            for a in &acts {
                block_on(store.put_act(a)).unwrap();
            }
        }
    }
    let input = batch(vec![recorded.clone(), unrecorded.clone()]);
    let out = block_on(forecast_batch(&store, &input)).unwrap();
    assert_eq!(out.forecasts, 2);
    let origin = forecast_origin(NOW, input.policy.concurrency.slot_minutes);
    let mean = |function: &FunctionRef| {
        let stored = block_on(store.get_forecast(function, origin)).unwrap().unwrap();
        stored.forecast.slots.iter().map(|s| s.mean_per_minute).sum::<f64>() / stored.forecast.slots.len() as f64
    };
    // One call an hour is 0.017 a minute; with the rounds 0.217.
    let (ours, polluted) = (mean(&recorded), mean(&unrecorded));
    assert!(ours < 0.05, "calls a minute forecast from the callers alone: {ours:.3}");
    assert!(polluted > 0.15, "the rounds counted as calls: {polluted:.3}");
}

#[test]
fn apply_records_the_round_it_sent_and_the_next_forecast_sees_it() {
    let store = InMemoryRunStore::default();
    let function = f("hourly");
    let (summary, _) = stats_of_an_hourly_function_kept_warm(&function, NOW);
    block_on(store.put_summary(&summary)).unwrap();
    let input = batch(vec![function.clone()]);
    block_on(forecast_batch(&store, &input)).unwrap();

    let fleet = InMemoryFleet::default();
    fleet.add("hourly", FakeFunction::new(512));
    let (changes, events, lease) =
        (InMemoryChangeLog::default(), InMemoryEventSink::default(), InMemoryLease::default());
    let ports = ConcurrencyPorts { control: &fleet, changes: &changes, events: &events, lease: &lease, store: &store };
    let out = block_on(apply_concurrency_batch(&ports, &input)).unwrap();
    let sent = fleet.writes().warm_calls;
    assert!(sent > 0 && out.warmed.len() == 1, "an hourly function is worth keeping warm: {out:?}");

    let acts = block_on(store.get_acts(&function, NOW, NOW.plus(1))).unwrap();
    assert_eq!(acts.len(), 1);
    assert_eq!((acts[0].minute, acts[0].warm_sent, acts[0].provisioned), (NOW, sent, 0));
    // The next run's forecast knows the round keeps its top level warm.
    let next = At(NOW.plus(5));
    block_on(store.put_summary(&stats_of_an_hourly_function_kept_warm(&function, next.0).0)).unwrap();
    let input = BatchInput { now: next, window: Window { from: At(next.0.plus(-1_440)), to: next }, ..input };
    block_on(forecast_batch(&store, &input)).unwrap();
    let stored = block_on(store.get_forecast(&function, forecast_origin(next.0, 5))).unwrap().unwrap();
    assert_eq!(stored.warm_top, sent);
}

#[test]
fn with_a_cap_the_money_the_rounds_spent_in_the_window_stops_the_next_rounds() {
    let store = InMemoryRunStore::default();
    let (wasteful, fresh) = (f("steady"), f("steady-fresh"));
    let (from, to) = (NOW.plus(-1_440), NOW);
    for function in [&wasteful, &fresh] {
        let mut load = Vec::new();
        for m in from.0..to.0 {
            // Five calls a minute; for `steady`, a round of three every 5 minutes, every call of
            // it landing on a reclaimed environment (the stats count them with the callers').
            let round = function == &wasteful && m % 5 == 2;
            let (calls, cold) = if round { (8, 3) } else { (5, 0) };
            load.push(MinuteLoad {
                minute: Minute(m),
                invocations: calls,
                concurrency: 0.02,
                environments: 3,
                cold_starts: cold,
            });
            if round {
                let act = ActRecord {
                    function: function.clone(),
                    minute: Minute(m),
                    provisioned: 0,
                    warm_sent: 3,
                    warm_cold: 3,
                    warm_failed: 0,
                    warm_hold_ms: 50,
                };
                block_on(store.put_act(&act)).unwrap();
            }
        }
        let summary = WindowSummary { function: function.clone(), from, to, by_memory: BTreeMap::new(), load };
        block_on(store.put_summary(&summary)).unwrap();
    }
    let mut input = batch(vec![wasteful.clone(), fresh.clone()]);
    input.policy.concurrency.max_extra_cost_pct = Some(5.0);
    block_on(forecast_batch(&store, &input)).unwrap();
    let origin = forecast_origin(NOW, 5);
    let spend =
        |function: &FunctionRef| block_on(store.get_forecast(function, origin)).unwrap().unwrap().spend.unwrap();
    assert_eq!((spend(&wasteful).held_pings, spend(&wasteful).pings_cold), (864.0, 864.0));
    assert_eq!(spend(&wasteful).invocations, spend(&fresh).invocations, "the rounds are not counted as calls");

    let fleet = InMemoryFleet::default();
    fleet.add("steady", FakeFunction::new(512));
    fleet.add("steady-fresh", FakeFunction::new(512));
    let (changes, events, lease) =
        (InMemoryChangeLog::default(), InMemoryEventSink::default(), InMemoryLease::default());
    let ports = ConcurrencyPorts { control: &fleet, changes: &changes, events: &events, lease: &lease, store: &store };
    let out = block_on(apply_concurrency_batch(&ports, &input)).unwrap();
    let warmed: Vec<&str> = out.warmed.iter().map(|w| w.target.name()).collect();
    assert_eq!(warmed, vec!["steady-fresh"], "within the cap a round goes out; over it, none: {out:?}");
}

#[test]
fn a_round_warms_for_the_slot_that_starts_before_the_next_round() {
    // A run two minutes into an idle slot; the next slot, which starts before the next run
    // (every `keepWarmPeriodMinutes`, 4), brings a batch.
    let store = InMemoryRunStore::default();
    let function = f("batches");
    let origin = forecast_origin(NOW, 5);
    assert_eq!(NOW.0 - origin.0, 2);
    let slot = |k: i64, per_minute: f64| SlotForecast {
        start: origin.plus(5 * k),
        invocations_per_minute: Quantiles([per_minute; 6]),
        mean_per_minute: per_minute,
    };
    let forecast = Forecast {
        origin,
        slot_minutes: 5,
        model: ModelKind::Daily,
        history_minutes: 2 * 1_440,
        mean_duration_ms: Some(1_000.0),
        slots: vec![slot(0, 0.0), slot(1, 120.0), slot(2, 0.0)],
        recent_environments: Vec::new(),
    };
    let stored = StoredForecast {
        function: function.clone(),
        forecast,
        init_ms: Some(900.0),
        idle_evidence: None,
        warm_top: 0,
        spend: None,
    };
    block_on(store.put_forecast(&stored)).unwrap();

    let fleet = InMemoryFleet::default();
    fleet.add("batches", FakeFunction::new(512));
    let (changes, events, lease) =
        (InMemoryChangeLog::default(), InMemoryEventSink::default(), InMemoryLease::default());
    let ports = ConcurrencyPorts { control: &fleet, changes: &changes, events: &events, lease: &lease, store: &store };
    let out = block_on(apply_concurrency_batch(&ports, &batch(vec![function.clone()]))).unwrap();
    // Two calls a second for a second each: a few environments at once, all of them needed
    // from the batch's first minute, which comes before the next round.
    let sent = out.warmed.first().map_or(0, |w| w.sent);
    assert!(sent >= 3, "the round warms for the batch: {out:?}");
    let acts = block_on(store.get_acts(&function, NOW, NOW.plus(1))).unwrap();
    assert_eq!(acts[0].warm_sent, sent);
}
