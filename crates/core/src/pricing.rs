//! Lambda list prices per region and architecture. The only place prices are written down;
//! [`crate::cost::CostModel`] is the only place they are used.
//!
//! Sources:
//! - us-east-1 prices (duration tiers, provisioned concurrency, requests): the AWS Lambda
//!   pricing page, <https://aws.amazon.com/lambda/pricing/>, as summarised in DESIGN.md.
//!   AWS lists the same prices for the other commercial regions in [`STANDARD_REGIONS`]
//!   (us-east-2 is confirmed independently by the cebert benchmark, whose published costs
//!   match these prices within 0.5%).
//! - The regions that differ, on-demand duration per GB-s (x86_64 / arm64): af-south-1
//!   0.0000221 / 0.00001768, ap-east-1 0.00002292 / 0.0000183, eu-south-1 0.0000195172 /
//!   0.0000156138, me-south-1 and me-central-1 0.0000206667 / 0.0000165334 (the same
//!   pricing page, as tabulated in public cost calculators). For these regions the request,
//!   provisioned-concurrency and higher-tier prices are **estimates**: the first-tier
//!   duration ratio to us-east-1 applied to the us-east-1 figures, and requests at $0.20 per
//!   million. [`PriceTable::estimated`] says so, and reports must repeat it.

use serde::Serialize;

use crate::domain::{Architecture, Region};

/// On-demand duration prices are tiered by the monthly GB-s of one architecture in one
/// region: `(upper bound of the tier in GB-s per month, price per GB-s)`, last tier open.
pub type DurationTiers = [(f64, f64); 3];

/// Prices of one architecture in one region, in USD.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchPrices {
    /// On-demand duration (and, since 2025-08-01, INIT) per GB-s, by monthly tier.
    pub duration_tiers: DurationTiers,
    /// Provisioned concurrency allocated, per GB-s, charged whether used or not.
    pub pc_allocated_gb_s: f64,
    /// Duration of invocations served by provisioned environments, per GB-s.
    pub pc_duration_gb_s: f64,
}

impl ArchPrices {
    /// The first-tier on-demand duration price, the marginal price of almost every function.
    pub fn duration_gb_s(&self) -> f64 {
        self.duration_tiers[0].1
    }

    fn scaled(&self, factor: f64) -> Self {
        let mut tiers = self.duration_tiers;
        for tier in &mut tiers[1..] {
            tier.1 *= factor;
        }
        Self {
            duration_tiers: tiers,
            pc_allocated_gb_s: self.pc_allocated_gb_s * factor,
            pc_duration_gb_s: self.pc_duration_gb_s * factor,
        }
    }
}

/// Every Lambda price of one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceTable {
    pub region: Region,
    /// Price of one million requests (invocations), both architectures.
    pub requests_per_million: f64,
    pub x86_64: ArchPrices,
    pub arm64: ArchPrices,
    /// True when some of these prices are estimates rather than published figures.
    pub estimated: bool,
}

/// Commercial regions whose Lambda prices equal us-east-1's.
pub const STANDARD_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ca-west-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-2",
    "il-central-1",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
];

/// Regions with their own published first-tier duration prices: (region, x86_64, arm64).
pub const DIFFERING_REGIONS: &[(&str, f64, f64)] = &[
    ("af-south-1", 0.000_022_1, 0.000_017_68),
    ("ap-east-1", 0.000_022_92, 0.000_018_3),
    ("eu-south-1", 0.000_019_517_2, 0.000_015_613_8),
    ("me-south-1", 0.000_020_666_7, 0.000_016_533_4),
    ("me-central-1", 0.000_020_666_7, 0.000_016_533_4),
];

/// No built-in prices for this region.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no built-in Lambda prices for region {0}; built in: {known}", known = known_regions().join(", "))]
pub struct UnknownRegionPrices(pub String);

/// Every region with built-in prices.
pub fn known_regions() -> Vec<&'static str> {
    STANDARD_REGIONS.iter().copied().chain(DIFFERING_REGIONS.iter().map(|r| r.0)).collect()
}

impl PriceTable {
    /// us-east-1 list prices.
    pub fn us_east_1() -> Self {
        Self {
            region: Region::default(),
            requests_per_million: 0.20,
            x86_64: ArchPrices {
                duration_tiers: [(6e9, 0.000_016_666_7), (15e9, 0.000_015), (f64::INFINITY, 0.000_013_333_4)],
                pc_allocated_gb_s: 0.000_004_166_7,
                pc_duration_gb_s: 0.000_009_722_2,
            },
            arm64: ArchPrices {
                duration_tiers: [
                    (7.5e9, 0.000_013_333_4),
                    (18.75e9, 0.000_012_000_1),
                    (f64::INFINITY, 0.000_010_666_7),
                ],
                pc_allocated_gb_s: 0.000_003_333_4,
                pc_duration_gb_s: 0.000_007_777_8,
            },
            estimated: false,
        }
    }

    /// The built-in prices of a region.
    pub fn for_region(region: &Region) -> Result<Self, UnknownRegionPrices> {
        let base = Self::us_east_1();
        if STANDARD_REGIONS.contains(&region.as_str()) {
            return Ok(Self { region: region.clone(), ..base });
        }
        let &(_, x86, arm) = DIFFERING_REGIONS
            .iter()
            .find(|r| r.0 == region.as_str())
            .ok_or_else(|| UnknownRegionPrices(region.to_string()))?;
        let regional = |prices: &ArchPrices, first: f64| {
            let mut p = prices.scaled(first / prices.duration_gb_s());
            p.duration_tiers[0].1 = first;
            p
        };
        Ok(Self {
            region: region.clone(),
            x86_64: regional(&base.x86_64, x86),
            arm64: regional(&base.arm64, arm),
            estimated: true,
            ..base
        })
    }

    pub fn arch(&self, arch: Architecture) -> &ArchPrices {
        match arch {
            Architecture::X86_64 => &self.x86_64,
            Architecture::Arm64 => &self.arm64,
        }
    }

    pub fn request_price(&self) -> f64 {
        self.requests_per_million / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_regions_share_us_east_1_prices() {
        let base = PriceTable::us_east_1();
        for r in STANDARD_REGIONS {
            let t = PriceTable::for_region(&Region::new(r).unwrap()).unwrap();
            assert_eq!(
                (t.x86_64.clone(), t.arm64.clone(), t.estimated),
                (base.x86_64.clone(), base.arm64.clone(), false)
            );
        }
    }

    #[test]
    fn differing_regions_carry_their_published_duration_price_and_say_the_rest_is_estimated() {
        let t = PriceTable::for_region(&Region::new("af-south-1").unwrap()).unwrap();
        assert!((t.x86_64.duration_gb_s() - 0.000_022_1).abs() < 1e-15);
        assert!((t.arm64.duration_gb_s() - 0.000_017_68).abs() < 1e-15);
        assert!(t.estimated);
        assert!(t.x86_64.pc_allocated_gb_s > PriceTable::us_east_1().x86_64.pc_allocated_gb_s);
    }

    #[test]
    fn unknown_region_names_the_known_ones() {
        let e = PriceTable::for_region(&Region::new("xx-nowhere-9").unwrap()).unwrap_err().to_string();
        assert!(e.contains("xx-nowhere-9") && e.contains("us-east-1") && e.contains("af-south-1"), "{e}");
    }
}
