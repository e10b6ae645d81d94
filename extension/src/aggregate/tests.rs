use std::collections::BTreeMap;

use autopilot_core::histogram::RELATIVE_ACCURACY;
use autopilot_core::stats_item;
use proptest::prelude::*;

use super::*;
use crate::telemetry::parse_record;

const T0: i64 = 1_700_000_040_000; // a minute boundary

fn function() -> FunctionRef {
    FunctionRef::parse("orders:7").unwrap()
}

fn mb(n: u64) -> MemoryMb {
    MemoryMb::new(n).unwrap()
}

fn report_at(time_ms: i64, duration_ms: f64, billed: u64, extra: &str) -> Record {
    let json = format!(
        r#"{{"time":"{time_ms}","type":"platform.report","record":{{"requestId":"r","status":"success",
        "metrics":{{"durationMs":{duration_ms},"billedDurationMs":{billed},"memorySizeMB":512,"maxMemoryUsedMB":70{extra}}}}}}}"#
    );
    parse_record(json.as_bytes()).unwrap()
}

fn init_report(time_ms: i64, kind: &str, duration_ms: f64) -> Record {
    let json = format!(
        r#"{{"time":"{time_ms}","type":"platform.initReport","record":{{"initializationType":"{kind}","phase":"init","status":"success","metrics":{{"durationMs":{duration_ms}}}}}}}"#
    );
    parse_record(json.as_bytes()).unwrap()
}

/// Counters per (minute, memory), with histogram sums rounded to the 3 decimals DynamoDB
/// stores: floating-point sums depend on addition order in the last bits.
fn by_minute(items: &[MinuteStats]) -> BTreeMap<(i64, u32), Counters> {
    let mut out = by_minute_exact(items);
    for c in out.values_mut() {
        for h in [&mut c.duration, &mut c.init, &mut c.memory_used] {
            let rounded = (h.sum() * 1_000.0).round() / 1_000.0;
            *h = autopilot_core::histogram::Histogram::from_parts(h.buckets().collect::<Vec<_>>(), rounded).unwrap();
        }
    }
    out
}

fn by_minute_exact(items: &[MinuteStats]) -> BTreeMap<(i64, u32), Counters> {
    let mut out: BTreeMap<(i64, u32), Counters> = BTreeMap::new();
    for i in items {
        out.entry((i.minute.0, i.memory.get())).or_default().merge(&i.counters);
    }
    out
}

