//! Our own DynamoDB bill, measured. A day of the demo fleet's traffic, as the simulator's
//! extension writes it, is loaded into the emulator's stats table; then the handlers run over
//! the AWS adapters: a memory run, a first concurrency run (every forecaster fitted) and the
//! common one 4 minutes later. Every call's request units are counted on the client
//! ([`autopilot_aws::capacity`]) and priced at us-east-1 on-demand list prices, per month at
//! the default cadences, next to the extension's own writes and the fleet's Lambda bill.
//!
//! `cargo test -p autopilot-lambda --test emulator_bill -- --nocapture` prints the table.

mod emulator;

use std::collections::BTreeMap;

use autopilot_aws::capacity::{DYNAMODB_READ_HALF_UNITS, DYNAMODB_WRITE_UNITS, item_size, write_units};
use autopilot_core::observe::MinuteStats;
use autopilot_core::policy::{Mode, Policy};
use autopilot_core::ports::StatsStore;
use autopilot_core::{FunctionRef, Minute};
use autopilot_runner::contract::{CONCURRENCY_WINDOW_MINUTES, RunKind};
use autopilot_sim::fleet::demo_fleet;
use autopilot_sim::ports::SimControl;
use autopilot_sim::{DoNothing, SimConfig, Simulation, block_on};
use emulator::{Env, create_function, stats_attributes};

/// DynamoDB on-demand, us-east-1 list prices (DESIGN.md, "Our own bill").
const USD_PER_WRITE_UNIT: f64 = 0.625 / 1e6;
const USD_PER_READ_UNIT: f64 = 0.125 / 1e6;
/// A 30-day month at the default cadences: concurrency every 4 minutes, memory daily.
const CONCURRENCY_RUNS_PER_MONTH: f64 = 30.0 * 24.0 * 15.0;
const MEMORY_RUNS_PER_MONTH: f64 = 30.0;
const FLEET: usize = 13;

/// Units of a step's calls: (read units, write units).
fn units(calls: &BTreeMap<String, u64>) -> (f64, f64) {
    let reads = calls.get(DYNAMODB_READ_HALF_UNITS).copied().unwrap_or(0) as f64 / 2.0;
    let writes = calls.get(DYNAMODB_WRITE_UNITS).copied().unwrap_or(0) as f64;
    (reads, writes)
}

fn usd((reads, writes): (f64, f64)) -> f64 {
    reads * USD_PER_READ_UNIT + writes * USD_PER_WRITE_UNIT
}

/// A function of the demo fleet: its name, memory (MB) and a day of stats items.
type FunctionDay = (String, u32, Vec<MinuteStats>);

/// The demo fleet's last day of stats from the simulator, and its Lambda bill for the day.
fn a_day_of_the_demo_fleet() -> (Vec<FunctionDay>, f64, Minute) {
    let config = SimConfig {
        minutes: Minute::PER_DAY as u64,
        stats_retention_minutes: Minute::PER_DAY as usize,
        ..SimConfig::default()
    };
    let mut sim = Simulation::new(config, demo_fleet(FLEET, 1), DoNothing);
    // minute by minute (run_all drops each group's per-minute stats when it is done)
    for _ in 0..Minute::PER_DAY {
        sim.step_minute();
    }
    let now = sim.world.now();
    let from = now.plus(-Minute::PER_DAY);
    let specs: Vec<(String, u32)> =
        sim.world.functions.iter().map(|f| (f.name().to_owned(), f.serving_memory().get())).collect();
    let stats = {
        let control = SimControl::new(&mut sim.world);
        specs
            .into_iter()
            .map(|(name, memory)| {
                let f = FunctionRef::new(&name, None).unwrap();
                let items = block_on(control.read_minutes(&f, from, now)).unwrap();
                (name, memory, items)
            })
            .collect()
    };
    let bill = sim.finish().total.cost_usd;
    (stats, bill, now)
}

