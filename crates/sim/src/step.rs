//! One simulated minute of one function: arrivals are routed to versions (alias weights),
//! then each version's arrivals run invocation by invocation, or — above the aggregate
//! threshold — through the aggregate model of [`crate::peak`]. Either way the result is the
//! same `Tally`, billed with the core cost model and, when stats are kept, turned into the
//! `MinuteStats` the extension would have written.

use autopilot_core::Minute;
use autopilot_core::cost::billed_ms;
use autopilot_core::histogram::{bucket_of, bucket_of_ln};

use crate::acc::{DenseHist, Tally, count_f64};
use crate::env::Placement;
use crate::model::function::MEMORY_SIGMA;
use crate::peak::{draw_peak, erlang_b, share_served_by_first, skip_spread, spread};
use crate::rng::Rng;
use crate::traffic::MinuteArrivals;
use crate::world::{SimConfig, SimFunction, Slot};

/// Buffers reused across minutes and functions.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    tally: Tally,
    times: Vec<f64>,
    spread: Vec<(u16, u64, f64)>,
    cold: Vec<(u16, f64)>,
}

impl SimFunction {
    /// Simulates minute `index` of the run (clock minute `minute`).
    pub(crate) fn step(&mut self, cfg: &SimConfig, index: u64, minute: Minute, scratch: &mut Scratch) {
        let arrivals = self.traffic.next(index, minute);
        if arrivals.count == 0 {
            return;
        }
        let route = self.route.take().unwrap_or_else(|| self.compute_route());
        let mut parts = [(route.primary.as_str(), arrivals.count), ("", 0)];
        if let Some((version, weight)) = &route.canary {
            let n = self.service.binomial(arrivals.count, weight.clamp(0.0, 1.0));
            parts[0].1 -= n;
            parts[1] = (version.as_str(), n);
        }
        let t0 = index as f64 * 60_000.0;
        for (version, n) in parts {
            if n == 0 {
                continue;
            }
            let window = MinuteArrivals { count: n, ..arrivals };
            // `slot` looks the version up twice more: only when it has no slot yet.
            if !self.slots.contains_key(version) {
                self.slot(version, cfg.pool);
            }
            let Self { slots, service, totals, usage, stats, .. } = self;
            let Some(slot) = slots.get_mut(version) else { continue };
            let tally = &mut scratch.tally;
            let keep = cfg.stats_retention_minutes > 0;
            // What callers wait is only totalled: it is recorded straight into the totals. So
            // are the durations' counts when no stats item needs the minute's (see `Durations`).
            std::mem::swap(&mut tally.latency, &mut totals.latency);
            let direct = if keep { None } else { Some(&mut totals.duration) };
            if n <= cfg.aggregate_threshold {
                let mut buf =
                    Scratch2 { times: &mut scratch.times, spread: &mut scratch.spread, cold: &mut scratch.cold };
                invocations(slot, service, window, t0, tally, &mut buf, direct);
            } else {
                aggregate(slot, service, window, t0, tally, &mut scratch.spread, direct);
            }
            std::mem::swap(&mut tally.latency, &mut totals.latency);
            *usage += tally.usage(slot.pool.memory());
            tally.add_to_totals(totals);
            if keep {
                stats.push(minute, slot.pool.memory(), tally);
                stats.forget_before(minute.plus(-(cfg.stats_retention_minutes as i64)));
            }
            tally.clear();
        }
        self.route = Some(route);
    }
}

