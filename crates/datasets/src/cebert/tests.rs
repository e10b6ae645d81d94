use super::*;

// A small table in the published layout, with made-up numbers (columns deliberately
// reordered, an N/A row and a blank line inside a section).
const WARM: &str = "# Synthetic Workload Starts

## rust

### Performance Comparison

| Memory (MB) | x86 Duration (ms) | x86 Init (ms) | ARM64 Duration (ms) | ARM64 Init (ms) | Perf Improvement | x86 P99 (ms) | ARM64 P99 (ms) |
|---:|---:|---:|---:|---:|---:|---:|---:|
| 128 | 1000.50 | 0.00 | 900.25 | 0.00 | +10.0% | 1200.00 | 1100.00 |
| 256 | N/A | N/A | 450.00 | 0.00 | N/A | N/A | 520.00 |

### Cost Analysis (Region: us-east-2)

| Memory (MB) | ARM64 Cost/1M | x86 Cost/1M | Cost Savings | Winner |
|---:|---:|---:|---:|:---:|
| 128 | $ 1.6000 | $ 2.2000 | +27.0% | ARM64 |
| 256 | $ 1.6500 | N/A | N/A | ARM64 |
";

const COLD: &str = "## rust

### Performance Comparison

| Memory (MB) | ARM64 Duration (ms) | ARM64 Init (ms) | x86 Duration (ms) | x86 Init (ms) | Perf Improvement | ARM64 P99 (ms) | x86 P99 (ms) |
|---:|---:|---:|---:|---:|---:|---:|---:|
| 128 | 950.00 | 20.00 | 1050.00 | 25.00 | +9% | 1300.00 | 1400.00 |

### rust - Init Duration (Cold Starts)

| Memory (MB) | ARM64 Init (ms) | x86 Init (ms) | Improvement | ARM64 P99 (ms) | x86 P99 (ms) |
|---:|---:|---:|---:|---:|---:|
| 128 | 20.50 | 25.50 | +20% | 31.00 | 40.00 |
";

fn dir_with(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("autopilot-cebert-{}-{}", std::process::id(), files.len()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir
}

#[test]
fn warm_and_cold_tables_merge_into_one_curve_per_runtime_arch_workload() {
    let dir = dir_with(&[("synthetic-warm.md", WARM), ("synthetic-cold.md", COLD), ("README.md", "# not a table")]);
    let curves = load_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(curves.len(), 2);
    let arm = curves.iter().find(|c| c.architecture == Architecture::Arm64).unwrap();
    let x86 = curves.iter().find(|c| c.architecture == Architecture::X86_64).unwrap();
    assert_eq!((arm.runtime.as_str(), arm.workload.as_str()), ("rust", "synthetic"));
    let p = arm.point(128).unwrap();
    assert_eq!(p.warm_mean_ms, Some(900.25));
    assert_eq!(p.warm_p99_ms, Some(1100.0));
    assert_eq!(p.cold_mean_ms, Some(950.0));
    assert_eq!(p.cold_p99_ms, Some(1300.0));
    assert_eq!((p.init_mean_ms, p.init_p99_ms), (Some(20.5), Some(31.0)), "the init table wins over the perf column");
    assert_eq!(p.warm_cost_per_million, Some(1.6));
    assert_eq!(arm.warm(), vec![(128, 900.25, Some(1100.0)), (256, 450.0, Some(520.0))]);
    assert_eq!(x86.points.len(), 1, "x86 256 MB is all N/A: not a point");
    assert_eq!(x86.point(128).unwrap().warm_mean_ms, Some(1000.5));
    assert_eq!(x86.point(128).unwrap().init_p99_ms, Some(40.0));
}

#[test]
fn malformed_tables_name_file_and_line() {
    let bad_cell = WARM.replace("1000.50", "fast");
    let e = parse(Path::new("w-warm.md"), &bad_cell, "w", Start::Warm).unwrap_err();
    assert_eq!(e.line, Some(9));
    assert!(e.to_string().starts_with("w-warm.md:9:") && e.to_string().contains("x86 Duration"), "{e}");
    let short_row = WARM.replace("| 256 | N/A | N/A | 450.00", "| 256 | N/A | 450.00");
    let e = parse(Path::new("w-warm.md"), &short_row, "w", Start::Warm).unwrap_err();
    assert!(e.to_string().contains("cells"), "{e}");
    let no_runtime = WARM.replace("## rust", "");
    assert!(parse(Path::new("w-warm.md"), &no_runtime, "w", Start::Warm).unwrap_err().to_string().contains("runtime"));
    assert!(load_dir(std::env::temp_dir().join("no-such-cebert-dir")).is_err());
}

/// The published November 2025 tables, when ../shared/data is present.
#[test]
fn real_tables_when_present() {
    let dir = autopilot_testkit::workspace_root()
        .join(crate::data_dir::DEFAULT_DATA_DIR)
        .join("lambda-benchmarks/cebert-november-2025");
    if !dir.is_dir() {
        eprintln!("SKIPPED real_tables_when_present: {} is absent", dir.display());
        return;
    }
    let curves = load_dir(&dir).unwrap();
    assert_eq!(curves.len(), 42, "7 runtimes × 2 architectures × 3 workloads");
    let get = |rt: &str, arch, wl: &str| {
        curves.iter().find(|c| c.runtime == rt && c.architecture == arch && c.workload == wl).unwrap()
    };
    let node_x86 = get("nodejs22", Architecture::X86_64, "cpu-intensive");
    let p128 = node_x86.point(128).unwrap();
    assert_eq!(p128.warm_mean_ms, Some(21_604.85));
    assert_eq!(p128.warm_cost_per_million, Some(45.2119));
    assert_eq!(p128.cold_mean_ms, Some(21_908.42));
    assert_eq!((p128.init_mean_ms, p128.init_p99_ms), (Some(147.26), Some(171.74)));
    assert_eq!(node_x86.point(1024).unwrap().warm_mean_ms, Some(2_716.51));
    let node_arm = get("nodejs22", Architecture::Arm64, "cpu-intensive");
    assert_eq!(node_arm.point(128).unwrap().warm_cost_per_million, Some(32.47));
    assert_eq!(get("nodejs22", Architecture::Arm64, "memory-intensive").points.len(), 9, "128 MB to 10,240 MB");
    // light nodejs22 x86 is N/A at every size in the warm table, but its cold table has data.
    assert!(get("nodejs22", Architecture::X86_64, "light").points.iter().all(|p| p.warm_mean_ms.is_none()));
}
