//! The Step Functions payloads: what each step takes and returns. Names are contracts (the
//! ASL and `events/` use them): camelCase, unknown fields rejected.
//!
//! | step | input | output |
//! |---|---|---|
//! | collect | [`CollectInput`] (the execution input + `executionId`, `now`) | [`CollectOutput`]: the window and batches of function names |
//! | forecast, tune-memory, apply-concurrency | [`BatchInput`] (one batch of the Map) | [`ForecastOutput`], [`TuneMemoryOutput`], [`ApplyConcurrencyOutput`] |
//! | rollback | [`RollbackInput`] (one function) | [`RollbackOutput`] |
//!
//! Payloads carry names and counts only; summaries and forecasts travel through the control
//! table ([`autopilot_core::ports::RunStore`]), so a batch stays a few KB whatever the fleet.

use std::fmt;

use autopilot_core::calendar::parse_timestamp_ms;
use autopilot_core::decision::Verdict;
use autopilot_core::policy::{Mode, Policy};
use autopilot_core::ports::FunctionState;
use autopilot_core::{FunctionRef, MemoryMb, Minute};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Functions per batch when the execution input does not say.
pub const DEFAULT_BATCH_SIZE: usize = 25;
/// Largest batch: one task must finish well within Lambda's 15 minutes even when every
/// function of the batch changes (a memory update waits for Lambda, ~2–10 s each).
pub const MAX_BATCH_SIZE: usize = 100;
/// Look-back of a memory run (minutes): one day of production traffic.
pub const MEMORY_WINDOW_MINUTES: u32 = 1_440;
/// Look-back of a concurrency run (minutes): one day, the forecaster's daily profile.
pub const CONCURRENCY_WINDOW_MINUTES: u32 = 1_440;
/// Longest look-back an execution may ask for (minutes): 28 days, the forecaster's maximum.
pub const MAX_WINDOW_MINUTES: u32 = 28 * 1_440;
/// Largest collect output (bytes): Step Functions refuses payloads above 256 KB, and the
/// Map state's own input and context need room.
pub const MAX_OUTPUT_BYTES: usize = 200_000;

/// Which loop an execution runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunKind {
    /// collect → tune-memory (daily).
    Memory,
    /// collect → forecast → apply-concurrency (every few minutes).
    Concurrency,
}

impl RunKind {
    /// The default look-back of the run (minutes).
    pub fn default_window_minutes(self) -> u32 {
        match self {
            Self::Memory => MEMORY_WINDOW_MINUTES,
            Self::Concurrency => CONCURRENCY_WINDOW_MINUTES,
        }
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::Concurrency => "concurrency",
        })
    }
}

/// A minute given as a timestamp, as Step Functions gives it (`$$.Execution.StartTime`,
/// `$$.State.EnteredTime`: `2026-11-27T17:00:03.123Z`); read as the minute that contains it
/// and written back as `2026-11-27T17:00Z`. Handlers take `now` from here, never a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At(pub Minute);

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().parse::<f64>().is_ok() {
            return Err(serde::de::Error::custom(format!(
                "timestamp {s:?}: expected an ISO 8601 time such as 2026-11-27T17:00:03Z"
            )));
        }
        parse_timestamp_ms(&s).map(|ms| Self(Minute::from_epoch_ms(ms))).map_err(serde::de::Error::custom)
    }
}

/// Minutes `[from, to)` a run looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    pub from: At,
    pub to: At,
}

impl Window {
    pub fn minutes(&self) -> i64 {
        self.to.0.0 - self.from.0.0
    }
}

/// What an execution of the state machine is started with (the schedule's input); the ASL
/// adds `executionId` and `now` from the Context object to make [`CollectInput`].
///
/// ```json
/// {"run": "concurrency", "policy": {"mode": "recommend"}, "functions": ["orders"]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionInput {
    pub run: RunKind,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<FunctionRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u32>,
}

/// What a manual rollback execution is started with; the ASL adds `executionId` and `now`
/// to make [`RollbackInput`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManualRollbackInput {
    pub function: FunctionRef,
    pub target: RollbackTarget,
    pub reason: String,
}

