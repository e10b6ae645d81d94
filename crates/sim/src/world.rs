//! The simulated world: functions with their configuration (memory, versions, aliases,
//! provisioned concurrency), their environment pools and what they observed.

use std::collections::{BTreeMap, HashMap};

use autopilot_core::cost::{CostModel, Usage};
use autopilot_core::ports::{AliasRouting, WarmupOutcome};
use autopilot_core::{DomainError, FunctionRef, MemoryMb, Minute};
use serde::Serialize;

use crate::acc::Tally;
use crate::env::{EnvironmentPool, Placement, PoolConfig};
use crate::model::FunctionSpec;
use crate::model::duration::DurationDist;
use crate::peak::{BucketDist, lognormal_buckets};
use crate::rng::Rng;
use crate::stats_log::StatsLog;
use crate::traffic::TrafficState;

/// `$LATEST`, the unpublished version.
pub const LATEST: &str = "$LATEST";

/// Settings of a simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimConfig {
    pub seed: u64,
    /// First simulated minute (default: Monday 2026-01-05 00:00 UTC).
    pub start: Minute,
    pub minutes: u64,
    /// Keep-alive and PC allocation delay of every pool (the limit comes from each function).
    pub pool: PoolConfig,
    /// Account concurrency limit, applied to each function that has no reserved concurrency.
    pub account_concurrency: Option<u32>,
    /// A function version with more arrivals than this in a minute is simulated with the
    /// aggregate model of `peak.rs`; at or below, invocation by invocation.
    pub aggregate_threshold: u64,
    /// How many minutes of per-minute stats are kept for `StatsStore` reads (memory grows
    /// with it: each kept item holds its histograms' nonzero buckets).
    pub stats_retention_minutes: usize,
    #[serde(skip)]
    pub cost_model: CostModel,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            start: Minute::from_epoch_ms(1_767_571_200_000), // 2026-01-05T00:00Z, a Monday
            minutes: 7 * Minute::PER_DAY as u64,
            pool: PoolConfig::default(),
            account_concurrency: Some(1_000),
            aggregate_threshold: 100,
            stats_retention_minutes: 0,
            cost_model: CostModel::default(),
        }
    }
}

/// The model of one function version at one memory size, computed once.
#[derive(Debug, Clone)]
pub(crate) struct VersionModel {
    pub memory: MemoryMb,
    pub dist: DurationDist,
    pub timeout_ms: f64,
    pub p_oom: f64,
    pub p_timeout: f64,
    pub memory_needed_mb: f64,
    pub error_rate: f64,
    pub init_mu: f64,
    pub init_sigma: f64,
    pub init_offset_ms: f64,
    pub init_mean_ms: f64,
    /// Mean time an invocation holds its environment (ms).
    pub mean_service_ms: f64,
    dur_buckets: Option<BucketDist>,
    mem_buckets: Option<BucketDist>,
}

impl VersionModel {
    fn new(spec: &FunctionSpec, memory: MemoryMb) -> Self {
        let dist = spec.duration.dist(memory);
        let timeout_ms = spec.timeout_ms as f64;
        Self {
            memory,
            dist,
            timeout_ms,
            p_oom: spec.oom_share(memory),
            p_timeout: dist.share_above(timeout_ms),
            memory_needed_mb: spec.memory_needed_mb,
            error_rate: spec.error_rate,
            init_mu: spec.init.mu(),
            init_sigma: spec.init.sigma,
            init_offset_ms: spec.init_offset_ms,
            init_mean_ms: spec.init_mean_ms(),
            mean_service_ms: dist.overall_mean_ms().min(timeout_ms),
            dur_buckets: None,
            mem_buckets: None,
        }
    }

    /// Buckets of the durations of invocations that finish within the timeout.
    pub fn duration_buckets(&mut self) -> &BucketDist {
        let d = self.dist;
        let timeout = self.timeout_ms;
        self.dur_buckets.get_or_insert_with(|| {
            let mut comps = vec![(1.0, d.mu(), d.sigma)];
            if let Some((share, factor)) = d.slow {
                comps = vec![(1.0 - share, d.mu(), d.sigma), (share, d.mu() + factor.ln(), d.sigma)];
            }
            lognormal_buckets(&comps, timeout)
        })
    }

    /// Buckets of the peak memory of invocations that fit in the configured memory.
    pub fn memory_buckets(&mut self) -> &BucketDist {
        let (need, mem) = (self.memory_needed_mb, f64::from(self.memory.get()));
        self.mem_buckets.get_or_insert_with(|| {
            lognormal_buckets(&[(1.0, need.max(1.0).ln(), crate::model::function::MEMORY_SIGMA)], mem)
        })
    }
}

/// One version's environments and model.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub pool: EnvironmentPool,
    pub model: VersionModel,
}

