//! The built-in demo fleet: thirteen functions of mixed runtimes, architectures, workloads and
//! traffic shapes, most of them mis-sized as real fleets are. `demo_fleet(n, seed)` returns
//! the archetypes as they are for n ≤ 13 and, beyond, cycles them with per-function seeds
//! and jittered rates, work, memory and phases. The 13th (`feed-ranker`) is the trap for a
//! tuner that reads only mean costs: a p99 cliff below 1 GB.

use std::collections::BTreeMap;

use autopilot_core::{Architecture, MemoryMb};

use crate::model::{DurationModel, FunctionSpec, Runtime, SlowPath, Workload};
use crate::rng::Rng;
use crate::traffic::{Bursts, LevelShift, Rate, TraceShape, Traffic};

/// The tag every demo function carries (value `true`): what `list_functions` filters on.
pub const OPT_IN_TAG: &str = "autopilot";

fn mb(v: u32) -> MemoryMb {
    MemoryMb::clamped(f64::from(v))
}

struct Archetype {
    name: &'static str,
    what: &'static str,
    runtime: Runtime,
    arch: Architecture,
    memory: u32,
    workload: Workload,
    p99_over_mean: f64,
    slow: Option<SlowPath>,
    need_mb: f64,
    init_offset_ms: f64,
    alias: bool,
    traffic: Traffic,
}

fn diurnal(mean_per_minute: f64) -> Rate {
    Rate {
        daily_amplitude: 0.6,
        peak_hour_utc: 15.0,
        weekend_factor: 0.55,
        trend_per_week: 0.03,
        ..Rate::flat(mean_per_minute)
    }
}

