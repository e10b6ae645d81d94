//! In-memory ports for tests and the simulator: a [`RunStore`], a [`MetricsSource`], and a
//! small Lambda fleet ([`InMemoryFleet`]: `FunctionControl` + `StatsStore`) that behaves like
//! Lambda where the run logic depends on it (memory on `$LATEST`, versions snapshot memory,
//! weighted aliases, PC on an alias or version only). Change log, events and leases: the
//! simulator's (`autopilot_sim::fakes`).

use std::collections::{BTreeMap, HashMap};
use std::future::{Future, ready};
use std::sync::{Mutex, MutexGuard, PoisonError};

use autopilot_core::forecast::kept::{BinHistory, KeptModel};
use autopilot_core::observe::{MinuteStats, WindowSummary};
use autopilot_core::ports::{
    ActRecord, AliasConfig, AliasRouting, ErrorKind, FunctionConfig, FunctionControl, MetricsSource, PcStatus,
    PortError, PortResult, ProvisionedConcurrency, RunStore, StatsStore, StoredForecast, WarmupOutcome,
};
use autopilot_core::tuner::lookback::SizeHistory;
use autopilot_core::{Architecture, Concurrency, FunctionRef, MemoryMb, Minute};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Summaries, forecasts, act records and the kept forecasters in memory.
#[derive(Debug, Default)]
pub struct InMemoryRunStore {
    summaries: Mutex<HashMap<(FunctionRef, Minute, Minute), WindowSummary>>,
    forecasts: Mutex<HashMap<(FunctionRef, Minute), StoredForecast>>,
    acts: Mutex<BTreeMap<(FunctionRef, Minute), ActRecord>>,
    models: Mutex<HashMap<FunctionRef, KeptModel>>,
    histories: Mutex<HashMap<FunctionRef, BinHistory>>,
    sizes: Mutex<HashMap<FunctionRef, SizeHistory>>,
    /// Models written (refits), for tests and benchmarks.
    model_writes: Mutex<u64>,
}

impl InMemoryRunStore {
    pub fn summary_count(&self) -> usize {
        lock(&self.summaries).len()
    }

    /// Models written so far: the refits.
    pub fn model_writes(&self) -> u64 {
        *lock(&self.model_writes)
    }
}

impl RunStore for InMemoryRunStore {
    fn put_summary(&self, summary: &WindowSummary) -> impl Future<Output = PortResult<()>> + Send {
        let key = (summary.function.clone(), summary.from, summary.to);
        lock(&self.summaries).insert(key, summary.clone());
        ready(Ok(()))
    }