/// The execution input plus the Context object's fields: collect's input.
///
/// ```json
/// {"run": "memory", "policy": {"mode": "autopilot"}, "functions": ["orders"],
///  "executionId": "nightly-2026-11-27", "now": "2026-11-27T03:00:00.000Z"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectInput {
    pub run: RunKind,
    /// The group's policy (every field has a default; `{}` is valid).
    #[serde(default)]
    pub policy: Policy,
    /// Restricts the run to these functions (unqualified names or ARNs); default: every
    /// function carrying the opt-in tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<FunctionRef>>,
    /// `$$.Execution.Name`: makes change ids, leases and events of one execution stable
    /// across retries.
    pub execution_id: String,
    /// `$$.Execution.StartTime`.
    pub now: At,
    /// Functions per batch. Default [`DEFAULT_BATCH_SIZE`], at most [`MAX_BATCH_SIZE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Look-back (minutes). Default: the run's ([`RunKind::default_window_minutes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u32>,
}

/// How collect read the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectTally {
    /// Functions summarised.
    pub functions: usize,
    /// ... with data from the extension's stats table.
    pub from_stats: usize,
    /// ... with data from CloudWatch (no extension data in the window; memory runs only).
    pub from_metrics: usize,
    /// ... with no data at all (an empty summary is written).
    pub without_data: usize,
    /// Stats items read.
    pub items: usize,
}

/// collect's output: the Map state iterates `batches`, giving each batch the shared fields
/// (see [`BatchInput`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectOutput {
    pub run: RunKind,
    pub policy: Policy,
    pub execution_id: String,
    pub now: At,
    pub window: Window,
    /// Unqualified function names, [`CollectInput::batch_size`] per batch.
    pub batches: Vec<Vec<FunctionRef>>,
    pub collected: CollectTally,
}

impl CollectOutput {
    /// What the Map state hands each batch's steps (see [`BatchInput`]), in order.
    pub fn batch_inputs(&self) -> Vec<BatchInput> {
        self.batches
            .iter()
            .enumerate()
            .map(|(i, functions)| BatchInput {
                run: self.run,
                policy: self.policy.clone(),
                execution_id: self.execution_id.clone(),
                now: self.now,
                window: self.window,
                functions: functions.clone(),
                batch: Some(i),
            })
            .collect()
    }
}

/// One batch of the Map state: the shared fields of [`CollectOutput`] and one of its
/// `batches` as `functions`. Input of forecast, tune-memory and apply-concurrency.
///
/// ASL (collect's output at `$.collect`): `"ItemsPath": "$.collect.batches", "ItemSelector":
/// {"run.$": "$.collect.run", "policy.$": "$.collect.policy", "executionId.$":
/// "$.collect.executionId", "now.$": "$.collect.now", "window.$": "$.collect.window",
/// "batch.$": "$$.Map.Item.Index", "functions.$": "$$.Map.Item.Value"}`. The same
/// `BatchInput` goes to each step of the batch (forecast, then apply-concurrency; or
/// tune-memory alone): a step takes no output of the one before it, the control table carries
/// what they share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchInput {
    pub run: RunKind,
    pub policy: Policy,
    pub execution_id: String,
    pub now: At,
    pub window: Window,
    pub functions: Vec<FunctionRef>,
    /// Index of the batch in `batches` (`$$.Map.Item.Index`), for logs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
}

/// Why a function of a batch was left alone (not an error: the batch goes on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SkipReason {
    /// The function no longer exists.
    NotFound,
    /// Another execution holds the function's lease.
    LeaseHeld,
    /// collect wrote no summary for the window (the function was not in its batches).
    NoSummary,
    /// forecast stored no forecast for this run.
    NoForecast,
    /// The alias routes part of its traffic to a canary version: Lambda refuses PC on a
    /// weighted alias, so PC waits until the canary is promoted or rolled back.
    CanaryInProgress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Skipped {
    pub function: FunctionRef,
    pub reason: SkipReason,
}

/// What became of a decision that changes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Applied by this invocation.
    Applied,
    /// The function was already at the target (a retried step, or someone else did it).
    AlreadyThere,
    /// Recommend mode: published as a `Recommendation` event, nothing changed.
    Recommended,
}

/// forecast's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForecastOutput {
    /// Forecasts stored.
    pub forecasts: usize,
    /// Functions whose forecast had no history to go on (their plan keeps nothing warm).
    pub without_history: Vec<FunctionRef>,
    pub skipped: Vec<Skipped>,
}

