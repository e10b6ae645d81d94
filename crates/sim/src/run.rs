//! The simulation loop: minute by minute, every function steps; on schedule, the policy runs
//! against the fleet through the ports. A policy that decides per function lets the fleet run
//! a small group of functions at a time instead (same report, see [`Simulation::run_all`]).

use autopilot_core::Minute;

use crate::autopilot::{Autopilot, RunSummary, Schedule};
use crate::model::FunctionSpec;
use crate::ports::{FleetPorts, InMemoryChangeLog, InMemoryEventSink, InMemoryLease, SimControl};
use crate::report::{SimReport, function_report, total};
use crate::step::Scratch;
use crate::world::{SimConfig, SimFunction, World};

/// Functions simulated together when the policy decides per function (see
/// [`Simulation::run_all`]). On 1,000 functions × 14 days, groups of 1 and 4 ran in the same
/// time, 16 about 4% and 64 about 8% slower, and the whole fleet at once about 45% slower.
pub const FUNCTION_GROUP: usize = 4;

/// A fleet, a policy and the in-memory stores the policy writes to.
#[derive(Debug)]
pub struct Simulation<A: Autopilot> {
    pub world: World,
    pub autopilot: A,
    pub schedule: Schedule,
    pub changes: InMemoryChangeLog,
    pub events: InMemoryEventSink,
    pub lease: InMemoryLease,
    scratch: Scratch,
    runs: u64,
    evaluated: u64,
}

impl<A: Autopilot> Simulation<A> {
    /// A simulation of a fleet known to be valid.
    ///
    /// # Panics
    /// If a function's name or alias is not one Lambda accepts (see [`Self::try_new`]).
    pub fn new(config: SimConfig, specs: Vec<FunctionSpec>, autopilot: A) -> Self {
        Self::try_new(config, specs, autopilot).unwrap_or_else(|e| panic!("invalid simulated fleet: {e}"))
    }

    /// A simulation, or the first function whose name or alias Lambda would reject.
    pub fn try_new(
        mut config: SimConfig,
        specs: Vec<FunctionSpec>,
        autopilot: A,
    ) -> Result<Self, autopilot_core::DomainError> {
        config.stats_retention_minutes = config.stats_retention_minutes.max(autopilot.stats_retention_minutes());
        Ok(Self {
            world: World::try_new(config, specs)?,
            autopilot,
            schedule: Schedule::default(),
            changes: InMemoryChangeLog::default(),
            events: InMemoryEventSink::default(),
            lease: InMemoryLease::default(),
            scratch: Scratch::default(),
            runs: 0,
            evaluated: 0,
        })
    }

    /// Runs every configured minute and builds the report; `progress(done, total)` is called
    /// about once per simulated hour (see [`Self::run_all`]).
    pub fn run(mut self, progress: &mut dyn FnMut(u64, u64)) -> SimReport {
        self.run_all(progress);
        self.finish()
    }

    /// Runs every configured minute, leaving the simulation to be read ([`Self::autopilot`])
    /// and finished; `progress(done, total)` is called about once per simulated hour, in
    /// function-minutes.
    ///
    /// When the policy decides for each function from that function alone
    /// ([`Autopilot::decides_per_function`]; the functions never share anything in the world),
    /// the fleet runs [`FUNCTION_GROUP`] functions at a time, each group through the whole run:
    /// the same report, to the last bit, as every function minute by minute, but a group's
    /// state stays in the CPU's caches from one minute to the next, where a fleet of a thousand
    /// functions (close to a gigabyte of environments, stats and forecasters) does not. A
    /// group's per-minute stats are dropped when it is done (a read through the ports after
    /// the run finds none), so they take the memory of one group, not of the fleet.
    pub fn run_all(&mut self, progress: &mut dyn FnMut(u64, u64)) {
        let size = self.world.functions.len();
        if !self.autopilot.decides_per_function() || size <= FUNCTION_GROUP {
            self.run_group(0, size, progress);
            return;
        }
        let start = self.world.elapsed;
        let mut functions = std::mem::take(&mut self.world.functions).into_iter();
        let mut done = Vec::with_capacity(size);
        // The policy's runs are counted once, as the whole fleet would have them.
        let (runs_before, mut group_runs) = (self.runs, None);
        loop {
            let group: Vec<SimFunction> = functions.by_ref().take(FUNCTION_GROUP).collect();
            if group.is_empty() {
                break;
            }
            self.world.set_functions(group);
            self.world.elapsed = start;
            self.run_group(done.len(), size, progress);
            group_runs.get_or_insert(self.runs - runs_before);
            // The policy's runs over the group are over, and the report reads only the totals:
            // the group's per-minute stats (most of a function's memory) go.
            for f in &mut self.world.functions {
                f.stats = Default::default();
            }
            done.append(&mut self.world.functions);
        }
        self.runs = runs_before + group_runs.unwrap_or(0);
        self.world.set_functions(done);
    }

