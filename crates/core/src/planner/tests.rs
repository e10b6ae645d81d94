//! Planner behaviour on forecasts whose answer is known from the economics.

use super::*;
use crate::decision::ConcurrencyPlan;
use crate::forecast::{Quantiles, SlotForecast};

const NOW: Minute = Minute(29_000_000);

fn forecast(per_minute: &[f64]) -> Forecast {
    Forecast {
        origin: NOW,
        slot_minutes: 5,
        model: ModelKind::Weekly,
        history_minutes: 28 * 1440,
        mean_duration_ms: Some(200.0),
        slots: per_minute
            .iter()
            .enumerate()
            .map(|(i, &r)| SlotForecast {
                start: NOW.plus(5 * i as i64),
                // A forecast with ±20% spread around the given rate.
                invocations_per_minute: Quantiles([0.8 * r, 0.9 * r, r, 1.1 * r, 1.2 * r, 1.4 * r]),
                mean_per_minute: r,
            })
            .collect(),
        recent_environments: Vec::new(),
    }
}

fn profile() -> FunctionProfile {
    FunctionProfile {
        architecture: Architecture::X86_64,
        memory: MemoryMb::new(512).unwrap(),
        mean_duration_ms: None,
        init_ms: 300.0,
        idle_evidence: None,
    }
}

fn run(rates: &[f64], current_pc: u32, policy: &ConcurrencyPolicy) -> ConcurrencyPlan {
    let f = FunctionRef::parse("orders:live").unwrap();
    plan(
        &f,
        NOW,
        &forecast(rates),
        &profile(),
        &PlannerState { provisioned: current_pc, ..PlannerState::default() },
        policy,
        &CostModel::default(),
    )
}

fn keep_warm() -> ConcurrencyPolicy {
    ConcurrencyPolicy { keep_warm: true, ..ConcurrencyPolicy::default() }
}

#[test]
fn busy_levels_get_pc_that_lowers_the_bill() {
    // 50 req/s × 200 ms: mean concurrency 10.
    let plan = run(&[3000.0; 12], 0, &ConcurrencyPolicy::default());
    for s in &plan.slots {
        assert!((6..=12).contains(&s.provisioned), "PC on the levels busy above 60%: {}", s.provisioned);
        assert_eq!(s.keep_warm, 0, "keep-warm is opt-in");
    }
    let ConcurrencyReason::BusyAboveBreakEven { utilisation, break_even } = plan.slots[5].reason else {
        panic!("{:?}", plan.slots[5].reason)
    };
    assert!(utilisation > break_even && (break_even - 0.6).abs() < 0.001);
    assert!(plan.expected_cost_usd < plan.baseline_cost_usd, "PC on busy levels is cheaper than on-demand");
}

#[test]
fn sparse_traffic_gets_no_pc_but_keep_warm_when_allowed() {
    // One call every 10 minutes: with reclaim at 5 minutes most calls are cold.
    let off = run(&[0.1; 12], 0, &ConcurrencyPolicy::default());
    assert!(off.slots.iter().all(|s| s.provisioned == 0 && s.keep_warm == 0));
    assert!(matches!(off.slots[0].reason, ConcurrencyReason::ColdStartsCheaper { .. }));
    let on = run(&[0.1; 12], 0, &keep_warm());
    for s in &on.slots {
        assert_eq!((s.provisioned, s.keep_warm), (0, 1), "one warm environment");
        assert!(matches!(s.keep_warm_reason, Some(ConcurrencyReason::KeepWarmCheaper { .. })));
    }
    assert!(on.expected_cold_starts < 0.1 * on.baseline_cold_starts);
}

#[test]
fn idle_functions_scale_to_zero() {
    let plan = run(&[0.0; 12], 5, &keep_warm());
    for s in &plan.slots {
        assert_eq!((s.provisioned, s.keep_warm), (0, 0));
        assert_eq!(s.reason, ConcurrencyReason::Idle);
    }
}

#[test]
fn pc_is_held_through_a_short_dip_instead_of_exposing_reclaimed_levels() {
    // Busy, a 5-minute dip to 60% of the traffic, busy again: alone, the dip slot would
    // take less PC; lowering would expose levels that the traffic meets again at once.
    let mut rates = vec![3000.0; 12];
    rates[4] = 1800.0;
    let plan = run(&rates, 9, &ConcurrencyPolicy::default());
    let before = plan.slots[3].provisioned;
    assert!(before >= 6);
    assert_eq!(plan.slots[4].provisioned, before, "{:?}", plan.slots[4]);
    assert_eq!(plan.slots[4].reason, ConcurrencyReason::Hysteresis);
    let alone = run(&[1800.0; 12], 0, &ConcurrencyPolicy::default());
    assert!(alone.slots[4].provisioned < before, "the dip alone needs less PC");
    // A long drop is followed down.
    let mut long = vec![3000.0; 12];
    long[2..].iter_mut().for_each(|r| *r = 60.0);
    let plan = run(&long, 9, &ConcurrencyPolicy::default());
    assert!(plan.slots[11].provisioned <= 1, "{:?}", plan.slots[11]);
}