    fn get_summary(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Option<WindowSummary>>> + Send {
        ready(Ok(lock(&self.summaries).get(&(function.clone(), from, to)).cloned()))
    }

    fn put_forecast(&self, forecast: &StoredForecast) -> impl Future<Output = PortResult<()>> + Send {
        lock(&self.forecasts).insert((forecast.function.clone(), forecast.forecast.origin), forecast.clone());
        ready(Ok(()))
    }

    fn get_forecast(
        &self,
        function: &FunctionRef,
        origin: Minute,
    ) -> impl Future<Output = PortResult<Option<StoredForecast>>> + Send {
        ready(Ok(lock(&self.forecasts).get(&(function.clone(), origin)).cloned()))
    }

    fn put_act(&self, act: &ActRecord) -> impl Future<Output = PortResult<()>> + Send {
        lock(&self.acts).insert((act.function.clone(), act.minute), act.clone());
        ready(Ok(()))
    }

    fn get_acts(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Vec<ActRecord>>> + Send {
        let acts = lock(&self.acts);
        let range = acts.range((function.clone(), from)..(function.clone(), to));
        ready(Ok(range.map(|(_, a)| a.clone()).collect()))
    }

    fn put_model(&self, function: &FunctionRef, model: &KeptModel) -> impl Future<Output = PortResult<()>> + Send {
        lock(&self.models).insert(function.clone(), model.clone());
        *lock(&self.model_writes) += 1;
        ready(Ok(()))
    }

    fn get_model(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<KeptModel>>> + Send {
        ready(Ok(lock(&self.models).get(function).cloned()))
    }

    fn put_history(&self, function: &FunctionRef, history: &BinHistory) -> impl Future<Output = PortResult<()>> + Send {
        lock(&self.histories).insert(function.clone(), history.clone());
        ready(Ok(()))
    }

    fn get_history(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<BinHistory>>> + Send {
        ready(Ok(lock(&self.histories).get(function).cloned()))
    }

    fn put_sizes(&self, function: &FunctionRef, sizes: &SizeHistory) -> impl Future<Output = PortResult<()>> + Send {
        lock(&self.sizes).insert(function.clone(), sizes.clone());
        ready(Ok(()))
    }

    fn get_sizes(&self, function: &FunctionRef) -> impl Future<Output = PortResult<Option<SizeHistory>>> + Send {
        ready(Ok(lock(&self.sizes).get(function).cloned()))
    }
}

/// A metrics source with nothing to say (functions without the extension have no data).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl MetricsSource for NoMetrics {
    fn read_minutes(
        &self,
        _function: &FunctionRef,
        _from: Minute,
        _to: Minute,
    ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send {
        ready(Ok(Vec::new()))
    }
}

/// Minutes per function, as CloudWatch would give them (in the stats shape).
#[derive(Debug, Default)]
pub struct InMemoryMetrics {
    pub minutes: Mutex<Vec<MinuteStats>>,
}

impl MetricsSource for InMemoryMetrics {
    fn read_minutes(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send {
        let items = lock(&self.minutes)
            .iter()
            .filter(|m| m.function.name() == function.name() && m.minute >= from && m.minute < to)
            .cloned()
            .collect();
        ready(Ok(items))
    }
}

/// One function of [`InMemoryFleet`].
#[derive(Debug, Clone)]
pub struct FakeFunction {
    pub architecture: Architecture,
    pub latest_memory: MemoryMb,
    /// Memory of published versions; version `n` is `versions[n - 1]`.
    pub versions: Vec<MemoryMb>,
    pub aliases: BTreeMap<String, AliasRouting>,
    /// Requested PC per qualifier.
    pub provisioned: BTreeMap<String, u32>,
    pub tags: BTreeMap<String, String>,
}

impl FakeFunction {
    pub fn new(memory: u32) -> Self {
        Self {
            architecture: Architecture::X86_64,
            latest_memory: MemoryMb::new(u64::from(memory)).unwrap_or(MemoryMb::MIN),
            versions: Vec::new(),
            aliases: BTreeMap::new(),
            provisioned: BTreeMap::new(),
            tags: BTreeMap::from([("autopilot".to_owned(), "true".to_owned())]),
        }
    }

    /// Publishes version 1 at the current memory and points `alias` at it.
    pub fn with_alias(mut self, alias: &str) -> Self {
        self.versions.push(self.latest_memory);
        self.aliases.insert(alias.to_owned(), AliasRouting { version: "1".to_owned(), canary: None });
        self
    }

    fn memory_of(&self, qualifier: Option<&str>) -> Option<MemoryMb> {
        match qualifier {
            None | Some("$LATEST") => Some(self.latest_memory),
            Some(q) => {
                let version = self.aliases.get(q).map_or(q, |r| r.version.as_str());
                let n: usize = version.parse().ok()?;
                self.versions.get(n.checked_sub(1)?).copied()
            }
        }
    }
}

/// Calls made to an [`InMemoryFleet`] that change something.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writes {
    pub set_memory: u32,
    pub publish_version: u32,
    pub set_alias: u32,
    pub put_provisioned: u32,
    pub delete_provisioned: u32,
    pub warm_calls: u32,
}

/// Lambda functions and the stats table, in memory.
#[derive(Debug, Default)]
pub struct InMemoryFleet {
    pub functions: Mutex<BTreeMap<String, FakeFunction>>,
    pub stats: Mutex<Vec<MinuteStats>>,
    pub writes: Mutex<Writes>,
}

fn not_found(op: &'static str, what: String) -> PortError {
    PortError::new(ErrorKind::NotFound, op, what)
}

fn invalid(op: &'static str, what: String) -> PortError {
    PortError::new(ErrorKind::InvalidInput, op, what)
}

impl InMemoryFleet {
    pub fn add(&self, name: &str, f: FakeFunction) {
        lock(&self.functions).insert(name.to_owned(), f);
    }

    pub fn function(&self, name: &str) -> Option<FakeFunction> {
        lock(&self.functions).get(name).cloned()
    }

    pub fn writes(&self) -> Writes {
        lock(&self.writes).clone()
    }

    pub fn add_stats(&self, items: impl IntoIterator<Item = MinuteStats>) {
        lock(&self.stats).extend(items);
    }

    fn with<T>(
        &self,
        op: &'static str,
        f: &FunctionRef,
        act: impl FnOnce(&mut FakeFunction) -> PortResult<T>,
    ) -> PortResult<T> {
        let mut functions = lock(&self.functions);
        let function = functions.get_mut(f.name()).ok_or_else(|| not_found(op, format!("function {}", f.name())))?;
        act(function)
    }

    fn config(name: &str, f: &FakeFunction, memory: MemoryMb) -> FunctionConfig {
        FunctionConfig {
            function: FunctionRef::new(name, None).unwrap_or_else(|_| unreachable!("names are checked on add")),
            architecture: f.architecture,
            memory,
            timeout_ms: 30_000,
            runtime: Some("provided.al2023".to_owned()),
            reserved_concurrency: None,
            aliases: f.aliases.iter().map(|(n, r)| AliasConfig { name: n.clone(), routing: r.clone() }).collect(),
            tags: f.tags.clone(),
        }
    }

    fn set_pc(&self, target: &FunctionRef, level: u32, op: &'static str) -> PortResult<()> {
        let q = match target.qualifier() {
            Some(q) if q != "$LATEST" => q.to_owned(),
            _ => return Err(invalid(op, format!("{target}: PC needs an alias or a version"))),
        };
        self.with(op, target, |f| {
            if f.memory_of(Some(&q)).is_none() {
                return Err(not_found(op, format!("{target}: no such alias or version")));
            }
            if level == 0 {
                f.provisioned.remove(&q);
            } else {
                f.provisioned.insert(q, level);
            }
            Ok(())
        })?;
        let mut w = lock(&self.writes);
        if level == 0 {
            w.delete_provisioned += 1;
        } else {
            w.put_provisioned += 1;
        }
        Ok(())
    }
}

impl FunctionControl for InMemoryFleet {
    fn list_functions(&self, opt_in_tag: &str) -> impl Future<Output = PortResult<Vec<FunctionConfig>>> + Send {
        let functions = lock(&self.functions);
        ready(Ok(functions
            .iter()
            .filter(|(_, f)| f.tags.contains_key(opt_in_tag))
            .map(|(n, f)| Self::config(n, f, f.latest_memory))
            .collect()))
    }

    fn get_function(&self, function: &FunctionRef) -> impl Future<Output = PortResult<FunctionConfig>> + Send {
        const OP: &str = "GetFunction";
        ready(self.with(OP, function, |f| {
            let memory = f
                .memory_of(function.qualifier())
                .ok_or_else(|| not_found(OP, format!("{function}: no such alias or version")))?;
            Ok(Self::config(function.name(), f, memory))
        }))
    }

    fn set_memory(&self, function: &FunctionRef, memory: MemoryMb) -> impl Future<Output = PortResult<()>> + Send {
        const OP: &str = "UpdateFunctionConfiguration";
        if function.qualifier().is_some_and(|q| q != "$LATEST") {
            return ready(Err(invalid(OP, format!("{function}: memory is set on $LATEST"))));
        }
        let changed = self.with(OP, function, |f| {
            let changed = f.latest_memory != memory;
            f.latest_memory = memory;
            Ok(changed)
        });
        if let Ok(true) = changed {
            lock(&self.writes).set_memory += 1;
        }
        ready(changed.map(|_| ()))
    }

    fn publish_version(&self, function: &FunctionRef) -> impl Future<Output = PortResult<String>> + Send {
        // Like Lambda: nothing changed since the last version → that version again.
        let out = self.with("PublishVersion", function, |f| {
            if f.versions.last() == Some(&f.latest_memory) {
                return Ok((f.versions.len().to_string(), false));
            }
            f.versions.push(f.latest_memory);
            Ok((f.versions.len().to_string(), true))
        });
        if let Ok((_, true)) = out {
            lock(&self.writes).publish_version += 1;
        }
        ready(out.map(|(v, _)| v))
    }

    fn set_alias(&self, alias: &FunctionRef, routing: &AliasRouting) -> impl Future<Output = PortResult<()>> + Send {
        const OP: &str = "UpdateAlias";
        let Some(name) = alias.qualifier().filter(|_| alias.is_alias()) else {
            return ready(Err(invalid(OP, format!("{alias} does not name an alias"))));
        };
        let out = self.with(OP, alias, |f| {
            let exists = |v: &str| v.parse::<usize>().is_ok_and(|n| n >= 1 && n <= f.versions.len());
            if !exists(&routing.version) || routing.canary.as_ref().is_some_and(|(v, _)| !exists(v)) {
                return Err(not_found(OP, format!("{alias}: {routing:?} names a version that does not exist")));
            }
            Ok(f.aliases.insert(name.to_owned(), routing.clone()).as_ref() != Some(routing))
        });
        if let Ok(true) = out {
            lock(&self.writes).set_alias += 1;
        }
        ready(out.map(|_| ()))
    }

    fn get_provisioned(
        &self,
        target: &FunctionRef,
    ) -> impl Future<Output = PortResult<Option<ProvisionedConcurrency>>> + Send {
        let q = target.qualifier().unwrap_or("$LATEST").to_owned();
        ready(self.with("GetProvisionedConcurrencyConfig", target, |f| {
            Ok(f.provisioned.get(&q).map(|&n| {
                let c = Concurrency::new(u64::from(n)).unwrap_or(Concurrency::ZERO);
                ProvisionedConcurrency { requested: c, allocated: c, status: PcStatus::Ready }
            }))
        }))
    }

    fn put_provisioned(
        &self,
        target: &FunctionRef,
        concurrency: Concurrency,
    ) -> impl Future<Output = PortResult<()>> + Send {
        ready(self.set_pc(target, concurrency.get(), "PutProvisionedConcurrencyConfig"))
    }

    fn delete_provisioned(&self, target: &FunctionRef) -> impl Future<Output = PortResult<()>> + Send {
        ready(self.set_pc(target, 0, "DeleteProvisionedConcurrencyConfig"))
    }

    fn warm(
        &self,
        target: &FunctionRef,
        count: u32,
        _hold_ms: u32,
    ) -> impl Future<Output = PortResult<WarmupOutcome>> + Send {
        let out = self.with("Invoke", target, |_| Ok(WarmupOutcome { sent: count, landed_cold: 0, failed: 0 }));
        if out.is_ok() {
            lock(&self.writes).warm_calls += count;
        }
        ready(out)
    }
}

impl StatsStore for InMemoryFleet {
    /// Items whose `resourceId` is exactly `function` (the extension writes `name:version`).
    fn read_minutes(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send {
        let items = lock(&self.stats)
            .iter()
            .filter(|m| &m.function == function && m.minute >= from && m.minute < to)
            .cloned()
            .collect();
        ready(Ok(items))
    }
}

/// `minutes` items of steady traffic from `from`, as the extension writes them under
/// `resource` (`name:version`): `per_minute` invocations of `duration_ms`, using
/// `memory_used_mb`, `errors` and `out_of_memory` of them failing, one cold start per hour.
#[derive(Debug, Clone, Copy)]
pub struct Steady {
    pub memory: MemoryMb,
    pub per_minute: u64,
    pub duration_ms: f64,
    pub memory_used_mb: f64,
    pub errors: u64,
    pub out_of_memory: u64,
    pub init_ms: f64,
}

impl Steady {
    pub fn new(memory: u32, per_minute: u64, duration_ms: f64) -> Self {
        Self {
            memory: MemoryMb::new(u64::from(memory)).unwrap_or(MemoryMb::MIN),
            per_minute,
            duration_ms,
            memory_used_mb: 60.0,
            errors: 0,
            out_of_memory: 0,
            init_ms: 150.0,
        }
    }

    pub fn minutes(&self, resource: &FunctionRef, from: Minute, minutes: i64) -> Vec<MinuteStats> {
        use autopilot_core::observe::Counters;
        (0..minutes)
            .map(|i| {
                let n = self.per_minute;
                let busy = (self.duration_ms * n as f64).round() as u64;
                let cold = u64::from(i % 60 == 0 && n > 0);
                let mut c = Counters {
                    invocations: n,
                    cold_starts: cold,
                    errors: self.errors,
                    out_of_memory: self.out_of_memory,
                    billed_ms: self.duration_ms.ceil() as u64 * n,
                    billed_init_ms: cold * self.init_ms.ceil() as u64,
                    busy_ms: busy,
                    environments: busy.div_ceil(60_000).max(u64::from(n > 0)),
                    ..Counters::default()
                };
                c.duration.record_n(self.duration_ms, n);
                c.memory_used.record_n(self.memory_used_mb, n);
                if cold > 0 {
                    c.init.record(self.init_ms);
                }
                MinuteStats { function: resource.clone(), minute: from.plus(i), memory: self.memory, counters: c }
            })
            .collect()
    }
}
