//! The core ports over the simulated world: the decision-running code of the Lambdas runs
//! against these unchanged. Every future is ready at once (see [`crate::block_on`]).
//!
//! The control plane behaves like Lambda's where the autopilot depends on it: memory is set
//! on `$LATEST` only (and discards its environments), versions snapshot memory, aliases route
//! a weight to a second version, provisioned concurrency is set on an alias or a version —
//! never `$LATEST` — and becomes READY after the allocation delay.

use std::cell::RefCell;
use std::future::{Future, ready};

use autopilot_core::observe::{LoadWindow, MinuteStats, WindowSummary};
use autopilot_core::ports::{
    AliasConfig, AliasRouting, ErrorKind, FunctionConfig, FunctionControl, PcStatus, PortError, PortResult,
    ProvisionedConcurrency, StatsStore, WarmupOutcome,
};
use autopilot_core::{Concurrency, FunctionRef, MemoryMb, Minute};

pub use crate::fakes::{InMemoryChangeLog, InMemoryEventSink, InMemoryLease};
use crate::world::{LATEST, SimConfig, SimFunction, World};

/// What a policy gets on each scheduled run.
#[derive(Debug)]
pub struct FleetPorts<'a> {
    pub control: SimControl<'a>,
    pub changes: &'a InMemoryChangeLog,
    pub events: &'a InMemoryEventSink,
    pub lease: &'a InMemoryLease,
}

/// `FunctionControl` and `StatsStore` over the simulated world, at its current minute.
#[derive(Debug)]
pub struct SimControl<'a> {
    world: RefCell<&'a mut World>,
}

impl<'a> SimControl<'a> {
    pub fn new(world: &'a mut World) -> Self {
        Self { world: RefCell::new(world) }
    }

    pub fn now(&self) -> Minute {
        self.world.borrow().now()
    }

    fn with<T>(
        &self,
        op: &'static str,
        f: &FunctionRef,
        act: impl FnOnce(&mut SimFunction, f64, &SimConfig) -> PortResult<T>,
    ) -> PortResult<T> {
        let mut guard = self.world.borrow_mut();
        let now_ms = guard.now_ms();
        let World { config, functions, by_name, .. } = &mut **guard;
        let index = *by_name
            .get(f.name())
            .ok_or_else(|| PortError::new(ErrorKind::NotFound, op, format!("function {} does not exist", f.name())))?;
        act(&mut functions[index], now_ms, config)
    }
}

fn invalid(op: &'static str, message: String) -> PortError {
    PortError::new(ErrorKind::InvalidInput, op, message)
}

fn config_of(f: &SimFunction) -> FunctionConfig {
    FunctionConfig {
        function: f.function_ref().clone(),
        architecture: f.spec.architecture,
        memory: f.latest_memory,
        timeout_ms: f.spec.timeout_ms,
        runtime: Some(f.spec.runtime.lambda_id().to_owned()),
        reserved_concurrency: f.spec.reserved_concurrency.and_then(|c| Concurrency::new(u64::from(c)).ok()),
        aliases: f
            .aliases
            .iter()
            .map(|(name, routing)| AliasConfig { name: name.clone(), routing: routing.clone() })
            .collect(),
        tags: f.spec.tags.clone(),
    }
}

/// The qualifier of a PC target: an alias or a version, never `$LATEST` or none.
fn pc_qualifier<'q>(op: &'static str, target: &'q FunctionRef) -> PortResult<&'q str> {
    match target.qualifier() {
        Some(q) if q != LATEST => Ok(q),
        _ => Err(invalid(op, format!("{target}: provisioned concurrency needs an alias or a version, not $LATEST"))),
    }
}

impl SimControl<'_> {
    fn set_pc(&self, target: &FunctionRef, level: u32, op: &'static str) -> PortResult<()> {
        let q = pc_qualifier(op, target)?;
        self.with(op, target, |f, now_ms, cfg| {
            let version = f.resolve(Some(q)).ok_or_else(|| {
                PortError::new(ErrorKind::NotFound, op, format!("{target}: no such alias or version"))
            })?;
            let before = f.provisioned.get(q).copied().unwrap_or(0);
            if before == level {
                return Ok(());
            }
            f.slot(&version, cfg.pool).pool.set_provisioned(now_ms, level);
            if level == 0 {
                f.provisioned.remove(q);
            } else {
                f.provisioned.insert(q.to_owned(), level);
            }
            f.decisions += 1;
            Ok(())
        })
    }
}