#[test]
fn cost_neutral_policy_never_expects_to_spend_more() {
    let policy = ConcurrencyPolicy { max_extra_cost_pct: Some(0.0), ..keep_warm() };
    for rates in [[0.1; 12], [60.0; 12], [3000.0; 12]] {
        let plan = run(&rates, 0, &policy);
        assert!(plan.expected_cost_usd <= plan.baseline_cost_usd * (1.0 + 1e-9), "{rates:?}: {plan:?}");
    }
    let capped = run(&[0.01; 12], 0, &policy);
    assert!(matches!(capped.slots[0].keep_warm_reason, Some(ConcurrencyReason::Capped { .. })));
}

#[test]
fn a_cap_does_not_spend_savings_that_only_a_burst_would_bring() {
    // On/off traffic: the forecast's lowest scenario idle, the others a burst of 100 req/s
    // (concurrency 20). PC on the burst's levels saves money in expectation, and the price of
    // latency buys it; but when the burst does not come that PC idles, and a cap must hold
    // then too: the PC bought may cost no more than the cap even with no call at all.
    let mut f = forecast(&[0.0; 12]);
    for s in &mut f.slots {
        s.invocations_per_minute = Quantiles([0.0, 6000.0, 6000.0, 6000.0, 7000.0, 9000.0]);
        s.mean_per_minute = s.invocations_per_minute.scenario_mean();
    }
    let function = FunctionRef::parse("bursty:live").unwrap();
    let cost = CostModel::default();
    let go = |policy: &ConcurrencyPolicy| plan(&function, NOW, &f, &profile(), &PlannerState::default(), policy, &cost);
    let uncapped = go(&ConcurrencyPolicy::default());
    assert!(uncapped.slots.iter().all(|s| s.provisioned >= 10), "{uncapped:?}");
    let capped = go(&ConcurrencyPolicy { max_extra_cost_pct: Some(5.0), ..ConcurrencyPolicy::default() });
    let prices = UnitPrices::new(&cost, Architecture::X86_64, profile().memory, 200.0, 300.0, &capped_policy());
    let idle_pc: f64 = capped.slots.iter().map(|s| f64::from(s.provisioned) * prices.pc_level).sum();
    assert!(idle_pc <= 0.05 * capped.baseline_cost_usd, "{idle_pc} for {capped:?}");
}

#[test]
fn while_the_money_spent_is_over_the_cap_only_what_pays_for_itself_is_planned() {
    let function = FunctionRef::parse("orders:live").unwrap();
    let cost = CostModel::default();
    let go = |rates: &[f64], overspent: bool, policy: &ConcurrencyPolicy| {
        let state = PlannerState { overspent, ..PlannerState::default() };
        plan(&function, NOW, &forecast(rates), &profile(), &state, policy, &cost)
    };
    let capped = ConcurrencyPolicy { keep_warm: true, ..capped_policy() };
    // 5 calls a minute: within the cap, rounds keep three environments warm for a little more
    // money than the cold starts they save; once the ledger shows the money spent over the
    // cap, no round goes out.
    let within = go(&[5.0; 12], false, &capped);
    assert!(within.slots.iter().all(|s| s.keep_warm >= 2) && within.expected_cost_usd > within.baseline_cost_usd);
    let over = go(&[5.0; 12], true, &capped);
    assert!(over.slots.iter().all(|s| (s.provisioned, s.keep_warm) == (0, 0)), "{over:?}");
    assert!(matches!(over.slots[0].keep_warm_reason, Some(ConcurrencyReason::Capped { .. })));
    assert!(over.expected_cost_usd <= over.baseline_cost_usd);
    // What lowers the bill stays: one environment kept warm for a call every 5 minutes (its
    // INIT saved pays for the rounds), PC on levels busy above break-even.
    let sparse = go(&[0.2; 12], true, &capped);
    assert!(sparse.slots.iter().all(|s| s.keep_warm == 1) && sparse.expected_cost_usd < sparse.baseline_cost_usd);
    let busy = go(&[3000.0; 12], true, &capped);
    assert!(busy.slots.iter().all(|s| s.provisioned >= 6) && busy.expected_cost_usd < busy.baseline_cost_usd);
    // Without a cap there is nothing to be over.
    assert_eq!(go(&[5.0; 12], true, &keep_warm()), go(&[5.0; 12], false, &keep_warm()));
}

fn capped_policy() -> ConcurrencyPolicy {
    ConcurrencyPolicy { max_extra_cost_pct: Some(5.0), ..ConcurrencyPolicy::default() }
}

#[test]
fn limits_of_the_policy_hold() {
    let policy = ConcurrencyPolicy { max_provisioned: Some(3), ..ConcurrencyPolicy::default() };
    assert!(run(&[3000.0; 12], 0, &policy).slots.iter().all(|s| s.provisioned <= 3));
    let off = ConcurrencyPolicy { enabled: false, ..keep_warm() };
    let plan = run(&[3000.0; 12], 0, &off);
    assert!(plan.slots.iter().all(|s| s.provisioned == 0));
}

