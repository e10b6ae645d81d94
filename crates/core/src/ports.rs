//! Ports: the small traits through which decision-running code reads and acts on the world.
//! The AWS adapters implement them over the SDK; the simulator implements them over its
//! simulated fleet; tests implement them in memory. Same code, three worlds.
//!
//! Methods return `impl Future + Send` so that implementations may be `async fn`s on any
//! runtime (or on none: the simulator's futures are always ready).

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::domain::{Architecture, Concurrency, FunctionRef, MemoryMb, Minute};
use crate::forecast::Forecast;
use crate::forecast::kept::{BinHistory, KeptModel};
use crate::observe::{LoadWindow, MinuteStats, WindowSummary};
pub use crate::planner::acts::ActRecord;
use crate::planner::evidence::IdleEvidence;
use crate::planner::ledger::SpendCounts;
use crate::policy::Mode;
use crate::tuner::lookback::SizeHistory;

/// How a caller should react to a failed port call. Every adapter classifies each error
/// into exactly one of these, once, and keeps the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// Throttling, timeouts, 5xx: try again later.
    Retryable,
    /// Another update is in progress or a condition failed (`ResourceConflictException`,
    /// conditional-check failures): wait and re-read before acting.
    Conflict,
    NotFound,
    AccessDenied,
    /// The request itself is wrong; retrying cannot help.
    InvalidInput,
    /// Anything else.
    Fatal,
}

impl ErrorKind {
    /// The stable Step Functions error name this kind maps to.
    pub fn error_name(self) -> &'static str {
        match self {
            Self::Retryable => error_name::RETRYABLE,
            Self::Conflict => error_name::CONFLICT,
            Self::InvalidInput | Self::NotFound => error_name::INVALID_INPUT,
            Self::AccessDenied | Self::Fatal => error_name::FATAL,
        }
    }
}

/// The Step Functions error names the Lambdas fail with (`errorType` of the failed task):
/// the names `Retry` and `Catch` match in the state machine. A contract: the ASL and its
/// tests use these, never a Rust type name.
pub mod error_name {
    /// Transient (throttling, timeouts, 5xx): retry with backoff.
    pub const RETRYABLE: &str = "Autopilot.Retryable";
    /// Another update in progress, a lease held, a condition failed: retry after a wait.
    pub const CONFLICT: &str = "Autopilot.Conflict";
    /// The input (or a function it names) is wrong: retrying cannot help.
    pub const INVALID_INPUT: &str = "Autopilot.InvalidInput";
    /// A change regressed and could not be rolled back inline: route to the rollback function.
    pub const GUARDRAIL_TRIPPED: &str = "Autopilot.GuardrailTripped";
    /// Anything else (access denied included): fail the execution.
    pub const FATAL: &str = "Autopilot.Fatal";
}

/// Every error name a Lambda of the autopilot can fail with.
pub const ERROR_NAMES: [&str; 5] = [
    error_name::RETRYABLE,
    error_name::CONFLICT,
    error_name::INVALID_INPUT,
    error_name::GUARDRAIL_TRIPPED,
    error_name::FATAL,
];

/// A failed port call: its kind, the operation, a message and the underlying cause.
#[derive(Debug)]
pub struct PortError {
    pub kind: ErrorKind,
    pub operation: &'static str,
    pub message: String,
    pub source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl PortError {
    pub fn new(kind: ErrorKind, operation: &'static str, message: impl Into<String>) -> Self {
        Self { kind, operation, message: message.into(), source: None }
    }

    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed ({:?}): {}", self.operation, self.kind, self.message)
    }
}

impl StdError for PortError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// Traffic routing of an alias: a primary version and optionally a second version that
/// receives `weight` (0..1) of the traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasRouting {
    pub version: String,
    pub canary: Option<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasConfig {
    pub name: String,
    pub routing: AliasRouting,
}

/// What the autopilot needs to know of a function's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionConfig {
    /// Unqualified function.
    pub function: FunctionRef,
    pub architecture: Architecture,
    pub memory: MemoryMb,
    pub timeout_ms: u64,
    pub runtime: Option<String>,
    pub reserved_concurrency: Option<Concurrency>,
    pub aliases: Vec<AliasConfig>,
    pub tags: BTreeMap<String, String>,
}

