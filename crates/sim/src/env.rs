//! Execution environments of one function version: the part of Lambda that decides cold
//! starts. A reusable component: the fleet simulator drives it minute by minute, and the
//! concurrency benchmark drives it directly with its own policies over real traces.
//!
//! Rules (AWS documents some; the rest are the conventions of DESIGN.md's study):
//! - an invocation takes a **provisioned** environment first (PC serves first, spill-over
//!   goes on-demand), then the **most recently used** idle on-demand environment, else it
//!   starts a new one: a **cold start**, whose INIT is added to its latency and billed;
//! - an idle on-demand environment is **reaped** after `keep_alive_ms` idle (AWS does not
//!   document it; default 10 minutes, the study used 5 and 15);
//! - provisioned concurrency becomes READY `pc_allocation_delay_ms` after it is requested
//!   (default 2 minutes); lowering it removes environments at once; it is billed for each
//!   interval at a constant level, rounded up to 5 minutes (core cost model);
//! - at the concurrency limit (reserved or account) further requests are **throttled**;
//! - an invocation that runs out of memory or times out **resets** its environment.
//!
//! Time is milliseconds (f64) on the caller's clock; calls must not go back in time.

use std::cmp::Ordering;
use std::collections::VecDeque;

use autopilot_core::cost::Usage;
use autopilot_core::{Concurrency, MemoryMb};
use idle::IdleQueue;
use serde::Serialize;

/// Settings of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolConfig {
    pub keep_alive_ms: f64,
    pub pc_allocation_delay_ms: f64,
    /// Reserved or account concurrency; `None` = unlimited.
    pub concurrency_limit: Option<u32>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { keep_alive_ms: 600_000.0, pc_allocation_delay_ms: 120_000.0, concurrency_limit: None }
    }
}

/// Where an invocation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Placement {
    Provisioned,
    Warm,
    Cold,
    Throttled,
}

/// Counts of what happened in a pool, for reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolCounts {
    pub provisioned: u64,
    pub warm: u64,
    pub cold: u64,
    pub throttled: u64,
    pub reaped: u64,
    pub resets: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Busy {
    until: f64,
    provisioned: bool,
    reset: bool,
}

impl Eq for Busy {}
impl PartialOrd for Busy {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Busy {
    fn cmp(&self, o: &Self) -> Ordering {
        self.until.total_cmp(&o.until).then(self.provisioned.cmp(&o.provisioned)).then(self.reset.cmp(&o.reset))
    }
}

/// The environments of one function version at one memory size.
#[derive(Debug, Clone)]
pub struct EnvironmentPool {
    config: PoolConfig,
    memory: MemoryMb,
    /// Running invocations, latest end first: the next to end is the last. A sorted vector
    /// rather than a binary heap: it holds a handful (hundreds at most), an insertion is a
    /// binary search and a short move, and taking the next to end is free.
    busy: Vec<Busy>,
    /// Idle on-demand environments by the time they became idle, oldest first.
    idle: IdleQueue,
    od_busy: u32,
    pc_busy: u32,
    pc_ready: u32,
    /// (ready at, count) of requested provisioned environments still allocating.
    pc_pending: VecDeque<(f64, u32)>,
    /// Billing interval open at a constant requested level: (since, level).
    pc_interval: Option<(f64, u32)>,
    pc_usage: Usage,
    counts: PoolCounts,
    now: f64,
    /// No invocation ends, no idle environment is reaped and no PC becomes READY before this
    /// time (a lower bound): [`Self::advance`] to an earlier time has nothing to do. It is
    /// called for every simulated call, and most calls change nothing.
    quiet_until: f64,
}

impl EnvironmentPool {
    pub fn new(memory: MemoryMb, config: PoolConfig) -> Self {
        Self {
            config,
            memory,
            busy: Vec::new(),
            idle: IdleQueue::default(),
            od_busy: 0,
            pc_busy: 0,
            pc_ready: 0,
            pc_pending: VecDeque::new(),
            pc_interval: None,
            pc_usage: Usage::default(),
            counts: PoolCounts::default(),
            now: 0.0,
            quiet_until: f64::NEG_INFINITY,
        }
    }

