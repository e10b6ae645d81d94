//! tune-memory: per function of a batch, the core tuner's passive decision from the window
//! summary and the change log, and — in autopilot mode — acting on it.
//!
//! State between runs lives in the change log and the tuner's look-back:
//! - what was **observed per size** over the last 14 days: each run's window is kept
//!   ([`SizeHistory`], in the run store) and the tuner decides on all of them, as the
//!   simulator's slot does;
//! - the **pending change** (the one the guardrail judges) is the newest applied memory
//!   change of another execution within two windows, unless a rollback or a canary
//!   promotion came after it; its record carries the window before it at the old size
//!   ([`MemoryReasonRecord::before`]) for direct changes, a canary is judged against the
//!   primary in the same window;
//! - **bans** are carried by rollback records ([`MemoryReasonRecord::ban`]).
//!
//! Applying: no alias → `set_memory` on the function; behind an alias an exploration or
//! resize goes out as a canary (new size on `$LATEST`, published as a version, the alias
//! routes the decision's weight to it); a promotion, a direct change behind an alias or a
//! rollback point the alias at a version of the target size alone. A regression is rolled
//! back inline to the recorded previous configuration; if that cannot complete, the batch
//! fails with `Autopilot.GuardrailTripped` so the state machine routes to rollback.

use std::collections::BTreeMap;

use autopilot_core::cost::CostModel;
use autopilot_core::decision::{MemoryDecision, MemoryReason, Rollout, Verdict};
use autopilot_core::observe::{Counters, WindowSummary};
use autopilot_core::policy::Mode;
use autopilot_core::ports::{
    AliasConfig, AliasRouting, Change, ChangeLog, ChangeRecord, ChangeStatus, ErrorKind, EventSink, FunctionConfig,
    FunctionControl, FunctionState, Lease, PortError, PortResult, Recorded, RunStore, detail_type,
};
use autopilot_core::tuner::lookback::SizeHistory;
use autopilot_core::tuner::{Ban, Judged, PassiveInput, PendingChange, Settings, decide};
use autopilot_core::{FunctionRef, MemoryMb, Minute};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::RunError;
use crate::act::{acquire, apply_recorded, change_id, is_own, kind, record_intent};
use crate::contract::{BatchInput, MemoryResult, Outcome, RunKind, SkipReason, Skipped, TuneMemoryOutput};
use crate::events::event;
use crate::forecast::valid_batch;
use crate::rollback::{memory_state_matches, restore};

/// Change records read per function (newest first) for the pending change and bans.
pub const HISTORY_LIMIT: usize = 50;

/// The `reason` of a memory change or memory rollback record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryReasonRecord {
    pub decision: MemoryDecision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The window before a direct change, at the old size: what the guardrail compares with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Counters>,
    /// The sizes a rollback put off-limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban: Option<Ban>,
}

/// The ports tune-memory reads and acts through.
pub type MemoryPorts<'a, F, C, E, L, R> = crate::act::ActingPorts<'a, F, C, E, L, R>;

enum Done {
    Kept,
    Changed(MemoryResult),
    RolledBack(MemoryResult),
    Skipped(SkipReason),
}

