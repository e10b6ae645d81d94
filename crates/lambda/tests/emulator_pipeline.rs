//! End to end on the local emulator, the handlers called as the runtime calls them, over the
//! AWS adapters: stats written as the extension writes them → collect → tune-memory (memory
//! run) and collect → forecast → apply-concurrency (concurrency run) → the functions'
//! memory, alias routing and PC on the emulator are what the decisions said; a second
//! identical run writes nothing; an injected regression is rolled back; rollback restores
//! what the change log recorded; recommend mode changes nothing and publishes events.

mod emulator;

use autopilot_core::policy::{ConcurrencyPolicy, Mode, Policy};
use autopilot_core::{FunctionRef, MemoryMb, Minute};
use autopilot_runner::contract::{At, CollectInput, Outcome, RollbackInput, RollbackTarget, RunKind};
use autopilot_runner::fakes::Steady;
use emulator::{Env, create_function, event, lambda_writes};

/// 2026-11-27T03:00Z, the samples' time.
const NOW: Minute = Minute(29_929_140);
/// Look-back of the runs here (two hours of stats keep the test short).
const WINDOW: u32 = 120;

fn policy(mode: Mode) -> Policy {
    Policy { mode, ..Policy::default() }
}

fn collect_input(
    run: RunKind,
    policy: Policy,
    id: &str,
    now: Minute,
    functions: Option<Vec<FunctionRef>>,
) -> CollectInput {
    CollectInput {
        run,
        policy,
        functions,
        execution_id: id.to_owned(),
        now: At(now),
        batch_size: None,
        window_minutes: Some(WINDOW),
    }
}

fn tight(memory: u32) -> Steady {
    Steady { memory_used_mb: 240.0, ..Steady::new(memory, 30, 200.0) }
}

#[tokio::test]
async fn memory_run_applies_once_rolls_back_a_regression_and_restores_on_request() {
    let env = Env::new().await;
    let api = create_function(&env.clients, "e2e-api", 256, &[(&env.opt_in_tag, "true")], None).await;
    let svc = env.function_with_alias("e2e-svc", 256).await;
    let from = NOW.plus(-i64::from(WINDOW));
    let mut items = tight(256).minutes(&api.with_qualifier(Some("$LATEST")).unwrap(), from, i64::from(WINDOW));
    items.extend(tight(256).minutes(&svc.with_qualifier(Some("1")).unwrap(), from, i64::from(WINDOW)));
    env.write_stats(&items).await;

    // collect discovers both by the tag and summarises their window.
    let input = collect_input(RunKind::Memory, policy(Mode::Autopilot), "e2e-memory-1", NOW, None);
    let collected = autopilot_collect::handler(event(input), &env.collect_deps()).await.unwrap();
    let mut expected = vec![api.clone(), svc.clone()];
    expected.sort();
    assert_eq!(collected.batches, vec![expected]);
    assert_eq!(collected.collected.from_stats, 2);
    let batch = collected.batch_inputs().remove(0);

    // tune-memory: out of headroom at 256 MB, both move up; svc through a canary.
    let deps = env.tune_deps();
    let out = autopilot_tune_memory::handler(event(batch.clone()), &deps).await.unwrap();
    assert_eq!(out.results.len(), 2, "{out:?}");
    assert!(out.results.iter().all(|r| r.outcome == Outcome::Applied && r.to > MemoryMb::new(256).unwrap()));
    let to = |f: &FunctionRef| out.results.iter().find(|r| &r.function == f).unwrap().to.get() as i32;
    assert_eq!(env.memory_of(&api, None).await, to(&api));
    let alias = env.clients.lambda.get_alias().function_name(svc.name()).name("live").send().await.unwrap();
    assert_eq!(alias.function_version(), Some("1"));
    let weights = alias.routing_config().and_then(|r| r.additional_version_weights()).cloned().unwrap_or_default();
    let (canary, weight) = weights.iter().next().expect("a canary version");
    assert!((weight - 0.1).abs() < 1e-9);
    assert_eq!(env.memory_of(&svc, Some(canary)).await, to(&svc));
    assert_eq!(env.memory_of(&svc, Some("1")).await, 256, "the primary keeps its size");

    // The same step again (a Step Functions retry): nothing written.
    let before = env.clients.calls.snapshot();
    let again = autopilot_tune_memory::handler(event(batch.clone()), &deps).await.unwrap();
    let delta = env.clients.calls.since(&before);
    assert!(again.results.iter().all(|r| r.outcome == Outcome::AlreadyThere), "{again:?}");
    assert_eq!(lambda_writes(&delta), 0, "{delta:?}");
    assert_eq!(delta.get("EventBridge.PutEvents"), None);

    // Two hours later api errs at its new size: the guardrail rolls it back inline.
    let later = NOW.plus(i64::from(WINDOW));
    let bad = Steady { errors: 3, memory_used_mb: 200.0, ..Steady::new(to(&api) as u32, 30, 150.0) };
    env.write_stats(&bad.minutes(&api.with_qualifier(Some("$LATEST")).unwrap(), NOW, i64::from(WINDOW))).await;
    let input = collect_input(RunKind::Memory, policy(Mode::Autopilot), "e2e-memory-2", later, Some(vec![api.clone()]));
    let collected = autopilot_collect::handler(event(input), &env.collect_deps()).await.unwrap();
    let out = autopilot_tune_memory::handler(event(collected.batch_inputs().remove(0)), &deps).await.unwrap();
    assert_eq!(out.rolled_back, vec![api.clone()], "{out:?}");
    assert_eq!(env.memory_of(&api, None).await, 256);

    // A manual rollback of svc to its last known good configuration: the alias routes to
    // version 1 alone again, $LATEST is back at 256 MB; a second one finds it there.
    let rollback = RollbackInput {
        function: svc.clone(),
        target: RollbackTarget::LastKnownGood,
        reason: "e2e".into(),
        execution_id: "e2e-rollback-1".into(),
        now: At(later),
    };
    let out = autopilot_rollback::handler(event(rollback.clone()), &env.rollback_deps()).await.unwrap();
    assert_eq!(out.outcome, Outcome::Applied);
    let alias = env.clients.lambda.get_alias().function_name(svc.name()).name("live").send().await.unwrap();
    assert_eq!(alias.function_version(), Some("1"));
    assert!(alias.routing_config().and_then(|r| r.additional_version_weights()).is_none_or(|w| w.is_empty()));
    assert_eq!(env.memory_of(&svc, None).await, 256);
    let out = autopilot_rollback::handler(event(rollback), &env.rollback_deps()).await.unwrap();
    assert_eq!(out.outcome, Outcome::AlreadyThere);
}

