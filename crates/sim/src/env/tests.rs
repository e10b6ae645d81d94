use autopilot_core::cost::PC_BILLING_STEP_MS;

use super::*;

fn pool(keep_alive_ms: f64) -> EnvironmentPool {
    EnvironmentPool::new(
        MemoryMb::new(512).unwrap(),
        PoolConfig { keep_alive_ms, pc_allocation_delay_ms: 120_000.0, concurrency_limit: None },
    )
}

#[test]
fn cold_then_warm_then_reaped_after_the_keep_alive() {
    let mut p = pool(600_000.0);
    assert_eq!(p.invoke(0.0, 100.0, 300.0, false), Placement::Cold);
    assert_eq!(p.invoke(1_000.0, 100.0, 300.0, false), Placement::Warm);
    // Idle since 1,100 ms: still there at 601,099, gone at 601,100.
    assert_eq!(p.invoke(601_099.0, 100.0, 300.0, false), Placement::Warm);
    assert_eq!(p.invoke(601_199.0 + 600_000.0, 100.0, 300.0, false), Placement::Cold);
    assert_eq!(p.counts().reaped, 1);
}

#[test]
fn overlapping_invocations_need_distinct_environments_and_the_most_recent_is_reused() {
    let mut p = pool(300_000.0);
    for _ in 0..3 {
        assert_eq!(p.invoke(0.0, 1_000.0, 0.0, false), Placement::Cold, "three overlapping calls: three environments");
    }
    // Environments free at 1,000 ms; one more used until 200,000 ms.
    assert_eq!(p.invoke(100_000.0, 100_000.0, 0.0, false), Placement::Warm);
    // At 350,000 the two left idle since 1,000 ms are reaped; the MRU one (idle since 200,000) serves.
    assert_eq!(p.invoke(350_000.0, 10.0, 0.0, false), Placement::Warm);
    assert_eq!(p.idle(), 0);
    assert_eq!(p.counts().reaped, 2);
}

#[test]
fn provisioned_concurrency_is_ready_after_the_delay_and_serves_first() {
    let mut p = pool(600_000.0);
    p.set_provisioned(0.0, 2);
    assert_eq!(p.provisioned_ready(), 0);
    assert_eq!(p.invoke(60_000.0, 10.0, 100.0, false), Placement::Cold, "still allocating");
    assert_eq!(p.invoke(120_000.0, 10.0, 100.0, false), Placement::Provisioned);
    assert_eq!(p.invoke(120_001.0, 10.0, 100.0, false), Placement::Provisioned);
    assert_eq!(p.invoke(120_002.0, 10.0, 100.0, false), Placement::Warm, "spill-over goes on-demand");
    p.set_provisioned(180_000.0, 0);
    // Enabled 0 → 180,000 ms: 3 minutes billed as 5, two environments.
    let u = p.take_pc_usage(200_000.0);
    assert_eq!(u.pc_allocated_mb_ms, 512 * 2 * u128::from(PC_BILLING_STEP_MS));
}

#[test]
fn lowering_pc_cancels_pending_allocations_first() {
    let mut p = pool(600_000.0);
    p.set_provisioned(0.0, 3);
    p.advance(120_000.0);
    p.set_provisioned(130_000.0, 5);
    p.set_provisioned(140_000.0, 4);
    assert_eq!((p.provisioned_ready(), p.provisioned_requested()), (3, 4));
    p.set_provisioned(150_000.0, 1);
    assert_eq!((p.provisioned_ready(), p.provisioned_requested()), (1, 1));
}

#[test]
fn throttles_at_the_concurrency_limit() {
    let mut p = EnvironmentPool::new(
        MemoryMb::new(512).unwrap(),
        PoolConfig { concurrency_limit: Some(2), ..PoolConfig::default() },
    );
    assert_eq!(p.invoke(0.0, 1_000.0, 0.0, false), Placement::Cold);
    assert_eq!(p.invoke(1.0, 1_000.0, 0.0, false), Placement::Cold);
    assert_eq!(p.invoke(2.0, 1_000.0, 0.0, false), Placement::Throttled);
    assert_eq!(p.invoke(1_001.0, 1_000.0, 0.0, false), Placement::Warm);
}

#[test]
fn an_invocation_that_resets_its_environment_makes_the_next_one_cold() {
    let mut p = pool(600_000.0);
    p.invoke(0.0, 10.0, 0.0, true);
    assert_eq!(p.invoke(100.0, 10.0, 0.0, false), Placement::Cold);
    assert_eq!(p.counts().resets, 1);
}

#[test]
fn an_aggregate_span_uses_pc_then_mru_idle_then_cold() {
    let mut p = pool(600_000.0);
    for _ in 0..3 {
        p.invoke(0.0, 10.0, 0.0, false);
    }
    p.set_provisioned(0.0, 2);
    assert_eq!(p.serve_span(120_000.0, 60_000.0, 7, (7, 150_000.0), 0), (2, 3, 2));
    assert_eq!(p.idle(), 5);
    // Reaped 10 minutes after the end of that span, not before.
    p.advance(180_000.0 + 599_999.0);
    assert_eq!(p.idle(), 5);
    p.advance(180_000.0 + 600_000.0);
    assert_eq!(p.idle(), 0);
}

/// The shortcut for a quiet function's next call places every call, and leaves the pool,
/// exactly as the general rules do: random calls (bursts and gaps around the keep-alive, some
/// that reset their environment, PC switched on and off, a concurrency limit) through both.
#[test]
fn reusing_the_environment_just_finished_is_what_the_general_rules_do() {
    let mut state = 7u64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for limit in [None, Some(3)] {
        let config = PoolConfig { keep_alive_ms: 60_000.0, pc_allocation_delay_ms: 5_000.0, concurrency_limit: limit };
        let (mut fast, mut general) = (
            EnvironmentPool::new(MemoryMb::new(512).unwrap(), config),
            EnvironmentPool::new(MemoryMb::new(512).unwrap(), config),
        );
        let mut at = 0.0;
        for i in 0..50_000 {
            let gap = if next() < 0.9 { 2_000.0 * next() } else { 120_000.0 * next() };
            if i % 500 == 499 {
                // Between two calls, as a policy run is: a call may be running, or have ended.
                let (when, level) = (at + gap * next(), (next() * 3.0) as u32);
                fast.set_provisioned(when, level);
                general.set_provisioned(when, level);
            }
            at += gap;
            let (service, resets, init) = (3_000.0 * next(), next() < 0.01, 200.0 * next());
            let got = fast.invoke_with(at, service, resets, || init);
            let want = general.place(at, service, resets, || init);
            assert_eq!(got, want, "call {i} at {at}");
            assert_eq!((fast.counts(), fast.idle(), fast.busy()), (general.counts(), general.idle(), general.busy()));
        }
        assert_eq!(fast.take_pc_usage(at), general.take_pc_usage(at));
        // Most calls reuse a warm environment, the case the shortcut is for.
        assert!(fast.counts().warm > 10_000, "{:?}", fast.counts());
    }
}