/// Arrivals one by one: uniform in their window (a Poisson process given its count).
/// Per invocation: its time, duration, placement (INIT drawn only when cold) and, when the
/// function can run out of memory at this size, its peak memory. Peak memory of functions
/// far from their floor, and function errors, are drawn per minute (same distributions).
///
/// `tally.latency` is what callers wait: its duration, plus INIT for a cold call. The minute's
/// durations are merged into it at the end rather than recorded twice (counted into it as they
/// go when they are counted into the totals directly), and the few cold calls then moved to
/// the bucket of their wait.
///
/// `direct` is the totals' duration histogram when no stats are kept (see [`Durations`]).
/// INIT and memory used are read from the stats items only: without stats they are not
/// recorded (their random draws still are, so every stream stays where it would be).
fn invocations(
    slot: &mut Slot,
    rng: &mut Rng,
    a: MinuteArrivals,
    t0: f64,
    tally: &mut Tally,
    buf: &mut Scratch2<'_>,
    direct: Option<&mut DenseHist>,
) {
    let keep_stats = direct.is_none();
    let mut durations = Durations { minute: &mut tally.duration, total: direct };
    let m = &mut slot.model;
    let memory = f64::from(m.memory.get());
    let oom_possible = m.p_oom > 1e-9;
    // Sorted uniform points from normalised exponential spacings.
    buf.times.clear();
    buf.cold.clear();
    let mut acc = 0.0;
    // Extended from a range of known length: one capacity check, not one per arrival.
    buf.times.extend((0..=a.count).map(|_| {
        acc += rng.exp_ziggurat();
        acc
    }));
    let (start, span) = (t0 + a.window_start_s * 1_000.0, a.window_s * 1_000.0);
    let (mu, sigma, slow) = (m.dist.mu(), m.dist.sigma, m.dist.slow);
    let (init_mu, init_sigma, init_offset) = (m.init_mu, m.init_sigma, m.init_offset_ms);
    let mut peak = 0;
    let mut fine = 0;
    for &point in &buf.times[..a.count as usize] {
        let at = start + span * point / acc;
        let ln_d = mu + sigma * rng.normal_ziggurat();
        let mut d = ln_d.exp();
        // Whether `d` is still e^ln_d, whose bucket needs no logarithm.
        let mut drawn = true;
        if let Some((share, factor)) = slow
            && rng.uniform() < share
        {
            d *= factor;
            drawn = false;
        }
        let used = if oom_possible { m.memory_needed_mb * (MEMORY_SIGMA * rng.normal_ziggurat()).exp() } else { 0.0 };
        let oom = used > memory;
        let timeout = !oom && d >= m.timeout_ms;
        if oom {
            d *= rng.uniform();
        } else if timeout {
            d = m.timeout_ms;
        }
        let (placement, init) = slot
            .pool
            .invoke_with(at, d, oom || timeout, || (init_mu + init_sigma * rng.normal_ziggurat()).exp() + init_offset);
        if placement == Placement::Throttled {
            tally.throttles += 1;
            continue;
        }
        peak = peak.max(slot.pool.busy());
        tally.invocations += 1;
        let billed = billed_ms(d);
        tally.billed_ms += billed;
        tally.busy_ms += d;
        let bucket = if drawn && !oom && !timeout { bucket_of_ln(ln_d) } else { bucket_of(d) };
        if oom_possible && keep_stats {
            tally.memory_used.record(used.min(memory), 1);
        }
        durations.add_bucket(bucket, 1, d);
        if durations.total.is_some() {
            tally.latency.add_bucket(bucket, 1, 0.0);
        }
        match placement {
            Placement::Cold => {
                tally.cold_starts += 1;
                tally.billed_init_ms += billed_ms(init);
                tally.busy_ms += init;
                if keep_stats {
                    tally.init.record(init, 1);
                }
                buf.cold.push((bucket, d + init));
            }
            Placement::Provisioned => {
                tally.pc_invocations += 1;
                tally.pc_billed_ms += billed;
            }
            Placement::Warm | Placement::Throttled => {}
        }
        if oom {
            tally.out_of_memory += 1;
        } else if timeout {
            tally.timeouts += 1;
        } else {
            fine += 1;
        }
    }
    if durations.total.is_some() {
        // The counts are in already: the sum, as the merge would add it.
        tally.latency.add_sum(tally.duration.sum());
    } else {
        tally.duration.merge_into(&mut tally.latency);
    }
    for &(bucket, waited) in buf.cold.iter() {
        tally.latency.move_one(bucket, waited);
    }
    tally.errors += rng.binomial(fine, m.error_rate);
    if !oom_possible && keep_stats {
        spread(rng, tally.invocations, m.memory_buckets(), buf.spread);
        for &(b, n, v) in buf.spread.iter() {
            tally.memory_used.add_bucket(b, n, v * count_f64(n));
        }
    } else if !oom_possible {
        skip_spread(rng, tally.invocations, m.memory_buckets());
    }
    tally.environments += u64::from(peak);
}