    pub fn memory(&self) -> MemoryMb {
        self.memory
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub fn counts(&self) -> PoolCounts {
        self.counts
    }

    /// Idle on-demand environments (after [`Self::advance`]).
    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    /// Environments currently running an invocation.
    pub fn busy(&self) -> u32 {
        self.od_busy + self.pc_busy
    }

    /// Provisioned environments READY now.
    pub fn provisioned_ready(&self) -> u32 {
        self.pc_ready
    }

    /// Provisioned environments requested (ready + allocating).
    pub fn provisioned_requested(&self) -> u32 {
        self.pc_ready + self.pc_pending.iter().map(|p| p.1).sum::<u32>()
    }

    /// Brings the pool to time `now`: finished invocations free their environments, idle
    /// environments past the keep-alive are reaped, allocated PC becomes READY.
    #[inline]
    pub fn advance(&mut self, now: f64) {
        let now = now.max(self.now);
        self.now = now;
        if now < self.quiet_until {
            return;
        }
        self.apply_changes(now);
    }

    fn apply_changes(&mut self, now: f64) {
        while let Some(&b) = self.busy.last() {
            if b.until > now {
                break;
            }
            self.busy.pop();
            self.release(b);
        }
        self.reap(now);
        while let Some(&(at, n)) = self.pc_pending.front() {
            if at > now {
                break;
            }
            self.pc_pending.pop_front();
            self.pc_ready += n;
        }
        self.quiet_until = self.next_change();
    }

    /// When the pool next changes by itself: the first invocation to end, the first idle
    /// environment to be reaped, the first PC allocation to be READY.
    fn next_change(&self) -> f64 {
        let ends = self.busy.last().map_or(f64::INFINITY, |b| b.until);
        let reaped = self.idle.front().map_or(f64::INFINITY, |since| since + self.config.keep_alive_ms);
        let ready = self.pc_pending.front().map_or(f64::INFINITY, |p| p.0);
        ends.min(reaped).min(ready)
    }

    fn release(&mut self, b: Busy) {
        if b.provisioned {
            self.pc_busy = self.pc_busy.saturating_sub(1);
            return;
        }
        self.od_busy = self.od_busy.saturating_sub(1);
        if b.reset {
            self.counts.resets += 1;
        } else {
            let since = self.idle.back().map_or(b.until, |last| b.until.max(last));
            self.idle.push_back(since);
        }
    }

    fn reap(&mut self, now: f64) {
        while let Some(since) = self.idle.front() {
            if since + self.config.keep_alive_ms > now {
                break;
            }
            self.idle.pop_front();
            self.counts.reaped += 1;
        }
    }

    /// Places one invocation arriving at `at` that runs `service_ms` (plus `init_ms` if it
    /// lands cold). `resets` marks an invocation that kills its environment (OOM, timeout).
    pub fn invoke(&mut self, at: f64, service_ms: f64, init_ms: f64, resets: bool) -> Placement {
        self.invoke_with(at, service_ms, resets, || init_ms).0
    }

    /// As [`Self::invoke`], drawing the INIT duration only when the invocation lands cold;
    /// returns the placement and the INIT time (0 unless cold).
    pub fn invoke_with(
        &mut self,
        at: f64,
        service_ms: f64,
        resets: bool,
        init: impl FnOnce() -> f64,
    ) -> (Placement, f64) {
        if self.reuse_the_one_just_finished(at, service_ms, resets) {
            return (Placement::Warm, 0.0);
        }
        self.place(at, service_ms, resets, init)
    }

    /// [`Self::invoke_with`] by the general rules.
    fn place(&mut self, at: f64, service_ms: f64, resets: bool, init: impl FnOnce() -> f64) -> (Placement, f64) {
        self.advance(at);
        if self.config.concurrency_limit.is_some_and(|limit| self.od_busy + self.pc_busy >= limit) {
            self.counts.throttled += 1;
            return (Placement::Throttled, 0.0);
        }
        let mut init_ms = 0.0;
        let (placement, until, provisioned) = if self.pc_busy < self.pc_ready {
            self.pc_busy += 1;
            self.counts.provisioned += 1;
            (Placement::Provisioned, at + service_ms, true)
        } else if self.idle.pop_back().is_some() {
            self.od_busy += 1;
            self.counts.warm += 1;
            (Placement::Warm, at + service_ms, false)
        } else {
            self.od_busy += 1;
            self.counts.cold += 1;
            init_ms = init();
            (Placement::Cold, at + init_ms + service_ms, false)
        };
        let b = Busy { until, provisioned, reset: resets && !provisioned };
        let at = self.busy.partition_point(|x| *x > b);
        self.busy.insert(at, b);
        self.quiet_until = self.quiet_until.min(until);
        (placement, init_ms)
    }

    /// The common case of a quiet function, in one step: the only invocation running has
    /// ended by `at`, and nothing else happens until then — no PC, no idle environment due
    /// for reaping. [`Self::advance`] would release its environment to the top of the idle
    /// stack and the call would take it straight back: the same environment runs the new
    /// call, and the idle stack is as it was. (No throttling either: with that call over
    /// nothing runs, and a limit that let it run lets this one.) Returns false, having changed
    /// nothing, when the case does not apply.
    fn reuse_the_one_just_finished(&mut self, at: f64, service_ms: f64, resets: bool) -> bool {
        let now = at.max(self.now);
        let [last] = self.busy[..] else { return false };
        let keep_alive = self.config.keep_alive_ms;
        let applies = last.until <= now
            && !last.provisioned
            && !last.reset
            && self.pc_ready == 0
            && self.pc_pending.is_empty()
            // Neither the environment idle longest nor the one just released is reaped by now.
            && self.idle.front().is_none_or(|since| since + keep_alive > now)
            && self.idle.back().map_or(last.until, |b| last.until.max(b)) + keep_alive > now;
        if !applies {
            return false;
        }
        self.now = now;
        self.busy[0] = Busy { until: at + service_ms, provisioned: false, reset: resets };
        self.counts.warm += 1;
        self.quiet_until = self.next_change();
        true
    }

    /// A whole minute (or any span) served in aggregate: `peak` concurrent invocations at the
    /// busiest moment (at time `peak_at`), about `steady` busy most of the time, `resets`
    /// environments killed. The peak takes provisioned environments first, then the most
    /// recently used idle ones; the rest start cold. The `steady` most used environments are
    /// idle from the end of the span, the others from the peak. Returns (provisioned, warm,
    /// cold) environments used at the peak.
    pub fn serve_span(
        &mut self,
        start: f64,
        span_ms: f64,
        peak: u32,
        (steady, peak_at): (u32, f64),
        resets: u32,
    ) -> (u32, u32, u32) {
        self.advance(start);
        let end = start + span_ms;
        // Everything still running from before is done by the end of the span.
        while let Some(b) = self.busy.pop() {
            self.release(Busy { until: b.until.min(end), ..b });
        }
        // The peak meets the environments still alive at its moment.
        let peak_at = peak_at.clamp(start, end);
        self.reap(peak_at);
        let limit = self.config.concurrency_limit.unwrap_or(u32::MAX);
        let peak = peak.min(limit);
        let pc = peak.min(self.pc_ready);
        let od = peak - pc;
        let warm = od.min(self.idle.len() as u32);
        let cold = od - warm;
        self.idle.truncate(self.idle.len() - warm as usize);
        let survivors = od.saturating_sub(resets.min(od));
        self.counts.resets += u64::from(od - survivors);
        let at_end = survivors.min(steady.saturating_sub(pc));
        let peak_at = peak_at.max(self.idle.back().unwrap_or(start));
        self.idle.push_n(peak_at, (survivors - at_end) as usize);
        self.idle.push_n(end, at_end as usize);
        self.counts.provisioned += u64::from(pc);
        self.counts.warm += u64::from(warm);
        self.counts.cold += u64::from(cold);
        self.now = end;
        self.quiet_until = self.next_change();
        (pc, warm, cold)
    }

    /// Records throttled requests counted by an aggregate model.
    pub fn count_throttles(&mut self, n: u64) {
        self.counts.throttled += n;
    }

    /// Requests `level` provisioned environments at `now`: more become READY after the
    /// allocation delay, fewer take effect at once (pending allocations are cancelled first).
    pub fn set_provisioned(&mut self, now: f64, level: u32) {
        self.advance(now);
        let requested = self.provisioned_requested();
        if level > requested {
            let ready_at = now + self.config.pc_allocation_delay_ms;
            self.pc_pending.push_back((ready_at, level - requested));
            self.quiet_until = self.quiet_until.min(ready_at);
        } else {
            let mut excess = requested - level;
            while excess > 0 {
                let Some(last) = self.pc_pending.back_mut() else { break };
                let cut = excess.min(last.1);
                last.1 -= cut;
                excess -= cut;
                if last.1 == 0 {
                    self.pc_pending.pop_back();
                }
            }
            self.pc_ready -= excess.min(self.pc_ready);
        }
        self.close_pc_interval(now);
        if level > 0 {
            self.pc_interval = Some((now, level));
        }
    }

    fn close_pc_interval(&mut self, now: f64) {
        if let Some((since, level)) = self.pc_interval.take() {
            let ms = (now - since).max(0.0).ceil() as u64;
            // A level above Concurrency::MAX cannot be requested through the ports.
            let c = Concurrency::new(u64::from(level)).unwrap_or(Concurrency::ZERO);
            self.pc_usage += Usage::provisioned(self.memory, c, ms.max(1));
        }
    }

    /// Provisioned-concurrency allocation billed so far, closing the open interval at `now`
    /// and reopening it (so each call bills whole 5-minute steps: call it once, at the end).
    pub fn take_pc_usage(&mut self, now: f64) -> Usage {
        let open = self.pc_interval;
        self.close_pc_interval(now);
        if let Some((_, level)) = open {
            self.pc_interval = Some((now, level));
        }
        std::mem::take(&mut self.pc_usage)
    }

    /// Removes every environment (a configuration change of `$LATEST`): what is running
    /// finishes, nothing is reused. PC billing is closed at `now`.
    pub fn retire(&mut self, now: f64) -> Usage {
        self.set_provisioned(now, 0);
        self.idle.clear();
        std::mem::take(&mut self.pc_usage)
    }
}

mod idle;

#[cfg(test)]
mod tests;