pub async fn tune_memory_batch<F, C, E, L, R>(
    p: &MemoryPorts<'_, F, C, E, L, R>,
    input: &BatchInput,
) -> Result<TuneMemoryOutput, RunError>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
    R: RunStore,
{
    valid_batch(input, RunKind::Memory, "tune-memory")?;
    let mode = input.policy.mode;
    let mut out = TuneMemoryOutput {
        mode,
        evaluated: 0,
        kept: 0,
        results: Vec::new(),
        rolled_back: Vec::new(),
        skipped: Vec::new(),
    };
    if mode == Mode::Observe {
        return Ok(out);
    }
    let mut failures = Vec::new();
    let mut tripped = None;
    for function in &input.functions {
        match one(p, input, function).await {
            Ok(Done::Kept) => {
                out.evaluated += 1;
                out.kept += 1;
            }
            Ok(Done::Changed(r)) => {
                out.evaluated += 1;
                out.results.push(r);
            }
            Ok(Done::RolledBack(r)) => {
                out.evaluated += 1;
                out.rolled_back.push(function.clone());
                out.results.push(r);
            }
            Ok(Done::Skipped(reason)) => out.skipped.push(Skipped { function: function.clone(), reason }),
            Err(Failure::Port(e)) => failures.push((function.clone(), e)),
            Err(Failure::Tripped(e)) => {
                tripped.get_or_insert(RunError::GuardrailTripped { function: function.clone(), source: e });
            }
        }
    }
    if let Some(e) = tripped {
        return Err(e);
    }
    match RunError::from_failures(input.functions.len(), failures) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

enum Failure {
    Port(PortError),
    /// The inline rollback of a regression failed.
    Tripped(PortError),
}

impl From<PortError> for Failure {
    fn from(e: PortError) -> Self {
        Self::Port(e)
    }
}

/// What the function looks like now.
struct Current {
    config: FunctionConfig,
    alias: Option<AliasConfig>,
    /// The size callers are served at: the alias's primary version, else `$LATEST`.
    serving: MemoryMb,
}

async fn read_current<F: FunctionControl>(control: &F, function: &FunctionRef) -> PortResult<Current> {
    let config = control.get_function(function).await?;
    let alias = config.aliases.first().cloned();
    let serving = match &alias {
        Some(a) => control.get_function(&qualified(function, &a.routing.version)?).await?.memory,
        None => config.memory,
    };
    Ok(Current { config, alias, serving })
}

pub(crate) fn qualified(function: &FunctionRef, qualifier: &str) -> PortResult<FunctionRef> {
    function.with_qualifier(Some(qualifier)).map_err(|e| {
        PortError::new(ErrorKind::Fatal, "tune-memory", format!("{function}: qualifier {qualifier:?} not valid: {e}"))
    })
}

/// The change under evaluation: the record, what it changed, and the window before it.
struct Pending {
    record: ChangeRecord,
    change: PendingChange,
    before: Option<Counters>,
}

fn reason_of(record: &ChangeRecord) -> Option<MemoryReasonRecord> {
    serde_json::from_value(record.reason.clone()).ok()
}

fn pending_of(history: &[ChangeRecord], execution_id: &str, now: Minute, window_minutes: i64) -> Option<Pending> {
    for r in history.iter().filter(|r| !is_own(r, execution_id)) {
        match &r.change {
            Change::Rollback { .. } => return None,
            Change::Memory { .. } => {}
            _ => continue,
        }
        if r.status != ChangeStatus::Applied || r.at.0 < now.0 - 2 * window_minutes {
            return None;
        }
        let reason = reason_of(r)?;
        let (from, to, expected, rollout) = match reason.decision {
            MemoryDecision::Resize { reason: MemoryReason::CanaryHealthy, .. } => return None,
            MemoryDecision::Explore { from, to, expected, rollout, .. }
            | MemoryDecision::Resize { from, to, expected, rollout, .. } => (from, to, expected, rollout),
            _ => return None,
        };
        let change = PendingChange { at: r.at, from, to, rollout, expected: Some(expected) };
        return Some(Pending { record: r.clone(), change, before: reason.before });
    }
    None
}

fn bans_of(history: &[ChangeRecord]) -> Vec<Ban> {
    history.iter().filter(|r| matches!(r.change, Change::Rollback { .. })).filter_map(|r| reason_of(r)?.ban).collect()
}

async fn one<F, C, E, L, R>(
    p: &MemoryPorts<'_, F, C, E, L, R>,
    input: &BatchInput,
    function: &FunctionRef,
) -> Result<Done, Failure>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
    L: Lease,
    R: RunStore,
{
    let (now, window) = (input.now.0, input.window);
    let Some(summary) = p.store.get_summary(function, window.from.0, window.to.0).await? else {
        return Ok(Done::Skipped(SkipReason::NoSummary));
    };
    // Only the function itself missing means "gone, skip it"; a resource missing later (the
    // event bus, the table) after a change was applied is a failure the state machine undoes.
    let current = match read_current(p.control, function).await {
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(Done::Skipped(SkipReason::NotFound)),
        current => current?,
    };
    let history = p.changes.history(function, HISTORY_LIMIT).await?;
    let pending = pending_of(&history, &input.execution_id, now, window.minutes());
    let bans = bans_of(&history);
    // The look-back first, this window in it: a change that fails later loses no observation.
    let kept = p.store.get_sizes(function).await?.unwrap_or_default();
    let seen_before = kept.has_window_before(summary.from);
    let sizes = kept.with(&summary, now);
    p.store.put_sizes(function, &sizes).await?;
    let outcome = decide_memory(&summary, &sizes, seen_before, &current, pending.as_ref(), &bans, input);
    if !outcome.decision.changes() {
        return Ok(Done::Kept);
    }
    let mode = input.policy.mode;
    let result = |outcome_: Outcome, d: &MemoryDecision| MemoryResult {
        function: function.clone(),
        action: action_of(d),
        from: match d {
            MemoryDecision::Explore { from, .. }
            | MemoryDecision::Resize { from, .. }
            | MemoryDecision::Rollback { from, .. } => *from,
            MemoryDecision::Keep { memory, .. } => *memory,
        },
        to: d.target(),
        outcome: outcome_,
        verdict: outcome.verdict.clone(),
    };
    if !mode.applies_changes() {
        let detail = json!({"kind": "memory", "decision": outcome.decision, "verdict": outcome.verdict});
        p.events.publish(&[event(detail_type::RECOMMENDATION, function, mode, now, detail)]).await?;
        return Ok(Done::Changed(result(Outcome::Recommended, &outcome.decision)));
    }
    let owner = input.execution_id.as_str();
    if !acquire(p.lease, function, owner, now).await? {
        return Ok(Done::Skipped(SkipReason::LeaseHeld));
    }
    let acted = match (&outcome.decision, &pending) {
        (MemoryDecision::Rollback { .. }, Some(pending)) => roll_back(p, input, function, &current, pending, &outcome)
            .await
            .map(|o| Done::RolledBack(result(o, &outcome.decision))),
        _ => change(p, input, function, &current, &summary, &outcome)
            .await
            .map(|(o, d)| Done::Changed(result(o, &d)))
            .map_err(Failure::Port),
    };
    let released = p.lease.release(function, owner).await;
    let done = acted?;
    released?;
    Ok(done)
}

fn action_of(d: &MemoryDecision) -> String {
    match d {
        MemoryDecision::Keep { .. } => "keep",
        MemoryDecision::Explore { .. } => "explore",
        MemoryDecision::Resize { .. } => "resize",
        MemoryDecision::Rollback { .. } => "rollback",
    }
    .to_owned()
}

/// The tuner's decision on everything observed per size in the look-back (`sizes`, this
/// window included); `seen_before` says whether it holds the windows of earlier runs.
fn decide_memory(
    summary: &WindowSummary,
    sizes: &SizeHistory,
    seen_before: bool,
    current: &Current,
    pending: Option<&Pending>,
    bans: &[Ban],
    input: &BatchInput,
) -> autopilot_core::tuner::Outcome {
    let mut history: BTreeMap<MemoryMb, Counters> = sizes.merged();
    let empty = Counters::default();
    // The window before a direct change is in the look-back when the run before was kept;
    // only the change record has it otherwise (the first run with a look-back).
    if let Some(Pending { change, before: Some(before), .. }) = pending
        && change.rollout == Rollout::Direct
        && !seen_before
    {
        history.entry(change.from).or_default().merge(before);
    }
    let judged = pending.map(|pd| {
        let canary = matches!(pd.change.rollout, Rollout::AliasCanary { .. });
        let before = if canary { summary.by_memory.get(&pd.change.from) } else { pd.before.as_ref() };
        Judged {
            change: &pd.change,
            before: before.unwrap_or(&empty),
            after: summary.by_memory.get(&pd.change.to).unwrap_or(&empty),
        }
    });
    let passive = PassiveInput {
        arch: current.config.architecture,
        current: current.serving,
        history: &history,
        pending: judged,
        bans,
        via_alias: current.alias.is_some(),
        now: input.now.0,
    };
    decide(&passive, &input.policy, &CostModel::default(), &Settings::default())
}

/// Records and applies an exploration or resize; returns how it went and the decision that
/// ruled (an earlier attempt's, on a retry).
async fn change<F, C, E, L, R>(
    p: &MemoryPorts<'_, F, C, E, L, R>,
    input: &BatchInput,
    function: &FunctionRef,
    current: &Current,
    summary: &WindowSummary,
    outcome: &autopilot_core::tuner::Outcome,
) -> PortResult<(Outcome, MemoryDecision)>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
{
    let now = input.now.0;
    let id = change_id(&input.execution_id, function, kind::MEMORY);
    let direct = matches!(
        outcome.decision,
        MemoryDecision::Explore { rollout: Rollout::Direct, .. }
            | MemoryDecision::Resize { rollout: Rollout::Direct, .. }
    );
    let reason = MemoryReasonRecord {
        decision: outcome.decision.clone(),
        verdict: outcome.verdict.clone(),
        before: direct.then(|| summary.by_memory.get(&current.serving).cloned().unwrap_or_default()),
        ban: None,
    };
    let record = ChangeRecord {
        id: id.clone(),
        function: function.clone(),
        at: now,
        change: Change::Memory { from: current.serving, to: outcome.decision.target() },
        previous: FunctionState { memory: current.serving, alias: current.alias.clone(), provisioned: None },
        status: ChangeStatus::Intended,
        reason: serde_json::to_value(&reason).unwrap_or_default(),
    };
    let (record, how) = record_intent(p.changes, record).await?;
    let decision = match how {
        Recorded::New => outcome.decision.clone(),
        Recorded::AlreadyThere => reason_of(&record).map(|r| r.decision).ok_or_else(|| {
            PortError::new(ErrorKind::Fatal, "tune-memory", format!("change {id}: reason is not a memory decision"))
        })?,
    };
    if how == Recorded::AlreadyThere && at_target(p.control, function, current, &decision).await? {
        return Ok((Outcome::AlreadyThere, decision));
    }
    apply_recorded(p.changes, &record, apply_memory(p.control, function, current, &decision)).await?;
    let detail = json!({"decision": decision, "verdict": outcome.verdict, "changeId": id});
    p.events.publish(&[event(detail_type::MEMORY_CHANGED, function, input.policy.mode, now, detail)]).await?;
    Ok((Outcome::Applied, decision))
}

/// True when the function is already where `decision` takes it.
async fn at_target<F: FunctionControl>(
    control: &F,
    function: &FunctionRef,
    current: &Current,
    decision: &MemoryDecision,
) -> PortResult<bool> {
    let to = decision.target();
    let Some(alias) = &current.alias else { return Ok(current.config.memory == to) };
    match canary_weight(decision) {
        Some(_) => match &alias.routing.canary {
            Some((v, _)) => Ok(control.get_function(&qualified(function, v)?).await?.memory == to),
            None => Ok(false),
        },
        None => Ok(alias.routing.canary.is_none() && current.serving == to),
    }
}

fn canary_weight(decision: &MemoryDecision) -> Option<u8> {
    match decision {
        MemoryDecision::Explore { rollout: Rollout::AliasCanary { weight_pct }, .. }
        | MemoryDecision::Resize { rollout: Rollout::AliasCanary { weight_pct }, .. } => Some(*weight_pct),
        _ => None,
    }
}

/// Applies a memory decision through the control plane.
async fn apply_memory<F: FunctionControl>(
    control: &F,
    function: &FunctionRef,
    current: &Current,
    decision: &MemoryDecision,
) -> PortResult<()> {
    let to = decision.target();
    let Some(alias) = &current.alias else { return control.set_memory(function, to).await };
    let alias_ref = qualified(function, &alias.name)?;
    if let Some(weight_pct) = canary_weight(decision) {
        control.set_memory(function, to).await?;
        let version = control.publish_version(function).await?;
        let routing = AliasRouting {
            version: alias.routing.version.clone(),
            canary: Some((version, f64::from(weight_pct) / 100.0)),
        };
        return control.set_alias(&alias_ref, &routing).await;
    }
    // Promote a healthy canary, or move the alias to a version of the target size alone.
    let mut version = None;
    if let Some((v, _)) = &alias.routing.canary
        && control.get_function(&qualified(function, v)?).await?.memory == to
    {
        version = Some(v.clone());
    }
    if version.is_none() && current.serving == to {
        version = Some(alias.routing.version.clone());
    }
    let version = match version {
        Some(v) => v,
        None => {
            control.set_memory(function, to).await?;
            control.publish_version(function).await?
        }
    };
    control.set_alias(&alias_ref, &AliasRouting { version, canary: None }).await
}

/// Rolls back the pending change inline: records the rollback, restores the recorded
/// previous configuration, marks the change rolled back, publishes `Rolled Back`.
async fn roll_back<F, C, E, L, R>(
    p: &MemoryPorts<'_, F, C, E, L, R>,
    input: &BatchInput,
    function: &FunctionRef,
    current: &Current,
    pending: &Pending,
    outcome: &autopilot_core::tuner::Outcome,
) -> Result<Outcome, Failure>
where
    F: FunctionControl,
    C: ChangeLog,
    E: EventSink,
{
    let now = input.now.0;
    let id = change_id(&input.execution_id, function, kind::ROLLBACK);
    let reason = MemoryReasonRecord {
        decision: outcome.decision.clone(),
        verdict: outcome.verdict.clone(),
        before: None,
        ban: outcome.new_ban,
    };
    let record = ChangeRecord {
        id: id.clone(),
        function: function.clone(),
        at: now,
        change: Change::Rollback { of_change: pending.record.id.clone() },
        previous: FunctionState { memory: current.serving, alias: current.alias.clone(), provisioned: None },
        status: ChangeStatus::Intended,
        reason: serde_json::to_value(&reason).unwrap_or_default(),
    };
    let tripped = Failure::Tripped;
    let (record, _) = record_intent(p.changes, record).await.map_err(tripped)?;
    let restored = &pending.record.previous;
    let outcome_ = if memory_state_matches(p.control, function, restored).await.map_err(tripped)? {
        p.changes.set_status(function, &record.id, ChangeStatus::Applied).await?;
        Outcome::AlreadyThere
    } else {
        apply_recorded(p.changes, &record, restore(p.control, function, &pending.record.change, restored))
            .await
            .map_err(tripped)?;
        Outcome::Applied
    };
    p.changes.set_status(function, &pending.record.id, ChangeStatus::RolledBack).await?;
    let detail = json!({"changeId": id, "ofChange": pending.record.id, "restored": restored,
        "reason": {"decision": outcome.decision, "verdict": outcome.verdict}});
    p.events.publish(&[event(detail_type::ROLLED_BACK, function, input.policy.mode, now, detail)]).await?;
    Ok(outcome_)
}