fn archetypes() -> Vec<Archetype> {
    use Architecture::{Arm64, X86_64};
    use Runtime::{Java, Node, Python, Rust};
    let a = |name, what, runtime, arch, memory, workload, p99_over_mean, need_mb, traffic| Archetype {
        name,
        what,
        runtime,
        arch,
        memory,
        workload,
        p99_over_mean,
        slow: None,
        need_mb,
        init_offset_ms: 0.0,
        alias: false,
        traffic,
    };
    vec![
        Archetype {
            alias: true,
            init_offset_ms: 180.0,
            ..a(
                "checkout-api",
                "busy API, over-sized",
                Node,
                X86_64,
                1769,
                Workload::IoBound { io_ms: 60.0, cpu_ms: 25.0 },
                1.6,
                190.0,
                Traffic::Poisson(diurnal(900.0)),
            )
        },
        a(
            "image-resize",
            "CPU-bound, under-sized",
            Python,
            Arm64,
            256,
            Workload::CpuBound { work_ms: 180.0, parallelism: 1.0, fixed_ms: 5.0 },
            1.25,
            210.0,
            Traffic::Poisson(Rate {
                bursts: Some(Bursts { per_day: 6.0, mean_minutes: 20.0, multiplier: 6.0 }),
                ..diurnal(25.0)
            }),
        ),
        Archetype {
            init_offset_ms: 900.0,
            ..a(
                "pdf-render",
                "memory-hungry near its OOM floor",
                Java,
                X86_64,
                1024,
                Workload::MemoryHungry { work_ms: 350.0, working_set_mb: 650.0, gc_factor: 0.35 },
                1.4,
                880.0,
                Traffic::Batches { every_minutes: 15, mean_batch: 120.0, spread_seconds: 20.0 },
            )
        },
        a(
            "report-cron",
            "sparse timer, single-threaded, over-sized",
            Python,
            X86_64,
            3008,
            Workload::CpuBound { work_ms: 6_000.0, parallelism: 1.0, fixed_ms: 200.0 },
            1.15,
            300.0,
            Traffic::Timer { every_minutes: 60, per_fire: 1 },
        ),
        a(
            "auth-edge",
            "tiny I/O-bound API, 2 GB for nothing",
            Rust,
            Arm64,
            2048,
            Workload::IoBound { io_ms: 12.0, cpu_ms: 2.0 },
            1.8,
            40.0,
            Traffic::Poisson(diurnal(1_500.0)),
        ),
        Archetype {
            init_offset_ms: 600.0,
            ..a(
                "search-indexer",
                "parallel CPU work from a queue",
                Java,
                Arm64,
                1769,
                Workload::CpuBound { work_ms: 2_400.0, parallelism: 4.0, fixed_ms: 20.0 },
                1.3,
                900.0,
                Traffic::Batches { every_minutes: 5, mean_batch: 40.0, spread_seconds: 30.0 },
            )
        },
        Archetype {
            alias: true,
            ..a(
                "webhook-ingest",
                "bursty I/O",
                Node,
                Arm64,
                512,
                Workload::IoBound { io_ms: 120.0, cpu_ms: 15.0 },
                2.0,
                150.0,
                Traffic::Poisson(Rate {
                    bursts: Some(Bursts { per_day: 8.0, mean_minutes: 10.0, multiplier: 8.0 }),
                    ..Rate::flat(12.0)
                }),
            )
        },
        a(
            "nightly-etl",
            "memory-hungry, sparse timer",
            Python,
            X86_64,
            2048,
            Workload::MemoryHungry { work_ms: 4_000.0, working_set_mb: 1_200.0, gc_factor: 0.3 },
            1.2,
            1_500.0,
            Traffic::Timer { every_minutes: 15, per_fire: 1 },
        ),
        Archetype {
            alias: true,
            slow: Some(SlowPath { below_mb: 1024, share: 0.03, factor: 9.0 }),
            init_offset_ms: 400.0,
            ..a(
                "recommendations",
                "p99 cliff below 1 GB",
                Python,
                X86_64,
                512,
                Workload::IoBound { io_ms: 140.0, cpu_ms: 50.0 },
                1.3,
                300.0,
                Traffic::Poisson(diurnal(300.0)),
            )
        },
        a(
            "thumbnail-gen",
            "CPU-bound with a level shift",
            Node,
            X86_64,
            256,
            Workload::CpuBound { work_ms: 220.0, parallelism: 1.0, fixed_ms: 10.0 },
            1.2,
            160.0,
            Traffic::Poisson(Rate { level_shift: Some(LevelShift { at_day: 3.0, factor: 3.0 }), ..Rate::flat(40.0) }),
        ),
        a(
            "audit-log",
            "steady trickle, over-sized",
            Rust,
            X86_64,
            1024,
            Workload::IoBound { io_ms: 8.0, cpu_ms: 1.0 },
            1.5,
            30.0,
            Traffic::Poisson(Rate::flat(6.0)),
        ),
        Archetype {
            init_offset_ms: 2_500.0,
            ..a(
                "billing-sync",
                "Java fan-out on a timer, slow init",
                Java,
                X86_64,
                512,
                Workload::IoBound { io_ms: 400.0, cpu_ms: 120.0 },
                1.4,
                330.0,
                Traffic::Timer { every_minutes: 30, per_fire: 5 },
            )
        },
        // 13th, so the dozen above are unchanged: a trap for a tuner that watches only the
        // mean. Over-sized and I/O-bound, so halving memory looks cheaper and cheaper; below
        // 1 GB its cache no longer fits and 4% of requests take 12× longer.
        Archetype {
            slow: Some(SlowPath { below_mb: 1024, share: 0.04, factor: 12.0 }),
            init_offset_ms: 300.0,
            ..a(
                "feed-ranker",
                "over-sized, p99 cliff below 1 GB",
                Python,
                X86_64,
                2048,
                Workload::IoBound { io_ms: 90.0, cpu_ms: 20.0 },
                1.4,
                180.0,
                Traffic::Poisson(diurnal(200.0)),
            )
        },
    ]
}

/// Number of archetypes in the demo fleet.
pub fn archetype_count() -> usize {
    archetypes().len()
}

/// The demo fleet of `n` functions.
pub fn demo_fleet(n: usize, seed: u64) -> Vec<FunctionSpec> {
    let types = archetypes();
    (0..n)
        .map(|i| {
            let a = &types[i % types.len()];
            let round = i / types.len();
            let mut spec = spec_of(a);
            if round > 0 {
                spec.name = format!("{}-{round:03}", a.name);
                let mut rng = Rng::stream(seed, &spec.name, "fleet");
                jitter(&mut spec, &mut rng);
            }
            spec
        })
        .collect()
}