/// Where a minute's durations are counted. With stats kept: in the minute's histogram (its
/// stats item reads it; `Tally::add_to_totals` merges it into the totals). Without: their
/// counts straight into the totals' histogram, sparing two merges and a clear per touched
/// bucket every minute, while the minute's histogram keeps only their sum, which then reaches
/// the totals' sum exactly as before (one addition per minute, in the same order), so every
/// count and every sum is the same.
struct Durations<'a> {
    minute: &'a mut DenseHist,
    total: Option<&'a mut DenseHist>,
}

impl Durations<'_> {
    #[inline]
    fn add_bucket(&mut self, bucket: u16, n: u64, sum: f64) {
        match &mut self.total {
            None => self.minute.add_bucket(bucket, n, sum),
            // `add_bucket` adds neither count nor sum for no values; a zero sum changes no sum.
            Some(total) if n > 0 => {
                total.add_bucket(bucket, n, 0.0);
                self.minute.add_sum(sum);
            }
            Some(_) => {}
        }
    }

    /// As [`DenseHist::record`].
    fn record(&mut self, value: f64, n: u64) {
        if n > 0 {
            self.add_bucket(bucket_of(value), n, value.max(0.0) * count_f64(n));
        }
    }
}

/// Borrowed buffers of the per-invocation path.
struct Scratch2<'a> {
    times: &'a mut Vec<f64>,
    spread: &'a mut Vec<(u16, u64, f64)>,
    /// The minute's cold calls: duration bucket, and duration + INIT.
    cold: &'a mut Vec<(u16, f64)>,
}