#[tokio::test]
async fn a_day_of_the_demo_fleet_prices_our_own_dynamodb_bill() {
    let (fleet, lambda_bill_per_day, now) = a_day_of_the_demo_fleet();
    let env = Env::new().await;
    let mut items = Vec::new();
    let (mut extension_units, mut item_bytes) = (0.0, Vec::new());
    for (name, memory, minutes) in &fleet {
        let f =
            create_function(&env.clients, name, i32::try_from(*memory).unwrap(), &[(&env.opt_in_tag, "true")], None)
                .await;
        let latest = f.with_qualifier(Some("$LATEST")).unwrap();
        for mut item in minutes.clone() {
            item.function = latest.clone();
            let size = item_size(&stats_attributes(&item));
            // Each environment that served in the minute flushes its own part into the item,
            // and a write is billed on the larger of the item before and after it.
            extension_units += (item.counters.environments.max(1) * write_units(size)) as f64;
            item_bytes.push(size);
            items.push(item);
        }
    }
    env.load_stats(&items).await;
    item_bytes.sort_unstable();

    let policy = Policy { mode: Mode::Autopilot, ..Policy::default() };
    let (memory, _, n) = env.run_steps(RunKind::Memory, policy.clone(), "bill-memory", now, None).await;
    assert_eq!(n, FLEET);
    let (first, _, _) = env.run_steps(RunKind::Concurrency, policy.clone(), "bill-first", now, None).await;
    let (next, _, _) = env.run_steps(RunKind::Concurrency, policy, "bill-next", now.plus(4), None).await;

    let per_function = |steps: &BTreeMap<&'static str, BTreeMap<String, u64>>| {
        let mut total = (0.0, 0.0);
        eprintln!("  {:<18} {:>10} {:>10}", "step", "read units", "write units");
        for (step, calls) in steps {
            let (r, w) = units(calls);
            eprintln!("  {step:<18} {:>10.2} {:>10.2}", r / FLEET as f64, w / FLEET as f64);
            total = (total.0 + r / FLEET as f64, total.1 + w / FLEET as f64);
        }
        eprintln!("  {:<18} {:>10.2} {:>10.2}", "total", total.0, total.1);
        total
    };
    eprintln!(
        "\n{FLEET} functions, {} stats items in the day's window ({CONCURRENCY_WINDOW_MINUTES} min); item size \
         median {} B, p90 {} B, max {} B",
        items.len(),
        item_bytes[item_bytes.len() / 2],
        item_bytes[item_bytes.len() * 9 / 10],
        item_bytes[item_bytes.len() - 1]
    );
    eprintln!("memory run, per function:");
    let m = per_function(&memory);
    eprintln!("first concurrency run, per function:");
    let f = per_function(&first);
    eprintln!("concurrency run, per function:");
    let c = per_function(&next);
    let month = |u: (f64, f64), runs: f64| (u.0 * runs, u.1 * runs);
    let concurrency_month = usd(month(c, CONCURRENCY_RUNS_PER_MONTH));
    let memory_month = usd(month(m, MEMORY_RUNS_PER_MONTH));
    let extension_month = usd((0.0, extension_units / FLEET as f64 * 30.0));
    let ours = concurrency_month + memory_month + extension_month;
    let lambda_month = lambda_bill_per_day / FLEET as f64 * 30.0;
    eprintln!("per function per month (USD, 30 days):");
    eprintln!("  concurrency runs every 4 min   {concurrency_month:>9.4}");
    eprintln!("  memory runs daily              {memory_month:>9.4}");
    eprintln!("  extension writes               {extension_month:>9.4}");
    eprintln!("  our DynamoDB bill              {ours:>9.4}");
    eprintln!("  the fleet's Lambda bill        {lambda_month:>9.4}  ({:.2}% of it)", ours / lambda_month * 100.0);

    // A first run also writes every function's history and model; later ones read the model.
    assert!(f.1 > c.1, "the first run writes the kept forecasters: {f:?} vs {c:?}");
    // An optimizer must cost far less than it saves (about a fifth of this fleet's bill): the
    // DynamoDB part of our bill stays under 2% of the bill of the functions it watches.
    assert!(ours < 0.02 * lambda_month, "our DynamoDB bill {ours:.4} against the fleet's {lambda_month:.4}");
}
