//! Published numbers the cost model must reproduce: AWS's own pricing examples and real
//! Lambda costs measured and published by others.

use autopilot_core::cost::{CostModel, FleetUsage, FreeTier, Usage, cents};
use autopilot_core::pricing::PriceTable;
use autopilot_core::{Architecture, Concurrency, MemoryMb, Region};

fn mb(v: u64) -> MemoryMb {
    MemoryMb::new(v).unwrap()
}

/// AWS Lambda pricing page, example 1: 512 MB, 3M invocations of 1 s in a month, free tier
/// on. AWS computes it with the rounded price $0.00001667 per GB-s: 1,100,000 GB-s → $18.34,
/// plus 2M billable requests → $0.40, total $18.74.
#[test]
fn aws_pricing_example_with_free_tier() {
    let mut prices = PriceTable::us_east_1();
    prices.x86_64.duration_tiers[0].1 = 0.000_016_67; // the rounded price of AWS's example
    let model = CostModel::new(prices);
    let mut usage = FleetUsage::default();
    usage.add(Architecture::X86_64, Usage::invocations(mb(512), 3_000_000, 3_000_000 * 1_000));
    let bill = model.bill(&usage, FreeTier::On);
    assert_eq!(cents(bill.duration), 1834);
    assert_eq!(cents(bill.requests), 40);
    assert_eq!(cents(bill.total()), 1874);
    // With the exact list price the same month costs a cent less, and $25.60 without free tier.
    let exact = CostModel::default();
    assert_eq!(cents(exact.bill(&usage, FreeTier::On).total()), 1873);
    assert_eq!(cents(exact.bill(&usage, FreeTier::Off).total()), 2560);
}

/// AWS Lambda pricing page, provisioned concurrency example: 1,024 MB, PC = 1,000 for two
/// hours, 1.2M invocations of 1 s on it → $30.00 PC + $11.67 duration + $0.24 requests.
#[test]
fn aws_provisioned_concurrency_example() {
    let model = CostModel::default();
    let usage = Usage::provisioned(mb(1024), Concurrency::new(1_000).unwrap(), 2 * 3_600_000)
        + Usage::pc_invocations(mb(1024), 1_200_000, 1_200_000 * 1_000);
    let c = model.cost(Architecture::X86_64, &usage);
    assert_eq!(cents(c.pc_allocated), 3000);
    assert_eq!(cents(c.pc_duration), 1167);
    assert_eq!(cents(c.requests), 24);
    assert_eq!(cents(c.total()), 4191);
    // The free tier does not apply to provisioned concurrency.
    let mut fleet = FleetUsage::default();
    fleet.add(Architecture::X86_64, usage);
    assert_eq!(cents(model.bill(&fleet, FreeTier::On).total()), 4191);
}

/// PC beats on-demand above 60% utilisation on both architectures (DESIGN.md).
#[test]
fn pc_break_even_is_sixty_percent() {
    let model = CostModel::default();
    for arch in Architecture::ALL {
        let u = model.pc_break_even_utilisation(arch);
        assert!((u - 0.600).abs() < 0.0005, "{arch}: {u}");
    }
}

/// Measured and published by cebert/aws-lambda-performance-benchmarks (November 2025,
/// us-east-2, cpu-intensive nodejs22, warm): mean duration → cost per 1M invocations.
/// Costs are computed from the mean, so they match within 0.5%.
#[test]
fn cebert_published_costs() {
    let model = CostModel::new(PriceTable::for_region(&Region::new("us-east-2").unwrap()).unwrap());
    for (arch, memory, mean_ms, published) in [
        (Architecture::X86_64, 128, 21_604.85, 45.2119),
        (Architecture::Arm64, 128, 19_361.20, 32.4700),
        (Architecture::X86_64, 1024, 2_716.51, 45.4834),
    ] {
        let per_million = 1e6 * model.invocation(arch, mb(memory), mean_ms);
        let rel = (per_million - published).abs() / published;
        assert!(rel < 0.005, "{arch} {memory} MB: ${per_million:.4} vs published ${published} ({:.3}%)", rel * 100.0);
    }
}

/// INIT is billed like duration since 2025-08-01, rounded up to 1 ms.
#[test]
fn init_is_billed_as_duration() {
    let model = CostModel::default();
    let init = model.init(Architecture::X86_64, mb(1024), 299.2);
    assert!((init - 0.300 * 0.000_016_666_7).abs() < 1e-15);
}