#[tokio::test]
async fn concurrency_run_recommends_then_applies_pc_once_and_rolls_it_back() {
    let env = Env::new().await;
    let hot = env.function_with_alias("e2e-hot", 1024).await;
    let live = hot.with_qualifier(Some("live")).unwrap();
    // Ten busy environments for two hours, as the extension wrote them for version 1.
    let from = NOW.plus(-i64::from(WINDOW));
    env.write_stats(&Steady::new(1024, 600, 1_000.0).minutes(
        &hot.with_qualifier(Some("1")).unwrap(),
        from,
        i64::from(WINDOW),
    ))
    .await;
    let run = |mode: Mode, id: &str| {
        let p = Policy {
            mode,
            concurrency: ConcurrencyPolicy { max_provisioned: Some(20), ..ConcurrencyPolicy::default() },
            ..Policy::default()
        };
        collect_input(RunKind::Concurrency, p, id, NOW, Some(vec![hot.clone()]))
    };
    let steps = |input: CollectInput| async {
        let collected = autopilot_collect::handler(event(input), &env.collect_deps()).await.unwrap();
        let batch = collected.batch_inputs().remove(0);
        let f = autopilot_forecast::handler(event(batch.clone()), &env.forecast_deps()).await.unwrap();
        assert_eq!(f.forecasts, 1);
        (batch.clone(), autopilot_apply_concurrency::handler(event(batch), &env.apply_deps()).await.unwrap())
    };

    // Recommend: an event, no PC.
    let before = env.clients.calls.snapshot();
    let (_, out) = steps(run(Mode::Recommend, "e2e-pc-recommend")).await;
    let delta = env.clients.calls.since(&before);
    assert_eq!(out.results.len(), 1);
    assert_eq!(out.results[0].outcome, Outcome::Recommended);
    assert_eq!(lambda_writes(&delta), 0, "{delta:?}");
    assert!(delta.get("EventBridge.PutEvents").is_some_and(|n| *n >= 1));
    let pc = env
        .clients
        .lambda
        .get_provisioned_concurrency_config()
        .function_name(hot.name())
        .qualifier("live")
        .send()
        .await;
    assert!(pc.is_err(), "no PC configured in recommend mode");

    // Autopilot: the planned level on the alias.
    let (batch, out) = steps(run(Mode::Autopilot, "e2e-pc-1")).await;
    let r = &out.results[0];
    assert_eq!((r.target.clone(), r.from, r.outcome), (live.clone(), 0, Outcome::Applied));
    assert!((5..=20).contains(&r.to), "PC {}", r.to);
    let pc = env
        .clients
        .lambda
        .get_provisioned_concurrency_config()
        .function_name(hot.name())
        .qualifier("live")
        .send()
        .await
        .unwrap();
    assert_eq!(pc.requested_provisioned_concurrent_executions(), Some(r.to as i32));

    // The same step again: nothing written.
    let before = env.clients.calls.snapshot();
    let again = autopilot_apply_concurrency::handler(event(batch), &env.apply_deps()).await.unwrap();
    assert!(again.results.iter().all(|r| r.outcome == Outcome::AlreadyThere), "{again:?}");
    assert_eq!(lambda_writes(&env.clients.calls.since(&before)), 0);

    // Roll that change back by its id: PC removed.
    let rollback = RollbackInput {
        function: live.clone(),
        target: RollbackTarget::Change { id: format!("e2e-pc-1#{live}#provisioned") },
        reason: "e2e".into(),
        execution_id: "e2e-pc-rollback".into(),
        now: At(NOW.plus(10)),
    };
    let out = autopilot_rollback::handler(event(rollback), &env.rollback_deps()).await.unwrap();
    assert_eq!(out.outcome, Outcome::Applied);
    let pc = env
        .clients
        .lambda
        .get_provisioned_concurrency_config()
        .function_name(hot.name())
        .qualifier("live")
        .send()
        .await;
    assert!(pc.is_err(), "PC removed");
}
