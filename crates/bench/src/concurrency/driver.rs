//! Runs one policy on one workload at one reclaim time, request by request, on the
//! simulator's environment pool (crates/sim `EnvironmentPool`: PC first, MRU reuse, reaping,
//! allocation delay, PC billed per interval rounded up to 5 minutes), and bills every line
//! through the core cost model.

use autopilot_core::cost::{CostBreakdown, Usage, billed_ms};
use autopilot_core::{Minute, observe::MinuteLoad};
use autopilot_sim::env::{EnvironmentPool, Placement, PoolConfig};
use autopilot_sim::rng::Rng;

use super::arrivals::{Arrivals, ServiceModel};
use super::cases::Workload;
use super::setup;

/// What a policy does at the start of a minute, before that minute's arrivals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Action {
    /// Provisioned concurrency to request (`None` = leave as is).
    pub provisioned: Option<u32>,
    /// Overlapping warm-up invocations to send now.
    pub warm: u32,
    /// How long each warm-up holds its environment (ms).
    pub hold_ms: u32,
}

/// What one minute showed, as a policy may observe it (CloudWatch / the stats table).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MinuteObs {
    pub minute: Minute,
    pub invocations: u64,
    pub cold_starts: u64,
    /// Busy time of callers' invocations (ms).
    pub busy_ms: f64,
    /// Busy time on provisioned environments (ms), and PC READY at the end of the minute.
    pub pc_busy_ms: f64,
    pub pc_ready: u32,
    /// Most environments busy at once after an arrival (callers and warm-ups).
    pub peak_busy: u32,
    /// Warm-up calls sent at the start of the minute, and how many started cold (what the
    /// invoke responses tell the sender).
    pub warmups: u32,
    pub warmups_cold: u32,
}

impl MinuteObs {
    pub fn load(&self) -> MinuteLoad {
        MinuteLoad {
            minute: self.minute,
            invocations: self.invocations,
            concurrency: self.busy_ms / 60_000.0,
            environments: u64::from(self.peak_busy),
            cold_starts: self.cold_starts,
        }
    }
}

/// A cold-start policy as the benchmark drives it: asked every minute, told every minute.
pub trait Policy {
    fn act(&mut self, now: Minute, index: usize) -> Action;
    fn observe(&mut self, _obs: &MinuteObs) {}
}

/// Totals of one run over the scored window (after the workload's warm-up minutes).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Outcome {
    pub invocations: u64,
    /// Callers' invocations that landed cold.
    pub cold_starts: u64,
    /// Of those, the ones that arrived while a warm-up round of the same minute still held an
    /// environment (a caller the warm-ups crowded out).
    pub cold_behind_warmups: u64,
    pub warmups: u64,
    pub warmups_cold: u64,
    /// Callers' traffic, INIT and PC.
    pub cost: CostBreakdown,
    /// Warm-up calls (requests, duration, their INIT).
    pub warmup_cost: f64,
    pub pc_busy_ms: f64,
    /// PC allocated (environment-ms, billed rounding included).
    pub pc_allocated_ms: f64,
    /// Cold starts and total cost over the whole simulated window, warm-up included.
    pub whole_cold_starts: u64,
    pub whole_cost: f64,
}

impl Outcome {
    pub fn total_cost(&self) -> f64 {
        self.cost.total() + self.warmup_cost
    }

    pub fn cold_rate(&self) -> f64 {
        if self.invocations == 0 { 0.0 } else { self.cold_starts as f64 / self.invocations as f64 }
    }

    /// Share of allocated PC time that served invocations (`None` without PC).
    pub fn pc_utilisation(&self) -> Option<f64> {
        (self.pc_allocated_ms > 0.0).then(|| self.pc_busy_ms / self.pc_allocated_ms)
    }
}

