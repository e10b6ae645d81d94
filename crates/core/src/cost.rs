//! The cost model: the one place where usage becomes dollars.
//!
//! Billing rules (AWS Lambda pricing page; DESIGN.md):
//! - every invocation is a request; duration is billed per 1 ms, rounded up, × memory;
//! - since 2025-08-01 the INIT phase of on-demand environments is billed as duration too;
//! - provisioned concurrency (PC) is billed for memory × concurrency from enable to disable,
//!   rounded up to 5 minutes, used or not, plus a lower duration price for the invocations it
//!   serves; the free tier does not apply to it;
//! - on-demand duration is tiered by the monthly GB-s of one architecture in a region;
//! - the free tier (1M requests and 400,000 GB-s a month) is off unless asked for.
//!
//! Usage is accumulated in integer MB·ms so that sums over billions of invocations are exact
//! and the order of accumulation never changes a bill.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

use crate::domain::{Architecture, Concurrency, MemoryMb};
use crate::pricing::PriceTable;

/// Provisioned concurrency is billed in steps of this many milliseconds (5 minutes).
pub const PC_BILLING_STEP_MS: u64 = 300_000;
const MB_MS_PER_GB_S: f64 = 1024.0 * 1000.0;

/// Milliseconds Lambda bills for a measured duration: rounded up to the next whole ms.
pub fn billed_ms(duration_ms: f64) -> u64 {
    if duration_ms.is_nan() || duration_ms <= 0.0 {
        return 0;
    }
    // The ceiling on the integer conversion (saturating, like `ceil() as u64`): `f64::ceil` is
    // a library call on baseline x86-64, and the simulator bills every call it simulates.
    // Below 2^63 through i64: x86-64 converts signed integers in one instruction each way, the
    // unsigned ones in a dozen; the values are the same.
    if duration_ms < I64_LIMIT {
        let whole = duration_ms as i64;
        return if (whole as f64) < duration_ms { whole as u64 + 1 } else { whole as u64 };
    }
    let whole = duration_ms as u64;
    if (whole as f64) < duration_ms { whole.saturating_add(1) } else { whole }
}

/// 2^63: positive values below it convert to and from `i64` exactly as to and from `u64`.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// A provisioned-concurrency interval as billed: rounded up to the next 5 minutes.
pub fn pc_billed_ms(enabled_ms: u64) -> u64 {
    enabled_ms.div_ceil(PC_BILLING_STEP_MS) * PC_BILLING_STEP_MS
}

/// A dollar amount in whole cents, rounded as AWS presents bills.
pub fn cents(usd: f64) -> i64 {
    (usd * 100.0).round() as i64
}

/// Billable usage of one architecture. Additive: usage of functions, minutes and
/// environments sums with `+`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Requests served by on-demand environments (free tier applies).
    pub requests: u64,
    /// Requests served by provisioned environments (free tier does not apply).
    pub pc_requests: u64,
    /// On-demand billed duration × memory.
    pub duration_mb_ms: u128,
    /// Billed INIT × memory of on-demand cold starts.
    pub init_mb_ms: u128,
    /// PC allocation × memory, already rounded up to 5-minute steps.
    pub pc_allocated_mb_ms: u128,
    /// Billed duration × memory of invocations served by PC.
    pub pc_duration_mb_ms: u128,
}

impl Usage {
    /// One invocation of the given measured duration on an on-demand environment.
    pub fn on_demand(memory: MemoryMb, duration_ms: f64) -> Self {
        Self::invocations(memory, 1, billed_ms(duration_ms))
    }

    /// `count` invocations whose billed durations sum to `billed_ms_total`, on demand.
    pub fn invocations(memory: MemoryMb, count: u64, billed_ms_total: u64) -> Self {
        Self {
            requests: count,
            duration_mb_ms: u128::from(memory.get()) * u128::from(billed_ms_total),
            ..Self::default()
        }
    }

    /// `count` invocations served by provisioned environments.
    pub fn pc_invocations(memory: MemoryMb, count: u64, billed_ms_total: u64) -> Self {
        Self {
            pc_requests: count,
            pc_duration_mb_ms: u128::from(memory.get()) * u128::from(billed_ms_total),
            ..Self::default()
        }
    }

    /// One on-demand cold start whose INIT phase took `init_ms`.
    pub fn init(memory: MemoryMb, init_ms: f64) -> Self {
        Self { init_mb_ms: u128::from(memory.get()) * u128::from(billed_ms(init_ms)), ..Self::default() }
    }

    /// `concurrency` provisioned environments kept for `enabled_ms` (one enable → disable
    /// interval at a constant level), rounded up to 5 minutes.
    pub fn provisioned(memory: MemoryMb, concurrency: Concurrency, enabled_ms: u64) -> Self {
        Self {
            pc_allocated_mb_ms: u128::from(memory.get())
                * u128::from(concurrency.get())
                * u128::from(pc_billed_ms(enabled_ms)),
            ..Self::default()
        }
    }

