//! LambdaControl against the local emulator over HTTP: discovery by tag, configuration,
//! memory updates, versions, aliases, provisioned concurrency and keep-warm invocations.

mod common;

use std::time::Duration;

use autopilot_aws::LambdaControl;
use autopilot_aws::lambda::ReadyWait;
use autopilot_core::domain::{Architecture, Concurrency, FunctionRef, MemoryMb};
use autopilot_core::ports::{AliasRouting, ErrorKind, FunctionControl, PcStatus};
use autopilot_testkit::unique_name;

fn mem(mb: u64) -> MemoryMb {
    MemoryMb::new(mb).unwrap()
}

fn control(c: &autopilot_aws::Clients) -> LambdaControl {
    LambdaControl::new(c)
        .with_retry(autopilot_aws::RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        })
        .with_update_wait(Duration::from_secs(30))
}

/// Each warm-up call's hold: long enough for the emulator's calls of a round to overlap.
const HOLD_MS: u32 = 800;

#[tokio::test]
async fn opted_in_functions_are_found_by_tag_with_their_configuration() {
    let c = common::clients().await;
    let tag = unique_name("optin");
    let a = common::create_function(&c, "disc-a", 512, &[(&tag, "true"), ("team", "orders")], None).await;
    let b = common::create_function(&c, "disc-b", 1024, &[(&tag, "batch")], None).await;
    let _not_opted = common::create_function(&c, "disc-c", 256, &[("team", "orders")], None).await;
    let lambda = control(&c);
    let before = c.calls.snapshot();
    let found = lambda.list_functions(&tag).await.unwrap();
    let calls = c.calls.since(&before);

    let names: Vec<&str> = found.iter().map(|f| f.function.name()).collect();
    let mut expected = vec![a.name(), b.name()];
    expected.sort();
    assert_eq!(names, expected);
    let fa = found.iter().find(|f| f.function == a).unwrap();
    assert_eq!((fa.memory, fa.architecture, fa.timeout_ms), (mem(512), Architecture::X86_64, 10_000));
    assert_eq!(fa.runtime.as_deref(), Some("provided.al2023"));
    assert_eq!(fa.tags.get("team").map(String::as_str), Some("orders"));
    assert_eq!(found.iter().find(|f| f.function == b).unwrap().tags[&tag], "batch");
    assert_eq!(calls.get("ResourceGroupsTaggingAPI.GetResources"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("Lambda.GetFunction"), Some(&2), "{calls:?}");
    assert_eq!(calls.get("Lambda.ListAliases"), Some(&2), "{calls:?}");
    assert_eq!(autopilot_aws::calls::total_calls(&calls), 5);

    assert!(lambda.list_functions(&unique_name("nobody")).await.unwrap().is_empty());
}

#[tokio::test]
async fn configuration_includes_reserved_concurrency_and_weighted_aliases() {
    let c = common::clients().await;
    let f = common::create_function(&c, "cfg", 256, &[], None).await;
    let lambda = control(&c);
    c.lambda.put_function_concurrency().function_name(f.name()).reserved_concurrent_executions(7).send().await.unwrap();
    let v1 = lambda.publish_version(&f).await.unwrap();
    lambda.set_memory(&f, mem(384)).await.unwrap();
    let v2 = lambda.publish_version(&f).await.unwrap();
    assert_ne!(v1, v2);
    let live = f.with_qualifier(Some("live")).unwrap();
    let canary = AliasRouting { version: v1.clone(), canary: Some((v2.clone(), 0.1)) };
    lambda.set_alias(&live, &canary).await.unwrap();

    let config = lambda.get_function(&f).await.unwrap();
    assert_eq!(config.memory, mem(384));
    assert_eq!(config.reserved_concurrency, Some(Concurrency::new(7).unwrap()));
    assert_eq!(config.aliases.len(), 1);
    assert_eq!(config.aliases[0].name, "live");
    assert_eq!(config.aliases[0].routing, canary);

    // Promotion: all traffic on v2, no canary; set twice, the second is a no-op update.
    let promoted = AliasRouting { version: v2.clone(), canary: None };
    lambda.set_alias(&live, &promoted).await.unwrap();
    lambda.set_alias(&live, &promoted).await.unwrap();
    assert_eq!(lambda.get_function(&f).await.unwrap().aliases[0].routing, promoted);

    let err = lambda.get_function(&FunctionRef::parse(&unique_name("missing")).unwrap()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    let bad = AliasRouting { version: v2.clone(), canary: Some((v1, 1.5)) };
    assert_eq!(lambda.set_alias(&live, &bad).await.unwrap_err().kind, ErrorKind::InvalidInput);
    assert_eq!(lambda.set_alias(&f, &promoted).await.unwrap_err().kind, ErrorKind::InvalidInput, "not an alias");
}

#[tokio::test]
async fn memory_updates_wait_and_already_at_target_writes_nothing() {
    let c = common::clients().await;
    let f = common::create_function(&c, "mem", 128, &[], None).await;
    let lambda = control(&c);

    let before = c.calls.snapshot();
    lambda.set_memory(&f, mem(1769)).await.unwrap();
    let calls = c.calls.since(&before);
    assert_eq!(calls.get("Lambda.UpdateFunctionConfiguration"), Some(&1), "{calls:?}");
    assert!(calls.get("Lambda.GetFunctionConfiguration").copied().unwrap_or(0) >= 2, "read + waiter: {calls:?}");
    let got = c.lambda.get_function_configuration().function_name(f.name()).send().await.unwrap();
    assert_eq!(got.memory_size(), Some(1769));

    let before = c.calls.snapshot();
    lambda.set_memory(&f, mem(1769)).await.unwrap();
    let calls = c.calls.since(&before);
    assert_eq!(calls.get("Lambda.UpdateFunctionConfiguration"), None, "already at target: {calls:?}");
    assert_eq!(autopilot_aws::calls::total_calls(&calls), 1);

    let qualified = f.with_qualifier(Some("live")).unwrap();
    assert_eq!(lambda.set_memory(&qualified, mem(256)).await.unwrap_err().kind, ErrorKind::InvalidInput);
    let missing = FunctionRef::parse(&unique_name("missing")).unwrap();
    assert_eq!(lambda.set_memory(&missing, mem(256)).await.unwrap_err().kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn provisioned_concurrency_is_put_waited_for_and_removed() {
    let c = common::clients().await;
    let f = common::create_function(&c, "pc", 512, &[], None).await;
    let lambda = control(&c);
    let version = lambda.publish_version(&f).await.unwrap();
    let live = f.with_qualifier(Some("live")).unwrap();
    lambda.set_alias(&live, &AliasRouting { version, canary: None }).await.unwrap();

    assert_eq!(lambda.get_provisioned(&live).await.unwrap(), None);
    lambda.put_provisioned(&live, Concurrency::new(3).unwrap()).await.unwrap();
    let fast = ReadyWait { interval: Duration::from_millis(20), max_wait: Duration::from_secs(10) };
    let ready = lambda.wait_provisioned_ready(&live, fast).await.unwrap();
    assert_eq!((ready.requested.get(), ready.allocated.get(), ready.status), (3, 3, PcStatus::Ready));
    let got = lambda.get_provisioned(&live).await.unwrap().unwrap();
    assert_eq!(got.requested.get(), 3);

    lambda.put_provisioned(&live, Concurrency::ZERO).await.unwrap();
    assert_eq!(lambda.get_provisioned(&live).await.unwrap(), None, "0 removes the configuration");
    lambda.delete_provisioned(&live).await.unwrap(); // nothing there: still success

    assert_eq!(
        lambda.put_provisioned(&f, Concurrency::new(1).unwrap()).await.unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    let unknown = f.with_qualifier(Some("nosuchalias")).unwrap();
    assert_eq!(
        lambda.put_provisioned(&unknown, Concurrency::new(1).unwrap()).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    let err = lambda.wait_provisioned_ready(&unknown, fast).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn keep_warm_calls_overlap_and_cold_landings_are_counted() {
    let c = common::clients().await;
    let f = common::create_function(&c, "warm", 128, &[], Some(&common::warm_bootstrap())).await;
    let lambda = control(&c);

    let before = c.calls.snapshot();
    let first = lambda.warm(&f, 3, HOLD_MS).await.unwrap();
    assert_eq!(c.calls.since(&before).get("Lambda.Invoke"), Some(&3));
    assert_eq!((first.sent, first.failed), (3, 0), "{first:?}");
    assert_eq!(first.landed_cold, 3, "three overlapping calls need three new environments: {first:?}");

    let second = lambda.warm(&f, 3, HOLD_MS).await.unwrap();
    assert_eq!((second.sent, second.landed_cold, second.failed), (3, 0, 0), "{second:?}");

    let third = lambda.warm(&f, 4, HOLD_MS).await.unwrap();
    assert_eq!((third.sent, third.landed_cold, third.failed), (4, 1, 0), "one more than were warm: {third:?}");

    let missing = FunctionRef::parse(&unique_name("missing")).unwrap();
    assert_eq!(lambda.warm(&missing, 2, HOLD_MS).await.unwrap_err().kind, ErrorKind::NotFound, "nothing landed");
    assert_eq!(lambda.warm(&f, 0, HOLD_MS).await.unwrap().sent, 0);
}