/// Provisioned concurrency of one alias or version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PcStatus {
    InProgress,
    Ready,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedConcurrency {
    pub requested: Concurrency,
    pub allocated: Concurrency,
    pub status: PcStatus,
}

/// Result of sending keep-warm invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarmupOutcome {
    pub sent: u32,
    /// Warm-up calls that landed on a cold environment (they paid an INIT).
    pub landed_cold: u32,
    pub failed: u32,
}

/// The Lambda control plane as the autopilot uses it.
pub trait FunctionControl {
    /// Functions opted in with the given tag key (tag value `true` or a group name).
    fn list_functions(&self, opt_in_tag: &str) -> impl Future<Output = PortResult<Vec<FunctionConfig>>> + Send;
    fn get_function(&self, function: &FunctionRef) -> impl Future<Output = PortResult<FunctionConfig>> + Send;
    /// Sets memory and returns once the update has completed. Idempotent.
    fn set_memory(&self, function: &FunctionRef, memory: MemoryMb) -> impl Future<Output = PortResult<()>> + Send;
    /// Publishes the current configuration as a version; returns its number.
    fn publish_version(&self, function: &FunctionRef) -> impl Future<Output = PortResult<String>> + Send;
    /// Creates or updates an alias (the qualifier of `alias`).
    fn set_alias(&self, alias: &FunctionRef, routing: &AliasRouting) -> impl Future<Output = PortResult<()>> + Send;
    fn get_provisioned(
        &self,
        target: &FunctionRef,
    ) -> impl Future<Output = PortResult<Option<ProvisionedConcurrency>>> + Send;
    fn put_provisioned(
        &self,
        target: &FunctionRef,
        concurrency: Concurrency,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Removes provisioned concurrency; succeeds when there was none.
    fn delete_provisioned(&self, target: &FunctionRef) -> impl Future<Output = PortResult<()>> + Send;
    /// Sends `count` overlapping keep-warm invocations, each holding its environment
    /// `hold_ms` before it answers ([`crate::planner::warmup::round_hold_ms`]: the policy's
    /// `keepWarmHoldMs` for a round of several, nothing for a round of one).
    fn warm(
        &self,
        target: &FunctionRef,
        count: u32,
        hold_ms: u32,
    ) -> impl Future<Output = PortResult<WarmupOutcome>> + Send;
}

/// The stats table written by the extension.
pub trait StatsStore {
    /// Items of minutes `[from, to)` for the function (all memory sizes), in any order.
    fn read_minutes(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send;

    /// The load of minutes `[from, to)` and the INIT time measured, for readers that need no
    /// histograms (the forecaster): what [`LoadWindow::from_minutes`] makes of the items. A
    /// store that can answer without building the items overrides it.
    fn read_load(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<LoadWindow>> + Send {
        let items = self.read_minutes(function, from, to);
        async move { items.await.map(|items| LoadWindow::from_minutes(&items)) }
    }

    /// The summary of minutes `[from, to)`: what [`WindowSummary::from_minutes`] makes of the
    /// items. A store that can merge its counters without building the items overrides it.
    fn read_summary(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<WindowSummary>> + Send {
        let items = self.read_minutes(function, from, to);
        let function = function.clone();
        async move { items.await.map(|items| WindowSummary::from_minutes(function, from, to, &items).0) }
    }
}

/// Fallback metrics for functions without the extension (CloudWatch), in the same shape.
pub trait MetricsSource {
    fn read_minutes(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send;
}

/// The state a change can be undone to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionState {
    pub memory: MemoryMb,
    pub alias: Option<AliasConfig>,
    pub provisioned: Option<Concurrency>,
}

/// What a change does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Change {
    Memory { from: MemoryMb, to: MemoryMb },
    AliasRouting { alias: String, to: AliasRouting },
    Provisioned { from: u32, to: u32 },
    Rollback { of_change: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeStatus {
    /// Recorded, about to be applied.
    Intended,
    Applied,
    Failed,
    RolledBack,
}

/// One entry of the change log, written before the change is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    /// Deterministic for a given execution and function, so a retried step finds its own
    /// record instead of writing a second one.
    pub id: String,
    pub function: FunctionRef,
    pub at: Minute,
    pub change: Change,
    pub previous: FunctionState,
    pub status: ChangeStatus,
    /// The decision, as it was logged and published.
    pub reason: serde_json::Value,
}

/// Whether `record` wrote a new entry or found the same id already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    AlreadyThere,
}

/// The change log: every change recorded before it is applied, with what it replaced.
pub trait ChangeLog {
    /// Writes the record unless one with the same id exists (conditional write).
    fn record(&self, record: &ChangeRecord) -> impl Future<Output = PortResult<Recorded>> + Send;
    fn set_status(
        &self,
        function: &FunctionRef,
        id: &str,
        status: ChangeStatus,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Most recent first.
    fn history(
        &self,
        function: &FunctionRef,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<ChangeRecord>>> + Send;
}

/// EventBridge detail-types, one per kind of decision.
pub mod detail_type {
    pub const MEMORY_CHANGED: &str = "Memory Changed";
    pub const CONCURRENCY_CHANGED: &str = "Concurrency Changed";
    pub const ROLLED_BACK: &str = "Rolled Back";
    pub const RECOMMENDATION: &str = "Recommendation";
}

/// The event source of everything the autopilot publishes.
pub const EVENT_SOURCE: &str = "lambda-autopilot";

/// One published decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionEvent {
    pub detail_type: String,
    pub function: FunctionRef,
    pub mode: Mode,
    pub at: Minute,
    pub detail: serde_json::Value,
}

pub trait EventSink {
    fn publish(&self, events: &[DecisionEvent]) -> impl Future<Output = PortResult<()>> + Send;
}

/// A forecast as the forecast step stores it for apply-concurrency, with the one figure of
/// the window the planner needs besides it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredForecast {
    pub function: FunctionRef,
    pub forecast: Forecast,
    /// Mean INIT duration of the window's cold starts (ms); `None` when none was seen.
    pub init_ms: Option<f64>,
    /// Calls after idle spells in the window, and how many were cold.
    #[serde(default)]
    pub idle_evidence: Option<IdleEvidence>,
    /// Highest level the warm-up rounds now going out keep warm (0: none), from the runs'
    /// records ([`crate::planner::acts::warm_top`]).
    #[serde(default)]
    pub warm_top: u32,
    /// What the calls, PC and warm-up rounds of the window come to, in counts that
    /// apply-concurrency prices for the function to check a cap (`maxExtraCostPct`,
    /// `budgetPerDayUsd`) against the money spent; `None` without a cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend: Option<SpendCounts>,
}

/// What one step of a run hands to the next, per function, outside the Step Functions
/// payload (which stays a list of names): window summaries (collect → the deciding steps)
/// and forecasts (forecast → apply-concurrency). The control table in AWS.
pub trait RunStore {
    /// Writes the summary of `summary.function` over `[summary.from, summary.to)`, replacing
    /// one of the same window.
    fn put_summary(&self, summary: &WindowSummary) -> impl Future<Output = PortResult<()>> + Send;
    fn get_summary(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Option<WindowSummary>>> + Send;
    /// Writes the forecast of `forecast.function` made at `forecast.forecast.origin`,
    /// replacing one of the same origin.
    fn put_forecast(&self, forecast: &StoredForecast) -> impl Future<Output = PortResult<()>> + Send;
    fn get_forecast(
        &self,
        function: &FunctionRef,
        origin: Minute,
    ) -> impl Future<Output = PortResult<Option<StoredForecast>>> + Send;
    /// Records what apply-concurrency did to `act.function` in the run of `act.minute`,
    /// replacing a record of the same run (a retried step writes it again).
    fn put_act(&self, act: &ActRecord) -> impl Future<Output = PortResult<()>> + Send;
    /// The records of `function` with minutes in `[from, to)`, ascending.
    fn get_acts(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Vec<ActRecord>>> + Send;
    /// Keeps the forecaster's model of `function` as last fitted, replacing the one before
    /// (see [`crate::forecast::kept`]): read by every forecast, written at each refit.
    fn put_model(&self, function: &FunctionRef, model: &KeptModel) -> impl Future<Output = PortResult<()>> + Send;
    /// The kept model; `None` when there is none, or when the one kept no longer decodes
    /// (written by another release): the caller refits, from the history.
    fn get_model(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<KeptModel>>> + Send;
    /// Keeps the callers' arrivals per bin that the model is refitted from, replacing the
    /// history before: read and written only at refits.
    fn put_history(&self, function: &FunctionRef, history: &BinHistory) -> impl Future<Output = PortResult<()>> + Send;
    fn get_history(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<BinHistory>>> + Send;
    /// Keeps what the memory tuner observed per size over its look-back (see
    /// [`crate::tuner::lookback`]), replacing the one before: read and written by each
    /// memory run.
    fn put_sizes(&self, function: &FunctionRef, sizes: &SizeHistory) -> impl Future<Output = PortResult<()>> + Send;
    fn get_sizes(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<SizeHistory>>> + Send;
}

/// One execution of one of the autopilot's own state machines, as the control endpoint
/// reports it. Times are ISO 8601 as Step Functions gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRun {
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, ...
    pub status: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    /// The output of a finished execution (its summary of what changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The autopilot's own workflows (Step Functions in AWS): what ran lately, and starting one
/// (a manual rollback).
pub trait Workflows {
    /// The most recent executions of `state_machine`, newest first, at most `limit`.
    fn recent_runs(
        &self,
        state_machine: &str,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<WorkflowRun>>> + Send;
    /// Starts an execution of `state_machine` named `name` with `input`; returns its id (ARN).
    fn start(
        &self,
        state_machine: &str,
        name: &str,
        input: &serde_json::Value,
    ) -> impl Future<Output = PortResult<String>> + Send;
}

/// Mutual exclusion per function across overlapping executions.
pub trait Lease {
    /// Takes the lease until `until` unless another owner holds an unexpired one.
    fn acquire(
        &self,
        function: &FunctionRef,
        owner: &str,
        now: Minute,
        until: Minute,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    fn release(&self, function: &FunctionRef, owner: &str) -> impl Future<Output = PortResult<()>> + Send;
}

/// A port behind a reference is the same port: a test or a simulation can hand one fake to
/// several consumers that each take their ports by value.
mod by_reference {
    use super::*;

    impl<T: FunctionControl + ?Sized> FunctionControl for &T {
        fn list_functions(&self, opt_in_tag: &str) -> impl Future<Output = PortResult<Vec<FunctionConfig>>> + Send {
            (**self).list_functions(opt_in_tag)
        }
        fn get_function(&self, function: &FunctionRef) -> impl Future<Output = PortResult<FunctionConfig>> + Send {
            (**self).get_function(function)
        }
        fn set_memory(&self, function: &FunctionRef, memory: MemoryMb) -> impl Future<Output = PortResult<()>> + Send {
            (**self).set_memory(function, memory)
        }
        fn publish_version(&self, function: &FunctionRef) -> impl Future<Output = PortResult<String>> + Send {
            (**self).publish_version(function)
        }
        fn set_alias(
            &self,
            alias: &FunctionRef,
            routing: &AliasRouting,
        ) -> impl Future<Output = PortResult<()>> + Send {
            (**self).set_alias(alias, routing)
        }
        fn get_provisioned(
            &self,
            target: &FunctionRef,
        ) -> impl Future<Output = PortResult<Option<ProvisionedConcurrency>>> + Send {
            (**self).get_provisioned(target)
        }
        fn put_provisioned(
            &self,
            target: &FunctionRef,
            concurrency: Concurrency,
        ) -> impl Future<Output = PortResult<()>> + Send {
            (**self).put_provisioned(target, concurrency)
        }
        fn delete_provisioned(&self, target: &FunctionRef) -> impl Future<Output = PortResult<()>> + Send {
            (**self).delete_provisioned(target)
        }
        fn warm(
            &self,
            target: &FunctionRef,
            count: u32,
            hold_ms: u32,
        ) -> impl Future<Output = PortResult<WarmupOutcome>> + Send {
            (**self).warm(target, count, hold_ms)
        }
    }

    impl<T: StatsStore + ?Sized> StatsStore for &T {
        fn read_minutes(
            &self,
            function: &FunctionRef,
            from: Minute,
            to: Minute,
        ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send {
            (**self).read_minutes(function, from, to)
        }
        fn read_load(
            &self,
            function: &FunctionRef,
            from: Minute,
            to: Minute,
        ) -> impl Future<Output = PortResult<LoadWindow>> + Send {
            (**self).read_load(function, from, to)
        }
        fn read_summary(
            &self,
            function: &FunctionRef,
            from: Minute,
            to: Minute,
        ) -> impl Future<Output = PortResult<WindowSummary>> + Send {
            (**self).read_summary(function, from, to)
        }
    }

    impl<T: MetricsSource + ?Sized> MetricsSource for &T {
        fn read_minutes(
            &self,
            function: &FunctionRef,
            from: Minute,
            to: Minute,
        ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send {
            (**self).read_minutes(function, from, to)
        }
    }

    impl<T: ChangeLog + ?Sized> ChangeLog for &T {
        fn record(&self, record: &ChangeRecord) -> impl Future<Output = PortResult<Recorded>> + Send {
            (**self).record(record)
        }
        fn set_status(
            &self,
            function: &FunctionRef,
            id: &str,
            status: ChangeStatus,
        ) -> impl Future<Output = PortResult<()>> + Send {
            (**self).set_status(function, id, status)
        }
        fn history(
            &self,
            function: &FunctionRef,
            limit: usize,
        ) -> impl Future<Output = PortResult<Vec<ChangeRecord>>> + Send {
            (**self).history(function, limit)
        }
    }

    impl<T: EventSink + ?Sized> EventSink for &T {
        fn publish(&self, events: &[DecisionEvent]) -> impl Future<Output = PortResult<()>> + Send {
            (**self).publish(events)
        }
    }

    impl<T: Lease + ?Sized> Lease for &T {
        fn acquire(
            &self,
            function: &FunctionRef,
            owner: &str,
            now: Minute,
            until: Minute,
        ) -> impl Future<Output = PortResult<bool>> + Send {
            (**self).acquire(function, owner, now, until)
        }
        fn release(&self, function: &FunctionRef, owner: &str) -> impl Future<Output = PortResult<()>> + Send {
            (**self).release(function, owner)
        }
    }

    impl<T: Workflows + ?Sized> Workflows for &T {
        fn recent_runs(
            &self,
            state_machine: &str,
            limit: usize,
        ) -> impl Future<Output = PortResult<Vec<WorkflowRun>>> + Send {
            (**self).recent_runs(state_machine, limit)
        }
        fn start(
            &self,
            state_machine: &str,
            name: &str,
            input: &serde_json::Value,
        ) -> impl Future<Output = PortResult<String>> + Send {
            (**self).start(state_machine, name, input)
        }
    }

    impl<T: RunStore + ?Sized> RunStore for &T {
        fn put_summary(&self, summary: &WindowSummary) -> impl Future<Output = PortResult<()>> + Send {
            (**self).put_summary(summary)
        }
        fn get_summary(
            &self,
            function: &FunctionRef,
            from: Minute,
            to: Minute,
        ) -> impl Future<Output = PortResult<Option<WindowSummary>>> + Send {
            (**self).get_summary(function, from, to)
        }
        fn put_forecast(&self, forecast: &StoredForecast) -> impl Future<Output = PortResult<()>> + Send {
            (**self).put_forecast(forecast)
        }
        fn get_forecast(
            &self,
            function: &FunctionRef,
            origin: Minute,
        ) -> impl Future<Output = PortResult<Option<StoredForecast>>> + Send {
            (**self).get_forecast(function, origin)
        }
        fn put_act(&self, act: &ActRecord) -> impl Future<Output = PortResult<()>> + Send {
            (**self).put_act(act)
        }
        fn get_acts(
            &self,
            function: &FunctionRef,
            from: Minute,
            to: Minute,
        ) -> impl Future<Output = PortResult<Vec<ActRecord>>> + Send {
            (**self).get_acts(function, from, to)
        }
        fn put_model(&self, function: &FunctionRef, model: &KeptModel) -> impl Future<Output = PortResult<()>> + Send {
            (**self).put_model(function, model)
        }
        fn get_model(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<KeptModel>>> + Send {
            (**self).get_model(function)
        }
        fn put_history(
            &self,
            function: &FunctionRef,
            history: &BinHistory,
        ) -> impl Future<Output = PortResult<()>> + Send {
            (**self).put_history(function, history)
        }
        fn get_history(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<BinHistory>>> + Send {
            (**self).get_history(function)
        }
        fn put_sizes(
            &self,
            function: &FunctionRef,
            sizes: &SizeHistory,
        ) -> impl Future<Output = PortResult<()>> + Send {
            (**self).put_sizes(function, sizes)
        }
        fn get_sizes(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<SizeHistory>>> + Send {
            (**self).get_sizes(function)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_the_state_machine_contract() {
        assert_eq!(ErrorKind::Retryable.error_name(), "Autopilot.Retryable");
        assert_eq!(ErrorKind::Conflict.error_name(), "Autopilot.Conflict");
        assert_eq!(ErrorKind::InvalidInput.error_name(), "Autopilot.InvalidInput");
        assert_eq!(ErrorKind::NotFound.error_name(), "Autopilot.InvalidInput");
        assert_eq!(ErrorKind::AccessDenied.error_name(), "Autopilot.Fatal");
        assert_eq!(
            ERROR_NAMES,
            [
                "Autopilot.Retryable",
                "Autopilot.Conflict",
                "Autopilot.InvalidInput",
                "Autopilot.GuardrailTripped",
                "Autopilot.Fatal"
            ]
        );
        for kind in [
            ErrorKind::Retryable,
            ErrorKind::Conflict,
            ErrorKind::NotFound,
            ErrorKind::AccessDenied,
            ErrorKind::InvalidInput,
            ErrorKind::Fatal,
        ] {
            assert!(ERROR_NAMES.contains(&kind.error_name()), "{kind:?}");
        }
    }

    /// Items of two memory sizes, minutes 0..3, out of order.
    struct Items(Vec<MinuteStats>);

    impl StatsStore for Items {
        fn read_minutes(
            &self,
            _: &FunctionRef,
            from: Minute,
            to: Minute,
        ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send {
            std::future::ready(Ok(self.0.iter().filter(|i| i.minute >= from && i.minute < to).cloned().collect()))
        }
    }

    fn ready_now<T>(f: impl Future<Output = T>) -> T {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => unreachable!("the fake's futures are ready"),
        }
    }

    #[test]
    fn load_and_summary_reads_default_to_what_the_items_make() {
        let function = FunctionRef::parse("orders").unwrap();
        let item = |minute: i64, memory: u64, invocations: u64| {
            let mut counters =
                crate::observe::Counters { invocations, busy_ms: 700 * invocations, ..Default::default() };
            counters.duration.record_n(700.0, invocations);
            counters.init.record(250.0);
            MinuteStats {
                function: function.clone(),
                minute: Minute(minute),
                memory: MemoryMb::new(memory).unwrap(),
                counters,
            }
        };
        let store = Items(vec![item(2, 512, 4), item(0, 512, 1), item(0, 1024, 2), item(1, 1024, 3)]);
        let items = ready_now(store.read_minutes(&function, Minute(0), Minute(2))).unwrap();
        let load = ready_now(store.read_load(&function, Minute(0), Minute(2))).unwrap();
        assert_eq!(load, LoadWindow::from_minutes(&items));
        assert_eq!(load.load.iter().map(|l| l.invocations).collect::<Vec<_>>(), [3, 3]);
        let window = ready_now(<&Items as StatsStore>::read_summary(&&store, &function, Minute(0), Minute(2))).unwrap();
        assert_eq!(window, WindowSummary::from_minutes(function.clone(), Minute(0), Minute(2), &items).0);
        assert_eq!(window.by_memory[&MemoryMb::new(1024).unwrap()].duration.count(), 5);
    }

    #[test]
    fn port_errors_keep_their_source() {
        let e = PortError::new(ErrorKind::Retryable, "UpdateFunctionConfiguration", "throttled")
            .with_source(std::io::Error::other("503"));
        assert_eq!(e.to_string(), "UpdateFunctionConfiguration failed (Retryable): throttled");
        assert_eq!(StdError::source(&e).unwrap().to_string(), "503");
    }
}
