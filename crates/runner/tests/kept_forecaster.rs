//! The forecast step keeps each function's forecaster between runs (the model as fitted and
//! the bins it is refitted from): a run advances the kept model, a refit rewrites both, and
//! an old execution run again neither reads a model ahead of it nor overwrites what is kept.

use std::collections::BTreeMap;

use autopilot_core::forecast::ModelKind;
use autopilot_core::observe::{MinuteLoad, WindowSummary};
use autopilot_core::policy::{Mode, Policy};
use autopilot_core::ports::RunStore;
use autopilot_core::{FunctionRef, Minute};
use autopilot_runner::contract::{At, BatchInput, RunKind, Window};
use autopilot_runner::fakes::InMemoryRunStore;
use autopilot_runner::forecast::forecast_origin;
use autopilot_runner::forecast_batch;
use autopilot_sim::block_on;

/// 2026-11-27T03:02Z.
const NOW: Minute = Minute(29_929_142);

/// A day's summary to `to` of a function called `per_minute` times a minute.
fn summary(function: &FunctionRef, to: Minute, per_minute: u64) -> WindowSummary {
    let from = to.plus(-1_440);
    let load = (from.0..to.0)
        .map(|m| MinuteLoad {
            minute: Minute(m),
            invocations: per_minute,
            concurrency: 0.1,
            environments: 2,
            cold_starts: 0,
        })
        .collect();
    WindowSummary { function: function.clone(), from, to, by_memory: BTreeMap::new(), load }
}

fn run(store: &InMemoryRunStore, function: &FunctionRef, now: Minute, per_minute: u64) -> ModelKind {
    block_on(store.put_summary(&summary(function, now, per_minute))).unwrap();
    let input = BatchInput {
        run: RunKind::Concurrency,
        policy: Policy { mode: Mode::Autopilot, ..Policy::default() },
        execution_id: format!("concurrency-{}", now.0),
        now: At(now),
        window: Window { from: At(now.plus(-1_440)), to: At(now) },
        functions: vec![function.clone()],
        batch: None,
    };
    assert_eq!(block_on(forecast_batch(store, &input)).unwrap().forecasts, 1);
    let stored = block_on(store.get_forecast(function, forecast_origin(now, 5))).unwrap().expect("stored");
    assert_eq!(stored.forecast.origin, forecast_origin(now, 5), "the forecast is where apply looks for it");
    stored.forecast.model
}

#[test]
fn runs_advance_the_kept_model_and_refit_it_twice_a_day() {
    let store = InMemoryRunStore::default();
    let function = FunctionRef::parse("orders").unwrap();
    assert_eq!(run(&store, &function, NOW, 30), ModelKind::RecentLevel);
    assert_eq!(store.model_writes(), 1, "the first run fits and keeps the model");
    let history = block_on(store.get_history(&function)).unwrap().expect("kept");
    assert_eq!(history.end(), forecast_origin(NOW, 5));
    // A day of runs every 5 minutes: two refits at the function's times (steady traffic does
    // not surprise the model), each extending the history.
    for k in 1..=288 {
        run(&store, &function, NOW.plus(5 * k), 30);
    }
    assert_eq!(store.model_writes(), 3);
    let later = block_on(store.get_history(&function)).unwrap().expect("kept");
    assert!(later.end() > history.end() && later.start == history.start, "{later:?}");
    // Two days on, the kept history gives the daily profile a day's window alone never has.
    for k in 289..=2 * 288 {
        run(&store, &function, NOW.plus(5 * k), 30);
    }
    assert_eq!(run(&store, &function, NOW.plus(5 * 577), 30), ModelKind::Daily);
}

#[test]
fn an_old_execution_run_again_keeps_what_later_runs_kept() {
    let store = InMemoryRunStore::default();
    let function = FunctionRef::parse("orders").unwrap();
    run(&store, &function, NOW, 30);
    run(&store, &function, NOW.plus(60), 30);
    let (model, history) =
        (block_on(store.get_model(&function)).unwrap(), block_on(store.get_history(&function)).unwrap());
    let writes = store.model_writes();
    // The run of an hour before, again: its own forecast, nothing kept changed.
    run(&store, &function, NOW.plus(-60), 30);
    assert_eq!(store.model_writes(), writes);
    assert_eq!(block_on(store.get_model(&function)).unwrap(), model);
    assert_eq!(block_on(store.get_history(&function)).unwrap(), history);
}
