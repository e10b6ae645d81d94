//! collect: the functions of the run, each one's window read and summarised, batches out.
//!
//! Per function: the extension writes `resourceId = name:version`, so the window is read for
//! `$LATEST` and every version an alias routes to (one query each), and the items are merged
//! under the unqualified name. A function with no extension data in the window is read from
//! the [`MetricsSource`] (CloudWatch) in memory runs only: CloudWatch bills every metric
//! read, and a concurrency run every few minutes would make it the largest line of the bill.
//! Every function gets a summary, empty when there was no data, so later steps can tell
//! "no traffic" from "not collected".

use std::collections::BTreeSet;

use autopilot_core::observe::{MinuteStats, WindowSummary};
use autopilot_core::ports::{
    ErrorKind, FunctionConfig, FunctionControl, MetricsSource, PortError, PortResult, RunStore, StatsStore,
};
use autopilot_core::{FunctionRef, MemoryMb, Minute};

use crate::contract::{
    At, CollectInput, CollectOutput, CollectTally, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, MAX_OUTPUT_BYTES,
    MAX_WINDOW_MINUTES, RunKind, Window,
};
use crate::{RunError, execution_id_ok, unqualified, valid_policy};

/// The ports collect reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct CollectPorts<'a, F, S, M, R> {
    pub control: &'a F,
    pub stats: &'a S,
    pub metrics: &'a M,
    pub store: &'a R,
    /// Tag key that opts a function in.
    pub opt_in_tag: &'a str,
}

/// Where a function's window came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Stats(usize),
    Metrics,
    Nothing,
}

pub async fn collect<F, S, M, R>(
    p: &CollectPorts<'_, F, S, M, R>,
    input: &CollectInput,
) -> Result<CollectOutput, RunError>
where
    F: FunctionControl,
    S: StatsStore,
    M: MetricsSource,
    R: RunStore,
{
    valid_policy(&input.policy)?;
    execution_id_ok(&input.execution_id)?;
    let batch_size = input.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
        return Err(RunError::InvalidInput(format!("batchSize {batch_size}: expected 1..={MAX_BATCH_SIZE}")));
    }
    let minutes = input.window_minutes.unwrap_or(input.run.default_window_minutes());
    if !(1..=MAX_WINDOW_MINUTES).contains(&minutes) {
        return Err(RunError::InvalidInput(format!("windowMinutes {minutes}: expected 1..={MAX_WINDOW_MINUTES}")));
    }
    let now = input.now.0;
    let window = Window { from: At(now.plus(-i64::from(minutes))), to: input.now };
    let configs = functions_of_run(p, input).await?;
    let mut tally = CollectTally::default();
    let mut names = Vec::with_capacity(configs.len());
    let mut failures = Vec::new();
    for config in &configs {
        match summarise(p, input.run, config, window).await {
            Ok(source) => {
                tally.functions += 1;
                match source {
                    Source::Stats(items) => {
                        tally.from_stats += 1;
                        tally.items += items;
                    }
                    Source::Metrics => tally.from_metrics += 1,
                    Source::Nothing => tally.without_data += 1,
                }
                names.push(config.function.clone());
            }
            Err(e) => failures.push((config.function.clone(), e)),
        }
    }
    if let Some(e) = RunError::from_failures(configs.len(), failures) {
        return Err(e);
    }
    let output = CollectOutput {
        run: input.run,
        policy: input.policy.clone(),
        execution_id: input.execution_id.clone(),
        now: input.now,
        window,
        batches: names.chunks(batch_size).map(<[FunctionRef]>::to_vec).collect(),
        collected: tally,
    };
    let bytes = serde_json::to_vec(&output).map_or(usize::MAX, |v| v.len());
    if bytes > MAX_OUTPUT_BYTES {
        return Err(RunError::InvalidInput(format!(
            "{} functions make a {bytes}-byte output, above the {MAX_OUTPUT_BYTES} bytes a Step Functions \
             payload can carry: split the group (several schedules with `functions` lists or tags)",
            tally.functions
        )));
    }
    Ok(output)
}

/// The opted-in functions, or the ones the input lists (those that no longer exist are left out).
async fn functions_of_run<F, S, M, R>(
    p: &CollectPorts<'_, F, S, M, R>,
    input: &CollectInput,
) -> Result<Vec<FunctionConfig>, RunError>
where
    F: FunctionControl,
{
    let Some(list) = &input.functions else {
        let mut all = p.control.list_functions(p.opt_in_tag).await?;
        all.sort_by(|a, b| a.function.cmp(&b.function));
        return Ok(all);
    };
    unqualified(list)?;
    let unique: BTreeSet<&FunctionRef> = list.iter().collect();
    let mut out = Vec::with_capacity(unique.len());
    for f in unique {
        match p.control.get_function(f).await {
            Ok(c) => out.push(c),
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The qualifiers the extension may have written items under: `$LATEST` and every version
/// an alias routes traffic to.
pub fn stats_qualifiers(config: &FunctionConfig) -> Vec<String> {
    let mut q = BTreeSet::from(["$LATEST".to_owned()]);
    for a in &config.aliases {
        q.insert(a.routing.version.clone());
        if let Some((v, _)) = &a.routing.canary {
            q.insert(v.clone());
        }
    }
    q.into_iter().collect()
}

async fn summarise<F, S, M, R>(
    p: &CollectPorts<'_, F, S, M, R>,
    run: RunKind,
    config: &FunctionConfig,
    window: Window,
) -> PortResult<Source>
where
    S: StatsStore,
    M: MetricsSource,
    R: RunStore,
{
    let function = &config.function;
    let (from, to) = (window.from.0, window.to.0);
    let mut items: Vec<MinuteStats> = Vec::new();
    let mut seen: BTreeSet<(FunctionRef, Minute, MemoryMb)> = BTreeSet::new();
    for q in stats_qualifiers(config) {
        let qualified = function.with_qualifier(Some(&q)).map_err(|e| {
            PortError::new(ErrorKind::Fatal, "collect", format!("{function}: version {q:?} is not valid: {e}"))
        })?;
        // A store that does not tell versions apart (the simulator's) answers every query
        // with the same items: each item counts once.
        for item in p.stats.read_minutes(&qualified, from, to).await? {
            if seen.insert((item.function.clone(), item.minute, item.memory)) {
                items.push(item);
            }
        }
    }
    let mut source = if items.is_empty() { Source::Nothing } else { Source::Stats(items.len()) };
    if items.is_empty() && run == RunKind::Memory {
        items = p.metrics.read_minutes(function, from, to).await?;
        if !items.is_empty() {
            source = Source::Metrics;
        }
    }
    for item in &mut items {
        item.function = function.clone();
    }
    let (summary, _ignored) = WindowSummary::from_minutes(function.clone(), from, to, &items);
    p.store.put_summary(&summary).await?;
    Ok(source)
}
