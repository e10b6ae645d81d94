//! The simulator against published measurements: simulated durations reproduce the cebert
//! curves they are built from (mean and p99), and the built-in init durations agree with
//! maxday's cold-start measurements. Synthetic versions run always; the real-data versions
//! run when ../shared/data is present and say so when it is not.

use autopilot_core::{Architecture, MemoryMb};
use autopilot_datasets::cebert;
use autopilot_datasets::maxday;
use autopilot_sim::fleet::demo_fleet;
use autopilot_sim::model::{DurationModel, FunctionSpec, InitModel, MeasuredCurve, Runtime, Workload};
use autopilot_sim::traffic::{Rate, Traffic};
use autopilot_sim::{DoNothing, FunctionReport, SimConfig, Simulation};

fn data(sub: &str) -> Option<std::path::PathBuf> {
    let p = autopilot_testkit::workspace_root().join("../shared/data").join(sub);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: {} is absent", p.display());
        None
    }
}

/// Simulates one function with a measured curve at `memory` for half a day at 30 calls/min.
fn simulate(curve: &MeasuredCurve, memory: u32, arch: Architecture) -> FunctionReport {
    let mut f: FunctionSpec = demo_fleet(1, 1).remove(0);
    f.name = "measured".into();
    f.architecture = arch;
    f.memory = MemoryMb::new(u64::from(memory)).unwrap();
    f.alias = None;
    f.memory_needed_mb = 64.0;
    f.timeout_ms = 900_000;
    f.duration = DurationModel::new(Workload::Measured(curve.clone()), 1.0);
    f.traffic = Traffic::Poisson(Rate::flat(30.0));
    let cfg = SimConfig { minutes: 720, ..SimConfig::default() };
    Simulation::new(cfg, vec![f], DoNothing).run(&mut |_, _| {}).functions.remove(0)
}

fn check(curve: &MeasuredCurve, memory: u32, mean: f64, p99: f64, arch: Architecture) {
    let r = simulate(curve, memory, arch);
    let p99_sim = r.p99_ms.unwrap();
    let p50_sim = r.p50_ms.unwrap();
    // For a lognormal with the curve's p99/mean, the median sits at mean·exp(−σ²/2).
    let sigma = autopilot_sim::model::duration::sigma_for_p99_over_mean(p99 / mean);
    let p50 = mean * (-sigma * sigma / 2.0).exp();
    assert!((p99_sim / p99 - 1.0).abs() < 0.05, "{} {memory} MB: p99 {p99_sim} vs {p99}", curve.source);
    assert!((p50_sim / p50 - 1.0).abs() < 0.03, "{} {memory} MB: p50 {p50_sim} vs {p50}", curve.source);
}

#[test]
fn simulated_durations_reproduce_a_synthetic_curve() {
    let curve = MeasuredCurve::new("synthetic", &[(128, 2_000.0, Some(2_600.0)), (1024, 260.0, Some(300.0))]).unwrap();
    check(&curve, 128, 2_000.0, 2_600.0, Architecture::X86_64);
    check(&curve, 1024, 260.0, 300.0, Architecture::X86_64);
}

#[test]
fn simulated_durations_reproduce_the_published_cebert_curves() {
    let Some(dir) = data("lambda-benchmarks/cebert-november-2025") else { return };
    let curves = cebert::load_dir(&dir).unwrap();
    let mut checked = 0;
    for (rt, arch, wl, mb) in [
        ("nodejs22", Architecture::X86_64, "cpu-intensive", 128),
        ("nodejs22", Architecture::X86_64, "cpu-intensive", 1024),
        ("python3.13", Architecture::Arm64, "memory-intensive", 2048),
        ("rust", Architecture::Arm64, "cpu-intensive", 512),
    ] {
        let c = curves.iter().find(|c| c.runtime == rt && c.architecture == arch && c.workload == wl).unwrap();
        let p = c.point(mb).unwrap();
        let curve = MeasuredCurve::from_cebert(c).unwrap();
        check(&curve, mb, p.warm_mean_ms.unwrap(), p.warm_p99_ms.unwrap(), arch);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn built_in_init_durations_agree_with_maxday() {
    let Some(path) = data("lambda-benchmarks/maxday-lambda-perf/last.json") else { return };
    let samples = maxday::load(&path).unwrap();
    for rt in Runtime::ALL {
        for arch in Architecture::ALL {
            let fitted = InitModel::from_maxday(&samples, rt, arch).unwrap();
            let built_in = rt.default_init();
            let ratio = fitted.mean_ms / built_in.mean_ms;
            eprintln!(
                "{rt:?} {arch}: maxday mean {:.1} ms (σ {:.2}), built-in {:.1} ms",
                fitted.mean_ms, fitted.sigma, built_in.mean_ms
            );
            assert!(
                (0.8..1.25).contains(&ratio),
                "{rt:?} {arch}: maxday {:.1} ms vs built-in {:.1} ms",
                fitted.mean_ms,
                built_in.mean_ms
            );
        }
    }
}