    pub fn total_requests(&self) -> u64 {
        self.requests + self.pc_requests
    }
}

impl Add for Usage {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            requests: self.requests + o.requests,
            pc_requests: self.pc_requests + o.pc_requests,
            duration_mb_ms: self.duration_mb_ms + o.duration_mb_ms,
            init_mb_ms: self.init_mb_ms + o.init_mb_ms,
            pc_allocated_mb_ms: self.pc_allocated_mb_ms + o.pc_allocated_mb_ms,
            pc_duration_mb_ms: self.pc_duration_mb_ms + o.pc_duration_mb_ms,
        }
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

/// Usage of a whole account or fleet, per architecture (duration tiers are per architecture).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetUsage {
    pub x86_64: Usage,
    pub arm64: Usage,
}

impl FleetUsage {
    pub fn add(&mut self, arch: Architecture, usage: Usage) {
        match arch {
            Architecture::X86_64 => self.x86_64 += usage,
            Architecture::Arm64 => self.arm64 += usage,
        }
    }
}

/// Whether the monthly free tier is subtracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FreeTier {
    /// Off: the right setting for comparing policies, and for accounts past the free tier.
    #[default]
    Off,
    /// 1M requests and 400,000 GB-s a month, shared by both architectures.
    On,
}

impl FreeTier {
    pub const REQUESTS: u64 = 1_000_000;
    pub const GB_S: f64 = 400_000.0;
}

/// Dollars by line of the bill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostBreakdown {
    pub requests: f64,
    pub duration: f64,
    pub init: f64,
    pub pc_allocated: f64,
    pub pc_duration: f64,
}

impl CostBreakdown {
    pub fn total(&self) -> f64 {
        self.requests + self.duration + self.init + self.pc_allocated + self.pc_duration
    }

    /// Everything provisioned concurrency costs (allocation plus its duration).
    pub fn pc(&self) -> f64 {
        self.pc_allocated + self.pc_duration
    }
}

impl Add for CostBreakdown {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            requests: self.requests + o.requests,
            duration: self.duration + o.duration,
            init: self.init + o.init,
            pc_allocated: self.pc_allocated + o.pc_allocated,
            pc_duration: self.pc_duration + o.pc_duration,
        }
    }
}

impl AddAssign for CostBreakdown {
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

/// Prices applied to usage. Marginal figures use the first duration tier; [`CostModel::bill`]
/// applies the tiers and, if asked, the free tier to a month of usage.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    prices: PriceTable,
}

impl Default for CostModel {
    fn default() -> Self {
        Self::new(PriceTable::us_east_1())
    }
}

impl CostModel {
    pub fn new(prices: PriceTable) -> Self {
        Self { prices }
    }

    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Marginal cost of usage at first-tier prices, free tier off: what a decision changes.
    pub fn cost(&self, arch: Architecture, u: &Usage) -> CostBreakdown {
        let p = self.prices.arch(arch);
        let gb_s = |mb_ms: u128| mb_ms as f64 / MB_MS_PER_GB_S;
        CostBreakdown {
            requests: u.total_requests() as f64 * self.prices.request_price(),
            duration: gb_s(u.duration_mb_ms) * p.duration_gb_s(),
            init: gb_s(u.init_mb_ms) * p.duration_gb_s(),
            pc_allocated: gb_s(u.pc_allocated_mb_ms) * p.pc_allocated_gb_s,
            pc_duration: gb_s(u.pc_duration_mb_ms) * p.pc_duration_gb_s,
        }
    }

    /// Cost of one on-demand invocation (request + duration rounded up to 1 ms).
    pub fn invocation(&self, arch: Architecture, memory: MemoryMb, duration_ms: f64) -> f64 {
        self.cost(arch, &Usage::on_demand(memory, duration_ms)).total()
    }

    /// Cost of the INIT phase of one on-demand cold start.
    pub fn init(&self, arch: Architecture, memory: MemoryMb, init_ms: f64) -> f64 {
        self.cost(arch, &Usage::init(memory, init_ms)).total()
    }

    /// Price of one GB-s of on-demand duration (first tier).
    pub fn duration_gb_s(&self, arch: Architecture) -> f64 {
        self.prices.arch(arch).duration_gb_s()
    }

    /// Utilisation above which provisioned concurrency is cheaper than on-demand for the
    /// same work: PC allocation ÷ (on-demand duration − PC duration), per GB-s.
    pub fn pc_break_even_utilisation(&self, arch: Architecture) -> f64 {
        let p = self.prices.arch(arch);
        p.pc_allocated_gb_s / (p.duration_gb_s() - p.pc_duration_gb_s)
    }