    /// Steps the functions of the world to the end of the run; `progress` counts
    /// function-minutes, of `done_before` functions already run and these, out of `fleet`.
    fn run_group(&mut self, done_before: usize, fleet: usize, progress: &mut dyn FnMut(u64, u64)) {
        let minutes = self.world.config.minutes;
        let total = minutes * fleet as u64;
        while self.world.elapsed < minutes {
            self.step_minute();
            if self.world.elapsed.is_multiple_of(60) {
                let finished = done_before as u64 * minutes + self.world.functions.len() as u64 * self.world.elapsed;
                progress(finished, total);
            }
        }
    }

    /// Calls the policy if it is due, then simulates one minute of every function.
    pub fn step_minute(&mut self) {
        let index = self.world.elapsed;
        let now = self.world.now();
        let memory_due = index > 0 && index.is_multiple_of(self.schedule.memory_every_minutes.max(1));
        let concurrency_due = self.schedule.concurrency_due(index);
        if (memory_due || concurrency_due) && !self.autopilot.is_do_nothing() {
            let summary = self.call_policy(now, memory_due, concurrency_due);
            self.evaluated += summary.evaluated;
        }
        let World { config, functions, .. } = &mut self.world;
        for f in functions.iter_mut() {
            f.step(config, index, now, &mut self.scratch);
        }
        self.world.elapsed += 1;
    }

    fn call_policy(&mut self, now: Minute, memory: bool, concurrency: bool) -> RunSummary {
        let ports = FleetPorts {
            control: SimControl::new(&mut self.world),
            changes: &self.changes,
            events: &self.events,
            lease: &self.lease,
        };
        let mut out = RunSummary::default();
        for (due, is_memory) in [(memory, true), (concurrency, false)] {
            if !due {
                continue;
            }
            self.runs += 1;
            let s = if is_memory {
                self.autopilot.memory_run(now, &ports)
            } else {
                self.autopilot.concurrency_run(now, &ports)
            };
            out.evaluated += s.evaluated;
            out.changed += s.changed;
        }
        out
    }

