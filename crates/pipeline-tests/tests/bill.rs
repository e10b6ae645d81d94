//! Our own Step Functions bill: state transitions per run, walked from the ASL, priced as
//! Standard and Express workflows at 100 / 1,000 / 10,000 functions. Prints the table.

use autopilot_pipeline_tests::asl::Machine;
use autopilot_pipeline_tests::bill::{
    self, EXPRESS_MAX_DURATION_S, RUNS_PER_MONTH_DAILY, RUNS_PER_MONTH_EVERY_4_MIN, Walk, express_run_usd,
    standard_run_usd,
};
use autopilot_runner::contract::DEFAULT_BATCH_SIZE;

fn load(name: &str) -> Machine {
    Machine::load(&autopilot_pipeline_tests::root().join("statemachines").join(name)).unwrap()
}

fn walks(name: &str) -> (Walk, Walk) {
    let m = load(name);
    let memory = bill::walk(&m, &[("Route", "MemoryBatches")]).unwrap();
    let concurrency = bill::walk(&m, &[("Route", "ConcurrencyBatches")]).unwrap();
    (memory, concurrency)
}

#[test]
fn a_run_enters_a_fixed_number_of_states_plus_a_few_per_batch() {
    let (memory, concurrency) = walks("autopilot-run.asl.json");
    assert_eq!(memory.path, ["Prepare", "Collect", "Route", "MemoryBatches", "Verdict", "Done"]);
    assert_eq!(memory.maps, [("MemoryBatches".to_owned(), 1, false)]);
    assert_eq!(concurrency.maps, [("ConcurrencyBatches".to_owned(), 2, false)]);
    assert_eq!(memory.transitions(4), 6 + 4);
    assert_eq!(concurrency.transitions(4), 6 + 8);
    let (dm, dc) = walks("autopilot-run-distributed.asl.json");
    assert_eq!(dm.parent_transitions(400), 6, "a distributed Map's iterations are child executions");
    assert_eq!(dc.maps[0].1, 2);
}

#[test]
fn express_is_far_cheaper_for_the_frequent_loop_at_every_fleet_size() {
    let (_, concurrency) = walks("autopilot-run.asl.json");
    for n in [100_u64, 1_000, 10_000] {
        let batches = n.div_ceil(DEFAULT_BATCH_SIZE as u64);
        let standard = standard_run_usd(concurrency.transitions(batches));
        // even an Express run that lasts its whole 5 minutes
        assert!(express_run_usd(EXPRESS_MAX_DURATION_S) < standard, "{n} functions");
    }
}

/// Prints the table of the README (the figures in the report come from this output).
#[test]
#[allow(clippy::print_stdout)]
fn print_transitions_per_run_table() {
    let (memory, concurrency) = walks("autopilot-run.asl.json");
    let (dmemory, _) = walks("autopilot-run-distributed.asl.json");
    println!(
        "batch size {DEFAULT_BATCH_SIZE}; Standard $0.025/1k transitions; Express $1/1M + $0.00001667/GB-s at 64 MB"
    );
    println!(
        "concurrency run every 4 min = {RUNS_PER_MONTH_EVERY_4_MIN} runs/month; memory run daily = {RUNS_PER_MONTH_DAILY}"
    );
    println!(
        "| functions | batches | memory run transitions | concurrency run transitions | concurrency Standard $/month | concurrency Express $/month (modelled s / at 300 s) | memory Standard $/month (inline / distributed parent) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in [100_u64, 1_000, 10_000] {
        let b = n.div_ceil(DEFAULT_BATCH_SIZE as u64);
        let (tm, tc) = (memory.transitions(b), concurrency.transitions(b));
        let secs = bill::modelled_concurrency_run_seconds(n, b, 8);
        println!(
            "| {n} | {b} | {tm} | {tc} | {:.2} | {:.2} ({secs:.0} s) / {:.2} | {:.3} / {:.4} |",
            standard_run_usd(tc) * RUNS_PER_MONTH_EVERY_4_MIN,
            express_run_usd(secs) * RUNS_PER_MONTH_EVERY_4_MIN,
            express_run_usd(EXPRESS_MAX_DURATION_S) * RUNS_PER_MONTH_EVERY_4_MIN,
            standard_run_usd(tm) * RUNS_PER_MONTH_DAILY,
            (standard_run_usd(dmemory.parent_transitions(b)) + b as f64 * express_run_usd(30.0)) * RUNS_PER_MONTH_DAILY,
        );
    }
    assert_eq!(memory.transitions(4), 10);
}