/// A busy minute as a whole: M/G/∞ peak, Erlang-B throttling, expected bucket counts.
/// Durations, INIT and memory used as in [`invocations`].
fn aggregate(
    slot: &mut Slot,
    rng: &mut Rng,
    a: MinuteArrivals,
    t0: f64,
    tally: &mut Tally,
    spread_buf: &mut Vec<(u16, u64, f64)>,
    direct: Option<&mut DenseHist>,
) {
    let keep_stats = direct.is_none();
    let mut durations = Durations { minute: &mut tally.duration, total: direct };
    let span_ms = a.window_s * 1_000.0;
    let m = &mut slot.model;
    let service_ms = m.mean_service_ms.max(0.001);
    let load = a.count as f64 * service_ms / span_ms;
    let peak_offered = draw_peak(rng, load, a.count).clamp(1, a.count.min(u64::from(u32::MAX)) as u32);
    let limit = slot.pool.config().concurrency_limit;
    let throttled = match limit {
        Some(c) if peak_offered > c => rng.binomial(a.count, erlang_b(c, load)),
        _ => 0,
    };
    slot.pool.count_throttles(throttled);
    tally.throttles += throttled;
    let served = a.count - throttled;
    let ooms = rng.binomial(served, m.p_oom);
    let timeouts = rng.binomial(served - ooms, m.p_timeout);
    let ok = served - ooms - timeouts;
    let resets = (ooms + timeouts).min(u64::from(u32::MAX)) as u32;
    let start = t0 + a.window_start_s * 1_000.0;
    let steady = load.ceil() as u32;
    let peak_at = start + span_ms * rng.uniform();
    let (pc, _warm, cold) = slot.pool.serve_span(start, span_ms, peak_offered, (steady, peak_at), resets);
    let cold = (u64::from(cold) + u64::from(resets)).min(served);
    let peak = peak_offered.min(limit.unwrap_or(u32::MAX));

    let memory = f64::from(m.memory.get());
    let mut billed = 0.0;
    let mut busy = 0.0;
    spread(rng, ok, m.duration_buckets(), spread_buf);
    // Latency: warm invocations wait their duration; the cold ones (taken out of the most
    // populated buckets here) wait their INIT first, added below.
    let cold_ok = cold.min(ok);
    let mut to_remove = cold_ok;
    for &(b, n, v) in spread_buf.iter() {
        let count = count_f64(n);
        durations.add_bucket(b, n, v * count);
        // Below 25 ms the bill is at most 25 ms: exact as a u32.
        billed += count * if v < 25.0 { f64::from(billed_ms(v) as u32) } else { v + 0.5 };
        busy += count * v;
    }
    if to_remove > 0 {
        spread_buf.sort_unstable_by_key(|e| std::cmp::Reverse(e.1));
    }
    for &(b, n, v) in spread_buf.iter() {
        let removed = to_remove.min(n);
        to_remove -= removed;
        tally.latency.add_bucket(b, n - removed, v * count_f64(n - removed));
    }
    let oom_ms = 0.5 * m.dist.mean_ms;
    durations.record(oom_ms, ooms);
    durations.record(m.timeout_ms, timeouts);
    billed += ooms as f64 * oom_ms.ceil() + timeouts as f64 * m.timeout_ms.ceil();
    busy += ooms as f64 * oom_ms + timeouts as f64 * m.timeout_ms;
    if keep_stats {
        spread(rng, ok + timeouts, m.memory_buckets(), spread_buf);
        for &(b, n, v) in spread_buf.iter() {
            tally.memory_used.add_bucket(b, n, v * count_f64(n));
        }
        tally.memory_used.add_bucket(bucket_of(memory), ooms, memory * ooms as f64);
    } else {
        skip_spread(rng, ok + timeouts, m.memory_buckets());
    }

    tally.latency.record(oom_ms, ooms);
    tally.latency.record(m.timeout_ms, timeouts);

    // INIT of the cold starts: drawn one by one up to 64, the rest at the mean.
    let drawn = cold.min(64);
    for i in 0..drawn {
        let init = (m.init_mu + m.init_sigma * rng.normal_ziggurat()).exp() + m.init_offset_ms;
        if keep_stats {
            tally.init.record(init, 1);
        }
        tally.billed_init_ms += billed_ms(init);
        busy += init;
        if i < cold_ok {
            let mut d = (m.dist.mu() + m.dist.sigma * rng.normal_ziggurat()).exp();
            if let Some((share, factor)) = m.dist.slow
                && rng.uniform() < share
            {
                d *= factor;
            }
            tally.latency.record(d.min(m.timeout_ms) + init, 1);
        }
    }
    let rest = cold - drawn;
    tally.latency.record(m.dist.overall_mean_ms().min(m.timeout_ms) + m.init_mean_ms, cold_ok.saturating_sub(drawn));
    if keep_stats {
        tally.init.record(m.init_mean_ms, rest);
    }
    tally.billed_init_ms += rest * billed_ms(m.init_mean_ms);
    busy += rest as f64 * m.init_mean_ms;

    let billed = billed.round() as u64;
    let pc_share = if pc == 0 {
        0.0
    } else if pc >= peak {
        1.0
    } else {
        share_served_by_first(load, pc)
    };
    tally.invocations += served;
    tally.cold_starts += cold;
    tally.out_of_memory += ooms;
    tally.timeouts += timeouts;
    tally.errors += rng.binomial(ok, m.error_rate);
    tally.billed_ms += billed;
    tally.pc_invocations += (served as f64 * pc_share).round() as u64;
    tally.pc_billed_ms += (billed as f64 * pc_share).round() as u64;
    tally.busy_ms += busy;
    tally.environments += u64::from(peak);
}

#[cfg(test)]
mod tests;