#[test]
fn pc_is_requested_a_lead_time_before_the_slot_that_needs_it() {
    let mut rates = vec![0.0; 12];
    rates[1..].iter_mut().for_each(|r| *r = 3000.0);
    let plan = run(&rates, 0, &ConcurrencyPolicy::default());
    assert_eq!(plan.slots[0].provisioned, 0);
    let needed = plan.slots[1].provisioned;
    assert!(needed > 0);
    assert_eq!(plan.provisioned_to_request(NOW, 5, 2), needed, "slot 1 starts within slot + lead");
    assert_eq!(plan.provisioned_to_request(NOW.plus(-10), 5, 2), 0);
}

#[test]
fn no_history_plans_nothing_and_says_why() {
    let mut f = forecast(&[0.0; 12]);
    f.model = ModelKind::NoHistory;
    f.history_minutes = 0;
    let function = FunctionRef::parse("orders:live").unwrap();
    let plan = plan(&function, NOW, &f, &profile(), &PlannerState::default(), &keep_warm(), &CostModel::default());
    assert!(plan.slots.iter().all(|s| s.provisioned == 0 && s.keep_warm == 0));
    assert_eq!(plan.slots[0].reason, ConcurrencyReason::InsufficientHistory { minutes: 0 });
}

#[test]
fn the_history_of_idle_calls_decides_keep_warm_for_timers() {
    // A timer every 15 minutes under a cost-neutral budget (+5%): whether warming it pays
    // depends on whether its calls really land cold, which only its history can say.
    let policy = ConcurrencyPolicy { keep_warm: true, max_extra_cost_pct: Some(5.0), ..ConcurrencyPolicy::default() };
    let f = FunctionRef::parse("cron:live").unwrap();
    let mut timer = forecast(&[1.0 / 15.0; 12]);
    for s in &mut timer.slots {
        s.invocations_per_minute = Quantiles([0.0, 0.0, 0.0, 0.2, 0.2, 0.2]);
    }
    let with = |evidence| {
        let profile = FunctionProfile { idle_evidence: Some(evidence), ..profile() };
        plan(&f, NOW, &timer, &profile, &PlannerState::default(), &policy, &CostModel::default())
    };
    // Forty returns after 15 idle minutes, all cold / all warm (the environments live longer).
    let history = |cold: bool| {
        let mut e = evidence::IdleEvidence { calls: 41, active_minutes: 41, ..Default::default() };
        e.gaps[13] = 40;
        if cold {
            e.reclaimed[13] = 40;
        } else {
            e.survived[13] = 40;
        }
        e.after_idle = 40;
        e.cold = if cold { 40 } else { 0 };
        e
    };
    let always_cold = with(history(true));
    assert!(always_cold.slots.iter().all(|s| s.keep_warm == 1), "{always_cold:?}");
    assert!(always_cold.expected_cost_usd <= always_cold.baseline_cost_usd * 1.05);
    let never_cold = with(history(false));
    assert!(never_cold.slots.iter().all(|s| s.keep_warm == 0), "{never_cold:?}");
}

#[test]
fn starting_keep_warm_pays_the_round_that_lands_cold_and_going_on_does_not() {
    // One call every 500 minutes: a warm-up every 4 minutes costs less than the chance of a
    // cold call is worth (at the default price of a cold start), but the first round finds
    // the environment gone and pays its INIT.
    let f = FunctionRef::parse("rare:live").unwrap();
    let with = |slots: usize, warm_top: u32| {
        let state = PlannerState { provisioned: 0, warm_top, ..PlannerState::default() };
        plan(&f, NOW, &forecast(&vec![0.002; slots]), &profile(), &state, &keep_warm(), &CostModel::default())
    };
    // One slot ahead: not worth starting for, worth going on with.
    assert_eq!(with(1, 0).slots[0].keep_warm, 0, "{:?}", with(1, 0));
    assert_eq!(with(1, 1).slots[0].keep_warm, 1);
    // An hour ahead: the landing-cold round is paid once for twelve slots, and the plan starts.
    assert!(with(12, 0).slots.iter().all(|s| s.keep_warm == 1), "{:?}", with(12, 0));
}

#[test]
fn a_plan_is_the_same_whatever_the_thread_planned_before() {
    // Each thread keeps its plans' buffers: a plan made after a longer, busier one (and with
    // a budget, which searches many times) must equal one made on a fresh thread.
    let cases = || {
        let capped = ConcurrencyPolicy { max_extra_cost_pct: Some(5.0), ..keep_warm() };
        [(vec![0.5, 3.0, 0.0, 20.0], keep_warm()), (vec![3000.0, 600.0, 40.0], capped)]
    };
    let plans = |cases: &[(Vec<f64>, ConcurrencyPolicy)]| cases.iter().map(|(r, p)| run(r, 1, p)).collect::<Vec<_>>();
    let fresh = std::thread::spawn(move || plans(&cases())).join().unwrap();
    let _ = run(&[9000.0; 24], 0, &keep_warm());
    let _ = run(&[0.2; 3], 0, &ConcurrencyPolicy { max_extra_cost_pct: Some(1.0), ..keep_warm() });
    assert_eq!(plans(&cases()), fresh);
}