    /// A month's bill: duration tiers per architecture and the free tier if asked.
    ///
    /// The free tier is taken from on-demand requests and from on-demand duration + INIT
    /// (x86_64 first), never from provisioned concurrency.
    pub fn bill(&self, usage: &FleetUsage, free_tier: FreeTier) -> CostBreakdown {
        let (mut free_requests, mut free_gb_s) = match free_tier {
            FreeTier::Off => (0, 0.0),
            FreeTier::On => (FreeTier::REQUESTS, FreeTier::GB_S),
        };
        let mut total = CostBreakdown::default();
        for arch in Architecture::ALL {
            let u = match arch {
                Architecture::X86_64 => &usage.x86_64,
                Architecture::Arm64 => &usage.arm64,
            };
            let p = self.prices.arch(arch);
            let requests_free = u.requests.min(free_requests);
            free_requests -= requests_free;
            let duration_gb_s = u.duration_mb_ms as f64 / MB_MS_PER_GB_S;
            let init_gb_s = u.init_mb_ms as f64 / MB_MS_PER_GB_S;
            let on_demand_gb_s = duration_gb_s + init_gb_s;
            let gb_s_free = on_demand_gb_s.min(free_gb_s);
            free_gb_s -= gb_s_free;
            let on_demand = tiered(&p.duration_tiers, on_demand_gb_s - gb_s_free);
            // Split the on-demand charge between duration and INIT in proportion.
            let init_share = if on_demand_gb_s > 0.0 { init_gb_s / on_demand_gb_s } else { 0.0 };
            let mut line = self.cost(arch, u);
            line.requests = (u.total_requests() - requests_free) as f64 * self.prices.request_price();
            line.duration = on_demand * (1.0 - init_share);
            line.init = on_demand * init_share;
            total += line;
        }
        total
    }
}

/// Charge for `gb_s` of on-demand duration in one month under tiered prices.
fn tiered(tiers: &[(f64, f64); 3], gb_s: f64) -> f64 {
    let mut charged = 0.0;
    let mut lower = 0.0;
    for &(upper, price) in tiers {
        if gb_s <= lower {
            break;
        }
        charged += (gb_s.min(upper) - lower) * price;
        lower = upper;
    }
    charged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(v: u64) -> MemoryMb {
        MemoryMb::new(v).unwrap()
    }

    #[test]
    fn rounding_rules() {
        assert_eq!(billed_ms(0.0), 0);
        assert_eq!(billed_ms(0.01), 1);
        assert_eq!(billed_ms(469.4), 470);
        assert_eq!(billed_ms(500.0), 500);
        assert_eq!(pc_billed_ms(1), 300_000);
        assert_eq!(pc_billed_ms(300_000), 300_000);
        assert_eq!(pc_billed_ms(300_001), 600_000);
        assert_eq!(pc_billed_ms(0), 0);
        assert_eq!(billed_ms(f64::NAN), 0);
        assert_eq!(billed_ms(-3.0), 0);
        assert_eq!(billed_ms(1e30), u64::MAX);
        // Just above a whole millisecond, and the largest value below one.
        assert_eq!(billed_ms(f64::from_bits(500f64.to_bits() + 1)), 501);
        assert_eq!(billed_ms(f64::from_bits(500f64.to_bits() - 1)), 500);
        // Either side of 2^63, where the conversion changes path.
        let limit = 9_223_372_036_854_775_808.0f64;
        assert_eq!(billed_ms(f64::from_bits(limit.to_bits() - 1)), (1 << 63) - 1024);
        assert_eq!(billed_ms(limit), 1 << 63);
        for d in [1e-300, 0.5, 1.0, 1.5, 99.999_999_9, 1_234_567.000_001, 9e15, 1.5e19] {
            assert_eq!(billed_ms(d), d.ceil() as u64, "{d}");
        }
    }

    #[test]
    fn tiers_apply_to_the_month_not_to_each_function() {
        let m = CostModel::default();
        let t = &m.prices().x86_64.duration_tiers;
        assert!((tiered(t, 6e9) - 6e9 * 0.000_016_666_7).abs() < 1e-3);
        let over = tiered(t, 7e9) - tiered(t, 6e9);
        assert!((over - 1e9 * 0.000_015).abs() < 1e-3, "the GB-s above 6B are charged at the second tier");
    }

    #[test]
    fn usage_is_additive_and_order_free() {
        let a = Usage::on_demand(mb(512), 100.2) + Usage::init(mb(512), 250.0);
        let b = Usage::provisioned(mb(512), Concurrency::new(3).unwrap(), 60_000);
        assert_eq!(a + b, b + a);
        assert_eq!((a + b).pc_allocated_mb_ms, 512 * 3 * 300_000);
        assert_eq!((a + b).duration_mb_ms, 512 * 101);
    }
}