/// Runs `policy` over the workload's window with idle environments reclaimed after
/// `reclaim_minutes`; the figures are of the minutes after the workload's warm-up (the
/// whole window's cold starts and cost are kept beside them).
pub fn run(workload: &Workload, reclaim_minutes: u32, policy: &mut dyn Policy) -> Outcome {
    let memory = setup::memory();
    let cost = setup::cost_model();
    let service = ServiceModel::standard();
    let config = PoolConfig {
        keep_alive_ms: f64::from(reclaim_minutes) * 60_000.0,
        pc_allocation_delay_ms: setup::PC_ALLOCATION_DELAY_MS,
        concurrency_limit: None,
    };
    let mut pool = EnvironmentPool::new(memory, config);
    let mut arrivals = Arrivals::new(workload, setup::SEED);
    let key = workload.label();
    let mut durations = Rng::stream(setup::SEED, &key, "durations");
    let mut inits = Rng::stream(setup::SEED, &key, "inits");
    let (mut usage, mut warm_usage) = (Usage::default(), Usage::default());
    // Usage of the unscored warm-up (callers and PC, warm-ups).
    let (mut early, mut early_warm) = (Usage::default(), Usage::default());
    let mut out = Outcome::default();
    let mut times = Vec::new();
    let window_start = workload.start.plus(workload.history_minutes as i64);
    let mut requested = 0u32;
    for m in 0..workload.eval_minutes {
        let now = window_start.plus(m as i64);
        let t0 = m as f64 * 60_000.0;
        if m == workload.warmup_minutes && m > 0 {
            early += pool.take_pc_usage(t0);
            early_warm = std::mem::take(&mut warm_usage);
            early += std::mem::take(&mut usage);
            out.whole_cold_starts = out.cold_starts;
            out.cold_starts = 0;
            out.cold_behind_warmups = 0;
            out.invocations = 0;
            out.warmups = 0;
            out.warmups_cold = 0;
            out.pc_busy_ms = 0.0;
        }
        let action = policy.act(now, m);
        if let Some(level) = action.provisioned
            && level != requested
        {
            pool.set_provisioned(t0, level);
            requested = level;
        }
        let mut warm_until = t0;
        let mut obs = MinuteObs { minute: now, warmups: action.warm, ..MinuteObs::default() };
        for _ in 0..action.warm {
            let hold = f64::from(action.hold_ms.max(1));
            let placement = pool.invoke(t0, hold, setup::INIT_MS, false);
            out.warmups += 1;
            warm_usage += match placement {
                Placement::Provisioned => Usage::pc_invocations(memory, 1, billed_ms(hold)),
                Placement::Cold => {
                    out.warmups_cold += 1;
                    obs.warmups_cold += 1;
                    warm_until = warm_until.max(t0 + setup::INIT_MS + hold);
                    Usage::on_demand(memory, hold) + Usage::init(memory, service.init(&mut inits))
                }
                _ => {
                    warm_until = warm_until.max(t0 + hold);
                    Usage::on_demand(memory, hold)
                }
            };
        }
        arrivals.minute(m, &mut times);
        for &t in &times {
            let d = service.duration(&mut durations);
            // The mean INIT delays the environment; the billed INIT is drawn when it happens.
            let placement = pool.invoke(t, d, setup::INIT_MS, false);
            obs.invocations += 1;
            obs.busy_ms += d;
            obs.peak_busy = obs.peak_busy.max(pool.busy());
            usage += match placement {
                Placement::Provisioned => {
                    obs.pc_busy_ms += d;
                    Usage::pc_invocations(memory, 1, billed_ms(d))
                }
                Placement::Cold => {
                    obs.cold_starts += 1;
                    out.cold_behind_warmups += u64::from(t < warm_until);
                    Usage::on_demand(memory, d) + Usage::init(memory, service.init(&mut inits))
                }
                _ => Usage::on_demand(memory, d),
            };
        }
        pool.advance(t0 + 60_000.0);
        obs.pc_ready = pool.provisioned_ready();
        out.invocations += obs.invocations;
        out.cold_starts += obs.cold_starts;
        out.pc_busy_ms += obs.pc_busy_ms;
        policy.observe(&obs);
    }
    let end = workload.eval_minutes as f64 * 60_000.0;
    let pc = pool.take_pc_usage(end);
    out.pc_allocated_ms = pc.pc_allocated_mb_ms as f64 / memory.get() as f64;
    usage += pc;
    out.cost = cost.cost(setup::ARCHITECTURE, &usage);
    out.warmup_cost = cost.cost(setup::ARCHITECTURE, &warm_usage).total();
    out.whole_cold_starts += out.cold_starts;
    out.whole_cost = out.total_cost()
        + cost.cost(setup::ARCHITECTURE, &early).total()
        + cost.cost(setup::ARCHITECTURE, &early_warm).total();
    out
}