impl FunctionControl for SimControl<'_> {
    fn list_functions(&self, opt_in_tag: &str) -> impl Future<Output = PortResult<Vec<FunctionConfig>>> + Send {
        let world = self.world.borrow();
        ready(Ok(world.functions.iter().filter(|f| f.spec.tags.contains_key(opt_in_tag)).map(config_of).collect()))
    }

    fn get_function(&self, function: &FunctionRef) -> impl Future<Output = PortResult<FunctionConfig>> + Send {
        // Like GetFunctionConfiguration: a qualifier (version or alias) reports the memory of
        // the version it names, not $LATEST's.
        ready(self.with("GetFunction", function, |f, _, _| {
            let mut config = config_of(f);
            if let Some(q) = function.qualifier() {
                let version = f.resolve(Some(q)).ok_or_else(|| {
                    PortError::new(ErrorKind::NotFound, "GetFunction", format!("{function}: no such alias or version"))
                })?;
                config.memory = f.memory_of(&version).unwrap_or(f.latest_memory);
            }
            Ok(config)
        }))
    }

    fn set_memory(&self, function: &FunctionRef, memory: MemoryMb) -> impl Future<Output = PortResult<()>> + Send {
        let op = "UpdateFunctionConfiguration";
        ready(match function.qualifier() {
            None | Some(LATEST) => self.with(op, function, |f, now_ms, _| {
                if f.latest_memory != memory {
                    f.set_latest_memory(memory, now_ms);
                    f.decisions += 1;
                }
                Ok(())
            }),
            Some(q) => Err(invalid(op, format!("memory is set on the function ($LATEST), not on qualifier {q}"))),
        })
    }

    fn publish_version(&self, function: &FunctionRef) -> impl Future<Output = PortResult<String>> + Send {
        ready(self.with("PublishVersion", function, |f, _, _| Ok(f.publish_version())))
    }

    fn set_alias(&self, alias: &FunctionRef, routing: &AliasRouting) -> impl Future<Output = PortResult<()>> + Send {
        let op = "UpdateAlias";
        let result = match alias.qualifier() {
            Some(name) if alias.is_alias() => self.with(op, alias, |f, now_ms, cfg| {
                let exists = |v: &str| v != LATEST && f.memory_of(v).is_some();
                if !exists(&routing.version) {
                    return Err(PortError::new(
                        ErrorKind::NotFound,
                        op,
                        format!("version {} does not exist", routing.version),
                    ));
                }
                if let Some((v, w)) = &routing.canary
                    && (!exists(v) || !(0.0..=1.0).contains(w))
                {
                    return Err(invalid(
                        op,
                        format!("canary ({v}, {w}) needs an existing version and a weight in 0..=1"),
                    ));
                }
                let previous = f.aliases.insert(name.to_owned(), routing.clone());
                f.route = None;
                if previous.as_ref() == Some(routing) {
                    return Ok(());
                }
                f.decisions += 1;
                // Provisioned concurrency on the alias follows its primary version.
                if let (Some(level), Some(old)) = (f.provisioned.get(name).copied(), previous)
                    && old.version != routing.version
                {
                    f.slot(&old.version, cfg.pool).pool.set_provisioned(now_ms, 0);
                    f.slot(&routing.version, cfg.pool).pool.set_provisioned(now_ms, level);
                }
                Ok(())
            }),
            _ => Err(invalid(op, format!("{alias} does not name an alias"))),
        };
        ready(result)
    }

    fn get_provisioned(
        &self,
        target: &FunctionRef,
    ) -> impl Future<Output = PortResult<Option<ProvisionedConcurrency>>> + Send {
        let op = "GetProvisionedConcurrencyConfig";
        let result = pc_qualifier(op, target).and_then(|q| {
            self.with(op, target, |f, now_ms, cfg| {
                let Some(&requested) = f.provisioned.get(q) else { return Ok(None) };
                let version = f.resolve(Some(q)).unwrap_or_else(|| LATEST.to_owned());
                let pool = &mut f.slot(&version, cfg.pool).pool;
                pool.advance(now_ms);
                let ready_now = pool.provisioned_ready().min(requested);
                let c = |n: u32| Concurrency::new(u64::from(n)).unwrap_or(Concurrency::ZERO);
                let status = if ready_now >= requested { PcStatus::Ready } else { PcStatus::InProgress };
                Ok(Some(ProvisionedConcurrency { requested: c(requested), allocated: c(ready_now), status }))
            })
        });
        ready(result)
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
        hold_ms: u32,
    ) -> impl Future<Output = PortResult<WarmupOutcome>> + Send {
        let op = "Invoke";
        ready(self.with(op, target, |f, now_ms, cfg| {
            let version = f.resolve(target.qualifier()).ok_or_else(|| {
                PortError::new(ErrorKind::NotFound, op, format!("{target}: no such alias or version"))
            })?;
            Ok(f.warm(&version, (count, f64::from(hold_ms)), now_ms, cfg))
        }))
    }
}

impl SimControl<'_> {
    /// What a `StatsStore` read makes of a function's kept stats.
    fn read_stats<T>(&self, function: &FunctionRef, read: impl FnOnce(&SimFunction) -> T) -> PortResult<T> {
        let world = self.world.borrow();
        world.function(function.name()).map(read).ok_or_else(|| {
            PortError::new(ErrorKind::NotFound, "Query", format!("function {} does not exist", function.name()))
        })
    }
}

/// Reads the items the simulated extension wrote (all qualifiers of the function); the load
/// and summary reads are answered from the kept counters, without building the items.
impl StatsStore for SimControl<'_> {
    fn read_minutes(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<Vec<MinuteStats>>> + Send {
        ready(self.read_stats(function, |f| f.stats.read(f.function_ref(), from, to)))
    }

    fn read_load(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<LoadWindow>> + Send {
        ready(self.read_stats(function, |f| f.stats.load(from, to)))
    }

    fn read_summary(
        &self,
        function: &FunctionRef,
        from: Minute,
        to: Minute,
    ) -> impl Future<Output = PortResult<WindowSummary>> + Send {
        // As `WindowSummary::from_minutes` has it, items of another function (here: the
        // function qualified) are not the window's.
        ready(self.read_stats(function, |f| {
            let mut window = f.stats.summary(function, from, to);
            if function != f.function_ref() {
                window.by_memory.clear();
                window.load.clear();
            }
            window
        }))
    }
}

#[cfg(test)]
mod tests;