fn spec_of(a: &Archetype) -> FunctionSpec {
    let mut duration = DurationModel::new(a.workload.clone(), a.p99_over_mean);
    duration.slow_path = a.slow;
    FunctionSpec {
        name: a.name.to_owned(),
        archetype: a.what.to_owned(),
        runtime: a.runtime,
        architecture: a.arch,
        memory: mb(a.memory),
        timeout_ms: 30_000,
        duration,
        init: a.runtime.default_init(),
        init_offset_ms: a.init_offset_ms,
        memory_needed_mb: a.need_mb,
        error_rate: 0.001,
        reserved_concurrency: None,
        alias: a.alias.then(|| "live".to_owned()),
        traffic: a.traffic.clone(),
        tags: BTreeMap::from([(OPT_IN_TAG.to_owned(), "true".to_owned())]),
    }
}

/// Varies a copy of an archetype: rate ×(0.3–3), work ×(0.6–1.6), memory one of the usual
/// sizes at or above the OOM floor, peak hour and init offset.
fn jitter(spec: &mut FunctionSpec, rng: &mut Rng) {
    let factor = |rng: &mut Rng, sigma: f64| (sigma * rng.normal()).exp().clamp(0.3, 3.0);
    let rate = factor(rng, 0.6);
    match &mut spec.traffic {
        Traffic::Poisson(r) => {
            r.mean_per_minute *= rate;
            r.peak_hour_utc = (r.peak_hour_utc + 4.0 * rng.normal()).rem_euclid(24.0);
        }
        Traffic::Batches { mean_batch, .. } => *mean_batch *= rate,
        Traffic::Timer { .. } | Traffic::Trace { .. } => {}
    }
    let work = factor(rng, 0.25);
    match &mut spec.duration.workload {
        Workload::CpuBound { work_ms, .. } | Workload::MemoryHungry { work_ms, .. } => *work_ms *= work,
        Workload::IoBound { io_ms, cpu_ms } => {
            *io_ms *= work;
            *cpu_ms *= work;
        }
        Workload::Measured(_) => {}
    }
    const SIZES: [u32; 8] = [128, 256, 512, 1024, 1536, 1769, 2048, 3008];
    let fits: Vec<u32> = SIZES.iter().copied().filter(|&s| f64::from(s) >= spec.memory_needed_mb * 1.2).collect();
    if !fits.is_empty() && rng.bernoulli(0.5) {
        spec.memory = mb(fits[(rng.uniform() * fits.len() as f64) as usize % fits.len()]);
    }
    spec.init_offset_ms *= factor(rng, 0.4);
}

/// Replaces every function's arrival shape with a trace's (function i takes series
/// i mod count), keeping each function's own mean rate, at a per-function phase.
pub fn apply_trace(specs: &mut [FunctionSpec], shapes: &[TraceShape], seed: u64) {
    if shapes.is_empty() {
        return;
    }
    for (i, spec) in specs.iter_mut().enumerate() {
        let shape = shapes[i % shapes.len()].clone();
        let mean_per_minute = spec.traffic.nominal_per_minute();
        let len = shape.per_minute.len().max(1);
        let phase_minutes =
            if i < shapes.len() { 0 } else { (Rng::stream(seed, &spec.name, "phase").uniform() * len as f64) as usize };
        spec.traffic = Traffic::Trace { shape, mean_per_minute, phase_minutes };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dozen_mixed_functions_most_of_them_mis_sized() {
        let fleet = demo_fleet(12, 1);
        assert_eq!(fleet.len(), 12);
        for rt in Runtime::ALL {
            assert!(fleet.iter().any(|f| f.runtime == rt), "{rt:?}");
        }
        assert!(fleet.iter().any(|f| f.architecture == Architecture::Arm64));
        assert!(fleet.iter().any(|f| f.duration.slow_path.is_some()), "one p99 cliff");
        assert!(fleet.iter().any(|f| f.oom_share(f.memory) > 1e-4), "one near its OOM floor");
        let names: std::collections::BTreeSet<_> = fleet.iter().map(|f| f.name.clone()).collect();
        assert_eq!(names.len(), 12);
    }

    #[test]
    fn scaling_keeps_the_first_functions_and_is_deterministic() {
        let small = demo_fleet(30, 5);
        let big = demo_fleet(100, 5);
        assert_eq!(small, big[..30].to_vec(), "adding functions does not change the others");
        assert_eq!(big[14].name, "image-resize-001");
        assert_ne!(demo_fleet(100, 6)[14], big[14], "the seed jitters copies");
    }
}