/// One memory decision that changes something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryResult {
    pub function: FunctionRef,
    /// `explore`, `resize` or `rollback` (the decision's `action`).
    pub action: String,
    pub from: MemoryMb,
    pub to: MemoryMb,
    pub outcome: Outcome,
    /// The guardrail's verdict on the previous change, when one was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// tune-memory's output. Decisions that keep memory are counted, not listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TuneMemoryOutput {
    pub mode: Mode,
    pub evaluated: usize,
    pub kept: usize,
    pub results: Vec<MemoryResult>,
    /// Functions whose last change regressed and was rolled back by this invocation.
    pub rolled_back: Vec<FunctionRef>,
    pub skipped: Vec<Skipped>,
}

/// One provisioned-concurrency change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConcurrencyResult {
    /// The alias PC is set on.
    pub target: FunctionRef,
    pub from: u32,
    pub to: u32,
    pub outcome: Outcome,
}

/// Keep-warm calls sent for one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Warmed {
    pub target: FunctionRef,
    pub sent: u32,
    pub landed_cold: u32,
    pub failed: u32,
}

/// apply-concurrency's output. Plans that keep the current level are counted, not listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyConcurrencyOutput {
    pub mode: Mode,
    pub evaluated: usize,
    pub kept: usize,
    pub results: Vec<ConcurrencyResult>,
    pub warmed: Vec<Warmed>,
    pub skipped: Vec<Skipped>,
}

/// Which recorded configuration a rollback restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", deny_unknown_fields)]
pub enum RollbackTarget {
    /// The configuration before the most recent change that is not rolled back yet.
    LastKnownGood,
    /// The configuration before the change with this id.
    Change { id: String },
}

/// rollback's input: the manual execution input plus the Context object's fields.
///
/// ```json
/// {"function": "orders:live", "target": {"kind": "lastKnownGood"}, "reason": "p99 alarm",
///  "executionId": "manual-1", "now": "2026-11-27T17:05:00Z"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackInput {
    /// `name` or `name:alias` (the alias whose provisioned concurrency was changed).
    pub function: FunctionRef,
    pub target: RollbackTarget,
    pub reason: String,
    pub execution_id: String,
    pub now: At,
}

/// rollback's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackOutput {
    pub function: FunctionRef,
    /// The change whose previous configuration was restored.
    pub change_id: String,
    /// `applied`, or `alreadyThere` when the function already had that configuration.
    pub outcome: Outcome,
    pub restored: FunctionState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_the_minute_that_contains_them() {
        let at: At = serde_json::from_str("\"2026-11-27T15:41:59.999Z\"").unwrap();
        assert_eq!(at.0, Minute::from_epoch_ms(1_795_794_119_999));
        assert_eq!(serde_json::to_string(&at).unwrap(), "\"2026-11-27T15:41Z\"");
        assert_eq!(serde_json::from_str::<At>(&serde_json::to_string(&at).unwrap()).unwrap(), at);
        assert!(serde_json::from_str::<At>("\"1795794119\"").is_err(), "a bare number is ambiguous");
        assert!(serde_json::from_str::<At>("\"yesterday\"").is_err());
    }

    #[test]
    fn collect_input_defaults_and_strictness() {
        let i: CollectInput =
            serde_json::from_str(r#"{"run":"concurrency","executionId":"e1","now":"2026-11-27T15:41:00Z"}"#).unwrap();
        assert_eq!(i.policy, Policy::default());
        assert_eq!((i.functions, i.batch_size), (None, None));
        for bad in [
            r#"{"run":"memory","executionId":"e","now":"2026-11-27T15:41:00Z","extra":1}"#,
            r#"{"run":"cpu","executionId":"e","now":"2026-11-27T15:41:00Z"}"#,
            r#"{"run":"memory","now":"2026-11-27T15:41:00Z"}"#,
            r#"{"run":"memory","executionId":"e","now":"2026-11-27T15:41:00Z","policy":{"mode":"yolo"}}"#,
        ] {
            assert!(serde_json::from_str::<CollectInput>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rollback_targets() {
        let t: RollbackTarget = serde_json::from_str(r#"{"kind":"change","id":"e1#orders#memory"}"#).unwrap();
        assert_eq!(t, RollbackTarget::Change { id: "e1#orders#memory".into() });
        assert_eq!(
            serde_json::from_str::<RollbackTarget>(r#"{"kind":"lastKnownGood"}"#).unwrap(),
            RollbackTarget::LastKnownGood
        );
        assert!(serde_json::from_str::<RollbackTarget>(r#"{"kind":"latest"}"#).is_err());
    }
}