/// A simulated function and everything that happened to it.
#[derive(Debug)]
pub struct SimFunction {
    pub spec: FunctionSpec,
    pub(crate) fref: FunctionRef,
    pub(crate) latest_memory: MemoryMb,
    /// Memory of version n at index n − 1.
    pub(crate) versions: Vec<MemoryMb>,
    pub(crate) aliases: BTreeMap<String, AliasRouting>,
    pub(crate) slots: BTreeMap<String, Slot>,
    pub(crate) traffic: TrafficState,
    pub(crate) service: Rng,
    pub(crate) totals: Tally,
    pub(crate) usage: Usage,
    pub(crate) stats: StatsLog,
    /// Control-plane changes applied by the autopilot (memory, alias, PC).
    pub(crate) decisions: u64,
    pub(crate) warmups: WarmupOutcome,
    pub(crate) limit: Option<u32>,
    /// Provisioned concurrency requested per qualifier (alias or version).
    pub(crate) provisioned: BTreeMap<String, u32>,
    /// Where callers' traffic goes, cached; reset whenever an alias changes.
    pub(crate) route: Option<Route>,
}

/// The versions traffic lands on: the primary, and a canary with its weight.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub primary: String,
    pub canary: Option<(String, f64)>,
}

impl SimFunction {
    /// A function at the start of a run; its name must be a valid Lambda function name.
    pub fn new(spec: FunctionSpec, cfg: &SimConfig) -> Result<Self, DomainError> {
        let fref = FunctionRef::new(&spec.name, None)?;
        let traffic = TrafficState::new(spec.traffic.clone(), Rng::stream(cfg.seed, &spec.name, "arrivals"));
        let service = Rng::stream(cfg.seed, &spec.name, "service");
        let mut f = Self {
            fref,
            latest_memory: spec.memory,
            versions: Vec::new(),
            aliases: BTreeMap::new(),
            slots: BTreeMap::new(),
            traffic,
            service,
            totals: Tally::default(),
            usage: Usage::default(),
            stats: StatsLog::default(),
            decisions: 0,
            warmups: WarmupOutcome::default(),
            limit: spec.reserved_concurrency.or(cfg.account_concurrency),
            provisioned: BTreeMap::new(),
            route: None,
            spec,
        };
        if let Some(alias) = f.spec.alias.clone() {
            FunctionRef::new(&f.spec.name, Some(&alias))?;
            let v = f.publish_version();
            f.aliases.insert(alias, AliasRouting { version: v, canary: None });
        }
        Ok(f)
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn function_ref(&self) -> &FunctionRef {
        &self.fref
    }

    /// Memory of `$LATEST` or of a version; `None` for an unknown version.
    pub fn memory_of(&self, version: &str) -> Option<MemoryMb> {
        if version == LATEST {
            return Some(self.latest_memory);
        }
        let n: usize = version.parse().ok()?;
        self.versions.get(n.checked_sub(1)?).copied()
    }

    /// The memory most traffic runs at now (the alias's primary version, else `$LATEST`).
    pub fn serving_memory(&self) -> MemoryMb {
        self.spec
            .alias
            .as_ref()
            .and_then(|a| self.aliases.get(a))
            .and_then(|r| self.memory_of(&r.version))
            .unwrap_or(self.latest_memory)
    }

    /// The current route of callers' traffic.
    pub(crate) fn compute_route(&self) -> Route {
        match self.spec.alias.as_ref().and_then(|a| self.aliases.get(a)) {
            Some(r) => Route { primary: r.version.clone(), canary: r.canary.clone() },
            None => Route { primary: LATEST.to_owned(), canary: None },
        }
    }

    pub(crate) fn publish_version(&mut self) -> String {
        self.versions.push(self.latest_memory);
        self.versions.len().to_string()
    }

    pub(crate) fn slot(&mut self, version: &str, pool: PoolConfig) -> &mut Slot {
        if !self.slots.contains_key(version) {
            let memory = self.memory_of(version).unwrap_or(self.latest_memory);
            let slot = Slot {
                pool: EnvironmentPool::new(memory, PoolConfig { concurrency_limit: self.limit, ..pool }),
                model: VersionModel::new(&self.spec, memory),
            };
            self.slots.insert(version.to_owned(), slot);
        }
        self.slots.get_mut(version).unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// Sets `$LATEST`'s memory; its environments are discarded (a configuration update).
    pub(crate) fn set_latest_memory(&mut self, memory: MemoryMb, now_ms: f64) {
        if memory == self.latest_memory {
            return;
        }
        self.latest_memory = memory;
        if let Some(mut old) = self.slots.remove(LATEST) {
            self.usage += old.pool.retire(now_ms);
        }
    }

    /// The version a qualifier's traffic lands on (an alias's primary version, a version, `$LATEST`).
    pub(crate) fn resolve(&self, qualifier: Option<&str>) -> Option<String> {
        match qualifier {
            None | Some(LATEST) => Some(LATEST.to_owned()),
            Some(q) if self.aliases.contains_key(q) => self.aliases.get(q).map(|r| r.version.clone()),
            Some(q) => self.memory_of(q).map(|_| q.to_owned()),
        }
    }

    /// Sends `count` overlapping keep-warm calls at `now_ms` to the version behind `qualifier`.
    /// `count` warm-up calls, each holding its environment `hold` ms.
    pub(crate) fn warm(
        &mut self,
        version: &str,
        (count, hold): (u32, f64),
        now_ms: f64,
        cfg: &SimConfig,
    ) -> WarmupOutcome {
        let mut out = WarmupOutcome { sent: count, ..WarmupOutcome::default() };
        // Counters here; the histograms a report reads straight into the totals (a fresh
        // tally's dense histograms would be allocated and zeroed for every round).
        let mut tally = Tally::default();
        let memory = self.slot(version, cfg.pool).pool.memory();
        let Self { slots, service, totals, .. } = self;
        let Some(slot) = slots.get_mut(version) else { return out };
        let m = &slot.model;
        for _ in 0..count {
            let (placement, init) = slot.pool.invoke_with(now_ms, hold, false, || {
                (m.init_mu + m.init_sigma * service.normal()).exp() + m.init_offset_ms
            });
            match placement {
                Placement::Throttled => {
                    out.failed += 1;
                    tally.throttles += 1;
                }
                placement => {
                    // A keep-warm call is an invocation like any other: counted, billed,
                    // seen by the extension; one that lands cold is a cold start.
                    tally.invocations += 1;
                    tally.billed_ms += autopilot_core::cost::billed_ms(hold);
                    tally.busy_ms += hold;
                    totals.duration.record(hold, 1);
                    totals.latency.record(hold + init, 1);
                    if placement == Placement::Cold {
                        out.landed_cold += 1;
                        tally.cold_starts += 1;
                        tally.billed_init_ms += autopilot_core::cost::billed_ms(init);
                        tally.busy_ms += init;
                    }
                    if placement == Placement::Provisioned {
                        tally.pc_invocations += 1;
                        tally.pc_billed_ms += autopilot_core::cost::billed_ms(hold);
                    }
                }
            }
        }
        tally.environments += u64::from(count - out.failed);
        self.usage += tally.usage(memory);
        tally.add_to_totals(&mut self.totals);
        self.warmups.sent += out.sent;
        self.warmups.landed_cold += out.landed_cold;
        self.warmups.failed += out.failed;
        out
    }
}

/// Every simulated function, the clock and the settings.
#[derive(Debug)]
pub struct World {
    pub config: SimConfig,
    pub functions: Vec<SimFunction>,
    pub(crate) by_name: HashMap<String, usize>,
    /// Minutes simulated so far.
    pub(crate) elapsed: u64,
}

impl World {
    /// The world at the start of a run, or the first function whose name or alias Lambda
    /// would reject.
    pub fn try_new(config: SimConfig, specs: Vec<FunctionSpec>) -> Result<Self, DomainError> {
        let functions = specs.into_iter().map(|s| SimFunction::new(s, &config)).collect::<Result<Vec<_>, _>>()?;
        let by_name = functions.iter().enumerate().map(|(i, f)| (f.spec.name.clone(), i)).collect();
        Ok(Self { config, functions, by_name, elapsed: 0 })
    }

    /// As [`Self::try_new`], for fleets known to be valid (the demo fleet).
    ///
    /// # Panics
    /// If a function's name or alias is not one Lambda accepts.
    pub fn new(config: SimConfig, specs: Vec<FunctionSpec>) -> Self {
        Self::try_new(config, specs).unwrap_or_else(|e| panic!("invalid simulated fleet: {e}"))
    }

    /// The simulated clock: the minute about to be simulated.
    pub fn now(&self) -> Minute {
        self.config.start.plus(self.elapsed as i64)
    }

    /// Minutes simulated so far.
    pub fn elapsed_minutes(&self) -> u64 {
        self.elapsed
    }

    pub(crate) fn now_ms(&self) -> f64 {
        self.elapsed as f64 * 60_000.0
    }

    /// Replaces the functions of the world (and the index of their names).
    pub(crate) fn set_functions(&mut self, functions: Vec<SimFunction>) {
        self.by_name = functions.iter().enumerate().map(|(i, f)| (f.spec.name.clone(), i)).collect();
        self.functions = functions;
    }

    pub fn function(&self, name: &str) -> Option<&SimFunction> {
        self.by_name.get(name).map(|&i| &self.functions[i])
    }
}