#[test]
fn an_on_demand_cold_start_counts_once_in_the_minute_of_the_first_invocation() {
    let mut a = Aggregator::new(Some(mb(512)));
    a.apply(&init_report(T0 + 59_000, "on-demand", 250.0), 0);
    a.apply(&report_at(T0 + 60_100, 20.0, 20, r#","initDurationMs":251.5"#), 0);
    a.apply(&report_at(T0 + 61_000, 10.0, 10, r#","initDurationMs":999"#), 0);
    let m = by_minute(&a.take(&function()));
    let (m0, m1) = (Minute::from_epoch_ms(T0).0, Minute::from_epoch_ms(T0).0 + 1);
    let first = &m[&(m1, 512)];
    assert_eq!((first.invocations, first.cold_starts, first.restores, first.environments), (2, 1, 0, 1));
    assert_eq!(first.init.count(), 1);
    assert!((first.init.sum() - 251.5).abs() < 1e-9, "the report's initDurationMs is the one billed");
    // 20 + 251.5 ms (272 whole ms) ending 100 ms into minute 1: 172 ms of it in minute 0.
    let zero = &m[&(m0, 512)];
    assert_eq!((zero.invocations, zero.cold_starts, zero.environments, zero.busy_ms), (0, 0, 1, 172));
    assert_eq!(first.busy_ms, 100 + 10);
}

#[test]
fn snapstart_counts_the_restore_not_the_snapshot_init() {
    let mut a = Aggregator::new(Some(mb(512)));
    a.apply(&init_report(T0 - 3_600_000, "snap-start", 3_000.0), 0);
    let restore = format!(
        r#"{{"time":"{}","type":"platform.restoreReport","record":{{"status":"success","metrics":{{"durationMs":15.19}}}}}}"#,
        T0 + 1_000
    );
    a.apply(&parse_record(restore.as_bytes()).unwrap(), 0);
    a.apply(&report_at(T0 + 2_000, 100.0, 100, r#","restoreDurationMs":15.19,"billedRestoreDurationMs":75"#), 0);
    let items = a.take(&function());
    assert_eq!(items.len(), 1);
    let c = &items[0].counters;
    assert_eq!((c.invocations, c.cold_starts, c.restores, c.billed_ms, c.billed_init_ms), (1, 0, 1, 100, 75));
}

#[test]
fn provisioned_concurrency_inits_are_not_cold_starts() {
    let mut a = Aggregator::new(Some(mb(512)));
    a.apply(&init_report(T0, "provisioned-concurrency", 800.0), 0);
    a.apply(&report_at(T0 + 120_000, 10.0, 10, ""), 0);
    a.finish();
    let total = a.take(&function()).iter().fold(Counters::default(), |mut t, i| {
        t.merge(&i.counters);
        t
    });
    assert_eq!((total.cold_starts, total.restores, total.init.count()), (0, 0, 0));
}

#[test]
fn an_init_without_an_invocation_counts_at_shutdown_in_its_own_minute() {
    let mut a = Aggregator::new(Some(mb(1024)));
    a.apply(&init_report(T0 + 5_000, "on-demand", 300.0), 0);
    assert!(a.take(&function()).is_empty(), "a pending cold start waits for its invocation");
    a.finish();
    let items = a.take(&function());
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].minute, items[0].memory, items[0].counters.cold_starts),
        (Minute::from_epoch_ms(T0), mb(1024), 1)
    );
    assert_eq!(items[0].counters.environments, 0, "it served no invocation");
}

#[test]
fn a_report_with_only_a_duration_counts_at_the_environments_memory_size() {
    // Lambda Managed Instances: no billed duration, no memory figures.
    let mut a = Aggregator::new(Some(mb(2048)));
    let json = format!(
        r#"{{"time":"{}","type":"platform.report","record":{{"requestId":"m","metrics":{{"durationMs":12.5}},"status":"success"}}}}"#,
        T0 + 1_000
    );
    a.apply(&parse_record(json.as_bytes()).unwrap(), 0);
    let items = a.take(&function());
    assert_eq!(items.len(), 1);
    let c = &items[0].counters;
    assert_eq!((items[0].memory, c.invocations, c.billed_ms, c.duration.count()), (mb(2048), 1, 0, 1));
    assert!(c.memory_used.is_empty(), "no memory figure: nothing recorded, not a 0 MB one");
    assert_eq!(a.intake.malformed, 0);
}

#[test]
fn billed_init_is_split_from_billed_duration_in_both_billing_regimes() {
    // AWS's documented example: billed 694 for 693.92 ms with a 397.68 ms INIT left unbilled.
    let mut a = Aggregator::new(None);
    a.apply(&report_at(T0 + 30_000, 693.92, 694, r#","initDurationMs":397.68"#), 0);
    let c = &a.take(&function())[0].counters;
    assert_eq!((c.billed_ms, c.billed_init_ms, c.cold_starts), (694, 0, 1));
    // Since 2025-08-01 the INIT is billed inside billedDurationMs.
    let mut a = Aggregator::new(None);
    a.apply(&report_at(T0 + 30_000, 693.92, 1092, r#","initDurationMs":397.68"#), 0);
    let c = &a.take(&function())[0].counters;
    assert_eq!((c.billed_ms, c.billed_init_ms), (694, 398));
}

#[test]
fn busy_time_spreads_over_minutes_and_each_minute_counts_the_environment_once() {
    let mut a = Aggregator::new(None);
    a.apply(&report_at(T0 + 60_500, 1_000.0, 1_000, ""), 0);
    a.apply(&report_at(T0 + 60_700, 100.0, 100, ""), 0);
    let m = by_minute(&a.take(&function()));
    let (m0, m1) = (Minute::from_epoch_ms(T0).0, Minute::from_epoch_ms(T0).0 + 1);
    assert_eq!((m[&(m0, 512)].busy_ms, m[&(m1, 512)].busy_ms), (500, 600));
    assert_eq!((m[&(m0, 512)].environments, m[&(m1, 512)].environments), (1, 1));
    assert_eq!((m[&(m0, 512)].invocations, m[&(m1, 512)].invocations), (0, 2));
    // A later flush in the same minute does not count the environment again.
    a.apply(&report_at(T0 + 61_000, 10.0, 10, ""), 0);
    assert_eq!(a.take(&function())[0].counters.environments, 0);
}

#[test]
fn outcomes_come_from_the_report_or_else_from_runtime_done() {
    const T: i64 = T0 + 30_000;
    let mut a = Aggregator::new(None);
    for (status, extra) in [("timeout", ""), ("error", r#","errorType":"Runtime.ExitError""#), ("failure", "")] {
        let json = format!(
            r#"{{"time":"{T}","type":"platform.report","record":{{"status":"{status}"{extra},"metrics":{{"durationMs":1,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":20}}}}}}"#
        );
        a.apply(&parse_record(json.as_bytes()).unwrap(), 0);
    }
    let oom = format!(
        r#"{{"time":"{T}","type":"platform.report","record":{{"metrics":{{"durationMs":1,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":128}}}}}}"#
    );
    a.apply(&parse_record(oom.as_bytes()).unwrap(), 0);
    let done = br#"{"type":"platform.runtimeDone","record":{"requestId":"q","status":"timeout"}}"#;
    a.apply(&parse_record(done).unwrap(), 0);
    let no_status = format!(
        r#"{{"time":"{T}","type":"platform.report","record":{{"requestId":"q","metrics":{{"durationMs":1,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":20}}}}}}"#
    );
    a.apply(&parse_record(no_status.as_bytes()).unwrap(), 0);
    let c = &a.take(&function())[0].counters;
    assert_eq!((c.invocations, c.errors, c.timeouts, c.out_of_memory), (5, 2, 2, 1));
}

#[test]
fn pending_buckets_are_bounded_and_the_overflow_is_counted() {
    let mut a = Aggregator::new(None);
    for i in 0..(MAX_PENDING_BUCKETS as i64 + 20) {
        a.apply(&report_at(T0 + i * 60_000 + 30_000, 1.0, 1, ""), 0);
    }
    assert_eq!(a.pending_buckets(), MAX_PENDING_BUCKETS);
    assert_eq!(a.overflow, Lost { items: 20, invocations: 20 });
}

/// A generated report: minute offset, ms into the minute, duration (ms, fractional).
fn arb_reports() -> impl Strategy<Value = Vec<(i64, i64, f64, bool)>> {
    prop::collection::vec((0i64..4, 0i64..60_000, 0.5f64..5_000.0, any::<bool>()), 1..60)
}

fn apply_all(a: &mut Aggregator, reports: &[(i64, i64, f64, bool)]) {
    for &(minute, ms, duration, cold) in reports {
        let extra = if cold { r#","initDurationMs":120.5"# } else { "" };
        a.apply(&report_at(T0 + minute * 60_000 + ms, duration, duration.ceil() as u64, extra), 0);
    }
}

proptest! {
    /// Flushing at any points writes, summed by ADD, exactly what one flush at the end writes.
    #[test]
    fn flush_points_do_not_change_the_totals(reports in arb_reports(), cuts in prop::collection::vec(0usize..60, 0..6)) {
        let mut once = Aggregator::new(None);
        apply_all(&mut once, &reports);
        let expected = by_minute(&once.take(&function()));
        let mut split = Aggregator::new(None);
        let mut written = Vec::new();
        for (i, r) in reports.iter().enumerate() {
            apply_all(&mut split, std::slice::from_ref(r));
            if cuts.contains(&i) { written.extend(split.take(&function())); }
        }
        written.extend(split.take(&function()));
        prop_assert_eq!(by_minute(&written), expected);
    }

    /// A failed write put back and flushed later loses and duplicates nothing.
    #[test]
    fn restored_items_are_written_once(reports in arb_reports(), fail_at in 0usize..60) {
        let mut clean = Aggregator::new(None);
        apply_all(&mut clean, &reports);
        let expected = by_minute(&clean.take(&function()));
        let mut a = Aggregator::new(None);
        let (before, after) = reports.split_at(fail_at.min(reports.len()));
        apply_all(&mut a, before);
        let failed = a.take(&function());
        apply_all(&mut a, after);
        a.restore(failed);
        prop_assert_eq!(by_minute(&a.take(&function())), expected);
    }

    /// Items from many environments summed in any order and grouping (what concurrent `ADD`s
    /// do) give one result, and `envs` counts each environment once per minute it served.
    #[test]
    fn environments_merge_associatively_and_commutatively(
        envs in prop::collection::vec(arb_reports(), 1..5),
        order_seed in any::<u64>(),
    ) {
        let items: Vec<Vec<MinuteStats>> = envs.iter().map(|r| {
            let mut a = Aggregator::new(None);
            apply_all(&mut a, r);
            a.take(&function())
        }).collect();
        let flat: Vec<MinuteStats> = items.iter().flatten().cloned().collect();
        let forward = by_minute(&flat);
        let mut shuffled = flat.clone();
        let n = shuffled.len();
        for i in 0..n { shuffled.swap(i, (order_seed as usize).wrapping_mul(i + 7) % n); }
        prop_assert_eq!(&by_minute(&shuffled), &forward);
        // Grouped: merge each environment first, then across environments.
        let mut grouped: Vec<MinuteStats> = Vec::new();
        for env in &items {
            for ((m, mem), counters) in by_minute_exact(env) {
                grouped.push(MinuteStats { function: function(), minute: Minute(m), memory: MemoryMb::new(u64::from(mem)).unwrap(), counters });
            }
        }
        prop_assert_eq!(&by_minute(&grouped), &forward);
        for ((minute, _), c) in &forward {
            let serving = envs.iter().filter(|r| r.iter().enumerate().any(|(i, &(m, ms, d, cold))| {
                // Only the environment's first invocation carries its INIT wait.
                let busy = (d + if cold && i == 0 { 120.5 } else { 0.0 }).round() as i64;
                let end = m * 60_000 + ms;
                let start = end - busy;
                let lo = (minute - Minute::from_epoch_ms(T0).0) * 60_000;
                (start < lo + 60_000 && end > lo) || (end >= lo && end < lo + 60_000)
            })).count() as u64;
            prop_assert_eq!(c.environments, serving, "minute {}", minute);
        }
    }

    /// Durations written as items and read back with the core's `from_item` keep their
    /// quantiles within the histogram's stated 2% of the exact ones.
    #[test]
    fn quantiles_survive_the_item_round_trip(durations in prop::collection::vec(0.5f64..60_000.0, 1..300), q in 0.0f64..=1.0) {
        let mut a = Aggregator::new(None);
        for &d in &durations { a.apply(&report_at(T0 + 30_000, d, d.ceil() as u64, ""), 0); }
        let item = a.take(&function()).into_iter().find(|i| i.counters.invocations > 0).unwrap();
        let adds: Vec<(String, String)> = stats_item::increments(&item.counters).into_iter().map(|(n, v)| (n, v.to_dynamo_number())).collect();
        let back = stats_item::from_item("orders:7", &stats_item::sort_key(item.minute, item.memory), adds.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap();
        let mut sorted = durations.clone();
        sorted.sort_by(f64::total_cmp);
        let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
        let got = back.counters.duration.quantile(q).unwrap();
        prop_assert!((got - exact).abs() <= RELATIVE_ACCURACY * exact * (1.0 + 1e-9), "q={} exact={} got={}", q, exact, got);
    }
}
