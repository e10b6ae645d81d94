//! Our own Step Functions bill per run, from the state machine itself: the states a
//! successful run enters (a walk of the ASL along the path the run takes), priced as a
//! Standard workflow (per state transition) and as an Express workflow (per request and
//! GB-second). DESIGN.md, "Our own bill": us-east-1 list prices.

use serde_json::Value;

use crate::PipelineError;
use crate::asl::{Machine, Scope, state_type};

/// Standard workflows: USD per state transition ($0.025 per 1,000).
pub const STANDARD_PER_TRANSITION_USD: f64 = 0.025 / 1_000.0;
/// Express workflows: USD per execution ($1.00 per 1M requests).
pub const EXPRESS_PER_REQUEST_USD: f64 = 1.0 / 1_000_000.0;
/// Express workflows: USD per GB-second of duration.
pub const EXPRESS_PER_GB_SECOND_USD: f64 = 0.000_016_67;
/// Express bills memory in 64-MB steps; a workflow of this size with small payloads uses the
/// first step.
pub const EXPRESS_MEMORY_GB: f64 = 64.0 / 1024.0;
/// Express bills duration in 100-ms steps.
pub const EXPRESS_DURATION_STEP_S: f64 = 0.1;
/// An Express execution runs at most 5 minutes.
pub const EXPRESS_MAX_DURATION_S: f64 = 300.0;
/// Runs a 30-day month at one run every 4 minutes (the concurrency loop's default).
pub const RUNS_PER_MONTH_EVERY_4_MIN: f64 = 30.0 * 24.0 * 15.0;
/// Runs a 30-day month at one run a day (the memory loop's default).
pub const RUNS_PER_MONTH_DAILY: f64 = 30.0;

/// Which branch each Choice state takes on the path being walked: `(state, target)`.
/// A Choice not listed takes its `Default`.
pub type Route<'a> = &'a [(&'a str, &'a str)];

/// States entered by a successful run: the parent's and, per Map state, one iteration's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Names of the states entered at the top level, in order.
    pub path: Vec<String>,
    /// Per Map state entered: (name, states entered by one iteration, distributed?).
    pub maps: Vec<(String, u64, bool)>,
}

impl Walk {
    /// State transitions of the whole run with `items` iterations per Map, when the
    /// iterations run inside the execution (inline Map).
    pub fn transitions(&self, items: u64) -> u64 {
        self.path.len() as u64 + self.maps.iter().map(|(_, n, _)| n * items).sum::<u64>()
    }

    /// Transitions of the parent only (a Distributed Map's iterations are child executions).
    pub fn parent_transitions(&self, items: u64) -> u64 {
        self.path.len() as u64 + self.maps.iter().filter(|m| !m.2).map(|(_, n, _)| n * items).sum::<u64>()
    }
}

/// Walks the success path of a machine: from `StartAt`, following `Next`, the Choice
/// branches in `route` (else `Default`), into every Map state's item processor.
pub fn walk(machine: &Machine, route: Route<'_>) -> Result<Walk, PipelineError> {
    let scopes = machine.scopes();
    let top = scopes.first().ok_or_else(|| bad(machine, "no StartAt/States"))?;
    let mut walk = Walk { path: Vec::new(), maps: Vec::new() };
    let path = walk_scope(machine, top, route)?;
    for name in &path {
        let state = &top.states[name.as_str()];
        if state_type(state) == "Map" {
            let inner = scopes.iter().find(|s| s.owner == name).ok_or_else(|| bad(machine, "Map without processor"))?;
            let distributed = state
                .pointer("/ItemProcessor/ProcessorConfig/Mode")
                .and_then(Value::as_str)
                .is_some_and(|m| m == "DISTRIBUTED");
            walk.maps.push((name.clone(), walk_scope(machine, inner, route)?.len() as u64, distributed));
        }
    }
    walk.path = path;
    Ok(walk)
}

fn walk_scope(machine: &Machine, scope: &Scope<'_>, route: Route<'_>) -> Result<Vec<String>, PipelineError> {
    let mut path = Vec::new();
    let mut at = scope.start_at;
    loop {
        if path.len() > scope.states.len() {
            return Err(bad(machine, &format!("the path loops at {at}")));
        }
        let state = scope.states.get(at).ok_or_else(|| bad(machine, &format!("no state {at}")))?;
        path.push(at.to_owned());
        let next = match state_type(state) {
            "Choice" => route
                .iter()
                .find(|(s, _)| *s == at)
                .map(|(_, t)| *t)
                .or_else(|| state.get("Default").and_then(Value::as_str)),
            "Succeed" | "Fail" => None,
            _ => state.get("Next").and_then(Value::as_str),
        };
        match next {
            Some(n) => at = n,
            None => return Ok(path),
        }
    }
}

fn bad(machine: &Machine, what: &str) -> PipelineError {
    PipelineError::Wiring { what: format!("{}: {what}", machine.file_name()) }
}

/// Cost of one Standard run with `transitions` state transitions.
pub fn standard_run_usd(transitions: u64) -> f64 {
    transitions as f64 * STANDARD_PER_TRANSITION_USD
}

/// Cost of one Express execution lasting `seconds` (64 MB, 100-ms steps).
pub fn express_run_usd(seconds: f64) -> f64 {
    let billed = (seconds / EXPRESS_DURATION_STEP_S).ceil() * EXPRESS_DURATION_STEP_S;
    EXPRESS_PER_REQUEST_USD + EXPRESS_MEMORY_GB * billed * EXPRESS_PER_GB_SECOND_USD
}

/// How long a concurrency run lasts, as modelled for the Express price: collect reads
/// functions 8 at a time with ~3 API calls of ~25 ms each (0.01 s per function), then the
/// batches run 8 at a time, ~1 s per batch (forecast + apply-concurrency, 25 functions).
/// An assumption, stated with the table; the ceiling (5 minutes) bounds it.
pub fn modelled_concurrency_run_seconds(functions: u64, batches: u64, max_concurrency: u64) -> f64 {
    1.0 + 0.01 * functions as f64 + batches.div_ceil(max_concurrency.max(1)) as f64
}
