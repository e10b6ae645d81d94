//! Fixtures of the handler tests: the samples in `events/`, an in-memory world behind every
//! port, and the handlers called as the runtime calls them.
#![allow(dead_code)] // each test file uses part of this module

use autopilot_core::FunctionRef;
use autopilot_runner::fakes::{FakeFunction, InMemoryFleet, InMemoryMetrics, InMemoryRunStore};
use autopilot_sim::fakes::{InMemoryChangeLog, InMemoryEventSink, InMemoryLease};
use lambda_runtime::{Context, LambdaEvent};
use serde::de::DeserializeOwned;

pub use autopilot_sim::block_on;

/// A sample from `events/`, read as the runtime reads a payload.
pub fn sample<T: DeserializeOwned>(file: &str) -> T {
    let path = autopilot_testkit::workspace_root().join("events").join(file);
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let raw: serde_json::Value = serde_json::from_str(&json).unwrap();
    autopilot_lambda::parse_event::<T>(LambdaEvent::new(raw, Context::default()))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .payload
}

pub fn event<T>(payload: T) -> LambdaEvent<T> {
    LambdaEvent::new(payload, Context::default())
}

pub fn f(name: &str) -> FunctionRef {
    FunctionRef::parse(name).unwrap()
}

/// Every port, in memory.
#[derive(Debug, Default)]
pub struct World {
    pub fleet: InMemoryFleet,
    pub metrics: InMemoryMetrics,
    pub store: InMemoryRunStore,
    pub changes: InMemoryChangeLog,
    pub events: InMemoryEventSink,
    pub lease: InMemoryLease,
}

impl World {
    pub fn add(&self, name: &str, function: FakeFunction) {
        self.fleet.add(name, function);
    }

    pub fn collect(
        &self,
        input: autopilot_collect::Input,
    ) -> Result<autopilot_collect::Output, autopilot_lambda::HandlerError> {
        let deps = autopilot_collect::Deps {
            control: &self.fleet,
            stats: &self.fleet,
            metrics: &self.metrics,
            store: &self.store,
            opt_in_tag: "autopilot".to_owned(),
        };
        block_on(autopilot_collect::handler(event(input), &deps))
    }

    pub fn forecast(
        &self,
        input: autopilot_forecast::Input,
    ) -> Result<autopilot_forecast::Output, autopilot_lambda::HandlerError> {
        block_on(autopilot_forecast::handler(event(input), &autopilot_forecast::Deps { store: &self.store }))
    }

    pub fn tune(
        &self,
        input: autopilot_tune_memory::Input,
    ) -> Result<autopilot_tune_memory::Output, autopilot_lambda::HandlerError> {
        let deps = autopilot_tune_memory::Deps {
            control: &self.fleet,
            changes: &self.changes,
            events: &self.events,
            lease: &self.lease,
            store: &self.store,
        };
        block_on(autopilot_tune_memory::handler(event(input), &deps))
    }

    pub fn apply(
        &self,
        input: autopilot_apply_concurrency::Input,
    ) -> Result<autopilot_apply_concurrency::Output, autopilot_lambda::HandlerError> {
        let deps = autopilot_apply_concurrency::Deps {
            control: &self.fleet,
            changes: &self.changes,
            events: &self.events,
            lease: &self.lease,
            store: &self.store,
        };
        block_on(autopilot_apply_concurrency::handler(event(input), &deps))
    }

    pub fn rollback(
        &self,
        input: autopilot_rollback::Input,
    ) -> Result<autopilot_rollback::Output, autopilot_lambda::HandlerError> {
        let deps = autopilot_rollback::Deps {
            control: &self.fleet,
            changes: &self.changes,
            events: &self.events,
            lease: &self.lease,
        };
        block_on(autopilot_rollback::handler(event(input), &deps))
    }
}

/// collect's input for the same execution as a batch input (what the state machine started).
pub fn collect_input_for(b: &autopilot_runner::contract::BatchInput) -> autopilot_runner::contract::CollectInput {
    autopilot_runner::contract::CollectInput {
        run: b.run,
        policy: b.policy.clone(),
        functions: Some(b.functions.clone()),
        execution_id: b.execution_id.clone(),
        now: b.now,
        batch_size: None,
        window_minutes: Some(b.window.minutes() as u32),
    }
}
