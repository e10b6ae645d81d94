//! Held-out curves: families drawn from Lambda's CPU model, never looked at while the tuner
//! was built, so that the benchmark also says how the tuner does on curves it has not seen.
//!
//! Duration at `m` MB is `io + cpu · 1769 / min(m, knee) · (1 + gc · max(0, m_gc/m − 1))`:
//! `io` does not speed up with memory, `cpu` does until the code's parallelism is used up
//! (`knee` = 1 vCPU for single-threaded code, more for threaded code), and `gc` adds
//! garbage-collection pressure below `m_gc`. Parameters are drawn per curve; the curve is
//! "measured" at a random set of sizes (not Power Tuning's) and interpolated like the real
//! ones; the p99/mean ratio and the INIT duration are drawn too.

use autopilot_core::Architecture;
use autopilot_sim::model::Interpolation;

use autopilot_sim::rng::Rng;

use super::log_uniform;
use super::truth::Truth;

/// Sizes a synthetic curve may be measured at.
const GRID: [u32; 14] = [128, 192, 256, 384, 512, 768, 1024, 1280, 1769, 2048, 3008, 4096, 6144, 10_240];

/// `count` held-out curves from `seed`.
pub fn curves(seed: u64, count: usize, interpolation: Interpolation) -> Vec<Truth> {
    (0..count as u64).map(|i| curve(&mut Rng::stream(seed, "synthetic", &i.to_string()), i, interpolation)).collect()
}

fn curve(rng: &mut Rng, i: u64, interpolation: Interpolation) -> Truth {
    let kind = (rng.uniform() * 4.0) as u32;
    let cpu = log_uniform(rng, 50.0, 20_000.0);
    let (io, knee, gc, m_gc, name) = match kind {
        0 => (cpu * log_uniform(rng, 0.001, 0.05), 1769.0, 0.0, 128.0, "single-thread"),
        1 => (cpu * log_uniform(rng, 0.001, 0.05), 1769.0 * log_uniform(rng, 2.0, 6.0), 0.0, 128.0, "threaded"),
        2 => (cpu * log_uniform(rng, 0.2, 3.0), 1769.0, 0.0, 128.0, "io-bound"),
        _ => (
            cpu * log_uniform(rng, 0.01, 0.2),
            1769.0,
            log_uniform(rng, 0.2, 3.0),
            log_uniform(rng, 256.0, 2048.0),
            "gc-pressure",
        ),
    };
    let ratio = log_uniform(rng, 1.02, 3.0);
    let top = if rng.uniform() < 0.5 { 2048 } else { 10_240 };
    let bottom = if kind == 3 && rng.uniform() < 0.3 { 512 } else { 128 };
    let sizes: Vec<u32> = GRID
        .iter()
        .copied()
        .filter(|&m| m >= bottom && m <= top && (m == bottom || m == top || rng.uniform() < 0.6))
        .collect();
    let warm: Vec<(u32, f64, f64)> = sizes
        .iter()
        .map(|&m| {
            let mf = f64::from(m);
            let d = (io + cpu * 1769.0 / mf.min(knee)) * (1.0 + gc * (m_gc / mf - 1.0).max(0.0));
            // A few percent of measurement wobble, as real tables have.
            let d = d * (1.0 + 0.03 * rng.normal());
            (m, d, d * ratio)
        })
        .collect();
    let arch = if rng.uniform() < 0.5 { Architecture::Arm64 } else { Architecture::X86_64 };
    let init = log_uniform(rng, 20.0, 800.0);
    Truth::from_points(&format!("synthetic/{name}/{i}"), arch, &warm, Some(init), interpolation)
}