    /// Closes provisioned-concurrency billing and builds the report.
    pub fn finish(mut self) -> SimReport {
        let end_ms = self.world.now_ms();
        let model = self.world.config.cost_model.clone();
        let mut reports = Vec::with_capacity(self.world.functions.len());
        let mut hists = Vec::with_capacity(self.world.functions.len());
        for f in &mut self.world.functions {
            for slot in f.slots.values_mut() {
                f.usage += slot.pool.take_pc_usage(end_ms);
            }
            let (r, h) = function_report(f, &model);
            reports.push(r);
            hists.push(h);
        }
        let total = total(&reports, &hists);
        SimReport {
            policy: self.autopilot.name().to_owned(),
            functions: reports,
            total,
            policy_runs: self.runs,
            decisions_evaluated: self.evaluated,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::fleet::demo_fleet;
    use crate::{DoNothing, SimConfig, Simulation};

    fn run(seed: u64, n: usize) -> crate::SimReport {
        let cfg = SimConfig { seed, minutes: 2 * 1_440, ..SimConfig::default() };
        Simulation::new(cfg, demo_fleet(n, seed), DoNothing).run(&mut |_, _| {})
    }

    #[test]
    fn keeping_stats_changes_nothing_a_report_shows() {
        // Without kept stats a minute's durations are counted straight into the totals and its
        // INIT and memory-used histograms are skipped: the same report to the last bit.
        let cfg = SimConfig { seed: 4, minutes: 1_440, ..SimConfig::default() };
        let kept = SimConfig { stats_retention_minutes: 90, ..cfg.clone() };
        let without = Simulation::new(cfg, demo_fleet(13, 4), DoNothing).run(&mut |_, _| {});
        let with = Simulation::new(kept, demo_fleet(13, 4), DoNothing).run(&mut |_, _| {});
        assert_eq!(without, with);
    }

    #[test]
    fn invalid_function_names_are_rejected() {
        let mut specs = demo_fleet(1, 1);
        specs[0].name = "bad name".into();
        let e = Simulation::try_new(SimConfig::default(), specs, DoNothing).unwrap_err();
        assert!(e.to_string().contains("bad name"), "{e}");
    }

    #[test]
    fn a_seed_gives_the_same_run_and_adding_functions_changes_no_other() {
        let a = run(3, 12);
        assert_eq!(a, run(3, 12));
        let b = run(3, 14);
        assert_eq!(a.functions[..], b.functions[..12]);
        assert_ne!(a.total, run(4, 12).total);
    }

    /// A policy written against the ports only: keep five environments of billing-sync warm.
    /// The default schedule runs it off the clock's 5-minute marks, so no round lands in the
    /// minute the timer fires (where it would hold the environments the timer needs).
    struct WarmBillingSync;

    impl crate::Autopilot for WarmBillingSync {
        fn name(&self) -> &str {
            "warm billing-sync"
        }

        fn memory_run(&mut self, _: autopilot_core::Minute, _: &crate::ports::FleetPorts<'_>) -> crate::RunSummary {
            crate::RunSummary::default()
        }

        fn concurrency_run(
            &mut self,
            now: autopilot_core::Minute,
            fleet: &crate::ports::FleetPorts<'_>,
        ) -> crate::RunSummary {
            use autopilot_core::ports::FunctionControl;
            assert_ne!(now.minute_of_day() % 5, 0, "runs are off the 5-minute marks");
            let target = autopilot_core::FunctionRef::parse("billing-sync").unwrap();
            crate::block_on(fleet.control.warm(&target, 5, 100)).unwrap();
            crate::RunSummary { evaluated: 1, changed: 1 }
        }
    }

    #[test]
    fn a_policy_acts_through_the_ports_and_is_compared_with_the_same_world() {
        let cfg = SimConfig { seed: 2, minutes: 1_440, ..SimConfig::default() };
        let base = Simulation::new(cfg.clone(), demo_fleet(12, 2), DoNothing).run(&mut |_, _| {});
        let warm = Simulation::new(cfg, demo_fleet(12, 2), WarmBillingSync).run(&mut |_, _| {});
        let (b, w) = (&base.functions[11], &warm.functions[11]);
        assert_eq!(b.name, "billing-sync");
        assert_eq!(b.cold_starts, b.invocations, "5 calls every 30 minutes, 10-minute keep-alive: all cold");
        assert_eq!(w.warmups.sent, 288 * 5, "five every 5 minutes");
        assert!(w.cold_starts <= 10, "warm environments serve the timer: {} cold starts", w.cold_starts);
        assert_eq!(w.invocations, b.invocations + u64::from(w.warmups.sent), "warm-ups are invocations too");
        assert_eq!(base.functions[..11], warm.functions[..11], "other functions are untouched");
        assert_eq!(warm.decisions_evaluated, 288);
    }

    #[test]
    fn the_demo_fleet_shows_what_the_autopilot_is_for() {
        let r = run(1, 12);
        let get = |n: &str| r.functions.iter().find(|f| f.name == n).unwrap();
        assert!(get("pdf-render").out_of_memory > 0, "configured near its OOM floor");
        assert_eq!(get("report-cron").cold_starts, get("report-cron").invocations, "hourly timer: always cold");
        assert!(get("recommendations").p99_ms.unwrap() > 5.0 * get("recommendations").p50_ms.unwrap(), "p99 cliff");
        assert!(get("auth-edge").cold_start_share < 0.001);
        let billing = get("billing-sync");
        assert!(
            billing.p99_latency_ms.unwrap() > billing.p99_ms.unwrap() + 2_500.0,
            "always cold with a 2.5 s application init: callers wait the INIT"
        );
        assert_eq!(r.total.decisions, 0);
        let c = r.total.cost;
        assert!(c.init > 0.0 && c.duration > c.init && c.requests > 0.0);
        assert!((r.total.cost_usd - r.functions.iter().map(|f| f.cost_usd).sum::<f64>()).abs() < 1e-9);
    }
}
